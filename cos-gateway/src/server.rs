//! The accept loop: connections, TLS handshakes, limits and graceful shutdown. Each request is
//! handed to [`Gateway::handle`] (the per-request frame, [`crate::frame`]).
//!
//! [`serve`] takes its listener and a shutdown future (so tests bind `127.0.0.1:0`), serves
//! HTTP/1.1 (over TLS when given a config), and on shutdown stops accepting, lets in-flight requests
//! finish (up to 30 s) and returns.
//!
//! # Limits
//!
//! Every connection holds a task, buffers and possibly a temp file, so they are bounded
//! ([`ServeOptions`], [`serve_with`]):
//!
//! * at most `max_connections` are served at once (a semaphore permit per connection, taken
//!   before `accept`; further clients wait in the listen backlog);
//! * at most `max_connections_per_address` from one client address ([`crate::peers`]): a
//!   connection over it is closed right after `accept`, before a byte of it is read (the client
//!   reads end-of-file, or a reset if it had sent something), and logged at debug with the peer.
//!   Its global permit is released at once, so a flood from one address holds no more permits
//!   than its cap, and the other clients queued behind it in the backlog are reached;
//! * a client that stalls for `idle_timeout` loses its connection: while it performs the TLS
//!   handshake or sends a request's headers, the connection is closed; while it sends a request
//!   body, the request ends with `400 RequestTimeout` (see [`crate::body::body_stream`]);
//! * a request not done by `request_timeout` after its headers ends with `400 RequestTimeout` and
//!   `Connection: close` (unless a change it made is under way: then it is answered when done),
//!   or, if its response has started, by closing the connection ([`crate::deadline`]).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::deadline::{ResponseDeadline, until_deadline};
use crate::peers::PeerLimit;
use crate::state::Gateway;

/// Connections served at once by default (`--max-connections`).
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Connections one client address may hold at once by default
/// (`--max-connections-per-address`): 1/16 of [`DEFAULT_MAX_CONNECTIONS`], so that it takes at
/// least 16 addresses to fill the gateway, while a busy SDK client (the COS SDKs' transfer
/// managers upload a few parts at once each) stays far below it.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = DEFAULT_MAX_CONNECTIONS / 16;

/// Threads the runtime may start for blocking file work (reads, writes, fsyncs of bodies and the
/// catalog). Each thread keeps its own allocator heap, whose freed pages stay resident while the
/// thread lives: tokio's default of 512 let a 64-in-flight soak grow to about 100 threads and
/// 650 MiB resident; 32 held it near 250 MiB at the same or better request rate
/// (bench/BENCHMARKS.md, "Gateway memory").
pub const BLOCKING_THREADS: usize = 32;

/// How long a client may stall: to finish a TLS handshake, to send a request's headers, and
/// between two reads of a request body (then `400 RequestTimeout`).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The limits [`serve_with`] enforces.
#[derive(Clone, Copy, Debug)]
pub struct ServeOptions {
    /// Connections served at once; more wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// Connections one client address may hold at once (default
    /// [`DEFAULT_MAX_CONNECTIONS_PER_ADDRESS`]); more are closed at once.
    pub max_connections_per_address: usize,
    /// How long a client may stall (default [`IDLE_TIMEOUT`]).
    pub idle_timeout: Duration,
    /// How long one request may take after its headers (default
    /// [`crate::deadline::REQUEST_TIMEOUT`]).
    pub request_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            idle_timeout: IDLE_TIMEOUT,
            request_timeout: crate::deadline::REQUEST_TIMEOUT,
        }
    }
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
    let peers = PeerLimit::new(options.max_connections_per_address);
    let idle_timeout = options.idle_timeout;
    let request_timeout = options.request_timeout;
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
        let Some(peer_guard) = peers.admit(peer.ip()) else {
            tracing::debug!(
                %peer,
                cap = options.max_connections_per_address,
                "connection refused: its address holds the per-address cap"
            );
            drop(stream);
            drop(permit);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let gw = Arc::clone(&gateway);
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _peer_guard = peer_guard;
            let is_tls = acceptor.is_some();
            let (response_deadline, cutoff) = ResponseDeadline::new();
            let service = hyper::service::service_fn(move |req| {
                let gw = Arc::clone(&gw);
                let response_deadline = response_deadline.clone();
                async move {
                    let deadline = tokio::time::Instant::now() + request_timeout;
                    let resp = gw.handle(req, is_tls, idle_timeout, deadline).await;
                    // A response started at its deadline (the RequestTimeout document) still
                    // gets the idle timeout to be read.
                    let cut = deadline.max(tokio::time::Instant::now() + idle_timeout);
                    Ok::<_, Infallible>(response_deadline.arm(resp, cut))
                }
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
                            until_deadline(watcher.watch(conn), cutoff).await
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
                    until_deadline(watcher.watch(conn), cutoff).await
                }
            };
            match result {
                Some(Ok(())) => {}
                Some(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "connection ended with an error")
                }
                None => tracing::debug!(%peer, "response cut at the request deadline"),
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
