//! The persistence boundary: everything the KMS core asks of a key store, as one trait. The core
//! keeps every key in memory and writes through this trait before it changes its cache, so a store
//! only has to be durable and atomic per call; it knows rows, not rules (the core has checked them).
//!
//! Backends: [`sqlite::SqliteStore`] (one server) and [`postgres::PostgresStore`] (replicas on one
//! database). A new backend runs the behaviour suite in [`suite`] unchanged.
//! Key material reaches a store only wrapped by the root key ([`StoredVersion::wrapped`]).

mod database;
pub mod postgres;
pub mod sqlite;
#[cfg(any(test, feature = "test-hooks"))]
pub mod suite;

use std::{fmt, time::Duration};

use uuid::Uuid;

pub use self::database::Database;

use crate::{error::Result, keys::KeyMetadata};

/// One wrapped key version as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVersion {
    /// 1-based version number.
    pub version: u32,
    /// Material sealed under the root key.
    pub wrapped: Vec<u8>,
    /// When the version was added.
    pub create_time: i64,
}

/// A key as stored: its metadata and its versions, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The metadata. `current_key_version` is not stored: it is the newest version's number.
    pub meta: KeyMetadata,
    /// Every version, ascending.
    pub versions: Vec<StoredVersion>,
}

/// One key of a seed: its metadata (inserted, or updated if the key exists) and the versions to
/// add to it, conditional on the writer's view of the key (see [`KeyStore::apply_seed`]).
#[derive(Debug, Clone)]
pub struct KeyWrite {
    /// The key's metadata as it must be after the seed.
    pub meta: KeyMetadata,
    /// Versions to add; existing versions are never rewritten.
    pub new_versions: Vec<StoredVersion>,
    /// The key as the writer last saw it: `None` for a key it believes new (inserted), or its
    /// metadata (updated if the stored changeable fields are still these).
    pub before: Option<KeyMetadata>,
}

impl KeyWrite {
    /// Whether the stored key (`None`: no such key) is as this write's `before` has it.
    pub(crate) fn is_current(&self, stored: Option<&Changeable<'_>>) -> bool {
        match (&self.before, stored) {
            (None, None) => true,
            (Some(before), Some(stored)) => *stored == Changeable::of(before),
            _ => false,
        }
    }
}

/// A key's changeable fields as a store holds them: what a conditional write compares (see
/// [`KeyStore::update_key`]).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Changeable<'a> {
    pub alias: std::borrow::Cow<'a, str>,
    pub description: std::borrow::Cow<'a, str>,
    pub state: i64,
    pub deletion_date: i64,
    pub rotation_enabled: bool,
    pub rotate_days: i64,
    pub last_rotate_time: i64,
    pub next_rotate_time: i64,
    pub valid_to: i64,
}

impl<'a> Changeable<'a> {
    /// The changeable fields of `m`.
    pub fn of(m: &'a KeyMetadata) -> Self {
        Self {
            alias: m.alias.as_str().into(),
            description: m.description.as_str().into(),
            state: m.state.code(),
            deletion_date: m.deletion_date,
            rotation_enabled: m.rotation_enabled,
            rotate_days: m.rotate_days.into(),
            last_rotate_time: m.last_rotate_time,
            next_rotate_time: m.next_rotate_time,
            valid_to: m.valid_to,
        }
    }
}

impl Changeable<'_> {
    /// Whether a stored row (`None`: no such key) still holds `before`'s fields: Ok, or the
    /// error the conditional write fails with.
    pub fn check(stored: Option<Changeable<'_>>, before: &KeyMetadata) -> Result<()> {
        match stored {
            None => Err(crate::Error::NotFound(before.key_id.to_string())),
            Some(s) if s == Changeable::of(before) => Ok(()),
            Some(_) => Err(crate::Error::Conflict(before.key_id.to_string())),
        }
    }
}

/// A durable home for keys. Every method is one atomic step: it happens entirely or not at all.
///
/// The fields of [`KeyMetadata`] fall in two groups: `key_id`, `key_usage`, `owner`, `origin`
/// and `create_time` are fixed when a key is inserted; `alias`, `description`, `state`,
/// `deletion_date` and the rotation settings change through [`KeyStore::update_key`],
/// [`KeyStore::add_version`] and [`KeyStore::apply_seed`]. Aliases are unique across keys.
pub trait KeyStore: Send + Sync + fmt::Debug {
    /// A value of the store's own settings (the root key verifier, the service key ids).
    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>>;

    /// Sets one of the store's own settings.
    fn set_meta(&self, name: &str, value: &[u8]) -> Result<()>;

    /// Removes the setting `name` if it still holds `value`; true if this call removed it. Of
    /// several writers (replicas) taking the same value, exactly one gets true: what makes an
    /// import token single-use across replicas.
    fn take_meta(&self, name: &str, value: &[u8]) -> Result<bool>;

    /// Every key with its versions, ordered by creation time, then key id.
    fn load_all(&self) -> Result<Vec<StoredKey>>;

    /// The keys among `key_ids` that exist, with their versions, in the order of
    /// [`KeyStore::load_all`]; unknown ids are left out. What a replica reloads when the change
    /// feed names the keys another replica wrote. The default filters [`KeyStore::load_all`].
    fn load_keys(&self, key_ids: &[Uuid]) -> Result<Vec<StoredKey>> {
        let mut all = self.load_all()?;
        all.retain(|k| key_ids.contains(&k.meta.key_id));
        Ok(all)
    }

    /// Adds a new key with its versions. Fails with
    /// [`Error::AliasExists`](crate::Error::AliasExists) if another key holds its alias, and fails
    /// if its id is taken.
    fn insert_key(&self, key: &StoredKey) -> Result<()>;

    /// Writes a key's changeable fields (state, alias, description, deletion date, rotation
    /// settings) from `before` to `after`, if the stored ones are still `before`'s: a writer whose
    /// view is stale (another replica changed the key since) gets
    /// [`Error::Conflict`](crate::Error::Conflict) and changes nothing, so no write silently undoes
    /// another (re-enabling a key another replica disabled, say). Fails with
    /// [`Error::NotFound`](crate::Error::NotFound) for an unknown key and with
    /// [`Error::AliasExists`](crate::Error::AliasExists) if another key holds the alias.
    fn update_key(&self, before: &KeyMetadata, after: &KeyMetadata) -> Result<()>;

    /// Adds a version to a key and writes its changeable fields (a rotation), together, under the
    /// same condition as [`KeyStore::update_key`]. Fails with
    /// [`Error::NotFound`](crate::Error::NotFound) for an unknown key and with
    /// [`Error::Conflict`](crate::Error::Conflict) if the version exists.
    fn add_version(
        &self,
        before: &KeyMetadata,
        after: &KeyMetadata,
        version: &StoredVersion,
    ) -> Result<()>;

    /// Removes every version of a key and writes its changeable fields (imported material deleted
    /// or past its `valid_to`), together, under the same condition as [`KeyStore::update_key`].
    fn remove_versions(&self, before: &KeyMetadata, after: &KeyMetadata) -> Result<()>;

    /// Deletes, with all their versions, those of `key_ids` whose deletion is still due at `now`
    /// (PendingDelete, deletion date passed) as stored, and returns their ids. A key another
    /// replica deleted, or took out of PendingDelete, is left alone: of several replicas running
    /// the same deadline, exactly one deletes the key.
    fn delete_expired(&self, key_ids: &[Uuid], now: i64) -> Result<Vec<Uuid>>;

    /// Applies a seed in one transaction: each key is inserted (`before` is `None`) or updated
    /// and gets its new versions. Conditional like [`KeyStore::update_key`]: if any key is not as
    /// its write's `before` has it (changed, made or deleted by another replica since), the seed
    /// fails with [`Error::Conflict`](crate::Error::Conflict) and writes nothing. An alias may
    /// move between keys of the same seed (two keys may swap aliases); an alias held by a key
    /// outside the seed is [`Error::AliasExists`](crate::Error::AliasExists).
    fn apply_seed(&self, writes: &[KeyWrite]) -> Result<()>;

    /// Whether other processes (replicas) write to this store too, so a server must reload what
    /// they changed ([`Kms::resync`](crate::Kms::resync)). False for a store one process owns.
    fn is_shared(&self) -> bool {
        false
    }

    /// A feed of the writes any replica makes to this store, for a replica to reload them as they
    /// happen (PostgreSQL: LISTEN/NOTIFY). `None` (the default) for a store one process owns.
    fn change_feed(&self) -> Option<Box<dyn ChangeFeed>> {
        None
    }
}

/// What a [`ChangeFeed`] saw while it waited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEvent {
    /// Some replica committed writes (one or several, coalesced) to these keys, or to keys the
    /// feed cannot name (`None`: too many for one notification): the reader reloads those keys,
    /// or every key.
    Changed(Option<Vec<Uuid>>),
    /// The feed (re)connected: writes made while it was not listening were missed, so the reader
    /// must reload everything once.
    Connected,
    /// Nothing happened within the wait, and the feed is connected (the store is reachable).
    Quiet,
    /// The feed is not connected (it keeps retrying): the store may be out of reach, and writes
    /// made meanwhile are not announced.
    Down,
}

/// Notifications of committed writes to a shared store. Reconnects by itself.
pub trait ChangeFeed: Send {
    /// Waits at most about `timeout` for the next event.
    fn wait(&mut self, timeout: Duration) -> FeedEvent;
}
