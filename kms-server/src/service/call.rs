//! The edges of one call: where it runs (inline for the in-memory crypto, a blocking thread for
//! anything that writes the key store), the one mapping from a core error to the status a client
//! sees (with the Tencent code in `x-kms-error-code`), and the one request log line (method, key
//! id, status, latency; never a plaintext, data key or context value).

use std::time::Instant;

use kms_proto::pb;
use tonic::{Code, Response, Status, metadata::MetadataValue};

use super::ERROR_CODE_METADATA;
use super::gate::Caller;
use crate::{access::Action, error::Error};

/// Maps a core error to the status sent to the client. Internal detail is logged, not sent.
pub fn status(err: &Error) -> Status {
    let (code, message) = match err {
        Error::NotFound(_) => (Code::NotFound, err.to_string()),
        Error::InvalidArgument(_) | Error::Seed { .. } | Error::InvalidCiphertext => {
            (Code::InvalidArgument, err.to_string())
        }
        Error::KeyState { .. } | Error::ExternalMaterial(_) => {
            (Code::FailedPrecondition, err.to_string())
        }
        Error::AliasExists(_) => (Code::AlreadyExists, err.to_string()),
        Error::ServiceKey(_) | Error::PermissionDenied(_) => {
            (Code::PermissionDenied, err.to_string())
        }
        Error::Unauthenticated(_) => (Code::Unauthenticated, err.to_string()),
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

/// One RPC from its first byte: the action, when it started, and who makes it (or why nobody
/// could be identified: then the body never runs and the call ends UNAUTHENTICATED).
pub(super) struct Call {
    action: Action,
    started: Instant,
    caller: crate::Result<Caller>,
}

impl Call {
    pub(super) fn new(action: Action, caller: crate::Result<Caller>) -> Self {
        Self {
            action,
            started: Instant::now(),
            caller,
        }
    }

    /// A cryptographic call served from memory: cheap enough to run inline.
    pub(super) fn inline<T>(
        self,
        key: &str,
        f: impl FnOnce(&Caller) -> crate::Result<T>,
    ) -> Result<Response<T>, Status> {
        let (caller, result) = run(self.caller, f);
        finish(self.action, caller.as_ref(), key, self.started, result)
    }

    /// Like [`Call::inline`], for a call that names its key only in its answer (a blob's key).
    pub(super) fn inline_answered<T>(
        self,
        f: impl FnOnce(&Caller) -> crate::Result<T>,
        key_of: impl FnOnce(&crate::Result<T>) -> String,
    ) -> Result<Response<T>, Status> {
        let (caller, result) = run(self.caller, f);
        let key = key_of(&result);
        finish(self.action, caller.as_ref(), &key, self.started, result)
    }

    /// A mutation: it writes to the key store, so it runs on a blocking thread.
    pub(super) async fn blocking<T: Send + 'static>(
        self,
        key: String,
        f: impl FnOnce(&Caller) -> crate::Result<T> + Send + 'static,
    ) -> Result<Response<T>, Status> {
        let (caller, result) = run_off_thread(self.caller, f).await;
        finish(self.action, caller.as_ref(), &key, self.started, result)
    }

    /// Like [`Call::blocking`], for a call that names its key only in its answer.
    pub(super) async fn blocking_answered<T: Send + 'static>(
        self,
        f: impl FnOnce(&Caller) -> crate::Result<T> + Send + 'static,
        key_of: impl FnOnce(&crate::Result<T>) -> String,
    ) -> Result<Response<T>, Status> {
        let (caller, result) = run_off_thread(self.caller, f).await;
        let key = key_of(&result);
        finish(self.action, caller.as_ref(), &key, self.started, result)
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

/// Maps a core call's error and logs the request line.
fn finish<T>(
    action: Action,
    caller: Option<&Caller>,
    key: &str,
    started: Instant,
    result: crate::Result<T>,
) -> Result<Response<T>, Status> {
    let method = action.as_str();
    let identity = caller.map_or("-", Caller::name);
    let latency_us = started.elapsed().as_micros();
    match result {
        Ok(v) => {
            tracing::info!(
                method,
                identity,
                key_id = key,
                status = "OK",
                latency_us,
                "request"
            );
            Ok(Response::new(v))
        }
        Err(e) => {
            let s = status(&e);
            tracing::info!(method, identity, key_id = key, status = ?s.code(), latency_us, "request");
            Err(s)
        }
    }
}

/// The key a request that names only a ciphertext is logged under, taken from the core's answer:
/// the key that opened it, or the key a state refusal names ("-" for a blob that did not open).
/// Nothing when the request line will not be logged (spares the hot path).
pub(super) fn answered_key<T>(
    result: &crate::Result<T>,
    key_id: impl FnOnce(&T) -> &String,
) -> String {
    if !tracing::enabled!(tracing::Level::INFO) {
        return String::new();
    }
    match result {
        Ok(v) => key_id(v).clone(),
        Err(Error::KeyState { key_id, .. }) => key_id.clone(),
        Err(_) => "-".to_owned(),
    }
}
