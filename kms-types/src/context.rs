//! The encryption context: base64 of a JSON object whose values are strings, exactly what the COS
//! header `x-cos-server-side-encryption-context` carries and what the KMS API takes.
//!
//! One parser for the server (which binds the context into blobs), the client (which builds and
//! checks it before sending) and the storage adapter (which checks the COS header), so the three
//! cannot disagree about which contexts are valid.
//!
//! Two contexts are equal when they hold the same name/value pairs: member order does not matter,
//! case does. What is bound into a blob's AAD is [`EncryptionContext::canonical`], a length-prefixed
//! encoding of the sorted pairs, so no two different contexts encode alike (`{"ab":"c"}` and
//! `{"a":"bc"}` differ) and no JSON formatting choice changes the AAD.

use std::{collections::BTreeMap, fmt};

use base64::{
    Engine as _, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::error::{Error, Result};

pub use crate::limits::{MAX_CONTEXT_BASE64_BYTES, MAX_CONTEXT_JSON_BYTES};

/// Standard alphabet; accepts input with or without `=` padding (clients differ, and people
/// type these values: the COS SDK samples print an SSE-C key without its final `=`). Whatever
/// takes a base64 value a person may type decodes it with this engine.
pub const B64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A parsed encryption context. Empty means "no context".
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    /// The empty context.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parses the wire form. `""` (and `{}`) is the empty context.
    pub fn from_base64(b64: &str) -> Result<Self> {
        if b64.is_empty() {
            return Ok(Self::empty());
        }
        // A base64 text longer than this cannot decode to an allowed size; refuse before decoding.
        if b64.len() > MAX_CONTEXT_BASE64_BYTES {
            return Err(Error::ContextTooLong);
        }
        let json = B64_LENIENT
            .decode(b64.trim())
            .map_err(|_| Error::ContextNotBase64)?;
        Self::from_json(&json)
    }

    /// Parses the decoded JSON text.
    pub fn from_json(json: &[u8]) -> Result<Self> {
        if json.len() > MAX_CONTEXT_JSON_BYTES {
            return Err(Error::ContextTooLong);
        }
        let mut broken_rule = None;
        let mut de = serde_json::Deserializer::from_slice(json);
        let parsed = de
            .deserialize_any(ContextVisitor {
                broken_rule: &mut broken_rule,
            })
            .and_then(|m| de.end().map(|()| m));
        match (parsed, broken_rule) {
            (Ok(map), _) => Ok(Self(map)),
            // Our own rules surface through serde as an error; the visitor kept which one broke.
            (Err(_), Some(rule)) => Err(rule),
            (Err(_), None) => Err(Error::ContextNotJson),
        }
    }

    /// Builds a context from pairs (later pairs win over earlier ones with the same name).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// Builds a context from pairs, refusing a repeated name and a context whose wire JSON
    /// ([`EncryptionContext::to_json`]) is longer than [`MAX_CONTEXT_JSON_BYTES`].
    pub fn try_from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self> {
        let mut map = BTreeMap::new();
        for (name, value) in pairs {
            let name = name.into();
            if map.contains_key(&name) {
                return Err(Error::ContextNameRepeated { name });
            }
            map.insert(name, value.into());
        }
        let context = Self(map);
        if context.to_json().len() > MAX_CONTEXT_JSON_BYTES {
            return Err(Error::ContextTooLong);
        }
        Ok(context)
    }

    /// True when there is no pair.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The pairs, sorted by name.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The pairs as a map, sorted by name.
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// The pairs as a map, sorted by name.
    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }

    /// Compact JSON with sorted names (`{}` when empty).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.0).expect("a map of strings always serialises")
    }

    /// The wire form: base64 of [`EncryptionContext::to_json`] (`""` when empty).
    pub fn to_base64(&self) -> String {
        if self.is_empty() {
            return String::new();
        }
        base64::engine::general_purpose::STANDARD.encode(self.to_json())
    }

    /// The canonical encoding bound into the AAD:
    /// `be32(count) || for each pair sorted by name: be32(len name) name be32(len value) value`.
    pub fn canonical(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.canonical_len());
        self.write_canonical(&mut out);
        out
    }

    /// Length of [`EncryptionContext::canonical`].
    pub fn canonical_len(&self) -> usize {
        4 + self
            .0
            .iter()
            .map(|(k, v)| 8 + k.len() + v.len())
            .sum::<usize>()
    }

    /// Appends [`EncryptionContext::canonical`] to `out`.
    pub fn write_canonical(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&len32(self.0.len()));
        for (k, v) in &self.0 {
            out.extend_from_slice(&len32(k.len()));
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(&len32(v.len()));
            out.extend_from_slice(v.as_bytes());
        }
    }
}

/// Values are secrets of the caller's choosing: only the names are shown.
impl fmt::Debug for EncryptionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

fn len32(n: usize) -> [u8; 4] {
    // A context that came off the wire is at most 1024 bytes; one built from pairs in memory would
    // need a 4 GiB name or value to overflow.
    u32::try_from(n)
        .expect("context names, values and counts are far below 4 GiB")
        .to_be_bytes()
}

/// Reads a JSON object of strings; a broken rule is kept in `broken_rule` (serde's error type
/// can only carry text) and reported as such by [`EncryptionContext::from_json`].
struct ContextVisitor<'a> {
    broken_rule: &'a mut Option<Error>,
}

impl ContextVisitor<'_> {
    fn refuse<E: de::Error>(self, rule: Error) -> E {
        let e = E::custom(&rule);
        *self.broken_rule = Some(rule);
        e
    }
}

impl<'de> Visitor<'de> for ContextVisitor<'_> {
    type Value = BTreeMap<String, String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value::<serde_json::Value>()?;
            let serde_json::Value::String(value) = value else {
                return Err(self.refuse(Error::ContextValueNotString { name }));
            };
            if out.contains_key(&name) {
                return Err(self.refuse(Error::ContextNameRepeated { name }));
            }
            out.insert(name, value);
        }
        Ok(out)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(self.refuse(Error::ContextNotObject))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Err(self.refuse(Error::ContextNotObject))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(self.refuse(Error::ContextNotObject))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(self.refuse(Error::ContextNotObject))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(self.refuse(Error::ContextNotObject))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(self.refuse(Error::ContextNotObject))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(self.refuse(Error::ContextNotObject))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
    use proptest::prelude::*;

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    fn msg(r: Result<EncryptionContext>) -> String {
        match r {
            Err(e) => e.to_string(),
            Ok(c) => panic!("expected a refusal, got {c:?}"),
        }
    }

    #[test]
    fn empty_and_empty_object_are_no_context() {
        assert!(EncryptionContext::from_base64("").unwrap().is_empty());
        assert!(
            EncryptionContext::from_base64(&b64("{}"))
                .unwrap()
                .is_empty()
        );
        assert!(
            EncryptionContext::from_base64(&b64(" { } "))
                .unwrap()
                .is_empty()
        );
        assert_eq!(EncryptionContext::empty().to_base64(), "");
        assert_eq!(EncryptionContext::empty().to_json(), b"{}");
    }

    #[test]
    fn order_does_not_matter_case_does() {
        let a = EncryptionContext::from_base64(&b64(r#"{"a":"1","b":"2"}"#)).unwrap();
        let b = EncryptionContext::from_base64(&b64(r#"{ "b": "2", "a": "1" }"#)).unwrap();
        let c = EncryptionContext::from_base64(&b64(r#"{"A":"1","b":"2"}"#)).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.canonical(), b.canonical());
        assert_ne!(a.canonical(), c.canonical());
    }

    #[test]
    fn length_prefix_separates_boundaries() {
        let a = EncryptionContext::from_pairs([("ab", "c")]);
        let b = EncryptionContext::from_pairs([("a", "bc")]);
        assert_ne!(a.canonical(), b.canonical());
    }

    #[test]
    fn canonical_vector() {
        let c = EncryptionContext::from_pairs([("b", "2"), ("a", "xy")]);
        assert_eq!(
            hex::encode(c.canonical()),
            "00000002\
             0000000161000000027879\
             000000016200000001 32"
                .replace(' ', "")
        );
        assert_eq!(c.canonical_len(), c.canonical().len());
    }

    #[test]
    fn wire_form_is_sorted_compact_json() {
        let c = EncryptionContext::from_pairs([("b", "2"), ("a", "1")]);
        assert_eq!(c.to_json(), br#"{"a":"1","b":"2"}"#);
        assert_eq!(c.to_base64(), "eyJhIjoiMSIsImIiOiIyIn0=");
        assert_eq!(c.len(), 2);
        assert_eq!(c.as_map().get("a").map(String::as_str), Some("1"));
    }

    #[test]
    fn padding_optional() {
        let json = r#"{"a":"bc"}"#;
        let padded = STANDARD.encode(json);
        let bare = STANDARD_NO_PAD.encode(json);
        assert_ne!(padded, bare);
        assert_eq!(
            EncryptionContext::from_base64(&padded).unwrap(),
            EncryptionContext::from_base64(&bare).unwrap()
        );
    }

    #[test]
    fn each_rule_has_its_message() {
        assert_eq!(
            msg(EncryptionContext::from_base64("not base64!")),
            "encryption context is not valid base64 (standard alphabet)"
        );
        assert_eq!(
            msg(EncryptionContext::from_base64(&b64("{"))),
            "encryption context is not valid JSON"
        );
        assert_eq!(
            msg(EncryptionContext::from_base64(&b64("[1]"))),
            "encryption context: the JSON is not an object"
        );
        assert_eq!(
            msg(EncryptionContext::from_base64(&b64("\"s\""))),
            "encryption context: the JSON is not an object"
        );
        assert_eq!(
            msg(EncryptionContext::from_base64(&b64(r#"{"a":1}"#))),
            "encryption context: the value of \"a\" is not a string"
        );
        assert_eq!(
            msg(EncryptionContext::from_base64(&b64(r#"{"a":"1","a":"2"}"#))),
            "encryption context: the name \"a\" appears twice"
        );
        assert_eq!(
            msg(EncryptionContext::from_base64(&b64(r#"{"a":"1"} x"#))),
            "encryption context is not valid JSON"
        );
        let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_CONTEXT_JSON_BYTES));
        assert_eq!(
            msg(EncryptionContext::from_base64(&b64(&big))),
            "encryption context is longer than 1024 bytes"
        );
        let exact = format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_CONTEXT_JSON_BYTES - 8));
        assert_eq!(exact.len(), MAX_CONTEXT_JSON_BYTES);
        assert!(EncryptionContext::from_base64(&b64(&exact)).is_ok());
    }

    #[test]
    fn each_rule_has_its_variant() {
        assert_eq!(
            EncryptionContext::from_base64("%%%"),
            Err(Error::ContextNotBase64)
        );
        assert_eq!(
            EncryptionContext::from_json(b"null"),
            Err(Error::ContextNotObject)
        );
        assert_eq!(
            EncryptionContext::from_json(b"{\"a\":\"1\""),
            Err(Error::ContextNotJson)
        );
        // A rule broken before the JSON ends is reported as that rule, not as bad JSON.
        assert_eq!(
            EncryptionContext::from_json(br#"{"n":{"x":"y"},"#),
            Err(Error::ContextValueNotString { name: "n".into() })
        );
        assert_eq!(
            EncryptionContext::from_json(&[0xff, 0xfe]),
            Err(Error::ContextNotJson)
        );
        // Base64 longer than any allowed JSON is refused before decoding.
        let long = "A".repeat(MAX_CONTEXT_BASE64_BYTES + 1);
        assert_eq!(
            EncryptionContext::from_base64(&long),
            Err(Error::ContextTooLong)
        );
        assert!(
            Error::ContextTooLong.code() == crate::ErrorCode::InvalidParameterValue,
            "every context rule is a bad parameter"
        );
    }

    #[test]
    fn pairs_are_checked_for_repeats_and_size() {
        assert_eq!(
            EncryptionContext::try_from_pairs([("a", "1"), ("a", "2")]),
            Err(Error::ContextNameRepeated { name: "a".into() })
        );
        // {"k":"..."} is 8 bytes of JSON around the value.
        let fits = "x".repeat(MAX_CONTEXT_JSON_BYTES - 8);
        let c = EncryptionContext::try_from_pairs([("k", fits.as_str())]).unwrap();
        assert_eq!(c.to_json().len(), MAX_CONTEXT_JSON_BYTES);
        let over = "x".repeat(MAX_CONTEXT_JSON_BYTES - 7);
        assert_eq!(
            EncryptionContext::try_from_pairs([("k", over.as_str())]),
            Err(Error::ContextTooLong)
        );
        let none: [(&str, &str); 0] = [];
        assert!(EncryptionContext::try_from_pairs(none).unwrap().is_empty());
    }

    #[test]
    fn debug_hides_values() {
        let c = EncryptionContext::from_pairs([("bucket", "secret-value")]);
        let d = format!("{c:?}");
        assert!(d.contains("bucket") && !d.contains("secret-value"));
    }

    proptest! {
        #[test]
        fn wire_round_trip(pairs in proptest::collection::btree_map(".{0,8}", ".{0,8}", 0..8)) {
            let c = EncryptionContext::from_pairs(pairs.clone());
            let back = EncryptionContext::from_base64(&c.to_base64()).unwrap();
            prop_assert_eq!(&back, &c);
            prop_assert_eq!(back.canonical(), c.canonical());
            prop_assert_eq!(back.into_map(), pairs);
        }

        #[test]
        fn canonical_is_injective(
            a in proptest::collection::btree_map("[a-c]{0,3}", "[a-c]{0,3}", 0..4),
            b in proptest::collection::btree_map("[a-c]{0,3}", "[a-c]{0,3}", 0..4),
        ) {
            let (ca, cb) = (EncryptionContext::from_pairs(a.clone()), EncryptionContext::from_pairs(b.clone()));
            prop_assert_eq!(a == b, ca.canonical() == cb.canonical());
        }
    }
}
