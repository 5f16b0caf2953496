//! The typed endpoint: which COS operation a request is, with its parsed query parameters.
//!
//! A request is classified once, from its method, whether it names a bucket and a key, its query
//! parameters and (for copies and POST Object) two headers; the dispatcher then matches on the
//! [`Endpoint`] and never looks at the query string again. Classification cannot fall through:
//! every endpoint lists the query parameters it accepts, and a parameter no endpoint of that
//! method and level accepts is a sub-resource this gateway does not implement, `501
//! NotImplemented`. So `DELETE /key?acl` can never delete the object, `PUT /key?retention`
//! can never overwrite it, and `GET /?versioning` can never return a listing.
//!
//! What counts as a parameter rather than a sub-resource:
//!
//! * the signature parameters of a presigned URL ([`crate::auth::is_signature_param`]) name no
//!   operation and are ignored here;
//! * each operation's own parameters: the listing parameters of GET Bucket (`prefix`,
//!   `delimiter`, `marker`, `max-keys`, `encoding-type`) and of the multipart listings, and the
//!   `response-*` header overrides of GET/HEAD Object;
//! * every other name is treated as a sub-resource, known or not (COS documents its sub-resources
//!   but not what it does with other names; refusing them is the choice that cannot lose data).

use http::{HeaderMap, Method};

use crate::error::{Error, Result};
use crate::route::Target;

mod versions;
pub use versions::ListVersionsParams;

/// The `response-*` query parameters of GET/HEAD Object and the response header each overrides.
pub const RESPONSE_OVERRIDES: &[(&str, &str)] = &[
    ("response-content-type", "content-type"),
    ("response-content-language", "content-language"),
    ("response-expires", "expires"),
    ("response-cache-control", "cache-control"),
    ("response-content-disposition", "content-disposition"),
    ("response-content-encoding", "content-encoding"),
];

/// The most keys one GET Bucket page returns (and the default `max-keys`).
pub const MAX_LIST_KEYS: usize = 1000;

/// The most parts one List Parts page returns (and the default `max-parts`).
pub const MAX_LIST_PARTS: usize = 1000;

/// Parameters of GET Bucket (List Objects).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListObjectsParams {
    /// Only keys starting with this.
    pub prefix: String,
    /// Keys containing this after the prefix roll up into common prefixes (empty: none).
    pub delimiter: String,
    /// Start after this key (or common prefix).
    pub marker: String,
    /// Entries per page, at most [`MAX_LIST_KEYS`].
    pub max_keys: usize,
    /// `encoding-type=url`: keys and prefixes are percent-encoded in the response.
    pub url_encoded: bool,
}

/// Parameters of List Parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListPartsParams {
    /// The upload.
    pub upload_id: String,
    /// List parts numbered above this.
    pub part_number_marker: u32,
    /// Parts per page, 1 to [`MAX_LIST_PARTS`].
    pub max_parts: usize,
}

/// One COS operation the gateway implements, with its parsed parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// GET Service (`GET /` without a bucket).
    ListBuckets,
    /// PUT Bucket.
    CreateBucket,
    /// HEAD Bucket.
    HeadBucket,
    /// DELETE Bucket.
    DeleteBucket,
    /// GET Bucket.
    ListObjects(ListObjectsParams),
    /// PUT Bucket encryption (`PUT /?encryption`).
    PutBucketEncryption,
    /// GET Bucket encryption.
    GetBucketEncryption,
    /// DELETE Bucket encryption.
    DeleteBucketEncryption,
    /// GET Bucket location (`GET /?location`).
    GetBucketLocation,
    /// PUT Bucket acl (`PUT /?acl`).
    PutBucketAcl,
    /// GET Bucket acl.
    GetBucketAcl,
    /// PUT Bucket versioning (`PUT /?versioning`).
    PutBucketVersioning,
    /// GET Bucket versioning.
    GetBucketVersioning,
    /// GET Bucket Object versions (`GET /?versions`).
    ListObjectVersions(ListVersionsParams),
    /// List Multipart Uploads (`GET /?uploads`); only `prefix` filters, as before.
    ListMultipartUploads {
        /// Only uploads whose key starts with this.
        prefix: String,
    },
    /// POST Object: a `multipart/form-data` form to the bucket, signed by its policy.
    PostObject,
    /// DELETE Multiple Objects (`POST /?delete`).
    DeleteObjects,
    /// PUT Object.
    PutObject,
    /// PUT Object - Copy (`x-cos-copy-source`).
    CopyObject,
    /// GET Object, with the `response-*` overrides given (response header name, value).
    GetObject {
        /// Response headers to override, from the `response-*` parameters.
        overrides: Vec<(&'static str, String)>,
        /// `partNumber=N`: only that part of a multipart object (1 to [`crate::limits::MAX_PARTS`]).
        part_number: Option<u32>,
        /// `versionId`: that version, not the latest (checked, `null` included).
        version_id: Option<String>,
    },
    /// HEAD Object, with the `response-*` overrides given.
    HeadObject {
        /// Response headers to override, from the `response-*` parameters.
        overrides: Vec<(&'static str, String)>,
        /// `partNumber=N`, as for GET Object.
        part_number: Option<u32>,
        /// `versionId`, as for GET Object.
        version_id: Option<String>,
    },
    /// DELETE Object; with `versionId`, that version is removed for good.
    DeleteObject {
        /// `versionId` (checked, `null` included).
        version_id: Option<String>,
    },
    /// PUT Object tagging (`PUT /key?tagging`), of the current object or of version
    /// `versionId`; so for each sub-resource below.
    PutObjectTagging {
        /// `versionId` (checked, `null` included).
        version_id: Option<String>,
    },
    /// GET Object tagging.
    GetObjectTagging {
        /// `versionId`.
        version_id: Option<String>,
    },
    /// DELETE Object tagging.
    DeleteObjectTagging {
        /// `versionId`.
        version_id: Option<String>,
    },
    /// PUT Object acl (`PUT /key?acl`).
    PutObjectAcl {
        /// `versionId`.
        version_id: Option<String>,
    },
    /// GET Object acl.
    GetObjectAcl {
        /// `versionId`.
        version_id: Option<String>,
    },
    /// POST Object restore (`POST /key?restore`).
    RestoreObject {
        /// `versionId`.
        version_id: Option<String>,
    },
    /// Initiate Multipart Upload (`POST /key?uploads`).
    InitiateMultipartUpload,
    /// Upload Part (`PUT /key?partNumber=N&uploadId=ID`).
    UploadPart {
        /// The upload.
        upload_id: String,
        /// The part, 1 to [`crate::limits::MAX_PARTS`].
        part_number: u32,
    },
    /// Upload Part - Copy (Upload Part with `x-cos-copy-source`).
    UploadPartCopy {
        /// The upload.
        upload_id: String,
        /// The part, 1 to [`crate::limits::MAX_PARTS`].
        part_number: u32,
    },
    /// Complete Multipart Upload (`POST /key?uploadId=ID`).
    CompleteMultipartUpload {
        /// The upload.
        upload_id: String,
    },
    /// Abort Multipart Upload (`DELETE /key?uploadId=ID`).
    AbortMultipartUpload {
        /// The upload.
        upload_id: String,
    },
    /// List Parts (`GET /key?uploadId=ID`).
    ListParts(ListPartsParams),
}

/// The query parameters of a request, signature parameters left out.
struct Params<'a>(Vec<(&'a str, &'a str)>);

impl<'a> Params<'a> {
    fn new(query: &'a [(String, String)]) -> Self {
        Self(
            query
                .iter()
                .filter(|(k, _)| !crate::auth::is_signature_param(k))
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
        )
    }

    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| *k == name)
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    /// Refuses any parameter not in `accepted`: it names a sub-resource this gateway does not
    /// implement for this operation.
    fn only(&self, accepted: &[&str]) -> Result<()> {
        match self.0.iter().find(|(k, _)| !accepted.contains(k)) {
            None => Ok(()),
            Some((name, _)) => Err(not_implemented(name)),
        }
    }
}

fn not_implemented(sub_resource: &str) -> Error {
    Error::NotImplemented(format!("The `{sub_resource}` sub-resource or parameter"))
}

/// The parameters GET Bucket accepts.
const LIST_OBJECTS_PARAMS: &[&str] =
    &["prefix", "delimiter", "marker", "max-keys", "encoding-type"];

/// The parameters List Multipart Uploads accepts (what the SDKs send; only `prefix` filters).
const LIST_UPLOADS_PARAMS: &[&str] = &[
    "uploads",
    "prefix",
    "delimiter",
    "key-marker",
    "upload-id-marker",
    "max-uploads",
    "encoding-type",
];

/// The parameters List Parts accepts.
const LIST_PARTS_PARAMS: &[&str] = &[
    "uploadId",
    "max-parts",
    "part-number-marker",
    "encoding-type",
];

impl Endpoint {
    /// Classifies a routed request. `Err` is `NotImplemented` for a sub-resource (or a method on
    /// an object or bucket) this gateway does not implement, `MethodNotAllowed` for anything but
    /// GET on the service, `InvalidArgument` for a malformed parameter value.
    pub fn parse(method: &Method, target: &Target, headers: &HeaderMap) -> Result<Self> {
        let params = Params::new(&target.query);
        if target.bucket.is_none() {
            return match *method {
                Method::GET => params.only(&[]).map(|()| Self::ListBuckets),
                _ => Err(Error::MethodNotAllowed),
            };
        }
        if target.key.is_empty() {
            Self::parse_bucket(method, &params, headers)
        } else {
            Self::parse_object(method, &params, headers)
        }
    }

    fn parse_bucket(method: &Method, params: &Params<'_>, headers: &HeaderMap) -> Result<Self> {
        let encryption = params.has("encryption");
        match *method {
            Method::PUT if encryption => params
                .only(&["encryption"])
                .map(|()| Self::PutBucketEncryption),
            Method::GET if encryption => params
                .only(&["encryption"])
                .map(|()| Self::GetBucketEncryption),
            Method::DELETE if encryption => params
                .only(&["encryption"])
                .map(|()| Self::DeleteBucketEncryption),
            Method::PUT if params.has("acl") => params.only(&["acl"]).map(|()| Self::PutBucketAcl),
            Method::GET if params.has("acl") => params.only(&["acl"]).map(|()| Self::GetBucketAcl),
            Method::PUT if params.has("versioning") => params
                .only(&["versioning"])
                .map(|()| Self::PutBucketVersioning),
            Method::GET if params.has("versioning") => params
                .only(&["versioning"])
                .map(|()| Self::GetBucketVersioning),
            Method::GET if params.has("versions") => {
                params.only(versions::LIST_VERSIONS_PARAMS)?;
                versions::list_params(|name| params.get(name)).map(Self::ListObjectVersions)
            }
            Method::GET if params.has("location") => {
                params.only(&["location"]).map(|()| Self::GetBucketLocation)
            }
            Method::GET if params.has("uploads") => {
                params.only(LIST_UPLOADS_PARAMS)?;
                Ok(Self::ListMultipartUploads {
                    prefix: params.get("prefix").unwrap_or("").to_owned(),
                })
            }
            Method::GET => {
                params.only(LIST_OBJECTS_PARAMS)?;
                Ok(Self::ListObjects(list_objects_params(params)?))
            }
            Method::PUT => params.only(&[]).map(|()| Self::CreateBucket),
            Method::HEAD => params.only(&[]).map(|()| Self::HeadBucket),
            Method::DELETE => params.only(&[]).map(|()| Self::DeleteBucket),
            Method::POST if params.has("delete") => {
                params.only(&["delete"]).map(|()| Self::DeleteObjects)
            }
            Method::POST if is_form(headers) => params.only(&[]).map(|()| Self::PostObject),
            Method::POST => {
                params.only(&[])?;
                Err(Error::NotImplemented(
                    "POST on a bucket without a form".into(),
                ))
            }
            _ => Err(Error::NotImplemented(format!("{method} on a bucket"))),
        }
    }

    fn parse_object(method: &Method, params: &Params<'_>, headers: &HeaderMap) -> Result<Self> {
        let copy = headers.contains_key("x-cos-copy-source");
        if params.has("tagging") {
            params.only(&["tagging", "versionId"])?;
            let version_id = versions::version_id(params.get("versionId"))?;
            return match *method {
                Method::PUT => Ok(Self::PutObjectTagging { version_id }),
                Method::GET => Ok(Self::GetObjectTagging { version_id }),
                Method::DELETE => Ok(Self::DeleteObjectTagging { version_id }),
                _ => Err(not_implemented("tagging")),
            };
        }
        if params.has("acl") {
            params.only(&["acl", "versionId"])?;
            let version_id = versions::version_id(params.get("versionId"))?;
            return match *method {
                Method::PUT => Ok(Self::PutObjectAcl { version_id }),
                Method::GET => Ok(Self::GetObjectAcl { version_id }),
                _ => Err(not_implemented("acl")),
            };
        }
        let upload_id = params.get("uploadId").map(str::to_owned);
        match (method, upload_id) {
            (&Method::PUT, Some(upload_id)) if params.has("partNumber") => {
                params.only(&["partNumber", "uploadId"])?;
                let part_number = part_number(params.get("partNumber").unwrap_or(""))?;
                Ok(if copy {
                    Self::UploadPartCopy {
                        upload_id,
                        part_number,
                    }
                } else {
                    Self::UploadPart {
                        upload_id,
                        part_number,
                    }
                })
            }
            (&Method::PUT, _) if copy => params.only(&[]).map(|()| Self::CopyObject),
            (&Method::PUT, _) => params.only(&[]).map(|()| Self::PutObject),
            (&Method::GET, Some(upload_id)) => {
                params.only(LIST_PARTS_PARAMS)?;
                Ok(Self::ListParts(ListPartsParams {
                    upload_id,
                    part_number_marker: params
                        .get("part-number-marker")
                        .and_then(|m| m.parse().ok())
                        .unwrap_or(0),
                    max_parts: params
                        .get("max-parts")
                        .and_then(|m| m.parse().ok())
                        .unwrap_or(MAX_LIST_PARTS)
                        .clamp(1, MAX_LIST_PARTS),
                }))
            }
            (&Method::GET, None) => Ok(Self::GetObject {
                overrides: response_overrides(params)?,
                part_number: read_part_number(params)?,
                version_id: versions::version_id(params.get("versionId"))?,
            }),
            (&Method::HEAD, _) => Ok(Self::HeadObject {
                overrides: response_overrides(params)?,
                part_number: read_part_number(params)?,
                version_id: versions::version_id(params.get("versionId"))?,
            }),
            (&Method::DELETE, Some(upload_id)) => params
                .only(&["uploadId"])
                .map(|()| Self::AbortMultipartUpload { upload_id }),
            (&Method::DELETE, None) => {
                params.only(&["versionId"])?;
                Ok(Self::DeleteObject {
                    version_id: versions::version_id(params.get("versionId"))?,
                })
            }
            (&Method::POST, None) if params.has("restore") => {
                params.only(&["restore", "versionId"])?;
                Ok(Self::RestoreObject {
                    version_id: versions::version_id(params.get("versionId"))?,
                })
            }
            (&Method::POST, _) if params.has("uploads") => params
                .only(&["uploads"])
                .map(|()| Self::InitiateMultipartUpload),
            (&Method::POST, Some(upload_id)) => params
                .only(&["uploadId"])
                .map(|()| Self::CompleteMultipartUpload { upload_id }),
            (&Method::POST, None) => {
                params.only(&[])?;
                Err(Error::NotImplemented("POST on an object".into()))
            }
            _ => Err(Error::NotImplemented(format!("{method} on an object"))),
        }
    }
}

/// Whether the request carries a `multipart/form-data` body (POST Object).
fn is_form(headers: &HeaderMap) -> bool {
    crate::wire::header_str(headers, "content-type")
        .is_some_and(|c| c.to_ascii_lowercase().starts_with("multipart/form-data"))
}

fn list_objects_params(params: &Params<'_>) -> Result<ListObjectsParams> {
    let max_keys = match params.get("max-keys") {
        None => MAX_LIST_KEYS,
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| Error::InvalidArgument("max-keys must be a number".into()))?
            .min(MAX_LIST_KEYS),
    };
    Ok(ListObjectsParams {
        prefix: params.get("prefix").unwrap_or("").to_owned(),
        delimiter: params.get("delimiter").unwrap_or("").to_owned(),
        marker: params.get("marker").unwrap_or("").to_owned(),
        max_keys,
        url_encoded: params.get("encoding-type") == Some("url"),
    })
}

fn part_number(value: &str) -> Result<u32> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=crate::limits::MAX_PARTS).contains(n))
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "partNumber must be 1..={}",
                crate::limits::MAX_PARTS
            ))
        })
}

/// The `partNumber` of GET/HEAD Object, if given (`InvalidArgument` unless 1 to
/// [`crate::limits::MAX_PARTS`], as for Upload Part).
fn read_part_number(params: &Params<'_>) -> Result<Option<u32>> {
    params.get("partNumber").map(part_number).transpose()
}

/// The `response-*` overrides of GET/HEAD Object; any other parameter but `partNumber` and
/// `versionId` is refused.
fn response_overrides(params: &Params<'_>) -> Result<Vec<(&'static str, String)>> {
    let mut names: Vec<&str> = RESPONSE_OVERRIDES.iter().map(|(q, _)| *q).collect();
    names.extend(["partNumber", "versionId"]);
    params.only(&names)?;
    Ok(RESPONSE_OVERRIDES
        .iter()
        .filter_map(|(q, header)| params.get(q).map(|v| (*header, v.to_owned())))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(method: &str, target: &str, headers: &[(&str, &str)]) -> Result<Endpoint> {
        let mut b = http::Request::builder()
            .method(method)
            .uri(target)
            .header("host", "b-1.cos.ap-beijing.myqcloud.com");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let (parts, ()) = b.body(()).unwrap().into_parts();
        let routed = crate::route::route(&parts).unwrap();
        Endpoint::parse(&parts.method, &routed, &parts.headers)
    }

    /// Request headers as (name, value) pairs.
    type Headers<'a> = &'a [(&'a str, &'a str)];

    fn code(r: Result<Endpoint>) -> (&'static str, u16) {
        let e = r.unwrap_err();
        (e.code(), e.status().as_u16())
    }

    #[test]
    fn implemented_operations() {
        use Endpoint as E;
        let uploads = E::ListMultipartUploads { prefix: "p".into() };
        let form = [("content-type", "multipart/form-data; boundary=x")];
        let copy = [("x-cos-copy-source", "/b-1/src")];
        let cases: Vec<(&str, &str, Headers, Endpoint)> = vec![
            ("PUT", "/", &[], E::CreateBucket),
            ("HEAD", "/", &[], E::HeadBucket),
            ("POST", "/?delete", &[], E::DeleteObjects),
            ("DELETE", "/", &[], E::DeleteBucket),
            ("PUT", "/?encryption", &[], E::PutBucketEncryption),
            ("GET", "/?encryption", &[], E::GetBucketEncryption),
            ("DELETE", "/?encryption", &[], E::DeleteBucketEncryption),
            ("GET", "/?location", &[], E::GetBucketLocation),
            ("PUT", "/?acl", &[], E::PutBucketAcl),
            ("GET", "/?acl", &[], E::GetBucketAcl),
            ("PUT", "/k?acl", &[], E::PutObjectAcl { version_id: None }),
            ("GET", "/k?acl", &[], E::GetObjectAcl { version_id: None }),
            ("GET", "/?uploads&prefix=p&max-uploads=5", &[], uploads),
            ("POST", "/", &form, E::PostObject),
            ("PUT", "/k", &[], E::PutObject),
            ("PUT", "/k", &copy, E::CopyObject),
            ("DELETE", "/k", &[], E::DeleteObject { version_id: None }),
            (
                "DELETE",
                "/k?versionId=null",
                &[],
                E::DeleteObject {
                    version_id: Some("null".into()),
                },
            ),
            ("PUT", "/?versioning", &[], E::PutBucketVersioning),
            ("GET", "/?versioning", &[], E::GetBucketVersioning),
            (
                "PUT",
                "/k?tagging",
                &[],
                E::PutObjectTagging { version_id: None },
            ),
            (
                "POST",
                "/k?restore",
                &[],
                E::RestoreObject { version_id: None },
            ),
            (
                "POST",
                "/k?restore&versionId=null",
                &[],
                E::RestoreObject {
                    version_id: Some("null".into()),
                },
            ),
            (
                "GET",
                "/k?versionId=0123456789abcdef0123456789abcdef&tagging",
                &[],
                E::GetObjectTagging {
                    version_id: Some("0123456789abcdef0123456789abcdef".into()),
                },
            ),
            (
                "DELETE",
                "/k?tagging&versionId=null",
                &[],
                E::DeleteObjectTagging {
                    version_id: Some("null".into()),
                },
            ),
            (
                "PUT",
                "/k?acl&versionId=null",
                &[],
                E::PutObjectAcl {
                    version_id: Some("null".into()),
                },
            ),
            (
                "GET",
                "/k?tagging",
                &[],
                E::GetObjectTagging { version_id: None },
            ),
            (
                "DELETE",
                "/k?tagging",
                &[],
                E::DeleteObjectTagging { version_id: None },
            ),
            ("POST", "/k?uploads", &[], E::InitiateMultipartUpload),
            (
                "PUT",
                "/k?partNumber=2&uploadId=u",
                &[],
                E::UploadPart {
                    upload_id: "u".into(),
                    part_number: 2,
                },
            ),
            (
                "PUT",
                "/k?uploadId=u&partNumber=3",
                &copy,
                E::UploadPartCopy {
                    upload_id: "u".into(),
                    part_number: 3,
                },
            ),
            (
                "POST",
                "/k?uploadId=u",
                &[],
                E::CompleteMultipartUpload {
                    upload_id: "u".into(),
                },
            ),
            (
                "DELETE",
                "/k?uploadId=u",
                &[],
                E::AbortMultipartUpload {
                    upload_id: "u".into(),
                },
            ),
            (
                "GET",
                "/k?uploadId=u&max-parts=5000&part-number-marker=7",
                &[],
                E::ListParts(ListPartsParams {
                    upload_id: "u".into(),
                    part_number_marker: 7,
                    max_parts: MAX_LIST_PARTS,
                }),
            ),
            (
                "GET",
                "/k?response-content-type=text%2Fplain",
                &[],
                E::GetObject {
                    overrides: vec![("content-type", "text/plain".into())],
                    part_number: None,
                    version_id: None,
                },
            ),
            (
                "HEAD",
                "/k",
                &[],
                E::HeadObject {
                    overrides: vec![],
                    part_number: None,
                    version_id: None,
                },
            ),
            (
                "GET",
                "/k?partNumber=3&versionId=0123456789abcdef0123456789abcdef",
                &[],
                E::GetObject {
                    overrides: vec![],
                    part_number: Some(3),
                    version_id: Some("0123456789abcdef0123456789abcdef".into()),
                },
            ),
            (
                "HEAD",
                "/k?partNumber=10000",
                &[],
                E::HeadObject {
                    overrides: vec![],
                    part_number: Some(10000),
                    version_id: None,
                },
            ),
        ];
        for (method, target, headers, want) in cases {
            assert_eq!(
                parse(method, target, headers).unwrap(),
                want,
                "{method} {target}"
            );
        }
    }

    #[test]
    fn listing_parameters_are_parsed() {
        let got = parse(
            "GET",
            "/?prefix=a%2F&delimiter=%2F&marker=&max-keys=5000&encoding-type=url",
            &[],
        )
        .unwrap();
        let want = ListObjectsParams {
            prefix: "a/".into(),
            delimiter: "/".into(),
            marker: String::new(),
            max_keys: MAX_LIST_KEYS,
            url_encoded: true,
        };
        assert_eq!(got, Endpoint::ListObjects(want));
        assert_eq!(
            code(parse("GET", "/?max-keys=ten", &[])),
            ("InvalidArgument", 400)
        );
    }

    #[test]
    fn signature_parameters_name_no_sub_resource() {
        let presigned = "q-sign-algorithm=sha1&q-ak=AKID&q-sign-time=1%3B2&q-key-time=1%3B2\
                         &q-header-list=host&q-url-param-list=&q-signature=00&x-cos-security-token=t";
        assert_eq!(
            parse("DELETE", &format!("/k?{presigned}"), &[]).unwrap(),
            Endpoint::DeleteObject { version_id: None }
        );
        assert_eq!(
            parse("GET", &format!("/?{presigned}"), &[]).unwrap(),
            Endpoint::ListObjects(ListObjectsParams {
                max_keys: MAX_LIST_KEYS,
                ..Default::default()
            })
        );
        assert_eq!(
            code(parse("DELETE", &format!("/k?acl&{presigned}"), &[])),
            ("NotImplemented", 501)
        );
    }

    #[test]
    fn every_other_parameter_is_an_unimplemented_sub_resource() {
        for method in ["GET", "HEAD", "PUT", "POST", "DELETE"] {
            for target in [
                "/k?tagging&acl",
                "/?versioning&acl",
                "/?versions&location",
                "/k?uploads&tagging",
                "/k?uploadId=u&acl",
                "/?lifecycle",
                "/?encryption&cors",
                "/?uploads&versions",
                "/?location&acl",
                "/k?acl&tagging",
                "/?acl&cors",
                "/?whatever=1",
            ] {
                assert_eq!(
                    code(parse(method, target, &[])),
                    ("NotImplemented", 501),
                    "{method} {target}"
                );
            }
        }
        // Operation parameters out of their operation.
        for (method, target) in [
            ("PUT", "/k?partNumber=1"),
            ("PUT", "/k?uploadId=u"),
            ("PUT", "/k?versionId=null"),
            ("POST", "/k?versionId=null"),
            ("DELETE", "/?versioning"),
            ("DELETE", "/?versions"),
            ("PUT", "/?versions"),
            ("PUT", "/?prefix=a"),
            ("DELETE", "/k?partNumber=1&uploadId=u"),
            ("GET", "/k?prefix=a"),
            ("GET", "/k?uploadId=u&partNumber=1"),
            ("POST", "/k"),
            ("POST", "/"),
        ] {
            assert_eq!(
                code(parse(method, target, &[])),
                ("NotImplemented", 501),
                "{method} {target}"
            );
        }
        assert_eq!(code(parse("PATCH", "/k", &[])), ("NotImplemented", 501));
        assert_eq!(code(parse("OPTIONS", "/", &[])), ("NotImplemented", 501));
        // A form POST is POST Object only without sub-resources.
        let form = [("content-type", "multipart/form-data; boundary=x")];
        assert_eq!(code(parse("POST", "/?acl", &form)), ("NotImplemented", 501));
        // ACLs are read and written, never deleted, posted or HEAD.
        for method in ["DELETE", "POST", "HEAD"] {
            for target in ["/?acl", "/k?acl"] {
                assert_eq!(
                    code(parse(method, target, &[])),
                    ("NotImplemented", 501),
                    "{method} {target}"
                );
            }
        }
        // DELETE Multiple Objects takes no other sub-resource.
        assert_eq!(
            code(parse("POST", "/?delete&versions", &[])),
            ("NotImplemented", 501)
        );
    }

    #[test]
    fn part_numbers_are_checked() {
        for n in ["0", "10001", "x", "", "-1", "1.0"] {
            for method in ["GET", "HEAD"] {
                assert_eq!(
                    code(parse(method, &format!("/k?partNumber={n}"), &[])),
                    ("InvalidArgument", 400),
                    "{method} {n}"
                );
            }
            assert_eq!(
                code(parse("PUT", &format!("/k?partNumber={n}&uploadId=u"), &[])),
                ("InvalidArgument", 400),
                "{n}"
            );
        }
    }

    #[test]
    fn the_service_lists_buckets_and_nothing_else() {
        let parts = |method: &str, target: &str| {
            let (p, ()) = http::Request::builder()
                .method(method)
                .uri(target)
                .header("host", "127.0.0.1")
                .body(())
                .unwrap()
                .into_parts();
            p
        };
        let p = parts("GET", "/");
        let t = crate::route::route(&p).unwrap();
        assert_eq!(
            Endpoint::parse(&p.method, &t, &p.headers).unwrap(),
            Endpoint::ListBuckets
        );
        let p = parts("PUT", "/");
        let t = crate::route::route(&p).unwrap();
        let e = Endpoint::parse(&p.method, &t, &p.headers).unwrap_err();
        assert_eq!((e.code(), e.status().as_u16()), ("MethodNotAllowed", 405));
        let p = parts("GET", "/?tagging");
        let t = crate::route::route(&p).unwrap();
        let e = Endpoint::parse(&p.method, &t, &p.headers).unwrap_err();
        assert_eq!((e.code(), e.status().as_u16()), ("NotImplemented", 501));
    }
}
