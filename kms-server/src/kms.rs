//! The KMS core: key lifecycle, rotation, data keys and ciphertexts, independent of any transport.
//!
//! Every key and every unwrapped key version lives in an in-memory cache loaded at start, so the
//! cryptographic calls (GenerateDataKey, Encrypt, Decrypt, ReEncrypt) never touch SQLite. A
//! mutation is serialised by one mutex, written to SQLite first, and only then applied to the cache:
//! a crash never leaves the cache ahead of the disk, and the cache follows every state change as
//! soon as the call returns. Deadlines (deletion dates, automatic rotation) are checked on use and by
//! [`Kms::run_due_tasks`], which a server calls periodically.

use std::{
    collections::{BTreeSet, HashMap},
    path::PathBuf,
    sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard},
};

use uuid::Uuid;

use crate::{
    blob::{BlobHeader, open_blob, seal_blob},
    clock::{Clock, DAY_SECS, SystemClock},
    context::EncryptionContext,
    error::{Error, Result},
    keys::{KEY_USAGE, KeyMetadata, KeyState, ORIGIN_KMS, OWNER_COS, OWNER_USER},
    keystore::{KeyStore, KeyWrite, StoredVersion},
    root_key::RootKey,
    secret::{self, Key32, SecretBytes},
    seed,
};

/// Alias of the default CMK that COS uses for `cos/kms` when a request names no key.
pub const DEFAULT_KEY_ALIAS: &str = "kms-cos";
/// Alias of the hidden service key behind SSE-COS (`AES256`).
pub const SSE_COS_KEY_ALIAS: &str = "kms-cos-sse";
/// Prefix of aliases reserved for service-owned keys.
pub const RESERVED_ALIAS_PREFIX: &str = "kms-";
/// Longest alias.
pub const MAX_ALIAS_LEN: usize = 60;
/// Longest description, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 1024;
/// Range of ScheduleKeyDeletion's pending window, in days.
pub const PENDING_WINDOW_DAYS: std::ops::RangeInclusive<u32> = 7..=30;
/// Range of a rotation period, in days.
pub const ROTATE_DAYS: std::ops::RangeInclusive<u32> = 7..=365;
/// Rotation period when EnableKeyRotation gives none.
pub const DEFAULT_ROTATE_DAYS: u32 = *ROTATE_DAYS.end();
/// Range of GenerateDataKey's number_of_bytes and GenerateRandom's size.
pub const RANDOM_BYTES: std::ops::RangeInclusive<u32> = 1..=1024;
/// Range of Encrypt's plaintext size.
pub const ENCRYPT_PLAINTEXT_BYTES: std::ops::RangeInclusive<usize> = 1..=4096;
/// Most keys ListKeys returns at once; 0 asks for [`DEFAULT_LIST_LIMIT`].
pub const MAX_LIST_LIMIT: u32 = 1000;
/// ListKeys page size when none is given.
pub const DEFAULT_LIST_LIMIT: u32 = 100;
/// Most items in one batch call ([`Kms::generate_data_keys`], [`Kms::decrypt_many`]).
pub const MAX_BATCH_ITEMS: usize = 1000;

const META_ROOT_CHECK: &str = "root_key_check";
const META_DEFAULT_KEY: &str = "default_key_id";
const META_SSE_COS_KEY: &str = "sse_cos_key_id";
const DB_FILE: &str = "kms.sqlite3";

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

/// Size of a data key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKeySpec {
    /// 32 bytes.
    Aes256,
    /// 16 bytes.
    Aes128,
    /// 1..=1024 bytes.
    Bytes(u32),
}

impl DataKeySpec {
    fn len(self) -> Result<usize> {
        match self {
            DataKeySpec::Aes256 => Ok(32),
            DataKeySpec::Aes128 => Ok(16),
            DataKeySpec::Bytes(n) if RANDOM_BYTES.contains(&n) => Ok(n as usize),
            DataKeySpec::Bytes(n) => Err(Error::invalid(format!(
                "number_of_bytes must be {}..={}, got {n}",
                RANDOM_BYTES.start(),
                RANDOM_BYTES.end()
            ))),
        }
    }
}

/// A new data key: its plaintext (unless asked without) and the blob that reopens it.
#[derive(Debug)]
pub struct DataKey {
    /// The CMK that sealed it.
    pub key_id: Uuid,
    /// The CMK version that sealed it.
    pub key_version: u32,
    /// The data key itself; `None` for GenerateDataKeyWithoutPlaintext.
    pub plaintext: Option<SecretBytes>,
    /// The sealed data key.
    pub ciphertext_blob: Vec<u8>,
}

/// A sealed plaintext (from Encrypt or ReEncrypt).
#[derive(Debug, Clone)]
pub struct Sealed {
    /// The CMK that sealed it.
    pub key_id: Uuid,
    /// The CMK version that sealed it.
    pub key_version: u32,
    /// The blob.
    pub ciphertext_blob: Vec<u8>,
}

/// An opened blob.
#[derive(Debug)]
pub struct Decrypted {
    /// The CMK that had sealed it.
    pub key_id: Uuid,
    /// The CMK version that had sealed it.
    pub key_version: u32,
    /// The plaintext.
    pub plaintext: SecretBytes,
}

/// The result of ReEncrypt.
#[derive(Debug)]
pub struct ReEncrypted {
    /// The new (or unchanged) blob.
    pub sealed: Sealed,
    /// Where it came from.
    pub source_key_id: Uuid,
    /// Which version it came from.
    pub source_key_version: u32,
    /// False when the blob was returned unchanged (same key, newest version, same context).
    pub re_encrypted: bool,
}

/// One item of [`Kms::generate_data_keys`].
#[derive(Debug, Clone, Copy)]
pub struct DataKeyItem<'a> {
    /// The CMK (UUID, `alias/<name>` or bare alias).
    pub key: &'a str,
    /// The data key's size.
    pub spec: DataKeySpec,
    /// Base64 JSON encryption context; empty for none.
    pub encryption_context: &'a str,
}

/// One item of [`Kms::decrypt_many`].
#[derive(Debug, Clone, Copy)]
pub struct DecryptItem<'a> {
    /// The sealed blob.
    pub ciphertext_blob: &'a [u8],
    /// Base64 JSON encryption context; empty for none.
    pub encryption_context: &'a str,
}

/// Rotation settings of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationStatus {
    /// Whether automatic rotation is on.
    pub enabled: bool,
    /// Its period in days.
    pub rotate_days: u32,
    /// Last rotation (0: never).
    pub last_rotate_time: i64,
    /// Next automatic rotation (0: none).
    pub next_rotate_time: i64,
    /// Newest version.
    pub current_key_version: u32,
}

/// One page of ListKeys.
#[derive(Debug, Clone)]
pub struct KeyPage {
    /// The keys, oldest first.
    pub keys: Vec<KeyMetadata>,
    /// How many keys match the filter in all.
    pub total_count: u32,
}

/// ListKeys filter and page.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListKeys {
    /// Keys to skip.
    pub offset: u32,
    /// Page size (0: [`DEFAULT_LIST_LIMIT`]).
    pub limit: u32,
    /// Only keys in this state.
    pub state: Option<KeyState>,
    /// Also list service-owned keys.
    pub include_service_keys: bool,
}

pub(crate) struct Entry {
    pub(crate) meta: KeyMetadata,
    /// Index `v - 1` holds version `v`.
    pub(crate) versions: Vec<Key32>,
}

#[derive(Default)]
pub(crate) struct Cache {
    pub(crate) keys: HashMap<Uuid, Entry>,
    pub(crate) aliases: HashMap<String, Uuid>,
    /// Listing order: creation time, then id.
    order: BTreeSet<(i64, Uuid)>,
    /// How many keys are in each (state, owned by a service) class: ListKeys' total and the
    /// "anything pending deletion?" check without a scan of every key.
    counts: HashMap<(KeyState, bool), u32>,
}

fn class(m: &KeyMetadata) -> (KeyState, bool) {
    (m.state, m.is_service_key())
}

impl Cache {
    fn insert(&mut self, entry: Entry) {
        let m = &entry.meta;
        if let Some(old) = self.keys.get(&m.key_id) {
            // A seed may hand this key's old alias to another key first: drop it only if it is ours.
            if self.aliases.get(&old.meta.alias) == Some(&m.key_id) {
                self.aliases.remove(&old.meta.alias);
            }
            self.uncount(class(&old.meta));
        }
        *self.counts.entry(class(m)).or_default() += 1;
        self.aliases.insert(m.alias.clone(), m.key_id);
        self.order.insert((m.create_time, m.key_id));
        self.keys.insert(m.key_id, entry);
    }

    fn remove(&mut self, id: Uuid) {
        if let Some(e) = self.keys.remove(&id) {
            self.aliases.remove(&e.meta.alias);
            self.order.remove(&(e.meta.create_time, id));
            self.uncount(class(&e.meta));
        }
    }

    fn uncount(&mut self, class: (KeyState, bool)) {
        if let Some(n) = self.counts.get_mut(&class) {
            *n = n.saturating_sub(1);
        }
    }

    /// How many keys ListKeys' filter matches, from the counters.
    fn count(&self, state: Option<KeyState>, include_service_keys: bool) -> u32 {
        self.counts
            .iter()
            .filter(|((s, service), _)| {
                state.is_none_or(|want| want == *s) && (include_service_keys || !service)
            })
            .map(|(_, n)| *n)
            .sum()
    }

    /// Finds a key by UUID, `alias/<name>` or bare alias.
    pub(crate) fn resolve(&self, name: &str) -> Result<&Entry> {
        let id = self.resolve_id(name)?;
        self.keys
            .get(&id)
            .ok_or_else(|| Error::NotFound(name.to_owned()))
    }

    fn resolve_id(&self, name: &str) -> Result<Uuid> {
        if name.is_empty() {
            return Err(Error::invalid("key_id is required"));
        }
        if let Ok(id) = Uuid::parse_str(name) {
            return Ok(id);
        }
        let alias = name.strip_prefix("alias/").unwrap_or(name);
        self.aliases
            .get(alias)
            .copied()
            .ok_or_else(|| Error::NotFound(name.to_owned()))
    }
}

/// The KMS. Cheap to share (`Arc<Kms>`); every method is synchronous and thread-safe. Mutations
/// write to SQLite, so an async caller runs them on a blocking thread.
pub struct Kms {
    store: KeyStore,
    root: RootKey,
    clock: Arc<dyn Clock>,
    cache: RwLock<Cache>,
    /// Serialises mutations (held across the SQLite write, never by the hot path).
    write: Mutex<()>,
    default_key_id: Uuid,
    sse_cos_key_id: Uuid,
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
    /// Opens the key store in `config.data_dir`, checks the root key against it, loads every key,
    /// and creates the service keys on first start.
    pub fn open(config: Config) -> Result<Self> {
        std::fs::create_dir_all(&config.data_dir)?;
        let store = KeyStore::open(&config.data_dir.join(DB_FILE))?;
        let root = config.root_key;
        let verifier = store.meta(META_ROOT_CHECK)?;
        if verifier.as_ref().is_some_and(|v| !root.verify(v)) {
            return Err(Error::RootKeyMismatch);
        }
        let mut cache = Cache::default();
        for (meta, versions) in store.load_all()? {
            let versions = versions
                .iter()
                .map(|v| root.unwrap_material(meta.key_id, v.version, &v.wrapped))
                .collect::<Result<Vec<_>>>()?;
            cache.insert(Entry { meta, versions });
        }
        // Only a root key that opened every stored version may (re)write the verifier.
        if verifier.is_none() {
            store.set_meta(META_ROOT_CHECK, &root.verifier())?;
        }
        let mut kms = Self {
            store,
            root,
            clock: config.clock,
            cache: RwLock::new(cache),
            write: Mutex::new(()),
            default_key_id: Uuid::nil(),
            sse_cos_key_id: Uuid::nil(),
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
        if let Some(raw) = self.store.meta(meta_name)? {
            let id = std::str::from_utf8(&raw)
                .ok()
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or_else(|| Error::Internal(format!("bad {meta_name} in key store")))?;
            if self.read().keys.contains_key(&id) {
                return Ok(id);
            }
        }
        let _w = self.lock_write()?;
        let meta = self.new_metadata(alias, description, OWNER_COS);
        let id = meta.key_id;
        let material = Key32::random();
        self.persist_new(meta, vec![material])?;
        self.store.set_meta(meta_name, id.to_string().as_bytes())?;
        Ok(id)
    }

    fn read(&self) -> RwLockReadGuard<'_, Cache> {
        // A panic while holding the lock cannot leave the cache half-updated: every update is a
        // single insert/remove, so a poisoned lock is still consistent.
        self.cache.read().unwrap_or_else(|p| p.into_inner())
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

    /// How many times the key store (SQLite) has been used since it was opened. The cryptographic
    /// calls never add to it once their keys' deadlines are settled (they serve from the cache).
    pub fn store_access_count(&self) -> u64 {
        self.store.access_count()
    }

    fn new_metadata(&self, alias: &str, description: &str, owner: &str) -> KeyMetadata {
        KeyMetadata {
            key_id: Uuid::new_v4(),
            alias: alias.to_owned(),
            description: description.to_owned(),
            state: KeyState::Enabled,
            key_usage: KEY_USAGE.to_owned(),
            owner: owner.to_owned(),
            origin: ORIGIN_KMS.to_owned(),
            create_time: self.now(),
            deletion_date: 0,
            rotation_enabled: false,
            rotate_days: 0,
            last_rotate_time: 0,
            next_rotate_time: 0,
            current_key_version: 1,
        }
    }

    /// Writes a brand-new key with its versions, then caches it. Caller holds the write lock.
    fn persist_new(&self, meta: KeyMetadata, versions: Vec<Key32>) -> Result<()> {
        let now = self.now();
        let new_versions = versions
            .iter()
            .zip(1u32..)
            .map(|(m, v)| StoredVersion {
                version: v,
                wrapped: self.root.wrap_material(meta.key_id, v, m),
                create_time: now,
            })
            .collect();
        self.store.write(&[KeyWrite {
            meta: meta.clone(),
            new_versions,
        }])?;
        self.apply(|c| c.insert(Entry { meta, versions }));
        Ok(())
    }

    // ---- lifecycle -------------------------------------------------------------------------------

    /// CreateKey: a new Enabled user key with one version.
    pub fn create_key(
        &self,
        alias: &str,
        description: &str,
        key_usage: &str,
    ) -> Result<KeyMetadata> {
        let alias = alias.strip_prefix("alias/").unwrap_or(alias);
        validate_alias(alias, false)?;
        validate_description(description)?;
        if !key_usage.is_empty() && key_usage != KEY_USAGE {
            return Err(Error::invalid(format!(
                "key_usage must be {KEY_USAGE}, got {key_usage:?}"
            )));
        }
        let _w = self.lock_write()?;
        if self.read().aliases.contains_key(alias) {
            return Err(Error::AliasExists(alias.to_owned()));
        }
        let meta = self.new_metadata(alias, description, OWNER_USER);
        self.persist_new(meta.clone(), vec![Key32::random()])?;
        Ok(meta)
    }

    /// DescribeKey.
    pub fn describe_key(&self, name: &str) -> Result<KeyMetadata> {
        self.expire_due(name)?;
        Ok(self.read().resolve(name)?.meta.clone())
    }

    /// GetDefaultKey: the default CMK.
    pub fn default_key(&self) -> Result<KeyMetadata> {
        self.describe_key(&self.default_key_id.to_string())
    }

    /// ListKeys.
    pub fn list_keys(&self, req: ListKeys) -> Result<KeyPage> {
        let limit = match req.limit {
            0 => DEFAULT_LIST_LIMIT,
            n if n > MAX_LIST_LIMIT => {
                return Err(Error::invalid(format!(
                    "limit must be at most {MAX_LIST_LIMIT}, got {n}"
                )));
            }
            n => n,
        };
        if req.state.is_some_and(|s| s == KeyState::PendingDelete) || req.state.is_none() {
            self.delete_due()?;
        }
        let cache = self.read();
        // The page walks only as far as it needs (offset + limit matches); the total comes from
        // the counters, so a first page costs the same with 100 keys or 100k.
        let keys = cache
            .order
            .iter()
            .filter_map(|(_, id)| cache.keys.get(id))
            .filter(|e| req.include_service_keys || !e.meta.is_service_key())
            .filter(|e| req.state.is_none_or(|s| e.meta.state == s))
            .skip(req.offset as usize)
            .take(limit as usize)
            .map(|e| e.meta.clone())
            .collect();
        Ok(KeyPage {
            keys,
            total_count: cache.count(req.state, req.include_service_keys),
        })
    }

    /// Applies `change` to a key's metadata under the write lock, persists it (with `new_version`
    /// if given) and updates the cache. Returns the new metadata.
    fn mutate(
        &self,
        name: &str,
        change: impl FnOnce(&mut KeyMetadata, i64) -> Result<bool>,
        new_version: bool,
    ) -> Result<KeyMetadata> {
        self.expire_due(name)?;
        let _w = self.lock_write()?;
        let (mut meta, versions) = {
            let c = self.read();
            let e = c.resolve(name)?;
            (e.meta.clone(), e.versions.clone())
        };
        let now = self.now();
        if !change(&mut meta, now)? && !new_version {
            return Ok(meta);
        }
        let mut versions = versions;
        let mut new_versions = Vec::new();
        if new_version {
            let material = Key32::random();
            let v = meta.current_key_version + 1;
            new_versions.push(StoredVersion {
                version: v,
                wrapped: self.root.wrap_material(meta.key_id, v, &material),
                create_time: now,
            });
            versions.push(material);
            meta.current_key_version = v;
        }
        self.store.write(&[KeyWrite {
            meta: meta.clone(),
            new_versions,
        }])?;
        let cached = meta.clone();
        self.apply(|c| {
            c.insert(Entry {
                meta: cached,
                versions,
            })
        });
        Ok(meta)
    }

    /// EnableKey: Disabled -> Enabled; Enabled stays Enabled.
    pub fn enable_key(&self, name: &str) -> Result<()> {
        self.mutate(
            name,
            |m, _| match m.state {
                KeyState::Enabled => Ok(false),
                KeyState::Disabled => {
                    m.state = KeyState::Enabled;
                    Ok(true)
                }
                s => Err(Error::transition(&m.key_id.to_string(), s)),
            },
            false,
        )
        .map(drop)
    }

    /// DisableKey: Enabled -> Disabled; Disabled stays Disabled. Not for service keys.
    pub fn disable_key(&self, name: &str) -> Result<()> {
        self.mutate(
            name,
            |m, _| {
                user_only(m)?;
                match m.state {
                    KeyState::Disabled => Ok(false),
                    KeyState::Enabled => {
                        m.state = KeyState::Disabled;
                        Ok(true)
                    }
                    s => Err(Error::transition(&m.key_id.to_string(), s)),
                }
            },
            false,
        )
        .map(drop)
    }

    /// ScheduleKeyDeletion: Disabled -> PendingDelete. Returns the deletion date.
    pub fn schedule_key_deletion(&self, name: &str, pending_window_in_days: u32) -> Result<i64> {
        if !PENDING_WINDOW_DAYS.contains(&pending_window_in_days) {
            return Err(Error::invalid(format!(
                "pending_window_in_days must be {}..={}, got {pending_window_in_days}",
                PENDING_WINDOW_DAYS.start(),
                PENDING_WINDOW_DAYS.end()
            )));
        }
        let meta = self.mutate(
            name,
            |m, now| {
                user_only(m)?;
                match m.state {
                    KeyState::Disabled => {
                        m.state = KeyState::PendingDelete;
                        m.deletion_date = now + i64::from(pending_window_in_days) * DAY_SECS;
                        Ok(true)
                    }
                    s => Err(Error::KeyState {
                        key_id: m.key_id.to_string(),
                        state: s,
                        code: "ResourceUnavailable.CmkShouldBeDisabled",
                    }),
                }
            },
            false,
        )?;
        Ok(meta.deletion_date)
    }

    /// CancelKeyDeletion: PendingDelete -> Disabled.
    pub fn cancel_key_deletion(&self, name: &str) -> Result<Uuid> {
        self.mutate(
            name,
            |m, _| match m.state {
                KeyState::PendingDelete => {
                    m.state = KeyState::Disabled;
                    m.deletion_date = 0;
                    Ok(true)
                }
                state => Err(Error::KeyState {
                    key_id: m.key_id.to_string(),
                    state,
                    code: "ResourceUnavailable.CmkNotPendingDelete",
                }),
            },
            false,
        )
        .map(|m| m.key_id)
    }

    /// ArchiveKey: Enabled -> Archived. Not for service keys.
    pub fn archive_key(&self, name: &str) -> Result<()> {
        self.mutate(
            name,
            |m, _| {
                user_only(m)?;
                match m.state {
                    KeyState::Archived => Ok(false),
                    KeyState::Enabled => {
                        m.state = KeyState::Archived;
                        Ok(true)
                    }
                    s => Err(Error::transition(&m.key_id.to_string(), s)),
                }
            },
            false,
        )
        .map(drop)
    }

    /// CancelKeyArchive: Archived -> Enabled.
    pub fn cancel_key_archive(&self, name: &str) -> Result<()> {
        self.mutate(
            name,
            |m, _| match m.state {
                KeyState::Archived => {
                    m.state = KeyState::Enabled;
                    Ok(true)
                }
                s => Err(Error::transition(&m.key_id.to_string(), s)),
            },
            false,
        )
        .map(drop)
    }

    /// UpdateAlias. Not for service keys (their aliases are documented and stable).
    pub fn update_alias(&self, name: &str, alias: &str) -> Result<()> {
        let alias = alias.strip_prefix("alias/").unwrap_or(alias);
        validate_alias(alias, false)?;
        self.mutate(
            name,
            |m, _| {
                user_only(m)?;
                not_pending_delete(m)?;
                if m.alias == alias {
                    return Ok(false);
                }
                if self.read().aliases.contains_key(alias) {
                    return Err(Error::AliasExists(alias.to_owned()));
                }
                alias.clone_into(&mut m.alias);
                Ok(true)
            },
            false,
        )
        .map(drop)
    }

    /// UpdateKeyDescription.
    pub fn update_key_description(&self, name: &str, description: &str) -> Result<()> {
        validate_description(description)?;
        self.mutate(
            name,
            |m, _| {
                not_pending_delete(m)?;
                if m.description == description {
                    return Ok(false);
                }
                description.clone_into(&mut m.description);
                Ok(true)
            },
            false,
        )
        .map(drop)
    }

    /// EnableKeyRotation (0 days means [`DEFAULT_ROTATE_DAYS`]).
    pub fn enable_key_rotation(&self, name: &str, rotate_days: u32) -> Result<()> {
        let days = if rotate_days == 0 {
            DEFAULT_ROTATE_DAYS
        } else {
            rotate_days
        };
        if !ROTATE_DAYS.contains(&days) {
            return Err(Error::invalid(format!(
                "rotate_days must be {}..={}, got {rotate_days}",
                ROTATE_DAYS.start(),
                ROTATE_DAYS.end()
            )));
        }
        self.mutate(
            name,
            |m, now| {
                rotatable(m)?;
                if m.rotation_enabled && m.rotate_days == days {
                    return Ok(false);
                }
                m.rotation_enabled = true;
                m.rotate_days = days;
                m.next_rotate_time = now + i64::from(days) * DAY_SECS;
                Ok(true)
            },
            false,
        )
        .map(drop)
    }

    /// DisableKeyRotation.
    pub fn disable_key_rotation(&self, name: &str) -> Result<()> {
        self.mutate(
            name,
            |m, _| {
                if !m.rotation_enabled {
                    return Ok(false);
                }
                m.rotation_enabled = false;
                m.next_rotate_time = 0;
                Ok(true)
            },
            false,
        )
        .map(drop)
    }

    /// GetKeyRotationStatus.
    pub fn key_rotation_status(&self, name: &str) -> Result<RotationStatus> {
        self.rotate_due(name)?;
        let m = self.describe_key(name)?;
        Ok(RotationStatus {
            enabled: m.rotation_enabled,
            rotate_days: m.rotate_days,
            last_rotate_time: m.last_rotate_time,
            next_rotate_time: m.next_rotate_time,
            current_key_version: m.current_key_version,
        })
    }

    /// RotateKey: adds a version now. Returns the key id and the new version.
    pub fn rotate_key(&self, name: &str) -> Result<(Uuid, u32)> {
        let m = self.mutate(
            name,
            |m, now| {
                rotatable(m)?;
                rotated(m, now);
                Ok(true)
            },
            true,
        )?;
        Ok((m.key_id, m.current_key_version))
    }

    // ---- deadlines ---------------------------------------------------------------------------------

    /// Deletes every key past its deletion date and rotates every key whose rotation is due.
    /// Returns how many keys it deleted and rotated.
    pub fn run_due_tasks(&self) -> Result<(usize, usize)> {
        let deleted = self.delete_due()?;
        let now = self.now();
        let due: Vec<Uuid> = self
            .read()
            .keys
            .values()
            .filter(|e| rotation_due(&e.meta, now))
            .map(|e| e.meta.key_id)
            .collect();
        for id in &due {
            self.rotate_due(&id.to_string())?;
        }
        Ok((deleted, due.len()))
    }

    fn delete_due(&self) -> Result<usize> {
        if self.read().count(Some(KeyState::PendingDelete), true) == 0 {
            return Ok(0);
        }
        let now = self.now();
        let due = |c: &Cache| -> Vec<Uuid> {
            c.keys
                .values()
                .filter(|e| deletion_due(&e.meta, now))
                .map(|e| e.meta.key_id)
                .collect()
        };
        if due(&self.read()).is_empty() {
            return Ok(0);
        }
        let _w = self.lock_write()?;
        let ids = due(&self.read());
        self.store.delete(&ids)?;
        self.apply(|c| ids.iter().for_each(|id| c.remove(*id)));
        for id in &ids {
            tracing::info!(key_id = %id, "key deleted: deletion date passed");
        }
        Ok(ids.len())
    }

    /// Deletes `name` if it is past its deletion date (checked on every use).
    fn expire_due(&self, name: &str) -> Result<()> {
        let now = self.now();
        let due = matches!(self.read().resolve(name), Ok(e) if deletion_due(&e.meta, now));
        if due {
            self.delete_due()?;
        }
        Ok(())
    }

    /// Rotates `name` if its automatic rotation is due (checked on every encrypting use).
    fn rotate_due(&self, name: &str) -> Result<()> {
        let now = self.now();
        let due = matches!(self.read().resolve(name), Ok(e) if rotation_due(&e.meta, now));
        if due {
            self.mutate(
                name,
                |m, now| {
                    // Another caller may have rotated it in the meantime.
                    if !rotation_due(m, now) {
                        return Ok(false);
                    }
                    rotated(m, now);
                    tracing::info!(key_id = %m.key_id, "key rotated automatically");
                    Ok(true)
                },
                true,
            )?;
        }
        Ok(())
    }

    // ---- cryptography ----------------------------------------------------------------------------

    /// Seals `plaintext` under the newest version of an Enabled key.
    fn seal(&self, name: &str, context: &EncryptionContext, plaintext: &[u8]) -> Result<Sealed> {
        // The usual case takes the read lock once: nothing due, seal under the same guard.
        let now = self.now();
        {
            let c = self.read();
            let e = c.resolve(name)?;
            if !deletion_due(&e.meta, now) && !rotation_due(&e.meta, now) {
                return seal_entry(e, context, plaintext);
            }
        }
        self.settle_due(name)?;
        seal_in(&self.read(), name, context, plaintext)
    }

    /// Runs `name`'s deletion or automatic rotation if it is due, before an encrypting use. Rare,
    /// and the only part of an encrypting call that may write.
    fn settle_due(&self, name: &str) -> Result<()> {
        let now = self.now();
        let due = matches!(self.read().resolve(name),
            Ok(e) if deletion_due(&e.meta, now) || rotation_due(&e.meta, now));
        if due {
            self.expire_due(name)?;
            self.rotate_due(name)?;
        }
        Ok(())
    }

    /// Deletes every key past its deletion date if one of `key_ids` is (before a decrypting use).
    fn expire_due_ids(&self, key_ids: impl IntoIterator<Item = Uuid>) -> Result<()> {
        let now = self.now();
        let due = {
            let c = self.read();
            key_ids
                .into_iter()
                .any(|id| c.keys.get(&id).is_some_and(|e| deletion_due(&e.meta, now)))
        };
        if due {
            self.delete_due()?;
        }
        Ok(())
    }

    /// GenerateDataKey / GenerateDataKeyWithoutPlaintext.
    pub fn generate_data_key(
        &self,
        name: &str,
        spec: DataKeySpec,
        encryption_context: &str,
        with_plaintext: bool,
    ) -> Result<DataKey> {
        let len = spec.len()?;
        let context = EncryptionContext::from_base64(encryption_context)?;
        let plaintext = secret::random_bytes(len);
        let sealed = self.seal(name, &context, plaintext.expose())?;
        Ok(DataKey {
            key_id: sealed.key_id,
            key_version: sealed.key_version,
            plaintext: with_plaintext.then_some(plaintext),
            ciphertext_blob: sealed.ciphertext_blob,
        })
    }

    /// Encrypt (1..=4096 bytes).
    pub fn encrypt(
        &self,
        name: &str,
        plaintext: &[u8],
        encryption_context: &str,
    ) -> Result<Sealed> {
        if !ENCRYPT_PLAINTEXT_BYTES.contains(&plaintext.len()) {
            return Err(Error::invalid(format!(
                "plaintext must be {}..={} bytes, got {}",
                ENCRYPT_PLAINTEXT_BYTES.start(),
                ENCRYPT_PLAINTEXT_BYTES.end(),
                plaintext.len()
            )));
        }
        let context = EncryptionContext::from_base64(encryption_context)?;
        self.seal(name, &context, plaintext)
    }

    /// Decrypt. A blob that does not open, for any reason, is [`Error::InvalidCiphertext`]; a key
    /// that exists but may not decrypt is a state error.
    pub fn decrypt(&self, blob: &[u8], encryption_context: &str) -> Result<Decrypted> {
        let context = EncryptionContext::from_base64(encryption_context)?;
        self.open_with(blob, &context)
    }

    fn open_with(&self, blob: &[u8], context: &EncryptionContext) -> Result<Decrypted> {
        let header = BlobHeader::parse(blob)?;
        // The usual case takes the read lock once: no deletion due, open under the same guard.
        let now = self.now();
        {
            let c = self.read();
            let due = c
                .keys
                .get(&header.key_id)
                .is_some_and(|e| deletion_due(&e.meta, now));
            if !due {
                return open_in(&c, header, context, blob);
            }
        }
        self.expire_due_ids([header.key_id])?;
        open_in(&self.read(), header, context, blob)
    }

    /// BatchGenerateDataKey: up to [`MAX_BATCH_ITEMS`] data keys, each item its own result (with
    /// the same errors as [`Kms::generate_data_key`]). Deadlines due on the named keys are settled
    /// first; then the cache is read-locked once for the whole batch. The outer error is for an
    /// oversize batch or a failed deadline write; an empty batch gives an empty result.
    pub fn generate_data_keys(
        &self,
        items: &[DataKeyItem<'_>],
        with_plaintext: bool,
    ) -> Result<Vec<Result<DataKey>>> {
        check_batch_len(items.len())?;
        let mut contexts = Contexts::default();
        let parsed: Vec<Result<(usize, usize)>> = items
            .iter()
            .map(|i| Ok((i.spec.len()?, contexts.parse(i.encryption_context)?)))
            .collect();
        let mut names: Vec<&str> = items
            .iter()
            .zip(&parsed)
            .filter(|(_, p)| p.is_ok())
            .map(|(i, _)| i.key)
            .collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            match self.settle_due(name) {
                // Gone meanwhile: its items fail alone below.
                Ok(()) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let c = self.read();
        Ok(items
            .iter()
            .zip(parsed)
            .map(|(item, p)| {
                let (len, context) = p?;
                let plaintext = secret::random_bytes(len);
                let sealed = seal_in(&c, item.key, contexts.get(context), plaintext.expose())?;
                Ok(DataKey {
                    key_id: sealed.key_id,
                    key_version: sealed.key_version,
                    plaintext: with_plaintext.then_some(plaintext),
                    ciphertext_blob: sealed.ciphertext_blob,
                })
            })
            .collect())
    }

    /// BatchDecrypt: up to [`MAX_BATCH_ITEMS`] blobs, each item its own result (with the same
    /// errors as [`Kms::decrypt`]), under one read lock of the cache.
    pub fn decrypt_many(&self, items: &[DecryptItem<'_>]) -> Result<Vec<Result<Decrypted>>> {
        check_batch_len(items.len())?;
        let mut contexts = Contexts::default();
        let parsed: Vec<Result<(BlobHeader, usize)>> = items
            .iter()
            .map(|i| {
                let context = contexts.parse(i.encryption_context)?;
                Ok((BlobHeader::parse(i.ciphertext_blob)?, context))
            })
            .collect();
        self.expire_due_ids(parsed.iter().flatten().map(|(h, _)| h.key_id))?;
        let c = self.read();
        Ok(items
            .iter()
            .zip(parsed)
            .map(|(item, p)| {
                let (header, context) = p?;
                open_in(&c, header, contexts.get(context), item.ciphertext_blob)
            })
            .collect())
    }

    /// ReEncrypt: opens with the source context and seals under the destination key (default: the
    /// source key) with the destination context, never returning the plaintext.
    pub fn re_encrypt(
        &self,
        blob: &[u8],
        destination_key: &str,
        source_context: &str,
        destination_context: &str,
    ) -> Result<ReEncrypted> {
        let src_ctx = EncryptionContext::from_base64(source_context)?;
        let dst_ctx = EncryptionContext::from_base64(destination_context)?;
        let opened = self.open_with(blob, &src_ctx)?;
        let dest = if destination_key.is_empty() {
            opened.key_id.to_string()
        } else {
            destination_key.to_owned()
        };
        self.rotate_due(&dest)?;
        let dest_meta = self.describe_key(&dest)?;
        if dest_meta.key_id == opened.key_id
            && dest_meta.current_key_version == opened.key_version
            && src_ctx == dst_ctx
            && dest_meta.state.can_encrypt()
        {
            return Ok(ReEncrypted {
                sealed: Sealed {
                    key_id: opened.key_id,
                    key_version: opened.key_version,
                    ciphertext_blob: blob.to_vec(),
                },
                source_key_id: opened.key_id,
                source_key_version: opened.key_version,
                re_encrypted: false,
            });
        }
        let sealed = self.seal(&dest, &dst_ctx, opened.plaintext.expose())?;
        Ok(ReEncrypted {
            sealed,
            source_key_id: opened.key_id,
            source_key_version: opened.key_version,
            re_encrypted: true,
        })
    }

    /// GenerateRandom (1..=1024 bytes).
    pub fn generate_random(&self, number_of_bytes: u32) -> Result<SecretBytes> {
        let n = DataKeySpec::Bytes(number_of_bytes).len().map_err(|_| {
            Error::invalid(format!(
                "number_of_bytes must be {}..={}, got {number_of_bytes}",
                RANDOM_BYTES.start(),
                RANDOM_BYTES.end()
            ))
        })?;
        Ok(secret::random_bytes(n))
    }

    // ---- seeding -----------------------------------------------------------------------------------

    /// Loads a seed document (YAML or JSON): all or nothing, idempotent. Returns (changed, total).
    pub fn seed(&self, document: &str) -> Result<(usize, usize)> {
        let entries = seed::parse(document)?;
        let _w = self.lock_write()?;
        let now = self.now();
        let plan = {
            let cache = self.read();
            seed::plan(&entries, document, &cache, now)?
        };
        let total = entries.len();
        if plan.is_empty() {
            return Ok((0, total));
        }
        let mut writes = Vec::with_capacity(plan.len());
        let mut cached = Vec::with_capacity(plan.len());
        for p in plan {
            let first_new = p.existing_versions + 1;
            let new_versions = p
                .versions
                .iter()
                .zip(1u32..)
                .skip(p.existing_versions as usize)
                .map(|(m, v)| StoredVersion {
                    version: v,
                    wrapped: self.root.wrap_material(p.meta.key_id, v, m),
                    create_time: now,
                })
                .collect::<Vec<_>>();
            debug_assert!(new_versions.first().is_none_or(|v| v.version == first_new));
            writes.push(KeyWrite {
                meta: p.meta.clone(),
                new_versions,
            });
            cached.push(Entry {
                meta: p.meta,
                versions: p.versions,
            });
        }
        self.store.write(&writes)?;
        let changed = cached.len();
        self.apply(|c| cached.into_iter().for_each(|e| c.insert(e)));
        Ok((changed, total))
    }

    /// Test-only: every key's metadata as cached, without running any deadline check.
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub fn list_keys_snapshot_for_tests(&self) -> Vec<KeyMetadata> {
        self.read().keys.values().map(|e| e.meta.clone()).collect()
    }

    /// Test-only: the raw material of a key version, to prove it never reaches the database.
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub fn material_for_tests(&self, key_id: Uuid, version: u32) -> Option<Vec<u8>> {
        let c = self.read();
        let e = c.keys.get(&key_id)?;
        e.versions
            .get(version.checked_sub(1)? as usize)
            .map(|k| k.expose().to_vec())
    }
}

/// The contexts of a batch, each distinct text parsed once (a batch usually repeats a few).
#[derive(Default)]
struct Contexts<'a> {
    parsed: Vec<EncryptionContext>,
    index: HashMap<&'a str, usize>,
}

impl<'a> Contexts<'a> {
    /// Parses `b64` (or finds it parsed) and returns its index. A bad context is parsed again for
    /// every item that carries it, so each item gets its own error.
    fn parse(&mut self, b64: &'a str) -> Result<usize> {
        if let Some(&i) = self.index.get(b64) {
            return Ok(i);
        }
        self.parsed.push(EncryptionContext::from_base64(b64)?);
        let i = self.parsed.len() - 1;
        self.index.insert(b64, i);
        Ok(i)
    }

    fn get(&self, i: usize) -> &EncryptionContext {
        &self.parsed[i]
    }
}

fn check_batch_len(n: usize) -> Result<()> {
    if n > MAX_BATCH_ITEMS {
        return Err(Error::invalid(format!(
            "a batch must have 1..={MAX_BATCH_ITEMS} items, got {n}"
        )));
    }
    Ok(())
}

/// Seals under the newest version of `name`, which must be Enabled, from a locked cache.
fn seal_in(c: &Cache, name: &str, context: &EncryptionContext, plaintext: &[u8]) -> Result<Sealed> {
    seal_entry(c.resolve(name)?, context, plaintext)
}

/// Seals under a resolved key's current version.
fn seal_entry(e: &Entry, context: &EncryptionContext, plaintext: &[u8]) -> Result<Sealed> {
    if !e.meta.state.can_encrypt() {
        return Err(Error::unusable(&e.meta.key_id.to_string(), e.meta.state));
    }
    let header = BlobHeader {
        key_id: e.meta.key_id,
        key_version: e.meta.current_key_version,
    };
    let material = e
        .versions
        .last()
        .ok_or_else(|| Error::Internal(format!("key {} has no version", e.meta.key_id)))?;
    Ok(Sealed {
        key_id: header.key_id,
        key_version: header.key_version,
        ciphertext_blob: seal_blob(material, header, context, plaintext),
    })
}

/// Opens a parsed blob from a locked cache.
fn open_in(
    c: &Cache,
    header: BlobHeader,
    context: &EncryptionContext,
    blob: &[u8],
) -> Result<Decrypted> {
    // An unknown key (another server's, or deleted) is indistinguishable from tampering.
    let e = c.keys.get(&header.key_id).ok_or(Error::InvalidCiphertext)?;
    if !e.meta.state.can_decrypt() {
        return Err(Error::unusable(&header.key_id.to_string(), e.meta.state));
    }
    let material = header
        .key_version
        .checked_sub(1)
        .and_then(|i| e.versions.get(i as usize))
        .ok_or(Error::InvalidCiphertext)?;
    let plaintext = open_blob(material, context, blob)?;
    Ok(Decrypted {
        key_id: header.key_id,
        key_version: header.key_version,
        plaintext,
    })
}

fn user_only(m: &KeyMetadata) -> Result<()> {
    if m.is_service_key() {
        return Err(Error::ServiceKey(m.key_id.to_string()));
    }
    Ok(())
}

/// Tencent refuses UpdateAlias and UpdateKeyDescription on a key scheduled for deletion.
fn not_pending_delete(m: &KeyMetadata) -> Result<()> {
    if m.state == KeyState::PendingDelete {
        return Err(Error::transition(&m.key_id.to_string(), m.state));
    }
    Ok(())
}

fn rotatable(m: &KeyMetadata) -> Result<()> {
    if m.origin != ORIGIN_KMS {
        return Err(Error::ExternalMaterial(m.key_id.to_string()));
    }
    if m.state != KeyState::Enabled {
        return Err(Error::transition(&m.key_id.to_string(), m.state));
    }
    Ok(())
}

fn rotated(m: &mut KeyMetadata, now: i64) {
    m.last_rotate_time = now;
    if m.rotation_enabled {
        m.next_rotate_time = now + i64::from(m.rotate_days) * DAY_SECS;
    }
}

fn deletion_due(m: &KeyMetadata, now: i64) -> bool {
    m.state == KeyState::PendingDelete && m.deletion_date <= now
}

fn rotation_due(m: &KeyMetadata, now: i64) -> bool {
    m.rotation_enabled && m.state == KeyState::Enabled && m.next_rotate_time <= now
}

/// Checks an alias: 1..=60 chars of `[A-Za-z0-9_-]`, first a letter or digit, not a UUID, and (for
/// users) not under the reserved `kms-` prefix.
pub fn validate_alias(alias: &str, service: bool) -> Result<()> {
    if alias.is_empty() || alias.len() > MAX_ALIAS_LEN {
        return Err(Error::invalid(format!(
            "alias must be 1..={MAX_ALIAS_LEN} characters, got {}",
            alias.chars().count()
        )));
    }
    if !alias
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(Error::invalid(
            "alias may only contain letters, digits, '_' and '-'",
        ));
    }
    if !alias.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(Error::invalid("alias must start with a letter or a digit"));
    }
    if Uuid::parse_str(alias).is_ok() {
        return Err(Error::invalid("alias must not look like a key id (UUID)"));
    }
    if !service && alias.starts_with(RESERVED_ALIAS_PREFIX) {
        return Err(Error::invalid(format!(
            "alias prefix {RESERVED_ALIAS_PREFIX:?} is reserved for service keys"
        )));
    }
    Ok(())
}

pub(crate) fn validate_description(d: &str) -> Result<()> {
    if d.len() > MAX_DESCRIPTION_BYTES {
        return Err(Error::invalid(format!(
            "description must be at most {MAX_DESCRIPTION_BYTES} bytes, got {}",
            d.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;
    use crate::clock::ManualClock;

    const T0: i64 = 1_700_000_000;

    fn open(dir: &std::path::Path, clock: Arc<ManualClock>) -> Kms {
        let root =
            RootKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([9u8; 32]))
                .unwrap();
        Kms::open(Config {
            data_dir: dir.to_path_buf(),
            root_key: root,
            clock,
        })
        .unwrap()
    }

    fn ctx() -> String {
        base64::engine::general_purpose::STANDARD.encode(r#"{"bucket":"b","object":"o"}"#)
    }

    /// The cryptographic calls, single and batched, never reach SQLite once the key exists.
    #[test]
    fn hot_path_never_touches_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let kms = open(dir.path(), Arc::new(ManualClock::new(T0)));
        let key = kms.create_key("hot", "", "").unwrap().key_id.to_string();
        // Rotation on (not yet due) exercises the deadline checks of every call.
        kms.enable_key_rotation("alias/hot", 30).unwrap();
        let ctx = ctx();
        let before = kms.store_access_count();
        assert!(before > 0, "opening and creating must have used the store");
        for name in [key.as_str(), "hot", "alias/hot"] {
            for _ in 0..50 {
                let dk = kms
                    .generate_data_key(name, DataKeySpec::Aes256, &ctx, true)
                    .unwrap();
                let back = kms.decrypt(&dk.ciphertext_blob, &ctx).unwrap();
                assert_eq!(back.plaintext.expose(), dk.plaintext.unwrap().expose());
                let sealed = kms.encrypt(name, b"hello", &ctx).unwrap();
                kms.decrypt(&sealed.ciphertext_blob, &ctx).unwrap();
                kms.generate_data_key(name, DataKeySpec::Bytes(64), "", false)
                    .unwrap();
                kms.describe_key(name).unwrap();
            }
            let items = vec![
                DataKeyItem {
                    key: name,
                    spec: DataKeySpec::Aes128,
                    encryption_context: &ctx,
                };
                MAX_BATCH_ITEMS
            ];
            let made = kms.generate_data_keys(&items, true).unwrap();
            let blobs: Vec<Vec<u8>> = made
                .into_iter()
                .map(|r| r.unwrap().ciphertext_blob)
                .collect();
            let items: Vec<DecryptItem<'_>> = blobs
                .iter()
                .map(|b| DecryptItem {
                    ciphertext_blob: b,
                    encryption_context: &ctx,
                })
                .collect();
            assert!(kms.decrypt_many(&items).unwrap().iter().all(Result::is_ok));
        }
        // Refusals are served from memory too.
        assert!(kms.decrypt(b"not a blob", &ctx).is_err());
        assert!(
            kms.generate_data_key("nope", DataKeySpec::Aes256, "", true)
                .is_err()
        );
        assert_eq!(kms.store_access_count(), before, "the hot path used SQLite");
        // The counter does count: a mutation reaches the store.
        kms.disable_key("hot").unwrap();
        assert!(kms.store_access_count() > before);
    }

    #[test]
    fn batches_match_single_calls_item_by_item() {
        let dir = tempfile::tempdir().unwrap();
        let kms = open(dir.path(), Arc::new(ManualClock::new(T0)));
        kms.create_key("on", "", "").unwrap();
        kms.create_key("off", "", "").unwrap();
        kms.disable_key("off").unwrap();
        let ctx = ctx();
        let items = [
            DataKeyItem {
                key: "on",
                spec: DataKeySpec::Aes256,
                encryption_context: &ctx,
            },
            DataKeyItem {
                key: "off",
                spec: DataKeySpec::Aes256,
                encryption_context: "",
            },
            DataKeyItem {
                key: "missing",
                spec: DataKeySpec::Aes256,
                encryption_context: "",
            },
            DataKeyItem {
                key: "on",
                spec: DataKeySpec::Bytes(0),
                encryption_context: "",
            },
            DataKeyItem {
                key: "on",
                spec: DataKeySpec::Aes128,
                encryption_context: "not base64!",
            },
        ];
        let batch = kms.generate_data_keys(&items, true).unwrap();
        assert_eq!(batch.len(), items.len());
        for (item, got) in items.iter().zip(&batch) {
            let single = kms.generate_data_key(item.key, item.spec, item.encryption_context, true);
            match (got, single) {
                (Ok(b), Ok(s)) => {
                    assert_eq!((b.key_id, b.key_version), (s.key_id, s.key_version));
                    assert_eq!(b.plaintext.as_ref().unwrap().len(), 32);
                }
                (Err(b), Err(s)) => assert_eq!(b.to_string(), s.to_string()),
                (b, s) => panic!("batch {b:?} but single {s:?}"),
            }
        }
        let good = batch[0].as_ref().unwrap().ciphertext_blob.clone();
        let mut tampered = good.clone();
        *tampered.last_mut().unwrap() ^= 1;
        let items = [
            DecryptItem {
                ciphertext_blob: &good,
                encryption_context: &ctx,
            },
            DecryptItem {
                ciphertext_blob: &good,
                encryption_context: "",
            },
            DecryptItem {
                ciphertext_blob: &tampered,
                encryption_context: &ctx,
            },
            DecryptItem {
                ciphertext_blob: b"short",
                encryption_context: &ctx,
            },
        ];
        let opened = kms.decrypt_many(&items).unwrap();
        for (item, got) in items.iter().zip(&opened) {
            let single = kms.decrypt(item.ciphertext_blob, item.encryption_context);
            match (got, single) {
                (Ok(b), Ok(s)) => assert_eq!(b.plaintext.expose(), s.plaintext.expose()),
                (Err(b), Err(s)) => assert_eq!(b.to_string(), s.to_string()),
                (b, s) => panic!("batch {b:?} but single {s:?}"),
            }
        }
        assert!(opened[0].is_ok() && opened[1..].iter().all(Result::is_err));
        let too_many = vec![items[0]; MAX_BATCH_ITEMS + 1];
        assert!(matches!(
            kms.decrypt_many(&too_many),
            Err(Error::InvalidArgument(_))
        ));
        assert!(kms.decrypt_many(&[]).unwrap().is_empty());
    }

    /// ListKeys' totals come from counters: they must agree with a full scan through every state
    /// change, deletion and filter.
    #[test]
    fn list_totals_match_a_scan() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let kms = open(dir.path(), clock.clone());
        for i in 0..12 {
            kms.create_key(&format!("k{i}"), "", "").unwrap();
            clock.advance(1);
        }
        for i in 0..6 {
            kms.disable_key(&format!("k{i}")).unwrap();
        }
        for i in 0..3 {
            kms.schedule_key_deletion(&format!("k{i}"), 7).unwrap();
        }
        kms.archive_key("k10").unwrap();
        kms.cancel_key_deletion("k2").unwrap();
        kms.update_alias("k11", "renamed").unwrap();
        let check = |kms: &Kms| {
            let all = kms
                .list_keys(ListKeys {
                    limit: MAX_LIST_LIMIT,
                    include_service_keys: true,
                    ..Default::default()
                })
                .unwrap()
                .keys;
            let states = [
                None,
                Some(KeyState::Enabled),
                Some(KeyState::Disabled),
                Some(KeyState::PendingDelete),
                Some(KeyState::Archived),
            ];
            for state in states {
                for include_service_keys in [false, true] {
                    let want: Vec<&KeyMetadata> = all
                        .iter()
                        .filter(|m| include_service_keys || !m.is_service_key())
                        .filter(|m| state.is_none_or(|s| m.state == s))
                        .collect();
                    for (offset, limit) in [(0, 0), (0, 2), (3, 4), (100, 5)] {
                        let page = kms
                            .list_keys(ListKeys {
                                offset,
                                limit,
                                state,
                                include_service_keys,
                            })
                            .unwrap();
                        assert_eq!(page.total_count as usize, want.len(), "{state:?}");
                        let limit = if limit == 0 {
                            DEFAULT_LIST_LIMIT
                        } else {
                            limit
                        };
                        let expected: Vec<Uuid> = want
                            .iter()
                            .skip(offset as usize)
                            .take(limit as usize)
                            .map(|m| m.key_id)
                            .collect();
                        let got: Vec<Uuid> = page.keys.iter().map(|m| m.key_id).collect();
                        assert_eq!(got, expected, "{state:?} {offset} {limit}");
                    }
                }
            }
            all.len()
        };
        assert_eq!(check(&kms), 14, "12 user keys and 2 service keys");
        clock.advance(8 * DAY_SECS);
        kms.run_due_tasks().unwrap();
        assert_eq!(check(&kms), 12, "two keys were past their deletion date");
        drop(kms);
        let kms = open(dir.path(), clock);
        assert_eq!(check(&kms), 12, "the counters are rebuilt at start");
    }

    /// A batch settles due deadlines first, like a single call: a due rotation happens, and a key
    /// past its deletion date is gone.
    #[test]
    fn batches_settle_deadlines() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let kms = open(dir.path(), clock.clone());
        kms.create_key("rot", "", "").unwrap();
        kms.enable_key_rotation("rot", 7).unwrap();
        kms.create_key("del", "", "").unwrap();
        let blob = kms
            .generate_data_key("del", DataKeySpec::Aes256, "", false)
            .unwrap()
            .ciphertext_blob;
        kms.disable_key("del").unwrap();
        kms.schedule_key_deletion("del", 7).unwrap();
        clock.advance(8 * DAY_SECS);
        let made = kms
            .generate_data_keys(
                &[DataKeyItem {
                    key: "rot",
                    spec: DataKeySpec::Aes256,
                    encryption_context: "",
                }],
                false,
            )
            .unwrap();
        assert_eq!(made[0].as_ref().unwrap().key_version, 2);
        let opened = kms
            .decrypt_many(&[DecryptItem {
                ciphertext_blob: &blob,
                encryption_context: "",
            }])
            .unwrap();
        assert!(matches!(opened[0], Err(Error::InvalidCiphertext)));
        assert!(matches!(kms.describe_key("del"), Err(Error::NotFound(_))));
    }
}
