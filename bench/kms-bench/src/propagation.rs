//! Propagation lag between two replicas on one PostgreSQL database: lifecycle changes are made on
//! a leader and each is timed from the leader's answer until a follower's DescribeKey shows it.
//!
//! It measures what a client of the follower sees, so the figure includes the follower's change
//! feed (NOTIFY, the per-key reload) and one DescribeKey round trip; the follower is polled back
//! to back (no sleep: under load each call already takes a while), so the resolution is one call.
//! Run it while `kms-bench` loads the replicas to get the lag under load (bench/scripts/replicas.sh).

use std::time::{Duration, Instant};

use kms_client::{CreateKeyRequest, KeyState, KmsClient, RetryPolicy};
use serde::Serialize;

use crate::{BenchError, CALL_TIMEOUT, unique_suffix};

/// How long one change may take to show on the follower before the run gives up: a hang guard.
pub const GIVE_UP: Duration = Duration::from_secs(30);

/// The changes of one round, in order, on one new key.
const CHANGES: [Change; 4] = [
    Change::Create,
    Change::Disable,
    Change::Enable,
    Change::Rotate,
];

/// One lifecycle change made on the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Create,
    Disable,
    Enable,
    Rotate,
}

impl Change {
    /// The (state, current version) the follower shows once it has the change.
    fn expected(self) -> (KeyState, u32) {
        match self {
            Change::Create | Change::Enable => (KeyState::Enabled, 1),
            Change::Disable => (KeyState::Disabled, 1),
            Change::Rotate => (KeyState::Enabled, 2),
        }
    }
}

/// The lags of a run, in milliseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Lags {
    /// How many changes were timed.
    pub changes: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Lags {
    /// Nearest-rank percentiles of `lags` (at least one).
    pub fn of(mut lags: Vec<Duration>) -> Self {
        lags.sort_unstable();
        let at = |q: f64| {
            let rank = (lags.len() as f64 * q).ceil() as usize;
            lags[rank.clamp(1, lags.len()) - 1].as_secs_f64() * 1e3
        };
        Self {
            changes: lags.len(),
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}

impl std::fmt::Display for Lags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "propagation over {} changes: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.changes, self.p50_ms, self.p90_ms, self.p99_ms, self.max_ms
        )
    }
}

async fn client(endpoint: &str) -> Result<KmsClient, BenchError> {
    KmsClient::builder(endpoint)
        .request_timeout(CALL_TIMEOUT)
        .retry_policy(RetryPolicy::none())
        .connect()
        .await
        .map_err(|e| BenchError::Connect(format!("{endpoint}: {e}")))
}

/// Makes `rounds` × (create, disable, enable, rotate) on `leader`, each on a new key, and times
/// each until `follower` shows it.
pub async fn measure(leader: &str, follower: &str, rounds: u32) -> Result<Lags, BenchError> {
    let (a, b) = (client(leader).await?, client(follower).await?);
    let prefix = format!("prop-{}", unique_suffix());
    let mut lags = Vec::with_capacity(rounds as usize * CHANGES.len());
    for round in 0..rounds {
        let alias = format!("{prefix}-{round}");
        for change in CHANGES {
            let made = match change {
                Change::Create => a.create_key(CreateKeyRequest::new(&alias)).await.map(drop),
                Change::Disable => a.disable_key(&alias).await,
                Change::Enable => a.enable_key(&alias).await,
                Change::Rotate => a.rotate_key(&alias).await.map(drop),
            };
            made.map_err(|e| BenchError::Setup(format!("{change:?} {alias} on {leader}: {e}")))?;
            let start = Instant::now();
            loop {
                let seen = b
                    .describe_key(&alias)
                    .await
                    .is_ok_and(|m| (m.state, m.current_key_version) == change.expected());
                if seen {
                    lags.push(start.elapsed());
                    break;
                }
                if start.elapsed() > GIVE_UP {
                    return Err(BenchError::Propagation(format!(
                        "{change:?} of {alias} not seen on {follower} after {GIVE_UP:?}"
                    )));
                }
            }
        }
    }
    if lags.is_empty() {
        return Err(BenchError::Setup("no rounds to run".into()));
    }
    Ok(Lags::of(lags))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let ms = |n: u64| Duration::from_millis(n);
        let lags = Lags::of((1..=100).rev().map(ms).collect());
        assert_eq!(
            (
                lags.changes,
                lags.p50_ms,
                lags.p90_ms,
                lags.p99_ms,
                lags.max_ms
            ),
            (100, 50.0, 90.0, 99.0, 100.0)
        );
        let one = Lags::of(vec![ms(7)]);
        assert_eq!((one.p50_ms, one.max_ms), (7.0, 7.0));
        assert_eq!(
            one.to_string(),
            "propagation over 1 changes: p50 7.00 ms, p90 7.00 ms, p99 7.00 ms, max 7.00 ms"
        );
    }
}
