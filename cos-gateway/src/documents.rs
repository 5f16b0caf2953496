//! The COS XML documents as types, written and read by quick-xml's serde support, so that an
//! element name or an escape is defined once, in the type.
//!
//! Response documents start with [`XML_DECLARATION`] and escape the five XML special characters
//! in text (`&`, `<`, `>`, `"`, `'`: `QuoteLevel::Full`); other characters, control characters
//! included, are written as they are. [`to_xml`] writes an empty element in its short form
//! (`<Value/>`), [`to_xml_expanded`] as a start and an end tag (`<Prefix></Prefix>`), which is
//! what the listings have always sent; [`error_document`] puts each element on its own line.

use quick_xml::se::{QuoteLevel, Serializer};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

mod lists;
mod requests;
mod versions;

pub use lists::{
    BucketEntry, Buckets, CommonPrefix, Contents, ListAllMyBucketsResult, ListBucketResult,
    ListMultipartUploadsResult, ListPartsResult, PartEntry, UploadEntry,
};
pub use requests::{
    ApplyXml, CompleteMultipartUpload, CompletePart, Delete, DeleteObject, EncryptionConfiguration,
    EncryptionRuleXml,
};
pub use versions::{
    DeleteMarkerEntry, ListVersionsResult, ObjectVersion, VersioningConfiguration, VersionsEntry,
};

/// The declaration every response document starts with.
pub const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// The one account's full id (the owner of every bucket and object).
pub const OWNER_ID: &str = "qcs::cam::uin/100000000001:uin/100000000001";

/// The one account's display name in the listings (its uin).
pub const OWNER_DISPLAY_NAME: &str = "100000000001";

/// How a document is laid out.
#[derive(Clone, Copy)]
enum Layout {
    /// On one line, an empty element as `<a/>`.
    Compact,
    /// On one line, an empty element as `<a></a>`.
    Expanded,
    /// Each child of the root on its own line, not indented.
    Lines,
}

fn write<T: Serialize>(root: &str, doc: &T, layout: Layout) -> Result<String> {
    let mut out = String::from(XML_DECLARATION);
    let mut ser = Serializer::with_root(&mut out, Some(root))
        .map_err(|e| Error::internal(format!("XML root {root}: {e}")))?;
    ser.set_quote_level(QuoteLevel::Full);
    match layout {
        Layout::Compact => {}
        Layout::Expanded => {
            ser.expand_empty_elements(true);
        }
        Layout::Lines => {
            ser.indent(' ', 0);
        }
    }
    doc.serialize(ser)
        .map_err(|e| Error::internal(format!("XML document {root}: {e}")))?;
    Ok(out)
}

/// `doc` as a response document whose root element is `root`.
pub fn to_xml<T: Serialize>(root: &str, doc: &T) -> Result<String> {
    write(root, doc, Layout::Compact)
}

/// `doc` as a response document whose root element is `root`, its empty elements written as a
/// start and an end tag.
pub fn to_xml_expanded<T: Serialize>(root: &str, doc: &T) -> Result<String> {
    write(root, doc, Layout::Expanded)
}

/// Reads a request document whose root element must be `root`: `MalformedXML` unless it is UTF-8,
/// within [`crate::xml::parse`]'s bounds (checked first, before serde reads it), rooted at `root`
/// (serde does not check the root's name), and of `T`'s shape.
pub fn from_xml<T: DeserializeOwned>(bytes: &[u8], root: &str) -> Result<T> {
    let text = std::str::from_utf8(bytes).map_err(|_| Error::MalformedXml("not UTF-8".into()))?;
    if crate::xml::parse(bytes)?.name != root {
        return Err(Error::MalformedXml(format!(
            "the root element must be {root}"
        )));
    }
    quick_xml::de::from_str(text).map_err(|e| Error::MalformedXml(e.to_string()))
}

/// The COS error document (`docs/cos-kms-spec.md` §2): `Code`, `Message`, `Resource`,
/// `RequestId` and `TraceId`, each on its own line.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorDocument<'a> {
    /// The COS error code.
    pub code: &'a str,
    /// The message.
    pub message: &'a str,
    /// The resource the request named.
    pub resource: &'a str,
    /// The request id.
    pub request_id: &'a str,
    /// The trace id (the request id again).
    pub trace_id: &'a str,
}

/// `doc` as the bytes of an error response.
pub fn error_document(doc: &ErrorDocument<'_>) -> Result<String> {
    write("Error", doc, Layout::Lines)
}

/// `<Owner>` (or `<Initiator>`) in the listings: the one account.
#[derive(Debug, Serialize)]
pub struct Owner {
    /// [`OWNER_ID`].
    #[serde(rename = "ID")]
    pub id: &'static str,
    /// [`OWNER_DISPLAY_NAME`].
    #[serde(rename = "DisplayName")]
    pub display_name: &'static str,
}

impl Owner {
    /// The gateway's one account.
    pub const GATEWAY: Owner = Owner {
        id: OWNER_ID,
        display_name: OWNER_DISPLAY_NAME,
    };
}

/// GET Bucket encryption's answer.
#[derive(Debug, Serialize)]
pub struct ServerSideEncryptionConfiguration<'a> {
    /// The one rule.
    #[serde(rename = "Rule")]
    pub rule: EncryptionRule<'a>,
}

/// The `<Rule>` of a [`ServerSideEncryptionConfiguration`].
#[derive(Debug, Serialize)]
pub struct EncryptionRule<'a> {
    /// The default encryption.
    #[serde(rename = "ApplyServerSideEncryptionByDefault")]
    pub apply: ApplyServerSideEncryptionByDefault<'a>,
    /// Whether SSE-KMS writes use bucket keys.
    #[serde(rename = "BucketKeyEnabled")]
    pub bucket_key_enabled: bool,
}

/// `<ApplyServerSideEncryptionByDefault>`: the algorithm and, for `KMS`, the key when one is set.
#[derive(Debug, Serialize)]
pub struct ApplyServerSideEncryptionByDefault<'a> {
    /// `AES256` or `KMS`.
    #[serde(rename = "SSEAlgorithm")]
    pub sse_algorithm: &'static str,
    /// The KMS key id.
    #[serde(rename = "KMSMasterKeyID", skip_serializing_if = "Option::is_none")]
    pub kms_master_key_id: Option<&'a str>,
}

/// GET Bucket location's answer: `<LocationConstraint>region</LocationConstraint>`.
#[derive(Debug, Serialize)]
pub struct LocationConstraint<'a> {
    /// The region.
    #[serde(rename = "$text")]
    pub region: &'a str,
}

/// GET Bucket/Object acl's answer and PUT `?acl`'s body (read with [`crate::acl::parse_document`]).
/// One type both ways: what is written is what is read back.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct AccessControlPolicy {
    /// The owner (written always; not checked when read: the gateway has one).
    #[serde(rename = "Owner", default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<AclOwner>,
    /// The grants.
    #[serde(rename = "AccessControlList", default)]
    pub access_control_list: AccessControlList,
}

/// `<Owner>` of an [`AccessControlPolicy`].
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct AclOwner {
    /// The owner's full id (`qcs::cam::uin/<uin>:uin/<uin>`).
    #[serde(rename = "ID", default)]
    pub id: String,
    /// Its display name.
    #[serde(rename = "DisplayName", default)]
    pub display_name: String,
}

/// `<AccessControlList>`: one `<Grant>` each.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct AccessControlList {
    /// The grants, in order.
    #[serde(rename = "Grant", default)]
    pub grants: Vec<GrantXml>,
}

/// `<Grant>`: a grantee and a permission (`READ`, `WRITE`, `FULL_CONTROL`, `READ_ACP`,
/// `WRITE_ACP`; checked by [`crate::acl::parse_document`]).
#[derive(Debug, Deserialize, Serialize)]
pub struct GrantXml {
    /// To whom.
    #[serde(rename = "Grantee")]
    pub grantee: GranteeXml,
    /// What.
    #[serde(rename = "Permission", default)]
    pub permission: String,
}

/// `<Grantee xmlns:xsi=".." xsi:type="CanonicalUser|Group">`: `ID` and `DisplayName` for a user,
/// `URI` for a group. Read, the type may also be a `<Type>` element (what the Python SDK writes
/// for `{'Type': ...}`) or absent (then `ID` or `URI` says which).
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct GranteeXml {
    /// The `xmlns:xsi` declaration.
    #[serde(
        rename = "@xmlns:xsi",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub xmlns_xsi: Option<String>,
    /// `xsi:type` (quick-xml reads an attribute by its local name, `type`).
    #[serde(
        rename(serialize = "@xsi:type", deserialize = "@type"),
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub xsi_type: Option<String>,
    /// A `<Type>` element (read only).
    #[serde(rename = "Type", default, skip_serializing)]
    pub type_element: Option<String>,
    /// A group's URI.
    #[serde(rename = "URI", default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// A user's id.
    #[serde(rename = "ID", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// A user's display name.
    #[serde(
        rename = "DisplayName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub display_name: Option<String>,
}

/// Initiate Multipart Upload's answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InitiateMultipartUploadResult<'a> {
    /// The bucket.
    pub bucket: &'a str,
    /// The object key.
    pub key: &'a str,
    /// The new upload's id.
    pub upload_id: &'a str,
}

/// Complete Multipart Upload's answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompleteMultipartUploadResult<'a> {
    /// The object's resource path.
    pub location: &'a str,
    /// The bucket.
    pub bucket: &'a str,
    /// The object key.
    pub key: &'a str,
    /// The ETag, quoted (`"..."`, written `&quot;...&quot;`).
    #[serde(rename = "ETag")]
    pub etag: String,
}

/// PUT Object - Copy's answer, and Upload Part - Copy's (root `CopyPartResult`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CopyObjectResult {
    /// The new object's ETag, quoted.
    #[serde(rename = "ETag")]
    pub etag: String,
    /// Its last modification, ISO 8601.
    pub last_modified: String,
}

/// POST Object's answer when the form asks for `success_action_status=201`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PostResponse<'a> {
    /// The object's URL.
    pub location: &'a str,
    /// The bucket.
    pub bucket: &'a str,
    /// The object key.
    pub key: &'a str,
    /// The ETag, quoted.
    #[serde(rename = "ETag")]
    pub etag: String,
}

/// DELETE Multiple Objects' answer: one entry per key, in the request's order (none for keys
/// deleted in quiet mode).
#[derive(Debug, Default, Serialize)]
pub struct DeleteResult {
    /// The entries.
    #[serde(rename = "$value")]
    pub entries: Vec<DeleteEntry>,
}

/// One key's outcome in a [`DeleteResult`].
#[derive(Debug, Serialize)]
pub enum DeleteEntry {
    /// The key was deleted (or did not exist).
    Deleted {
        /// The key.
        #[serde(rename = "Key")]
        key: String,
        /// The version the request named, when it named one.
        #[serde(rename = "VersionId", skip_serializing_if = "Option::is_none")]
        version_id: Option<String>,
        /// `true` when a delete marker was written or removed.
        #[serde(rename = "DeleteMarker", skip_serializing_if = "Option::is_none")]
        delete_marker: Option<bool>,
        /// That marker's version id.
        #[serde(
            rename = "DeleteMarkerVersionId",
            skip_serializing_if = "Option::is_none"
        )]
        delete_marker_version_id: Option<String>,
    },
    /// The key could not be deleted.
    Error {
        /// The key.
        #[serde(rename = "Key")]
        key: String,
        /// The COS error code.
        #[serde(rename = "Code")]
        code: &'static str,
        /// The error message.
        #[serde(rename = "Message")]
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_constraint_bytes() {
        let got = to_xml(
            "LocationConstraint",
            &LocationConstraint {
                region: "ap-guangzhou",
            },
        )
        .unwrap();
        assert_eq!(
            got,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint>ap-guangzhou</LocationConstraint>"
        );
    }

    #[test]
    fn multipart_results_are_the_hand_written_bytes() {
        let got = to_xml(
            "InitiateMultipartUploadResult",
            &InitiateMultipartUploadResult {
                bucket: "b-1",
                key: "a&b",
                upload_id: "u1",
            },
        )
        .unwrap();
        assert_eq!(
            got,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult><Bucket>b-1</Bucket><Key>a&amp;b</Key><UploadId>u1</UploadId></InitiateMultipartUploadResult>"
        );
        let got = to_xml(
            "CompleteMultipartUploadResult",
            &CompleteMultipartUploadResult {
                location: "b-1.cos.ap-guangzhou.myqcloud.com/k",
                bucket: "b-1",
                key: "k",
                etag: "\"e-2\"".into(),
            },
        )
        .unwrap();
        assert_eq!(
            got,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult><Location>b-1.cos.ap-guangzhou.myqcloud.com/k</Location><Bucket>b-1</Bucket><Key>k</Key><ETag>&quot;e-2&quot;</ETag></CompleteMultipartUploadResult>"
        );
    }

    #[test]
    fn copy_post_and_delete_results_are_the_hand_written_bytes() {
        let got = to_xml(
            "CopyObjectResult",
            &CopyObjectResult {
                etag: "\"e1\"".into(),
                last_modified: "2026-12-06T00:00:00.000Z".into(),
            },
        )
        .unwrap();
        assert_eq!(
            got,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CopyObjectResult><ETag>&quot;e1&quot;</ETag><LastModified>2026-12-06T00:00:00.000Z</LastModified></CopyObjectResult>"
        );
        let got = to_xml(
            "PostResponse",
            &PostResponse {
                location: "http://h/a&b",
                bucket: "b-1",
                key: "a&b",
                etag: "\"e2\"".into(),
            },
        )
        .unwrap();
        assert_eq!(
            got,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>http://h/a&amp;b</Location><Bucket>b-1</Bucket><Key>a&amp;b</Key><ETag>&quot;e2&quot;</ETag></PostResponse>"
        );
        let got = to_xml(
            "DeleteResult",
            &DeleteResult {
                entries: vec![
                    DeleteEntry::Deleted {
                        key: "a<".into(),
                        version_id: None,
                        delete_marker: None,
                        delete_marker_version_id: None,
                    },
                    DeleteEntry::Error {
                        key: "b".into(),
                        code: "InvalidArgument",
                        message: "no \"version\"".into(),
                    },
                ],
            },
        )
        .unwrap();
        assert_eq!(
            got,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult><Deleted><Key>a&lt;</Key></Deleted><Error><Key>b</Key><Code>InvalidArgument</Code><Message>no &quot;version&quot;</Message></Error></DeleteResult>"
        );
        // Nothing to report (quiet mode, every key deleted): the empty element in its short form,
        // the same document as `<DeleteResult></DeleteResult>` to every XML parser.
        let empty = to_xml("DeleteResult", &DeleteResult::default()).unwrap();
        assert_eq!(empty, format!("{XML_DECLARATION}<DeleteResult/>"));
    }

    #[test]
    fn text_is_escaped_as_the_hand_written_documents_were() {
        // The five special characters as entities; control characters and others as they are.
        let got = to_xml(
            "LocationConstraint",
            &LocationConstraint {
                region: "a&<>\"'\t\u{1}\r\n测",
            },
        )
        .unwrap();
        let want = format!(
            "{XML_DECLARATION}<LocationConstraint>a&amp;&lt;&gt;&quot;&apos;\t\u{1}\r\n测</LocationConstraint>"
        );
        assert_eq!(got, want);
    }

    #[test]
    fn error_document_bytes() {
        let got = error_document(&ErrorDocument {
            code: "NoSuchKey",
            message: "The specified key \"a&b\" does not exist.",
            resource: "b-1.cos.ap-guangzhou.myqcloud.com/a&b<c>'",
            request_id: "rid\u{1}",
            trace_id: "rid\u{1}",
        })
        .unwrap();
        assert_eq!(
            got,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n<Code>NoSuchKey</Code>\n<Message>The specified key &quot;a&amp;b&quot; does not exist.</Message>\n<Resource>b-1.cos.ap-guangzhou.myqcloud.com/a&amp;b&lt;c&gt;&apos;</Resource>\n<RequestId>rid\u{1}</RequestId>\n<TraceId>rid\u{1}</TraceId>\n</Error>"
        );
    }

    #[test]
    fn encryption_configuration_bytes() {
        let doc = |alg, key, on| ServerSideEncryptionConfiguration {
            rule: EncryptionRule {
                apply: ApplyServerSideEncryptionByDefault {
                    sse_algorithm: alg,
                    kms_master_key_id: key,
                },
                bucket_key_enabled: on,
            },
        };
        let root = "ServerSideEncryptionConfiguration";
        assert_eq!(
            to_xml(root, &doc("AES256", None, false)).unwrap(),
            format!(
                "{XML_DECLARATION}<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>"
            )
        );
        assert_eq!(
            to_xml(root, &doc("KMS", Some("k&1"), true)).unwrap(),
            format!(
                "{XML_DECLARATION}<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>KMS</SSEAlgorithm><KMSMasterKeyID>k&amp;1</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>"
            )
        );
    }
}
