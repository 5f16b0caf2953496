//! Encryption contexts.
//!
//! The API takes an encryption context as a string: base64 (standard alphabet) of a JSON object whose
//! values are strings, exactly what the COS header `x-cos-server-side-encryption-context` carries.
//! An empty string means "no context". These helpers build and check that string on the client side;
//! the server decides equality (semantic: member order does not matter, case does).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

use crate::error::{Error, Result};

/// Largest decoded context the server accepts, in bytes.
pub const MAX_CONTEXT_JSON_BYTES: usize = 1024;

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
    let mut map = BTreeMap::new();
    for (k, v) in pairs {
        let k = k.into();
        if map.insert(k.clone(), v.into()).is_some() {
            return Err(invalid(format!("encryption context: name {k:?} repeats")));
        }
    }
    if map.is_empty() {
        return Ok(String::new());
    }
    let json =
        serde_json::to_string(&map).map_err(|e| invalid(format!("encryption context: {e}")))?;
    check_len(&json)?;
    Ok(STANDARD.encode(json))
}

/// Builds the base64 context string from JSON text such as `{"bucket":"photos"}` (kept byte for
/// byte, so the server sees exactly what was written). The text must be a JSON object of strings
/// with no repeated name. `{}` and the empty string give the empty string.
pub fn encryption_context_from_json(json: &str) -> Result<String> {
    let json = json.trim();
    if json.is_empty() {
        return Ok(String::new());
    }
    let map = parse_object(json)?;
    if map.is_empty() {
        return Ok(String::new());
    }
    check_len(json)?;
    Ok(STANDARD.encode(json))
}

/// Decodes a base64 context string into its members (padding optional). The empty string gives
/// an empty map.
pub fn decode_encryption_context(b64: &str) -> Result<BTreeMap<String, String>> {
    let b64 = b64.trim();
    if b64.is_empty() {
        return Ok(BTreeMap::new());
    }
    let bytes = STANDARD
        .decode(b64)
        .or_else(|_| STANDARD_NO_PAD.decode(b64.trim_end_matches('=')))
        .map_err(|_| invalid("encryption context: not valid base64".to_owned()))?;
    let json = String::from_utf8(bytes)
        .map_err(|_| invalid("encryption context: not UTF-8 JSON".to_owned()))?;
    check_len(&json)?;
    parse_object(&json)
}

fn parse_object(json: &str) -> Result<BTreeMap<String, String>> {
    // Deserialize member by member so a repeated name is caught (serde_json's map keeps the last).
    struct Members(BTreeMap<String, String>);
    impl<'de> serde::Deserialize<'de> for Members {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Members;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a JSON object whose values are strings")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut access: A,
                ) -> std::result::Result<Members, A::Error> {
                    let mut map = BTreeMap::new();
                    while let Some((k, v)) = access.next_entry::<String, String>()? {
                        if map.contains_key(&k) {
                            return Err(serde::de::Error::custom(format!("name {k:?} repeats")));
                        }
                        map.insert(k, v);
                    }
                    Ok(Members(map))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_str::<Members>(json)
        .map(|m| m.0)
        .map_err(|e| invalid(format!("encryption context: {e}")))
}

fn check_len(json: &str) -> Result<()> {
    if json.len() > MAX_CONTEXT_JSON_BYTES {
        return Err(invalid(format!(
            "encryption context: {} bytes of JSON, at most {MAX_CONTEXT_JSON_BYTES}",
            json.len()
        )));
    }
    Ok(())
}

fn invalid(message: String) -> Error {
    Error::InvalidArgument {
        message,
        error_code: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn repeated_name_is_refused() {
        assert!(encryption_context([("a", "1"), ("a", "2")]).is_err());
        let e = encryption_context_from_json(r#"{"a":"1","a":"2"}"#).unwrap_err();
        assert!(e.to_string().contains("repeats"), "{e}");
    }

    #[test]
    fn json_is_kept_verbatim() {
        let ctx = encryption_context_from_json(r#"{"z":"1", "a":"2"}"#).unwrap();
        assert_eq!(STANDARD.decode(ctx).unwrap(), br#"{"z":"1", "a":"2"}"#);
    }

    #[test]
    fn non_object_or_non_string_values_are_refused() {
        for bad in [
            r#"["a"]"#,
            r#"{"a":1}"#,
            r#"{"a":{"b":"c"}}"#,
            "not json",
            r#""s""#,
        ] {
            assert!(encryption_context_from_json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn too_long_is_refused() {
        let long = "x".repeat(MAX_CONTEXT_JSON_BYTES);
        assert!(encryption_context([("k", long.as_str())]).is_err());
        assert!(encryption_context([("k", "x".repeat(1000))]).is_ok());
    }

    #[test]
    fn decode_accepts_missing_padding_and_refuses_garbage() {
        let ctx = encryption_context([("a", "1")]).unwrap();
        let unpadded = ctx.trim_end_matches('=');
        assert_eq!(decode_encryption_context(unpadded).unwrap().len(), 1);
        assert!(decode_encryption_context("!!!").is_err());
    }
}
