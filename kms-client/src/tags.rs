//! Tags: what CreateKey attaches to a key (fixed for its life) and ListKeys filters on.

use kms_proto::pb;

/// A key's tag (Tencent `TagKey`, `TagValue`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag {
    /// The tag key: 1..127 characters.
    pub key: String,
    /// Its value: 0..255 characters.
    pub value: String,
}

impl Tag {
    /// A tag.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }

    pub(crate) fn into_pb(self) -> pb::Tag {
        pb::Tag {
            key: self.key,
            value: self.value,
        }
    }
}

impl From<pb::Tag> for Tag {
    fn from(t: pb::Tag) -> Self {
        Tag {
            key: t.key,
            value: t.value,
        }
    }
}

/// A ListKeys filter (Tencent `TagFilter`): keys with the tag `key` set to one of `values` (any
/// value when `values` is empty). Several filters must all match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagFilter {
    /// The tag key.
    pub key: String,
    /// The values accepted.
    pub values: Vec<String>,
}

impl TagFilter {
    /// A filter on `key` accepting `values`.
    pub fn new<V: Into<String>>(
        key: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        TagFilter {
            key: key.into(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }

    pub(crate) fn to_pb(&self) -> pb::TagFilter {
        pb::TagFilter {
            key: self.key.clone(),
            values: self.values.clone(),
        }
    }
}
