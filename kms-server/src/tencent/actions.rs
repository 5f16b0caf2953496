//! The actions: a typed request and response per Tencent action, each call made through the gRPC
//! service's own method, so the gate (identity, allowed actions and keys), the audit line, the
//! metrics and the request log are the gRPC path's, not a copy of it. What is left here is the
//! wire form: Tencent's names and types, base64 text for bytes, `EncryptionContext` as the JSON
//! text Tencent takes (the gRPC API carries it as base64 of that text), integer unix times.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use kms_proto::pb::{self, key_management_service_server::KeyManagementService as _};
use serde::{Serialize, de::DeserializeOwned};
use tonic::{Response, Status};

use super::{
    Call, key_sets,
    key_sets::Switch,
    params::*,
    service_info,
    wire::{ApiAction, ApiError, code},
};

/// Default and largest `Limit` of ListKeys, as the cloud has them.
pub const LIST_KEYS_DEFAULT_LIMIT: u32 = 10;
/// Largest `Limit` of ListKeys.
pub const LIST_KEYS_MAX_LIMIT: u32 = 200;
/// CreateKey `Type` of a key whose material the KMS generates.
const TYPE_KMS_GENERATED: u32 = 1;
/// CreateKey `Type` of a key whose material is imported.
const TYPE_EXTERNAL: u32 = 2;
/// CreateKey's `TagCode` when the tags were bound. Looked up in tencentcloud-sdk-python
/// (commit bf29717, `tencentcloud/kms/v20190118/models.py`, `CreateKeyResponse.TagCode`; the Ruby
/// SDK's `CreateKeyResponse` documents the same): the return code of the tag operation, where 0
/// is success, 1 an internal error and 2 a business-processing error. `TagMsg` is that
/// operation's message (empty here). The emulator binds tags with the key in one write, so it
/// only ever answers 0; a tag it cannot take fails the whole CreateKey instead.
const TAG_CODE_SUCCESS: u32 = 0;
/// `KeyMetadata.Type` of the keys made here: AES-256-GCM, the FIPS-standard kind (4 is SM).
const METADATA_TYPE_FIPS: u32 = 2;

/// Runs `action` with its parameters; the answer's fields, ready for the envelope.
pub(super) async fn run(
    call: &Call,
    action: ApiAction,
    params: serde_json::Value,
) -> Result<serde_json::Value, ApiError> {
    use ApiAction as A;
    let s = &call.service;
    match action {
        A::CreateKey => {
            let p: CreateKey = parse(params)?;
            let alias = required(p.alias, "Alias")?;
            let origin = match p.r#type.unwrap_or(TYPE_KMS_GENERATED) {
                TYPE_KMS_GENERATED => crate::keys::ORIGIN_KMS,
                TYPE_EXTERNAL => crate::keys::ORIGIN_EXTERNAL,
                t => {
                    return Err(ApiError::new(
                        code::INVALID_TYPE,
                        format!("Type must be 1 or 2, got {t}"),
                    ));
                }
            };
            let key_usage = p.key_usage.unwrap_or_default();
            if !key_usage.is_empty() && crate::keys::KeyUsage::parse(&key_usage).is_none() {
                let known: Vec<&str> = crate::keys::KeyUsage::ALL
                    .iter()
                    .map(|u| u.as_str())
                    .collect();
                return Err(ApiError::new(
                    code::INVALID_KEY_USAGE,
                    format!("KeyUsage must be one of {known:?}, got {key_usage:?}"),
                ));
            }
            kms_types::naming::validate_alias(&alias)
                .map_err(|e| ApiError::new(code::INVALID_ALIAS, e.to_string()))?;
            let tags = p
                .tags
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(i, t)| {
                    Ok(pb::Tag {
                        key: required(t.tag_key, &format!("Tags.{i}.TagKey"))?,
                        value: t.tag_value.unwrap_or_default(),
                    })
                })
                .collect::<Result<_, ApiError>>()?;
            let r = s
                .create_key(call.request(pb::CreateKeyRequest {
                    alias,
                    description: p.description.unwrap_or_default(),
                    key_usage,
                    origin: origin.to_owned(),
                    tags,
                }))
                .await;
            let m = metadata(answer(r)?.key_metadata)?;
            to_json(CreateKeyOut {
                key_id: m.key_id,
                alias: m.alias,
                create_time: m.create_time,
                description: m.description,
                key_state: m.key_state,
                key_usage: m.key_usage,
                // The tags were checked and kept with the key, or the whole call failed: the tag
                // step never fails on its own here, so it is always a success.
                tag_code: TAG_CODE_SUCCESS,
                tag_msg: "",
            })
        }
        A::DescribeKey => {
            let key_id = key_id(params)?;
            let r = s
                .describe_key(call.request(pb::DescribeKeyRequest { key_id }))
                .await;
            to_json(KeyMetadataOut {
                key_metadata: metadata(answer(r)?.key_metadata)?,
            })
        }
        A::ListKeys => {
            let p: ListKeys = parse(params)?;
            let limit = list_limit(p.limit)?;
            // Tencent's ListKeys leaves keys scheduled for deletion and archived ones out.
            let states = [
                pb::KeyState::Enabled,
                pb::KeyState::Disabled,
                pb::KeyState::PendingImport,
            ];
            let r = s
                .list_keys(call.request(pb::ListKeysRequest {
                    offset: p.offset.unwrap_or(0),
                    limit,
                    service_keys_only: service_keys_only(p.role)?,
                    states: states.map(i32::from).to_vec(),
                    ..Default::default()
                }))
                .await;
            let page = answer(r)?;
            to_json(ListKeysOut {
                keys: page
                    .keys
                    .into_iter()
                    .map(|k| KeyIdOut { key_id: k.key_id })
                    .collect(),
                total_count: page.total_count,
            })
        }
        A::EnableKey => {
            let key_id = key_id(params)?;
            answer(
                s.enable_key(call.request(pb::EnableKeyRequest { key_id }))
                    .await,
            )?;
            empty()
        }
        A::DisableKey => {
            let key_id = key_id(params)?;
            answer(
                s.disable_key(call.request(pb::DisableKeyRequest { key_id }))
                    .await,
            )?;
            empty()
        }
        A::ArchiveKey => {
            let key_id = key_id(params)?;
            answer(
                s.archive_key(call.request(pb::ArchiveKeyRequest { key_id }))
                    .await,
            )?;
            empty()
        }
        A::CancelKeyArchive => {
            let key_id = key_id(params)?;
            let r = s
                .cancel_key_archive(call.request(pb::CancelKeyArchiveRequest { key_id }))
                .await;
            answer(r)?;
            empty()
        }
        A::ScheduleKeyDeletion => {
            let p: KeyDays = parse(params)?;
            let key_id = required(p.key_id, "KeyId")?;
            let days = required(p.pending_window_in_days, "PendingWindowInDays")?;
            let window = crate::kms::lifecycle::PENDING_WINDOW_DAYS;
            if !window.contains(&days) {
                return Err(ApiError::new(
                    code::INVALID_PENDING_WINDOW,
                    format!(
                        "PendingWindowInDays must be {}..={}, got {days}",
                        window.start(),
                        window.end()
                    ),
                ));
            }
            let r = s
                .schedule_key_deletion(call.request(pb::ScheduleKeyDeletionRequest {
                    key_id,
                    pending_window_in_days: days,
                }))
                .await;
            let r = answer(r)?;
            to_json(DeletionOut {
                deletion_date: r.deletion_date,
                key_id: r.key_id,
            })
        }
        A::CancelKeyDeletion => {
            let key_id = key_id(params)?;
            let r = s
                .cancel_key_deletion(call.request(pb::CancelKeyDeletionRequest { key_id }))
                .await;
            to_json(KeyIdOut {
                key_id: answer(r)?.key_id,
            })
        }
        A::UpdateAlias => {
            let p: UpdateAlias = parse(params)?;
            let key_id = required(p.key_id, "KeyId")?;
            let alias = required(p.alias, "Alias")?;
            kms_types::naming::validate_alias(&alias)
                .map_err(|e| ApiError::new(code::INVALID_ALIAS, e.to_string()))?;
            answer(
                s.update_alias(call.request(pb::UpdateAliasRequest { key_id, alias }))
                    .await,
            )?;
            empty()
        }
        A::UpdateKeyDescription => {
            let p: UpdateDescription = parse(params)?;
            let key_id = required(p.key_id, "KeyId")?;
            let description = required(p.description, "Description")?;
            let r = s
                .update_key_description(call.request(pb::UpdateKeyDescriptionRequest {
                    key_id,
                    description,
                }))
                .await;
            answer(r)?;
            empty()
        }
        A::EnableKeyRotation => {
            let p: KeyDays = parse(params)?;
            let key_id = required(p.key_id, "KeyId")?;
            let r = s
                .enable_key_rotation(call.request(pb::EnableKeyRotationRequest {
                    key_id,
                    rotate_days: p.rotate_days.unwrap_or(0),
                }))
                .await;
            answer(r)?;
            empty()
        }
        A::DisableKeyRotation => {
            let key_id = key_id(params)?;
            let r = s
                .disable_key_rotation(call.request(pb::DisableKeyRotationRequest { key_id }))
                .await;
            answer(r)?;
            empty()
        }
        A::GetKeyRotationStatus => {
            let key_id = key_id(params)?;
            let r = s
                .get_key_rotation_status(call.request(pb::GetKeyRotationStatusRequest { key_id }))
                .await;
            to_json(RotationOut {
                key_rotation_enabled: answer(r)?.key_rotation_enabled,
            })
        }
        A::RotateKey => {
            let key_id = key_id(params)?;
            let r = answer(
                s.rotate_key(call.request(pb::RotateKeyRequest { key_id }))
                    .await,
            )?;
            // Rotation is done when the call returns; the task id names the version it made.
            to_json(TaskOut {
                task_id: format!("{}-v{}", r.key_id, r.key_version),
            })
        }
        A::GenerateDataKey => {
            let p: GenerateDataKey = parse(params)?;
            let key_id = required(p.key_id, "KeyId")?;
            if p.is_hosted_by_kms.unwrap_or(0) != 0 {
                return Err(ApiError::unsupported(
                    "IsHostedByKms (hosted data keys) is not supported",
                ));
            }
            let key_spec = match (p.key_spec.as_deref(), p.number_of_bytes) {
                (_, Some(_)) | (None, None) => pb::KeySpec::Unspecified,
                (Some("AES_256"), None) => pb::KeySpec::Aes256,
                (Some("AES_128"), None) => pb::KeySpec::Aes128,
                (Some(other), None) => {
                    return Err(ApiError::value(format!(
                        "KeySpec must be AES_256 or AES_128, got {other:?}"
                    )));
                }
            };
            if key_spec == pb::KeySpec::Unspecified && p.number_of_bytes.is_none() {
                return Err(ApiError::missing("KeySpec or NumberOfBytes"));
            }
            let r = s
                .generate_data_key(call.request(pb::GenerateDataKeyRequest {
                    key_id,
                    key_spec: key_spec as i32,
                    number_of_bytes: p.number_of_bytes.unwrap_or(0),
                    encryption_context: context(p.encryption_context.as_deref()),
                    encryption_public_key: p.encryption_public_key.unwrap_or_default(),
                    encryption_algorithm: p.encryption_algorithm.unwrap_or_default(),
                }))
                .await;
            let dk = answer(r)?;
            to_json(DataKeyOut {
                plaintext: STANDARD.encode(&dk.plaintext),
                key_id: dk.key_id,
                ciphertext_blob: STANDARD.encode(&dk.ciphertext_blob),
            })
        }
        A::Encrypt => {
            let p: Encrypt = parse(params)?;
            let key_id = required(p.key_id, "KeyId")?;
            let plaintext = STANDARD
                .decode(required(p.plaintext, "Plaintext")?)
                .map_err(|_| ApiError::new(code::INVALID_PLAINTEXT, "Plaintext must be base64"))?;
            let r = s
                .encrypt(call.request(pb::EncryptRequest {
                    key_id,
                    plaintext,
                    encryption_context: context(p.encryption_context.as_deref()),
                }))
                .await;
            let sealed = answer(r)?;
            to_json(SealedOut {
                ciphertext_blob: STANDARD.encode(&sealed.ciphertext_blob),
                key_id: sealed.key_id,
            })
        }
        A::Decrypt => {
            let p: Decrypt = parse(params)?;
            let blob = blob(required(p.ciphertext_blob, "CiphertextBlob")?)?;
            let r = s
                .decrypt(call.request(pb::DecryptRequest {
                    ciphertext_blob: blob,
                    encryption_context: context(p.encryption_context.as_deref()),
                    encryption_public_key: p.encryption_public_key.unwrap_or_default(),
                    encryption_algorithm: p.encryption_algorithm.unwrap_or_default(),
                }))
                .await;
            let d = answer(r)?;
            to_json(OpenedOut {
                plaintext: STANDARD.encode(&d.plaintext),
                key_id: d.key_id,
            })
        }
        A::ReEncrypt => {
            let p: ReEncrypt = parse(params)?;
            let blob = blob(required(p.ciphertext_blob, "CiphertextBlob")?)?;
            let r = s
                .re_encrypt(call.request(pb::ReEncryptRequest {
                    ciphertext_blob: blob,
                    destination_key_id: p.destination_key_id.unwrap_or_default(),
                    source_encryption_context: context(p.source_encryption_context.as_deref()),
                    destination_encryption_context: context(
                        p.destination_encryption_context.as_deref(),
                    ),
                }))
                .await;
            let re = answer(r)?;
            to_json(ReEncryptedOut {
                ciphertext_blob: STANDARD.encode(&re.ciphertext_blob),
                key_id: re.key_id,
                source_key_id: re.source_key_id,
                re_encrypted: re.re_encrypted,
            })
        }
        A::DescribeKeys => key_sets::describe(call, params).await,
        A::EnableKeys => key_sets::switch(call, Switch::Enable, params).await,
        A::DisableKeys => key_sets::switch(call, Switch::Disable, params).await,
        A::ListKeyDetail => key_sets::list_detail(call, params).await,
        A::GetServiceStatus => service_info::status(),
        A::GetRegions => service_info::regions(call.region.as_deref()),
        A::ListAlgorithms => service_info::algorithms(),
        A::GetPublicKey
        | A::SignByAsymmetricKey
        | A::VerifyByAsymmetricKey
        | A::AsymmetricRsaDecrypt
        | A::AsymmetricSm2Decrypt => super::asymmetric::run(call, action, params).await,
        A::GetParametersForImport | A::ImportKeyMaterial | A::DeleteImportedKeyMaterial => {
            super::byok::run(call, action, params).await
        }
        A::GenerateRandom => {
            let p: Random = parse(params)?;
            let n = required(p.number_of_bytes, "NumberOfBytes")?;
            let r = s
                .generate_random(call.request(pb::GenerateRandomRequest { number_of_bytes: n }))
                .await;
            to_json(RandomOut {
                plaintext: STANDARD.encode(answer(r)?.plaintext),
            })
        }
    }
}

/// A listing's `Limit` (ListKeys, ListKeyDetail): default [`LIST_KEYS_DEFAULT_LIMIT`], at most
/// [`LIST_KEYS_MAX_LIMIT`].
pub(super) fn list_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit.unwrap_or(LIST_KEYS_DEFAULT_LIMIT) {
        limit @ 1..=LIST_KEYS_MAX_LIMIT => Ok(limit),
        limit => Err(ApiError::value(format!(
            "Limit must be 1..={LIST_KEYS_MAX_LIMIT}, got {limit}"
        ))),
    }
}

/// A listing's `Role`: 0 (default) the user's keys, 1 those cloud products made (the service's).
pub(super) fn service_keys_only(role: Option<u32>) -> Result<bool, ApiError> {
    match role.unwrap_or(0) {
        0 => Ok(false),
        1 => Ok(true),
        r => Err(ApiError::value(format!("Role must be 0 or 1, got {r}"))),
    }
}

/// The gRPC answer, or its refusal with the Tencent code the status carries.
pub(super) fn answer<T>(r: Result<Response<T>, Status>) -> Result<T, ApiError> {
    r.map(Response::into_inner).map_err(|status| {
        let code = status
            .metadata()
            .get(kms_types::ERROR_CODE_METADATA)
            .and_then(|v| v.to_str().ok())
            .and_then(kms_types::ErrorCode::from_code)
            .map_or(code::INTERNAL_ERROR, kms_types::ErrorCode::as_str);
        let message = if code == code::INTERNAL_ERROR {
            "internal error".to_owned()
        } else {
            status.message().to_owned()
        };
        ApiError::new(code, message)
    })
}

pub(super) fn parse<T: DeserializeOwned>(params: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(params)
        .map_err(|e| ApiError::new(code::INVALID_PARAMETER, format!("invalid parameters: {e}")))
}

pub(super) fn required<T>(v: Option<T>, name: &str) -> Result<T, ApiError> {
    v.ok_or_else(|| ApiError::missing(name))
}

fn key_id(params: serde_json::Value) -> Result<String, ApiError> {
    let p: KeyOnly = parse(params)?;
    required(p.key_id, "KeyId")
}

/// Tencent's `EncryptionContext` (a JSON text) as the gRPC API carries it (base64 of that text);
/// the core parses and checks it as for any gRPC call.
fn context(json: Option<&str>) -> String {
    json.filter(|j| !j.is_empty())
        .map(|j| STANDARD.encode(j))
        .unwrap_or_default()
}

fn blob(text: String) -> Result<Vec<u8>, ApiError> {
    kms_types::context::B64_LENIENT
        .decode(text.trim())
        .map_err(|_| ApiError::new(code::INVALID_CIPHERTEXT, "CiphertextBlob must be base64"))
}

pub(super) fn to_json<T: Serialize>(v: T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(v).map_err(|e| {
        tracing::error!(error = %e, "cannot encode a response");
        ApiError::new(code::INTERNAL_ERROR, "internal error")
    })
}

fn empty() -> Result<serde_json::Value, ApiError> {
    Ok(serde_json::Value::Object(serde_json::Map::new()))
}

/// Tencent's KeyMetadata from the gRPC one. Tencent's has no tags (the cloud shows a key's tags
/// through its Tag service, and the SDK warns about fields its model lacks), so they are left out.
pub(super) fn metadata(m: Option<pb::KeyMetadata>) -> Result<KeyMetadata, ApiError> {
    let m = m.ok_or_else(|| ApiError::new(code::INTERNAL_ERROR, "internal error"))?;
    let key_state = match pb::KeyState::try_from(m.state) {
        Ok(pb::KeyState::Enabled) => crate::KeyState::Enabled,
        Ok(pb::KeyState::Disabled) => crate::KeyState::Disabled,
        Ok(pb::KeyState::PendingDelete) => crate::KeyState::PendingDelete,
        Ok(pb::KeyState::PendingImport) => crate::KeyState::PendingImport,
        Ok(pb::KeyState::Archived) => crate::KeyState::Archived,
        Ok(pb::KeyState::Unspecified) | Err(_) => {
            return Err(ApiError::new(code::INTERNAL_ERROR, "internal error"));
        }
    }
    .as_str();
    Ok(KeyMetadata {
        resource_id: format!("creatorUin/0/{}", m.key_id),
        key_id: m.key_id,
        alias: m.alias,
        create_time: m.create_time,
        description: m.description,
        key_state,
        key_usage: m.key_usage,
        r#type: METADATA_TYPE_FIPS,
        creator_uin: 0,
        key_rotation_enabled: m.rotation_enabled,
        owner: m.owner,
        next_rotate_time: m.next_rotate_time,
        last_rotate_time: m.last_rotate_time,
        rotate_days: m.rotate_days,
        deletion_date: m.deletion_date,
        origin: m.origin,
        valid_to: m.valid_to,
    })
}
