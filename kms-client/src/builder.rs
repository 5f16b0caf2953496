//! [`ClientBuilder`]: how a [`KmsClient`](crate::KmsClient) reaches the server (endpoint, TLS, timeouts) and which
//! calls it may repeat ([`RetryPolicy`]). Apart from the RPC methods, so the connection rules can be
//! read, and tested, on their own.

use std::path::PathBuf;
use std::time::Duration;

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

use crate::error::{Error, Result};

/// The endpoint used when none is given.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:50051";
/// Default time allowed to open a connection (TCP and TLS).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time allowed for one call (each attempt, when a call is retried).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

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
    pub(crate) retry: RetryPolicy,
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
            retry: RetryPolicy::default(),
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

    /// Builds the tonic endpoint (URL, timeouts, TLS). Does not connect.
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
            endpoint = endpoint.tls_config(tls).map_err(|e| {
                Error::Config(format!("TLS for {url}: {}", crate::error::error_chain(&e)))
            })?;
        } else if self.ca_file.is_some() || self.ca_pem.is_some() {
            return Err(Error::Config(format!(
                "a CA certificate was given but {url} is not https://"
            )));
        }
        Ok(endpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CreateKeyRequest, KmsClient};

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
