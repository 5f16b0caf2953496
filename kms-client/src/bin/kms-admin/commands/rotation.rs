//! Key rotation: automatic rotation on and off, its status, and a new key version now.

use kms_client::KmsClient;
use serde_json::json;

use crate::output::{self, Outcome, lines, out};

/// `enable-key-rotation` (the server's default period without `rotate_days`).
pub async fn enable(kms: &KmsClient, key: &str, rotate_days: Option<u32>, json: bool) -> Outcome {
    kms.enable_key_rotation(key, rotate_days).await?;
    out(
        json,
        || json!({}),
        || format!("rotation of key {key} enabled\n"),
    )
}

/// `disable-key-rotation`.
pub async fn disable(kms: &KmsClient, key: &str, json: bool) -> Outcome {
    kms.disable_key_rotation(key).await?;
    out(
        json,
        || json!({}),
        || format!("rotation of key {key} disabled\n"),
    )
}

/// `get-key-rotation-status`.
pub async fn status(kms: &KmsClient, key: &str, json: bool) -> Outcome {
    let s = kms.get_key_rotation_status(key).await?;
    out(
        json,
        || output::rotation_json(&s),
        || output::rotation_text(&s),
    )
}

/// `rotate-key`.
pub async fn rotate(kms: &KmsClient, key: &str, json: bool) -> Outcome {
    let r = kms.rotate_key(key).await?;
    out(
        json,
        || json!({ "KeyId": r.key_id, "KeyVersion": r.key_version }),
        || {
            lines(&[
                ("KeyId", r.key_id.clone()),
                ("KeyVersion", r.key_version.to_string()),
            ])
        },
    )
}
