//! The key model: states and what each allows ([`KeyState::next`]), usages ([`KeyUsage`]),
//! metadata, owners and origins, and the rules on the fields a caller chooses (alias,
//! description). The rules live here, with the types they check, so every path that names a key
//! (the API, a seed document) checks it the same way.

mod state;
pub mod tags;
mod usage;

use uuid::Uuid;

pub use state::{KeyAction, KeyState, Refusal};
pub use tags::{Tag, TagFilter};
pub use usage::{KeySpec, KeyUsage};
/// Owner of keys created through the API.
pub const OWNER_USER: &str = "user";
/// Owner of the service keys COS uses.
pub const OWNER_COS: &str = "cos";
/// Origin of keys whose material this KMS generated.
pub const ORIGIN_KMS: &str = "TENCENT_KMS";
/// Origin of keys whose material was given (by a seed file).
pub const ORIGIN_EXTERNAL: &str = "EXTERNAL";
// The naming rules are shared with the client and the adapter: one definition, in kms-types.
pub use kms_types::naming::{
    ALIAS_PREFIX, MAX_ALIAS_LEN, MAX_DESCRIPTION_BYTES, RESERVED_ALIAS_PREFIX, bare_alias,
    validate_description,
};

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
    /// What the key is for; fixed at creation.
    pub key_usage: KeyUsage,
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
    /// The newest key version; new ciphertexts use it (0: an EXTERNAL key without material).
    pub current_key_version: u32,
    /// When imported material expires (EXTERNAL keys; 0: never, or no material).
    pub valid_to: i64,
    /// The tags given at creation, sorted by key; fixed for the key's life.
    pub tags: Vec<Tag>,
}

impl KeyMetadata {
    /// Whether a service, not a user, owns the key.
    pub fn is_service_key(&self) -> bool {
        self.owner != OWNER_USER
    }
}

/// A key field that breaks its rule; the text names the rule.
pub type InvalidField = kms_types::Error;

/// Checks an alias with kms-types' rules: 1..=[`MAX_ALIAS_LEN`] chars of `[A-Za-z0-9_-]`, first a
/// letter or digit, not a UUID, and (unless `service`) not under [`RESERVED_ALIAS_PREFIX`].
pub fn validate_alias(alias: &str, service: bool) -> Result<(), InvalidField> {
    if service {
        kms_types::naming::validate_service_alias(alias)
    } else {
        kms_types::naming::validate_alias(alias)
    }
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
