//! POST Object: policies, form fields, and a file streamed within the policy limits.

use super::*;

/// A POST policy signed with the test key: (base64 policy, q-key-time, q-signature).
fn post_policy(conditions: serde_json::Value) -> (String, String, String) {
    use base64::Engine as _;
    let now = cos_gateway::wire::now_secs();
    let key_time = format!("{};{}", now - 10, now + 600);
    let policy = serde_json::json!({
        "expiration": "2999-01-01T00:00:00.000Z",
        "conditions": conditions,
    })
    .to_string();
    let sig = cos_gateway::auth::sign_post_policy(
        &cos_gateway::auth::SecretKey::new(common::SECRET_KEY),
        &key_time,
        policy.as_bytes(),
    );
    (
        base64::engine::general_purpose::STANDARD.encode(&policy),
        key_time,
        sig,
    )
}

/// The form up to the file's first byte: the signed fields, `extra` fields, the file part head.
fn form_head(policy: &(String, String, String), key: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let (policy_b64, key_time, sig) = policy;
    let mut fields = vec![
        ("key", key),
        ("policy", policy_b64.as_str()),
        ("q-sign-algorithm", "sha1"),
        ("q-ak", common::SECRET_ID),
        ("q-key-time", key_time.as_str()),
        ("q-signature", sig.as_str()),
    ];
    fields.extend_from_slice(extra);
    let mut b = String::new();
    for (k, v) in fields {
        b.push_str(&format!(
            "--BND\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    b.push_str("--BND\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\nContent-Type: application/x-test\r\n\r\n");
    b.into_bytes()
}

/// A whole form: [`form_head`], the file, then `trailing` fields and the closing boundary.
fn form(
    policy: &(String, String, String),
    key: &str,
    extra: &[(&str, &str)],
    file: &[u8],
    trailing: &[(&str, &str)],
) -> Vec<u8> {
    let mut b = form_head(policy, key, extra);
    b.extend_from_slice(file);
    for (k, v) in trailing {
        b.extend_from_slice(
            format!("\r\n--BND\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}")
                .as_bytes(),
        );
    }
    b.extend_from_slice(b"\r\n--BND--\r\n");
    b
}

fn post_form(a: std::net::SocketAddr, body: Vec<u8>) -> common::Raw {
    Req::new("POST", "/")
        .unsigned()
        .header("Content-Type", "multipart/form-data; boundary=BND")
        .body(body)
        .send(a)
}

#[test]
fn post_object_form_upload() {
    use base64::Engine as _;
    let gw = start_with_bucket();
    let a = gw.addr;
    let now = cos_gateway::wire::now_secs();
    let key_time = format!("{};{}", now - 10, now + 600);
    let policy = serde_json::json!({
        "expiration": "2999-01-01T00:00:00.000Z",
        "conditions": [{"bucket": common::BUCKET}, ["starts-with", "$key", "up/"]]
    })
    .to_string();
    let policy_b64 = base64::engine::general_purpose::STANDARD.encode(&policy);
    let sig = cos_gateway::auth::sign_post_policy(
        &cos_gateway::auth::SecretKey::new(common::SECRET_KEY),
        &key_time,
        policy.as_bytes(),
    );
    let form = |key: &str, sig: &str, extra: &[(&str, &str)]| {
        let mut b = String::new();
        let mut fields = vec![
            ("key", key),
            ("policy", policy_b64.as_str()),
            ("q-sign-algorithm", "sha1"),
            ("q-ak", common::SECRET_ID),
            ("q-key-time", key_time.as_str()),
            ("q-signature", sig),
        ];
        fields.extend_from_slice(extra);
        for (k, v) in fields {
            b.push_str(&format!(
                "--BND\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
            ));
        }
        b.push_str("--BND\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nform body\r\n--BND--\r\n");
        b
    };
    let r = Req::new("POST", "/")
        .unsigned()
        .header("Content-Type", "multipart/form-data; boundary=BND")
        .body(form(
            "up/${filename}",
            &sig,
            &[("x-cos-server-side-encryption", "cos/kms")],
        ))
        .send(a);
    r.assert_status(204);
    assert_eq!(r.exact("x-cos-server-side-encryption"), Some("cos/kms"));
    let g = Req::new("GET", "/up/a.txt").send(a);
    assert_eq!(g.body, b"form body");
    assert_eq!(g.exact("x-cos-server-side-encryption"), Some("cos/kms"));
    assert_eq!(g.exact("Content-Type"), Some("text/plain"));
    Req::new("POST", "/")
        .unsigned()
        .header("Content-Type", "multipart/form-data; boundary=BND")
        .body(form("up/x", &"0".repeat(40), &[]))
        .send(a)
        .assert_error(403, "SignatureDoesNotMatch");
    Req::new("POST", "/")
        .unsigned()
        .header("Content-Type", "multipart/form-data; boundary=BND")
        .body(form("other/x", &sig, &[]))
        .send(a)
        .assert_error(403, "AccessDenied");
    Req::new("POST", "/")
        .unsigned()
        .header("Content-Type", "multipart/form-data; boundary=BND")
        .body(form(
            "up/y",
            &sig,
            &[("x-cos-server-side-encryption", "nope")],
        ))
        .send(a)
        .assert_error(400, "InvalidArgument");
}

#[test]
fn post_object_ssec_fields_over_plain_http_are_refused() {
    use base64::Engine as _;
    let gw = start(Options {
        tls: false,
        allow_ssec_over_http: false,
        bucket_keys: Default::default(),
    });
    let a = gw.addr;
    create_bucket(a);
    let now = cos_gateway::wire::now_secs();
    let key_time = format!("{};{}", now - 10, now + 600);
    let policy = serde_json::json!({
        "expiration": "2999-01-01T00:00:00.000Z",
        "conditions": [{"bucket": common::BUCKET}, ["starts-with", "$key", ""]]
    })
    .to_string();
    let policy_b64 = base64::engine::general_purpose::STANDARD.encode(&policy);
    let sig = cos_gateway::auth::sign_post_policy(
        &cos_gateway::auth::SecretKey::new(common::SECRET_KEY),
        &key_time,
        policy.as_bytes(),
    );
    let key_b64 = base64::engine::general_purpose::STANDARD.encode(K1);
    let form = |sig: &str, extra: (&str, &str)| {
        let mut b = String::new();
        for (k, v) in [
            ("key", "k"),
            ("policy", policy_b64.as_str()),
            ("q-sign-algorithm", "sha1"),
            ("q-ak", common::SECRET_ID),
            ("q-key-time", key_time.as_str()),
            ("q-signature", sig),
            extra,
        ] {
            b.push_str(&format!(
                "--BND\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
            ));
        }
        b.push_str("--BND\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nbody\r\n--BND--\r\n");
        b
    };
    let post = |body: String| {
        Req::new("POST", "/")
            .unsigned()
            .header("Content-Type", "multipart/form-data; boundary=BND")
            .body(body)
            .send(a)
    };
    // Only the key field (no algorithm field), in any case: refused, before the policy is checked.
    for name in [
        "x-cos-server-side-encryption-customer-key",
        "X-Cos-Server-Side-Encryption-Customer-Key-MD5",
    ] {
        post(form(&sig, (name, &key_b64))).assert_error(400, "InvalidRequest");
        post(form(&"0".repeat(40), (name, &key_b64))).assert_error(400, "InvalidRequest");
    }
    Req::new("GET", "/k").send(a).assert_error(404, "NoSuchKey");
    // Without SSE-C material the same form is accepted.
    let r = post(form(&sig, ("x-cos-meta-a", "b")));
    r.assert_status(204);
}

#[test]
fn post_object_is_refused_before_its_file_is_read() {
    use std::io::Write as _;
    let gw = start_with_bucket();
    let a = gw.addr;
    let good = post_policy(serde_json::json!([["starts-with", "$key", ""]]));
    let bad_sig = (good.0.clone(), good.1.clone(), "0".repeat(40));
    let unknown_op = post_policy(serde_json::json!([["in", "$key", ["k"]]]));
    for (policy, status, code) in [
        (&bad_sig, 403, "SignatureDoesNotMatch"),
        (&unknown_op, 400, "InvalidPolicyDocument"),
    ] {
        // A form that announces a 1 GiB file and sends 1 KiB of it: the refusal must come without
        // waiting for (or holding) the rest.
        let mut body = form_head(policy, "k", &[]);
        let declared = body.len() + (1 << 30);
        body.extend_from_slice(&[b'x'; 1024]);
        let head = Req::new("POST", "/")
            .unsigned()
            .without_length()
            .header("Content-Type", "multipart/form-data; boundary=BND")
            .header("Content-Length", &declared.to_string())
            .head();
        let mut s = std::net::TcpStream::connect(a).unwrap();
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&body).unwrap();
        read_error_response(&mut s, std::time::Duration::from_secs(20)).assert_error(status, code);
    }
    Req::new("GET", "/k").send(a).assert_error(404, "NoSuchKey");
}

#[test]
fn post_object_streams_its_file_within_the_policy_limits() {
    let gw = start_with_bucket();
    let a = gw.addr;
    let max = 1_000_000usize;
    let policy = post_policy(serde_json::json!([
        ["starts-with", "$key", "up/"],
        ["content-length-range", 5, max]
    ]));
    let sse = [("x-cos-server-side-encryption", "AES256")];
    // Under the minimum: EntityTooSmall, nothing stored.
    post_form(a, form(&policy, "up/small", &[], b"abc", &[])).assert_error(400, "EntityTooSmall");
    Req::new("GET", "/up/small")
        .send(a)
        .assert_error(404, "NoSuchKey");
    // Over the maximum, plain and encrypted: EntityTooLarge, nothing stored.
    let big = vec![b'z'; max + 1];
    for extra in [&[][..], &sse[..]] {
        post_form(a, form(&policy, "up/big", extra, &big, &[])).assert_error(400, "EntityTooLarge");
        Req::new("GET", "/up/big")
            .send(a)
            .assert_error(404, "NoSuchKey");
    }
    // At the maximum, encrypted, in many chunks: stored whole.
    let data: Vec<u8> = (0..max).map(|i| (i % 251) as u8).collect();
    let r = post_form(a, form(&policy, "up/max", &sse, &data, &[]));
    r.assert_status(204);
    assert_eq!(r.exact("x-cos-server-side-encryption"), Some("AES256"));
    let g = Req::new("GET", "/up/max").send(a);
    assert_eq!(g.body, data);
    assert_eq!(g.exact("Content-Type"), Some("application/x-test"));
    // Fields after the file are ignored (the file comes last): neither the metadata nor the key.
    let r = post_form(
        a,
        form(
            &policy,
            "up/first",
            &[],
            b"hello",
            &[("x-cos-meta-late", "1"), ("key", "up/second")],
        ),
    );
    r.assert_status(204);
    let g = Req::new("GET", "/up/first").send(a);
    assert_eq!(g.body, b"hello");
    assert!(g.get("x-cos-meta-late").is_none(), "{}", g.head);
    Req::new("GET", "/up/second")
        .send(a)
        .assert_error(404, "NoSuchKey");
    // A file part that never ends (no closing boundary): refused, nothing stored.
    let mut cut = form_head(&policy, "up/cut", &[]);
    cut.extend_from_slice(b"hello world");
    post_form(a, cut).assert_error(400, "InvalidArgument");
    Req::new("GET", "/up/cut")
        .send(a)
        .assert_error(404, "NoSuchKey");
    // A signed policy that is not JSON.
    let not_json = {
        use base64::Engine as _;
        let (_, key_time, _) = &policy;
        let sig = cos_gateway::auth::sign_post_policy(
            &cos_gateway::auth::SecretKey::new(common::SECRET_KEY),
            key_time,
            b"not json",
        );
        (
            base64::engine::general_purpose::STANDARD.encode(b"not json"),
            key_time.clone(),
            sig,
        )
    };
    post_form(a, form(&not_json, "up/j", &[], b"hello", &[]))
        .assert_error(400, "InvalidPolicyDocument");
    // An unknown condition operator is refused, not skipped.
    let unknown = post_policy(serde_json::json!([["not-in", "$key", ["x"]]]));
    post_form(a, form(&unknown, "up/u", &[], b"hello", &[]))
        .assert_error(400, "InvalidPolicyDocument");
    Req::new("GET", "/up/u")
        .send(a)
        .assert_error(404, "NoSuchKey");
}

#[test]
fn post_object_fields_before_the_file_are_bounded() {
    let gw = start_with_bucket();
    let a = gw.addr;
    let policy = post_policy(serde_json::json!([["starts-with", "$key", ""]]));
    let over = "v".repeat(cos_gateway::ops::post::MAX_FORM_FIELDS + 1);
    post_form(
        a,
        form(&policy, "k", &[("x-cos-meta-big", &over)], b"hello", &[]),
    )
    .assert_error(400, "MaxPostPreDataLengthExceeded");
    Req::new("GET", "/k").send(a).assert_error(404, "NoSuchKey");
    // Large, but under the bound: accepted.
    let under = "v".repeat(cos_gateway::ops::post::MAX_FORM_FIELDS / 2);
    let r = post_form(
        a,
        form(&policy, "k", &[("x-cos-meta-big", &under)], b"hello", &[]),
    );
    r.assert_status(204);
}

#[test]
fn post_object_duplicate_fields_are_refused() {
    let gw = start_with_bucket();
    let a = gw.addr;
    let policy = post_policy(serde_json::json!([
        {"bucket": common::BUCKET},
        ["starts-with", "$key", "uploads/"],
        {"Content-Type": "text/plain"},
        {"x-cos-server-side-encryption": "AES256"}
    ]));
    let honest = [
        ("Content-Type", "text/plain"),
        ("x-cos-server-side-encryption", "AES256"),
    ];
    // `key` then `Key`: the policy must not see one and the write use the other.
    let mut extra = vec![("Key", "uploads/x")];
    extra.extend_from_slice(&honest);
    let r = post_form(a, form(&policy, "evil", &extra, b"hello", &[]));
    r.assert_error(400, "InvalidArgument");
    assert!(String::from_utf8_lossy(&r.body).contains("key"), "{r:?}");
    for k in ["evil", "uploads/x"] {
        Req::new("GET", &format!("/{k}"))
            .send(a)
            .assert_error(404, "NoSuchKey");
    }
    // A second Content-Type or SSE field, in another case or the same: refused too.
    for (dup, field) in [
        (("content-type", "text/html"), "content-type"),
        (("Content-Type", "text/plain"), "content-type"),
        (
            ("X-Cos-Server-Side-Encryption", "cos/kms"),
            "x-cos-server-side-encryption",
        ),
    ] {
        let mut extra = honest.to_vec();
        extra.push(dup);
        let r = post_form(a, form(&policy, "uploads/d", &extra, b"hello", &[]));
        r.assert_error(400, "InvalidArgument");
        assert!(
            String::from_utf8_lossy(&r.body).contains(field),
            "{dup:?}: {r:?}"
        );
    }
    Req::new("GET", "/uploads/d")
        .send(a)
        .assert_error(404, "NoSuchKey");
    // The honest form: stored, with the policy's content type and SSE.
    let r = post_form(a, form(&policy, "uploads/ok", &honest, b"hello", &[]));
    r.assert_status(204);
    let g = Req::new("GET", "/uploads/ok").send(a);
    assert_eq!(g.body, b"hello");
    assert_eq!(g.exact("Content-Type"), Some("text/plain"));
    assert_eq!(g.exact("x-cos-server-side-encryption"), Some("AES256"));
}

#[test]
fn post_object_bucket_field_never_chooses_the_bucket() {
    let gw = start_with_bucket();
    let a = gw.addr;
    let other = "otherbucket-1250000000";
    Req::new("PUT", "/")
        .host(&format!("{other}.cos.ap-beijing.myqcloud.com"))
        .send(a)
        .assert_status(200);
    // A policy for the other bucket, posted to BUCKET with a `bucket` field naming the other one.
    let policy = post_policy(serde_json::json!([
        {"bucket": other},
        ["starts-with", "$key", "uploads/"]
    ]));
    for name in ["bucket", "Bucket"] {
        let r = post_form(
            a,
            form(&policy, "uploads/x", &[(name, other)], b"hello", &[]),
        );
        r.assert_error(400, "InvalidArgument");
        assert!(String::from_utf8_lossy(&r.body).contains("bucket"), "{r:?}");
    }
    // Without the field, the policy sees the request's bucket, not the other one.
    post_form(a, form(&policy, "uploads/x", &[], b"hello", &[])).assert_error(403, "AccessDenied");
    for host in [
        common::HOST.to_owned(),
        format!("{other}.cos.ap-beijing.myqcloud.com"),
    ] {
        Req::new("GET", "/uploads/x")
            .host(&host)
            .send(a)
            .assert_error(404, "NoSuchKey");
    }
    // A `bucket` field naming the request's own bucket is checked by the policy as usual.
    let own = post_policy(serde_json::json!([
        {"bucket": common::BUCKET},
        ["starts-with", "$key", "uploads/"]
    ]));
    post_form(
        a,
        form(
            &own,
            "uploads/y",
            &[("bucket", common::BUCKET)],
            b"hello",
            &[],
        ),
    )
    .assert_status(204);
    assert_eq!(Req::new("GET", "/uploads/y").send(a).body, b"hello");
}

#[test]
fn post_object_tagging_field() {
    let gw = start_with_bucket();
    let a = gw.addr;
    let policy = post_policy(serde_json::json!([
        {"bucket": common::BUCKET},
        ["starts-with", "$key", "t"],
        ["starts-with", "$x-cos-tagging", ""]
    ]));
    let r = post_form(
        a,
        form(
            &policy,
            "tagged",
            &[("x-cos-tagging", "a=1&b=x%2Fy")],
            b"abc",
            &[],
        ),
    );
    assert!(r.status / 100 == 2, "{}", r.text());
    let r = Req::new("GET", "/tagged?tagging").send(a);
    assert!(
        r.text().ends_with("<TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b</Key><Value>x/y</Value></Tag></TagSet></Tagging>"),
        "{}",
        r.text()
    );
    assert_eq!(
        Req::new("HEAD", "/tagged")
            .send(a)
            .get("x-cos-tagging-count"),
        Some("2")
    );
    let r = post_form(
        a,
        form(
            &policy,
            "tbad",
            &[("x-cos-tagging", "a=1&a=2")],
            b"abc",
            &[],
        ),
    );
    r.assert_error(400, "InvalidTag");
    Req::new("HEAD", "/tbad").send(a).assert_status(404);
}

#[test]
fn post_object_storage_class_field() {
    let gw = start_with_bucket();
    let a = gw.addr;
    let policy = post_policy(serde_json::json!([
        {"bucket": common::BUCKET},
        ["starts-with", "$key", "c"],
        ["starts-with", "$x-cos-storage-class", ""]
    ]));
    let r = post_form(
        a,
        form(
            &policy,
            "classed",
            &[("x-cos-storage-class", "STANDARD_IA")],
            b"abc",
            &[],
        ),
    );
    assert!(r.status / 100 == 2, "{}", r.text());
    let r = Req::new("HEAD", "/classed").send(a);
    assert_eq!(r.exact("x-cos-storage-class"), Some("STANDARD_IA"));
    let r = post_form(
        a,
        form(
            &policy,
            "cbad",
            &[("x-cos-storage-class", "GLACIER")],
            b"abc",
            &[],
        ),
    );
    r.assert_error(400, "InvalidArgument");
    Req::new("HEAD", "/cbad").send(a).assert_status(404);
}

#[test]
fn post_object_acl_fields() {
    let gw = start_with_bucket();
    let a = gw.addr;
    let policy = post_policy(serde_json::json!([
        {"bucket": common::BUCKET},
        ["starts-with", "$key", "p"],
        ["starts-with", "$acl", ""]
    ]));
    let r = post_form(
        a,
        form(&policy, "public", &[("acl", "public-read")], b"abc", &[]),
    );
    assert!(r.status / 100 == 2, "{}", r.text());
    let r = Req::new("GET", "/public").unsigned().send(a);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"abc"[..]));
    assert!(
        Req::new("GET", "/public?acl")
            .send(a)
            .text()
            .contains("<URI>http://cam.qcloud.com/groups/global/AllUsers</URI>")
    );
    let r = post_form(
        a,
        form(
            &policy,
            "pbad",
            &[("acl", "public-read-write")],
            b"abc",
            &[],
        ),
    );
    r.assert_error(400, "InvalidArgument");
    Req::new("HEAD", "/pbad").send(a).assert_status(404);
}

/// `key=${filename}` with no file chosen (a browser sends `filename=""`) would name an object "",
/// which no listing shows and no DELETE can name: refused, and nothing is stored.
#[test]
fn post_object_key_empty_once_the_filename_is_put_in_is_refused() {
    let gw = start_with_bucket();
    let a = gw.addr;
    let policy = post_policy(serde_json::json!([{ "bucket": common::BUCKET }]));
    let body = form(&policy, "${filename}", &[], b"x", &[]);
    let body = String::from_utf8(body)
        .unwrap()
        .replace("filename=\"f.bin\"", "filename=\"\"");
    let r = post_form(a, body.into_bytes());
    r.assert_error(400, "InvalidArgument");
    assert!(r.text().contains("key is empty"), "{}", r.text());
    let listed = Req::new("GET", "/").send(a);
    assert!(!listed.text().contains("<Contents>"), "{}", listed.text());
    Req::new("DELETE", "/").send(a).assert_status(204);
}
