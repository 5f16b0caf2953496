//! SQLite persistence: key metadata and wrapped key versions. The bottom layer: it knows rows, not
//! rules. WAL mode with `synchronous=FULL`, so a key whose write returned survives `kill -9` and a
//! power cut. Callers run it from blocking threads; the hot path never reaches it (the KMS serves
//! from its in-memory cache).

use std::{
    path::Path,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use crate::{
    error::{Error, Result},
    keys::{KeyMetadata, KeyState},
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
    next_rotate_time INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS key_versions (
    key_id      TEXT NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    wrapped     BLOB NOT NULL,
    create_time INTEGER NOT NULL,
    PRIMARY KEY (key_id, version)
);
";

/// One wrapped key version as stored.
#[derive(Debug, Clone)]
pub struct StoredVersion {
    /// 1-based version number.
    pub version: u32,
    /// Material sealed under the root key.
    pub wrapped: Vec<u8>,
    /// When the version was added.
    pub create_time: i64,
}

/// A key row and the versions to write with it.
#[derive(Debug, Clone)]
pub struct KeyWrite {
    /// The row (inserted or replaced).
    pub meta: KeyMetadata,
    /// Versions to add; existing versions are never rewritten.
    pub new_versions: Vec<StoredVersion>,
}

/// The SQLite key store.
#[derive(Debug)]
pub struct KeyStore {
    conn: Mutex<Connection>,
    /// Every use of the connection, counted (see [`KeyStore::access_count`]).
    accesses: AtomicU64,
}

impl KeyStore {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
            accesses: AtomicU64::new(0),
        })
    }

    /// How many times the database has been used since it was opened: every read and write goes
    /// through one place that counts. Tests use it to prove the hot path never reaches SQLite.
    pub fn access_count(&self) -> u64 {
        self.accesses.load(Ordering::Relaxed)
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>> {
        self.accesses.fetch_add(1, Ordering::Relaxed);
        self.conn
            .lock()
            .map_err(|_| Error::Internal("key store mutex poisoned".into()))
    }

    /// A meta value.
    pub fn meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn()?
            .query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Sets a meta value.
    pub fn set_meta(&self, name: &str, value: &[u8]) -> Result<()> {
        self.conn()?.execute(
            "INSERT INTO meta (name, value) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            params![name, value],
        )?;
        Ok(())
    }

    /// Every key with its versions (ascending).
    pub fn load_all(&self) -> Result<Vec<(KeyMetadata, Vec<StoredVersion>)>> {
        let conn = self.conn()?;
        let mut keys = conn.prepare(
            "SELECT key_id, alias, description, state, key_usage, owner, origin, create_time,
                    deletion_date, rotation_enabled, rotate_days, last_rotate_time, next_rotate_time
             FROM keys ORDER BY create_time, key_id",
        )?;
        let mut versions = conn.prepare(
            "SELECT version, wrapped, create_time FROM key_versions WHERE key_id = ?1 ORDER BY version",
        )?;
        let rows = keys.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, i64>(8)?,
                r.get::<_, bool>(9)?,
                r.get::<_, u32>(10)?,
                r.get::<_, i64>(11)?,
                r.get::<_, i64>(12)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (
                id,
                alias,
                description,
                state,
                key_usage,
                owner,
                origin,
                create_time,
                deletion_date,
                rotation_enabled,
                rotate_days,
                last_rotate_time,
                next_rotate_time,
            ) = row?;
            let key_id = Uuid::parse_str(&id)
                .map_err(|_| Error::Internal(format!("bad key id {id:?} in key store")))?;
            let state = KeyState::from_code(state)
                .ok_or_else(|| Error::Internal(format!("bad state {state} for key {id}")))?;
            let vs = versions
                .query_map([&id], |r| {
                    Ok(StoredVersion {
                        version: r.get(0)?,
                        wrapped: r.get(1)?,
                        create_time: r.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let current_key_version = vs.last().map_or(0, |v| v.version);
            out.push((
                KeyMetadata {
                    key_id,
                    alias,
                    description,
                    state,
                    key_usage,
                    owner,
                    origin,
                    create_time,
                    deletion_date,
                    rotation_enabled,
                    rotate_days,
                    last_rotate_time,
                    next_rotate_time,
                    current_key_version,
                },
                vs,
            ));
        }
        Ok(out)
    }

    /// Writes key rows and new versions in one transaction: all or nothing.
    pub fn write(&self, writes: &[KeyWrite]) -> Result<()> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        {
            let mut upsert = tx.prepare(
                "INSERT INTO keys (key_id, alias, description, state, key_usage, owner, origin,
                    create_time, deletion_date, rotation_enabled, rotate_days, last_rotate_time,
                    next_rotate_time)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                 ON CONFLICT(key_id) DO UPDATE SET alias = excluded.alias,
                    description = excluded.description, state = excluded.state,
                    deletion_date = excluded.deletion_date,
                    rotation_enabled = excluded.rotation_enabled, rotate_days = excluded.rotate_days,
                    last_rotate_time = excluded.last_rotate_time,
                    next_rotate_time = excluded.next_rotate_time",
            )?;
            let mut insert_version = tx.prepare(
                "INSERT INTO key_versions (key_id, version, wrapped, create_time)
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            // Aliases are unique; a write that moves an alias between keys must free it first.
            let mut free_alias =
                tx.prepare("UPDATE keys SET alias = key_id WHERE alias = ?1 AND key_id <> ?2")?;
            for w in writes {
                let m = &w.meta;
                let id = m.key_id.to_string();
                free_alias.execute(params![m.alias, id])?;
                upsert.execute(params![
                    id,
                    m.alias,
                    m.description,
                    m.state.code(),
                    m.key_usage,
                    m.owner,
                    m.origin,
                    m.create_time,
                    m.deletion_date,
                    m.rotation_enabled,
                    m.rotate_days,
                    m.last_rotate_time,
                    m.next_rotate_time,
                ])?;
                for v in &w.new_versions {
                    insert_version.execute(params![id, v.version, v.wrapped, v.create_time])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Deletes keys and all their versions, in one transaction.
    pub fn delete(&self, key_ids: &[Uuid]) -> Result<()> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        for id in key_ids {
            tx.execute("DELETE FROM keys WHERE key_id = ?1", [id.to_string()])?;
        }
        tx.commit()?;
        Ok(())
    }
}
