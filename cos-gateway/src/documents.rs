//! The COS XML documents as types, written and read by quick-xml's serde support, so that an
//! element name or an escape is defined once, in the type.
//!
//! Response documents start with [`XML_DECLARATION`] and escape the five XML special characters
//! in text as [`crate::wire::escape`] does (`QuoteLevel::Full`), so they are byte-for-byte what the
//! hand-written documents are.

use quick_xml::se::{QuoteLevel, Serializer};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The declaration every response document starts with.
pub const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// `doc` as a response document whose root element is `root`.
pub fn to_xml<T: Serialize>(root: &str, doc: &T) -> Result<String> {
    let mut out = String::from(XML_DECLARATION);
    let mut ser = Serializer::with_root(&mut out, Some(root))
        .map_err(|e| Error::internal(format!("XML root {root}: {e}")))?;
    ser.set_quote_level(QuoteLevel::Full);
    doc.serialize(ser)
        .map_err(|e| Error::internal(format!("XML document {root}: {e}")))?;
    Ok(out)
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

/// PUT Object - Copy's answer.
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
                    DeleteEntry::Deleted { key: "a<".into() },
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
    fn text_is_escaped_as_the_hand_written_documents_are() {
        let got = to_xml(
            "LocationConstraint",
            &LocationConstraint { region: "a&<>\"'" },
        )
        .unwrap();
        let want = format!(
            "{XML_DECLARATION}<LocationConstraint>{}</LocationConstraint>",
            crate::wire::escape("a&<>\"'")
        );
        assert_eq!(got, want);
    }
}
