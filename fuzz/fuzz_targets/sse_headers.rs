//! The SSE request headers (`storage_adapter::sse`): every operation's parser on a header map made
//! of the input's `name: value` lines (values may be any bytes a header value can hold), and the
//! POST form variant on the same pairs.
//!
//! Invariants: an accepted SSE-KMS context is kept exactly as sent and is accepted again; an
//! accepted SSE-C key matches the MD5 sent with it; the echo headers of any accepted request are
//! valid header values; every refusal maps to a COS error code and a 4xx status.
#![no_main]

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use storage_adapter::sse::{self, SseRequest};
use storage_adapter::{Error, KmsContext};

fn refused(e: &Error) {
    assert!(
        e.http_status().is_client_error(),
        "{e:?} is not a client error"
    );
    assert!(!e.cos_code().as_str().is_empty());
}

fn check_request(headers: &HeaderMap, parsed: &Result<Option<SseRequest>, Error>) {
    match parsed {
        Err(e) => refused(e),
        Ok(None) => {}
        Ok(Some(SseRequest::Kms { context, .. })) => {
            if let Some(c) = context {
                let sent = headers
                    .get(sse::SSE_CONTEXT)
                    .and_then(|v| v.to_str().ok())
                    .expect("a context came from its header");
                assert_eq!(c.as_base64(), sent, "the context is kept as sent");
                assert_eq!(KmsContext::from_base64(sent).ok().as_ref(), Some(c));
            }
        }
        Ok(Some(SseRequest::Customer(key))) => {
            let md5 = headers
                .get(sse::SSE_C_KEY_MD5)
                .and_then(|v| v.to_str().ok())
                .expect("a key came with its MD5");
            // Decoded as the adapter reads it: padding-indifferent (`kms_types::B64_LENIENT`), so
            // `...g=` with one pad is the same MD5 as `...g==`.
            let md5 = kms_types::B64_LENIENT.decode(md5.trim()).expect("base64");
            assert_eq!(&md5[..], key.md5());
        }
        Ok(Some(SseRequest::Cos)) => {}
    }
    if let Ok(Some(request)) = parsed {
        let key_id = match request {
            SseRequest::Kms { key_id, .. } => key_id.as_deref(),
            _ => None,
        };
        let md5 = match request {
            SseRequest::Customer(k) => Some(k.md5()),
            _ => None,
        };
        for (name, value) in sse::echo_headers(request.mode(), key_id, md5) {
            assert!(HeaderName::from_bytes(name.as_bytes()).is_ok(), "{name}");
            assert!(value.to_str().is_ok());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    let mut pairs = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        else {
            continue;
        };
        if let (Ok(n), Ok(v)) = (std::str::from_utf8(&line[..colon]), value.to_str()) {
            pairs.push((n.to_owned(), v.to_owned()));
        }
        headers.append(name, value);
    }
    check_request(&headers, &sse::parse_write(&headers));
    match sse::parse_copy(&headers) {
        Ok(copy) => check_request(&headers, &Ok(copy.destination)),
        Err(e) => refused(&e),
    }
    for parsed in [sse::parse_read(&headers), sse::parse_upload_part(&headers)] {
        if let Err(e) = parsed {
            refused(&e);
        }
    }
    if let Err(e) = sse::parse_upload_part_copy(&headers) {
        refused(&e);
    }
    let form = sse::parse_post_form(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if let Err(e) = &form {
        refused(e);
    }
    let bucket = sse::BucketEncryption::Kms {
        key_id: None,
        bucket_key: true,
    };
    let _ = sse::apply_bucket_default(form.ok().flatten(), Some(&bucket));
});
