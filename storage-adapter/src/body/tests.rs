//! The streams' batching and buffer reuse, end to end through both directions.

use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt as _};

use super::{BodyKeys, Completion, DecryptStream, EncryptStream, ReadPlan};
use crate::crypto::Key32;
use crate::envelope::{self, Layout};
use crate::error::{Error, Result};
use crate::stream::{ENCRYPTED_SEGMENT_SIZE, SEGMENT_SIZE, SegmentSealer, stored_size};

const E: usize = ENCRYPTED_SEGMENT_SIZE;

fn keys(total: u64) -> (Arc<BodyKeys>, Key32) {
    let oek = Key32::from_array(&[3; 32]);
    let content_id = [4u8; 32];
    let ck = envelope::content_key(&oek, &content_id);
    (
        Arc::new(BodyKeys::new(oek, content_id, Layout::Single, total)),
        ck,
    )
}

fn chunks(data: Vec<u8>, chunk: usize) -> impl Stream<Item = std::io::Result<Bytes>> + Unpin {
    crate::object::bytes_stream(Bytes::from(data), chunk)
}

struct Done;
impl Completion for Done {
    type Output = (u64, u64);
    fn complete(self, plain: u64, stored: u64) -> Result<(u64, u64)> {
        Ok((plain, stored))
    }
}

#[test]
fn output_buffers_are_reused_once_dropped() {
    let n = 64 * SEGMENT_SIZE;
    let (keys, ck) = keys(n as u64);
    let mut enc = EncryptStream::new(chunks(vec![5u8; n], 1 << 20), &ck, Done);
    let mut stored = Vec::new();
    let mut ptrs = Vec::new();
    futures::executor::block_on(async {
        while let Some(item) = enc.next().await {
            let item = item.unwrap();
            ptrs.push(item.as_ptr());
            stored.extend_from_slice(&item);
        }
    });
    assert_eq!(enc.finish().unwrap(), (n as u64, stored_size(n as u64)));
    assert!(
        ptrs.len() >= 4 && ptrs.len() <= 6,
        "batched: {} items",
        ptrs.len()
    );
    assert!(
        ptrs[1..].iter().all(|p| *p == ptrs[1]),
        "a dropped batch's buffer is reused"
    );
    let plan = ReadPlan::new(&keys, None).unwrap();
    let mut dec = DecryptStream::new(chunks(stored, 1 << 20), keys, plan);
    let mut ptrs = Vec::new();
    futures::executor::block_on(async {
        while let Some(item) = dec.next().await {
            let item = item.unwrap();
            assert!(item.iter().all(|&b| b == 5));
            ptrs.push(item.as_ptr());
        }
    });
    assert!(
        ptrs.len() >= 4 && ptrs.len() <= 8,
        "batched: {} items",
        ptrs.len()
    );
    assert!(ptrs[1..].iter().all(|p| *p == ptrs[1]));
}

#[test]
fn held_items_keep_their_bytes() {
    // Downstream keeps every item: each keeps its own buffer, nothing is overwritten.
    let n = 40 * SEGMENT_SIZE + 9;
    let plain: Vec<u8> = (0..n).map(|i| (i % 253) as u8).collect();
    let (keys, ck) = keys(n as u64);
    let mut enc = EncryptStream::new(chunks(plain.clone(), 1 << 20), &ck, Done);
    let items: Vec<Bytes> = futures::executor::block_on(async {
        let mut v = Vec::new();
        while let Some(item) = enc.next().await {
            v.push(item.unwrap());
        }
        v
    });
    let stored: Vec<u8> = items.iter().flat_map(|b| b.iter().copied()).collect();
    assert_eq!(crate::stream::open_all(&ck, &stored).unwrap(), plain);
    let plan = ReadPlan::new(&keys, None).unwrap();
    let mut dec = DecryptStream::new(chunks(stored, 1 << 20), keys, plan);
    let items: Vec<Bytes> = futures::executor::block_on(async {
        let mut v = Vec::new();
        while let Some(item) = dec.next().await {
            v.push(item.unwrap());
        }
        v
    });
    let back: Vec<u8> = items.iter().flat_map(|b| b.iter().copied()).collect();
    assert_eq!(back, plain);
}

#[test]
fn final_flag_in_the_middle_of_a_batch_fails() {
    // Segment 2 of 5 carries the final flag (sealed by a misbehaving writer under the same key).
    let n = 5 * SEGMENT_SIZE;
    let (keys, ck) = keys(n as u64);
    let seg = vec![7u8; SEGMENT_SIZE];
    let mut stored = vec![0u8; 5 * E];
    let mut sealer = SegmentSealer::new(&ck);
    sealer.seal_next_to(&seg, &mut stored[..E]).unwrap();
    sealer.seal_next_to(&seg, &mut stored[E..2 * E]).unwrap();
    sealer
        .seal_final_to(&seg, &mut stored[2 * E..3 * E])
        .unwrap();
    // The rest sealed correctly by an honest sealer (indices 3, 4).
    let honest = crate::stream::seal_all(&ck, &vec![7u8; n]).unwrap();
    stored[3 * E..].copy_from_slice(&honest[3 * E..]);
    let plan = ReadPlan::new(&keys, None).unwrap();
    let mut dec = DecryptStream::new(chunks(stored, 64 << 20), keys, plan);
    let (out, err) = futures::executor::block_on(async {
        let mut out = Vec::new();
        while let Some(item) = dec.next().await {
            match item {
                Ok(b) => out.extend_from_slice(&b),
                Err(e) => return (out, Some(e)),
            }
        }
        (out, None)
    });
    assert!(matches!(err, Some(Error::Decrypt)));
    assert_eq!(out.len(), 2 * SEGMENT_SIZE, "only the segments before it");
}

#[test]
fn a_failed_open_in_a_batch_leaves_its_slot_zeroed() {
    let n = 10 * SEGMENT_SIZE;
    let (keys, ck) = keys(n as u64);
    let mut stored = crate::stream::seal_all(&ck, &vec![9u8; n]).unwrap();
    stored[6 * E + 100] ^= 1;
    let plan = ReadPlan::new(&keys, None).unwrap();
    let mut dec = DecryptStream::new(chunks(stored, 64 << 20), keys, plan);
    futures::executor::block_on(async {
        let first = dec.next().await.unwrap().unwrap();
        assert_eq!(first.len(), 6 * SEGMENT_SIZE);
        drop(first);
        assert!(matches!(dec.next().await, Some(Err(Error::Decrypt))));
        assert!(dec.next().await.is_none());
    });
    // The batch buffer is back in the pool: the failed segment's plaintext slot is all zero.
    let idle = dec.pool.0.lock().unwrap();
    let buf = idle.last().expect("the buffer went back to the pool");
    assert!(buf[..6 * SEGMENT_SIZE].iter().all(|&b| b == 9));
    assert!(
        buf[6 * SEGMENT_SIZE..7 * SEGMENT_SIZE]
            .iter()
            .all(|&b| b == 0)
    );
}
