//! End-to-end HTTP tests against a gateway on 127.0.0.1:0: raw response bytes (header case),
//! signatures, routing, every operation's bad-input paths with their exact COS code and status.

mod common;

use common::{Options, Req, ssec, start};

fn gw_http() -> common::TestGateway {
    start(Options {
        tls: false,
        allow_ssec_over_http: true,
    })
}

fn make_bucket(addr: std::net::SocketAddr) {
    let r = Req::new("PUT", "/").send(addr);
    assert_eq!(r.status, 200, "{}", r.head);
}

fn with<'a>(mut req: Req<'a>, headers: &[(String, String)]) -> Req<'a> {
    for (k, v) in headers {
        req = req.header(k, v);
    }
    req
}

const K1: [u8; 32] = *b"0123456789ABCDEF0123456789ABCDEF";
const K2: [u8; 32] = *b"fedcba9876543210fedcba9876543210";

#[test]
fn header_names_are_written_in_the_case_the_sdks_read() {
    let gw = gw_http();
    make_bucket(gw.addr);
    let r = with(Req::new("PUT", "/obj"), &ssec(&K1))
        .body("hello")
        .send(gw.addr);
    assert_eq!(r.status, 200, "{}", r.head);
    for name in [
        "ETag",
        "Content-Length",
        "Date",
        "Server",
        "x-cos-request-id",
        "x-cos-server-side-encryption-customer-algorithm",
        "x-cos-server-side-encryption-customer-key-MD5",
    ] {
        assert!(r.exact(name).is_some(), "no `{name}` in\n{}", r.head);
    }
    assert_eq!(
        r.exact("x-cos-server-side-encryption-customer-key-MD5"),
        Some("U5L61r7jcwdNvT7frmUG8g==")
    );
    assert!(!r.head.contains("\r\netag:"), "{}", r.head);
    let r = with(Req::new("GET", "/obj"), &ssec(&K1)).send(gw.addr);
    assert_eq!(r.body, b"hello");
    for name in [
        "ETag",
        "Content-Length",
        "Content-Type",
        "Last-Modified",
        "Date",
    ] {
        assert!(r.exact(name).is_some(), "no `{name}` in\n{}", r.head);
    }
    let r = Req::new("PUT", "/kms")
        .header("x-cos-server-side-encryption", "cos/kms")
        .body("x")
        .send(gw.addr);
    assert_eq!(r.exact("x-cos-server-side-encryption"), Some("cos/kms"));
    assert!(
        r.exact("x-cos-server-side-encryption-cos-kms-key-id")
            .is_some()
    );
    // Errors too: x-cos-request-id and the four fields.
    let r = Req::new("GET", "/missing").send(gw.addr);
    r.assert_error(404, "NoSuchKey");
    assert!(r.exact("Content-Type").is_some());
}

#[test]
fn signatures_and_anonymous_requests() {
    let gw = gw_http();
    make_bucket(gw.addr);
    Req::new("PUT", "/o")
        .header("x-cos-server-side-encryption", "AES256")
        .body("x")
        .send(gw.addr);
    Req::new("GET", "/o")
        .unsigned()
        .send(gw.addr)
        .assert_error(403, "AccessDenied");
    // Signed for another path.
    Req::new("GET", "/o")
        .path("/other")
        .send(gw.addr)
        .assert_error(403, "SignatureDoesNotMatch");
    // An expired signature.
    let auth = cos_gateway::auth::sign(
        common::SECRET_ID,
        &cos_gateway::auth::SecretKey::new(common::SECRET_KEY),
        "GET",
        "/o",
        &[],
        &[],
        (1000, 2000),
    );
    Req::new("GET", "/o")
        .unsigned()
        .header("Authorization", &auth)
        .send(gw.addr)
        .assert_error(403, "AccessDenied");
}

#[test]
fn presigned_urls_are_verified() {
    let gw = gw_http();
    make_bucket(gw.addr);
    Req::new("PUT", "/p").body("presigned").send(gw.addr);
    let now = cos_gateway::wire::now_secs();
    let auth = cos_gateway::auth::sign(
        common::SECRET_ID,
        &cos_gateway::auth::SecretKey::new(common::SECRET_KEY),
        "GET",
        "/p",
        &[],
        &[("host".into(), common::HOST.into())],
        (now - 10, now + 100),
    );
    let query = auth
        .split('&')
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            format!("{k}={}", cos_gateway::wire::cos_encode(v))
        })
        .collect::<Vec<_>>()
        .join("&");
    let target = format!("/p?{query}");
    let r = Req::new("GET", &target).path("/p").unsigned().send(gw.addr);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"presigned"[..]));
    let bad = target.replace("q-signature=", "q-signature=0");
    Req::new("GET", &bad)
        .path("/p")
        .unsigned()
        .send(gw.addr)
        .assert_error(403, "SignatureDoesNotMatch");
}

#[test]
fn routing_path_style_and_absolute_form() {
    let gw = gw_http();
    make_bucket(gw.addr);
    let r = Req::new("PUT", "/dir/a%20b.txt")
        .path("/dir/a b.txt")
        .body("vhost")
        .send(gw.addr);
    assert_eq!(r.status, 200, "{}", r.head);
    // Path style on a plain host.
    let r = Req::new("GET", "/examplebucket-1250000000/dir/a%20b.txt")
        .path("/examplebucket-1250000000/dir/a b.txt")
        .host("127.0.0.1")
        .send(gw.addr);
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"vhost"[..]),
        "{}",
        r.head
    );
    // Absolute form (SDK proxy mode).
    let r = Req::new(
        "GET",
        "http://examplebucket-1250000000.cos.ap-beijing.myqcloud.com/dir/a%20b.txt",
    )
    .path("/dir/a b.txt")
    .send(gw.addr);
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"vhost"[..]),
        "{}",
        r.head
    );
    Req::new("PUT", "/Bad_Name/")
        .host("127.0.0.1")
        .path("/Bad_Name/")
        .send(gw.addr)
        .assert_error(400, "InvalidBucketName");
    Req::new("PUT", "/k")
        .host("nobucket-1.cos.ap-beijing.myqcloud.com")
        .body("x")
        .send(gw.addr)
        .assert_error(404, "NoSuchBucket");
}

#[test]
fn ssec_over_plain_http_is_refused_unless_allowed() {
    let gw = start(Options {
        tls: false,
        allow_ssec_over_http: false,
    });
    make_bucket(gw.addr);
    with(Req::new("PUT", "/c"), &ssec(&K1))
        .body("x")
        .send(gw.addr)
        .assert_error(400, "InvalidRequest");
    with(Req::new("GET", "/c"), &ssec(&K1))
        .send(gw.addr)
        .assert_error(400, "InvalidRequest");
}

#[test]
fn object_bad_inputs() {
    let gw = gw_http();
    make_bucket(gw.addr);
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
    with(Req::new("GET", "/o"), &ssec(&K1))
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
    let gw = gw_http();
    make_bucket(gw.addr);
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
    let gw = gw_http();
    make_bucket(gw.addr);
    with(Req::new("PUT", "/src"), &ssec(&K1))
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
    with(
        Req::new("PUT", "/dst")
            .header("x-cos-copy-source", src)
            .header("x-cos-metadata-directive", "Merge"),
        &copy_src,
    )
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
    with(
        Req::new("PUT", "/dst")
            .header("x-cos-copy-source", src)
            .header("x-cos-copy-source-If-Match", "\"other\""),
        &copy_src,
    )
    .send(gw.addr)
    .assert_error(412, "PreconditionFailed");
    // SSE-C -> SSE-C with another key; Replaced metadata.
    let mut h = copy_src.clone();
    h.extend(ssec(&K2));
    let r = with(
        Req::new("PUT", "/dst")
            .header("x-cos-copy-source", src)
            .header("x-cos-metadata-directive", "Replaced")
            .header("Content-Type", "text/x-copied"),
        &h,
    )
    .send(gw.addr);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(String::from_utf8_lossy(&r.body).contains("<ETag>"));
    let g = with(Req::new("GET", "/dst"), &ssec(&K2)).send(gw.addr);
    assert_eq!(g.body, b"copy me");
    assert_eq!(g.exact("Content-Type"), Some("text/x-copied"));
}

fn initiate(addr: std::net::SocketAddr, key: &str, headers: &[(String, String)]) -> String {
    let target = format!("/{key}?uploads");
    let r = with(Req::new("POST", &target), headers).send(addr);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let b = String::from_utf8_lossy(&r.body).into_owned();
    b.split("<UploadId>")
        .nth(1)
        .unwrap()
        .split("</UploadId>")
        .next()
        .unwrap()
        .to_owned()
}

fn upload_part(
    addr: std::net::SocketAddr,
    key: &str,
    id: &str,
    n: u32,
    data: &[u8],
    headers: &[(String, String)],
) -> String {
    let target = format!("/{key}?partNumber={n}&uploadId={id}");
    let r = with(Req::new("PUT", &target), headers)
        .body(data.to_vec())
        .send(addr);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.exact("ETag").unwrap().to_owned()
}

fn complete_xml(parts: &[(u32, &str)]) -> String {
    let mut x = String::from("<CompleteMultipartUpload>");
    for (n, e) in parts {
        x.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>"
        ));
    }
    x + "</CompleteMultipartUpload>"
}

#[test]
fn multipart_rules_and_part_copy() {
    let gw = gw_http();
    make_bucket(gw.addr);
    let a = addr_of(&gw);
    let big: Vec<u8> = (0..(1 << 20) + 100).map(|i| (i % 251) as u8).collect();
    let kms = vec![(
        "x-cos-server-side-encryption".to_owned(),
        "cos/kms".to_owned(),
    )];
    let id = initiate(a, "mp", &kms);
    let e1 = upload_part(a, "mp", &id, 1, &big, &[]);
    let e2 = upload_part(a, "mp", &id, 2, b"small", &[]);
    let e3 = upload_part(a, "mp", &id, 3, b"tail", &[]);
    let complete = |parts: &[(u32, &str)]| {
        let t = format!("/mp?uploadId={id}");
        Req::new("POST", &t).body(complete_xml(parts)).send(a)
    };
    complete(&[(2, &e2), (1, &e1)]).assert_error(400, "InvalidPartOrder");
    complete(&[(1, &e1), (2, "\"bad\"")]).assert_error(400, "InvalidPart");
    complete(&[(1, &e1), (3, &e3)]).assert_error(400, "InvalidPart");
    complete(&[(1, &e1), (2, &e2), (3, &e3)]).assert_error(400, "EntityTooSmall");
    let t = format!("/mp?uploadId={id}");
    Req::new("POST", &t)
        .body("<Nope/>")
        .send(a)
        .assert_error(400, "MalformedXML");
    // List Parts and List Multipart Uploads.
    let r = Req::new("GET", &t).send(a);
    assert_eq!(
        String::from_utf8_lossy(&r.body).matches("<Part>").count(),
        3
    );
    let r = Req::new("GET", "/?uploads&prefix=mp").send(a);
    assert!(String::from_utf8_lossy(&r.body).contains(&id));
    // Upload Part - Copy: a range of an SSE-C object becomes part 2.
    with(Req::new("PUT", "/src"), &ssec(&K1))
        .body(b"0123456789".to_vec())
        .send(a);
    let mut h: Vec<(String, String)> = ssec(&K1)
        .into_iter()
        .map(|(k, v)| (k.replace("x-cos-", "x-cos-copy-source-"), v))
        .collect();
    h.push((
        "x-cos-copy-source".into(),
        "/examplebucket-1250000000/src".into(),
    ));
    let t2 = format!("/mp?partNumber=2&uploadId={id}");
    // A malformed, overflowing or out-of-source range is refused, never a whole-object copy.
    for bad in [
        "bytes=5-18446744073709551615",
        "bytes=0-18446744073709551616",
        "bytes=3-10",
        "bytes=3-",
        "3-6",
    ] {
        let mut hb = h.clone();
        hb.push(("x-cos-copy-source-range".into(), bad.into()));
        with(Req::new("PUT", &t2), &hb)
            .send(a)
            .assert_error(400, "InvalidArgument");
    }
    h.push(("x-cos-copy-source-range".into(), "bytes=3-6".into()));
    let r = with(Req::new("PUT", &t2), &h).send(a);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let body = String::from_utf8_lossy(&r.body).into_owned();
    let e2 = body
        .split("<ETag>")
        .nth(1)
        .unwrap()
        .split("</ETag>")
        .next()
        .unwrap();
    let e2 = e2.replace("&quot;", "\"");
    let r = complete(&[(1, &e1), (2, &e2)]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.exact("x-cos-server-side-encryption"), Some("cos/kms"));
    let g = Req::new("GET", "/mp").send(a);
    let mut want = big.clone();
    want.extend_from_slice(b"3456");
    assert_eq!(g.body, want);
    // A range across the part boundary.
    let g = Req::new("GET", "/mp")
        .header(
            "Range",
            &format!("bytes={}-{}", big.len() - 2, big.len() + 1),
        )
        .send(a);
    assert_eq!(g.body, [&big[big.len() - 2..], b"34"].concat());
    // A copy of the multipart object: re-wrapped to SSE-COS, and decrypted to plain.
    for (dest, sse) in [("/mp-cos", Some("AES256")), ("/mp-plain", None)] {
        let mut req =
            Req::new("PUT", dest).header("x-cos-copy-source", "/examplebucket-1250000000/mp");
        if let Some(v) = sse {
            req = req.header("x-cos-server-side-encryption", v);
        }
        let r = req.send(a);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let g = Req::new("GET", dest).send(a);
        assert_eq!(g.exact("x-cos-server-side-encryption"), sse);
        assert_eq!(g.body, want, "{dest}");
    }
    // The upload is gone.
    complete(&[(1, &e1)]).assert_error(404, "NoSuchUpload");
    upload_part_err(a, "mp", &id).assert_error(404, "NoSuchUpload");
    Req::new("DELETE", &t)
        .send(a)
        .assert_error(404, "NoSuchUpload");
    // Abort.
    let id2 = initiate(a, "ab", &[]);
    upload_part(a, "ab", &id2, 1, b"x", &[]);
    assert_eq!(
        Req::new("DELETE", &format!("/ab?uploadId={id2}"))
            .send(a)
            .status,
        204
    );
    Req::new("PUT", &format!("/ab?partNumber=0&uploadId={id2}"))
        .body("x")
        .send(a)
        .assert_error(400, "InvalidArgument");
    // SSE-C upload: parts need the key.
    let id3 = initiate(a, "c", &ssec(&K1));
    Req::new("PUT", &format!("/c?partNumber=1&uploadId={id3}"))
        .body("x")
        .send(a)
        .assert_error(400, "SsecDecryptHeaderInvalid");
    // A bucket with uploads is not empty.
    Req::new("DELETE", "/")
        .send(a)
        .assert_error(409, "BucketNotEmpty");
}

fn upload_part_err(a: std::net::SocketAddr, key: &str, id: &str) -> common::Raw {
    Req::new("PUT", &format!("/{key}?partNumber=1&uploadId={id}"))
        .body("x")
        .send(a)
}

fn addr_of(gw: &common::TestGateway) -> std::net::SocketAddr {
    gw.addr
}

#[test]
fn bucket_operations_and_encryption_config() {
    let gw = gw_http();
    let a = gw.addr;
    Req::new("HEAD", "/").send(a);
    assert_eq!(Req::new("HEAD", "/").send(a).status, 404);
    make_bucket(a);
    Req::new("PUT", "/")
        .send(a)
        .assert_error(409, "BucketAlreadyOwnedByYou");
    Req::new("GET", "/?encryption")
        .send(a)
        .assert_error(404, "NoSuchEncryptionConfiguration");
    Req::new("PUT", "/?encryption")
        .body("<ServerSideEncryptionConfiguration/>")
        .send(a)
        .assert_error(400, "MalformedXML");
    Req::new("PUT", "/?encryption")
        .body("<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>DES</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>")
        .send(a)
        .assert_error(400, "InvalidArgument");
    let ok = "<ServerSideEncryptionConfiguration><Rule><ApplySideEncryptionConfiguration><SSEAlgorithm>AES256</SSEAlgorithm></ApplySideEncryptionConfiguration></Rule></ServerSideEncryptionConfiguration>";
    Req::new("PUT", "/?encryption")
        .header("Content-MD5", "AAAAAAAAAAAAAAAAAAAAAA==")
        .body(ok)
        .send(a)
        .assert_error(400, "BadDigest");
    assert_eq!(Req::new("PUT", "/?encryption").body(ok).send(a).status, 200);
    let r = Req::new("GET", "/?encryption").send(a);
    assert!(String::from_utf8_lossy(&r.body).contains(
        "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>"
    ));
    // The default applies to multipart uploads too.
    let id = initiate(a, "d", &[]);
    let e = upload_part(a, "d", &id, 1, b"abc", &[]);
    let r = Req::new("POST", &format!("/d?uploadId={id}"))
        .body(complete_xml(&[(1, &e)]))
        .send(a);
    assert_eq!(r.exact("x-cos-server-side-encryption"), Some("AES256"));
    assert_eq!(Req::new("GET", "/d").send(a).body, b"abc");
    assert_eq!(Req::new("DELETE", "/?encryption").send(a).status, 204);
    // Listing with a delimiter.
    Req::new("PUT", "/x/1").body("1").send(a);
    Req::new("PUT", "/x/2").body("2").send(a);
    let r = Req::new("GET", "/?delimiter=%2F").send(a);
    let b = String::from_utf8_lossy(&r.body);
    assert!(
        b.contains("<CommonPrefixes><Prefix>x/</Prefix></CommonPrefixes>"),
        "{b}"
    );
    assert!(b.contains("<Key>d</Key>"), "{b}");
    Req::new("GET", "/?max-keys=abc")
        .send(a)
        .assert_error(400, "InvalidArgument");
    Req::new("DELETE", "/")
        .send(a)
        .assert_error(409, "BucketNotEmpty");
    for k in ["/x/1", "/x/2", "/d"] {
        Req::new("DELETE", k).send(a);
    }
    assert_eq!(Req::new("DELETE", "/").send(a).status, 204);
    Req::new("GET", "/")
        .send(a)
        .assert_error(404, "NoSuchBucket");
}

#[test]
fn post_object_form_upload() {
    use base64::Engine as _;
    let gw = gw_http();
    let a = gw.addr;
    make_bucket(a);
    let now = cos_gateway::wire::now_secs();
    let key_time = format!("{};{}", now - 10, now + 600);
    let policy = serde_json::json!({
        "expiration": "2999-01-01T00:00:00.000Z",
        "conditions": [{"bucket": common::BUCKET}, ["starts-with", "$key", "up/"]]
    })
    .to_string();
    let policy_b64 = base64::engine::general_purpose::STANDARD.encode(&policy);
    let sig = cos_gateway::auth::sign_post_policy(
        &cos_gateway::auth::SecretKey::new(common::SECRET_KEY),
        &key_time,
        policy.as_bytes(),
    );
    let form = |key: &str, sig: &str, extra: &[(&str, &str)]| {
        let mut b = String::new();
        let mut fields = vec![
            ("key", key),
            ("policy", policy_b64.as_str()),
            ("q-sign-algorithm", "sha1"),
            ("q-ak", common::SECRET_ID),
            ("q-key-time", key_time.as_str()),
            ("q-signature", sig),
        ];
        fields.extend_from_slice(extra);
        for (k, v) in fields {
            b.push_str(&format!(
                "--BND\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
            ));
        }
        b.push_str("--BND\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nform body\r\n--BND--\r\n");
        b
    };
    let r = Req::new("POST", "/")
        .unsigned()
        .header("Content-Type", "multipart/form-data; boundary=BND")
        .body(form(
            "up/${filename}",
            &sig,
            &[("x-cos-server-side-encryption", "cos/kms")],
        ))
        .send(a);
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.exact("x-cos-server-side-encryption"), Some("cos/kms"));
    let g = Req::new("GET", "/up/a.txt").send(a);
    assert_eq!(g.body, b"form body");
    assert_eq!(g.exact("x-cos-server-side-encryption"), Some("cos/kms"));
    assert_eq!(g.exact("Content-Type"), Some("text/plain"));
    Req::new("POST", "/")
        .unsigned()
        .header("Content-Type", "multipart/form-data; boundary=BND")
        .body(form("up/x", &"0".repeat(40), &[]))
        .send(a)
        .assert_error(403, "SignatureDoesNotMatch");
    Req::new("POST", "/")
        .unsigned()
        .header("Content-Type", "multipart/form-data; boundary=BND")
        .body(form("other/x", &sig, &[]))
        .send(a)
        .assert_error(403, "AccessDenied");
    Req::new("POST", "/")
        .unsigned()
        .header("Content-Type", "multipart/form-data; boundary=BND")
        .body(form(
            "up/y",
            &sig,
            &[("x-cos-server-side-encryption", "nope")],
        ))
        .send(a)
        .assert_error(400, "InvalidArgument");
}

#[test]
fn post_object_ssec_fields_over_plain_http_are_refused() {
    use base64::Engine as _;
    let gw = start(Options {
        tls: false,
        allow_ssec_over_http: false,
    });
    let a = gw.addr;
    make_bucket(a);
    let now = cos_gateway::wire::now_secs();
    let key_time = format!("{};{}", now - 10, now + 600);
    let policy = serde_json::json!({
        "expiration": "2999-01-01T00:00:00.000Z",
        "conditions": [{"bucket": common::BUCKET}, ["starts-with", "$key", ""]]
    })
    .to_string();
    let policy_b64 = base64::engine::general_purpose::STANDARD.encode(&policy);
    let sig = cos_gateway::auth::sign_post_policy(
        &cos_gateway::auth::SecretKey::new(common::SECRET_KEY),
        &key_time,
        policy.as_bytes(),
    );
    let key_b64 = base64::engine::general_purpose::STANDARD.encode(K1);
    let form = |sig: &str, extra: (&str, &str)| {
        let mut b = String::new();
        for (k, v) in [
            ("key", "k"),
            ("policy", policy_b64.as_str()),
            ("q-sign-algorithm", "sha1"),
            ("q-ak", common::SECRET_ID),
            ("q-key-time", key_time.as_str()),
            ("q-signature", sig),
            extra,
        ] {
            b.push_str(&format!(
                "--BND\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
            ));
        }
        b.push_str("--BND\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nbody\r\n--BND--\r\n");
        b
    };
    let post = |body: String| {
        Req::new("POST", "/")
            .unsigned()
            .header("Content-Type", "multipart/form-data; boundary=BND")
            .body(body)
            .send(a)
    };
    // Only the key field (no algorithm field), in any case: refused, before the policy is checked.
    for name in [
        "x-cos-server-side-encryption-customer-key",
        "X-Cos-Server-Side-Encryption-Customer-Key-MD5",
    ] {
        post(form(&sig, (name, &key_b64))).assert_error(400, "InvalidRequest");
        post(form(&"0".repeat(40), (name, &key_b64))).assert_error(400, "InvalidRequest");
    }
    Req::new("GET", "/k").send(a).assert_error(404, "NoSuchKey");
    // Without SSE-C material the same form is accepted.
    let r = post(form(&sig, ("x-cos-meta-a", "b")));
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
}

#[test]
fn a_tampered_body_is_never_served() {
    let gw = gw_http();
    make_bucket(gw.addr);
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
    with(Req::new("PUT", "/big"), &ssec(&K1))
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
    let r = with(Req::new("GET", "/big"), &ssec(&K1)).send(gw.addr);
    assert!(
        r.body.len() < big.len(),
        "a tampered object was served whole"
    );
    assert_eq!(&r.body[..], &big[..r.body.len()]);
}

#[test]
fn unsupported_and_incomplete_requests() {
    let gw = gw_http();
    let a = gw.addr;
    make_bucket(a);
    Req::new("PUT", "/o")
        .without_length()
        .send(a)
        .assert_error(411, "MissingContentLength");
    Req::new("PUT", "/")
        .host("127.0.0.1")
        .send(a)
        .assert_error(405, "MethodNotAllowed");
    Req::new("GET", "/?acl")
        .send(a)
        .assert_error(501, "NotImplemented");
    Req::new("PUT", "/o?tagging")
        .send(a)
        .assert_error(501, "NotImplemented");
    Req::new("PUT", "/?encryption")
        .body(vec![b' '; 70 << 10])
        .send(a)
        .assert_error(400, "EntityTooLarge");
    // GET Service lists the bucket.
    let r = Req::new("GET", "/").host("127.0.0.1").send(a);
    assert!(String::from_utf8_lossy(&r.body).contains("<Name>examplebucket-1250000000</Name>"));
    // POST Object without its fields.
    let form = "--B\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--B--\r\n";
    Req::new("POST", "/")
        .unsigned()
        .header("Content-Type", "multipart/form-data; boundary=B")
        .body(form)
        .send(a)
        .assert_error(400, "InvalidArgument");
    let form = "--B\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--B--\r\n";
    Req::new("POST", "/")
        .unsigned()
        .header("Content-Type", "multipart/form-data; boundary=B")
        .body(form)
        .send(a)
        .assert_error(403, "AccessDenied");
}

/// A POST policy signed with the test key: (base64 policy, q-key-time, q-signature).
fn post_policy(conditions: serde_json::Value) -> (String, String, String) {
    use base64::Engine as _;
    let now = cos_gateway::wire::now_secs();
    let key_time = format!("{};{}", now - 10, now + 600);
    let policy = serde_json::json!({
        "expiration": "2999-01-01T00:00:00.000Z",
        "conditions": conditions,
    })
    .to_string();
    let sig = cos_gateway::auth::sign_post_policy(
        &cos_gateway::auth::SecretKey::new(common::SECRET_KEY),
        &key_time,
        policy.as_bytes(),
    );
    (
        base64::engine::general_purpose::STANDARD.encode(&policy),
        key_time,
        sig,
    )
}

/// The form up to the file's first byte: the signed fields, `extra` fields, the file part head.
fn form_head(policy: &(String, String, String), key: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let (policy_b64, key_time, sig) = policy;
    let mut fields = vec![
        ("key", key),
        ("policy", policy_b64.as_str()),
        ("q-sign-algorithm", "sha1"),
        ("q-ak", common::SECRET_ID),
        ("q-key-time", key_time.as_str()),
        ("q-signature", sig.as_str()),
    ];
    fields.extend_from_slice(extra);
    let mut b = String::new();
    for (k, v) in fields {
        b.push_str(&format!(
            "--BND\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    b.push_str("--BND\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\nContent-Type: application/x-test\r\n\r\n");
    b.into_bytes()
}

/// A whole form: [`form_head`], the file, then `trailing` fields and the closing boundary.
fn form(
    policy: &(String, String, String),
    key: &str,
    extra: &[(&str, &str)],
    file: &[u8],
    trailing: &[(&str, &str)],
) -> Vec<u8> {
    let mut b = form_head(policy, key, extra);
    b.extend_from_slice(file);
    for (k, v) in trailing {
        b.extend_from_slice(
            format!("\r\n--BND\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}")
                .as_bytes(),
        );
    }
    b.extend_from_slice(b"\r\n--BND--\r\n");
    b
}

fn post_form(a: std::net::SocketAddr, body: Vec<u8>) -> common::Raw {
    Req::new("POST", "/")
        .unsigned()
        .header("Content-Type", "multipart/form-data; boundary=BND")
        .body(body)
        .send(a)
}

/// Reads a response off `s` until its error document is complete (the gateway may keep reading
/// the rest of the request body, so the connection does not close at once).
fn read_error_response(s: &mut std::net::TcpStream, within: std::time::Duration) -> common::Raw {
    use std::io::Read as _;
    s.set_read_timeout(Some(within)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.windows(8).any(|w| w == b"</Error>") {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => panic!(
                "no response within {within:?} ({e}); got {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
    common::Raw::parse(&out)
}

#[test]
fn post_object_is_refused_before_its_file_is_read() {
    use std::io::Write as _;
    let gw = gw_http();
    let a = gw.addr;
    make_bucket(a);
    let good = post_policy(serde_json::json!([["starts-with", "$key", ""]]));
    let bad_sig = (good.0.clone(), good.1.clone(), "0".repeat(40));
    let unknown_op = post_policy(serde_json::json!([["in", "$key", ["k"]]]));
    for (policy, status, code) in [
        (&bad_sig, 403, "SignatureDoesNotMatch"),
        (&unknown_op, 400, "InvalidPolicyDocument"),
    ] {
        // A form that announces a 1 GiB file and sends 1 KiB of it: the refusal must come without
        // waiting for (or holding) the rest.
        let mut body = form_head(policy, "k", &[]);
        let declared = body.len() + (1 << 30);
        body.extend_from_slice(&[b'x'; 1024]);
        let head = Req::new("POST", "/")
            .unsigned()
            .without_length()
            .header("Content-Type", "multipart/form-data; boundary=BND")
            .header("Content-Length", &declared.to_string())
            .head();
        let mut s = std::net::TcpStream::connect(a).unwrap();
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&body).unwrap();
        read_error_response(&mut s, std::time::Duration::from_secs(20)).assert_error(status, code);
    }
    Req::new("GET", "/k").send(a).assert_error(404, "NoSuchKey");
}

#[test]
fn post_object_streams_its_file_within_the_policy_limits() {
    let gw = gw_http();
    let a = gw.addr;
    make_bucket(a);
    let max = 1_000_000usize;
    let policy = post_policy(serde_json::json!([
        ["starts-with", "$key", "up/"],
        ["content-length-range", 5, max]
    ]));
    let sse = [("x-cos-server-side-encryption", "AES256")];
    // Under the minimum: EntityTooSmall, nothing stored.
    post_form(a, form(&policy, "up/small", &[], b"abc", &[])).assert_error(400, "EntityTooSmall");
    Req::new("GET", "/up/small")
        .send(a)
        .assert_error(404, "NoSuchKey");
    // Over the maximum, plain and encrypted: EntityTooLarge, nothing stored.
    let big = vec![b'z'; max + 1];
    for extra in [&[][..], &sse[..]] {
        post_form(a, form(&policy, "up/big", extra, &big, &[])).assert_error(400, "EntityTooLarge");
        Req::new("GET", "/up/big")
            .send(a)
            .assert_error(404, "NoSuchKey");
    }
    // At the maximum, encrypted, in many chunks: stored whole.
    let data: Vec<u8> = (0..max).map(|i| (i % 251) as u8).collect();
    let r = post_form(a, form(&policy, "up/max", &sse, &data, &[]));
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.exact("x-cos-server-side-encryption"), Some("AES256"));
    let g = Req::new("GET", "/up/max").send(a);
    assert_eq!(g.body, data);
    assert_eq!(g.exact("Content-Type"), Some("application/x-test"));
    // Fields after the file are ignored (the file comes last): neither the metadata nor the key.
    let r = post_form(
        a,
        form(
            &policy,
            "up/first",
            &[],
            b"hello",
            &[("x-cos-meta-late", "1"), ("key", "up/second")],
        ),
    );
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    let g = Req::new("GET", "/up/first").send(a);
    assert_eq!(g.body, b"hello");
    assert!(g.get("x-cos-meta-late").is_none(), "{}", g.head);
    Req::new("GET", "/up/second")
        .send(a)
        .assert_error(404, "NoSuchKey");
    // A file part that never ends (no closing boundary): refused, nothing stored.
    let mut cut = form_head(&policy, "up/cut", &[]);
    cut.extend_from_slice(b"hello world");
    post_form(a, cut).assert_error(400, "InvalidArgument");
    Req::new("GET", "/up/cut")
        .send(a)
        .assert_error(404, "NoSuchKey");
    // A signed policy that is not JSON.
    let not_json = {
        use base64::Engine as _;
        let (_, key_time, _) = &policy;
        let sig = cos_gateway::auth::sign_post_policy(
            &cos_gateway::auth::SecretKey::new(common::SECRET_KEY),
            key_time,
            b"not json",
        );
        (
            base64::engine::general_purpose::STANDARD.encode(b"not json"),
            key_time.clone(),
            sig,
        )
    };
    post_form(a, form(&not_json, "up/j", &[], b"hello", &[]))
        .assert_error(400, "InvalidPolicyDocument");
    // An unknown condition operator is refused, not skipped.
    let unknown = post_policy(serde_json::json!([["not-in", "$key", ["x"]]]));
    post_form(a, form(&unknown, "up/u", &[], b"hello", &[]))
        .assert_error(400, "InvalidPolicyDocument");
    Req::new("GET", "/up/u")
        .send(a)
        .assert_error(404, "NoSuchKey");
}

#[test]
fn post_object_fields_before_the_file_are_bounded() {
    let gw = gw_http();
    let a = gw.addr;
    make_bucket(a);
    let policy = post_policy(serde_json::json!([["starts-with", "$key", ""]]));
    let over = "v".repeat(cos_gateway::ops::post::MAX_FORM_FIELDS + 1);
    post_form(
        a,
        form(&policy, "k", &[("x-cos-meta-big", &over)], b"hello", &[]),
    )
    .assert_error(400, "MaxPostPreDataLengthExceeded");
    Req::new("GET", "/k").send(a).assert_error(404, "NoSuchKey");
    // Large, but under the bound: accepted.
    let under = "v".repeat(cos_gateway::ops::post::MAX_FORM_FIELDS / 2);
    let r = post_form(
        a,
        form(&policy, "k", &[("x-cos-meta-big", &under)], b"hello", &[]),
    );
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
}

fn limited(limits: cos_gateway::ServeOptions) -> common::TestGateway {
    common::start_serving(
        Options {
            tls: false,
            allow_ssec_over_http: true,
        },
        None,
        limits,
    )
}

#[test]
fn connections_beyond_the_cap_wait_for_one_to_close() {
    let gw = limited(cos_gateway::ServeOptions {
        max_connections: 1,
        ..Default::default()
    });
    let a = gw.addr;
    // One idle connection holds the only permit...
    let idle = std::net::TcpStream::connect(a).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(Req::new("PUT", "/").send(a).status);
    });
    // ...so the next request is not served while it is open,
    assert!(
        rx.recv_timeout(std::time::Duration::from_millis(700))
            .is_err(),
        "a connection beyond the cap was served"
    );
    // and is once it closes.
    drop(idle);
    assert_eq!(
        rx.recv_timeout(std::time::Duration::from_secs(20)).unwrap(),
        200
    );
}

#[test]
fn a_stalled_body_ends_with_request_timeout() {
    use std::io::Write as _;
    let idle = std::time::Duration::from_millis(500);
    let gw = limited(cos_gateway::ServeOptions {
        idle_timeout: idle,
        ..Default::default()
    });
    let a = gw.addr;
    make_bucket(a);
    for (target, ctype) in [
        ("/stall", None),
        ("/", Some("multipart/form-data; boundary=BND")),
    ] {
        let mut req = Req::new(if ctype.is_some() { "POST" } else { "PUT" }, target)
            .without_length()
            .header("Content-Length", "100");
        if let Some(c) = ctype {
            req = req.unsigned().header("Content-Type", c);
        }
        let mut s = std::net::TcpStream::connect(a).unwrap();
        s.write_all(req.head().as_bytes()).unwrap();
        s.write_all(b"--BND\r\n").unwrap();
        let started = std::time::Instant::now();
        read_error_response(&mut s, std::time::Duration::from_secs(20))
            .assert_error(400, "RequestTimeout");
        assert!(started.elapsed() >= idle, "{target}");
    }
    Req::new("GET", "/stall")
        .send(a)
        .assert_error(404, "NoSuchKey");
    // A body that keeps sending, slower than the timeout overall, is not cut.
    let mut s = std::net::TcpStream::connect(a).unwrap();
    let req = Req::new("PUT", "/slow")
        .without_length()
        .header("Content-Length", "6");
    s.write_all(req.head().as_bytes()).unwrap();
    for part in [b"ab", b"cd", b"ef"] {
        std::thread::sleep(idle / 2);
        s.write_all(part).unwrap();
    }
    use std::io::Read as _;
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    assert_eq!(common::Raw::parse(&out).status, 200);
    assert_eq!(Req::new("GET", "/slow").send(a).body, b"abcdef");
}

#[test]
fn presigned_put_and_delete_bucket() {
    let gw = gw_http();
    let a = gw.addr;
    for extra in [&[][..], &[("x-cos-security-token", "token")][..]] {
        let put = common::presign("PUT", "/", extra);
        let r = Req::new("PUT", &put).path("/").unsigned().send(a);
        assert_eq!(r.status, 200, "{put}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(Req::new("HEAD", "/").send(a).status, 200);
        let del = common::presign("DELETE", "/", extra);
        let r = Req::new("DELETE", &del).path("/").unsigned().send(a);
        assert_eq!(r.status, 204, "{del}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(Req::new("HEAD", "/").send(a).status, 404);
    }
    // A sub-resource is still a sub-resource when presigned.
    make_bucket(a);
    let acl = common::presign("PUT", "/", &[("acl", "")]);
    Req::new("PUT", &acl)
        .path("/")
        .unsigned()
        .send(a)
        .assert_error(501, "NotImplemented");
}

#[test]
fn not_modified_carries_etag_and_last_modified() {
    let gw = gw_http();
    let a = gw.addr;
    make_bucket(a);
    Req::new("PUT", "/o").body("hello").send(a);
    with(Req::new("PUT", "/c"), &ssec(&K1))
        .body("secret")
        .send(a);
    for (key, headers) in [("/o", vec![]), ("/c", ssec(&K1))] {
        let ok = with(Req::new("GET", key), &headers).send(a);
        assert_eq!(ok.status, 200);
        let etag = ok.exact("ETag").unwrap().to_owned();
        let modified = ok.exact("Last-Modified").unwrap().to_owned();
        for (method, cond, value) in [
            ("GET", "If-None-Match", etag.as_str()),
            ("HEAD", "If-None-Match", etag.as_str()),
            ("GET", "If-Modified-Since", modified.as_str()),
        ] {
            let r = with(Req::new(method, key), &headers)
                .header(cond, value)
                .send(a);
            assert_eq!((r.status, r.body.len()), (304, 0), "{method} {key} {cond}");
            assert_eq!(r.exact("ETag"), Some(etag.as_str()), "{}", r.head);
            assert_eq!(
                r.exact("Last-Modified"),
                Some(modified.as_str()),
                "{}",
                r.head
            );
        }
    }
}

/// A GET Bucket query and what its page must hold: keys, common prefixes, `NextMarker` if
/// truncated.
type ListingCase<'a> = (&'a str, &'a [&'a str], &'a [&'a str], Option<&'a str>);

#[test]
fn listing_pages_end_on_common_prefixes() {
    let gw = gw_http();
    let a = gw.addr;
    make_bucket(a);
    for k in ["/a", "/b/1", "/b/2", "/c", "/d/1", "/d/2"] {
        assert_eq!(Req::new("PUT", k).body("x").send(a).status, 200);
    }
    let cases: &[ListingCase] = &[
        ("delimiter=%2F&max-keys=2", &["a"], &["b/"], Some("b/")),
        // The marker is the prefix returned last: its keys are not listed (nor is it) again.
        (
            "delimiter=%2F&max-keys=2&marker=b%2F",
            &["c"],
            &["d/"],
            None,
        ),
        // The page ends on a prefix whose other keys follow: not truncated.
        ("delimiter=%2F&max-keys=4", &["a", "c"], &["b/", "d/"], None),
        ("delimiter=%2F&max-keys=3", &["a", "c"], &["b/"], Some("c")),
        ("delimiter=%2F&marker=b%2F", &["c"], &["d/"], None),
        ("delimiter=%2F&prefix=d%2F", &["d/1", "d/2"], &[], None),
        ("max-keys=2", &["a", "b/1"], &[], Some("b/1")),
    ];
    for (query, keys, prefixes, next) in cases {
        let r = Req::new("GET", &format!("/?{query}")).path("/").send(a);
        assert_eq!(r.status, 200);
        let b = String::from_utf8_lossy(&r.body).into_owned();
        let between = |open: &str, close: &str| -> Vec<String> {
            b.split(open)
                .skip(1)
                .map(|s| s.split(close).next().unwrap().to_owned())
                .collect()
        };
        assert_eq!(between("<Key>", "</Key>"), *keys, "{query}: {b}");
        assert_eq!(
            between("<CommonPrefixes><Prefix>", "</Prefix>"),
            *prefixes,
            "{query}: {b}"
        );
        assert_eq!(
            b.contains("<IsTruncated>true</IsTruncated>"),
            next.is_some(),
            "{query}: {b}"
        );
        assert_eq!(
            between("<NextMarker>", "</NextMarker>")
                .first()
                .map(String::as_str),
            *next,
            "{query}: {b}"
        );
    }
}

#[test]
fn complete_documents_are_bounded_in_elements_and_depth() {
    let gw = gw_http();
    let a = gw.addr;
    make_bucket(a);
    let id = initiate(a, "x", &[]);
    let e1 = upload_part(a, "x", &id, 1, b"part", &[]);
    let t = format!("/x?uploadId={id}");
    let part = complete_xml(&[(1, &e1)]);
    let inner = part
        .trim_start_matches("<CompleteMultipartUpload>")
        .trim_end_matches("</CompleteMultipartUpload>");
    // One real part among more elements than the largest Complete has: refused.
    let junk = "<x/>".repeat(cos_gateway::xml::MAX_ELEMENTS);
    Req::new("POST", &t)
        .body(format!(
            "<CompleteMultipartUpload>{inner}{junk}</CompleteMultipartUpload>"
        ))
        .send(a)
        .assert_error(400, "MalformedXML");
    let deep = format!(
        "{}{}",
        "<x>".repeat(cos_gateway::xml::MAX_DEPTH),
        "</x>".repeat(cos_gateway::xml::MAX_DEPTH)
    );
    Req::new("POST", &t)
        .body(format!(
            "<CompleteMultipartUpload>{inner}{deep}</CompleteMultipartUpload>"
        ))
        .send(a)
        .assert_error(400, "MalformedXML");
    // The upload is untouched and completes.
    let r = Req::new("POST", &t).body(part).send(a);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(Req::new("GET", "/x").send(a).body, b"part");
}

#[test]
fn a_client_that_stalls_before_its_request_loses_the_connection() {
    use std::io::{Read as _, Write as _};
    let idle = std::time::Duration::from_millis(500);
    for tls in [false, true] {
        let gw = common::start_serving(
            Options {
                tls,
                allow_ssec_over_http: true,
            },
            None,
            cos_gateway::ServeOptions {
                idle_timeout: idle,
                ..Default::default()
            },
        );
        // TLS: no handshake at all. Plain: half a request line.
        let mut s = std::net::TcpStream::connect(gw.addr).unwrap();
        if !tls {
            s.write_all(b"GET / HTTP/1.1\r\n").unwrap();
        }
        s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let started = std::time::Instant::now();
        let mut buf = [0u8; 1024];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("tls={tls}: the connection was kept ({e})"),
            }
        }
        assert!(started.elapsed() >= idle / 2, "tls={tls}");
    }
}
