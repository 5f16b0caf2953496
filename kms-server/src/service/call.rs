//! The edges of one call: where it runs (inline for the in-memory crypto, a blocking thread for
//! anything that writes the key store), the one mapping from a core error to the status a client
//! sees (with the Tencent code in `x-kms-error-code`), and the one request log line (method, key
//! id, status, latency; never a plaintext, data key or context value).

use std::time::Instant;

use kms_proto::pb;
use tonic::{Code, Response, Status, metadata::MetadataValue};
use uuid::Uuid;

use crate::error::Error;

use super::ERROR_CODE_METADATA;

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
        Error::ServiceKey(_) => (Code::PermissionDenied, err.to_string()),
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

/// Runs a core call, maps its error, and logs the request line.
pub(super) fn finish<T>(
    method: &'static str,
    key: &str,
    started: Instant,
    result: crate::Result<T>,
) -> Result<Response<T>, Status> {
    let latency_us = started.elapsed().as_micros();
    match result {
        Ok(v) => {
            tracing::info!(method, key_id = key, status = "OK", latency_us, "request");
            Ok(Response::new(v))
        }
        Err(e) => {
            let s = status(&e);
            tracing::info!(method, key_id = key, status = ?s.code(), latency_us, "request");
            Err(s)
        }
    }
}

/// Runs a core call that may write to the key store on a blocking thread.
pub(super) async fn off_thread<T: Send + 'static>(
    f: impl FnOnce() -> crate::Result<T> + Send + 'static,
) -> crate::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(Error::Internal(format!("task failed: {e}"))))
}

/// A mutation: it writes to the key store, so it runs on a blocking thread.
pub(super) async fn blocking<T: Send + 'static>(
    method: &'static str,
    key: String,
    f: impl FnOnce() -> crate::Result<T> + Send + 'static,
) -> Result<Response<T>, Status> {
    let started = Instant::now();
    let result = off_thread(f).await;
    finish(method, &key, started, result)
}

/// A cryptographic call served from memory: cheap enough to run inline.
pub(super) fn inline<T>(
    method: &'static str,
    key: &str,
    f: impl FnOnce() -> crate::Result<T>,
) -> Result<Response<T>, Status> {
    let started = Instant::now();
    finish(method, key, started, f())
}

/// The key a request that names only a ciphertext is logged under, taken from the core's answer:
/// the key that opened it, or the key a state refusal names ("-" for a blob that did not open).
/// Nothing when the request line will not be logged (spares the hot path).
pub(super) fn answered_key<T>(
    result: &crate::Result<T>,
    key_id: impl FnOnce(&T) -> Uuid,
) -> String {
    if !tracing::enabled!(tracing::Level::INFO) {
        return String::new();
    }
    match result {
        Ok(v) => key_id(v).to_string(),
        Err(Error::KeyState { key_id, .. }) => key_id.clone(),
        Err(_) => "-".to_owned(),
    }
}
