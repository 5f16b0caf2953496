//! Request XML (`cos_gateway::xml::parse`) and the documents read from it: the bucket encryption
//! configuration, Complete Multipart Upload, DELETE Multiple Objects, PUT Object tagging's
//! `Tagging` (and the `x-cos-tagging` header), POST Object restore's `RestoreRequest` and PUT
//! `?acl`'s `AccessControlPolicy` (and the `x-cos-grant-*` header lists), PUT `?versioning`'s
//! `VersioningConfiguration`, and (as text) a `versionId` and an `x-cos-copy-source` that may name
//! one, on arbitrary bytes.
//!
//! Invariants: an accepted tree respects the element and depth bounds; an accepted Complete
//! request lists at least one part; an accepted Delete request names 1 to 1,000 non-empty keys;
//! an accepted tag set is within COS's limits, keys unique, and reads back the same from the
//! document the gateway writes for it (as written when no key or value has outer spaces); an
//! accepted restore asks for 1 to 365 days; an accepted ACL has at most 100 grants, no object
//! `WRITE`, and reads back the same from the document the gateway writes for it; an accepted
//! versioning document is `Enabled` or `Suspended`; an accepted version id is `null` or 32
//! lowercase hex digits, and so is the one an accepted copy source names.
#![no_main]

use cos_gateway::xml::{self, Element};
use cos_gateway::{acl, tagging};
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
    for level in [acl::Level::Bucket, acl::Level::Object] {
        if let Ok(parsed) = acl::parse_document(data, level) {
            check_acl(&parsed, level);
        }
    }
    if let Ok(state) = cos_gateway::ops::versioning::parse_versioning(data) {
        assert!(state.status().is_some());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if cos_gateway::store::versions::check_version_id(text).is_ok() {
            check_version_id(text);
        }
        if let Ok((_, key, Some(version))) = cos_gateway::ops::parse_copy_source(text) {
            assert!(!key.is_empty());
            check_version_id(&version);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let lookup = |name: &str| (name == "x-cos-grant-read").then_some(text);
        if let Ok(Some(parsed)) = acl::from_fields(lookup, acl::Level::Object) {
            check_acl(&parsed, acl::Level::Object);
        }
    }
    if let Ok(tags) = std::str::from_utf8(data).map(tagging::parse_header) {
        if let Ok(tags) = tags {
            check_tags(&tags);
        }
    }
});

/// An accepted version id: `null`, or 32 lowercase hex digits (URL-safe, never a path).
fn check_version_id(id: &str) {
    assert!(
        id == "null"
            || (id.len() == 32
                && id
                    .bytes()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())),
        "{id:?}"
    );
}

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

/// The limits of an accepted ACL, and its round trip through the GET `?acl` document.
fn check_acl(parsed: &acl::Acl, level: acl::Level) {
    assert!(parsed.grants.len() <= acl::MAX_GRANTS);
    if level == acl::Level::Object {
        assert!(
            parsed
                .grants
                .iter()
                .all(|g| g.permission != acl::Permission::Write)
        );
    }
    let doc =
        cos_gateway::documents::to_xml("AccessControlPolicy", &acl::Acl::document(Some(parsed)))
            .expect("an accepted ACL serializes");
    let back = acl::parse_document(doc.as_bytes(), level).expect("the written document reads back");
    assert_eq!(&back, parsed);
}
