//! PUT / GET / HEAD / DELETE Object and PUT Object - Copy.

use futures::{StreamExt as _, TryStreamExt as _};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::BodyExt as _;
use storage_adapter::{ObjectName, SseRequest, sse};

use super::stored_body::{DECRYPT_AHEAD, PLAIN_CHUNK, STORED_CHUNK, read_ahead, read_stored};
use super::{
    check_conditions, content_md5, meta_from_headers, now, parse_copy_source, parse_range,
    random_etag,
};
use crate::body::{ByteStream, Md5Tap, RequestBodySlot, body_stream, check_md5, take_body};
use crate::context::RequestContext;
use crate::error::{Error, Result};
use crate::state::Gateway;
use crate::storage_class::StorageClass;
use crate::store::{Meta, Object, ReadPin};
use crate::wire::{
    Response, empty, http_date, iso_date, set, set_sse, status_response, xml_response,
};

/// A body written to a durable file.
pub(crate) struct Written {
    pub file: String,
    pub size: u64,
    pub etag: String,
    pub envelope: Option<storage_adapter::Envelope>,
}

/// Streams `input` to a new body file: encrypted under `request` (SSE) or as is. The MD5 of the
/// plaintext is computed for an unencrypted body (its ETag) and whenever `expect_md5` is given
/// (`Content-MD5`, checked before the file is committed).
pub(crate) async fn write_body(
    gw: &Gateway,
    request: Option<&SseRequest>,
    name: ObjectName<'_>,
    input: ByteStream,
    expect_md5: Option<[u8; 16]>,
) -> Result<Written> {
    let tap = Md5Tap::new(request.is_none() || expect_md5.is_some());
    let input = tap.tap(input);
    let mut w = gw.store.writer().await?;
    let (size, envelope) = match request {
        None => {
            let mut input = input;
            while let Some(chunk) = input.next().await {
                w.write(&chunk?).await?;
            }
            (w.written(), None)
        }
        Some(req) => {
            let sealer = gw.adapter.begin_put(req, name).await?;
            let mut enc = sealer.encrypt_stream(input);
            while let Some(seg) = enc.next().await {
                w.write(&seg?).await?;
            }
            let size = enc.plain_size();
            (size, Some(enc.finish()?))
        }
    };
    let md5 = tap.finish();
    check_md5(expect_md5, md5)?;
    let etag = match (&envelope, md5) {
        (None, Some(m)) => hex::encode(m),
        _ => random_etag(),
    };
    let file = w.commit().await?;
    Ok(Written {
        file,
        size,
        etag,
        envelope,
    })
}

/// The bucket must exist; returns its default encryption.
pub(crate) async fn bucket_default(
    gw: &Gateway,
    bucket: &str,
) -> Result<Option<storage_adapter::BucketEncryption>> {
    Ok(gw.store.existing_bucket(bucket).await?.encryption)
}

/// What a write to a bucket asks of the adapter: the request's own SSE or else the bucket's
/// default, with SSE-KMS under a bucket key when the gateway (`--bucket-keys`) or the bucket's
/// encryption document (`<BucketKeyEnabled>`) says so, whichever way SSE-KMS was chosen.
pub(crate) fn write_request(
    gw: &Gateway,
    request: Option<SseRequest>,
    default: Option<&storage_adapter::BucketEncryption>,
) -> Option<SseRequest> {
    let bucket_key = gw.bucket_keys_everywhere || default.is_some_and(|d| d.bucket_key());
    sse::apply_bucket_default(request, default).map(|r| r.with_bucket_key(bucket_key))
}

/// PUT Object.
pub async fn put(
    gw: &Gateway,
    ctx: &RequestContext,
    body: &mut RequestBodySlot,
) -> Result<Response> {
    let request = sse::parse_write(&ctx.headers)?;
    let tags = request_tags(&ctx.headers)?;
    let storage_class = StorageClass::from_headers(&ctx.headers)?;
    let acl = crate::acl::from_headers(&ctx.headers, crate::acl::Level::Object)?;
    let expect_md5 = content_md5(ctx)?;
    if !ctx.headers.contains_key(http::header::CONTENT_LENGTH)
        && !ctx.headers.contains_key(http::header::TRANSFER_ENCODING)
    {
        return Err(Error::MissingContentLength);
    }
    // The body is taken first, so that a refusal drains it in the background rather than
    // before the response.
    let input = crate::body::capped(
        body_stream(take_body(body)?),
        crate::limits::MAX_OBJECT_SIZE,
    );
    crate::body::check_declared_length(&ctx.headers)?;
    let default = bucket_default(gw, ctx.bucket()).await?;
    let request = write_request(gw, request, default.as_ref());
    let w = write_body(gw, request.as_ref(), ctx.name(), input, expect_md5).await?;
    let obj = Object {
        size: w.size,
        etag: w.etag.clone(),
        modified: now(),
        meta: meta_from_headers(&ctx.headers),
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
    let version = gw
        .store
        .put_object(ctx.bucket(), &ctx.target.key, obj)
        .await?;
    let mut r = status_response(StatusCode::OK);
    let h = r.headers_mut();
    set(h, "etag", &format!("\"{}\"", w.etag));
    super::versioning::set_version(h, version.as_deref());
    h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(0));
    if let Some(echo) = echo {
        set_sse(h, echo);
    }
    Ok(r)
}

/// Sets the stored headers and the `response-*` overrides of GET (response header, value); SSE-C
/// echoes the MD5 of `customer`, the request's key (already checked against the object).
fn set_object_headers(
    h: &mut HeaderMap,
    overrides: &[(&'static str, String)],
    obj: &Object,
    customer: Option<&storage_adapter::CustomerKey>,
) {
    let mut has_type = false;
    for (k, v) in &obj.meta {
        has_type |= k == "content-type";
        set(h, k, v);
    }
    if !has_type {
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
    }
    for (name, value) in overrides {
        set(h, name, value);
    }
    set(h, "etag", &format!("\"{}\"", obj.etag));
    set(h, "last-modified", &http_date(obj.modified));
    h.insert(
        http::header::ACCEPT_RANGES,
        HeaderValue::from_static("bytes"),
    );
    if let Some(env) = &obj.envelope {
        set_sse(h, env.response_headers(customer));
    }
    if obj.storage_class != StorageClass::Standard {
        set(h, crate::storage_class::HEADER, obj.storage_class.as_str());
    }
    if let Some(restore) = crate::restore::State::at(obj.restore, now()).header() {
        set(h, crate::restore::HEADER, &restore);
    }
}

/// What a GET or HEAD Object asks for, from its endpoint.
#[derive(Clone, Copy, Debug)]
pub struct Read<'a> {
    /// The `response-*` overrides (response header, value).
    pub overrides: &'a [(&'static str, String)],
    /// `partNumber=N`.
    pub part_number: Option<u32>,
    /// `versionId` (checked).
    pub version_id: Option<&'a str>,
    /// HEAD: no body, and no KMS call for SSE-COS/KMS.
    pub head: bool,
}

/// GET and HEAD Object. An anonymous caller is let in only by [`crate::acl::check_anonymous_read`],
/// checked right after the row is read, before anything else about the object is looked at, and
/// never with `response-*` overrides.
pub async fn get(
    gw: &Gateway,
    ctx: &RequestContext,
    caller: super::Caller,
    read: Read<'_>,
) -> Result<Response> {
    let Read {
        overrides,
        part_number,
        version_id,
        head,
    } = read;
    if caller == super::Caller::Anonymous && !overrides.is_empty() {
        // COS: "if a response-* parameter is used, anonymous access is not supported and the
        // request must carry a signature" (anyone could otherwise restyle a public object).
        return Err(Error::AccessDenied(
            "Access Denied: a request with response-* parameters must be signed".into(),
        ));
    }
    let customer = sse::parse_read(&ctx.headers)?;
    if part_number.is_some() && ctx.header("range").is_some() {
        // S3's answer to both; COS documents none (a guess).
        return Err(Error::InvalidRequest(
            "Cannot specify both Range header and partNumber query parameter".into(),
        ));
    }
    // Pinned: an overwrite during the GET does not remove the files it is streaming.
    let found =
        super::versioning::object_to_read(gw, ctx.bucket(), &ctx.target.key, version_id).await?;
    let (obj, pin) = match found {
        Ok(o) => o,
        Err(missing) => {
            let bucket = gw.store.existing_bucket(ctx.bucket()).await?;
            // An anonymous caller learns that a key is missing only from a public bucket.
            if caller == super::Caller::Anonymous
                && !bucket
                    .acl
                    .as_ref()
                    .is_some_and(crate::acl::Acl::public_read)
            {
                return Err(crate::acl::anonymous_denied());
            }
            return Err(missing);
        }
    };
    if caller == super::Caller::Anonymous {
        let bucket = gw.store.bucket(ctx.bucket()).await?;
        crate::acl::check_anonymous_read(
            obj.acl.as_ref(),
            bucket.as_ref().and_then(|b| b.acl.as_ref()),
            obj.envelope.is_some(),
        )?;
    }
    // The key is checked before anything about the object is revealed. HEAD of an SSE-COS/KMS
    // object does not call the KMS (only the SSE-C key is checked, against its stored MD5).
    let opened = match &obj.envelope {
        Some(env) if !head || env.mode() == storage_adapter::SseMode::Customer => {
            Some(gw.adapter.open(env, ctx.name(), customer.as_ref()).await?)
        }
        Some(_) => {
            if customer.is_some() {
                return Err(storage_adapter::Error::CustomerKeyMismatch.into());
            }
            None
        }
        None => {
            if customer.is_some() {
                return Err(storage_adapter::Error::CustomerKeyMismatch.into());
            }
            None
        }
    };
    check_conditions(&ctx.headers, "", &obj.etag, obj.modified, true)?;
    if !head {
        crate::restore::check_readable(obj.storage_class, obj.restore, now())?;
    }
    let (range, parts_count) = match part_number {
        None => (parse_range(ctx.header("range"), obj.size)?, None),
        Some(n) => {
            let (range, count) = part_range(gw, &obj, n).await?;
            // The one part of an empty object is the whole (empty) object; an empty part of a
            // longer object (a 0-byte last part) is an empty body below, never the whole object.
            ((obj.size > 0).then_some(range), count)
        }
    };
    let mut r = Response::new(empty());
    let h = r.headers_mut();
    set_object_headers(h, overrides, &obj, customer.as_ref());
    super::versioning::set_version(
        h,
        super::versioning::read_version(&obj, version_id.is_some()),
    );
    if let Some(count) = parts_count {
        h.insert(PARTS_COUNT, HeaderValue::from(count));
    }
    if !obj.tags.is_empty() {
        h.insert(
            crate::tagging::TAGGING_COUNT,
            HeaderValue::from(obj.tags.len()),
        );
    }
    let len = match &range {
        Some(rg) if rg.is_empty() => 0,
        Some(rg) => {
            *r.status_mut() = StatusCode::PARTIAL_CONTENT;
            set(
                r.headers_mut(),
                "content-range",
                &format!("bytes {}-{}/{}", rg.start, rg.end - 1, obj.size),
            );
            rg.end - rg.start
        }
        None => obj.size,
    };
    r.headers_mut()
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    if head || len == 0 {
        return Ok(r);
    }
    let stream: ByteStream = match opened {
        Some(o) => {
            let plan = o.plan(range)?;
            let stored = read_stored(
                &gw.store,
                &obj.files,
                plan.stored_range(),
                STORED_CHUNK,
                pin,
            )
            .await?;
            // Decryption runs ahead on its own task, overlapping the socket writes.
            read_ahead(
                Box::pin(o.decrypt_stream(plan, stored).map_err(std::io::Error::from)),
                DECRYPT_AHEAD,
            )
        }
        None => {
            let range = range.unwrap_or(0..obj.size);
            read_stored(&gw.store, &obj.files, range, PLAIN_CHUNK, pin).await?
        }
    };
    *r.body_mut() =
        http_body_util::StreamBody::new(stream.map_ok(http_body::Frame::data)).boxed_unsync();
    Ok(r)
}

/// The tags of the `x-cos-tagging` header (none without it).
pub(crate) fn request_tags(headers: &HeaderMap) -> Result<crate::store::Tags> {
    match headers.get("x-cos-tagging") {
        None => Ok(Vec::new()),
        Some(v) => crate::tagging::parse_header(
            v.to_str()
                .map_err(|_| Error::InvalidTag("x-cos-tagging is not ASCII".into()))?,
        ),
    }
}

/// The header naming how many parts a multipart object has, on GET/HEAD `?partNumber=N` (S3's
/// `x-amz-mp-parts-count` under the COS prefix).
const PARTS_COUNT: &str = "x-cos-mp-parts-count";

/// The plaintext bytes of part `n` of `obj`, and its part count when it is a multipart object.
///
/// The parts of an encrypted multipart object are its envelope's part table; those of an
/// unencrypted one are its body files (Complete Multipart Upload keeps one file per part, and is
/// the only writer of more than one). Any other object is one part. Past the last part is
/// `InvalidPartNumber`.
async fn part_range(
    gw: &Gateway,
    obj: &Object,
    n: u32,
) -> Result<(std::ops::Range<u64>, Option<u32>)> {
    let sizes: Vec<u64> = match obj.envelope.as_ref().map(|e| e.layout()) {
        Some(storage_adapter::Layout::Multipart { parts, .. }) if !parts.is_empty() => {
            parts.iter().map(|p| p.plain_size).collect()
        }
        None if obj.files.len() > 1 => {
            let mut sizes = Vec::with_capacity(obj.files.len());
            for f in &obj.files {
                sizes.push(tokio::fs::metadata(gw.store.body_path(f)).await?.len());
            }
            sizes
        }
        _ => {
            return if n == 1 {
                Ok((0..obj.size, None))
            } else {
                Err(Error::InvalidPartNumber)
            };
        }
    };
    let index = usize::try_from(n - 1).map_err(|_| Error::InvalidPartNumber)?;
    let size = *sizes.get(index).ok_or(Error::InvalidPartNumber)?;
    let start: u64 = sizes[..index].iter().sum();
    let count = u32::try_from(sizes.len()).map_err(|_| Error::internal("part count"))?;
    Ok((start..start + size, Some(count)))
}

/// DELETE Object (204 whether or not it existed): the latest version (a delete marker in a
/// versioned bucket), or version `version_id` for good.
pub async fn delete(
    gw: &Gateway,
    ctx: &RequestContext,
    version_id: Option<&str>,
) -> Result<Response> {
    bucket_default(gw, ctx.bucket()).await?;
    let deleted = super::versioning::delete(gw, ctx.bucket(), &ctx.target.key, version_id).await?;
    let mut r = status_response(StatusCode::NO_CONTENT);
    super::versioning::set_deleted(r.headers_mut(), &deleted);
    Ok(r)
}

/// The plaintext of `obj` (or of `range`) as a stream: decrypted with `customer` when encrypted.
pub(crate) async fn plaintext_stream(
    gw: &Gateway,
    obj: &Object,
    name: ObjectName<'_>,
    customer: Option<&storage_adapter::CustomerKey>,
    range: Option<std::ops::Range<u64>>,
    pin: ReadPin,
) -> Result<ByteStream> {
    match &obj.envelope {
        Some(env) => {
            let o = gw.adapter.open(env, name, customer).await?;
            let plan = o.plan(range)?;
            let stored = read_stored(
                &gw.store,
                &obj.files,
                plan.stored_range(),
                STORED_CHUNK,
                pin,
            )
            .await?;
            Ok(Box::pin(
                o.decrypt_stream(plan, stored).map_err(std::io::Error::from),
            ))
        }
        None => {
            if customer.is_some() {
                return Err(storage_adapter::Error::CustomerKeyMismatch.into());
            }
            let range = range.unwrap_or(0..obj.size);
            read_stored(&gw.store, &obj.files, range, PLAIN_CHUNK, pin).await
        }
    }
}

/// A copy source: its bucket, key and row, its files pinned for the copy.
pub(crate) type CopySource = (String, String, Object, ReadPin);

/// Looks up a copy source and checks its `x-cos-copy-source-If-*` conditions.
pub(crate) async fn copy_source(gw: &Gateway, ctx: &RequestContext) -> Result<CopySource> {
    let value = ctx
        .header("x-cos-copy-source")
        .ok_or_else(|| Error::InvalidArgument("x-cos-copy-source is not visible ASCII".into()))?;
    let (bucket, key, version) = parse_copy_source(value)?;
    let found = super::versioning::object_to_read(gw, &bucket, &key, version.as_deref()).await?;
    let (obj, pin) = match found {
        Ok(o) => o,
        Err(missing) => {
            bucket_default(gw, &bucket).await?;
            // A copy names its source in a header: a delete marker there is a bad request, not a
            // method on it (S3's answer; COS documents none).
            return Err(match missing {
                Error::DeleteMarker { named: true, .. } => Error::InvalidRequest(
                    "The source of a copy request may not specifically refer to a delete marker \
                     by version id."
                        .into(),
                ),
                other => other,
            });
        }
    };
    check_conditions(
        &ctx.headers,
        "x-cos-copy-source-",
        &obj.etag,
        obj.modified,
        false,
    )?;
    crate::restore::check_readable(obj.storage_class, obj.restore, now())?;
    Ok((bucket, key, obj, pin))
}

/// PUT Object - Copy: every SSE combination. Encrypted to encrypted re-wraps the object key and
/// copies the stored bytes; otherwise the body is decrypted and/or encrypted on the way.
pub async fn copy(gw: &Gateway, ctx: &RequestContext) -> Result<Response> {
    let headers = sse::parse_copy(&ctx.headers)?;
    let (src_bucket, src_key, src, pin) = copy_source(gw, ctx).await?;
    let copied_version = src.version_id.clone();
    let src_name = ObjectName::new(&src_bucket, &src_key);
    let default = bucket_default(gw, ctx.bucket()).await?;
    let dest = write_request(gw, headers.destination, default.as_ref());
    let tags = match ctx.header("x-cos-tagging-directive").unwrap_or("Copy") {
        "Copy" => src.tags.clone(),
        "Replaced" => request_tags(&ctx.headers)?,
        _ => {
            return Err(Error::InvalidArgument(
                "x-cos-tagging-directive must be Copy or Replaced".into(),
            ));
        }
    };
    // Not inherited: without the header the copy is STANDARD (see crate::storage_class), and
    // without ACL headers its ACL is `default`.
    let storage_class = StorageClass::from_headers(&ctx.headers)?;
    let acl = crate::acl::from_headers(&ctx.headers, crate::acl::Level::Object)?;
    let meta: Meta = match ctx.header("x-cos-metadata-directive").unwrap_or("Copy") {
        "Copy" => src.meta.clone(),
        "Replaced" => meta_from_headers(&ctx.headers),
        _ => {
            return Err(Error::InvalidArgument(
                "x-cos-metadata-directive must be Copy or Replaced".into(),
            ));
        }
    };
    let source_key = headers.source_customer_key.as_ref();
    let w = match (&src.envelope, &dest) {
        (Some(env), Some(req)) => {
            let opened = gw.adapter.open(env, src_name, source_key).await?;
            let envelope = gw.adapter.rewrap(&opened, req, ctx.name()).await?;
            let stored = read_stored(
                &gw.store,
                &src.files,
                0..env.stored_size(),
                STORED_CHUNK,
                pin,
            )
            .await?;
            let mut w = gw.store.writer().await?;
            let mut stored = stored;
            while let Some(chunk) = stored.next().await {
                w.write(&chunk?).await?;
            }
            if w.written() != env.stored_size() {
                return Err(Error::internal(
                    "a stored body is shorter than its envelope",
                ));
            }
            Written {
                file: w.commit().await?,
                size: src.size,
                etag: random_etag(),
                envelope: Some(envelope),
            }
        }
        _ => {
            let plain = plaintext_stream(gw, &src, src_name, source_key, None, pin).await?;
            write_body(gw, dest.as_ref(), ctx.name(), plain, None).await?
        }
    };
    let modified = now();
    let obj = Object {
        size: w.size,
        etag: w.etag.clone(),
        modified,
        meta,
        envelope: w.envelope,
        files: vec![w.file],
        tags,
        storage_class,
        restore: None,
        acl,
        version_id: None,
    };
    let customer = dest.as_ref().and_then(|r| r.customer_key());
    let echo = obj.envelope.as_ref().map(|e| e.response_headers(customer));
    let version = gw
        .store
        .put_object(ctx.bucket(), &ctx.target.key, obj)
        .await?;
    let xml = crate::documents::to_xml(
        "CopyObjectResult",
        &crate::documents::CopyObjectResult {
            etag: format!("\"{}\"", w.etag),
            last_modified: iso_date(modified),
        },
    )?;
    let mut r = xml_response(StatusCode::OK, xml);
    if let Some(echo) = echo {
        set_sse(r.headers_mut(), echo);
    }
    super::versioning::set_version(r.headers_mut(), version.as_deref());
    if let Some(v) = &copied_version {
        set(r.headers_mut(), "x-cos-copy-source-version-id", v);
    }
    Ok(r)
}
