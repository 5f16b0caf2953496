//! POST Object's form (`multipart/form-data`) and policy: read, signature-checked and policy-checked
//! as the gateway does (`cos_gateway::fuzzing::post_form`), on arbitrary forms.
//!
//! Input: the `Content-Type` value on the first line, the body after it. Before parsing, a
//! `policy` field whose value is raw JSON is base64-encoded, and `@SIG@` is replaced by the
//! policy's correct signature for the first `q-key-time` field, so mutations reach the policy
//! checks past the signature.
//!
//! Invariants: the outcome (the form read, or the error's status) does not depend on how the body
//! is cut into chunks (the code may: a body both malformed and over the length range fails with
//! whichever the reader meets first, as it would on the wire); an accepted form has a non-empty key
//! and field names given once, in lower case.
#![no_main]

use base64::Engine as _;
use bytes::Bytes;
use cos_gateway::auth::{SecretKey, sign_post_policy};
use cos_kms_fuzz::{BUCKET, NOW, SECRET_KEY, SIGNATURE_PLACEHOLDER, credentials};
use futures::executor::block_on;
use libfuzzer_sys::fuzz_target;

/// The value of the first part named `name`: what follows its headers up to the next `\r\n--`.
fn field<'a>(body: &'a str, name: &str) -> Option<(usize, &'a str)> {
    let at = body.find(&format!("name=\"{name}\""))?;
    let start = at + body[at..].find("\r\n\r\n")? + 4;
    let len = body[start..].find("\r\n--")?;
    Some((start, &body[start..start + len]))
}

fn prepare(body: &str) -> String {
    let mut body = body.to_owned();
    if let Some((start, value)) = field(&body, "policy")
        && value.starts_with('{')
    {
        let encoded = base64::engine::general_purpose::STANDARD.encode(value);
        body.replace_range(start..start + value.len(), &encoded);
    }
    let key_time = field(&body, "q-key-time").map_or("", |(_, v)| v);
    let policy = field(&body, "policy").map_or("", |(_, v)| v);
    let Ok(policy) = base64::engine::general_purpose::STANDARD.decode(policy.trim()) else {
        return body;
    };
    let signature = sign_post_policy(&SecretKey::new(SECRET_KEY), key_time, &policy);
    body.replace(SIGNATURE_PLACEHOLDER, &signature)
}

fn outcome(content_type: &str, chunks: Vec<Bytes>) -> Result<String, String> {
    block_on(cos_gateway::fuzzing::post_form(
        content_type,
        chunks,
        credentials(),
        BUCKET,
        NOW,
    ))
    .map(|form| format!("{form:?}"))
    .map_err(|e| e.status().to_string())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some((content_type, body)) = text.split_once('\n') else {
        return;
    };
    let body = Bytes::from(prepare(body));
    let whole = outcome(content_type, vec![body.clone()]);
    let cut = (0..body.len())
        .step_by(5)
        .map(|i| body.slice(i..(i + 5).min(body.len())))
        .collect();
    assert_eq!(
        whole,
        outcome(content_type, cut),
        "the chunking changed the outcome"
    );
    if whole.is_ok() {
        let form = block_on(cos_gateway::fuzzing::post_form(
            content_type,
            vec![body],
            credentials(),
            BUCKET,
            NOW,
        ))
        .expect("accepted once");
        assert!(!form.key.is_empty());
        let mut names: Vec<&str> = form.fields.iter().map(|(k, _)| k.as_str()).collect();
        assert!(names.iter().all(|n| *n == n.to_ascii_lowercase()));
        names.sort_unstable();
        assert!(
            names.windows(2).all(|w| w[0] != w[1]),
            "a field given twice"
        );
    }
});
