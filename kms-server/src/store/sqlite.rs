//! The SQLite key store. WAL mode with `synchronous=FULL`, so a key whose write returned survives
//! `kill -9` and a power cut. One connection behind a mutex: the core writes rarely (the hot path
//! never reaches the store) and from blocking threads.
//!
//! Another process may still lock the file (an operator's `sqlite3` shell, a backup): a statement
//! then waits up to [`BUSY_TIMEOUT`] and fails with [`Error::StoreBusy`] (gRPC `UNAVAILABLE`), its
//! transaction rolled back whole. Transactions begin `IMMEDIATE`, taking the write lock before
//! their first read: SQLite does not wait for a lock on behalf of a transaction that has read and
//! then wants to write, so a deferred one would fail at once instead of waiting out the bound.

use std::{path::Path, sync::Mutex, time::Duration};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use uuid::Uuid;

use super::{Changeable, KeyStore, KeyWrite, StoredKey, StoredVersion};
use crate::{
    error::{Error, Result},
    keys::{KeyMetadata, KeyState, KeyUsage},
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS keys (
    key_id           TEXT PRIMARY KEY,
    alias            TEXT NOT NULL UNIQUE,
    description      TEXT NOT NULL,
    state            INTEGER NOT NULL,
    key_usage        TEXT NOT NULL,
    owner            TEXT NOT NULL,
    origin           TEXT NOT NULL,
    create_time      INTEGER NOT NULL,
    deletion_date    INTEGER NOT NULL,
    rotation_enabled INTEGER NOT NULL,
    rotate_days      INTEGER NOT NULL,
    last_rotate_time INTEGER NOT NULL,
    next_rotate_time INTEGER NOT NULL,
    valid_to         INTEGER NOT NULL DEFAULT 0,
    tags             TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS key_versions (
    key_id      TEXT NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    wrapped     BLOB NOT NULL,
    create_time INTEGER NOT NULL,
    PRIMARY KEY (key_id, version)
);
";

const INSERT_KEY: &str = "
INSERT INTO keys (key_id, alias, description, state, key_usage, owner, origin, create_time,
    deletion_date, rotation_enabled, rotate_days, last_rotate_time, next_rotate_time, valid_to,
    tags)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";

const UPDATE_KEY: &str = "
UPDATE keys SET alias = ?2, description = ?3, state = ?4, deletion_date = ?5,
    rotation_enabled = ?6, rotate_days = ?7, last_rotate_time = ?8, next_rotate_time = ?9,
    valid_to = ?10
WHERE key_id = ?1";

const INSERT_VERSION: &str = "
INSERT INTO key_versions (key_id, version, wrapped, create_time) VALUES (?1, ?2, ?3, ?4)";

/// The database file's name in a data directory.
pub const DB_FILE: &str = "kms.sqlite3";

/// How long a statement waits for a lock another connection holds before the call fails with
/// [`Error::StoreBusy`] (see the module docs). Under the clients' default request timeout.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Errors of the SQLite driver are storage failures; a lock held past [`BUSY_TIMEOUT`] is
/// [`Error::StoreBusy`].
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        match e.sqlite_error_code() {
            Some(C::DatabaseBusy | C::DatabaseLocked) => Error::StoreBusy,
            _ => Error::Storage(Box::new(e)),
        }
    }
}

/// The SQLite key store.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// Held while the store is open, when it was opened by directory.
    _lock: Option<crate::private_fs::DirLock>,
}

impl SqliteStore {
    /// Opens (or creates) [`DB_FILE`] in `data_dir`, creating the directory (mode 0700) if needed.
    ///
    /// The directory is locked while the store is open: a second server (or a gateway embedding
    /// a KMS) on the same directory is refused with [`Error::DataDirInUse`] instead of running
    /// with a cache that silently diverges from the first one's.
    pub fn open_in_dir(data_dir: &Path) -> Result<Self> {
        Self::open_for_dir(&data_dir.join(DB_FILE), data_dir)
    }

    /// Opens the database at `path` (`--database sqlite:PATH`) for a server whose data directory
    /// (root key, TLS files) is `data_dir`, locked as [`SqliteStore::open_in_dir`] locks it.
    pub fn open_for_dir(path: &Path, data_dir: &Path) -> Result<Self> {
        crate::private_fs::create_dir(data_dir)?;
        let lock = crate::private_fs::DirLock::try_acquire(data_dir)?
            .ok_or_else(|| Error::DataDirInUse(data_dir.display().to_string()))?;
        let mut store = Self::open(path)?;
        store._lock = Some(lock);
        Ok(store)
    }

    /// Opens (or creates) the database at `path`, owner-only (0600, and so are its WAL files).
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with_busy_timeout(path, BUSY_TIMEOUT)
    }

    /// [`SqliteStore::open`] with another lock wait than [`BUSY_TIMEOUT`] (tests use a short one
    /// to reach [`Error::StoreBusy`] at once).
    pub fn open_with_busy_timeout(path: &Path, busy_timeout: Duration) -> Result<Self> {
        crate::private_fs::ensure_file(path)?;
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(busy_timeout)?;
        conn.set_transaction_behavior(TransactionBehavior::Immediate);
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        add_column(&conn, "valid_to", "INTEGER NOT NULL DEFAULT 0")?;
        add_column(&conn, "tags", "TEXT NOT NULL DEFAULT '[]'")?;
        Ok(Self {
            conn: Mutex::new(conn),
            _lock: None,
        })
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| Error::Internal("key store mutex poisoned".into()))
    }

    /// Runs `f` in one transaction, committed only if it succeeds.
    fn transaction<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

/// Migrates a database made by an earlier version: adds the column `keys.<name>` with its
/// default for every key, if it is missing (`valid_to`: imported key material; `tags`).
fn add_column(conn: &Connection, name: &str, definition: &str) -> Result<()> {
    let has: bool = conn.query_row(
        "SELECT count(*) > 0 FROM pragma_table_info('keys') WHERE name = ?1",
        [name],
        |r| r.get(0),
    )?;
    if !has {
        conn.execute_batch(&format!("ALTER TABLE keys ADD COLUMN {name} {definition}"))?;
    }
    Ok(())
}

/// Refuses `meta`'s alias if another key holds it.
fn check_alias_free(tx: &Transaction<'_>, meta: &KeyMetadata) -> Result<()> {
    let holder: Option<String> = tx
        .query_row(
            "SELECT key_id FROM keys WHERE alias = ?1 AND key_id <> ?2",
            params![meta.alias, meta.key_id.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    match holder {
        Some(_) => Err(Error::AliasExists(meta.alias.clone())),
        None => Ok(()),
    }
}

fn insert_key(tx: &Transaction<'_>, m: &KeyMetadata) -> Result<()> {
    tx.prepare_cached(INSERT_KEY)?.execute(params![
        m.key_id.to_string(),
        m.alias,
        m.description,
        m.state.code(),
        m.key_usage.as_str(),
        m.owner,
        m.origin,
        m.create_time,
        m.deletion_date,
        m.rotation_enabled,
        m.rotate_days,
        m.last_rotate_time,
        m.next_rotate_time,
        m.valid_to,
        crate::keys::tags::to_json(&m.tags),
    ])?;
    Ok(())
}

/// Writes the changeable fields; false if no key has this id.
fn update_key(tx: &Transaction<'_>, m: &KeyMetadata) -> Result<bool> {
    let n = tx.prepare_cached(UPDATE_KEY)?.execute(params![
        m.key_id.to_string(),
        m.alias,
        m.description,
        m.state.code(),
        m.deletion_date,
        m.rotation_enabled,
        m.rotate_days,
        m.last_rotate_time,
        m.next_rotate_time,
        m.valid_to,
    ])?;
    Ok(n > 0)
}

/// The changeable fields of key `key_id` as stored (`None`: no such key).
fn stored_changeable(tx: &Transaction<'_>, key_id: Uuid) -> Result<Option<Changeable<'static>>> {
    Ok(tx
        .prepare_cached(
            "SELECT alias, description, state, deletion_date, rotation_enabled, rotate_days,
                last_rotate_time, next_rotate_time, valid_to FROM keys WHERE key_id = ?1",
        )?
        .query_row([key_id.to_string()], |r| {
            Ok(Changeable {
                alias: r.get::<_, String>(0)?.into(),
                description: r.get::<_, String>(1)?.into(),
                state: r.get(2)?,
                deletion_date: r.get(3)?,
                rotation_enabled: r.get(4)?,
                rotate_days: r.get(5)?,
                last_rotate_time: r.get(6)?,
                next_rotate_time: r.get(7)?,
                valid_to: r.get(8)?,
            })
        })
        .optional()?)
}

fn insert_version(tx: &Transaction<'_>, key_id: Uuid, v: &StoredVersion) -> Result<()> {
    tx.prepare_cached(INSERT_VERSION)?.execute(params![
        key_id.to_string(),
        v.version,
        v.wrapped,
        v.create_time
    ])?;
    Ok(())
}

impl KeyStore for SqliteStore {
    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn()?
            .query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?)
    }

    fn set_meta(&self, name: &str, value: &[u8]) -> Result<()> {
        self.conn()?.execute(
            "INSERT INTO meta (name, value) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            params![name, value],
        )?;
        Ok(())
    }

    fn take_meta(&self, name: &str, value: &[u8]) -> Result<bool> {
        let removed = self.conn()?.execute(
            "DELETE FROM meta WHERE name = ?1 AND value = ?2",
            params![name, value],
        )?;
        Ok(removed == 1)
    }

    fn load_all(&self) -> Result<Vec<StoredKey>> {
        let conn = self.conn()?;
        let mut keys = conn.prepare(
            "SELECT key_id, alias, description, state, key_usage, owner, origin, create_time,
                    deletion_date, rotation_enabled, rotate_days, last_rotate_time, next_rotate_time,
                    valid_to, tags
             FROM keys ORDER BY create_time, key_id",
        )?;
        let mut versions = conn.prepare(
            "SELECT version, wrapped, create_time FROM key_versions WHERE key_id = ?1 ORDER BY version",
        )?;
        let rows = keys.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                KeyMetadata {
                    key_id: Uuid::nil(),
                    alias: r.get(1)?,
                    description: r.get(2)?,
                    state: KeyState::Enabled,
                    key_usage: KeyUsage::DEFAULT,
                    owner: r.get(5)?,
                    origin: r.get(6)?,
                    create_time: r.get(7)?,
                    deletion_date: r.get(8)?,
                    rotation_enabled: r.get(9)?,
                    rotate_days: r.get(10)?,
                    last_rotate_time: r.get(11)?,
                    next_rotate_time: r.get(12)?,
                    current_key_version: 0,
                    valid_to: r.get(13)?,
                    tags: Vec::new(),
                },
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(14)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, mut meta, state, usage, tags) = row?;
            meta.tags = crate::keys::tags::from_json(&tags)
                .map_err(|e| Error::Internal(format!("bad tags {tags:?} for key {id}: {e}")))?;
            meta.key_usage = KeyUsage::parse(&usage)
                .ok_or_else(|| Error::Internal(format!("bad key usage {usage:?} for key {id}")))?;
            meta.key_id = Uuid::parse_str(&id)
                .map_err(|_| Error::Internal(format!("bad key id {id:?} in key store")))?;
            meta.state = KeyState::from_code(state)
                .ok_or_else(|| Error::Internal(format!("bad state {state} for key {id}")))?;
            let versions = versions
                .query_map([&id], |r| {
                    Ok(StoredVersion {
                        version: r.get(0)?,
                        wrapped: r.get(1)?,
                        create_time: r.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            meta.current_key_version = versions.last().map_or(0, |v| v.version);
            out.push(StoredKey { meta, versions });
        }
        Ok(out)
    }

    fn insert_key(&self, key: &StoredKey) -> Result<()> {
        self.transaction(|tx| {
            check_alias_free(tx, &key.meta)?;
            insert_key(tx, &key.meta)?;
            for v in &key.versions {
                insert_version(tx, key.meta.key_id, v)?;
            }
            Ok(())
        })
    }

    fn update_key(&self, before: &KeyMetadata, after: &KeyMetadata) -> Result<()> {
        self.transaction(|tx| {
            Changeable::check(stored_changeable(tx, before.key_id)?, before)?;
            check_alias_free(tx, after)?;
            update_key(tx, after)?;
            Ok(())
        })
    }

    fn add_version(
        &self,
        before: &KeyMetadata,
        after: &KeyMetadata,
        version: &StoredVersion,
    ) -> Result<()> {
        self.transaction(|tx| {
            Changeable::check(stored_changeable(tx, before.key_id)?, before)?;
            check_alias_free(tx, after)?;
            update_key(tx, after)?;
            insert_version(tx, after.key_id, version)
        })
    }

    fn delete_expired(&self, key_ids: &[Uuid], now: i64) -> Result<Vec<Uuid>> {
        self.transaction(|tx| {
            let mut delete = tx.prepare_cached(
                "DELETE FROM keys WHERE key_id = ?1 AND state = ?2 AND deletion_date <= ?3",
            )?;
            let mut deleted = Vec::new();
            for id in key_ids {
                if delete.execute(params![id.to_string(), KeyState::PendingDelete.code(), now])? > 0
                {
                    deleted.push(*id);
                }
            }
            Ok(deleted)
        })
    }

    fn remove_versions(&self, before: &KeyMetadata, after: &KeyMetadata) -> Result<()> {
        self.transaction(|tx| {
            Changeable::check(stored_changeable(tx, before.key_id)?, before)?;
            update_key(tx, after)?;
            tx.prepare_cached("DELETE FROM key_versions WHERE key_id = ?1")?
                .execute([after.key_id.to_string()])?;
            Ok(())
        })
    }

    fn apply_seed(&self, writes: &[KeyWrite]) -> Result<()> {
        let ids: Vec<String> = writes.iter().map(|w| w.meta.key_id.to_string()).collect();
        self.transaction(|tx| {
            // Every view is checked before any row changes: an alias swap renames rows of the
            // seed.
            for w in writes {
                if !w.is_current(stored_changeable(tx, w.meta.key_id)?.as_ref()) {
                    return Err(Error::Conflict(w.meta.key_id.to_string()));
                }
            }
            for w in writes {
                let m = &w.meta;
                // Aliases are unique; a seed that moves an alias between its keys frees it first
                // (the key that held it gets its own id as a placeholder, replaced by its own
                // write later on). A key outside the seed keeps its alias.
                let holder: Option<String> = tx
                    .prepare_cached("SELECT key_id FROM keys WHERE alias = ?1 AND key_id <> ?2")?
                    .query_row(params![m.alias, m.key_id.to_string()], |r| r.get(0))
                    .optional()?;
                if let Some(holder) = holder {
                    if !ids.contains(&holder) {
                        return Err(Error::AliasExists(m.alias.clone()));
                    }
                    tx.prepare_cached("UPDATE keys SET alias = key_id WHERE key_id = ?1")?
                        .execute([holder])?;
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
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_directory_and_database_are_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let parent = tempfile::tempdir().unwrap();
        let data = parent.path().join("kms-data");
        let store = SqliteStore::open_in_dir(&data).unwrap();
        store.set_meta("probe", b"1").unwrap();
        assert_eq!(mode(&data), 0o700);
        for file in [
            DB_FILE.to_owned(),
            format!("{DB_FILE}-wal"),
            format!("{DB_FILE}-shm"),
        ] {
            assert_eq!(mode(&data.join(&file)), 0o600, "{file}");
        }
        drop(store);
        // A database an earlier version left world-readable is tightened when opened.
        std::fs::set_permissions(data.join(DB_FILE), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        let _store = SqliteStore::open_in_dir(&data).unwrap();
        assert_eq!(mode(&data.join(DB_FILE)), 0o600);
    }

    #[test]
    fn a_second_store_on_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let first = SqliteStore::open_in_dir(dir.path()).unwrap();
        let e = SqliteStore::open_in_dir(dir.path()).unwrap_err();
        assert!(matches!(e, Error::DataDirInUse(_)), "{e}");
        assert!(
            e.to_string().contains("is in use by another process"),
            "{e}"
        );
        drop(first);
        SqliteStore::open_in_dir(dir.path()).expect("the lock is released with the store");
    }

    /// The store's behaviour suite, on fresh databases in temp dirs.
    #[test]
    fn behaviour_suite() {
        let dirs = RefCell::new(Vec::new());
        super::super::suite::run_all(|| {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::open_in_dir(dir.path()).unwrap();
            dirs.borrow_mut().push(dir);
            store
        });
    }

    /// Another connection holds the write lock (`BEGIN EXCLUSIVE`, as an operator's `sqlite3`
    /// shell or a backup would). Past the bound (zero here) a write fails with `StoreBusy` and
    /// writes nothing; within the bound a write that reads first (the alias check) waits for the
    /// lock and lands once it is released; the database stays intact.
    #[test]
    fn a_locked_database_is_waited_for_within_the_bound_and_busy_past_it() {
        use super::super::suite::sample_key;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let patient = SqliteStore::open_with_busy_timeout(&path, Duration::from_secs(600)).unwrap();
        let impatient = SqliteStore::open_with_busy_timeout(&path, Duration::ZERO).unwrap();
        let first = sample_key(1, "first");
        patient.insert_key(&first).unwrap();

        let holder = Connection::open(&path).unwrap();
        holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let second = sample_key(2, "second");
        let e = impatient.insert_key(&second).unwrap_err();
        assert!(matches!(e, Error::StoreBusy), "{e}");
        assert_eq!(
            e.tencent_code(),
            "UnsupportedOperation.ServiceTemporaryUnavailable"
        );
        let e = impatient.set_meta("m", b"v").unwrap_err();
        assert!(matches!(e, Error::StoreBusy), "{e}");
        let count = |table: &str| -> i64 {
            holder
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap()
        };
        // No half key: neither its row nor its versions.
        assert_eq!((count("keys"), count("key_versions")), (1, 1));

        let (started, wait) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            let writer = s.spawn(|| {
                started.send(()).unwrap();
                patient.insert_key(&second)
            });
            wait.recv().unwrap();
            // Gives the writer time to reach the lock; the test holds whether or not it has.
            std::thread::sleep(Duration::from_millis(200));
            holder.execute_batch("COMMIT").unwrap();
            writer.join().unwrap().expect("waited for the lock");
        });
        assert_eq!(patient.load_all().unwrap(), vec![first, second]);
        let ok: String = holder
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
    }

    /// What was written is there after the database is closed and opened again.
    #[test]
    fn writes_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let key = super::super::suite::sample_key(1, "durable");
        {
            let store = SqliteStore::open(&path).unwrap();
            store.insert_key(&key).unwrap();
            store.set_meta("m", b"v").unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.load_all().unwrap(), vec![key]);
        assert_eq!(store.meta("m").unwrap().as_deref(), Some(&b"v"[..]));
    }
}
