//! The metadata in SQLite: one database file, `gateway.sqlite3`, in WAL mode with `synchronous =
//! FULL`, so a committed row survives a power cut (its body was made durable before, see
//! [`super::files`]).
//!
//! Split by table group, one file each ([`buckets`], [`objects`], [`uploads`]: uploads and their
//! parts), with the schema and the column conversions here. Every function runs on a connection
//! the caller has locked, on the blocking pool; one that checks and then writes does both in one
//! transaction, so a concurrent request can only land before or after it.
//!
//! # Schema
//!
//! * `buckets(name, created, sse_algorithm, kms_key_id)`: `sse_algorithm` is `AES256`, `KMS` or NULL.
//! * `objects(bucket, key, size, etag, modified, meta, envelope, files)`: `envelope` is the adapter's
//!   base64 envelope (NULL for an unencrypted object); `files` is a JSON list of body files whose
//!   concatenation is the stored body (one per part for a multipart object).
//! * `uploads(upload_id, bucket, key, initiated, meta, envelope)` and
//!   `parts(upload_id, number, etag, size, stored_size, salt, file, modified)`.

pub(super) mod buckets;
pub(super) mod objects;
pub(super) mod uploads;

use std::collections::HashSet;
use std::path::Path;

use rusqlite::Connection;

use crate::error::Result;

/// The database file under the data directory.
pub(super) const DB_FILE: &str = "gateway.sqlite3";

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY,
    created INTEGER NOT NULL,
    sse_algorithm TEXT,
    kms_key_id TEXT
);
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified INTEGER NOT NULL,
    meta TEXT NOT NULL,
    envelope TEXT,
    files TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
);
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    initiated INTEGER NOT NULL,
    meta TEXT NOT NULL,
    envelope TEXT
);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    etag TEXT NOT NULL,
    size INTEGER NOT NULL,
    stored_size INTEGER NOT NULL,
    salt BLOB,
    file TEXT NOT NULL,
    modified INTEGER NOT NULL,
    PRIMARY KEY (upload_id, number)
);
";

/// Opens (or creates) the database at `path` with its schema.
pub(super) fn open(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

/// Every body file a row names: an object's files and every part's file.
pub(super) fn referenced_files(db: &Connection) -> Result<HashSet<String>> {
    let mut referenced = HashSet::new();
    let mut st = db.prepare("SELECT files FROM objects")?;
    for files in st.query_map([], |r| r.get::<_, String>(0))? {
        let files: Vec<String> = json_from_db(files?)?;
        referenced.extend(files);
    }
    let mut st = db.prepare("SELECT file FROM parts")?;
    for f in st.query_map([], |r| r.get::<_, String>(0))? {
        referenced.insert(f?);
    }
    Ok(referenced)
}

fn env_to_db(e: &Option<storage_adapter::Envelope>) -> Option<String> {
    e.as_ref().map(storage_adapter::Envelope::to_base64)
}

fn env_from_db(s: Option<String>) -> rusqlite::Result<Option<storage_adapter::Envelope>> {
    s.map(|s| {
        storage_adapter::Envelope::from_base64(&s).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
    })
    .transpose()
}

fn json_from_db<T: serde::de::DeserializeOwned>(s: String) -> rusqlite::Result<T> {
    serde_json::from_str(&s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).expect("lists of strings always serialise")
}
