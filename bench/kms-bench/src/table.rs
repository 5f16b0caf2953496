//! The human-readable report table (`--json` prints the reports as they are).

use std::fmt::Write as _;

use crate::Report;

/// The human table: one row per report, and each operation's calls/s as a share of `health`'s
/// when it was measured in the same run.
pub fn render_table(reports: &[Report]) -> String {
    let health = reports
        .iter()
        .find(|r| r.op == "health")
        .map(|r| (r.calls_per_sec, r.latency_us.p50));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<24} {:>5} {:>5} {:>5} {:>11} {:>11} {:>9} {:>9} {:>9} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9}",
        "op",
        "conc",
        "conns",
        "batch",
        "calls/s",
        "items/s",
        "p50 us",
        "p90 us",
        "p99 us",
        "max us",
        "errors",
        "vs health",
        "p50/hlth",
        "cpu us/op",
        "srv us/op"
    );
    for r in reports {
        let (share, p50x) = match health {
            Some((ops, p50)) if ops > 0.0 && p50 > 0.0 => (
                format!("{:.0}%", 100.0 * r.calls_per_sec / ops),
                format!("{:.2}x", r.latency_us.p50 / p50),
            ),
            _ => ("-".to_owned(), "-".to_owned()),
        };
        let _ = writeln!(
            out,
            "{:<24} {:>5} {:>5} {:>5} {:>11.0} {:>11.0} {:>9.0} {:>9.0} {:>9.0} {:>9.0} {:>7} {:>9} {:>9} {:>9} {:>9}",
            r.op,
            r.concurrency,
            r.connections,
            r.batch,
            r.calls_per_sec,
            r.items_per_sec,
            r.latency_us.p50,
            r.latency_us.p90,
            r.latency_us.p99,
            r.latency_us.max,
            r.errors,
            share,
            p50x,
            r.cpu_us_per_call
                .map_or_else(|| "-".to_owned(), |c| format!("{c:.1}")),
            r.server_cpu_us_per_call
                .map_or_else(|| "-".to_owned(), |c| format!("{c:.1}"))
        );
    }
    for r in reports {
        if r.rounds_calls_per_sec.len() > 1 {
            let all: Vec<String> = r
                .rounds_calls_per_sec
                .iter()
                .map(|c| format!("{c:.0}"))
                .collect();
            let _ = writeln!(
                out,
                "{}: median of {} rounds; calls/s by round: {}",
                r.op,
                all.len(),
                all.join(" ")
            );
        }
    }
    for r in reports {
        if let Some(e) = &r.first_error {
            let _ = writeln!(out, "{}: first error: {e}", r.op);
        }
    }
    out
}
