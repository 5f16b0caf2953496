//! Entry points for the fuzz targets in `fuzz/` (a crate outside the workspace) to parsers this
//! crate keeps private. For fuzzing only: hidden from the docs, not an API, free to change with any
//! commit (here: seed documents, the fixed keys the asymmetric decryption target decrypts under,
//! and the Tencent API's actions over a KMS of their own). The public parsers (the blob header,
//! [`crate::blob::open_blob`], the encryption context) are fuzzed directly.

use uuid::Uuid;

use crate::{
    asymmetric::PrivateKey,
    error::Result,
    keys::{KeyMetadata, KeySpec, KeyState, KeyUsage, ORIGIN_KMS, OWNER_COS, OWNER_USER},
    secret::{KEY_LEN, Key32, SecretBytes},
};

/// The unix time the dry runs plan at (2024-01-01T00:00:00Z): fixed, so a run is reproducible.
pub const SEED_NOW: i64 = 1_704_067_200;

/// Ids of the keys [`seed_document`] plans against, so a document can name them: an enabled user
/// key with one version of material `[0x11; 32]` (alias `existing`), a user key pending deletion
/// (alias `leaving`) and a service key (alias `cos-service`).
pub const SEED_EXISTING_IDS: [&str; 3] = [
    "6f1c2d3e-0000-4000-8000-000000000001",
    "6f1c2d3e-0000-4000-8000-000000000002",
    "6f1c2d3e-0000-4000-8000-000000000003",
];

fn existing_key(id: &str, alias: &str, state: KeyState, owner: &str) -> (KeyMetadata, Vec<Key32>) {
    let meta = KeyMetadata {
        key_id: Uuid::parse_str(id).expect("the ids above are UUIDs"),
        alias: alias.to_owned(),
        description: String::new(),
        state,
        key_usage: KeyUsage::EncryptDecrypt,
        owner: owner.to_owned(),
        origin: ORIGIN_KMS.to_owned(),
        create_time: SEED_NOW - 1,
        deletion_date: if state == KeyState::PendingDelete {
            SEED_NOW + 86_400
        } else {
            0
        },
        rotation_enabled: false,
        rotate_days: 0,
        last_rotate_time: 0,
        next_rotate_time: 0,
        valid_to: 0,
        tags: Vec::new(),
        current_key_version: 1,
    };
    let material = Key32::from_slice(&[0x11; KEY_LEN]).expect("32 bytes");
    (meta, vec![material])
}

/// Loads a seed document (YAML or JSON) as [`crate::Kms::seed`] would, against the three keys of
/// [`SEED_EXISTING_IDS`], into an in-memory copy only, then loads it again. Returns how many keys
/// each load changed; the second number is 0 for every accepted document.
pub fn seed_document(document: &str) -> Result<(usize, usize)> {
    let [user, pending, service] = SEED_EXISTING_IDS;
    crate::kms::seed_dry_run(
        document,
        vec![
            existing_key(user, "existing", KeyState::Enabled, OWNER_USER),
            existing_key(pending, "leaving", KeyState::PendingDelete, OWNER_USER),
            existing_key(service, "cos-service", KeyState::Enabled, OWNER_COS),
        ],
        SEED_NOW,
    )
}

/// A `name=value` line of `tests/vectors/asymmetric.txt`.
fn asymmetric_vector(name: &str) -> &'static str {
    include_str!("../tests/vectors/asymmetric.txt")
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
        .expect("the vector file names every key it holds")
}

/// The fixed test keys of `tests/vectors/asymmetric.txt` that the asymmetric decryption target
/// decrypts under: RSA-2048 (from its PKCS#8) and SM2 (from its scalar). Fixed, so every crash
/// input replays.
pub fn decryption_keys() -> (PrivateKey, PrivateKey) {
    use base64::Engine as _;
    use sm2::pkcs8::EncodePrivateKey as _;
    let rsa = base64::engine::general_purpose::STANDARD
        .decode(asymmetric_vector("rsa_pkcs8"))
        .expect("the vector is base64");
    let rsa = PrivateKey::from_pkcs8(KeySpec::Rsa2048, SecretBytes::new(rsa))
        .expect("the vector is an RSA-2048 key");
    let scalar = hex::decode(asymmetric_vector("sm2_private_scalar")).expect("the vector is hex");
    let secret = sm2::SecretKey::from_slice(&scalar).expect("the vector is an SM2 scalar");
    let pkcs8 = secret.to_pkcs8_der().expect("an SM2 key encodes as PKCS#8");
    let sm2 = PrivateKey::from_pkcs8(KeySpec::Sm2, SecretBytes::new(pkcs8.as_bytes().to_vec()))
        .expect("the vector is an SM2 key");
    (rsa, sm2)
}

/// Keys of the KMS [`TencentActions`] opens, by alias, for fuzz inputs to name: `fuzz-aes`
/// (ENCRYPT_DECRYPT, fixed id and material: a blob sealed under it opens in every run),
/// `fuzz-sm2`, `fuzz-rsa` (asymmetric decryption), `fuzz-ecc` (sign and verify), `fuzz-disabled`
/// (disabled) and `fuzz-external` (EXTERNAL, pending import).
#[cfg(feature = "grpc")]
pub const TENCENT_FUZZ_SEED: &str = "keys:
  - key_id: 6f1c2d3e-0000-4000-8000-0000000000f1
    alias: fuzz-aes
    material: ['2222222222222222222222222222222222222222222222222222222222222222']
  - key_id: 6f1c2d3e-0000-4000-8000-0000000000f2
    alias: fuzz-sm2
    key_usage: ASYMMETRIC_DECRYPT_SM2
  - key_id: 6f1c2d3e-0000-4000-8000-0000000000f3
    alias: fuzz-rsa
    key_usage: ASYMMETRIC_DECRYPT_RSA_2048
  - key_id: 6f1c2d3e-0000-4000-8000-0000000000f4
    alias: fuzz-ecc
    key_usage: ASYMMETRIC_SIGN_VERIFY_ECC
  - key_id: 6f1c2d3e-0000-4000-8000-0000000000f5
    alias: fuzz-disabled
    state: Disabled
";

/// The Tencent API front end as the server runs it (the request handler, the JSON body, the typed
/// parameters, each action through the gRPC service's method, the envelope), over a KMS of its
/// own in a data directory, in development mode (no signature to make), with an audit log. One
/// per fuzz process: its keys change as the inputs act on them.
#[cfg(feature = "grpc")]
#[derive(Debug)]
pub struct TencentActions {
    runtime: tokio::runtime::Runtime,
    api: std::sync::Arc<crate::tencent::TencentApi>,
}

#[cfg(feature = "grpc")]
impl TencentActions {
    /// Opens a KMS in `data_dir` (created if absent; not in use by another) at [`SEED_NOW`] on a
    /// manual clock, with the keys of [`TENCENT_FUZZ_SEED`] and `fuzz-external`, and its audit
    /// log in `data_dir` (rotated at 1 MiB, so a long run keeps a few MiB).
    pub fn open(data_dir: &std::path::Path) -> Result<Self> {
        use std::sync::Arc;

        use crate::{
            audit::{AuditLog, AuditTarget},
            service::{AccessControl, KmsService, Observers},
            tencent::{Credentials, TencentApi},
        };
        let root = crate::RootKey::from_base64("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=")?;
        let mut config = crate::Config::new(data_dir, root);
        config.clock = Arc::new(crate::ManualClock::new(SEED_NOW));
        let kms = Arc::new(crate::Kms::open(config)?);
        kms.seed(TENCENT_FUZZ_SEED)?;
        if kms.key_names("fuzz-external").is_none() {
            kms.create_key_tagged("fuzz-external", "", "", true, Vec::new())?;
        }
        let audit = AuditLog::open(AuditTarget::File(data_dir.join("audit.log")), 1 << 20)?;
        let observers = Observers {
            audit: Some(Arc::new(audit)),
            metrics: None,
        };
        let access = Arc::new(AccessControl::allow_all());
        let service = KmsService::with_access(kms.clone(), access.clone())
            .with_observers(Arc::new(observers));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Self {
            runtime,
            api: Arc::new(TencentApi::new(
                service,
                kms,
                access,
                Credentials::Unchecked,
            )),
        })
    }

    /// The body of the server's answer to `POST /` with `X-TC-Action: action` and this JSON
    /// body; `None` when `action` cannot be a header value (no such request reaches the server).
    pub fn post(&self, action: &str, body: &[u8]) -> Option<Vec<u8>> {
        let request = axum::http::Request::post("/")
            .header("content-type", crate::tencent::wire::CONTENT_TYPE)
            .header("x-tc-version", crate::tencent::wire::API_VERSION)
            .header("x-tc-action", action)
            .body(axum::body::Body::from(body.to_vec()))
            .ok()?;
        let api = self.api.clone();
        self.runtime.block_on(async move {
            let response = crate::tencent::handle(axum::extract::State(api), request).await;
            axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .ok()
                .map(|b| b.to_vec())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn the_decryption_keys_are_the_vectors_keys() {
        use crate::asymmetric::DecryptAlgorithm;
        let (rsa, sm2) = decryption_keys();
        assert_eq!((rsa.spec(), sm2.spec()), (KeySpec::Rsa2048, KeySpec::Sm2));
        // The fuzz seed made from the gmssl vector opens under the SM2 key.
        use base64::Engine as _;
        let ct = include_str!("../tests/vectors/asymmetric_decrypt.txt")
            .lines()
            .find_map(|l| l.strip_prefix("sm2_c1c3c2_by_gmssl="))
            .unwrap();
        let ct = base64::engine::general_purpose::STANDARD
            .decode(ct)
            .unwrap();
        let plain = sm2.decrypt(DecryptAlgorithm::Sm2, &ct).unwrap();
        assert_eq!(plain.expose(), b"attack at dawn");
    }

    #[test]
    fn a_new_key_changes_once() {
        let doc = "keys:\n  - key_id: 6f1c2d3e-0000-4000-8000-0000000000aa\n    alias: newcomer\n";
        assert_eq!(seed_document(doc).unwrap(), (1, 0));
    }

    #[test]
    fn the_existing_keys_are_there() {
        // Same material and alias: nothing to change.
        let same = format!(
            "keys:\n  - key_id: {}\n    alias: existing\n    material: ['{}']\n",
            SEED_EXISTING_IDS[0],
            hex::encode([0x11; KEY_LEN])
        );
        assert_eq!(seed_document(&same).unwrap(), (0, 0));
        let service = format!(
            "keys:\n  - key_id: {}\n    alias: other\n",
            SEED_EXISTING_IDS[2]
        );
        match seed_document(&service) {
            Err(Error::Seed { line: 2, rule }) => {
                assert!(
                    rule.contains("is owned by \"cos\", the document says \"user\""),
                    "{rule}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[cfg(feature = "grpc")]
    #[test]
    fn tencent_actions_answer_as_the_server_does() {
        let dir = tempfile::tempdir().unwrap();
        let api = TencentActions::open(&dir.path().join("kms")).unwrap();
        let answer = |action: &str, body: &str| -> serde_json::Value {
            serde_json::from_slice(&api.post(action, body.as_bytes()).unwrap()).unwrap()
        };
        let sealed = answer(
            "Encrypt",
            r#"{"KeyId":"alias/fuzz-aes","Plaintext":"aGk=","EncryptionContext":"{\"a\":\"b\"}"}"#,
        );
        let blob = sealed["Response"]["CiphertextBlob"].as_str().unwrap();
        assert_eq!(
            sealed["Response"]["KeyId"],
            "6f1c2d3e-0000-4000-8000-0000000000f1"
        );
        let opened = answer(
            "Decrypt",
            &format!(r#"{{"CiphertextBlob":"{blob}","EncryptionContext":"{{\"a\":\"b\"}}"}}"#),
        );
        assert_eq!(opened["Response"]["Plaintext"], "aGk=");
        assert_eq!(
            answer("Encrypt", "{")["Response"]["Error"]["Code"],
            "InvalidParameter"
        );
        assert_eq!(
            answer("DescribeKey", r#"{"KeyId":"alias/fuzz-external"}"#)["Response"]["KeyMetadata"]
                ["KeyState"],
            "PendingImport"
        );
        assert_eq!(api.post("Encrypt\n", b"{}"), None);
        // The same directory opens again (a fuzz process restarted on it).
        drop(api);
        TencentActions::open(&dir.path().join("kms")).unwrap();
    }
}
