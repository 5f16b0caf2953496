//! The gateway's [`Catalog`]: the metadata in SQLite, one database file, `gateway.sqlite3`, in WAL
//! mode with `synchronous = FULL`, so a committed row survives a power cut (its body was made
//! durable before, see [`super::files`]).
//!
//! Split by table group, one file each ([`buckets`], [`objects`], [`uploads`]: uploads and their
//! parts), with the schema, the column conversions and [`SqliteCatalog`] (which locks the
//! connection and dispatches) here. Every function runs on the locked connection, on the blocking
//! pool; one that checks and then writes does both in one transaction, so a concurrent request can
//! only land before or after it.
//!
//! # Schema
//!
//! * `buckets(name, created, sse_algorithm, kms_key_id)`: `sse_algorithm` is `AES256`, `KMS` or NULL.
//! * `objects(bucket, key, size, etag, modified, meta, envelope, files)`: `envelope` is the adapter's
//!   base64 envelope (NULL for an unencrypted object); `files` is a JSON list of body files whose
//!   concatenation is the stored body (one per part for a multipart object).
//! * `uploads(upload_id, bucket, key, initiated, meta, envelope)` and
//!   `parts(upload_id, number, etag, size, stored_size, salt, file, modified)`.

mod buckets;
mod objects;
mod uploads;

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::Connection;
use storage_adapter::BucketEncryption;

use super::{Bucket, Catalog, Object, Part, Pins, ReadPin, Upload};
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

/// The metadata in one SQLite database (see the module docs).
#[derive(Debug)]
pub struct SqliteCatalog {
    db: Mutex<Connection>,
}

impl SqliteCatalog {
    /// Opens (or creates) the database at `path` with its schema.
    pub fn open(path: &Path) -> Result<Self> {
        super::private_fs::ensure_file(path)?;
        let conn = Connection::open(path)?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            db: Mutex::new(conn),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll back).
        self.db.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Catalog for SqliteCatalog {
    fn referenced_files(&self) -> Result<HashSet<String>> {
        let db = self.lock();
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

    fn bucket(&self, name: &str) -> Result<Option<Bucket>> {
        buckets::get(&self.lock(), name)
    }

    fn buckets(&self) -> Result<Vec<Bucket>> {
        buckets::list(&self.lock())
    }

    fn create_bucket(&self, name: &str, now: i64) -> Result<bool> {
        buckets::create(&self.lock(), name, now)
    }

    fn delete_bucket(&self, name: &str) -> Result<()> {
        buckets::delete(&mut self.lock(), name)
    }

    fn set_bucket_encryption(&self, name: &str, enc: Option<&BucketEncryption>) -> Result<()> {
        buckets::set_encryption(&self.lock(), name, enc)
    }

    fn object(&self, bucket: &str, key: &str) -> Result<Option<Object>> {
        objects::get(&self.lock(), bucket, key)
    }

    fn object_pinned(
        &self,
        bucket: &str,
        key: &str,
        pins: &Pins,
    ) -> Result<Option<(Object, ReadPin)>> {
        let db = self.lock();
        Ok(objects::get(&db, bucket, key)?.map(|obj| {
            let pin = pins.pin(obj.files.clone());
            (obj, pin)
        }))
    }

    fn put_object(&self, bucket: &str, key: &str, obj: &Object) -> Result<Vec<String>> {
        objects::put(&mut self.lock(), bucket, key, obj)
    }

    fn delete_object(&self, bucket: &str, key: &str) -> Result<Vec<String>> {
        objects::delete(&mut self.lock(), bucket, key)
    }

    fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        marker: &str,
        limit: usize,
    ) -> Result<Vec<(String, Object)>> {
        objects::list(&self.lock(), bucket, prefix, marker, limit)
    }

    fn create_upload(&self, upload: &Upload) -> Result<()> {
        uploads::create(&self.lock(), upload)
    }

    fn upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<Upload> {
        uploads::get(&self.lock(), bucket, key, upload_id)
    }

    fn list_uploads(&self, bucket: &str, prefix: &str) -> Result<Vec<Upload>> {
        uploads::list(&self.lock(), bucket, prefix)
    }

    fn put_part(&self, upload_id: &str, part: &Part) -> Result<Option<String>> {
        uploads::put_part(&mut self.lock(), upload_id, part)
    }

    fn parts(&self, upload_id: &str) -> Result<Vec<Part>> {
        uploads::parts(&self.lock(), upload_id)
    }

    fn complete_upload(
        &self,
        upload: &Upload,
        chosen: &[Part],
        obj: &Object,
    ) -> Result<Vec<String>> {
        uploads::complete(&mut self.lock(), upload, chosen, obj)
    }

    fn abort_upload(&self, upload_id: &str) -> Result<Vec<String>> {
        uploads::abort(&mut self.lock(), upload_id)
    }
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
