//! A [`Catalog`] in memory, for tests: the gateway's operations (and the store's own behaviour
//! checks) run against it without a database file. It keeps the SQLite catalog's contract to the
//! letter (the shared checks in `checks.rs` hold both to it), but nothing survives the process.
//!
//! Built only for tests and with the `test-util` feature, so the release binary does not carry it.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use storage_adapter::BucketEncryption;

use super::versions::{Deleted, Entry, Version, Versioning, WritePlan, shown};
use super::{Bucket, Catalog, Object, ObjectUpdate, Part, Pins, ReadPin, Upload};
use crate::acl::Acl;
use crate::error::{Error, Result};

/// The rows, in maps ordered as the SQLite catalog's queries order them.
#[derive(Debug, Default)]
struct Rows {
    buckets: BTreeMap<String, Bucket>,
    /// By (bucket, key): keys in byte order, as SQLite's `BINARY` collation sorts them.
    objects: BTreeMap<(String, String), Object>,
    /// The noncurrent history of each key that has one, newest first (see [`super::versions`]).
    history: BTreeMap<(String, String), Vec<Entry>>,
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

    /// Writes `new` (an object, or a delete marker when `None`) as the latest version of
    /// `bucket`/`key` by the bucket's state ([`WritePlan`]); a marker in a bucket never versioned
    /// only removes the object. Returns the files no row names any more and the id to answer with.
    fn write_version(
        &mut self,
        bucket: &str,
        key: &str,
        new: Option<&Object>,
        modified: i64,
    ) -> (Vec<String>, Option<String>) {
        let state = self
            .buckets
            .get(bucket)
            .map_or(Versioning::Unversioned, |b| b.versioning);
        let plan = WritePlan::new(state);
        let k = (bucket.to_owned(), key.to_owned());
        let mut garbage = Vec::new();
        if plan.drop_null {
            if self.objects.get(&k).is_some_and(|o| o.version_id.is_none()) {
                garbage.extend(self.objects.remove(&k).map(|o| o.files).unwrap_or_default());
            }
            if let Some(h) = self.history.get_mut(&k) {
                h.retain(|e| {
                    let null = e.version_id().is_none();
                    if null {
                        garbage.extend(e.files());
                    }
                    !null
                });
            }
        }
        if let Some(current) = self.objects.remove(&k) {
            if plan.archive {
                self.history
                    .entry(k.clone())
                    .or_default()
                    .insert(0, Entry::Object(current));
            } else {
                garbage.extend(current.files);
            }
        }
        match new {
            Some(obj) => {
                let obj = Object {
                    version_id: plan.id.clone(),
                    ..obj.clone()
                };
                self.objects.insert(k.clone(), obj);
            }
            None if state != Versioning::Unversioned => {
                let marker = Entry::DeleteMarker {
                    version_id: plan.id.clone(),
                    modified,
                };
                self.history.entry(k.clone()).or_default().insert(0, marker);
            }
            None => {}
        }
        if self.history.get(&k).is_some_and(Vec::is_empty) {
            self.history.remove(&k);
        }
        (garbage, plan.answer)
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
        let history = rows.history.values().flatten().flat_map(Entry::files);
        let parts = rows.parts.values().map(|p| p.file.clone());
        Ok(objects.chain(history).chain(parts).collect())
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
            versioning: Versioning::Unversioned,
        };
        rows.buckets.insert(name.to_owned(), bucket);
        Ok(true)
    }

    fn delete_bucket(&self, name: &str) -> Result<()> {
        let mut rows = self.lock();
        if rows.objects.keys().any(|(b, _)| b == name)
            || rows.history.keys().any(|(b, _)| b == name)
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

    fn set_bucket_versioning(&self, name: &str, state: Versioning) -> Result<()> {
        let mut rows = self.lock();
        let bucket = rows.buckets.get_mut(name).ok_or(Error::NoSuchBucket)?;
        bucket.versioning = state;
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

    fn put_object(
        &self,
        bucket: &str,
        key: &str,
        obj: &Object,
    ) -> Result<(Vec<String>, Option<String>)> {
        let mut rows = self.lock();
        if !rows.buckets.contains_key(bucket) {
            return Err(Error::NoSuchBucket);
        }
        Ok(rows.write_version(bucket, key, Some(obj), obj.modified))
    }

    fn update_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        update: &ObjectUpdate,
    ) -> Result<bool> {
        let mut rows = self.lock();
        let k = (bucket.to_owned(), key.to_owned());
        let Rows {
            objects, history, ..
        } = &mut *rows;
        let current = objects
            .get_mut(&k)
            .filter(|o| version_id.is_none_or(|v| shown(o.version_id.as_deref()) == v));
        let found = match (current, version_id) {
            (Some(obj), _) => Some(obj),
            (None, None) => None,
            (None, Some(v)) => history
                .get_mut(&k)
                .into_iter()
                .flatten()
                .find_map(|e| match e {
                    Entry::Object(o) if shown(o.version_id.as_deref()) == v => Some(o),
                    _ => None,
                }),
        };
        let Some(obj) = found else {
            return Ok(false);
        };
        match update {
            ObjectUpdate::Tags(tags) => obj.tags = tags.clone(),
            ObjectUpdate::Acl(acl) => obj.acl = acl.clone(),
            ObjectUpdate::Restore(r) => obj.restore = Some(*r),
        }
        Ok(true)
    }

    fn delete_object(&self, bucket: &str, key: &str) -> Result<(Vec<String>, Deleted)> {
        let mut rows = self.lock();
        let (garbage, version_id) = rows.write_version(bucket, key, None, crate::wire::now_secs());
        let marker = version_id.is_some();
        Ok((garbage, Deleted { version_id, marker }))
    }

    fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<(Vec<String>, Deleted)> {
        let mut rows = self.lock();
        let k = (bucket.to_owned(), key.to_owned());
        let mut deleted = Deleted {
            version_id: Some(version_id.to_owned()),
            marker: false,
        };
        if rows
            .objects
            .get(&k)
            .is_some_and(|o| super::versions::shown(o.version_id.as_deref()) == version_id)
        {
            let files = rows.objects.remove(&k).map(|o| o.files).unwrap_or_default();
            // The newest noncurrent object version becomes current, unless a marker is newer.
            if let Some(h) = rows.history.get_mut(&k)
                && matches!(h.first(), Some(Entry::Object(_)))
                && let Entry::Object(next) = h.remove(0)
            {
                rows.objects.insert(k.clone(), next);
            }
            if rows.history.get(&k).is_some_and(Vec::is_empty) {
                rows.history.remove(&k);
            }
            return Ok((files, deleted));
        }
        let Some(h) = rows.history.get_mut(&k) else {
            return Ok((Vec::new(), deleted));
        };
        let Some(i) = h.iter().position(|e| e.is(version_id)) else {
            return Ok((Vec::new(), deleted));
        };
        let gone = h.remove(i);
        deleted.marker = matches!(gone, Entry::DeleteMarker { .. });
        // A marker that was the latest leaves the newest object version current.
        if i == 0
            && !rows.objects.contains_key(&k)
            && let Some(h) = rows.history.get_mut(&k)
            && matches!(h.first(), Some(Entry::Object(_)))
            && let Entry::Object(next) = h.remove(0)
        {
            rows.objects.insert(k.clone(), next);
        }
        if rows.history.get(&k).is_some_and(Vec::is_empty) {
            rows.history.remove(&k);
        }
        Ok((gone.files(), deleted))
    }

    fn version_pinned(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        pins: &Pins,
    ) -> Result<Option<(Entry, ReadPin)>> {
        let rows = self.lock();
        let k = (bucket.to_owned(), key.to_owned());
        let current = rows.objects.get(&k).cloned().map(Entry::Object);
        let found = current
            .into_iter()
            .chain(rows.history.get(&k).into_iter().flatten().cloned())
            .find(|e| e.is(version_id));
        Ok(found.map(|e| {
            let pin = pins.pin(e.files());
            (e, pin)
        }))
    }

    fn latest_marker(&self, bucket: &str, key: &str) -> Result<Option<String>> {
        let rows = self.lock();
        let k = (bucket.to_owned(), key.to_owned());
        if rows.objects.contains_key(&k) {
            return Ok(None);
        }
        Ok(match rows.history.get(&k).and_then(|h| h.first()) {
            Some(Entry::DeleteMarker { version_id, .. }) => {
                Some(super::versions::shown(version_id.as_deref()).to_owned())
            }
            _ => None,
        })
    }

    fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        key_marker: &str,
        version_marker: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Version>> {
        let rows = self.lock();
        let mut keys: Vec<&String> = rows
            .objects
            .keys()
            .chain(rows.history.keys())
            .filter(|(b, k)| b == bucket && k.starts_with(prefix) && k.as_str() >= key_marker)
            .map(|(_, k)| k)
            .collect();
        keys.sort();
        keys.dedup();
        let mut out = Vec::new();
        for key in keys {
            let k = (bucket.to_owned(), key.clone());
            let current = rows.objects.get(&k).cloned().map(Entry::Object);
            let all: Vec<Entry> = current
                .into_iter()
                .chain(rows.history.get(&k).into_iter().flatten().cloned())
                .collect();
            let skip = if key == key_marker {
                match version_marker {
                    None => all.len(),
                    Some(v) => all
                        .iter()
                        .position(|e| e.is(v))
                        .map_or(all.len(), |i| i + 1),
                }
            } else {
                0
            };
            for (i, entry) in all.into_iter().enumerate().skip(skip) {
                if out.len() == limit {
                    return Ok(out);
                }
                let entry = match entry {
                    Entry::Object(o) => Entry::Object(listed(&o)),
                    marker => marker,
                };
                out.push(Version {
                    key: key.clone(),
                    latest: i == 0,
                    entry,
                });
            }
        }
        Ok(out)
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
    ) -> Result<(Vec<String>, Option<String>)> {
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
        let (replaced, version) =
            rows.write_version(&upload.bucket, &upload.key, Some(obj), obj.modified);
        garbage.extend(replaced);
        rows.uploads.remove(id);
        Ok((garbage, version))
    }

    fn abort_upload(&self, upload_id: &str) -> Result<Vec<String>> {
        let mut rows = self.lock();
        rows.require_live(upload_id)?;
        rows.uploads.remove(upload_id);
        Ok(rows.remove_parts(upload_id))
    }
}
