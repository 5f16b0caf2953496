//! The typed parameters and answers of the Tencent actions ([`super::actions`]): Tencent's field
//! names (PascalCase) and types. Parameters are all optional here so a missing one is refused as
//! `MissingParameter` naming it, not as a serde error; integers also come as text (GET queries).

use serde::{Deserialize, Serialize};

/// Integers as JSON numbers (POST) or as text (a GET query).
pub(super) mod lenient {
    use serde::{Deserialize, Deserializer, de::Error as _};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Number(u64),
        Text(String),
    }

    pub fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        let n = match Option::<NumberOrText>::deserialize(d)? {
            None => return Ok(None),
            Some(NumberOrText::Number(n)) => n,
            Some(NumberOrText::Text(t)) => t
                .trim()
                .parse()
                .map_err(|_| D::Error::custom(format!("{t:?} is not an unsigned integer")))?,
        };
        u32::try_from(n)
            .map(Some)
            .map_err(|_| D::Error::custom(format!("{n} is out of range")))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyOnly {
    pub(super) key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateKey {
    pub(super) alias: Option<String>,
    pub(super) description: Option<String>,
    pub(super) key_usage: Option<String>,
    #[serde(default, deserialize_with = "lenient::u32")]
    pub(super) r#type: Option<u32>,
    pub(super) tags: Option<Vec<TagIn>>,
}

/// Tencent's `Tag`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TagIn {
    pub(super) tag_key: Option<String>,
    pub(super) tag_value: Option<String>,
}

/// Tencent's `TagFilter`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TagFilterIn {
    pub(super) tag_key: Option<String>,
    pub(super) tag_value: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListKeys {
    #[serde(default, deserialize_with = "lenient::u32")]
    pub(super) offset: Option<u32>,
    #[serde(default, deserialize_with = "lenient::u32")]
    pub(super) limit: Option<u32>,
    #[serde(default, deserialize_with = "lenient::u32")]
    pub(super) role: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyDays {
    pub(super) key_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::u32")]
    pub(super) pending_window_in_days: Option<u32>,
    #[serde(default, deserialize_with = "lenient::u32")]
    pub(super) rotate_days: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UpdateAlias {
    pub(super) key_id: Option<String>,
    pub(super) alias: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UpdateDescription {
    pub(super) key_id: Option<String>,
    pub(super) description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GenerateDataKey {
    pub(super) key_id: Option<String>,
    pub(super) key_spec: Option<String>,
    #[serde(default, deserialize_with = "lenient::u32")]
    pub(super) number_of_bytes: Option<u32>,
    pub(super) encryption_context: Option<String>,
    pub(super) encryption_public_key: Option<String>,
    pub(super) encryption_algorithm: Option<String>,
    #[serde(default, deserialize_with = "lenient::u32")]
    pub(super) is_hosted_by_kms: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Encrypt {
    pub(super) key_id: Option<String>,
    pub(super) plaintext: Option<String>,
    pub(super) encryption_context: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Decrypt {
    pub(super) ciphertext_blob: Option<String>,
    pub(super) encryption_context: Option<String>,
    pub(super) encryption_public_key: Option<String>,
    pub(super) encryption_algorithm: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ReEncrypt {
    pub(super) ciphertext_blob: Option<String>,
    pub(super) destination_key_id: Option<String>,
    pub(super) source_encryption_context: Option<String>,
    pub(super) destination_encryption_context: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Random {
    #[serde(default, deserialize_with = "lenient::u32")]
    pub(super) number_of_bytes: Option<u32>,
}

/// Tencent's `KeyMetadata`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyMetadata {
    pub(super) key_id: String,
    pub(super) alias: String,
    pub(super) create_time: i64,
    pub(super) description: String,
    pub(super) key_state: &'static str,
    pub(super) key_usage: String,
    pub(super) r#type: u32,
    pub(super) creator_uin: u64,
    pub(super) key_rotation_enabled: bool,
    pub(super) owner: String,
    pub(super) next_rotate_time: i64,
    pub(super) last_rotate_time: i64,
    pub(super) rotate_days: u32,
    pub(super) deletion_date: i64,
    pub(super) origin: String,
    pub(super) valid_to: i64,
    pub(super) resource_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateKeyOut {
    pub(super) key_id: String,
    pub(super) alias: String,
    pub(super) create_time: i64,
    pub(super) description: String,
    pub(super) key_state: &'static str,
    pub(super) key_usage: String,
    pub(super) tag_code: u32,
    pub(super) tag_msg: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyMetadataOut {
    pub(super) key_metadata: KeyMetadata,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyIdOut {
    pub(super) key_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListKeysOut {
    pub(super) keys: Vec<KeyIdOut>,
    pub(super) total_count: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DeletionOut {
    pub(super) deletion_date: i64,
    pub(super) key_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RotationOut {
    pub(super) key_rotation_enabled: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TaskOut {
    pub(super) task_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DataKeyOut {
    pub(super) key_id: String,
    pub(super) plaintext: String,
    pub(super) ciphertext_blob: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SealedOut {
    pub(super) ciphertext_blob: String,
    pub(super) key_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct OpenedOut {
    pub(super) key_id: String,
    pub(super) plaintext: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ReEncryptedOut {
    pub(super) ciphertext_blob: String,
    pub(super) key_id: String,
    pub(super) source_key_id: String,
    pub(super) re_encrypted: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RandomOut {
    pub(super) plaintext: String,
}
