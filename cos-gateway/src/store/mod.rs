//! Storage: bodies as files, metadata in SQLite.
//!
//! # Layout
//!
//! * this file: the [`Store`] the operations call, and the rows it hands out. It owns the
//!   durability protocol below, the one place that orders body files against metadata commits.
//! * [`files`]: body files (`tmp/`, `objects/`, [`BodyWriter`]), no knowledge of rows.
//! * [`pins`]: which body files are being read ([`ReadPin`]), so removals wait for readers.
//! * [`sqlite`]: the metadata, one file per table group (buckets, objects, uploads and parts).
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

mod files;
mod pins;
mod sqlite;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::Connection;

use crate::error::{Error, Result};
use files::BodyDir;
pub use files::BodyWriter;
pub use pins::{Pins, ReadPin};

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
    bodies: BodyDir,
    pins: Pins,
}

impl Store {
    /// Opens (or creates) the store under `dir`: `gateway.sqlite3`, `objects/`, `tmp/`.
    ///
    /// Leftover temp files and body files that no row names (a crash between the body's rename and
    /// the metadata commit, or before an old body was removed) are deleted.
    pub fn open(dir: &Path) -> Result<Self> {
        let bodies = BodyDir::open(dir)?;
        let conn = sqlite::open(&dir.join(sqlite::DB_FILE))?;
        bodies.remove_unreferenced(&sqlite::referenced_files(&conn)?)?;
        Ok(Self {
            db: Arc::new(Mutex::new(conn)),
            pins: Pins::new(bodies.objects().to_owned()),
            bodies,
        })
    }

    /// Runs `f` on the database on the blocking pool.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll
            // back).
            let mut c = db.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut c)
        })
        .await
        .map_err(Error::internal)?
    }

    /// The path of a body file.
    pub fn body_path(&self, file: &str) -> PathBuf {
        self.bodies.path(file)
    }

    /// Starts writing a new body file.
    pub async fn writer(&self) -> Result<BodyWriter> {
        self.bodies.writer().await
    }

    /// Removes body files (after the metadata no longer names them); a file being read is removed
    /// when its last [`ReadPin`] drops.
    pub async fn remove_files(&self, files: Vec<String>) {
        self.bodies.remove(self.pins.unpinned(files)).await;
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

    // ---- buckets ---------------------------------------------------------------------------------

    /// A bucket.
    pub async fn bucket(&self, name: &str) -> Result<Option<Bucket>> {
        let name = name.to_owned();
        self.run(move |db| sqlite::buckets::get(db, &name)).await
    }

    /// All buckets, by name.
    pub async fn buckets(&self) -> Result<Vec<Bucket>> {
        self.run(|db| sqlite::buckets::list(db)).await
    }

    /// Creates a bucket; `false` if it exists.
    pub async fn create_bucket(&self, name: &str, now: i64) -> Result<bool> {
        let name = name.to_owned();
        self.run(move |db| sqlite::buckets::create(db, &name, now))
            .await
    }

    /// Deletes an empty bucket.
    pub async fn delete_bucket(&self, name: &str) -> Result<()> {
        let name = name.to_owned();
        self.run(move |db| sqlite::buckets::delete(db, &name)).await
    }

    /// Sets (or clears) a bucket's default encryption.
    pub async fn set_bucket_encryption(
        &self,
        name: &str,
        enc: Option<storage_adapter::BucketEncryption>,
    ) -> Result<()> {
        let name = name.to_owned();
        self.run(move |db| sqlite::buckets::set_encryption(db, &name, enc.as_ref()))
            .await
    }

    // ---- objects ---------------------------------------------------------------------------------

    /// An object.
    pub async fn object(&self, bucket: &str, key: &str) -> Result<Option<Object>> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.run(move |db| sqlite::objects::get(db, &bucket, &key))
            .await
    }

    /// [`Store::object`], with its body files pinned until the returned [`ReadPin`] drops. The pin
    /// is taken under the database lock, so no commit can slip between the read and the pin.
    pub async fn object_to_read(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<(Object, ReadPin)>> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        let pins = self.pins.clone();
        self.run(move |db| {
            Ok(sqlite::objects::get(db, &bucket, &key)?.map(|obj| {
                let pin = pins.pin(obj.files.clone());
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
            .run(move |db| sqlite::objects::put(db, &b, &k, &obj))
            .await;
        let old = self.remove_if_refused(old, new_files).await?;
        self.remove_files(old).await;
        Ok(())
    }

    /// Deletes an object (idempotent); removes its body.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<()> {
        let (b, k) = (bucket.to_owned(), key.to_owned());
        let old = self
            .run(move |db| sqlite::objects::delete(db, &b, &k))
            .await?;
        self.remove_files(old).await;
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
        self.run(move |db| sqlite::objects::list(db, &b, &p, &m, limit))
            .await
    }

    // ---- multipart -------------------------------------------------------------------------------

    /// Records a new upload.
    pub async fn create_upload(&self, u: Upload) -> Result<()> {
        self.run(move |db| sqlite::uploads::create(db, &u)).await
    }

    /// An upload of `bucket`/`key`.
    pub async fn upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<Upload> {
        let (b, k, id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        self.run(move |db| sqlite::uploads::get(db, &b, &k, &id))
            .await
    }

    /// Uploads of a bucket whose key starts with `prefix`, by key then initiation.
    pub async fn list_uploads(&self, bucket: &str, prefix: &str) -> Result<Vec<Upload>> {
        let (b, p) = (bucket.to_owned(), prefix.to_owned());
        self.run(move |db| sqlite::uploads::list(db, &b, &p)).await
    }

    /// Records a part whose body is new and durable (replacing an earlier attempt, whose file is
    /// removed). If the upload is gone (aborted or completed meanwhile), the new file is removed.
    pub async fn put_part(&self, upload_id: &str, part: Part) -> Result<()> {
        let id = upload_id.to_owned();
        let new_file = vec![part.file.clone()];
        let old = self
            .run(move |db| sqlite::uploads::put_part(db, &id, &part))
            .await;
        let old = self.remove_if_refused(old, new_file).await?;
        self.remove_files(old.into_iter().collect()).await;
        Ok(())
    }

    /// The parts of an upload, by number.
    pub async fn parts(&self, upload_id: &str) -> Result<Vec<Part>> {
        let id = upload_id.to_owned();
        self.run(move |db| sqlite::uploads::parts(db, &id)).await
    }

    /// Completes an upload: the object row (whose files are the listed parts' files) replaces any
    /// object of that key; the upload and its parts go. Unlisted parts' files and the replaced
    /// object's files are removed.
    ///
    /// `chosen` are the parts `obj` was built from, as read before this call: each must still be
    /// the current attempt of its number (same file and ETag), or the upload is left unchanged and
    /// the call fails with `InvalidPart` (a part re-uploaded meanwhile has had its file removed).
    pub async fn complete_upload(&self, u: &Upload, chosen: &[Part], obj: Object) -> Result<()> {
        let (u, chosen) = (u.clone(), chosen.to_vec());
        let garbage = self
            .run(move |db| sqlite::uploads::complete(db, &u, &chosen, &obj))
            .await?;
        self.remove_files(garbage).await;
        Ok(())
    }

    /// Aborts an upload: rows and part files go.
    pub async fn abort_upload(&self, upload_id: &str) -> Result<()> {
        let id = upload_id.to_owned();
        let files = self.run(move |db| sqlite::uploads::abort(db, &id)).await?;
        self.remove_files(files).await;
        Ok(())
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
