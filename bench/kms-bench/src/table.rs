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
    let health_rounds = reports
        .iter()
        .find(|r| r.op == "health")
        .map(|r| r.rounds_calls_per_sec.as_slice());
    for r in reports.iter().filter(|r| r.op != "health") {
        if let Some(p) = health_rounds.and_then(|h| paired(&r.rounds_calls_per_sec, h)) {
            let all: Vec<String> = p.ratios.iter().map(|x| format!("{x:.3}")).collect();
            let _ = writeln!(
                out,
                "{} / health, round by round: {} (median {:.3}, range {:.3}-{:.3})",
                r.op,
                all.join(" "),
                p.median,
                p.min,
                p.max
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

/// One operation's calls/s over health's, paired round by round (the rounds interleave the
/// operations, so each pair saw the same machine): the ratio least moved by load that changes
/// between rounds.
#[derive(Debug, PartialEq)]
struct Paired {
    ratios: Vec<f64>,
    median: f64,
    min: f64,
    max: f64,
}

/// `None` unless both have the same number (at least two) of rounds, every one measured.
fn paired(op: &[f64], health: &[f64]) -> Option<Paired> {
    if op.len() < 2 || op.len() != health.len() || health.iter().any(|h| *h <= 0.0) {
        return None;
    }
    let ratios: Vec<f64> = op.iter().zip(health).map(|(o, h)| o / h).collect();
    let mut sorted = ratios.clone();
    sorted.sort_by(f64::total_cmp);
    Some(Paired {
        median: sorted[sorted.len() / 2],
        min: sorted[0],
        max: sorted[sorted.len() - 1],
        ratios,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_pair_with_health_in_order() {
        let p = paired(&[90.0, 40.0, 80.0], &[100.0, 50.0, 100.0]).expect("paired");
        assert_eq!(p.ratios, vec![0.9, 0.8, 0.8]);
        assert_eq!((p.median, p.min, p.max), (0.8, 0.8, 0.9));
    }

    #[test]
    fn unpaired_rounds_give_nothing() {
        assert_eq!(paired(&[1.0], &[1.0]), None, "one round");
        assert_eq!(paired(&[1.0, 2.0], &[1.0, 2.0, 3.0]), None, "counts differ");
        assert_eq!(
            paired(&[1.0, 2.0], &[1.0, 0.0]),
            None,
            "a health round measured nothing"
        );
    }
}
