//! Request XML (`cos_gateway::xml::parse`) and the documents read from it: the bucket encryption
//! configuration, Complete Multipart Upload and DELETE Multiple Objects, on arbitrary bytes.
//!
//! Invariants: an accepted tree respects the element and depth bounds; an accepted Complete
//! request lists at least one part; an accepted Delete request names 1 to 1,000 non-empty keys.
#![no_main]

use cos_gateway::xml::{self, Element};
use libfuzzer_sys::fuzz_target;

/// (elements, depth) of a tree.
fn shape(e: &Element) -> (usize, usize) {
    e.children
        .iter()
        .map(shape)
        .fold((1, 1), |(n, d), (cn, cd)| (n + cn, d.max(cd + 1)))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(root) = xml::parse(data) {
        let (elements, depth) = shape(&root);
        assert!(elements <= xml::MAX_ELEMENTS, "{elements} elements");
        assert!(depth <= xml::MAX_DEPTH, "{depth} deep");
    }
    let _ = cos_gateway::ops::bucket::parse_encryption(data);
    if let Ok(parts) = cos_gateway::fuzzing::complete_multipart(data) {
        assert!(!parts.is_empty());
    }
    if let Ok(delete) = cos_gateway::ops::delete_objects::parse(data) {
        let n = delete.objects.len();
        assert!((1..=cos_gateway::ops::delete_objects::MAX_DELETE_KEYS).contains(&n));
        assert!(delete.objects.iter().all(|o| !o.key.is_empty()));
    }
});
