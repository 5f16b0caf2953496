//! The client's error type, classified by the Tencent KMS error code the server sends.
//!
//! Every error that comes from the server keeps the server's message (which names the problem, e.g.
//! `key 1234... is Disabled`) and the Tencent KMS error code that the server puts in the
//! `x-kms-error-code` metadata entry (e.g. `ResourceUnavailable.CmkDisabled`). That code, not the
//! message text, decides the variant; an answer without a known code falls back to its gRPC code.

use std::time::Duration;

use tonic::Code;

pub use kms_types::{ERROR_CODE_METADATA, ErrorCode};

/// The one message the server gives for a ciphertext blob that does not open, whatever the reason.
/// (The client tells that error by its code, [`ErrorCode::InvalidCiphertext`], not by this text.)
pub const INVALID_CIPHERTEXT_MESSAGE: &str = "invalid ciphertext";

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to the KMS.
///
/// The variants that come from the server keep its `message` (shown by `Display`) and its Tencent
/// error code, when it sent one (see [`Error::error_code`]). New variants may be added.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `NOT_FOUND`: the key (id or alias) does not exist, or is past its deletion date.
    #[error("{message}")]
    NotFound {
        /// The server's message.
        message: String,
        /// The Tencent error code, e.g. `ResourceUnavailable.CmkNotFound`.
        error_code: Option<String>,
    },
    /// `INVALID_ARGUMENT`: a malformed field; the message says which rule failed.
    #[error("{message}")]
    InvalidArgument {
        /// The server's message (or the client's, for a check done before sending).
        message: String,
        /// The Tencent error code, e.g. `InvalidParameterValue.InvalidAlias`.
        error_code: Option<String>,
    },
    /// `InvalidParameterValue.InvalidCiphertext`: the blob does not open (tampered, truncated, wrong
    /// encryption context, another server, deleted key). Deliberately one opaque variant.
    #[error("{}", INVALID_CIPHERTEXT_MESSAGE)]
    InvalidCiphertext {
        /// The Tencent error code, normally `InvalidParameterValue.InvalidCiphertext`.
        error_code: Option<String>,
    },
    /// `FAILED_PRECONDITION`: the key's state forbids the action, e.g. `key <id> is Disabled`.
    #[error("{message}")]
    KeyStateConflict {
        /// The server's message.
        message: String,
        /// The Tencent error code, e.g. `ResourceUnavailable.CmkDisabled`.
        error_code: Option<String>,
    },
    /// `ALREADY_EXISTS`: the alias is taken.
    #[error("{message}")]
    AliasExists {
        /// The server's message.
        message: String,
        /// The Tencent error code, normally `InvalidParameterValue.AliasAlreadyExists`.
        error_code: Option<String>,
    },
    /// `PERMISSION_DENIED`: the server knows who is calling, and this caller may not do this (the
    /// policy does not allow the action on the key: `UnauthorizedOperation`), or the key is owned by
    /// a service such as `cos` (`UnsupportedOperation.NotUserCreatedCmk`).
    #[error("{message}")]
    PermissionDenied {
        /// The server's message.
        message: String,
        /// The Tencent error code, e.g. `UnsupportedOperation.NotUserCreatedCmk`.
        error_code: Option<String>,
    },
    /// `UNAUTHENTICATED` (`AuthFailure`): no credential, or one the server does not know (a wrong or
    /// revoked token, a client certificate no identity names). Another credential may succeed.
    #[error("{message}")]
    Unauthenticated {
        /// The server's message.
        message: String,
        /// The Tencent error code, normally `AuthFailure`.
        error_code: Option<String>,
    },
    /// `UNAVAILABLE`: the server cannot be reached or is shutting down. Idempotent calls were already
    /// retried before this is returned.
    #[error("KMS unavailable: {message}")]
    Unavailable {
        /// What the transport or the server said.
        message: String,
        /// The Tencent error code, if the server sent one.
        error_code: Option<String>,
    },
    /// The call did not finish within the configured request timeout (or the server answered
    /// `DEADLINE_EXCEEDED`).
    #[error("request timed out after {}", humanize(*.timeout))]
    Timeout {
        /// The timeout that expired.
        timeout: Duration,
    },
    /// `INTERNAL` (or `DATA_LOSS`, `UNKNOWN`): a server fault; details are in the server's log.
    #[error("KMS internal error: {message}")]
    Internal {
        /// The server's message.
        message: String,
        /// The Tencent error code, normally `InternalError`.
        error_code: Option<String>,
    },
    /// Any other gRPC status (e.g. `UNIMPLEMENTED`, `RESOURCE_EXHAUSTED`).
    #[error("KMS error ({code:?}): {message}")]
    Status {
        /// The gRPC status code.
        code: Code,
        /// The server's message.
        message: String,
        /// The Tencent error code, if the server sent one.
        error_code: Option<String>,
    },
    /// The connection could not be made (refused, DNS, TLS handshake, bad endpoint URL).
    #[error("cannot connect to {endpoint}: {message}")]
    Transport {
        /// The endpoint that was tried.
        endpoint: String,
        /// What went wrong, with its causes joined by `: `.
        message: String,
    },
    /// The client's configuration is unusable (e.g. the CA file cannot be read).
    #[error("{0}")]
    Config(String),
    /// A bearer token was configured for a plain `http://` endpoint that is not a loopback address:
    /// the token would cross the network in clear, so nothing is sent.
    #[error(
        "refusing to send a bearer token over plain http:// to {endpoint}: use https://, or a \
         loopback address (127.0.0.1, ::1, localhost)"
    )]
    TokenOverPlaintext {
        /// The endpoint URL.
        endpoint: String,
    },
    /// The server's answer broke the API contract (e.g. a missing `key_metadata`).
    #[error("unexpected response from the KMS: {0}")]
    Protocol(String),
}

impl Error {
    /// The Tencent KMS error code the server sent in `x-kms-error-code`, if any.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Error::NotFound { error_code, .. }
            | Error::InvalidArgument { error_code, .. }
            | Error::InvalidCiphertext { error_code }
            | Error::KeyStateConflict { error_code, .. }
            | Error::AliasExists { error_code, .. }
            | Error::PermissionDenied { error_code, .. }
            | Error::Unauthenticated { error_code, .. }
            | Error::Unavailable { error_code, .. }
            | Error::Internal { error_code, .. }
            | Error::Status { error_code, .. } => error_code.as_deref(),
            Error::Timeout { .. }
            | Error::Transport { .. }
            | Error::Config(_)
            | Error::TokenOverPlaintext { .. }
            | Error::Protocol(_) => None,
        }
    }

    /// The gRPC code this error stands for (`None` for errors raised on the client side).
    pub fn grpc_code(&self) -> Option<Code> {
        Some(match self {
            Error::NotFound { .. } => Code::NotFound,
            Error::InvalidArgument { .. } | Error::InvalidCiphertext { .. } => {
                Code::InvalidArgument
            }
            Error::KeyStateConflict { .. } => Code::FailedPrecondition,
            Error::AliasExists { .. } => Code::AlreadyExists,
            Error::PermissionDenied { .. } => Code::PermissionDenied,
            Error::Unauthenticated { .. } => Code::Unauthenticated,
            Error::Unavailable { .. } => Code::Unavailable,
            Error::Timeout { .. } => Code::DeadlineExceeded,
            Error::Internal { .. } => Code::Internal,
            Error::Status { code, .. } => *code,
            Error::Transport { .. }
            | Error::Config(_)
            | Error::TokenOverPlaintext { .. }
            | Error::Protocol(_) => return None,
        })
    }

    /// True when the server could not be reached or did not answer in time: trying again later
    /// may succeed.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            Error::Unavailable { .. } | Error::Timeout { .. } | Error::Transport { .. }
        )
    }

    /// Builds the error for a gRPC code, message and Tencent error code (also used for the per-item
    /// errors of the batch calls). A known Tencent code decides the variant; without one, the gRPC
    /// code does.
    pub(crate) fn from_parts(code: Code, message: String, error_code: Option<String>) -> Self {
        let known = error_code.as_deref().and_then(ErrorCode::from_code);
        if known == Some(ErrorCode::InvalidCiphertext) {
            return Error::InvalidCiphertext { error_code };
        }
        match known.and_then(class_of).unwrap_or(code) {
            Code::NotFound => Error::NotFound {
                message,
                error_code,
            },
            Code::InvalidArgument | Code::OutOfRange => Error::InvalidArgument {
                message,
                error_code,
            },
            Code::FailedPrecondition => Error::KeyStateConflict {
                message,
                error_code,
            },
            Code::AlreadyExists => Error::AliasExists {
                message,
                error_code,
            },
            Code::PermissionDenied => Error::PermissionDenied {
                message,
                error_code,
            },
            Code::Unauthenticated => Error::Unauthenticated {
                message,
                error_code,
            },
            Code::Unavailable => Error::Unavailable {
                message,
                error_code,
            },
            Code::Internal | Code::DataLoss | Code::Unknown => Error::Internal {
                message,
                error_code,
            },
            code => Error::Status {
                code,
                message,
                error_code,
            },
        }
    }

    /// Maps a status returned by a call. `timeout` is the request timeout in force, reported when
    /// the status says the deadline passed.
    pub(crate) fn from_status(status: tonic::Status, timeout: Duration) -> Self {
        let error_code = status
            .metadata()
            .get(ERROR_CODE_METADATA)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        match status.code() {
            Code::DeadlineExceeded => Error::Timeout { timeout },
            // tonic's own request timeout surfaces as CANCELLED "Timeout expired".
            Code::Cancelled if status.message().contains("Timeout expired") => {
                Error::Timeout { timeout }
            }
            Code::Unavailable | Code::Unknown
                if error_code.is_none() && std::error::Error::source(&status).is_some() =>
            {
                // A transport failure (connection refused, reset, ...): keep the causes.
                Error::Unavailable {
                    message: error_chain(&status),
                    error_code,
                }
            }
            code => Error::from_parts(code, status.message().to_owned(), error_code),
        }
    }

    /// Maps a connection failure.
    pub(crate) fn transport(endpoint: &str, err: &(dyn std::error::Error + 'static)) -> Self {
        Error::Transport {
            endpoint: endpoint.to_owned(),
            message: error_chain(err),
        }
    }
}

/// The gRPC code whose variant a Tencent error code belongs to (`None` for a code this client does
/// not know yet: the status's own gRPC code decides). [`ErrorCode::InvalidCiphertext`] has its own
/// variant and never gets here.
fn class_of(code: ErrorCode) -> Option<Code> {
    Some(match code {
        ErrorCode::CmkNotFound => Code::NotFound,
        ErrorCode::InvalidParameterValue
        | ErrorCode::InvalidCiphertext
        | ErrorCode::InvalidKeyUsage
        | ErrorCode::DecryptMaterialError
        | ErrorCode::MaterialNotMatch
        | ErrorCode::DuplicatedKeyId
        | ErrorCode::TagKeysDuplicated => Code::InvalidArgument,
        ErrorCode::AliasAlreadyExists => Code::AlreadyExists,
        ErrorCode::CmkDisabled
        | ErrorCode::CmkArchived
        | ErrorCode::CmkStateNotSupport
        | ErrorCode::CmkShouldBeDisabled
        | ErrorCode::CmkNotPendingDelete
        | ErrorCode::ExternalCmkCanNotRotate
        | ErrorCode::RotateNotSupported
        | ErrorCode::UnsupportedOperation
        | ErrorCode::NotExternalCmk
        | ErrorCode::TokenExpired => Code::FailedPrecondition,
        ErrorCode::NotUserCreatedCmk | ErrorCode::UnauthorizedOperation => Code::PermissionDenied,
        ErrorCode::AuthFailure => Code::Unauthenticated,
        ErrorCode::InternalError => Code::Internal,
        // The server's key store was locked past its bound: repeatable, like any UNAVAILABLE.
        ErrorCode::ServiceTemporaryUnavailable => Code::Unavailable,
        _ => return None,
    })
}

/// A context (or other shared rule) refused before sending: the client's own check, so no Tencent
/// error code.
impl From<kms_types::Error> for Error {
    fn from(e: kms_types::Error) -> Self {
        Error::InvalidArgument {
            message: e.to_string(),
            error_code: None,
        }
    }
}

/// Joins an error and its sources with `: `, dropping repeats (tonic and hyper often wrap an error
/// in one with the same text).
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// `1.5s`, `200ms`, `30s`.
pub(crate) fn humanize(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{}s", d.as_secs())
    } else if d.as_secs() == 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.3}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::metadata::MetadataValue;

    fn status(code: Code, msg: &str, tencent: Option<&'static str>) -> tonic::Status {
        let mut s = tonic::Status::new(code, msg);
        if let Some(t) = tencent {
            s.metadata_mut()
                .insert(ERROR_CODE_METADATA, MetadataValue::from_static(t));
        }
        s
    }

    #[test]
    fn maps_codes_and_keeps_message_and_error_code() {
        let t = Duration::from_secs(5);
        let e = Error::from_status(
            status(
                Code::FailedPrecondition,
                "key abc is Disabled",
                Some("ResourceUnavailable.CmkDisabled"),
            ),
            t,
        );
        assert!(matches!(e, Error::KeyStateConflict { .. }));
        assert_eq!(e.to_string(), "key abc is Disabled");
        assert_eq!(e.error_code(), Some("ResourceUnavailable.CmkDisabled"));
        assert_eq!(e.grpc_code(), Some(Code::FailedPrecondition));

        let e = Error::from_status(status(Code::NotFound, "key x not found", None), t);
        assert!(matches!(e, Error::NotFound { .. }));
        assert_eq!(e.error_code(), None);

        let e = Error::from_status(
            status(
                Code::InvalidArgument,
                "invalid ciphertext",
                Some("InvalidParameterValue.InvalidCiphertext"),
            ),
            t,
        );
        assert!(matches!(e, Error::InvalidCiphertext { .. }));
        assert_eq!(e.to_string(), "invalid ciphertext");
        assert_eq!(
            e.error_code(),
            Some("InvalidParameterValue.InvalidCiphertext")
        );

        let e = Error::from_status(status(Code::InvalidArgument, "alias: too long", None), t);
        assert!(matches!(e, Error::InvalidArgument { .. }));
        assert!(matches!(
            Error::from_status(status(Code::AlreadyExists, "alias taken", None), t),
            Error::AliasExists { .. }
        ));
        assert!(matches!(
            Error::from_status(status(Code::PermissionDenied, "owned by cos", None), t),
            Error::PermissionDenied { .. }
        ));
        let e = Error::from_status(
            status(Code::Unauthenticated, "no credential", Some("AuthFailure")),
            t,
        );
        assert!(matches!(e, Error::Unauthenticated { .. }), "{e:?}");
        assert_eq!(e.to_string(), "no credential");
        assert_eq!(e.grpc_code(), Some(Code::Unauthenticated));
        let e = Error::from_status(status(Code::Unauthenticated, "who are you", None), t);
        assert!(matches!(e, Error::Unauthenticated { .. }), "{e:?}");
        assert_eq!(e.error_code(), None);
        assert!(matches!(
            Error::from_status(status(Code::Unavailable, "shutting down", None), t),
            Error::Unavailable { .. }
        ));
        assert!(matches!(
            Error::from_status(status(Code::Internal, "internal error", None), t),
            Error::Internal { .. }
        ));
        assert!(matches!(
            Error::from_status(status(Code::Unimplemented, "no", None), t),
            Error::Status {
                code: Code::Unimplemented,
                ..
            }
        ));
        let e = Error::from_status(status(Code::DeadlineExceeded, "late", None), t);
        assert!(matches!(e, Error::Timeout { .. }));
        assert_eq!(e.to_string(), "request timed out after 5s");
        assert!(matches!(
            Error::from_status(status(Code::Cancelled, "Timeout expired", None), t),
            Error::Timeout { .. }
        ));
    }

    #[test]
    fn the_tencent_code_decides_the_variant() {
        let t = Duration::from_secs(5);
        // The gRPC code says nothing useful here: the metadata alone classifies.
        let classify = |code: ErrorCode| {
            let mut s = tonic::Status::new(Code::Aborted, "some text");
            s.metadata_mut().insert(
                ERROR_CODE_METADATA,
                MetadataValue::from_static(code.as_str()),
            );
            Error::from_status(s, t)
        };
        for code in ErrorCode::ALL {
            let e = classify(code);
            let expected = match code {
                ErrorCode::InvalidParameterValue
                | ErrorCode::InvalidKeyUsage
                | ErrorCode::DecryptMaterialError
                | ErrorCode::MaterialNotMatch
                | ErrorCode::DuplicatedKeyId
                | ErrorCode::TagKeysDuplicated => {
                    matches!(e, Error::InvalidArgument { .. })
                }
                ErrorCode::InvalidCiphertext => matches!(e, Error::InvalidCiphertext { .. }),
                ErrorCode::AliasAlreadyExists => matches!(e, Error::AliasExists { .. }),
                ErrorCode::CmkNotFound => matches!(e, Error::NotFound { .. }),
                ErrorCode::CmkDisabled
                | ErrorCode::CmkArchived
                | ErrorCode::CmkStateNotSupport
                | ErrorCode::CmkShouldBeDisabled
                | ErrorCode::CmkNotPendingDelete
                | ErrorCode::ExternalCmkCanNotRotate
                | ErrorCode::RotateNotSupported
                | ErrorCode::UnsupportedOperation
                | ErrorCode::NotExternalCmk
                | ErrorCode::TokenExpired => {
                    matches!(e, Error::KeyStateConflict { .. })
                }
                ErrorCode::NotUserCreatedCmk | ErrorCode::UnauthorizedOperation => {
                    matches!(e, Error::PermissionDenied { .. })
                }
                ErrorCode::AuthFailure => matches!(e, Error::Unauthenticated { .. }),
                ErrorCode::InternalError => matches!(e, Error::Internal { .. }),
                ErrorCode::ServiceTemporaryUnavailable => matches!(e, Error::Unavailable { .. }),
                _ => panic!("a new code needs a row here: {code}"),
            };
            assert!(expected, "{code} became {e:?}");
            assert_eq!(e.error_code(), Some(code.as_str()));
        }
    }

    #[test]
    fn the_message_text_does_not_classify() {
        let t = Duration::from_secs(5);
        // The server's invalid-ciphertext text without its code is a plain invalid argument ...
        let e = Error::from_status(
            status(Code::InvalidArgument, INVALID_CIPHERTEXT_MESSAGE, None),
            t,
        );
        assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
        assert_eq!(e.to_string(), "invalid ciphertext");
        // ... and the code with any text is the opaque variant.
        let e = Error::from_status(
            status(
                Code::InvalidArgument,
                "the blob does not open",
                Some("InvalidParameterValue.InvalidCiphertext"),
            ),
            t,
        );
        assert!(matches!(e, Error::InvalidCiphertext { .. }), "{e:?}");
        assert_eq!(e.to_string(), INVALID_CIPHERTEXT_MESSAGE);
    }

    #[test]
    fn an_unknown_code_falls_back_to_the_grpc_code_and_is_kept() {
        let e = Error::from_status(
            status(
                Code::FailedPrecondition,
                "key k is Frozen",
                Some("ResourceUnavailable.CmkFrozen"),
            ),
            Duration::from_secs(5),
        );
        assert!(matches!(e, Error::KeyStateConflict { .. }), "{e:?}");
        assert_eq!(e.error_code(), Some("ResourceUnavailable.CmkFrozen"));
    }

    #[test]
    fn humanize_durations() {
        assert_eq!(humanize(Duration::from_secs(30)), "30s");
        assert_eq!(humanize(Duration::from_millis(200)), "200ms");
        assert_eq!(humanize(Duration::from_millis(1500)), "1.500s");
    }

    #[test]
    fn error_chain_drops_repeats() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "transport error")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Outer(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        ));
        assert_eq!(error_chain(&e), "transport error: connection refused");
    }
}
