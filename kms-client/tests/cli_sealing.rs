//! `kms-admin generate-data-key --seal-for` and `decrypt --seal-for` against a real server: the
//! plaintext comes back sealed under the caller's public key, and opens with the matching private
//! key (here an asymmetric CMK of the same server, through `asymmetric-decrypt`).

mod common;

use common::{Server, admin_at, path_str, s, tempdir};

#[test]
fn data_keys_and_plaintexts_come_back_sealed_for_the_callers_key() {
    let dir = tempdir();
    let server = Server::start(dir.path());
    server.json(&["create-key", "--alias", "sym"]);
    server.json(&[
        "create-key",
        "--alias",
        "inbox",
        "--key-usage",
        "ASYMMETRIC_DECRYPT_RSA_2048",
    ]);
    let pem = dir.path().join("inbox.pem");
    server
        .admin(&["public-key", "inbox", "--out", path_str(&pem)])
        .ok();
    let open = |alg: &str, sealed: &str| {
        let j = server.json(&[
            "asymmetric-decrypt",
            "inbox",
            "--algorithm",
            alg,
            "--ciphertext",
            sealed,
        ]);
        s(&j["Plaintext"]).to_owned()
    };

    let dk = server.json(&[
        "generate-data-key",
        "sym",
        "--seal-for",
        path_str(&pem),
        "--seal-algorithm",
        "RSAES_OAEP_SHA_256",
    ]);
    let blob = s(&dk["CiphertextBlob"]).to_owned();
    let clear = server.json(&["decrypt", "--ciphertext", &blob]);
    let key = s(&clear["Plaintext"]).to_owned();
    let sealed = s(&dk["Plaintext"]).to_owned();
    assert_ne!(sealed, key, "the data key came back in clear");
    assert_eq!(open("RSAES_OAEP_SHA_256", &sealed), key);

    let again = server.json(&[
        "decrypt",
        "--ciphertext",
        &blob,
        "--seal-for",
        path_str(&pem),
        "--seal-algorithm",
        "RSAES_OAEP_SHA_1",
    ]);
    let sealed = s(&again["Plaintext"]).to_owned();
    assert_ne!(sealed, key);
    assert_eq!(open("RSAES_OAEP_SHA_1", &sealed), key);
    // An RSA key with the default algorithm (SM2) is the server's refusal.
    let e = server
        .admin(&[
            "decrypt",
            "--ciphertext",
            &blob,
            "--seal-for",
            path_str(&pem),
        ])
        .fails(1);
    assert!(e.starts_with("error: "), "{e}");
}

#[test]
fn sealing_flags_are_checked_before_any_call() {
    let at = "http://127.0.0.1:1";
    let e = admin_at(
        at,
        &[
            "generate-data-key",
            "k",
            "--seal-algorithm",
            "RSAES_OAEP_SHA_1",
        ],
        None,
    )
    .fails(2);
    assert!(e.contains("--seal-for"), "{e}");
    let e = admin_at(
        at,
        &[
            "decrypt",
            "--ciphertext",
            "AAAA",
            "--seal-for",
            "x.pem",
            "--seal-algorithm",
            "RSA",
        ],
        None,
    )
    .fails(2);
    assert!(e.contains("RSA"), "{e}");
    let e = admin_at(
        at,
        &[
            "generate-data-key",
            "k",
            "--seal-for",
            "/nonexistent/inbox.pem",
        ],
        None,
    )
    .fails(2);
    assert!(
        e.starts_with("error: cannot read /nonexistent/inbox.pem: "),
        "{e}"
    );
    let dir = tempdir();
    let binary = dir.path().join("key.der");
    std::fs::write(&binary, [0x30, 0x82, 0xff, 0xfe]).unwrap();
    let e = admin_at(
        at,
        &["generate-data-key", "k", "--seal-for", path_str(&binary)],
        None,
    )
    .fails(2);
    assert_eq!(e, format!("error: {}: not a PEM file", binary.display()));
}
