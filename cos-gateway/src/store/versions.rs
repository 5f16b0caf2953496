//! Object versions: a bucket's versioning state, the version ids, and the one rule every catalog
//! follows when a write or a delete lands on a key (what is kept, what is replaced).
//!
//! Apart from the catalogs because the rule must be the same for each of them, and apart from the
//! operations because it decides which body files stop being named (and so are removed).
//!
//! # Model
//!
//! A key has at most one *current* row (the `objects` row the operations have always read: the
//! latest version when it is an object) and a history of *noncurrent* entries, newest first,
//! each an object version or a delete marker. When the latest version is a delete marker, the key
//! has no current row and the marker heads the history. So a bucket never versioned has no history
//! at all, and every read of the current object (GET, HEAD, listings, tagging, ACLs) is unchanged.
//!
//! A version written while versioning was never enabled, or while it is suspended, has the id
//! `null` (stored as `None`); a suspended bucket's new write replaces the key's `null` version,
//! wherever it is in the history, and removes its body.

use crate::error::{Error, Result};

use super::Object;

/// The version id of an object written while versioning was off or suspended.
pub const NULL_VERSION: &str = "null";

/// A bucket's versioning state (`PUT /?versioning`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Versioning {
    /// Never enabled: no history, no version ids.
    #[default]
    Unversioned,
    /// Every write gets a fresh version id; deletes leave delete markers.
    Enabled,
    /// Writes get the id `null` (replacing the key's `null` version); history is kept.
    Suspended,
}

impl Versioning {
    /// The COS `<Status>` (none for a bucket never versioned).
    pub fn status(self) -> Option<&'static str> {
        match self {
            Self::Unversioned => None,
            Self::Enabled => Some("Enabled"),
            Self::Suspended => Some("Suspended"),
        }
    }

    /// A stored or requested `<Status>`: `Enabled` or `Suspended` exactly (COS is case-sensitive).
    pub fn from_status(s: &str) -> Option<Self> {
        match s {
            "Enabled" => Some(Self::Enabled),
            "Suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
}

/// A fresh version id: 128 random bits (a v4 UUID's 122 and its fixed bits) as 32 lowercase hex
/// digits. Unguessable, unique, URL-safe, and never [`NULL_VERSION`].
pub fn fresh_version_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Checks a `versionId` from a request: [`NULL_VERSION`] or an id as [`fresh_version_id`] makes.
/// Anything else cannot name a version: `InvalidArgument`, as COS (and S3) answer.
pub fn check_version_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::InvalidArgument(
            "Version id cannot be the empty string".into(),
        ));
    }
    let ours = id.len() == 32 && id.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    if id == NULL_VERSION || ours {
        Ok(())
    } else {
        Err(Error::InvalidArgument(
            "Invalid version id specified".into(),
        ))
    }
}

/// A stored version id as shown (`None`: [`NULL_VERSION`]).
pub fn shown(id: Option<&str>) -> &str {
    id.unwrap_or(NULL_VERSION)
}

/// One entry of a key's history.
// Entries live for one request or one listing page; boxing the object would only add an
// allocation per row read.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Entry {
    /// An object version (its `version_id` is in the row).
    Object(Object),
    /// A delete marker.
    DeleteMarker {
        /// Its id (`None`: `null`).
        version_id: Option<String>,
        /// When it was written (unix seconds).
        modified: i64,
    },
}

impl Entry {
    /// The entry's version id (`None`: `null`).
    pub fn version_id(&self) -> Option<&str> {
        match self {
            Self::Object(o) => o.version_id.as_deref(),
            Self::DeleteMarker { version_id, .. } => version_id.as_deref(),
        }
    }

    /// Whether its id is `wanted` (a checked request id, `null` included).
    pub fn is(&self, wanted: &str) -> bool {
        shown(self.version_id()) == wanted
    }

    /// The body files it names (none for a marker).
    pub fn files(&self) -> Vec<String> {
        match self {
            Self::Object(o) => o.files.clone(),
            Self::DeleteMarker { .. } => Vec::new(),
        }
    }
}

/// One line of a versions listing.
#[derive(Clone, Debug)]
pub struct Version {
    /// The object key.
    pub key: String,
    /// Whether it is the key's latest version.
    pub latest: bool,
    /// The version (an object's envelope and files are left out).
    pub entry: Entry,
}

/// What a delete did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deleted {
    /// The version id to answer with (`x-cos-version-id`): the marker written, or the version
    /// removed; `None` in a bucket never versioned.
    pub version_id: Option<String>,
    /// Whether that version is a delete marker (`x-cos-delete-marker: true`).
    pub marker: bool,
}

/// What a write (an object or a delete marker) does to a key, by the bucket's state at the write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WritePlan {
    /// The new version's id (`None`: `null`).
    pub id: Option<String>,
    /// Remove the key's `null` version (current or noncurrent) and its body.
    pub drop_null: bool,
    /// Move the current row into the history (else it is replaced and its body removed).
    pub archive: bool,
    /// The version id to answer with.
    pub answer: Option<String>,
}

impl WritePlan {
    /// The plan of a write to a bucket in `state`.
    pub(crate) fn new(state: Versioning) -> Self {
        match state {
            Versioning::Unversioned => Self {
                id: None,
                drop_null: true,
                archive: false,
                answer: None,
            },
            Versioning::Enabled => {
                let id = fresh_version_id();
                Self {
                    id: Some(id.clone()),
                    drop_null: false,
                    archive: true,
                    answer: Some(id),
                }
            }
            Versioning::Suspended => Self {
                id: None,
                drop_null: true,
                archive: true,
                answer: Some(NULL_VERSION.to_owned()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ids_are_fresh_hex_and_checked() {
        let a = fresh_version_id();
        assert_ne!(a, fresh_version_id());
        check_version_id(&a).unwrap();
        check_version_id(NULL_VERSION).unwrap();
        for bad in [
            "",
            "NULL",
            "x",
            &a[..31],
            &format!("{a}0"),
            &a.to_uppercase(),
            "../../etc",
        ] {
            let e = check_version_id(bad).unwrap_err();
            assert_eq!((e.code(), e.status().as_u16()), ("InvalidArgument", 400));
        }
    }

    #[test]
    fn statuses() {
        assert_eq!(Versioning::Unversioned.status(), None);
        for s in [Versioning::Enabled, Versioning::Suspended] {
            assert_eq!(Versioning::from_status(s.status().unwrap()), Some(s));
        }
        assert_eq!(Versioning::from_status("enabled"), None);
        assert_eq!(Versioning::from_status("Disabled"), None);
    }
}
