//! Object tagging: PUT / GET / DELETE `/<key>?tagging`, of the current object or, with
//! `versionId`, of that version (each version has its own tags). Tags sit in the catalog beside
//! the object; the body and its envelope are untouched (a tagged object stays encrypted as it was,
//! and tagging an SSE-C object needs no customer key, as in COS). Signed like every other request.

use http::StatusCode;

use super::versioning::{named_object, read_version, set_version};
use crate::body::RequestBodySlot;
use crate::context::RequestContext;
use crate::documents::to_xml;
use crate::error::Result;
use crate::state::Gateway;
use crate::store::ObjectUpdate;
use crate::tagging::{MAX_TAGGING_XML, Tagging, parse_document};
use crate::wire::{Response, status_response, xml_response};

/// PUT Object tagging: replaces the object's tags with the `Tagging` document's (`Content-MD5`
/// checked when given).
pub async fn put(
    gw: &Gateway,
    ctx: &RequestContext,
    body: &mut RequestBodySlot,
    version_id: Option<&str>,
) -> Result<Response> {
    let doc = super::read_checked_document(ctx, body, MAX_TAGGING_XML, false).await?;
    let tags = parse_document(&doc)?;
    let count = tags.len();
    replace(gw, ctx, version_id, tags).await?;
    // The count only: tag keys and values are the user's data.
    tracing::debug!(request_id = %ctx.request_id, count, "object tags replaced");
    answer(StatusCode::OK, version_id)
}

/// GET Object tagging: the object's tags (an empty `TagSet` when it has none).
pub async fn get(gw: &Gateway, ctx: &RequestContext, version_id: Option<&str>) -> Result<Response> {
    let obj = named_object(gw, ctx, version_id).await?;
    let xml = to_xml("Tagging", &Tagging::of(&obj.tags))?;
    let mut r = xml_response(StatusCode::OK, xml);
    set_version(r.headers_mut(), read_version(&obj, version_id.is_some()));
    Ok(r)
}

/// DELETE Object tagging: removes every tag (204).
pub async fn delete(
    gw: &Gateway,
    ctx: &RequestContext,
    version_id: Option<&str>,
) -> Result<Response> {
    replace(gw, ctx, version_id, Vec::new()).await?;
    tracing::debug!(request_id = %ctx.request_id, "object tags removed");
    answer(StatusCode::NO_CONTENT, version_id)
}

/// Replaces the tags of the object (version) the request names.
async fn replace(
    gw: &Gateway,
    ctx: &RequestContext,
    version_id: Option<&str>,
    tags: crate::store::Tags,
) -> Result<()> {
    named_object(gw, ctx, version_id).await?;
    gw.store
        .update_object(
            ctx.bucket(),
            &ctx.target.key,
            version_id,
            ObjectUpdate::Tags(tags),
        )
        .await
}

/// A PUT or DELETE's answer: `x-cos-version-id` echoes the version the request named.
fn answer(status: StatusCode, version_id: Option<&str>) -> Result<Response> {
    let mut r = status_response(status);
    set_version(r.headers_mut(), version_id);
    Ok(r)
}
