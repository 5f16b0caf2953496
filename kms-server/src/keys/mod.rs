//! The key model: states and what each allows ([`KeyState::next`]), metadata, owners and origins,
//! and the rules on the fields a caller chooses (alias, description). The rules live here, with the
//! types they check, so every path that names a key (the API, a seed document) checks it the same
//! way.

mod state;

use uuid::Uuid;

pub use state::{KeyAction, KeyState, Refusal};

/// The only key usage of a symmetric CMK.
pub const KEY_USAGE: &str = "ENCRYPT_DECRYPT";
/// Owner of keys created through the API.
pub const OWNER_USER: &str = "user";
/// Owner of the service keys COS uses.
pub const OWNER_COS: &str = "cos";
/// Origin of keys whose material this KMS generated.
pub const ORIGIN_KMS: &str = "TENCENT_KMS";
/// Origin of keys whose material was given (by a seed file).
pub const ORIGIN_EXTERNAL: &str = "EXTERNAL";
/// Prefix of aliases reserved for service-owned keys.
pub const RESERVED_ALIAS_PREFIX: &str = "kms-";
/// Longest alias.
pub const MAX_ALIAS_LEN: usize = 60;
/// Longest description, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 1024;
/// The prefix a caller may put before an alias where a key name is expected (`alias/orders`).
pub const ALIAS_PREFIX: &str = "alias/";

/// Everything the API says about a key. Times are unix seconds; 0 is "not set".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyMetadata {
    /// The key id.
    pub key_id: Uuid,
    /// The alias (bare, without `alias/`).
    pub alias: String,
    /// Free text, at most [`MAX_DESCRIPTION_BYTES`] bytes.
    pub description: String,
    /// Lifecycle state.
    pub state: KeyState,
    /// Always [`KEY_USAGE`].
    pub key_usage: String,
    /// [`OWNER_USER`] or the owning service.
    pub owner: String,
    /// [`ORIGIN_KMS`] or [`ORIGIN_EXTERNAL`].
    pub origin: String,
    /// When the key was created.
    pub create_time: i64,
    /// When a PendingDelete key is deleted.
    pub deletion_date: i64,
    /// Whether automatic rotation is on.
    pub rotation_enabled: bool,
    /// Rotation period in days when rotation is on.
    pub rotate_days: u32,
    /// When the last version was added by a rotation.
    pub last_rotate_time: i64,
    /// When the next automatic rotation is due.
    pub next_rotate_time: i64,
    /// The newest key version; new ciphertexts use it.
    pub current_key_version: u32,
}

impl KeyMetadata {
    /// Whether a service, not a user, owns the key.
    pub fn is_service_key(&self) -> bool {
        self.owner != OWNER_USER
    }
}

/// A key field that breaks its rule; the text names the rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidField(String);

/// `name` without a leading [`ALIAS_PREFIX`].
pub fn bare_alias(name: &str) -> &str {
    name.strip_prefix(ALIAS_PREFIX).unwrap_or(name)
}

/// Checks an alias: 1..=[`MAX_ALIAS_LEN`] chars of `[A-Za-z0-9_-]`, first a letter or digit, not
/// a UUID, and (for users) not under [`RESERVED_ALIAS_PREFIX`].
pub fn validate_alias(alias: &str, service: bool) -> Result<(), InvalidField> {
    if alias.is_empty() || alias.len() > MAX_ALIAS_LEN {
        return Err(InvalidField(format!(
            "alias must be 1..={MAX_ALIAS_LEN} characters, got {}",
            alias.chars().count()
        )));
    }
    if !alias
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(InvalidField(
            "alias may only contain letters, digits, '_' and '-'".to_owned(),
        ));
    }
    if !alias.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(InvalidField(
            "alias must start with a letter or a digit".to_owned(),
        ));
    }
    if Uuid::parse_str(alias).is_ok() {
        return Err(InvalidField(
            "alias must not look like a key id (UUID)".to_owned(),
        ));
    }
    if !service && alias.starts_with(RESERVED_ALIAS_PREFIX) {
        return Err(InvalidField(format!(
            "alias prefix {RESERVED_ALIAS_PREFIX:?} is reserved for service keys"
        )));
    }
    Ok(())
}

/// Checks a description: at most [`MAX_DESCRIPTION_BYTES`] bytes.
pub fn validate_description(description: &str) -> Result<(), InvalidField> {
    if description.len() > MAX_DESCRIPTION_BYTES {
        return Err(InvalidField(format!(
            "description must be at most {MAX_DESCRIPTION_BYTES} bytes, got {}",
            description.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_rules() {
        let max = "a".repeat(MAX_ALIAS_LEN);
        for ok in ["a", "0x", "orders_2024-eu", max.as_str()] {
            assert_eq!(validate_alias(ok, false), Ok(()), "{ok}");
        }
        let too_long = "a".repeat(MAX_ALIAS_LEN + 1);
        let cases = [
            ("", "alias must be 1..=60 characters, got 0"),
            (too_long.as_str(), "alias must be 1..=60 characters, got 61"),
            ("a b", "alias may only contain letters, digits, '_' and '-'"),
            ("-a", "alias must start with a letter or a digit"),
            (
                "0f8e4c2a-6b1d-4e3f-9a7b-5c6d7e8f9a0b",
                "alias must not look like a key id (UUID)",
            ),
            (
                "kms-mine",
                "alias prefix \"kms-\" is reserved for service keys",
            ),
        ];
        for (alias, rule) in cases {
            assert_eq!(
                validate_alias(alias, false).unwrap_err().to_string(),
                rule,
                "{alias}"
            );
        }
        assert_eq!(validate_alias("kms-cos", true), Ok(()));
        assert_eq!(bare_alias("alias/orders"), "orders");
        assert_eq!(bare_alias("orders"), "orders");
    }

    #[test]
    fn description_rule() {
        assert_eq!(
            validate_description(&"d".repeat(MAX_DESCRIPTION_BYTES)),
            Ok(())
        );
        assert_eq!(
            validate_description(&"d".repeat(MAX_DESCRIPTION_BYTES + 1))
                .unwrap_err()
                .to_string(),
            "description must be at most 1024 bytes, got 1025"
        );
    }
}
