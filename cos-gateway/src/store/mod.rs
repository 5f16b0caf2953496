//! Storage: bodies as files, metadata in a [`Catalog`] (SQLite in the gateway).
//!
//! # Layout
//!
//! * this file: the [`Store`] the operations call, and the rows it hands out. It owns the
//!   durability protocol below, the one place that orders body files against metadata commits,
//!   whatever the metadata backend.
//! * [`catalog`]: the [`Catalog`] trait, the boundary to a metadata backend (why it is
//!   synchronous is said there).
//! * `sqlite/`: [`SqliteCatalog`], one file per table group (buckets, objects, uploads and parts).
//! * `memory.rs`: `MemoryCatalog`, the same contract in memory, for tests (feature `test-util`).
//! * `files.rs`: body files (`tmp/`, `objects/`, [`BodyWriter`]), no knowledge of rows.
//! * `decided.rs`: whether the running request has set a change going ([`Decided`]).
//! * `pins.rs`: which body files are being read ([`ReadPin`], [`Pins`]), so removals wait.
//! * [`verifier_key`]: the SSE-C verifier key's file in the data directory.
//! * `checks.rs` (tests): the store's behaviour checks, written once, run on every catalog.
//!
//! # Why the trait sits under `Store`, not in place of it
//!
//! The operations hold a `Store` (the gateway's `store` field) and call it as before; a different
//! backend is a different [`Catalog`] given to [`Store::with_catalog`] (`Store::in_memory` in
//! tests). What varies between backends is only the rows. The body files, the pins and the order
//! of file writes against row commits are the same for all, and the operations reach the files
//! directly (a GET streams `Store::body_path` files, a PUT writes through a [`BodyWriter`]), so a
//! `dyn` store replacing the whole type would either hand out those concrete types anyway or have
//! every backend re-implement the durability protocol below.
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

pub mod catalog;
#[cfg(test)]
mod checks;
mod decided;
mod files;
#[cfg(any(test, feature = "test-util"))]
mod memory;
mod pins;
pub mod private_fs;
mod sqlite;
pub mod verifier_key;
pub mod versions;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
pub use catalog::{Catalog, ObjectUpdate};
pub use decided::Decided;
use files::BodyDir;
pub use files::BodyWriter;
#[cfg(any(test, feature = "test-util"))]
pub use files::DiskBudget;
#[cfg(any(test, feature = "test-util"))]
pub use memory::MemoryCatalog;
pub use pins::{Pins, ReadPin};
pub use sqlite::{BUSY_TIMEOUT, SqliteCatalog};

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
    /// The bucket's ACL (`None`: `private`).
    pub acl: Option<crate::acl::Acl>,
    /// The bucket's versioning state.
    pub versioning: versions::Versioning,
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
    /// The object's tags (key, value), in the order given; at most
    /// [`crate::tagging::MAX_TAGS`].
    pub tags: Tags,
    /// The object's storage class (`x-cos-storage-class`).
    pub storage_class: crate::storage_class::StorageClass,
    /// The restore of an archived object, if one was asked for (POST Object restore).
    pub restore: Option<crate::restore::Restore>,
    /// The object's explicit ACL (`None`: `default`, its bucket's applies).
    pub acl: Option<crate::acl::Acl>,
    /// The version's id (`None`: `null`, written while versioning was off or suspended). Set by
    /// the catalog when the row is written (see [`versions`]); what a writer puts here is ignored.
    pub version_id: Option<String>,
}

/// An object's tags: (key, value) pairs, keys unique.
pub type Tags = Vec<(String, String)>;

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
    /// Tags to give the completed object (`x-cos-tagging` on Initiate).
    pub tags: Tags,
    /// The completed object's storage class (`x-cos-storage-class` on Initiate).
    pub storage_class: crate::storage_class::StorageClass,
    /// The completed object's ACL (`x-cos-acl`, `x-cos-grant-*` on Initiate).
    pub acl: Option<crate::acl::Acl>,
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

/// The body directory, its read pins and the metadata catalog (see the module docs).
#[derive(Clone, Debug)]
pub struct Store {
    catalog: Arc<dyn Catalog>,
    bodies: BodyDir,
    pins: Pins,
    /// Whether the rows outlive the process (false only for [`Store::in_memory`]).
    durable: bool,
    /// The directory's [`LOCK_FILE`], held while the store (or a clone of it) is open.
    _lock: Arc<private_fs::DirLock>,
}

/// The lock file in a gateway's data directory: one store per directory, taken before anything
/// in it is read or cleaned up (a second gateway's start-up clean-up would otherwise delete the
/// first one's body files between their rename and their row's commit). Its own name, because an
/// embedded KMS keeps its `kms.lock` in the same directory.
pub const LOCK_FILE: &str = "gateway.lock";

/// Takes `dir`'s [`LOCK_FILE`], creating `dir` if needed.
fn lock(dir: &Path) -> Result<private_fs::DirLock> {
    private_fs::create_dir(dir)?;
    private_fs::DirLock::try_acquire_file(&dir.join(LOCK_FILE))?.ok_or_else(|| {
        Error::internal(format!(
            "the data directory {} is in use by another cos-gateway ({LOCK_FILE} is locked): stop \
             it first, or give this one another --data-dir",
            dir.display()
        ))
    })
}

impl Store {
    /// Opens (or creates) the store under `dir`: `gateway.sqlite3`, `objects/`, `tmp/`.
    ///
    /// Leftover temp files and body files that no row names (a crash between the body's rename and
    /// the metadata commit, or before an old body was removed) are deleted.
    /// A directory another store holds ([`LOCK_FILE`]) is refused before anything in it is read.
    pub fn open(dir: &Path) -> Result<Self> {
        let lock = lock(dir)?;
        let catalog = SqliteCatalog::open(&dir.join(sqlite::DB_FILE))?;
        Self::locked(dir, Arc::new(catalog), lock)
    }

    /// A store whose bodies are under `dir` (`objects/`, `tmp/`) and whose metadata is `catalog`.
    /// Body files `catalog` does not name are deleted, as in [`Store::open`], under the same lock.
    pub fn with_catalog(dir: &Path, catalog: Arc<dyn Catalog>) -> Result<Self> {
        Self::locked(dir, catalog, lock(dir)?)
    }

    fn locked(dir: &Path, catalog: Arc<dyn Catalog>, lock: private_fs::DirLock) -> Result<Self> {
        let bodies = BodyDir::open(dir)?;
        bodies.remove_unreferenced(&catalog.referenced_files()?)?;
        Ok(Self {
            catalog,
            pins: Pins::new(bodies.objects().to_owned()),
            bodies,
            durable: true,
            _lock: Arc::new(lock),
        })
    }

    /// Whether the catalog's rows outlive the process: then the keys they depend on must too (the
    /// gateway persists its SSE-C verifier key, see [`verifier_key`]). Every catalog is taken as
    /// durable except [`Store::in_memory`]'s.
    pub fn is_durable(&self) -> bool {
        self.durable
    }

    /// A store with an empty [`MemoryCatalog`] and its bodies under `dir` (tests: the body
    /// directory is emptied, since no row names its files).
    #[cfg(any(test, feature = "test-util"))]
    pub fn in_memory(dir: &Path) -> Result<Self> {
        let mut store = Self::with_catalog(dir, Arc::new(MemoryCatalog::new()))?;
        store.durable = false;
        Ok(store)
    }

    /// Runs `f` on the catalog on the blocking pool (a catalog call may block, see [`catalog`]).
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Catalog) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let catalog = Arc::clone(&self.catalog);
        tokio::task::spawn_blocking(move || f(catalog.as_ref()))
            .await
            .map_err(Error::internal)?
    }

    /// [`Store::run`] for a catalog call that changes rows and frees no body file: it runs to its
    /// end once started, so the request is decided ([`Decided`]).
    async fn change<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Catalog) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        decided::mark();
        self.run(f).await
    }

    /// Runs a catalog write, then removes the body files it let go (or, if it was refused having
    /// written nothing, `new_files`), in a task of its own: to the end even if the request that
    /// asked for it is dropped meanwhile (its client gone, its deadline passed). The row commits
    /// in its blocking task either way, and the files it freed must not wait for the next start.
    async fn write<T: Send + 'static>(
        &self,
        new_files: Vec<String>,
        f: impl FnOnce(&dyn Catalog) -> Result<(Vec<String>, T)> + Send + 'static,
    ) -> Result<T> {
        let this = self.clone();
        decided::mark();
        tokio::spawn(async move {
            let done = this.run(f).await;
            let (freed, value) = this.remove_if_refused(done, new_files).await?;
            this.remove_files(freed).await;
            Ok(value)
        })
        .await
        .map_err(Error::internal)?
    }

    /// This store's body writes count against `budget`, and fail with a full disk once it is spent
    /// (tests: see [`DiskBudget`]). Clones made after this call share the budget.
    #[cfg(any(test, feature = "test-util"))]
    pub fn with_disk_budget(mut self, budget: Arc<DiskBudget>) -> Self {
        self.bodies.set_budget(budget);
        self
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

    /// Removes `new_files` when `result` is a refusal that wrote nothing, so no row can ever name
    /// them: `NoSuchBucket`, `NoSuchUpload`, `SlowDown` (the database lock was never taken: write
    /// transactions take it first) and `StorageFull` (SQLite rolls back a transaction it cannot
    /// write). Any other error leaves them: a failed commit (an I/O error) may not say whether the
    /// row was written, and an unreferenced file is collected at the next start, whereas a row
    /// without its body is lost data.
    async fn remove_if_refused<T>(&self, result: Result<T>, new_files: Vec<String>) -> Result<T> {
        if matches!(
            result,
            Err(Error::NoSuchBucket | Error::NoSuchUpload | Error::SlowDown | Error::StorageFull)
        ) {
            self.remove_files(new_files).await;
        }
        result
    }

    // ---- buckets ---------------------------------------------------------------------------------

    /// A bucket.
    pub async fn bucket(&self, name: &str) -> Result<Option<Bucket>> {
        let name = name.to_owned();
        self.run(move |c| c.bucket(&name)).await
    }

    /// A bucket that must exist: `NoSuchBucket` if there is none.
    pub async fn existing_bucket(&self, name: &str) -> Result<Bucket> {
        self.bucket(name)
            .await?
            .ok_or(crate::error::Error::NoSuchBucket)
    }

    /// All buckets, by name.
    pub async fn buckets(&self) -> Result<Vec<Bucket>> {
        self.run(|c| c.buckets()).await
    }

    /// Creates a bucket; `false` if it exists.
    pub async fn create_bucket(&self, name: &str, now: i64) -> Result<bool> {
        let name = name.to_owned();
        self.change(move |c| c.create_bucket(&name, now)).await
    }

    /// Deletes an empty bucket.
    pub async fn delete_bucket(&self, name: &str) -> Result<()> {
        let name = name.to_owned();
        self.change(move |c| c.delete_bucket(&name)).await
    }

    /// Sets (or clears) a bucket's default encryption.
    pub async fn set_bucket_encryption(
        &self,
        name: &str,
        enc: Option<storage_adapter::BucketEncryption>,
    ) -> Result<()> {
        let name = name.to_owned();
        self.change(move |c| c.set_bucket_encryption(&name, enc.as_ref()))
            .await
    }

    /// Sets (or clears) a bucket's ACL: `NoSuchBucket` if there is none.
    pub async fn set_bucket_acl(&self, name: &str, acl: Option<crate::acl::Acl>) -> Result<()> {
        let name = name.to_owned();
        self.change(move |c| c.set_bucket_acl(&name, acl.as_ref()))
            .await
    }

    // ---- objects ---------------------------------------------------------------------------------

    /// An object.
    pub async fn object(&self, bucket: &str, key: &str) -> Result<Option<Object>> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.run(move |c| c.object(&bucket, &key)).await
    }

    /// [`Store::object`], with its body files pinned until the returned [`ReadPin`] drops. The pin
    /// is taken under the catalog's lock, so no commit can slip between the read and the pin.
    pub async fn object_to_read(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<(Object, ReadPin)>> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        let pins = self.pins.clone();
        self.run(move |c| c.object_pinned(&bucket, &key, &pins))
            .await
    }

    /// Writes an object whose body files are new and durable as the key's latest version (see
    /// [`versions`]: in a bucket never versioned it replaces the object); removes the bodies it
    /// replaced. Returns the version id to answer with (`None` in a bucket never versioned). If the
    /// bucket is gone (deleted while the body was written), the new files are removed.
    pub async fn put_object(&self, bucket: &str, key: &str, obj: Object) -> Result<Option<String>> {
        let (b, k) = (bucket.to_owned(), key.to_owned());
        self.write(obj.files.clone(), move |c| c.put_object(&b, &k, &obj))
            .await
    }

    /// Applies `update` to an existing object, or with `version_id` to that object version, body
    /// and everything else kept: `NoSuchKey` (`NoSuchVersion` with a version id) if there is no
    /// such object.
    pub async fn update_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        update: ObjectUpdate,
    ) -> Result<()> {
        let (b, k, v) = (
            bucket.to_owned(),
            key.to_owned(),
            version_id.map(str::to_owned),
        );
        let missing = if v.is_some() {
            crate::error::Error::NoSuchVersion
        } else {
            crate::error::Error::NoSuchKey
        };
        if self
            .change(move |c| c.update_object(&b, &k, v.as_deref(), &update))
            .await?
        {
            Ok(())
        } else {
            Err(missing)
        }
    }

    /// Deletes an object (idempotent); removes its body. In a versioned bucket the object stays
    /// as a noncurrent version and a delete marker becomes the latest (see [`versions`]).
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<versions::Deleted> {
        let (b, k) = (bucket.to_owned(), key.to_owned());
        self.write(Vec::new(), move |c| c.delete_object(&b, &k))
            .await
    }

    /// Deletes one version of a key (a checked id, `null` included) and removes its body; a key
    /// whose latest version goes gets the next one as latest. A version that does not exist is
    /// not an error (DELETE is idempotent).
    pub async fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<versions::Deleted> {
        let (b, k, v) = (bucket.to_owned(), key.to_owned(), version_id.to_owned());
        self.write(Vec::new(), move |c| c.delete_version(&b, &k, &v))
            .await
    }

    /// Sets a bucket's versioning state: `NoSuchBucket` if there is none.
    pub async fn set_bucket_versioning(
        &self,
        name: &str,
        state: versions::Versioning,
    ) -> Result<()> {
        let name = name.to_owned();
        self.change(move |c| c.set_bucket_versioning(&name, state))
            .await
    }

    /// One version of a key (a checked id), an object's files pinned as by
    /// [`Store::object_to_read`].
    pub async fn version_to_read(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<Option<(versions::Entry, ReadPin)>> {
        let (b, k, v) = (bucket.to_owned(), key.to_owned(), version_id.to_owned());
        let pins = self.pins.clone();
        self.run(move |c| c.version_pinned(&b, &k, &v, &pins)).await
    }

    /// The id of the delete marker that is the key's latest version, if it is one.
    pub async fn latest_marker(&self, bucket: &str, key: &str) -> Result<Option<String>> {
        let (b, k) = (bucket.to_owned(), key.to_owned());
        self.run(move |c| c.latest_marker(&b, &k)).await
    }

    /// At most `limit` versions of `bucket` whose key starts with `prefix`, by key, newest first
    /// per key, after the position (`key_marker`, `version_marker`): without a version marker,
    /// keys after `key_marker`; with one, that key's versions older than it, then later keys.
    pub async fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        key_marker: &str,
        version_marker: Option<&str>,
        limit: usize,
    ) -> Result<Vec<versions::Version>> {
        let (b, p, k) = (bucket.to_owned(), prefix.to_owned(), key_marker.to_owned());
        let v = version_marker.map(str::to_owned);
        self.run(move |c| c.list_versions(&b, &p, &k, v.as_deref(), limit))
            .await
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
        self.run(move |c| c.list_objects(&b, &p, &m, limit)).await
    }

    // ---- multipart -------------------------------------------------------------------------------

    /// Records a new upload.
    pub async fn create_upload(&self, u: Upload) -> Result<()> {
        self.change(move |c| c.create_upload(&u)).await
    }

    /// An upload of `bucket`/`key`.
    pub async fn upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<Upload> {
        let (b, k, id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        self.run(move |c| c.upload(&b, &k, &id)).await
    }

    /// Uploads of a bucket whose key starts with `prefix`, by key then initiation.
    pub async fn list_uploads(&self, bucket: &str, prefix: &str) -> Result<Vec<Upload>> {
        let (b, p) = (bucket.to_owned(), prefix.to_owned());
        self.run(move |c| c.list_uploads(&b, &p)).await
    }

    /// Records a part whose body is new and durable (replacing an earlier attempt, whose file is
    /// removed). If the upload is gone (aborted or completed meanwhile), the new file is removed.
    pub async fn put_part(&self, upload_id: &str, part: Part) -> Result<()> {
        let id = upload_id.to_owned();
        self.write(vec![part.file.clone()], move |c| {
            c.put_part(&id, &part)
                .map(|old| (old.into_iter().collect(), ()))
        })
        .await
    }

    /// The parts of an upload, by number.
    pub async fn parts(&self, upload_id: &str) -> Result<Vec<Part>> {
        let id = upload_id.to_owned();
        self.run(move |c| c.parts(&id)).await
    }

    /// Completes an upload: the object row (whose files are the listed parts' files) replaces any
    /// object of that key; the upload and its parts go. Unlisted parts' files and the replaced
    /// object's files are removed.
    ///
    /// `chosen` are the parts `obj` was built from, as read before this call: each must still be
    /// the current attempt of its number (same file and ETag), or the upload is left unchanged and
    /// the call fails with `InvalidPart` (a part re-uploaded meanwhile has had its file removed).
    /// Returns the version id to answer with, as [`Store::put_object`].
    pub async fn complete_upload(
        &self,
        u: &Upload,
        chosen: &[Part],
        obj: Object,
    ) -> Result<Option<String>> {
        let (u, chosen) = (u.clone(), chosen.to_vec());
        self.write(Vec::new(), move |c| c.complete_upload(&u, &chosen, &obj))
            .await
    }

    /// Aborts an upload: rows and part files go.
    pub async fn abort_upload(&self, upload_id: &str) -> Result<()> {
        let id = upload_id.to_owned();
        self.write(Vec::new(), move |c| c.abort_upload(&id).map(|f| (f, ())))
            .await
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
            tags: Vec::new(),
            storage_class: Default::default(),
            restore: None,
            acl: None,
            version_id: None,
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

    /// A PUT whose request is dropped once its row is on its way (a client gone, a deadline
    /// passed) still removes the body it replaced, not at the next start only.
    #[tokio::test]
    async fn a_dropped_write_still_removes_what_it_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        s.create_bucket("b-1", 1).await.unwrap();
        let body = |bytes: &'static [u8]| {
            let s = s.clone();
            async move {
                let mut w = s.writer().await.unwrap();
                w.write(bytes).await.unwrap();
                w.commit().await.unwrap()
            }
        };
        let f1 = body(b"old").await;
        s.put_object("b-1", "k", obj(vec![f1.clone()]))
            .await
            .unwrap();
        let f2 = body(b"new").await;
        // Polled exactly once, then dropped (a zero timeout may poll it to the end: its timer
        // need not have fired at the first poll).
        let mut put = Box::pin(s.put_object("b-1", "k", obj(vec![f2.clone()])));
        let first = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(std::future::Future::poll(put.as_mut(), cx))
        })
        .await;
        assert!(first.is_pending(), "the write finished within one poll");
        drop(put);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while s.body_path(&f1).exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "the replaced body stayed"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(s.object("b-1", "k").await.unwrap().unwrap().files, vec![f2]);
    }

    /// A second store on a held directory is refused before its clean-up can delete the first
    /// one's body that is committed to disk but not yet named by a row (a PUT in progress).
    #[tokio::test]
    async fn a_second_store_on_the_same_directory_is_refused_and_deletes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        s.create_bucket("b-1", 1).await.unwrap();
        let mut w = s.writer().await.unwrap();
        w.write(b"in flight").await.unwrap();
        let f = w.commit().await.unwrap();
        for second in [
            Store::open(dir.path()),
            Store::in_memory(dir.path()),
            Store::with_catalog(dir.path(), Arc::new(MemoryCatalog::new())),
        ] {
            let Err(Error::Internal(msg)) = second else {
                panic!("a second store opened on a held directory");
            };
            assert!(msg.contains("in use by another cos-gateway"), "{msg}");
            assert!(msg.contains(LOCK_FILE), "{msg}");
        }
        assert!(s.body_path(&f).exists());
        s.put_object("b-1", "k", obj(vec![f.clone()]))
            .await
            .unwrap();
        drop(s);
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.object("b-1", "k").await.unwrap().unwrap().files, vec![f]);
    }

    #[tokio::test]
    async fn an_in_memory_store_starts_with_an_empty_body_directory() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        s.create_bucket("b-1", 1).await.unwrap();
        let mut w = s.writer().await.unwrap();
        w.write(b"abc").await.unwrap();
        let f = w.commit().await.unwrap();
        s.put_object("b-1", "k", obj(vec![f.clone()]))
            .await
            .unwrap();
        drop(s);
        // No row of an empty catalog names the file: it is garbage to this store.
        let s = Store::in_memory(dir.path()).unwrap();
        assert!(!s.body_path(&f).exists());
        assert!(s.buckets().await.unwrap().is_empty());
    }
}
