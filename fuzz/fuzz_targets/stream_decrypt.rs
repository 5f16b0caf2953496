//! STREAM decryption of arbitrary stored bytes: a read (whole or ranged) of one of the fixed SSE-C
//! objects, fed to the streaming decrypter in chunks of a chosen size and to the in-memory one.
//!
//! Input: object index, flags (bit 0: ranged), range start and length (u32 LE), chunk size (u16
//! LE), then the stored bytes of the read (the seeds hold the genuine ones).
//!
//! Invariants: every plaintext byte released is the object's true byte at that offset (nothing
//! unauthenticated ever comes out); the streaming and in-memory decrypters agree on success; a
//! read that succeeds delivers exactly its range; the genuine stored bytes always succeed.
#![no_main]

use bytes::Bytes;
use cos_kms_fuzz::{fixtures, opened, plain_byte};
use futures::StreamExt as _;
use futures::executor::block_on;
use libfuzzer_sys::fuzz_target;
use storage_adapter::object::bytes_stream;

const HEADER: usize = 12;

fuzz_target!(|data: &[u8]| {
    if data.len() < HEADER {
        return;
    }
    let objects = opened();
    let n = usize::from(data[0]) % objects.len();
    let object = &objects[n];
    let u32_at = |at: usize| u64::from(u32::from_le_bytes(data[at..at + 4].try_into().expect("4")));
    let range = (data[1] & 1 == 1).then(|| u32_at(2)..u32_at(2) + u32_at(6));
    let chunk = usize::from(u16::from_le_bytes([data[10], data[11]])).max(1);
    let stored = &data[HEADER..];
    let plan = match object.plan(range.clone()) {
        Ok(plan) => plan,
        Err(e) => {
            let r = range.expect("a whole read is always planned");
            assert!(r.is_empty() || r.end > object.plain_size(), "{r:?}: {e:?}");
            return;
        }
    };
    let want = range.unwrap_or(0..object.plain_size());
    assert_eq!(plan.plain_range(), want);

    let mut released = Vec::new();
    let mut failed = false;
    let mut stream = object.decrypt_stream(
        plan.clone(),
        bytes_stream(Bytes::copy_from_slice(stored), chunk),
    );
    block_on(async {
        while let Some(item) = stream.next().await {
            match item {
                Ok(bytes) => released.extend_from_slice(&bytes),
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
    });
    for (i, b) in released.iter().enumerate() {
        assert_eq!(
            *b,
            plain_byte(want.start + i as u64),
            "byte {i} released is not the object's"
        );
    }
    let in_memory = object.decrypt_bytes(plan.clone(), stored);
    assert_eq!(in_memory.is_ok(), !failed, "the two decrypters disagree");
    if !failed {
        assert_eq!(released.len() as u64, want.end - want.start);
        assert_eq!(in_memory.expect("checked"), released);
    }
    let r = plan.stored_range();
    let genuine = &fixtures()[n].1[r.start as usize..r.end as usize];
    if stored == genuine {
        assert!(!failed, "the genuine stored bytes failed to decrypt");
    }
});
