//! Multipart uploads: part rules, Upload Part - Copy, Complete documents and their bounds.

use super::*;

pub(crate) fn initiate(
    addr: std::net::SocketAddr,
    key: &str,
    headers: &[(String, String)],
) -> String {
    let target = format!("/{key}?uploads");
    let r = Req::new("POST", &target).headers(headers).send(addr);
    r.assert_status(200);
    let b = r.text();
    b.split("<UploadId>")
        .nth(1)
        .unwrap()
        .split("</UploadId>")
        .next()
        .unwrap()
        .to_owned()
}

pub(crate) fn upload_part(
    addr: std::net::SocketAddr,
    key: &str,
    id: &str,
    n: u32,
    data: &[u8],
    headers: &[(String, String)],
) -> String {
    let target = format!("/{key}?partNumber={n}&uploadId={id}");
    let r = Req::new("PUT", &target)
        .headers(headers)
        .body(data.to_vec())
        .send(addr);
    r.assert_status(200);
    r.exact("ETag").unwrap().to_owned()
}

pub(crate) fn complete_xml(parts: &[(u32, &str)]) -> String {
    let mut x = String::from("<CompleteMultipartUpload>");
    for (n, e) in parts {
        x.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>"
        ));
    }
    x + "</CompleteMultipartUpload>"
}

#[test]
fn multipart_rules_and_part_copy() {
    let gw = start_with_bucket();
    let a = gw.addr;
    let big: Vec<u8> = (0..(1 << 20) + 100).map(|i| (i % 251) as u8).collect();
    let kms = vec![(
        "x-cos-server-side-encryption".to_owned(),
        "cos/kms".to_owned(),
    )];
    let id = initiate(a, "mp", &kms);
    let e1 = upload_part(a, "mp", &id, 1, &big, &[]);
    let e2 = upload_part(a, "mp", &id, 2, b"small", &[]);
    let e3 = upload_part(a, "mp", &id, 3, b"tail", &[]);
    let complete = |parts: &[(u32, &str)]| {
        let t = format!("/mp?uploadId={id}");
        Req::new("POST", &t).body(complete_xml(parts)).send(a)
    };
    complete(&[(2, &e2), (1, &e1)]).assert_error(400, "InvalidPartOrder");
    complete(&[(1, &e1), (2, "\"bad\"")]).assert_error(400, "InvalidPart");
    complete(&[(1, &e1), (3, &e3)]).assert_error(400, "InvalidPart");
    complete(&[(1, &e1), (2, &e2), (3, &e3)]).assert_error(400, "EntityTooSmall");
    let t = format!("/mp?uploadId={id}");
    Req::new("POST", &t)
        .body("<Nope/>")
        .send(a)
        .assert_error(400, "MalformedXML");
    // List Parts and List Multipart Uploads.
    let r = Req::new("GET", &t).send(a);
    assert_eq!(r.text().matches("<Part>").count(), 3);
    let r = Req::new("GET", "/?uploads&prefix=mp").send(a);
    assert!(r.text().contains(&id));
    // Upload Part - Copy: a range of an SSE-C object becomes part 2.
    Req::new("PUT", "/src")
        .headers(&ssec(&K1))
        .body(b"0123456789".to_vec())
        .send(a);
    let mut h: Vec<(String, String)> = ssec(&K1)
        .into_iter()
        .map(|(k, v)| (k.replace("x-cos-", "x-cos-copy-source-"), v))
        .collect();
    h.push((
        "x-cos-copy-source".into(),
        "/examplebucket-1250000000/src".into(),
    ));
    let t2 = format!("/mp?partNumber=2&uploadId={id}");
    // A malformed, overflowing or out-of-source range is refused, never a whole-object copy.
    for bad in [
        "bytes=5-18446744073709551615",
        "bytes=0-18446744073709551616",
        "bytes=3-10",
        "bytes=3-",
        "3-6",
    ] {
        let mut hb = h.clone();
        hb.push(("x-cos-copy-source-range".into(), bad.into()));
        Req::new("PUT", &t2)
            .headers(&hb)
            .send(a)
            .assert_error(400, "InvalidArgument");
    }
    h.push(("x-cos-copy-source-range".into(), "bytes=3-6".into()));
    let r = Req::new("PUT", &t2).headers(&h).send(a);
    r.assert_status(200);
    let body = r.text();
    let e2 = body
        .split("<ETag>")
        .nth(1)
        .unwrap()
        .split("</ETag>")
        .next()
        .unwrap();
    let e2 = e2.replace("&quot;", "\"");
    let r = complete(&[(1, &e1), (2, &e2)]);
    r.assert_status(200);
    assert_eq!(r.exact("x-cos-server-side-encryption"), Some("cos/kms"));
    let g = Req::new("GET", "/mp").send(a);
    let mut want = big.clone();
    want.extend_from_slice(b"3456");
    assert_eq!(g.body, want);
    // A range across the part boundary.
    let g = Req::new("GET", "/mp")
        .header(
            "Range",
            &format!("bytes={}-{}", big.len() - 2, big.len() + 1),
        )
        .send(a);
    assert_eq!(g.body, [&big[big.len() - 2..], b"34"].concat());
    // A copy of the multipart object: re-wrapped to SSE-COS, and decrypted to plain.
    for (dest, sse) in [("/mp-cos", Some("AES256")), ("/mp-plain", None)] {
        let mut req =
            Req::new("PUT", dest).header("x-cos-copy-source", "/examplebucket-1250000000/mp");
        if let Some(v) = sse {
            req = req.header("x-cos-server-side-encryption", v);
        }
        let r = req.send(a);
        r.assert_status(200);
        let g = Req::new("GET", dest).send(a);
        assert_eq!(g.exact("x-cos-server-side-encryption"), sse);
        assert_eq!(g.body, want, "{dest}");
    }
    // The upload is gone.
    complete(&[(1, &e1)]).assert_error(404, "NoSuchUpload");
    upload_part_err(a, "mp", &id).assert_error(404, "NoSuchUpload");
    Req::new("DELETE", &t)
        .send(a)
        .assert_error(404, "NoSuchUpload");
    // Abort.
    let id2 = initiate(a, "ab", &[]);
    upload_part(a, "ab", &id2, 1, b"x", &[]);
    assert_eq!(
        Req::new("DELETE", &format!("/ab?uploadId={id2}"))
            .send(a)
            .status,
        204
    );
    Req::new("PUT", &format!("/ab?partNumber=0&uploadId={id2}"))
        .body("x")
        .send(a)
        .assert_error(400, "InvalidArgument");
    // SSE-C upload: parts need the key.
    let id3 = initiate(a, "c", &ssec(&K1));
    Req::new("PUT", &format!("/c?partNumber=1&uploadId={id3}"))
        .body("x")
        .send(a)
        .assert_error(400, "SsecDecryptHeaderInvalid");
    // A bucket with uploads is not empty.
    Req::new("DELETE", "/")
        .send(a)
        .assert_error(409, "BucketNotEmpty");
}

fn upload_part_err(a: std::net::SocketAddr, key: &str, id: &str) -> common::Raw {
    Req::new("PUT", &format!("/{key}?partNumber=1&uploadId={id}"))
        .body("x")
        .send(a)
}

#[test]
fn complete_documents_are_bounded_in_elements_and_depth() {
    let gw = start_with_bucket();
    let a = gw.addr;
    let id = initiate(a, "x", &[]);
    let e1 = upload_part(a, "x", &id, 1, b"part", &[]);
    let t = format!("/x?uploadId={id}");
    let part = complete_xml(&[(1, &e1)]);
    let inner = part
        .trim_start_matches("<CompleteMultipartUpload>")
        .trim_end_matches("</CompleteMultipartUpload>");
    // One real part among more elements than the largest Complete has: refused.
    let junk = "<x/>".repeat(cos_gateway::xml::MAX_ELEMENTS);
    Req::new("POST", &t)
        .body(format!(
            "<CompleteMultipartUpload>{inner}{junk}</CompleteMultipartUpload>"
        ))
        .send(a)
        .assert_error(400, "MalformedXML");
    let deep = format!(
        "{}{}",
        "<x>".repeat(cos_gateway::xml::MAX_DEPTH),
        "</x>".repeat(cos_gateway::xml::MAX_DEPTH)
    );
    Req::new("POST", &t)
        .body(format!(
            "<CompleteMultipartUpload>{inner}{deep}</CompleteMultipartUpload>"
        ))
        .send(a)
        .assert_error(400, "MalformedXML");
    // The upload is untouched and completes.
    let r = Req::new("POST", &t).body(part).send(a);
    r.assert_status(200);
    assert_eq!(Req::new("GET", "/x").send(a).body, b"part");
}
