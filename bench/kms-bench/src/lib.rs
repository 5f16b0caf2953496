//! `kms-bench`: a load generator for the KMS emulator.
//!
//! [`run`] prepares what an operation needs (a key, a blob), then keeps `concurrency` calls in
//! flight over `connections` HTTP/2 connections (one tonic `Channel` each) for a warm-up and a
//! measured period, and returns a [`Report`]: calls/s, items/s, latency percentiles from an HDR
//! histogram, and errors. Every KMS call goes through the typed [`kms_client::KmsClient`] (retries
//! off, so every failure is counted); the health check through the generated grpc.health.v1 client,
//! with the same per-call deadline, so both pay the same client-side costs.
//!
//! It lives in its own crate so that `kms-client` carries no histogram dependency.

pub mod cli;
mod cpu;
mod table;

pub use table::render_table;
pub mod embedded;
pub mod propagation;
pub mod tencent;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use kms_client::{
    CreateKeyRequest, DecryptRequest, EncryptRequest, GenerateDataKeyRequest, KmsClient,
    ListKeysRequest, RetryPolicy,
};
use serde::Serialize;
use tonic::transport::Channel;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

pub use cli::{Cli, Op};

/// Deadline of every call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest latency the histogram tracks (longer ones are clamped).
const MAX_TRACKED: Duration = Duration::from_secs(60);

/// Everything that can stop a run before it measures.
#[derive(Debug)]
pub enum BenchError {
    /// The server could not be reached.
    Connect(String),
    /// Preparing the workload failed (creating the key or the blob).
    Setup(String),
    /// The embedded server failed to start.
    Embedded(String),
    /// A change made on one replica did not show on the other in time (`kms-propagation`).
    Propagation(String),
}

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BenchError::Connect(m) => write!(f, "cannot connect: {m}"),
            BenchError::Setup(m) => write!(f, "setup failed: {m}"),
            BenchError::Embedded(m) => write!(f, "embedded server: {m}"),
            BenchError::Propagation(m) => write!(f, "propagation: {m}"),
        }
    }
}

impl std::error::Error for BenchError {}

/// What one measured operation did.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// The operation's CLI name.
    pub op: &'static str,
    /// Calls in flight.
    pub concurrency: u32,
    /// HTTP/2 connections.
    pub connections: u32,
    /// Items per call (1 unless a batch operation).
    pub batch: u32,
    /// Measured wall time, seconds.
    pub seconds: f64,
    /// Calls that completed in the measured period (successful or not).
    pub calls: u64,
    /// Calls per second.
    pub calls_per_sec: f64,
    /// Items per second that succeeded (data keys, decryptions...): calls/s x batch, less failures.
    pub items_per_sec: f64,
    /// Failed calls plus failed batch items.
    pub errors: u64,
    /// The first failure's message, if any.
    pub first_error: Option<String>,
    /// Latency of one call, microseconds.
    pub latency_us: Latency,
    /// CPU time this process spent per call in the measured window, microseconds: the client's,
    /// plus the server's with `--embedded`. Steadier than calls/s on a machine shared with other
    /// work (it does not count time the CPUs spent elsewhere). `None` where it cannot be read.
    pub cpu_us_per_call: Option<f64>,
    /// With `--server-pid`: that process's CPU time per call over the measured window, microseconds.
    pub server_cpu_us_per_call: Option<f64>,
    /// With `--rounds N`: calls/s of every round, in order (this report is the median one).
    pub rounds_calls_per_sec: Vec<f64>,
}

/// Latency percentiles of one call, microseconds.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest call.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// The prepared state of one operation, shared by all workers.
#[derive(Clone)]
enum Work {
    Health,
    GenerateDataKey {
        key: Arc<str>,
        context: Arc<str>,
    },
    Decrypt {
        blob: Arc<[u8]>,
        context: Arc<str>,
    },
    Encrypt {
        key: Arc<str>,
        plaintext: Arc<[u8]>,
        context: Arc<str>,
    },
    BatchGenerateDataKey {
        items: Arc<Vec<GenerateDataKeyRequest>>,
    },
    BatchDecrypt {
        items: Arc<Vec<DecryptRequest>>,
    },
    CreateKey {
        prefix: Arc<str>,
        next: Arc<AtomicU64>,
    },
    DescribeKey {
        key: Arc<str>,
    },
    ListKeys,
    /// A Tencent API action with its JSON body.
    Tencent {
        action: &'static str,
        body: Arc<str>,
    },
}

/// One connection's clients.
#[derive(Clone)]
struct Conn {
    kms: KmsClient,
    health: HealthClient<Channel>,
    /// Set when a Tencent API op runs; each worker's clone opens its own HTTP/1.1 connection.
    tencent: Option<tencent::TencentConn>,
}

/// The environment variable holding a bearer token (when `--token-file` is not given).
pub const TOKEN_ENV: &str = "KMS_TOKEN";

/// The client options of `cli` for `endpoint`: CA, client certificate, token (from `--token-file`,
/// else [`TOKEN_ENV`]); no retries, so every failure is counted.
fn client_builder(endpoint: &str, cli: &Cli) -> Result<kms_client::ClientBuilder, BenchError> {
    let mut builder = KmsClient::builder(endpoint)
        .request_timeout(CALL_TIMEOUT)
        .retry_policy(RetryPolicy::none());
    if let Some(ca) = &cli.ca_cert {
        builder = builder.ca_file(ca);
    }
    if let (Some(cert), Some(key)) = (&cli.client_cert, &cli.client_key) {
        builder = builder.client_identity_files(cert, key);
    }
    if let Some(path) = &cli.token_file {
        builder = builder.token_file(path);
    } else if let Ok(token) = std::env::var(TOKEN_ENV) {
        let token = kms_client::BearerToken::new(token)
            .map_err(|e| BenchError::Connect(format!("{TOKEN_ENV}: {e}")))?;
        builder = builder.token(token);
    }
    Ok(builder)
}

/// Opens `cli.connections` separate HTTP/2 connections to `endpoint`.
async fn connect(
    endpoint: &str,
    cli: &Cli,
    pair: Option<tencent::Pair>,
) -> Result<Vec<Conn>, BenchError> {
    let builder = client_builder(endpoint, cli)?;
    let tencent = if cli.op.iter().any(|op| op.is_tencent()) {
        Some(tencent::TencentConn::new(endpoint, pair).map_err(BenchError::Connect)?)
    } else {
        None
    };
    let ep = builder
        .to_endpoint()
        .map_err(|e| BenchError::Connect(e.to_string()))?
        .tcp_nodelay(true);
    let mut conns = Vec::with_capacity(cli.connections as usize);
    for _ in 0..cli.connections {
        let channel = ep
            .connect()
            .await
            .map_err(|e| BenchError::Connect(format!("{endpoint}: {e}")))?;
        conns.push(Conn {
            kms: builder
                .clone()
                .client_over(channel.clone())
                .map_err(|e| BenchError::Connect(e.to_string()))?,
            health: HealthClient::new(channel),
            tencent: tencent.clone(),
        });
    }
    Ok(conns)
}

/// A key for the run: `--key`, or a new one.
async fn bench_key(kms: &KmsClient, cli: &Cli) -> Result<String, BenchError> {
    if let Some(k) = &cli.key {
        return Ok(k.clone());
    }
    let alias = format!("bench-{}", unique_suffix());
    kms.create_key(CreateKeyRequest::new(&alias).description("created by kms-bench"))
        .await
        .map(|m| m.key_id)
        .map_err(|e| BenchError::Setup(format!("CreateKey {alias}: {e}")))
}

/// Distinct enough between runs against the same server: pid and clock.
fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{:x}-{:x}", std::process::id(), nanos & 0xffff_ffff_ffff)
}

async fn prepare(op: Op, kms: &KmsClient, key: &str, cli: &Cli) -> Result<Work, BenchError> {
    let context: Arc<str> = Arc::from(cli.context.as_str());
    let gdk = || GenerateDataKeyRequest::new(key).encryption_context(&*context);
    let setup = |what: &str, e: kms_client::Error| BenchError::Setup(format!("{what}: {e}"));
    Ok(match op {
        Op::Health => Work::Health,
        Op::GenerateDataKey => Work::GenerateDataKey {
            key: Arc::from(key),
            context: context.clone(),
        },
        Op::Decrypt => {
            let dk = kms
                .generate_data_key(gdk())
                .await
                .map_err(|e| setup("GenerateDataKey", e))?;
            Work::Decrypt {
                blob: Arc::from(dk.ciphertext_blob),
                context: context.clone(),
            }
        }
        Op::Encrypt => Work::Encrypt {
            key: Arc::from(key),
            plaintext: vec![0x5a; cli.plaintext_size as usize].into(),
            context: context.clone(),
        },
        Op::BatchGenerateDataKey => Work::BatchGenerateDataKey {
            items: Arc::new(vec![gdk(); cli.batch as usize]),
        },
        Op::BatchDecrypt => {
            // Distinct blobs, as a real batch would carry.
            let made = kms
                .batch_generate_data_key(vec![gdk(); cli.batch as usize])
                .await
                .map_err(|e| setup("BatchGenerateDataKey", e))?;
            let mut items = Vec::with_capacity(made.len());
            for dk in made {
                let dk = dk.map_err(|e| setup("BatchGenerateDataKey item", e))?;
                items.push(DecryptRequest::new(dk.ciphertext_blob).encryption_context(&*context));
            }
            Work::BatchDecrypt {
                items: Arc::new(items),
            }
        }
        Op::CreateKey => Work::CreateKey {
            prefix: Arc::from(format!("bench-{}", unique_suffix())),
            next: Arc::new(AtomicU64::new(0)),
        },
        Op::DescribeKey => Work::DescribeKey {
            key: Arc::from(key),
        },
        Op::ListKeys => Work::ListKeys,
        Op::TencentGenerateDataKey => Work::Tencent {
            action: "GenerateDataKey",
            body: tencent::generate_data_key_body(key, &context).map_err(BenchError::Setup)?,
        },
        Op::TencentDecrypt => {
            let dk = kms
                .generate_data_key(gdk())
                .await
                .map_err(|e| setup("GenerateDataKey", e))?;
            Work::Tencent {
                action: "Decrypt",
                body: tencent::decrypt_body(&dk.ciphertext_blob, &context)
                    .map_err(BenchError::Setup)?,
            }
        }
    })
}

/// Outcome of one call: items that succeeded and failed, or the call's error.
type CallOutcome = Result<(u64, u64, Option<String>), String>;

async fn call(work: &Work, conn: &mut Conn) -> CallOutcome {
    let one =
        |r: Result<(), kms_client::Error>| r.map(|()| (1, 0, None)).map_err(|e| e.to_string());
    match work {
        Work::Health => {
            let mut req = tonic::Request::new(HealthCheckRequest {
                service: String::new(),
            });
            req.set_timeout(CALL_TIMEOUT);
            match tokio::time::timeout(CALL_TIMEOUT, conn.health.check(req)).await {
                Ok(Ok(_)) => Ok((1, 0, None)),
                Ok(Err(status)) => Err(format!("health: {status}")),
                Err(_) => Err("health: timed out".to_owned()),
            }
        }
        Work::GenerateDataKey { key, context } => one(conn
            .kms
            .generate_data_key(GenerateDataKeyRequest::new(&**key).encryption_context(&**context))
            .await
            .map(drop)),
        Work::Decrypt { blob, context } => one(conn
            .kms
            .decrypt(DecryptRequest::new(blob.to_vec()).encryption_context(&**context))
            .await
            .map(drop)),
        Work::Encrypt {
            key,
            plaintext,
            context,
        } => one(conn
            .kms
            .encrypt(EncryptRequest::new(&**key, &plaintext[..]).encryption_context(&**context))
            .await
            .map(drop)),
        Work::BatchGenerateDataKey { items } => {
            let results = conn
                .kms
                .batch_generate_data_key(items.to_vec())
                .await
                .map_err(|e| e.to_string())?;
            Ok(tally(results))
        }
        Work::BatchDecrypt { items } => {
            let results = conn
                .kms
                .batch_decrypt(items.to_vec())
                .await
                .map_err(|e| e.to_string())?;
            Ok(tally(results))
        }
        Work::CreateKey { prefix, next } => {
            let n = next.fetch_add(1, Ordering::Relaxed);
            one(conn
                .kms
                .create_key(CreateKeyRequest::new(format!("{prefix}-{n}")))
                .await
                .map(drop))
        }
        Work::DescribeKey { key } => one(conn.kms.describe_key(key).await.map(drop)),
        Work::ListKeys => one(conn
            .kms
            .list_keys(&ListKeysRequest::default())
            .await
            .map(drop)),
        Work::Tencent { action, body } => match conn.tencent.as_mut() {
            Some(t) => t.call(action, body).await.map(|()| (1, 0, None)),
            None => Err("no Tencent API connection".to_owned()),
        },
    }
}

fn tally<T>(results: Vec<Result<T, kms_client::Error>>) -> (u64, u64, Option<String>) {
    let mut ok = 0;
    let mut failed = 0;
    let mut first = None;
    for r in results {
        match r {
            Ok(_) => ok += 1,
            Err(e) => {
                failed += 1;
                first.get_or_insert_with(|| e.to_string());
            }
        }
    }
    (ok, failed, first)
}

/// What one worker measured.
struct Tally {
    hist: Histogram<u64>,
    calls: u64,
    items_ok: u64,
    errors: u64,
    first_error: Option<String>,
}

fn new_histogram() -> Histogram<u64> {
    let max_us = u64::try_from(MAX_TRACKED.as_micros()).unwrap_or(u64::MAX);
    Histogram::new_with_bounds(1, max_us, 3).expect("1us..60s at 3 significant digits is valid")
}

/// How long the workers run.
#[derive(Clone, Copy)]
enum Stop {
    /// Warm up until the first instant, measure until the second.
    At(Instant, Instant),
    /// Measure from the start until this many calls have been made.
    Count(u64),
}

async fn worker(work: Work, mut conn: Conn, stop: Stop, issued: Arc<AtomicU64>) -> Tally {
    let mut t = Tally {
        hist: new_histogram(),
        calls: 0,
        items_ok: 0,
        errors: 0,
        first_error: None,
    };
    loop {
        let measure = match stop {
            Stop::At(from, until) => {
                let now = Instant::now();
                if now >= until {
                    break;
                }
                now >= from
            }
            Stop::Count(n) => {
                if issued.fetch_add(1, Ordering::Relaxed) >= n {
                    break;
                }
                true
            }
        };
        let started = Instant::now();
        let outcome = call(&work, &mut conn).await;
        if !measure {
            continue;
        }
        let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        t.hist.saturating_record(us.max(1));
        t.calls += 1;
        match outcome {
            Ok((ok, failed, first)) => {
                t.items_ok += ok;
                t.errors += failed;
                if t.first_error.is_none() {
                    t.first_error = first;
                }
            }
            Err(e) => {
                t.errors += 1;
                t.first_error.get_or_insert(e);
            }
        }
    }
    t
}

/// Measures one operation on already-open connections.
async fn measure(op: Op, work: Work, conns: &[Conn], cli: &Cli) -> Report {
    let stop = match cli.count {
        Some(n) => Stop::Count(n),
        None => {
            let from = Instant::now() + cli.warmup;
            Stop::At(from, from + cli.duration)
        }
    };
    let issued = Arc::new(AtomicU64::new(0));
    let began = Instant::now();
    // CPU time over the measured window: this process's (and the embedded server's), `--server-pid`'s.
    let server = cli.server_pid;
    let both = move || {
        (
            cpu::process_cpu(None),
            server.and_then(|p| cpu::process_cpu(Some(p))),
        )
    };
    let cpu = tokio::spawn(async move {
        if let Stop::At(from, until) = stop {
            tokio::time::sleep_until(from.into()).await;
            let start = both();
            tokio::time::sleep_until(until.into()).await;
            Some((start, both()))
        } else {
            None
        }
    });
    let cpu_at_start = both();
    let tasks: Vec<_> = (0..cli.concurrency as usize)
        .map(|i| {
            tokio::spawn(worker(
                work.clone(),
                conns[i % conns.len()].clone(),
                stop,
                issued.clone(),
            ))
        })
        .collect();
    let mut total = Tally {
        hist: new_histogram(),
        calls: 0,
        items_ok: 0,
        errors: 0,
        first_error: None,
    };
    for task in tasks {
        match task.await {
            Ok(t) => {
                total
                    .hist
                    .add(&t.hist)
                    .expect("histograms with the same bounds always merge");
                total.calls += t.calls;
                total.items_ok += t.items_ok;
                total.errors += t.errors;
                if total.first_error.is_none() {
                    total.first_error = t.first_error;
                }
            }
            Err(e) => {
                total.errors += 1;
                total.first_error.get_or_insert(format!("worker: {e}"));
            }
        }
    }
    let seconds = match stop {
        Stop::At(..) => cli.duration.as_secs_f64(),
        Stop::Count(_) => began.elapsed().as_secs_f64(),
    }
    .max(f64::MIN_POSITIVE);
    let (start, end) = match stop {
        Stop::At(..) => cpu.await.ok().flatten().unwrap_or_default(),
        Stop::Count(_) => (cpu_at_start, both()),
    };
    let calls = total.calls as f64;
    let per_call = |a: Option<Duration>, b: Option<Duration>| {
        a.zip(b)
            .filter(|_| calls > 0.0)
            .map(|(a, b)| b.saturating_sub(a).as_secs_f64() * 1e6 / calls)
    };
    let cpu_us_per_call = per_call(start.0, end.0);
    let server_cpu_us_per_call = per_call(start.1, end.1);
    let h = &total.hist;
    let pct = |q: f64| {
        if h.is_empty() {
            0.0
        } else {
            h.value_at_quantile(q) as f64
        }
    };
    Report {
        op: op.name(),
        concurrency: cli.concurrency,
        connections: cli.connections,
        batch: if op.is_batch() { cli.batch } else { 1 },
        seconds,
        calls: total.calls,
        calls_per_sec: total.calls as f64 / seconds,
        items_per_sec: total.items_ok as f64 / seconds,
        errors: total.errors,
        first_error: total.first_error,
        latency_us: Latency {
            p50: pct(0.50),
            p90: pct(0.90),
            p99: pct(0.99),
            max: if h.is_empty() { 0.0 } else { h.max() as f64 },
            mean: if h.is_empty() { 0.0 } else { h.mean() },
        },
        cpu_us_per_call,
        server_cpu_us_per_call,
        rounds_calls_per_sec: Vec::new(),
    }
}

/// For each operation (in first-seen order), its median round by calls/s, carrying every round's
/// calls/s.
fn medians(ops: &[Op], rounds: Vec<Vec<Report>>) -> Vec<Report> {
    ops.iter()
        .enumerate()
        .map(|(i, _)| {
            let mut runs: Vec<Report> = rounds.iter().map(|r| r[i].clone()).collect();
            let all: Vec<f64> = runs.iter().map(|r| r.calls_per_sec).collect();
            runs.sort_by(|a, b| a.calls_per_sec.total_cmp(&b.calls_per_sec));
            let mut median = runs.swap_remove(runs.len() / 2);
            median.rounds_calls_per_sec = all;
            median
        })
        .collect()
}

/// Runs every operation of `cli` against `endpoint`, one after the other.
/// Tencent API ops sign with `pair` (none: unsigned, for a server in development mode).
pub async fn run_against(
    endpoint: &str,
    cli: &Cli,
    pair: Option<tencent::Pair>,
) -> Result<Vec<Report>, BenchError> {
    let conns = connect(endpoint, cli, pair).await?;
    let kms = &conns[0].kms;
    let needs_key = cli
        .op
        .iter()
        .any(|op| !matches!(op, Op::Health | Op::CreateKey | Op::ListKeys));
    let key = if needs_key {
        bench_key(kms, cli).await?
    } else {
        String::new()
    };
    let mut works = Vec::with_capacity(cli.op.len());
    for &op in &cli.op {
        works.push(prepare(op, kms, &key, cli).await?);
    }
    let mut rounds = Vec::with_capacity(cli.rounds as usize);
    for _ in 0..cli.rounds {
        let mut reports = Vec::with_capacity(cli.op.len());
        for (&op, work) in cli.op.iter().zip(&works) {
            reports.push(measure(op, work.clone(), &conns, cli).await);
        }
        rounds.push(reports);
    }
    if cli.rounds == 1 {
        return Ok(rounds.pop().unwrap_or_default());
    }
    Ok(medians(&cli.op, rounds))
}

/// Runs `cli`: against `--endpoint`, or against an embedded server with `--embedded`.
pub async fn run(cli: &Cli) -> Result<Vec<Report>, BenchError> {
    if cli.embedded {
        let server = embedded::EmbeddedServer::start().await?;
        let result = run_against(&server.endpoint(), cli, Some(server.tencent_pair())).await;
        server.stop().await;
        result
    } else {
        run_against(&cli.endpoint, cli, tencent::Pair::from_env()).await
    }
}

/// JSON Lines: one object per report.
pub fn render_json(reports: &[Report]) -> String {
    reports
        .iter()
        .map(|r| serde_json::to_string(r).expect("a report always serialises") + "\n")
        .collect()
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[tokio::test]
    async fn client_options_reach_the_kms_client() {
        let cli = Cli::try_parse_from([
            "kms-bench",
            "--op",
            "health",
            "--token-file",
            "/nonexistent/token",
        ])
        .unwrap();
        // A token to a plain http:// endpoint on another host is refused before connecting.
        let Err(BenchError::Connect(e)) = connect("http://kms.example:50051", &cli, None).await
        else {
            panic!("the token over plain http:// is refused");
        };
        assert!(
            e.starts_with("refusing to send a bearer token over plain http://"),
            "{e}"
        );
        let cli = Cli::try_parse_from([
            "kms-bench",
            "--op",
            "health",
            "--ca-cert",
            "/nonexistent/ca.pem",
        ])
        .unwrap();
        let Err(BenchError::Connect(e)) = connect("https://localhost:1", &cli, None).await else {
            panic!("an unreadable CA file is refused");
        };
        assert!(e.starts_with("CA file /nonexistent/ca.pem: "), "{e}");
        assert!(
            Cli::try_parse_from(["kms-bench", "--op", "health", "--client-cert", "c.pem"]).is_err()
        );
        // The Tencent API ops need the plain-text port.
        let cli = Cli::try_parse_from(["kms-bench", "--op", "tencent-decrypt"]).unwrap();
        let Err(BenchError::Connect(e)) = connect("https://localhost:1", &cli, None).await else {
            panic!("an https:// endpoint is refused for the Tencent API ops");
        };
        assert!(
            e.starts_with("the Tencent API ops need a plain http:// endpoint"),
            "{e}"
        );
    }
}
