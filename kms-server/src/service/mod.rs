//! The tonic service: a thin mapping between `kms.v1` messages and the [`Kms`] core. Errors are
//! mapped to a status once, in [`status`] (module `call`); every request logs one line (method, key id, status,
//! latency) and never a plaintext, data key or context value.

use std::{sync::Arc, time::Instant};

use kms_proto::pb::{self, key_management_service_server::KeyManagementService};
use tonic::{Request, Response, Status};

use crate::{
    error::Error,
    kms::{
        Kms,
        data_keys::{DataKeyItem, DataKeySpec, DecryptItem},
        lifecycle::ListKeys,
    },
};

/// Most items in one batch call.
pub const MAX_BATCH_ITEMS: usize = crate::kms::data_keys::MAX_BATCH_ITEMS;
/// Metadata entry carrying the Tencent error code of a failed call.
pub use kms_types::ERROR_CODE_METADATA;

mod call;
mod convert;

pub use call::status;
pub use convert::metadata_to_pb;

use call::{answered_key, blocking, finish, inline, item_error, off_thread};
use convert::{check_batch, data_key_to_pb, generate, spec_from_pb, state_from_pb};

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
