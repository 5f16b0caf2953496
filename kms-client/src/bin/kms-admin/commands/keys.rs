//! Keys and their names: create, describe, list, the default key, alias and description.

use kms_client::{CreateKeyRequest, KeyState, KmsClient, ListKeysRequest};
use serde_json::json;

use crate::cli::ListFilterArgs;
use crate::output::{self, Outcome, metadata_json, metadata_text, out};

/// What `create-key` asks for.
pub struct NewKey {
    pub alias: String,
    pub description: String,
    pub key_usage: String,
    pub external: bool,
    pub tags: Vec<(String, String)>,
}

/// `create-key`.
pub async fn create(kms: &KmsClient, new: NewKey, json: bool) -> Outcome {
    let mut request = CreateKeyRequest::new(new.alias)
        .description(new.description)
        .key_usage(new.key_usage);
    if new.external {
        request = request.external();
    }
    for (k, v) in new.tags {
        request = request.tag(k, v);
    }
    let m = kms.create_key(request).await?;
    out(json, || output::create_key_json(&m), || metadata_text(&m))
}

/// `describe-key`.
pub async fn describe(kms: &KmsClient, key: &str, json: bool) -> Outcome {
    let m = kms.describe_key(key).await?;
    out(
        json,
        || json!({ "KeyMetadata": metadata_json(&m) }),
        || metadata_text(&m),
    )
}

/// `describe-keys`.
pub async fn describe_many(kms: &KmsClient, keys: &[String], json: bool) -> Outcome {
    let all = kms.describe_keys(keys).await?;
    out(
        json,
        || json!({ "KeyMetadatas": all.iter().map(metadata_json).collect::<Vec<_>>() }),
        || all.iter().map(metadata_text).collect::<Vec<_>>().join("\n"),
    )
}

/// `list-keys`: every page; service keys too with `all`; filtered and ordered as asked.
pub async fn list(
    kms: &KmsClient,
    state: Option<KeyState>,
    all: bool,
    filter: ListFilterArgs,
    json: bool,
) -> Outcome {
    let request = ListKeysRequest {
        state,
        include_service_keys: all,
        newest_first: filter.newest_first,
        search: filter.search,
        origin: filter.origin,
        key_usage: filter.key_usage,
        tag_filters: filter.tags,
        ..Default::default()
    };
    let keys = kms.list_all_keys(&request).await?;
    out(
        json,
        || output::list_json(&keys),
        || output::list_text(&keys),
    )
}

/// `default-key`.
pub async fn default_key(kms: &KmsClient, json: bool) -> Outcome {
    let m = kms.get_default_key().await?;
    out(
        json,
        || json!({ "KeyMetadata": metadata_json(&m) }),
        || metadata_text(&m),
    )
}

/// `update-alias`.
pub async fn update_alias(kms: &KmsClient, key: &str, alias: &str, json: bool) -> Outcome {
    kms.update_alias(key, alias).await?;
    out(
        json,
        || json!({}),
        || format!("key {key} now has alias {alias}\n"),
    )
}

/// `update-description`.
pub async fn update_description(kms: &KmsClient, key: &str, text: &str, json: bool) -> Outcome {
    kms.update_key_description(key, text).await?;
    out(
        json,
        || json!({}),
        || format!("description of key {key} updated\n"),
    )
}
