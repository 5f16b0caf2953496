//! A Tencent API action from its POST body on (`kms_server::fuzzing::TencentActions`): the body as
//! JSON (`json_params`), the typed parameters (`lenient::u32` and the rest of `params.rs`), each
//! action's own checks, the gRPC service's method and the core, then the envelope; the same code
//! the server runs, over a KMS of its own (development mode, so no signature) opened once per
//! process in `$TMPDIR/cos-kms-fuzz-tencent_action-<pid>`, with the keys of
//! `kms_server::fuzzing::TENCENT_FUZZ_SEED` (`alias/fuzz-aes`, `alias/fuzz-sm2`, ...).
//!
//! Input: the action name (`X-TC-Action`) up to the first newline; the rest is the body.
//!
//! Invariants: nothing panics; every answer is a Tencent envelope (`Response` with a
//! `RequestId`) holding either the action's fields or an `Error` whose `Code` is one the API
//! documents (`tencent::wire::code::is_sent`) and never `InternalError` (no input is a server
//! fault); an Encrypt that succeeds decrypts, under the same context, to its plaintext.
//!
//! The KMS keeps what the inputs do to it (keys made, disabled, scheduled for deletion), so an
//! input that fails only after others may not fail alone: rerun the crash input after the
//! scratch corpus to reproduce it.
#![no_main]

use std::sync::OnceLock;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use kms_server::{fuzzing::TencentActions, tencent::wire::code};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn api() -> &'static TencentActions {
    static API: OnceLock<TencentActions> = OnceLock::new();
    API.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!(
            "cos-kms-fuzz-tencent_action-{}",
            std::process::id()
        ));
        TencentActions::open(&dir).expect("a KMS opens in a fresh temporary directory")
    })
}

/// The answer's `Response`, checked to be an envelope: its fields or an error with a code the API
/// documents (other than InternalError).
fn response(action: &str, body: &[u8], answer: &[u8]) -> Value {
    let envelope: Value = serde_json::from_slice(answer)
        .unwrap_or_else(|e| panic!("{action}: the answer is not JSON ({e})"));
    let Some(Value::Object(response)) = envelope.get("Response") else {
        panic!("{action}: no Response object in {envelope}");
    };
    assert!(
        response.get("RequestId").is_some_and(Value::is_string),
        "{action}: no RequestId in {envelope}"
    );
    if let Some(error) = response.get("Error") {
        let code = error["Code"].as_str().unwrap_or_default();
        assert!(
            error["Message"].is_string(),
            "{action}: an error without a message: {envelope}"
        );
        assert!(
            code::is_sent(code) && code != code::INTERNAL_ERROR,
            "{action} {:?}: code {code:?} ({})",
            String::from_utf8_lossy(body),
            error["Message"]
        );
    }
    Value::Object(response.clone())
}

fuzz_target!(|data: &[u8]| {
    let (action, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(action) = std::str::from_utf8(action) else {
        return;
    };
    let api = api();
    let Some(answer) = api.post(action, body) else {
        return;
    };
    let r = response(action, body, &answer);
    if action != "Encrypt" || r.get("Error").is_some() {
        return;
    }
    // A sealed plaintext opens under the context it was sealed with.
    let params: Value = serde_json::from_slice(body).expect("the server took it as JSON");
    let plaintext = STANDARD
        .decode(
            params["Plaintext"]
                .as_str()
                .expect("Encrypt took it as text"),
        )
        .expect("Encrypt took it as base64");
    let decrypt = serde_json::json!({
        "CiphertextBlob": r["CiphertextBlob"],
        "EncryptionContext": params.get("EncryptionContext").cloned().unwrap_or(Value::Null),
    });
    let decrypt = serde_json::to_vec(&decrypt).expect("a JSON value encodes");
    let answer = api
        .post("Decrypt", &decrypt)
        .expect("Decrypt is a header value");
    let opened = response("Decrypt", &decrypt, &answer);
    let opened = opened["Plaintext"]
        .as_str()
        .unwrap_or_else(|| panic!("a sealed plaintext does not open: {opened}"));
    assert_eq!(STANDARD.decode(opened).ok(), Some(plaintext));
});
