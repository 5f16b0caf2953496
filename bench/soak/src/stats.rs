//! What the soak measures per interval: calls, errors and latency per operation, and the servers'
//! resident memory and open file descriptors read from `/proc`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

/// Every operation the soak runs, on either server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Op {
    GenerateDataKey,
    Decrypt,
    CreateKey,
    RotateKey,
    Put,
    Get,
    RangeGet,
    Multipart,
    Copy,
    Delete,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::GenerateDataKey => "kms GenerateDataKey",
            Op::Decrypt => "kms Decrypt",
            Op::CreateKey => "kms CreateKey",
            Op::RotateKey => "kms RotateKey",
            Op::Put => "cos PUT",
            Op::Get => "cos GET",
            Op::RangeGet => "cos range GET",
            Op::Multipart => "cos multipart",
            Op::Copy => "cos copy",
            Op::Delete => "cos DELETE",
        }
    }

    pub fn is_kms(self) -> bool {
        matches!(
            self,
            Op::GenerateDataKey | Op::Decrypt | Op::CreateKey | Op::RotateKey
        )
    }
}

/// One operation's figures over an interval.
pub struct OpStats {
    pub calls: u64,
    pub errors: u64,
    /// Latency in microseconds.
    pub latency: Histogram<u64>,
}

impl OpStats {
    fn new() -> Self {
        OpStats {
            calls: 0,
            errors: 0,
            latency: Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds"),
        }
    }
}

/// The figures of the interval under way; workers record into it, the reporter takes it.
#[derive(Default)]
pub struct Recorder {
    interval: Mutex<BTreeMap<Op, OpStats>>,
    /// The first few error messages, for the report.
    first_errors: Mutex<Vec<String>>,
}

/// How many error messages the report quotes.
const QUOTED_ERRORS: usize = 10;

impl Recorder {
    pub fn ok(&self, op: Op, took: Duration) {
        let mut m = self.interval.lock().expect("recorder lock");
        let s = m.entry(op).or_insert_with(OpStats::new);
        s.calls += 1;
        let _ = s.latency.record(took.as_micros().max(1) as u64);
    }

    pub fn error(&self, op: Op, message: String) {
        {
            let mut m = self.interval.lock().expect("recorder lock");
            let s = m.entry(op).or_insert_with(OpStats::new);
            s.calls += 1;
            s.errors += 1;
        }
        let mut first = self.first_errors.lock().expect("recorder lock");
        if first.len() < QUOTED_ERRORS {
            first.push(format!("{}: {message}", op.name()));
        }
    }

    /// The interval's figures; the next interval starts empty.
    pub fn take(&self) -> BTreeMap<Op, OpStats> {
        std::mem::take(&mut *self.interval.lock().expect("recorder lock"))
    }

    pub fn first_errors(&self) -> Vec<String> {
        self.first_errors.lock().expect("recorder lock").clone()
    }
}

/// A server process's resident memory (KiB) and open file descriptors, from `/proc/PID`.
#[derive(Debug, Clone, Copy)]
pub struct ProcessSample {
    pub rss_kib: u64,
    pub fds: u64,
}

impl ProcessSample {
    pub fn read(pid: u32) -> std::io::Result<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let rss_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| std::io::Error::other("no VmRSS line"))?;
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))?.count() as u64;
        Ok(ProcessSample { rss_kib, fds })
    }
}

/// The 99th percentile over the operations of one server, in milliseconds (0 without calls).
pub fn p99_ms(interval: &BTreeMap<Op, OpStats>, kms: bool) -> f64 {
    let mut merged = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).expect("valid bounds");
    for (_, s) in interval.iter().filter(|(op, _)| op.is_kms() == kms) {
        merged.add(&s.latency).expect("same bounds");
    }
    if merged.is_empty() {
        0.0
    } else {
        merged.value_at_quantile(0.99) as f64 / 1000.0
    }
}
