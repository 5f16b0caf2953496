//! `kms-admin seed FILE` against a real server: fixed ids, fixed material giving byte-identical
//! plaintexts across restarts (and across servers with other root keys), idempotent reloads, and a
//! broken file changing nothing.

mod common;

use common::{Server, file, path_str, s, tempdir, unb64};
use serde_json::Value;

const ORDERS: &str = "6f1c2d3e-0000-4000-8000-000000000001";
const LEGACY: &str = "6f1c2d3e-0000-4000-8000-000000000002";
const COLD: &str = "6f1c2d3e-0000-4000-8000-000000000003";

/// Material of ORDERS version 1 (hex) and version 2 (the same bytes reversed, base64).
const V1_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const V2_B64: &str = "Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

fn seed_doc() -> String {
    format!(
        "\
# Test keys: the same on every run.
keys:
  - key_id: {ORDERS}
    alias: orders
    description: Orders bucket key
    material:
      - {V1_HEX}
      - {V2_B64}
  - key_id: {LEGACY}
    alias: alias/legacy
    state: Disabled
  - key_id: {COLD}
    alias: cold
    description: archived key
    state: Archived
"
    )
}

/// Lists every user key as (KeyId, Alias, KeyState, Description), sorted: a snapshot of the store.
fn snapshot(server: &Server) -> Vec<(String, String, String, String)> {
    let list = server.json(&["list-keys"]);
    let mut keys: Vec<_> = list["KeyMetadatas"]
        .as_array()
        .expect("KeyMetadatas is an array")
        .iter()
        .map(|k| {
            (
                s(&k["KeyId"]).to_owned(),
                s(&k["Alias"]).to_owned(),
                s(&k["KeyState"]).to_owned(),
                s(&k["Description"]).to_owned(),
            )
        })
        .collect();
    keys.sort();
    keys
}

fn meta(server: &Server, key: &str) -> Value {
    server.json(&["describe-key", key])["KeyMetadata"].clone()
}

#[test]
fn seeded_keys_have_fixed_ids_and_portable_ciphertexts() {
    let work = tempdir();
    let seed = file(work.path(), "keys.yaml", seed_doc().as_bytes());
    let dir_a = work.path().join("a");
    let dir_b = work.path().join("b");

    let (blob, data_key, data_key_blob) = {
        let a = Server::start(&dir_a);
        let loaded = a.json(&["seed", path_str(&seed)]);
        assert_eq!(loaded["Changed"], 3, "{loaded}");
        assert_eq!(loaded["Total"], 3, "{loaded}");

        let orders = meta(&a, "alias/orders");
        assert_eq!(orders["KeyId"], ORDERS);
        assert_eq!(orders["Description"], "Orders bucket key");
        assert_eq!(orders["KeyState"], "Enabled");
        assert_eq!(orders["Origin"], "EXTERNAL");
        assert_eq!(orders["CurrentKeyVersion"], 2);
        let legacy = meta(&a, LEGACY);
        assert_eq!(legacy["Alias"], "legacy");
        assert_eq!(legacy["KeyState"], "Disabled");
        assert_eq!(legacy["Origin"], "TENCENT_KMS");
        let cold = meta(&a, "cold");
        assert_eq!(cold["KeyId"], COLD);
        assert_eq!(cold["KeyState"], "Archived");

        // Loading the same file again changes nothing.
        let before = snapshot(&a);
        let again = a.json(&["seed", path_str(&seed)]);
        assert_eq!(again["Changed"], 0, "{again}");
        assert_eq!(again["Total"], 3, "{again}");
        assert_eq!(snapshot(&a), before);
        let text = a.admin(&["seed", path_str(&seed)]).ok();
        assert_eq!(
            text,
            format!("{}: 3 keys, 0 created or changed\n", seed.display())
        );

        let c = a.json(&[
            "encrypt",
            "orders",
            "--plaintext",
            "order #42",
            "--context-json",
            r#"{"t":"1"}"#,
        ]);
        assert_eq!(c["KeyVersion"], 2);
        let dk = a.json(&[
            "generate-data-key",
            ORDERS,
            "--context-json",
            r#"{"bucket":"b"}"#,
        ]);
        (
            s(&c["CiphertextBlob"]).to_owned(),
            unb64(s(&dk["Plaintext"])),
            s(&dk["CiphertextBlob"]).to_owned(),
        )
    };

    // Restart on the same directory: the keys are still there, a reload changes nothing, the blob opens.
    {
        let a = Server::start(&dir_a);
        assert_eq!(meta(&a, ORDERS)["Alias"], "orders");
        assert_eq!(a.json(&["seed", path_str(&seed)])["Changed"], 0);
        let d = a.json(&[
            "decrypt",
            "--ciphertext",
            &blob,
            "--context-json",
            r#"{"t":"1"}"#,
        ]);
        assert_eq!(unb64(s(&d["Plaintext"])), b"order #42");
    }

    // A fresh server (other directory, other root key) seeded with the same file opens the blobs
    // made by the first one, byte for byte; a fresh key without fixed material cannot.
    let b = Server::start(&dir_b);
    assert_eq!(b.json(&["seed", path_str(&seed)])["Changed"], 3);
    let d = b.json(&[
        "decrypt",
        "--ciphertext",
        &blob,
        "--context-json",
        r#"{"t":"1"}"#,
    ]);
    assert_eq!(unb64(s(&d["Plaintext"])), b"order #42");
    assert_eq!(d["KeyId"], ORDERS);
    assert_eq!(d["KeyVersion"], 2);
    let d = b.json(&[
        "decrypt",
        "--ciphertext",
        &data_key_blob,
        "--context-json",
        r#"{"bucket":"b"}"#,
    ]);
    assert_eq!(unb64(s(&d["Plaintext"])), data_key);
    // Human output of decrypt is the raw plaintext, identical on both servers.
    assert_eq!(
        b.admin(&[
            "decrypt",
            "--ciphertext",
            &blob,
            "--context-json",
            r#"{"t":"1"}"#
        ])
        .ok(),
        "order #42"
    );
}

#[test]
fn a_broken_file_changes_nothing() {
    let work = tempdir();
    let server = Server::start(&work.path().join("kms"));
    let seed = file(work.path(), "keys.yaml", seed_doc().as_bytes());
    server.admin(&["seed", path_str(&seed)]).ok();
    let before = snapshot(&server);

    // Each document adds a good new key first, then breaks a rule: the good key must not appear.
    let good = "  - key_id: 6f1c2d3e-0000-4000-8000-0000000000aa\n    alias: newcomer\n";
    // (what, document, lines accepted in "seed: line N:" (the entry or its field), words).
    let cases: Vec<(&str, String, std::ops::RangeInclusive<usize>, &[&str])> = vec![
        (
            "short material",
            format!(
                "keys:\n{good}  - key_id: {COLD}\n    alias: cold\n    material:\n      - 0102\n"
            ),
            4..=7,
            &["32 bytes"],
        ),
        (
            "not a UUID",
            format!("keys:\n{good}  - key_id: nope\n    alias: x\n"),
            4..=4,
            &["UUID"],
        ),
        (
            "bad state",
            format!("keys:\n{good}  - key_id: {COLD}\n    alias: cold\n    state: PendingDelete\n"),
            4..=6,
            &["state must be"],
        ),
        (
            "unknown field",
            format!("keys:\n{good}    colour: red\n"),
            2..=4,
            &["colour"],
        ),
        (
            "bad alias",
            format!("keys:\n{good}  - key_id: {COLD}\n    alias: 'no spaces allowed'\n"),
            4..=5,
            &["alias"],
        ),
        (
            "id twice",
            format!(
                "keys:\n{good}  - key_id: 6f1c2d3e-0000-4000-8000-0000000000aa\n    alias: twice\n"
            ),
            2..=4,
            &["twice"],
        ),
        (
            "alias of another stored key",
            format!(
                "keys:\n{good}  - key_id: 6f1c2d3e-0000-4000-8000-0000000000bb\n    alias: orders\n"
            ),
            4..=5,
            &["orders"],
        ),
        (
            "other material for a stored key",
            format!(
                "keys:\n{good}  - key_id: {ORDERS}\n    alias: orders\n    material:\n      - {V2_B64}\n      - {V1_HEX}\n"
            ),
            4..=8,
            &["material"],
        ),
        (
            "not YAML",
            format!("keys:\n{good}  - [unclosed\n"),
            1..=5,
            &[],
        ),
        ("no keys list", "colour: red\n".to_owned(), 0..=1, &[]),
    ];
    let mut wrong = Vec::new();
    for (what, doc, lines, needles) in cases {
        let path = file(work.path(), "broken.yaml", doc.as_bytes());
        let e = server.admin(&["seed", path_str(&path)]).fails(1);
        let line: Option<usize> = e
            .strip_prefix("error: seed: line ")
            .and_then(|rest| rest.split(':').next())
            .and_then(|n| n.parse().ok());
        if !line.is_some_and(|l| lines.contains(&l)) || !needles.iter().all(|n| e.contains(n)) {
            wrong.push(format!(
                "{what}: {e:?} should name a line in {lines:?} and {needles:?}"
            ));
        }
        assert_eq!(snapshot(&server), before, "{what}: the store changed");
    }
    assert!(wrong.is_empty(), "{wrong:#?}");

    // The original file still loads as a no-op.
    assert_eq!(server.json(&["seed", path_str(&seed)])["Changed"], 0);
}

#[test]
fn seed_reads_stdin_and_json_and_reports_local_problems() {
    let work = tempdir();
    let server = Server::start(&work.path().join("kms"));
    let json =
        format!(r#"{{"keys":[{{"key_id":"{ORDERS}","alias":"orders","material":["{V1_HEX}"]}}]}}"#);
    let v = server
        .admin_stdin(&["--json", "seed", "-"], json.as_bytes())
        .json();
    assert_eq!(v["Changed"], 1);
    assert_eq!(meta(&server, "orders")["CurrentKeyVersion"], 1);

    // A further version added to a stored key: only that key changes.
    let more = format!(
        r#"{{"keys":[{{"key_id":"{ORDERS}","alias":"orders","material":["{V1_HEX}","{V2_B64}"]}}]}}"#
    );
    let v = server
        .admin_stdin(&["--json", "seed", "-"], more.as_bytes())
        .json();
    assert_eq!(v["Changed"], 1);
    assert_eq!(meta(&server, "orders")["CurrentKeyVersion"], 2);

    let e = server.admin(&["seed", "/nonexistent/keys.yaml"]).fails(2);
    assert!(e.contains("cannot read /nonexistent/keys.yaml"), "{e}");
    let bin = file(work.path(), "bin.yaml", &[0xff, 0xfe, 0x00]);
    let e = server.admin(&["seed", path_str(&bin)]).fails(2);
    assert!(e.contains("not UTF-8"), "{e}");
}
