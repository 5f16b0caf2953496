//! The request documents the gateway reads as types: Complete Multipart Upload, DELETE Multiple
//! Objects and PUT Bucket encryption (tagging, ACL and restore have theirs next to their rules).
//! Read with [`super::from_xml`]; every field is optional here and checked by the operation, so
//! that a missing element is the operation's own `MalformedXML` message. Text is trimmed.

use serde::Deserialize;

/// Complete Multipart Upload's body.
#[derive(Debug, Default, Deserialize)]
pub struct CompleteMultipartUpload {
    /// The parts, in the order given.
    #[serde(rename = "Part", default)]
    pub parts: Vec<CompletePart>,
}

/// One `<Part>` of a [`CompleteMultipartUpload`].
#[derive(Debug, Default, Deserialize)]
pub struct CompletePart {
    /// Its number, as sent.
    #[serde(rename = "PartNumber", default)]
    pub part_number: Option<String>,
    /// Its ETag, quoted or not.
    #[serde(rename = "ETag", default)]
    pub etag: Option<String>,
}

/// DELETE Multiple Objects' body.
#[derive(Debug, Default, Deserialize)]
pub struct Delete {
    /// `true` or `false`, any case.
    #[serde(rename = "Quiet", default)]
    pub quiet: Option<String>,
    /// The objects, in the order given.
    #[serde(rename = "Object", default)]
    pub objects: Vec<DeleteObject>,
}

/// One `<Object>` of a [`Delete`].
#[derive(Debug, Default, Deserialize)]
pub struct DeleteObject {
    /// The key.
    #[serde(rename = "Key", default)]
    pub key: Option<String>,
    /// A version, if one is named.
    #[serde(rename = "VersionId", default)]
    pub version_id: Option<String>,
}

/// PUT Bucket encryption's body.
#[derive(Debug, Default, Deserialize)]
pub struct EncryptionConfiguration {
    /// The rule.
    #[serde(rename = "Rule", default)]
    pub rule: Option<EncryptionRuleXml>,
}

/// The `<Rule>` of an [`EncryptionConfiguration`].
#[derive(Debug, Default, Deserialize)]
pub struct EncryptionRuleXml {
    /// `ApplyServerSideEncryptionByDefault`, or `ApplySideEncryptionConfiguration` as the SDKs'
    /// documents name it.
    #[serde(
        rename = "ApplyServerSideEncryptionByDefault",
        alias = "ApplySideEncryptionConfiguration",
        default
    )]
    pub apply: Option<ApplyXml>,
    /// `true` or `false`.
    #[serde(rename = "BucketKeyEnabled", default)]
    pub bucket_key_enabled: Option<String>,
}

/// The default encryption of an [`EncryptionRuleXml`].
#[derive(Debug, Default, Deserialize)]
pub struct ApplyXml {
    /// `AES256` or `KMS`.
    #[serde(rename = "SSEAlgorithm", default)]
    pub sse_algorithm: Option<String>,
    /// The KMS key id.
    #[serde(rename = "KMSMasterKeyID", default)]
    pub kms_master_key_id: Option<String>,
}
