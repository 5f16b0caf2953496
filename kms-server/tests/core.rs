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
