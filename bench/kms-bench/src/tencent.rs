//! The Tencent Cloud API 3.0 client behind `--op tencent-generate-data-key` and
//! `--op tencent-decrypt`: the same core reached through kms-server's second front end (HTTP/1.1,
//! JSON, TC3-HMAC-SHA256), so one run compares it with gRPC and health.
//!
//! HTTP/1.1 carries one request at a time per connection, so each worker keeps its own keep-alive
//! connection (opened on its first call, reopened if the server closes it). Every request is
//! signed as the SDKs sign it, with the server's own signer (`kms_server::tencent::signature`),
//! when a pair is known: [`SECRET_ID_ENV`] and [`SECRET_KEY_ENV`] against `--endpoint`, the
//! embedded server's own pair with `--embedded`. Without a pair requests go unsigned, which only
//! a server in development mode accepts.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use kms_server::tencent::signature::{self, Authorization};

/// The variables the Tencent SDKs read for the pair.
pub const SECRET_ID_ENV: &str = "TENCENTCLOUD_SECRET_ID";
/// See [`SECRET_ID_ENV`].
pub const SECRET_KEY_ENV: &str = "TENCENTCLOUD_SECRET_KEY";
/// The KMS API version every request names.
const VERSION: &str = "2019-01-18";

/// A SecretId and SecretKey to sign with.
#[derive(Clone)]
pub struct Pair {
    pub secret_id: String,
    pub secret_key: Arc<zeroize::Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for Pair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pair")
            .field("secret_id", &self.secret_id)
            .finish_non_exhaustive()
    }
}

impl Pair {
    /// The pair in [`SECRET_ID_ENV`] and [`SECRET_KEY_ENV`], if both are set.
    pub fn from_env() -> Option<Self> {
        let id = std::env::var(SECRET_ID_ENV).ok()?;
        let key = std::env::var(SECRET_KEY_ENV).ok()?;
        Some(Self {
            secret_id: id,
            secret_key: Arc::new(zeroize::Zeroizing::new(key.into_bytes())),
        })
    }
}

/// One worker's connection to the Tencent front end.
#[derive(Debug)]
pub struct TencentConn {
    /// `host:port` (the `Host` header and where to connect).
    addr: Arc<str>,
    pair: Option<Pair>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

/// A clone shares the address and pair, not the connection: it opens its own on its first call.
impl Clone for TencentConn {
    fn clone(&self) -> Self {
        Self {
            addr: self.addr.clone(),
            pair: self.pair.clone(),
            sender: None,
        }
    }
}

impl TencentConn {
    /// A connection to `endpoint` (`http://host:port`; HTTPS is refused: the port offers HTTP/1.1
    /// only in plain text), opened on the first call.
    pub fn new(endpoint: &str, pair: Option<Pair>) -> Result<Self, String> {
        let addr = endpoint
            .strip_prefix("http://")
            .ok_or_else(|| {
                format!(
                    "the Tencent API ops need a plain http:// endpoint (the TLS port offers only \
                     h2), not {endpoint}"
                )
            })?
            .trim_end_matches('/');
        Ok(Self {
            addr: Arc::from(addr),
            pair,
            sender: None,
        })
    }

    async fn sender(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, String> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = tokio::net::TcpStream::connect(&*self.addr)
                .await
                .map_err(|e| format!("connect {}: {e}", self.addr))?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| format!("HTTP/1.1 handshake: {e}"))?;
            tokio::spawn(connection);
            self.sender = Some(sender);
        }
        self.sender
            .as_mut()
            .ok_or_else(|| "no connection".to_owned())
    }

    /// Calls `action` with the JSON `body`; `Err` for a transport failure or an error answer.
    pub async fn call(&mut self, action: &str, body: &Arc<str>) -> Result<(), String> {
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let mut request = hyper::Request::post("/")
            .header("host", &*self.addr)
            .header("content-type", "application/json")
            .header("x-tc-action", action)
            .header("x-tc-version", VERSION)
            .header("x-tc-timestamp", timestamp)
            .header("x-tc-region", "ap-guangzhou");
        if let Some(pair) = &self.pair {
            request = request.header("authorization", self.authorization(pair, timestamp, body)?);
        }
        let request = request
            .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
            .map_err(|e| e.to_string())?;
        let sender = self.sender().await?;
        sender.ready().await.map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("{action}: {e}"))?;
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{action}: {e}"))?
            .to_bytes();
        let answer: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("{action}: not JSON: {e}"))?;
        match answer["Response"].get("Error") {
            None => Ok(()),
            Some(error) => Err(format!("{action}: {} {}", error["Code"], error["Message"])),
        }
    }

    fn authorization(&self, pair: &Pair, timestamp: i64, body: &str) -> Result<String, String> {
        let scope = format!(
            "{} Credential={}/{}/{}/{}, SignedHeaders=content-type;host, Signature=",
            signature::ALGORITHM,
            pair.secret_id,
            signature::utc_date(timestamp),
            signature::SERVICE,
            signature::TERMINATOR
        );
        let unsigned = format!("{scope}-");
        let auth = Authorization::parse(&unsigned).map_err(|e| e.message)?;
        let addr = &*self.addr;
        let header = move |name: &str| match name {
            "content-type" => Some("application/json"),
            "host" => Some(addr),
            _ => None,
        };
        let request = signature::Request {
            method: "POST",
            path: "/",
            query: "",
            header: &header,
            timestamp,
            body: body.as_bytes(),
        };
        let signature = request
            .signature(&auth, &pair.secret_key)
            .map_err(|e| e.message)?;
        Ok(format!("{scope}{signature}"))
    }
}

/// The JSON of a GenerateDataKey of an AES-256 key under `key` with `context` (the gRPC API's
/// base64 form; empty for none), as the SDKs send it.
pub fn generate_data_key_body(key: &str, context: &str) -> Result<Arc<str>, String> {
    let mut fields = serde_json::json!({ "KeyId": key, "KeySpec": "AES_256" });
    if let Some(json) = context_json(context)? {
        fields["EncryptionContext"] = json.into();
    }
    Ok(Arc::from(fields.to_string()))
}

/// The JSON of a Decrypt of `blob` with `context`.
pub fn decrypt_body(blob: &[u8], context: &str) -> Result<Arc<str>, String> {
    use base64::Engine as _;
    let mut fields = serde_json::json!({
        "CiphertextBlob": base64::engine::general_purpose::STANDARD.encode(blob),
    });
    if let Some(json) = context_json(context)? {
        fields["EncryptionContext"] = json.into();
    }
    Ok(Arc::from(fields.to_string()))
}

/// The context as the JSON text the Tencent API takes.
fn context_json(context: &str) -> Result<Option<String>, String> {
    use base64::Engine as _;
    if context.is_empty() {
        return Ok(None);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(context)
        .map_err(|e| format!("--context is not base64: {e}"))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| "--context is not UTF-8 JSON".to_owned())
}
