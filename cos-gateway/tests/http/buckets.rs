//! Bucket operations, bucket encryption and listing pages.

use super::multipart::{complete_xml, initiate, upload_part};
use super::*;
use crate::common::BUCKET;

#[test]
fn bucket_operations_and_encryption_config() {
    let gw = start_http();
    let a = gw.addr;
    Req::new("HEAD", "/").send(a);
    assert_eq!(Req::new("HEAD", "/").send(a).status, 404);
    create_bucket(a);
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
    assert!(r.text().contains(
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
    let b = r.text();
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

/// A GET Bucket query and what its page must hold: keys, common prefixes, `NextMarker` if
/// truncated.
type ListingCase<'a> = (&'a str, &'a [&'a str], &'a [&'a str], Option<&'a str>);

#[test]
fn listing_pages_end_on_common_prefixes() {
    let gw = start_with_bucket();
    let a = gw.addr;
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
        // Nothing asked for: an empty page, not truncated (there is nothing to page on).
        ("max-keys=0", &[], &[], None),
        ("delimiter=%2F&max-keys=0", &[], &[], None),
    ];
    for (query, keys, prefixes, next) in cases {
        let r = Req::new("GET", &format!("/?{query}")).path("/").send(a);
        assert_eq!(r.status, 200);
        let b = r.text();
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
    let r = Req::new("GET", "/?versions&max-keys=0").path("/").send(a);
    r.assert_status(200);
    let b = r.text();
    assert!(b.contains("<IsTruncated>false</IsTruncated>"), "{b}");
    assert!(!b.contains("<Version>"), "{b}");
}

#[test]
fn bucket_location_is_the_configured_region() {
    let gw = start_http();
    let a = gw.addr;
    Req::new("GET", "/?location")
        .send(a)
        .assert_error(404, "NoSuchBucket");
    create_bucket(a);
    let r = Req::new("GET", "/?location").send(a);
    assert_eq!(r.status, 200);
    assert_eq!(r.get("Content-Type"), Some("application/xml"));
    assert_eq!(
        r.text(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint>ap-guangzhou</LocationConstraint>"
    );
    // Signed like every other request, and no other sub-resource with it.
    Req::new("GET", "/?location")
        .unsigned()
        .send(a)
        .assert_error(403, "AccessDenied");
    Req::new("GET", "/?location&acl")
        .send(a)
        .assert_error(501, "NotImplemented");
    Req::new("PUT", "/?location")
        .send(a)
        .assert_error(501, "NotImplemented");
    // GET Service names the same region.
    let r = Req::new("GET", "/").host("127.0.0.1").send(a);
    assert!(
        r.text().contains("<Location>ap-guangzhou</Location>"),
        "{}",
        r.text()
    );
}

fn encryption_doc(alg: &str, bucket_key: &str) -> String {
    format!(
        "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>{alg}</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>{bucket_key}</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>"
    )
}

#[test]
fn bucket_key_enabled_in_the_encryption_document() {
    let gw = start_with_bucket();
    let a = gw.addr;
    for bad in ["yes", "TRUE", "1", ""] {
        let r = Req::new("PUT", "/?encryption")
            .body(encryption_doc("KMS", bad))
            .send(a);
        r.assert_error(400, "MalformedXML");
        assert!(
            r.text().contains("BucketKeyEnabled must be true or false"),
            "{bad:?}: {}",
            r.text()
        );
    }
    // With AES256 it is accepted and ignored, as S3 does: GET shows false.
    let r = Req::new("PUT", "/?encryption")
        .body(encryption_doc("AES256", "true"))
        .send(a);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = Req::new("GET", "/?encryption").send(a);
    assert!(r.text().contains("<SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled></Rule>"), "{}", r.text());
    Req::new("PUT", "/aes").body("a").send(a).assert_status(200);
    assert_eq!(
        Req::new("GET", "/aes")
            .send(a)
            .exact("x-cos-server-side-encryption"),
        Some("AES256")
    );

    // KMS with bucket keys: echoed, and objects written (default or explicit cos/kms, single or
    // multipart) read back, also after the setting is turned off.
    let r = Req::new("PUT", "/?encryption")
        .body(encryption_doc("KMS", "true"))
        .send(a);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = Req::new("GET", "/?encryption").send(a);
    assert!(r.text().contains("<SSEAlgorithm>KMS</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule>"), "{}", r.text());
    Req::new("PUT", "/k1")
        .body("one")
        .send(a)
        .assert_status(200);
    Req::new("PUT", "/k2")
        .header("x-cos-server-side-encryption", "cos/kms")
        .body("two")
        .send(a)
        .assert_status(200);
    let id = initiate(a, "k3", &[]);
    let e = upload_part(a, "k3", &id, 1, b"three", &[]);
    let r = Req::new("POST", &format!("/k3?uploadId={id}"))
        .body(complete_xml(&[(1, &e)]))
        .send(a);
    assert_eq!(r.exact("x-cos-server-side-encryption"), Some("cos/kms"));
    let r = Req::new("GET", "/k1").header("Range", "bytes=1-2").send(a);
    assert_eq!(r.body, b"ne");
    let r = Req::new("PUT", "/?encryption")
        .body(encryption_doc("KMS", "false"))
        .send(a);
    assert_eq!(r.status, 200);
    assert!(
        Req::new("GET", "/?encryption")
            .send(a)
            .text()
            .contains("<BucketKeyEnabled>false</BucketKeyEnabled>")
    );
    Req::new("PUT", "/k4")
        .body("four")
        .send(a)
        .assert_status(200);
    for (key, body) in [
        ("/k1", "one"),
        ("/k2", "two"),
        ("/k3", "three"),
        ("/k4", "four"),
    ] {
        let g = Req::new("GET", key).send(a);
        assert_eq!(g.body, body.as_bytes(), "{key}");
        assert_eq!(
            g.exact("x-cos-server-side-encryption"),
            Some("cos/kms"),
            "{key}"
        );
    }
    // A copy from the bucket-key object to a plain SSE-KMS one (the setting is now off).
    let r = Req::new("PUT", "/k5")
        .header("x-cos-copy-source", &format!("{}/k1", common::HOST))
        .send(a);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(Req::new("GET", "/k5").send(a).body, b"one");
    // Restarted (cold caches), every object still reads.
    let gw = gw.restart_http();
    for (key, body) in [("/k1", "one"), ("/k3", "three"), ("/k5", "one")] {
        assert_eq!(
            Req::new("GET", key).send(gw.addr).body,
            body.as_bytes(),
            "{key}"
        );
    }
}

/// The text between the first `open` and the next `close` in `s`.
fn between<'s>(s: &'s str, open: &str, close: &str) -> &'s str {
    let start = s
        .find(open)
        .map(|i| i + open.len())
        .unwrap_or_else(|| panic!("{open} in {s}"));
    let len = s[start..]
        .find(close)
        .unwrap_or_else(|| panic!("{close} in {s}"));
    &s[start..start + len]
}

/// GET Bucket and the error document byte for byte, with a key that needs escaping.
#[test]
fn listing_and_error_bytes_on_the_wire() {
    let gw = start_with_bucket();
    let a = gw.addr;
    // The key `a&b<c>'"`.
    let put = Req::new("PUT", "/a%26b%3Cc%3E%27%22")
        .path("/a&b<c>'\"")
        .body("xyz")
        .send(a);
    put.assert_status(200);
    let etag = put.get("etag").unwrap().replace('"', "&quot;");
    let owner = "<ID>qcs::cam::uin/100000000001:uin/100000000001</ID><DisplayName>100000000001</DisplayName>";
    let decl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    for (query, encoding, key) in [
        ("", "", "a&amp;b&lt;c&gt;&apos;&quot;"),
        (
            "&encoding-type=url",
            "<EncodingType>url</EncodingType>",
            "a%26b%3Cc%3E%27%22",
        ),
    ] {
        let body = Req::new("GET", &format!("/?prefix=a{query}"))
            .send(a)
            .text();
        let modified = between(&body, "<LastModified>", "</LastModified>");
        assert_eq!(
            body,
            format!(
                "{decl}<ListBucketResult><Name>{BUCKET}</Name>{encoding}<Prefix>a</Prefix><Marker></Marker><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated><Contents><Key>{key}</Key><LastModified>{modified}</LastModified><ETag>{etag}</ETag><Size>3</Size><Owner>{owner}</Owner><StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>"
            )
        );
    }
    let r = Req::new("GET", "/no%26such%3C").path("/no&such<").send(a);
    assert_eq!(r.status, 404);
    let id = r.get("x-cos-request-id").unwrap().to_owned();
    let body = r.text();
    let message = between(&body, "<Message>", "</Message>");
    let resource = between(&body, "<Resource>", "</Resource>");
    assert!(resource.ends_with("no&amp;such&lt;"), "{resource}");
    assert_eq!(
        body,
        format!(
            "{decl}<Error>\n<Code>NoSuchKey</Code>\n<Message>{message}</Message>\n<Resource>{resource}</Resource>\n<RequestId>{id}</RequestId>\n<TraceId>{id}</TraceId>\n</Error>"
        )
    );
}
