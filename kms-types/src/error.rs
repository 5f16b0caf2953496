//! The one error type of the shared rules: every variant is a request field that breaks a rule,
//! and its message names the rule (the server sends it to the client as is).

use crate::{
    error_code::ErrorCode,
    limits::{MAX_ALIAS_LEN, MAX_CONTEXT_JSON_BYTES, MAX_DESCRIPTION_BYTES, RESERVED_ALIAS_PREFIX},
};

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A broken rule of the encryption context or of key naming.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The context is not base64 of the standard alphabet (padding optional).
    #[error("encryption context is not valid base64 (standard alphabet)")]
    ContextNotBase64,
    /// The decoded context is not JSON (or has text after the value).
    #[error("encryption context is not valid JSON")]
    ContextNotJson,
    /// The context is JSON, but not an object.
    #[error("encryption context: the JSON is not an object")]
    ContextNotObject,
    /// A member's value is not a string.
    #[error("encryption context: the value of \"{name}\" is not a string")]
    ContextValueNotString {
        /// The member's name (names are not secret; values may be).
        name: String,
    },
    /// A name appears more than once.
    #[error("encryption context: the name \"{name}\" appears twice")]
    ContextNameRepeated {
        /// The repeated name.
        name: String,
    },
    /// The JSON is longer than [`MAX_CONTEXT_JSON_BYTES`].
    #[error("encryption context is longer than {MAX_CONTEXT_JSON_BYTES} bytes")]
    ContextTooLong,
    /// An alias is empty or longer than [`MAX_ALIAS_LEN`].
    #[error("alias must be 1..={MAX_ALIAS_LEN} characters, got {chars}")]
    AliasLength {
        /// Characters in the alias given.
        chars: usize,
    },
    /// An alias has a character outside `[A-Za-z0-9_-]`.
    #[error("alias may only contain letters, digits, '_' and '-'")]
    AliasCharacters,
    /// An alias starts with `_` or `-`.
    #[error("alias must start with a letter or a digit")]
    AliasStart,
    /// An alias parses as a UUID, so it could not be told apart from a key id.
    #[error("alias must not look like a key id (UUID)")]
    AliasLooksLikeKeyId,
    /// A user alias starts with [`RESERVED_ALIAS_PREFIX`].
    #[error("alias prefix {RESERVED_ALIAS_PREFIX:?} is reserved for service keys")]
    AliasReserved,
    /// A description is longer than [`MAX_DESCRIPTION_BYTES`].
    #[error("description must be at most {MAX_DESCRIPTION_BYTES} bytes, got {bytes}")]
    DescriptionTooLong {
        /// Bytes in the description given.
        bytes: usize,
    },
    /// A key reference is empty.
    #[error("key_id is required")]
    KeyIdRequired,
}

impl Error {
    /// The Tencent KMS error code of this refusal: every broken rule here is a bad parameter.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::InvalidParameterValue
    }
}
