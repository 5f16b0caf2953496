//! The envelope decoder (`storage_adapter::Envelope::from_bytes`) on arbitrary bytes, then the
//! adapter's open (KMS modes through a KMS that knows no key; SSE-C with the fixtures' key), the
//! way a stored object's metadata is read back.
//!
//! Invariants: decoding is strict (an accepted envelope encodes back to exactly the input, and its
//! base64 form decodes to the same envelope); an opened object plans its whole body within its
//! stored size.
#![no_main]

use cos_kms_fuzz::{adapter, customer_key, name};
use futures::executor::block_on;
use libfuzzer_sys::fuzz_target;
use storage_adapter::{Envelope, Layout, SseMode};

fuzz_target!(|data: &[u8]| {
    let Ok(env) = Envelope::from_bytes(data) else {
        return;
    };
    assert_eq!(
        env.to_bytes(),
        data,
        "an envelope must have exactly one encoding"
    );
    assert_eq!(
        Envelope::from_base64(&env.to_base64()).ok().as_ref(),
        Some(&env)
    );
    let key = customer_key();
    let _ = (env.response_headers(None), env.response_headers(Some(&key)));
    let _ = (
        env.kms_key_id(),
        env.kms_key_version(),
        env.context(),
        env.version(),
    );
    if let Layout::Multipart { parts, .. } = env.layout() {
        assert!(parts.len() <= 10_000);
    }
    let customer = (env.mode() == SseMode::Customer).then_some(&key);
    let Ok(object) = block_on(adapter().open(&env, name(), customer)) else {
        return;
    };
    let stored = env.stored_size();
    let plan = object
        .plan(None)
        .expect("a whole read of an opened object is planned");
    assert_eq!(plan.plain_range(), 0..env.plain_size());
    assert!(plan.stored_range().end <= stored);
});
