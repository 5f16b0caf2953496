//! Storage: bodies as files, metadata in SQLite.
//!
//! # Durability
//!
//! A body is written to `tmp/<uuid>`, fsynced, renamed to `objects/<uuid>` and the directory is
//! fsynced ([`BodyWriter::commit`]); only then is the metadata row that names it committed. A new
//! version always gets a new file name, and the file of the version it replaces is removed after the
//! metadata commit. So a crash leaves, at worst, an unreferenced file (removed at the next start by
//! [`Store::open`]), never a row that points at a missing or partial body.
//!
//! A body being read is pinned ([`Store::object_to_read`], [`ReadPin`]): an overwrite or a delete
//! that lands during the read removes the replaced files only when the last reader lets go, so a GET
//! always streams the whole body it started with, even when its parts' files are opened late.
//!
//! A write that loses a race (its bucket deleted, or its upload aborted or completed, while the
//! body was being written) is refused before its row is written; its new body file is then removed
//! at once ([`Store::put_object`], [`Store::put_part`]) rather than left until the next start.
//!
//! # Schema
//!
//! * `buckets(name, created, sse_algorithm, kms_key_id)`: `sse_algorithm` is `AES256`, `KMS` or NULL.
//! * `objects(bucket, key, size, etag, modified, meta, envelope, files)`: `envelope` is the adapter's
//!   base64 envelope (NULL for an unencrypted object); `files` is a JSON list of body files whose
//!   concatenation is the stored body (one per part for a multipart object).
//! * `uploads(upload_id, bucket, key, initiated, meta, envelope)` and
//!   `parts(upload_id, number, etag, size, stored_size, salt, file, modified)`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension as _, params};
use tokio::io::AsyncWriteExt as _;

use crate::error::{Error, Result};

/// Stored headers of an object (`Content-Type`, `x-cos-meta-*`, ...), as (name, value) pairs.
pub type Meta = Vec<(String, String)>;

/// A bucket row.
#[derive(Clone, Debug)]
pub struct Bucket {
    /// The name (`<name>-<appid>`).
    pub name: String,
    /// Creation time (unix seconds).
    pub created: i64,
    /// Default encryption.
    pub encryption: Option<storage_adapter::BucketEncryption>,
}

/// An object row.
#[derive(Clone, Debug)]
pub struct Object {
    /// The plaintext size.
    pub size: u64,
    /// The ETag without quotes.
    pub etag: String,
    /// Last modified (unix seconds).
    pub modified: i64,
    /// Stored headers.
    pub meta: Meta,
    /// The envelope (encrypted objects).
    pub envelope: Option<storage_adapter::Envelope>,
    /// Body files (names under `objects/`), concatenated in order.
    pub files: Vec<String>,
}

/// An upload row.
#[derive(Clone, Debug)]
pub struct Upload {
    /// The upload id.
    pub upload_id: String,
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Initiated (unix seconds).
    pub initiated: i64,
    /// Headers to give the completed object.
    pub meta: Meta,
    /// The upload's envelope (encrypted uploads).
    pub envelope: Option<storage_adapter::Envelope>,
}

/// A part row.
#[derive(Clone, Debug)]
pub struct Part {
    /// Part number.
    pub number: u32,
    /// ETag without quotes.
    pub etag: String,
    /// Plaintext size.
    pub size: u64,
    /// Stored size.
    pub stored_size: u64,
    /// The attempt's part salt (encrypted uploads).
    pub salt: Option<[u8; 32]>,
    /// Body file.
    pub file: String,
    /// Last modified.
    pub modified: i64,
}

/// The metadata database and the body directory.
#[derive(Clone, Debug)]
pub struct Store {
    db: Arc<Mutex<Connection>>,
    objects: PathBuf,
    tmp: PathBuf,
    readers: Arc<Mutex<Readers>>,
}

/// Body files being read, and those whose removal waits for their last reader.
#[derive(Debug, Default)]
struct Readers {
    open: HashMap<String, usize>,
    doomed: HashSet<String>,
}

fn lock_readers(r: &Mutex<Readers>) -> std::sync::MutexGuard<'_, Readers> {
    // Every update is a few map operations that leave the maps consistent, even after a panic.
    r.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Keeps an object's body files on disk while it is read (see the module docs). Dropping it removes
/// the files that were replaced or deleted meanwhile.
#[derive(Debug)]
pub struct ReadPin {
    readers: Arc<Mutex<Readers>>,
    objects: PathBuf,
    files: Vec<String>,
}

impl ReadPin {
    fn new(readers: Arc<Mutex<Readers>>, objects: PathBuf, files: Vec<String>) -> Self {
        {
            let mut r = lock_readers(&readers);
            for f in &files {
                *r.open.entry(f.clone()).or_default() += 1;
            }
        }
        Self {
            readers,
            objects,
            files,
        }
    }
}

impl Drop for ReadPin {
    fn drop(&mut self) {
        let mut r = lock_readers(&self.readers);
        for f in &self.files {
            let Some(n) = r.open.get_mut(f) else {
                continue;
            };
            *n -= 1;
            if *n == 0 {
                r.open.remove(f);
                if r.doomed.remove(f)
                    && let Err(e) = std::fs::remove_file(self.objects.join(f))
                {
                    tracing::warn!(file = %f, error = %e, "cannot remove a body file");
                }
            }
        }
    }
}

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

/// Writes `obj` as the object `bucket/key` inside `tx`; returns the body files of the object it
/// replaced (to remove once the transaction has committed).
fn replace_object_row(
    tx: &rusqlite::Transaction<'_>,
    bucket: &str,
    key: &str,
    obj: &Object,
) -> rusqlite::Result<Option<Vec<String>>> {
    let old: Option<String> = tx
        .query_row(
            "SELECT files FROM objects WHERE bucket = ?1 AND key = ?2",
            params![bucket, key],
            |r| r.get(0),
        )
        .optional()?;
    tx.execute(
        "INSERT OR REPLACE INTO objects \
         (bucket, key, size, etag, modified, meta, envelope, files) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            bucket,
            key,
            obj.size as i64,
            obj.etag,
            obj.modified,
            json(&obj.meta),
            env_to_db(&obj.envelope),
            json(&obj.files)
        ],
    )?;
    old.map(json_from_db::<Vec<String>>).transpose()
}

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).expect("lists of strings always serialise")
}

fn encryption_to_db(e: &Option<storage_adapter::BucketEncryption>) -> (Option<&str>, Option<&str>) {
    use storage_adapter::BucketEncryption as B;
    match e {
        None => (None, None),
        Some(B::Aes256) => (Some("AES256"), None),
        Some(B::Kms { key_id }) => (Some("KMS"), key_id.as_deref()),
    }
}

/// The object row of `bucket`/`key`.
fn query_object(db: &Connection, bucket: &str, key: &str) -> Result<Option<Object>> {
    Ok(db
        .query_row(
            "SELECT size, etag, modified, meta, envelope, files FROM objects \
             WHERE bucket = ?1 AND key = ?2",
            params![bucket, key],
            |r| {
                Ok(Object {
                    size: r.get::<_, i64>(0)? as u64,
                    etag: r.get(1)?,
                    modified: r.get(2)?,
                    meta: json_from_db(r.get(3)?)?,
                    envelope: env_from_db(r.get(4)?)?,
                    files: json_from_db(r.get(5)?)?,
                })
            },
        )
        .optional()?)
}

/// `NoSuchUpload` unless upload `id` still exists (checked inside the caller's transaction).
fn require_upload(db: &Connection, id: &str) -> Result<()> {
    let live: Option<i64> = db
        .query_row(
            "SELECT 1 FROM uploads WHERE upload_id = ?1",
            params![id],
            |r| r.get(0),
        )
        .optional()?;
    live.map(|_| ()).ok_or(Error::NoSuchUpload)
}

impl Store {
    /// Opens (or creates) the store under `dir`: `gateway.sqlite3`, `objects/`, `tmp/`.
    ///
    /// Leftover temp files and body files that no row names (a crash between the body's rename and
    /// the metadata commit, or before an old body was removed) are deleted.
    pub fn open(dir: &Path) -> Result<Self> {
        let objects = dir.join("objects");
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&objects)?;
        std::fs::create_dir_all(&tmp)?;
        for entry in std::fs::read_dir(&tmp)? {
            let _ = std::fs::remove_file(entry?.path());
        }
        let conn = Connection::open(dir.join("gateway.sqlite3"))?;
        conn.execute_batch(SCHEMA)?;
        let store = Self {
            db: Arc::new(Mutex::new(conn)),
            objects,
            tmp,
            readers: Arc::default(),
        };
        store.remove_orphans()?;
        Ok(store)
    }

    fn remove_orphans(&self) -> Result<()> {
        let mut referenced = std::collections::HashSet::new();
        {
            let db = self.lock();
            let mut st = db.prepare("SELECT files FROM objects")?;
            for files in st.query_map([], |r| r.get::<_, String>(0))? {
                let files: Vec<String> = json_from_db(files?)?;
                referenced.extend(files);
            }
            let mut st = db.prepare("SELECT file FROM parts")?;
            for f in st.query_map([], |r| r.get::<_, String>(0))? {
                referenced.insert(f?);
            }
        }
        for entry in std::fs::read_dir(&self.objects)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !referenced.contains(&name) {
                tracing::warn!(file = %name, "removing an unreferenced body file");
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll back).
        self.db
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` on the database on the blocking pool.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || {
            let mut c = db.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut c)
        })
        .await
        .map_err(Error::internal)?
    }

    /// The path of a body file.
    pub fn body_path(&self, file: &str) -> PathBuf {
        self.objects.join(file)
    }

    /// Starts writing a new body file.
    pub async fn writer(&self) -> Result<BodyWriter> {
        let name = uuid::Uuid::new_v4().simple().to_string();
        let tmp = self.tmp.join(&name);
        let file = tokio::fs::File::create(&tmp).await?;
        Ok(BodyWriter {
            file: Some(tokio::io::BufWriter::with_capacity(1 << 20, file)),
            tmp,
            dest: self.objects.join(&name),
            objects_dir: self.objects.clone(),
            name,
            written: 0,
            committed: false,
        })
    }

    /// Removes body files (after the metadata no longer names them); a file being read is removed
    /// when its last [`ReadPin`] drops.
    pub async fn remove_files(&self, files: Vec<String>) {
        let files: Vec<String> = {
            let mut r = lock_readers(&self.readers);
            files
                .into_iter()
                .filter(|f| {
                    let read = r.open.contains_key(f);
                    if read {
                        r.doomed.insert(f.clone());
                    }
                    !read
                })
                .collect()
        };
        for f in files {
            if let Err(e) = tokio::fs::remove_file(self.objects.join(&f)).await {
                tracing::warn!(file = %f, error = %e, "cannot remove a body file");
            }
        }
    }

    // ---- buckets ---------------------------------------------------------------------------------

    /// A bucket.
    pub async fn bucket(&self, name: &str) -> Result<Option<Bucket>> {
        let name = name.to_owned();
        self.run(move |db| {
            Ok(db
                .query_row(
                    "SELECT name, created, sse_algorithm, kms_key_id FROM buckets WHERE name = ?1",
                    params![name],
                    |r| {
                        let alg: Option<String> = r.get(2)?;
                        let key_id: Option<String> = r.get(3)?;
                        Ok(Bucket {
                            name: r.get(0)?,
                            created: r.get(1)?,
                            encryption: match alg.as_deref() {
                                Some("AES256") => Some(storage_adapter::BucketEncryption::Aes256),
                                Some("KMS") => {
                                    Some(storage_adapter::BucketEncryption::Kms { key_id })
                                }
                                _ => None,
                            },
                        })
                    },
                )
                .optional()?)
        })
        .await
    }

    /// All buckets, by name.
    pub async fn buckets(&self) -> Result<Vec<Bucket>> {
        self.run(|db| {
            let mut st = db.prepare("SELECT name, created FROM buckets ORDER BY name")?;
            let rows = st.query_map([], |r| {
                Ok(Bucket {
                    name: r.get(0)?,
                    created: r.get(1)?,
                    encryption: None,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    /// Creates a bucket; `false` if it exists.
    pub async fn create_bucket(&self, name: &str, now: i64) -> Result<bool> {
        let name = name.to_owned();
        self.run(move |db| {
            Ok(db.execute(
                "INSERT OR IGNORE INTO buckets (name, created) VALUES (?1, ?2)",
                params![name, now],
            )? == 1)
        })
        .await
    }

    /// Deletes an empty bucket.
    pub async fn delete_bucket(&self, name: &str) -> Result<()> {
        let name = name.to_owned();
        self.run(move |db| {
            let tx = db.transaction()?;
            let n: i64 = tx.query_row(
                "SELECT (SELECT COUNT(*) FROM objects WHERE bucket = ?1) + \
                 (SELECT COUNT(*) FROM uploads WHERE bucket = ?1)",
                params![name],
                |r| r.get(0),
            )?;
            if n > 0 {
                return Err(Error::BucketNotEmpty);
            }
            if tx.execute("DELETE FROM buckets WHERE name = ?1", params![name])? == 0 {
                return Err(Error::NoSuchBucket);
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Sets (or clears) a bucket's default encryption.
    pub async fn set_bucket_encryption(
        &self,
        name: &str,
        enc: Option<storage_adapter::BucketEncryption>,
    ) -> Result<()> {
        let name = name.to_owned();
        self.run(move |db| {
            let (alg, key) = encryption_to_db(&enc);
            if db.execute(
                "UPDATE buckets SET sse_algorithm = ?2, kms_key_id = ?3 WHERE name = ?1",
                params![name, alg, key],
            )? == 0
            {
                return Err(Error::NoSuchBucket);
            }
            Ok(())
        })
        .await
    }

    // ---- objects ---------------------------------------------------------------------------------

    /// An object.
    pub async fn object(&self, bucket: &str, key: &str) -> Result<Option<Object>> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.run(move |db| query_object(db, &bucket, &key)).await
    }

    /// [`Store::object`], with its body files pinned until the returned [`ReadPin`] drops. The pin
    /// is taken under the database lock, so no commit can slip between the read and the pin.
    pub async fn object_to_read(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<(Object, ReadPin)>> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        let (readers, objects) = (Arc::clone(&self.readers), self.objects.clone());
        self.run(move |db| {
            Ok(query_object(db, &bucket, &key)?.map(|obj| {
                let pin = ReadPin::new(readers, objects, obj.files.clone());
                (obj, pin)
            }))
        })
        .await
    }

    /// Inserts or replaces an object whose body files are new and durable; removes the replaced
    /// body. If the bucket is gone (deleted while the body was written), the new files are removed.
    pub async fn put_object(&self, bucket: &str, key: &str, obj: Object) -> Result<()> {
        let (b, k) = (bucket.to_owned(), key.to_owned());
        let new_files = obj.files.clone();
        let old = self
            .run(move |db| {
                let tx = db.transaction()?;
                let exists: Option<i64> = tx
                    .query_row("SELECT 1 FROM buckets WHERE name = ?1", params![b], |r| {
                        r.get(0)
                    })
                    .optional()?;
                if exists.is_none() {
                    return Err(Error::NoSuchBucket);
                }
                let old = replace_object_row(&tx, &b, &k, &obj)?;
                tx.commit()?;
                Ok(old)
            })
            .await;
        let old = self.remove_if_refused(old, new_files).await?;
        if let Some(old) = old {
            self.remove_files(old).await;
        }
        Ok(())
    }

    /// Removes `new_files` when `result` is a refusal that wrote nothing (`NoSuchBucket`,
    /// `NoSuchUpload`: no row can ever name them). Any other error leaves them: a failed commit
    /// may not say whether the row was written, and an unreferenced file is collected at the next
    /// start, whereas a row without its body is lost data.
    async fn remove_if_refused<T>(&self, result: Result<T>, new_files: Vec<String>) -> Result<T> {
        if matches!(result, Err(Error::NoSuchBucket | Error::NoSuchUpload)) {
            self.remove_files(new_files).await;
        }
        result
    }

    /// Deletes an object (idempotent); removes its body.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<()> {
        let (b, k) = (bucket.to_owned(), key.to_owned());
        let old = self
            .run(move |db| {
                let tx = db.transaction()?;
                let old: Option<String> = tx
                    .query_row(
                        "SELECT files FROM objects WHERE bucket = ?1 AND key = ?2",
                        params![b, k],
                        |r| r.get(0),
                    )
                    .optional()?;
                tx.execute(
                    "DELETE FROM objects WHERE bucket = ?1 AND key = ?2",
                    params![b, k],
                )?;
                tx.commit()?;
                old.map(json_from_db::<Vec<String>>)
                    .transpose()
                    .map_err(Error::from)
            })
            .await?;
        if let Some(old) = old {
            self.remove_files(old).await;
        }
        Ok(())
    }

    /// Objects of a bucket with `prefix`, keys after `marker`, at most `limit`, by key.
    pub async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        marker: &str,
        limit: usize,
    ) -> Result<Vec<(String, Object)>> {
        let (b, p, m) = (bucket.to_owned(), prefix.to_owned(), marker.to_owned());
        self.run(move |db| {
            let mut st = db.prepare(
                "SELECT key, size, etag, modified, meta, envelope, files FROM objects \
                 WHERE bucket = ?1 AND substr(key, 1, length(?2)) = ?2 AND key > ?3 \
                 ORDER BY key LIMIT ?4",
            )?;
            let rows = st.query_map(params![b, p, m, limit as i64], |r| {
                Ok((
                    r.get(0)?,
                    Object {
                        size: r.get::<_, i64>(1)? as u64,
                        etag: r.get(2)?,
                        modified: r.get(3)?,
                        meta: json_from_db(r.get(4)?)?,
                        envelope: None,
                        files: Vec::new(),
                    },
                ))
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    // ---- multipart -------------------------------------------------------------------------------

    /// Records a new upload.
    pub async fn create_upload(&self, u: Upload) -> Result<()> {
        self.run(move |db| {
            db.execute(
                "INSERT INTO uploads (upload_id, bucket, key, initiated, meta, envelope) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    u.upload_id,
                    u.bucket,
                    u.key,
                    u.initiated,
                    json(&u.meta),
                    env_to_db(&u.envelope)
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// An upload of `bucket`/`key`.
    pub async fn upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<Upload> {
        let (b, k, id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        self.run(move |db| {
            db.query_row(
                "SELECT upload_id, bucket, key, initiated, meta, envelope FROM uploads \
                 WHERE upload_id = ?1 AND bucket = ?2 AND key = ?3",
                params![id, b, k],
                |r| {
                    Ok(Upload {
                        upload_id: r.get(0)?,
                        bucket: r.get(1)?,
                        key: r.get(2)?,
                        initiated: r.get(3)?,
                        meta: json_from_db(r.get(4)?)?,
                        envelope: env_from_db(r.get(5)?)?,
                    })
                },
            )
            .optional()?
            .ok_or(Error::NoSuchUpload)
        })
        .await
    }

    /// Uploads of a bucket whose key starts with `prefix`, by key then initiation.
    pub async fn list_uploads(&self, bucket: &str, prefix: &str) -> Result<Vec<Upload>> {
        let (b, p) = (bucket.to_owned(), prefix.to_owned());
        self.run(move |db| {
            let mut st = db.prepare(
                "SELECT upload_id, bucket, key, initiated, meta FROM uploads \
                 WHERE bucket = ?1 AND substr(key, 1, length(?2)) = ?2 ORDER BY key, initiated",
            )?;
            let rows = st.query_map(params![b, p], |r| {
                Ok(Upload {
                    upload_id: r.get(0)?,
                    bucket: r.get(1)?,
                    key: r.get(2)?,
                    initiated: r.get(3)?,
                    meta: json_from_db(r.get(4)?)?,
                    envelope: None,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    /// Records a part whose body is new and durable (replacing an earlier attempt, whose file is
    /// removed). If the upload is gone (aborted or completed meanwhile), the new file is removed.
    pub async fn put_part(&self, upload_id: &str, part: Part) -> Result<()> {
        let id = upload_id.to_owned();
        let new_file = vec![part.file.clone()];
        let old = self
            .run(move |db| {
                let tx = db.transaction()?;
                require_upload(&tx, &id)?;
                let old: Option<String> = tx
                    .query_row(
                        "SELECT file FROM parts WHERE upload_id = ?1 AND number = ?2",
                        params![id, part.number],
                        |r| r.get(0),
                    )
                    .optional()?;
                tx.execute(
                    "INSERT OR REPLACE INTO parts \
                     (upload_id, number, etag, size, stored_size, salt, file, modified) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        id,
                        part.number,
                        part.etag,
                        part.size as i64,
                        part.stored_size as i64,
                        part.salt.map(|s| s.to_vec()),
                        part.file,
                        part.modified
                    ],
                )?;
                tx.commit()?;
                Ok(old)
            })
            .await;
        let old = self.remove_if_refused(old, new_file).await?;
        if let Some(old) = old {
            self.remove_files(vec![old]).await;
        }
        Ok(())
    }

    /// The parts of an upload, by number.
    pub async fn parts(&self, upload_id: &str) -> Result<Vec<Part>> {
        let id = upload_id.to_owned();
        self.run(move |db| {
            let mut st = db.prepare(
                "SELECT number, etag, size, stored_size, salt, file, modified FROM parts \
                 WHERE upload_id = ?1 ORDER BY number",
            )?;
            let rows = st.query_map(params![id], |r| {
                let salt: Option<Vec<u8>> = r.get(4)?;
                Ok(Part {
                    number: r.get(0)?,
                    etag: r.get(1)?,
                    size: r.get::<_, i64>(2)? as u64,
                    stored_size: r.get::<_, i64>(3)? as u64,
                    salt: salt.and_then(|s| s.try_into().ok()),
                    file: r.get(5)?,
                    modified: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    /// Completes an upload: the object row (whose files are the listed parts' files) replaces any
    /// object of that key; the upload and its parts go. Unlisted parts' files and the replaced
    /// object's files are removed.
    ///
    /// `chosen` are the parts `obj` was built from, as read before this call: each must still be
    /// the current attempt of its number (same file and ETag), or the upload is left unchanged and
    /// the call fails with `InvalidPart` (a part re-uploaded meanwhile has had its file removed).
    pub async fn complete_upload(&self, u: &Upload, chosen: &[Part], obj: Object) -> Result<()> {
        let (id, b, k) = (u.upload_id.clone(), u.bucket.clone(), u.key.clone());
        let chosen: Vec<(u32, String, String)> = chosen
            .iter()
            .map(|p| (p.number, p.file.clone(), p.etag.clone()))
            .collect();
        let garbage = self
            .run(move |db| {
                let tx = db.transaction()?;
                require_upload(&tx, &id)?;
                for (number, file, etag) in &chosen {
                    let current: Option<(String, String)> = tx
                        .query_row(
                            "SELECT file, etag FROM parts WHERE upload_id = ?1 AND number = ?2",
                            params![id, number],
                            |r| Ok((r.get(0)?, r.get(1)?)),
                        )
                        .optional()?;
                    if current.as_ref() != Some(&(file.clone(), etag.clone())) {
                        return Err(Error::InvalidPart(format!(
                            "part {number} was uploaded again or removed during the completion"
                        )));
                    }
                }
                let mut garbage: Vec<String> = Vec::new();
                {
                    let mut st = tx.prepare("SELECT file FROM parts WHERE upload_id = ?1")?;
                    for f in st.query_map(params![id], |r| r.get::<_, String>(0))? {
                        let f = f?;
                        if !obj.files.contains(&f) {
                            garbage.push(f);
                        }
                    }
                }
                garbage.extend(replace_object_row(&tx, &b, &k, &obj)?.unwrap_or_default());
                tx.execute("DELETE FROM parts WHERE upload_id = ?1", params![id])?;
                tx.execute("DELETE FROM uploads WHERE upload_id = ?1", params![id])?;
                tx.commit()?;
                Ok(garbage)
            })
            .await?;
        self.remove_files(garbage).await;
        Ok(())
    }

    /// Aborts an upload: rows and part files go.
    pub async fn abort_upload(&self, upload_id: &str) -> Result<()> {
        let id = upload_id.to_owned();
        let files = self
            .run(move |db| {
                let tx = db.transaction()?;
                let files: Vec<String> = {
                    let mut st = tx.prepare("SELECT file FROM parts WHERE upload_id = ?1")?;
                    st.query_map(params![id], |r| r.get(0))?
                        .collect::<rusqlite::Result<_>>()?
                };
                tx.execute("DELETE FROM parts WHERE upload_id = ?1", params![id])?;
                if tx.execute("DELETE FROM uploads WHERE upload_id = ?1", params![id])? == 0 {
                    return Err(Error::NoSuchUpload);
                }
                tx.commit()?;
                Ok(files)
            })
            .await?;
        self.remove_files(files).await;
        Ok(())
    }
}

/// A body file being written. Dropped without [`BodyWriter::commit`], its temp file is removed.
#[derive(Debug)]
pub struct BodyWriter {
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
    tmp: PathBuf,
    dest: PathBuf,
    objects_dir: PathBuf,
    name: String,
    written: u64,
    committed: bool,
}

impl BodyWriter {
    /// Appends bytes.
    pub async fn write(&mut self, data: &[u8]) -> Result<()> {
        let f = self
            .file
            .as_mut()
            .ok_or_else(|| Error::internal("write after commit"))?;
        f.write_all(data).await?;
        self.written += data.len() as u64;
        Ok(())
    }

    /// Bytes written.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Flushes, fsyncs, renames into place and fsyncs the directory; returns the file's name.
    pub async fn commit(mut self) -> Result<String> {
        let mut f = self
            .file
            .take()
            .ok_or_else(|| Error::internal("commit twice"))?;
        f.flush().await?;
        let file = f.into_inner();
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&self.tmp, &self.dest).await?;
        let dir = self.objects_dir.clone();
        tokio::task::spawn_blocking(move || std::fs::File::open(&dir).and_then(|d| d.sync_all()))
            .await
            .map_err(Error::internal)??;
        self.committed = true;
        Ok(std::mem::take(&mut self.name))
    }
}

impl Drop for BodyWriter {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(files: Vec<String>) -> Object {
        Object {
            size: 3,
            etag: "e".into(),
            modified: 1,
            meta: vec![("Content-Type".into(), "text/plain".into())],
            envelope: None,
            files,
        }
    }

    #[tokio::test]
    async fn a_replaced_body_is_removed_and_orphans_are_collected() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        assert!(s.create_bucket("b-1", 1).await.unwrap());
        assert!(!s.create_bucket("b-1", 1).await.unwrap());
        let mut w = s.writer().await.unwrap();
        w.write(b"abc").await.unwrap();
        let f1 = w.commit().await.unwrap();
        s.put_object("b-1", "k", obj(vec![f1.clone()]))
            .await
            .unwrap();
        let mut w = s.writer().await.unwrap();
        w.write(b"def").await.unwrap();
        let f2 = w.commit().await.unwrap();
        s.put_object("b-1", "k", obj(vec![f2.clone()]))
            .await
            .unwrap();
        assert!(!s.body_path(&f1).exists());
        assert_eq!(std::fs::read(s.body_path(&f2)).unwrap(), b"def");
        // A body whose metadata was never committed (a crash) is removed at the next open.
        let mut w = s.writer().await.unwrap();
        w.write(b"orphan").await.unwrap();
        let f3 = w.commit().await.unwrap();
        // An uncommitted writer leaves nothing.
        let mut w = s.writer().await.unwrap();
        w.write(b"partial").await.unwrap();
        drop(w);
        drop(s);
        let s = Store::open(dir.path()).unwrap();
        assert!(!s.body_path(&f3).exists());
        assert!(s.body_path(&f2).exists());
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
        let o = s.object("b-1", "k").await.unwrap().unwrap();
        assert_eq!(o.files, vec![f2]);
        assert_eq!(o.meta[0].1, "text/plain");
    }

    #[tokio::test]
    async fn completing_with_a_part_replaced_meanwhile_fails_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        s.create_bucket("b-1", 1).await.unwrap();
        let u = Upload {
            upload_id: "u1".into(),
            bucket: "b-1".into(),
            key: "k".into(),
            initiated: 1,
            meta: vec![],
            envelope: None,
        };
        s.create_upload(u.clone()).await.unwrap();
        let part = |file: String, etag: &str| Part {
            number: 1,
            etag: etag.into(),
            size: 3,
            stored_size: 3,
            salt: None,
            file,
            modified: 1,
        };
        let mut w = s.writer().await.unwrap();
        w.write(b"abc").await.unwrap();
        let f1 = w.commit().await.unwrap();
        s.put_part("u1", part(f1.clone(), "e1")).await.unwrap();
        let stale = s.parts("u1").await.unwrap();
        // Part 1 is uploaded again (same ETag, new file) before the completion commits.
        let mut w = s.writer().await.unwrap();
        w.write(b"abc").await.unwrap();
        let f2 = w.commit().await.unwrap();
        s.put_part("u1", part(f2.clone(), "e1")).await.unwrap();
        assert!(!s.body_path(&f1).exists());
        assert!(matches!(
            s.complete_upload(&u, &stale, obj(vec![f1.clone()])).await,
            Err(Error::InvalidPart(_))
        ));
        assert!(s.object("b-1", "k").await.unwrap().is_none());
        assert!(s.body_path(&f2).exists());
        // A different ETag is refused too.
        let mut other = s.parts("u1").await.unwrap();
        other[0].etag = "e2".into();
        assert!(matches!(
            s.complete_upload(&u, &other, obj(vec![f2.clone()])).await,
            Err(Error::InvalidPart(_))
        ));
        // With a fresh list the upload completes.
        let fresh = s.parts("u1").await.unwrap();
        s.complete_upload(&u, &fresh, obj(vec![f2.clone()]))
            .await
            .unwrap();
        let o = s.object("b-1", "k").await.unwrap().unwrap();
        assert_eq!(o.files, vec![f2.clone()]);
        assert!(s.body_path(&f2).exists());
        assert!(s.parts("u1").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_write_that_loses_a_race_with_a_delete_removes_its_body() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        s.create_bucket("b-1", 1).await.unwrap();
        // The body is committed, then the bucket is deleted before the object row is written (what
        // a DELETE Bucket between a PUT's bucket check and its row does).
        let mut w = s.writer().await.unwrap();
        w.write(b"late").await.unwrap();
        let f = w.commit().await.unwrap();
        assert!(s.body_path(&f).exists());
        s.delete_bucket("b-1").await.unwrap();
        let e = s
            .put_object("b-1", "k", obj(vec![f.clone()]))
            .await
            .unwrap_err();
        assert_eq!((e.code(), e.status().as_u16()), ("NoSuchBucket", 404));
        assert!(!s.body_path(&f).exists(), "the loser's body is orphaned");
        // The same for a part whose upload is aborted while it is written.
        s.create_bucket("b-1", 1).await.unwrap();
        let u = Upload {
            upload_id: "u1".into(),
            bucket: "b-1".into(),
            key: "k".into(),
            initiated: 1,
            meta: vec![],
            envelope: None,
        };
        s.create_upload(u).await.unwrap();
        let mut w = s.writer().await.unwrap();
        w.write(b"part").await.unwrap();
        let f = w.commit().await.unwrap();
        s.abort_upload("u1").await.unwrap();
        let part = Part {
            number: 1,
            etag: "e".into(),
            size: 4,
            stored_size: 4,
            salt: None,
            file: f.clone(),
            modified: 1,
        };
        let e = s.put_part("u1", part).await.unwrap_err();
        assert_eq!((e.code(), e.status().as_u16()), ("NoSuchUpload", 404));
        assert!(
            !s.body_path(&f).exists(),
            "the loser's part body is orphaned"
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join("objects"))
                .unwrap()
                .count(),
            0
        );
    }

    #[tokio::test]
    async fn bucket_rules() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        assert!(matches!(
            s.put_object("nob-1", "k", obj(vec![])).await,
            Err(Error::NoSuchBucket)
        ));
        s.create_bucket("b-1", 1).await.unwrap();
        s.put_object("b-1", "k", obj(vec![])).await.unwrap();
        assert!(matches!(
            s.delete_bucket("b-1").await,
            Err(Error::BucketNotEmpty)
        ));
        s.delete_object("b-1", "k").await.unwrap();
        s.delete_bucket("b-1").await.unwrap();
        assert!(matches!(
            s.delete_bucket("b-1").await,
            Err(Error::NoSuchBucket)
        ));
    }
}
