//! `Range` and `x-cos-copy-source-range` (`cos_gateway::ops::parse_range`, `parse_copy_range`),
//! and the read plan and decryption of the range they give on the fixed SSE-C objects.
//!
//! Input lines: an object size (decimal), a `Range` value, an `x-cos-copy-source-range` value.
//!
//! Invariants: an accepted range is non-empty and within the object; a refused `Range` is
//! `InvalidRange` (416) and a refused copy range `InvalidArgument`; on each fixture object, the
//! range is planned exactly and the genuine stored bytes of the plan decrypt to the object's
//! bytes of that range.
#![no_main]

use cos_gateway::ops::{parse_copy_range, parse_range};
use cos_kms_fuzz::{fixtures, lines, opened, plain_byte};
use libfuzzer_sys::fuzz_target;

fn within(r: &std::ops::Range<u64>, size: u64) {
    assert!(r.start < r.end && r.end <= size, "{r:?} of {size}");
}

fuzz_target!(|data: &[u8]| {
    let Some(lines) = lines(data) else { return };
    let size = lines
        .first()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let range = lines.get(1).copied();
    let copy = lines.get(2).copied();
    match parse_range(range, size) {
        Ok(Some(r)) => within(&r, size),
        Ok(None) => {}
        Err(e) => assert_eq!(e.code(), "InvalidRange"),
    }
    match parse_copy_range(copy, size) {
        Ok(Some(r)) => within(&r, size),
        Ok(None) => assert!(copy.is_none()),
        Err(e) => assert_eq!(e.code(), "InvalidArgument"),
    }
    for (object, (_, body)) in opened().iter().zip(fixtures()) {
        let Ok(Some(r)) = parse_range(range, object.plain_size()) else {
            continue;
        };
        let plan = object
            .plan(Some(r.clone()))
            .expect("a parsed range is planned");
        assert_eq!(plan.plain_range(), r);
        let s = plan.stored_range();
        let plain = object
            .decrypt_bytes(plan, &body[s.start as usize..s.end as usize])
            .expect("the genuine stored bytes of a range decrypt");
        let want: Vec<u8> = r.map(plain_byte).collect();
        assert_eq!(plain, want);
    }
});
