//! POST Object restore and what it unlocks: GET (and copy) of an ARCHIVE or DEEP_ARCHIVE object is
//! `403 InvalidObjectState` until a restore has finished; HEAD shows `x-cos-restore` while it runs
//! and once it is done; a second restore is 409 while one runs and 200 once done; SSE-C objects
//! need their key. The expiry of the copy is tested with explicit times in `src/restore.rs`.

use std::time::{Duration, Instant};

use super::*;

const RESTORE: &str = "<RestoreRequest><Days>1</Days><CASJobParameters><Tier>Expedited</Tier>\
                       </CASJobParameters></RestoreRequest>";

fn put_archived(a: std::net::SocketAddr, key: &str, class: &str, extra: &[(String, String)]) {
    Req::new("PUT", key)
        .header("x-cos-storage-class", class)
        .headers(extra)
        .body("archived body")
        .send(a)
        .assert_status(200);
}

fn restore(a: std::net::SocketAddr, key: &str, extra: &[(String, String)]) -> common::Raw {
    Req::new("POST", &format!("{key}?restore"))
        .header("Content-Type", "application/xml")
        .headers(extra)
        .body(RESTORE)
        .send(a)
}

/// Waits until HEAD of `key` says the restore is done; its `x-cos-restore` value.
fn wait_restored(a: std::net::SocketAddr, key: &str, extra: &[(String, String)]) -> String {
    let until = Instant::now() + common::RESTORE_DELAY + Duration::from_secs(5);
    loop {
        let r = Req::new("HEAD", key).headers(extra).send(a);
        let value = r.get("x-cos-restore").unwrap_or("").to_owned();
        if value.starts_with("ongoing-request=\"false\"") {
            return value;
        }
        assert!(Instant::now() < until, "still {value:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn an_archived_object_reads_only_after_its_restore() {
    let gw = start_with_bucket();
    let a = gw.addr;
    let sse = vec![(
        "x-cos-server-side-encryption".to_owned(),
        "AES256".to_owned(),
    )];
    put_archived(a, "/cold", "ARCHIVE", &sse);
    Req::new("GET", "/cold")
        .send(a)
        .assert_error(403, "InvalidObjectState");
    Req::new("GET", "/cold?partNumber=1")
        .send(a)
        .assert_error(403, "InvalidObjectState");
    Req::new("PUT", "/copy")
        .header("x-cos-copy-source", &format!("{}/cold", common::HOST))
        .send(a)
        .assert_error(403, "InvalidObjectState");
    let head = Req::new("HEAD", "/cold").send(a);
    assert_eq!(head.status, 200);
    assert_eq!(head.get("x-cos-restore"), None);

    restore(a, "/cold", &[]).assert_status(202);
    let running = Req::new("HEAD", "/cold").send(a);
    assert_eq!(
        running.exact("x-cos-restore"),
        Some("ongoing-request=\"true\"")
    );
    restore(a, "/cold", &[]).assert_error(409, "RestoreAlreadyInProgress");
    Req::new("GET", "/cold")
        .send(a)
        .assert_error(403, "InvalidObjectState");

    let done = wait_restored(a, "/cold", &[]);
    assert!(
        done.contains("expiry-date=\"") && done.ends_with(" GMT\""),
        "{done}"
    );
    let r = Req::new("GET", "/cold").send(a);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"archived body"[..]));
    assert_eq!(r.get("x-cos-restore"), Some(done.as_str()));
    assert_eq!(r.exact("x-cos-storage-class"), Some("ARCHIVE"));
    Req::new("PUT", "/copy")
        .header("x-cos-copy-source", &format!("{}/cold", common::HOST))
        .send(a)
        .assert_status(200);
    // Restored again while readable: 200, and the copy stays readable.
    restore(a, "/cold", &[]).assert_status(200);
    Req::new("GET", "/cold").send(a).assert_status(200);
    // An overwrite is a new object: archived again, not restored.
    put_archived(a, "/cold", "DEEP_ARCHIVE", &[]);
    Req::new("GET", "/cold")
        .send(a)
        .assert_error(403, "InvalidObjectState");
}

#[test]
fn restore_refuses_what_it_cannot_restore() {
    let gw = start_with_bucket();
    let a = gw.addr;
    Req::new("PUT", "/warm")
        .header("x-cos-storage-class", "STANDARD_IA")
        .body("x")
        .send(a)
        .assert_status(200);
    restore(a, "/warm", &[]).assert_error(403, "InvalidObjectState");
    restore(a, "/missing", &[]).assert_error(404, "NoSuchKey");
    put_archived(a, "/cold", "ARCHIVE", &[]);
    for bad in [
        "<RestoreRequest><Days>0</Days></RestoreRequest>",
        "<RestoreRequest><Days>1</Days><CASJobParameters><Tier>Now</Tier></CASJobParameters>\
         </RestoreRequest>",
        "<Tagging/>",
        "not xml",
    ] {
        Req::new("POST", "/cold?restore")
            .body(bad)
            .send(a)
            .assert_error(400, "MalformedXML");
    }
    Req::new("POST", "/cold?restore")
        .header("Content-MD5", "AAAAAAAAAAAAAAAAAAAAAA==")
        .body(RESTORE)
        .send(a)
        .assert_error(400, "BadDigest");
    // Nothing started.
    assert_eq!(Req::new("HEAD", "/cold").send(a).get("x-cos-restore"), None);
}

#[test]
fn an_ssec_object_is_restored_and_read_with_its_key_only() {
    let gw = start_with_bucket();
    let a = gw.addr;
    put_archived(a, "/secret", "ARCHIVE", &ssec(&K1));
    // Without the key, or with another, the answer is GET's for the same request.
    for key in [None, Some(&K2)] {
        let extra = key.map(ssec).unwrap_or_default();
        let get = Req::new("GET", "/secret").headers(&extra).send(a);
        assert!(get.status >= 400, "{}", get.head);
        restore(a, "/secret", &extra).assert_error(get.status, &get.code());
    }
    assert_eq!(
        Req::new("HEAD", "/secret")
            .headers(&ssec(&K1))
            .send(a)
            .get("x-cos-restore"),
        None
    );
    restore(a, "/secret", &ssec(&K1)).assert_status(202);
    wait_restored(a, "/secret", &ssec(&K1));
    let r = Req::new("GET", "/secret").headers(&ssec(&K1)).send(a);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"archived body"[..]));
}
