//! [`ClientBuilder`]: how a [`KmsClient`](crate::KmsClient) reaches the server (endpoint, TLS and
//! mutual TLS, timeouts), how it proves who it is (a client certificate, a bearer token) and which
//! calls it may repeat ([`RetryPolicy`]). Apart from the RPC methods, so the connection rules can be
//! read, and tested, on their own.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secret::{BearerToken, SecretBytes, read_private};

/// The metadata entry that carries the bearer token.
pub const AUTHORIZATION_METADATA: &str = "authorization";
/// The scheme in front of the token in [`AUTHORIZATION_METADATA`] (RFC 6750).
const BEARER_PREFIX: &str = "Bearer ";

/// The endpoint used when none is given.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:50051";
/// Default time allowed to open a connection (TCP and TLS).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time allowed for one call (each attempt, when a call is retried).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default interval between HTTP/2 pings on a connection, idle or not (the server's own interval:
/// it closes a connection that sends nothing for longer than its call deadline and two of them).
pub const DEFAULT_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// Default time a ping may go unanswered before the connection is dropped and the next call
/// opens a new one.
pub const DEFAULT_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// How calls without side effects are retried after `UNAVAILABLE`.
///
/// Only these calls are retried, because repeating them cannot change the server's state twice:
/// `DescribeKey`, `ListKeys`, `GetKeyRotationStatus`, `GetDefaultKey`, `GenerateDataKey`,
/// `GenerateDataKeyWithoutPlaintext`, `BatchGenerateDataKey`, `Encrypt`, `Decrypt`, `BatchDecrypt`,
/// `ReEncrypt` and `GenerateRandom` (the crypto calls store nothing; a lost answer is simply replaced).
///
/// Never retried: `CreateKey` (a second key, or `AliasExists`), `EnableKey`, `DisableKey`,
/// `ScheduleKeyDeletion`, `CancelKeyDeletion`, `ArchiveKey`, `CancelKeyArchive`, `UpdateAlias`,
/// `UpdateKeyDescription`, `EnableKeyRotation`, `DisableKeyRotation`, `RotateKey` (a second
/// rotation) and `SeedKeys`: if the first attempt reached the server, repeating it would report or
/// do something else.
///
/// Timeouts are not retried either: the server may still be working on the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts after the first one (0 turns retries off).
    pub max_retries: u32,
    /// Wait before the first retry; doubles for each further retry.
    pub initial_backoff: Duration,
    /// Upper bound of the wait.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// No retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..Default::default()
        }
    }

    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(16)).unwrap_or(u32::MAX);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Whether a call may be repeated after `UNAVAILABLE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    Safe,
    Never,
}

/// Options for [`KmsClient`](crate::KmsClient): endpoint, timeouts, TLS and retries.
///
/// ```no_run
/// # async fn f() -> kms_client::Result<()> {
/// use std::time::Duration;
/// let kms = kms_client::KmsClient::builder("https://kms.internal:50051")
///     .ca_file("/etc/kms/ca.pem")
///     .request_timeout(Duration::from_secs(10))
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    endpoint: String,
    connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    ca_file: Option<PathBuf>,
    ca_pem: Option<Vec<u8>>,
    tls_domain: Option<String>,
    client_identity: Option<ClientIdentity>,
    token: Option<TokenSource>,
    pub(crate) retry: RetryPolicy,
    keepalive: (Duration, Duration),
}

/// The client certificate and key for mutual TLS, as given (read when the endpoint is built).
#[derive(Clone)]
enum ClientIdentity {
    Files {
        cert: PathBuf,
        key: PathBuf,
    },
    Pem {
        cert: Vec<u8>,
        key: Arc<SecretBytes>,
    },
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientIdentity::Files { cert, key } => f
                .debug_struct("Files")
                .field("cert", cert)
                .field("key", key)
                .finish(),
            ClientIdentity::Pem { .. } => f.write_str("Pem { key: <redacted>, .. }"),
        }
    }
}

/// Where the bearer token comes from (a file is read when the client is built).
#[derive(Debug, Clone)]
enum TokenSource {
    Value(Arc<BearerToken>),
    File(PathBuf),
}

/// The `authorization` value sent with every call, built once. Marked sensitive, so HTTP/2 header
/// compression never indexes it; `Debug` does not show it.
#[derive(Clone)]
pub(crate) struct Authorization(pub(crate) AsciiMetadataValue);

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authorization([REDACTED])")
    }
}

impl Authorization {
    fn bearer(token: &BearerToken) -> Result<Self> {
        let value = Zeroizing::new(format!("{BEARER_PREFIX}{}", token.expose_secret()));
        let mut header = AsciiMetadataValue::try_from(value.as_str()).map_err(|_| {
            Error::Config("the bearer token must be printable ASCII without blanks".to_owned())
        })?;
        header.set_sensitive(true);
        Ok(Authorization(header))
    }
}

impl ClientBuilder {
    /// Options for `endpoint` (`http://host:port` or `https://host:port`; a bare `host:port` means
    /// `http://`).
    pub fn new(endpoint: impl Into<String>) -> Self {
        ClientBuilder {
            endpoint: endpoint.into(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            ca_file: None,
            ca_pem: None,
            tls_domain: None,
            client_identity: None,
            token: None,
            retry: RetryPolicy::default(),
            keepalive: (DEFAULT_KEEPALIVE_INTERVAL, DEFAULT_KEEPALIVE_TIMEOUT),
        }
    }

    /// Time allowed to open a connection (TCP connect and TLS handshake).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for each call attempt. Also sent to the server as the gRPC deadline.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Pings the server every `interval` (calls in flight or not) and drops the connection when a
    /// ping goes unanswered for `timeout`: a KMS host that vanished without closing its
    /// connections (power loss, a dropped route) fails the calls in flight as unavailable, and the
    /// next call connects again, instead of each call waiting out its request timeout until TCP
    /// gives up (minutes).
    pub fn keepalive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.keepalive = (interval, timeout);
        self
    }

    /// A PEM file of CA certificates to trust (in addition to the bundled web PKI roots) for an
    /// `https://` endpoint.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// PEM CA certificates to trust, given as bytes.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// The name to check in the server's certificate, when it differs from the endpoint's host.
    pub fn tls_domain(mut self, domain: impl Into<String>) -> Self {
        self.tls_domain = Some(domain.into());
        self
    }

    /// Mutual TLS: present this client certificate (PEM file, with its chain if any) and private key
    /// (PEM file, PKCS#8, PKCS#1 or SEC1) to an `https://` endpoint. The server's policy names the
    /// identity by the SHA-256 of the certificate's public key (`kms-admin identity --cert FILE`).
    pub fn client_identity_files(
        mut self,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.client_identity = Some(ClientIdentity::Files {
            cert: cert.into(),
            key: key.into(),
        });
        self
    }

    /// Mutual TLS with the certificate and private key given as PEM bytes.
    pub fn client_identity_pem(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: SecretBytes,
    ) -> Self {
        self.client_identity = Some(ClientIdentity::Pem {
            cert: cert_pem.into(),
            key: Arc::new(key_pem),
        });
        self
    }

    /// Sends `authorization: Bearer <token>` with every call. Refused over plain `http://` except
    /// to a loopback address ([`Error::TokenOverPlaintext`]).
    pub fn token(mut self, token: BearerToken) -> Self {
        self.token = Some(TokenSource::Value(Arc::new(token)));
        self
    }

    /// Same as [`ClientBuilder::token`], with the token read from `path` when the client is built
    /// (see [`BearerToken::from_file`]: one trailing newline is dropped, an empty file is refused).
    pub fn token_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.token = Some(TokenSource::File(path.into()));
        self
    }

    /// The retry policy for calls without side effects (see [`RetryPolicy`]).
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The endpoint URL, with `http://` added when no scheme was given.
    pub fn endpoint_url(&self) -> String {
        let e = self.endpoint.trim();
        if e.contains("://") {
            e.to_owned()
        } else {
            format!("http://{e}")
        }
    }

    /// The `authorization` value for every call: the token read (from its file, if so) and
    /// checked, or `None` without a token.
    pub(crate) fn authorization(&self) -> Result<Option<Authorization>> {
        let token = match &self.token {
            None => return Ok(None),
            Some(TokenSource::Value(token)) => Authorization::bearer(token)?,
            Some(TokenSource::File(path)) => Authorization::bearer(&BearerToken::from_file(path)?)?,
        };
        Ok(Some(token))
    }

    /// Builds the tonic endpoint (URL, timeouts, TLS, client certificate). Does not connect, and
    /// does not read the token file.
    pub fn to_endpoint(&self) -> Result<Endpoint> {
        let url = self.endpoint_url();
        let https = url.starts_with("https://");
        if !https && !url.starts_with("http://") {
            return Err(Error::Config(format!(
                "endpoint {url}: the scheme must be http:// or https://"
            )));
        }
        let mut endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| {
                Error::Config(format!("endpoint {url}: {}", crate::error::error_chain(&e)))
            })?
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            .http2_keep_alive_interval(self.keepalive.0)
            .keep_alive_timeout(self.keepalive.1)
            .keep_alive_while_idle(true)
            .user_agent(concat!("kms-client/", env!("CARGO_PKG_VERSION")))
            .map_err(|e| Error::Config(format!("user agent: {e}")))?;
        if https {
            let mut tls = ClientTlsConfig::new()
                .with_webpki_roots()
                .timeout(self.connect_timeout);
            if let Some(path) = &self.ca_file {
                let pem = std::fs::read(path)
                    .map_err(|e| Error::Config(format!("CA file {}: {e}", path.display())))?;
                if !pem.windows(11).any(|w| w == b"-----BEGIN ") {
                    return Err(Error::Config(format!(
                        "CA file {}: no PEM certificate in it",
                        path.display()
                    )));
                }
                tls = tls.ca_certificate(Certificate::from_pem(pem));
            }
            if let Some(pem) = &self.ca_pem {
                tls = tls.ca_certificate(Certificate::from_pem(pem.clone()));
            }
            if let Some(domain) = &self.tls_domain {
                tls = tls.domain_name(domain.clone());
            }
            if let Some(identity) = &self.client_identity {
                tls = tls.identity(identity.load()?);
            }
            endpoint = endpoint.tls_config(tls).map_err(|e| {
                Error::Config(format!("TLS for {url}: {}", crate::error::error_chain(&e)))
            })?;
        } else if self.ca_file.is_some() || self.ca_pem.is_some() {
            return Err(Error::Config(format!(
                "a CA certificate was given but {url} is not https://"
            )));
        } else if self.client_identity.is_some() {
            return Err(Error::Config(format!(
                "a client certificate was given but {url} is not https://"
            )));
        } else if self.token.is_some() && !is_loopback(endpoint.uri().host().unwrap_or_default()) {
            return Err(Error::TokenOverPlaintext { endpoint: url });
        }
        Ok(endpoint)
    }
}

impl ClientIdentity {
    /// Reads and checks the certificate and key; errors name the file at fault.
    fn load(&self) -> Result<Identity> {
        let (cert, key) = match self {
            ClientIdentity::Files { cert, key } => {
                let key_pem = read_private(key).map_err(|e| {
                    Error::Config(format!("client key file {}: {e}", key.display()))
                })?;
                let cert_pem = read_named(cert, "client certificate file")?;
                check_cert_pem(
                    &cert_pem,
                    &format!("client certificate file {}", cert.display()),
                )?;
                check_key_pem(&key_pem, &format!("client key file {}", key.display()))?;
                (cert_pem, key_pem)
            }
            ClientIdentity::Pem { cert, key } => {
                check_cert_pem(cert, "client certificate")?;
                check_key_pem(key.expose_secret(), "client key")?;
                (cert.clone(), Zeroizing::new(key.expose_secret().to_vec()))
            }
        };
        Ok(Identity::from_pem(cert, key.as_slice()))
    }
}

fn read_named(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Config(format!("{what} {}: {e}", path.display())))
}

/// At least one certificate, and every certificate block well-formed PEM.
fn check_cert_pem(pem: &[u8], what: &str) -> Result<()> {
    let mut count = 0usize;
    for cert in CertificateDer::pem_slice_iter(pem) {
        cert.map_err(|e| Error::Config(format!("{what}: malformed PEM: {e}")))?;
        count += 1;
    }
    if count == 0 {
        return Err(Error::Config(format!("{what}: no PEM certificate in it")));
    }
    Ok(())
}

/// One PEM private key (PKCS#8, PKCS#1 or SEC1).
fn check_key_pem(pem: &[u8], what: &str) -> Result<()> {
    match PrivateKeyDer::from_pem_slice(pem) {
        Ok(_) => Ok(()),
        Err(rustls_pki_types::pem::Error::NoItemsFound) => {
            Err(Error::Config(format!("{what}: no PEM private key in it")))
        }
        Err(e) => Err(Error::Config(format!("{what}: malformed PEM: {e}"))),
    }
}

/// `localhost`, `127.0.0.0/8` or `::1` (the host of a URI, IPv6 in brackets).
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CreateKeyRequest, KmsClient};
    use std::path::Path;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(0), Duration::from_millis(100));
        assert_eq!(p.backoff(1), Duration::from_millis(200));
        assert_eq!(p.backoff(3), Duration::from_millis(800));
        assert_eq!(p.backoff(10), Duration::from_secs(2));
        assert_eq!(p.backoff(40), Duration::from_secs(2));
    }

    #[test]
    fn endpoint_scheme_is_added_and_checked() {
        assert_eq!(
            ClientBuilder::new("127.0.0.1:1").endpoint_url(),
            "http://127.0.0.1:1"
        );
        assert!(
            ClientBuilder::new("http://127.0.0.1:1")
                .to_endpoint()
                .is_ok()
        );
        let e = ClientBuilder::new("ftp://x:1").to_endpoint().unwrap_err();
        assert!(e.to_string().contains("http:// or https://"), "{e}");
    }

    #[test]
    fn ca_file_errors_are_config_errors() {
        let e = ClientBuilder::new("https://127.0.0.1:1")
            .ca_file("/nonexistent/ca.pem")
            .to_endpoint()
            .unwrap_err();
        assert!(matches!(e, Error::Config(_)));
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let e = ClientBuilder::new("https://127.0.0.1:1")
            .ca_file(&path)
            .to_endpoint()
            .unwrap_err();
        assert!(e.to_string().contains("no PEM certificate"), "{e}");

        let e = ClientBuilder::new("http://127.0.0.1:1")
            .ca_pem(b"x".to_vec())
            .to_endpoint()
            .unwrap_err();
        assert!(e.to_string().contains("not https://"), "{e}");
    }

    #[test]
    fn a_token_goes_over_http_only_to_loopback() {
        let token = || BearerToken::new("t0ken").unwrap();
        for ok in [
            "http://127.0.0.1:1",
            "127.0.0.1:1",
            "http://127.3.4.5:1",
            "http://[::1]:1",
            "http://localhost:1",
            "http://LOCALHOST:1",
        ] {
            let b = ClientBuilder::new(ok).token(token());
            assert!(b.to_endpoint().is_ok(), "{ok}");
            assert!(b.authorization().unwrap().is_some(), "{ok}");
        }
        for refused in [
            "http://10.0.0.1:1",
            "http://[::2]:1",
            "http://localhost.example:1",
            "kms.internal:50051",
        ] {
            let e = ClientBuilder::new(refused)
                .token(token())
                .to_endpoint()
                .unwrap_err();
            assert!(
                matches!(e, Error::TokenOverPlaintext { .. }),
                "{refused}: {e:?}"
            );
        }
        let e = ClientBuilder::new("kms.internal:50051")
            .token_file("/nonexistent/token")
            .to_endpoint()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "refusing to send a bearer token over plain http:// to http://kms.internal:50051: \
             use https://, or a loopback address (127.0.0.1, ::1, localhost)"
        );
        assert_eq!(e.grpc_code(), None);
    }

    #[test]
    fn the_authorization_value_is_bearer_sensitive_and_not_printed() {
        let b = ClientBuilder::new("https://kms.test:1").token(BearerToken::new("t0ken").unwrap());
        let auth = b.authorization().unwrap().unwrap();
        assert_eq!(auth.0.to_str().unwrap(), "Bearer t0ken");
        assert!(auth.0.is_sensitive());
        assert_eq!(format!("{auth:?}"), "Authorization([REDACTED])");
        assert!(!format!("{b:?}").contains("t0ken"), "{b:?}");
        let pem = ClientBuilder::new("https://kms.test:1")
            .client_identity_pem(b"cert".to_vec(), SecretBytes::from("PRIVATE KEY material"));
        assert!(!format!("{pem:?}").contains("material"), "{pem:?}");
    }

    #[test]
    fn unusable_client_identity_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not PEM at all").unwrap();
        let missing = dir.path().join("missing.pem");
        let ca = local_pki::LocalCa::generate("test CA").unwrap();
        let client = ca.issue_client("c").unwrap();
        let cert = dir.path().join("client.pem");
        std::fs::write(&cert, &client.cert_pem).unwrap();
        let key = dir.path().join("client.key");
        std::fs::write(&key, client.key_pem.as_bytes()).unwrap();
        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();

        for private in [&garbage, &key, &cert] {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(private, std::fs::Permissions::from_mode(0o600)).unwrap();
        }

        let build = |c: &Path, k: &Path| {
            ClientBuilder::new("https://localhost:1")
                .client_identity_files(c, k)
                .to_endpoint()
                .map(|_| ())
        };
        assert!(build(&cert, &key).is_ok());
        let e = build(&garbage, &key).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "client certificate file {}: no PEM certificate in it",
                garbage.display()
            )
        );
        let e = build(&cert, &garbage).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "client key file {}: no PEM private key in it",
                garbage.display()
            )
        );
        // The key file holds a certificate, not a key.
        let e = build(&cert, &cert).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "client key file {}: no PEM private key in it",
                cert.display()
            )
        );
        let e = build(&broken, &key).unwrap_err();
        assert!(
            e.to_string().starts_with(&format!(
                "client certificate file {}: malformed PEM: ",
                broken.display()
            )),
            "{e}"
        );
        let e = build(&missing, &key).unwrap_err();
        assert!(matches!(e, Error::Config(_)));
        assert!(
            e.to_string()
                .starts_with(&format!("client certificate file {}: ", missing.display())),
            "{e}"
        );
        let e = build(&cert, &missing).unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("client key file {}: ", missing.display())),
            "{e}"
        );
        // A private key others may read is refused (the mode of the file opened).
        let shared = dir.path().join("shared.key");
        std::fs::write(&shared, client.key_pem.as_bytes()).unwrap();
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o640)).unwrap();
        }
        let e = build(&cert, &shared).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "client key file {}: readable by group or others (mode 640): chmod 600 it",
                shared.display()
            )
        );
        let e = ClientBuilder::new("http://127.0.0.1:1")
            .client_identity_files(&cert, &key)
            .to_endpoint()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "a client certificate was given but http://127.0.0.1:1 is not https://"
        );
    }

    #[tokio::test]
    async fn https_endpoint_builds_tls_config() {
        assert!(
            ClientBuilder::new("https://localhost:1")
                .tls_domain("kms.test")
                .to_endpoint()
                .is_ok()
        );
    }

    #[tokio::test]
    async fn connection_refused_is_a_transport_error() {
        // Bind then drop a listener to get a port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = KmsClient::builder(format!("127.0.0.1:{port}"))
            .connect_timeout(Duration::from_secs(2))
            .connect()
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Transport { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with(&format!("cannot connect to http://127.0.0.1:{port}")),
            "{e}"
        );
        assert!(e.is_unreachable());
    }

    #[tokio::test]
    async fn lazy_client_retries_safe_calls_then_reports_unavailable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let kms = KmsClient::builder(format!("127.0.0.1:{port}"))
            .retry_policy(RetryPolicy {
                max_retries: 2,
                initial_backoff: Duration::from_millis(1),
                max_backoff: Duration::from_millis(2),
            })
            .connect_lazy()
            .unwrap();
        let e = kms.describe_key("k").await.unwrap_err();
        assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
        let e = kms
            .create_key(CreateKeyRequest::new("a"))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
    }
}
