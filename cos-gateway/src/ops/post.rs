//! POST Object: a browser form upload (`multipart/form-data`) signed by a policy (`docs/cos-kms-spec.md` §5).
//!
//! Fields: `key` (may contain `${filename}`), `policy` (base64 JSON), `q-sign-algorithm`, `q-ak`,
//! `q-key-time`, `q-signature`, optional `Content-Type`, `success_action_status`, `x-cos-meta-*`,
//! and the SSE fields (the same names as the headers, spec §1.3). `file` comes last, as COS
//! requires; fields after it are ignored (COS and S3 do the same). The policy's `expiration` and
//! its conditions (`{"field": "v"}`, `["eq", "$field", "v"]`, `["starts-with", "$field",
//! "prefix"]`, `["content-length-range", min, max]`) are enforced; any other condition is
//! `400 InvalidPolicyDocument`, never silently skipped.
//!
//! Field names compare case-insensitively, and each may be given once: a second `key`, `Key`,
//! `Content-Type` or SSE field is `400 InvalidArgument`, so the policy and the write always read
//! the same value. The bucket is the request's: a `bucket` field must name that same bucket (the
//! policy's `bucket` condition is checked against the request's bucket), it never chooses one.
//!
//! # Streaming
//!
//! The form is anonymous until its signature is checked, so nothing of it may cost more than a
//! bounded buffer before then. It is parsed as it arrives ([`multer`]): the fields before `file`
//! are held in memory, at most [`MAX_FORM_FIELDS`] bytes of the body (part headers included;
//! more is `400 MaxPostPreDataLengthExceeded`), and the signature, the SSE-C transport rule and
//! every policy condition are checked on them before a byte of the file is read. The file then
//! streams through `object::write_body` like a PUT body, checked against the policy's
//! `content-length-range` as it passes: past the maximum the upload stops at once with
//! `EntityTooLarge`; under the minimum it ends with `EntityTooSmall` before the body is committed.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures::{Stream, TryStreamExt as _};
use http::{HeaderValue, StatusCode};
use storage_adapter::sse;

use super::now;
use super::object::{bucket_default, write_body};
use crate::auth::Credentials;
use crate::body::{ByteStream, RequestBodySlot, body_stream, take_body};
use crate::context::RequestContext;
use crate::error::{Error, Result};
use crate::state::Gateway;
use crate::store::Object;
use crate::wire::{Response, set, set_sse, status_response, xml_response};

/// The most bytes of the body read before the `file` part starts: the other fields and every
/// part's headers. They are held in memory, unauthenticated until the policy is checked.
pub const MAX_FORM_FIELDS: usize = 1 << 20;

fn malformed(detail: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!("malformed multipart/form-data: {detail}"))
}

/// Maps a form parsing error: a failure of the body itself keeps its code (a body timeout, the
/// fields budget); anything else is a malformed form.
fn form_error(e: multer::Error) -> Error {
    match e {
        multer::Error::StreamReadFailed(inner) => match inner.downcast::<std::io::Error>() {
            Ok(io) => Error::from(*io),
            Err(other) => Error::internal(format!("reading the form: {other}")),
        },
        other => malformed(other),
    }
}

/// The body as multer reads it: until the file part starts, no more chunks once
/// [`MAX_FORM_FIELDS`] bytes were read; and one chunk per poll, because multer appends everything
/// its input has ready to its buffer (so the file's bytes pass through one chunk at a time).
struct FormInput {
    inner: ByteStream,
    read: usize,
    file_started: Arc<AtomicBool>,
    yield_first: bool,
}

impl Stream for FormInput {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if std::mem::take(&mut self.yield_first) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if self.read > MAX_FORM_FIELDS && !self.file_started.load(Ordering::Acquire) {
            return Poll::Ready(Some(Err(std::io::Error::other(
                Error::MaxPostPreDataLengthExceeded,
            ))));
        }
        let item = ready!(self.inner.as_mut().poll_next(cx));
        if let Some(Ok(chunk)) = &item {
            self.read = self.read.saturating_add(chunk.len());
            self.yield_first = true;
        }
        Poll::Ready(item)
    }
}

/// A policy's `content-length-range`: the file's size must be within `min..=max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LengthRange {
    /// The smallest size accepted.
    pub min: u64,
    /// The largest size accepted.
    pub max: u64,
}

impl Default for LengthRange {
    /// Without a `content-length-range`: any size up to COS's limit for one upload.
    fn default() -> Self {
        Self {
            min: 0,
            max: crate::limits::MAX_OBJECT_SIZE,
        }
    }
}

/// The file part, checked against a [`LengthRange`] as it streams: past `max` it fails with
/// `EntityTooLarge` at once, under `min` it fails at its end (so the body is never committed).
struct FileLength {
    inner: ByteStream,
    range: LengthRange,
    seen: u64,
    failed: bool,
}

impl Stream for FileLength {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.failed {
            return Poll::Ready(None);
        }
        let item = ready!(self.inner.as_mut().poll_next(cx));
        let fail = |me: &mut Self, e: Error| {
            me.failed = true;
            Poll::Ready(Some(Err(std::io::Error::other(e))))
        };
        match item {
            Some(Ok(chunk)) => {
                self.seen = self.seen.saturating_add(chunk.len() as u64);
                if self.seen > self.range.max {
                    return fail(&mut self, Error::EntityTooLarge);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            None if self.seen < self.range.min => fail(&mut self, Error::EntityTooSmall),
            Some(Err(e)) => {
                self.failed = true;
                Poll::Ready(Some(Err(e)))
            }
            None => Poll::Ready(None),
        }
    }
}

fn text<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The form's fields before the file, each under its lower-case name and given once: the one
/// value the policy checks is the one the write uses. A name given twice, in any case (`key` and
/// `Key`), is `400 InvalidArgument` naming the field, never "first one" for one reader and "last
/// one" for another.
#[derive(Default)]
pub(crate) struct FormFields(Vec<(String, String)>);

impl FormFields {
    fn insert(&mut self, name: &str, value: String) -> Result<()> {
        let name = name.to_ascii_lowercase();
        if self.0.iter().any(|(k, _)| *k == name) {
            return Err(Error::InvalidArgument(format!(
                "the form field {name} is given more than once"
            )));
        }
        self.0.push((name, value));
        Ok(())
    }

    fn get(&self, name: &str) -> Option<&str> {
        text(&self.0, name)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// What the policy is checked against: these fields, with `bucket` the request's bucket (a
    /// `bucket` field must name that same bucket) and `key` the key the object is written under.
    fn policy_values(&self, bucket: &str, key: &str) -> Result<Vec<(String, String)>> {
        if let Some(named) = self.get("bucket")
            && named != bucket
        {
            return Err(Error::InvalidArgument(format!(
                "the form field bucket names {named:?}, not the bucket the form is posted to"
            )));
        }
        let mut values: Vec<(String, String)> = self
            .0
            .iter()
            .filter(|(k, _)| k != "bucket" && k != "key")
            .cloned()
            .collect();
        values.push(("bucket".into(), bucket.to_owned()));
        values.push(("key".into(), key.to_owned()));
        Ok(values)
    }
}

/// Checks the policy document against the form fields (with `bucket` and the final `key`), all
/// but the file's length: returns its `content-length-range`, checked as the file streams.
fn check_policy(policy: &serde_json::Value, form: &[(String, String)]) -> Result<LengthRange> {
    let invalid = |m: String| Error::InvalidPolicyDocument(m);
    let denied = |m: String| Error::AccessDenied(m);
    let exp = crate::auth::post_policy::expiration(policy)?;
    if now() > exp {
        return Err(denied("post object request has been expired".into()));
    }
    let get = |name: &str| text(form, name.trim_start_matches('$'));
    let conditions = match policy.get("conditions") {
        None => &Vec::new(),
        Some(c) => c
            .as_array()
            .ok_or_else(|| invalid("conditions must be a list".into()))?,
    };
    let mut range = LengthRange::default();
    for c in conditions {
        if let Some(obj) = c.as_object() {
            for (k, v) in obj {
                let want = v
                    .as_str()
                    .ok_or_else(|| invalid(format!("condition {k} must be a string")))?;
                if get(k) != Some(want) {
                    return Err(denied(format!("Condition {k} doesn't match the policy")));
                }
            }
            continue;
        }
        let arr = c
            .as_array()
            .ok_or_else(|| invalid(format!("a condition must be an object or a list: {c}")))?;
        let op = arr
            .first()
            .and_then(|o| o.as_str())
            .ok_or_else(|| invalid(format!("a condition has no operator: {c}")))?
            .to_ascii_lowercase();
        if arr.len() != 3 {
            return Err(invalid(format!("condition {op} takes two operands: {c}")));
        }
        match op.as_str() {
            "eq" | "starts-with" => {
                let (Some(name), Some(want)) = (arr[1].as_str(), arr[2].as_str()) else {
                    return Err(invalid(format!("condition {op} takes two strings: {c}")));
                };
                let got = get(name).unwrap_or_default();
                let ok = if op == "eq" {
                    got == want
                } else {
                    got.starts_with(want)
                };
                if !ok {
                    return Err(denied(format!(
                        "Condition {} doesn't match the policy",
                        name.trim_start_matches('$')
                    )));
                }
            }
            "content-length-range" => {
                let bound = |v: &serde_json::Value| {
                    v.as_u64()
                        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                };
                let (Some(min), Some(max)) = (bound(&arr[1]), bound(&arr[2])) else {
                    return Err(invalid(format!(
                        "content-length-range takes two sizes: {c}"
                    )));
                };
                if min > max {
                    return Err(invalid(format!("content-length-range is empty: {c}")));
                }
                range.min = range.min.max(min);
                range.max = range.max.min(max);
            }
            _ => return Err(invalid(format!("unknown condition operator {op:?}"))),
        }
    }
    Ok(range)
}

/// What a form is checked against besides itself: the gateway's credentials and SSE-C transport
/// rule, the bucket it is posted to, and the time.
pub(crate) struct FormRules<'a> {
    pub(crate) creds: &'a Credentials,
    pub(crate) bucket: &'a str,
    /// Whether the form came over TLS, or SSE-C over plain HTTP is allowed.
    pub(crate) ssec_allowed: bool,
    pub(crate) now: i64,
    pub(crate) max_signature_age: std::time::Duration,
}

/// A form read up to its file and checked: the signature, the SSE-C transport rule, the policy and
/// the SSE fields. Not a byte of the file has been read.
pub(crate) struct CheckedForm {
    pub(crate) fields: FormFields,
    /// The key the object is written under (`${filename}` replaced).
    pub(crate) key: String,
    /// The SSE the fields ask for (before the bucket default).
    pub(crate) request: Option<sse::SseRequest>,
    /// The file part's own `Content-Type`.
    pub(crate) file_type: Option<String>,
    /// The file, checked against the policy's `content-length-range` as it streams.
    pub(crate) file: ByteStream,
}

/// Reads a `multipart/form-data` body (boundary in `content_type`) up to its file and checks it
/// against `rules`: what POST Object does before it writes anything.
pub(crate) async fn read_form(
    content_type: &str,
    body: ByteStream,
    rules: &FormRules<'_>,
) -> Result<CheckedForm> {
    use base64::Engine as _;
    let boundary = multer::parse_boundary(content_type).map_err(malformed)?;
    let file_started = Arc::new(AtomicBool::new(false));
    let mut form = multer::Multipart::new(
        FormInput {
            inner: body,
            read: 0,
            file_started: Arc::clone(&file_started),
            yield_first: false,
        },
        boundary,
    );
    // The fields before the file (bounded by FormInput), then the file part, still unread.
    let mut fields = FormFields::default();
    let file = loop {
        let field = form
            .next_field()
            .await
            .map_err(form_error)?
            .ok_or_else(|| Error::InvalidArgument("the form has no file field".into()))?;
        let name = field
            .name()
            .map(str::to_owned)
            .ok_or_else(|| malformed("a part has no name"))?;
        if name == "file" {
            file_started.store(true, Ordering::Release);
            break field;
        }
        let value = field.bytes().await.map_err(form_error)?;
        fields.insert(&name, String::from_utf8_lossy(&value).into_owned())?;
    };
    // SSE-C material (any customer-key field) never travels in clear, whatever the policy says.
    if !rules.ssec_allowed && fields.iter().any(|(k, _)| super::is_ssec_name(k)) {
        return Err(Error::InvalidRequest(
            "SSE-C requests must be sent over HTTPS".into(),
        ));
    }
    // The signature.
    let need = |n: &str| {
        fields
            .get(n)
            .ok_or_else(|| Error::AccessDenied(format!("the form has no {n} field")))
    };
    let policy_b64 = need("policy")?;
    if !need("q-sign-algorithm")?.eq_ignore_ascii_case("sha1") {
        return Err(Error::AccessDenied("q-sign-algorithm must be sha1".into()));
    }
    crate::auth::verify_post_policy(
        rules.creds,
        need("q-ak")?,
        need("q-key-time")?,
        policy_b64,
        need("q-signature")?,
        (rules.now, rules.max_signature_age),
    )?;
    let policy: serde_json::Value = base64::engine::general_purpose::STANDARD
        .decode(policy_b64.trim())
        .ok()
        .and_then(|p| serde_json::from_slice(&p).ok())
        .ok_or_else(|| Error::InvalidPolicyDocument("the policy is not base64 JSON".into()))?;
    let mut key = fields
        .get("key")
        .filter(|k| !k.is_empty())
        .ok_or_else(|| Error::InvalidArgument("the form has no key field".into()))?
        .to_owned();
    if let Some(name) = file.file_name() {
        key = key.replace("${filename}", name);
    }
    if key.is_empty() {
        // `key=${filename}` with no file chosen: an object named "" could never be listed,
        // read or deleted, and would keep its bucket from being deleted.
        return Err(Error::InvalidArgument(
            "the form's key is empty once ${filename} is replaced".into(),
        ));
    }
    let range = check_policy(&policy, &fields.policy_values(rules.bucket, &key)?)?;
    // SSE from the form fields.
    let request = sse::parse_post_form(fields.iter())?;
    let file_type = file.content_type().map(ToString::to_string);
    let file: ByteStream = Box::pin(FileLength {
        inner: Box::pin(file.map_err(|e| std::io::Error::other(form_error(e)))),
        range,
        seen: 0,
        failed: false,
    });
    Ok(CheckedForm {
        fields,
        key,
        request,
        file_type,
        file,
    })
}

/// POST Object.
pub async fn post_object(
    gw: &Gateway,
    ctx: &RequestContext,
    body: &mut RequestBodySlot,
) -> Result<Response> {
    let rules = FormRules {
        creds: &gw.creds,
        bucket: ctx.bucket(),
        ssec_allowed: ctx.tls || gw.allow_ssec_over_http,
        now: now(),
        max_signature_age: gw.max_signature_age,
    };
    let CheckedForm {
        fields,
        key,
        request,
        file_type,
        file,
    } = read_form(
        ctx.header("content-type").unwrap_or_default(),
        body_stream(take_body(body)?),
        &rules,
    )
    .await?;
    let default = bucket_default(gw, ctx.bucket()).await?;
    let request = super::object::write_request(gw, request, default.as_ref());
    // Only now is the file read: straight from the socket into the body writer.
    let name = storage_adapter::ObjectName::new(ctx.bucket(), &key);
    let tags = fields
        .get("x-cos-tagging")
        .map(crate::tagging::parse_header)
        .transpose()?
        .unwrap_or_default();
    let storage_class = fields
        .get(crate::storage_class::HEADER)
        .map(crate::storage_class::StorageClass::parse)
        .transpose()?
        .unwrap_or_default();
    // COS's form field is `acl`; `x-cos-acl` and the `x-cos-grant-*` fields are read as well.
    let acl = crate::acl::from_fields(
        |n| {
            fields.get(n).or_else(|| {
                (n == crate::acl::HEADER)
                    .then(|| fields.get("acl"))
                    .flatten()
            })
        },
        crate::acl::Level::Object,
    )?;
    let w = write_body(gw, request.as_ref(), name, file, None).await?;
    let mut meta: Vec<(String, String)> = fields
        .iter()
        .filter(|(k, _)| super::is_kept_meta(k))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    if !meta.iter().any(|(k, _)| k == "content-type")
        && let Some(ct) = file_type
    {
        meta.push(("content-type".into(), ct));
    }
    let obj = Object {
        size: w.size,
        etag: w.etag.clone(),
        modified: now(),
        meta,
        envelope: w.envelope,
        files: vec![w.file],
        tags,
        storage_class,
        restore: None,
        acl,
        version_id: None,
    };
    let customer = request.as_ref().and_then(|r| r.customer_key());
    let echo = obj.envelope.as_ref().map(|e| e.response_headers(customer));
    let version = gw.store.put_object(ctx.bucket(), &key, obj).await?;
    let location = format!(
        "{}://{}/{}",
        if ctx.tls { "https" } else { "http" },
        ctx.target.host,
        key
    );
    let status = fields.get("success_action_status").unwrap_or_default();
    let mut r = match status {
        "200" => status_response(StatusCode::OK),
        "201" => xml_response(
            StatusCode::CREATED,
            crate::documents::to_xml(
                "PostResponse",
                &crate::documents::PostResponse {
                    location: &location,
                    bucket: ctx.bucket(),
                    key: &key,
                    etag: format!("\"{}\"", w.etag),
                },
            )?,
        ),
        _ => status_response(StatusCode::NO_CONTENT),
    };
    let created = r.status() == StatusCode::CREATED;
    let h = r.headers_mut();
    set(h, "etag", &format!("\"{}\"", w.etag));
    set(h, "location", &location);
    if !created {
        h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(0));
    }
    if let Some(echo) = echo {
        set_sse(h, echo);
    }
    super::versioning::set_version(h, version.as_deref());
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt as _;

    fn chunks(parts: Vec<&'static [u8]>) -> ByteStream {
        Box::pin(futures::stream::iter(
            parts.into_iter().map(|p| Ok(Bytes::from_static(p))),
        ))
    }

    async fn collect(s: impl Stream<Item = std::io::Result<Bytes>>) -> Result<Vec<u8>> {
        let mut s = std::pin::pin!(s);
        let mut out = Vec::new();
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c?);
        }
        Ok(out)
    }

    #[test]
    fn policy_conditions() {
        let form = vec![
            ("bucket".to_owned(), "b-1".to_owned()),
            ("key".to_owned(), "uploads/x".to_owned()),
        ];
        let ok = serde_json::json!({"expiration": "2999-01-01T00:00:00.000Z", "conditions": [
            {"bucket": "b-1"}, ["starts-with", "$key", "uploads/"], ["content-length-range", 1, 10]]});
        assert_eq!(
            check_policy(&ok, &form).unwrap(),
            LengthRange { min: 1, max: 10 }
        );
        // Two ranges: both hold. Sizes as strings are accepted.
        let two = serde_json::json!({"expiration": "2999-01-01T00:00:00.000Z", "conditions": [
            ["content-length-range", 1, 10], ["content-length-range", "5", "20"]]});
        assert_eq!(
            check_policy(&two, &form).unwrap(),
            LengthRange { min: 5, max: 10 }
        );
        let wrong = serde_json::json!({"expiration": "2999-01-01T00:00:00.000Z", "conditions": [
            ["eq", "$key", "other"]]});
        let e = check_policy(&wrong, &form).unwrap_err();
        assert_eq!((e.code(), e.status().as_u16()), ("AccessDenied", 403));
        let expired =
            serde_json::json!({"expiration": "2001-01-01T00:00:00.000Z", "conditions": []});
        let e = check_policy(&expired, &form).unwrap_err();
        assert_eq!((e.code(), e.status().as_u16()), ("AccessDenied", 403));
        assert!(e.message().contains("expired"));
    }

    #[test]
    fn conditions_that_cannot_be_checked_are_refused() {
        let form = vec![("key".to_owned(), "k".to_owned())];
        for conditions in [
            serde_json::json!([["in", "$key", ["k"]]]),
            serde_json::json!([["not-eq", "$key", "x"]]),
            serde_json::json!([["eq", "$key"]]),
            serde_json::json!([["eq", "$key", 1]]),
            serde_json::json!([["starts-with", "$key", "k", "extra"]]),
            serde_json::json!([["content-length-range", 10, 1]]),
            serde_json::json!([["content-length-range", -1, 10]]),
            serde_json::json!([["content-length-range", "a", 10]]),
            serde_json::json!([{"key": 1}]),
            serde_json::json!([[]]),
            serde_json::json!(["key"]),
            serde_json::json!({"key": "k"}),
        ] {
            let policy = serde_json::json!({"expiration": "2999-01-01T00:00:00.000Z",
                "conditions": conditions});
            let e = check_policy(&policy, &form).unwrap_err();
            assert_eq!(
                (e.code(), e.status().as_u16()),
                ("InvalidPolicyDocument", 400),
                "{policy}"
            );
        }
        let no_expiration = serde_json::json!({"conditions": []});
        let e = check_policy(&no_expiration, &form).unwrap_err();
        assert_eq!(
            (e.code(), e.status().as_u16()),
            ("InvalidPolicyDocument", 400)
        );
    }

    #[tokio::test]
    async fn the_file_length_is_checked_as_it_streams() {
        let file = |parts, min, max| FileLength {
            inner: chunks(parts),
            range: LengthRange { min, max },
            seen: 0,
            failed: false,
        };
        assert_eq!(
            collect(file(vec![b"ab", b"cd"], 4, 4)).await.unwrap(),
            b"abcd"
        );
        // Past the maximum: fails on the chunk that crosses it, nothing after.
        let mut s = file(vec![b"ab", b"cd", b"ef"], 0, 3);
        assert_eq!(&s.next().await.unwrap().unwrap()[..], b"ab");
        let e = Error::from(s.next().await.unwrap().unwrap_err());
        assert_eq!((e.code(), e.status().as_u16()), ("EntityTooLarge", 400));
        assert!(s.next().await.is_none());
        // Under the minimum: fails at the end, before the writer would commit.
        let e = collect(file(vec![b"ab"], 3, 10)).await.unwrap_err();
        assert_eq!((e.code(), e.status().as_u16()), ("EntityTooSmall", 400));
        let e = collect(file(vec![], 1, 10)).await.unwrap_err();
        assert_eq!(e.code(), "EntityTooSmall");
    }

    #[tokio::test]
    async fn fields_before_the_file_are_bounded() {
        let form = |value_len: usize| {
            let mut b = format!(
                "--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n{}\r\n",
                "v".repeat(value_len)
            );
            b.push_str("--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n");
            b.push_str(&"f".repeat(3 * MAX_FORM_FIELDS));
            b.push_str("\r\n--B--\r\n");
            Bytes::from(b)
        };
        // Reads the fields up to the file, then the whole file; chunks of 64 KiB.
        async fn read(body: Bytes) -> Result<(usize, usize)> {
            let started = Arc::new(AtomicBool::new(false));
            let input = FormInput {
                inner: Box::pin(storage_adapter::object::bytes_stream(body, 64 << 10)),
                read: 0,
                file_started: Arc::clone(&started),
                yield_first: false,
            };
            let mut m = multer::Multipart::new(input, "B");
            let mut fields = 0;
            loop {
                let f = m.next_field().await.map_err(form_error)?.unwrap();
                if f.name() == Some("file") {
                    started.store(true, Ordering::Release);
                    let file = f.bytes().await.map_err(form_error)?;
                    return Ok((fields, file.len()));
                }
                fields += f.bytes().await.map_err(form_error)?.len();
            }
        }
        let under = MAX_FORM_FIELDS - 200;
        assert_eq!(
            read(form(under)).await.unwrap(),
            (under, 3 * MAX_FORM_FIELDS)
        );
        let e = read(form(MAX_FORM_FIELDS + (128 << 10))).await.unwrap_err();
        assert_eq!(
            (e.code(), e.status().as_u16()),
            ("MaxPostPreDataLengthExceeded", 400)
        );
    }

    #[test]
    fn form_fields_are_given_once_in_any_case() {
        let mut f = FormFields::default();
        f.insert("Key", "uploads/x".into()).unwrap();
        f.insert("Content-Type", "text/plain".into()).unwrap();
        assert_eq!(f.get("key"), Some("uploads/x"));
        assert_eq!(f.get("content-type"), Some("text/plain"));
        for dup in ["key", "KEY", "Key"] {
            let e = f.insert(dup, "evil".into()).unwrap_err();
            assert_eq!((e.code(), e.status().as_u16()), ("InvalidArgument", 400));
            assert!(e.message().contains("form field key"), "{e}");
        }
        assert_eq!(f.get("key"), Some("uploads/x"));
        // The policy sees the request's bucket and the final key, whatever the fields say.
        let values = f.policy_values("b-1", "uploads/final").unwrap();
        assert_eq!(text(&values, "bucket"), Some("b-1"));
        assert_eq!(text(&values, "key"), Some("uploads/final"));
        assert_eq!(values.iter().filter(|(k, _)| k == "key").count(), 1);
        f.insert("Bucket", "b-2".into()).unwrap();
        let e = f.policy_values("b-1", "k").unwrap_err();
        assert_eq!((e.code(), e.status().as_u16()), ("InvalidArgument", 400));
        assert_eq!(
            text(&f.policy_values("b-2", "k").unwrap(), "bucket"),
            Some("b-2")
        );
    }

    #[test]
    fn malformed_forms_are_invalid_argument() {
        assert_eq!(malformed("x").code(), "InvalidArgument",);
        let e = form_error(multer::Error::IncompleteStream);
        assert_eq!((e.code(), e.status().as_u16()), ("InvalidArgument", 400));
        let e = form_error(multer::Error::StreamReadFailed(Box::new(
            std::io::Error::other(Error::RequestTimeout),
        )));
        assert_eq!(e.code(), "RequestTimeout");
    }
}
