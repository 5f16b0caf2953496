//! POST Object restore (`POST /key?restore`): starts or extends the restore of an ARCHIVE or
//! DEEP_ARCHIVE object (the rules are in [`crate::restore`]). Signed like every other request; an
//! SSE-C object needs its customer key, as COS requires, checked before anything about the object
//! is revealed. Logs the outcome at debug, never a key.

use http::StatusCode;

use super::now;
use super::object::bucket_default;
use crate::body::RequestBodySlot;
use crate::context::RequestContext;
use crate::error::{Error, Result};
use crate::restore::{self, MAX_REQUEST_XML, Outcome, RestoreRequest};
use crate::state::Gateway;
use crate::wire::{Response, status_response};

/// POST Object restore: 202 when a restore starts, 200 when a readable copy is extended.
pub async fn restore(
    gw: &Gateway,
    ctx: &RequestContext,
    body: &mut RequestBodySlot,
) -> Result<Response> {
    let doc = super::read_checked_document(ctx, body, MAX_REQUEST_XML, false).await?;
    let request = RestoreRequest::parse(&doc)?;
    let customer = storage_adapter::sse::parse_read(&ctx.headers)?;
    let Some(obj) = gw.store.object(ctx.bucket(), &ctx.target.key).await? else {
        bucket_default(gw, ctx.bucket()).await?;
        return Err(Error::NoSuchKey);
    };
    match &obj.envelope {
        Some(env) if env.mode() == storage_adapter::SseMode::Customer => {
            gw.adapter.open(env, ctx.name(), customer.as_ref()).await?;
        }
        _ if customer.is_some() => {
            return Err(storage_adapter::Error::CustomerKeyMismatch.into());
        }
        _ => {}
    }
    let outcome = restore::request(
        obj.storage_class,
        obj.restore,
        request,
        now(),
        gw.restore_delay,
    )?;
    gw.store
        .set_object_restore(ctx.bucket(), &ctx.target.key, outcome.restore())
        .await?;
    tracing::debug!(request_id = %ctx.request_id, ?outcome, "object restore");
    Ok(status_response(match outcome {
        Outcome::Started(_) => StatusCode::ACCEPTED,
        Outcome::Extended(_) => StatusCode::OK,
    }))
}
