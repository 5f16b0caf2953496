//! The operations: [`dispatch`] matches the request's [`Endpoint`] to its handler; and the helpers
//! the handlers share (authentication, stored headers, conditional requests, ranges, copy sources).

use http::HeaderMap;

use crate::auth::{Signed, SignedRequest, verify};
use crate::body::RequestBodySlot;
use crate::context::RequestContext;
use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::state::Gateway;
use crate::store::Meta;
use crate::wire::{Response, now_secs};

pub mod acl;
pub mod bucket;
pub mod delete_objects;
pub mod multipart;
pub mod object;
pub mod post;
pub mod restore;
pub mod stored_body;
pub mod tagging;
pub mod versioning;

/// Classifies a request ([`Endpoint::parse`]) and runs its operation.
pub async fn dispatch(
    gw: &Gateway,
    ctx: &RequestContext,
    body: &mut RequestBodySlot,
) -> Result<Response> {
    let endpoint = Endpoint::parse(&ctx.method, &ctx.target, &ctx.headers);
    // POST Object is signed by its policy, not by an Authorization header, and checks its SSE-C
    // fields itself. Every other request, even one for an unimplemented sub-resource, is
    // authenticated before its endpoint's error is returned; an unsigned one goes on only as an
    // anonymous GET or HEAD of an object, which `object::get` lets through only when
    // `acl::check_anonymous_read` allows it.
    let mut caller = Caller::Signed;
    if !matches!(endpoint, Ok(Endpoint::PostObject)) {
        caller = authenticate(gw, ctx, &endpoint)?;
        check_ssec_transport(gw, ctx)?;
    }
    match endpoint? {
        Endpoint::ListBuckets => bucket::list_buckets(gw).await,
        Endpoint::CreateBucket => bucket::create(gw, ctx).await,
        Endpoint::HeadBucket => bucket::head(gw, ctx).await,
        Endpoint::DeleteBucket => bucket::delete(gw, ctx).await,
        Endpoint::ListObjects(params) => bucket::list_objects(gw, ctx, &params).await,
        Endpoint::PutBucketEncryption => bucket::put_encryption(gw, ctx, body).await,
        Endpoint::GetBucketEncryption => bucket::get_encryption(gw, ctx).await,
        Endpoint::DeleteBucketEncryption => bucket::delete_encryption(gw, ctx).await,
        Endpoint::GetBucketLocation => bucket::location(gw, ctx).await,
        Endpoint::ListMultipartUploads { prefix } => {
            multipart::list_uploads(gw, ctx, &prefix).await
        }
        Endpoint::PostObject => post::post_object(gw, ctx, body).await,
        Endpoint::DeleteObjects => delete_objects::delete_objects(gw, ctx, body).await,
        Endpoint::PutObject => object::put(gw, ctx, body).await,
        Endpoint::CopyObject => object::copy(gw, ctx).await,
        Endpoint::GetObject {
            overrides,
            part_number,
            version_id,
        } => {
            let read = object::Read {
                overrides: &overrides,
                part_number,
                version_id: version_id.as_deref(),
                head: false,
            };
            object::get(gw, ctx, caller, read).await
        }
        Endpoint::HeadObject {
            overrides,
            part_number,
            version_id,
        } => {
            let read = object::Read {
                overrides: &overrides,
                part_number,
                version_id: version_id.as_deref(),
                head: true,
            };
            object::get(gw, ctx, caller, read).await
        }
        Endpoint::DeleteObject { version_id } => {
            object::delete(gw, ctx, version_id.as_deref()).await
        }
        Endpoint::PutBucketVersioning => versioning::put(gw, ctx, body).await,
        Endpoint::GetBucketVersioning => versioning::get(gw, ctx).await,
        Endpoint::ListObjectVersions(params) => versioning::list(gw, ctx, &params).await,
        Endpoint::PutObjectTagging { version_id } => {
            tagging::put(gw, ctx, body, version_id.as_deref()).await
        }
        Endpoint::GetObjectTagging { version_id } => {
            tagging::get(gw, ctx, version_id.as_deref()).await
        }
        Endpoint::DeleteObjectTagging { version_id } => {
            tagging::delete(gw, ctx, version_id.as_deref()).await
        }
        Endpoint::PutBucketAcl => acl::put_bucket(gw, ctx, body).await,
        Endpoint::GetBucketAcl => acl::get_bucket(gw, ctx).await,
        Endpoint::PutObjectAcl { version_id } => {
            acl::put_object(gw, ctx, body, version_id.as_deref()).await
        }
        Endpoint::GetObjectAcl { version_id } => {
            acl::get_object(gw, ctx, version_id.as_deref()).await
        }
        Endpoint::RestoreObject { version_id } => {
            restore::restore(gw, ctx, body, version_id.as_deref()).await
        }
        Endpoint::InitiateMultipartUpload => multipart::initiate(gw, ctx).await,
        Endpoint::UploadPart {
            upload_id,
            part_number,
        } => multipart::upload_part(gw, ctx, &upload_id, part_number, body).await,
        Endpoint::UploadPartCopy {
            upload_id,
            part_number,
        } => multipart::upload_part_copy(gw, ctx, &upload_id, part_number).await,
        Endpoint::CompleteMultipartUpload { upload_id } => {
            multipart::complete(gw, ctx, &upload_id, body).await
        }
        Endpoint::AbortMultipartUpload { upload_id } => multipart::abort(gw, ctx, &upload_id).await,
        Endpoint::ListParts(params) => multipart::list_parts(gw, ctx, &params).await,
    }
}

/// Who sent a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// A request with a valid signature (the owner).
    Signed,
    /// An unsigned GET or HEAD of an object, not yet allowed: the object's handler must call
    /// [`crate::acl::check_anonymous_read`] before it reveals anything about the object.
    Anonymous,
}

/// Verifies the request's signature. An unsigned request is refused unless it is a GET or HEAD
/// of an object (`Caller::Anonymous`, for the ACLs to decide); a bad signature is refused always.
fn authenticate(gw: &Gateway, ctx: &RequestContext, endpoint: &Result<Endpoint>) -> Result<Caller> {
    let req = SignedRequest {
        method: ctx.method.as_str(),
        path: &ctx.target.path,
        query: &ctx.target.query,
        headers: &ctx.headers,
        host: &ctx.target.host,
        bucket_in_host: crate::route::bucket_from_host(&ctx.target.host).is_some(),
    };
    match verify(&gw.creds, &req, now_secs(), gw.max_signature_age)? {
        Signed::Yes => Ok(Caller::Signed),
        Signed::Anonymous => match endpoint {
            Ok(Endpoint::GetObject { .. } | Endpoint::HeadObject { .. }) => Ok(Caller::Anonymous),
            _ => Err(crate::acl::anonymous_denied()),
        },
    }
}

/// SSE-C over plain HTTP is refused unless `--allow-ssec-over-http`.
/// Whether a header (or POST form field) name carries SSE-C material (case-insensitive).
pub(crate) fn is_ssec_name(name: &str) -> bool {
    let k = name.to_ascii_lowercase();
    k.starts_with("x-cos-server-side-encryption-customer-")
        || k.starts_with("x-cos-copy-source-server-side-encryption-customer-")
}

fn check_ssec_transport(gw: &Gateway, ctx: &RequestContext) -> Result<()> {
    if ctx.tls || gw.allow_ssec_over_http {
        return Ok(());
    }
    if ctx.headers.keys().any(|k| is_ssec_name(k.as_str())) {
        return Err(Error::InvalidRequest(
            "SSE-C requests must be sent over HTTPS (start the gateway with TLS, or with \
             --allow-ssec-over-http for tests)"
                .into(),
        ));
    }
    Ok(())
}

/// `Content-MD5`: absent, or base64 of 16 bytes (else `InvalidDigest`).
pub fn content_md5(ctx: &RequestContext) -> Result<Option<[u8; 16]>> {
    use base64::Engine as _;
    let Some(v) = ctx.headers.get("content-md5") else {
        return Ok(None);
    };
    let v = v.to_str().map_err(|_| Error::InvalidDigest)?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(v.trim())
        .map_err(|_| Error::InvalidDigest)?;
    raw.try_into().map(Some).map_err(|_| Error::InvalidDigest)
}

/// A small request document (bucket encryption, DELETE Multiple Objects) read whole, up to
/// `limit` bytes, and checked against `Content-MD5`: required when `md5_required` (else
/// `InvalidRequest`), checked when given (`BadDigest`, `InvalidDigest`).
pub(crate) async fn read_checked_document(
    ctx: &RequestContext,
    body: &mut crate::body::RequestBodySlot,
    limit: usize,
    md5_required: bool,
) -> Result<Vec<u8>> {
    let expected = content_md5(ctx)?;
    if md5_required && expected.is_none() {
        return Err(Error::InvalidRequest(
            "Missing required header for this request: Content-MD5".into(),
        ));
    }
    let document = crate::body::read_small_body(body, limit).await?;
    if expected.is_some() {
        use md5::Digest as _;
        crate::body::check_md5(expected, Some(md5::Md5::digest(&document).into()))?;
    }
    Ok(document)
}

/// A fresh ETag for an encrypted body: unique per write, not an MD5 of the plaintext (COS: "the
/// ETag of an encrypted object is not necessarily its MD5"; an MD5 would also confirm guesses of an
/// SSE-C object's content).
pub fn random_etag() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Whether an object keeps the header (or POST form field) `lower_name` and returns it on GET/HEAD.
pub fn is_kept_meta(lower_name: &str) -> bool {
    const KEPT: &[&str] = &[
        "content-type",
        "cache-control",
        "content-disposition",
        "content-encoding",
        "content-language",
        "expires",
    ];
    KEPT.contains(&lower_name) || lower_name.starts_with("x-cos-meta-")
}

/// The request headers an object keeps and returns on GET/HEAD.
pub fn meta_from_headers(headers: &HeaderMap) -> Meta {
    let mut out = Vec::new();
    for (name, value) in headers {
        let n = name.as_str();
        if is_kept_meta(n)
            && let Ok(v) = value.to_str()
        {
            out.push((n.to_owned(), v.to_owned()));
        }
    }
    out
}

/// `If-Match`, `If-None-Match`, `If-Modified-Since`, `If-Unmodified-Since` (with `prefix`
/// `x-cos-copy-source-` for a copy source). On GET/HEAD a failed `If-None-Match` /
/// `If-Modified-Since` is 304 (carrying `etag` and `modified`, as the 200 would); on a copy source
/// every failure is 412.
pub fn check_conditions(
    headers: &HeaderMap,
    prefix: &str,
    etag: &str,
    modified: i64,
    read: bool,
) -> Result<()> {
    let get = |n: &str| {
        headers
            .get(format!("{prefix}{n}").as_str())
            .and_then(|v| v.to_str().ok())
    };
    let matches = |list: &str| {
        list.split(',')
            .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
            .any(|t| t == "*" || t == etag)
    };
    let date = |s: &str| {
        httpdate::parse_http_date(s).ok().map(|t| {
            t.duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        })
    };
    let if_match = get("if-match");
    if let Some(m) = if_match
        && !matches(m)
    {
        return Err(Error::PreconditionFailed);
    }
    if if_match.is_none()
        && let Some(d) = get("if-unmodified-since").and_then(date)
        && modified > d
    {
        return Err(Error::PreconditionFailed);
    }
    let not_modified = if read {
        Error::NotModified {
            etag: etag.to_owned(),
            modified,
        }
    } else {
        Error::PreconditionFailed
    };
    let if_none = get("if-none-match");
    if let Some(m) = if_none
        && matches(m)
    {
        return Err(not_modified);
    }
    if if_none.is_none()
        && let Some(d) = get("if-modified-since").and_then(date)
        && modified <= d
    {
        return Err(not_modified);
    }
    Ok(())
}

/// Parses `bytes=a-b`, `bytes=a-`, `bytes=-n` against `size`: `Ok(None)` for no (or an ignorable)
/// header, `InvalidRange` when unsatisfiable.
pub fn parse_range(value: Option<&str>, size: u64) -> Result<Option<std::ops::Range<u64>>> {
    let Some(v) = value else { return Ok(None) };
    let Some(spec) = v.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None); // multiple ranges: serve the whole object, as S3 does
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        let Ok(n) = b.parse::<u64>() else {
            return Ok(None);
        };
        if n == 0 || size == 0 {
            return Err(Error::InvalidRange);
        }
        size.saturating_sub(n)..size
    } else {
        let Ok(start) = a.parse::<u64>() else {
            return Ok(None);
        };
        let end = if b.is_empty() {
            size
        } else {
            match b.parse::<u64>() {
                Ok(e) if e >= start => e.saturating_add(1).min(size),
                _ => return Ok(None),
            }
        };
        if start >= size {
            return Err(Error::InvalidRange);
        }
        start..end
    };
    Ok(Some(range))
}

/// `x-cos-copy-source-range`: strictly `bytes=first-last` with `first <= last < size`; anything
/// else (another form, a number that does not fit, a range past the source) is `InvalidArgument`,
/// never a silent copy of the whole source.
pub fn parse_copy_range(value: Option<&str>, size: u64) -> Result<Option<std::ops::Range<u64>>> {
    let Some(v) = value else { return Ok(None) };
    let bad = || {
        Error::InvalidArgument(format!(
            "x-cos-copy-source-range must be bytes=first-last within the source of size {size}"
        ))
    };
    let (a, b) = v
        .trim()
        .strip_prefix("bytes=")
        .and_then(|spec| spec.split_once('-'))
        .ok_or_else(bad)?;
    let num = |s: &str| {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse::<u64>().ok()
    };
    match (num(a), num(b)) {
        (Some(first), Some(last)) if first <= last && last < size => Ok(Some(first..last + 1)),
        _ => Err(bad()),
    }
}

/// A copy source: bucket, key and the version named (`?versionId=`, checked), if any.
pub type CopySourceName = (String, String, Option<String>);

/// `x-cos-copy-source`: `<bucket>.cos.<region>.myqcloud.com/<url-encoded key>[?versionId=..]` or
/// `/<bucket>/<key>[?versionId=..]`. Any query but one `versionId` is `InvalidArgument`, and so
/// is a version id that cannot name a version.
pub fn parse_copy_source(value: &str) -> Result<CopySourceName> {
    let bad = || Error::InvalidArgument("x-cos-copy-source is malformed".into());
    let v = value.trim();
    let v = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"))
        .unwrap_or(v);
    let (v, version) = match v.split_once('?') {
        None => (v, None),
        Some((path, query)) => {
            let id = query.strip_prefix("versionId=").ok_or_else(bad)?;
            let id = crate::wire::decode(id).map_err(|_| bad())?;
            crate::store::versions::check_version_id(&id)?;
            (path, Some(id))
        }
    };
    let (bucket, key) = if let Some(rest) = v.strip_prefix('/') {
        rest.split_once('/').ok_or_else(bad)?
    } else {
        let (host, key) = v.split_once('/').ok_or_else(bad)?;
        (crate::route::bucket_from_host(host).ok_or_else(bad)?, key)
    };
    let key = crate::wire::decode(key).map_err(|_| bad())?;
    if key.is_empty() || !crate::route::valid_bucket(bucket) {
        return Err(bad());
    }
    Ok((bucket.to_owned(), key, version))
}

/// Now, unix seconds.
pub fn now() -> i64 {
    now_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(Some("bytes=0-9"), 100).unwrap(), Some(0..10));
        assert_eq!(parse_range(Some("bytes=90-"), 100).unwrap(), Some(90..100));
        assert_eq!(parse_range(Some("bytes=-10"), 100).unwrap(), Some(90..100));
        assert_eq!(
            parse_range(Some("bytes=95-200"), 100).unwrap(),
            Some(95..100)
        );
        assert_eq!(parse_range(None, 100).unwrap(), None);
        assert_eq!(parse_range(Some("items=1-2"), 100).unwrap(), None);
        assert_eq!(parse_range(Some("bytes=5-2"), 100).unwrap(), None);
        // An end of u64::MAX is clamped to the size, not wrapped.
        assert_eq!(
            parse_range(Some("bytes=5-18446744073709551615"), 100).unwrap(),
            Some(5..100)
        );
        let e = parse_range(Some("bytes=100-"), 100).unwrap_err();
        assert_eq!((e.code(), e.status().as_u16()), ("InvalidRange", 416));
    }

    #[test]
    fn copy_ranges() {
        assert_eq!(parse_copy_range(None, 10).unwrap(), None);
        assert_eq!(parse_copy_range(Some("bytes=3-6"), 10).unwrap(), Some(3..7));
        assert_eq!(
            parse_copy_range(Some("bytes=0-9"), 10).unwrap(),
            Some(0..10)
        );
        for bad in [
            "bytes=5-18446744073709551615",
            "bytes=0-18446744073709551616",
            "bytes=0-10",
            "bytes=10-10",
            "bytes=6-3",
            "bytes=-3",
            "bytes=3-",
            "bytes=+1-2",
            "bytes=1-2,4-5",
            "items=1-2",
            "garbage",
        ] {
            let e = parse_copy_range(Some(bad), 10).unwrap_err();
            assert_eq!(
                (e.code(), e.status().as_u16()),
                ("InvalidArgument", 400),
                "{bad}"
            );
        }
    }

    #[test]
    fn copy_sources() {
        assert_eq!(
            parse_copy_source("b-125.cos.ap-beijing.myqcloud.com/a%20b/c.txt").unwrap(),
            ("b-125".to_owned(), "a b/c.txt".to_owned(), None)
        );
        assert_eq!(
            parse_copy_source("/b-125/k?versionId=null").unwrap(),
            ("b-125".to_owned(), "k".to_owned(), Some("null".to_owned()))
        );
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            parse_copy_source(&format!(
                "b-125.cos.ap-beijing.myqcloud.com/k?versionId={id}"
            ))
            .unwrap(),
            ("b-125".to_owned(), "k".to_owned(), Some(id.to_owned()))
        );
        for bad in [
            "nohost",
            "b.example.com/k",
            "/b-1/",
            "",
            "/b-125/k?versionId=1",
            "/b-125/k?versionId=",
            "/b-125/k?acl",
            "/b-125/k?versionId=null&x=1",
        ] {
            let e = parse_copy_source(bad).unwrap_err();
            assert_eq!(
                (e.code(), e.status().as_u16()),
                ("InvalidArgument", 400),
                "{bad}"
            );
        }
    }

    #[test]
    fn conditions() {
        let mut h = HeaderMap::new();
        assert!(check_conditions(&h, "", "abc", 100, true).is_ok());
        crate::wire::set(&mut h, "if-match", "\"xyz\"");
        let e = check_conditions(&h, "", "abc", 100, true).unwrap_err();
        assert_eq!((e.code(), e.status().as_u16()), ("PreconditionFailed", 412));
        let mut h = HeaderMap::new();
        crate::wire::set(&mut h, "if-none-match", "\"abc\"");
        assert_eq!(
            check_conditions(&h, "", "abc", 100, true)
                .unwrap_err()
                .status(),
            304
        );
        let mut h = HeaderMap::new();
        crate::wire::set(&mut h, "x-cos-copy-source-if-none-match", "\"abc\"");
        assert_eq!(
            check_conditions(&h, "x-cos-copy-source-", "abc", 100, false)
                .unwrap_err()
                .code(),
            "PreconditionFailed"
        );
        let mut h = HeaderMap::new();
        crate::wire::set(&mut h, "if-modified-since", &crate::wire::http_date(200));
        assert_eq!(
            check_conditions(&h, "", "abc", 100, true)
                .unwrap_err()
                .status(),
            304
        );
        let mut h = HeaderMap::new();
        crate::wire::set(&mut h, "if-unmodified-since", &crate::wire::http_date(50));
        assert_eq!(
            check_conditions(&h, "", "abc", 100, true)
                .unwrap_err()
                .status(),
            412
        );
    }
}
