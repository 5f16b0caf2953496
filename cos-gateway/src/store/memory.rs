//! A [`Catalog`] in memory, for tests: the gateway's operations (and the store's own behaviour
//! checks) run against it without a database file. It keeps the SQLite catalog's contract to the
//! letter (the shared checks in `checks.rs` hold both to it), but nothing survives the process.
//!
//! Built only for tests and with the `test-util` feature, so the release binary does not carry it.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use storage_adapter::BucketEncryption;

use super::{Bucket, Catalog, Object, Part, Pins, ReadPin, Tags, Upload};
use crate::acl::Acl;
use crate::error::{Error, Result};
use crate::restore::Restore;

/// The rows, in maps ordered as the SQLite catalog's queries order them.
#[derive(Debug, Default)]
struct Rows {
    buckets: BTreeMap<String, Bucket>,
    /// By (bucket, key): keys in byte order, as SQLite's `BINARY` collation sorts them.
    objects: BTreeMap<(String, String), Object>,
    uploads: BTreeMap<String, Upload>,
    /// By (upload id, part number).
    parts: BTreeMap<(String, u32), Part>,
}

impl Rows {
    /// `NoSuchUpload` unless upload `id` still exists.
    fn require_live(&self, id: &str) -> Result<()> {
        if self.uploads.contains_key(id) {
            Ok(())
        } else {
            Err(Error::NoSuchUpload)
        }
    }

    /// The parts of upload `id`, by number.
    fn parts_of<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Part> + 'a {
        self.parts
            .range((id.to_owned(), 0)..=(id.to_owned(), u32::MAX))
            .map(|(_, p)| p)
    }

    /// Removes the parts of upload `id`; returns their files.
    fn remove_parts(&mut self, id: &str) -> Vec<String> {
        let numbers: Vec<u32> = self.parts_of(id).map(|p| p.number).collect();
        numbers
            .into_iter()
            .filter_map(|n| self.parts.remove(&(id.to_owned(), n)))
            .map(|p| p.file)
            .collect()
    }

    /// Inserts or replaces an object; returns the replaced object's files.
    fn replace_object(&mut self, bucket: &str, key: &str, obj: &Object) -> Vec<String> {
        self.objects
            .insert((bucket.to_owned(), key.to_owned()), obj.clone())
            .map(|old| old.files)
            .unwrap_or_default()
    }
}

/// The metadata in memory (see the module docs).
#[derive(Debug, Default)]
pub struct MemoryCatalog {
    rows: Mutex<Rows>,
}

impl MemoryCatalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Rows> {
        // Every method checks before it changes anything, so a panic leaves the maps consistent.
        self.rows.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An object as a listing shows it: no envelope, no files, no ACL.
fn listed(obj: &Object) -> Object {
    Object {
        envelope: None,
        files: Vec::new(),
        acl: None,
        ..obj.clone()
    }
}

impl Catalog for MemoryCatalog {
    fn referenced_files(&self) -> Result<HashSet<String>> {
        let rows = self.lock();
        let objects = rows.objects.values().flat_map(|o| o.files.iter().cloned());
        let parts = rows.parts.values().map(|p| p.file.clone());
        Ok(objects.chain(parts).collect())
    }

    fn bucket(&self, name: &str) -> Result<Option<Bucket>> {
        Ok(self.lock().buckets.get(name).cloned())
    }

    fn buckets(&self) -> Result<Vec<Bucket>> {
        Ok(self
            .lock()
            .buckets
            .values()
            .map(|b| Bucket {
                encryption: None,
                acl: None,
                ..b.clone()
            })
            .collect())
    }

    fn create_bucket(&self, name: &str, now: i64) -> Result<bool> {
        let mut rows = self.lock();
        if rows.buckets.contains_key(name) {
            return Ok(false);
        }
        let bucket = Bucket {
            name: name.to_owned(),
            created: now,
            encryption: None,
            acl: None,
        };
        rows.buckets.insert(name.to_owned(), bucket);
        Ok(true)
    }

    fn delete_bucket(&self, name: &str) -> Result<()> {
        let mut rows = self.lock();
        if rows.objects.keys().any(|(b, _)| b == name)
            || rows.uploads.values().any(|u| u.bucket == name)
        {
            return Err(Error::BucketNotEmpty);
        }
        rows.buckets
            .remove(name)
            .map(drop)
            .ok_or(Error::NoSuchBucket)
    }

    fn set_bucket_encryption(&self, name: &str, enc: Option<&BucketEncryption>) -> Result<()> {
        let mut rows = self.lock();
        let bucket = rows.buckets.get_mut(name).ok_or(Error::NoSuchBucket)?;
        bucket.encryption = enc.cloned();
        Ok(())
    }

    fn set_bucket_acl(&self, name: &str, acl: Option<&Acl>) -> Result<()> {
        let mut rows = self.lock();
        let bucket = rows.buckets.get_mut(name).ok_or(Error::NoSuchBucket)?;
        bucket.acl = acl.cloned();
        Ok(())
    }

    fn object(&self, bucket: &str, key: &str) -> Result<Option<Object>> {
        let rows = self.lock();
        Ok(rows
            .objects
            .get(&(bucket.to_owned(), key.to_owned()))
            .cloned())
    }

    fn object_pinned(
        &self,
        bucket: &str,
        key: &str,
        pins: &Pins,
    ) -> Result<Option<(Object, ReadPin)>> {
        let rows = self.lock();
        Ok(rows
            .objects
            .get(&(bucket.to_owned(), key.to_owned()))
            .map(|obj| (obj.clone(), pins.pin(obj.files.clone()))))
    }

    fn put_object(&self, bucket: &str, key: &str, obj: &Object) -> Result<Vec<String>> {
        let mut rows = self.lock();
        if !rows.buckets.contains_key(bucket) {
            return Err(Error::NoSuchBucket);
        }
        Ok(rows.replace_object(bucket, key, obj))
    }

    fn set_object_tags(&self, bucket: &str, key: &str, tags: &Tags) -> Result<bool> {
        let mut rows = self.lock();
        match rows.objects.get_mut(&(bucket.to_owned(), key.to_owned())) {
            Some(obj) => {
                obj.tags = tags.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn set_object_acl(&self, bucket: &str, key: &str, acl: Option<&Acl>) -> Result<bool> {
        let mut rows = self.lock();
        match rows.objects.get_mut(&(bucket.to_owned(), key.to_owned())) {
            Some(obj) => {
                obj.acl = acl.cloned();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn set_object_restore(&self, bucket: &str, key: &str, restore: Restore) -> Result<bool> {
        let mut rows = self.lock();
        match rows.objects.get_mut(&(bucket.to_owned(), key.to_owned())) {
            Some(obj) => {
                obj.restore = Some(restore);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn delete_object(&self, bucket: &str, key: &str) -> Result<Vec<String>> {
        let mut rows = self.lock();
        Ok(rows
            .objects
            .remove(&(bucket.to_owned(), key.to_owned()))
            .map(|old| old.files)
            .unwrap_or_default())
    }

    fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        marker: &str,
        limit: usize,
    ) -> Result<Vec<(String, Object)>> {
        let rows = self.lock();
        let after = (bucket.to_owned(), marker.to_owned());
        Ok(rows
            .objects
            .range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
            .take_while(|((b, _), _)| b == bucket)
            .filter(|((_, k), _)| k.starts_with(prefix))
            .take(limit)
            .map(|((_, k), o)| (k.clone(), listed(o)))
            .collect())
    }

    fn create_upload(&self, upload: &Upload) -> Result<()> {
        let mut rows = self.lock();
        if rows.uploads.contains_key(&upload.upload_id) {
            return Err(Error::internal(format!(
                "upload id {} exists",
                upload.upload_id
            )));
        }
        rows.uploads
            .insert(upload.upload_id.clone(), upload.clone());
        Ok(())
    }

    fn upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<Upload> {
        self.lock()
            .uploads
            .get(upload_id)
            .filter(|u| u.bucket == bucket && u.key == key)
            .cloned()
            .ok_or(Error::NoSuchUpload)
    }

    fn list_uploads(&self, bucket: &str, prefix: &str) -> Result<Vec<Upload>> {
        let rows = self.lock();
        let mut found: Vec<Upload> = rows
            .uploads
            .values()
            .filter(|u| u.bucket == bucket && u.key.starts_with(prefix))
            .map(|u| Upload {
                envelope: None,
                acl: None,
                ..u.clone()
            })
            .collect();
        found.sort_by(|a, b| (&a.key, a.initiated).cmp(&(&b.key, b.initiated)));
        Ok(found)
    }

    fn put_part(&self, upload_id: &str, part: &Part) -> Result<Option<String>> {
        let mut rows = self.lock();
        rows.require_live(upload_id)?;
        Ok(rows
            .parts
            .insert((upload_id.to_owned(), part.number), part.clone())
            .map(|old| old.file))
    }

    fn parts(&self, upload_id: &str) -> Result<Vec<Part>> {
        Ok(self.lock().parts_of(upload_id).cloned().collect())
    }

    fn complete_upload(
        &self,
        upload: &Upload,
        chosen: &[Part],
        obj: &Object,
    ) -> Result<Vec<String>> {
        let id = &upload.upload_id;
        let mut rows = self.lock();
        rows.require_live(id)?;
        for p in chosen {
            let current = rows.parts.get(&(id.clone(), p.number));
            if current.is_none_or(|c| c.file != p.file || c.etag != p.etag) {
                return Err(Error::InvalidPart(format!(
                    "part {} was uploaded again or removed during the completion",
                    p.number
                )));
            }
        }
        let mut garbage: Vec<String> = rows
            .remove_parts(id)
            .into_iter()
            .filter(|f| !obj.files.contains(f))
            .collect();
        garbage.extend(rows.replace_object(&upload.bucket, &upload.key, obj));
        rows.uploads.remove(id);
        Ok(garbage)
    }

    fn abort_upload(&self, upload_id: &str) -> Result<Vec<String>> {
        let mut rows = self.lock();
        rows.require_live(upload_id)?;
        rows.uploads.remove(upload_id);
        Ok(rows.remove_parts(upload_id))
    }
}
