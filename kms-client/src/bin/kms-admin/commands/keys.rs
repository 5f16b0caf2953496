//! Keys and their names: create, describe, list, the default key, alias and description.

use kms_client::{CreateKeyRequest, KeyState, KmsClient, ListKeysRequest};
use serde_json::json;

use crate::output::{self, Outcome, metadata_json, metadata_text, out};

/// `create-key`.
pub async fn create(
    kms: &KmsClient,
    alias: String,
    description: String,
    key_usage: String,
    external: bool,
    json: bool,
) -> Outcome {
    let mut request = CreateKeyRequest::new(alias)
        .description(description)
        .key_usage(key_usage);
    if external {
        request = request.external();
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

/// `list-keys`: every page; service keys too with `all`.
pub async fn list(kms: &KmsClient, state: Option<KeyState>, all: bool, json: bool) -> Outcome {
    let request = ListKeysRequest {
        state,
        include_service_keys: all,
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
