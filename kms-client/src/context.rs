//! Encryption contexts on the client side.
//!
//! The API takes an encryption context as a string: base64 (standard alphabet) of a JSON object whose
//! values are strings, exactly what the COS header `x-cos-server-side-encryption-context` carries.
//! An empty string means "no context". These helpers build and check that string before it is sent,
//! with the server's own rules ([`kms_types::EncryptionContext`]), so a context that passes here is
//! not refused there. The server decides equality (member order does not matter, case does).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kms_types::EncryptionContext;

use crate::error::Result;

pub use kms_types::MAX_CONTEXT_JSON_BYTES;

/// Builds the base64 context string from key/value pairs: a JSON object (members sorted by name),
/// then base64. No pairs gives the empty string ("no context").
///
/// Fails when a name repeats or the JSON is longer than [`MAX_CONTEXT_JSON_BYTES`].
///
/// ```
/// let ctx = kms_client::encryption_context([("bucket", "photos"), ("object", "cat.jpg")]).unwrap();
/// assert_eq!(ctx, "eyJidWNrZXQiOiJwaG90b3MiLCJvYmplY3QiOiJjYXQuanBnIn0=");
/// ```
pub fn encryption_context<I, K, V>(pairs: I) -> Result<String>
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<String>,
    V: Into<String>,
{
    Ok(EncryptionContext::try_from_pairs(pairs)?.to_base64())
}

/// Builds the base64 context string from JSON text such as `{"bucket":"photos"}` (kept byte for
/// byte, so the server sees exactly what was written). The text must be a JSON object of strings
/// with no repeated name. `{}` and the empty string give the empty string.
pub fn encryption_context_from_json(json: &str) -> Result<String> {
    let json = json.trim();
    if json.is_empty() || EncryptionContext::from_json(json.as_bytes())?.is_empty() {
        return Ok(String::new());
    }
    Ok(STANDARD.encode(json))
}

/// Decodes a base64 context string into its members (padding optional). The empty string gives
/// an empty map.
pub fn decode_encryption_context(b64: &str) -> Result<BTreeMap<String, String>> {
    Ok(EncryptionContext::from_base64(b64.trim())?.into_map())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    fn message(r: Result<impl std::fmt::Debug>) -> String {
        match r {
            Err(Error::InvalidArgument {
                message,
                error_code: None,
            }) => message,
            other => panic!("expected a client-side InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn pairs_to_base64_json() {
        let ctx = encryption_context([("b", "2"), ("a", "1")]).unwrap();
        assert_eq!(STANDARD.decode(&ctx).unwrap(), br#"{"a":"1","b":"2"}"#);
        let back = decode_encryption_context(&ctx).unwrap();
        assert_eq!(back.get("a").map(String::as_str), Some("1"));
        assert_eq!(back.len(), 2);
    }

    #[test]
    fn empty_means_no_context() {
        let none: [(&str, &str); 0] = [];
        assert_eq!(encryption_context(none).unwrap(), "");
        assert_eq!(encryption_context_from_json("{}").unwrap(), "");
        assert_eq!(encryption_context_from_json("  ").unwrap(), "");
        assert!(decode_encryption_context("").unwrap().is_empty());
        assert!(decode_encryption_context(" ").unwrap().is_empty());
    }

    #[test]
    fn repeated_name_is_refused() {
        assert_eq!(
            message(encryption_context([("a", "1"), ("a", "2")])),
            "encryption context: the name \"a\" appears twice"
        );
        assert_eq!(
            message(encryption_context_from_json(r#"{"a":"1","a":"2"}"#)),
            "encryption context: the name \"a\" appears twice"
        );
    }

    #[test]
    fn json_is_kept_verbatim() {
        let ctx = encryption_context_from_json(r#"{"z":"1", "a":"2"}"#).unwrap();
        assert_eq!(STANDARD.decode(ctx).unwrap(), br#"{"z":"1", "a":"2"}"#);
    }

    #[test]
    fn non_object_or_non_string_values_are_refused() {
        for (bad, why) in [
            (r#"["a"]"#, "encryption context: the JSON is not an object"),
            (
                r#"{"a":1}"#,
                "encryption context: the value of \"a\" is not a string",
            ),
            (
                r#"{"a":{"b":"c"}}"#,
                "encryption context: the value of \"a\" is not a string",
            ),
            ("not json", "encryption context is not valid JSON"),
            (r#""s""#, "encryption context: the JSON is not an object"),
        ] {
            assert_eq!(message(encryption_context_from_json(bad)), why, "{bad}");
        }
    }

    #[test]
    fn too_long_is_refused() {
        let long = "x".repeat(MAX_CONTEXT_JSON_BYTES);
        assert_eq!(
            message(encryption_context([("k", long.as_str())])),
            "encryption context is longer than 1024 bytes"
        );
        assert!(encryption_context([("k", "x".repeat(1000))]).is_ok());
        let json = format!(r#"{{"k":"{long}"}}"#);
        assert_eq!(
            message(encryption_context_from_json(&json)),
            "encryption context is longer than 1024 bytes"
        );
    }

    #[test]
    fn decode_accepts_missing_padding_and_refuses_garbage() {
        let ctx = encryption_context([("a", "1")]).unwrap();
        let unpadded = ctx.trim_end_matches('=');
        assert_eq!(decode_encryption_context(unpadded).unwrap().len(), 1);
        assert_eq!(
            message(decode_encryption_context("!!!")),
            "encryption context is not valid base64 (standard alphabet)"
        );
    }
}
