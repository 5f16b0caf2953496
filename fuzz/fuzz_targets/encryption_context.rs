//! The encryption context (`kms_types::EncryptionContext`): its JSON form and its wire form
//! (base64 of the JSON), on arbitrary bytes.
//!
//! Invariants for every accepted context: printing it and parsing the print gives it back (JSON,
//! base64, and from its pairs), so what one side accepts the other accepts too; its canonical
//! encoding (the AAD) has the announced length and decodes back to the same pairs, so two
//! different contexts never bind alike.
#![no_main]

use kms_types::EncryptionContext;
use libfuzzer_sys::fuzz_target;

fn be32(bytes: &[u8], at: &mut usize) -> usize {
    let n = u32::from_be_bytes(bytes[*at..*at + 4].try_into().expect("4 bytes"));
    *at += 4;
    n as usize
}

/// Reads the canonical encoding back into pairs.
fn decode_canonical(bytes: &[u8]) -> Vec<(String, String)> {
    let mut at = 0;
    let count = be32(bytes, &mut at);
    let mut pairs = Vec::with_capacity(count);
    for _ in 0..count {
        let mut text = || {
            let n = be32(bytes, &mut at);
            let s = std::str::from_utf8(&bytes[at..at + n])
                .expect("UTF-8")
                .to_owned();
            at += n;
            s
        };
        let name = text();
        let value = text();
        pairs.push((name, value));
    }
    assert_eq!(at, bytes.len(), "trailing bytes in the canonical encoding");
    pairs
}

fn check(parsed: Result<EncryptionContext, kms_types::Error>) {
    let Ok(context) = parsed else { return };
    let json = context.to_json();
    assert_eq!(
        EncryptionContext::from_json(&json).ok().as_ref(),
        Some(&context)
    );
    assert_eq!(
        EncryptionContext::from_base64(&context.to_base64())
            .ok()
            .as_ref(),
        Some(&context)
    );
    let pairs: Vec<(String, String)> = context
        .pairs()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(
        EncryptionContext::try_from_pairs(pairs.clone())
            .ok()
            .as_ref(),
        Some(&context)
    );
    let canonical = context.canonical();
    assert_eq!(canonical.len(), context.canonical_len());
    assert_eq!(decode_canonical(&canonical), pairs);
    assert_eq!(context.is_empty(), pairs.is_empty());
}

fuzz_target!(|data: &[u8]| {
    check(EncryptionContext::from_json(data));
    if let Ok(text) = std::str::from_utf8(data) {
        check(EncryptionContext::from_base64(text));
    }
});
