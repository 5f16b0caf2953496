//! ACLs: canned ACLs and grant headers on PUT Bucket, PUT Object, Initiate Multipart Upload and
//! Copy; PUT/GET `?acl` with the `AccessControlPolicy` document (exact bytes); every bad input with
//! its code; and the anonymous GET/HEAD that a public-read ACL allows for unencrypted objects only.

use super::*;

const OWNER: &str = "qcs::cam::uin/100000000001:uin/100000000001";
const ALL_USERS: &str = "http://cam.qcloud.com/groups/global/AllUsers";
const XSI: &str = "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"";

fn owner_grant() -> String {
    format!(
        "<Grant><Grantee {XSI} xsi:type=\"CanonicalUser\"><ID>{OWNER}</ID><DisplayName>{OWNER}</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant>"
    )
}

fn everyone(permission: &str) -> String {
    format!(
        "<Grant><Grantee {XSI} xsi:type=\"Group\"><URI>{ALL_USERS}</URI></Grantee><Permission>{permission}</Permission></Grant>"
    )
}

/// The whole GET `?acl` answer for these grants.
fn policy(grants: &[String]) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AccessControlPolicy><Owner><ID>{OWNER}</ID><DisplayName>{OWNER}</DisplayName></Owner><AccessControlList>{}</AccessControlList></AccessControlPolicy>",
        grants.concat()
    )
}

fn acl_of(a: std::net::SocketAddr, target: &str) -> common::Raw {
    let r = Req::new("GET", target).send(a);
    r.assert_status(200);
    assert_eq!(r.get("content-type"), Some("application/xml"), "{}", r.head);
    r
}

fn put(a: std::net::SocketAddr, key: &str, headers: &[(&str, &str)]) -> common::Raw {
    let mut req = Req::new("PUT", key).body("public body");
    for (k, v) in headers {
        req = req.header(k, v);
    }
    req.send(a)
}

fn anonymous(a: std::net::SocketAddr, method: &'static str, key: &'static str) -> common::Raw {
    Req::new(method, key).unsigned().send(a)
}

/// A refused PUT `?acl`: its headers, its body, the status and code it gets.
type BadPut<'a> = (&'a [(&'a str, &'a str)], &'a str, u16, &'a str);

#[test]
fn bucket_acls_through_headers_and_documents() {
    let gw = start_http();
    let a = gw.addr;
    // PUT Bucket with a bad canned ACL creates nothing.
    Req::new("PUT", "/")
        .header("x-cos-acl", "public")
        .send(a)
        .assert_error(400, "InvalidArgument");
    Req::new("HEAD", "/").send(a).assert_status(404);
    Req::new("GET", "/?acl")
        .send(a)
        .assert_error(404, "NoSuchBucket");
    Req::new("PUT", "/?acl")
        .header("x-cos-acl", "private")
        .send(a)
        .assert_error(404, "NoSuchBucket");
    Req::new("PUT", "/")
        .header("x-cos-acl", "public-read-write")
        .send(a)
        .assert_status(200);
    let r = acl_of(a, "/?acl");
    assert_eq!(
        r.text(),
        policy(&[everyone("READ"), everyone("WRITE"), owner_grant()])
    );
    // Grant headers, in every id form, and the owner's FULL_CONTROL as COS lists it.
    Req::new("PUT", "/?acl")
        .header(
            "x-cos-grant-read",
            "id=\"100000000002\",id=\"100000000002/100000000022\"",
        )
        .header("x-cos-grant-write-acp", &format!("id=\"{OWNER}\""))
        .send(a)
        .assert_status(200);
    let user = |id: &str, p: &str| {
        format!(
            "<Grant><Grantee {XSI} xsi:type=\"CanonicalUser\"><ID>{id}</ID><DisplayName>{id}</DisplayName></Grantee><Permission>{p}</Permission></Grant>"
        )
    };
    assert_eq!(
        acl_of(a, "/?acl").text(),
        policy(&[
            owner_grant(),
            user("qcs::cam::uin/100000000002:uin/100000000002", "READ"),
            user("qcs::cam::uin/100000000002:uin/100000000022", "READ"),
            user(OWNER, "WRITE_ACP"),
        ])
    );
    // A document, with Content-MD5 checked; what GET answers is a valid PUT body.
    let doc = policy(&[everyone("READ"), owner_grant()]);
    Req::new("PUT", "/?acl")
        .header("Content-Type", "application/xml")
        .header("Content-MD5", "AAAAAAAAAAAAAAAAAAAAAA==")
        .body(doc.clone())
        .send(a)
        .assert_error(400, "BadDigest");
    Req::new("PUT", "/?acl")
        .header("Content-Type", "application/xml")
        .body(doc.clone())
        .send(a)
        .assert_status(200);
    assert_eq!(acl_of(a, "/?acl").text(), doc);
    // Bad inputs change nothing.
    let cases: &[BadPut] = &[
        (&[("x-cos-acl", "default")], "", 400, "InvalidArgument"),
        (
            &[("x-cos-acl", "authenticated-read")],
            "",
            400,
            "InvalidArgument",
        ),
        (
            &[("x-cos-grant-read", "uin=\"1\"")],
            "",
            400,
            "InvalidArgument",
        ),
        (
            &[("x-cos-grant-read", "id=\"me\"")],
            "",
            400,
            "InvalidArgument",
        ),
        (
            &[("x-cos-acl", "private")],
            "<AccessControlPolicy/>",
            400,
            "InvalidRequest",
        ),
        (&[], "", 400, "MalformedXML"),
        (&[], "<AccessControlPolicy>", 400, "MalformedXML"),
        (&[], "<Tagging/>", 400, "MalformedXML"),
        (
            &[],
            "<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>1</ID></Grantee><Permission>ALL</Permission></Grant></AccessControlList></AccessControlPolicy>",
            400,
            "MalformedXML",
        ),
    ];
    for (headers, body, status, code) in cases {
        let mut req = Req::new("PUT", "/?acl").body(*body);
        for (k, v) in *headers {
            req = req.header(k, v);
        }
        req.send(a).assert_error(*status, code);
    }
    let many = format!("id=\"1\"{}", ",id=\"2\"".repeat(100));
    Req::new("PUT", "/?acl")
        .header("x-cos-grant-read", &many)
        .send(a)
        .assert_error(400, "AttachmentFull");
    Req::new("PUT", "/?acl")
        .body(vec![b' '; 70 << 10])
        .send(a)
        .assert_error(400, "EntityTooLarge");
    assert_eq!(acl_of(a, "/?acl").text(), doc);
    // A private bucket shows its owner's FULL_CONTROL.
    Req::new("PUT", "/?acl")
        .header("x-cos-acl", "private")
        .send(a)
        .assert_status(200);
    assert_eq!(acl_of(a, "/?acl").text(), policy(&[owner_grant()]));
}

#[test]
fn object_acls_on_every_write() {
    let gw = start_with_bucket();
    let a = gw.addr;
    Req::new("GET", "/none?acl")
        .send(a)
        .assert_error(404, "NoSuchKey");
    Req::new("PUT", "/none?acl")
        .header("x-cos-acl", "private")
        .send(a)
        .assert_error(404, "NoSuchKey");
    // No ACL: `default`, shown as the owner's FULL_CONTROL with `x-cos-acl: default`.
    put(a, "/plain", &[]).assert_status(200);
    let r = acl_of(a, "/plain?acl");
    assert_eq!(r.text(), policy(&[owner_grant()]));
    assert_eq!(r.get("x-cos-acl"), Some("default"));
    // PUT Object with a canned ACL and a grant.
    put(
        a,
        "/pub",
        &[
            ("x-cos-acl", "public-read"),
            (
                "x-cos-grant-read-acp",
                "uri=\"http://cam.qcloud.com/groups/global/AllUsers\"",
            ),
        ],
    )
    .assert_status(200);
    let r = acl_of(a, "/pub?acl");
    assert_eq!(
        r.text(),
        policy(&[everyone("READ"), owner_grant(), everyone("READ_ACP")])
    );
    assert_eq!(r.get("x-cos-acl"), None);
    // PUT ?acl `default` clears it; `private` sets the owner only.
    Req::new("PUT", "/pub?acl")
        .header("x-cos-acl", "default")
        .send(a)
        .assert_status(200);
    assert_eq!(acl_of(a, "/pub?acl").get("x-cos-acl"), Some("default"));
    Req::new("PUT", "/pub?acl")
        .header("x-cos-acl", "private")
        .send(a)
        .assert_status(200);
    assert_eq!(acl_of(a, "/pub?acl").text(), policy(&[owner_grant()]));
    // An ACL change keeps the body.
    assert_eq!(Req::new("GET", "/pub").send(a).body, b"public body");
    // Object-level rules.
    for (k, v) in [
        ("x-cos-acl", "public-read-write"),
        ("x-cos-acl", "bucket-owner-read"),
        ("x-cos-grant-write", "id=\"1\""),
        ("x-cos-grant-full-control", "id=1,"),
    ] {
        put(a, "/refused", &[(k, v)]).assert_error(400, "InvalidArgument");
        Req::new("PUT", "/plain?acl")
            .header(k, v)
            .send(a)
            .assert_error(400, "InvalidArgument");
    }
    Req::new("HEAD", "/refused").send(a).assert_status(404);
    // Initiate Multipart Upload carries the ACL to the completed object.
    let acl = vec![("x-cos-acl".to_owned(), "public-read".to_owned())];
    let id = super::multipart::initiate(a, "mp", &acl);
    let e1 = super::multipart::upload_part(a, "mp", &id, 1, b"part", &[]);
    Req::new("POST", &format!("/mp?uploadId={id}"))
        .body(super::multipart::complete_xml(&[(1, &e1)]))
        .send(a)
        .assert_status(200);
    assert_eq!(
        acl_of(a, "/mp?acl").text(),
        policy(&[everyone("READ"), owner_grant()])
    );
    // A copy does not inherit the source's ACL; its own headers set the copy's.
    let source = format!("{}/mp", common::HOST);
    Req::new("PUT", "/copy")
        .header("x-cos-copy-source", &source)
        .send(a)
        .assert_status(200);
    assert_eq!(acl_of(a, "/copy?acl").get("x-cos-acl"), Some("default"));
    Req::new("PUT", "/copy2")
        .header("x-cos-copy-source", &source)
        .header("x-cos-acl", "private")
        .send(a)
        .assert_status(200);
    assert_eq!(acl_of(a, "/copy2?acl").text(), policy(&[owner_grant()]));
}

#[test]
fn anonymous_reads_follow_the_acls_and_never_open_encrypted_objects() {
    let gw = start_with_bucket();
    let a = gw.addr;
    let public = [("x-cos-acl", "public-read")];
    put(a, "/open", &public).assert_status(200);
    let r = anonymous(a, "GET", "/open");
    r.assert_status(200);
    assert_eq!(r.body, b"public body");
    let r = anonymous(a, "HEAD", "/open");
    r.assert_status(200);
    assert_eq!(r.get("content-length"), Some("11"));
    let r = Req::new("GET", "/open")
        .unsigned()
        .header("Range", "bytes=7-10")
        .send(a);
    assert_eq!((r.status, r.body.as_slice()), (206, &b"body"[..]));
    assert_eq!(
        anonymous(a, "GET", "/open?partNumber=1").body,
        b"public body"
    );
    // Response headers are overridden for signed requests only (COS: "must carry a signature").
    for method in ["GET", "HEAD"] {
        let r = anonymous(a, method, "/open?response-content-type=text%2Fhtml");
        assert_eq!(r.status, 403, "{method}: {}", r.head);
        if method == "GET" {
            r.assert_error(403, "AccessDenied");
            assert!(r.text().contains("response-* parameters"), "{}", r.text());
        }
    }
    let r = Req::new("GET", "/open?response-content-type=text%2Fhtml").send(a);
    r.assert_status(200);
    assert_eq!(r.get("content-type"), Some("text/html"));
    // Encrypted public-read objects need a signature: SSE-COS, SSE-KMS and SSE-C alike.
    let mut sse_c: Vec<(String, String)> = common::ssec(&K1);
    sse_c.push(("x-cos-acl".into(), "public-read".into()));
    Req::new("PUT", "/ssec")
        .headers(&sse_c)
        .body("secret")
        .send(a)
        .assert_status(200);
    for (key, alg) in [("/cos", "AES256"), ("/kms", "cos/kms")] {
        put(
            a,
            key,
            &[
                ("x-cos-acl", "public-read"),
                ("x-cos-server-side-encryption", alg),
            ],
        )
        .assert_status(200);
    }
    for key in ["/cos", "/kms", "/ssec"] {
        for method in ["GET", "HEAD"] {
            let r = anonymous(a, method, key);
            assert_eq!(r.status, 403, "{method} {key}: {}", r.head);
            if method == "GET" {
                r.assert_error(403, "AccessDenied");
                assert!(r.text().contains("server-side encryption"), "{}", r.text());
            }
        }
    }
    // The SSE-C key sent anonymously does not help.
    Req::new("GET", "/ssec")
        .unsigned()
        .headers(&common::ssec(&K1))
        .send(a)
        .assert_error(403, "AccessDenied");
    // Signed, they read as always.
    assert_eq!(Req::new("GET", "/cos").send(a).body, b"public body");
    // `default` follows the bucket; an explicit ACL wins over it.
    put(a, "/inherits", &[]).assert_status(200);
    put(a, "/private", &[("x-cos-acl", "private")]).assert_status(200);
    anonymous(a, "GET", "/inherits").assert_error(403, "AccessDenied");
    anonymous(a, "GET", "/missing").assert_error(403, "AccessDenied");
    Req::new("PUT", "/?acl")
        .header("x-cos-acl", "public-read")
        .send(a)
        .assert_status(200);
    assert_eq!(anonymous(a, "GET", "/inherits").body, b"public body");
    anonymous(a, "GET", "/private").assert_error(403, "AccessDenied");
    anonymous(a, "GET", "/missing").assert_error(404, "NoSuchKey");
    // A bucket default encryption makes new objects encrypted: not anonymous-readable.
    Req::new("PUT", "/?encryption")
        .body(
            "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>\
             <SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>\
             </ServerSideEncryptionConfiguration>",
        )
        .send(a)
        .assert_status(200);
    put(a, "/by-default", &[]).assert_status(200);
    anonymous(a, "GET", "/by-default").assert_error(403, "AccessDenied");
    assert_eq!(anonymous(a, "GET", "/open").status, 200);
    // Every other anonymous request is refused as before, even on a public-read-write bucket.
    Req::new("PUT", "/?acl")
        .header("x-cos-acl", "public-read-write")
        .send(a)
        .assert_status(200);
    for (method, target) in [
        ("PUT", "/open"),
        ("DELETE", "/open"),
        ("GET", "/"),
        ("GET", "/?acl"),
        ("GET", "/open?acl"),
        ("PUT", "/open?acl"),
        ("GET", "/open?tagging"),
        ("POST", "/open?uploads"),
        ("HEAD", "/"),
    ] {
        let r = Req::new(method, target).unsigned().body("x").send(a);
        assert_eq!(r.status, 403, "{method} {target}: {}", r.head);
    }
    assert_eq!(Req::new("GET", "/open").send(a).body, b"public body");
    // A bad signature is never anonymous.
    Req::new("GET", "/open")
        .unsigned()
        .header(
            "Authorization",
            "q-sign-algorithm=sha1&q-ak=AKIDgatewaytest&q-sign-time=1;2&q-key-time=1;2&q-header-list=&q-url-param-list=&q-signature=00",
        )
        .send(a)
        .assert_error(403, "AccessDenied");
}

#[test]
fn acls_survive_a_restart() {
    let gw = start_with_bucket();
    let a = gw.addr;
    put(a, "/open", &[("x-cos-acl", "public-read")]).assert_status(200);
    Req::new("PUT", "/?acl")
        .header("x-cos-acl", "public-read")
        .send(a)
        .assert_status(200);
    let gw = gw.restart_http();
    let a = gw.addr;
    assert_eq!(anonymous(a, "GET", "/open").body, b"public body");
    assert_eq!(
        acl_of(a, "/?acl").text(),
        policy(&[everyone("READ"), owner_grant()])
    );
}
