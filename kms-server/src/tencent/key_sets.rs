//! The actions over several keys at once: DescribeKeys, EnableKeys and DisableKeys, and
//! ListKeyDetail (ListKeys with filters and an order).
//!
//! Each is one call of the gRPC method of the same name (DescribeKeys, EnableKeys, DisableKeys,
//! ListKeys), so the list rules (1 to 100 ids, none twice), the policy (asked per key under the
//! batch's action), the audit line and the filtering are the gRPC path's. What is left here is
//! the wire form: Tencent's numbers for states, `ALL`, and an empty `KeyUsage` meaning
//! ENCRYPT_DECRYPT. EnableKeys and DisableKeys change all their keys or none (the cloud does not
//! document its own atomicity; this is the emulator's choice, see [`crate::kms::key_sets`]):
//! every key is resolved, allowed and its change checked before any is written, and a refusal
//! names its key.

use kms_proto::pb::{self, key_management_service_server::KeyManagementService as _};
use serde::Deserialize;

use super::{
    Call,
    actions::{answer, list_limit, metadata, parse, required, to_json},
    params::{KeyMetadata, TagFilterIn, lenient},
    wire::ApiError,
};
use crate::keys::KeyUsage;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyIds {
    key_ids: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListKeyDetail {
    #[serde(default, deserialize_with = "lenient::u32")]
    offset: Option<u32>,
    #[serde(default, deserialize_with = "lenient::u32")]
    limit: Option<u32>,
    #[serde(default, deserialize_with = "lenient::u32")]
    role: Option<u32>,
    #[serde(default, deserialize_with = "lenient::u32")]
    order_type: Option<u32>,
    #[serde(default, deserialize_with = "lenient::u32")]
    key_state: Option<u32>,
    search_key_alias: Option<String>,
    origin: Option<String>,
    key_usage: Option<String>,
    tag_filters: Option<Vec<TagFilterIn>>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct KeyMetadatasOut {
    key_metadatas: Vec<KeyMetadata>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListKeyDetailOut {
    total_count: u32,
    key_metadatas: Vec<KeyMetadata>,
}

/// What EnableKeys and DisableKeys do to each key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Switch {
    Enable,
    Disable,
}

/// `KeyIds`: present and a list (the gRPC call checks its length and duplicates).
fn key_ids(params: serde_json::Value) -> Result<Vec<String>, ApiError> {
    let p: KeyIds = parse(params)?;
    required(p.key_ids, "KeyIds")
}

/// DescribeKeys: every key's metadata, in the order asked, or the first refusal.
pub(super) async fn describe(
    call: &Call,
    params: serde_json::Value,
) -> Result<serde_json::Value, ApiError> {
    let key_ids = key_ids(params)?;
    let r = call
        .service
        .describe_keys(call.request(pb::DescribeKeysRequest { key_ids }))
        .await;
    let key_metadatas = answer(r)?
        .key_metadata
        .into_iter()
        .map(|m| metadata(Some(m)))
        .collect::<Result<_, _>>()?;
    to_json(KeyMetadatasOut { key_metadatas })
}

/// EnableKeys / DisableKeys.
pub(super) async fn switch(
    call: &Call,
    to: Switch,
    params: serde_json::Value,
) -> Result<serde_json::Value, ApiError> {
    let key_ids = key_ids(params)?;
    match to {
        Switch::Enable => answer(
            call.service
                .enable_keys(call.request(pb::EnableKeysRequest { key_ids }))
                .await,
        )
        .map(drop),
        Switch::Disable => answer(
            call.service
                .disable_keys(call.request(pb::DisableKeysRequest { key_ids }))
                .await,
        )
        .map(drop),
    }?;
    Ok(serde_json::Value::Object(serde_json::Map::new()))
}

/// ListKeyDetail: the keys the caller may see, filtered, ordered by creation time (newest first
/// unless `OrderType` is 1), then paged: one gRPC ListKeys.
pub(super) async fn list_detail(
    call: &Call,
    params: serde_json::Value,
) -> Result<serde_json::Value, ApiError> {
    let p: ListKeyDetail = parse(params)?;
    let limit = list_limit(p.limit)?;
    let service_keys_only = super::actions::service_keys_only(p.role)?;
    let newest_first = match p.order_type.unwrap_or(0) {
        0 => true,
        1 => false,
        o => {
            return Err(ApiError::value(format!(
                "OrderType must be 0 or 1, got {o}"
            )));
        }
    };
    // ListKeyDetail's KeyState numbers are the gRPC API's (0 all, 1 Enabled ... 5 Archived).
    let state = match p.key_state.unwrap_or(0) {
        s @ 0..=5 => i32::try_from(s).unwrap_or_default(),
        s => {
            return Err(ApiError::value(format!("KeyState must be 0..=5, got {s}")));
        }
    };
    let origin = match p.origin.as_deref().unwrap_or("ALL") {
        "" | "ALL" => None,
        o @ ("TENCENT_KMS" | "EXTERNAL") => Some(o.to_owned()),
        o => {
            return Err(ApiError::value(format!(
                "Origin must be TENCENT_KMS, EXTERNAL or ALL, got {o:?}"
            )));
        }
    };
    let tag_filters = p
        .tag_filters
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            Ok(pb::TagFilter {
                key: required(f.tag_key, &format!("TagFilters.{i}.TagKey"))?,
                values: f.tag_value.unwrap_or_default(),
            })
        })
        .collect::<Result<_, ApiError>>()?;
    // Empty means ENCRYPT_DECRYPT (the cloud's default), ALL means any.
    let key_usage = match p.key_usage.as_deref().unwrap_or("") {
        "" => Some(KeyUsage::DEFAULT.as_str()),
        "ALL" => None,
        u => match KeyUsage::parse(u) {
            Some(u) => Some(u.as_str()),
            None => {
                let known: Vec<&str> = KeyUsage::ALL.iter().map(|u| u.as_str()).collect();
                return Err(ApiError::value(format!(
                    "KeyUsage must be ALL or one of {known:?}, got {u:?}"
                )));
            }
        },
    };

    let r = call
        .service
        .list_keys(call.request(pb::ListKeysRequest {
            offset: p.offset.unwrap_or(0),
            limit,
            state,
            service_keys_only,
            newest_first,
            search: p.search_key_alias.unwrap_or_default(),
            origin: origin.unwrap_or_default(),
            key_usage: key_usage.unwrap_or_default().to_owned(),
            tag_filters,
            ..Default::default()
        }))
        .await;
    let page = answer(r)?;
    let key_metadatas = page
        .keys
        .into_iter()
        .map(|k| metadata(Some(k)))
        .collect::<Result<_, _>>()?;
    to_json(ListKeyDetailOut {
        total_count: page.total_count,
        key_metadatas,
    })
}
