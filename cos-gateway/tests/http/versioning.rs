//! Versioning: PUT/GET `?versioning`, `x-cos-version-id` on every write and delete, GET, HEAD,
//! DELETE and copy sources with `versionId`, delete markers, `GET /?versions` and its paging,
//! suspended buckets, SSE per version, bodies removed with their versions, a restart.

use super::*;

const XML_HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

fn versioning_doc(status: &str) -> String {
    format!("<VersioningConfiguration><Status>{status}</Status></VersioningConfiguration>")
}

fn enable(a: std::net::SocketAddr) {
    Req::new("PUT", "/?versioning")
        .body(versioning_doc("Enabled"))
        .send(a)
        .assert_status(200);
}

/// PUTs `body` at `key` (with `headers`) and returns its version id.
fn put(a: std::net::SocketAddr, key: &str, body: &str, headers: &[(String, String)]) -> String {
    let r = Req::new("PUT", key).headers(headers).body(body).send(a);
    r.assert_status(200);
    r.get("x-cos-version-id").expect("a version id").to_owned()
}

/// Files under the gateway's `objects/` directory.
fn bodies(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("objects")).unwrap().count()
}

/// The (element, key, version id, IsLatest) of each entry of a versions listing.
fn entries(xml: &str) -> Vec<(String, String, String, bool)> {
    let field = |s: &str, f: &str| {
        s.split(&format!("<{f}>"))
            .nth(1)
            .and_then(|r| r.split(&format!("</{f}>")).next())
            .unwrap_or("")
            .to_owned()
    };
    let mut out = Vec::new();
    let mut rest = xml;
    loop {
        let v = rest.find("<Version>");
        let m = rest.find("<DeleteMarker>");
        let (at, kind) = match (v, m) {
            (Some(v), Some(m)) if m < v => (m, "DeleteMarker"),
            (Some(v), _) => (v, "Version"),
            (None, Some(m)) => (m, "DeleteMarker"),
            (None, None) => break,
        };
        let end = rest[at..].find(&format!("</{kind}>")).unwrap() + at;
        let e = &rest[at..end];
        out.push((
            kind.to_owned(),
            field(e, "Key"),
            field(e, "VersionId"),
            field(e, "IsLatest") == "true",
        ));
        rest = &rest[end..];
    }
    out
}

#[test]
fn the_versioning_configuration_is_read_and_written() {
    let gw = start_with_bucket();
    let a = gw.addr;
    let r = Req::new("GET", "/?versioning").send(a);
    r.assert_status(200);
    assert_eq!(r.text(), format!("{XML_HEAD}<VersioningConfiguration/>"));
    for status in ["Enabled", "Suspended", "Enabled"] {
        Req::new("PUT", "/?versioning")
            .body(versioning_doc(status))
            .send(a)
            .assert_status(200);
        let r = Req::new("GET", "/?versioning").send(a);
        assert_eq!(
            r.text(),
            format!("{XML_HEAD}{}", versioning_doc(status)),
            "{status}"
        );
    }
    // Bad documents change nothing.
    for bad in [
        versioning_doc("enabled"),
        versioning_doc("Disabled"),
        versioning_doc(""),
        "<VersioningConfiguration/>".to_owned(),
        "<VersioningConfiguration><Status>Enabled".to_owned(),
        "<Versioning><Status>Suspended</Status></Versioning>".to_owned(),
        String::new(),
    ] {
        Req::new("PUT", "/?versioning")
            .body(bad.clone())
            .send(a)
            .assert_error(400, "MalformedXML");
    }
    Req::new("PUT", "/?versioning")
        .header("Content-MD5", "AAAAAAAAAAAAAAAAAAAAAA==")
        .body(versioning_doc("Suspended"))
        .send(a)
        .assert_error(400, "BadDigest");
    Req::new("PUT", "/?versioning")
        .header("Content-MD5", "not base64")
        .body(versioning_doc("Suspended"))
        .send(a)
        .assert_error(400, "InvalidDigest");
    let r = Req::new("GET", "/?versioning").send(a);
    assert_eq!(r.text(), format!("{XML_HEAD}{}", versioning_doc("Enabled")));
    // Missing bucket, unsigned, unimplemented methods.
    for method in ["GET", "PUT"] {
        Req::new(method, "/?versioning")
            .host("nobucket-1250000000.cos.ap-beijing.myqcloud.com")
            .body(versioning_doc("Enabled"))
            .send(a)
            .assert_error(404, "NoSuchBucket");
        Req::new(method, "/?versioning")
            .unsigned()
            .body(versioning_doc("Enabled"))
            .send(a)
            .assert_error(403, "AccessDenied");
    }
    for method in ["DELETE", "POST"] {
        Req::new(method, "/?versioning")
            .send(a)
            .assert_error(501, "NotImplemented");
    }
}

#[test]
fn versions_delete_markers_and_their_bodies() {
    let gw = start_with_bucket();
    let a = gw.addr;
    // Before versioning: no version id; the object becomes the `null` version.
    let r = Req::new("PUT", "/k").body("v0").send(a);
    r.assert_status(200);
    assert_eq!(r.get("x-cos-version-id"), None);
    assert_eq!(Req::new("GET", "/k").send(a).get("x-cos-version-id"), None);
    enable(a);
    let v1 = put(a, "/k", "v1", &[]);
    let v2 = put(a, "/k", "v2", &[]);
    assert_ne!(v1, v2);
    for v in [&v1, &v2] {
        assert_eq!(v.len(), 32);
        assert!(v.bytes().all(|c| c.is_ascii_hexdigit()));
    }
    assert_eq!(bodies(gw.dir.path()), 3);
    let r = Req::new("GET", "/k").send(a);
    assert_eq!(
        (r.body.as_slice(), r.get("x-cos-version-id")),
        (&b"v2"[..], Some(v2.as_str()))
    );
    for (id, body) in [(v1.as_str(), "v1"), ("null", "v0"), (v2.as_str(), "v2")] {
        let target = format!("/k?versionId={id}");
        let r = Req::new("GET", &target).send(a);
        r.assert_status(200);
        assert_eq!(
            (r.text(), r.get("x-cos-version-id")),
            (body.to_owned(), Some(id))
        );
        let r = Req::new("HEAD", &target).send(a);
        assert_eq!((r.status, r.get("x-cos-version-id")), (200, Some(id)));
        assert_eq!(r.get("content-length"), Some("2"));
    }
    // Bad and unknown version ids.
    let unknown = "0123456789abcdef0123456789abcdef";
    Req::new("GET", &format!("/k?versionId={unknown}"))
        .send(a)
        .assert_error(404, "NoSuchVersion");
    assert_eq!(
        Req::new("HEAD", &format!("/k?versionId={unknown}"))
            .send(a)
            .status,
        404
    );
    Req::new("GET", &format!("/other?versionId={v1}"))
        .send(a)
        .assert_error(404, "NoSuchVersion");
    for bad in [
        "",
        "1",
        "NULL",
        "..%2F..%2Fetc",
        "0123456789ABCDEF0123456789ABCDEF",
    ] {
        for method in ["GET", "DELETE"] {
            Req::new(method, &format!("/k?versionId={bad}"))
                .send(a)
                .assert_error(400, "InvalidArgument");
        }
        assert_eq!(
            Req::new("HEAD", &format!("/k?versionId={bad}"))
                .send(a)
                .status,
            400
        );
    }
    Req::new("GET", &format!("/k?versionId={v1}"))
        .host("nobucket-1250000000.cos.ap-beijing.myqcloud.com")
        .send(a)
        .assert_error(404, "NoSuchBucket");

    // DELETE writes a delete marker and keeps every body.
    let r = Req::new("DELETE", "/k").send(a);
    r.assert_status(204);
    assert_eq!(r.get("x-cos-delete-marker"), Some("true"));
    let marker = r.get("x-cos-version-id").unwrap().to_owned();
    assert_eq!(bodies(gw.dir.path()), 3);
    let r = Req::new("GET", "/k").send(a);
    r.assert_error(404, "NoSuchKey");
    assert_eq!(r.get("x-cos-delete-marker"), Some("true"));
    assert_eq!(r.get("x-cos-version-id"), Some(marker.as_str()));
    let r = Req::new("HEAD", "/k").send(a);
    assert_eq!(
        (r.status, r.get("x-cos-delete-marker")),
        (404, Some("true"))
    );
    let r = Req::new("GET", &format!("/k?versionId={marker}")).send(a);
    r.assert_error(405, "MethodNotAllowed");
    assert_eq!(r.get("x-cos-delete-marker"), Some("true"));
    assert_eq!(r.get("x-cos-version-id"), Some(marker.as_str()));
    assert_eq!(
        Req::new("HEAD", &format!("/k?versionId={marker}"))
            .send(a)
            .status,
        405
    );
    // The object listing no longer shows the key; the versions listing shows everything.
    assert!(!Req::new("GET", "/").send(a).text().contains("<Key>k</Key>"));
    let r = Req::new("GET", "/?versions").send(a);
    r.assert_status(200);
    let t = r.text();
    assert!(t.starts_with(&format!(
        "{XML_HEAD}<ListVersionsResult><Name>{}</Name>",
        common::BUCKET
    )));
    assert!(t.contains("<KeyMarker></KeyMarker><VersionIdMarker></VersionIdMarker><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>"));
    let v = |kind: &str, id: &str, latest: bool| {
        (kind.to_owned(), "k".to_owned(), id.to_owned(), latest)
    };
    assert_eq!(
        entries(&t),
        vec![
            v("DeleteMarker", &marker, true),
            v("Version", &v2, false),
            v("Version", &v1, false),
            v("Version", "null", false),
        ]
    );
    // A bucket with versions is not empty.
    Req::new("DELETE", "/")
        .send(a)
        .assert_error(409, "BucketNotEmpty");

    // Deleting the marker brings v2 back; deleting a version removes exactly its body.
    let r = Req::new("DELETE", &format!("/k?versionId={marker}")).send(a);
    r.assert_status(204);
    assert_eq!(r.get("x-cos-delete-marker"), Some("true"));
    assert_eq!(r.get("x-cos-version-id"), Some(marker.as_str()));
    assert_eq!(Req::new("GET", "/k").send(a).body, b"v2");
    let r = Req::new("DELETE", &format!("/k?versionId={v2}")).send(a);
    r.assert_status(204);
    assert_eq!(r.get("x-cos-delete-marker"), None);
    assert_eq!(r.get("x-cos-version-id"), Some(v2.as_str()));
    assert_eq!(bodies(gw.dir.path()), 2);
    assert_eq!(Req::new("GET", "/k").send(a).body, b"v1");
    // An unknown version: 204, nothing removed.
    Req::new("DELETE", &format!("/k?versionId={unknown}"))
        .send(a)
        .assert_status(204);
    Req::new("DELETE", "/k?versionId=null")
        .send(a)
        .assert_status(204);
    assert_eq!(bodies(gw.dir.path()), 1);
    Req::new("DELETE", &format!("/k?versionId={v1}"))
        .send(a)
        .assert_status(204);
    assert_eq!(bodies(gw.dir.path()), 0);
    Req::new("GET", "/k").send(a).assert_error(404, "NoSuchKey");
    assert!(entries(&Req::new("GET", "/?versions").send(a).text()).is_empty());
    Req::new("DELETE", "/").send(a).assert_status(204);
}

#[test]
fn a_suspended_bucket_writes_the_null_version() {
    let gw = start_with_bucket();
    let a = gw.addr;
    enable(a);
    let v1 = put(a, "/k", "v1", &[]);
    Req::new("PUT", "/?versioning")
        .body(versioning_doc("Suspended"))
        .send(a)
        .assert_status(200);
    assert_eq!(put(a, "/k", "n1", &[]), "null");
    assert_eq!(put(a, "/k", "n2", &[]), "null");
    assert_eq!(
        bodies(gw.dir.path()),
        2,
        "the first null version's body is gone"
    );
    assert_eq!(Req::new("GET", "/k?versionId=null").send(a).body, b"n2");
    let r = Req::new("DELETE", "/k").send(a);
    assert_eq!(
        (r.get("x-cos-delete-marker"), r.get("x-cos-version-id")),
        (Some("true"), Some("null"))
    );
    assert_eq!(bodies(gw.dir.path()), 1);
    let t = Req::new("GET", "/?versions").send(a).text();
    assert_eq!(
        entries(&t),
        vec![
            ("DeleteMarker".into(), "k".into(), "null".into(), true),
            ("Version".into(), "k".into(), v1.clone(), false),
        ]
    );
    assert_eq!(
        Req::new("GET", &format!("/k?versionId={v1}")).send(a).body,
        b"v1"
    );
}

#[test]
fn every_ssec_version_opens_only_with_its_own_key() {
    let gw = start_with_bucket();
    let a = gw.addr;
    enable(a);
    let v1 = put(a, "/s", "one", &ssec(&K1));
    let v2 = put(a, "/s", "two", &ssec(&K2));
    let sse = vec![(
        "x-cos-server-side-encryption".to_owned(),
        "AES256".to_owned(),
    )];
    let v3 = put(a, "/s", "three", &sse);
    for (id, key, body) in [(&v1, &K1, "one"), (&v2, &K2, "two")] {
        let target = format!("/s?versionId={id}");
        let r = Req::new("GET", &target).headers(&ssec(key)).send(a);
        assert_eq!(r.text(), body);
        let other = if key == &K1 { &K2 } else { &K1 };
        Req::new("GET", &target)
            .headers(&ssec(other))
            .send(a)
            .assert_error(400, "SsecDecryptHeaderInvalid");
        Req::new("GET", &target)
            .send(a)
            .assert_error(400, "SsecDecryptHeaderInvalid");
    }
    let r = Req::new("GET", &format!("/s?versionId={v3}")).send(a);
    assert_eq!(
        (r.text(), r.get("x-cos-server-side-encryption")),
        ("three".into(), Some("AES256"))
    );
    // Each version has its own envelope: the same plaintext twice gives two stored bodies that
    // differ.
    let w1 = put(a, "/same", "same", &sse);
    let w2 = put(a, "/same", "same", &sse);
    assert_ne!(w1, w2);
    let mut stored: Vec<Vec<u8>> = std::fs::read_dir(gw.dir.path().join("objects"))
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    stored.sort();
    stored.dedup();
    assert_eq!(stored.len(), 5);
}

#[test]
fn copies_read_the_version_they_name() {
    let gw = start_with_bucket();
    let a = gw.addr;
    enable(a);
    let v1 = put(a, "/src", "first", &[]);
    let v2 = put(a, "/src", "second", &[]);
    let source = |v: &str| format!("/{}/src?versionId={v}", common::BUCKET);
    let r = Req::new("PUT", "/dst")
        .header("x-cos-copy-source", &source(&v1))
        .send(a);
    r.assert_status(200);
    assert_eq!(r.get("x-cos-copy-source-version-id"), Some(v1.as_str()));
    let dst = r.get("x-cos-version-id").unwrap().to_owned();
    assert_ne!(dst, v1);
    let g = Req::new("GET", "/dst").send(a);
    assert_eq!(
        (g.text(), g.get("x-cos-version-id")),
        ("first".into(), Some(dst.as_str()))
    );
    // The host form the SDKs send.
    let host_form = format!("{}/src?versionId={v2}", common::HOST);
    Req::new("PUT", "/dst2")
        .header("x-cos-copy-source", &host_form)
        .send(a)
        .assert_status(200);
    assert_eq!(Req::new("GET", "/dst2").send(a).body, b"second");
    // Bad, unknown, and a delete marker.
    Req::new("PUT", "/dst")
        .header("x-cos-copy-source", &source("nope"))
        .send(a)
        .assert_error(400, "InvalidArgument");
    Req::new("PUT", "/dst")
        .header("x-cos-copy-source", &format!("/{}/src?acl", common::BUCKET))
        .send(a)
        .assert_error(400, "InvalidArgument");
    Req::new("PUT", "/dst")
        .header(
            "x-cos-copy-source",
            &source("0123456789abcdef0123456789abcdef"),
        )
        .send(a)
        .assert_error(404, "NoSuchVersion");
    let marker = Req::new("DELETE", "/src")
        .send(a)
        .get("x-cos-version-id")
        .unwrap()
        .to_owned();
    Req::new("PUT", "/dst")
        .header("x-cos-copy-source", &source(&marker))
        .send(a)
        .assert_error(400, "InvalidRequest");
    Req::new("PUT", "/dst")
        .header("x-cos-copy-source", &format!("/{}/src", common::BUCKET))
        .send(a)
        .assert_error(404, "NoSuchKey");
    assert_eq!(Req::new("GET", "/dst").send(a).body, b"first");
}

#[test]
fn the_versions_listing_pages_and_rolls_up() {
    let gw = start_with_bucket();
    let a = gw.addr;
    enable(a);
    let mut want = Vec::new();
    for key in ["a", "b", "d/x", "d/y", "e"] {
        let ids: Vec<String> = (0..3)
            .map(|i| put(a, &format!("/{key}"), &i.to_string(), &[]))
            .collect();
        for (i, id) in ids.iter().rev().enumerate() {
            want.push(("Version".to_owned(), key.to_owned(), id.clone(), i == 0));
        }
    }
    let all = entries(&Req::new("GET", "/?versions").send(a).text());
    assert_eq!(all, want);
    // Pages of two, following NextKeyMarker / NextVersionIdMarker.
    let mut got = Vec::new();
    let mut query = String::from("/?versions&max-keys=2");
    loop {
        let t = Req::new("GET", &query).send(a).text();
        let page = entries(&t);
        assert!(page.len() <= 2);
        got.extend(page);
        if !t.contains("<IsTruncated>true</IsTruncated>") {
            break;
        }
        let field = |f: &str| {
            t.split(&format!("<{f}>"))
                .nth(1)
                .unwrap()
                .split(&format!("</{f}>"))
                .next()
                .unwrap()
                .to_owned()
        };
        query = format!(
            "/?versions&max-keys=2&key-marker={}&version-id-marker={}",
            field("NextKeyMarker").replace('/', "%2F"),
            field("NextVersionIdMarker")
        );
    }
    assert_eq!(got, want);
    // A prefix, and a delimiter rolling `d/` up into one common prefix.
    let t = Req::new("GET", "/?versions&prefix=d%2F").send(a).text();
    assert_eq!(entries(&t).len(), 6);
    let t = Req::new("GET", "/?versions&delimiter=%2F").send(a).text();
    assert_eq!(entries(&t).len(), 9);
    assert!(t.contains("<Delimiter>/</Delimiter>"));
    assert!(
        t.ends_with("<CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes></ListVersionsResult>")
    );
    // A key marker alone starts after that key.
    let t = Req::new("GET", "/?versions&key-marker=d%2Fy")
        .send(a)
        .text();
    assert_eq!(entries(&t), want[12..].to_vec());
    // Bad parameters.
    for bad in [
        "/?versions&max-keys=ten",
        "/?versions&version-id-marker=null",
        "/?versions&key-marker=a&version-id-marker=bad",
        "/?versions&encoding-type=base64",
    ] {
        Req::new("GET", bad)
            .send(a)
            .assert_error(400, "InvalidArgument");
    }
    Req::new("GET", "/?versions&marker=a")
        .send(a)
        .assert_error(501, "NotImplemented");
    Req::new("GET", "/?versions")
        .host("nobucket-1250000000.cos.ap-beijing.myqcloud.com")
        .send(a)
        .assert_error(404, "NoSuchBucket");
    Req::new("GET", "/?versions")
        .unsigned()
        .send(a)
        .assert_error(403, "AccessDenied");
}

#[test]
fn every_write_answers_its_version_id() {
    let gw = start_with_bucket();
    let a = gw.addr;
    enable(a);
    // Complete Multipart Upload.
    let id = super::multipart::initiate(a, "mp", &[]);
    let e1 = super::multipart::upload_part(a, "mp", &id, 1, b"part", &[]);
    let r = Req::new("POST", &format!("/mp?uploadId={id}"))
        .body(super::multipart::complete_xml(&[(1, &e1)]))
        .send(a);
    r.assert_status(200);
    let v = r.get("x-cos-version-id").unwrap().to_owned();
    assert_eq!(
        Req::new("HEAD", "/mp").send(a).get("x-cos-version-id"),
        Some(v.as_str())
    );
    // DELETE Multiple Objects: a marker per key without VersionId; with one, that version.
    let v1 = put(a, "/x", "1", &[]);
    let doc = format!(
        "<Delete><Object><Key>mp</Key></Object><Object><Key>x</Key><VersionId>{v1}</VersionId></Object></Delete>"
    );
    let r = Req::new("POST", "/?delete")
        .header("Content-MD5", &{
            use base64::Engine as _;
            use md5::Digest as _;
            base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(doc.as_bytes()))
        })
        .body(doc.clone())
        .send(a);
    r.assert_status(200);
    let t = r.text();
    let marker = Req::new("GET", "/mp")
        .send(a)
        .get("x-cos-version-id")
        .unwrap()
        .to_owned();
    assert_eq!(
        t,
        format!(
            "{XML_HEAD}<DeleteResult><Deleted><Key>mp</Key><DeleteMarker>true</DeleteMarker>\
             <DeleteMarkerVersionId>{marker}</DeleteMarkerVersionId></Deleted>\
             <Deleted><Key>x</Key><VersionId>{v1}</VersionId></Deleted></DeleteResult>"
        )
    );
    Req::new("GET", &format!("/x?versionId={v1}"))
        .send(a)
        .assert_error(404, "NoSuchVersion");
    assert_eq!(
        Req::new("GET", &format!("/mp?versionId={v}")).send(a).body,
        b"part"
    );
}

#[test]
fn versions_survive_a_restart() {
    let gw = start_with_bucket();
    let a = gw.addr;
    enable(a);
    let v1 = put(a, "/k", "one", &ssec(&K1));
    let v2 = put(a, "/k", "two", &[]);
    let marker = Req::new("DELETE", "/k")
        .send(a)
        .get("x-cos-version-id")
        .unwrap()
        .to_owned();
    let before = Req::new("GET", "/?versions").send(a).text();
    let gw = gw.restart_http();
    let a = gw.addr;
    assert_eq!(Req::new("GET", "/?versions").send(a).text(), before);
    assert_eq!(
        Req::new("GET", "/?versioning").send(a).text(),
        format!("{XML_HEAD}{}", versioning_doc("Enabled"))
    );
    assert_eq!(
        Req::new("GET", &format!("/k?versionId={v1}"))
            .headers(&ssec(&K1))
            .send(a)
            .body,
        b"one"
    );
    assert_eq!(
        Req::new("GET", &format!("/k?versionId={v2}")).send(a).body,
        b"two"
    );
    let r = Req::new("GET", "/k").send(a);
    r.assert_error(404, "NoSuchKey");
    assert_eq!(r.get("x-cos-version-id"), Some(marker.as_str()));
    assert_eq!(bodies(gw.dir.path()), 2);
}

fn tag_doc(value: &str) -> String {
    format!("<Tagging><TagSet><Tag><Key>t</Key><Value>{value}</Value></Tag></TagSet></Tagging>")
}

/// The value of tag `t` in a GET `?tagging` answer ("" when it has none).
fn tag_of(a: std::net::SocketAddr, target: &str) -> String {
    let r = Req::new("GET", target).send(a);
    r.assert_status(200);
    let text = r.text();
    text.split("<Value>")
        .nth(1)
        .and_then(|r| r.split("</Value>").next())
        .unwrap_or("")
        .to_owned()
}

/// `?tagging`, `?acl` and `?restore` with `versionId` read and change that version alone, current
/// or noncurrent (`null` included), and answer its id; a delete marker named by id is `405`, an
/// unknown id `NoSuchVersion`, a malformed one `InvalidArgument`.
#[test]
fn tags_acls_and_restores_are_per_version() {
    let gw = start_with_bucket();
    let a = gw.addr;
    Req::new("PUT", "/k").body("v0").send(a).assert_status(200);
    enable(a);
    let v1 = put(a, "/k", "v1", &[]);
    let v2 = put(a, "/k", "v2", &[]);
    for (id, value) in [("null", "zero"), (v1.as_str(), "one")] {
        let r = Req::new("PUT", &format!("/k?tagging&versionId={id}"))
            .body(tag_doc(value))
            .send(a);
        r.assert_status(200);
        assert_eq!(r.get("x-cos-version-id"), Some(id));
    }
    assert_eq!(tag_of(a, "/k?tagging"), "");
    assert_eq!(tag_of(a, &format!("/k?tagging&versionId={v1}")), "one");
    assert_eq!(tag_of(a, "/k?tagging&versionId=null"), "zero");
    let r = Req::new("GET", &format!("/k?versionId={v1}&tagging")).send(a);
    assert_eq!(r.get("x-cos-version-id"), Some(v1.as_str()));
    // HEAD of the version counts its own tags.
    let r = Req::new("HEAD", &format!("/k?versionId={v1}")).send(a);
    assert_eq!(r.get("x-cos-tagging-count"), Some("1"));
    let r = Req::new("DELETE", &format!("/k?tagging&versionId={v1}")).send(a);
    assert_eq!(
        (r.status, r.get("x-cos-version-id")),
        (204, Some(v1.as_str()))
    );
    assert_eq!(tag_of(a, &format!("/k?tagging&versionId={v1}")), "");
    assert_eq!(tag_of(a, "/k?tagging&versionId=null"), "zero");

    // ACLs: the noncurrent `null` version's, not the current one's.
    Req::new("PUT", "/k?acl&versionId=null")
        .header("x-cos-acl", "public-read")
        .send(a)
        .assert_status(200);
    let r = Req::new("GET", "/k?acl&versionId=null").send(a);
    assert!(r.text().contains("AllUsers"), "{}", r.text());
    assert_eq!(r.get("x-cos-acl"), None);
    let r = Req::new("GET", "/k?acl").send(a);
    assert_eq!(r.get("x-cos-acl"), Some("default"));
    assert!(!r.text().contains("AllUsers"));

    // Restore of a noncurrent archived version: only it becomes readable.
    let cold = put(
        a,
        "/cold",
        "archived",
        &[("x-cos-storage-class".into(), "ARCHIVE".into())],
    );
    put(a, "/cold", "newer", &[]);
    let target = format!("/cold?versionId={cold}");
    Req::new("GET", &target)
        .send(a)
        .assert_error(403, "InvalidObjectState");
    let r = Req::new("POST", &format!("/cold?restore&versionId={cold}"))
        .header("Content-Type", "application/xml")
        .body(
            "<RestoreRequest><Days>1</Days><CASJobParameters><Tier>Expedited</Tier>\
             </CASJobParameters></RestoreRequest>",
        )
        .send(a);
    assert_eq!(
        (r.status, r.get("x-cos-version-id")),
        (202, Some(cold.as_str()))
    );
    let running = Req::new("HEAD", &target).send(a);
    assert_eq!(
        running.exact("x-cos-restore"),
        Some("ongoing-request=\"true\"")
    );
    assert_eq!(Req::new("HEAD", "/cold").send(a).get("x-cos-restore"), None);

    // What names no object version.
    let m = Req::new("DELETE", "/k").send(a);
    let marker = m.get("x-cos-version-id").unwrap().to_owned();
    for (method, sub) in [("GET", "tagging"), ("PUT", "tagging"), ("GET", "acl")] {
        let by_id = format!("/k?{sub}&versionId={marker}");
        let mut req = Req::new(method, &by_id);
        if method == "PUT" {
            req = req.body(tag_doc("x"));
        }
        let r = req.send(a);
        r.assert_error(405, "MethodNotAllowed");
        assert_eq!(r.get("x-cos-delete-marker"), Some("true"));
        // The latest version is the marker: the key is not found.
        let latest = format!("/k?{sub}");
        let mut req = Req::new(method, &latest);
        if method == "PUT" {
            req = req.body(tag_doc("x"));
        }
        req.send(a).assert_error(404, "NoSuchKey");
    }
    let unknown = "0123456789abcdef0123456789abcdef";
    Req::new("PUT", &format!("/k?tagging&versionId={unknown}"))
        .body(tag_doc("x"))
        .send(a)
        .assert_error(404, "NoSuchVersion");
    Req::new("GET", &format!("/k?acl&versionId={unknown}"))
        .send(a)
        .assert_error(404, "NoSuchVersion");
    for bad in ["", "1", "NULL"] {
        Req::new("GET", &format!("/k?tagging&versionId={bad}"))
            .send(a)
            .assert_error(400, "InvalidArgument");
    }
    // The versions behind the marker kept their tags.
    assert_eq!(tag_of(a, "/k?tagging&versionId=null"), "zero");
    assert_eq!(tag_of(a, &format!("/k?tagging&versionId={v2}")), "");
}
