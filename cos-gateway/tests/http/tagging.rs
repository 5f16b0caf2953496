//! Object tagging: PUT/GET/DELETE `?tagging`, `x-cos-tagging` on PUT, POST and Copy, the tag
//! count on GET/HEAD, COS's limits with their codes.

use super::*;

const XML_HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

fn tagging(tags: &[(&str, &str)]) -> String {
    let mut x = String::from("<Tagging><TagSet>");
    for (k, v) in tags {
        x.push_str(&format!("<Tag><Key>{k}</Key><Value>{v}</Value></Tag>"));
    }
    x + "</TagSet></Tagging>"
}

#[test]
fn put_get_delete_tagging() {
    let gw = start_with_bucket();
    let a = gw.addr;
    Req::new("PUT", "/o")
        .header("x-cos-server-side-encryption", "AES256")
        .body("tagged body")
        .send(a)
        .assert_status(200);
    let r = Req::new("GET", "/o?tagging").send(a);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), format!("{XML_HEAD}<Tagging><TagSet/></Tagging>"));
    assert_eq!(
        Req::new("HEAD", "/o").send(a).get("x-cos-tagging-count"),
        None
    );
    let doc = tagging(&[("a", "1"), ("b c", "x&amp;y")]);
    Req::new("PUT", "/o?tagging")
        .body(doc.clone())
        .send(a)
        .assert_error(400, "InvalidTag");
    let doc = tagging(&[("a", "1"), ("b c", "x/y")]);
    Req::new("PUT", "/o?tagging")
        .body(doc.clone())
        .send(a)
        .assert_status(200);
    let r = Req::new("GET", "/o?tagging").send(a);
    assert_eq!(r.text(), format!("{XML_HEAD}{doc}"));
    let r = Req::new("HEAD", "/o").send(a);
    assert_eq!(r.get("x-cos-tagging-count"), Some("2"));
    // The object is still itself: encrypted, same body.
    let r = Req::new("GET", "/o").send(a);
    assert_eq!(r.body, b"tagged body");
    assert_eq!(r.exact("x-cos-server-side-encryption"), Some("AES256"));
    assert_eq!(r.get("x-cos-tagging-count"), Some("2"));
    let r = Req::new("DELETE", "/o?tagging").send(a);
    assert_eq!(r.status, 204);
    let r = Req::new("GET", "/o?tagging").send(a);
    assert_eq!(r.text(), format!("{XML_HEAD}<Tagging><TagSet/></Tagging>"));
    assert_eq!(Req::new("GET", "/o").send(a).body, b"tagged body");
    // Missing object, missing bucket, unsigned.
    for method in ["GET", "PUT", "DELETE"] {
        Req::new(method, "/none?tagging")
            .body(tagging(&[("a", "1")]))
            .send(a)
            .assert_error(404, "NoSuchKey");
        Req::new(method, "/o?tagging")
            .unsigned()
            .body(tagging(&[("a", "1")]))
            .send(a)
            .assert_error(403, "AccessDenied");
    }
    Req::new("GET", "/o?tagging")
        .host("nobucket-1250000000.cos.ap-beijing.myqcloud.com")
        .send(a)
        .assert_error(404, "NoSuchBucket");
    Req::new("POST", "/o?tagging")
        .send(a)
        .assert_error(501, "NotImplemented");
    Req::new("GET", "/o?tagging&acl")
        .send(a)
        .assert_error(501, "NotImplemented");
    // A wrong Content-MD5 is refused.
    Req::new("PUT", "/o?tagging")
        .header("Content-MD5", "AAAAAAAAAAAAAAAAAAAAAA==")
        .body(tagging(&[("a", "1")]))
        .send(a)
        .assert_error(400, "BadDigest");
}

#[test]
fn tag_limits_have_cos_codes() {
    let gw = start_with_bucket();
    let a = gw.addr;
    Req::new("PUT", "/o").body("x").send(a).assert_status(200);
    let eleven: Vec<(String, String)> = (0..11).map(|i| (format!("k{i}"), "v".into())).collect();
    let eleven: Vec<(&str, &str)> = eleven
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let long_key = "k".repeat(129);
    let long_value = "v".repeat(257);
    for bad in [
        tagging(&eleven),
        tagging(&[("", "v")]),
        tagging(&[(&long_key, "v")]),
        tagging(&[("k", &long_value)]),
        tagging(&[("k", "1"), ("k", "2")]),
        tagging(&[("k!", "v")]),
    ] {
        Req::new("PUT", "/o?tagging")
            .body(bad)
            .send(a)
            .assert_error(400, "InvalidTag");
    }
    for bad in ["<Nope/>", "<Tagging><TagSet>", "not xml"] {
        Req::new("PUT", "/o?tagging")
            .body(bad)
            .send(a)
            .assert_error(400, "MalformedXML");
    }
    // Nothing was stored by the refusals.
    let r = Req::new("GET", "/o?tagging").send(a);
    assert!(
        r.text().ends_with("<Tagging><TagSet/></Tagging>"),
        "{}",
        r.text()
    );
    // The header on PUT Object: same limits, same code, nothing written.
    Req::new("PUT", "/h")
        .header("x-cos-tagging", "a=1&a=2")
        .body("x")
        .send(a)
        .assert_error(400, "InvalidTag");
    Req::new("HEAD", "/h").send(a).assert_status(404);
}

#[test]
fn tagging_header_on_put_and_copy() {
    let gw = start_with_bucket();
    let a = gw.addr;
    Req::new("PUT", "/src")
        .headers(&ssec(&K1))
        .header("x-cos-tagging", "team=storage&note=a%20b")
        .body("secret")
        .send(a)
        .assert_status(200);
    let r = Req::new("GET", "/src?tagging").send(a);
    assert!(
        r.text().ends_with("<Tagging><TagSet><Tag><Key>team</Key><Value>storage</Value></Tag><Tag><Key>note</Key><Value>a b</Value></Tag></TagSet></Tagging>"),
        "{}",
        r.text()
    );
    let r = Req::new("HEAD", "/src").headers(&ssec(&K1)).send(a);
    assert_eq!(r.get("x-cos-tagging-count"), Some("2"));
    let copy_key: Vec<(String, String)> = ssec(&K1)
        .into_iter()
        .map(|(k, v)| (k.replace("x-cos-", "x-cos-copy-source-"), v))
        .collect();
    // Copy keeps the source's tags by default...
    Req::new("PUT", "/copied")
        .header("x-cos-copy-source", "/examplebucket-1250000000/src")
        .headers(&copy_key)
        .send(a)
        .assert_status(200);
    let r = Req::new("HEAD", "/copied").send(a);
    assert_eq!(r.get("x-cos-tagging-count"), Some("2"));
    // ...and takes the request's with Replaced.
    Req::new("PUT", "/replaced")
        .header("x-cos-copy-source", "/examplebucket-1250000000/src")
        .headers(&copy_key)
        .header("x-cos-tagging-directive", "Replaced")
        .header("x-cos-tagging", "only=one")
        .send(a)
        .assert_status(200);
    let r = Req::new("GET", "/replaced?tagging").send(a);
    assert!(
        r.text()
            .ends_with("<TagSet><Tag><Key>only</Key><Value>one</Value></Tag></TagSet></Tagging>"),
        "{}",
        r.text()
    );
    Req::new("PUT", "/bad")
        .header("x-cos-copy-source", "/examplebucket-1250000000/src")
        .headers(&copy_key)
        .header("x-cos-tagging-directive", "Merge")
        .send(a)
        .assert_error(400, "InvalidArgument");
}

#[test]
fn tagging_header_on_initiate_tags_the_completed_object() {
    use super::multipart::{complete_xml, initiate, upload_part};
    let gw = start_with_bucket();
    let a = gw.addr;
    let tagged = vec![
        (
            "x-cos-server-side-encryption".to_owned(),
            "cos/kms".to_owned(),
        ),
        ("x-cos-tagging".to_owned(), "a=1&b=2&c=3".to_owned()),
    ];
    let id = initiate(a, "mp", &tagged);
    let e = upload_part(a, "mp", &id, 1, b"part", &[]);
    Req::new("POST", &format!("/mp?uploadId={id}"))
        .body(complete_xml(&[(1, &e)]))
        .send(a)
        .assert_status(200);
    let r = Req::new("GET", "/mp").send(a);
    assert_eq!(r.body, b"part");
    assert_eq!(r.get("x-cos-tagging-count"), Some("3"));
    Req::new("POST", "/bad?uploads")
        .header("x-cos-tagging", &format!("k={}", "v".repeat(257)))
        .send(a)
        .assert_error(400, "InvalidTag");
    let r = Req::new("GET", "/?uploads").send(a);
    assert!(!r.text().contains("<Key>bad</Key>"), "{}", r.text());
}
