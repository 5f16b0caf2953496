//! The PostgreSQL key store, for several kms-server replicas on one database.
//!
//! The driver is the synchronous `postgres` crate with the `r2d2` pool (`r2d2_postgres`), from the
//! rust-postgres project that also makes tokio-postgres: the [`KeyStore`] trait is synchronous and
//! the core calls it from blocking threads, so a blocking client fits without bridging runtimes.
//! TLS to the database is rustls ([`connect::tls`]). Every method is one transaction; the schema
//! is versioned ([`schema`]) and migrated at open under an advisory lock.
//!
//! Concurrency between replicas: alias uniqueness is the `keys_alias_key` constraint
//! ([`Error::AliasExists`]); two replicas adding the same version number to a key (two rotations
//! at once, each from its own cache) meet the version primary key, and the second gets
//! [`Error::Conflict`] with nothing written. A database that cannot be reached is
//! [`Error::StoreUnavailable`].
//!
//! The store is [shared](KeyStore::is_shared): every write records its keys in a versioned change
//! log and notifies the other replicas in its transaction ([`changelog`], [`listen`]); each replica
//! reloads the keys a notification names, after a reconnect the keys the log holds since its
//! position ([`KeyStore::change_feed`]), and every key on its tick
//! ([`Kms::resync`](crate::Kms::resync)), the backstop. Writes are conditional on the writer's view
//! of the key ([`KeyStore::update_key`]), seeds included, so a stale cache never undoes another
//! replica's change; timed deletions are once-only ([`KeyStore::delete_expired`]).

pub mod changelog;
mod connect;
#[cfg(any(test, feature = "test-hooks"))]
pub mod harness;
pub mod listen;
mod schema;

use std::{path::Path, time::Duration};

use postgres::Transaction;
use r2d2_postgres::PostgresConnectionManager;
use uuid::Uuid;

pub use self::connect::{parse_url, redacted};
use self::{
    changelog::record,
    connect::{Failure, LastError, classify, plain},
    listen::Listener,
};
use super::{ChangeFeed, Changeable, KeyStore, KeyWrite, StoredKey, StoredVersion};
use crate::{
    error::{Error, Result},
    keys::{KeyMetadata, KeyState, KeyUsage},
};

type Manager = PostgresConnectionManager<tokio_postgres_rustls::MakeRustlsConnect>;
type Pool = r2d2::Pool<Manager>;

/// The advisory lock key held while a replica starts (see [`PostgresStore::start_lock`]).
const START_LOCK: i64 = 0x6b6d_732d_7374_7274;

/// How a [`PostgresStore`] connects.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// How long getting a connection may take before the call fails with
    /// [`Error::StoreUnavailable`].
    pub connect_timeout: Duration,
    /// Most connections kept open.
    pub pool_size: u32,
    /// CA certificates (PEM) trusted for the database's TLS certificate, besides the Mozilla roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// How long the change log keeps a change. A replica whose change feed is down for less
    /// reloads only the keys changed meanwhile when it reconnects; one down for longer reloads
    /// every key.
    pub change_log_retention: Duration,
}

/// The change log's retention by default: as long as `--max-stale` by default. A replica cut off
/// for less (a restart, a fail-over of the database) catches up from the log; one cut off for
/// longer has stopped serving anyway and reloads everything.
pub const DEFAULT_CHANGE_LOG_RETENTION: Duration = Duration::from_secs(300);

/// The shortest retention `--change-log-retention` takes: as long as a feed looks for a change
/// it missed ([`changelog::HOLE_TTL`]). The log is read while a feed is connected too (a change
/// too big to name its keys in its notification, a number committed out of order), so a row
/// must outlive those reads; a shorter log would turn them, and every reconnect after a short
/// outage, into reloads of every key.
pub const MIN_CHANGE_LOG_RETENTION: Duration = changelog::HOLE_TTL;
const _: () = assert!(
    DEFAULT_CHANGE_LOG_RETENTION.as_secs() >= MIN_CHANGE_LOG_RETENTION.as_secs(),
    "the default retention must be one the command line accepts"
);

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            pool_size: 4,
            ca_file: None,
            change_log_retention: DEFAULT_CHANGE_LOG_RETENTION,
        }
    }
}

/// The PostgreSQL key store.
pub struct PostgresStore {
    pool: Pool,
    /// How the change feed connects (its own connection, outside the pool).
    feed: (postgres::Config, tokio_postgres_rustls::MakeRustlsConnect),
    /// The database, as messages may name it (no password).
    db: String,
    /// How long the change log keeps a change.
    retention: Duration,
    /// The data directory's lock, when the store was opened for a server.
    _lock: Option<crate::private_fs::DirLock>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

/// Held while a replica starts; released on drop.
pub struct StartLock(r2d2::PooledConnection<Manager>);

impl std::fmt::Debug for StartLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StartLock")
    }
}

impl Drop for StartLock {
    fn drop(&mut self) {
        // If this fails the connection is gone, and its session locks with it.
        let _ = self
            .0
            .execute("SELECT pg_advisory_unlock($1)", &[&START_LOCK]);
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://...`) and migrates its schema.
    pub fn open(url: &str, options: &PostgresOptions) -> Result<Self> {
        let config = parse_url(url)?;
        let db = redacted(&config);
        let tls = connect::tls(options.ca_file.as_deref())?;
        let mut feed_config = config.clone();
        feed_config.connect_timeout(options.connect_timeout);
        let feed = (feed_config, tls.clone());
        let last_error = LastError::default();
        let pool = r2d2::Pool::builder()
            .max_size(options.pool_size.max(2))
            .min_idle(Some(1))
            .connection_timeout(options.connect_timeout)
            // The pool's own reconnect attempts would log through `log`; errors reach callers.
            .error_handler(Box::new(last_error.clone()))
            .build(PostgresConnectionManager::new(config, tls))
            .map_err(|e| {
                let why = last_error.take().unwrap_or_else(|| e.to_string());
                Error::StoreUnavailable(format!("{db}: {why}"))
            })?;
        let store = Self {
            pool,
            feed,
            db,
            retention: options.change_log_retention,
            _lock: None,
        };
        let mut conn = store.conn()?;
        let applied = schema::migrate(&mut *conn).map_err(|e| match e {
            schema::MigrateError::Db(e) => plain(e, &store.db),
            schema::MigrateError::Refused(e) => e,
        })?;
        drop(conn);
        if !applied.is_empty() {
            tracing::info!(db = %store.db, ?applied, "key store schema migrated");
        }
        Ok(store)
    }

    /// Every key (`None`) or those of `key_ids`, with their versions, in one snapshot: a replica
    /// writing meanwhile cannot tear the load.
    fn load_where(&self, key_ids: Option<&[Uuid]>) -> Result<Vec<StoredKey>> {
        let ids: Option<Vec<Uuid>> = key_ids.map(<[Uuid]>::to_vec);
        self.write(None, |tx| {
            tx.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
            let keys = tx.query(
                "SELECT key_id, alias, description, state, key_usage, owner, origin, create_time,
                        deletion_date, rotation_enabled, rotate_days, last_rotate_time,
                        next_rotate_time, valid_to, tags
                 FROM keys WHERE $1::uuid[] IS NULL OR key_id = ANY($1)
                 ORDER BY create_time, key_id",
                &[&ids],
            )?;
            let versions = tx.query(
                "SELECT key_id, version, wrapped, create_time FROM key_versions
                 WHERE $1::uuid[] IS NULL OR key_id = ANY($1)
                 ORDER BY key_id, version",
                &[&ids],
            )?;
            let mut by_key: std::collections::HashMap<Uuid, Vec<StoredVersion>> =
                std::collections::HashMap::new();
            for r in versions {
                let version: i64 = r.get(1);
                let version =
                    u32::try_from(version).map_err(|_| bad(format!("bad version {version}")))?;
                by_key.entry(r.get(0)).or_default().push(StoredVersion {
                    version,
                    wrapped: r.get(2),
                    create_time: r.get(3),
                });
            }
            let mut out = Vec::with_capacity(keys.len());
            for r in keys {
                let key_id: Uuid = r.get(0);
                let state: i64 = r.get(3);
                let rotate_days: i64 = r.get(10);
                let usage: String = r.get(4);
                let tags: String = r.get(14);
                let versions = by_key.remove(&key_id).unwrap_or_default();
                let meta = KeyMetadata {
                    key_id,
                    alias: r.get(1),
                    description: r.get(2),
                    state: KeyState::from_code(state)
                        .ok_or_else(|| bad(format!("bad state {state} for key {key_id}")))?,
                    key_usage: KeyUsage::parse(&usage)
                        .ok_or_else(|| bad(format!("bad key usage {usage:?} for key {key_id}")))?,
                    owner: r.get(5),
                    origin: r.get(6),
                    create_time: r.get(7),
                    deletion_date: r.get(8),
                    rotation_enabled: r.get(9),
                    rotate_days: u32::try_from(rotate_days)
                        .map_err(|_| bad(format!("bad rotate_days for key {key_id}")))?,
                    last_rotate_time: r.get(11),
                    next_rotate_time: r.get(12),
                    current_key_version: versions.last().map_or(0, |v| v.version),
                    valid_to: r.get(13),
                    tags: crate::keys::tags::from_json(&tags)
                        .map_err(|e| bad(format!("bad tags {tags:?} for key {key_id}: {e}")))?,
                };
                out.push(StoredKey { meta, versions });
            }
            Ok(out)
        })
    }

    /// [`PostgresStore::open`], holding the lock of the server's `data_dir` (its root key file
    /// and TLS files) while the store is open, as the SQLite store does.
    pub fn open_for_dir(url: &str, options: &PostgresOptions, data_dir: &Path) -> Result<Self> {
        crate::private_fs::create_dir(data_dir)?;
        let lock = crate::private_fs::DirLock::try_acquire(data_dir)?
            .ok_or_else(|| Error::DataDirInUse(data_dir.display().to_string()))?;
        let mut store = Self::open(url, options)?;
        store._lock = Some(lock);
        Ok(store)
    }

    /// The database as logs may name it (no password).
    pub fn name(&self) -> &str {
        &self.db
    }

    /// Takes the replicas' start lock (a session advisory lock), so that two replicas starting on
    /// an empty database do not both create the service keys. Held until dropped.
    pub fn start_lock(&self) -> Result<StartLock> {
        let mut conn = self.conn()?;
        conn.execute("SELECT pg_advisory_lock($1)", &[&START_LOCK])
            .map_err(|e| plain(e, &self.db))?;
        Ok(StartLock(conn))
    }

    fn conn(&self) -> Result<r2d2::PooledConnection<Manager>> {
        self.pool
            .get()
            .map_err(|e| Error::StoreUnavailable(format!("{}: {e}", self.db)))
    }

    /// Runs `f` in one transaction, committed only if it succeeds.
    fn transaction<T>(
        &self,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, Step>,
    ) -> Result<T, Step> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction()?;
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// A transaction whose only constraint to interpret is the alias (and the version, for
    /// rotations and seeds).
    fn write<T>(
        &self,
        meta: Option<&KeyMetadata>,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, Step>,
    ) -> Result<T> {
        self.transaction(f).map_err(|step| match step {
            Step::Done(e) => e,
            Step::Db(e) => match (classify(e, &self.db), meta) {
                (Failure::AliasTaken, Some(m)) => Error::AliasExists(m.alias.clone()),
                (Failure::VersionTaken | Failure::KeyTaken, Some(m)) => {
                    Error::Conflict(m.key_id.to_string())
                }
                (Failure::AliasTaken | Failure::VersionTaken | Failure::KeyTaken, None) => {
                    Error::Conflict("(seed)".into())
                }
                (Failure::Other(e), _) => e,
            },
        })
    }
}

/// A failed step of a transaction: a driver error still to classify, or a decided one.
#[derive(Debug)]
enum Step {
    Db(postgres::Error),
    Done(Error),
}

impl From<postgres::Error> for Step {
    fn from(e: postgres::Error) -> Self {
        Step::Db(e)
    }
}

impl From<Error> for Step {
    fn from(e: Error) -> Self {
        Step::Done(e)
    }
}

const INSERT_KEY: &str = "
INSERT INTO keys (key_id, alias, description, state, key_usage, owner, origin, create_time,
    deletion_date, rotation_enabled, rotate_days, last_rotate_time, next_rotate_time, valid_to,
    tags)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";

const UPDATE_KEY: &str = "
UPDATE keys SET alias = $2, description = $3, state = $4, deletion_date = $5,
    rotation_enabled = $6, rotate_days = $7, last_rotate_time = $8, next_rotate_time = $9,
    valid_to = $10
WHERE key_id = $1";

fn insert_key(tx: &mut Transaction<'_>, m: &KeyMetadata) -> Result<(), postgres::Error> {
    let tags = crate::keys::tags::to_json(&m.tags);
    tx.execute(
        INSERT_KEY,
        &[
            &m.key_id,
            &m.alias,
            &m.description,
            &m.state.code(),
            &m.key_usage.as_str(),
            &m.owner,
            &m.origin,
            &m.create_time,
            &m.deletion_date,
            &m.rotation_enabled,
            &i64::from(m.rotate_days),
            &m.last_rotate_time,
            &m.next_rotate_time,
            &m.valid_to,
            &tags,
        ],
    )?;
    Ok(())
}

/// Writes the changeable fields; false if no key has this id.
fn update_key(tx: &mut Transaction<'_>, m: &KeyMetadata) -> Result<bool, postgres::Error> {
    let n = tx.execute(
        UPDATE_KEY,
        &[
            &m.key_id,
            &m.alias,
            &m.description,
            &m.state.code(),
            &m.deletion_date,
            &m.rotation_enabled,
            &i64::from(m.rotate_days),
            &m.last_rotate_time,
            &m.next_rotate_time,
            &m.valid_to,
        ],
    )?;
    Ok(n > 0)
}

/// The changeable fields of key `key_id` as stored (`None`: no such key), locked until the
/// transaction ends so that the conditional write that follows is atomic across replicas.
fn stored_changeable(
    tx: &mut Transaction<'_>,
    key_id: Uuid,
) -> Result<Option<Changeable<'static>>, postgres::Error> {
    let row = tx.query_opt(
        "SELECT alias, description, state, deletion_date, rotation_enabled, rotate_days,
            last_rotate_time, next_rotate_time, valid_to FROM keys WHERE key_id = $1 FOR UPDATE",
        &[&key_id],
    )?;
    Ok(row.map(|r| Changeable {
        alias: r.get::<_, String>(0).into(),
        description: r.get::<_, String>(1).into(),
        state: r.get(2),
        deletion_date: r.get(3),
        rotation_enabled: r.get(4),
        rotate_days: r.get(5),
        last_rotate_time: r.get(6),
        next_rotate_time: r.get(7),
        valid_to: r.get(8),
    }))
}

fn insert_version(
    tx: &mut Transaction<'_>,
    key_id: Uuid,
    v: &StoredVersion,
) -> Result<(), postgres::Error> {
    tx.execute(
        "INSERT INTO key_versions (key_id, version, wrapped, create_time) VALUES ($1, $2, $3, $4)",
        &[&key_id, &i64::from(v.version), &v.wrapped, &v.create_time],
    )?;
    Ok(())
}

fn bad(what: String) -> Error {
    Error::Internal(format!("{what} in key store"))
}

impl KeyStore for PostgresStore {
    fn is_shared(&self) -> bool {
        true
    }

    fn change_feed(&self) -> Option<Box<dyn ChangeFeed>> {
        let (config, tls) = self.feed.clone();
        Some(Box::new(Listener::new(
            config,
            tls,
            self.db.clone(),
            self.retention,
        )))
    }

    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let row = self
            .conn()?
            .query_opt("SELECT value FROM meta WHERE name = $1", &[&name])
            .map_err(|e| plain(e, &self.db))?;
        Ok(row.map(|r| r.get(0)))
    }

    fn set_meta(&self, name: &str, value: &[u8]) -> Result<()> {
        self.conn()?
            .execute(
                "INSERT INTO meta (name, value) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                &[&name, &value],
            )
            .map_err(|e| plain(e, &self.db))?;
        Ok(())
    }

    fn take_meta(&self, name: &str, value: &[u8]) -> Result<bool> {
        let removed = self
            .conn()?
            .execute(
                "DELETE FROM meta WHERE name = $1 AND value = $2",
                &[&name, &value],
            )
            .map_err(|e| plain(e, &self.db))?;
        Ok(removed == 1)
    }

    fn load_all(&self) -> Result<Vec<StoredKey>> {
        self.load_where(None)
    }

    fn load_keys(&self, key_ids: &[Uuid]) -> Result<Vec<StoredKey>> {
        self.load_where(Some(key_ids))
    }

    fn insert_key(&self, key: &StoredKey) -> Result<()> {
        self.write(Some(&key.meta), |tx| {
            insert_key(tx, &key.meta)?;
            for v in &key.versions {
                insert_version(tx, key.meta.key_id, v)?;
            }
            record(tx, &[key.meta.key_id])?;
            Ok(())
        })
    }

    fn update_key(&self, before: &KeyMetadata, after: &KeyMetadata) -> Result<()> {
        self.write(Some(after), |tx| {
            Changeable::check(stored_changeable(tx, before.key_id)?, before)?;
            update_key(tx, after)?;
            record(tx, &[after.key_id])?;
            Ok(())
        })
    }

    fn add_version(
        &self,
        before: &KeyMetadata,
        after: &KeyMetadata,
        version: &StoredVersion,
    ) -> Result<()> {
        self.write(Some(after), |tx| {
            Changeable::check(stored_changeable(tx, before.key_id)?, before)?;
            update_key(tx, after)?;
            insert_version(tx, after.key_id, version)?;
            record(tx, &[after.key_id])?;
            Ok(())
        })
    }

    fn delete_expired(&self, key_ids: &[Uuid], now: i64) -> Result<Vec<Uuid>> {
        let ids = key_ids.to_vec();
        self.write(None, |tx| {
            let deleted: Vec<Uuid> = tx
                .query(
                    "DELETE FROM keys WHERE key_id = ANY($1) AND state = $2 AND deletion_date <= $3
                     RETURNING key_id",
                    &[&ids, &KeyState::PendingDelete.code(), &now],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            if !deleted.is_empty() {
                record(tx, &deleted)?;
            }
            Ok(deleted)
        })
    }

    fn remove_versions(&self, before: &KeyMetadata, after: &KeyMetadata) -> Result<()> {
        self.write(Some(after), |tx| {
            Changeable::check(stored_changeable(tx, before.key_id)?, before)?;
            update_key(tx, after)?;
            tx.execute(
                "DELETE FROM key_versions WHERE key_id = $1",
                &[&after.key_id],
            )?;
            record(tx, &[after.key_id])?;
            Ok(())
        })
    }

    fn apply_seed(&self, writes: &[KeyWrite]) -> Result<()> {
        let ids: Vec<Uuid> = writes.iter().map(|w| w.meta.key_id).collect();
        self.write(None, |tx| {
            // Every view is checked (and its row locked) before any row changes: an alias swap
            // renames rows of the seed.
            for w in writes {
                if !w.is_current(stored_changeable(tx, w.meta.key_id)?.as_ref()) {
                    return Err(Error::Conflict(w.meta.key_id.to_string()).into());
                }
            }
            for w in writes {
                let m = &w.meta;
                // Aliases are unique; a seed that moves an alias between its keys frees it first
                // (the key that held it gets its own id as a placeholder, replaced by its own
                // write). A key outside the seed keeps its alias.
                let holder = tx.query_opt(
                    "SELECT key_id FROM keys WHERE alias = $1 AND key_id <> $2",
                    &[&m.alias, &m.key_id],
                )?;
                if let Some(holder) = holder.map(|r| r.get::<_, Uuid>(0)) {
                    if !ids.contains(&holder) {
                        return Err(Error::AliasExists(m.alias.clone()).into());
                    }
                    tx.execute(
                        "UPDATE keys SET alias = key_id::text WHERE key_id = $1",
                        &[&holder],
                    )?;
                }
                if w.before.is_some() {
                    update_key(tx, m)?;
                } else {
                    insert_key(tx, m)?;
                }
                for v in &w.new_versions {
                    insert_version(tx, m.key_id, v)?;
                }
            }
            record(tx, &ids)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use super::{harness::Postgres, schema::MIGRATIONS, *};
    use crate::store::suite::sample_key;

    fn open(url: &str) -> PostgresStore {
        PostgresStore::open(url, &PostgresOptions::default()).unwrap()
    }

    /// The store's behaviour suite, each check on a fresh database.
    #[test]
    fn behaviour_suite() {
        let Some(pg) = Postgres::start("postgres behaviour_suite") else {
            return;
        };
        crate::store::suite::run_all(|| open(&pg.new_database()));
    }

    /// Runs `f(0)` and `f(1)` on two threads released together.
    fn race<T: Send>(f: impl Fn(usize) -> T + Sync) -> [T; 2] {
        let barrier = Barrier::new(2);
        std::thread::scope(|s| {
            let run = |i| {
                let (f, barrier) = (&f, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    f(i)
                })
            };
            let (a, b) = (run(0), run(1));
            [a.join().unwrap(), b.join().unwrap()]
        })
    }

    /// Two replicas (two stores, two pools) racing: one alias goes to one key, the other gets
    /// AliasExists; of two rotations from the same view, one wins and the other gets Conflict and
    /// writes nothing (not even its metadata).
    #[test]
    fn replicas_racing_are_refused_by_the_database() {
        let Some(pg) = Postgres::start("postgres replicas_racing") else {
            return;
        };
        let url = pg.new_database();
        let stores = [open(&url), open(&url)];
        for round in 0..20u8 {
            let results = race(|i| stores[i].insert_key(&sample_key(2 * round + i as u8, "same")));
            let (ok, refused): (Vec<_>, Vec<_>) = results.into_iter().partition(|r| r.is_ok());
            assert_eq!(ok.len(), 1, "round {round}");
            assert!(
                matches!(&refused[0], Err(Error::AliasExists(a)) if a == "same"),
                "{:?}",
                refused[0]
            );
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            c.execute("DELETE FROM keys", &[]).unwrap();
        }
        let key = sample_key(100, "rotating");
        stores[0].insert_key(&key).unwrap();
        for v in 2..12u32 {
            let before = stores[0].load_all().unwrap().remove(0).meta;
            let results = race(|i| {
                let mut meta = before.clone();
                meta.description = format!("rotated by replica {i}");
                let version = StoredVersion {
                    version: v,
                    wrapped: vec![i as u8; 60],
                    create_time: 1,
                };
                stores[i].add_version(&before, &meta, &version)
            });
            let winner = results.iter().position(Result::is_ok).expect("one wins");
            let loser = &results[1 - winner];
            let id = key.meta.key_id.to_string();
            assert!(
                matches!(loser, Err(Error::Conflict(k)) if *k == id),
                "{loser:?}"
            );
            let stored = stores[1].load_all().unwrap().remove(0);
            assert_eq!(
                stored.meta.description,
                format!("rotated by replica {winner}")
            );
            let last = stored.versions.last().unwrap();
            assert_eq!((last.version, last.wrapped[0]), (v, winner as u8));
        }
        let versions: Vec<u32> = stores[0].load_all().unwrap()[0]
            .versions
            .iter()
            .map(|v| v.version)
            .collect();
        assert_eq!(versions, (1..12).collect::<Vec<_>>());
    }

    /// Replicas starting together on a new database migrate it once; a schema newer than this
    /// build is refused with a clear message.
    #[test]
    fn migrations_run_once_and_refuse_a_newer_schema() {
        let Some(pg) = Postgres::start("postgres migrations") else {
            return;
        };
        let url = pg.new_database();
        let stores = race(|_| PostgresStore::open(&url, &PostgresOptions::default()));
        assert!(stores.iter().all(Result::is_ok));
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let versions: Vec<i64> = c
            .query("SELECT version FROM schema_migrations", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(versions, (1..=MIGRATIONS.len() as i64).collect::<Vec<_>>());
        c.execute("INSERT INTO schema_migrations (version) VALUES (99)", &[])
            .unwrap();
        let e = PostgresStore::open(&url, &PostgresOptions::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "the database's schema is version 99, newer than this kms-server knows ({}): \
                 upgrade kms-server",
                MIGRATIONS.len()
            )
        );
    }

    /// A database that is down: opening fails with StoreUnavailable naming the database without
    /// its password; an open store fails its calls the same way while the server is stopped, and
    /// works again, by itself, once it is back.
    #[test]
    fn a_database_down_is_unavailable_and_recovers() {
        let Some(mut pg) = Postgres::start("postgres database_down") else {
            return;
        };
        let quick = PostgresOptions {
            connect_timeout: Duration::from_millis(500),
            ..PostgresOptions::default()
        };
        let free = TcpPort::free();
        let e = PostgresStore::open(
            &format!("postgres://kms:hunter2@127.0.0.1:{free}/x?sslmode=disable"),
            &quick,
        )
        .unwrap_err();
        assert!(matches!(e, Error::StoreUnavailable(_)), "{e}");
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!(
                "the key store is unavailable: postgres://kms@127.0.0.1:{free}/x: "
            )),
            "{msg}"
        );
        assert!(!msg.contains("hunter2"), "{msg}");

        let url = pg.new_database();
        let store = PostgresStore::open(&url, &quick).unwrap();
        store.insert_key(&sample_key(1, "before")).unwrap();
        pg.stop();
        let e = store.insert_key(&sample_key(2, "during")).unwrap_err();
        assert!(matches!(e, Error::StoreUnavailable(_)), "{e}");
        let e = store.load_all().unwrap_err();
        assert!(matches!(e, Error::StoreUnavailable(_)), "{e}");
        pg.restart();
        store.insert_key(&sample_key(3, "after")).unwrap();
        let aliases: Vec<String> = store
            .load_all()
            .unwrap()
            .into_iter()
            .map(|k| k.meta.alias)
            .collect();
        assert_eq!(aliases, ["before", "after"]);
    }

    /// TLS to the database: with `sslmode=require` and the database's CA (`--database-ca`) the
    /// store opens and works, over TLS (the server rejects plain TCP connections); without that
    /// CA the certificate is not trusted, and the error names the database but not the password.
    #[test]
    fn tls_to_the_database_verifies_its_certificate() {
        let ca = local_pki::LocalCa::generate("kms test database CA").unwrap();
        let Some(pg) = Postgres::start_tls("postgres tls", &ca) else {
            return;
        };
        let plain = pg.new_database();
        let url = plain
            .replace("postgres://kms@", "postgres://kms:hunter2@")
            .replace("sslmode=disable", "sslmode=require");
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.cert_pem()).unwrap();
        let with_ca = PostgresOptions {
            connect_timeout: Duration::from_secs(5),
            ca_file: Some(ca_file),
            ..PostgresOptions::default()
        };
        let store = PostgresStore::open(&url, &with_ca).unwrap();
        store.insert_key(&sample_key(1, "over-tls")).unwrap();
        assert_eq!(store.load_all().unwrap()[0].meta.alias, "over-tls");

        let plain_options = PostgresOptions {
            connect_timeout: Duration::from_secs(2),
            ..PostgresOptions::default()
        };
        let e = PostgresStore::open(&plain, &plain_options).unwrap_err();
        assert!(matches!(e, Error::StoreUnavailable(_)), "plain TCP: {e}");

        let e = PostgresStore::open(&url, &plain_options).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::StoreUnavailable(_)), "{msg}");
        assert!(
            msg.starts_with(&format!(
                "the key store is unavailable: postgres://kms@127.0.0.1:{}/",
                pg.port()
            )),
            "{msg}"
        );
        // The cause, not only the driver's "error performing TLS handshake".
        assert!(msg.contains("invalid peer certificate"), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
        eprintln!("without the CA: {msg}");
    }

    struct TcpPort;
    impl TcpPort {
        fn free() -> u16 {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        }
    }
}
