//! The metadata boundary: [`Catalog`], the rows of buckets, objects, uploads and parts that a
//! metadata backend keeps, and nothing else.
//!
//! The [`Store`](super::Store) the operations call is one type over any catalog: it owns the body
//! files, the read pins and the order of file writes against row commits (the durability protocol
//! in the parent module's docs), which must not be re-implemented, and could not be re-proved, per
//! backend. A catalog only answers and applies row changes, each atomically, and reports which body
//! files a change stopped naming; the store removes them. Two catalogs exist: SQLite
//! ([`SqliteCatalog`](super::SqliteCatalog), the gateway's) and, for tests, an in-memory one
//! (`MemoryCatalog`, feature `test-util`); the same behaviour checks run against both.
//!
//! # Why the trait is synchronous
//!
//! SQLite calls block; the store runs every catalog call on tokio's blocking pool, in one place
//! (`Store::run`). So the methods are plain functions: no `async fn` in a `dyn` trait, hence
//! neither the `async-trait` crate nor hand-boxed futures, and a backend cannot forget to leave the
//! async runtime's threads. It also makes [`Catalog::object_pinned`] simple: the pin is taken while
//! the backend still holds the lock it read the row under. A backend with an async client would
//! call it through its runtime handle from the blocking thread, or the trait would grow boxed
//! futures then.

use std::collections::HashSet;

use storage_adapter::BucketEncryption;

use super::versions::{Deleted, Entry, Version, Versioning};
use super::{Bucket, Object, Part, Pins, ReadPin, Tags, Upload};
use crate::acl::Acl;
use crate::error::Result;
use crate::restore::Restore;

/// What [`Catalog::update_object`] changes in one object version's row: the sub-resources that
/// live beside the body and its envelope, which they never touch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectUpdate {
    /// Replaces the tags (empty: none).
    Tags(Tags),
    /// Sets the ACL (`None`: `default`).
    Acl(Option<Acl>),
    /// Sets the restore.
    Restore(Restore),
}

/// The metadata of buckets, objects and multipart uploads (see the module docs).
///
/// Every method is atomic: a check and the write it guards see the same state, and a failed call
/// changes nothing. The errors are the gateway's COS errors (`NoSuchBucket`, `BucketNotEmpty`,
/// `NoSuchUpload`, `InvalidPart`); anything else is `InternalError`.
pub trait Catalog: Send + Sync + std::fmt::Debug {
    /// Every body file a row names (objects', noncurrent versions' and parts' files): the rest of
    /// the body directory is garbage from a crash.
    fn referenced_files(&self) -> Result<HashSet<String>>;

    // ---- buckets ---------------------------------------------------------------------------------

    /// A bucket.
    fn bucket(&self, name: &str) -> Result<Option<Bucket>>;

    /// All buckets, by name, without their encryption (`None`: a listing does not show it).
    fn buckets(&self) -> Result<Vec<Bucket>>;

    /// Creates a bucket created at `now`; `false` if it exists (unchanged).
    fn create_bucket(&self, name: &str, now: i64) -> Result<bool>;

    /// Deletes a bucket: `BucketNotEmpty` while it has objects, versions (delete markers included)
    /// or uploads, else `NoSuchBucket` if there is none.
    fn delete_bucket(&self, name: &str) -> Result<()>;

    /// Sets (or clears) a bucket's default encryption: `NoSuchBucket` if there is none.
    fn set_bucket_encryption(&self, name: &str, enc: Option<&BucketEncryption>) -> Result<()>;

    /// Sets (or clears: `private`) a bucket's ACL: `NoSuchBucket` if there is none.
    fn set_bucket_acl(&self, name: &str, acl: Option<&Acl>) -> Result<()>;

    /// Sets a bucket's versioning state: `NoSuchBucket` if there is none.
    fn set_bucket_versioning(&self, name: &str, state: Versioning) -> Result<()>;

    // ---- objects ---------------------------------------------------------------------------------

    /// An object.
    fn object(&self, bucket: &str, key: &str) -> Result<Option<Object>>;

    /// An object with its files pinned by `pins` before the lock the row was read under is let go,
    /// so no concurrent change can remove them between the read and the pin.
    fn object_pinned(
        &self,
        bucket: &str,
        key: &str,
        pins: &Pins,
    ) -> Result<Option<(Object, ReadPin)>>;

    /// Writes `obj` as the latest version of `bucket`/`key` by the bucket's versioning state, as
    /// [`super::versions::WritePlan`] says (the id in `obj` is ignored): `NoSuchBucket` if the
    /// bucket is gone. Returns the body files no row names any more, and the version id to answer
    /// with.
    fn put_object(
        &self,
        bucket: &str,
        key: &str,
        obj: &Object,
    ) -> Result<(Vec<String>, Option<String>)>;

    /// Applies `update` to the current object of `bucket`/`key`, or with `version_id` (checked;
    /// `null` included) to that object version, current or noncurrent; nothing else changes.
    /// `false` if there is no such object or object version (a delete marker is not one).
    fn update_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        update: &ObjectUpdate,
    ) -> Result<bool>;

    /// Deletes the object `bucket`/`key` by the bucket's versioning state: in a bucket never
    /// versioned the row goes; else a delete marker is written as a write is (see
    /// [`super::versions`]). Returns the body files no row names any more.
    fn delete_object(&self, bucket: &str, key: &str) -> Result<(Vec<String>, Deleted)>;

    /// Deletes version `version_id` (checked; `null` included) of `bucket`/`key`, current or
    /// not; when it was the current row, the newest noncurrent object version (unless a delete
    /// marker is newer) becomes current. Returns its body files.
    fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<(Vec<String>, Deleted)>;

    /// Version `version_id` of `bucket`/`key`, an object's files pinned as by
    /// [`Catalog::object_pinned`].
    fn version_pinned(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        pins: &Pins,
    ) -> Result<Option<(Entry, ReadPin)>>;

    /// The id (`None`: `null`) of the delete marker that is the latest version of `bucket`/`key`;
    /// `Ok(None)` when the latest is an object or there is none.
    fn latest_marker(&self, bucket: &str, key: &str) -> Result<Option<String>>;

    /// The versions listing ([`super::Store::list_versions`]); objects without envelopes and
    /// files. An unknown `version_marker` starts after every version of `key_marker`.
    fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        key_marker: &str,
        version_marker: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Version>>;

    /// At most `limit` objects of `bucket` whose key starts with `prefix` and sorts after `marker`
    /// (byte order), by key; without their envelopes and files (a listing needs neither).
    fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        marker: &str,
        limit: usize,
    ) -> Result<Vec<(String, Object)>>;

    // ---- multipart uploads -----------------------------------------------------------------------

    /// Records a new upload (its id is fresh: a duplicate is an internal error).
    fn create_upload(&self, upload: &Upload) -> Result<()>;

    /// Upload `upload_id` if it is one of `bucket`/`key`, else `NoSuchUpload`.
    fn upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<Upload>;

    /// The uploads of `bucket` whose key starts with `prefix`, by key then initiation, without
    /// their envelopes.
    fn list_uploads(&self, bucket: &str, prefix: &str) -> Result<Vec<Upload>>;

    /// Records a part attempt, replacing the earlier attempt of its number: `NoSuchUpload` if the
    /// upload is gone. Returns the replaced attempt's file.
    fn put_part(&self, upload_id: &str, part: &Part) -> Result<Option<String>>;

    /// The current part attempts of an upload, by number.
    fn parts(&self, upload_id: &str) -> Result<Vec<Part>>;

    /// Completes `upload` into `obj`, which replaces any object of its key; the upload and its
    /// parts go. `NoSuchUpload` if the upload is gone; `InvalidPart` if one of `chosen` is no
    /// longer the current attempt of its number (same file and ETag). Returns the files no row
    /// names any more (the parts' files `obj` does not use, and those a write replaces, as in
    /// [`Catalog::put_object`]) and the version id to answer with.
    fn complete_upload(
        &self,
        upload: &Upload,
        chosen: &[Part],
        obj: &Object,
    ) -> Result<(Vec<String>, Option<String>)>;

    /// Aborts an upload: `NoSuchUpload` if it is gone. Returns its parts' files.
    fn abort_upload(&self, upload_id: &str) -> Result<Vec<String>>;
}
