//! Multipart uploads: Initiate, Upload Part, Upload Part - Copy, Complete, Abort, List Parts and
//! List Multipart Uploads.
//!
//! The SSE mode is fixed at Initiate: the upload's envelope (from
//! [`storage_adapter::Adapter::initiate_multipart`]) is stored with it, because the SDKs send no SSE
//! headers on Upload Part (except SSE-C) and none on Complete.

use crate::documents::{
    CompleteMultipartUpload, CompleteMultipartUploadResult, CopyObjectResult,
    InitiateMultipartUploadResult, ListMultipartUploadsResult, ListPartsResult, Owner, PartEntry,
    UploadEntry, from_xml, to_xml, to_xml_expanded,
};
use futures::StreamExt as _;
use http::{HeaderValue, StatusCode};
use md5::{Digest as _, Md5};
use storage_adapter::{PartInfo, sse};

use super::object::{bucket_default, copy_source, plaintext_stream};
use super::{content_md5, meta_from_headers, now, parse_copy_range, random_etag};
use crate::body::{
    ByteStream, Md5Tap, RequestBodySlot, body_stream, check_md5, read_small_body, take_body,
};
use crate::context::RequestContext;
use crate::error::{Error, Result};
use crate::state::Gateway;
use crate::storage_class::StorageClass;
use crate::store::{Object, Part, Upload};
use crate::wire::{Response, iso_date, set, set_sse, status_response, xml_response};

use crate::endpoint::ListPartsParams;
use crate::limits::MIN_PART_SIZE;

/// The upload `upload_id` of the request's object (an empty id is `NoSuchUpload`).
async fn load_upload(gw: &Gateway, ctx: &RequestContext, upload_id: &str) -> Result<Upload> {
    let id = Some(upload_id)
        .filter(|s| !s.is_empty())
        .ok_or(Error::NoSuchUpload)?;
    bucket_default(gw, ctx.bucket()).await?;
    gw.store.upload(ctx.bucket(), &ctx.target.key, id).await
}

/// Initiate Multipart Upload (`POST /<key>?uploads`).
pub async fn initiate(gw: &Gateway, ctx: &RequestContext) -> Result<Response> {
    let request = sse::parse_write(&ctx.headers)?;
    let tags = super::object::request_tags(&ctx.headers)?;
    let storage_class = StorageClass::from_headers(&ctx.headers)?;
    let acl = crate::acl::from_headers(&ctx.headers, crate::acl::Level::Object)?;
    let default = bucket_default(gw, ctx.bucket()).await?;
    let request = super::object::write_request(gw, request, default.as_ref());
    let upload_id = uuid::Uuid::new_v4().simple().to_string();
    let envelope = match &request {
        Some(r) => Some(
            gw.adapter
                .initiate_multipart(r, ctx.name(), &upload_id)
                .await?,
        ),
        None => None,
    };
    let customer = request.as_ref().and_then(|r| r.customer_key());
    let echo = envelope.as_ref().map(|e| e.response_headers(customer));
    gw.store
        .create_upload(Upload {
            upload_id: upload_id.clone(),
            bucket: ctx.bucket().to_owned(),
            key: ctx.target.key.clone(),
            initiated: now(),
            meta: meta_from_headers(&ctx.headers),
            envelope,
            tags,
            storage_class,
            acl,
        })
        .await?;
    let xml = to_xml(
        "InitiateMultipartUploadResult",
        &InitiateMultipartUploadResult {
            bucket: ctx.bucket(),
            key: &ctx.target.key,
            upload_id: &upload_id,
        },
    )?;
    let mut r = xml_response(StatusCode::OK, xml);
    if let Some(echo) = echo {
        set_sse(r.headers_mut(), echo);
    }
    Ok(r)
}

/// Seals (or stores as is) one part's plaintext and records it.
async fn store_part(
    gw: &Gateway,
    ctx: &RequestContext,
    upload: &Upload,
    number: u32,
    customer: Option<&storage_adapter::CustomerKey>,
    input: ByteStream,
    expect_md5: Option<[u8; 16]>,
) -> Result<(Part, Option<Vec<(&'static str, HeaderValue)>>)> {
    let mut w = gw.store.writer().await?;
    let (part, echo) = match &upload.envelope {
        Some(env) => {
            let open = gw.adapter.open_upload(env, ctx.name(), customer).await?;
            let tap = Md5Tap::new(expect_md5.is_some());
            let mut enc = open.part(number)?.encrypt_stream(tap.tap(input));
            while let Some(seg) = enc.next().await {
                w.write(&seg?).await?;
            }
            let info = enc.finish()?;
            check_md5(expect_md5, tap.finish())?;
            (
                Part {
                    number,
                    etag: random_etag(),
                    size: info.plain_size,
                    stored_size: info.stored_size,
                    salt: Some(info.part_salt),
                    file: String::new(),
                    modified: now(),
                },
                Some(open.response_headers()),
            )
        }
        None => {
            if customer.is_some() {
                return Err(storage_adapter::Error::CustomerKeyMismatch.into());
            }
            let tap = Md5Tap::new(true);
            let mut input = tap.tap(input);
            while let Some(chunk) = input.next().await {
                w.write(&chunk?).await?;
            }
            let md5 = tap.finish();
            check_md5(expect_md5, md5)?;
            let size = w.written();
            (
                Part {
                    number,
                    etag: hex::encode(md5.unwrap_or_default()),
                    size,
                    stored_size: size,
                    salt: None,
                    file: String::new(),
                    modified: now(),
                },
                None,
            )
        }
    };
    let part = Part {
        file: w.commit().await?,
        ..part
    };
    gw.store.put_part(&upload.upload_id, part.clone()).await?;
    Ok((part, echo))
}

/// Upload Part (`PUT /<key>?partNumber=N&uploadId=ID`).
pub async fn upload_part(
    gw: &Gateway,
    ctx: &RequestContext,
    upload_id: &str,
    number: u32,
    body: &mut RequestBodySlot,
) -> Result<Response> {
    let expect_md5 = content_md5(ctx)?;
    let customer = sse::parse_upload_part(&ctx.headers)?;
    // Taken first, so that a refusal drains the body in the background, not before the response.
    let input = crate::body::capped(
        body_stream(take_body(body)?),
        crate::limits::MAX_OBJECT_SIZE,
    );
    crate::body::check_declared_length(&ctx.headers)?;
    let upload = load_upload(gw, ctx, upload_id).await?;
    let (part, echo) = store_part(
        gw,
        ctx,
        &upload,
        number,
        customer.as_ref(),
        input,
        expect_md5,
    )
    .await?;
    let mut r = status_response(StatusCode::OK);
    let h = r.headers_mut();
    set(h, "etag", &format!("\"{}\"", part.etag));
    h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(0));
    if let Some(echo) = echo {
        set_sse(h, echo);
    }
    Ok(r)
}

/// Upload Part - Copy: the source range's plaintext becomes the part.
pub async fn upload_part_copy(
    gw: &Gateway,
    ctx: &RequestContext,
    upload_id: &str,
    number: u32,
) -> Result<Response> {
    let keys = sse::parse_upload_part_copy(&ctx.headers)?;
    let upload = load_upload(gw, ctx, upload_id).await?;
    let (src_bucket, src_key, src, pin) = copy_source(gw, ctx).await?;
    let range = parse_copy_range(ctx.header("x-cos-copy-source-range"), src.size)?;
    let input = plaintext_stream(
        gw,
        &src,
        storage_adapter::ObjectName::new(&src_bucket, &src_key),
        keys.source_customer_key.as_ref(),
        range,
        pin,
    )
    .await?;
    let (part, echo) = store_part(
        gw,
        ctx,
        &upload,
        number,
        keys.destination_customer_key.as_ref(),
        input,
        None,
    )
    .await?;
    let xml = to_xml(
        "CopyPartResult",
        &CopyObjectResult {
            etag: format!("\"{}\"", part.etag),
            last_modified: iso_date(part.modified),
        },
    )?;
    let mut r = xml_response(StatusCode::OK, xml);
    if let Some(echo) = echo {
        set_sse(r.headers_mut(), echo);
    }
    Ok(r)
}

/// The (number, ETag) list of a Complete request, in the order given.
pub(crate) fn parse_complete(body: &[u8]) -> Result<Vec<(u32, String)>> {
    let doc: CompleteMultipartUpload = from_xml(body, "CompleteMultipartUpload")?;
    if doc.parts.is_empty() {
        return Err(Error::MalformedXml("no Part elements".into()));
    }
    doc.parts
        .into_iter()
        .map(|p| {
            let n = p
                .part_number
                .and_then(|n| n.trim().parse::<u32>().ok())
                .ok_or_else(|| Error::MalformedXml("a Part has no valid PartNumber".into()))?;
            let etag = p
                .etag
                .map(|e| e.trim().trim_matches('"').to_owned())
                .ok_or_else(|| Error::MalformedXml("a Part has no ETag".into()))?;
            Ok((n, etag))
        })
        .collect()
}

/// Checks a Complete list against the stored parts (COS rules: `InvalidPartOrder`, `InvalidPart`,
/// `EntityTooSmall`) and returns the chosen parts in order.
pub fn choose_parts(listed: &[(u32, String)], stored: &[Part]) -> Result<Vec<Part>> {
    if listed.windows(2).any(|w| w[1].0 <= w[0].0) {
        return Err(Error::InvalidPartOrder);
    }
    let mut chosen = Vec::with_capacity(listed.len());
    for (i, (n, etag)) in listed.iter().enumerate() {
        let p = stored
            .iter()
            .find(|p| p.number == *n)
            .ok_or_else(|| Error::InvalidPart(format!("part {n} was not uploaded")))?;
        if p.etag != *etag {
            return Err(Error::InvalidPart(format!(
                "the ETag of part {n} does not match"
            )));
        }
        if *n as usize != i + 1 {
            return Err(Error::InvalidPart(
                "part numbers must be continuous from 1".into(),
            ));
        }
        chosen.push(p.clone());
    }
    if chosen[..chosen.len() - 1]
        .iter()
        .any(|p| p.size < MIN_PART_SIZE)
    {
        return Err(Error::EntityTooSmall);
    }
    Ok(chosen)
}

/// Complete Multipart Upload (`POST /<key>?uploadId=ID`).
pub async fn complete(
    gw: &Gateway,
    ctx: &RequestContext,
    upload_id: &str,
    body: &mut RequestBodySlot,
) -> Result<Response> {
    let customer = sse::parse_upload_part(&ctx.headers)?;
    let upload = load_upload(gw, ctx, upload_id).await?;
    let xml = read_small_body(body, crate::xml::MAX_XML).await?;
    let listed = parse_complete(&xml)?;
    let stored = gw.store.parts(&upload.upload_id).await?;
    let chosen = choose_parts(&listed, &stored)?;
    let n = chosen.len();
    let size: u64 = chosen.iter().map(|p| p.size).sum();
    let (envelope, etag) = match &upload.envelope {
        Some(env) => {
            let infos = chosen
                .iter()
                .map(|p| {
                    Ok(PartInfo {
                        number: p.number,
                        part_salt: p
                            .salt
                            .ok_or_else(|| Error::internal("an encrypted part has no salt"))?,
                        plain_size: p.size,
                        stored_size: p.stored_size,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let env = gw
                .adapter
                .complete_multipart(env, ctx.name(), customer.as_ref(), infos)
                .await?;
            (Some(env), format!("{}-{n}", random_etag()))
        }
        None => {
            let mut h = Md5::new();
            for p in &chosen {
                h.update(hex::decode(&p.etag).map_err(Error::internal)?);
            }
            (None, format!("{}-{n}", hex::encode(h.finalize())))
        }
    };
    // SSE-C: the MD5 of the key when Complete carries it; the SDKs send none, and a version-2
    // envelope keeps no MD5 to echo, so then only the algorithm is echoed.
    let echo = envelope
        .as_ref()
        .map(|e| e.response_headers(customer.as_ref()));
    let obj = Object {
        size,
        etag: etag.clone(),
        modified: now(),
        meta: upload.meta.clone(),
        envelope,
        files: chosen.iter().map(|p| p.file.clone()).collect(),
        tags: upload.tags.clone(),
        storage_class: upload.storage_class,
        restore: None,
        acl: upload.acl.clone(),
        version_id: None,
    };
    let version = gw.store.complete_upload(&upload, &chosen, obj).await?;
    let location = ctx.target.resource();
    let xml = to_xml(
        "CompleteMultipartUploadResult",
        &CompleteMultipartUploadResult {
            location: &location,
            bucket: ctx.bucket(),
            key: &ctx.target.key,
            etag: format!("\"{etag}\""),
        },
    )?;
    let mut r = xml_response(StatusCode::OK, xml);
    if let Some(echo) = echo {
        set_sse(r.headers_mut(), echo);
    }
    super::versioning::set_version(r.headers_mut(), version.as_deref());
    Ok(r)
}

/// Abort Multipart Upload (204).
pub async fn abort(gw: &Gateway, ctx: &RequestContext, upload_id: &str) -> Result<Response> {
    let upload = load_upload(gw, ctx, upload_id).await?;
    gw.store.abort_upload(&upload.upload_id).await?;
    Ok(status_response(StatusCode::NO_CONTENT))
}

/// List Parts (`GET /<key>?uploadId=ID`).
pub async fn list_parts(
    gw: &Gateway,
    ctx: &RequestContext,
    params: &ListPartsParams,
) -> Result<Response> {
    let upload = load_upload(gw, ctx, &params.upload_id).await?;
    let parts = gw.store.parts(&upload.upload_id).await?;
    let (marker, max) = (params.part_number_marker, params.max_parts);
    let after: Vec<&Part> = parts.iter().filter(|p| p.number > marker).collect();
    let truncated = after.len() > max;
    let shown = &after[..after.len().min(max)];
    let doc = ListPartsResult {
        bucket: ctx.bucket().to_owned(),
        key: ctx.target.key.clone(),
        upload_id: upload.upload_id.clone(),
        initiator: Owner::GATEWAY,
        owner: Owner::GATEWAY,
        storage_class: upload.storage_class.as_str(),
        part_number_marker: marker,
        next_part_number_marker: shown.last().map_or(marker, |p| p.number),
        max_parts: max,
        is_truncated: truncated,
        parts: shown
            .iter()
            .map(|p| PartEntry {
                part_number: p.number,
                last_modified: iso_date(p.modified),
                etag: format!("\"{}\"", p.etag),
                size: p.size,
            })
            .collect(),
    };
    Ok(xml_response(
        StatusCode::OK,
        to_xml_expanded("ListPartsResult", &doc)?,
    ))
}

/// List Multipart Uploads (`GET /?uploads`; the Python `upload_file` calls it to resume).
pub async fn list_uploads(gw: &Gateway, ctx: &RequestContext, prefix: &str) -> Result<Response> {
    bucket_default(gw, ctx.bucket()).await?;
    let uploads = gw.store.list_uploads(ctx.bucket(), prefix).await?;
    let uploads = uploads
        .into_iter()
        .map(|u| UploadEntry {
            key: u.key,
            upload_id: u.upload_id,
            storage_class: u.storage_class.as_str(),
            initiator: Owner::GATEWAY,
            owner: Owner::GATEWAY,
            initiated: iso_date(u.initiated),
        })
        .collect();
    let doc = ListMultipartUploadsResult::new(ctx.bucket(), prefix, uploads);
    Ok(xml_response(
        StatusCode::OK,
        to_xml_expanded("ListMultipartUploadsResult", &doc)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(n: u32, size: u64) -> Part {
        Part {
            number: n,
            etag: format!("e{n}"),
            size,
            stored_size: size,
            salt: None,
            file: format!("f{n}"),
            modified: 0,
        }
    }

    #[test]
    fn complete_rules() {
        let stored = vec![part(1, MIN_PART_SIZE), part(2, 10), part(3, 5)];
        let l = |v: &[(u32, &str)]| {
            v.iter()
                .map(|(n, e)| (*n, (*e).to_owned()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            choose_parts(&l(&[(1, "e1"), (2, "e2")]), &stored)
                .unwrap()
                .len(),
            2
        );
        let code = |v: &[(u32, &str)]| {
            let e = choose_parts(&l(v), &stored).unwrap_err();
            (e.code(), e.status().as_u16())
        };
        assert_eq!(code(&[(2, "e2"), (1, "e1")]), ("InvalidPartOrder", 400));
        assert_eq!(code(&[(1, "e1"), (1, "e1")]), ("InvalidPartOrder", 400));
        assert_eq!(code(&[(1, "e1"), (4, "e4")]), ("InvalidPart", 400));
        assert_eq!(code(&[(1, "bad")]), ("InvalidPart", 400));
        assert_eq!(code(&[(1, "e1"), (3, "e3")]), ("InvalidPart", 400));
        assert_eq!(code(&[(2, "e2")]), ("InvalidPart", 400));
        assert_eq!(
            code(&[(1, "e1"), (2, "e2"), (3, "e3")]),
            ("EntityTooSmall", 400)
        );
    }

    #[test]
    fn complete_xml() {
        let x = b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"a\"</ETag></Part></CompleteMultipartUpload>";
        assert_eq!(parse_complete(x).unwrap(), vec![(1, "a".to_owned())]);
        // As the SDKs write it: a declaration, a namespace, lines, the quotes as entities.
        let sdk = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUpload xmlns=\"http://x\">\n\
            <Part>\n<PartNumber> 1 </PartNumber>\n<ETag>&quot;a&quot;</ETag>\n</Part>\n\
            <Part><ETag>\"b\"</ETag><PartNumber>3</PartNumber></Part>\n</CompleteMultipartUpload>";
        assert_eq!(
            parse_complete(sdk).unwrap(),
            vec![(1, "a".to_owned()), (3, "b".to_owned())]
        );
        for bad in [
            &b"<CompleteMultipartUpload></CompleteMultipartUpload>"[..],
            b"<Other/>",
            b"<CompleteMultipartUpload><Part><ETag>a</ETag></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part>",
        ] {
            assert_eq!(parse_complete(bad).unwrap_err().code(), "MalformedXML");
        }
    }
}
