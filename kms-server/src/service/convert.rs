//! Conversions between `kms.v1` messages and the core's types, and the request checks that belong
//! to the wire form (enum values, batch sizes).

use kms_proto::pb;

use crate::{
    EncryptionContext,
    error::Error,
    keys::{KeyMetadata, KeyState},
    kms::{Kms, data_keys::DataKeySpec},
};

use super::MAX_BATCH_ITEMS;

/// Core metadata to the wire form.
pub fn metadata_to_pb(m: KeyMetadata) -> pb::KeyMetadata {
    pb::KeyMetadata {
        key_id: m.key_id.to_string(),
        alias: m.alias,
        description: m.description,
        state: state_to_pb(m.state) as i32,
        key_usage: m.key_usage.as_str().to_owned(),
        owner: m.owner,
        origin: m.origin,
        create_time: m.create_time,
        deletion_date: m.deletion_date,
        rotation_enabled: m.rotation_enabled,
        rotate_days: m.rotate_days,
        last_rotate_time: m.last_rotate_time,
        next_rotate_time: m.next_rotate_time,
        current_key_version: m.current_key_version,
        valid_to: m.valid_to,
    }
}

pub(super) fn state_to_pb(s: KeyState) -> pb::KeyState {
    match s {
        KeyState::Enabled => pb::KeyState::Enabled,
        KeyState::Disabled => pb::KeyState::Disabled,
        KeyState::PendingDelete => pb::KeyState::PendingDelete,
        KeyState::PendingImport => pb::KeyState::PendingImport,
        KeyState::Archived => pb::KeyState::Archived,
    }
}

pub(super) fn state_from_pb(v: i32) -> crate::Result<Option<KeyState>> {
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

pub(super) fn spec_from_pb(req: &pb::GenerateDataKeyRequest) -> crate::Result<DataKeySpec> {
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

pub(super) fn generate(
    kms: &Kms,
    key: &str,
    req: &pb::GenerateDataKeyRequest,
    context: &EncryptionContext,
    with_plaintext: bool,
) -> crate::Result<crate::DataKey> {
    let spec = spec_from_pb(req)?;
    kms.generate_data_key_in(key, spec, context, with_plaintext)
}

pub(super) fn data_key_to_pb(dk: crate::DataKey) -> pb::GenerateDataKeyResponse {
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

pub(super) fn check_batch(n: usize) -> crate::Result<()> {
    if n == 0 || n > MAX_BATCH_ITEMS {
        return Err(Error::invalid(format!(
            "a batch must have 1..={MAX_BATCH_ITEMS} items, got {n}"
        )));
    }
    Ok(())
}
