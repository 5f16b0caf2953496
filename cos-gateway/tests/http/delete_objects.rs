//! DELETE Multiple Objects (`POST /?delete`): quiet and verbose answers, per-key results, the
//! Content-MD5 rule, the limits, and the bodies removed from disk.

use super::*;

/// The base64 MD5 of `body`, as the SDKs send it.
fn md5_b64(body: &str) -> String {
    use base64::Engine as _;
    use md5::Digest as _;
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(body.as_bytes()))
}

fn delete_doc(quiet: Option<&str>, keys: &[&str]) -> String {
    let quiet = quiet.map_or(String::new(), |q| format!("<Quiet>{q}</Quiet>"));
    let objects: String = keys
        .iter()
        .map(|k| format!("<Object><Key>{k}</Key></Object>"))
        .collect();
    format!("<Delete>{quiet}{objects}</Delete>")
}

fn post_delete(addr: std::net::SocketAddr, doc: &str) -> common::Raw {
    Req::new("POST", "/?delete")
        .header("Content-MD5", &md5_b64(doc))
        .header("Content-Type", "application/xml")
        .body(doc.to_owned())
        .send(addr)
}

/// Files under the gateway's `objects/` directory.
fn bodies(dir: &std::path::Path) -> usize {
    fn walk(p: &std::path::Path, n: &mut usize) {
        for e in std::fs::read_dir(p).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk(&e.path(), n);
            } else {
                *n += 1;
            }
        }
    }
    let mut n = 0;
    walk(&dir.join("objects"), &mut n);
    n
}

#[test]
fn verbose_and_quiet_answers_list_each_key() {
    let gw = start_with_bucket();
    let a = gw.addr;
    let sse = [(
        "x-cos-server-side-encryption".to_owned(),
        "AES256".to_owned(),
    )];
    Req::new("PUT", "/plain")
        .body("1")
        .send(a)
        .assert_status(200);
    Req::new("PUT", "/sealed")
        .headers(&sse)
        .body("2")
        .send(a)
        .assert_status(200);
    Req::new("PUT", "/customer")
        .headers(&ssec(&K1))
        .body("3")
        .send(a)
        .assert_status(200);
    Req::new("PUT", "/a&b").body("4").send(a).assert_status(200);
    Req::new("PUT", "/kept")
        .body("5")
        .send(a)
        .assert_status(200);
    assert_eq!(bodies(gw.dir.path()), 5);

    // Verbose: every key, in order, deleted; a key that never existed is deleted too (as DELETE
    // Object answers 204); an SSE-C object needs no key to be deleted.
    let r = post_delete(
        a,
        &delete_doc(None, &["plain", "sealed", "customer", "a&amp;b", "never"]),
    );
    r.assert_status(200);
    assert_eq!(r.exact("Content-Type"), Some("application/xml"));
    assert_eq!(
        r.text(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult>\
         <Deleted><Key>plain</Key></Deleted><Deleted><Key>sealed</Key></Deleted>\
         <Deleted><Key>customer</Key></Deleted><Deleted><Key>a&amp;b</Key></Deleted>\
         <Deleted><Key>never</Key></Deleted></DeleteResult>"
    );
    for key in ["/plain", "/sealed", "/customer", "/a&b"] {
        Req::new("HEAD", key).send(a).assert_status(404);
    }
    assert_eq!(Req::new("GET", "/kept").send(a).body, b"5");
    assert_eq!(bodies(gw.dir.path()), 1, "the deleted bodies are gone");

    // Quiet: only errors. A VersionId that cannot name a version is refused for its key alone, and
    // the current object is not deleted in its place.
    let doc = "<Delete><Quiet>true</Quiet><Object><Key>kept</Key><VersionId>v1</VersionId>\
               </Object><Object><Key>gone</Key></Object></Delete>";
    let r = post_delete(a, doc);
    r.assert_status(200);
    assert_eq!(
        r.text(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult><Error><Key>kept</Key>\
         <Code>InvalidArgument</Code><Message>Invalid version id specified</Message></Error>\
         </DeleteResult>"
    );
    assert_eq!(Req::new("GET", "/kept").send(a).body, b"5");
    let r = post_delete(a, &delete_doc(Some("true"), &["kept"]));
    assert_eq!(
        r.text(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult/>"
    );
    Req::new("GET", "/kept").send(a).assert_status(404);
    assert_eq!(bodies(gw.dir.path()), 0);
}

#[test]
fn every_bad_request_has_its_error() {
    let gw = start_with_bucket();
    let a = gw.addr;
    Req::new("PUT", "/k").body("1").send(a).assert_status(200);
    let doc = delete_doc(None, &["k"]);
    // Content-MD5 is required, and checked.
    let r = Req::new("POST", "/?delete").body(doc.clone()).send(a);
    r.assert_error(400, "InvalidRequest");
    assert!(
        r.text()
            .contains("Missing required header for this request: Content-MD5")
    );
    Req::new("POST", "/?delete")
        .header("Content-MD5", &md5_b64("something else"))
        .body(doc.clone())
        .send(a)
        .assert_error(400, "BadDigest");
    Req::new("POST", "/?delete")
        .header("Content-MD5", "not base64!")
        .body(doc.clone())
        .send(a)
        .assert_error(400, "InvalidDigest");
    // Malformed documents and the 1,000-key limit.
    let many: Vec<String> = (0..1001).map(|i| format!("k{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    for bad in [
        "<Delete>".to_owned(),
        "<Delete/>".to_owned(),
        "<Remove><Object><Key>k</Key></Object></Remove>".to_owned(),
        delete_doc(Some("maybe"), &["k"]),
        delete_doc(None, &[""]),
        delete_doc(None, &many),
    ] {
        post_delete(a, &bad).assert_error(400, "MalformedXML");
    }
    // Unsigned, and a bucket that does not exist.
    Req::new("POST", "/?delete")
        .header("Content-MD5", &md5_b64(&doc))
        .body(doc.clone())
        .unsigned()
        .send(a)
        .assert_error(403, "AccessDenied");
    Req::new("POST", "/?delete")
        .host("missing-1250000000.cos.ap-beijing.myqcloud.com")
        .header("Content-MD5", &md5_b64(&doc))
        .body(doc.clone())
        .send(a)
        .assert_error(404, "NoSuchBucket");
    // None of that deleted anything; exactly 1,000 keys is accepted.
    assert_eq!(Req::new("GET", "/k").send(a).body, b"1");
    let r = post_delete(a, &delete_doc(Some("true"), &many[..1000]));
    r.assert_status(200);
    Req::new("GET", "/k").send(a).assert_status(200);
}
