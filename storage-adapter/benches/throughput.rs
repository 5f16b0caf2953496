//! `cargo bench -p storage-adapter`: the adapter's throughput against the raw AES-256-GCM backends
//! (aws-lc and ring; the adapter uses the one `AeadBackend::current()` picks for this CPU),
//! measured in the same run. Figures and ratios are recorded in `bench/BENCHMARKS.md` (section "Object bodies").
//!
//! The raw lines are one 64 KiB buffer, hot in cache, in place and out of place (the adapter seals and
//! opens out of place); the adapter lines stream a 256 MiB body in 1 MiB input chunks.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt as _;
use storage_adapter::object::bytes_stream;
use storage_adapter::{Adapter, MemoryKms, ObjectName, SseRequest};

const SEG: usize = 64 * 1024;
const BODY: usize = 256 << 20;
const GIB: usize = 1 << 30;
const NAME: ObjectName<'static> = ObjectName {
    bucket: "bench",
    key: "object",
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Not a criterion measurement: a cross-check that holds up on a shared machine. Raw AES-GCM of
/// both backends (hot 64 KiB buffers, 256 MiB per round; aws-lc out of place, ring copy + in place,
/// as the adapter now does) and the adapter's 1-task streams run alternately, round by round, and
/// the median round of each is reported with its range and the ratios. Other processes slow the
/// rounds they land on, but interleaving gives every line the same chances of a quiet round.
/// `INTERLEAVED_ROUNDS=0` skips it.
fn interleaved(_c: &mut Criterion) {
    let rounds: usize = std::env::var("INTERLEAVED_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    if rounds == 0 {
        return;
    }
    let rt = runtime();
    let lc = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7; 32]).expect("key"));
    let rk = ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &[7; 32]).expect("key"),
    );
    let adapter = Adapter::new(Arc::new(MemoryKms::new()));
    let plain = Bytes::from(vec![0x33u8; BODY]);
    let (stored, env) = rt
        .block_on(adapter.begin_put(&SseRequest::Cos, NAME))
        .expect("put")
        .seal_bytes_parallel(&plain, cores())
        .expect("seal");
    let stored = Bytes::from(stored);
    let obj = rt.block_on(adapter.open(&env, NAME, None)).expect("open");
    let seg = vec![0x5au8; SEG];
    let mut out = vec![0u8; SEG + 16];
    let mut opened = vec![0u8; SEG];
    // ring's lines get their own buffers, so neither backend runs on the other's cache lines.
    let mut ring_out = vec![0u8; SEG + 16];
    let mut ring_opened = vec![0u8; SEG];
    let gib = |d: Duration| BODY as f64 / d.as_secs_f64() / f64::from(1u32 << 30);
    let nonce = || Nonce::assume_unique_for_key([1; 12]);
    let ring_nonce = || ring::aead::Nonce::assume_unique_for_key([1; 12]);
    const LINES: [&str; 6] = [
        "aws-lc seal",
        "aws-lc open",
        "ring seal",
        "ring open",
        "encrypt_stream_1_task",
        "decrypt_stream_1_task",
    ];
    let mut runs: [Vec<f64>; 6] = Default::default();
    for _ in 0..rounds {
        let t = std::time::Instant::now();
        for _ in 0..BODY / SEG {
            let (ct, tag) = out.split_at_mut(SEG);
            lc.seal_out_of_place_scatter(nonce(), Aad::empty(), &seg, ct, &[], tag)
                .expect("seal");
            std::hint::black_box(&mut out);
        }
        runs[0].push(gib(t.elapsed()));
        let t = std::time::Instant::now();
        for _ in 0..BODY / SEG {
            lc.open_separate_gather(nonce(), Aad::empty(), &out[..SEG], &out[SEG..], &mut opened)
                .expect("open");
            std::hint::black_box(&mut opened);
        }
        runs[1].push(gib(t.elapsed()));
        let t = std::time::Instant::now();
        for _ in 0..BODY / SEG {
            let (ct, tag_out) = ring_out.split_at_mut(SEG);
            ct.copy_from_slice(&seg);
            let tag = rk
                .seal_in_place_separate_tag(ring_nonce(), ring::aead::Aad::empty(), ct)
                .expect("seal");
            tag_out.copy_from_slice(tag.as_ref());
            std::hint::black_box(&mut ring_out);
        }
        runs[2].push(gib(t.elapsed()));
        let t = std::time::Instant::now();
        for _ in 0..BODY / SEG {
            let tag: [u8; 16] = ring_out[SEG..].try_into().expect("tag");
            ring_opened.copy_from_slice(&ring_out[..SEG]);
            rk.open_in_place_separate_tag(
                ring_nonce(),
                ring::aead::Aad::empty(),
                tag.into(),
                &mut ring_opened,
                0..,
            )
            .expect("open");
            std::hint::black_box(&mut ring_opened);
        }
        runs[3].push(gib(t.elapsed()));
        let t = std::time::Instant::now();
        rt.block_on(async {
            let sealer = adapter
                .begin_put(&SseRequest::Cos, NAME)
                .await
                .expect("put");
            let mut s = sealer.encrypt_stream(bytes_stream(plain.clone(), 1 << 20));
            while let Some(item) = s.next().await {
                std::hint::black_box(item.expect("segment").len());
            }
            s.finish().expect("finish");
        });
        runs[4].push(gib(t.elapsed()));
        let t = std::time::Instant::now();
        rt.block_on(async {
            let plan = obj.plan(None).expect("plan");
            let mut s = obj.decrypt_stream(plan, bytes_stream(stored.clone(), 1 << 20));
            while let Some(item) = s.next().await {
                std::hint::black_box(item.expect("segment").len());
            }
        });
        runs[5].push(gib(t.elapsed()));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[0], v[v.len() - 1])
    };
    let m: Vec<(f64, f64, f64)> = runs.iter_mut().map(median).collect();
    eprintln!("interleaved, {rounds} rounds of 256 MiB each: median GiB/s (range)");
    for (line, (med, lo, hi)) in LINES.iter().zip(&m) {
        eprintln!("  {line:<22} {med:.2} ({lo:.2}-{hi:.2})");
    }
    let backend = storage_adapter::AeadBackend::current();
    let (seal, open) = match backend {
        storage_adapter::AeadBackend::AwsLc => (m[0].0, m[1].0),
        storage_adapter::AeadBackend::Ring => (m[2].0, m[3].0),
    };
    eprintln!(
        "  ring / aws-lc: seal {:.2}, open {:.2}; adapter (on {}) / its backend: encrypt {:.0}%, decrypt {:.0}%",
        m[2].0 / m[0].0,
        m[3].0 / m[1].0,
        backend.name(),
        100.0 * m[4].0 / seal,
        100.0 * m[5].0 / open
    );
}

fn raw(c: &mut Criterion) {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7; 32]).expect("key"));
    let mut buf = vec![0x5au8; SEG];
    let mut g = c.benchmark_group("raw_aes256gcm_aws_lc_rs");
    g.throughput(Throughput::Bytes(SEG as u64));
    g.bench_function("seal_64KiB", |b| {
        b.iter(|| {
            key.seal_in_place_separate_tag(
                Nonce::assume_unique_for_key([1; 12]),
                Aad::empty(),
                &mut buf,
            )
            .expect("seal")
        })
    });
    let mut sealed = vec![0x5au8; SEG];
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key([1; 12]),
            Aad::empty(),
            &mut sealed,
        )
        .expect("seal");
    sealed.extend_from_slice(tag.as_ref());
    g.bench_function("open_64KiB", |b| {
        b.iter_batched_ref(
            || sealed.clone(),
            |s| {
                key.open_in_place(Nonce::assume_unique_for_key([1; 12]), Aad::empty(), s)
                    .expect("open")
                    .len()
            },
            criterion::BatchSize::LargeInput,
        )
    });
    // Out of place, the primitives the adapter's streams use: the same buffers every iteration, no
    // per-iteration copy or allocation.
    let plain = vec![0x5au8; SEG];
    let mut out = vec![0u8; SEG + 16];
    g.bench_function("seal_64KiB_out_of_place", |b| {
        b.iter(|| {
            let (ct, tag) = out.split_at_mut(SEG);
            key.seal_out_of_place_scatter(
                Nonce::assume_unique_for_key([1; 12]),
                Aad::empty(),
                &plain,
                ct,
                &[],
                tag,
            )
            .expect("seal")
        })
    });
    let mut opened = vec![0u8; SEG];
    g.bench_function("open_64KiB_out_of_place", |b| {
        b.iter(|| {
            key.open_separate_gather(
                Nonce::assume_unique_for_key([1; 12]),
                Aad::empty(),
                &sealed[..SEG],
                &sealed[SEG..],
                &mut opened,
            )
            .expect("open")
        })
    });
    g.finish();
}

fn streaming(c: &mut Criterion) {
    let rt = runtime();
    let adapter = Adapter::new(Arc::new(MemoryKms::new()));
    let plain = Bytes::from(vec![0x33u8; BODY]);
    let req = SseRequest::Cos;
    let (stored, env) = rt
        .block_on(adapter.begin_put(&req, NAME))
        .expect("put")
        .seal_bytes_parallel(&plain, cores())
        .expect("seal");
    let stored = Bytes::from(stored);
    let obj = rt.block_on(adapter.open(&env, NAME, None)).expect("open");

    let mut g = c.benchmark_group("adapter_256MiB");
    g.throughput(Throughput::Bytes(BODY as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("encrypt_stream_1_task", |b| {
        b.iter(|| {
            rt.block_on(async {
                let sealer = adapter.begin_put(&req, NAME).await.expect("put");
                let mut s = sealer.encrypt_stream(bytes_stream(plain.clone(), 1 << 20));
                let mut n = 0;
                while let Some(seg) = s.next().await {
                    n += seg.expect("segment").len();
                }
                s.finish().expect("finish");
                n
            })
        })
    });
    g.bench_function("decrypt_stream_1_task", |b| {
        b.iter(|| {
            rt.block_on(async {
                let plan = obj.plan(None).expect("plan");
                let mut s = obj.decrypt_stream(plan, bytes_stream(stored.clone(), 1 << 20));
                let mut n = 0;
                while let Some(seg) = s.next().await {
                    n += seg.expect("segment").len();
                }
                n
            })
        })
    });
    let n = cores();
    let mut out = vec![0u8; stored.len()];
    g.bench_function(BenchmarkId::new("encrypt_parallel_all_cores", n), |b| {
        b.iter(|| {
            let sealer = rt.block_on(adapter.begin_put(&req, NAME)).expect("put");
            sealer
                .seal_bytes_parallel_into(&plain, &mut out, n)
                .expect("seal")
                .plain_size()
        })
    });
    // All cores, streaming: one body split into `n` objects streamed by `n` tasks at once.
    let mt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(n)
        .build()
        .expect("runtime");
    g.bench_function(BenchmarkId::new("encrypt_stream_tasks_all_cores", n), |b| {
        b.iter(|| {
            mt.block_on(async {
                let share = BODY / n;
                let mut tasks = Vec::new();
                for i in 0..n {
                    let adapter = adapter.clone();
                    let part = plain.slice(i * share..(i + 1) * share);
                    tasks.push(tokio::spawn(async move {
                        let sealer = adapter
                            .begin_put(&SseRequest::Cos, NAME)
                            .await
                            .expect("put");
                        let mut s = sealer.encrypt_stream(bytes_stream(part, 1 << 20));
                        let mut m = 0;
                        while let Some(seg) = s.next().await {
                            m += seg.expect("segment").len();
                        }
                        m
                    }));
                }
                let mut total = 0;
                for t in tasks {
                    total += t.await.expect("task");
                }
                total
            })
        })
    });
    // All cores, streaming decrypt: `n` tasks each decrypt a share of the segments (range reads).
    let obj = Arc::new(obj);
    g.bench_function(BenchmarkId::new("decrypt_stream_tasks_all_cores", n), |b| {
        b.iter(|| {
            mt.block_on(async {
                let share = (BODY / SEG).div_ceil(n) * SEG;
                let mut tasks = Vec::new();
                for i in 0..n {
                    let obj = Arc::clone(&obj);
                    let stored = stored.clone();
                    let range = (i * share) as u64..(((i + 1) * share).min(BODY)) as u64;
                    tasks.push(tokio::spawn(async move {
                        let plan = obj.plan(Some(range)).expect("plan");
                        let r = plan.stored_range();
                        let input =
                            bytes_stream(stored.slice(r.start as usize..r.end as usize), 1 << 20);
                        let mut s = obj.decrypt_stream(plan, input);
                        let mut m = 0;
                        while let Some(seg) = s.next().await {
                            m += seg.expect("segment").len();
                        }
                        m
                    }));
                }
                let mut total = 0;
                for t in tasks {
                    total += t.await.expect("task");
                }
                total
            })
        })
    });
    g.finish();
}

fn ranged(c: &mut Criterion) {
    let rt = runtime();
    let adapter = Adapter::new(Arc::new(MemoryKms::new()));
    let plain = vec![0x44u8; GIB];
    let (stored, env) = rt
        .block_on(adapter.begin_put(&SseRequest::Cos, NAME))
        .expect("put")
        .seal_bytes_parallel(&plain, cores())
        .expect("seal");
    drop(plain);
    let obj = rt.block_on(adapter.open(&env, NAME, None)).expect("open");
    let end = GIB as u64;
    let plan = obj.plan(Some(end - 1024..end)).expect("plan");
    assert!(
        plan.segments() <= 2,
        "the ranged read touches at most two segments"
    );
    eprintln!(
        "ranged_read_1GiB: the last 1 KiB touches {} segment(s), {} stored bytes",
        plan.segments(),
        plan.stored_range().end - plan.stored_range().start
    );
    let mut g = c.benchmark_group("ranged_read_1GiB");
    g.throughput(Throughput::Bytes(1024));
    g.bench_function("last_1KiB_plan_and_decrypt", |b| {
        b.iter(|| {
            let plan = obj.plan(Some(end - 1024..end)).expect("plan");
            let r = plan.stored_range();
            obj.decrypt_bytes(plan, &stored[r.start as usize..r.end as usize])
                .expect("decrypt")
                .len()
        })
    });
    g.bench_function("last_1KiB_open_envelope_plan_and_decrypt", |b| {
        b.iter(|| {
            let obj = rt.block_on(adapter.open(&env, NAME, None)).expect("open");
            let plan = obj.plan(Some(end - 1024..end)).expect("plan");
            let r = plan.stored_range();
            obj.decrypt_bytes(plan, &stored[r.start as usize..r.end as usize])
                .expect("decrypt")
                .len()
        })
    });
    g.finish();
}

criterion_group!(benches, interleaved, raw, streaming, ranged);
criterion_main!(benches);
