//! Object tagging: PUT / GET / DELETE `/<key>?tagging`. Tags sit in the catalog beside the object;
//! the body and its envelope are untouched (a tagged object stays encrypted as it was, and tagging
//! an SSE-C object needs no customer key, as in COS). Signed like every other request.

use http::StatusCode;

use super::object::bucket_default;
use crate::body::RequestBodySlot;
use crate::context::RequestContext;
use crate::documents::to_xml;
use crate::error::{Error, Result};
use crate::state::Gateway;
use crate::tagging::{MAX_TAGGING_XML, Tagging, parse_document};
use crate::wire::{Response, status_response, xml_response};

/// PUT Object tagging: replaces the object's tags with the `Tagging` document's (`Content-MD5`
/// checked when given).
pub async fn put(
    gw: &Gateway,
    ctx: &RequestContext,
    body: &mut RequestBodySlot,
) -> Result<Response> {
    let doc = super::read_checked_document(ctx, body, MAX_TAGGING_XML, false).await?;
    let tags = parse_document(&doc)?;
    bucket_default(gw, ctx.bucket()).await?;
    let count = tags.len();
    gw.store
        .set_object_tags(ctx.bucket(), &ctx.target.key, tags)
        .await?;
    // The count only: tag keys and values are the user's data.
    tracing::debug!(request_id = %ctx.request_id, count, "object tags replaced");
    Ok(status_response(StatusCode::OK))
}

/// GET Object tagging: the object's tags (an empty `TagSet` when it has none).
pub async fn get(gw: &Gateway, ctx: &RequestContext) -> Result<Response> {
    let Some(obj) = gw.store.object(ctx.bucket(), &ctx.target.key).await? else {
        bucket_default(gw, ctx.bucket()).await?;
        return Err(Error::NoSuchKey);
    };
    let xml = to_xml("Tagging", &Tagging::of(&obj.tags))?;
    Ok(xml_response(StatusCode::OK, xml))
}

/// DELETE Object tagging: removes every tag (204).
pub async fn delete(gw: &Gateway, ctx: &RequestContext) -> Result<Response> {
    bucket_default(gw, ctx.bucket()).await?;
    gw.store
        .set_object_tags(ctx.bucket(), &ctx.target.key, Vec::new())
        .await?;
    tracing::debug!(request_id = %ctx.request_id, "object tags removed");
    Ok(status_response(StatusCode::NO_CONTENT))
}
