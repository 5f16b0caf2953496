//! The gateway's error type and its one mapping to the COS error document.
//!
//! Every failure a handler can produce is an [`Error`]; [`Error::code`] and [`Error::status`] give the
//! COS `<Code>` and the HTTP status, and [`crate::wire::error_response`] writes the XML document
//! (`Code`, `Message`, `Resource`, `RequestId`, `TraceId`: all non-empty, as the Python SDK needs).
//! Internal details are logged, never sent.
//!
//! # Faults of the gateway's own resources
//!
//! Three faults get their own message, so an operator reading a client's log knows what to fix,
//! while the code stays one the COS SDKs know and retry (every 5xx is retried by both):
//!
//! * a full disk (`ENOSPC`, `EDQUOT`, SQLite's `SQLITE_FULL`): [`Error::StorageFull`], 500
//!   `InternalError`. The spec (§2) has no code for it and COS documents none; S3 also answers 500
//!   `InternalError`. Nothing of the failed body or row is kept.
//! * the metadata database locked by another process past [`crate::store::BUSY_TIMEOUT`]:
//!   [`Error::SlowDown`], 503 `SlowDown`, the code COS and S3 use for "retry later".
//! * the KMS unreachable (`--kms-endpoint` down) or failing: the adapter's `KmsUnavailable`, 500
//!   `KmsInternalException` (spec §2), with a message that names the KMS.

use http::StatusCode;

/// A result with the gateway's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every error a request can end with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An SSE, envelope, KMS or body error from the adapter (it carries its own COS code).
    #[error(transparent)]
    Adapter(storage_adapter::Error),
    /// 403 `AccessDenied`: an unsigned request, an expired signature, a refused POST policy.
    #[error("{0}")]
    AccessDenied(String),
    /// 403 `SignatureDoesNotMatch`.
    #[error("The request signature we calculated does not match the signature you provided.")]
    SignatureDoesNotMatch,
    /// 403 `InvalidAccessKeyId`: the SecretId is unknown.
    #[error("The SecretId you provided does not exist in our records.")]
    InvalidAccessKeyId,
    /// 404 `NoSuchBucket`.
    #[error("The specified bucket does not exist.")]
    NoSuchBucket,
    /// 404 `NoSuchKey`.
    #[error("The specified key does not exist.")]
    NoSuchKey,
    /// 404 `NoSuchUpload`.
    #[error("The specified upload does not exist.")]
    NoSuchUpload,
    /// 404 `NoSuchVersion`: a well-formed `versionId` that names no version of the key.
    #[error("The specified version does not exist.")]
    NoSuchVersion,
    /// A delete marker where an object was asked for: 404 `NoSuchKey` when it is the key's latest
    /// version (a GET without `versionId`), 405 `MethodNotAllowed` when the request named it by
    /// `versionId`. Both carry `x-cos-delete-marker: true` and the marker's `x-cos-version-id`.
    #[error("The specified key does not exist.")]
    DeleteMarker {
        /// The marker's version id.
        version_id: String,
        /// Whether the request named the marker by its id (405) rather than the key (404).
        named: bool,
    },
    /// 404 `NoSuchEncryptionConfiguration`: GET bucket encryption with nothing set.
    #[error("The server side encryption configuration was not found.")]
    NoSuchEncryptionConfiguration,
    /// 409 `BucketAlreadyOwnedByYou`.
    #[error("The bucket you tried to create already exists, and you own it.")]
    BucketAlreadyOwnedByYou,
    /// 409 `BucketNotEmpty`.
    #[error("The bucket you tried to delete is not empty.")]
    BucketNotEmpty,
    /// 400 `InvalidBucketName`.
    #[error("The specified bucket name is not valid.")]
    InvalidBucketName,
    /// 400 `InvalidArgument`.
    #[error("{0}")]
    InvalidArgument(String),
    /// 400 `InvalidRequest` (for example SSE-C over plain HTTP).
    #[error("{0}")]
    InvalidRequest(String),
    /// 400 `MalformedXML`.
    #[error("The XML you provided was not well-formed or did not validate: {0}")]
    MalformedXml(String),
    /// 400 `InvalidDigest`: `Content-MD5` is not base64 of 16 bytes.
    #[error("The Content-MD5 you specified is not valid.")]
    InvalidDigest,
    /// 400 `BadDigest`: the body does not match `Content-MD5`.
    #[error("The Content-MD5 you specified did not match what we received.")]
    BadDigest,
    /// 400 `EntityTooSmall`: a part other than the last is under 1 MiB, or a POST Object file is
    /// under its policy's `content-length-range` minimum.
    #[error("Your proposed upload is smaller than the minimum allowed object size.")]
    EntityTooSmall,
    /// 400 `InvalidPart`: a part is missing, unknown, its ETag differs, or numbers have gaps.
    #[error("One or more of the specified parts could not be found: {0}")]
    InvalidPart(String),
    /// 400 `InvalidPartOrder`: parts not in ascending order.
    #[error("The list of parts was not in ascending order.")]
    InvalidPartOrder,
    /// 412 `PreconditionFailed`.
    #[error("At least one of the preconditions you specified did not hold.")]
    PreconditionFailed,
    /// 304: `If-None-Match` / `If-Modified-Since` held. No body is sent; the response carries the
    /// `ETag` and `Last-Modified` a 200 would have (RFC 9110 §15.4.5).
    #[error("Not Modified")]
    NotModified {
        /// The object's ETag, without quotes.
        etag: String,
        /// The object's last modification (unix seconds).
        modified: i64,
    },
    /// 400 `InvalidTag`: a tag set past COS's limits (see [`crate::tagging`]).
    #[error("{0}")]
    InvalidTag(String),
    /// 400 `AttachmentFull`: an ACL with more than [`crate::acl::MAX_GRANTS`] grants (COS's code
    /// for "the number of ACLs and policies has exceeded the upper threshold").
    #[error("The number of ACLs and policies has exceeded the upper threshold.")]
    AttachmentFull,
    /// 416 `InvalidRange`.
    #[error("The requested range is not satisfiable.")]
    InvalidRange,
    /// 416 `InvalidPartNumber`: GET/HEAD `?partNumber=N` past the object's last part. The code and
    /// status are S3's; COS documents neither (a guess).
    #[error("The requested partnumber is not satisfiable.")]
    InvalidPartNumber,
    /// 403 `InvalidObjectState`: GET of an archived object without a readable restored copy, or
    /// a restore of an object that is not archived (see [`crate::restore`]).
    #[error("{0}")]
    InvalidObjectState(String),
    /// 409 `RestoreAlreadyInProgress`: a restore of an object whose restore is running.
    #[error("Object restore is already in progress.")]
    RestoreAlreadyInProgress,
    /// 405 `MethodNotAllowed`.
    #[error("The specified method is not allowed against this resource.")]
    MethodNotAllowed,
    /// 501 `NotImplemented`: a sub-resource, parameter or method this gateway does not implement
    /// (see [`crate::endpoint`]).
    #[error("{0} is not implemented by this gateway.")]
    NotImplemented(String),
    /// 411 `MissingContentLength`.
    #[error("You must provide the Content-Length HTTP header.")]
    MissingContentLength,
    /// 400 `EntityTooLarge`.
    #[error("Your proposed upload exceeds the maximum allowed size.")]
    EntityTooLarge,
    /// 400 `InvalidPolicyDocument`: a POST Object policy that is not JSON, has no valid
    /// `expiration`, or has a condition this gateway cannot check (an unknown operator, a wrong
    /// arity or type). Spec §5 names no code for it; this is S3's.
    #[error("Invalid Policy: {0}")]
    InvalidPolicyDocument(String),
    /// 400 `MaxPostPreDataLengthExceeded`: the POST Object fields before the file are larger than
    /// [`crate::ops::post::MAX_FORM_FIELDS`] (S3's code for it).
    #[error("Your POST request fields preceding the upload file were too large.")]
    MaxPostPreDataLengthExceeded,
    /// 400 `RequestTimeout`: the client sent no body bytes for the body idle timeout, or its
    /// request was not answered by the request deadline ([`crate::deadline`]).
    #[error(
        "Your socket connection to the server was not read from or written to within the timeout period."
    )]
    RequestTimeout,
    /// 500 `InternalError` with its own message: the disk (body files or the metadata database)
    /// is full; the request stored nothing.
    #[error("The gateway's storage is full: nothing was stored. Free some space and retry.")]
    StorageFull,
    /// 503 `SlowDown`: the metadata database stayed locked by another connection for longer than
    /// the busy timeout; the request changed nothing.
    #[error("The gateway's metadata database is busy: nothing was changed. Please retry.")]
    SlowDown,
    /// 500 `InternalError`: logged with its detail; the client sees a generic message.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The `<Message>` of a KMS that cannot be reached or failed (its detail is logged).
pub const KMS_UNAVAILABLE_MESSAGE: &str = "The KMS is unavailable: the object's data key could not be generated or decrypted. Please retry.";

impl Error {
    /// The COS `<Code>`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Adapter(e) => e.cos_code().as_str(),
            Self::AccessDenied(_) => "AccessDenied",
            Self::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            Self::InvalidAccessKeyId => "InvalidAccessKeyId",
            Self::NoSuchBucket => "NoSuchBucket",
            Self::NoSuchKey => "NoSuchKey",
            Self::NoSuchUpload => "NoSuchUpload",
            Self::NoSuchVersion => "NoSuchVersion",
            Self::DeleteMarker { named: false, .. } => "NoSuchKey",
            Self::DeleteMarker { named: true, .. } => "MethodNotAllowed",
            Self::NoSuchEncryptionConfiguration => "NoSuchEncryptionConfiguration",
            Self::BucketAlreadyOwnedByYou => "BucketAlreadyOwnedByYou",
            Self::BucketNotEmpty => "BucketNotEmpty",
            Self::InvalidBucketName => "InvalidBucketName",
            Self::InvalidArgument(_) => "InvalidArgument",
            Self::InvalidRequest(_) => "InvalidRequest",
            Self::MalformedXml(_) => "MalformedXML",
            Self::InvalidDigest => "InvalidDigest",
            Self::BadDigest => "BadDigest",
            Self::EntityTooSmall => "EntityTooSmall",
            Self::InvalidPart(_) => "InvalidPart",
            Self::InvalidPartOrder => "InvalidPartOrder",
            Self::PreconditionFailed => "PreconditionFailed",
            Self::NotModified { .. } => "NotModified",
            Self::InvalidRange => "InvalidRange",
            Self::InvalidTag(_) => "InvalidTag",
            Self::AttachmentFull => "AttachmentFull",
            Self::InvalidPartNumber => "InvalidPartNumber",
            Self::InvalidObjectState(_) => "InvalidObjectState",
            Self::RestoreAlreadyInProgress => "RestoreAlreadyInProgress",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::NotImplemented(_) => "NotImplemented",
            Self::MissingContentLength => "MissingContentLength",
            Self::EntityTooLarge => "EntityTooLarge",
            Self::InvalidPolicyDocument(_) => "InvalidPolicyDocument",
            Self::MaxPostPreDataLengthExceeded => "MaxPostPreDataLengthExceeded",
            Self::RequestTimeout => "RequestTimeout",
            Self::SlowDown => "SlowDown",
            Self::StorageFull | Self::Internal(_) => "InternalError",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Adapter(e) => e.http_status(),
            Self::AccessDenied(_)
            | Self::SignatureDoesNotMatch
            | Self::InvalidAccessKeyId
            | Self::InvalidObjectState(_) => StatusCode::FORBIDDEN,
            Self::NoSuchBucket
            | Self::NoSuchKey
            | Self::NoSuchUpload
            | Self::NoSuchVersion
            | Self::DeleteMarker { named: false, .. }
            | Self::NoSuchEncryptionConfiguration => StatusCode::NOT_FOUND,
            Self::BucketAlreadyOwnedByYou
            | Self::BucketNotEmpty
            | Self::RestoreAlreadyInProgress => StatusCode::CONFLICT,
            Self::InvalidBucketName
            | Self::InvalidArgument(_)
            | Self::InvalidRequest(_)
            | Self::MalformedXml(_)
            | Self::InvalidDigest
            | Self::BadDigest
            | Self::EntityTooSmall
            | Self::InvalidPart(_)
            | Self::InvalidPartOrder
            | Self::InvalidTag(_)
            | Self::AttachmentFull
            | Self::EntityTooLarge
            | Self::InvalidPolicyDocument(_)
            | Self::MaxPostPreDataLengthExceeded
            | Self::RequestTimeout => StatusCode::BAD_REQUEST,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::NotModified { .. } => StatusCode::NOT_MODIFIED,
            Self::InvalidRange | Self::InvalidPartNumber => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::MethodNotAllowed | Self::DeleteMarker { named: true, .. } => {
                StatusCode::METHOD_NOT_ALLOWED
            }
            Self::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            Self::MissingContentLength => StatusCode::LENGTH_REQUIRED,
            Self::SlowDown => StatusCode::SERVICE_UNAVAILABLE,
            Self::StorageFull | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `<Message>` sent to the client: never internal detail, never key material.
    pub fn message(&self) -> String {
        match self {
            Self::Internal(_) => "We encountered an internal error. Please try again.".into(),
            Self::DeleteMarker { named: true, .. } => Self::MethodNotAllowed.to_string(),
            Self::Adapter(storage_adapter::Error::KmsUnavailable(_)) => {
                KMS_UNAVAILABLE_MESSAGE.into()
            }
            Self::Adapter(e) if self.status().is_server_error() => {
                let _ = e;
                "We encountered an internal error. Please try again.".into()
            }
            other => other.to_string(),
        }
    }

    /// Shorthand for an internal error with its (logged, not sent) detail.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        // A body stream that failed in the gateway (a request body timeout, a POST length
        // limit) or inside the adapter comes back wrapped in an io::Error: keep its code.
        let e = match e.downcast::<Self>() {
            Ok(own) => return own,
            Err(e) => e,
        };
        match e.downcast::<storage_adapter::Error>() {
            Ok(a) => a.into(),
            Err(e) if is_full(&e) => {
                tracing::error!(error = %e, "a body write failed: the disk is full");
                Self::StorageFull
            }
            Err(e) => Self::Internal(format!("I/O: {e}")),
        }
    }
}

impl From<storage_adapter::Error> for Error {
    fn from(e: storage_adapter::Error) -> Self {
        match e {
            // The adapter wraps the input stream's errors (the request body) in `Io`.
            storage_adapter::Error::Io(io) => io.into(),
            other => Self::Adapter(other),
        }
    }
}

/// Whether an I/O error says the disk (or the user's quota on it) is full.
fn is_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        match e.sqlite_error_code() {
            Some(C::DiskFull) => {
                tracing::error!(error = %e, "a metadata write failed: the disk is full");
                Self::StorageFull
            }
            Some(C::DatabaseBusy | C::DatabaseLocked) => {
                tracing::warn!(error = %e, "the metadata database stayed locked");
                Self::SlowDown
            }
            _ => Self::Internal(format!("sqlite: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_status() {
        let cases: Vec<(Error, &str, u16)> = vec![
            (Error::AccessDenied("x".into()), "AccessDenied", 403),
            (Error::SignatureDoesNotMatch, "SignatureDoesNotMatch", 403),
            (Error::InvalidAccessKeyId, "InvalidAccessKeyId", 403),
            (Error::NoSuchBucket, "NoSuchBucket", 404),
            (Error::NoSuchKey, "NoSuchKey", 404),
            (Error::NoSuchUpload, "NoSuchUpload", 404),
            (
                Error::NoSuchEncryptionConfiguration,
                "NoSuchEncryptionConfiguration",
                404,
            ),
            (
                Error::BucketAlreadyOwnedByYou,
                "BucketAlreadyOwnedByYou",
                409,
            ),
            (Error::BucketNotEmpty, "BucketNotEmpty", 409),
            (Error::MalformedXml("x".into()), "MalformedXML", 400),
            (Error::InvalidDigest, "InvalidDigest", 400),
            (Error::BadDigest, "BadDigest", 400),
            (Error::EntityTooSmall, "EntityTooSmall", 400),
            (Error::InvalidPart("x".into()), "InvalidPart", 400),
            (Error::InvalidPartOrder, "InvalidPartOrder", 400),
            (Error::PreconditionFailed, "PreconditionFailed", 412),
            (Error::InvalidRange, "InvalidRange", 416),
            (Error::InvalidTag("x".into()), "InvalidTag", 400),
            (Error::AttachmentFull, "AttachmentFull", 400),
            (Error::InvalidPartNumber, "InvalidPartNumber", 416),
            (
                Error::InvalidObjectState("x".into()),
                "InvalidObjectState",
                403,
            ),
            (
                Error::RestoreAlreadyInProgress,
                "RestoreAlreadyInProgress",
                409,
            ),
            (Error::MissingContentLength, "MissingContentLength", 411),
            (
                Error::NotModified {
                    etag: "e".into(),
                    modified: 0,
                },
                "NotModified",
                304,
            ),
            (
                Error::InvalidPolicyDocument("x".into()),
                "InvalidPolicyDocument",
                400,
            ),
            (
                Error::MaxPostPreDataLengthExceeded,
                "MaxPostPreDataLengthExceeded",
                400,
            ),
            (Error::RequestTimeout, "RequestTimeout", 400),
            (Error::StorageFull, "InternalError", 500),
            (Error::SlowDown, "SlowDown", 503),
            (
                Error::Internal("secret detail".into()),
                "InternalError",
                500,
            ),
            (
                Error::Adapter(storage_adapter::Error::SseHeaderNotAllowed),
                "SSEHeaderNotAllowed",
                400,
            ),
        ];
        for (e, code, status) in cases {
            assert_eq!(e.code(), code);
            assert_eq!(e.status().as_u16(), status, "{code}");
            assert!(!e.message().is_empty());
        }
    }

    #[test]
    fn a_full_disk_is_storage_full() {
        for kind in [
            std::io::ErrorKind::StorageFull,
            std::io::ErrorKind::QuotaExceeded,
        ] {
            let e = Error::from(std::io::Error::from(kind));
            assert!(matches!(e, Error::StorageFull), "{kind:?}");
            assert!(e.message().contains("storage is full"));
        }
        let other = Error::from(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        assert!(matches!(other, Error::Internal(_)));
        let sqlite = |code| {
            Error::from(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(code),
                Some("detail".into()),
            ))
        };
        assert!(matches!(
            sqlite(rusqlite::ffi::SQLITE_FULL),
            Error::StorageFull
        ));
        for busy in [rusqlite::ffi::SQLITE_BUSY, rusqlite::ffi::SQLITE_LOCKED] {
            let e = sqlite(busy);
            assert_eq!((e.code(), e.status().as_u16()), ("SlowDown", 503));
        }
        assert_eq!(
            sqlite(rusqlite::ffi::SQLITE_CORRUPT).code(),
            "InternalError"
        );
    }

    #[test]
    fn an_unavailable_kms_says_so() {
        let e = Error::Adapter(storage_adapter::Error::KmsUnavailable(
            "connection refused at 10.0.0.1".into(),
        ));
        assert_eq!(
            (e.code(), e.status().as_u16()),
            ("KmsInternalException", 500)
        );
        assert_eq!(e.message(), KMS_UNAVAILABLE_MESSAGE);
        assert!(!e.message().contains("10.0.0.1"));
    }

    #[test]
    fn internal_detail_is_not_sent() {
        let e = Error::internal("sqlite: disk I/O error at /secret/path");
        assert!(!e.message().contains("secret"));
        let a = Error::Adapter(storage_adapter::Error::Internal("rng failed".into()));
        assert!(!a.message().contains("rng"));
    }

    #[test]
    fn adapter_errors_inside_io_errors_keep_their_code() {
        let io: std::io::Error = storage_adapter::Error::Decrypt.into();
        let e: Error = io.into();
        assert_eq!(e.code(), "InternalError");
        let io: std::io::Error = storage_adapter::Error::InvalidRange.into();
        assert_eq!(Error::from(io).code(), "InvalidRange");
    }

    #[test]
    fn gateway_errors_inside_body_streams_keep_their_code() {
        // A request body error as the plain write path sees it, and as the adapter's encrypting
        // stream returns it (wrapped in its `Io` variant).
        let io = std::io::Error::other(Error::RequestTimeout);
        assert_eq!(Error::from(io).code(), "RequestTimeout");
        let wrapped = storage_adapter::Error::Io(std::io::Error::other(Error::EntityTooLarge));
        let e = Error::from(wrapped);
        assert_eq!((e.code(), e.status().as_u16()), ("EntityTooLarge", 400));
        let plain = storage_adapter::Error::Io(std::io::Error::other("connection reset"));
        assert_eq!(Error::from(plain).code(), "InternalError");
    }
}
