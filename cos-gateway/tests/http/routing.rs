//! Routing (virtual host, path style, absolute form) and requests the gateway refuses before any operation.

use super::*;

#[test]
fn routing_path_style_and_absolute_form() {
    let gw = start_with_bucket();
    let r = Req::new("PUT", "/dir/a%20b.txt")
        .path("/dir/a b.txt")
        .body("vhost")
        .send(gw.addr);
    r.assert_status(200);
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
fn unsupported_and_incomplete_requests() {
    let gw = start_with_bucket();
    let a = gw.addr;
    Req::new("PUT", "/o")
        .without_length()
        .send(a)
        .assert_error(411, "MissingContentLength");
    Req::new("PUT", "/")
        .host("127.0.0.1")
        .send(a)
        .assert_error(405, "MethodNotAllowed");
    Req::new("GET", "/?cors")
        .send(a)
        .assert_error(501, "NotImplemented");
    Req::new("PUT", "/o?retention")
        .send(a)
        .assert_error(501, "NotImplemented");
    Req::new("PUT", "/?tagging")
        .send(a)
        .assert_error(501, "NotImplemented");
    Req::new("PUT", "/?encryption")
        .body(vec![b' '; 70 << 10])
        .send(a)
        .assert_error(400, "EntityTooLarge");
    // GET Service lists the bucket.
    let r = Req::new("GET", "/").host("127.0.0.1").send(a);
    assert!(r.text().contains("<Name>examplebucket-1250000000</Name>"));
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

/// A path, query or copy source that is not UTF-8 once percent-decoded is refused: decoded
/// lossily, `/x%FF`, `/x%FE` and `/x%EF%BF%BD` would be one key.
#[test]
fn names_that_are_not_utf8_are_refused() {
    let gw = start_with_bucket();
    let a = gw.addr;
    Req::new("PUT", "/x%EF%BF%BD")
        .path("/x\u{FFFD}")
        .body("replacement")
        .send(a)
        .assert_status(200);
    for target in ["/x%FF", "/x%FE", "/?prefix=%FF", "/x%EF%BF%BD?%FF"] {
        for method in ["GET", "PUT", "DELETE"] {
            let r = Req::new(method, target).unsigned().send(a);
            r.assert_error(400, "InvalidArgument");
            assert!(
                r.text().contains("not UTF-8"),
                "{method} {target}: {}",
                r.text()
            );
        }
    }
    Req::new("PUT", "/copy")
        .header("x-cos-copy-source", &format!("{}/x%FF", common::HOST))
        .send(a)
        .assert_error(400, "InvalidArgument");
    assert_eq!(
        Req::new("GET", "/x%EF%BF%BD")
            .path("/x\u{FFFD}")
            .send(a)
            .body,
        b"replacement"
    );
}
