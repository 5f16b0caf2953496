//! The KMS half of the soak: data keys and decrypts on a few CMKs, with key creation and rotation
//! mixed in at a low rate (each adds rows and cache entries, so the report counts them).

use std::sync::Arc;
use std::time::Instant;

use kms_client::{
    CreateKeyRequest, DecryptRequest, GenerateDataKeyRequest, KmsClient, SecretBytes,
};
use rand::Rng as _;

use crate::stats::{Op, Recorder};

/// Operation mix, in calls per [`MIX_SCALE`]: the rest are Decrypts. Key creation and rotation
/// stay rare (about one a second each at 15k calls/s): each adds a key or version that stays in
/// memory by design, which would otherwise hide a leak in the memory figures.
const MIX_SCALE: u32 = 100_000;
const GENERATE: u32 = 48_000;
const CREATE: u32 = 7;
const ROTATE: u32 = 7;

/// CMKs the data-key calls spread over (created at start).
pub const KEYS: usize = 4;

/// Creates the soak's CMKs under a run-unique alias prefix and returns their ids.
pub async fn prepare(client: &KmsClient, run: &str) -> Result<Vec<String>, kms_client::Error> {
    let mut ids = Vec::with_capacity(KEYS);
    for i in 0..KEYS {
        let key = client
            .create_key(CreateKeyRequest::new(format!("soak-{run}-{i}")))
            .await?;
        ids.push(key.key_id);
    }
    Ok(ids)
}

/// One in-flight slot: runs calls back to back until `until`.
pub async fn worker(
    client: KmsClient,
    keys: Arc<Vec<String>>,
    run: String,
    slot: usize,
    until: Instant,
    recorder: Arc<Recorder>,
) {
    let context = kms_client::encryption_context([("bucket", "soak"), ("slot", &slot.to_string())])
        .expect("a valid context");
    let mut blobs: Vec<(Vec<u8>, SecretBytes)> = Vec::new();
    let mut created = 0u64;
    while Instant::now() < until {
        let (roll, key) = {
            let mut rng = rand::rng();
            (
                rng.random_range(0..MIX_SCALE),
                keys[rng.random_range(0..keys.len())].clone(),
            )
        };
        let start = Instant::now();
        if roll < CREATE {
            created += 1;
            let alias = format!("soak-{run}-s{slot}-{created}");
            match client.create_key(CreateKeyRequest::new(alias)).await {
                Ok(_) => recorder.ok(Op::CreateKey, start.elapsed()),
                Err(e) => recorder.error(Op::CreateKey, e.to_string()),
            }
        } else if roll < CREATE + ROTATE {
            match client.rotate_key(&key).await {
                Ok(_) => recorder.ok(Op::RotateKey, start.elapsed()),
                Err(e) => recorder.error(Op::RotateKey, e.to_string()),
            }
        } else if roll < CREATE + ROTATE + GENERATE || blobs.is_empty() {
            let mut request = GenerateDataKeyRequest::new(key);
            request.encryption_context = context.clone();
            match client.generate_data_key(request).await {
                Ok(data_key) => {
                    recorder.ok(Op::GenerateDataKey, start.elapsed());
                    let plain = data_key.plaintext;
                    // Keep a bounded sample of blobs to decrypt, including ones sealed under
                    // versions rotated since.
                    if blobs.len() < 32 {
                        blobs.push((data_key.ciphertext_blob, plain));
                    } else {
                        let i = rand::rng().random_range(0..blobs.len());
                        blobs[i] = (data_key.ciphertext_blob, plain);
                    }
                }
                Err(e) => recorder.error(Op::GenerateDataKey, e.to_string()),
            }
        } else {
            let (blob, plain) = &blobs[rand::rng().random_range(0..blobs.len())];
            let mut request = DecryptRequest::new(blob.clone());
            request.encryption_context = context.clone();
            match client.decrypt(request).await {
                Ok(opened) if opened.plaintext == *plain => {
                    recorder.ok(Op::Decrypt, start.elapsed());
                }
                Ok(_) => recorder.error(Op::Decrypt, "a different plaintext came back".into()),
                Err(e) => recorder.error(Op::Decrypt, e.to_string()),
            }
        }
    }
}
