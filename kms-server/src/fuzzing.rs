//! Entry points for the fuzz targets in `fuzz/` (a crate outside the workspace) to parsers this
//! crate keeps private. For fuzzing only: hidden from the docs, not an API, free to change with any
//! commit (here: seed documents, and the fixed keys the asymmetric decryption target decrypts
//! under). The public parsers (the blob header, [`crate::blob::open_blob`], the encryption
//! context) are fuzzed directly.

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
}
