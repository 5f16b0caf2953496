//! The server loop: the KMS service plus gRPC health and reflection on a listener the caller binds
//! (so tests use `127.0.0.1:0`), optionally under TLS ([`crate::tls`]), within the
//! [`Limits`](crate::limits::Limits), a background task for deadlines, and graceful shutdown.
//!
//! The same listener serves the Tencent Cloud API 3.0 front end ([`crate::tencent`]): HTTP/1.1
//! `POST /` next to gRPC on HTTP/2 (hyper tells the two apart by the HTTP/2 preface), so a
//! Tencent SDK needs only this server's address as its endpoint.

use std::{future::Future, path::PathBuf, sync::Arc, time::Duration};

use kms_proto::pb::key_management_service_server::KeyManagementServiceServer;
use tokio::net::TcpListener;

use crate::{
    access::Policy,
    kms::Kms,
    limits::Limits,
    service::{AccessControl, KmsService, Observers},
    tencent::{Credentials, TencentApi},
    tls::ServerTls,
};

/// How often deletion dates and automatic rotations are checked by default.
pub const DEFAULT_TICK: Duration = Duration::from_secs(60);

/// Server settings beyond the listener.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Interval of the background deadline check.
    pub tick: Duration,
    /// Who may call what (default: development mode, every call allowed). SIGHUP reloads it when
    /// [`reload_policy_on_hangup`] was called.
    pub access: Arc<AccessControl>,
    /// The audit log and the metrics (default: neither).
    pub observers: Arc<Observers>,
    /// TLS, or plain text when `None`.
    pub tls: Option<ServerTls>,
    /// Message size, streams, connections and call deadline.
    pub limits: Limits,
    /// The credentials Tencent API calls are checked against without a policy (default:
    /// development mode, unchecked).
    pub tencent: Credentials,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            tick: DEFAULT_TICK,
            access: Arc::new(AccessControl::allow_all()),
            observers: Arc::new(Observers::default()),
            tls: None,
            limits: Limits::default(),
            tencent: Credentials::default(),
        }
    }
}

/// Errors of the server loop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The transport failed.
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// Reflection could not be set up.
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// How long after its call deadline a stopping server still waits for connections to close.
const DRAIN_SLACK: Duration = Duration::from_secs(1);

/// Serves `kms` on `listener` until `shutdown` completes, then drains in-flight requests: for at
/// most the call deadline plus [`DRAIN_SLACK`], so a client that never closes its connection (a
/// stopped process, a peer gone without a FIN) cannot keep the server from stopping. Connections
/// still open then are closed with the runtime.
pub async fn serve(
    listener: TcpListener,
    kms: Arc<Kms>,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<KeyManagementServiceServer<KmsService>>()
        .await;
    // Both reflection versions: grpcurl speaks v1; the Python `grpcio-reflection` client, Postman
    // and older grpcurl speak only v1alpha (they get UNIMPLEMENTED without it).
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(kms_proto::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(kms_proto::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    let limits = options.limits;
    let mut builder = tonic::transport::Server::builder()
        .accept_http1(true)
        .max_concurrent_streams(limits.max_concurrent_streams)
        .http2_keepalive_interval(Some(crate::limits::KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(crate::limits::KEEPALIVE_TIMEOUT))
        .timeout(limits.call_deadline);
    let service = KmsService::with_access(kms.clone(), options.access.clone())
        .with_observers(options.observers.clone());
    let tencent = TencentApi::new(
        service.clone(),
        kms.clone(),
        options.access.clone(),
        options.tencent,
    );
    let kms_service = KeyManagementServiceServer::new(service)
        .max_decoding_message_size(limits.max_message_bytes);
    // Replicas on a shared store reload each other's changes as they are committed.
    let follower = kms.follow_changes();
    let stop_ticker = Arc::new(tokio::sync::Notify::new());
    let ticker = tokio::spawn(run_deadlines(kms, options.tick, stop_ticker.clone()));
    // `Server::tcp_nodelay` does not reach sockets from a listener the caller bound: the gate sets
    // it on each accepted socket.
    let incoming = crate::limits::incoming(
        listener,
        limits.max_connections,
        crate::limits::idle_limit(limits.call_deadline),
    );
    let routes = tonic::service::Routes::new(health)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .add_service(kms_service)
        .into_axum_router()
        .merge(tencent.router());
    let router = builder.add_routes(routes.into());
    let (stopping, stopped) = tokio::sync::oneshot::channel();
    let shutdown = async move {
        shutdown.await;
        let _ = stopping.send(());
    };
    let serving = async move {
        match options.tls {
            // The handshakes are ours, not tonic's: see `crate::tls` for why.
            Some(tls) => {
                router
                    .serve_with_incoming_shutdown(
                        crate::tls::accept(incoming, tls.config),
                        shutdown,
                    )
                    .await
            }
            None => {
                router
                    .serve_with_incoming_shutdown(incoming, shutdown)
                    .await
            }
        }
    };
    let result = bounded_drain(serving, stopped, limits.call_deadline + DRAIN_SLACK).await;
    // The ticker holds the KMS (and so the data-directory lock), also inside a deadline check
    // running on a blocking thread, which an abort would not stop: ask it to end and wait, so the
    // lock is released when `serve` returns and a restart on the same directory cannot race it.
    stop_ticker.notify_one();
    let _ = ticker.await;
    // The follower holds the KMS too: stopped and joined (off the runtime's threads) likewise.
    if let Some(follower) = follower {
        let _ = tokio::task::spawn_blocking(move || drop(follower)).await;
    }
    result.map_err(Into::into)
}

/// Runs `serving` to its end, or for at most `limit` once `stopped` fires.
async fn bounded_drain<E>(
    serving: impl Future<Output = Result<(), E>>,
    stopped: tokio::sync::oneshot::Receiver<()>,
    limit: Duration,
) -> Result<(), E> {
    tokio::pin!(serving);
    tokio::select! {
        result = &mut serving => return result,
        Ok(()) = stopped => {}
    }
    match tokio::time::timeout(limit, serving).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!(
                limit_secs = limit.as_secs(),
                "connections still open after the drain limit: closing them"
            );
            Ok(())
        }
    }
}

/// Reloads the policy file `path` into `access` on every SIGHUP from the moment it returns. The
/// handler is installed here, on the calling thread, not when the spawned task first runs: until
/// one is, a SIGHUP takes its default action and ends the process. So the binary calls this as
/// soon as the policy is loaded, before the slow part of start-up (opening the key store,
/// seeding); a SIGHUP meanwhile is held and reloads the file once the task runs. A file that does
/// not load keeps the policy in force (and says why): a typo must not lock everyone out, nor let
/// everyone in. The task runs on `runtime` until it shuts down.
#[cfg(unix)]
pub fn reload_policy_on_hangup(
    runtime: &tokio::runtime::Handle,
    access: Arc<AccessControl>,
    path: PathBuf,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = {
        let _entered = runtime.enter();
        signal(SignalKind::hangup())?
    };
    Ok(runtime.spawn(async move {
        while hangups.recv().await.is_some() {
            reload(&access, &path);
        }
    }))
}

/// One reload: the new policy for the next call, or the old one kept.
#[cfg(unix)]
fn reload(access: &AccessControl, path: &std::path::Path) {
    match Policy::load(path) {
        Ok(policy) => {
            let identities = policy.identities().len();
            access.replace(policy);
            tracing::info!(file = %path.display(), identities, "policy reloaded");
        }
        Err(e) => tracing::error!(
            file = %path.display(),
            error = %e,
            "policy not reloaded; the previous policy stays in force"
        ),
    }
}

async fn run_deadlines(kms: Arc<Kms>, tick: Duration, stop: Arc<tokio::sync::Notify>) {
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = stop.notified() => return,
        }
        let kms = kms.clone();
        // Replicas on a shared store first take in the others' changes (keys made, disabled,
        // rotated or deleted elsewhere): the safety net behind the change feed.
        let task = move || {
            if kms.store_is_shared() {
                kms.resync()?;
            }
            kms.run_due_tasks()
        };
        match tokio::task::spawn_blocking(task).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "deadline check failed"),
            Err(e) => tracing::error!(error = %e, "deadline task failed"),
        }
    }
}

/// Resolves when SIGINT or SIGTERM arrives.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}
