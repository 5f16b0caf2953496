//! The tonic service: a thin mapping between `kms.v1` messages and the [`Kms`] core. Errors are
//! mapped to a status once, in [`status`]; every request logs one line (method, key id, status,
//! latency) and never a plaintext, data key or context value.

use std::{sync::Arc, time::Instant};

use kms_proto::pb::{self, key_management_service_server::KeyManagementService};
use tonic::{Code, Request, Response, Status, metadata::MetadataValue};

use uuid::Uuid;

use crate::{
    error::Error,
    keys::{KeyMetadata, KeyState},
    kms::{
        Kms,
        data_keys::{DataKeyItem, DataKeySpec, DecryptItem},
        lifecycle::ListKeys,
    },
};

/// Most items in one batch call.
pub const MAX_BATCH_ITEMS: usize = crate::kms::data_keys::MAX_BATCH_ITEMS;
/// Metadata entry carrying the Tencent error code of a failed call.
pub const ERROR_CODE_METADATA: &str = "x-kms-error-code";

/// The gRPC face of a [`Kms`].
#[derive(Debug, Clone)]
pub struct KmsService {
    kms: Arc<Kms>,
}

impl KmsService {
    /// Serves `kms`.
    pub fn new(kms: Arc<Kms>) -> Self {
        Self { kms }
    }
}

/// Maps a core error to the status sent to the client. Internal detail is logged, not sent.
pub fn status(err: &Error) -> Status {
    let (code, message) = match err {
        Error::NotFound(_) => (Code::NotFound, err.to_string()),
        Error::InvalidArgument(_) | Error::Seed { .. } | Error::InvalidCiphertext => {
            (Code::InvalidArgument, err.to_string())
        }
        Error::KeyState { .. } | Error::ExternalMaterial(_) => {
            (Code::FailedPrecondition, err.to_string())
        }
        Error::AliasExists(_) => (Code::AlreadyExists, err.to_string()),
        Error::ServiceKey(_) => (Code::PermissionDenied, err.to_string()),
        Error::RootKeyMismatch
        | Error::RootKey(_)
        | Error::Storage(_)
        | Error::Io(_)
        | Error::Internal(_) => {
            tracing::error!(error = %err, "internal error");
            (Code::Internal, "internal error".to_owned())
        }
    };
    let mut status = Status::new(code, message);
    status.metadata_mut().insert(
        ERROR_CODE_METADATA,
        MetadataValue::from_static(err.tencent_code()),
    );
    status
}

fn item_error(err: &Error) -> pb::ItemError {
    let s = status(err);
    pb::ItemError {
        code: s.code() as i32,
        message: s.message().to_owned(),
        error_code: err.tencent_code().to_owned(),
    }
}

/// Runs a core call, maps its error, and logs the request line.
fn finish<T>(
    method: &'static str,
    key: &str,
    started: Instant,
    result: crate::Result<T>,
) -> Result<Response<T>, Status> {
    let latency_us = started.elapsed().as_micros();
    match result {
        Ok(v) => {
            tracing::info!(method, key_id = key, status = "OK", latency_us, "request");
            Ok(Response::new(v))
        }
        Err(e) => {
            let s = status(&e);
            tracing::info!(method, key_id = key, status = ?s.code(), latency_us, "request");
            Err(s)
        }
    }
}

/// Runs a core call that may write to the key store on a blocking thread.
async fn off_thread<T: Send + 'static>(
    f: impl FnOnce() -> crate::Result<T> + Send + 'static,
) -> crate::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(Error::Internal(format!("task failed: {e}"))))
}

/// A mutation: it writes to the key store, so it runs on a blocking thread.
async fn blocking<T: Send + 'static>(
    method: &'static str,
    key: String,
    f: impl FnOnce() -> crate::Result<T> + Send + 'static,
) -> Result<Response<T>, Status> {
    let started = Instant::now();
    let result = off_thread(f).await;
    finish(method, &key, started, result)
}

/// A cryptographic call served from memory: cheap enough to run inline.
fn inline<T>(
    method: &'static str,
    key: &str,
    f: impl FnOnce() -> crate::Result<T>,
) -> Result<Response<T>, Status> {
    let started = Instant::now();
    finish(method, key, started, f())
}

/// The key a request that names only a ciphertext is logged under, taken from the core's answer:
/// the key that opened it, or the key a state refusal names ("-" for a blob that did not open).
/// Nothing when the request line will not be logged (spares the hot path).
fn answered_key<T>(result: &crate::Result<T>, key_id: impl FnOnce(&T) -> Uuid) -> String {
    if !tracing::enabled!(tracing::Level::INFO) {
        return String::new();
    }
    match result {
        Ok(v) => key_id(v).to_string(),
        Err(Error::KeyState { key_id, .. }) => key_id.clone(),
        Err(_) => "-".to_owned(),
    }
}

/// Core metadata to the wire form.
pub fn metadata_to_pb(m: KeyMetadata) -> pb::KeyMetadata {
    pb::KeyMetadata {
        key_id: m.key_id.to_string(),
        alias: m.alias,
        description: m.description,
        state: state_to_pb(m.state) as i32,
        key_usage: m.key_usage,
        owner: m.owner,
        origin: m.origin,
        create_time: m.create_time,
        deletion_date: m.deletion_date,
        rotation_enabled: m.rotation_enabled,
        rotate_days: m.rotate_days,
        last_rotate_time: m.last_rotate_time,
        next_rotate_time: m.next_rotate_time,
        current_key_version: m.current_key_version,
    }
}

fn state_to_pb(s: KeyState) -> pb::KeyState {
    match s {
        KeyState::Enabled => pb::KeyState::Enabled,
        KeyState::Disabled => pb::KeyState::Disabled,
        KeyState::PendingDelete => pb::KeyState::PendingDelete,
        KeyState::PendingImport => pb::KeyState::PendingImport,
        KeyState::Archived => pb::KeyState::Archived,
    }
}

fn state_from_pb(v: i32) -> crate::Result<Option<KeyState>> {
    match pb::KeyState::try_from(v) {
        Ok(pb::KeyState::Unspecified) => Ok(None),
        Ok(pb::KeyState::Enabled) => Ok(Some(KeyState::Enabled)),
        Ok(pb::KeyState::Disabled) => Ok(Some(KeyState::Disabled)),
        Ok(pb::KeyState::PendingDelete) => Ok(Some(KeyState::PendingDelete)),
        Ok(pb::KeyState::PendingImport) => Ok(Some(KeyState::PendingImport)),
        Ok(pb::KeyState::Archived) => Ok(Some(KeyState::Archived)),
        Err(_) => Err(Error::invalid(format!("unknown key state {v}"))),
    }
}

fn spec_from_pb(req: &pb::GenerateDataKeyRequest) -> crate::Result<DataKeySpec> {
    if req.number_of_bytes != 0 {
        return Ok(DataKeySpec::Bytes(req.number_of_bytes));
    }
    match pb::KeySpec::try_from(req.key_spec) {
        Ok(pb::KeySpec::Aes256) => Ok(DataKeySpec::Aes256),
        Ok(pb::KeySpec::Aes128) => Ok(DataKeySpec::Aes128),
        Ok(pb::KeySpec::Unspecified) => Err(Error::invalid(
            "one of key_spec (AES_256, AES_128) or number_of_bytes (1..=1024) is required",
        )),
        Err(_) => Err(Error::invalid(format!("unknown key_spec {}", req.key_spec))),
    }
}

fn generate(
    kms: &Kms,
    req: &pb::GenerateDataKeyRequest,
    with_plaintext: bool,
) -> crate::Result<crate::DataKey> {
    let spec = spec_from_pb(req)?;
    kms.generate_data_key(&req.key_id, spec, &req.encryption_context, with_plaintext)
}

fn data_key_to_pb(dk: crate::DataKey) -> pb::GenerateDataKeyResponse {
    pb::GenerateDataKeyResponse {
        key_id: dk.key_id.to_string(),
        plaintext: dk
            .plaintext
            .map(|p| p.expose().to_vec())
            .unwrap_or_default(),
        ciphertext_blob: dk.ciphertext_blob,
        key_version: dk.key_version,
    }
}

fn check_batch(n: usize) -> crate::Result<()> {
    if n == 0 || n > MAX_BATCH_ITEMS {
        return Err(Error::invalid(format!(
            "a batch must have 1..={MAX_BATCH_ITEMS} items, got {n}"
        )));
    }
    Ok(())
}

#[tonic::async_trait]
impl KeyManagementService for KmsService {
    async fn create_key(
        &self,
        r: Request<pb::CreateKeyRequest>,
    ) -> Result<Response<pb::CreateKeyResponse>, Status> {
        let r = r.into_inner();
        let kms = self.kms.clone();
        blocking("CreateKey", r.alias.clone(), move || {
            kms.create_key(&r.alias, &r.description, &r.key_usage)
                .map(|m| pb::CreateKeyResponse {
                    key_metadata: Some(metadata_to_pb(m)),
                })
        })
        .await
    }

    async fn describe_key(
        &self,
        r: Request<pb::DescribeKeyRequest>,
    ) -> Result<Response<pb::DescribeKeyResponse>, Status> {
        let r = r.into_inner();
        // Served from the cache like GenerateDataKey (it writes only to delete a key past its
        // deletion date), so it skips the hop to a blocking thread.
        inline("DescribeKey", &r.key_id, || {
            self.kms
                .describe_key(&r.key_id)
                .map(|m| pb::DescribeKeyResponse {
                    key_metadata: Some(metadata_to_pb(m)),
                })
        })
    }

    async fn list_keys(
        &self,
        r: Request<pb::ListKeysRequest>,
    ) -> Result<Response<pb::ListKeysResponse>, Status> {
        let r = r.into_inner();
        let kms = self.kms.clone();
        blocking("ListKeys", String::new(), move || {
            let page = kms.list_keys(ListKeys {
                offset: r.offset,
                limit: r.limit,
                state: state_from_pb(r.state)?,
                include_service_keys: r.include_service_keys,
            })?;
            Ok(pb::ListKeysResponse {
                keys: page.keys.into_iter().map(metadata_to_pb).collect(),
                total_count: page.total_count,
            })
        })
        .await
    }

    async fn enable_key(
        &self,
        r: Request<pb::EnableKeyRequest>,
    ) -> Result<Response<pb::EnableKeyResponse>, Status> {
        let r = r.into_inner();
        let kms = self.kms.clone();
        blocking("EnableKey", r.key_id.clone(), move || {
            kms.enable_key(&r.key_id).map(|()| pb::EnableKeyResponse {})
        })
        .await
    }

    async fn disable_key(
        &self,
        r: Request<pb::DisableKeyRequest>,
    ) -> Result<Response<pb::DisableKeyResponse>, Status> {
        let r = r.into_inner();
        let kms = self.kms.clone();
        blocking("DisableKey", r.key_id.clone(), move || {
            kms.disable_key(&r.key_id)
                .map(|()| pb::DisableKeyResponse {})
        })
        .await
    }

    async fn schedule_key_deletion(
        &self,
        r: Request<pb::ScheduleKeyDeletionRequest>,
    ) -> Result<Response<pb::ScheduleKeyDeletionResponse>, Status> {
        let r = r.into_inner();
        let kms = self.kms.clone();
        blocking("ScheduleKeyDeletion", r.key_id.clone(), move || {
            let date = kms.schedule_key_deletion(&r.key_id, r.pending_window_in_days)?;
            let key_id = kms.describe_key(&r.key_id)?.key_id.to_string();
            Ok(pb::ScheduleKeyDeletionResponse {
                key_id,
                deletion_date: date,
            })
        })
        .await
    }

    async fn cancel_key_deletion(
        &self,
        r: Request<pb::CancelKeyDeletionRequest>,
    ) -> Result<Response<pb::CancelKeyDeletionResponse>, Status> {
        let r = r.into_inner();
        let kms = self.kms.clone();
        blocking("CancelKeyDeletion", r.key_id.clone(), move || {
            kms.cancel_key_deletion(&r.key_id)
                .map(|id| pb::CancelKeyDeletionResponse {
                    key_id: id.to_string(),
                })
        })
        .await
    }

    async fn archive_key(
        &self,
        r: Request<pb::ArchiveKeyRequest>,
    ) -> Result<Response<pb::ArchiveKeyResponse>, Status> {
        let r = r.into_inner();
        let kms = self.kms.clone();
        blocking("ArchiveKey", r.key_id.clone(), move || {
            kms.archive_key(&r.key_id)
                .map(|()| pb::ArchiveKeyResponse {})
        })
        .await
    }

    async fn cancel_key_archive(
        &self,
        r: Request<pb::CancelKeyArchiveRequest>,
    ) -> Result<Response<pb::CancelKeyArchiveResponse>, Status> {
        let r = r.into_inner();
        let kms = self.kms.clone();
        blocking("CancelKeyArchive", r.key_id.clone(), move || {
            kms.cancel_key_archive(&r.key_id)
                .map(|()| pb::CancelKeyArchiveResponse {})
        })
        .await
    }

    async fn update_alias(
        &self,
        r: Request<pb::UpdateAliasRequest>,
    ) -> Result<Response<pb::UpdateAliasResponse>, Status> {
        let r = r.into_inner();
        let kms = self.kms.clone();
        blocking("UpdateAlias", r.key_id.clone(), move || {
            kms.update_alias(&r.key_id, &r.alias)
                .map(|()| pb::UpdateAliasResponse {})
        })
        .await
    }

    async fn update_key_description(
        &self,
        r: Request<pb::UpdateKeyDescriptionRequest>,
    ) -> Result<Response<pb::UpdateKeyDescriptionResponse>, Status> {
        let r = r.into_inner();
        let kms = self.kms.clone();
        blocking("UpdateKeyDescription", r.key_id.clone(), move || {
            kms.update_key_description(&r.key_id, &r.description)
                .map(|()| pb::UpdateKeyDescriptionResponse {})
        })
        .await
    }

    async fn enable_key_rotation(
        &self,
        r: Request<pb::EnableKeyRotationRequest>,
    ) -> Result<Response<pb::EnableKeyRotationResponse>, Status> {
        let r = r.into_inner();
        let kms = self.kms.clone();
        blocking("EnableKeyRotation", r.key_id.clone(), move || {
            kms.enable_key_rotation(&r.key_id, r.rotate_days)
                .map(|()| pb::EnableKeyRotationResponse {})
        })
        .await
    }

    async fn disable_key_rotation(
        &self,
        r: Request<pb::DisableKeyRotationRequest>,
    ) -> Result<Response<pb::DisableKeyRotationResponse>, Status> {
        let r = r.into_inner();
        let kms = self.kms.clone();
        blocking("DisableKeyRotation", r.key_id.clone(), move || {
            kms.disable_key_rotation(&r.key_id)
                .map(|()| pb::DisableKeyRotationResponse {})
        })
        .await
    }

    async fn get_key_rotation_status(
        &self,
        r: Request<pb::GetKeyRotationStatusRequest>,
    ) -> Result<Response<pb::GetKeyRotationStatusResponse>, Status> {
        let r = r.into_inner();
        let kms = self.kms.clone();
        blocking("GetKeyRotationStatus", r.key_id.clone(), move || {
            kms.key_rotation_status(&r.key_id)
                .map(|s| pb::GetKeyRotationStatusResponse {
                    key_rotation_enabled: s.enabled,
                    rotate_days: s.rotate_days,
                    last_rotate_time: s.last_rotate_time,
                    next_rotate_time: s.next_rotate_time,
                    current_key_version: s.current_key_version,
                })
        })
        .await
    }

    async fn rotate_key(
        &self,
        r: Request<pb::RotateKeyRequest>,
    ) -> Result<Response<pb::RotateKeyResponse>, Status> {
        let r = r.into_inner();
        let kms = self.kms.clone();
        blocking("RotateKey", r.key_id.clone(), move || {
            kms.rotate_key(&r.key_id)
                .map(|(id, v)| pb::RotateKeyResponse {
                    key_id: id.to_string(),
                    key_version: v,
                })
        })
        .await
    }

    async fn get_default_key(
        &self,
        _: Request<pb::GetDefaultKeyRequest>,
    ) -> Result<Response<pb::GetDefaultKeyResponse>, Status> {
        let id = self.kms.default_key_id().to_string();
        inline("GetDefaultKey", &id, || {
            self.kms.default_key().map(|m| pb::GetDefaultKeyResponse {
                key_metadata: Some(metadata_to_pb(m)),
            })
        })
    }

    async fn generate_data_key(
        &self,
        r: Request<pb::GenerateDataKeyRequest>,
    ) -> Result<Response<pb::GenerateDataKeyResponse>, Status> {
        let r = r.into_inner();
        inline("GenerateDataKey", &r.key_id, || {
            generate(&self.kms, &r, true).map(data_key_to_pb)
        })
    }

    async fn generate_data_key_without_plaintext(
        &self,
        r: Request<pb::GenerateDataKeyRequest>,
    ) -> Result<Response<pb::GenerateDataKeyWithoutPlaintextResponse>, Status> {
        let r = r.into_inner();
        inline("GenerateDataKeyWithoutPlaintext", &r.key_id, || {
            generate(&self.kms, &r, false).map(|dk| pb::GenerateDataKeyWithoutPlaintextResponse {
                key_id: dk.key_id.to_string(),
                ciphertext_blob: dk.ciphertext_blob,
                key_version: dk.key_version,
            })
        })
    }

    async fn encrypt(
        &self,
        r: Request<pb::EncryptRequest>,
    ) -> Result<Response<pb::EncryptResponse>, Status> {
        let r = r.into_inner();
        inline("Encrypt", &r.key_id, || {
            self.kms
                .encrypt(&r.key_id, &r.plaintext, &r.encryption_context)
                .map(|s| pb::EncryptResponse {
                    key_id: s.key_id.to_string(),
                    ciphertext_blob: s.ciphertext_blob,
                    key_version: s.key_version,
                })
        })
    }

    async fn decrypt(
        &self,
        r: Request<pb::DecryptRequest>,
    ) -> Result<Response<pb::DecryptResponse>, Status> {
        let r = r.into_inner();
        let started = Instant::now();
        let result = self.kms.decrypt(&r.ciphertext_blob, &r.encryption_context);
        let key = answered_key(&result, |d| d.key_id);
        finish(
            "Decrypt",
            &key,
            started,
            result.map(|d| pb::DecryptResponse {
                key_id: d.key_id.to_string(),
                plaintext: d.plaintext.expose().to_vec(),
                key_version: d.key_version,
            }),
        )
    }

    async fn re_encrypt(
        &self,
        r: Request<pb::ReEncryptRequest>,
    ) -> Result<Response<pb::ReEncryptResponse>, Status> {
        let r = r.into_inner();
        let kms = self.kms.clone();
        let started = Instant::now();
        // ReEncrypt may rotate a key that is due, which writes: run it off the async threads.
        let result = off_thread(move || {
            kms.re_encrypt(
                &r.ciphertext_blob,
                &r.destination_key_id,
                &r.source_encryption_context,
                &r.destination_encryption_context,
            )
        })
        .await;
        let key = answered_key(&result, |re| re.source_key_id);
        finish(
            "ReEncrypt",
            &key,
            started,
            result.map(|re| pb::ReEncryptResponse {
                ciphertext_blob: re.sealed.ciphertext_blob,
                key_id: re.sealed.key_id.to_string(),
                key_version: re.sealed.key_version,
                source_key_id: re.source_key_id.to_string(),
                source_key_version: re.source_key_version,
                re_encrypted: re.re_encrypted,
            }),
        )
    }

    async fn generate_random(
        &self,
        r: Request<pb::GenerateRandomRequest>,
    ) -> Result<Response<pb::GenerateRandomResponse>, Status> {
        let n = r.into_inner().number_of_bytes;
        inline("GenerateRandom", "", || {
            self.kms
                .generate_random(n)
                .map(|b| pb::GenerateRandomResponse {
                    plaintext: b.expose().to_vec(),
                })
        })
    }

    async fn batch_generate_data_key(
        &self,
        r: Request<pb::BatchGenerateDataKeyRequest>,
    ) -> Result<Response<pb::BatchGenerateDataKeyResponse>, Status> {
        let r = r.into_inner();
        let key = r
            .items
            .first()
            .map(|i| i.key_id.clone())
            .unwrap_or_default();
        inline("BatchGenerateDataKey", &key, || {
            check_batch(r.items.len())?;
            // A bad key_spec fails its item alone; the others go to the core in one call.
            let specs: Vec<crate::Result<DataKeySpec>> = r.items.iter().map(spec_from_pb).collect();
            let valid: Vec<DataKeyItem<'_>> = r
                .items
                .iter()
                .zip(&specs)
                .filter_map(|(item, spec)| {
                    spec.as_ref().ok().map(|&spec| DataKeyItem {
                        key: &item.key_id,
                        spec,
                        encryption_context: &item.encryption_context,
                    })
                })
                .collect();
            let mut generated = self
                .kms
                .generate_data_keys(&valid, !r.without_plaintext)?
                .into_iter();
            let results = specs
                .into_iter()
                .map(|spec| {
                    let outcome = spec.and_then(|_| {
                        generated.next().unwrap_or_else(|| {
                            Err(Error::Internal("batch result missing".to_owned()))
                        })
                    });
                    pb::BatchGenerateDataKeyResult {
                        result: Some(match outcome {
                            Ok(dk) => {
                                pb::batch_generate_data_key_result::Result::Ok(data_key_to_pb(dk))
                            }
                            Err(e) => {
                                pb::batch_generate_data_key_result::Result::Error(item_error(&e))
                            }
                        }),
                    }
                })
                .collect();
            Ok(pb::BatchGenerateDataKeyResponse { results })
        })
    }

    async fn batch_decrypt(
        &self,
        r: Request<pb::BatchDecryptRequest>,
    ) -> Result<Response<pb::BatchDecryptResponse>, Status> {
        let r = r.into_inner();
        let started = Instant::now();
        let opened = check_batch(r.items.len()).and_then(|()| {
            let items: Vec<DecryptItem<'_>> = r
                .items
                .iter()
                .map(|item| DecryptItem {
                    ciphertext_blob: &item.ciphertext_blob,
                    encryption_context: &item.encryption_context,
                })
                .collect();
            self.kms.decrypt_many(&items)
        });
        // Logged under the first item's key, as the other batch call is.
        let key = match &opened {
            Ok(results) => results
                .first()
                .map(|first| answered_key(first, |d| d.key_id))
                .unwrap_or_default(),
            Err(_) => String::new(),
        };
        let response = opened.map(|results| pb::BatchDecryptResponse {
            results: results
                .into_iter()
                .map(|outcome| pb::BatchDecryptResult {
                    result: Some(match outcome {
                        Ok(d) => pb::batch_decrypt_result::Result::Ok(pb::DecryptResponse {
                            key_id: d.key_id.to_string(),
                            plaintext: d.plaintext.expose().to_vec(),
                            key_version: d.key_version,
                        }),
                        Err(e) => pb::batch_decrypt_result::Result::Error(item_error(&e)),
                    }),
                })
                .collect(),
        });
        finish("BatchDecrypt", &key, started, response)
    }

    async fn seed_keys(
        &self,
        r: Request<pb::SeedKeysRequest>,
    ) -> Result<Response<pb::SeedKeysResponse>, Status> {
        let r = r.into_inner();
        let kms = self.kms.clone();
        blocking("SeedKeys", String::new(), move || {
            let (changed, total) = kms.seed(&r.document)?;
            Ok(pb::SeedKeysResponse {
                changed: u32::try_from(changed).unwrap_or(u32::MAX),
                total: u32::try_from(total).unwrap_or(u32::MAX),
            })
        })
        .await
    }
}
