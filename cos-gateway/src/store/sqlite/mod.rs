//! The gateway's [`Catalog`]: the metadata in SQLite, one database file, `gateway.sqlite3`, in WAL
//! mode with `synchronous = FULL`, so a committed row survives a power cut (its body was made
//! durable before, see [`super::files`]).
//!
//! # Another process on the database
//!
//! The gateway is the database's only writer, but a backup tool or an operator's `sqlite3` shell
//! may hold a lock on it. A statement that meets a lock waits for it up to [`BUSY_TIMEOUT`], then
//! fails with `SQLITE_BUSY`, which the request answers as 503 `SlowDown` having changed nothing
//! (the transaction rolls back whole). Write transactions begin `IMMEDIATE`: they take the write
//! lock before their first read, because SQLite never waits (never calls its busy handler) for a
//! transaction that has already read and then wants to write; such a transaction would fail at
//! once instead of waiting out the bound.
//!
//! Split by table group, one file each ([`buckets`], [`objects`], [`uploads`]: uploads and their
//! parts), with the schema, the column conversions and [`SqliteCatalog`] (which locks the
//! connection and dispatches) here. Every function runs on the locked connection, on the blocking
//! pool; one that checks and then writes does both in one transaction, so a concurrent request can
//! only land before or after it.
//!
//! # Schema
//!
//! * `buckets(name, created, sse_algorithm, kms_key_id, bucket_key, acl)`: `sse_algorithm` is
//!   `AES256`, `KMS` or NULL; `acl` (here and in `objects` and `uploads`, added by [`migrate`]) is
//!   the JSON of a [`crate::acl::Acl`], NULL for none (a `private` bucket, a `default` object).
//! * `objects(bucket, key, size, etag, modified, meta, envelope, files, tags)`: `envelope` is the
//!   adapter's base64 envelope (NULL for an unencrypted object); `files` is a JSON list of body
//!   files whose concatenation is the stored body (one per part for a multipart object); `tags` a
//!   JSON list of (key, value) pairs (added by [`migrate`]; `[]` in rows written before).
//! * `uploads(upload_id, bucket, key, initiated, meta, envelope, tags)` (`tags` as in `objects`) and
//!   `parts(upload_id, number, etag, size, stored_size, salt, file, modified)`.

mod buckets;
mod objects;
mod uploads;
mod versions;

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};
use storage_adapter::BucketEncryption;

use super::versions::{Deleted, Entry, Version, Versioning};
use super::{Bucket, Catalog, Object, ObjectUpdate, Part, Pins, ReadPin, Upload};
use crate::acl::Acl;
use crate::error::Result;

/// The database file under the data directory.
pub(super) const DB_FILE: &str = "gateway.sqlite3";

/// How long a statement waits for a lock another connection holds before the request fails with
/// 503 `SlowDown` (see the module docs). Well under the SDKs' request timeouts, long enough for a
/// backup's short read transactions.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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
CREATE TABLE IF NOT EXISTS versions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    version_id TEXT NOT NULL,
    marker INTEGER NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified INTEGER NOT NULL,
    meta TEXT NOT NULL,
    envelope TEXT,
    files TEXT NOT NULL,
    tags TEXT NOT NULL,
    storage_class TEXT NOT NULL,
    restore_ready INTEGER,
    restore_expiry INTEGER,
    acl TEXT
);
CREATE INDEX IF NOT EXISTS versions_by_key ON versions (bucket, key, seq);
";

/// Columns added since the first schema (table, column, declaration with the value old rows
/// take). [`migrate`] adds each one a database lacks, so a database an older gateway wrote opens
/// and reads as before.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("objects", "tags", "TEXT NOT NULL DEFAULT '[]'"),
    ("uploads", "tags", "TEXT NOT NULL DEFAULT '[]'"),
    (
        "objects",
        "storage_class",
        "TEXT NOT NULL DEFAULT 'STANDARD'",
    ),
    (
        "uploads",
        "storage_class",
        "TEXT NOT NULL DEFAULT 'STANDARD'",
    ),
    ("objects", "restore_ready", "INTEGER"),
    ("objects", "restore_expiry", "INTEGER"),
    ("buckets", "bucket_key", "INTEGER NOT NULL DEFAULT 0"),
    ("buckets", "acl", "TEXT"),
    ("objects", "acl", "TEXT"),
    ("uploads", "acl", "TEXT"),
    ("buckets", "versioning", "TEXT"),
    ("objects", "version_id", "TEXT"),
];

/// Adds the [`ADDED_COLUMNS`] a database lacks.
fn migrate(conn: &Connection) -> Result<()> {
    for (table, column, declaration) in ADDED_COLUMNS {
        let present: i64 = conn.query_row(
            "SELECT COUNT(*) FROM pragma_table_info(?1) WHERE name = ?2",
            rusqlite::params![table, column],
            |r| r.get(0),
        )?;
        if present == 0 {
            conn.execute_batch(&format!(
                "ALTER TABLE {table} ADD COLUMN {column} {declaration}"
            ))?;
        }
    }
    Ok(())
}

/// The metadata in one SQLite database (see the module docs).
#[derive(Debug)]
pub struct SqliteCatalog {
    db: Mutex<Connection>,
}

impl SqliteCatalog {
    /// Opens (or creates) the database at `path` with its schema.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with_busy_timeout(path, BUSY_TIMEOUT)
    }

    /// [`SqliteCatalog::open`] with another lock wait than [`BUSY_TIMEOUT`] (tests use a short one
    /// to reach the busy error at once).
    pub fn open_with_busy_timeout(path: &Path, busy_timeout: Duration) -> Result<Self> {
        super::private_fs::ensure_file(path)?;
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(busy_timeout)?;
        conn.set_transaction_behavior(TransactionBehavior::Immediate);
        conn.execute_batch(SCHEMA)?;
        migrate(&conn)?;
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
        let mut st = db.prepare("SELECT files FROM versions")?;
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

    fn set_bucket_acl(&self, name: &str, acl: Option<&Acl>) -> Result<()> {
        buckets::set_acl(&self.lock(), name, acl)
    }

    fn set_bucket_versioning(&self, name: &str, state: Versioning) -> Result<()> {
        versions::set_state(&self.lock(), name, state)
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

    fn put_object(
        &self,
        bucket: &str,
        key: &str,
        obj: &Object,
    ) -> Result<(Vec<String>, Option<String>)> {
        objects::put(&mut self.lock(), bucket, key, obj)
    }

    fn update_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        update: &ObjectUpdate,
    ) -> Result<bool> {
        versions::update(&self.lock(), bucket, key, version_id, update)
    }

    fn delete_object(&self, bucket: &str, key: &str) -> Result<(Vec<String>, Deleted)> {
        objects::delete(&mut self.lock(), bucket, key, crate::wire::now_secs())
    }

    fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<(Vec<String>, Deleted)> {
        versions::delete(&mut self.lock(), bucket, key, version_id)
    }

    fn version_pinned(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        pins: &Pins,
    ) -> Result<Option<(Entry, ReadPin)>> {
        versions::get_pinned(&self.lock(), bucket, key, version_id, pins)
    }

    fn latest_marker(&self, bucket: &str, key: &str) -> Result<Option<String>> {
        versions::latest_marker(&self.lock(), bucket, key)
    }

    fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        key_marker: &str,
        version_marker: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Version>> {
        versions::list(
            &self.lock(),
            bucket,
            prefix,
            key_marker,
            version_marker,
            limit,
        )
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
    ) -> Result<(Vec<String>, Option<String>)> {
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

/// A storage class column (its COS name; an unknown name is a conversion error).
fn class_from_db(s: String) -> rusqlite::Result<crate::storage_class::StorageClass> {
    crate::storage_class::StorageClass::parse(&s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// An `acl` column: the grants as JSON, NULL for none (`private` bucket, `default` object).
fn acl_to_db(acl: Option<&Acl>) -> Option<String> {
    acl.map(json)
}

fn acl_from_db(s: Option<String>) -> rusqlite::Result<Option<Acl>> {
    s.map(json_from_db).transpose()
}

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).expect("the stored values (lists of strings, ACLs) always serialise")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::restore::Restore;

    fn obj(file: &str) -> Object {
        Object {
            size: 1,
            etag: "e".into(),
            modified: 1,
            meta: Vec::new(),
            envelope: None,
            files: vec![file.into()],
            tags: Vec::new(),
            storage_class: Default::default(),
            restore: None,
            acl: None,
            version_id: None,
        }
    }

    /// Another connection holds the write lock (`BEGIN EXCLUSIVE`, as an operator's `sqlite3`
    /// shell would). Past the bound (zero here) a write is `SlowDown` and writes nothing; within
    /// the bound a write that reads first (PUT checks its bucket) waits for the lock and lands once
    /// it is released; the database stays intact.
    #[test]
    fn a_database_without_the_tags_column_opens_and_reads_as_before() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        {
            // The objects table as gateways before object tagging wrote it.
            let old = Connection::open(&path).unwrap();
            old.execute_batch(
                "CREATE TABLE objects (bucket TEXT NOT NULL, key TEXT NOT NULL, \
                 size INTEGER NOT NULL, etag TEXT NOT NULL, modified INTEGER NOT NULL, \
                 meta TEXT NOT NULL, envelope TEXT, files TEXT NOT NULL, \
                 PRIMARY KEY (bucket, key));
                 INSERT INTO objects VALUES ('b-1', 'k', 1, 'e', 1, '[]', NULL, '[\"f1\"]');",
            )
            .unwrap();
        }
        let c = SqliteCatalog::open(&path).unwrap();
        let got = c.object("b-1", "k").unwrap().unwrap();
        assert_eq!((got.files, got.tags), (vec!["f1".to_owned()], Vec::new()));
        assert_eq!(
            got.storage_class,
            crate::storage_class::StorageClass::Standard
        );
        assert_eq!((got.restore, got.acl), (None, None));
        let acl = crate::acl::Acl {
            grants: vec![crate::acl::Grant {
                grantee: crate::acl::Grantee::Group(crate::acl::ALL_USERS.into()),
                permission: crate::acl::Permission::Read,
            }],
        };
        assert!(
            c.update_object("b-1", "k", None, &ObjectUpdate::Acl(Some(acl.clone())))
                .unwrap()
        );
        assert!(
            !c.update_object("b-1", "other", None, &ObjectUpdate::Acl(Some(acl.clone())))
                .unwrap()
        );
        let tags = vec![("a".to_owned(), "1".to_owned())];
        assert!(
            c.update_object("b-1", "k", None, &ObjectUpdate::Tags(tags.clone()))
                .unwrap()
        );
        assert!(
            !c.update_object("b-1", "other", None, &ObjectUpdate::Tags(tags.clone()))
                .unwrap()
        );
        let restore = Restore {
            ready_at: 10,
            expires_at: 20,
        };
        assert!(
            c.update_object("b-1", "k", None, &ObjectUpdate::Restore(restore))
                .unwrap()
        );
        let cols: i64 = c
            .lock()
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('uploads') WHERE name = 'tags'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(cols, 1);
        drop(c);
        // Opening again migrates nothing more and keeps the tags and the restore.
        let c = SqliteCatalog::open(&path).unwrap();
        let got = c.object("b-1", "k").unwrap().unwrap();
        assert_eq!((got.tags, got.restore), (tags, Some(restore)));
        assert_eq!(got.acl, Some(acl));
    }

    #[test]
    fn a_locked_database_is_waited_for_within_the_bound_and_slow_down_past_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let patient =
            SqliteCatalog::open_with_busy_timeout(&path, Duration::from_secs(600)).unwrap();
        let impatient = SqliteCatalog::open_with_busy_timeout(&path, Duration::ZERO).unwrap();
        assert!(patient.create_bucket("b-1", 1).unwrap());
        patient.put_object("b-1", "first", &obj("f1")).unwrap();

        let holder = Connection::open(&path).unwrap();
        holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let e = impatient
            .put_object("b-1", "second", &obj("f2"))
            .unwrap_err();
        assert!(matches!(e, Error::SlowDown), "{e}");
        let e = impatient.delete_object("b-1", "first").unwrap_err();
        assert!(matches!(e, Error::SlowDown), "{e}");
        let e = impatient.create_bucket("b-2", 1).unwrap_err();
        assert!(matches!(e, Error::SlowDown), "{e}");
        let rows: i64 = holder
            .query_row("SELECT count(*) FROM objects", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1);

        let (started, wait) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            let writer = s.spawn(|| {
                started.send(()).unwrap();
                patient.put_object("b-1", "second", &obj("f2"))
            });
            wait.recv().unwrap();
            // Gives the writer time to reach the lock; the test holds whether or not it has.
            std::thread::sleep(Duration::from_millis(200));
            holder.execute_batch("COMMIT").unwrap();
            writer.join().unwrap().expect("waited for the lock");
        });
        for (key, file) in [("first", "f1"), ("second", "f2")] {
            let o = patient.object("b-1", key).unwrap().expect(key);
            assert_eq!(o.files, [file]);
        }
        assert!(patient.bucket("b-2").unwrap().is_none());
        let ok: String = holder
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
    }
}
