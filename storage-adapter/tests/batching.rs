//! The batched, out-of-place fast path of `EncryptStream` / `DecryptStream`: whole segments inside
//! one input chunk are sealed or opened straight from the chunk, up to 16 per yielded item.
//!
//! Chunk sizes that are multiples of the segment size, smaller than it, and straddling its
//! boundaries; chunks of varying sizes with empty ones between; range reads; and tampering inside a
//! batch (only the verified segments before the bad one are released, then the error).

mod common;

use bytes::Bytes;
use common::*;
use futures::StreamExt as _;
use storage_adapter::object::bytes_stream;
use storage_adapter::{Envelope, Error, SseRequest};

/// Stored bytes of a full segment.
const E: usize = S + 16;
/// At most this many stored bytes per encrypted item (16 segments).
const MAX_ITEM: usize = 16 * E;

/// Chunk sizes: smaller than a segment, exact multiples, straddling, and much larger.
const CHUNKS: &[usize] = &[
    1000,
    S - 1,
    S,
    S + 1,
    E,
    2 * S,
    3 * S + 5,
    4 * E,
    1 << 20,
    (1 << 20) + 7,
    5 << 20,
];

/// A stream of chunks whose sizes cycle through `sizes`, with an empty chunk after each.
fn uneven_stream(
    data: Bytes,
    sizes: &'static [usize],
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Unpin {
    let mut chunks = Vec::new();
    let (mut off, mut i) = (0, 0);
    while off < data.len() {
        let n = sizes[i % sizes.len()].min(data.len() - off);
        chunks.push(Ok(data.slice(off..off + n)));
        chunks.push(Ok(Bytes::new()));
        off += n;
        i += 1;
    }
    futures::stream::iter(chunks)
}

/// Encrypts with the given input stream; checks every item is whole segments and at most a batch.
async fn encrypt<St>(req: &SseRequest, input: St, plain_len: usize) -> (Vec<u8>, Envelope)
where
    St: futures::Stream<Item = std::io::Result<Bytes>> + Unpin,
{
    let (a, _) = adapter();
    let mut s = a.begin_put(req, NAME).await.unwrap().encrypt_stream(input);
    let mut stored = Vec::new();
    let mut items = Vec::new();
    while let Some(item) = s.next().await {
        let item = item.unwrap();
        assert!(!item.is_empty(), "no empty items");
        items.push(item.len());
        stored.extend_from_slice(&item);
    }
    let env = s.finish().unwrap();
    assert_eq!(env.plain_size(), plain_len as u64);
    assert_eq!(stored.len() as u64, env.stored_size());
    for (i, len) in items.iter().enumerate() {
        assert!(
            *len <= MAX_ITEM,
            "item {i} of {len} bytes is larger than a batch"
        );
        if i + 1 < items.len() {
            assert_eq!(len % E, 0, "item {i} is not whole segments");
        }
    }
    (stored, env)
}

async fn decrypt_all<St>(env: &Envelope, req: &SseRequest, input: St) -> (Vec<u8>, Option<Error>)
where
    St: futures::Stream<Item = std::io::Result<Bytes>> + Unpin,
{
    let (a, _) = adapter();
    // SSE-C: the key travels with the request and the adapters share the server's verifier key,
    // so a fresh adapter can open the envelope.
    let obj = a.open(env, NAME, customer_of(req).as_ref()).await.unwrap();
    let mut s = obj.decrypt_stream(obj.plan(None).unwrap(), input);
    let mut out = Vec::new();
    while let Some(item) = s.next().await {
        match item {
            Ok(b) => {
                assert!(!b.is_empty(), "no empty items");
                assert!(b.len() <= 16 * S, "a plaintext item is at most a batch");
                out.extend_from_slice(&b);
            }
            Err(e) => {
                assert!(s.next().await.is_none(), "nothing after the error");
                return (out, Some(e));
            }
        }
    }
    (out, None)
}

fn req() -> SseRequest {
    SseRequest::Customer(customer(9))
}

#[tokio::test]
async fn round_trips_across_chunk_sizes() {
    let req = req();
    for &n in &[
        0,
        1,
        S - 1,
        S,
        S + 1,
        16 * S,
        16 * S + 1,
        17 * S,
        40 * S + 123,
    ] {
        let plain = Bytes::from(data(n, (n % 251) as u8));
        let (reference, env) = encrypt(&req, bytes_stream(plain.clone(), S), n).await;
        let (back, err) =
            decrypt_all(&env, &req, bytes_stream(Bytes::from(reference.clone()), E)).await;
        assert!(err.is_none());
        assert_eq!(back, plain, "n {n}");
        for &chunk in CHUNKS {
            let (stored, env) = encrypt(&req, bytes_stream(plain.clone(), chunk), n).await;
            for &dchunk in CHUNKS {
                let (back, err) = decrypt_all(
                    &env,
                    &req,
                    bytes_stream(Bytes::from(stored.clone()), dchunk),
                )
                .await;
                assert!(
                    err.is_none(),
                    "n {n} chunk {chunk} dchunk {dchunk}: {err:?}"
                );
                assert!(back == plain, "n {n} chunk {chunk} dchunk {dchunk}");
            }
        }
    }
}

#[tokio::test]
async fn uneven_chunks_with_empty_ones_between() {
    const SIZES: &[usize] = &[7, S, 3 * S + 1, 1 << 20, S - 7, 2 * E, 1, 5 * S];
    let req = req();
    let n = 50 * S + 999;
    let plain = Bytes::from(data(n, 3));
    let (stored, env) = encrypt(&req, uneven_stream(plain.clone(), SIZES), n).await;
    let (back, err) = decrypt_all(&env, &req, uneven_stream(Bytes::from(stored), SIZES)).await;
    assert!(err.is_none());
    assert!(back == plain);
}

#[tokio::test]
async fn range_reads_through_batches() {
    let req = req();
    let n = 40 * S + 321;
    let plain = data(n, 5);
    let (stored, env) = encrypt(&req, bytes_stream(Bytes::from(plain.clone()), 1 << 20), n).await;
    let (a, _) = adapter();
    let obj = a
        .open(&env, NAME, customer_of(&req).as_ref())
        .await
        .unwrap();
    let ranges = [
        0..n as u64,
        1..n as u64 - 1,
        S as u64 - 1..S as u64 + 1,
        3 * S as u64 + 17..35 * S as u64 + 5,
        16 * S as u64..32 * S as u64,
        n as u64 - 1..n as u64,
        0..1,
    ];
    for r in ranges {
        let plan = obj.plan(Some(r.clone())).unwrap();
        let sr = plan.stored_range();
        let part = Bytes::copy_from_slice(&stored[sr.start as usize..sr.end as usize]);
        for chunk in [1000, E, 1 << 20, 64 << 20] {
            let mut s = obj.decrypt_stream(plan.clone(), bytes_stream(part.clone(), chunk));
            let mut out = Vec::new();
            while let Some(item) = s.next().await {
                let item = item.unwrap();
                assert!(!item.is_empty());
                out.extend_from_slice(&item);
            }
            assert!(
                out[..] == plain[r.start as usize..r.end as usize],
                "range {r:?} chunk {chunk}"
            );
        }
        assert_eq!(
            obj.decrypt_bytes(plan, &part).unwrap(),
            plain[r.start as usize..r.end as usize]
        );
    }
}

#[tokio::test]
async fn tamper_inside_a_batch_releases_only_the_verified_prefix() {
    let req = req();
    let count = 40;
    let n = count * S - 100;
    let plain = data(n, 11);
    let (stored, env) = encrypt(&req, bytes_stream(Bytes::from(plain.clone()), 1 << 20), n).await;
    for seg in [0, 1, 5, 15, 16, 17, 31, 32, 39] {
        for offset in [0, S / 2, S + 15] {
            let pos = seg * E + offset;
            if pos >= stored.len() {
                continue;
            }
            let mut t = stored.clone();
            t[pos] ^= 0x20;
            // Whole body in one chunk (full batches), 1 MiB chunks, and segment-sized chunks.
            for chunk in [t.len(), 1 << 20, E] {
                let (out, err) =
                    decrypt_all(&env, &req, bytes_stream(Bytes::from(t.clone()), chunk)).await;
                assert!(
                    matches!(err, Some(Error::Decrypt)),
                    "seg {seg} offset {offset} chunk {chunk}"
                );
                assert_eq!(
                    out.len(),
                    seg * S,
                    "seg {seg} offset {offset} chunk {chunk}"
                );
                assert!(out[..] == plain[..seg * S], "released bytes are authentic");
            }
        }
    }
}

#[tokio::test]
async fn reordering_truncation_and_extension_fail_with_big_chunks() {
    let req = req();
    let n = 20 * S + 77;
    let plain = data(n, 13);
    let (stored, env) = encrypt(&req, bytes_stream(Bytes::from(plain.clone()), 1 << 20), n).await;
    let whole = |t: Vec<u8>| bytes_stream(Bytes::from(t), 64 << 20);

    // Swap segments 3 and 4 (inside the first batch).
    let mut t = stored.clone();
    let (a, b) = t[3 * E..5 * E].split_at_mut(E);
    a.swap_with_slice(b);
    let (out, err) = decrypt_all(&env, &req, whole(t)).await;
    assert!(matches!(err, Some(Error::Decrypt)));
    assert!(out[..] == plain[..3 * S]);

    // Repeat segment 2 in place of segment 18 (second batch).
    let mut t = stored.clone();
    let copy = t[2 * E..3 * E].to_vec();
    t[18 * E..19 * E].copy_from_slice(&copy);
    let (out, err) = decrypt_all(&env, &req, whole(t)).await;
    assert!(matches!(err, Some(Error::Decrypt)));
    assert!(out[..] == plain[..18 * S]);

    // Drop the final segment: the plan expects more (truncation).
    let t = stored[..20 * E].to_vec();
    let (out, err) = decrypt_all(&env, &req, whole(t)).await;
    assert!(matches!(err, Some(Error::Decrypt)));
    assert!(out.len() <= 20 * S && out[..] == plain[..out.len()]);

    // Truncate inside a segment.
    let t = stored[..10 * E + 100].to_vec();
    let (out, err) = decrypt_all(&env, &req, whole(t)).await;
    assert!(matches!(err, Some(Error::Decrypt)));
    assert!(out[..] == plain[..10 * S]);

    // Append bytes after the final segment: everything authentic may be released, then the error.
    for extra in [1, 16, E] {
        let mut t = stored.clone();
        t.extend(std::iter::repeat_n(0u8, extra));
        for chunk in [64 << 20, 1 << 20, 1000] {
            let (out, err) =
                decrypt_all(&env, &req, bytes_stream(Bytes::from(t.clone()), chunk)).await;
            assert!(
                matches!(err, Some(Error::Decrypt)),
                "extra {extra} chunk {chunk}"
            );
            assert!(out[..] == plain[..out.len()]);
        }
    }
}

/// An input error in the middle of a batch is passed on and ends the stream.
#[tokio::test]
async fn input_errors_end_the_stream() {
    let req = req();
    let chunks: Vec<std::io::Result<Bytes>> = vec![
        Ok(Bytes::from(vec![1u8; 3 * S + 5])),
        Err(std::io::Error::other("disk")),
        Ok(Bytes::from(vec![1u8; S])),
    ];
    let (a, _) = adapter();
    let mut s = a
        .begin_put(&req, NAME)
        .await
        .unwrap()
        .encrypt_stream(futures::stream::iter(chunks));
    let mut seen_err = false;
    while let Some(item) = s.next().await {
        if item.is_err() {
            seen_err = true;
        }
    }
    assert!(seen_err);
    assert!(s.finish().is_err(), "no envelope for a failed body");
}

/// With 1 MiB input chunks, items carry many segments (the fast path is taken), encrypt and decrypt.
#[tokio::test]
async fn big_chunks_are_batched() {
    let req = req();
    let n = 64 * S;
    let plain = Bytes::from(data(n, 17));
    let (a, _) = adapter();
    let mut s = a
        .begin_put(&req, NAME)
        .await
        .unwrap()
        .encrypt_stream(bytes_stream(plain.clone(), 1 << 20));
    let mut stored = Vec::new();
    let mut items = 0;
    while let Some(item) = s.next().await {
        stored.extend_from_slice(&item.unwrap());
        items += 1;
    }
    assert!(items <= 6, "64 segments in {items} items");
    let env = s.finish().unwrap();
    let obj = a
        .open(&env, NAME, customer_of(&req).as_ref())
        .await
        .unwrap();
    let mut d = obj.decrypt_stream(
        obj.plan(None).unwrap(),
        bytes_stream(Bytes::from(stored), 1 << 20),
    );
    let mut items = 0;
    let mut back = Vec::new();
    while let Some(item) = d.next().await {
        back.extend_from_slice(&item.unwrap());
        items += 1;
    }
    assert!(items <= 8, "64 segments in {items} items");
    assert!(back == plain);
}

/// `encrypt_reader` / `decrypt_reader` read a batch at a time; full reads take the fast path.
#[tokio::test]
async fn async_read_round_trip_of_many_batches() {
    let req = req();
    let n = 40 * S + 3;
    let plain = data(n, 19);
    let (a, _) = adapter();
    let mut s = a
        .begin_put(&req, NAME)
        .await
        .unwrap()
        .encrypt_reader(&plain[..]);
    let mut stored = Vec::new();
    while let Some(item) = s.next().await {
        let item = item.unwrap();
        assert!(item.len() <= MAX_ITEM);
        stored.extend_from_slice(&item);
    }
    let env = s.finish().unwrap();
    let obj = a
        .open(&env, NAME, customer_of(&req).as_ref())
        .await
        .unwrap();
    for r in [0..n as u64, 5..(33 * S) as u64 + 1] {
        let plan = obj.plan(Some(r.clone())).unwrap();
        let sr = plan.stored_range();
        let mut d = obj.decrypt_reader(plan, &stored[sr.start as usize..sr.end as usize]);
        let mut out = Vec::new();
        while let Some(item) = d.next().await {
            out.extend_from_slice(&item.unwrap());
        }
        assert!(out[..] == plain[r.start as usize..r.end as usize]);
    }
}
