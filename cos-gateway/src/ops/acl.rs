//! PUT / GET `?acl` on a bucket and on an object. An ACL sits in the catalog beside its bucket or
//! object; the body and its envelope are untouched (setting the ACL of an SSE-C object needs no
//! customer key). The rules are [`crate::acl`]'s. Signed like every other request.
//!
//! PUT takes the ACL from the headers (`x-cos-acl`, `x-cos-grant-*`) or from an
//! `AccessControlPolicy` body, not both (`400 InvalidRequest`, a guess: COS says only "one of the
//! two"), and not neither (an empty body is `400 MalformedXML`).

use http::StatusCode;

use super::versioning::{named_object, read_version, set_version};
use crate::acl::{Acl, HEADER, Level, MAX_ACL_XML};
use crate::body::RequestBodySlot;
use crate::context::RequestContext;
use crate::documents::to_xml;
use crate::error::{Error, Result};
use crate::state::Gateway;
use crate::store::ObjectUpdate;
use crate::wire::{Response, set, status_response, xml_response};

/// The ACL a PUT `?acl` sets (`None`: an object's `default`).
async fn requested(
    ctx: &RequestContext,
    body: &mut RequestBodySlot,
    level: Level,
) -> Result<Option<Acl>> {
    let document = super::read_checked_document(ctx, body, MAX_ACL_XML, false).await?;
    let empty = document.iter().all(u8::is_ascii_whitespace);
    match (crate::acl::has_headers(&ctx.headers), empty) {
        (true, true) => crate::acl::from_headers(&ctx.headers, level),
        (true, false) => Err(Error::InvalidRequest(
            "The ACL is given either by the x-cos-acl and x-cos-grant-* headers or by the \
             request body, not both"
                .into(),
        )),
        (false, true) => Err(Error::MalformedXml(
            "PUT ?acl needs x-cos-acl or x-cos-grant-* headers, or an AccessControlPolicy body"
                .into(),
        )),
        (false, false) => crate::acl::parse_document(&document, level).map(Some),
    }
}

fn document(acl: Option<&Acl>) -> Result<Response> {
    let xml = to_xml("AccessControlPolicy", &Acl::document(acl))?;
    Ok(xml_response(StatusCode::OK, xml))
}

/// PUT Bucket acl: replaces the bucket's ACL.
pub async fn put_bucket(
    gw: &Gateway,
    ctx: &RequestContext,
    body: &mut RequestBodySlot,
) -> Result<Response> {
    let acl = requested(ctx, body, Level::Bucket).await?;
    gw.store.set_bucket_acl(ctx.bucket(), acl).await?;
    tracing::debug!(request_id = %ctx.request_id, "bucket ACL replaced");
    Ok(status_response(StatusCode::OK))
}

/// GET Bucket acl: the bucket's ACL (the owner's `FULL_CONTROL` for a `private` bucket that was
/// never given one).
pub async fn get_bucket(gw: &Gateway, ctx: &RequestContext) -> Result<Response> {
    let bucket = gw.store.existing_bucket(ctx.bucket()).await?;
    document(bucket.acl.as_ref())
}

/// PUT Object acl: replaces the ACL of the object, or of version `version_id` (`x-cos-acl:
/// default` clears it).
pub async fn put_object(
    gw: &Gateway,
    ctx: &RequestContext,
    body: &mut RequestBodySlot,
    version_id: Option<&str>,
) -> Result<Response> {
    let acl = requested(ctx, body, Level::Object).await?;
    named_object(gw, ctx, version_id).await?;
    gw.store
        .update_object(
            ctx.bucket(),
            &ctx.target.key,
            version_id,
            ObjectUpdate::Acl(acl),
        )
        .await?;
    tracing::debug!(request_id = %ctx.request_id, "object ACL replaced");
    let mut r = status_response(StatusCode::OK);
    set_version(r.headers_mut(), version_id);
    Ok(r)
}

/// GET Object acl: the object's ACL. An object without one (`default`) shows the owner's
/// `FULL_CONTROL` and answers `x-cos-acl: default`, as COS does (the Python SDK reads that header
/// to report `CannedACL: default`).
pub async fn get_object(
    gw: &Gateway,
    ctx: &RequestContext,
    version_id: Option<&str>,
) -> Result<Response> {
    let obj = named_object(gw, ctx, version_id).await?;
    let mut r = document(obj.acl.as_ref())?;
    if obj.acl.is_none() {
        set(r.headers_mut(), HEADER, "default");
    }
    set_version(r.headers_mut(), read_version(&obj, version_id.is_some()));
    Ok(r)
}
