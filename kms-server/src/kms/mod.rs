//! The KMS core: key lifecycle, rotation, data keys and ciphertexts, independent of any transport.
//!
//! Every key and every unwrapped key version lives in an in-memory cache (`cache`) loaded at start,
//! so the cryptographic calls ([`data_keys`]) never touch the key store. A mutation ([`lifecycle`],
//! `seed`) is serialised by one mutex, written to the store first, and only then applied to the
//! cache: a crash never leaves the cache ahead of the disk, and the cache follows every state
//! change as soon as the call returns. Deadlines (deletion dates, automatic rotation: `deadlines`)
//! are checked on use and by [`Kms::run_due_tasks`], which a server calls periodically. Which
//! state allows which action is [`KeyState::next`]'s table.
//!
//! This module holds the [`Kms`] itself and the plumbing its parts share; each part adds its
//! calls to [`Kms`] from its own file.

pub mod asymmetric;
pub mod byok;
mod cache;
pub mod data_keys;
mod deadlines;
mod freshness;
pub mod key_sets;
pub mod lifecycle;
pub mod migrate;
mod pending_import;
mod resync;
mod seed;

pub(crate) use seed::dry_run as seed_dry_run;

use std::{
    path::PathBuf,
    sync::{
        Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use uuid::Uuid;

use self::cache::{Cache, Entry, Material};
use crate::{
    asymmetric::PrivateKey,
    clock::{Clock, SystemClock},
    error::{Error, Result},
    keys::{KeyAction, KeyMetadata, KeyState, KeyUsage, ORIGIN_KMS, OWNER_COS, Refusal},
    root_key::RootKey,
    secret::Key32,
    store::{
        Database, KeyStore, StoredKey, StoredVersion,
        postgres::{PostgresOptions, PostgresStore},
        sqlite::SqliteStore,
    },
};

pub use kms_types::naming::{DEFAULT_KEY_ALIAS, SSE_COS_KEY_ALIAS};

pub use self::resync::Follower;

/// Tencent's answer to ScheduleKeyDeletion on a key that is not Disabled.
const CMK_SHOULD_BE_DISABLED: &str = kms_types::ErrorCode::CmkShouldBeDisabled.as_str();
/// Tencent's answer to CancelKeyDeletion on a key that is not PendingDelete.
const CMK_NOT_PENDING_DELETE: &str = kms_types::ErrorCode::CmkNotPendingDelete.as_str();

const META_ROOT_CHECK: &str = "root_key_check";
const META_DEFAULT_KEY: &str = "default_key_id";
const META_SSE_COS_KEY: &str = "sse_cos_key_id";

/// How a KMS instance is set up.
#[derive(Debug)]
pub struct Config {
    /// Where the database lives (created if absent).
    pub data_dir: PathBuf,
    /// The key that wraps all key material.
    pub root_key: RootKey,
    /// The time source.
    pub clock: Arc<dyn Clock>,
}

impl Config {
    /// A config with the system clock.
    pub fn new(data_dir: impl Into<PathBuf>, root_key: RootKey) -> Self {
        Self {
            data_dir: data_dir.into(),
            root_key,
            clock: Arc::new(SystemClock),
        }
    }
}

/// The KMS. Cheap to share (`Arc<Kms>`); every method is synchronous and thread-safe. Mutations
/// write to the key store, so an async caller runs them on a blocking thread.
pub struct Kms {
    store: Box<dyn KeyStore>,
    /// Every call into the store, counted (see [`Kms::store_access_count`]).
    store_accesses: AtomicU64,
    /// Reloads of every key, counted (see [`Kms::full_reload_count`]).
    full_reloads: AtomicU64,
    root: RootKey,
    clock: Arc<dyn Clock>,
    cache: RwLock<Cache>,
    /// Serialises mutations (held across the store write, never by the hot path).
    write: Mutex<()>,
    default_key_id: Uuid,
    sse_cos_key_id: Uuid,
    /// How stale the cache may get while a shared store is out of reach (`--max-stale`).
    freshness: freshness::Freshness,
}

impl std::fmt::Debug for Kms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kms")
            .field("default_key_id", &self.default_key_id)
            .field("sse_cos_key_id", &self.sse_cos_key_id)
            .finish_non_exhaustive()
    }
}

impl Kms {
    /// Opens the SQLite key store in `config.data_dir` (see [`Kms::open_with_store`]).
    pub fn open(config: Config) -> Result<Self> {
        let store = SqliteStore::open_in_dir(&config.data_dir)?;
        Self::open_with_store(Box::new(store), config.root_key, config.clock)
    }

    /// Opens the key store `database` names for a server whose data directory is
    /// `config.data_dir` (locked while the KMS is open, whatever the backend). Replicas on one
    /// PostgreSQL database take turns to start (an advisory lock), so two starting together on an
    /// empty database do not both create the service keys.
    pub fn open_database(
        database: &Database,
        postgres: &PostgresOptions,
        config: Config,
    ) -> Result<Self> {
        match database {
            Database::Sqlite(path) => {
                let store = SqliteStore::open_for_dir(path, &config.data_dir)?;
                Self::open_with_store(Box::new(store), config.root_key, config.clock)
            }
            Database::Postgres(url) => {
                let store = PostgresStore::open_for_dir(url, postgres, &config.data_dir)?;
                let _turn = store.start_lock()?;
                Self::open_with_store(Box::new(store), config.root_key, config.clock)
            }
        }
    }

    /// Opens a KMS on `store`: checks the root key against it, loads every key, and creates the
    /// service keys on first start.
    pub fn open_with_store(
        store: Box<dyn KeyStore>,
        root: RootKey,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let verifier = store.meta(META_ROOT_CHECK)?;
        if verifier.as_ref().is_some_and(|v| !root.verify(v)) {
            return Err(Error::RootKeyMismatch);
        }
        let mut cache = Cache::default();
        for stored in store.load_all()? {
            cache.insert(unwrap_stored(&root, stored)?);
        }
        // Only a root key that opened every stored version may (re)write the verifier.
        if verifier.is_none() {
            store.set_meta(META_ROOT_CHECK, &root.verifier())?;
        }
        let mut kms = Self {
            store,
            store_accesses: AtomicU64::new(0),
            full_reloads: AtomicU64::new(0),
            root,
            clock,
            cache: RwLock::new(cache),
            write: Mutex::new(()),
            default_key_id: Uuid::nil(),
            sse_cos_key_id: Uuid::nil(),
            freshness: freshness::Freshness::new(),
        };
        kms.default_key_id = kms.ensure_service_key(
            META_DEFAULT_KEY,
            DEFAULT_KEY_ALIAS,
            "Default CMK of COS server-side encryption (cos/kms)",
        )?;
        kms.sse_cos_key_id = kms.ensure_service_key(
            META_SSE_COS_KEY,
            SSE_COS_KEY_ALIAS,
            "Service-managed key of SSE-COS (AES256)",
        )?;
        kms.run_due_tasks()?;
        Ok(kms)
    }

    fn ensure_service_key(&self, meta_name: &str, alias: &str, description: &str) -> Result<Uuid> {
        if let Some(raw) = self.store().meta(meta_name)? {
            let id = std::str::from_utf8(&raw)
                .ok()
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or_else(|| Error::Internal(format!("bad {meta_name} in key store")))?;
            if self.read().contains(&id) {
                return Ok(id);
            }
        }
        let _w = self.lock_write()?;
        // The key and the setting naming it are two commits: a kill between them leaves a
        // service key that no setting names. Adopt it; making another would fail on its alias at
        // this and every later start.
        let orphan = {
            let c = self.read();
            c.alias_holder(alias)
                .filter(|id| c.get(id).is_some_and(|e| e.meta().owner == OWNER_COS))
        };
        let id = match orphan {
            Some(id) => id,
            None => {
                let meta =
                    self.new_metadata(alias, description, OWNER_COS, KeyUsage::EncryptDecrypt);
                let id = meta.key_id;
                self.persist_new(meta, Material::Versions(vec![Key32::random()]))?;
                id
            }
        };
        self.store()
            .set_meta(meta_name, id.to_string().as_bytes())?;
        Ok(id)
    }

    /// The key store, counting the use.
    fn store(&self) -> &dyn KeyStore {
        self.store_accesses.fetch_add(1, Ordering::Relaxed);
        &*self.store
    }

    fn read(&self) -> RwLockReadGuard<'_, Cache> {
        // A panic while holding the lock cannot leave the cache half-updated: every update is a
        // single insert/remove, so a poisoned lock is still consistent.
        self.cache.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The cache, for a call that uses key material: refused (UNAVAILABLE) while the cache is
    /// staler than `--max-stale` allows (see [`Kms::set_max_stale`]).
    fn serve(&self) -> Result<RwLockReadGuard<'_, Cache>> {
        self.freshness.check()?;
        Ok(self.read())
    }

    /// Bounds how long this replica serves keys from its cache while it cannot reach its shared
    /// key store (`None`: no bound, the default). Every resync, and every answer of the change
    /// feed's connection, confirms the cache; past the bound since the last confirmation, calls
    /// that use key material fail with UNAVAILABLE until the store answers again. Ignored for a
    /// store one process owns (SQLite), which is never stale.
    pub fn set_max_stale(&self, max: Option<Duration>) {
        if self.store_is_shared() {
            self.freshness.set_max_stale(max);
        }
    }

    fn lock_write(&self) -> Result<MutexGuard<'_, ()>> {
        self.write
            .lock()
            .map_err(|_| Error::Internal("write mutex poisoned".into()))
    }

    fn apply(&self, f: impl FnOnce(&mut Cache)) {
        let mut guard = self.cache.write().unwrap_or_else(|p| p.into_inner());
        f(&mut guard);
    }

    /// The clock's now.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Id of the default CMK (alias [`DEFAULT_KEY_ALIAS`]).
    pub fn default_key_id(&self) -> Uuid {
        self.default_key_id
    }

    /// Id of the hidden SSE-COS service key (alias [`SSE_COS_KEY_ALIAS`]).
    pub fn sse_cos_key_id(&self) -> Uuid {
        self.sse_cos_key_id
    }

    /// How many times the key store has been used since it was opened. The cryptographic calls
    /// never add to it once their keys' deadlines are settled (they serve from the cache).
    pub fn store_access_count(&self) -> u64 {
        self.store_accesses.load(Ordering::Relaxed)
    }

    fn new_metadata(
        &self,
        alias: &str,
        description: &str,
        owner: &str,
        key_usage: KeyUsage,
    ) -> KeyMetadata {
        KeyMetadata {
            key_id: Uuid::new_v4(),
            alias: alias.to_owned(),
            description: description.to_owned(),
            state: KeyState::Enabled,
            key_usage,
            owner: owner.to_owned(),
            origin: ORIGIN_KMS.to_owned(),
            create_time: self.now(),
            deletion_date: 0,
            rotation_enabled: false,
            rotate_days: 0,
            last_rotate_time: 0,
            next_rotate_time: 0,
            valid_to: 0,
            tags: Vec::new(),
            current_key_version: 1,
        }
    }

    /// Version `version` of `key_id` wrapped for the store, made now.
    fn wrap(&self, key_id: Uuid, version: u32, material: &Key32, now: i64) -> StoredVersion {
        StoredVersion {
            version,
            wrapped: self.root.wrap_material(key_id, version, material),
            create_time: now,
        }
    }

    /// Writes a brand-new key with its material, then caches it. Caller holds the write lock.
    fn persist_new(&self, meta: KeyMetadata, material: Material) -> Result<()> {
        let now = self.now();
        let versions = match &material {
            Material::Versions(versions) => versions
                .iter()
                .zip(1u32..)
                .map(|(m, v)| self.wrap(meta.key_id, v, m, now))
                .collect(),
            Material::KeyPair(key) => vec![StoredVersion {
                version: 1,
                wrapped: self.root.wrap_private_key(meta.key_id, 1, key.pkcs8()),
                create_time: now,
            }],
        };
        let stored = StoredKey { versions, meta };
        self.store().insert_key(&stored)?;
        let meta = stored.meta;
        self.apply(|c| c.insert(Entry::with_material(meta, material)));
        Ok(())
    }

    /// Applies `change` to a key's metadata under the write lock; `change` returns whether to add
    /// a new version (a rotation). When anything changed, persists it and updates the cache.
    /// Returns the new metadata.
    ///
    /// The store writes only if the key is still as this replica's cache has it. If another
    /// replica changed it since the last resync ([`Error::Conflict`]), its change is taken in and
    /// `change` runs once more on the fresh metadata, so that the call acts on the key as it is
    /// (a RotateKey gets the next free version; an UpdateAlias does not re-enable a key another
    /// replica disabled). A second conflict in a row is returned (ABORTED: retry).
    fn mutate(
        &self,
        name: &str,
        change: impl Fn(&mut KeyMetadata, i64) -> Result<bool>,
    ) -> Result<KeyMetadata> {
        self.expire_due(name)?;
        let _w = self.lock_write()?;
        match self.mutate_locked(name, &change) {
            Err(Error::Conflict(id)) => {
                tracing::debug!(key_id = %id, "key changed by another replica: reloaded, retrying");
                self.resync_locked()?;
                self.mutate_locked(name, &change)
            }
            done => done,
        }
    }

    /// One attempt of [`Kms::mutate`], under the write lock.
    fn mutate_locked(
        &self,
        name: &str,
        change: &impl Fn(&mut KeyMetadata, i64) -> Result<bool>,
    ) -> Result<KeyMetadata> {
        let (before, mut material) = {
            let c = self.read();
            let e = c.resolve(name)?;
            (e.meta().clone(), e.material().clone())
        };
        let now = self.now();
        let mut meta = before.clone();
        let add_version = change(&mut meta, now)?;
        if !add_version && meta == before {
            return Ok(meta);
        }
        if add_version {
            let Material::Versions(versions) = &mut material else {
                return Err(Error::RotateNotSupported(meta.key_id.to_string()));
            };
            let new = Key32::random();
            let v = meta.current_key_version + 1;
            meta.current_key_version = v;
            self.store()
                .add_version(&before, &meta, &self.wrap(meta.key_id, v, &new, now))?;
            versions.push(new);
        } else {
            self.store().update_key(&before, &meta)?;
        }
        let cached = meta.clone();
        self.apply(|c| c.insert(Entry::with_material(cached, material)));
        Ok(meta)
    }

    /// Test-only: every key's metadata as cached, without running any deadline check.
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub fn list_keys_snapshot_for_tests(&self) -> Vec<KeyMetadata> {
        self.read().entries().map(|e| e.meta().clone()).collect()
    }

    /// Test-only: the raw material of a key version, to prove it never reaches the database.
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub fn material_for_tests(&self, key_id: Uuid, version: u32) -> Option<Vec<u8>> {
        let c = self.read();
        c.get(&key_id)?
            .version(version)
            .map(|k| k.expose().to_vec())
    }
}

/// A stored key with its material unwrapped by `root` (and an asymmetric key's PKCS#8 parsed).
/// Any failure to open is [`Error::RootKeyMismatch`]; an asymmetric key must have exactly one
/// version.
fn unwrap_stored(root: &RootKey, StoredKey { meta, versions }: StoredKey) -> Result<Entry> {
    let material = match meta.key_usage.key_spec() {
        None => Material::Versions(
            versions
                .iter()
                .map(|v| root.unwrap_material(meta.key_id, v.version, &v.wrapped))
                .collect::<Result<Vec<_>>>()?,
        ),
        Some(spec) => {
            let [v] = versions.as_slice() else {
                return Err(Error::Internal(format!(
                    "asymmetric key {} has {} versions in the store, not 1",
                    meta.key_id,
                    versions.len()
                )));
            };
            let pkcs8 = root.unwrap_private_key(meta.key_id, v.version, &v.wrapped)?;
            let key = PrivateKey::from_pkcs8(spec, pkcs8).map_err(|_| {
                Error::Internal(format!(
                    "key {}: stored private key does not parse",
                    meta.key_id
                ))
            })?;
            Material::KeyPair(Arc::new(key))
        }
    };
    Ok(Entry::with_material(meta, material))
}

/// The state `action` leaves `m` in (the table is [`KeyState::next`]), or the error a refusal is
/// answered with.
fn next_state(m: &KeyMetadata, action: KeyAction) -> Result<KeyState> {
    m.state.next(action).map_err(|refusal| {
        let key_id = m.key_id.to_string();
        match refusal {
            Refusal::CmkStateNotSupport => Error::transition(&key_id, m.state),
            // A refused cryptographic use: the code names the state (Disabled, Archived).
            Refusal::CmkDisabled | Refusal::CmkArchived => Error::unusable(&key_id, m.state),
            Refusal::CmkShouldBeDisabled => Error::KeyState {
                key_id,
                state: m.state,
                code: CMK_SHOULD_BE_DISABLED,
            },
            Refusal::CmkNotPendingDelete => Error::KeyState {
                key_id,
                state: m.state,
                code: CMK_NOT_PENDING_DELETE,
            },
        }
    })
}

/// Moves `m` to the state `action` leaves it in, or refuses.
fn step(m: &mut KeyMetadata, action: KeyAction) -> Result<()> {
    m.state = next_state(m, action)?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Opening a KMS on a temp dir with a manual clock, for the unit tests of every part.

    use std::sync::Arc;

    use base64::Engine as _;

    use super::{Config, Kms};
    use crate::{clock::ManualClock, root_key::RootKey};

    /// The manual clock's start.
    pub(crate) const T0: i64 = 1_700_000_000;

    /// A KMS on `dir` with a fixed root key. Waits (10 s at most) for the directory's lock: a
    /// child process another test forks (the PostgreSQL harness) holds a copy of a lock just let
    /// go until it execs.
    pub(crate) fn open(dir: &std::path::Path, clock: Arc<ManualClock>) -> Kms {
        let root =
            RootKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([9u8; 32]))
                .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let config = Config {
                data_dir: dir.to_path_buf(),
                root_key: root.clone(),
                clock: clock.clone(),
            };
            match Kms::open(config) {
                Err(crate::Error::DataDirInUse(_)) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                opened => return opened.unwrap(),
            }
        }
    }

    /// A replica on the SQLite file `db`, which other replicas of the same call share (no
    /// directory lock: that is what a shared store is), with a fixed root key.
    pub(crate) fn replica_on_sqlite(db: &std::path::Path, clock: Arc<ManualClock>) -> Kms {
        let root =
            RootKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([4u8; 32]))
                .unwrap();
        let store = Box::new(crate::store::sqlite::SqliteStore::open(db).unwrap());
        Kms::open_with_store(store, root, clock).unwrap()
    }

    /// Base64 of a small JSON encryption context.
    pub(crate) fn ctx() -> String {
        base64::engine::general_purpose::STANDARD.encode(r#"{"bucket":"b","object":"o"}"#)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use base64::Engine as _;
    use uuid::Uuid;

    use super::*;
    use crate::{
        clock::ManualClock,
        store::{KeyWrite, sqlite::DB_FILE},
    };

    /// A key store that dies (fails every later call) at the first `set_meta` of `name`: the
    /// process was killed after the write before it committed.
    #[derive(Debug)]
    struct KilledBefore {
        inner: SqliteStore,
        name: &'static str,
    }

    impl KeyStore for KilledBefore {
        fn meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
            self.inner.meta(name)
        }
        fn set_meta(&self, name: &str, value: &[u8]) -> Result<()> {
            if name == self.name {
                return Err(Error::Internal("killed".into()));
            }
            self.inner.set_meta(name, value)
        }
        fn take_meta(&self, name: &str, value: &[u8]) -> Result<bool> {
            self.inner.take_meta(name, value)
        }
        fn load_all(&self) -> Result<Vec<StoredKey>> {
            self.inner.load_all()
        }
        fn insert_key(&self, key: &StoredKey) -> Result<()> {
            self.inner.insert_key(key)
        }
        fn update_key(&self, before: &KeyMetadata, after: &KeyMetadata) -> Result<()> {
            self.inner.update_key(before, after)
        }
        fn add_version(
            &self,
            before: &KeyMetadata,
            after: &KeyMetadata,
            version: &StoredVersion,
        ) -> Result<()> {
            self.inner.add_version(before, after, version)
        }
        fn remove_versions(&self, before: &KeyMetadata, after: &KeyMetadata) -> Result<()> {
            self.inner.remove_versions(before, after)
        }
        fn delete_expired(&self, key_ids: &[Uuid], now: i64) -> Result<Vec<Uuid>> {
            self.inner.delete_expired(key_ids, now)
        }
        fn apply_seed(&self, writes: &[KeyWrite]) -> Result<()> {
            self.inner.apply_seed(writes)
        }
    }

    fn root() -> RootKey {
        RootKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([3u8; 32])).unwrap()
    }

    #[test]
    fn a_kill_between_a_service_key_and_its_setting_does_not_stop_the_next_start() {
        for (name, alias) in [
            (META_DEFAULT_KEY, DEFAULT_KEY_ALIAS),
            (META_SSE_COS_KEY, SSE_COS_KEY_ALIAS),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let db = dir.path().join(DB_FILE);
            let clock = Arc::new(ManualClock::new(1_700_000_000));
            let killed = KilledBefore {
                inner: SqliteStore::open(&db).unwrap(),
                name,
            };
            let e = Kms::open_with_store(Box::new(killed), root(), clock.clone()).unwrap_err();
            assert!(
                matches!(e, Error::Internal(ref m) if m == "killed"),
                "{e:?}"
            );
            // The key was committed, the setting naming it was not. The next start adopts that
            // key rather than refusing to start on its alias forever.
            let store = SqliteStore::open(&db).unwrap();
            let made = store.load_all().unwrap();
            let orphan = made
                .iter()
                .find(|k| k.meta.alias == alias)
                .expect("the service key made before the kill")
                .meta
                .key_id;
            let kms = Kms::open_with_store(Box::new(store), root(), clock.clone()).unwrap();
            let id = match name {
                META_DEFAULT_KEY => kms.default_key_id(),
                _ => kms.sse_cos_key_id(),
            };
            assert_eq!(id, orphan, "{name}");
            let service: Vec<_> = kms
                .read()
                .entries()
                .filter(|e| e.meta().owner == OWNER_COS)
                .map(|e| e.meta().alias.clone())
                .collect();
            assert_eq!(service.len(), 2, "{service:?}");
            drop(kms);
            // And the setting is written now: a third start finds the same keys.
            let kms =
                Kms::open_with_store(Box::new(SqliteStore::open(&db).unwrap()), root(), clock)
                    .unwrap();
            assert_eq!(
                match name {
                    META_DEFAULT_KEY => kms.default_key_id(),
                    _ => kms.sse_cos_key_id(),
                },
                orphan
            );
        }
    }
}
