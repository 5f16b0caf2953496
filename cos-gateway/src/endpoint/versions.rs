//! The versioning parameters of a request: `versionId` on GET, HEAD and DELETE Object, and the
//! parameters of GET Bucket Object versions (`GET /?versions`), parsed once into typed values.
//! Apart from the endpoint classification so that the one place that checks a version id from
//! the network is small enough to read whole (and to fuzz, see `fuzz/fuzz_targets`).

use crate::error::{Error, Result};
use crate::store::versions::check_version_id;

/// The parameters GET Bucket Object versions accepts.
pub(super) const LIST_VERSIONS_PARAMS: &[&str] = &[
    "versions",
    "prefix",
    "delimiter",
    "key-marker",
    "version-id-marker",
    "max-keys",
    "encoding-type",
];

/// Parameters of GET Bucket Object versions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListVersionsParams {
    /// Only keys starting with this.
    pub prefix: String,
    /// Keys containing this after the prefix roll up into common prefixes (empty: none).
    pub delimiter: String,
    /// Start after this key (or, with a version marker, within it).
    pub key_marker: String,
    /// Start after this version of `key_marker` (checked, `null` included).
    pub version_id_marker: Option<String>,
    /// Entries per page, at most [`super::MAX_LIST_KEYS`].
    pub max_keys: usize,
    /// `encoding-type=url`: keys and prefixes are percent-encoded in the response.
    pub url_encoded: bool,
}

/// A `versionId` parameter, if given: checked ([`check_version_id`]).
pub(super) fn version_id(value: Option<&str>) -> Result<Option<String>> {
    value
        .map(|v| check_version_id(v).map(|()| v.to_owned()))
        .transpose()
}

/// The parameters of GET Bucket Object versions from `get` (a parameter's value by name).
///
/// `max-keys` must be a number (`InvalidArgument`), capped at [`super::MAX_LIST_KEYS`]; a
/// `version-id-marker` needs a `key-marker` and must be a version id (`InvalidArgument`, as S3
/// answers); `encoding-type` is `url` or absent.
pub(super) fn list_params<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<ListVersionsParams> {
    let max_keys = match get("max-keys") {
        None => super::MAX_LIST_KEYS,
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| Error::InvalidArgument("max-keys must be a number".into()))?
            .min(super::MAX_LIST_KEYS),
    };
    let key_marker = get("key-marker").unwrap_or("").to_owned();
    let version_id_marker = match get("version-id-marker") {
        None | Some("") => None,
        Some(_) if key_marker.is_empty() => {
            return Err(Error::InvalidArgument(
                "A version-id marker cannot be specified without a key marker.".into(),
            ));
        }
        Some(v) => version_id(Some(v))?,
    };
    let url_encoded = match get("encoding-type") {
        None => false,
        Some("url") => true,
        Some(_) => {
            return Err(Error::InvalidArgument(
                "Invalid Encoding Method specified in Request".into(),
            ));
        }
    };
    Ok(ListVersionsParams {
        prefix: get("prefix").unwrap_or("").to_owned(),
        delimiter: get("delimiter").unwrap_or("").to_owned(),
        key_marker,
        version_id_marker,
        max_keys,
        url_encoded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &[(&str, &str)]) -> Result<ListVersionsParams> {
        list_params(|name| query.iter().find(|(k, _)| *k == name).map(|(_, v)| *v))
    }

    fn code(r: Result<ListVersionsParams>) -> (&'static str, u16) {
        let e = r.unwrap_err();
        (e.code(), e.status().as_u16())
    }

    #[test]
    fn listing_parameters() {
        let id = "0123456789abcdef0123456789abcdef";
        let got = parse(&[
            ("prefix", "a/"),
            ("delimiter", "/"),
            ("key-marker", "a/b"),
            ("version-id-marker", id),
            ("max-keys", "5000"),
            ("encoding-type", "url"),
        ])
        .unwrap();
        assert_eq!(
            got,
            ListVersionsParams {
                prefix: "a/".into(),
                delimiter: "/".into(),
                key_marker: "a/b".into(),
                version_id_marker: Some(id.into()),
                max_keys: super::super::MAX_LIST_KEYS,
                url_encoded: true,
            }
        );
        assert_eq!(parse(&[]).unwrap().max_keys, super::super::MAX_LIST_KEYS);
        for bad in [
            vec![("max-keys", "ten")],
            vec![("max-keys", "-1")],
            vec![("version-id-marker", id)],
            vec![("key-marker", "k"), ("version-id-marker", "nope")],
            vec![("encoding-type", "base64")],
        ] {
            assert_eq!(code(parse(&bad)), ("InvalidArgument", 400), "{bad:?}");
        }
    }

    #[test]
    fn version_ids() {
        assert_eq!(version_id(None).unwrap(), None);
        assert_eq!(version_id(Some("null")).unwrap(), Some("null".into()));
        for bad in ["", "1", "NULL", "0123456789ABCDEF0123456789ABCDEF"] {
            let e = version_id(Some(bad)).unwrap_err();
            assert_eq!((e.code(), e.status().as_u16()), ("InvalidArgument", 400));
        }
    }
}
