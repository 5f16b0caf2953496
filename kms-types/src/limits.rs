//! The numbers and prefixes the rules enforce, apart from the rules themselves, so the error
//! messages that quote them ([`crate::Error`]) and the checks that apply them ([`crate::context`],
//! [`crate::naming`]) both depend on this module and not on each other.

/// Most bytes the decoded encryption-context JSON may have.
pub const MAX_CONTEXT_JSON_BYTES: usize = 1024;

/// Longest base64 text that can decode to at most [`MAX_CONTEXT_JSON_BYTES`] (padded form).
pub const MAX_CONTEXT_BASE64_BYTES: usize = MAX_CONTEXT_JSON_BYTES.div_ceil(3) * 4;

/// Prefix of aliases reserved for service-owned keys.
pub const RESERVED_ALIAS_PREFIX: &str = "kms-";

/// Longest alias.
pub const MAX_ALIAS_LEN: usize = 60;

/// Longest description, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 1024;
