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
//! Both caches are bounded in time (entries expire [`BucketKeyConfig::ttl`] after the KMS call
//! that made them, whatever their use) and in size ([`BucketKeyConfig::max_entries`] each: a full
//! cache drops its expired entries, then its oldest). A TTL of zero turns caching off. Keys live in
//! [`Key32`] (zeroized when an entry is dropped: on expiry, eviction or replacement) and are never
//! logged. The caches are a small map under a mutex rather than a cache crate: entries are few
//! (buckets × CMKs × contexts), the lock is never held across a KMS call, expiry is checked on
//! every lookup against the time of the KMS call (it bounds how long a disabled CMK still works),
//! and eviction must drop the key at once so it is zeroized; this needs no new dependency.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::crypto::Key32;
use crate::error::Result;
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

struct Entry<V> {
    value: V,
    made: Instant,
}

/// A map bounded in time and size.
struct TimedMap<K, V> {
    entries: HashMap<K, Entry<V>>,
}

impl<K: std::hash::Hash + Eq + Clone, V: Clone> TimedMap<K, V> {
    fn get(&mut self, key: &K, config: BucketKeyConfig, now: Instant) -> Option<V> {
        let entry = self.entries.get(key)?;
        if now.saturating_duration_since(entry.made) < config.ttl {
            return Some(entry.value.clone());
        }
        self.entries.remove(key);
        None
    }

    fn insert(&mut self, key: K, value: V, config: BucketKeyConfig, made: Instant) {
        if config.ttl.is_zero() || config.max_entries == 0 {
            return;
        }
        if self.entries.len() >= config.max_entries && !self.entries.contains_key(&key) {
            let now = Instant::now();
            self.entries
                .retain(|_, e| now.saturating_duration_since(e.made) < config.ttl);
            if self.entries.len() >= config.max_entries {
                let oldest = self
                    .entries
                    .iter()
                    .min_by_key(|(_, e)| e.made)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    self.entries.remove(&oldest);
                }
            }
        }
        self.entries.insert(key, Entry { value, made });
    }
}

/// The two caches of an adapter: generated bucket keys (for writes) and opened ones (for reads).
pub(crate) struct BucketKeyCache {
    config: BucketKeyConfig,
    generated: Mutex<TimedMap<GeneratedSlot, GeneratedBucketKey>>,
    opened: Mutex<TimedMap<OpenedSlot, Key32>>,
}

impl std::fmt::Debug for BucketKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketKeyCache")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl BucketKeyCache {
    pub(crate) fn new(config: BucketKeyConfig) -> Self {
        Self {
            config,
            generated: Mutex::new(TimedMap {
                entries: HashMap::new(),
            }),
            opened: Mutex::new(TimedMap {
                entries: HashMap::new(),
            }),
        }
    }

    pub(crate) fn config(&self) -> BucketKeyConfig {
        self.config
    }

    /// A live generated key for `slot`.
    pub(crate) fn generated(&self, slot: &GeneratedSlot) -> Option<GeneratedBucketKey> {
        lock(&self.generated).get(slot, self.config, Instant::now())
    }

    /// Keeps a key the KMS generated at `made` (also as opened, so reads of the objects it writes
    /// need no `Decrypt`).
    pub(crate) fn keep_generated(
        &self,
        slot: GeneratedSlot,
        key: GeneratedBucketKey,
        made: Instant,
    ) {
        let opened = (key.key_id.clone(), key.edk.clone(), slot.1.clone());
        lock(&self.opened).insert(opened, key.key.clone(), self.config, made);
        lock(&self.generated).insert(slot, key, self.config, made);
    }

    /// A live opened key for `slot`.
    pub(crate) fn opened(&self, slot: &OpenedSlot) -> Option<Key32> {
        lock(&self.opened).get(slot, self.config, Instant::now())
    }

    /// Keeps a key the KMS opened at `made`.
    pub(crate) fn keep_opened(&self, slot: OpenedSlot, key: Key32, made: Instant) {
        lock(&self.opened).insert(slot, key, self.config, made);
    }

    /// The bucket key for a write under `target` with KMS `context` (a bucket key's context): the
    /// cached one while it lives, else a fresh one from the KMS. Concurrent misses may each ask
    /// the KMS; the last answer is kept (the others' objects stay readable through their EDKs).
    pub(crate) async fn for_write(
        &self,
        kms: &dyn KeyProvider,
        target: KeyTarget<'_>,
        context: &str,
    ) -> Result<GeneratedBucketKey> {
        let named = match target {
            KeyTarget::Key(id) => Some(id.to_owned()),
            _ => None,
        };
        let slot = (named, context.to_owned());
        if let Some(hit) = self.generated(&slot) {
            return Ok(hit);
        }
        let made = Instant::now();
        let g = kms
            .generate_data_key(DataKeyRequest { target, context })
            .await?;
        let key = GeneratedBucketKey {
            key: g.key.0,
            key_id: g.key_id,
            key_version: g.key_version,
            edk: g.ciphertext_blob,
        };
        self.keep_generated(slot, key.clone(), made);
        Ok(key)
    }

    /// The bucket key of a stored envelope: the cached one while it lives, else the KMS's
    /// decryption of `edk` under `context` (which names the reader's bucket).
    pub(crate) async fn for_read(
        &self,
        kms: &dyn KeyProvider,
        key_id: &str,
        edk: &[u8],
        context: &str,
    ) -> Result<DataKey> {
        let slot = (key_id.to_owned(), edk.to_vec(), context.to_owned());
        if let Some(hit) = self.opened(&slot) {
            return Ok(DataKey(hit));
        }
        let made = Instant::now();
        let key = kms
            .decrypt_data_key(StoredKey {
                key_id,
                ciphertext_blob: edk,
                context,
            })
            .await?;
        self.keep_opened(slot, key.0.clone(), made);
        Ok(key)
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

    #[test]
    fn entries_expire_after_the_ttl() {
        let c = config(1000, 4);
        let mut m = TimedMap {
            entries: HashMap::new(),
        };
        let t0 = Instant::now();
        m.insert(1, "a", c, t0);
        assert_eq!(m.get(&1, c, t0 + Duration::from_millis(999)), Some("a"));
        assert_eq!(m.get(&1, c, t0 + Duration::from_millis(1000)), None);
        assert!(
            m.entries.is_empty(),
            "an expired entry is dropped on lookup"
        );
    }

    #[test]
    fn a_full_map_drops_its_oldest() {
        let c = config(60_000, 2);
        let mut m = TimedMap {
            entries: HashMap::new(),
        };
        let t0 = Instant::now();
        m.insert(1, "a", c, t0);
        m.insert(2, "b", c, t0 + Duration::from_millis(1));
        m.insert(3, "c", c, t0 + Duration::from_millis(2));
        assert_eq!(m.entries.len(), 2);
        assert_eq!(m.get(&1, c, t0), None);
        assert_eq!(m.get(&2, c, t0), Some("b"));
        assert_eq!(m.get(&3, c, t0), Some("c"));
    }

    #[test]
    fn a_zero_ttl_keeps_nothing() {
        let c = config(0, 8);
        let mut m = TimedMap {
            entries: HashMap::new(),
        };
        m.insert(1, "a", c, Instant::now());
        assert!(m.entries.is_empty());
    }
}
