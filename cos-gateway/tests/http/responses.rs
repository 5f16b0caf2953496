//! What every response carries: header names in the case the SDKs read, and 304 validators.

use super::*;

#[test]
fn header_names_are_written_in_the_case_the_sdks_read() {
    let gw = start_with_bucket();
    let r = Req::new("PUT", "/obj")
        .headers(&ssec(&K1))
        .body("hello")
        .send(gw.addr);
    r.assert_status(200);
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
    let r = Req::new("GET", "/obj").headers(&ssec(&K1)).send(gw.addr);
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
fn not_modified_carries_etag_and_last_modified() {
    let gw = start_with_bucket();
    let a = gw.addr;
    Req::new("PUT", "/o").body("hello").send(a);
    Req::new("PUT", "/c")
        .headers(&ssec(&K1))
        .body("secret")
        .send(a);
    for (key, headers) in [("/o", vec![]), ("/c", ssec(&K1))] {
        let ok = Req::new("GET", key).headers(&headers).send(a);
        assert_eq!(ok.status, 200);
        let etag = ok.exact("ETag").unwrap().to_owned();
        let modified = ok.exact("Last-Modified").unwrap().to_owned();
        for (method, cond, value) in [
            ("GET", "If-None-Match", etag.as_str()),
            ("HEAD", "If-None-Match", etag.as_str()),
            ("GET", "If-Modified-Since", modified.as_str()),
        ] {
            let r = Req::new(method, key)
                .headers(&headers)
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
