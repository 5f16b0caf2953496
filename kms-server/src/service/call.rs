//! The edges of one call: where it runs (inline for the in-memory crypto, a blocking thread for
//! anything that writes the key store), the one mapping from a core error to the status a client
//! sees (with the Tencent code in `x-kms-error-code`), and the one request log line (method, key
//! id, status, latency; never a plaintext, data key or context value).

use std::{collections::BTreeSet, net::SocketAddr, sync::Arc, time::Instant};

use kms_proto::pb;
use tonic::{Code, Response, Status, metadata::MetadataValue};

use super::ERROR_CODE_METADATA;
use kms_types::EncryptionContext;
use time::OffsetDateTime;

use super::{audited::Audited, gate::Caller};
use crate::{access::Action, blob::BlobHeader, error::Error, kms::Kms};
use crate::{
    audit::{self, AuditEvent, AuditKey, AuditLog, DEVELOPMENT_IDENTITY, Outcome, RequestId},
    metrics::Metrics,
};

/// Maps a core error to the status sent to the client. Internal detail is logged, not sent.
pub fn status(err: &Error) -> Status {
    let (code, message) = match err {
        Error::NotFound(_) => (Code::NotFound, err.to_string()),
        Error::InvalidArgument(_)
        | Error::Seed { .. }
        | Error::InvalidCiphertext
        | Error::DuplicatedKeyId(_)
        | Error::TagKeysDuplicated(_)
        | Error::KeyUsage(_) => (Code::InvalidArgument, err.to_string()),
        Error::KeyState { .. } | Error::ExternalMaterial(_) | Error::RotateNotSupported(_) => {
            (Code::FailedPrecondition, err.to_string())
        }
        Error::Import {
            code:
                kms_types::ErrorCode::UnsupportedOperation
                | kms_types::ErrorCode::NotExternalCmk
                | kms_types::ErrorCode::TokenExpired,
            ..
        } => (Code::FailedPrecondition, err.to_string()),
        Error::Import { .. } => (Code::InvalidArgument, err.to_string()),
        Error::AliasExists(_) => (Code::AlreadyExists, err.to_string()),
        Error::ServiceKey(_) | Error::PermissionDenied(_) => {
            (Code::PermissionDenied, err.to_string())
        }
        Error::Unauthenticated(_) => (Code::Unauthenticated, err.to_string()),
        Error::StoreBusy | Error::StoreUnavailable(_) => {
            tracing::warn!(error = %err, "key store busy or unavailable");
            (Code::Unavailable, err.to_string())
        }
        Error::Conflict(_) => {
            tracing::warn!(error = %err, "concurrent change on another replica");
            (Code::Aborted, err.to_string())
        }
        Error::RootKeyMismatch
        | Error::DataDirInUse(_)
        | Error::RootKey(_)
        | Error::Storage(_)
        | Error::Io(_)
        | Error::Internal(_) => {
            tracing::error!(error = %err, "internal error");
            (Code::Internal, "internal error".to_owned())
        }
    };
    let mut status = Status::new(code, message);
    status.metadata_mut().insert(
        ERROR_CODE_METADATA,
        MetadataValue::from_static(err.tencent_code()),
    );
    status
}

pub(super) fn item_error(err: &Error) -> pb::ItemError {
    let s = status(err);
    pb::ItemError {
        code: s.code() as i32,
        message: s.message().to_owned(),
        error_code: err.tencent_code().to_owned(),
    }
}

/// What watches the calls: the audit log and the metrics, each optional.
#[derive(Debug, Default)]
pub struct Observers {
    /// One line per call, written before its reply leaves; a call whose line cannot be written
    /// fails with INTERNAL, so no use goes unrecorded.
    pub audit: Option<Arc<AuditLog>>,
    /// Calls by RPC and status, and their latencies.
    pub metrics: Option<Arc<Metrics>>,
}

/// One RPC from its first byte: the action, when it started, and who makes it (or why nobody
/// could be identified: then the body never runs and the call ends UNAUTHENTICATED).
pub(super) struct Call {
    caller: crate::Result<Caller>,
    meta: CallMeta,
}

/// A call apart from its caller: what its end needs.
struct CallMeta {
    action: Action,
    started: Instant,
    observers: Arc<Observers>,
    /// Only when an audit log is kept.
    arrival: Option<Arrival>,
}

/// What the audit line records of the call's arrival.
struct Arrival {
    time: OffsetDateTime,
    request_id: RequestId,
    peer: Option<SocketAddr>,
    /// The encryption contexts' names (never their values).
    context_keys: BTreeSet<String>,
}

impl Call {
    pub(super) fn new(
        action: Action,
        caller: crate::Result<Caller>,
        observers: Arc<Observers>,
        peer: Option<SocketAddr>,
    ) -> Self {
        let arrival = observers.audit.as_ref().map(|_| Arrival {
            time: OffsetDateTime::now_utc(),
            request_id: RequestId::new(),
            peer,
            context_keys: BTreeSet::new(),
        });
        Self {
            caller,
            meta: CallMeta {
                action,
                started: Instant::now(),
                observers,
                arrival,
            },
        }
    }

    /// Notes the names of the call's encryption contexts (base64 JSON) for the audit line; free
    /// when no audit log is kept. A context that does not parse adds nothing (the call refuses it).
    pub(super) fn contexts<'a>(mut self, contexts: impl IntoIterator<Item = &'a str>) -> Self {
        if let Some(arrival) = &mut self.meta.arrival {
            for text in contexts {
                if let Ok(context) = EncryptionContext::from_base64(text) {
                    arrival
                        .context_keys
                        .extend(context.pairs().map(|(name, _)| name.to_owned()));
                }
            }
        }
        self
    }

    /// Notes the names of a context the call has parsed already (it hands the parsed context to
    /// the core, so it is parsed once); free when no audit log is kept.
    pub(super) fn context<E>(mut self, context: &Result<EncryptionContext, E>) -> Self {
        if let (Some(arrival), Ok(context)) = (&mut self.meta.arrival, context) {
            arrival
                .context_keys
                .extend(context.pairs().map(|(name, _)| name.to_owned()));
        }
        self
    }

    /// A cryptographic call served from memory: cheap enough to run inline.
    pub(super) async fn inline<T: Audited>(
        self,
        key: &str,
        f: impl FnOnce(&Caller) -> crate::Result<T>,
    ) -> Result<Response<T>, Status> {
        self.inline_keys(&[AuditKey::named(key)], f).await
    }

    /// Like [`Call::inline`], for a call over several keys, or one it knows more of than its name
    /// (`asked`, see [`CallMeta::finish_logged`]); the request line shows the first name.
    pub(super) async fn inline_keys<T: Audited>(
        self,
        asked: &[AuditKey<'_>],
        f: impl FnOnce(&Caller) -> crate::Result<T>,
    ) -> Result<Response<T>, Status> {
        let (caller, result) = run(self.caller, f);
        let logged = asked.first().map_or("", |k| k.name);
        self.meta
            .finish_logged(caller.as_ref(), asked, logged, result)
            .await
    }

    /// Like [`Call::inline`], for a call that names its key only in its answer (a blob's key):
    /// `asked` are the keys its blobs' headers name, for an answer that names none (a refusal).
    pub(super) async fn inline_answered<T: Audited>(
        self,
        asked: &[AuditKey<'_>],
        f: impl FnOnce(&Caller) -> crate::Result<T>,
        key_of: impl FnOnce(&crate::Result<T>) -> String,
    ) -> Result<Response<T>, Status> {
        let (caller, result) = run(self.caller, f);
        let logged = self.meta.logs_request_line().then(|| key_of(&result));
        self.meta
            .finish_logged(
                caller.as_ref(),
                asked,
                logged.as_deref().unwrap_or_default(),
                result,
            )
            .await
    }

    /// Writes the `started` line of a call that changes keys ([`Outcome::Started`]) before it
    /// runs, with the keys as the request names them. `Some(error)`: the line was not written,
    /// and the call must not run (it is then refused INTERNAL, having changed nothing).
    async fn record_started(&self, asked: &[AuditKey<'_>]) -> Option<Error> {
        let meta = &self.meta;
        let (Some(log), Some(arrival), Ok(caller)) =
            (&meta.observers.audit, &meta.arrival, &self.caller)
        else {
            return None;
        };
        if !meta.action.changes_keys() {
            return None;
        }
        let rpc = meta.action.as_str();
        let ack = log.record(&AuditEvent {
            time: arrival.time,
            request_id: arrival.request_id,
            identity: caller.name(),
            peer: arrival.peer,
            rpc,
            keys: asked
                .iter()
                .copied()
                .filter(|k| !k.name.is_empty())
                .collect(),
            context_keys: arrival.context_keys.iter().map(String::as_str).collect(),
            outcome: Outcome::Started,
        });
        ack.await.err().map(|e| {
            Error::Internal(format!(
                "audit log not written ({e}): the {rpc} call is refused before it changed anything"
            ))
        })
    }

    /// A mutation: it writes to the key store, so it runs on a blocking thread, after its
    /// `started` line ([`Call::record_started`]).
    pub(super) async fn blocking<T: Audited + Send + 'static>(
        self,
        key: String,
        f: impl FnOnce(&Caller) -> crate::Result<T> + Send + 'static,
    ) -> Result<Response<T>, Status> {
        let unstarted = self.record_started(&[AuditKey::named(&key)]).await;
        let (caller, result) = run_off_thread(self.caller, move |caller| match unstarted {
            Some(e) => Err(e),
            None => f(caller),
        })
        .await;
        self.meta
            .finish_logged(caller.as_ref(), &[AuditKey::named(&key)], &key, result)
            .await
    }

    /// Like [`Call::blocking`], for a call on the one key `name` names (the lifecycle calls, whose
    /// answers mostly name no key): the gate resolves the name ([`Caller::resolve`]) and `f` gets
    /// the name to hand the core, the key's UUID when it resolved. The audit line records that
    /// UUID next to `name`, whatever the answer says and also when the call is refused.
    pub(super) async fn blocking_key<T: Audited + Send + 'static>(
        self,
        kms: Arc<Kms>,
        name: String,
        f: impl FnOnce(&Kms, &Caller, &str) -> crate::Result<T> + Send + 'static,
    ) -> Result<Response<T>, Status> {
        let action = self.meta.action;
        let asked = name.clone();
        let unstarted = self.record_started(&[AuditKey::named(&asked)]).await;
        let (caller, outcome) = run_off_thread(self.caller, move |caller| {
            if let Some(e) = unstarted {
                return Ok((None, Err(e)));
            }
            let (key_id, key) = caller.resolve(&kms, action, &name);
            Ok((key_id, key.and_then(|key| f(&kms, caller, &key))))
        })
        .await;
        let (key_id, result) = outcome.unwrap_or_else(|e| (None, Err(e)));
        let asked = AuditKey {
            key_id,
            ..AuditKey::named(&asked)
        };
        self.meta
            .finish_logged(caller.as_ref(), &[asked], asked.name, result)
            .await
    }

    /// Like [`Call::blocking`], for a call over a list of keys (DescribeKeys, EnableKeys,
    /// DisableKeys): the audit line gives each key the name it was asked by, the request line
    /// the first.
    pub(super) async fn blocking_batch<T: Audited + Send + 'static>(
        self,
        names: Vec<String>,
        f: impl FnOnce(&Caller) -> crate::Result<T> + Send + 'static,
    ) -> Result<Response<T>, Status> {
        let asked: Vec<AuditKey<'_>> = names.iter().map(|n| AuditKey::named(n)).collect();
        let unstarted = self.record_started(&asked).await;
        let (caller, result) = run_off_thread(self.caller, move |caller| match unstarted {
            Some(e) => Err(e),
            None => f(caller),
        })
        .await;
        let logged = names.first().map_or("", String::as_str);
        self.meta
            .finish_logged(caller.as_ref(), &asked, logged, result)
            .await
    }

    /// Like [`Call::blocking`], for a call that names its key only in its answer; `asked` as for
    /// [`Call::inline_answered`].
    pub(super) async fn blocking_answered<T: Audited + Send + 'static>(
        self,
        asked: &[AuditKey<'_>],
        f: impl FnOnce(&Caller) -> crate::Result<T> + Send + 'static,
        key_of: impl FnOnce(&crate::Result<T>) -> String,
    ) -> Result<Response<T>, Status> {
        let (caller, result) = run_off_thread(self.caller, f).await;
        let logged = self.meta.logs_request_line().then(|| key_of(&result));
        self.meta
            .finish_logged(
                caller.as_ref(),
                asked,
                logged.as_deref().unwrap_or_default(),
                result,
            )
            .await
    }
}

/// Runs the body for an identified caller; an unidentified one gets its refusal.
fn run<T>(
    caller: crate::Result<Caller>,
    f: impl FnOnce(&Caller) -> crate::Result<T>,
) -> (Option<Caller>, crate::Result<T>) {
    match caller {
        Ok(c) => {
            let result = f(&c);
            (Some(c), result)
        }
        Err(e) => (None, Err(e)),
    }
}

/// [`run`] on a blocking thread.
async fn run_off_thread<T: Send + 'static>(
    caller: crate::Result<Caller>,
    f: impl FnOnce(&Caller) -> crate::Result<T> + Send + 'static,
) -> (Option<Caller>, crate::Result<T>) {
    match caller {
        Ok(c) => tokio::task::spawn_blocking(move || {
            let result = f(&c);
            (Some(c), result)
        })
        .await
        .unwrap_or_else(|e| (None, Err(Error::Internal(format!("task failed: {e}"))))),
        Err(e) => (None, Err(e)),
    }
}

impl CallMeta {
    /// The level of the request line: INFO, or DEBUG when an audit log is kept (its line records
    /// all the request line would, so a call is not written twice).
    fn request_line_level(&self) -> tracing::Level {
        if self.observers.audit.is_some() {
            tracing::Level::DEBUG
        } else {
            tracing::Level::INFO
        }
    }

    /// Whether the request line will be written (spares the hot path the work of its fields).
    fn logs_request_line(&self) -> bool {
        match self.request_line_level() {
            tracing::Level::DEBUG => tracing::enabled!(tracing::Level::DEBUG),
            _ => tracing::enabled!(tracing::Level::INFO),
        }
    }

    /// Maps the core's error, writes the audit line (refusing the call if it cannot), counts the
    /// call, and logs the request line (showing `logged`).
    ///
    /// The audit line's keys are the request's (`asked`: the name the caller gave, empty for a
    /// blob's key, and what the edge knows of the key before any answer: the gate's resolution, a
    /// blob's header) merged with the keys the answer names, the i-th with the i-th; what the
    /// answer says wins. A key the request names but of which nothing is known (no name, no id) is
    /// left out, except where the answer holds an item for it.
    async fn finish_logged<T: Audited>(
        self,
        caller: Option<&Caller>,
        asked: &[AuditKey<'_>],
        logged: &str,
        result: crate::Result<T>,
    ) -> Result<Response<T>, Status> {
        let method = self.action.as_str();
        let identity = caller.map_or(DEVELOPMENT_IDENTITY, Caller::name);
        let mut result = result.map_err(|e| status(&e));
        if let (Some(log), Some(arrival)) = (&self.observers.audit, &self.arrival) {
            let used = result.as_ref().map(Audited::used).unwrap_or_default();
            let keys: Vec<AuditKey<'_>> = (0..used.len().max(asked.len()))
                .filter_map(|i| {
                    let request = asked.get(i).copied().unwrap_or(AuditKey::named(""));
                    let (key_id, key_version) = used.get(i).copied().unwrap_or_default();
                    let key = AuditKey {
                        name: request.name,
                        key_id: key_id.or(request.key_id),
                        key_version: key_version.or(request.key_version),
                    };
                    let known = !key.name.is_empty() || key.key_id.is_some();
                    (known || i < used.len()).then_some(key)
                })
                .collect();
            let event = AuditEvent {
                time: arrival.time,
                request_id: arrival.request_id,
                identity,
                peer: arrival.peer,
                rpc: method,
                keys,
                context_keys: arrival.context_keys.iter().map(String::as_str).collect(),
                outcome: Outcome::of(&result),
            };
            let ack = log.record(&event);
            drop(event);
            if let Err(e) = ack.await {
                result = Err(status(&Error::Internal(format!(
                    "audit log not written ({e}): the {method} call is refused"
                ))));
            }
        }
        let code = result.as_ref().err().map_or(Code::Ok, Status::code);
        let elapsed = self.started.elapsed();
        if let Some(metrics) = &self.observers.metrics {
            metrics.observe(method, code, elapsed);
        }
        let latency_us = elapsed.as_micros();
        let status = audit::status_name(code);
        match self.request_line_level() {
            tracing::Level::DEBUG => {
                tracing::debug!(
                    method,
                    identity,
                    key_id = logged,
                    status,
                    latency_us,
                    "request"
                );
            }
            _ => tracing::info!(
                method,
                identity,
                key_id = logged,
                status,
                latency_us,
                "request"
            ),
        }
        result.map(Response::new)
    }
}

/// The audit line's key for a blob the request names: the key (and version) its header names,
/// nothing for a blob whose header does not parse.
pub(super) fn blob_key(header: Option<BlobHeader>) -> AuditKey<'static> {
    AuditKey {
        key_id: header.map(|h| h.key_id),
        key_version: header.map(|h| h.key_version),
        ..AuditKey::named("")
    }
}

/// The key a request that names only a ciphertext is logged under, taken from the core's answer:
/// the key that opened it, or the key a state refusal names ("-" for a blob that did not open).
pub(super) fn answered_key<T>(
    result: &crate::Result<T>,
    key_id: impl FnOnce(&T) -> &String,
) -> String {
    match result {
        Ok(v) => key_id(v).clone(),
        Err(Error::KeyState { key_id, .. }) => key_id.clone(),
        Err(_) => "-".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key store locked past its bound is `UNAVAILABLE` (kms-client retries the calls it may
    /// repeat), with its own Tencent code; a storage failure stays an opaque `INTERNAL`.
    #[test]
    fn a_busy_store_is_unavailable() {
        let s = status(&Error::StoreBusy);
        assert_eq!(s.code(), Code::Unavailable);
        assert!(s.message().contains("busy"), "{}", s.message());
        assert_eq!(
            s.metadata().get(ERROR_CODE_METADATA).unwrap(),
            "UnsupportedOperation.ServiceTemporaryUnavailable"
        );
        let s = status(&Error::StoreUnavailable(
            "postgres://kms@db:5432/kms: connection refused".into(),
        ));
        assert_eq!(s.code(), Code::Unavailable);
        assert_eq!(
            s.message(),
            "the key store is unavailable: postgres://kms@db:5432/kms: connection refused"
        );
        let s = status(&Error::Conflict("k1".into()));
        assert_eq!(s.code(), Code::Aborted);
        assert_eq!(
            s.message(),
            "key k1 was changed by another replica at the same time: nothing was changed, retry"
        );
        let s = status(&Error::Storage("disk I/O error at /secret".into()));
        assert_eq!((s.code(), s.message()), (Code::Internal, "internal error"));
    }
}
