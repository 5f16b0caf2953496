//! Bucket keys: one KMS data key serves many SSE-KMS objects of a bucket for a bounded time.
//!
//! Without them every SSE-KMS PUT costs a `GenerateDataKey` and every GET a `Decrypt`; with the KMS
//! on another host each small-object request waits on it, and the KMS load grows with the object
//! count. With a bucket key the adapter asks the KMS for a data key bound to the *bucket* (the KMS
//! context names the bucket, not the object: [`crate::sse`]'s `bucket_key_context`), keeps it for
//! [`BucketKeyConfig::ttl`], and wraps each object's key under a key derived from it with HKDF and
//! the object's fresh 32-byte salt, bound to the bucket and the object key (envelope format version
//! 3, see [`crate::envelope`]). A GET opens the stored bucket-key EDK once and keeps the opened key
//! for the same time.
//!
//! The trade-offs (also in the README): a disabled or deleted CMK stops new writes and reads only
//! once the cached keys expire (at most the TTL); the KMS audit log shows bucket-level, not
//! object-level, use; objects written without bucket keys are unchanged (version 2).
//!
//! Both caches are [`moka`] caches bounded in time and size. An entry expires
//! [`BucketKeyConfig::ttl`] after the KMS call that made it (not after its insertion, and whatever
//! its use): that bounds how long a disabled CMK still works. Each cache holds at most
//! [`BucketKeyConfig::max_entries`]. Concurrent misses on one slot make one KMS call, whose answer
//! (or error) all of them get: when a hot bucket's key expires, its in-flight PUTs do not each call
//! the KMS. A TTL of zero turns caching off. Keys live in [`Key32`] (zeroized when the cache drops
//! an entry) and are never logged.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;

use crate::crypto::Key32;
use crate::error::{Error, Result};
use crate::provider::{DataKey, DataKeyRequest, KeyProvider, KeyTarget, StoredKey};

/// How long bucket keys are kept by default: five minutes.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// How many entries each cache holds by default.
pub const DEFAULT_MAX_ENTRIES: usize = 1024;

/// The bounds of the bucket-key caches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BucketKeyConfig {
    /// How long a key is used after the KMS call that produced it (zero: no caching).
    pub ttl: Duration,
    /// The most entries each cache (generated keys, opened keys) holds.
    pub max_entries: usize,
}

impl Default for BucketKeyConfig {
    fn default() -> Self {
        Self {
            ttl: DEFAULT_TTL,
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }
}

impl BucketKeyConfig {
    fn caches(self) -> bool {
        !self.ttl.is_zero() && self.max_entries > 0
    }
}

/// A generated bucket key: the key, and what its envelopes record.
#[derive(Clone)]
pub(crate) struct GeneratedBucketKey {
    pub(crate) key: Key32,
    pub(crate) key_id: String,
    pub(crate) key_version: Option<u32>,
    pub(crate) edk: Vec<u8>,
}

/// Which generated key a write may reuse: the request's target (its key id, or `None` for the
/// default CMK) and the KMS context (which names the bucket and holds the user's pairs).
pub(crate) type GeneratedSlot = (Option<String>, String);
/// Which opened key a read may reuse: the recorded key id, the EDK and the KMS context. The
/// context names the bucket, so an envelope moved to another bucket misses and goes to the KMS,
/// which refuses it.
pub(crate) type OpenedSlot = (String, Vec<u8>, String);

/// A cached value and the start of the KMS call that made it.
#[derive(Clone)]
struct Timed<V> {
    value: V,
    made: Instant,
}

/// Expires an entry [`BucketKeyConfig::ttl`] after its KMS call started.
struct SinceKmsCall(Duration);

impl SinceKmsCall {
    fn left<V>(&self, value: &Timed<V>, now: Instant) -> Option<Duration> {
        Some(
            self.0
                .saturating_sub(now.saturating_duration_since(value.made)),
        )
    }
}

impl<K, V> Expiry<K, Timed<V>> for SinceKmsCall {
    fn expire_after_create(&self, _: &K, value: &Timed<V>, now: Instant) -> Option<Duration> {
        self.left(value, now)
    }

    fn expire_after_update(
        &self,
        _: &K,
        value: &Timed<V>,
        now: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        self.left(value, now)
    }
}

fn cache<K, V>(config: BucketKeyConfig) -> Cache<K, Timed<V>>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder()
        .max_capacity(config.max_entries as u64)
        .expire_after(SinceKmsCall(config.ttl))
        .build()
}

/// The two caches of an adapter: generated bucket keys (for writes) and opened ones (for reads).
pub(crate) struct BucketKeyCache {
    config: BucketKeyConfig,
    generated: Cache<GeneratedSlot, Timed<GeneratedBucketKey>>,
    opened: Cache<OpenedSlot, Timed<Key32>>,
}

impl std::fmt::Debug for BucketKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketKeyCache")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl BucketKeyCache {
    pub(crate) fn new(config: BucketKeyConfig) -> Self {
        Self {
            config,
            generated: cache(config),
            opened: cache(config),
        }
    }

    pub(crate) fn config(&self) -> BucketKeyConfig {
        self.config
    }

    /// The bucket key for a write under `target` with KMS `context` (a bucket key's context): the
    /// cached one while it lives, else a fresh one from the KMS (one call for concurrent misses).
    /// A generated key is kept as opened too, so reads of the objects it writes need no `Decrypt`.
    pub(crate) async fn for_write(
        &self,
        kms: &dyn KeyProvider,
        target: KeyTarget<'_>,
        context: &str,
    ) -> Result<GeneratedBucketKey> {
        let generate = async {
            let made = Instant::now();
            let g = kms
                .generate_data_key(DataKeyRequest { target, context })
                .await?;
            let value = GeneratedBucketKey {
                key: g.key.0,
                key_id: g.key_id,
                key_version: g.key_version,
                edk: g.ciphertext_blob,
            };
            Ok::<_, Error>(Timed { value, made })
        };
        if !self.config.caches() {
            return generate.await.map(|t| t.value);
        }
        let named = match target {
            KeyTarget::Key(id) => Some(id.to_owned()),
            _ => None,
        };
        let slot = (named, context.to_owned());
        let fresh = std::sync::atomic::AtomicBool::new(false);
        let got = self
            .generated
            .try_get_with(slot, async {
                fresh.store(true, std::sync::atomic::Ordering::Relaxed);
                generate.await
            })
            .await
            .map_err(|e| e.duplicate())?;
        if fresh.into_inner() {
            let opened = (
                got.value.key_id.clone(),
                got.value.edk.clone(),
                context.to_owned(),
            );
            let timed = Timed {
                value: got.value.key.clone(),
                made: got.made,
            };
            self.opened.insert(opened, timed).await;
        }
        Ok(got.value)
    }

    /// The bucket key of a stored envelope: the cached one while it lives, else the KMS's
    /// decryption of `edk` under `context` (which names the reader's bucket; one call for
    /// concurrent misses).
    pub(crate) async fn for_read(
        &self,
        kms: &dyn KeyProvider,
        key_id: &str,
        edk: &[u8],
        context: &str,
    ) -> Result<DataKey> {
        let open = async {
            let made = Instant::now();
            let key = kms
                .decrypt_data_key(StoredKey {
                    key_id,
                    ciphertext_blob: edk,
                    context,
                })
                .await?;
            Ok::<_, Error>(Timed { value: key.0, made })
        };
        if !self.config.caches() {
            return open.await.map(|t| DataKey(t.value));
        }
        let slot = (key_id.to_owned(), edk.to_vec(), context.to_owned());
        let got = self
            .opened
            .try_get_with(slot, open)
            .await
            .map_err(|e: Arc<Error>| e.duplicate())?;
        Ok(DataKey(got.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(ttl_ms: u64, max_entries: usize) -> BucketKeyConfig {
        BucketKeyConfig {
            ttl: Duration::from_millis(ttl_ms),
            max_entries,
        }
    }

    fn timed(made: Instant) -> Timed<&'static str> {
        Timed { value: "a", made }
    }

    #[tokio::test]
    async fn entries_expire_a_ttl_after_their_kms_call() {
        let c: Cache<u32, Timed<&str>> = cache(config(60_000, 4));
        let now = Instant::now();
        c.insert(1, timed(now)).await;
        assert_eq!(c.get(&1).await.map(|t| t.value), Some("a"));
        // A KMS call that started a TTL ago gives an entry that is already dead.
        if let Some(long_ago) = now.checked_sub(Duration::from_secs(61)) {
            c.insert(2, timed(long_ago)).await;
            assert!(c.get(&2).await.is_none(), "expired from its KMS call");
            // Replacing a live entry with an older answer shortens its life too.
            c.insert(1, timed(long_ago)).await;
            assert!(c.get(&1).await.is_none());
        }
    }

    #[test]
    fn the_time_left_counts_from_the_kms_call() {
        let e = SinceKmsCall(Duration::from_millis(1000));
        let t0 = Instant::now();
        let v = timed(t0);
        assert_eq!(e.left(&v, t0), Some(Duration::from_millis(1000)));
        let later = t0 + Duration::from_millis(400);
        assert_eq!(e.left(&v, later), Some(Duration::from_millis(600)));
        assert_eq!(
            e.left(&v, t0 + Duration::from_secs(5)),
            Some(Duration::ZERO)
        );
    }

    #[tokio::test]
    async fn a_full_cache_stays_within_its_bound() {
        let c: Cache<u32, Timed<&str>> = cache(config(60_000, 2));
        for i in 0..20 {
            c.insert(i, timed(Instant::now())).await;
        }
        c.run_pending_tasks().await;
        assert!(c.entry_count() <= 2, "{} entries", c.entry_count());
    }

    #[test]
    fn a_zero_ttl_or_size_caches_nothing() {
        assert!(!config(0, 8).caches());
        assert!(!config(1000, 0).caches());
        assert!(config(1000, 1).caches());
    }
}
