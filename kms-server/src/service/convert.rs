//! Conversions between `kms.v1` messages and the core's types, and the request checks that belong
//! to the wire form (enum values, batch sizes).

use kms_proto::pb;

use crate::{
    EncryptionContext,
    asymmetric::{SealAlgorithm, SealingKey},
    error::Error,
    keys::{self, KeyMetadata, KeyState, KeyUsage, Tag, TagFilter},
    kms::{Kms, data_keys::DataKeySpec, lifecycle::ListKeys},
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
        tags: m
            .tags
            .into_iter()
            .map(|t| pb::Tag {
                key: t.key,
                value: t.value,
            })
            .collect(),
    }
}

/// Wire tags to the core's (the core checks them).
pub(super) fn tags_from_pb(tags: Vec<pb::Tag>) -> Vec<Tag> {
    tags.into_iter()
        .map(|t| Tag {
            key: t.key,
            value: t.value,
        })
        .collect()
}

/// A ListKeys request to the core's filter; the enum and text fields are checked here.
pub(super) fn list_request(r: pb::ListKeysRequest) -> crate::Result<ListKeys> {
    let origin = match r.origin.as_str() {
        "" => None,
        o @ (keys::ORIGIN_KMS | keys::ORIGIN_EXTERNAL) => Some(o.to_owned()),
        o => {
            return Err(Error::invalid(format!(
                "origin must be TENCENT_KMS or EXTERNAL (or empty), got {o:?}"
            )));
        }
    };
    let key_usage = match r.key_usage.as_str() {
        "" => None,
        u => Some(KeyUsage::parse(u).ok_or_else(|| {
            let known: Vec<&str> = KeyUsage::ALL.iter().map(|u| u.as_str()).collect();
            Error::KeyUsage(format!(
                "key_usage must be one of {known:?} (or empty), got {u:?}"
            ))
        })?),
    };
    Ok(ListKeys {
        offset: r.offset,
        limit: r.limit,
        state: state_from_pb(r.state)?,
        states: r
            .states
            .iter()
            .map(|&s| {
                state_from_pb(s)?
                    .ok_or_else(|| Error::invalid("states must not hold KEY_STATE_UNSPECIFIED"))
            })
            .collect::<crate::Result<_>>()?,
        include_service_keys: r.include_service_keys || r.service_keys_only,
        service_keys_only: r.service_keys_only,
        newest_first: r.newest_first,
        search: r.search,
        origin,
        key_usage,
        tag_filters: r
            .tag_filters
            .into_iter()
            .map(|f| TagFilter {
                key: f.key,
                values: f.values,
            })
            .collect(),
    })
}

/// The caller's key to seal a plaintext under (`encryption_public_key`, Tencent's
/// EncryptionPublicKey), if given; the algorithm alone means nothing.
pub(super) fn sealing_key(pem: &str, algorithm: &str) -> crate::Result<Option<SealingKey>> {
    if pem.is_empty() {
        return Ok(None);
    }
    SealingKey::parse(pem, SealAlgorithm::parse(algorithm)?).map(Some)
}

/// The plaintext an answer carries: as is, or sealed under the caller's key.
pub(super) fn seal(plaintext: Vec<u8>, key: Option<&SealingKey>) -> crate::Result<Vec<u8>> {
    match key {
        None => Ok(plaintext),
        Some(key) => {
            let plaintext = zeroize::Zeroizing::new(plaintext);
            key.seal(&plaintext)
        }
    }
}

/// Refuses `encryption_public_key` where no plaintext is answered one by one (a batch item,
/// GenerateDataKeyWithoutPlaintext).
pub(super) fn no_sealing(req: &pb::GenerateDataKeyRequest, call: &str) -> crate::Result<()> {
    if req.encryption_public_key.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "encryption_public_key is not taken by {call}: use GenerateDataKey"
        )))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `states` takes known states only; `service_keys_only` implies the service keys.
    #[test]
    fn list_requests_check_their_states() {
        let listed = list_request(pb::ListKeysRequest {
            states: vec![
                pb::KeyState::Enabled.into(),
                pb::KeyState::PendingImport.into(),
            ],
            service_keys_only: true,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(listed.states, [KeyState::Enabled, KeyState::PendingImport]);
        assert!(listed.service_keys_only && listed.include_service_keys);
        for (bad, message) in [
            (
                i32::from(pb::KeyState::Unspecified),
                "states must not hold KEY_STATE_UNSPECIFIED",
            ),
            (99, "unknown key state 99"),
        ] {
            let e = list_request(pb::ListKeysRequest {
                states: vec![bad],
                ..Default::default()
            })
            .unwrap_err();
            assert_eq!(e.tencent_code(), "InvalidParameterValue", "{bad}");
            assert!(e.to_string().contains(message), "{e}");
        }
    }
}
