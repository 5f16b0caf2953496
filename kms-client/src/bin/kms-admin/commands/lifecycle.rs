//! A key's state: enable, disable, archive, and deletion after a waiting period.

use kms_client::KmsClient;
use serde_json::json;

use crate::output::{self, Outcome, lines, out};

/// `enable-key`.
pub async fn enable(kms: &KmsClient, key: &str, json: bool) -> Outcome {
    kms.enable_key(key).await?;
    out(json, || json!({}), || format!("key {key} enabled\n"))
}

/// `disable-key`.
pub async fn disable(kms: &KmsClient, key: &str, json: bool) -> Outcome {
    kms.disable_key(key).await?;
    out(json, || json!({}), || format!("key {key} disabled\n"))
}

/// `enable-keys`.
pub async fn enable_many(kms: &KmsClient, keys: &[String], json: bool) -> Outcome {
    let ids = kms.enable_keys(keys).await?;
    out(
        json,
        || json!({ "KeyIds": ids }),
        || ids.iter().map(|id| format!("key {id} enabled\n")).collect(),
    )
}

/// `disable-keys`.
pub async fn disable_many(kms: &KmsClient, keys: &[String], json: bool) -> Outcome {
    let ids = kms.disable_keys(keys).await?;
    out(
        json,
        || json!({ "KeyIds": ids }),
        || {
            ids.iter()
                .map(|id| format!("key {id} disabled\n"))
                .collect()
        },
    )
}

/// `schedule-key-deletion`.
pub async fn schedule_deletion(
    kms: &KmsClient,
    key: &str,
    pending_days: u32,
    json: bool,
) -> Outcome {
    let d = kms.schedule_key_deletion(key, pending_days).await?;
    out(
        json,
        || json!({ "KeyId": d.key_id, "DeletionDate": d.deletion_date }),
        || {
            lines(&[
                ("KeyId", d.key_id.clone()),
                ("KeyState", "PendingDelete".to_owned()),
                ("DeletionDate", output::rfc3339(d.deletion_date)),
            ])
        },
    )
}

/// `cancel-key-deletion`.
pub async fn cancel_deletion(kms: &KmsClient, key: &str, json: bool) -> Outcome {
    let id = kms.cancel_key_deletion(key).await?;
    out(
        json,
        || json!({ "KeyId": id }),
        || format!("deletion of key {id} cancelled; it is Disabled\n"),
    )
}

/// `archive-key`.
pub async fn archive(kms: &KmsClient, key: &str, json: bool) -> Outcome {
    kms.archive_key(key).await?;
    out(json, || json!({}), || format!("key {key} archived\n"))
}

/// `cancel-key-archive`.
pub async fn cancel_archive(kms: &KmsClient, key: &str, json: bool) -> Outcome {
    kms.cancel_key_archive(key).await?;
    out(
        json,
        || json!({}),
        || format!("key {key} enabled (archive cancelled)\n"),
    )
}
