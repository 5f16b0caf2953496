//! GET and HEAD `?partNumber=N`: one part of a multipart object, in every SSE mode.

use super::multipart::{complete_xml, initiate, upload_part};
use super::*;

/// An SSE mode: its name, its Initiate headers, its read (and Upload Part) headers.
type Mode = (&'static str, Vec<(String, String)>, Vec<(String, String)>);

fn h(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

#[test]
fn each_part_is_served_alone_in_every_sse_mode() {
    let gw = start_with_bucket();
    let a = gw.addr;
    let p1: Vec<u8> = (0..(1 << 20) + 7).map(|i| (i % 251) as u8).collect();
    let p2: Vec<u8> = (0..(1 << 20)).map(|i| (i % 13) as u8).collect();
    let p3 = b"the tail".to_vec();
    let total = p1.len() + p2.len() + p3.len();
    let modes: Vec<Mode> = vec![
        ("plain", vec![], vec![]),
        (
            "cos",
            vec![h("x-cos-server-side-encryption", "AES256")],
            vec![],
        ),
        (
            "kms",
            vec![h("x-cos-server-side-encryption", "cos/kms")],
            vec![],
        ),
        ("ssec", ssec(&K1), ssec(&K1)),
    ];
    for (mode, init, read) in modes {
        let key = format!("mp-{mode}");
        let id = initiate(a, &key, &init);
        let etags: Vec<String> = [&p1, &p2, &p3]
            .iter()
            .enumerate()
            .map(|(i, p)| upload_part(a, &key, &id, i as u32 + 1, p, &read))
            .collect();
        let parts: Vec<(u32, &str)> = etags
            .iter()
            .enumerate()
            .map(|(i, e)| (i as u32 + 1, e.as_str()))
            .collect();
        Req::new("POST", &format!("/{key}?uploadId={id}"))
            .body(complete_xml(&parts))
            .send(a)
            .assert_status(200);
        let mut start = 0;
        for (n, want) in [(1, &p1), (2, &p2), (3, &p3)] {
            let target = format!("/{key}?partNumber={n}");
            let r = Req::new("GET", &target).headers(&read).send(a);
            assert_eq!(r.status, 206, "{mode} part {n}: {}", r.text());
            assert!(r.body == *want, "{mode} part {n}: wrong bytes");
            let range = format!("bytes {}-{}/{total}", start, start + want.len() - 1);
            assert_eq!(r.exact("Content-Range"), Some(range.as_str()), "{mode}");
            assert_eq!(r.get("x-cos-mp-parts-count"), Some("3"), "{mode}");
            let r = Req::new("HEAD", &target).headers(&read).send(a);
            assert_eq!(r.status, 206, "{mode} HEAD part {n}");
            let len = want.len().to_string();
            assert_eq!(r.exact("Content-Length"), Some(len.as_str()), "{mode}");
            assert_eq!(r.get("x-cos-mp-parts-count"), Some("3"), "{mode}");
            start += want.len();
        }
        let four = format!("/{key}?partNumber=4");
        Req::new("GET", &four)
            .headers(&read)
            .send(a)
            .assert_error(416, "InvalidPartNumber");
        Req::new("GET", &format!("/{key}?partNumber=1"))
            .headers(&read)
            .header("Range", "bytes=0-1")
            .send(a)
            .assert_error(400, "InvalidRequest");
    }
    // SSE-C still needs the customer key, and the right one.
    Req::new("GET", "/mp-ssec?partNumber=1")
        .send(a)
        .assert_error(400, "SsecDecryptHeaderInvalid");
    Req::new("GET", "/mp-ssec?partNumber=1")
        .headers(&ssec(&K2))
        .send(a)
        .assert_error(400, "SsecDecryptHeaderInvalid");
}

#[test]
fn part_one_of_a_single_part_object_is_the_whole_object() {
    let gw = start_with_bucket();
    let a = gw.addr;
    for (key, headers) in [
        ("single", vec![]),
        (
            "single-cos",
            vec![h("x-cos-server-side-encryption", "AES256")],
        ),
    ] {
        Req::new("PUT", &format!("/{key}"))
            .headers(&headers)
            .body("whole body")
            .send(a)
            .assert_status(200);
        let r = Req::new("GET", &format!("/{key}?partNumber=1")).send(a);
        assert_eq!(r.status, 206);
        assert_eq!(r.body, b"whole body");
        assert_eq!(r.exact("Content-Range"), Some("bytes 0-9/10"));
        assert_eq!(r.get("x-cos-mp-parts-count"), None);
        Req::new("GET", &format!("/{key}?partNumber=2"))
            .send(a)
            .assert_error(416, "InvalidPartNumber");
    }
    for bad in ["0", "10001", "x", ""] {
        Req::new("GET", &format!("/single?partNumber={bad}"))
            .send(a)
            .assert_error(400, "InvalidArgument");
    }
    Req::new("GET", "/missing?partNumber=1")
        .send(a)
        .assert_error(404, "NoSuchKey");
    Req::new("GET", "/single?partNumber=1")
        .unsigned()
        .send(a)
        .assert_error(403, "AccessDenied");
}

/// A 0-byte last part is an empty body, never the whole object (a part-parallel download that
/// got the whole object for it would stitch a corrupt file), in a plain and an encrypted object.
#[test]
fn an_empty_last_part_is_served_empty() {
    let gw = start_with_bucket();
    let a = gw.addr;
    let p1: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    for (key, init) in [
        ("empty-tail", vec![]),
        (
            "empty-tail-cos",
            vec![h("x-cos-server-side-encryption", "AES256")],
        ),
    ] {
        let id = initiate(a, key, &init);
        let e1 = upload_part(a, key, &id, 1, &p1, &[]);
        let e2 = upload_part(a, key, &id, 2, b"", &[]);
        Req::new("POST", &format!("/{key}?uploadId={id}"))
            .body(complete_xml(&[(1, &e1), (2, &e2)]))
            .send(a)
            .assert_status(200);
        for method in ["GET", "HEAD"] {
            let r = Req::new(method, &format!("/{key}?partNumber=2")).send(a);
            assert_eq!(r.status, 200, "{key} {method}");
            assert_eq!(r.exact("Content-Length"), Some("0"), "{key} {method}");
            assert!(r.body.is_empty(), "{key} {method}");
            assert_eq!(r.get("Content-Range"), None, "{key} {method}");
            assert_eq!(r.get("x-cos-mp-parts-count"), Some("2"), "{key} {method}");
        }
        let r = Req::new("GET", &format!("/{key}?partNumber=1")).send(a);
        assert_eq!(r.status, 206, "{key}");
        assert!(r.body == p1, "{key}: wrong bytes");
    }
}
