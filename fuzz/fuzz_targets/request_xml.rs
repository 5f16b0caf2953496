//! Request XML (`cos_gateway::xml::parse`) and the documents read from it: the bucket encryption
//! configuration, Complete Multipart Upload, DELETE Multiple Objects, PUT Object tagging's
//! `Tagging` (and the `x-cos-tagging` header) and POST Object restore's `RestoreRequest`, on
//! arbitrary bytes.
//!
//! Invariants: an accepted tree respects the element and depth bounds; an accepted Complete
//! request lists at least one part; an accepted Delete request names 1 to 1,000 non-empty keys;
//! an accepted tag set is within COS's limits, keys unique, and reads back the same from the
//! document the gateway writes for it (as written when no key or value has outer spaces); an
//! accepted restore asks for 1 to 365 days.
#![no_main]

use cos_gateway::tagging;
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
    if let Ok(tags) = tagging::parse_document(data) {
        check_tags(&tags);
    }
    if let Ok(restore) = cos_gateway::restore::RestoreRequest::parse(data) {
        assert!((1..=cos_gateway::restore::MAX_DAYS).contains(&restore.days));
    }
    if let Ok(tags) = std::str::from_utf8(data).map(tagging::parse_header) {
        if let Ok(tags) = tags {
            check_tags(&tags);
        }
    }
});

/// The limits of an accepted tag set, and its round trip through the response document.
fn check_tags(tags: &cos_gateway::store::Tags) {
    assert!(tags.len() <= tagging::MAX_TAGS);
    for (i, (k, v)) in tags.iter().enumerate() {
        assert!((1..=tagging::MAX_KEY_CHARS).contains(&k.chars().count()));
        assert!(v.chars().count() <= tagging::MAX_VALUE_CHARS);
        assert!(tags[..i].iter().all(|(seen, _)| seen != k));
    }
    let doc = cos_gateway::documents::to_xml("Tagging", &tagging::Tagging::of(tags))
        .expect("a checked tag set serializes");
    let back = tagging::parse_document(doc.as_bytes()).expect("the written document reads back");
    // The XML reader trims text, so only untrimmed-free tags read back byte for byte.
    if tags.iter().all(|(k, v)| k.trim() == k && v.trim() == v) {
        assert_eq!(&back, tags);
    }
}
