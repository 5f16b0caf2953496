//! The actions over several keys at once: DescribeKeys, EnableKeys and DisableKeys (1 to
//! [`MAX_KEY_IDS`] ids, no duplicates) and ListKeyDetail (ListKeys with filters and an order).
//!
//! Each key is one call through the gRPC method (DescribeKey, EnableKey, DisableKey, ListKeys), so
//! the policy decides per key and the audit log has a line per key, exactly as if the caller had
//! made the single calls. EnableKeys and DisableKeys are not atomic: the keys change in the order
//! given and the first refusal stops the batch with that refusal, its message naming the key; the
//! keys before it stay changed. (The cloud does not document its own atomicity; this is the
//! emulator's choice, stated so a caller can retry the rest.)

use kms_proto::pb::{self, key_management_service_server::KeyManagementService as _};
use serde::Deserialize;

use super::{
    Call,
    actions::{answer, include_service_keys, list_limit, metadata, parse, required, to_json},
    params::{KeyMetadata, lenient},
    wire::{ApiError, code},
};
use crate::keys::KeyUsage;

/// Most key ids one DescribeKeys, EnableKeys or DisableKeys names (the cloud's limit).
pub const MAX_KEY_IDS: usize = 100;
/// The page size ListKeyDetail reads the gRPC ListKeys with (the gRPC API's largest).
const GRPC_LIST_PAGE: u32 = 1000;

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
    tag_filters: Option<Vec<serde_json::Value>>,
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

/// `KeyIds`: present, 1..=[`MAX_KEY_IDS`] of them, no id twice.
fn key_ids(params: serde_json::Value) -> Result<Vec<String>, ApiError> {
    let p: KeyIds = parse(params)?;
    let ids = required(p.key_ids, "KeyIds")?;
    if ids.is_empty() || ids.len() > MAX_KEY_IDS {
        return Err(ApiError::value(format!(
            "KeyIds must name 1..={MAX_KEY_IDS} keys, got {}",
            ids.len()
        )));
    }
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    if let Some(dup) = ids.iter().find(|id| !seen.insert(id.as_str())) {
        return Err(ApiError::new(
            code::DUPLICATED_KEY_ID,
            format!("KeyIds names {dup:?} twice"),
        ));
    }
    Ok(ids)
}

/// DescribeKeys: every key's metadata, in the order asked, or the first refusal.
pub(super) async fn describe(
    call: &Call,
    params: serde_json::Value,
) -> Result<serde_json::Value, ApiError> {
    let mut out = Vec::new();
    for key_id in key_ids(params)? {
        let r = call
            .service
            .describe_key(call.request(pb::DescribeKeyRequest { key_id }))
            .await;
        out.push(metadata(answer(r)?.key_metadata)?);
    }
    to_json(KeyMetadatasOut { key_metadatas: out })
}

/// EnableKeys / DisableKeys: each key in order; the first refusal stops the batch.
pub(super) async fn switch(
    call: &Call,
    to: Switch,
    params: serde_json::Value,
) -> Result<serde_json::Value, ApiError> {
    for key_id in key_ids(params)? {
        let done = match to {
            Switch::Enable => answer(
                call.service
                    .enable_key(call.request(pb::EnableKeyRequest {
                        key_id: key_id.clone(),
                    }))
                    .await,
            )
            .map(drop),
            Switch::Disable => answer(
                call.service
                    .disable_key(call.request(pb::DisableKeyRequest {
                        key_id: key_id.clone(),
                    }))
                    .await,
            )
            .map(drop),
        };
        done.map_err(|e| ApiError {
            message: format!("key {key_id:?}: {}", e.message),
            ..e
        })?;
    }
    Ok(serde_json::Value::Object(serde_json::Map::new()))
}

/// ListKeyDetail: the keys the caller may see, filtered, ordered by creation time (newest first
/// unless `OrderType` is 1), then paged.
pub(super) async fn list_detail(
    call: &Call,
    params: serde_json::Value,
) -> Result<serde_json::Value, ApiError> {
    let p: ListKeyDetail = parse(params)?;
    let limit = list_limit(p.limit)?;
    let include_service_keys = include_service_keys(p.role)?;
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
    if p.tag_filters.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(ApiError::unsupported(
            "TagFilters: tags are not kept by this emulator",
        ));
    }
    let search = p.search_key_alias.unwrap_or_default();
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

    let mut keys = Vec::new();
    loop {
        let r = call
            .service
            .list_keys(call.request(pb::ListKeysRequest {
                offset: u32::try_from(keys.len()).unwrap_or(u32::MAX),
                limit: GRPC_LIST_PAGE,
                state,
                include_service_keys,
            }))
            .await;
        let page = answer(r)?;
        let done =
            page.keys.is_empty() || keys.len() + page.keys.len() >= page.total_count as usize;
        keys.extend(page.keys);
        if done {
            break;
        }
    }
    keys.retain(|k: &pb::KeyMetadata| {
        (search.is_empty() || k.alias.contains(&search) || k.key_id.contains(&search))
            && origin.as_deref().is_none_or(|o| k.origin == o)
            && key_usage.is_none_or(|u| k.key_usage == u)
    });
    keys.sort_by(|a, b| {
        let order = a
            .create_time
            .cmp(&b.create_time)
            .then_with(|| a.key_id.cmp(&b.key_id));
        if newest_first { order.reverse() } else { order }
    });
    let total_count = u32::try_from(keys.len()).unwrap_or(u32::MAX);
    let key_metadatas = keys
        .into_iter()
        .skip(p.offset.unwrap_or(0) as usize)
        .take(limit as usize)
        .map(|k| metadata(Some(k)))
        .collect::<Result<_, _>>()?;
    to_json(ListKeyDetailOut {
        total_count,
        key_metadatas,
    })
}
