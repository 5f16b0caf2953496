//! The crate's error type and its mapping to COS error codes and HTTP statuses.

use http::StatusCode;

/// A result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A COS error code (the `<Code>` of the XML error document) and its HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CosErrorCode {
    /// 400: malformed SSE value on a write.
    InvalidArgument,
    /// 400: `x-cos-server-side-encryption` sent on GET/HEAD.
    SseHeaderNotAllowed,
    /// 400: SSE-C headers missing, malformed or not matching the object on a read or copy source.
    SsecDecryptHeaderInvalid,
    /// 400: the KMS key does not exist.
    KmsKeyNotExist,
    /// 400: the KMS key is disabled or pending deletion.
    KmsKeyDisabled,
    /// 400: any other KMS refusal.
    KmsException,
    /// 500: the KMS failed internally or could not be reached.
    KmsInternalException,
    /// 416: a range outside the object.
    InvalidRange,
    /// 400: a multipart part table that is not 1..=N in order.
    InvalidPart,
    /// 400: an object larger than one key may encrypt.
    EntityTooLarge,
    /// 500: anything the client cannot fix (including stored data that fails authentication).
    InternalError,
}

impl CosErrorCode {
    /// The `<Code>` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidArgument => "InvalidArgument",
            Self::SseHeaderNotAllowed => "SSEHeaderNotAllowed",
            Self::SsecDecryptHeaderInvalid => "SsecDecryptHeaderInvalid",
            Self::KmsKeyNotExist => "KmsKeyNotExist",
            Self::KmsKeyDisabled => "KmsKeyDisabled",
            Self::KmsException => "KmsException",
            Self::KmsInternalException => "KmsInternalException",
            Self::InvalidRange => "InvalidRange",
            Self::InvalidPart => "InvalidPart",
            Self::EntityTooLarge => "EntityTooLarge",
            Self::InternalError => "InternalError",
        }
    }

    /// The HTTP status sent with this code.
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidArgument
            | Self::SseHeaderNotAllowed
            | Self::SsecDecryptHeaderInvalid
            | Self::KmsKeyNotExist
            | Self::KmsKeyDisabled
            | Self::KmsException
            | Self::InvalidPart
            | Self::EntityTooLarge => StatusCode::BAD_REQUEST,
            Self::InvalidRange => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::KmsInternalException | Self::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl std::fmt::Display for CosErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which request an SSE-C problem came from: it decides the COS code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyUse {
    /// PUT, POST, Initiate Multipart, Upload Part, copy destination: `InvalidArgument`.
    Write,
    /// GET/HEAD, copy source: `SsecDecryptHeaderInvalid`.
    Read,
}

/// Every error of the crate.
///
/// Messages are safe to send to a client: none contains key material. Every failure to authenticate
/// stored data (wrap, commitment, segment tag, layout MAC) is the single opaque [`Error::Decrypt`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `x-cos-server-side-encryption` (or a `-customer-algorithm`) has an unsupported value.
    #[error("unsupported value for {header}")]
    UnsupportedAlgorithm {
        /// The header (or form field) name.
        header: &'static str,
        /// Whether the request was a write or a read, which decides the COS code.
        key_use: KeyUse,
    },
    /// `x-cos-server-side-encryption-context` is not base64 of a JSON object of strings, is too
    /// long, or uses the adapter's reserved name.
    #[error("invalid x-cos-server-side-encryption-context: {0}")]
    InvalidContext(String),
    /// SSE headers that do not fit together (a KMS key id without `cos/kms`, SSE-C with
    /// `x-cos-server-side-encryption`, ...).
    #[error("conflicting server-side encryption headers: {0}")]
    ConflictingHeaders(&'static str),
    /// The SSE-C customer key is not base64 of exactly 32 bytes, its MD5 is malformed or does not
    /// match, or one of the three SSE-C headers is missing.
    #[error("invalid SSE-C headers: {reason}")]
    InvalidCustomerKey {
        /// What is wrong, without the key.
        reason: &'static str,
        /// Whether the request was a write or a read, which decides the COS code.
        key_use: KeyUse,
    },
    /// `x-cos-server-side-encryption` sent on GET or HEAD.
    #[error("x-cos-server-side-encryption is not allowed on GET or HEAD")]
    SseHeaderNotAllowed,
    /// An SSE-C object was read (or used as a copy source) without the SSE-C headers.
    #[error("the object is encrypted with a customer key; the SSE-C headers are required")]
    CustomerKeyRequired,
    /// SSE-C headers were sent for an object that is not SSE-C, or the key is not the object's key.
    ///
    /// The adapter answers `SsecDecryptHeaderInvalid` (400) rather than `AccessDenied` (403): it is
    /// the COS code whose name is documented for SSE-C header problems.
    #[error("the SSE-C key does not match the object")]
    CustomerKeyMismatch,
    /// The adapter has no customer-key verifier key ([`crate::Adapter::with_customer_key_verifier`]),
    /// so it can neither write an SSE-C object nor check a key against a version-2 SSE-C object.
    ///
    /// A server configuration error (`InternalError`, 500): the adapter refuses rather than store
    /// a weaker check of the key.
    #[error("no SSE-C key verifier key is configured")]
    CustomerKeyVerifierUnset,
    /// The KMS key does not exist.
    #[error("KMS key not found: {0}")]
    KmsKeyNotFound(String),
    /// The KMS key is disabled or pending deletion.
    #[error("KMS key is not enabled: {0}")]
    KmsKeyDisabled(String),
    /// The KMS refused the request for another reason (for example a context mismatch).
    #[error("KMS refused the request: {0}")]
    Kms(String),
    /// The KMS could not be reached or failed internally.
    #[error("KMS unavailable: {0}")]
    KmsUnavailable(String),
    /// Stored data failed authentication: a tampered or misplaced envelope or body, a wrong key.
    ///
    /// Deliberately opaque: it does not say which check failed.
    #[error("the object cannot be decrypted")]
    Decrypt,
    /// The stored envelope is not a valid encoding of a known format version.
    #[error("malformed encryption envelope: {0}")]
    MalformedEnvelope(&'static str),
    /// A range outside the object.
    #[error("the requested range is not satisfiable")]
    InvalidRange,
    /// A multipart part table that is not parts 1..=N in ascending order, or a part unknown to it.
    #[error("invalid multipart part list: {0}")]
    InvalidPart(&'static str),
    /// A body larger than 2^32 segments under one key.
    #[error("the body is too large to encrypt under one key")]
    TooLarge,
    /// Reading the body or writing it failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A bug or an environment failure (for example the random generator).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The same error again, for each caller that shared one failed call (a bucket-key cache
    /// load): an I/O error keeps its kind and message.
    pub(crate) fn duplicate(&self) -> Self {
        match self {
            Self::UnsupportedAlgorithm { header, key_use } => Self::UnsupportedAlgorithm {
                header,
                key_use: *key_use,
            },
            Self::InvalidContext(m) => Self::InvalidContext(m.clone()),
            Self::ConflictingHeaders(m) => Self::ConflictingHeaders(m),
            Self::InvalidCustomerKey { reason, key_use } => Self::InvalidCustomerKey {
                reason,
                key_use: *key_use,
            },
            Self::SseHeaderNotAllowed => Self::SseHeaderNotAllowed,
            Self::CustomerKeyRequired => Self::CustomerKeyRequired,
            Self::CustomerKeyMismatch => Self::CustomerKeyMismatch,
            Self::CustomerKeyVerifierUnset => Self::CustomerKeyVerifierUnset,
            Self::KmsKeyNotFound(m) => Self::KmsKeyNotFound(m.clone()),
            Self::KmsKeyDisabled(m) => Self::KmsKeyDisabled(m.clone()),
            Self::Kms(m) => Self::Kms(m.clone()),
            Self::KmsUnavailable(m) => Self::KmsUnavailable(m.clone()),
            Self::Decrypt => Self::Decrypt,
            Self::MalformedEnvelope(m) => Self::MalformedEnvelope(m),
            Self::InvalidRange => Self::InvalidRange,
            Self::InvalidPart(m) => Self::InvalidPart(m),
            Self::TooLarge => Self::TooLarge,
            Self::Io(e) => Self::Io(std::io::Error::new(e.kind(), e.to_string())),
            Self::Internal(m) => Self::Internal(m.clone()),
        }
    }

    /// The COS error code to send for this error.
    pub fn cos_code(&self) -> CosErrorCode {
        match self {
            Self::UnsupportedAlgorithm { key_use, .. }
            | Self::InvalidCustomerKey { key_use, .. } => match key_use {
                KeyUse::Write => CosErrorCode::InvalidArgument,
                KeyUse::Read => CosErrorCode::SsecDecryptHeaderInvalid,
            },
            Self::InvalidContext(_) | Self::ConflictingHeaders(_) => CosErrorCode::InvalidArgument,
            Self::SseHeaderNotAllowed => CosErrorCode::SseHeaderNotAllowed,
            Self::CustomerKeyRequired | Self::CustomerKeyMismatch => {
                CosErrorCode::SsecDecryptHeaderInvalid
            }
            Self::KmsKeyNotFound(_) => CosErrorCode::KmsKeyNotExist,
            Self::KmsKeyDisabled(_) => CosErrorCode::KmsKeyDisabled,
            Self::Kms(_) => CosErrorCode::KmsException,
            Self::KmsUnavailable(_) => CosErrorCode::KmsInternalException,
            Self::InvalidRange => CosErrorCode::InvalidRange,
            Self::InvalidPart(_) => CosErrorCode::InvalidPart,
            Self::TooLarge => CosErrorCode::EntityTooLarge,
            Self::Decrypt
            | Self::MalformedEnvelope(_)
            | Self::CustomerKeyVerifierUnset
            | Self::Io(_)
            | Self::Internal(_) => CosErrorCode::InternalError,
        }
    }

    /// The HTTP status to send for this error.
    pub fn http_status(&self) -> StatusCode {
        self.cos_code().status()
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(io) => io,
            other => std::io::Error::other(other),
        }
    }
}
