//! `x-cos-storage-class` on PUT, Initiate, POST (in `post_object`) and Copy: stored, shown on
//! HEAD/GET (omitted for STANDARD) and in the listings; anything else is `400 InvalidArgument`.

use super::multipart::{complete_xml, initiate, upload_part};
use super::*;

fn class_header(class: &str) -> Vec<(String, String)> {
    vec![("x-cos-storage-class".to_owned(), class.to_owned())]
}

#[test]
fn put_head_get_and_list_show_the_class() {
    let gw = start_with_bucket();
    let a = gw.addr;
    for class in [
        "STANDARD_IA",
        "INTELLIGENT_TIERING",
        "MAZ_STANDARD",
        "MAZ_STANDARD_IA",
        "MAZ_INTELLIGENT_TIERING",
    ] {
        Req::new("PUT", &format!("/{class}"))
            .header("x-cos-storage-class", class)
            .header("x-cos-server-side-encryption", "AES256")
            .body("body")
            .send(a)
            .assert_status(200);
        let r = Req::new("HEAD", &format!("/{class}")).send(a);
        assert_eq!(r.exact("x-cos-storage-class"), Some(class));
        let r = Req::new("GET", &format!("/{class}")).send(a);
        assert_eq!((r.status, r.body.as_slice()), (200, &b"body"[..]));
        assert_eq!(r.exact("x-cos-storage-class"), Some(class));
    }
    // STANDARD, given or not, is not echoed.
    Req::new("PUT", "/std")
        .header("x-cos-storage-class", "STANDARD")
        .body("x")
        .send(a)
        .assert_status(200);
    Req::new("PUT", "/plain")
        .body("x")
        .send(a)
        .assert_status(200);
    for k in ["/std", "/plain"] {
        assert_eq!(Req::new("HEAD", k).send(a).get("x-cos-storage-class"), None);
    }
    let list = Req::new("GET", "/").send(a).text();
    assert!(
        list.contains("<Key>MAZ_STANDARD_IA</Key><LastModified>")
            && list.contains("<StorageClass>MAZ_STANDARD_IA</StorageClass></Contents>"),
        "{list}"
    );
    let plain = list.split("<Key>plain</Key>").nth(1).unwrap();
    assert!(
        plain.starts_with("<LastModified>")
            && plain
                .split("</Contents>")
                .next()
                .unwrap()
                .ends_with("<StorageClass>STANDARD</StorageClass>"),
        "{list}"
    );
}

#[test]
fn unknown_classes_are_invalid_argument_and_write_nothing() {
    let gw = start_with_bucket();
    let a = gw.addr;
    for bad in ["GLACIER", "standard", "", "ARCHIVE2"] {
        Req::new("PUT", "/bad")
            .header("x-cos-storage-class", bad)
            .body("x")
            .send(a)
            .assert_error(400, "InvalidArgument");
        Req::new("POST", "/bad?uploads")
            .header("x-cos-storage-class", bad)
            .send(a)
            .assert_error(400, "InvalidArgument");
    }
    Req::new("HEAD", "/bad").send(a).assert_status(404);
    Req::new("PUT", "/src").body("x").send(a).assert_status(200);
    Req::new("PUT", "/bad")
        .header("x-cos-copy-source", &format!("{}/src", common::HOST))
        .header("x-cos-storage-class", "COLD")
        .send(a)
        .assert_error(400, "InvalidArgument");
    Req::new("HEAD", "/bad").send(a).assert_status(404);
    assert!(
        !Req::new("GET", "/?uploads")
            .send(a)
            .text()
            .contains("<Upload>")
    );
}

#[test]
fn copy_takes_the_requested_class_and_defaults_to_standard() {
    let gw = start_with_bucket();
    let a = gw.addr;
    Req::new("PUT", "/src")
        .header("x-cos-storage-class", "STANDARD_IA")
        .header("x-cos-server-side-encryption", "AES256")
        .body("copied")
        .send(a)
        .assert_status(200);
    let src = format!("{}/src", common::HOST);
    Req::new("PUT", "/c1")
        .header("x-cos-copy-source", &src)
        .send(a)
        .assert_status(200);
    assert_eq!(
        Req::new("HEAD", "/c1").send(a).get("x-cos-storage-class"),
        None
    );
    Req::new("PUT", "/c2")
        .header("x-cos-copy-source", &src)
        .header("x-cos-storage-class", "MAZ_STANDARD")
        .send(a)
        .assert_status(200);
    let r = Req::new("GET", "/c2").send(a);
    assert_eq!(r.exact("x-cos-storage-class"), Some("MAZ_STANDARD"));
    assert_eq!(r.body, b"copied");
}

#[test]
fn multipart_uploads_carry_the_class_to_the_object() {
    let gw = start_with_bucket();
    let a = gw.addr;
    let id = initiate(a, "mp", &class_header("INTELLIGENT_TIERING"));
    let uploads = Req::new("GET", "/?uploads").send(a).text();
    assert!(
        uploads.contains("<StorageClass>INTELLIGENT_TIERING</StorageClass>"),
        "{uploads}"
    );
    let e1 = upload_part(a, "mp", &id, 1, b"only part", &[]);
    let parts = Req::new("GET", &format!("/mp?uploadId={id}"))
        .send(a)
        .text();
    assert!(
        parts.contains("<StorageClass>INTELLIGENT_TIERING</StorageClass>"),
        "{parts}"
    );
    Req::new("POST", &format!("/mp?uploadId={id}"))
        .body(complete_xml(&[(1, &e1)]))
        .send(a)
        .assert_status(200);
    let r = Req::new("HEAD", "/mp").send(a);
    assert_eq!(r.exact("x-cos-storage-class"), Some("INTELLIGENT_TIERING"));
}
