//! How long a replica may serve from its cache while it cannot reach its shared key store
//! (`--max-stale`). The hot path never reads the database, so a replica cut off from PostgreSQL
//! keeps answering GenerateDataKey and Decrypt; without a bound it would also keep honouring a key
//! that another replica disabled or scheduled for deletion meanwhile. With a bound, every contact
//! with the store confirms the cache (a resync, or the change feed's connection answering), and
//! once the last confirmation is older than the bound the data calls fail with UNAVAILABLE until
//! the store is back. A store one process owns (SQLite) is never stale.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use crate::error::{Error, Result};

/// When the cache was last confirmed against the store, and how old that may get.
#[derive(Debug)]
pub(super) struct Freshness {
    /// Where the milliseconds below count from.
    epoch: Instant,
    /// The bound in milliseconds; 0: none (serve from the cache for as long as it takes).
    max_stale_ms: AtomicU64,
    /// Milliseconds from `epoch` to the last confirmation.
    confirmed_ms: AtomicU64,
}

impl Freshness {
    /// No bound, confirmed now (the cache was just loaded from the store).
    pub(super) fn new() -> Self {
        Self {
            epoch: Instant::now(),
            max_stale_ms: AtomicU64::new(0),
            confirmed_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Sets the bound (`None`: no bound). Counts from now: a bound set on a running replica does
    /// not fail calls for the time before it.
    pub(super) fn set_max_stale(&self, max: Option<Duration>) {
        self.confirm();
        let ms = max.map_or(0, |d| {
            u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
        });
        self.max_stale_ms.store(ms, Ordering::Relaxed);
    }

    /// The store answered: the cache holds everything it had announced.
    pub(super) fn confirm(&self) {
        self.confirm_at(self.stamp());
    }

    /// Now, as [`Freshness::confirm_at`] takes it: taken before a read of the store, confirmed
    /// once what it read is in the cache.
    pub(super) fn stamp(&self) -> u64 {
        self.now_ms()
    }

    /// The cache holds everything the store had at `stamp`.
    pub(super) fn confirm_at(&self, stamp: u64) {
        self.confirmed_ms.fetch_max(stamp, Ordering::Relaxed);
    }

    /// Ok while the last confirmation is within the bound; otherwise UNAVAILABLE, saying for how
    /// long the store has been out of reach.
    pub(super) fn check(&self) -> Result<()> {
        let max = self.max_stale_ms.load(Ordering::Relaxed);
        if max == 0 {
            return Ok(());
        }
        let age = self
            .now_ms()
            .saturating_sub(self.confirmed_ms.load(Ordering::Relaxed));
        if age <= max {
            return Ok(());
        }
        Err(Error::StoreUnavailable(format!(
            "this replica has not reached the key store for {:.1} s, longer than its --max-stale of \
             {:.1} s: its keys may be out of date, so it serves no key until the store is back",
            Duration::from_millis(age).as_secs_f64(),
            Duration::from_millis(max).as_secs_f64(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_bound_is_never_stale() {
        let f = Freshness::new();
        std::thread::sleep(Duration::from_millis(5));
        f.check().expect("no bound");
    }

    /// Within the bound calls pass; past it they fail with the exact message; a confirmation
    /// makes the cache fresh again; removing the bound stops the check.
    #[test]
    fn past_the_bound_calls_fail_until_confirmed() {
        let f = Freshness::new();
        f.set_max_stale(Some(Duration::from_millis(500)));
        f.check().expect("just confirmed");
        std::thread::sleep(Duration::from_millis(600));
        let e = f.check().expect_err("stale");
        let text = e.to_string();
        assert!(matches!(e, Error::StoreUnavailable(_)), "{e:?}");
        assert!(
            text.contains("has not reached the key store for")
                && text.contains("longer than its --max-stale of 0.5 s"),
            "{text}"
        );
        f.confirm();
        f.check().expect("confirmed again");
        std::thread::sleep(Duration::from_millis(600));
        assert!(f.check().is_err());
        f.set_max_stale(None);
        f.check().expect("no bound any more");
    }
}
