//! COS storage classes (`x-cos-storage-class`).
//!
//! The gateway keeps every object's body on the same disk whatever its class: the class is a
//! label stored beside the object, shown on HEAD/GET and in listings, and it decides whether a GET
//! needs a restore first (ARCHIVE and DEEP_ARCHIVE, see [`StorageClass::needs_restore`]).
//!
//! Choices:
//! * An unknown class is `400 InvalidArgument` (a guess: COS documents no code for it; S3 says
//!   `InvalidStorageClass`, COS's error table has no such code).
//! * HEAD and GET omit `x-cos-storage-class` for STANDARD objects, as COS and S3 do, and send it
//!   for every other class.
//! * PUT Object - Copy without the header makes a STANDARD object: COS says the destination does
//!   not inherit the source's class (`docs/cos-kms-spec.md` §1.3, copy rules), as in S3.

use http::HeaderMap;

use crate::error::{Error, Result};

/// The request and response header.
pub const HEADER: &str = "x-cos-storage-class";

/// A COS storage class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StorageClass {
    /// STANDARD (the default).
    #[default]
    Standard,
    /// STANDARD_IA.
    StandardIa,
    /// INTELLIGENT_TIERING.
    IntelligentTiering,
    /// ARCHIVE.
    Archive,
    /// DEEP_ARCHIVE.
    DeepArchive,
    /// MAZ_STANDARD (multi-AZ).
    MazStandard,
    /// MAZ_STANDARD_IA.
    MazStandardIa,
    /// MAZ_INTELLIGENT_TIERING.
    MazIntelligentTiering,
}

/// Every class with its COS name.
const NAMES: &[(StorageClass, &str)] = &[
    (StorageClass::Standard, "STANDARD"),
    (StorageClass::StandardIa, "STANDARD_IA"),
    (StorageClass::IntelligentTiering, "INTELLIGENT_TIERING"),
    (StorageClass::Archive, "ARCHIVE"),
    (StorageClass::DeepArchive, "DEEP_ARCHIVE"),
    (StorageClass::MazStandard, "MAZ_STANDARD"),
    (StorageClass::MazStandardIa, "MAZ_STANDARD_IA"),
    (
        StorageClass::MazIntelligentTiering,
        "MAZ_INTELLIGENT_TIERING",
    ),
];

impl StorageClass {
    /// The class named `name` (exactly as COS spells it): `InvalidArgument` otherwise.
    pub fn parse(name: &str) -> Result<Self> {
        NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(c, _)| *c)
            .ok_or_else(|| {
                Error::InvalidArgument(format!("{HEADER} {name:?} is not a COS storage class"))
            })
    }

    /// The class of a request's `x-cos-storage-class` header (STANDARD without one).
    pub fn from_headers(headers: &HeaderMap) -> Result<Self> {
        match headers.get(HEADER) {
            None => Ok(Self::Standard),
            Some(v) => Self::parse(
                v.to_str()
                    .map_err(|_| Error::InvalidArgument(format!("{HEADER} is not ASCII")))?,
            ),
        }
    }

    /// The COS name.
    pub fn as_str(self) -> &'static str {
        NAMES
            .iter()
            .find(|(c, _)| *c == self)
            .map_or("STANDARD", |(_, n)| n)
    }

    /// Whether a GET needs a restored copy first (ARCHIVE and DEEP_ARCHIVE).
    pub fn needs_restore(self) -> bool {
        matches!(self, Self::Archive | Self::DeepArchive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_others_are_invalid_argument() {
        for (class, name) in NAMES {
            assert_eq!(StorageClass::parse(name).unwrap(), *class);
            assert_eq!(class.as_str(), *name);
        }
        for bad in ["", "standard", "GLACIER", "ARCHIVE ", "MAZ_ARCHIVE"] {
            let e = StorageClass::parse(bad).unwrap_err();
            assert_eq!((e.code(), e.status().as_u16()), ("InvalidArgument", 400));
        }
        assert!(StorageClass::Archive.needs_restore());
        assert!(StorageClass::DeepArchive.needs_restore());
        assert!(!StorageClass::MazStandardIa.needs_restore());
    }
}
