//! Header parsing: one test per error, with the exact COS code and HTTP status.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::{HeaderMap, HeaderValue, StatusCode};
use storage_adapter::sse::{self, BucketEncryption, SseMode, SseRequest};
use storage_adapter::{CosErrorCode, Error};

/// The COS docs' example key ("0123456789ABCDEF0123456789ABCDEF") and its MD5.
const DOC_KEY: &str = "MDEyMzQ1Njc4OUFCQ0RFRjAxMjM0NTY3ODlBQkNERUY=";
const DOC_MD5: &str = "U5L61r7jcwdNvT7frmUG8g==";

fn map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn ssec(prefix: &str, alg: &str, key: &str, md5: &str) -> Vec<(String, String)> {
    vec![
        (format!("{prefix}-algorithm"), alg.into()),
        (format!("{prefix}-key"), key.into()),
        (format!("{prefix}-key-MD5"), md5.into()),
    ]
}

fn owned(pairs: &[(String, String)]) -> HeaderMap {
    let v: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    map(&v)
}

const C: &str = "x-cos-server-side-encryption-customer";
const CS: &str = "x-cos-copy-source-server-side-encryption-customer";

fn assert_code(e: Error, code: CosErrorCode, status: StatusCode, name: &str) {
    assert_eq!(e.cos_code(), code, "{e}");
    assert_eq!(e.cos_code().as_str(), name);
    assert_eq!(e.http_status(), status, "{e}");
    let text = e.to_string();
    assert!(
        !text.contains(DOC_KEY),
        "the key must never appear in errors"
    );
}

fn b64json(s: &str) -> String {
    B64.encode(s)
}

#[test]
fn doc_example_key_parses_with_its_md5() {
    let h = owned(&ssec(C, "AES256", DOC_KEY, DOC_MD5));
    let Some(SseRequest::Customer(key)) = sse::parse_write(&h).unwrap() else {
        panic!("expected SSE-C");
    };
    assert_eq!(key.md5_base64(), DOC_MD5);
    let dbg = format!("{key:?}");
    assert!(dbg.contains("REDACTED") && !dbg.contains("0123456789"));
}

/// Seed 004 prints the key without its final `=` (and people type MD5s without `==`): COS takes
/// both, the MD5 still guards the key, on write, read and copy source alike.
#[test]
fn customer_key_and_md5_without_padding_parse_everywhere() {
    let bare_key = DOC_KEY.trim_end_matches('=');
    let bare_md5 = DOC_MD5.trim_end_matches('=');
    assert_eq!(bare_key.len(), DOC_KEY.len() - 1);
    for (key, md5) in [
        (bare_key, DOC_MD5),
        (DOC_KEY, bare_md5),
        (bare_key, bare_md5),
    ] {
        let Some(SseRequest::Customer(k)) =
            sse::parse_write(&owned(&ssec(C, "AES256", key, md5))).unwrap()
        else {
            panic!("expected SSE-C");
        };
        assert_eq!(k.md5_base64(), DOC_MD5);
        let read = sse::parse_read(&owned(&ssec(C, "AES256", key, md5))).unwrap();
        assert_eq!(read.unwrap().md5_base64(), DOC_MD5);
        let copy = sse::parse_copy(&owned(&ssec(CS, "AES256", key, md5))).unwrap();
        assert_eq!(copy.source_customer_key.unwrap().md5_base64(), DOC_MD5);
    }
    // Without padding the MD5 still has to match.
    let e = sse::parse_write(&owned(&ssec(
        C,
        "AES256",
        bare_key,
        B64.encode([7u8; 16]).trim_end_matches('='),
    )))
    .unwrap_err();
    assert!(
        e.to_string().contains("the key MD5 does not match the key"),
        "{e}"
    );
    assert_code(
        e,
        CosErrorCode::InvalidArgument,
        StatusCode::BAD_REQUEST,
        "InvalidArgument",
    );
}

#[test]
fn no_headers_is_none_and_modes_parse() {
    assert!(sse::parse_write(&HeaderMap::new()).unwrap().is_none());
    let cos = sse::parse_write(&map(&[(sse::SSE, "AES256")]))
        .unwrap()
        .unwrap();
    assert_eq!(cos.mode(), SseMode::Cos);
    let ctx = b64json(r#"{"a":"asdfa","b":"123321"}"#);
    let kms = sse::parse_write(&map(&[
        (sse::SSE, "cos/kms"),
        (sse::SSE_KMS_KEY_ID, "key-1"),
        (sse::SSE_CONTEXT, &ctx),
    ]))
    .unwrap()
    .unwrap();
    let SseRequest::Kms {
        key_id,
        context,
        bucket_key: false,
    } = kms
    else {
        panic!()
    };
    assert_eq!(key_id.as_deref(), Some("key-1"));
    assert_eq!(context.unwrap().as_base64(), ctx);
    // The spec's own example context.
    let doc = "eyJhIjoiYXNkZmEiLCJiIjoiMTIzMzIxIn0=";
    assert!(sse::parse_write(&map(&[(sse::SSE, "cos/kms"), (sse::SSE_CONTEXT, doc)])).is_ok());
}

#[test]
fn unknown_sse_algorithm_is_invalid_argument() {
    for v in ["foo", "aes256", "SM4", ""] {
        let e = sse::parse_write(&map(&[(sse::SSE, v)])).unwrap_err();
        assert_code(
            e,
            CosErrorCode::InvalidArgument,
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
        );
    }
}

#[test]
fn context_not_base64_is_invalid_argument() {
    let e =
        sse::parse_write(&map(&[(sse::SSE, "cos/kms"), (sse::SSE_CONTEXT, "@@@")])).unwrap_err();
    assert!(matches!(e, Error::InvalidContext(_)));
    assert_code(
        e,
        CosErrorCode::InvalidArgument,
        StatusCode::BAD_REQUEST,
        "InvalidArgument",
    );
}

#[test]
fn context_not_json_object_is_invalid_argument() {
    for body in ["not json", "[1,2]", "\"s\"", "42"] {
        let ctx = b64json(body);
        let e =
            sse::parse_write(&map(&[(sse::SSE, "cos/kms"), (sse::SSE_CONTEXT, &ctx)])).unwrap_err();
        assert!(matches!(e, Error::InvalidContext(_)), "{body}");
        assert_code(
            e,
            CosErrorCode::InvalidArgument,
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
        );
    }
}

#[test]
fn context_with_non_string_values_is_invalid_argument() {
    let ctx = b64json(r#"{"a":1}"#);
    let e = sse::parse_write(&map(&[(sse::SSE, "cos/kms"), (sse::SSE_CONTEXT, &ctx)])).unwrap_err();
    assert_code(
        e,
        CosErrorCode::InvalidArgument,
        StatusCode::BAD_REQUEST,
        "InvalidArgument",
    );
}

#[test]
fn context_too_long_is_invalid_argument() {
    let long = format!(r#"{{"a":"{}"}}"#, "x".repeat(1024));
    let ctx = b64json(&long);
    let e = sse::parse_write(&map(&[(sse::SSE, "cos/kms"), (sse::SSE_CONTEXT, &ctx)])).unwrap_err();
    assert_code(
        e,
        CosErrorCode::InvalidArgument,
        StatusCode::BAD_REQUEST,
        "InvalidArgument",
    );
}

#[test]
fn context_with_reserved_name_is_invalid_argument() {
    let ctx = b64json(&format!(r#"{{"{}":"b/k"}}"#, sse::RESERVED_CONTEXT_KEY));
    let e = sse::parse_write(&map(&[(sse::SSE, "cos/kms"), (sse::SSE_CONTEXT, &ctx)])).unwrap_err();
    assert!(e.to_string().contains("reserved"));
    assert_code(
        e,
        CosErrorCode::InvalidArgument,
        StatusCode::BAD_REQUEST,
        "InvalidArgument",
    );
}

#[test]
fn kms_key_id_without_cos_kms_is_invalid_argument() {
    for h in [
        map(&[(sse::SSE_KMS_KEY_ID, "k")]),
        map(&[(sse::SSE, "AES256"), (sse::SSE_KMS_KEY_ID, "k")]),
    ] {
        let e = sse::parse_write(&h).unwrap_err();
        assert_code(
            e,
            CosErrorCode::InvalidArgument,
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
        );
    }
}

#[test]
fn customer_key_not_base64_on_write_is_invalid_argument() {
    let e = sse::parse_write(&owned(&ssec(C, "AES256", "!!notbase64!!", DOC_MD5))).unwrap_err();
    assert!(matches!(e, Error::InvalidCustomerKey { .. }));
    assert_code(
        e,
        CosErrorCode::InvalidArgument,
        StatusCode::BAD_REQUEST,
        "InvalidArgument",
    );
}

#[test]
fn customer_key_wrong_length_on_write_is_invalid_argument() {
    let short = B64.encode([1u8; 16]);
    let md5 = B64.encode(<md5::Md5 as md5::Digest>::digest([1u8; 16]));
    let e = sse::parse_write(&owned(&ssec(C, "AES256", &short, &md5))).unwrap_err();
    assert!(e.to_string().contains("32 bytes"));
    assert_code(
        e,
        CosErrorCode::InvalidArgument,
        StatusCode::BAD_REQUEST,
        "InvalidArgument",
    );
}

#[test]
fn customer_key_md5_mismatch_on_write_is_invalid_argument() {
    let other = B64.encode([0u8; 16]);
    let e = sse::parse_write(&owned(&ssec(C, "AES256", DOC_KEY, &other))).unwrap_err();
    assert!(e.to_string().contains("MD5"));
    assert_code(
        e,
        CosErrorCode::InvalidArgument,
        StatusCode::BAD_REQUEST,
        "InvalidArgument",
    );
}

#[test]
fn customer_algorithm_not_aes256_on_write_is_invalid_argument() {
    let e = sse::parse_write(&owned(&ssec(C, "AES128", DOC_KEY, DOC_MD5))).unwrap_err();
    assert_code(
        e,
        CosErrorCode::InvalidArgument,
        StatusCode::BAD_REQUEST,
        "InvalidArgument",
    );
}

#[test]
fn incomplete_customer_headers_on_write_is_invalid_argument() {
    let mut h = ssec(C, "AES256", DOC_KEY, DOC_MD5);
    h.remove(2);
    let e = sse::parse_write(&owned(&h)).unwrap_err();
    assert!(e.to_string().contains("must all be present"));
    assert_code(
        e,
        CosErrorCode::InvalidArgument,
        StatusCode::BAD_REQUEST,
        "InvalidArgument",
    );
}

#[test]
fn customer_key_with_sse_header_is_invalid_argument() {
    let mut h = ssec(C, "AES256", DOC_KEY, DOC_MD5);
    h.push((sse::SSE.into(), "AES256".into()));
    let e = sse::parse_write(&owned(&h)).unwrap_err();
    assert_code(
        e,
        CosErrorCode::InvalidArgument,
        StatusCode::BAD_REQUEST,
        "InvalidArgument",
    );
}

#[test]
fn sse_header_on_get_is_sse_header_not_allowed() {
    for v in ["AES256", "cos/kms"] {
        let e = sse::parse_read(&map(&[(sse::SSE, v)])).unwrap_err();
        assert!(matches!(e, Error::SseHeaderNotAllowed));
        assert_code(
            e,
            CosErrorCode::SseHeaderNotAllowed,
            StatusCode::BAD_REQUEST,
            "SSEHeaderNotAllowed",
        );
    }
}

#[test]
fn bad_customer_headers_on_read_are_ssec_decrypt_header_invalid() {
    let cases = [
        ssec(C, "AES128", DOC_KEY, DOC_MD5),
        ssec(C, "AES256", "@@@", DOC_MD5),
        ssec(C, "AES256", &B64.encode([0u8; 31]), DOC_MD5),
        ssec(C, "AES256", DOC_KEY, &B64.encode([0u8; 16])),
        ssec(C, "AES256", DOC_KEY, "short"),
        ssec(C, "AES256", DOC_KEY, DOC_MD5)[..2].to_vec(),
    ];
    for case in cases {
        let e = sse::parse_read(&owned(&case)).unwrap_err();
        assert_code(
            e,
            CosErrorCode::SsecDecryptHeaderInvalid,
            StatusCode::BAD_REQUEST,
            "SsecDecryptHeaderInvalid",
        );
    }
    assert!(
        sse::parse_read(&owned(&ssec(C, "AES256", DOC_KEY, DOC_MD5)))
            .unwrap()
            .is_some()
    );
    assert!(sse::parse_read(&HeaderMap::new()).unwrap().is_none());
}

#[test]
fn copy_parses_source_and_destination_separately() {
    let mut h = ssec(CS, "AES256", DOC_KEY, DOC_MD5);
    h.push((sse::SSE.into(), "cos/kms".into()));
    let c = sse::parse_copy(&owned(&h)).unwrap();
    assert_eq!(c.source_customer_key.unwrap().md5_base64(), DOC_MD5);
    assert_eq!(c.destination.unwrap().mode(), SseMode::Kms);
    // A bad source key is a read-side error.
    let e =
        sse::parse_copy(&owned(&ssec(CS, "AES256", DOC_KEY, &B64.encode([7u8; 16])))).unwrap_err();
    assert_code(
        e,
        CosErrorCode::SsecDecryptHeaderInvalid,
        StatusCode::BAD_REQUEST,
        "SsecDecryptHeaderInvalid",
    );
    // No destination header: not inherited, the bucket default applies.
    let c = sse::parse_copy(&owned(&ssec(CS, "AES256", DOC_KEY, DOC_MD5))).unwrap();
    assert!(c.destination.is_none());
}

#[test]
fn upload_part_and_part_copy_headers() {
    assert!(
        sse::parse_upload_part(&map(&[(sse::SSE, "AES256")]))
            .unwrap()
            .is_none()
    );
    let k = sse::parse_upload_part(&owned(&ssec(C, "AES256", DOC_KEY, DOC_MD5))).unwrap();
    assert!(k.is_some());
    let mut h = ssec(CS, "AES256", DOC_KEY, DOC_MD5);
    h.extend(ssec(C, "AES256", DOC_KEY, DOC_MD5));
    let c = sse::parse_upload_part_copy(&owned(&h)).unwrap();
    assert!(c.source_customer_key.is_some() && c.destination_customer_key.is_some());
}

#[test]
fn post_form_fields_are_matched_case_insensitively() {
    let r = sse::parse_post_form([
        ("X-Cos-Server-Side-Encryption", "cos/kms"),
        ("x-cos-server-side-encryption-cos-kms-key-id", "k1"),
        ("key", "object.txt"),
    ])
    .unwrap()
    .unwrap();
    assert!(matches!(r, SseRequest::Kms { key_id: Some(ref k), .. } if k == "k1"));
    let e = sse::parse_post_form([("x-cos-server-side-encryption", "bogus")]).unwrap_err();
    assert_code(
        e,
        CosErrorCode::InvalidArgument,
        StatusCode::BAD_REQUEST,
        "InvalidArgument",
    );
    assert!(sse::parse_post_form([("key", "a")]).unwrap().is_none());
}

#[test]
fn bucket_default_applies_only_without_request_sse() {
    let kms_default = BucketEncryption::Kms {
        key_id: Some("bk".into()),
        bucket_key: false,
    };
    let r = sse::apply_bucket_default(None, Some(&kms_default)).unwrap();
    assert!(matches!(r, SseRequest::Kms { key_id: Some(ref k), .. } if k == "bk"));
    let r = sse::apply_bucket_default(Some(SseRequest::Cos), Some(&kms_default)).unwrap();
    assert_eq!(r.mode(), SseMode::Cos);
    let r = sse::apply_bucket_default(None, Some(&BucketEncryption::Aes256)).unwrap();
    assert_eq!(r.mode(), SseMode::Cos);
    assert!(sse::apply_bucket_default(None, None).is_none());
}

#[test]
fn echo_headers_per_mode() {
    let h = sse::echo_headers(SseMode::Cos, Some("svc"), None);
    assert_eq!(
        h,
        vec![(
            "x-cos-server-side-encryption",
            HeaderValue::from_static("AES256")
        )]
    );
    let h = sse::echo_headers(SseMode::Kms, Some("cmk-1"), None);
    assert_eq!(h[0].1, "cos/kms");
    assert_eq!(
        h[1],
        (
            "x-cos-server-side-encryption-cos-kms-key-id",
            HeaderValue::from_static("cmk-1")
        )
    );
    let md5 = [0x53u8; 16];
    let h = sse::echo_headers(SseMode::Customer, None, Some(&md5));
    assert_eq!(
        h[0],
        (
            "x-cos-server-side-encryption-customer-algorithm",
            HeaderValue::from_static("AES256")
        )
    );
    assert_eq!(h[1].0, "x-cos-server-side-encryption-customer-key-MD5");
    assert_eq!(h[1].1, B64.encode(md5).as_str());
}

#[test]
fn debug_output_never_shows_context_values_or_customer_keys() {
    // {"tenant":"very-private-value"}
    let ctx =
        storage_adapter::KmsContext::from_base64("eyJ0ZW5hbnQiOiJ2ZXJ5LXByaXZhdGUtdmFsdWUifQ==")
            .unwrap();
    let shown = format!("{ctx:?}");
    assert!(shown.contains("tenant"), "{shown}");
    assert!(!shown.contains("very-private-value"), "{shown}");
    assert!(!shown.contains("eyJ0"), "{shown}");
}
