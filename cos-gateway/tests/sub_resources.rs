//! Every sub-resource the gateway does not implement is `501 NotImplemented`, on every method, on a
//! bucket and on an object (object tagging is implemented on GET, PUT and DELETE, object restore on
//! POST, ACLs on GET and PUT, versioning on a bucket's GET and PUT, the versions listing on a
//! bucket's GET, `versionId` on GET, HEAD and DELETE Object), existing or not, and never reaches
//! the plain operation: afterwards
//! the object, the bucket and the listings are byte-for-byte what they were.

mod common;

use common::{Raw, Req, start_http};

/// The sub-resources COS (or S3) defines that this gateway does not implement, and one unknown
/// name.
const SUB_RESOURCES: &[&str] = &[
    "tagging",
    "acl",
    "cors",
    "lifecycle",
    "policy",
    "versioning",
    "versions",
    "versionId",
    "retention",
    "legal-hold",
    "restore",
    "delete",
    "append",
    "select",
    "object-lock",
    "referer",
    "website",
    "logging",
    "inventory",
    "replication",
    "intelligenttiering",
    "no-such-sub-resource",
];

const METHODS: &[&str] = &["GET", "HEAD", "PUT", "POST", "DELETE"];

/// A second, empty bucket: a DELETE Bucket that fell through would remove it.
const EMPTY_BUCKET_HOST: &str = "emptybucket-1250000000.cos.ap-beijing.myqcloud.com";

/// A bucket that does not exist: a PUT Bucket that fell through would create it.
const MISSING_BUCKET_HOST: &str = "missingbucket-1250000000.cos.ap-beijing.myqcloud.com";

/// What a request body could overwrite an object with.
const XML_BODY: &str =
    "<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>";

/// The state a fall-through could change: the object (body, ETag, headers it is served with), the
/// listings, the buckets.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    object: (u16, Vec<u8>, Option<String>, Option<String>),
    missing_object: u16,
    listing: Vec<u8>,
    empty_listing: Vec<u8>,
    uploads: Vec<u8>,
    buckets: Vec<u8>,
    missing_bucket: u16,
}

fn snapshot(a: std::net::SocketAddr) -> Snapshot {
    let object = Req::new("GET", "/obj").send(a);
    let listing = Req::new("GET", "/").send(a);
    let empty_listing = Req::new("GET", "/").host(EMPTY_BUCKET_HOST).send(a);
    let uploads = Req::new("GET", "/?uploads").send(a);
    let buckets = Req::new("GET", "/").host("127.0.0.1").send(a);
    assert_eq!(listing.status, 200);
    assert_eq!(empty_listing.status, 200);
    assert_eq!(buckets.status, 200);
    // The request ids differ per request; everything else must not.
    let uploads_body = uploads.body;
    Snapshot {
        object: (
            object.status,
            object.body.clone(),
            object.get("ETag").map(str::to_owned),
            object.get("Last-Modified").map(str::to_owned),
        ),
        missing_object: Req::new("GET", "/missing-obj").send(a).status,
        listing: listing.body,
        empty_listing: empty_listing.body,
        uploads: uploads_body,
        buckets: buckets.body,
        missing_bucket: Req::new("HEAD", "/")
            .host(MISSING_BUCKET_HOST)
            .send(a)
            .status,
    }
}

fn assert_not_implemented(r: &Raw, method: &str, what: &str) {
    if method == "HEAD" {
        assert_eq!(r.status, 501, "HEAD {what}: {}", r.head);
        assert!(r.body.is_empty(), "HEAD {what} has a body");
    } else {
        r.assert_error(501, "NotImplemented");
    }
}

/// A gateway with the bucket holding `obj`, and the empty bucket; and their snapshot.
fn setup() -> (common::TestGateway, Snapshot) {
    setup_on(start_http())
}

/// [`setup`] on a gateway already started.
fn setup_on(gw: common::TestGateway) -> (common::TestGateway, Snapshot) {
    let a = gw.addr;
    assert_eq!(Req::new("PUT", "/").send(a).status, 200);
    let r = Req::new("PUT", "/").host(EMPTY_BUCKET_HOST).send(a);
    assert_eq!(r.status, 200, "{}", r.head);
    let r = Req::new("PUT", "/obj")
        .header("x-cos-server-side-encryption", "AES256")
        .header("Content-Type", "text/x-original")
        .body("the original body")
        .send(a);
    assert_eq!(r.status, 200, "{}", r.head);
    let before = snapshot(a);
    (gw, before)
}

#[test]
fn unimplemented_sub_resources_are_501_and_change_nothing() {
    matrix(setup());
}

/// The same matrix with the store's metadata in memory: the operations do not depend on SQLite.
#[test]
fn unimplemented_sub_resources_are_501_over_the_memory_catalog_too() {
    matrix(setup_on(common::start_http_in_memory()));
}

fn matrix((gw, before): (common::TestGateway, Snapshot)) {
    let a = gw.addr;
    assert_eq!(before.object.1, b"the original body");
    assert_eq!(before.missing_object, 404);
    assert_eq!(before.missing_bucket, 404);

    for method in METHODS {
        for name in SUB_RESOURCES {
            for query in [
                name.to_string(),
                format!("{name}=1"),
                format!("prefix=&{name}"),
            ] {
                for (host, path) in [
                    (common::HOST, "/obj"),
                    (common::HOST, "/missing-obj"),
                    (common::HOST, "/"),
                    (EMPTY_BUCKET_HOST, "/"),
                    (MISSING_BUCKET_HOST, "/"),
                ] {
                    // Object tagging is implemented (tests/http/tagging.rs); only its 501 cases
                    // are here.
                    if *name == "tagging"
                        && path != "/"
                        && query != "prefix=&tagging"
                        && matches!(*method, "GET" | "PUT" | "DELETE")
                    {
                        continue;
                    }
                    // ACLs are implemented on GET and PUT (tests/http/acl.rs).
                    if *name == "acl" && query != "prefix=&acl" && matches!(*method, "GET" | "PUT")
                    {
                        continue;
                    }
                    // Versioning is implemented (tests/http/versioning.rs).
                    let whole = query != format!("prefix=&{name}");
                    // (`prefix` is one of the versions listing's own parameters.)
                    if path == "/"
                        && ((whole && *name == "versioning" && matches!(*method, "GET" | "PUT"))
                            || (*name == "versions" && *method == "GET"))
                    {
                        continue;
                    }
                    let target = format!("{path}?{query}");
                    let mut req = Req::new(method, &target).host(host);
                    if matches!(*method, "PUT" | "POST") {
                        req = req.header("Content-Type", "application/xml").body(XML_BODY);
                    }
                    let r = req.send(a);
                    // POST Object restore is implemented (tests/http/restore.rs): this body is
                    // not a RestoreRequest.
                    if *name == "restore"
                        && *method == "POST"
                        && path != "/"
                        && query != "prefix=&restore"
                    {
                        r.assert_error(400, "MalformedXML");
                        continue;
                    }
                    // `POST /?delete` on a bucket is DELETE Multiple Objects: this body has no
                    // Content-MD5 (400 InvalidRequest), or the bucket does not exist (404).
                    if *method == "POST"
                        && *name == "delete"
                        && path == "/"
                        && query != "prefix=&delete"
                    {
                        let want = if host == MISSING_BUCKET_HOST {
                            (404, "NoSuchBucket")
                        } else {
                            (400, "InvalidRequest")
                        };
                        r.assert_error(want.0, want.1);
                        continue;
                    }
                    // `versionId` names a version on GET, HEAD and DELETE Object: these values
                    // (empty, `1`) cannot, whatever the object.
                    if *name == "versionId"
                        && whole
                        && path != "/"
                        && matches!(*method, "GET" | "HEAD" | "DELETE")
                    {
                        if *method == "HEAD" {
                            assert_eq!(r.status, 400, "HEAD {target}");
                        } else {
                            r.assert_error(400, "InvalidArgument");
                        }
                        continue;
                    }
                    assert_not_implemented(&r, method, &format!("{host}{target}"));
                }
            }
        }
        assert_eq!(snapshot(a), before, "after the {method} requests");
    }
}

#[test]
fn presigned_sub_resources_are_501_too() {
    let (gw, before) = setup();
    let a = gw.addr;
    for method in ["PUT", "DELETE"] {
        for path in ["/", "/obj"] {
            let target = common::presign(method, path, &[("cors", "")]);
            let r = Req::new(method, &target)
                .path(path)
                .unsigned()
                .body(XML_BODY)
                .send(a);
            r.assert_error(501, "NotImplemented");
        }
    }
    assert_eq!(snapshot(a), before);
}

#[test]
fn operation_parameters_are_not_sub_resources() {
    let gw = start_http();
    let a = gw.addr;
    assert_eq!(Req::new("PUT", "/").send(a).status, 200);
    Req::new("PUT", "/dir/obj").body("x").send(a);
    // Listing parameters, empty or not.
    let r = Req::new(
        "GET",
        "/?prefix=&delimiter=%2F&marker=&max-keys=10&encoding-type=url",
    )
    .send(a);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("<Prefix>dir/</Prefix>"));
    // GET Object's response header overrides.
    let r = Req::new(
        "GET",
        "/dir/obj?response-content-type=text%2Fplain&response-cache-control=no-cache",
    )
    .path("/dir/obj")
    .send(a);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"x"[..]));
    assert_eq!(r.get("Content-Type"), Some("text/plain"));
    assert_eq!(r.get("Cache-Control"), Some("no-cache"));
    // The multipart listings take their own parameters.
    let r = Req::new(
        "GET",
        "/?uploads&prefix=dir&delimiter=&key-marker=&upload-id-marker=&max-uploads=10&encoding-type=url",
    )
    .send(a);
    assert_eq!(r.status, 200, "{}", r.text());
    // ...but not each other's, nor the object's.
    for target in ["/?max-parts=1", "/?uploads&marker=", "/dir/obj?prefix=a"] {
        Req::new("GET", target)
            .send(a)
            .assert_error(501, "NotImplemented");
    }
    // An Upload Part parameter without its upload is no PUT Object.
    for target in ["/dir/obj?partNumber=1", "/dir/obj?uploadId=abc"] {
        Req::new("PUT", target)
            .body("overwrite")
            .send(a)
            .assert_error(501, "NotImplemented");
    }
    assert_eq!(Req::new("GET", "/dir/obj").send(a).body, b"x");
}
