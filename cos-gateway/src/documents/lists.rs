//! The listing answers as types: GET Service (`ListAllMyBucketsResult`), GET Bucket
//! (`ListBucketResult`), List Parts (`ListPartsResult`) and List Multipart Uploads
//! (`ListMultipartUploadsResult`). Written with [`super::to_xml_expanded`]: an empty element is
//! `<Prefix></Prefix>`, as the hand-written documents had it.

use serde::Serialize;

use super::Owner;

/// GET Service's answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAllMyBucketsResult {
    /// The account.
    pub owner: Owner,
    /// The buckets.
    pub buckets: Buckets,
}

/// `<Buckets>`: one `<Bucket>` each (`<Buckets></Buckets>` without any).
#[derive(Debug, Default, Serialize)]
pub struct Buckets {
    /// The buckets, in name order.
    #[serde(rename = "Bucket")]
    pub buckets: Vec<BucketEntry>,
}

/// One bucket of a [`ListAllMyBucketsResult`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BucketEntry {
    /// The bucket's name (`<name>-<appid>`).
    pub name: String,
    /// Its region.
    pub location: String,
    /// When it was created, ISO 8601.
    pub creation_date: String,
}

/// GET Bucket's answer. With `encoding-type=url`, `Prefix`, `Marker`, `Delimiter`, `NextMarker`
/// and the keys and common prefixes are URL-encoded by the caller (`EncodingType` says so).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListBucketResult {
    /// The bucket.
    pub name: String,
    /// `url` when the request asked for `encoding-type=url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding_type: Option<&'static str>,
    /// The request's prefix (`<Prefix></Prefix>` when none).
    pub prefix: String,
    /// The request's marker.
    pub marker: String,
    /// The request's `max-keys`.
    pub max_keys: usize,
    /// The request's delimiter, when it gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// Whether more entries follow.
    pub is_truncated: bool,
    /// The next page's marker, when truncated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    /// The objects.
    pub contents: Vec<Contents>,
    /// The common prefixes, after the objects.
    pub common_prefixes: Vec<CommonPrefix>,
}

/// One object of a [`ListBucketResult`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Contents {
    /// The key (URL-encoded with `encoding-type=url`).
    pub key: String,
    /// Its last modification, ISO 8601.
    pub last_modified: String,
    /// Its ETag, quoted (`"..."`, written `&quot;...&quot;`).
    #[serde(rename = "ETag")]
    pub etag: String,
    /// Its size in bytes.
    pub size: u64,
    /// The account.
    pub owner: Owner,
    /// Its storage class.
    pub storage_class: &'static str,
}

/// `<CommonPrefixes><Prefix>..</Prefix></CommonPrefixes>`: one per common prefix.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CommonPrefix {
    /// The prefix, up to and including the delimiter.
    pub prefix: String,
}

/// List Parts' answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPartsResult {
    /// The bucket.
    pub bucket: String,
    /// The object key.
    pub key: String,
    /// The upload.
    pub upload_id: String,
    /// Who started it.
    pub initiator: Owner,
    /// Who owns it.
    pub owner: Owner,
    /// The upload's storage class.
    pub storage_class: &'static str,
    /// The request's `part-number-marker`.
    pub part_number_marker: u32,
    /// The last part shown (the marker when none is).
    pub next_part_number_marker: u32,
    /// The request's `max-parts`.
    pub max_parts: usize,
    /// Whether more parts follow.
    pub is_truncated: bool,
    /// The parts shown, in number order.
    #[serde(rename = "Part")]
    pub parts: Vec<PartEntry>,
}

/// One part of a [`ListPartsResult`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PartEntry {
    /// Its number.
    pub part_number: u32,
    /// When it was uploaded, ISO 8601.
    pub last_modified: String,
    /// Its ETag, quoted.
    #[serde(rename = "ETag")]
    pub etag: String,
    /// Its size in bytes.
    pub size: u64,
}

/// List Multipart Uploads' answer: every upload under the prefix, on one page (the markers are
/// empty, `MaxUploads` is 1000, `IsTruncated` false).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListMultipartUploadsResult {
    /// The bucket.
    pub bucket: String,
    /// Always empty.
    pub key_marker: String,
    /// Always empty.
    pub upload_id_marker: String,
    /// Always empty.
    pub next_key_marker: String,
    /// Always empty.
    pub next_upload_id_marker: String,
    /// 1000.
    pub max_uploads: u32,
    /// Always `false`.
    pub is_truncated: bool,
    /// The request's prefix.
    pub prefix: String,
    /// The uploads.
    #[serde(rename = "Upload")]
    pub uploads: Vec<UploadEntry>,
}

impl ListMultipartUploadsResult {
    /// One page of `uploads` in `bucket` under `prefix`.
    pub fn new(bucket: &str, prefix: &str, uploads: Vec<UploadEntry>) -> Self {
        Self {
            bucket: bucket.to_owned(),
            key_marker: String::new(),
            upload_id_marker: String::new(),
            next_key_marker: String::new(),
            next_upload_id_marker: String::new(),
            max_uploads: 1000,
            is_truncated: false,
            prefix: prefix.to_owned(),
            uploads,
        }
    }
}

/// One upload of a [`ListMultipartUploadsResult`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UploadEntry {
    /// The object key.
    pub key: String,
    /// The upload.
    pub upload_id: String,
    /// Its storage class.
    pub storage_class: &'static str,
    /// Who started it.
    pub initiator: Owner,
    /// Who owns it.
    pub owner: Owner,
    /// When it started, ISO 8601.
    pub initiated: String,
}

#[cfg(test)]
mod tests {
    use super::super::{XML_DECLARATION, to_xml_expanded};
    use super::*;

    /// The owner as the hand-written documents spelled it.
    const OWNER: &str = "<ID>qcs::cam::uin/100000000001:uin/100000000001</ID><DisplayName>100000000001</DisplayName>";

    /// A key with every character the escape touches, a control character and a non-ASCII one.
    const NASTY: &str = "a&b<c>d\"e'f\tg\u{1}h测";
    const NASTY_XML: &str = "a&amp;b&lt;c&gt;d&quot;e&apos;f\tg\u{1}h测";

    #[test]
    fn list_buckets_bytes() {
        let doc = ListAllMyBucketsResult {
            owner: Owner::GATEWAY,
            buckets: Buckets {
                buckets: vec![BucketEntry {
                    name: "b-1".into(),
                    location: NASTY.into(),
                    creation_date: "2019-05-24T10:56:40.000Z".into(),
                }],
            },
        };
        assert_eq!(
            to_xml_expanded("ListAllMyBucketsResult", &doc).unwrap(),
            format!(
                "{XML_DECLARATION}<ListAllMyBucketsResult><Owner>{OWNER}</Owner><Buckets><Bucket><Name>b-1</Name><Location>{NASTY_XML}</Location><CreationDate>2019-05-24T10:56:40.000Z</CreationDate></Bucket></Buckets></ListAllMyBucketsResult>"
            )
        );
        let none = ListAllMyBucketsResult {
            owner: Owner::GATEWAY,
            buckets: Buckets::default(),
        };
        assert_eq!(
            to_xml_expanded("ListAllMyBucketsResult", &none).unwrap(),
            format!(
                "{XML_DECLARATION}<ListAllMyBucketsResult><Owner>{OWNER}</Owner><Buckets></Buckets></ListAllMyBucketsResult>"
            )
        );
    }

    fn contents(key: &str) -> Contents {
        Contents {
            key: key.into(),
            last_modified: "1970-01-01T00:00:00.000Z".into(),
            etag: "\"e1\"".into(),
            size: 5,
            owner: Owner::GATEWAY,
            storage_class: "STANDARD",
        }
    }

    #[test]
    fn list_objects_bytes() {
        // No prefix, marker or delimiter: empty Prefix and Marker, no Delimiter or NextMarker.
        let plain = ListBucketResult {
            name: "b-1".into(),
            encoding_type: None,
            prefix: String::new(),
            marker: String::new(),
            max_keys: 1000,
            delimiter: None,
            is_truncated: false,
            next_marker: None,
            contents: vec![contents(NASTY)],
            common_prefixes: vec![],
        };
        assert_eq!(
            to_xml_expanded("ListBucketResult", &plain).unwrap(),
            format!(
                "{XML_DECLARATION}<ListBucketResult><Name>b-1</Name><Prefix></Prefix><Marker></Marker><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated><Contents><Key>{NASTY_XML}</Key><LastModified>1970-01-01T00:00:00.000Z</LastModified><ETag>&quot;e1&quot;</ETag><Size>5</Size><Owner>{OWNER}</Owner><StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>"
            )
        );
        // Everything: EncodingType after Name, Delimiter after MaxKeys, NextMarker after
        // IsTruncated, the common prefixes after the objects.
        let full = ListBucketResult {
            name: "b-1".into(),
            encoding_type: Some("url"),
            prefix: "p&".into(),
            marker: "m<".into(),
            max_keys: 2,
            delimiter: Some("/".into()),
            is_truncated: true,
            next_marker: Some("d/".into()),
            contents: vec![contents("k")],
            common_prefixes: vec![
                CommonPrefix {
                    prefix: "c/".into(),
                },
                CommonPrefix {
                    prefix: "d/".into(),
                },
            ],
        };
        assert_eq!(
            to_xml_expanded("ListBucketResult", &full).unwrap(),
            format!(
                "{XML_DECLARATION}<ListBucketResult><Name>b-1</Name><EncodingType>url</EncodingType><Prefix>p&amp;</Prefix><Marker>m&lt;</Marker><MaxKeys>2</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated><NextMarker>d/</NextMarker><Contents><Key>k</Key><LastModified>1970-01-01T00:00:00.000Z</LastModified><ETag>&quot;e1&quot;</ETag><Size>5</Size><Owner>{OWNER}</Owner><StorageClass>STANDARD</StorageClass></Contents><CommonPrefixes><Prefix>c/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes></ListBucketResult>"
            )
        );
    }

    #[test]
    fn list_parts_bytes() {
        let doc = ListPartsResult {
            bucket: "b-1".into(),
            key: NASTY.into(),
            upload_id: "u1".into(),
            initiator: Owner::GATEWAY,
            owner: Owner::GATEWAY,
            storage_class: "STANDARD_IA",
            part_number_marker: 0,
            next_part_number_marker: 2,
            max_parts: 2,
            is_truncated: true,
            parts: vec![
                PartEntry {
                    part_number: 1,
                    last_modified: "1970-01-01T00:00:00.000Z".into(),
                    etag: "\"e1\"".into(),
                    size: 1,
                },
                PartEntry {
                    part_number: 2,
                    last_modified: "1970-01-01T00:00:01.000Z".into(),
                    etag: "\"e2\"".into(),
                    size: 2,
                },
            ],
        };
        assert_eq!(
            to_xml_expanded("ListPartsResult", &doc).unwrap(),
            format!(
                "{XML_DECLARATION}<ListPartsResult><Bucket>b-1</Bucket><Key>{NASTY_XML}</Key><UploadId>u1</UploadId><Initiator>{OWNER}</Initiator><Owner>{OWNER}</Owner><StorageClass>STANDARD_IA</StorageClass><PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>2</NextPartNumberMarker><MaxParts>2</MaxParts><IsTruncated>true</IsTruncated><Part><PartNumber>1</PartNumber><LastModified>1970-01-01T00:00:00.000Z</LastModified><ETag>&quot;e1&quot;</ETag><Size>1</Size></Part><Part><PartNumber>2</PartNumber><LastModified>1970-01-01T00:00:01.000Z</LastModified><ETag>&quot;e2&quot;</ETag><Size>2</Size></Part></ListPartsResult>"
            )
        );
    }

    #[test]
    fn list_uploads_bytes() {
        let upload = UploadEntry {
            key: NASTY.into(),
            upload_id: "u1".into(),
            storage_class: "STANDARD",
            initiator: Owner::GATEWAY,
            owner: Owner::GATEWAY,
            initiated: "1970-01-01T00:00:00.000Z".into(),
        };
        let doc = ListMultipartUploadsResult::new("b-1", "p'", vec![upload]);
        assert_eq!(
            to_xml_expanded("ListMultipartUploadsResult", &doc).unwrap(),
            format!(
                "{XML_DECLARATION}<ListMultipartUploadsResult><Bucket>b-1</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><NextKeyMarker></NextKeyMarker><NextUploadIdMarker></NextUploadIdMarker><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated><Prefix>p&apos;</Prefix><Upload><Key>{NASTY_XML}</Key><UploadId>u1</UploadId><StorageClass>STANDARD</StorageClass><Initiator>{OWNER}</Initiator><Owner>{OWNER}</Owner><Initiated>1970-01-01T00:00:00.000Z</Initiated></Upload></ListMultipartUploadsResult>"
            )
        );
        let none = ListMultipartUploadsResult::new("b-1", "", vec![]);
        assert_eq!(
            to_xml_expanded("ListMultipartUploadsResult", &none).unwrap(),
            format!(
                "{XML_DECLARATION}<ListMultipartUploadsResult><Bucket>b-1</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><NextKeyMarker></NextKeyMarker><NextUploadIdMarker></NextUploadIdMarker><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated><Prefix></Prefix></ListMultipartUploadsResult>"
            )
        );
    }
}
