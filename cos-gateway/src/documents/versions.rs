//! The versioning documents: `VersioningConfiguration` (PUT and GET `?versioning`) and
//! `ListVersionsResult` (GET `?versions`). Apart from the other lists because a versions listing
//! interleaves two kinds of entries (`Version`, `DeleteMarker`) in one order.

use serde::{Deserialize, Serialize};

use super::Owner;

/// PUT Bucket versioning's body, and GET's answer (no `Status` for a bucket never versioned:
/// `<VersioningConfiguration/>`, as COS answers).
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct VersioningConfiguration {
    /// `Enabled` or `Suspended`.
    #[serde(rename = "Status", default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// GET Bucket Object versions' answer. With `encoding-type=url` the keys, prefixes and markers
/// are URL-encoded by the caller (`EncodingType` says so).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListVersionsResult {
    /// `url` when the request asked for `encoding-type=url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding_type: Option<&'static str>,
    /// The bucket.
    pub name: String,
    /// The request's prefix.
    pub prefix: String,
    /// The request's key marker.
    pub key_marker: String,
    /// The request's version id marker.
    pub version_id_marker: String,
    /// The request's `max-keys`.
    pub max_keys: usize,
    /// The request's delimiter, when it gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// Whether more entries follow.
    pub is_truncated: bool,
    /// The next page's key marker, when truncated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_key_marker: Option<String>,
    /// The next page's version id marker, when truncated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_version_id_marker: Option<String>,
    /// The versions and delete markers, by key then newest first, then the common prefixes.
    #[serde(rename = "$value")]
    pub entries: Vec<VersionsEntry>,
}

/// One entry of a [`ListVersionsResult`].
#[derive(Debug, Serialize)]
pub enum VersionsEntry {
    /// An object version.
    Version(ObjectVersion),
    /// A delete marker.
    DeleteMarker(DeleteMarkerEntry),
    /// A common prefix.
    CommonPrefixes(super::CommonPrefix),
}

/// `<Version>`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectVersion {
    /// The key.
    pub key: String,
    /// Its version id (`null` for one written while versioning was off or suspended).
    pub version_id: String,
    /// Whether it is the key's latest version.
    pub is_latest: bool,
    /// Its last modification, ISO 8601.
    pub last_modified: String,
    /// Its ETag, quoted.
    #[serde(rename = "ETag")]
    pub etag: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its storage class.
    pub storage_class: &'static str,
    /// The account.
    pub owner: Owner,
}

/// `<DeleteMarker>`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteMarkerEntry {
    /// The key.
    pub key: String,
    /// The marker's version id.
    pub version_id: String,
    /// Whether it is the key's latest version.
    pub is_latest: bool,
    /// When it was written, ISO 8601.
    pub last_modified: String,
    /// The account.
    pub owner: Owner,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::{CommonPrefix, from_xml, to_xml, to_xml_expanded};

    #[test]
    fn versioning_configuration_bytes() {
        let empty = VersioningConfiguration::default();
        assert_eq!(
            to_xml("VersioningConfiguration", &empty).unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<VersioningConfiguration/>"
        );
        let on = VersioningConfiguration {
            status: Some("Enabled".into()),
        };
        assert_eq!(
            to_xml("VersioningConfiguration", &on).unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
        );
        let read: VersioningConfiguration = from_xml(
            b"<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>",
            "VersioningConfiguration",
        )
        .unwrap();
        assert_eq!(read.status.as_deref(), Some("Suspended"));
    }

    #[test]
    fn list_versions_bytes() {
        let doc = ListVersionsResult {
            encoding_type: None,
            name: "b-1".into(),
            prefix: String::new(),
            key_marker: String::new(),
            version_id_marker: String::new(),
            max_keys: 2,
            delimiter: Some("/".into()),
            is_truncated: true,
            next_key_marker: Some("a&b".into()),
            next_version_id_marker: Some("null".into()),
            entries: vec![
                VersionsEntry::DeleteMarker(DeleteMarkerEntry {
                    key: "a&b".into(),
                    version_id: "v2".into(),
                    is_latest: true,
                    last_modified: "2024-01-01T00:00:00.000Z".into(),
                    owner: Owner::GATEWAY,
                }),
                VersionsEntry::Version(ObjectVersion {
                    key: "a&b".into(),
                    version_id: "null".into(),
                    is_latest: false,
                    last_modified: "2024-01-01T00:00:00.000Z".into(),
                    etag: "\"e\"".into(),
                    size: 3,
                    storage_class: "STANDARD",
                    owner: Owner::GATEWAY,
                }),
                VersionsEntry::CommonPrefixes(CommonPrefix {
                    prefix: "d/".into(),
                }),
            ],
        };
        let owner = "<Owner><ID>qcs::cam::uin/100000000001:uin/100000000001</ID>\
                     <DisplayName>100000000001</DisplayName></Owner>";
        assert_eq!(
            to_xml_expanded("ListVersionsResult", &doc).unwrap(),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListVersionsResult>\
                 <Name>b-1</Name><Prefix></Prefix><KeyMarker></KeyMarker>\
                 <VersionIdMarker></VersionIdMarker><MaxKeys>2</MaxKeys>\
                 <Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>\
                 <NextKeyMarker>a&amp;b</NextKeyMarker>\
                 <NextVersionIdMarker>null</NextVersionIdMarker>\
                 <DeleteMarker><Key>a&amp;b</Key><VersionId>v2</VersionId>\
                 <IsLatest>true</IsLatest><LastModified>2024-01-01T00:00:00.000Z</LastModified>\
                 {owner}</DeleteMarker>\
                 <Version><Key>a&amp;b</Key><VersionId>null</VersionId><IsLatest>false</IsLatest>\
                 <LastModified>2024-01-01T00:00:00.000Z</LastModified>\
                 <ETag>&quot;e&quot;</ETag><Size>3</Size><StorageClass>STANDARD</StorageClass>\
                 {owner}</Version>\
                 <CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes></ListVersionsResult>"
            )
        );
    }
}
