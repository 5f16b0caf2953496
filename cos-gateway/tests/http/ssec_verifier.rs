//! SSE-C objects are recognised by a keyed, salted verifier (envelope version 2): the verifier key
//! persists in the data directory, so SSE-C objects and uploads survive a restart, and the stored
//! metadata holds no MD5 of the customer key.

use super::multipart::{complete_xml, initiate, upload_part};
use super::*;

fn md5(key: &[u8]) -> [u8; 16] {
    use md5::Digest as _;
    md5::Md5::digest(key).into()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Every envelope the catalog holds (objects and uploads).
fn stored_envelopes(dir: &std::path::Path) -> Vec<storage_adapter::Envelope> {
    let db = rusqlite::Connection::open(dir.join("gateway.sqlite3")).unwrap();
    let mut out = Vec::new();
    for table in ["objects", "uploads"] {
        let mut q = db
            .prepare(&format!(
                "SELECT envelope FROM {table} WHERE envelope IS NOT NULL"
            ))
            .unwrap();
        let rows = q.query_map([], |r| r.get::<_, String>(0)).unwrap();
        for e in rows {
            out.push(storage_adapter::Envelope::from_base64(&e.unwrap()).unwrap());
        }
    }
    out
}

#[test]
fn ssec_objects_and_uploads_survive_a_restart_with_an_owner_only_key_file() {
    use std::os::unix::fs::PermissionsExt as _;
    let gw = start_with_bucket();
    Req::new("PUT", "/a")
        .headers(&ssec(&K1))
        .body("hello")
        .send(gw.addr)
        .assert_status(200);
    let id = initiate(gw.addr, "mp", &ssec(&K1));
    let key_file = gw.dir.path().join("ssec-verifier.key");
    let meta = std::fs::metadata(&key_file).expect("the key file is made at the first start");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 32);
    let key_bytes = std::fs::read(&key_file).unwrap();

    let gw = gw.restart_http();
    assert_eq!(
        std::fs::read(&key_file).unwrap(),
        key_bytes,
        "loaded, not remade"
    );
    let r = Req::new("GET", "/a").headers(&ssec(&K1)).send(gw.addr);
    r.assert_status(200);
    assert_eq!(r.body, b"hello");
    assert_eq!(
        r.exact("x-cos-server-side-encryption-customer-key-MD5"),
        Some(b64(&md5(&K1)).as_str()),
        "the request's key MD5 is echoed"
    );
    Req::new("HEAD", "/a")
        .headers(&ssec(&K1))
        .send(gw.addr)
        .assert_status(200);
    Req::new("GET", "/a")
        .headers(&ssec(&K2))
        .send(gw.addr)
        .assert_error(400, "SsecDecryptHeaderInvalid");
    Req::new("GET", "/a")
        .send(gw.addr)
        .assert_error(400, "SsecDecryptHeaderInvalid");
    // The upload initiated before the restart takes its part (the key is checked against the
    // upload's verifier) and completes without the key, as the SDKs send it.
    let e1 = upload_part(gw.addr, "mp", &id, 1, b"part one", &ssec(&K1));
    let r = Req::new("POST", &format!("/mp?uploadId={id}"))
        .body(complete_xml(&[(1, &e1)]))
        .send(gw.addr);
    r.assert_status(200);
    assert_eq!(
        r.exact("x-cos-server-side-encryption-customer-algorithm"),
        Some("AES256")
    );
    assert_eq!(
        r.exact("x-cos-server-side-encryption-customer-key-MD5"),
        None,
        "no key on Complete, and the envelope keeps no MD5"
    );
    let r = Req::new("GET", "/mp").headers(&ssec(&K1)).send(gw.addr);
    r.assert_status(200);
    assert_eq!(r.body, b"part one");

    // Without the persisted key the objects cannot be recognised any more: the file is what makes
    // the restart work.
    std::fs::remove_file(&key_file).unwrap();
    let gw = gw.restart_http();
    Req::new("GET", "/a")
        .headers(&ssec(&K1))
        .send(gw.addr)
        .assert_error(400, "SsecDecryptHeaderInvalid");
}

#[test]
fn stored_metadata_holds_no_md5_of_the_customer_key() {
    let gw = start_with_bucket();
    for key in ["/a", "/b"] {
        Req::new("PUT", key)
            .headers(&ssec(&K1))
            .body("same key")
            .send(gw.addr)
            .assert_status(200);
    }
    initiate(gw.addr, "mp", &ssec(&K1));
    // A copy re-wraps for the destination: a new envelope, version 2 too.
    let mut h = ssec(&K1)
        .into_iter()
        .map(|(k, v)| (k.replace("x-cos-", "x-cos-copy-source-"), v))
        .collect::<Vec<_>>();
    h.extend(ssec(&K1));
    h.push(("x-cos-copy-source".into(), format!("{}/a", common::HOST)));
    Req::new("PUT", "/c")
        .headers(&h)
        .send(gw.addr)
        .assert_status(200);
    let dir = gw.dir.path().to_path_buf();
    let envelopes = stored_envelopes(&dir);
    assert_eq!(envelopes.len(), 4);
    let digest = md5(&K1);
    for env in &envelopes {
        assert_eq!(env.version(), storage_adapter::envelope::FORMAT_VERSION);
        let bytes = env.to_bytes();
        assert!(
            !bytes.windows(digest.len()).any(|w| w == digest),
            "an envelope holds the key's MD5"
        );
    }
    // Two objects under the same key do not share what identifies the key.
    assert_ne!(envelopes[0], envelopes[1]);
    // Nor does any file of the catalog (the database and its WAL), in raw or base64 form.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() && path.extension().is_none_or(|e| e != "key") {
            let bytes = std::fs::read(&path).unwrap();
            assert!(!bytes.windows(16).any(|w| w == digest), "{path:?}");
            let text = b64(&digest);
            assert!(
                !bytes.windows(text.len()).any(|w| w == text.as_bytes()),
                "{path:?}"
            );
        }
    }
    drop(gw);
}

#[test]
fn an_in_memory_store_keeps_its_verifier_key_in_memory() {
    let gw = common::start_http_in_memory();
    create_bucket(gw.addr);
    Req::new("PUT", "/a")
        .headers(&ssec(&K1))
        .body("hello")
        .send(gw.addr)
        .assert_status(200);
    let r = Req::new("GET", "/a").headers(&ssec(&K1)).send(gw.addr);
    r.assert_status(200);
    assert_eq!(r.body, b"hello");
    // Its objects end with the process, and so does the key: no file is written.
    assert!(!gw.dir.path().join("ssec-verifier.key").exists());
}
