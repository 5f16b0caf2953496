//! `kms-admin` against a real server on 127.0.0.1:0: every subcommand, the `--json` shape, exit
//! statuses and error lines, and the round trip a user would do.

mod common;

use common::{Server, admin_at, b64, file, path_str, s, tempdir, unb64};
use serde_json::Value;

const CTX_JSON: &str = r#"{"bucket":"photos","object":"cat.jpg"}"#;

fn ctx_b64() -> String {
    b64(CTX_JSON.as_bytes())
}

/// Creates a key; returns its id.
fn create(server: &Server, alias: &str) -> String {
    let v = server.json(&["create-key", "--alias", alias, "--description", "test key"]);
    s(&v["KeyId"]).to_owned()
}

const SUBCOMMANDS: &[&str] = &[
    "create-key",
    "describe-key",
    "list-keys",
    "describe-keys",
    "enable-keys",
    "disable-keys",
    "enable-key",
    "disable-key",
    "schedule-key-deletion",
    "cancel-key-deletion",
    "archive-key",
    "cancel-key-archive",
    "update-alias",
    "update-description",
    "enable-key-rotation",
    "disable-key-rotation",
    "get-key-rotation-status",
    "rotate-key",
    "default-key",
    "generate-data-key",
    "encrypt",
    "decrypt",
    "re-encrypt",
    "generate-random",
    "seed",
    "identity",
    "public-key",
    "sign",
    "verify",
    "asymmetric-decrypt",
];

#[test]
fn help_has_examples_for_every_subcommand() {
    let top = admin_at("http://127.0.0.1:1", &["--help"], None);
    let text = top.ok();
    assert!(text.contains("Examples:"), "{text}");
    assert!(
        text.contains("--endpoint") && text.contains("KMS_ENDPOINT") && text.contains("--json")
    );
    for sub in SUBCOMMANDS {
        assert!(text.contains(sub), "top-level help lists {sub}");
        let help = admin_at("http://127.0.0.1:1", &[sub, "--help"], None).ok();
        assert!(
            help.contains("Example:"),
            "{sub} --help has an example:\n{help}"
        );
        assert!(
            help.contains(&format!("kms-admin {sub}")),
            "{sub} --help example uses it:\n{help}"
        );
    }
}

#[test]
fn usage_errors_are_one_line_and_status_2() {
    let at = "http://127.0.0.1:1";
    let e = admin_at(at, &["frobnicate"], None).fails(2);
    assert!(e.contains("frobnicate"), "{e}");
    let e = admin_at(at, &["create-key"], None).fails(2);
    assert!(e.contains("--alias"), "{e}");
    let e = admin_at(at, &[], None).fails(2);
    assert!(e.contains("subcommand"), "{e}");
    let e = admin_at(
        at,
        &["generate-data-key", "k", "--key-spec", "AES_512"],
        None,
    )
    .fails(2);
    assert!(e.contains("AES_512"), "{e}");
    let e = admin_at(at, &["list-keys", "--state", "Gone"], None).fails(2);
    assert!(e.contains("Gone"), "{e}");
    let e = admin_at(at, &["decrypt", "--ciphertext", "not base64!"], None).fails(2);
    assert_eq!(e, "error: --ciphertext: not valid base64");
    let e = admin_at(
        at,
        &["encrypt", "k", "--plaintext", "x", "--context-json", "[1]"],
        None,
    )
    .fails(2);
    assert!(e.starts_with("error: --context-json: "), "{e}");
    let e = admin_at(at, &["encrypt", "k", "--in", "/nonexistent/file"], None).fails(2);
    assert!(e.contains("cannot read /nonexistent/file"), "{e}");
    let e = admin_at(at, &["--timeout", "soon", "list-keys"], None).fails(2);
    assert!(e.contains("soon"), "{e}");
    // A base64 context is checked before any connection, as a JSON one is.
    let e = admin_at(
        at,
        &["encrypt", "k", "--plaintext", "x", "--context", "%%%"],
        None,
    )
    .fails(2);
    assert!(e.starts_with("error: --context: "), "{e}");
    // import-parameters replaces the key's pending import token: an --out it cannot write is
    // found before the call is made (no server here: a call would be exit 3).
    let e = admin_at(
        at,
        &[
            "import-parameters",
            "k",
            "--out",
            "/nonexistent/dir/wrap.pem",
        ],
        None,
    )
    .fails(2);
    assert!(e.contains("cannot write /nonexistent/dir/wrap.pem"), "{e}");
}

#[test]
fn unreachable_server_is_status_3() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let at = format!("http://127.0.0.1:{port}");
    let e = admin_at(&at, &["--timeout", "2s", "list-keys"], None).fails(3);
    assert!(
        e.starts_with(&format!("error: cannot connect to {at}")),
        "{e}"
    );
}

#[test]
fn create_describe_list_json_shape() {
    let dir = tempdir();
    let server = Server::start(dir.path());

    let created = server.json(&[
        "create-key",
        "--alias",
        "photos",
        "--description",
        "photo bucket",
    ]);
    for field in [
        "KeyId",
        "Alias",
        "CreateTime",
        "Description",
        "KeyState",
        "KeyUsage",
    ] {
        assert!(
            created.get(field).is_some(),
            "CreateKey output has {field}: {created}"
        );
    }
    assert_eq!(created["Alias"], "photos");
    assert_eq!(created["KeyState"], "Enabled");
    assert_eq!(created["KeyUsage"], "ENCRYPT_DECRYPT");
    assert_eq!(created["Description"], "photo bucket");
    let id = s(&created["KeyId"]).to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");

    for name in [id.as_str(), "alias/photos", "photos"] {
        let d = server.json(&["describe-key", name]);
        let m = &d["KeyMetadata"];
        assert_eq!(m["KeyId"], id.as_str());
        for field in [
            "KeyId",
            "Alias",
            "Description",
            "KeyState",
            "KeyUsage",
            "Owner",
            "Origin",
            "CreateTime",
            "DeletionDate",
            "KeyRotationEnabled",
            "RotateDays",
            "LastRotateTime",
            "NextRotateTime",
        ] {
            assert!(m.get(field).is_some(), "KeyMetadata has {field}: {m}");
        }
        assert_eq!(m["Owner"], "user");
        assert_eq!(m["Origin"], "TENCENT_KMS");
        assert_eq!(m["DeletionDate"], 0);
        assert!(m["CreateTime"].as_i64().unwrap() > 1_600_000_000);
    }

    // Human output: `Name: value` lines.
    let text = server.admin(&["describe-key", "photos"]).ok();
    assert!(
        text.contains(&format!("KeyId:              {id}\n")),
        "{text}"
    );
    assert!(text.contains("KeyState:           Enabled\n"), "{text}");

    let other = create(&server, "docs");
    server.admin(&["disable-key", &other]).ok();

    let list = server.json(&["list-keys"]);
    assert_eq!(list["TotalCount"], 2, "{list}");
    let ids: Vec<&str> = list["KeyMetadatas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| s(&k["KeyId"]))
        .collect();
    assert!(
        ids.contains(&id.as_str()) && ids.contains(&other.as_str()),
        "{list}"
    );
    assert_eq!(list["Keys"].as_array().unwrap().len(), 2);

    let disabled = server.json(&["list-keys", "--state", "Disabled"]);
    assert_eq!(disabled["TotalCount"], 1, "{disabled}");
    assert_eq!(disabled["KeyMetadatas"][0]["KeyId"], other.as_str());
    assert_eq!(disabled["KeyMetadatas"][0]["KeyState"], "Disabled");

    // --all adds the service-owned keys (the COS default CMK at least).
    let default_id = s(&server.json(&["default-key"])["KeyMetadata"]["KeyId"]).to_owned();
    let all = server.json(&["list-keys", "--all"]);
    assert!(all["TotalCount"].as_u64().unwrap() >= 3, "{all}");
    let ids: Vec<&str> = all["KeyMetadatas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| s(&k["KeyId"]))
        .collect();
    assert!(ids.contains(&default_id.as_str()), "{all}");
    assert!(
        !server.json(&["list-keys"])["KeyMetadatas"]
            .to_string()
            .contains(&default_id)
    );

    let table = server.admin(&["list-keys"]).ok();
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("KEY ID"), "{table}");
    assert!(
        table.contains("photos") && table.contains("docs"),
        "{table}"
    );
    assert!(table.ends_with("2 keys\n"), "{table}");
}

#[test]
fn key_admin_subcommands() {
    let dir = tempdir();
    let server = Server::start(dir.path());
    let id = create(&server, "admin-me");

    // update-alias / update-description
    assert_eq!(
        server.json(&["update-alias", &id, "renamed"]),
        Value::Object(Default::default())
    );
    assert_eq!(
        server.json(&["describe-key", "alias/renamed"])["KeyMetadata"]["KeyId"],
        id.as_str()
    );
    server.admin(&["describe-key", "admin-me"]).fails(1);
    let out = server
        .admin(&["update-description", "renamed", "new words"])
        .ok();
    assert!(out.contains("updated"), "{out}");
    assert_eq!(
        server.json(&["describe-key", &id])["KeyMetadata"]["Description"],
        "new words"
    );

    // rotation settings
    server
        .admin(&["enable-key-rotation", &id, "--rotate-days", "90"])
        .ok();
    let st = server.json(&["get-key-rotation-status", &id]);
    assert_eq!(st["KeyRotationEnabled"], true, "{st}");
    assert_eq!(st["RotateDays"], 90, "{st}");
    assert!(st["NextRotateTime"].as_i64().unwrap() > 0, "{st}");
    assert_eq!(st["CurrentKeyVersion"], 1, "{st}");
    let text = server.admin(&["get-key-rotation-status", &id]).ok();
    assert!(text.contains("KeyRotationEnabled: true"), "{text}");
    server.admin(&["disable-key-rotation", &id]).ok();
    assert_eq!(
        server.json(&["get-key-rotation-status", &id])["KeyRotationEnabled"],
        false
    );
    server.admin(&["enable-key-rotation", &id]).ok();
    assert_eq!(
        server.json(&["get-key-rotation-status", &id])["RotateDays"],
        365
    );

    // rotate-key
    let r = server.json(&["rotate-key", &id]);
    assert_eq!(r["KeyId"], id.as_str());
    assert_eq!(r["KeyVersion"], 2);
    assert_eq!(
        server.json(&["get-key-rotation-status", &id])["CurrentKeyVersion"],
        2
    );

    // archive / cancel archive
    server.admin(&["archive-key", &id]).ok();
    assert_eq!(
        server.json(&["describe-key", &id])["KeyMetadata"]["KeyState"],
        "Archived"
    );
    let e = server.admin(&["encrypt", &id, "--plaintext", "x"]).fails(1);
    assert!(e.contains("Archived"), "{e}");
    server.admin(&["cancel-key-archive", &id]).ok();
    assert_eq!(
        server.json(&["describe-key", &id])["KeyMetadata"]["KeyState"],
        "Enabled"
    );

    // deletion: an Enabled key cannot be scheduled
    let e = server
        .admin(&["schedule-key-deletion", &id, "--pending-days", "7"])
        .fails(1);
    assert!(e.contains(&id) && e.contains("Enabled"), "{e}");
    server.admin(&["disable-key", &id]).ok();
    let e = server
        .admin(&["schedule-key-deletion", &id, "--pending-days", "3"])
        .fails(1);
    assert!(e.to_lowercase().contains("pending"), "{e}");
    let d = server.json(&["schedule-key-deletion", &id, "--pending-days", "7"]);
    assert_eq!(d["KeyId"], id.as_str());
    let when = d["DeletionDate"].as_i64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (when - now - 7 * 86_400).abs() < 120,
        "deletion in 7 days: {when} vs {now}"
    );
    let m = server.json(&["describe-key", &id]);
    assert_eq!(m["KeyMetadata"]["KeyState"], "PendingDelete");
    assert_eq!(m["KeyMetadata"]["DeletionDate"], when);
    assert_eq!(
        server.json(&["list-keys", "--state", "PendingDelete"])["TotalCount"],
        1
    );
    assert_eq!(
        server.json(&["cancel-key-deletion", &id])["KeyId"],
        id.as_str()
    );
    assert_eq!(
        server.json(&["describe-key", &id])["KeyMetadata"]["KeyState"],
        "Disabled"
    );
    let e = server.admin(&["cancel-key-deletion", &id]).fails(1);
    assert!(e.contains(&id), "{e}");
    let out = server.admin(&["enable-key", &id]).ok();
    assert_eq!(out, format!("key {id} enabled\n"));

    // default-key
    let d = server.json(&["default-key"]);
    assert_ne!(d["KeyMetadata"]["Owner"], "user", "{d}");
    assert_eq!(d["KeyMetadata"]["KeyState"], "Enabled");
}

#[test]
fn server_errors_keep_the_message_and_exit_1() {
    let dir = tempdir();
    let server = Server::start(dir.path());
    let id = create(&server, "taken");

    let e = server.admin(&["describe-key", "no-such-key"]).fails(1);
    assert!(e.contains("no-such-key") && e.contains("not found"), "{e}");
    let e = server
        .admin(&["describe-key", "00000000-0000-0000-0000-000000000000"])
        .fails(1);
    assert!(e.contains("not found"), "{e}");
    let e = server.admin(&["create-key", "--alias", "taken"]).fails(1);
    assert!(e.contains("taken") && e.contains("exists"), "{e}");
    let e = server
        .admin(&["create-key", "--alias", "bad alias!"])
        .fails(1);
    assert!(e.contains("alias"), "{e}");
    let e = server
        .admin(&["decrypt", "--ciphertext", &b64(b"definitely not a blob")])
        .fails(1);
    assert_eq!(e, "error: invalid ciphertext");
    let e = server.admin(&["generate-random", "0"]).fails(1);
    assert!(e.contains("number_of_bytes"), "{e}");
    let e = server.admin(&["generate-random", "2000"]).fails(1);
    assert!(e.contains("2000"), "{e}");
    let e = server
        .admin(&["schedule-key-deletion", &id, "--pending-days", "31"])
        .fails(1);
    assert!(e.contains("31"), "{e}");
    // Service-owned keys cannot be changed.
    let default_id = s(&server.json(&["default-key"])["KeyMetadata"]["KeyId"]).to_owned();
    let e = server.admin(&["disable-key", &default_id]).fails(1);
    assert!(e.contains(&default_id) && e.contains("service"), "{e}");
    let e = server
        .admin(&["generate-data-key", &id, "--number-of-bytes", "0"])
        .fails(1);
    assert!(e.contains("number_of_bytes"), "{e}");
    server.admin(&["disable-key", &id]).ok();
    let e = server.admin(&["generate-data-key", &id]).fails(1);
    assert_eq!(e, format!("error: key {id} is Disabled"));
    let e = server
        .admin(&["--json", "encrypt", "taken", "--plaintext", "x"])
        .fails(1);
    assert!(e.contains("is Disabled"), "{e}");
}

#[test]
fn user_round_trip() {
    let dir = tempdir();
    let server = Server::start(dir.path());
    let id = create(&server, "round-trip");

    // Data key with a context given as JSON ...
    let dk = server.json(&[
        "generate-data-key",
        "alias/round-trip",
        "--context-json",
        CTX_JSON,
    ]);
    assert_eq!(dk["KeyId"], id.as_str());
    assert_eq!(dk["KeyVersion"], 1);
    let plaintext = unb64(s(&dk["Plaintext"]));
    assert_eq!(plaintext.len(), 32);
    let blob = s(&dk["CiphertextBlob"]).to_owned();

    // ... opens with the same context given as base64 ...
    let d = server.json(&["decrypt", "--ciphertext", &blob, "--context", &ctx_b64()]);
    assert_eq!(unb64(s(&d["Plaintext"])), plaintext);
    assert_eq!(d["KeyId"], id.as_str());
    // ... and with the same members in another order.
    let d = server.json(&[
        "decrypt",
        "--ciphertext",
        &blob,
        "--context-json",
        r#"{"object":"cat.jpg","bucket":"photos"}"#,
    ]);
    assert_eq!(unb64(s(&d["Plaintext"])), plaintext);

    // Another context, or none: invalid ciphertext.
    let e = server
        .admin(&[
            "decrypt",
            "--ciphertext",
            &blob,
            "--context-json",
            r#"{"bucket":"other"}"#,
        ])
        .fails(1);
    assert_eq!(e, "error: invalid ciphertext");
    let e = server.admin(&["decrypt", "--ciphertext", &blob]).fails(1);
    assert_eq!(e, "error: invalid ciphertext");

    // Disabled: refused, with the state named.
    server.admin(&["disable-key", "round-trip"]).ok();
    let e = server
        .admin(&["decrypt", "--ciphertext", &blob, "--context", &ctx_b64()])
        .fails(1);
    assert_eq!(e, format!("error: key {id} is Disabled"));
    server.admin(&["enable-key", "round-trip"]).ok();

    // Rotate: new blobs use version 2, the old blob still opens.
    assert_eq!(server.json(&["rotate-key", &id])["KeyVersion"], 2);
    let d = server.json(&["decrypt", "--ciphertext", &blob, "--context", &ctx_b64()]);
    assert_eq!(unb64(s(&d["Plaintext"])), plaintext);
    assert_eq!(d["KeyVersion"], 1);
    let dk2 = server.json(&["generate-data-key", &id, "--context", &ctx_b64()]);
    assert_eq!(dk2["KeyVersion"], 2);

    // Re-encrypt the old blob under the newest version.
    let r = server.json(&[
        "re-encrypt",
        "--ciphertext",
        &blob,
        "--source-context",
        &ctx_b64(),
        "--destination-context",
        &ctx_b64(),
    ]);
    assert_eq!(r["ReEncrypted"], true, "{r}");
    assert_eq!(r["KeyId"], id.as_str());
    assert_eq!(r["SourceKeyId"], id.as_str());
    assert_eq!(r["KeyVersion"], 2);
    assert_eq!(r["SourceKeyVersion"], 1);
    let new_blob = s(&r["CiphertextBlob"]).to_owned();
    assert_ne!(new_blob, blob);
    let d = server.json(&[
        "decrypt",
        "--ciphertext",
        &new_blob,
        "--context",
        &ctx_b64(),
    ]);
    assert_eq!(unb64(s(&d["Plaintext"])), plaintext);
    assert_eq!(d["KeyVersion"], 2);

    // Re-encrypting a current blob with the same context changes nothing.
    let r = server.json(&[
        "re-encrypt",
        "--ciphertext",
        &new_blob,
        "--source-context",
        &ctx_b64(),
        "--destination-context",
        &ctx_b64(),
    ]);
    assert_eq!(r["ReEncrypted"], false, "{r}");
    assert_eq!(s(&r["CiphertextBlob"]), new_blob);
}

#[test]
fn encrypt_and_decrypt_inputs_and_outputs() {
    let dir = tempdir();
    let server = Server::start(dir.path());
    let id = create(&server, "io");

    // --plaintext, human output.
    let text = server
        .admin(&["encrypt", "io", "--plaintext", "hello world"])
        .ok();
    assert!(text.contains(&format!("KeyId:          {id}\n")), "{text}");
    let blob = text
        .lines()
        .find_map(|l| l.strip_prefix("CiphertextBlob: "))
        .unwrap()
        .trim()
        .to_owned();
    // Human decrypt writes the raw plaintext to stdout.
    assert_eq!(
        server.admin(&["decrypt", "--ciphertext", &blob]).ok(),
        "hello world"
    );

    // --in FILE (binary), JSON output, decrypt from a file holding the base64 blob, --out FILE.
    let bin: Vec<u8> = (0u8..=255).collect();
    let input = file(dir.path(), "in.bin", &bin);
    let c = server.json(&[
        "encrypt",
        &id,
        "--in",
        path_str(&input),
        "--context-json",
        r#"{"k":"v"}"#,
    ]);
    assert_eq!(c["KeyId"], id.as_str());
    assert_eq!(c["KeyVersion"], 1);
    let blob_file = file(
        dir.path(),
        "blob.b64",
        format!("{}\n", s(&c["CiphertextBlob"])).as_bytes(),
    );
    let out = dir.path().join("out.bin");
    let run = server.admin(&[
        "decrypt",
        "--in",
        path_str(&blob_file),
        "--out",
        path_str(&out),
        "--context-json",
        r#"{"k":"v"}"#,
    ]);
    assert_eq!(run.ok(), "");
    assert_eq!(std::fs::read(&out).unwrap(), bin);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&out).unwrap().permissions().mode() & 0o077,
            0,
            "plaintext file is private"
        );
        // An existing file readable by others is made private before the plaintext goes in.
        let shared = file(dir.path(), "shared.bin", b"old");
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).unwrap();
        let run = server.admin(&[
            "decrypt",
            "--in",
            path_str(&blob_file),
            "--out",
            path_str(&shared),
            "--context-json",
            r#"{"k":"v"}"#,
        ]);
        assert_eq!(run.ok(), "");
        assert_eq!(std::fs::read(&shared).unwrap(), bin);
        assert_eq!(
            std::fs::metadata(&shared).unwrap().permissions().mode() & 0o777,
            0o600,
            "an existing plaintext file is made private"
        );
    }
    // The blob as raw bytes in a file works too.
    let raw_file = file(dir.path(), "blob.raw", &unb64(s(&c["CiphertextBlob"])));
    let d = server.json(&[
        "decrypt",
        "--in",
        path_str(&raw_file),
        "--context-json",
        r#"{"k":"v"}"#,
    ]);
    assert_eq!(unb64(s(&d["Plaintext"])), bin);

    // stdin in, stdin out.
    let c = server
        .admin_stdin(&["--json", "encrypt", "io"], b"from stdin")
        .json();
    let blob = s(&c["CiphertextBlob"]).to_owned();
    assert_eq!(
        server.admin_stdin(&["decrypt"], blob.as_bytes()).ok(),
        "from stdin"
    );

    // Limits come from the server.
    let big = file(dir.path(), "big.bin", &vec![1u8; 4097]);
    server
        .admin(&["encrypt", "io", "--in", path_str(&big)])
        .fails(1);
}

#[test]
fn generate_data_key_variants_and_random() {
    let dir = tempdir();
    let server = Server::start(dir.path());
    let id = create(&server, "dk");

    let dk = server.json(&["generate-data-key", &id, "--key-spec", "AES_128"]);
    assert_eq!(unb64(s(&dk["Plaintext"])).len(), 16);
    let dk = server.json(&["generate-data-key", &id, "--number-of-bytes", "64"]);
    assert_eq!(unb64(s(&dk["Plaintext"])).len(), 64);
    let d = server.json(&["decrypt", "--ciphertext", s(&dk["CiphertextBlob"])]);
    assert_eq!(d["Plaintext"], dk["Plaintext"]);

    let w = server.json(&[
        "generate-data-key",
        &id,
        "--without-plaintext",
        "--context",
        &ctx_b64(),
    ]);
    assert!(w.get("Plaintext").is_none(), "{w}");
    assert_eq!(w["KeyId"], id.as_str());
    let d = server.json(&[
        "decrypt",
        "--ciphertext",
        s(&w["CiphertextBlob"]),
        "--context",
        &ctx_b64(),
    ]);
    assert_eq!(unb64(s(&d["Plaintext"])).len(), 32);
    let text = server
        .admin(&["generate-data-key", &id, "--without-plaintext"])
        .ok();
    assert!(!text.contains("Plaintext"), "{text}");
    assert!(text.contains("CiphertextBlob:"), "{text}");

    // Re-encrypt under another key with a new context.
    let other = create(&server, "dk-other");
    let r = server.json(&[
        "re-encrypt",
        "--ciphertext",
        s(&w["CiphertextBlob"]),
        "--to",
        "dk-other",
        "--source-context",
        &ctx_b64(),
        "--destination-context-json",
        r#"{"x":"y"}"#,
    ]);
    assert_eq!(r["KeyId"], other.as_str());
    assert_eq!(r["SourceKeyId"], id.as_str());
    assert_eq!(r["ReEncrypted"], true);
    let d2 = server.json(&[
        "decrypt",
        "--ciphertext",
        s(&r["CiphertextBlob"]),
        "--context-json",
        r#"{"x":"y"}"#,
    ]);
    assert_eq!(d2["Plaintext"], d["Plaintext"]);
    assert_eq!(d2["KeyId"], other.as_str());

    let r = server.json(&["generate-random", "32"]);
    assert_eq!(unb64(s(&r["Plaintext"])).len(), 32);
    let line = server.admin(&["generate-random", "12"]).ok();
    assert_eq!(unb64(line.trim()).len(), 12);
    let out = dir.path().join("rand.bin");
    assert_eq!(
        server
            .admin(&["generate-random", "100", "--out", path_str(&out)])
            .ok(),
        ""
    );
    assert_eq!(std::fs::read(&out).unwrap().len(), 100);
}

/// `create-key --key-usage`, `public-key`, `sign`, `verify` and `asymmetric-decrypt`: output,
/// exit statuses and the exact error line for each bad input.
#[test]
fn asymmetric_key_commands() {
    use aws_lc_rs::rsa::{
        OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, Pkcs1PublicEncryptingKey,
        PublicEncryptingKey,
    };
    let dir = tempdir();
    let server = Server::start(dir.path());
    let signer = server.json(&[
        "create-key",
        "--alias",
        "signer",
        "--key-usage",
        "ASYMMETRIC_SIGN_VERIFY_ECC",
    ]);
    assert_eq!(s(&signer["KeyUsage"]), "ASYMMETRIC_SIGN_VERIFY_ECC");
    let signer_id = s(&signer["KeyId"]).to_owned();
    let pem = server.admin(&["public-key", "signer"]).ok();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");
    assert!(pem.ends_with("-----END PUBLIC KEY-----\n"), "{pem}");
    let j = server.json(&["public-key", "alias/signer"]);
    assert_eq!(s(&j["PublicKeyPem"]), pem);
    assert_eq!(s(&j["KeyId"]), signer_id);
    assert_eq!(s(&j["KeyUsage"]), "ASYMMETRIC_SIGN_VERIFY_ECC");
    let pem_file = dir.path().join("signer.pem");
    let quiet = server
        .admin(&["public-key", "signer", "--out", path_str(&pem_file)])
        .ok();
    assert_eq!(quiet, "");
    assert_eq!(std::fs::read_to_string(&pem_file).unwrap(), pem);

    let sign = ["sign", "signer", "--algorithm", "ECC_P256_R1"];
    let sig = server
        .admin(&[&sign[..], &["--message", "pay 100"]].concat())
        .ok();
    let sig = sig.trim_end().to_owned();
    assert!(unb64(&sig).len() > 64, "{sig}");
    let verify = |message: &str, signature: &str| {
        server.admin(&[
            "verify",
            "signer",
            "--algorithm",
            "ECC_P256_R1",
            "--message",
            message,
            "--signature",
            signature,
        ])
    };
    assert_eq!(verify("pay 100", &sig).ok(), "SignatureValid: true\n");
    assert_eq!(
        verify("pay 900", &sig).fails(1),
        "error: the signature is not valid"
    );
    // The message from stdin and from a file signs the same bytes.
    let from_stdin = server
        .admin_stdin(&sign, b"pay 100")
        .ok()
        .trim_end()
        .to_owned();
    assert_eq!(
        verify("pay 100", &from_stdin).ok(),
        "SignatureValid: true\n"
    );
    let msg_file = file(dir.path(), "msg.txt", b"pay 100");
    let j = server.json(&[&sign[..], &["--in", path_str(&msg_file)]].concat());
    assert_eq!(s(&j["KeyId"]), signer_id);
    assert_eq!(
        verify("pay 100", s(&j["Signature"])).ok(),
        "SignatureValid: true\n"
    );
    // DIGEST: 32 bytes for ECC_P256_R1, else the server's exact refusal.
    let digest = [
        &sign[..],
        &["--digest", "--message", "0123456789abcdef0123456789abcdef"],
    ]
    .concat();
    server.admin(&digest).ok();
    let e = server
        .admin(&[&sign[..], &["--digest", "--message", "short"]].concat())
        .fails(1);
    assert_eq!(
        e,
        "error: a DIGEST message for ECC_P256_R1 must be 32 bytes, got 5"
    );

    // Bad input, found before any call (status 2), and the server's refusals (status 1).
    let e = server
        .admin(&["sign", "signer", "--algorithm", "ECDSA", "--message", "m"])
        .fails(2);
    assert!(
        e.contains(
            "unknown signature algorithm \"ECDSA\" (expected one of SM2DSA, ECC_P256_R1, \
                    ECDSA384, RSA_PSS_SHA_256, RSA_PKCS1_SHA_256)"
        ),
        "{e}"
    );
    let e = verify("pay 100", "%%%").fails(2);
    assert_eq!(e, "error: --signature: not valid base64");
    let e = server
        .admin(&["sign", "signer", "--algorithm", "SM2DSA", "--message", "m"])
        .fails(1);
    assert_eq!(e, "error: Algorithm SM2DSA does not run on a EccP256 key");
    let e = server
        .admin(&["create-key", "--alias", "x", "--key-usage", "SIGN_VERIFY"])
        .fails(1);
    assert!(e.starts_with("error: key_usage must be one of"), "{e}");
    create(&server, "sym");
    let e = server.admin(&["public-key", "sym"]).fails(1);
    assert!(
        e.ends_with("has KeyUsage ENCRYPT_DECRYPT, which does not allow GetPublicKey"),
        "{e}"
    );

    // asymmetric-decrypt: what aws-lc-rs sealed under the public key opens.
    let inbox = server.json(&[
        "create-key",
        "--alias",
        "inbox",
        "--key-usage",
        "ASYMMETRIC_DECRYPT_RSA_2048",
    ]);
    let inbox_id = s(&inbox["KeyId"]).to_owned();
    let der = unb64(s(&server.json(&["public-key", "inbox"])["PublicKey"]));
    let public = || PublicEncryptingKey::from_der(&der).unwrap();
    let mut oaep = vec![0; 256];
    OaepPublicEncryptingKey::new(public())
        .unwrap()
        .encrypt(&OAEP_SHA256_MGF1SHA256, b"secret", &mut oaep, None)
        .unwrap();
    let mut pkcs1 = vec![0; 256];
    Pkcs1PublicEncryptingKey::new(public())
        .unwrap()
        .encrypt(b"secret", &mut pkcs1)
        .unwrap();
    let dec = |alg: &'static str| ["asymmetric-decrypt", "inbox", "--algorithm", alg];
    let oaep_b64 = b64(&oaep);
    let plain = server
        .admin(&[&dec("RSAES_OAEP_SHA_256")[..], &["--ciphertext", &oaep_b64]].concat())
        .ok();
    assert_eq!(plain, "secret");
    let j = server.json(
        &[
            &dec("RSAES_PKCS1_V1_5")[..],
            &["--ciphertext", &b64(&pkcs1)],
        ]
        .concat(),
    );
    assert_eq!(
        (s(&j["KeyId"]), s(&j["Plaintext"])),
        (inbox_id.as_str(), "c2VjcmV0")
    );
    // Raw bytes from stdin, to a file.
    let out_file = dir.path().join("plain.bin");
    let quiet = server
        .admin_stdin(
            &[
                &dec("RSAES_OAEP_SHA_256")[..],
                &["--out", path_str(&out_file)],
            ]
            .concat(),
            &oaep,
        )
        .ok();
    assert_eq!(quiet, "");
    assert_eq!(std::fs::read(&out_file).unwrap(), b"secret");
    let mut tampered = oaep.clone();
    tampered[9] ^= 1;
    for (alg, ct) in [
        ("RSAES_OAEP_SHA_256", b64(&tampered)),
        ("RSAES_PKCS1_V1_5", oaep_b64.clone()),
        ("RSAES_OAEP_SHA_1", b64(&pkcs1)),
    ] {
        let e = server
            .admin(&[&dec(alg)[..], &["--ciphertext", &ct]].concat())
            .fails(1);
        assert_eq!(e, "error: invalid ciphertext", "{alg}");
    }
    let e = server
        .admin(
            &[
                &dec("RSAES_OAEP_SHA_256")[..],
                &["--ciphertext", &b64(&oaep[1..])],
            ]
            .concat(),
        )
        .fails(1);
    assert_eq!(
        e,
        "error: an RSA-2048 ciphertext must be 256 bytes, got 255"
    );
    let e = server
        .admin(
            &[
                &dec("RSAES_OAEP_SHA_256")[..],
                &["--ciphertext", "not base64!"],
            ]
            .concat(),
        )
        .fails(2);
    assert_eq!(e, "error: --ciphertext: not valid base64");
    let e = server
        .admin(&[&dec("RSA_OAEP")[..], &["--ciphertext", &oaep_b64]].concat())
        .fails(2);
    assert!(
        e.contains(
            "unknown decryption algorithm \"RSA_OAEP\" (expected one of RSAES_PKCS1_V1_5, \
                    RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2)"
        ),
        "{e}"
    );
    for (key, usage, action) in [
        (
            "signer",
            "ASYMMETRIC_SIGN_VERIFY_ECC",
            "AsymmetricRsaDecrypt",
        ),
        ("sym", "ENCRYPT_DECRYPT", "AsymmetricRsaDecrypt"),
    ] {
        let id = s(&server.json(&["describe-key", key])["KeyMetadata"]["KeyId"]).to_owned();
        let e = server
            .admin(&[
                "asymmetric-decrypt",
                key,
                "--algorithm",
                "RSAES_OAEP_SHA_256",
                "--ciphertext",
                &oaep_b64,
            ])
            .fails(1);
        assert_eq!(
            e,
            format!("error: key {id} has KeyUsage {usage}, which does not allow {action}")
        );
    }
    let e = server
        .admin(&[&dec("SM2")[..], &["--ciphertext", &oaep_b64]].concat())
        .fails(1);
    assert_eq!(
        e,
        format!(
            "error: key {inbox_id} has KeyUsage ASYMMETRIC_DECRYPT_RSA_2048, which does not allow \
             AsymmetricSm2Decrypt"
        )
    );
    server.admin(&["disable-key", "inbox"]).ok();
    let e = server
        .admin(&[&dec("RSAES_OAEP_SHA_256")[..], &["--ciphertext", &oaep_b64]].concat())
        .fails(1);
    assert_eq!(e, format!("error: key {inbox_id} is Disabled"));
}
