//! Tags: key-value labels a key gets at creation (Tencent CreateKey's `Tags`) and listings filter
//! on (ListKeyDetail's `TagFilters`). The rules are Tencent Cloud's tag rules, checked here once
//! for both front ends; a key's tags never change after creation, so they are not among the
//! fields a conditional write compares.

use std::collections::HashSet;

/// Most tags one key carries.
pub const MAX_TAGS: usize = 50;
/// Longest tag key, in characters.
pub const MAX_TAG_KEY_CHARS: usize = 127;
/// Longest tag value, in characters.
pub const MAX_TAG_VALUE_CHARS: usize = 255;
/// Tag key prefixes Tencent Cloud keeps for itself (compared without case).
pub const RESERVED_TAG_PREFIXES: [&str; 3] = ["qcloud", "tencent", "project"];

/// One tag.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag {
    /// The tag key.
    pub key: String,
    /// Its value (may be empty).
    pub value: String,
}

/// A listing filter: keys that have the tag `key` with one of `values` (any value if empty).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TagFilter {
    /// The tag key.
    pub key: String,
    /// The values accepted.
    pub values: Vec<String>,
}

/// Why a list of tags is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    /// A tag key appears twice (Tencent `InvalidParameterValue.TagKeysDuplicated`).
    #[error("tag key {0:?} is given twice")]
    Duplicated(String),
    /// Any other rule; the text names it.
    #[error("{0}")]
    Invalid(String),
}

fn allowed(c: char) -> bool {
    c.is_alphanumeric() || " +-=._:/@".contains(c)
}

fn check_text(what: &str, text: &str, min: usize, max: usize) -> Result<(), TagError> {
    let n = text.chars().count();
    if n < min || n > max {
        return Err(TagError::Invalid(format!(
            "{what} must be {min}..={max} characters, got {n}"
        )));
    }
    if let Some(c) = text.chars().find(|&c| !allowed(c)) {
        return Err(TagError::Invalid(format!(
            "{what} {text:?} has {c:?}: only letters, digits, spaces and + - = . _ : / @ are allowed"
        )));
    }
    Ok(())
}

/// Checks a key's tags and returns them sorted by key.
pub fn validate_tags(mut tags: Vec<Tag>) -> Result<Vec<Tag>, TagError> {
    if tags.len() > MAX_TAGS {
        return Err(TagError::Invalid(format!(
            "a key may have at most {MAX_TAGS} tags, got {}",
            tags.len()
        )));
    }
    let mut seen = HashSet::with_capacity(tags.len());
    for t in &tags {
        check_text("tag key", &t.key, 1, MAX_TAG_KEY_CHARS)?;
        let lower = t.key.to_lowercase();
        if let Some(p) = RESERVED_TAG_PREFIXES.iter().find(|p| lower.starts_with(*p)) {
            return Err(TagError::Invalid(format!(
                "tag key {:?}: the prefix {p:?} is reserved by Tencent Cloud",
                t.key
            )));
        }
        check_text("tag value", &t.value, 0, MAX_TAG_VALUE_CHARS)?;
        if !seen.insert(t.key.as_str()) {
            return Err(TagError::Duplicated(t.key.clone()));
        }
    }
    tags.sort();
    Ok(tags)
}

/// Checks listing filters: at most [`MAX_TAGS`], each with a non-empty key.
pub fn validate_filters(filters: &[TagFilter]) -> Result<(), TagError> {
    if filters.len() > MAX_TAGS {
        return Err(TagError::Invalid(format!(
            "at most {MAX_TAGS} tag filters, got {}",
            filters.len()
        )));
    }
    if filters.iter().any(|f| f.key.is_empty()) {
        return Err(TagError::Invalid("a tag filter needs a tag key".to_owned()));
    }
    Ok(())
}

/// Whether `tags` pass every filter.
pub fn matches(tags: &[Tag], filters: &[TagFilter]) -> bool {
    filters.iter().all(|f| {
        tags.iter()
            .any(|t| t.key == f.key && (f.values.is_empty() || f.values.contains(&t.value)))
    })
}

/// Tags as the stores keep them: a JSON array of `[key, value]` pairs.
pub fn to_json(tags: &[Tag]) -> String {
    let pairs: Vec<[&str; 2]> = tags
        .iter()
        .map(|t| [t.key.as_str(), t.value.as_str()])
        .collect();
    serde_json::to_string(&pairs).expect("a list of string pairs always serializes")
}

/// Reads [`to_json`]'s form back.
pub fn from_json(text: &str) -> Result<Vec<Tag>, serde_json::Error> {
    let pairs: Vec<[String; 2]> = serde_json::from_str(text)?;
    Ok(pairs
        .into_iter()
        .map(|[key, value]| Tag { key, value })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(k: &str, v: &str) -> Tag {
        Tag {
            key: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn rules() {
        let ok = validate_tags(vec![
            tag("team", "pay"),
            tag("env", ""),
            tag("a b:c", "x@y/z"),
        ]);
        assert_eq!(
            ok.unwrap(),
            vec![tag("a b:c", "x@y/z"), tag("env", ""), tag("team", "pay")]
        );
        let cases = [
            (
                vec![tag("", "v")],
                TagError::Invalid("tag key must be 1..=127 characters, got 0".into()),
            ),
            (
                vec![tag(&"k".repeat(128), "v")],
                TagError::Invalid("tag key must be 1..=127 characters, got 128".into()),
            ),
            (
                vec![tag("k", &"v".repeat(256))],
                TagError::Invalid("tag value must be 0..=255 characters, got 256".into()),
            ),
            (
                vec![tag("k!", "v")],
                TagError::Invalid(
                    "tag key \"k!\" has '!': only letters, digits, spaces and + - = . _ : / @ are allowed"
                        .into(),
                ),
            ),
            (
                vec![tag("QCloud-x", "v")],
                TagError::Invalid(
                    "tag key \"QCloud-x\": the prefix \"qcloud\" is reserved by Tencent Cloud".into(),
                ),
            ),
            (
                vec![tag("tencent-x", "v")],
                TagError::Invalid(
                    "tag key \"tencent-x\": the prefix \"tencent\" is reserved by Tencent Cloud"
                        .into(),
                ),
            ),
            (
                vec![tag("Project", "v")],
                TagError::Invalid(
                    "tag key \"Project\": the prefix \"project\" is reserved by Tencent Cloud"
                        .into(),
                ),
            ),
            (
                vec![tag("k", "1"), tag("k", "2")],
                TagError::Duplicated("k".into()),
            ),
            (
                (0..51).map(|i| tag(&format!("k{i}"), "v")).collect(),
                TagError::Invalid("a key may have at most 50 tags, got 51".into()),
            ),
        ];
        for (tags, want) in cases {
            assert_eq!(validate_tags(tags.clone()).unwrap_err(), want, "{tags:?}");
        }
        // Lengths are characters, not bytes.
        assert!(validate_tags(vec![tag(&"键".repeat(127), &"值".repeat(255))]).is_ok());
    }

    #[test]
    fn filters_match_a_key_with_one_of_the_values_and_all_filters() {
        let tags = vec![tag("env", "prod"), tag("team", "pay")];
        let f = |k: &str, v: &[&str]| TagFilter {
            key: k.into(),
            values: v.iter().map(|s| (*s).to_owned()).collect(),
        };
        assert!(matches(&tags, &[]));
        assert!(matches(&tags, &[f("env", &["dev", "prod"])]));
        assert!(matches(&tags, &[f("env", &[])]));
        assert!(matches(&tags, &[f("env", &["prod"]), f("team", &["pay"])]));
        assert!(!matches(&tags, &[f("env", &["prod"]), f("team", &["ops"])]));
        assert!(!matches(&tags, &[f("owner", &[])]));
        assert!(!matches(&[], &[f("env", &["prod"])]));
        assert_eq!(
            validate_filters(&[f("", &["x"])]).unwrap_err(),
            TagError::Invalid("a tag filter needs a tag key".into())
        );
    }

    #[test]
    fn stored_form_round_trips() {
        let tags = vec![tag("a", ""), tag("键", "值 \"q\"")];
        let text = to_json(&tags);
        assert_eq!(text, r#"[["a",""],["键","值 \"q\""]]"#);
        assert_eq!(from_json(&text).unwrap(), tags);
        assert_eq!(from_json("[]").unwrap(), vec![]);
    }
}
