//! The gateway: its configuration, the accept loop and the per-request frame.
//!
//! [`serve`] takes its listener and a shutdown future (so tests bind `127.0.0.1:0`), serves
//! HTTP/1.1 (over TLS when given a config), and on shutdown stops accepting, lets in-flight requests
//! finish (up to 30 s) and returns.
//!
//! # Limits
//!
//! Every connection holds a task, buffers and possibly a temp file, so they are bounded
//! ([`ServeOptions`], [`serve_with`]): at most `max_connections` are served at once (a semaphore
//! permit per connection, taken before `accept`; further clients wait in the listen backlog), and
//! a client that stalls for `idle_timeout` loses its connection: while it performs the TLS
//! handshake or sends a request's headers, the connection is closed; while it sends a request
//! body, the request ends with `400 RequestTimeout` (see [`crate::ops::body_stream`]).
//!
//! Every response gets `x-cos-request-id`, `Server: tencent-cos` and `Date`, and the header-case
//! extensions (see [`crate::http`]). Every error becomes the COS XML document in one place,
//! [`crate::http::error_response`].

use std::convert::Infallible;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Method, Request};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use storage_adapter::{Adapter, KeyProvider};
use tokio::net::TcpListener;

use crate::auth::Credentials;
use crate::error::{Error, Result};
use crate::http::{HeaderCase, Resp, error_response, http_date, now_secs};
use crate::store::Store;

/// Connections served at once by default (`--max-connections`).
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// How long a client may stall: to finish a TLS handshake, to send a request's headers, and
/// between two reads of a request body (then `400 RequestTimeout`).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The limits [`serve_with`] enforces.
#[derive(Clone, Copy, Debug)]
pub struct ServeOptions {
    /// Connections served at once; more wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// How long a client may stall (default [`IDLE_TIMEOUT`]).
    pub idle_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: IDLE_TIMEOUT,
        }
    }
}

/// Where data keys come from.
#[derive(Debug)]
pub enum KmsBackend {
    /// The `kms-server` core in process, on the gateway's data directory, under this root key.
    Embedded(kms_server::RootKey),
    /// Any provider (the gRPC client to a running `kms-server`, or a test double).
    Provider(Arc<dyn KeyProvider>),
}

/// What a gateway needs to start.
#[derive(Debug)]
pub struct Config {
    /// Data directory: `kms.sqlite3` (embedded KMS), `gateway.sqlite3`, `objects/`, `tmp/`.
    pub data_dir: PathBuf,
    /// The accepted SecretId/SecretKey pairs.
    pub credentials: Credentials,
    /// The KMS.
    pub kms: KmsBackend,
    /// Accept SSE-C headers over plain HTTP (a test convenience; COS requires HTTPS).
    pub allow_ssec_over_http: bool,
}

/// A running gateway's shared state.
#[derive(Debug)]
pub struct Gateway {
    pub(crate) store: Store,
    pub(crate) adapter: Adapter,
    pub(crate) creds: Credentials,
    pub(crate) allow_ssec_over_http: bool,
    header_case: HeaderCase,
    kms: Option<Arc<kms_server::Kms>>,
}

impl Gateway {
    /// Opens the store and the KMS.
    pub async fn open(config: Config) -> Result<Arc<Self>> {
        std::fs::create_dir_all(&config.data_dir)?;
        let (provider, kms): (Arc<dyn KeyProvider>, _) = match config.kms {
            KmsBackend::Embedded(root_key) => {
                let kms = kms_server::Kms::open(kms_server::Config::new(
                    config.data_dir.clone(),
                    root_key,
                ))
                .map_err(|e| Error::internal(format!("cannot open the embedded KMS: {e}")))?;
                let kms = Arc::new(kms);
                (
                    Arc::new(storage_adapter::EmbeddedKms::new(Arc::clone(&kms))),
                    Some(kms),
                )
            }
            KmsBackend::Provider(p) => (p, None),
        };
        let store = Store::open(&config.data_dir)?;
        Ok(Arc::new(Self {
            store,
            adapter: Adapter::new(provider),
            creds: config.credentials,
            allow_ssec_over_http: config.allow_ssec_over_http,
            header_case: HeaderCase::build().await?,
            kms,
        }))
    }

    /// The embedded KMS (administration in tests and tools), when the gateway embeds one.
    pub fn embedded_kms(&self) -> Option<&Arc<kms_server::Kms>> {
        self.kms.as_ref()
    }

    /// Handles one request; never fails (errors become COS error documents). A body that sends
    /// nothing for `body_idle_timeout` ends the request with `RequestTimeout`.
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        tls: bool,
        body_idle_timeout: Duration,
    ) -> Resp {
        let request_id = new_request_id();
        let (parts, body) = req.into_parts();
        let head = parts.method == Method::HEAD;
        let mut body = Some(crate::ops::RequestBody::new(body, body_idle_timeout));
        let mut resp = match crate::route::route(&parts) {
            Err(e) => error_response(&e, parts.uri.path(), &request_id, head),
            Ok(target) => {
                let ctx = crate::ops::Ctx {
                    method: parts.method.clone(),
                    headers: parts.headers,
                    target,
                    tls,
                    request_id: request_id.clone(),
                };
                match crate::ops::dispatch(self, &ctx, &mut body).await {
                    Ok(r) => r,
                    Err(e) => {
                        if let Some(b) = body.take() {
                            drain(b.into_inner()).await;
                        }
                        error_response(&e, &ctx.target.resource(), &request_id, head)
                    }
                }
            }
        };
        let h = resp.headers_mut();
        h.insert(
            "x-cos-request-id",
            HeaderValue::from_str(&request_id).expect("hex is a valid header value"),
        );
        h.insert(
            http::header::SERVER,
            HeaderValue::from_static("tencent-cos"),
        );
        if let Ok(d) = HeaderValue::from_str(&http_date(now_secs())) {
            h.insert(http::header::DATE, d);
        }
        self.header_case.apply(&mut resp);
        resp
    }
}

/// Reads and drops the rest of an unread request body (at most 64 MiB, 10 s), so that the client,
/// still sending, reads the error response rather than a connection reset.
pub(crate) async fn drain(body: Incoming) {
    use http_body_util::BodyExt as _;
    let mut body = body;
    let mut left: u64 = 64 << 20;
    let read = async {
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(d) = frame.data_ref() {
                left = left.saturating_sub(d.len() as u64);
                if left == 0 {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), read).await;
}

/// A request id: 32 hex characters, unique per request.
fn new_request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Serves `gateway` on `listener` (TLS when `tls` is given) until `shutdown` completes, with the
/// default [`ServeOptions`].
pub async fn serve(
    gateway: Arc<Gateway>,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_with(gateway, listener, tls, ServeOptions::default(), shutdown).await
}

/// [`serve`] with explicit limits.
pub async fn serve_with(
    gateway: Arc<Gateway>,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let connections = Arc::new(tokio::sync::Semaphore::new(
        options
            .max_connections
            .clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
    ));
    let idle_timeout = options.idle_timeout;
    tokio::pin!(shutdown);
    loop {
        // A permit per connection, taken before accepting: at the cap, clients wait in the
        // backlog instead of costing a task each.
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = Arc::clone(&connections).acquire_owned() => {
                permit.expect("the connection semaphore is never closed")
            }
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let gw = Arc::clone(&gateway);
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let is_tls = acceptor.is_some();
            let service = hyper::service::service_fn(move |req| {
                let gw = Arc::clone(&gw);
                async move { Ok::<_, Infallible>(gw.handle(req, is_tls, idle_timeout).await) }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .keep_alive(true)
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(idle_timeout);
            let result = match acceptor {
                // A handshake that never ends would hold its permit.
                Some(acceptor) => {
                    match tokio::time::timeout(idle_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let conn = builder.serve_connection(TokioIo::new(tls), service);
                            watcher.watch(conn).await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    }
                }
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(conn).await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(30)) => {
            tracing::warn!("connections still open after 30 s; stopping anyway");
        }
    }
    Ok(())
}
