//! Resynchronisation with a key store other replicas write to (PostgreSQL): [`Kms::resync`]
//! reloads what changed since the cache was filled, and a server calls it on its periodic tick
//! when the store [`is shared`](crate::store::KeyStore::is_shared). So a change made on one
//! replica reaches the others within one tick (`--tick-secs`, 60 s by default).
//!
//! Not done yet (issue 14): a change feed (LISTEN/NOTIFY with a versioned change log) to bring
//! that bound under 100 ms; a resync reads every key, which is fine for thousands of keys and
//! not for millions.

use std::collections::HashSet;

use super::{Kms, cache::Entry};
use crate::{
    error::Result,
    store::{KeyStore, StoredKey},
};

impl Kms {
    /// Reloads the cache from the key store: keys made, changed or deleted there by another
    /// replica are made, changed or dropped here. Serialised with this replica's own writes.
    /// Returns how many keys changed.
    pub fn resync(&self) -> Result<usize> {
        let _w = self.lock_write()?;
        self.resync_locked()
    }

    /// [`Kms::resync`] for a caller that holds the write lock.
    pub(super) fn resync_locked(&self) -> Result<usize> {
        let stored = self.store().load_all()?;
        let mut seen = HashSet::with_capacity(stored.len());
        let mut changed = Vec::new();
        let gone: Vec<_> = {
            let cache = self.read();
            for StoredKey { meta, versions } in stored {
                seen.insert(meta.key_id);
                let same = cache
                    .get(&meta.key_id)
                    .is_some_and(|e| *e.meta() == meta && e.versions().len() == versions.len());
                if !same {
                    changed.push(StoredKey { meta, versions });
                }
            }
            cache
                .entries()
                .map(|e| e.meta().key_id)
                .filter(|id| !seen.contains(id))
                .collect()
        };
        // Unwrapped before the cache is touched: a version this root key cannot open changes
        // nothing.
        let entries = changed
            .into_iter()
            .map(|StoredKey { meta, versions }| {
                let keys = versions
                    .iter()
                    .map(|v| {
                        self.root
                            .unwrap_material(meta.key_id, v.version, &v.wrapped)
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Entry::new(meta, keys))
            })
            .collect::<Result<Vec<_>>>()?;
        let n = entries.len() + gone.len();
        self.apply(|cache| {
            for entry in entries {
                cache.insert(entry);
            }
            for id in gone {
                cache.remove(id);
            }
        });
        Ok(n)
    }

    /// Whether other replicas write to this KMS's key store (so [`Kms::resync`] is worth a tick).
    pub fn store_is_shared(&self) -> bool {
        KeyStore::is_shared(&*self.store)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use base64::Engine as _;

    use crate::{
        Error, KeyState, ManualClock, RootKey,
        kms::{Kms, data_keys::DataKeySpec, test_support::ctx},
        store::postgres::{PostgresOptions, PostgresStore, harness::Postgres},
    };

    fn replica(url: &str) -> Kms {
        let root = RootKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([9; 32]))
            .unwrap();
        let store = PostgresStore::open(url, &PostgresOptions::default()).unwrap();
        let clock = Arc::new(ManualClock::new(1_700_000_000));
        Kms::open_with_store(Box::new(store), root, clock).unwrap()
    }

    /// Two replicas on one PostgreSQL database: a key made on A is unknown to B until B resyncs,
    /// then usable there; disabled on B, it stops working on A at A's next resync; deleted...
    /// A resync with nothing new changes nothing.
    #[test]
    fn a_resync_brings_the_other_replicas_changes() {
        let Some(pg) = Postgres::start("kms resync") else {
            return;
        };
        let url = pg.new_database();
        let (a, b) = (replica(&url), replica(&url));
        assert!(a.store_is_shared());
        assert_eq!(b.resync().unwrap(), 0);
        let key = a.create_key("shared", "made on A", "").unwrap();
        let data = a
            .generate_data_key("shared", DataKeySpec::Aes256, &ctx(), true)
            .unwrap();
        assert!(matches!(b.describe_key("shared"), Err(Error::NotFound(_))));
        assert_eq!(b.resync().unwrap(), 1);
        assert_eq!(b.describe_key("shared").unwrap(), key);
        let opened = b.decrypt(&data.ciphertext_blob, &ctx()).unwrap();
        let made = data.plaintext.expect("with plaintext");
        assert_eq!(opened.plaintext.expose(), made.expose());

        b.disable_key("shared").unwrap();
        a.generate_data_key("shared", DataKeySpec::Aes256, &ctx(), true)
            .expect("A has not resynced yet");
        assert_eq!(a.resync().unwrap(), 1);
        let e = a
            .generate_data_key("shared", DataKeySpec::Aes256, &ctx(), true)
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::KeyState {
                    state: KeyState::Disabled,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(a.resync().unwrap(), 0);

        // Two rotations from the same cached version: the second replica's is refused (the
        // version number is taken) and takes in the first's, so its retry makes the next version.
        let rotating = a.create_key("rotating", "", "").unwrap();
        assert_eq!(b.resync().unwrap(), 1);
        assert_eq!(a.rotate_key("rotating").unwrap(), (rotating.key_id, 2));
        let e = b.rotate_key("rotating").unwrap_err();
        assert!(
            matches!(&e, Error::Conflict(id) if *id == rotating.key_id.to_string()),
            "{e}"
        );
        assert_eq!(b.rotate_key("rotating").unwrap(), (rotating.key_id, 3));
        assert_eq!(a.resync().unwrap(), 1);
        assert_eq!(a.describe_key("rotating").unwrap().current_key_version, 3);

        // Deleted elsewhere (as B's deadline task would): dropped here, its alias free.
        let other = PostgresStore::open(&url, &PostgresOptions::default()).unwrap();
        crate::KeyStore::delete_keys(&other, &[key.key_id]).unwrap();
        assert_eq!(a.resync().unwrap(), 1);
        assert!(matches!(a.describe_key("shared"), Err(Error::NotFound(_))));
        a.create_key("shared", "again", "").unwrap();
    }
}
