//! The Tencent Cloud API 3.0 front end: what `tencentcloud-sdk-python` (kms), the other official
//! SDKs and `tccli` speak, served on the gRPC listener as HTTP/1.1 `POST /` (and `GET /`) next to
//! gRPC on HTTP/2 (see [`crate::server`]). Applications written against Tencent KMS then point
//! their SDK's endpoint at this server and change nothing else.
//!
//! One request: the body is read up to [`MAX_BODY_BYTES`]; the TC3-HMAC-SHA256 signature is
//! checked ([`signature`]) against the credentials the server was given ([`Credentials`]);
//! `X-TC-Version` must be `2019-01-18`; `X-TC-Action` is parsed once into an action
//! ([`wire::ApiAction`]), which the caller's identity must be allowed before any parameter is
//! read; the action runs through the gRPC service's own method ([`actions`]), so the key checks,
//! the audit line, the metrics and the error mapping are exactly the gRPC path's. A refusal made
//! here (signature, version, action, body, a parameter's wire form) has its audit line too
//! ([`refusal`]): every call is written once.
//!
//! Who is calling:
//! - with a policy (`--policy`), the identities that have a `secret_id` and `secret_key_file`
//!   (see [`crate::access`]): the call runs as that identity, with its allowed actions and keys;
//! - without a policy, the pair in `TENCENTCLOUD_SECRET_ID` / `TENCENTCLOUD_SECRET_KEY`, if
//!   given: every signed call is allowed, as in gRPC's development mode;
//! - with neither, development mode: signatures are not checked at all (the binary serves
//!   development mode on loopback addresses only, unless told `--insecure-no-auth`).

mod actions;
mod asymmetric;
mod byok;
mod key_sets;
mod params;
mod refusal;
mod service_info;
pub mod signature;
pub mod wire;

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, header},
    response::Response,
};
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

use crate::{
    access::{Identity, Policy},
    audit::DEVELOPMENT_IDENTITY,
    blob::BLOB_MAX_OVERHEAD,
    kms::{Kms, data_keys::ENCRYPT_PLAINTEXT_BYTES},
    secret::SecretBytes,
    service::{AccessControl, KmsService, TencentCaller},
};
use wire::{API_VERSION, ApiAction, ApiError, code};

/// Largest base64 text of a ciphertext blob (an Encrypt of the largest plaintext, in the format
/// with the longest header).
const MAX_BLOB_BASE64: usize = (BLOB_MAX_OVERHEAD + *ENCRYPT_PLAINTEXT_BYTES.end()).div_ceil(3) * 4;
/// Largest JSON string of one encryption context: every character escaped as `\uXXXX`.
const MAX_CONTEXT_JSON_STRING: usize = 6 * kms_types::limits::MAX_CONTEXT_JSON_BYTES;
/// Largest request body (32 KiB): the largest legitimate request, a ReEncrypt of the largest
/// blob with two of the largest contexts, plus room for the names and ids, rounded up to 16 KiB.
/// A larger body is refused with `RequestSizeLimitExceeded` (HTTP 200, the cloud's way).
pub const MAX_BODY_BYTES: usize =
    (MAX_BLOB_BASE64 + 2 * MAX_CONTEXT_JSON_STRING + 4096).next_multiple_of(16 << 10);

const _: () = assert!(MAX_BODY_BYTES >= MAX_BLOB_BASE64 + 2 * MAX_CONTEXT_JSON_STRING);

/// The environment variables of the Tencent SDKs' and tccli's credential pair.
pub const SECRET_ID_ENV: &str = "TENCENTCLOUD_SECRET_ID";
/// See [`SECRET_ID_ENV`].
pub const SECRET_KEY_ENV: &str = "TENCENTCLOUD_SECRET_KEY";

/// A SecretId and its SecretKey.
#[derive(Debug, Clone)]
pub struct SecretPair {
    /// The SecretId (public).
    pub secret_id: String,
    /// The SecretKey: it signs, so the server must hold it (not a digest).
    pub secret_key: Arc<SecretBytes>,
}

/// The credentials Tencent API calls are checked against when no policy is enforced.
#[derive(Debug, Clone, Default)]
pub enum Credentials {
    /// Development mode: signatures are not checked.
    #[default]
    Unchecked,
    /// One pair; every call signed with it is allowed.
    Pair(SecretPair),
}

/// The front end: the gRPC service it calls through, the core (for the clock) and the credentials.
#[derive(Debug, Clone)]
pub struct TencentApi {
    service: KmsService,
    kms: Arc<Kms>,
    access: Arc<AccessControl>,
    credentials: Credentials,
}

impl TencentApi {
    /// A front end over `service`, which must enforce `access`.
    pub fn new(
        service: KmsService,
        kms: Arc<Kms>,
        access: Arc<AccessControl>,
        credentials: Credentials,
    ) -> Self {
        Self {
            service,
            kms,
            access,
            credentials,
        }
    }

    /// The routes: `POST /` and `GET /`.
    pub fn router(self) -> axum::Router {
        axum::Router::new()
            .route("/", axum::routing::any(handle))
            .with_state(Arc::new(self))
    }
}

/// One call on its way to the gRPC service: who makes it, from where.
pub(crate) struct Call {
    service: KmsService,
    caller: Option<TencentCaller>,
    tcp: Option<TcpConnectInfo>,
    tls: Option<TlsConnectInfo<TcpConnectInfo>>,
    /// `X-TC-Region`, if sent (only GetRegions reads it: keys here have no region).
    region: Option<String>,
    /// Set once a request was made for the gRPC method ([`Call::request`]): that method writes
    /// the call's audit line, whatever the answer, so the Tencent layer must not write another.
    handed_over: AtomicBool,
}

impl Call {
    /// A gRPC request carrying the caller and the peer, as a gRPC call would. Only for handing
    /// to the service's method at once: from here on, that method audits the call.
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        self.handed_over.store(true, Ordering::Relaxed);
        let mut r = tonic::Request::new(message);
        if let Some(c) = &self.caller {
            r.extensions_mut().insert(c.clone());
        }
        if let Some(t) = &self.tcp {
            r.extensions_mut().insert(t.clone());
        }
        if let Some(t) = &self.tls {
            r.extensions_mut().insert(t.clone());
        }
        r
    }

    /// The peer's address, as the gRPC service reads it from the same extensions.
    fn peer(&self) -> Option<SocketAddr> {
        peer(self.tcp.as_ref(), self.tls.as_ref())
    }
}

/// The peer's address: the TCP connection's, or the TLS connection's underneath.
fn peer(
    tcp: Option<&TcpConnectInfo>,
    tls: Option<&TlsConnectInfo<TcpConnectInfo>>,
) -> Option<SocketAddr> {
    tcp.and_then(TcpConnectInfo::remote_addr)
        .or_else(|| tls.and_then(|t| t.get_ref().remote_addr()))
}

/// The identity a verified TC3 signature belongs to: its index in the policy it was checked under
/// (which a reload does not change for this call).
struct Authenticated {
    policy: Arc<Policy>,
    index: usize,
}

impl Authenticated {
    fn identity(&self) -> Option<&Identity> {
        self.policy.identities().get(self.index)
    }
}

pub(crate) async fn handle(State(api): State<Arc<TencentApi>>, request: Request) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let result = answer(&api, request).await;
    if let Err(e) = &result {
        tracing::debug!(code = e.code, message = %e.message, "tencent api refusal");
    }
    let mut response = Response::new(Body::from(wire::envelope(&result, &request_id)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(wire::CONTENT_TYPE),
    );
    response
}

/// One request's answer. The method and the body size are checked before anything else, with no
/// audit line (nothing is known of the request yet); a signature refusal is audited as nobody;
/// after the signature, every refusal made here is audited as the identity, and one the gRPC
/// method made is left to that method's own line.
async fn answer(api: &TencentApi, request: Request) -> Result<serde_json::Value, ApiError> {
    let (parts, body) = request.into_parts();
    if parts.method != Method::POST && parts.method != Method::GET {
        return Err(ApiError::new(
            code::UNSUPPORTED_PROTOCOL,
            format!("{} is not supported: use POST (or GET)", parts.method),
        ));
    }
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                code::REQUEST_SIZE_LIMIT_EXCEEDED,
                format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
            )
        })?;
    let headers = &parts.headers;
    let query = parts.uri.query().unwrap_or("");
    let who = match authenticate(api, &parts.method, parts.uri.path(), query, headers, &body) {
        Ok(who) => who,
        Err(refusal) => return Err(audit_refusal(api, &parts, refusal).await),
    };
    let call = Call {
        service: api.service.clone(),
        caller: who
            .as_ref()
            .map(|w| TencentCaller::new(w.policy.clone(), w.index)),
        tcp: parts.extensions.get::<TcpConnectInfo>().cloned(),
        tls: parts
            .extensions
            .get::<TlsConnectInfo<TcpConnectInfo>>()
            .cloned(),
        region: headers
            .get("x-tc-region")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        handed_over: AtomicBool::new(false),
    };
    let identity = who.as_ref().and_then(Authenticated::identity);
    let result = run(&call, identity, &parts, query, &body).await;
    match result {
        Err(refusal) if !call.handed_over.load(Ordering::Relaxed) => {
            let name = identity.map_or(DEVELOPMENT_IDENTITY, Identity::name);
            let rpc = action_name(headers);
            let observers = api.service.observers();
            Err(refusal::record(observers, name, call.peer(), rpc, refusal).await)
        }
        result => result,
    }
}

/// A verified request, from its version to its answer: the action, the identity's right to call
/// it (before any parameter is read, so an identity without it learns nothing from their checks),
/// the parameters, then the action through the gRPC method.
async fn run(
    call: &Call,
    identity: Option<&Identity>,
    parts: &axum::http::request::Parts,
    query: &str,
    body: &[u8],
) -> Result<serde_json::Value, ApiError> {
    let headers = &parts.headers;
    match text(headers, "x-tc-version")? {
        API_VERSION => {}
        v => {
            return Err(ApiError::new(
                code::NO_SUCH_VERSION,
                format!("kms has no API version {v:?}: use {API_VERSION}"),
            ));
        }
    }
    let action = ApiAction::parse(text(headers, "x-tc-action")?)?;
    if let Some(identity) = identity {
        refusal::check_action(identity, action)?;
    }
    let params = if parts.method == Method::GET {
        query_params(query)?
    } else {
        json_params(headers, body)?
    };
    actions::run(call, action, params).await
}

/// The name an audit line gives the action a request names, `-` when it names none this API has.
fn action_name(headers: &HeaderMap) -> &'static str {
    headers
        .get("x-tc-action")
        .and_then(|v| v.to_str().ok())
        .and_then(|name| ApiAction::parse(name).ok())
        .map_or("-", refusal::rpc_name)
}

/// Writes the audit line of a request refused by the signature check (nobody identified; the
/// action it named, or `-` when it named none this API has) and gives the refusal back, as
/// [`refusal::record`] does for the refusals after it.
async fn audit_refusal(
    api: &TencentApi,
    parts: &axum::http::request::Parts,
    refusal: ApiError,
) -> ApiError {
    let peer = peer(
        parts.extensions.get::<TcpConnectInfo>(),
        parts.extensions.get::<TlsConnectInfo<TcpConnectInfo>>(),
    );
    let rpc = action_name(&parts.headers);
    let observers = api.service.observers();
    refusal::record(observers, DEVELOPMENT_IDENTITY, peer, rpc, refusal).await
}

/// A required header's text.
fn text<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, ApiError> {
    let value = headers.get(name).ok_or_else(|| {
        ApiError::new(
            code::MISSING_PARAMETER,
            format!("the header {name} is required"),
        )
    })?;
    value.to_str().map_err(|_| {
        ApiError::new(
            code::INVALID_PARAMETER,
            format!("the header {name} is not text"),
        )
    })
}

/// Checks the signature; returns the identity to run the call as (`None`: no policy, so the
/// service's development mode decides).
fn authenticate(
    api: &TencentApi,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<Authenticated>, ApiError> {
    let policy = api.access.policy();
    if policy.is_none() && matches!(api.credentials, Credentials::Unchecked) {
        return Ok(None);
    }
    let auth_text = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::new(
                code::AUTH_INVALID_AUTHORIZATION,
                "the Authorization header is required",
            )
        })?
        .to_str()
        .map_err(|_| {
            ApiError::new(
                code::AUTH_INVALID_AUTHORIZATION,
                "the Authorization header is not text",
            )
        })?;
    let auth = signature::Authorization::parse(auth_text)?;
    let timestamp: i64 = text(headers, "x-tc-timestamp")?.parse().map_err(|_| {
        ApiError::new(
            code::INVALID_PARAMETER,
            "X-TC-Timestamp must be a unix time in seconds",
        )
    })?;
    signature::check_timestamp(timestamp, api.kms.now())?;
    let unknown = || {
        ApiError::new(
            code::AUTH_SECRET_ID_NOT_FOUND,
            format!("no credential has the SecretId {}", auth.secret_id),
        )
    };
    let lookup = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let request = signature::Request {
        method: method.as_str(),
        path,
        query,
        header: &lookup,
        timestamp,
        body,
    };
    match policy {
        Some(policy) => {
            let secret = policy.tencent_secret(auth.secret_id).ok_or_else(unknown)?;
            request.verify(&auth, secret.secret_key.expose())?;
            // After the signature, so that only the holder of the SecretKey learns about the token.
            let token = headers.get("x-tc-token").map(|v| v.as_bytes());
            if !secret.token_matches(token) {
                return Err(ApiError::new(
                    code::AUTH_TOKEN_FAILURE,
                    match secret.session_token_sha256 {
                        Some(_) => {
                            "X-TC-Token is missing or is not this temporary credential's token"
                        }
                        None => "X-TC-Token was sent, but this SecretId is a permanent credential",
                    },
                ));
            }
            Ok(Some(Authenticated {
                index: secret.index,
                policy: policy.clone(),
            }))
        }
        None => match &api.credentials {
            Credentials::Pair(pair) if pair.secret_id == auth.secret_id => {
                request.verify(&auth, pair.secret_key.expose())?;
                // The pair from the environment is permanent. A token the server cannot check
                // is refused rather than ignored (this emulator's choice: it means the client
                // holds other credentials than it thinks).
                if headers.get("x-tc-token").is_some_and(|t| !t.is_empty()) {
                    return Err(ApiError::new(
                        code::AUTH_TOKEN_FAILURE,
                        "X-TC-Token was sent, but this SecretId is a permanent credential",
                    ));
                }
                Ok(None)
            }
            _ => Err(unknown()),
        },
    }
}

/// A POST body: a JSON object (an empty body is no parameters).
fn json_params(headers: &HeaderMap, body: &[u8]) -> Result<serde_json::Value, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case(wire::CONTENT_TYPE) {
        return Err(ApiError::new(
            code::UNSUPPORTED_PROTOCOL,
            format!("Content-Type {content_type:?} is not supported: send application/json"),
        ));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Object(serde_json::Map::new()));
    }
    match serde_json::from_slice(body) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(v),
        Ok(_) => Err(ApiError::new(
            code::INVALID_PARAMETER,
            "the body must be a JSON object",
        )),
        Err(e) => Err(ApiError::new(
            code::INVALID_PARAMETER,
            format!("the body is not JSON: {e}"),
        )),
    }
}

/// A GET query as parameters (every value text; the actions take integers as text too). A list
/// comes as `Name.0=a&Name.1=b`, Tencent's GET form, and becomes the array `Name: [a, b]`.
pub fn query_params(query: &str) -> Result<serde_json::Value, ApiError> {
    let mut map = serde_json::Map::new();
    let mut lists: std::collections::BTreeMap<String, std::collections::BTreeMap<usize, String>> =
        Default::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| ApiError::new(code::INVALID_PARAMETER, "the query is not UTF-8"))
        };
        let (name, value) = (decode(name)?, decode(value)?);
        match name.rsplit_once('.') {
            Some((list, index))
                if !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) =>
            {
                let index = index.parse().map_err(|_| {
                    ApiError::new(code::INVALID_PARAMETER, format!("{name}: no such index"))
                })?;
                if lists
                    .entry(list.to_owned())
                    .or_default()
                    .insert(index, value)
                    .is_some()
                {
                    return Err(ApiError::new(
                        code::INVALID_PARAMETER,
                        format!("{name} is given twice"),
                    ));
                }
            }
            _ => {
                map.insert(name, serde_json::Value::String(value));
            }
        }
    }
    for (name, items) in lists {
        if items.keys().enumerate().any(|(i, &index)| i != index) {
            return Err(ApiError::new(
                code::INVALID_PARAMETER,
                format!("the list {name} must be numbered {name}.0, {name}.1, ... without gaps"),
            ));
        }
        let items = items.into_values().map(serde_json::Value::String).collect();
        map.insert(name, serde_json::Value::Array(items));
    }
    Ok(serde_json::Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_limit_fits_the_largest_request() {
        assert_eq!(MAX_BODY_BYTES, 32 << 10);
    }

    #[test]
    fn query_parameters_decode() {
        let v = query_params("KeyId=a%2Fb&Limit=5&Alias=x+y").unwrap();
        assert_eq!(v["KeyId"], "a/b");
        assert_eq!(v["Limit"], "5");
        assert_eq!(v["Alias"], "x y");
    }

    #[test]
    fn query_lists_fold_into_arrays_and_gaps_are_refused() {
        let v = query_params("KeyIds.1=b&KeyIds.0=a&Limit=2").unwrap();
        assert_eq!(v["KeyIds"], serde_json::json!(["a", "b"]));
        assert_eq!(v["Limit"], "2");
        let e = query_params("KeyIds.0=a&KeyIds.2=c").unwrap_err();
        assert_eq!(e.code, code::INVALID_PARAMETER);
        assert!(e.message.contains("without gaps"), "{}", e.message);
    }
}
