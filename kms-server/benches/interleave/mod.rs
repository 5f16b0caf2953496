//! What the benches' interleaved cross-checks share: two sides alternate in short rounds, and each
//! side's median round is reported with its spread.

use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};

/// Length of one side's round.
pub const ROUND: Duration = Duration::from_millis(150);

/// Rounds per side: `INTERLEAVED_ROUNDS`, else `default` (0 skips the cross-check).
pub fn rounds(default: usize) -> usize {
    std::env::var("INTERLEAVED_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Calls per second of `f` over one round, calling it `batch` times between clock reads.
pub fn rate(f: &dyn Fn(), batch: u64) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < ROUND {
        for _ in 0..batch {
            f();
        }
        n += batch;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Sorts `v` (so the caller can read the spread off its ends) and returns its median.
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A criterion group with the benches' shared settings: 20 samples over 2 s after 0.5 s of warm-up.
pub fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20);
    g
}

/// The line that opens a cross-check's table: `rounds` rounds, and what each figure is.
pub fn announce(rounds: usize, figures: &str) {
    eprintln!(
        "\ninterleaved, {rounds} rounds of {} ms per case ({figures}, min-max over rounds):",
        ROUND.as_millis()
    );
}
