//! Fixed test vectors: they freeze the envelope encoding, the key schedule and the body format.
//!
//! `tests/vectors/v1.json` (envelope version 1, SSE-C key MD5), `tests/vectors/v2.json` (version
//! 2, SSE-C key verifier) and `tests/vectors/v3.json` (version 3, SSE-KMS under a bucket key) are
//! checked in. Version 1 is no longer written, but its vectors are still
//! built the old way and must still open through the public read path. A format change must change
//! the files on purpose: regenerate with `UPDATE_VECTORS=1 cargo test -p storage-adapter vectors`.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::crypto::Key32;
use crate::envelope::{
    self, Envelope, FORMAT_VERSION, FORMAT_VERSION_BUCKET_KEY, FORMAT_VERSION_V1, Layout,
    ObjectName, PartInfo,
};
use crate::provider::{DataKey, DataKeyRequest, GeneratedKey, KeyProvider, StoredKey};
use crate::sse::{self, CustomerKey, KmsContext, SseMode};
use crate::verifier::{CustomerKeyCheck, VerifierKey};
use crate::{Adapter, Error, Result};

fn path(version: u8) -> String {
    format!(
        "{}/tests/vectors/v{version}.json",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Vector {
    name: String,
    mode: u8,
    bucket: String,
    key: String,
    dek: String,
    oek: String,
    wrap_salt: String,
    content_id: String,
    kms_key_id: Option<String>,
    edk: Option<String>,
    context: Option<String>,
    /// The context sent to the KMS (user pairs + object identity), base64.
    kms_context: Option<String>,
    /// (part number, part salt, plaintext length) for multipart vectors.
    parts: Vec<(u32, String, u64)>,
    plain_len: u64,
    /// Version 2, SSE-C: the server's verifier key and the envelope's verifier salt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verifier_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verifier_salt: Option<String>,
    envelope: String,
    /// The stored body in hex when short, else empty.
    body: String,
    body_sha256: String,
}

/// Plaintext byte i of every vector.
fn plain(n: u64) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + 7) as u8).collect()
}

fn h(b: &[u8]) -> String {
    hex::encode(b)
}

fn arr<const N: usize>(s: &str) -> [u8; N] {
    hex::decode(s).unwrap().try_into().unwrap()
}

fn fixed(byte: u8) -> [u8; 32] {
    std::array::from_fn(|i| byte.wrapping_add(i as u8))
}

/// Builds a vector's envelope (of `version`) and body deterministically from its inputs.
fn build(v: &Vector, version: u8) -> (Envelope, Vec<u8>) {
    let mode = SseMode::from_id(v.mode).unwrap();
    let dek = Key32::from_array(&arr(&v.dek));
    let oek = Key32::from_array(&arr(&v.oek));
    let content_id: [u8; 32] = arr(&v.content_id);
    let name = ObjectName::new(&v.bucket, &v.key);
    let check = (mode == SseMode::Customer).then(|| {
        let customer = CustomerKey::from_bytes(dek.expose()).unwrap();
        if version == FORMAT_VERSION_V1 {
            CustomerKeyCheck::Md5(*customer.md5())
        } else {
            let key = VerifierKey::from_bytes(&arr(v.verifier_key.as_ref().unwrap()));
            let salt = arr(v.verifier_salt.as_ref().unwrap());
            CustomerKeyCheck::with_salt(&key, &customer, salt).unwrap()
        }
    });
    let (layout, body) = if v.parts.is_empty() {
        let ck = envelope::content_key(&oek, &content_id);
        (
            Layout::Single,
            crate::stream::seal_all(&ck, &plain(v.plain_len)).unwrap(),
        )
    } else {
        let upload_id = "vector-upload".to_owned();
        let mut body = Vec::new();
        let mut parts = Vec::new();
        let whole = plain(v.plain_len);
        let mut off = 0usize;
        for (n, salt, len) in &v.parts {
            let salt: [u8; 32] = arr(salt);
            let pk = envelope::part_key(&oek, &salt, *n, &upload_id);
            let stored = crate::stream::seal_all(&pk, &whole[off..off + *len as usize]).unwrap();
            off += *len as usize;
            parts.push(PartInfo {
                number: *n,
                part_salt: salt,
                plain_size: *len,
                stored_size: stored.len() as u64,
            });
            body.extend_from_slice(&stored);
        }
        (Layout::Multipart { upload_id, parts }, body)
    };
    let mut env = Envelope {
        version,
        mode,
        kms_key_id: v.kms_key_id.clone(),
        kms_key_version: v.kms_key_id.as_ref().map(|_| 1),
        context: v.context.clone(),
        edk: v.edk.as_ref().map(|e| hex::decode(e).unwrap()),
        customer_key: check,
        wrap_salt: [0; 32],
        wrapped_oek: [0; 48],
        wrap_commit: [0; 32],
        content_id,
        body_commit: envelope::body_commit(&oek, &content_id),
        layout,
        total_size: v.plain_len,
        layout_mac: None,
    };
    env.wrap(&dek, &oek, name, arr(&v.wrap_salt));
    env.layout_mac = Some(env.compute_layout_mac(&oek));
    (env, body)
}

fn inputs(version: u8) -> Vec<Vector> {
    let base = |name: &str, mode: u8, plain_len: u64| Vector {
        name: name.into(),
        mode,
        bucket: "examplebucket-1250000000".into(),
        key: "exampleobject.txt".into(),
        dek: h(&fixed(0x10)),
        oek: h(&fixed(0x40)),
        wrap_salt: h(&fixed(0x70)),
        content_id: h(&fixed(0xa0)),
        kms_key_id: None,
        edk: None,
        context: None,
        kms_context: None,
        parts: Vec::new(),
        plain_len,
        verifier_key: None,
        verifier_salt: None,
        envelope: String::new(),
        body: String::new(),
        body_sha256: String::new(),
    };
    let mut ssec = base("sse-c single segment", 3, 33);
    // The COS docs' example customer key.
    ssec.dek = h(b"0123456789ABCDEF0123456789ABCDEF");
    if version != FORMAT_VERSION_V1 {
        ssec.verifier_key = Some(h(&fixed(0xe0)));
        ssec.verifier_salt = Some(h(&fixed(0x90)));
    }
    let mut kms = base("sse-kms two segments with context", 2, (1 << 16) + 5);
    kms.kms_key_id = Some("6a4d5cd3-0000-4000-8000-000000000001".into());
    kms.edk = Some(h(b"opaque-kms-ciphertext-blob"));
    kms.context = Some("eyJhIjoiYXNkZmEiLCJiIjoiMTIzMzIxIn0=".into());
    let mut cos = base("sse-cos multipart two parts", 1, (1 << 16) + 7);
    cos.kms_key_id = Some("service-key".into());
    cos.edk = Some(h(b"service-blob"));
    cos.parts = vec![(1, h(&fixed(0xc0)), 1 << 16), (2, h(&fixed(0xd0)), 7)];
    if version == FORMAT_VERSION_BUCKET_KEY {
        // Bucket keys are SSE-KMS only: the same object under a bucket key, and a multipart one.
        kms.name = "sse-kms bucket key two segments with context".into();
        kms.edk = Some(h(b"opaque-bucket-key-blob"));
        let mut parts = base("sse-kms bucket key multipart two parts", 2, (1 << 16) + 7);
        parts.kms_key_id = kms.kms_key_id.clone();
        parts.edk = kms.edk.clone();
        parts.parts = cos.parts;
        return vec![kms, parts];
    }
    vec![ssec, kms, cos]
}

fn generate(version: u8) -> Vec<Vector> {
    inputs(version)
        .into_iter()
        .map(|mut v| {
            let (env, body) = build(&v, version);
            v.envelope = h(&env.to_bytes());
            v.body = if body.len() <= 256 {
                h(&body)
            } else {
                String::new()
            };
            v.body_sha256 = h(&Sha256::digest(&body));
            if v.mode != 3 {
                let ctx = v
                    .context
                    .as_deref()
                    .map(|c| KmsContext::from_base64(c).unwrap());
                v.kms_context = Some(if version == FORMAT_VERSION_BUCKET_KEY {
                    sse::bucket_key_context(ctx.as_ref(), &v.bucket)
                } else {
                    sse::kms_context_for(ctx.as_ref(), &v.bucket, &v.key)
                });
            }
            v
        })
        .collect()
}

/// A KMS that knows exactly one blob and one context: opening through it checks the frozen context.
#[derive(Debug)]
struct FixedKms {
    edk: Vec<u8>,
    context: String,
    dek: [u8; 32],
}

impl KeyProvider for FixedKms {
    fn generate_data_key<'a>(
        &'a self,
        _: DataKeyRequest<'a>,
    ) -> BoxFuture<'a, Result<GeneratedKey>> {
        Box::pin(async { Err(Error::Kms("read-only".into())) })
    }
    fn decrypt_data_key<'a>(&'a self, stored: StoredKey<'a>) -> BoxFuture<'a, Result<DataKey>> {
        Box::pin(async move {
            if stored.ciphertext_blob != self.edk || stored.context != self.context {
                return Err(Error::Kms("context mismatch".into()));
            }
            DataKey::from_bytes(&self.dek)
        })
    }
}

/// The generated vectors of `version`, checked against the file (rewritten first when
/// `UPDATE_VECTORS` is set).
fn frozen(version: u8) -> Vec<Vector> {
    let generated = generate(version);
    if std::env::var_os("UPDATE_VECTORS").is_some() {
        std::fs::write(
            path(version),
            serde_json::to_string_pretty(&generated).unwrap() + "\n",
        )
        .unwrap();
    }
    let stored: Vec<Vector> =
        serde_json::from_str(&std::fs::read_to_string(path(version)).expect("vectors file"))
            .unwrap();
    assert_eq!(
        stored, generated,
        "the format changed: update the vectors on purpose"
    );
    stored
}

/// The adapter and SSE-C key (if any) that open `v`; `verifier` is the adapter's verifier key.
fn reader(v: &Vector, verifier: Option<VerifierKey>) -> (Adapter, Option<CustomerKey>) {
    let dek: [u8; 32] = arr(&v.dek);
    let (adapter, customer) = if v.mode == 3 {
        (
            Adapter::new(Arc::new(crate::MemoryKms::new())),
            Some(CustomerKey::from_bytes(&dek).unwrap()),
        )
    } else {
        let kms = FixedKms {
            edk: hex::decode(v.edk.as_ref().unwrap()).unwrap(),
            context: v.kms_context.clone().unwrap(),
            dek,
        };
        (Adapter::new(Arc::new(kms)), None)
    };
    match verifier {
        Some(k) => (adapter.with_customer_key_verifier(k), customer),
        None => (adapter, customer),
    }
}

/// Decrypts every vector from its checked-in envelope through the public read path.
fn decrypt_all(stored: &[Vector], version: u8, verifier: impl Fn(&Vector) -> Option<VerifierKey>) {
    for v in stored {
        let env = Envelope::from_bytes(&hex::decode(&v.envelope).unwrap()).unwrap();
        assert_eq!(env.version(), version, "{}", v.name);
        let (_, body) = build(v, version);
        assert_eq!(h(&Sha256::digest(&body)), v.body_sha256);
        let name = ObjectName::new(&v.bucket, &v.key);
        let (adapter, customer) = reader(v, verifier(v));
        let obj = futures::executor::block_on(adapter.open(&env, name, customer.as_ref())).unwrap();
        let out = obj.decrypt_bytes(obj.plan(None).unwrap(), &body).unwrap();
        assert_eq!(out, plain(v.plain_len), "{}", v.name);
    }
}

fn open_err(env: &Envelope, v: &Vector, adapter: &Adapter, key: &CustomerKey) -> Error {
    let name = ObjectName::new(&v.bucket, &v.key);
    futures::executor::block_on(adapter.open(env, name, Some(key))).expect_err("refused")
}

#[test]
fn v1_vectors_are_frozen_and_still_decrypt() {
    let stored = frozen(FORMAT_VERSION_V1);
    // Without a verifier key (version 1 needs none) and with one (a gateway after the upgrade).
    decrypt_all(&stored, FORMAT_VERSION_V1, |_| None);
    decrypt_all(&stored, FORMAT_VERSION_V1, |_| {
        Some(VerifierKey::from_bytes(&fixed(0xe0)))
    });
    // The SSE-C vector uses the COS docs' key, whose MD5 is documented; a version-1 envelope still
    // echoes its stored MD5 when no key is at hand.
    let v = &stored[0];
    let env = Envelope::from_bytes(&hex::decode(&v.envelope).unwrap()).unwrap();
    assert_eq!(env.response_headers(None)[1].1, "U5L61r7jcwdNvT7frmUG8g==");
    // A wrong key against the stored MD5 is still a mismatch.
    let (adapter, _) = reader(v, Some(VerifierKey::from_bytes(&fixed(0xe0))));
    let wrong = CustomerKey::from_bytes(&[0x55; 32]).unwrap();
    assert!(matches!(
        open_err(&env, v, &adapter, &wrong),
        Error::CustomerKeyMismatch
    ));
}

/// Envelope version 2 of the SSE-C vector, up to and including its verifier, written out by hand:
/// "CSSE", version 2, suite 1, segment log2 16, mode 3, four absent KMS fields, then the verifier:
/// salt = fixed(0x90) and HMAC-SHA256(fixed(0xe0), "sse/v2/customer-key-verifier" || salt ||
/// "0123456789ABCDEF0123456789ABCDEF"), computed with Python's hmac module.
const V2_SSEC_HEAD: &str = concat!(
    "43535345",
    "02",
    "01",
    "10",
    "03",
    "00000000",
    "01",
    "909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
    "46177fe3997c754e2e8a93111f965c50ef05837e349d9e0a65d5289c4a98444b",
);

#[test]
fn v2_vectors_are_frozen_and_decrypt() {
    let stored = frozen(FORMAT_VERSION);
    decrypt_all(&stored, FORMAT_VERSION, |v| {
        v.verifier_key
            .as_ref()
            .map(|k| VerifierKey::from_bytes(&arr(k)))
    });
    let v = &stored[0];
    assert!(v.envelope.starts_with(V2_SSEC_HEAD), "{}", v.envelope);
    let bytes = hex::decode(&v.envelope).unwrap();
    let key = CustomerKey::from_bytes(&arr::<32>(&v.dek)).unwrap();
    assert!(
        !bytes.windows(16).any(|w| w == key.md5()),
        "a version-2 envelope does not hold the key's MD5"
    );
    let env = Envelope::from_bytes(&bytes).unwrap();
    // No key at hand: the algorithm alone; with the request's key, its MD5.
    assert_eq!(env.response_headers(None).len(), 1);
    assert_eq!(
        env.response_headers(Some(&key))[1].1,
        "U5L61r7jcwdNvT7frmUG8g=="
    );
    // A wrong key, another verifier key, and no verifier key at all.
    let right = VerifierKey::from_bytes(&arr(v.verifier_key.as_ref().unwrap()));
    let (adapter, _) = reader(v, Some(right));
    let wrong = CustomerKey::from_bytes(&[0x55; 32]).unwrap();
    assert!(matches!(
        open_err(&env, v, &adapter, &wrong),
        Error::CustomerKeyMismatch
    ));
    let (adapter, _) = reader(v, Some(VerifierKey::from_bytes(&fixed(0xe1))));
    assert!(matches!(
        open_err(&env, v, &adapter, &key),
        Error::CustomerKeyMismatch
    ));
    let (adapter, _) = reader(v, None);
    assert!(matches!(
        open_err(&env, v, &adapter, &key),
        Error::CustomerKeyVerifierUnset
    ));
}

#[test]
fn v3_vectors_are_frozen_and_decrypt() {
    let stored = frozen(FORMAT_VERSION_BUCKET_KEY);
    decrypt_all(&stored, FORMAT_VERSION_BUCKET_KEY, |_| None);
    for v in &stored {
        let bytes = hex::decode(&v.envelope).unwrap();
        assert_eq!(bytes[4], FORMAT_VERSION_BUCKET_KEY, "{}", v.name);
        // The KMS context names the bucket only: the same for every object of the bucket.
        let ctx = v
            .context
            .as_deref()
            .map(|c| KmsContext::from_base64(c).unwrap());
        assert_eq!(
            v.kms_context.as_deref(),
            Some(sse::bucket_key_context(ctx.as_ref(), &v.bucket).as_str())
        );
        // Relabelled as version 2 (per-object data key), the same bytes do not open.
        let mut relabelled = bytes.clone();
        relabelled[4] = FORMAT_VERSION;
        let env = Envelope::from_bytes(&relabelled).unwrap();
        let name = ObjectName::new(&v.bucket, &v.key);
        let kms = FixedKms {
            edk: hex::decode(v.edk.as_ref().unwrap()).unwrap(),
            context: sse::kms_context_for(ctx.as_ref(), &v.bucket, &v.key),
            dek: arr(&v.dek),
        };
        let adapter = Adapter::new(Arc::new(kms));
        let err = futures::executor::block_on(adapter.open(&env, name, None)).unwrap_err();
        assert!(matches!(err, Error::Decrypt), "{}: {err:?}", v.name);
    }
}

#[test]
fn version_3_is_refused_for_other_modes() {
    let stored = frozen(FORMAT_VERSION);
    for v in &stored {
        let mut bytes = hex::decode(&v.envelope).unwrap();
        bytes[4] = FORMAT_VERSION_BUCKET_KEY;
        match Envelope::from_bytes(&bytes) {
            Ok(_) => assert_eq!(v.mode, SseMode::Kms.id(), "{}", v.name),
            Err(e) => assert!(
                matches!(
                    e,
                    Error::MalformedEnvelope("a bucket key serves only SSE-KMS")
                ),
                "{}: {e:?}",
                v.name
            ),
        }
    }
    let mut bytes = hex::decode(&stored[0].envelope).unwrap();
    bytes[4] = FORMAT_VERSION_BUCKET_KEY + 1;
    assert!(matches!(
        Envelope::from_bytes(&bytes),
        Err(Error::MalformedEnvelope("unsupported format version"))
    ));
}
