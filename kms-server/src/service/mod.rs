//! The tonic service: a thin mapping between `kms.v1` messages and the [`Kms`] core. Errors are
//! mapped to a status once, in [`status`] (module `call`); every request logs one line (method, key id, status,
//! latency) and never a plaintext, data key or context value.
//!
//! The `KeyManagementService` impl must stay one piece (a trait impl cannot be split across
//! files), so a group of calls with bodies of its own keeps them in its module and the impl only
//! forwards: the asymmetric calls (GetPublicKey, Sign, Verify, AsymmetricDecrypt) are in `asymmetric`.

use std::{borrow::Cow, sync::Arc};

use kms_proto::pb::{self, key_management_service_server::KeyManagementService};
use tonic::{Request, Response, Status};

use crate::{
    EncryptionContext,
    access::Action,
    audit::AuditKey,
    blob::BlobHeader,
    error::Error,
    kms::{
        DEFAULT_KEY_ALIAS, Kms,
        data_keys::{DataKeyItem, DataKeySpec, DecryptItem},
    },
};

/// Most items in one batch call.
pub const MAX_BATCH_ITEMS: usize = crate::kms::data_keys::MAX_BATCH_ITEMS;
/// Metadata entry carrying the Tencent error code of a failed call.
pub use kms_types::ERROR_CODE_METADATA;

mod asymmetric;
mod audited;
mod byok;
mod call;
mod convert;
mod gate;
mod key_sets;

pub use call::{Observers, status};
pub use convert::metadata_to_pb;
pub use gate::{AUTHORIZATION_METADATA, AccessControl, TencentCaller};

use call::{Call, answered_key, blob_key, item_error};
use convert::{
    check_batch, data_key_to_pb, generate, list_request, no_sealing, seal, sealing_key,
    spec_from_pb, tags_from_pb,
};

/// The gRPC face of a [`Kms`].
#[derive(Debug, Clone)]
pub struct KmsService {
    kms: Arc<Kms>,
    access: Arc<AccessControl>,
    observers: Arc<Observers>,
}

impl KmsService {
    /// Serves `kms` in development mode: every call is allowed.
    pub fn new(kms: Arc<Kms>) -> Self {
        Self::with_access(kms, Arc::new(AccessControl::allow_all()))
    }

    /// Serves `kms` under an access policy (see [`crate::access`]).
    pub fn with_access(kms: Arc<Kms>, access: Arc<AccessControl>) -> Self {
        Self {
            kms,
            access,
            observers: Arc::new(Observers::default()),
        }
    }

    /// Writes every call to an audit log and counts it in the metrics (each when given).
    pub fn with_observers(mut self, observers: Arc<Observers>) -> Self {
        self.observers = observers;
        self
    }

    /// What watches the calls (the audit log, the metrics): also for a front end's own refusals.
    pub(crate) fn observers(&self) -> &Observers {
        &self.observers
    }

    /// Starts a call: identifies the caller.
    fn begin<T>(&self, action: Action, request: &Request<T>) -> Call {
        Call::new(
            action,
            self.access.caller(request),
            self.observers.clone(),
            request.remote_addr(),
        )
    }
}

#[tonic::async_trait]
impl KeyManagementService for KmsService {
    async fn create_key(
        &self,
        r: Request<pb::CreateKeyRequest>,
    ) -> Result<Response<pb::CreateKeyResponse>, Status> {
        let call = self.begin(Action::CreateKey, &r);
        let r = r.into_inner();
        let kms = self.kms.clone();
        call.blocking(r.alias.clone(), move |caller| {
            caller.new_alias(Action::CreateKey, &r.alias)?;
            let external = match r.origin.as_str() {
                "" | crate::keys::ORIGIN_KMS => false,
                crate::keys::ORIGIN_EXTERNAL => true,
                o => {
                    return Err(crate::Error::invalid(format!(
                        "origin must be TENCENT_KMS or EXTERNAL, got {o:?}"
                    )));
                }
            };
            kms.create_key_tagged(
                &r.alias,
                &r.description,
                &r.key_usage,
                external,
                tags_from_pb(r.tags),
            )
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
        let call = self.begin(Action::DescribeKey, &r);
        let r = r.into_inner();
        // Served from the cache like GenerateDataKey (it writes only to delete a key past its
        // deletion date), so it skips the hop to a blocking thread.
        call.inline(&r.key_id, |caller| {
            let key = caller.key(&self.kms, Action::DescribeKey, &r.key_id)?;
            self.kms
                .describe_key(&key)
                .map(|m| pb::DescribeKeyResponse {
                    key_metadata: Some(metadata_to_pb(m)),
                })
        })
        .await
    }

    async fn list_keys(
        &self,
        r: Request<pb::ListKeysRequest>,
    ) -> Result<Response<pb::ListKeysResponse>, Status> {
        let call = self.begin(Action::ListKeys, &r);
        let r = r.into_inner();
        let kms = self.kms.clone();
        call.blocking(String::new(), move |caller| {
            caller.action(Action::ListKeys)?;
            let sees = |m: &crate::KeyMetadata| caller.sees(m);
            let page = kms.list_visible_keys(
                list_request(r)?,
                caller
                    .is_key_scoped()
                    .then_some(&sees as &dyn Fn(&_) -> bool),
            )?;
            Ok(pb::ListKeysResponse {
                keys: page.keys.into_iter().map(metadata_to_pb).collect(),
                total_count: page.total_count,
            })
        })
        .await
    }

    async fn describe_keys(
        &self,
        r: Request<pb::DescribeKeysRequest>,
    ) -> Result<Response<pb::DescribeKeysResponse>, Status> {
        self.describe_keys_call(r).await
    }

    async fn enable_keys(
        &self,
        r: Request<pb::EnableKeysRequest>,
    ) -> Result<Response<pb::EnableKeysResponse>, Status> {
        self.enable_keys_call(r).await
    }

    async fn disable_keys(
        &self,
        r: Request<pb::DisableKeysRequest>,
    ) -> Result<Response<pb::DisableKeysResponse>, Status> {
        self.disable_keys_call(r).await
    }

    async fn enable_key(
        &self,
        r: Request<pb::EnableKeyRequest>,
    ) -> Result<Response<pb::EnableKeyResponse>, Status> {
        let call = self.begin(Action::EnableKey, &r);
        let r = r.into_inner();
        call.blocking_key(self.kms.clone(), r.key_id, move |kms, _, key| {
            kms.enable_key(key).map(|()| pb::EnableKeyResponse {})
        })
        .await
    }

    async fn disable_key(
        &self,
        r: Request<pb::DisableKeyRequest>,
    ) -> Result<Response<pb::DisableKeyResponse>, Status> {
        let call = self.begin(Action::DisableKey, &r);
        let r = r.into_inner();
        call.blocking_key(self.kms.clone(), r.key_id, move |kms, _, key| {
            kms.disable_key(key).map(|()| pb::DisableKeyResponse {})
        })
        .await
    }

    async fn schedule_key_deletion(
        &self,
        r: Request<pb::ScheduleKeyDeletionRequest>,
    ) -> Result<Response<pb::ScheduleKeyDeletionResponse>, Status> {
        let call = self.begin(Action::ScheduleKeyDeletion, &r);
        let r = r.into_inner();
        call.blocking_key(self.kms.clone(), r.key_id.clone(), move |kms, _, key| {
            let date = kms.schedule_key_deletion(key, r.pending_window_in_days)?;
            let key_id = kms.describe_key(key)?.key_id.to_string();
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
        let call = self.begin(Action::CancelKeyDeletion, &r);
        let r = r.into_inner();
        call.blocking_key(self.kms.clone(), r.key_id, move |kms, _, key| {
            kms.cancel_key_deletion(key)
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
        let call = self.begin(Action::ArchiveKey, &r);
        let r = r.into_inner();
        call.blocking_key(self.kms.clone(), r.key_id, move |kms, _, key| {
            kms.archive_key(key).map(|()| pb::ArchiveKeyResponse {})
        })
        .await
    }

    async fn cancel_key_archive(
        &self,
        r: Request<pb::CancelKeyArchiveRequest>,
    ) -> Result<Response<pb::CancelKeyArchiveResponse>, Status> {
        let call = self.begin(Action::CancelKeyArchive, &r);
        let r = r.into_inner();
        call.blocking_key(self.kms.clone(), r.key_id, move |kms, _, key| {
            kms.cancel_key_archive(key)
                .map(|()| pb::CancelKeyArchiveResponse {})
        })
        .await
    }

    async fn update_alias(
        &self,
        r: Request<pb::UpdateAliasRequest>,
    ) -> Result<Response<pb::UpdateAliasResponse>, Status> {
        let call = self.begin(Action::UpdateAlias, &r);
        let r = r.into_inner();
        call.blocking_key(
            self.kms.clone(),
            r.key_id.clone(),
            move |kms, caller, key| {
                caller.new_alias(Action::UpdateAlias, &r.alias)?;
                kms.update_alias(key, &r.alias)
                    .map(|()| pb::UpdateAliasResponse {})
            },
        )
        .await
    }

    async fn update_key_description(
        &self,
        r: Request<pb::UpdateKeyDescriptionRequest>,
    ) -> Result<Response<pb::UpdateKeyDescriptionResponse>, Status> {
        let call = self.begin(Action::UpdateKeyDescription, &r);
        let r = r.into_inner();
        call.blocking_key(self.kms.clone(), r.key_id.clone(), move |kms, _, key| {
            kms.update_key_description(key, &r.description)
                .map(|()| pb::UpdateKeyDescriptionResponse {})
        })
        .await
    }

    async fn enable_key_rotation(
        &self,
        r: Request<pb::EnableKeyRotationRequest>,
    ) -> Result<Response<pb::EnableKeyRotationResponse>, Status> {
        let call = self.begin(Action::EnableKeyRotation, &r);
        let r = r.into_inner();
        call.blocking_key(self.kms.clone(), r.key_id.clone(), move |kms, _, key| {
            kms.enable_key_rotation(key, r.rotate_days)
                .map(|()| pb::EnableKeyRotationResponse {})
        })
        .await
    }

    async fn disable_key_rotation(
        &self,
        r: Request<pb::DisableKeyRotationRequest>,
    ) -> Result<Response<pb::DisableKeyRotationResponse>, Status> {
        let call = self.begin(Action::DisableKeyRotation, &r);
        let r = r.into_inner();
        call.blocking_key(self.kms.clone(), r.key_id, move |kms, _, key| {
            kms.disable_key_rotation(key)
                .map(|()| pb::DisableKeyRotationResponse {})
        })
        .await
    }

    async fn get_key_rotation_status(
        &self,
        r: Request<pb::GetKeyRotationStatusRequest>,
    ) -> Result<Response<pb::GetKeyRotationStatusResponse>, Status> {
        let call = self.begin(Action::GetKeyRotationStatus, &r);
        let r = r.into_inner();
        call.blocking_key(self.kms.clone(), r.key_id, move |kms, _, key| {
            kms.key_rotation_status(key)
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
        let call = self.begin(Action::RotateKey, &r);
        let r = r.into_inner();
        call.blocking_key(self.kms.clone(), r.key_id, move |kms, _, key| {
            kms.rotate_key(key).map(|(id, v)| pb::RotateKeyResponse {
                key_id: id.to_string(),
                key_version: v,
            })
        })
        .await
    }

    async fn get_default_key(
        &self,
        r: Request<pb::GetDefaultKeyRequest>,
    ) -> Result<Response<pb::GetDefaultKeyResponse>, Status> {
        let call = self.begin(Action::GetDefaultKey, &r);
        // The caller names no key: the default key is named by its alias (public), in a refusal
        // and in the audit line, with its UUID as the key the line resolves.
        let id = self.kms.default_key_id();
        let alias = self.kms.alias_of(id);
        let name = format!("alias/{}", alias.as_deref().unwrap_or(DEFAULT_KEY_ALIAS));
        let asked = AuditKey {
            key_id: Some(id),
            ..AuditKey::named(&name)
        };
        call.inline_keys(&[asked], |caller| {
            caller.known_key(&self.kms, Action::GetDefaultKey, id, &name)?;
            self.kms
                .describe_key(&id.to_string())
                .map(|m| pb::GetDefaultKeyResponse {
                    key_metadata: Some(metadata_to_pb(m)),
                })
        })
        .await
    }

    async fn generate_data_key(
        &self,
        r: Request<pb::GenerateDataKeyRequest>,
    ) -> Result<Response<pb::GenerateDataKeyResponse>, Status> {
        let context = EncryptionContext::from_base64(&r.get_ref().encryption_context);
        let call = self.begin(Action::GenerateDataKey, &r).context(&context);
        let r = r.into_inner();
        call.inline(&r.key_id, |caller| {
            let key = caller.key(&self.kms, Action::GenerateDataKey, &r.key_id)?;
            let sealing = sealing_key(&r.encryption_public_key, &r.encryption_algorithm)?;
            let mut dk = generate(&self.kms, &key, &r, &context?, true).map(data_key_to_pb)?;
            dk.plaintext = seal(std::mem::take(&mut dk.plaintext), sealing.as_ref())?;
            Ok(dk)
        })
        .await
    }

    async fn generate_data_key_without_plaintext(
        &self,
        r: Request<pb::GenerateDataKeyRequest>,
    ) -> Result<Response<pb::GenerateDataKeyWithoutPlaintextResponse>, Status> {
        let context = EncryptionContext::from_base64(&r.get_ref().encryption_context);
        let call = self
            .begin(Action::GenerateDataKeyWithoutPlaintext, &r)
            .context(&context);
        let r = r.into_inner();
        call.inline(&r.key_id, |caller| {
            let key = caller.key(
                &self.kms,
                Action::GenerateDataKeyWithoutPlaintext,
                &r.key_id,
            )?;
            no_sealing(&r, "GenerateDataKeyWithoutPlaintext")?;
            generate(&self.kms, &key, &r, &context?, false).map(|dk| {
                pb::GenerateDataKeyWithoutPlaintextResponse {
                    key_id: dk.key_id.to_string(),
                    ciphertext_blob: dk.ciphertext_blob,
                    key_version: dk.key_version,
                }
            })
        })
        .await
    }

    async fn encrypt(
        &self,
        r: Request<pb::EncryptRequest>,
    ) -> Result<Response<pb::EncryptResponse>, Status> {
        let context = EncryptionContext::from_base64(&r.get_ref().encryption_context);
        let call = self.begin(Action::Encrypt, &r).context(&context);
        let r = r.into_inner();
        call.inline(&r.key_id, |caller| {
            let key = caller.key(&self.kms, Action::Encrypt, &r.key_id)?;
            self.kms
                .encrypt_in(&key, &r.plaintext, &context?)
                .map(|s| pb::EncryptResponse {
                    key_id: s.key_id.to_string(),
                    ciphertext_blob: s.ciphertext_blob,
                    key_version: s.key_version,
                })
        })
        .await
    }

    async fn decrypt(
        &self,
        r: Request<pb::DecryptRequest>,
    ) -> Result<Response<pb::DecryptResponse>, Status> {
        let context = EncryptionContext::from_base64(&r.get_ref().encryption_context);
        let call = self.begin(Action::Decrypt, &r).context(&context);
        let r = r.into_inner();
        let header = BlobHeader::parse(&r.ciphertext_blob).ok();
        call.inline_answered(
            &[blob_key(header)],
            |caller| {
                caller.blob(&self.kms, Action::Decrypt, header)?;
                let sealing = sealing_key(&r.encryption_public_key, &r.encryption_algorithm)?;
                let d = self.kms.decrypt_in(&r.ciphertext_blob, &context?)?;
                Ok(pb::DecryptResponse {
                    key_id: d.key_id.to_string(),
                    plaintext: seal(d.plaintext.expose().to_vec(), sealing.as_ref())?,
                    key_version: d.key_version,
                })
            },
            |result| answered_key(result, |d| &d.key_id),
        )
        .await
    }

    async fn re_encrypt(
        &self,
        r: Request<pb::ReEncryptRequest>,
    ) -> Result<Response<pb::ReEncryptResponse>, Status> {
        let call = self.begin(Action::ReEncrypt, &r).contexts([
            r.get_ref().source_encryption_context.as_str(),
            r.get_ref().destination_encryption_context.as_str(),
        ]);
        let r = r.into_inner();
        let kms = self.kms.clone();
        let header = BlobHeader::parse(&r.ciphertext_blob).ok();
        let destination = r.destination_key_id.clone();
        // ReEncrypt may rotate a key that is due, which writes: run it off the async threads.
        call.blocking_answered(
            &[blob_key(header), AuditKey::named(&destination)],
            move |caller| {
                caller.blob(&kms, Action::ReEncrypt, header)?;
                let destination = match r.destination_key_id.as_str() {
                    "" => std::borrow::Cow::Borrowed(""),
                    name => caller.key(&kms, Action::ReEncrypt, name)?,
                };
                kms.re_encrypt(
                    &r.ciphertext_blob,
                    &destination,
                    &r.source_encryption_context,
                    &r.destination_encryption_context,
                )
                .map(|re| pb::ReEncryptResponse {
                    ciphertext_blob: re.sealed.ciphertext_blob,
                    key_id: re.sealed.key_id.to_string(),
                    key_version: re.sealed.key_version,
                    source_key_id: re.source_key_id.to_string(),
                    source_key_version: re.source_key_version,
                    re_encrypted: re.re_encrypted,
                })
            },
            |result| answered_key(result, |re| &re.source_key_id),
        )
        .await
    }

    async fn generate_random(
        &self,
        r: Request<pb::GenerateRandomRequest>,
    ) -> Result<Response<pb::GenerateRandomResponse>, Status> {
        let call = self.begin(Action::GenerateRandom, &r);
        let n = r.into_inner().number_of_bytes;
        call.inline("", |caller| {
            caller.action(Action::GenerateRandom)?;
            self.kms
                .generate_random(n)
                .map(|b| pb::GenerateRandomResponse {
                    plaintext: b.expose().to_vec(),
                })
        })
        .await
    }

    async fn batch_generate_data_key(
        &self,
        r: Request<pb::BatchGenerateDataKeyRequest>,
    ) -> Result<Response<pb::BatchGenerateDataKeyResponse>, Status> {
        let call = self.begin(Action::BatchGenerateDataKey, &r).contexts(
            r.get_ref()
                .items
                .iter()
                .map(|i| i.encryption_context.as_str()),
        );
        let r = r.into_inner();
        let asked: Vec<AuditKey<'_>> = r.items.iter().map(|i| AuditKey::named(&i.key_id)).collect();
        call.inline_keys(&asked, |caller| {
            caller.action(Action::BatchGenerateDataKey)?;
            check_batch(r.items.len())?;
            // A bad key_spec or a forbidden key fails its item alone; the others go to the core in
            // one call.
            let specs: Vec<crate::Result<(DataKeySpec, Cow<'_, str>)>> = r
                .items
                .iter()
                .map(|item| {
                    let spec = spec_from_pb(item)?;
                    no_sealing(item, "BatchGenerateDataKey")?;
                    let key = caller.key(&self.kms, Action::BatchGenerateDataKey, &item.key_id)?;
                    Ok((spec, key))
                })
                .collect();
            let valid: Vec<DataKeyItem<'_>> = r
                .items
                .iter()
                .zip(&specs)
                .filter_map(|(item, spec)| {
                    spec.as_ref().ok().map(|(spec, key)| DataKeyItem {
                        key,
                        spec: *spec,
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
        .await
    }

    async fn batch_decrypt(
        &self,
        r: Request<pb::BatchDecryptRequest>,
    ) -> Result<Response<pb::BatchDecryptResponse>, Status> {
        let call = self.begin(Action::BatchDecrypt, &r).contexts(
            r.get_ref()
                .items
                .iter()
                .map(|i| i.encryption_context.as_str()),
        );
        let r = r.into_inner();
        // Each header parsed once, for the gate and for the audit line.
        let headers: Vec<Option<BlobHeader>> = r
            .items
            .iter()
            .map(|item| BlobHeader::parse(&item.ciphertext_blob).ok())
            .collect();
        let asked: Vec<AuditKey<'_>> = headers.iter().map(|&h| blob_key(h)).collect();
        call.inline_answered(
            &asked,
            |caller| {
                caller.action(Action::BatchDecrypt)?;
                check_batch(r.items.len())?;
                // A blob of a forbidden key fails its item alone; the others open in one call.
                let allowed: Vec<crate::Result<()>> = r
                    .items
                    .iter()
                    .zip(&headers)
                    .map(|(item, &header)| {
                        if !item.encryption_public_key.is_empty() {
                            return Err(Error::invalid(
                                "encryption_public_key is not taken by BatchDecrypt: use Decrypt",
                            ));
                        }
                        caller.blob(&self.kms, Action::BatchDecrypt, header)
                    })
                    .collect();
                let items: Vec<DecryptItem<'_>> = r
                    .items
                    .iter()
                    .zip(&allowed)
                    .filter(|(_, ok)| ok.is_ok())
                    .map(|(item, _)| DecryptItem {
                        ciphertext_blob: &item.ciphertext_blob,
                        encryption_context: &item.encryption_context,
                    })
                    .collect();
                let mut opened = self.kms.decrypt_many(&items)?.into_iter();
                let results = allowed
                    .into_iter()
                    .map(|ok| {
                        let outcome = ok.and_then(|()| {
                            opened.next().unwrap_or_else(|| {
                                Err(Error::Internal("batch result missing".to_owned()))
                            })
                        });
                        pb::BatchDecryptResult {
                            result: Some(match outcome {
                                Ok(d) => {
                                    pb::batch_decrypt_result::Result::Ok(pb::DecryptResponse {
                                        key_id: d.key_id.to_string(),
                                        plaintext: d.plaintext.expose().to_vec(),
                                        key_version: d.key_version,
                                    })
                                }
                                Err(e) => pb::batch_decrypt_result::Result::Error(item_error(&e)),
                            }),
                        }
                    })
                    .collect();
                Ok(pb::BatchDecryptResponse { results })
            },
            // Logged under the first item's key, as the other batch call is.
            |result| match result {
                Ok(response) => match response.results.first().and_then(|f| f.result.as_ref()) {
                    Some(pb::batch_decrypt_result::Result::Ok(d)) => d.key_id.clone(),
                    Some(pb::batch_decrypt_result::Result::Error(_)) => "-".to_owned(),
                    None => String::new(),
                },
                Err(_) => String::new(),
            },
        )
        .await
    }

    async fn seed_keys(
        &self,
        r: Request<pb::SeedKeysRequest>,
    ) -> Result<Response<pb::SeedKeysResponse>, Status> {
        let call = self.begin(Action::SeedKeys, &r);
        let r = r.into_inner();
        let kms = self.kms.clone();
        call.blocking(String::new(), move |caller| {
            caller.every_key(Action::SeedKeys)?;
            let (changed, total) = kms.seed(&r.document)?;
            Ok(pb::SeedKeysResponse {
                changed: u32::try_from(changed).unwrap_or(u32::MAX),
                total: u32::try_from(total).unwrap_or(u32::MAX),
            })
        })
        .await
    }

    async fn get_public_key(
        &self,
        r: Request<pb::GetPublicKeyRequest>,
    ) -> Result<Response<pb::GetPublicKeyResponse>, Status> {
        self.get_public_key_call(r).await
    }

    async fn sign(
        &self,
        r: Request<pb::SignRequest>,
    ) -> Result<Response<pb::SignResponse>, Status> {
        self.sign_call(r).await
    }

    async fn verify(
        &self,
        r: Request<pb::VerifyRequest>,
    ) -> Result<Response<pb::VerifyResponse>, Status> {
        self.verify_call(r).await
    }

    async fn asymmetric_decrypt(
        &self,
        r: Request<pb::AsymmetricDecryptRequest>,
    ) -> Result<Response<pb::AsymmetricDecryptResponse>, Status> {
        self.asymmetric_decrypt_call(r).await
    }

    async fn get_parameters_for_import(
        &self,
        r: Request<pb::GetParametersForImportRequest>,
    ) -> Result<Response<pb::GetParametersForImportResponse>, Status> {
        self.get_parameters_for_import_call(r).await
    }

    async fn import_key_material(
        &self,
        r: Request<pb::ImportKeyMaterialRequest>,
    ) -> Result<Response<pb::ImportKeyMaterialResponse>, Status> {
        self.import_key_material_call(r).await
    }

    async fn delete_imported_key_material(
        &self,
        r: Request<pb::DeleteImportedKeyMaterialRequest>,
    ) -> Result<Response<pb::DeleteImportedKeyMaterialResponse>, Status> {
        self.delete_imported_key_material_call(r).await
    }
}
