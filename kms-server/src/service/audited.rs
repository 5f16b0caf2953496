//! What an answer says about the keys it used, for the audit log: the resolved key id and version
//! of every key a response names (one per item for batch calls). Read from the response rather
//! than asked of the core, so the line records exactly what the caller was told. What an answer
//! does not say (a lifecycle call's empty answer, a refusal) comes from the request side
//! (`call::CallMeta::finish_logged`): the UUID the gate resolved the name to, a blob's header.

use kms_proto::pb;
use uuid::Uuid;

/// A key an answer names: its id and, when the answer says, the version used.
pub(super) type Used = (Option<Uuid>, Option<u32>);

/// The keys a response names.
pub(super) trait Audited {
    /// Every key the response names, in order (empty: none).
    fn used(&self) -> Vec<Used> {
        Vec::new()
    }
}

fn id(text: &str) -> Option<Uuid> {
    Uuid::parse_str(text).ok()
}

fn meta(m: Option<&pb::KeyMetadata>) -> Vec<Used> {
    m.map(|m| (id(&m.key_id), Some(m.current_key_version)))
        .into_iter()
        .collect()
}

macro_rules! names_no_key {
    ($($t:ty),* $(,)?) => { $(impl Audited for $t {})* };
}

names_no_key!(
    pb::ListKeysResponse,
    pb::EnableKeyResponse,
    pb::DisableKeyResponse,
    pb::ArchiveKeyResponse,
    pb::CancelKeyArchiveResponse,
    pb::UpdateAliasResponse,
    pb::UpdateKeyDescriptionResponse,
    pb::EnableKeyRotationResponse,
    pb::DisableKeyRotationResponse,
    pb::GenerateRandomResponse,
    pb::SeedKeysResponse,
    pb::ImportKeyMaterialResponse,
    pb::DeleteImportedKeyMaterialResponse,
);

impl Audited for pb::CreateKeyResponse {
    fn used(&self) -> Vec<Used> {
        meta(self.key_metadata.as_ref())
    }
}

impl Audited for pb::DescribeKeyResponse {
    fn used(&self) -> Vec<Used> {
        meta(self.key_metadata.as_ref())
    }
}

impl Audited for pb::DescribeKeysResponse {
    fn used(&self) -> Vec<Used> {
        self.key_metadata
            .iter()
            .flat_map(|m| meta(Some(m)))
            .collect()
    }
}

impl Audited for pb::EnableKeysResponse {
    fn used(&self) -> Vec<Used> {
        self.key_ids.iter().map(|k| (id(k), None)).collect()
    }
}

impl Audited for pb::DisableKeysResponse {
    fn used(&self) -> Vec<Used> {
        self.key_ids.iter().map(|k| (id(k), None)).collect()
    }
}

impl Audited for pb::GetDefaultKeyResponse {
    fn used(&self) -> Vec<Used> {
        meta(self.key_metadata.as_ref())
    }
}

impl Audited for pb::ScheduleKeyDeletionResponse {
    fn used(&self) -> Vec<Used> {
        vec![(id(&self.key_id), None)]
    }
}

impl Audited for pb::CancelKeyDeletionResponse {
    fn used(&self) -> Vec<Used> {
        vec![(id(&self.key_id), None)]
    }
}

impl Audited for pb::GetKeyRotationStatusResponse {
    fn used(&self) -> Vec<Used> {
        vec![(None, Some(self.current_key_version))]
    }
}

impl Audited for pb::RotateKeyResponse {
    fn used(&self) -> Vec<Used> {
        vec![(id(&self.key_id), Some(self.key_version))]
    }
}

impl Audited for pb::GenerateDataKeyResponse {
    fn used(&self) -> Vec<Used> {
        vec![(id(&self.key_id), Some(self.key_version))]
    }
}

impl Audited for pb::GenerateDataKeyWithoutPlaintextResponse {
    fn used(&self) -> Vec<Used> {
        vec![(id(&self.key_id), Some(self.key_version))]
    }
}

impl Audited for pb::EncryptResponse {
    fn used(&self) -> Vec<Used> {
        vec![(id(&self.key_id), Some(self.key_version))]
    }
}

impl Audited for pb::DecryptResponse {
    fn used(&self) -> Vec<Used> {
        vec![(id(&self.key_id), Some(self.key_version))]
    }
}

impl Audited for pb::ReEncryptResponse {
    fn used(&self) -> Vec<Used> {
        vec![
            (id(&self.source_key_id), Some(self.source_key_version)),
            (id(&self.key_id), Some(self.key_version)),
        ]
    }
}

impl Audited for pb::BatchGenerateDataKeyResponse {
    fn used(&self) -> Vec<Used> {
        self.results
            .iter()
            .map(|r| match &r.result {
                Some(pb::batch_generate_data_key_result::Result::Ok(dk)) => {
                    (id(&dk.key_id), Some(dk.key_version))
                }
                _ => (None, None),
            })
            .collect()
    }
}

impl Audited for pb::BatchDecryptResponse {
    fn used(&self) -> Vec<Used> {
        self.results
            .iter()
            .map(|r| match &r.result {
                Some(pb::batch_decrypt_result::Result::Ok(d)) => {
                    (id(&d.key_id), Some(d.key_version))
                }
                _ => (None, None),
            })
            .collect()
    }
}

impl Audited for pb::GetPublicKeyResponse {
    fn used(&self) -> Vec<Used> {
        vec![(id(&self.key_id), None)]
    }
}

impl Audited for pb::SignResponse {
    fn used(&self) -> Vec<Used> {
        vec![(id(&self.key_id), None)]
    }
}

impl Audited for pb::VerifyResponse {
    fn used(&self) -> Vec<Used> {
        vec![(id(&self.key_id), None)]
    }
}

impl Audited for pb::AsymmetricDecryptResponse {
    fn used(&self) -> Vec<Used> {
        vec![(id(&self.key_id), None)]
    }
}

impl Audited for pb::GetParametersForImportResponse {
    fn used(&self) -> Vec<Used> {
        vec![(id(&self.key_id), None)]
    }
}
