//! Seed documents (YAML or JSON, `kms_server::Kms::seed`): parsed and planned against three
//! stored keys (`kms_server::fuzzing::seed_document`), on arbitrary text.
//!
//! Invariant: loading an accepted document a second time changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(document) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((_, again)) = kms_server::fuzzing::seed_document(document) {
        assert_eq!(again, 0, "loading a seed document again changed keys");
    }
});
