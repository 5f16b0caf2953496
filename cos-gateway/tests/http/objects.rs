//! PUT / GET / copy of objects: every bad input with its exact COS code, and tampered bodies.

use super::*;

#[test]
fn object_bad_inputs() {
    let gw = start_with_bucket();
    let put = Req::new("PUT", "/o").body("0123456789").send(gw.addr);
    let etag = put.exact("ETag").unwrap().to_owned();
    assert_eq!(etag, "\"781e5e245d69b566979b86e28d23f2c7\"");
    // Content-MD5.
    Req::new("PUT", "/m")
        .header("Content-MD5", "not-base64!")
        .body("x")
        .send(gw.addr)
        .assert_error(400, "InvalidDigest");
    Req::new("PUT", "/m")
        .header("Content-MD5", "AAAAAAAAAAAAAAAAAAAAAA==")
        .body("x")
        .send(gw.addr)
        .assert_error(400, "BadDigest");
    Req::new("GET", "/m")
        .send(gw.addr)
        .assert_error(404, "NoSuchKey");
    // SSE values.
    Req::new("PUT", "/s")
        .header("x-cos-server-side-encryption", "SM4")
        .body("x")
        .send(gw.addr)
        .assert_error(400, "InvalidArgument");
    Req::new("PUT", "/s")
        .header("x-cos-server-side-encryption-cos-kms-key-id", "k")
        .body("x")
        .send(gw.addr)
        .assert_error(400, "InvalidArgument");
    Req::new("GET", "/o")
        .header("x-cos-server-side-encryption", "AES256")
        .send(gw.addr)
        .assert_error(400, "SSEHeaderNotAllowed");
    // SSE-C headers for an unencrypted object.
    Req::new("GET", "/o")
        .headers(&ssec(&K1))
        .send(gw.addr)
        .assert_error(400, "SsecDecryptHeaderInvalid");
    // Ranges and conditions.
    let r = Req::new("GET", "/o")
        .header("Range", "bytes=2-4")
        .send(gw.addr);
    assert_eq!((r.status, r.body.as_slice()), (206, &b"234"[..]));
    assert_eq!(r.exact("Content-Range"), Some("bytes 2-4/10"));
    // An end of u64::MAX is clamped to the size (it once wrapped to a 0-byte end).
    let r = Req::new("GET", "/o")
        .header("Range", "bytes=5-18446744073709551615")
        .send(gw.addr);
    assert_eq!((r.status, r.body.as_slice()), (206, &b"56789"[..]));
    assert_eq!(r.exact("Content-Range"), Some("bytes 5-9/10"));
    assert_eq!(r.exact("Content-Length"), Some("5"));
    Req::new("GET", "/o")
        .header("Range", "bytes=10-")
        .send(gw.addr)
        .assert_error(416, "InvalidRange");
    let r = Req::new("GET", "/o")
        .header("If-None-Match", &etag)
        .send(gw.addr);
    assert_eq!((r.status, r.body.len()), (304, 0));
    Req::new("GET", "/o")
        .header("If-Match", "\"nope\"")
        .send(gw.addr)
        .assert_error(412, "PreconditionFailed");
    // DELETE is idempotent.
    assert_eq!(Req::new("DELETE", "/o").send(gw.addr).status, 204);
    assert_eq!(Req::new("DELETE", "/o").send(gw.addr).status, 204);
    Req::new("GET", "/o")
        .send(gw.addr)
        .assert_error(404, "NoSuchKey");
}

#[test]
fn kms_key_disabled_after_the_write() {
    let gw = start_with_bucket();
    let kms = gw.gateway.embedded_kms().unwrap().kms();
    let id = kms
        .create_key("later-disabled", "", "")
        .unwrap()
        .key_id
        .to_string();
    let ctx = "eyJhIjoiYXNkZmEiLCJiIjoiMTIzMzIxIn0=";
    let r = Req::new("PUT", "/k")
        .header("x-cos-server-side-encryption", "cos/kms")
        .header("x-cos-server-side-encryption-cos-kms-key-id", &id)
        .header("x-cos-server-side-encryption-context", ctx)
        .body("secret")
        .send(gw.addr);
    assert_eq!(r.status, 200);
    assert_eq!(Req::new("GET", "/k").send(gw.addr).body, b"secret");
    kms.disable_key(&id).unwrap();
    Req::new("GET", "/k")
        .send(gw.addr)
        .assert_error(400, "KmsKeyDisabled");
    kms.enable_key(&id).unwrap();
    assert_eq!(Req::new("GET", "/k").send(gw.addr).body, b"secret");
    Req::new("PUT", "/k2")
        .header("x-cos-server-side-encryption", "cos/kms")
        .header("x-cos-server-side-encryption-cos-kms-key-id", "missing")
        .body("x")
        .send(gw.addr)
        .assert_error(400, "KmsKeyNotExist");
}

#[test]
fn copy_bad_inputs() {
    let gw = start_with_bucket();
    Req::new("PUT", "/src")
        .headers(&ssec(&K1))
        .body("copy me")
        .send(gw.addr);
    let src = "examplebucket-1250000000.cos.ap-beijing.myqcloud.com/src";
    // Without the source key.
    Req::new("PUT", "/dst")
        .header("x-cos-copy-source", src)
        .send(gw.addr)
        .assert_error(400, "SsecDecryptHeaderInvalid");
    let copy_src: Vec<(String, String)> = ssec(&K1)
        .into_iter()
        .map(|(k, v)| (k.replace("x-cos-", "x-cos-copy-source-"), v))
        .collect();
    // A metadata directive that is neither Copy nor Replaced.
    Req::new("PUT", "/dst")
        .header("x-cos-copy-source", src)
        .header("x-cos-metadata-directive", "Merge")
        .headers(&copy_src)
        .send(gw.addr)
        .assert_error(400, "InvalidArgument");
    Req::new("PUT", "/dst")
        .header("x-cos-copy-source", "not a source")
        .send(gw.addr)
        .assert_error(400, "InvalidArgument");
    Req::new("PUT", "/dst")
        .header(
            "x-cos-copy-source",
            "examplebucket-1250000000.cos.ap-beijing.myqcloud.com/none",
        )
        .send(gw.addr)
        .assert_error(404, "NoSuchKey");
    Req::new("PUT", "/dst")
        .header("x-cos-copy-source", src)
        .header("x-cos-copy-source-If-Match", "\"other\"")
        .headers(&copy_src)
        .send(gw.addr)
        .assert_error(412, "PreconditionFailed");
    // SSE-C -> SSE-C with another key; Replaced metadata.
    let mut h = copy_src.clone();
    h.extend(ssec(&K2));
    let r = Req::new("PUT", "/dst")
        .header("x-cos-copy-source", src)
        .header("x-cos-metadata-directive", "Replaced")
        .header("Content-Type", "text/x-copied")
        .headers(&h)
        .send(gw.addr);
    r.assert_status(200);
    assert!(r.text().contains("<ETag>"));
    let g = Req::new("GET", "/dst").headers(&ssec(&K2)).send(gw.addr);
    assert_eq!(g.body, b"copy me");
    assert_eq!(g.exact("Content-Type"), Some("text/x-copied"));
}

#[test]
fn a_tampered_body_is_never_served() {
    let gw = start_with_bucket();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    Req::new("PUT", "/t")
        .header("x-cos-server-side-encryption", "AES256")
        .body(data.clone())
        .send(gw.addr);
    // Flip one stored byte in the second segment.
    let objects = gw.dir.path().join("objects");
    let file = std::fs::read_dir(&objects)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut stored = std::fs::read(&file).unwrap();
    stored[70_000] ^= 1;
    std::fs::write(&file, &stored).unwrap();
    let r = Req::new("GET", "/t").send(gw.addr);
    // The first segment may be sent; the response is then aborted: never the whole object.
    assert!(
        r.body.len() < data.len(),
        "a tampered object was served whole"
    );
    assert_eq!(&r.body[..], &data[..r.body.len()]);
    // A range inside the untouched first segment still reads.
    let r = Req::new("GET", "/t")
        .header("Range", "bytes=0-99")
        .send(gw.addr);
    assert_eq!(r.body, &data[..100]);
    // A large SSE-C object tampered deep inside (past the read-ahead window): aborted too.
    std::fs::remove_file(&file).unwrap();
    let big: Vec<u8> = (0..(5u32 << 20)).map(|i| (i % 241) as u8).collect();
    Req::new("PUT", "/big")
        .headers(&ssec(&K1))
        .body(big.clone())
        .send(gw.addr);
    let file = std::fs::read_dir(&objects)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| std::fs::metadata(p).unwrap().len() > 1 << 20)
        .unwrap();
    let mut stored = std::fs::read(&file).unwrap();
    stored[4 << 20] ^= 0x80;
    std::fs::write(&file, &stored).unwrap();
    let r = Req::new("GET", "/big").headers(&ssec(&K1)).send(gw.addr);
    assert!(
        r.body.len() < big.len(),
        "a tampered object was served whole"
    );
    assert_eq!(&r.body[..], &big[..r.body.len()]);
}

/// Every directory under `dir` with its mode bits, then every file (recursively).
#[cfg(unix)]
fn modes(dir: &std::path::Path, dirs: &mut Vec<(String, u32)>, files: &mut Vec<(String, u32)>) {
    use std::os::unix::fs::PermissionsExt as _;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        let mode = meta.permissions().mode() & 0o777;
        let name = entry.path().display().to_string();
        if meta.is_dir() {
            dirs.push((name, mode));
            modes(&entry.path(), dirs, files);
        } else {
            files.push((name, mode));
        }
    }
}

/// Under the usual umask of 022 the data directory's files would be world-readable: bodies
/// (plain ones unencrypted), temp files, multipart parts and the database with the wrapped keys.
#[cfg(unix)]
#[test]
fn data_files_are_owner_only_whatever_the_umask() {
    let gw = start_with_bucket();
    let a = gw.addr;
    Req::new("PUT", "/plain")
        .body("clear text")
        .send(a)
        .assert_status(200);
    Req::new("PUT", "/sealed")
        .header("x-cos-server-side-encryption", "AES256")
        .body("sealed")
        .send(a)
        .assert_status(200);
    let id = super::multipart::initiate(a, "mp", &[]);
    super::multipart::upload_part(a, "mp", &id, 1, b"part one", &[]);
    let (mut dirs, mut files) = (Vec::new(), Vec::new());
    modes(gw.dir.path(), &mut dirs, &mut files);
    let names = |v: &[(String, u32)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    for want in ["/objects", "/tmp"] {
        assert!(names(&dirs).iter().any(|n| n.ends_with(want)), "{dirs:?}");
    }
    for want in [
        "gateway.sqlite3",
        "gateway.sqlite3-wal",
        "gateway.sqlite3-shm",
    ] {
        assert!(
            names(&files)
                .iter()
                .any(|n| n.ends_with(&format!("/{want}"))),
            "{want}: {files:?}"
        );
    }
    // Three bodies (two objects and one part) at least, all renamed from their temp files.
    let bodies = files
        .iter()
        .filter(|(n, _)| n.contains("/objects/"))
        .count();
    assert!(bodies >= 3, "{files:?}");
    for (name, mode) in &dirs {
        assert_eq!(*mode, 0o700, "{name}");
    }
    for (name, mode) in &files {
        assert_eq!(*mode, 0o600, "{name}");
    }
}
