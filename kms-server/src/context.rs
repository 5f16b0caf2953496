//! The encryption context: base64 of a JSON object whose values are strings, exactly what the COS
//! header `x-cos-server-side-encryption-context` carries.
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

/// Most bytes the decoded JSON may have.
pub const MAX_CONTEXT_JSON_BYTES: usize = 1024;

/// Standard alphabet; accepts input with or without `=` padding (clients differ).
const B64_LENIENT: GeneralPurpose = GeneralPurpose::new(
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
        if b64.len() > MAX_CONTEXT_JSON_BYTES.div_ceil(3) * 4 {
            return Err(too_long());
        }
        let json = B64_LENIENT.decode(b64.trim()).map_err(|_| {
            Error::invalid("encryption context is not valid base64 (standard alphabet)")
        })?;
        Self::from_json(&json)
    }

    /// Parses the decoded JSON text.
    pub fn from_json(json: &[u8]) -> Result<Self> {
        if json.len() > MAX_CONTEXT_JSON_BYTES {
            return Err(too_long());
        }
        let mut de = serde_json::Deserializer::from_slice(json);
        let map = de
            .deserialize_any(ContextVisitor)
            .and_then(|m| de.end().map(|()| m))
            .map_err(|e| {
                let msg = e.to_string();
                // Our own rule violations come through serde as custom messages.
                if let Some(rule) = msg.strip_prefix(RULE_PREFIX) {
                    let rule = rule.split(" at line").next().unwrap_or(rule);
                    Error::invalid(format!("encryption context: {rule}"))
                } else {
                    Error::invalid("encryption context is not valid JSON")
                }
            })?;
        Ok(Self(map))
    }

    /// Builds a context from pairs (names must be distinct; later pairs win).
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

    /// True when there is no pair.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pairs, sorted by name.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The wire form: base64 of compact JSON with sorted names (`""` when empty).
    pub fn to_base64(&self) -> String {
        if self.is_empty() {
            return String::new();
        }
        let json = serde_json::to_vec(&self.0).expect("a map of strings always serialises");
        base64::engine::general_purpose::STANDARD.encode(json)
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
    // Contexts are at most 1024 bytes, so every length fits.
    u32::try_from(n)
        .expect("context lengths are bounded by MAX_CONTEXT_JSON_BYTES")
        .to_be_bytes()
}

fn too_long() -> Error {
    Error::invalid(format!(
        "encryption context is longer than {MAX_CONTEXT_JSON_BYTES} bytes"
    ))
}

const RULE_PREFIX: &str = "rule: ";

struct ContextVisitor;

impl<'de> Visitor<'de> for ContextVisitor {
    type Value = BTreeMap<String, String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value::<serde_json::Value>()?;
            let serde_json::Value::String(value) = value else {
                return Err(de::Error::custom(format!(
                    "{RULE_PREFIX}the value of \"{name}\" is not a string"
                )));
            };
            if out.insert(name.clone(), value).is_some() {
                return Err(de::Error::custom(format!(
                    "{RULE_PREFIX}the name \"{name}\" appears twice"
                )));
            }
        }
        Ok(out)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(not_object())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Err(not_object())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(not_object())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(not_object())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(not_object())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(not_object())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(not_object())
    }
}

fn not_object<E: de::Error>() -> E {
    E::custom(format!("{RULE_PREFIX}the JSON is not an object"))
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
            Err(Error::InvalidArgument(m)) => m,
            other => panic!("expected InvalidArgument, got {other:?}"),
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
