//! The embeddable core without gRPC: rules that are easiest to reach through the library.

use base64::Engine as _;
use kms_server::{Config, Error, Kms, RootKey};

const A: &str = "6f1c2d3e-0000-4000-8000-00000000000a";
const B: &str = "6f1c2d3e-0000-4000-8000-00000000000b";

fn open(dir: &std::path::Path) -> Kms {
    let root = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    Kms::open(Config::new(dir, RootKey::from_base64(&root).unwrap())).unwrap()
}

fn seed_doc(a_alias: &str, b_alias: &str) -> String {
    format!("keys:\n  - key_id: {A}\n    alias: {a_alias}\n  - key_id: {B}\n    alias: {b_alias}\n")
}

#[test]
fn a_seed_that_swaps_aliases_keeps_both_names_resolving() {
    let dir = tempfile::tempdir().unwrap();
    let kms = open(dir.path());
    kms.seed(&seed_doc("x", "y")).unwrap();
    kms.seed(&seed_doc("y", "x")).unwrap();
    for (alias, id) in [("x", B), ("y", A)] {
        assert_eq!(kms.describe_key(alias).unwrap().key_id.to_string(), id);
        assert_eq!(
            kms.describe_key(&format!("alias/{alias}"))
                .unwrap()
                .key_id
                .to_string(),
            id
        );
    }
    // And the same after a restart (the store agrees with the cache).
    drop(kms);
    let kms = open(dir.path());
    assert_eq!(kms.describe_key("x").unwrap().key_id.to_string(), B);
    assert_eq!(kms.describe_key("y").unwrap().key_id.to_string(), A);
}

#[test]
fn keys_with_external_material_do_not_rotate() {
    let dir = tempfile::tempdir().unwrap();
    let kms = open(dir.path());
    let material = hex::encode([1u8; 32]);
    kms.seed(&format!(
        "keys:\n  - key_id: {A}\n    alias: imported\n    material:\n      - {material}\n"
    ))
    .unwrap();
    for err in [
        kms.rotate_key("imported").map(drop).unwrap_err(),
        kms.enable_key_rotation("imported", 30).unwrap_err(),
    ] {
        assert!(matches!(err, Error::ExternalMaterial(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!("key {A} has external key material and cannot be rotated")
        );
        assert_eq!(
            err.tencent_code(),
            "UnsupportedOperation.ExternalCmkCanNotRotate"
        );
    }
    assert_eq!(kms.describe_key(A).unwrap().current_key_version, 1);
}

/// A seed may not take an alias from a stored key it does not name, and never silently changes an
/// existing key's state: no `state` keeps it, and a pending deletion is refused rather than revived.
#[test]
fn a_seed_neither_steals_aliases_nor_resets_states() {
    let dir = tempfile::tempdir().unwrap();
    let kms = open(dir.path());
    let victim = kms.create_key("payroll", "", "").unwrap().key_id;
    let doc = format!("keys:\n  - key_id: {A}\n    alias: payroll\n");
    match kms.seed(&doc) {
        Err(Error::Seed { line, rule }) => {
            assert_eq!(line, 2);
            assert_eq!(rule, format!("alias payroll is used by key {victim}"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(kms.describe_key("payroll").unwrap().key_id, victim);

    kms.seed(&seed_doc("x", "y")).unwrap();
    kms.disable_key(A).unwrap();
    // Loading the same document (no `state`) leaves the disabled key disabled.
    assert_eq!(kms.seed(&seed_doc("x", "y")).unwrap(), (0, 2));
    assert_eq!(
        kms.describe_key(A).unwrap().state,
        kms_server::KeyState::Disabled
    );
    // An explicit state is applied.
    let enabled = format!("keys:\n  - key_id: {A}\n    alias: x\n    state: Enabled\n");
    assert_eq!(kms.seed(&enabled).unwrap(), (1, 1));
    assert_eq!(
        kms.describe_key(A).unwrap().state,
        kms_server::KeyState::Enabled
    );
    // A key pending deletion stays so, with or without a `state` in the document.
    kms.disable_key(B).unwrap();
    kms.schedule_key_deletion(B, 7).unwrap();
    assert_eq!(kms.seed(&seed_doc("x", "y")).unwrap(), (0, 2));
    let revive = format!("keys:\n  - key_id: {B}\n    alias: y\n    state: Enabled\n");
    match kms.seed(&revive) {
        Err(Error::Seed { line, rule }) => {
            assert_eq!(line, 2);
            assert_eq!(
                rule,
                format!(
                    "key {B} is pending deletion: cancel the deletion (CancelKeyDeletion) \
                     before seeding it as Enabled"
                )
            );
        }
        other => panic!("{other:?}"),
    }
    let b = kms.describe_key(B).unwrap();
    assert_eq!(b.state, kms_server::KeyState::PendingDelete);
    assert!(b.deletion_date > 0);
}

/// Seed 003's samples name the key `kms-key-id`: an alias in the prefix Tencent reserves for its
/// cloud products. A seed (an administrator's action) may define it for a key owned by a named
/// service; that key serves data keys, stays out of the user's listing and refuses lifecycle calls.
#[test]
fn a_seed_defines_kms_aliases_only_for_service_owned_keys() {
    let dir = tempfile::tempdir().unwrap();
    let kms = open(dir.path());
    let refused = |doc: &str| match kms.seed(doc) {
        Err(Error::Seed { line, rule }) => (line, rule),
        other => panic!("{doc}: {other:?}"),
    };
    let bare = format!("keys:\n  - key_id: {A}\n    alias: kms-key-id\n");
    assert_eq!(
        refused(&bare),
        (
            2,
            format!(
                "alias prefix \"kms-\" is reserved for service keys: give key {A} an owner \
                 (the service it belongs to) to use kms-key-id"
            )
        )
    );
    for (owner, rule) in [
        (
            "user",
            "keys[0]: owner \"user\" is the default: leave the field out for a user key",
        ),
        (
            "Cos",
            "keys[0]: owner must be a service name of 1..=32 characters of [a-z0-9-] \
             starting with a letter, got \"Cos\"",
        ),
    ] {
        let doc = format!("keys:\n  - key_id: {A}\n    alias: kms-key-id\n    owner: {owner}\n");
        assert_eq!(refused(&doc).1, rule, "{owner}");
    }

    let doc = format!("keys:\n  - key_id: {A}\n    alias: kms-key-id\n    owner: cos\n");
    assert_eq!(kms.seed(&doc).unwrap(), (1, 1));
    assert_eq!(
        kms.seed(&doc).unwrap(),
        (0, 1),
        "loading it again changes nothing"
    );
    let key = kms.describe_key("alias/kms-key-id").unwrap();
    assert_eq!(
        (key.key_id.to_string(), key.owner.as_str()),
        (A.to_owned(), "cos")
    );
    let data_key = kms
        .generate_data_key("kms-key-id", kms_server::DataKeySpec::Aes256, "", true)
        .unwrap();
    assert_eq!(data_key.key_id.to_string(), A);
    let err = kms.disable_key("kms-key-id").unwrap_err();
    assert!(matches!(err, Error::ServiceKey(_)), "{err:?}");
    let listed = kms.list_keys(kms_server::ListKeys::default()).unwrap();
    assert!(listed.keys.iter().all(|k| k.key_id.to_string() != A));

    // The owner is part of the key: a document that disowns it, or gives it to another
    // service, is refused.
    let user = format!("keys:\n  - key_id: {A}\n    alias: plain\n");
    assert_eq!(
        refused(&user),
        (
            2,
            format!("key {A} is owned by \"cos\", the document says \"user\"")
        )
    );
    let other = format!("keys:\n  - key_id: {A}\n    alias: kms-key-id\n    owner: ckafka\n");
    assert_eq!(
        refused(&other).1,
        format!("key {A} is owned by \"cos\", the document says \"ckafka\"")
    );
    // And it survives a restart.
    drop(kms);
    let kms = open(dir.path());
    assert_eq!(kms.describe_key("kms-key-id").unwrap().owner, "cos");
}

/// Decrypt checks the blob's tag before it reports the key's state: a forged blob naming a disabled
/// key is an invalid ciphertext, and only a genuine one learns that the key is disabled.
#[test]
fn a_forged_blob_learns_nothing_about_the_key_state() {
    let dir = tempfile::tempdir().unwrap();
    let kms = open(dir.path());
    let key = kms.create_key("quiet", "", "").unwrap().key_id.to_string();
    let sealed = kms.encrypt(&key, b"secret", "").unwrap();
    kms.disable_key(&key).unwrap();
    let mut forged = sealed.ciphertext_blob.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert!(matches!(
        kms.decrypt(&forged, ""),
        Err(Error::InvalidCiphertext)
    ));
    match kms.decrypt(&sealed.ciphertext_blob, "") {
        Err(Error::KeyState { key_id, state, .. }) => {
            assert_eq!(key_id, key);
            assert_eq!(state, kms_server::KeyState::Disabled);
        }
        other => panic!("{:?}", other.map(|d| d.key_id)),
    }
    // A header naming a version the key does not have (0, 2, the largest) has no tag to check:
    // still the opaque answer, not the key's state. So is a header naming an asymmetric key.
    for version in [0u32, 2, u32::MAX] {
        let mut forged = sealed.ciphertext_blob.clone();
        // The header: magic, format version, key id (16 bytes), key version (4, big-endian).
        let at = kms_server::blob::BLOB_MAGIC.len() + 1 + 16;
        forged[at..at + 4].copy_from_slice(&version.to_be_bytes());
        assert!(
            matches!(kms.decrypt(&forged, ""), Err(Error::InvalidCiphertext)),
            "version {version}"
        );
    }
    let pair = kms
        .create_key("pair", "", "ASYMMETRIC_DECRYPT_RSA_2048")
        .unwrap()
        .key_id;
    kms.disable_key(&pair.to_string()).unwrap();
    let mut forged = sealed.ciphertext_blob.clone();
    let at = kms_server::blob::BLOB_MAGIC.len() + 1;
    forged[at..at + 16].copy_from_slice(pair.as_bytes());
    assert!(matches!(
        kms.decrypt(&forged, ""),
        Err(Error::InvalidCiphertext)
    ));
}
