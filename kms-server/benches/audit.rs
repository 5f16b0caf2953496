//! `cargo bench -p kms-server --bench audit`: what one audit line costs the call that writes it,
//! next to the part no audit log can avoid (one `write(2)` of the same bytes to a file in the same
//! directory), in the same run. The event is a GenerateDataKey's as the server builds it: one key
//! by alias, resolved, two context names, an IPv4 peer, the time taken at the call. Figures are
//! recorded in `bench/BENCHMARKS.md` (issue 17).
//!
//! One thread: this is the line's own cost, without the contention of several workers on the
//! log's lock. After criterion's groups, an interleaved cross-check that holds up on a shared
//! machine: the cases alternate in short rounds and each one's median round is printed with its
//! spread and its ratio to the bare write. Then the slowest lines of a log that rotates every 4
//! MiB: rotation must not make a call wait on an `fdatasync`. `INTERLEAVED_ROUNDS=0` skips both.

mod interleave;

use std::{
    collections::BTreeSet,
    fs::{File, OpenOptions},
    hint::black_box,
    io::Write as _,
    net::SocketAddr,
};

use criterion::{Criterion, criterion_group, criterion_main};
use kms_server::audit::{AuditEvent, AuditKey, AuditLog, AuditTarget, Outcome, RequestId};
use time::OffsetDateTime;
use uuid::Uuid;

struct Setup {
    _dir: tempfile::TempDir,
    log: AuditLog,
    /// Buffered (`--audit-buffer-ms 10`): the call only queues its line.
    buffered: AuditLog,
    bare: File,
    key_id: Uuid,
    peer: SocketAddr,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let log = AuditLog::open(AuditTarget::File(dir.path().join("audit.log")), 0)
            .expect("the audit log opens");
        let buffered = AuditLog::open_buffered(
            AuditTarget::File(dir.path().join("buffered.log")),
            0,
            std::time::Duration::from_millis(10),
        )
        .expect("the buffered audit log opens");
        let bare = OpenOptions::new()
            .append(true)
            .create(true)
            .open(dir.path().join("bare.log"))
            .expect("the bare file opens");
        Self {
            _dir: dir,
            log,
            buffered,
            bare,
            key_id: Uuid::new_v4(),
            peer: "127.0.0.1:50522".parse().expect("a valid address"),
        }
    }

    /// The event of one GenerateDataKey, built as the server builds it (the time is the call's).
    fn event(&self) -> AuditEvent<'static> {
        AuditEvent {
            time: OffsetDateTime::now_utc(),
            request_id: RequestId::new(),
            identity: "storage",
            peer: Some(self.peer),
            rpc: "GenerateDataKey",
            keys: vec![AuditKey {
                name: "alias/kms-cos",
                key_id: Some(self.key_id),
                key_version: Some(1),
            }],
            context_keys: BTreeSet::from(["bucket", "object"]),
            outcome: Outcome::Ok,
        }
    }

    fn line(&self) -> Vec<u8> {
        let mut line = Vec::new();
        self.event()
            .write_json(&mut line)
            .expect("the event is written");
        line.push(b'\n');
        line
    }
}

/// One measured case.
struct Case {
    name: &'static str,
    run: Box<dyn Fn()>,
}

fn cases() -> Vec<Case> {
    let s = std::rc::Rc::new(Setup::new());
    let line = s.line();
    let (a, b, c, d) = (s.clone(), s.clone(), s.clone(), s);
    vec![
        Case {
            name: "write(2) of the line's bytes",
            run: Box::new(move || {
                (&a.bare).write_all(&line).expect("the bare write");
            }),
        },
        Case {
            name: "build and serialize the event",
            run: Box::new(move || {
                black_box(b.line());
            }),
        },
        Case {
            name: "AuditLog::record (all of it)",
            run: Box::new(move || {
                c.log
                    .record(&c.event())
                    .wait()
                    .expect("the line is written");
            }),
        },
        Case {
            name: "AuditLog::record, buffered",
            run: Box::new(move || {
                d.buffered
                    .record(&d.event())
                    .wait()
                    .expect("the line is queued");
            }),
        },
    ]
}

fn criterion_groups(c: &mut Criterion) {
    let mut g = interleave::group(c, "audit");
    for case in cases() {
        g.bench_function(case.name, |b| b.iter(&case.run));
    }
    g.finish();
}

fn interleaved(_c: &mut Criterion) {
    let rounds = interleave::rounds(9);
    if rounds == 0 {
        return;
    }
    interleave::announce(rounds, "median ns per line");
    eprintln!("| case | ns | spread | over the bare write |");
    eprintln!("|---|---:|---:|---:|");
    let cases = cases();
    let mut ns: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for _ in 0..rounds {
        for (case, out) in cases.iter().zip(&mut ns) {
            out.push(1e9 / interleave::rate(&case.run, 64));
        }
    }
    let medians: Vec<f64> = ns.iter_mut().map(|v| interleave::median(v)).collect();
    for ((case, v), m) in cases.iter().zip(&ns).zip(&medians) {
        eprintln!(
            "| {} | {m:.0} | {:.0}-{:.0} | {:.2} |",
            case.name,
            v[0],
            v[v.len() - 1],
            m / medians[0]
        );
    }
}

/// Lines written per round of the rotation check, and the rotation size: about 4 rotations.
const ROTATION_LINES: usize = 50_000;
const ROTATION_BYTES: u64 = 4 << 20;

/// The slowest lines of a log that rotates: a rotation must not hold the line that triggers it
/// behind an `fdatasync` of the file (`ROTATION_LINES` lines per round, rotated every
/// `ROTATION_BYTES`; the background sync runs as in the server).
fn rotation(_c: &mut Criterion) {
    let rounds = interleave::rounds(9).min(5);
    if rounds == 0 {
        return;
    }
    eprintln!(
        "\nrotation every {} MiB, {rounds} rounds of {ROTATION_LINES} lines (µs per line):",
        ROTATION_BYTES >> 20
    );
    eprintln!("| round | median | 99.9th percentile | slowest |");
    eprintln!("|---|---:|---:|---:|");
    let s = Setup::new();
    for round in 1..=rounds {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let log = AuditLog::open(
            AuditTarget::File(dir.path().join("audit.log")),
            ROTATION_BYTES,
        )
        .expect("the audit log opens");
        let mut us: Vec<f64> = (0..ROTATION_LINES)
            .map(|_| {
                let start = std::time::Instant::now();
                log.record(&s.event()).wait().expect("the line is written");
                start.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        let median = interleave::median(&mut us);
        eprintln!(
            "| {round} | {median:.1} | {:.1} | {:.1} |",
            us[us.len() * 999 / 1000],
            us[us.len() - 1]
        );
    }
}

criterion_group!(benches, criterion_groups, interleaved, rotation);
criterion_main!(benches);
