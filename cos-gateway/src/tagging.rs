//! Object tags: the COS `Tagging` document (PUT/GET Object tagging) and the `x-cos-tagging`
//! header, read into [`Tags`] and checked against COS's limits.
//!
//! The limits are COS's documented ones: at most [`MAX_TAGS`] tags an object, a key of 1 to
//! [`MAX_KEY_CHARS`] characters, a value of 0 to [`MAX_VALUE_CHARS`], letters, digits, spaces and
//! `+ - = . _ : / @` only, keys unique. Every refusal is `400 InvalidTag`: COS names no code per
//! limit (S3's `BadRequest` for too many tags is not used; a guess). A document that does not
//! parse is `MalformedXML`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::Tags;

/// The most tags one object may have.
pub const MAX_TAGS: usize = 10;

/// The longest tag key, in characters.
pub const MAX_KEY_CHARS: usize = 128;

/// The longest tag value, in characters.
pub const MAX_VALUE_CHARS: usize = 256;

/// The most bytes a `Tagging` document may have (ten tags at their longest, escaped, fit).
pub const MAX_TAGGING_XML: usize = 64 << 10;

/// The response header naming how many tags an object has (GET/HEAD Object).
pub const TAGGING_COUNT: &str = "x-cos-tagging-count";

/// The `Tagging` document, read and written.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Tagging {
    /// The tags.
    #[serde(rename = "TagSet", default)]
    pub tag_set: TagSet,
}

/// `<TagSet>`: the tags.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct TagSet {
    /// One element per tag.
    #[serde(rename = "Tag", default)]
    pub tags: Vec<Tag>,
}

/// `<Tag>`: one key and value.
#[derive(Debug, Deserialize, Serialize)]
pub struct Tag {
    /// The key.
    #[serde(rename = "Key")]
    pub key: String,
    /// The value (an empty element is the empty value).
    #[serde(rename = "Value", default)]
    pub value: String,
}

impl Tagging {
    /// The document of `tags`.
    pub fn of(tags: &Tags) -> Self {
        Self {
            tag_set: TagSet {
                tags: tags
                    .iter()
                    .map(|(key, value)| Tag {
                        key: key.clone(),
                        value: value.clone(),
                    })
                    .collect(),
            },
        }
    }
}

/// Reads a PUT Object tagging body: `MalformedXML` unless it is a `Tagging` document, then the
/// limits ([`check`]).
pub fn parse_document(bytes: &[u8]) -> Result<Tags> {
    let doc: Tagging = crate::documents::from_xml(bytes, "Tagging")?;
    check(
        doc.tag_set
            .tags
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect(),
    )
}

/// Reads the `x-cos-tagging` header (`k1=v1&k2=v2`, each part percent-encoded as in a query
/// string), then the limits ([`check`]). An empty header is no tags.
pub fn parse_header(value: &str) -> Result<Tags> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| Error::InvalidTag("x-cos-tagging is not UTF-8".into()))
    };
    let mut tags = Tags::new();
    for pair in value.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        tags.push((decode(k)?, decode(v)?));
    }
    check(tags)
}

/// Checks `tags` against the limits of the module docs.
pub fn check(tags: Tags) -> Result<Tags> {
    if tags.len() > MAX_TAGS {
        return Err(Error::InvalidTag(format!(
            "an object may have at most {MAX_TAGS} tags"
        )));
    }
    let allowed = |s: &str| {
        s.chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || "+-=._:/@".contains(c))
    };
    for (i, (k, v)) in tags.iter().enumerate() {
        if !(1..=MAX_KEY_CHARS).contains(&k.chars().count()) {
            return Err(Error::InvalidTag(format!(
                "a tag key is 1 to {MAX_KEY_CHARS} characters"
            )));
        }
        if v.chars().count() > MAX_VALUE_CHARS {
            return Err(Error::InvalidTag(format!(
                "a tag value is at most {MAX_VALUE_CHARS} characters"
            )));
        }
        if !allowed(k) || !allowed(v) {
            return Err(Error::InvalidTag(
                "tags may have letters, digits, spaces and + - = . _ : / @ only".into(),
            ));
        }
        if tags[..i].iter().any(|(seen, _)| seen == k) {
            return Err(Error::InvalidTag("a tag key is given twice".into()));
        }
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: Result<Tags>) -> &'static str {
        r.unwrap_err().code()
    }

    fn pairs(list: &[(&str, &str)]) -> Tags {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn document_round_trip_bytes() {
        let tags = pairs(&[("a", "1"), ("b c", "")]);
        let xml = crate::documents::to_xml("Tagging", &Tagging::of(&tags)).unwrap();
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b c</Key><Value/></Tag></TagSet></Tagging>"
        );
        assert_eq!(parse_document(xml.as_bytes()).unwrap(), tags);
        let empty = crate::documents::to_xml("Tagging", &Tagging::of(&Tags::new())).unwrap();
        assert_eq!(parse_document(empty.as_bytes()).unwrap(), Tags::new());
        let v = b"<Tagging><TagSet><Tag><Key>k</Key><Value/></Tag></TagSet></Tagging>";
        assert_eq!(parse_document(v).unwrap(), pairs(&[("k", "")]));
    }

    #[test]
    fn bad_documents_are_malformed() {
        for bad in [
            &b"<Nope><TagSet/></Nope>"[..],
            b"<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>",
            b"<Tagging><TagSet>",
            b"",
        ] {
            assert_eq!(
                code(parse_document(bad)),
                "MalformedXML",
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn limits() {
        let ten: Vec<(String, String)> = (0..10).map(|i| (format!("k{i}"), "v".into())).collect();
        check(ten.clone()).unwrap();
        let mut eleven = ten;
        eleven.push(("k10".into(), "v".into()));
        assert_eq!(code(check(eleven)), "InvalidTag");
        check(pairs(&[(&"k".repeat(128), &"v".repeat(256))])).unwrap();
        check(pairs(&[("标签", "值 +-=._:/@")])).unwrap();
        for bad in [
            pairs(&[("", "v")]),
            pairs(&[(&"k".repeat(129), "v")]),
            pairs(&[("k", &"v".repeat(257))]),
            pairs(&[("k<", "v")]),
            pairs(&[("k", "v&")]),
            pairs(&[("k", "1"), ("k", "2")]),
        ] {
            assert_eq!(code(check(bad.clone())), "InvalidTag", "{bad:?}");
        }
    }

    #[test]
    fn header() {
        assert_eq!(
            parse_header("a=1&b%20c=x%2Fy&d=").unwrap(),
            pairs(&[("a", "1"), ("b c", "x/y"), ("d", "")])
        );
        assert_eq!(parse_header("").unwrap(), Tags::new());
        assert_eq!(code(parse_header("a=1&a=2")), "InvalidTag");
        assert_eq!(code(parse_header("a=%FF")), "InvalidTag");
    }
}
