//! POST Object restore (`POST /key?restore`): starts or extends the restore of an ARCHIVE or
//! DEEP_ARCHIVE object, or with `versionId` of that version (the rules are in
//! [`crate::restore`]). Signed like every other request; an
//! SSE-C object needs its customer key, as COS requires, checked before anything about the object
//! is revealed. Logs the outcome at debug, never a key.

use http::StatusCode;

use super::now;
use super::versioning::{named_object, set_version};
use crate::body::RequestBodySlot;
use crate::context::RequestContext;
use crate::error::Result;
use crate::restore::{self, MAX_REQUEST_XML, Outcome, RestoreRequest};
use crate::state::Gateway;
use crate::store::ObjectUpdate;
use crate::wire::{Response, status_response};

/// POST Object restore: 202 when a restore starts, 200 when a readable copy is extended.
pub async fn restore(
    gw: &Gateway,
    ctx: &RequestContext,
    body: &mut RequestBodySlot,
    version_id: Option<&str>,
) -> Result<Response> {
    let doc = super::read_checked_document(ctx, body, MAX_REQUEST_XML, false).await?;
    let request = RestoreRequest::parse(&doc)?;
    let customer = storage_adapter::sse::parse_read(&ctx.headers)?;
    let obj = named_object(gw, ctx, version_id).await?;
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
        .update_object(
            ctx.bucket(),
            &ctx.target.key,
            version_id,
            ObjectUpdate::Restore(outcome.restore()),
        )
        .await?;
    tracing::debug!(request_id = %ctx.request_id, ?outcome, "object restore");
    let mut r = status_response(match outcome {
        Outcome::Started(_) => StatusCode::ACCEPTED,
        Outcome::Extended(_) => StatusCode::OK,
    });
    set_version(r.headers_mut(), version_id);
    Ok(r)
}
