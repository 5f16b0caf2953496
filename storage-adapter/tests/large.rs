//! A streamed 1 GiB body: encrypt to a file, decrypt back, with a bounded-memory assertion.
//!
//! Its own test binary, so the process's peak RSS (`VmHWM`) measures only this test.

mod common;

use std::io::{Read as _, Seek as _, SeekFrom, Write as _};

use bytes::Bytes;
use common::*;
use futures::StreamExt as _;
use storage_adapter::SseRequest;

const GIB: u64 = 1 << 30;
const PATTERN: usize = 1 << 20;

/// Peak resident set size of this process, in bytes (Linux).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[tokio::test(flavor = "current_thread")]
async fn one_gib_body_streams_in_bounded_memory() {
    let pattern = Bytes::from(data(PATTERN, 77));
    let baseline = peak_rss();
    let (a, _) = adapter();
    // tmpfs when available: the test measures the adapter, not the disk.
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .unwrap();
    let path = dir.path().join("body");

    // Encrypt: 1024 chunks of 1 MiB (views of one buffer) -> file.
    let chunks = (GIB as usize) / PATTERN;
    let p = pattern.clone();
    let input = futures::stream::iter((0..chunks).map(move |_| Ok::<_, std::io::Error>(p.clone())));
    let mut enc = a
        .begin_put(&SseRequest::Customer(customer(3)), NAME)
        .await
        .unwrap()
        .encrypt_stream(input);
    // Plain std I/O with big buffers: the test measures the adapter, not tokio's blocking pool.
    let mut file =
        std::io::BufWriter::with_capacity(4 << 20, std::fs::File::create(&path).unwrap());
    while let Some(seg) = enc.next().await {
        file.write_all(&seg.unwrap()).unwrap();
    }
    file.flush().unwrap();
    drop(file);
    let env = enc.finish().unwrap();
    assert_eq!(env.plain_size(), GIB);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), env.stored_size());

    // Decrypt the whole body from the file and compare with the pattern.
    let obj = a.open(&env, NAME, Some(&customer(3))).await.unwrap();
    let mut file = std::fs::File::open(&path).unwrap();
    let reads = std::iter::from_fn(move || {
        let mut buf = vec![0u8; 4 << 20];
        let n = file.read(&mut buf).unwrap();
        buf.truncate(n);
        (n > 0).then(|| Ok::<_, std::io::Error>(Bytes::from(buf)))
    });
    let mut dec = obj.decrypt_stream(obj.plan(None).unwrap(), futures::stream::iter(reads));
    let mut pos = 0usize;
    while let Some(chunk) = dec.next().await {
        let chunk = chunk.unwrap();
        let mut c = &chunk[..];
        while !c.is_empty() {
            let off = pos % PATTERN;
            let n = c.len().min(PATTERN - off);
            assert!(c[..n] == pattern[off..off + n], "mismatch at {pos}");
            c = &c[n..];
            pos += n;
        }
    }
    assert_eq!(pos as u64, GIB);

    // A ranged read of the last KiB touches at most two segments.
    let plan = obj.plan(Some(GIB - 1024..GIB)).unwrap();
    assert!(plan.segments() <= 2);
    let r = plan.stored_range();
    let mut file = std::fs::File::open(&path).unwrap();
    file.seek(SeekFrom::Start(r.start)).unwrap();
    let mut stored = vec![0u8; (r.end - r.start) as usize];
    file.read_exact(&mut stored).unwrap();
    let tail = obj.decrypt_bytes(plan, &stored).unwrap();
    assert_eq!(tail, pattern[PATTERN - 1024..]);

    let grown = peak_rss().saturating_sub(baseline);
    eprintln!("peak RSS grew by {} KiB over a 1 GiB body", grown / 1024);
    assert!(
        grown < 32 << 20,
        "memory must be bounded by segments in flight, grew {grown} bytes"
    );
}
