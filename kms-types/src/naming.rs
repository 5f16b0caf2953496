//! Key naming rules: which aliases and descriptions a key may have, and how a key reference
//! (a key id, `alias/<name>` or a bare alias) is read.
//!
//! An alias never parses as a UUID, so a reference is unambiguous: a UUID is a key id, anything
//! else is an alias.

use uuid::Uuid;

use crate::error::{Error, Result};

/// The prefix a key reference may put before an alias (`alias/photos`).
pub const ALIAS_PREFIX: &str = "alias/";
/// Alias of the default CMK that COS uses for `cos/kms` when a request names no key.
pub const DEFAULT_KEY_ALIAS: &str = "kms-cos";
/// Alias of the hidden service key behind SSE-COS (`AES256`).
pub const SSE_COS_KEY_ALIAS: &str = "kms-cos-sse";
pub use crate::limits::{MAX_ALIAS_LEN, MAX_DESCRIPTION_BYTES, RESERVED_ALIAS_PREFIX};

/// What a key reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRef<'a> {
    /// A key id.
    Id(Uuid),
    /// An alias, without [`ALIAS_PREFIX`] (not checked against the alias rules: a lookup of an
    /// alias that cannot exist simply finds nothing).
    Alias(&'a str),
}

impl<'a> KeyRef<'a> {
    /// Reads a key reference: a UUID is a key id; `alias/<name>` and a bare `<name>` are aliases.
    pub fn parse(reference: &'a str) -> Result<Self> {
        if reference.is_empty() {
            return Err(Error::KeyIdRequired);
        }
        Ok(match Uuid::parse_str(reference) {
            Ok(id) => KeyRef::Id(id),
            Err(_) => KeyRef::Alias(bare_alias(reference)),
        })
    }
}

/// The alias without its optional [`ALIAS_PREFIX`]: `alias/photos` and `photos` are both `photos`.
pub fn bare_alias(alias: &str) -> &str {
    alias.strip_prefix(ALIAS_PREFIX).unwrap_or(alias)
}

/// Checks a user's alias (bare, see [`bare_alias`]): 1..=[`MAX_ALIAS_LEN`] characters of
/// `[A-Za-z0-9_-]`, first a letter or digit, not a UUID, not under [`RESERVED_ALIAS_PREFIX`].
pub fn validate_alias(alias: &str) -> Result<()> {
    validate_alias_syntax(alias)?;
    if alias.starts_with(RESERVED_ALIAS_PREFIX) {
        return Err(Error::AliasReserved);
    }
    Ok(())
}

/// Checks a service key's alias: the rules of [`validate_alias`] but for the reserved prefix,
/// which service aliases use.
pub fn validate_service_alias(alias: &str) -> Result<()> {
    validate_alias_syntax(alias)
}

fn validate_alias_syntax(alias: &str) -> Result<()> {
    if alias.is_empty() || alias.len() > MAX_ALIAS_LEN {
        return Err(Error::AliasLength {
            chars: alias.chars().count(),
        });
    }
    if !alias
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(Error::AliasCharacters);
    }
    if !alias.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(Error::AliasStart);
    }
    if Uuid::parse_str(alias).is_ok() {
        return Err(Error::AliasLooksLikeKeyId);
    }
    Ok(())
}

/// Checks a key's description: at most [`MAX_DESCRIPTION_BYTES`] bytes.
pub fn validate_description(description: &str) -> Result<()> {
    if description.len() > MAX_DESCRIPTION_BYTES {
        return Err(Error::DescriptionTooLong {
            bytes: description.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0f8e4c2a-6b1d-4e3f-9a7b-5c6d7e8f9a0b";

    #[test]
    fn references_are_ids_or_aliases() {
        let id = Uuid::parse_str(ID).unwrap();
        assert_eq!(KeyRef::parse(ID), Ok(KeyRef::Id(id)));
        assert_eq!(KeyRef::parse("alias/photos"), Ok(KeyRef::Alias("photos")));
        assert_eq!(KeyRef::parse("photos"), Ok(KeyRef::Alias("photos")));
        // Only the one prefix is taken off; what remains is looked up as is.
        assert_eq!(KeyRef::parse("alias/alias/x"), Ok(KeyRef::Alias("alias/x")));
        assert_eq!(KeyRef::parse(""), Err(Error::KeyIdRequired));
        assert_eq!(
            Error::KeyIdRequired.to_string(),
            "key_id is required",
            "the server sends this message"
        );
    }

    #[test]
    fn bare_alias_strips_one_prefix() {
        assert_eq!(bare_alias("alias/hot"), "hot");
        assert_eq!(bare_alias("hot"), "hot");
        assert_eq!(bare_alias("Alias/hot"), "Alias/hot");
    }

    #[test]
    fn good_aliases_pass() {
        for ok in [
            "a",
            "photos",
            "Photos_2024-x",
            "9lives",
            &"x".repeat(MAX_ALIAS_LEN),
        ] {
            assert_eq!(validate_alias(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn each_alias_rule_has_its_message() {
        let cases = [
            ("", "alias must be 1..=60 characters, got 0"),
            (
                &"x".repeat(MAX_ALIAS_LEN + 1) as &str,
                "alias must be 1..=60 characters, got 61",
            ),
            ("a b", "alias may only contain letters, digits, '_' and '-'"),
            (
                "alias/x",
                "alias may only contain letters, digits, '_' and '-'",
            ),
            ("é", "alias may only contain letters, digits, '_' and '-'"),
            ("-a", "alias must start with a letter or a digit"),
            ("_a", "alias must start with a letter or a digit"),
            (ID, "alias must not look like a key id (UUID)"),
            (
                "kms-x",
                "alias prefix \"kms-\" is reserved for service keys",
            ),
        ];
        for (alias, message) in cases {
            let e = validate_alias(alias).unwrap_err();
            assert_eq!(e.to_string(), message, "{alias:?}");
            assert_eq!(e.code(), crate::ErrorCode::InvalidParameterValue);
        }
    }

    #[test]
    fn service_aliases_may_use_the_reserved_prefix() {
        for alias in [DEFAULT_KEY_ALIAS, SSE_COS_KEY_ALIAS] {
            assert!(alias.starts_with(RESERVED_ALIAS_PREFIX));
            assert_eq!(validate_service_alias(alias), Ok(()));
            assert_eq!(validate_alias(alias), Err(Error::AliasReserved));
        }
        assert_eq!(validate_service_alias(ID), Err(Error::AliasLooksLikeKeyId));
    }

    #[test]
    fn descriptions_are_bounded() {
        assert_eq!(validate_description(""), Ok(()));
        assert_eq!(
            validate_description(&"d".repeat(MAX_DESCRIPTION_BYTES)),
            Ok(())
        );
        let e = validate_description(&"d".repeat(MAX_DESCRIPTION_BYTES + 1)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "description must be at most 1024 bytes, got 1025"
        );
    }
}
