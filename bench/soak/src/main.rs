//! `soak`: minutes of mixed load on a running kms-server and cos-gateway (bench/BENCHMARKS.md,
//! section "Soak"). Half the in-flight slots call the KMS (GenerateDataKey, Decrypt, CreateKey,
//! RotateKey), half the gateway (PUT, GET, range GET, multipart, copy, DELETE in every SSE mode,
//! every byte read back checked). Each interval prints calls, errors, p99 per server and each
//! server's resident memory and open file descriptors; the summary compares the last interval
//! with the first after warm-up. Exits non-zero on any error.
//!
//! Run through `bench/scripts/soak.sh`, which starts both servers on loopback and stops them.

mod cos_load;
mod kms_load;
mod stats;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use stats::{ProcessSample, Recorder};

#[derive(Parser, Debug)]
#[command(about = "Mixed soak load on kms-server and cos-gateway, with memory and file figures")]
struct Args {
    /// The KMS, e.g. http://127.0.0.1:50051.
    #[arg(long)]
    kms_endpoint: String,
    /// The gateway's address (plain HTTP), e.g. 127.0.0.1:9000.
    #[arg(long)]
    gateway: SocketAddr,
    /// kms-server's process id (memory and file descriptors).
    #[arg(long)]
    kms_pid: u32,
    /// cos-gateway's process id.
    #[arg(long)]
    gateway_pid: u32,
    /// Total run time, seconds.
    #[arg(long, default_value_t = 600)]
    duration: u64,
    /// Report interval, seconds.
    #[arg(long, default_value_t = 30)]
    interval: u64,
    /// Intervals counted as warm-up (not in the growth and drift figures).
    #[arg(long, default_value_t = 2)]
    warmup_intervals: usize,
    /// KMS calls in flight (on one connection, as a storage server would).
    #[arg(long, default_value_t = 32)]
    kms_in_flight: usize,
    /// Gateway requests in flight (one connection each).
    #[arg(long, default_value_t = 32)]
    cos_in_flight: usize,
}

/// One interval's row of the report.
struct Row {
    kms_calls: u64,
    cos_calls: u64,
    errors: u64,
    kms_p99_ms: f64,
    cos_p99_ms: f64,
    kms: ProcessSample,
    gateway: ProcessSample,
}

fn growth(first: f64, last: f64) -> String {
    format!("{:+.1}%", 100.0 * (last - first) / first.max(1.0))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let run = format!("{:x}", rand::random::<u32>());
    let kms = kms_client::KmsClient::connect(args.kms_endpoint.clone())
        .await
        .expect("the KMS answers");
    let keys = Arc::new(
        kms_load::prepare(&kms, &run)
            .await
            .expect("the soak's CMKs are created"),
    );
    cos_load::prepare(args.gateway)
        .await
        .expect("the soak bucket is created");

    let recorder = Arc::new(Recorder::default());
    let started = Instant::now();
    let until = started + Duration::from_secs(args.duration);
    let mut tasks = Vec::new();
    for slot in 0..args.kms_in_flight {
        tasks.push(tokio::spawn(kms_load::worker(
            kms.clone(),
            Arc::clone(&keys),
            run.clone(),
            slot,
            until,
            Arc::clone(&recorder),
        )));
    }
    for slot in 0..args.cos_in_flight {
        tasks.push(tokio::spawn(cos_load::worker(
            args.gateway,
            slot,
            until,
            Arc::clone(&recorder),
        )));
    }
    println!(
        "soak: {} s, {} KMS + {} gateway in flight, report every {} s (run {run})",
        args.duration, args.kms_in_flight, args.cos_in_flight, args.interval
    );
    println!(
        "| t (s) | KMS calls/s | gateway req/s | errors | KMS p99 ms | gateway p99 ms | kms-server RSS MiB | kms-server fds | cos-gateway RSS MiB | cos-gateway fds |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut rows: Vec<Row> = Vec::new();
    let mut totals: std::collections::BTreeMap<stats::Op, (u64, u64)> = Default::default();
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(args.interval),
        Duration::from_secs(args.interval),
    );
    while Instant::now() < until {
        ticker.tick().await;
        let interval = recorder.take();
        for (op, s) in &interval {
            let t = totals.entry(*op).or_default();
            t.0 += s.calls;
            t.1 += s.errors;
        }
        let calls = |kms: bool| -> u64 {
            interval
                .iter()
                .filter(|(op, _)| op.is_kms() == kms)
                .map(|(_, s)| s.calls)
                .sum()
        };
        let row = Row {
            kms_calls: calls(true),
            cos_calls: calls(false),
            errors: interval.values().map(|s| s.errors).sum(),
            kms_p99_ms: stats::p99_ms(&interval, true),
            cos_p99_ms: stats::p99_ms(&interval, false),
            kms: ProcessSample::read(args.kms_pid).expect("kms-server is running"),
            gateway: ProcessSample::read(args.gateway_pid).expect("cos-gateway is running"),
        };
        let secs = args.interval as f64;
        println!(
            "| {} | {:.0} | {:.0} | {} | {:.2} | {:.2} | {:.1} | {} | {:.1} | {} |",
            started.elapsed().as_secs(),
            row.kms_calls as f64 / secs,
            row.cos_calls as f64 / secs,
            row.errors,
            row.kms_p99_ms,
            row.cos_p99_ms,
            row.kms.rss_kib as f64 / 1024.0,
            row.kms.fds,
            row.gateway.rss_kib as f64 / 1024.0,
            row.gateway.fds,
        );
        rows.push(row);
    }
    for task in tasks {
        task.await.expect("a load slot");
    }

    println!();
    println!("| operation | calls | errors |");
    println!("|---|---|---|");
    for (op, (calls, errors)) in &totals {
        println!("| {} | {calls} | {errors} |", op.name());
    }
    let errors: u64 = totals.values().map(|(_, e)| e).sum();
    let measured = &rows[args.warmup_intervals.min(rows.len() - 1)..];
    let (first, last) = (&measured[0], &measured[measured.len() - 1]);
    println!();
    println!(
        "after warm-up ({} intervals): kms-server RSS {}, fds {} -> {}; cos-gateway RSS {}, fds {} -> {}; p99 KMS {:.2} -> {:.2} ms, gateway {:.2} -> {:.2} ms; errors {errors}",
        args.warmup_intervals,
        growth(first.kms.rss_kib as f64, last.kms.rss_kib as f64),
        first.kms.fds,
        last.kms.fds,
        growth(first.gateway.rss_kib as f64, last.gateway.rss_kib as f64),
        first.gateway.fds,
        last.gateway.fds,
        first.kms_p99_ms,
        last.kms_p99_ms,
        first.cos_p99_ms,
        last.cos_p99_ms,
    );
    for e in recorder.first_errors() {
        println!("error: {e}");
    }
    if errors == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
