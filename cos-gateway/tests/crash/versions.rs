//! The crash harness in a bucket with versioning enabled. Besides the writes of the unversioned
//! run (each now a new version), a worker deletes one version by its id and copies from one
//! version by its id; a key's history is kept short (its oldest version is deleted first), so that
//! every version can be read back after every restart. The checks:
//!
//! * a write or DELETE in flight at the kill made at most one new version, at the head of its
//!   key's history (the new bytes, or a delete marker); a DELETE of one version removed it or not;
//! * `GET /?versions` lists exactly the acknowledged versions (and the in-flight ones that took
//!   effect) of every key, newest first, markers where they were made;
//! * every object version reads back by its id (GET and HEAD with `versionId`) with exactly its
//!   bytes, under its own SSE-C key when it has one.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use rand::Rng as _;

use super::{HOST, Model, Pending, Req, Version, Worker, between, send};

/// Entries a key's history holds before its oldest version is deleted.
const MAX_HISTORY: usize = 4;

/// One acknowledged version of a key.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    id: String,
    /// `None`: a delete marker.
    object: Option<Version>,
}

/// One entry of a `GET /?versions` listing.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Listed {
    id: String,
    marker: bool,
    size: Option<usize>,
}

/// Turns versioning on for the bucket.
pub(super) fn enable(addr: SocketAddr, seed: u64) {
    let doc = "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>";
    send(Req::new("PUT", "/?versioning").body(doc), addr, seed).assert_status(200);
}

/// Records an acknowledged version (`object` `None`: a delete marker) at the head of `key`'s
/// history.
pub(super) fn record(model: &mut Model, key: &str, id: &str, object: Option<Version>) {
    let history = model.history.entry(key.to_owned()).or_default();
    assert!(
        history.iter().all(|e| e.id != id),
        "version id {id} of {key} given twice"
    );
    history.insert(
        0,
        Entry {
            id: id.to_owned(),
            object,
        },
    );
    model.most_versions = model.most_versions.max(history.len());
}

/// Removes version `id` of `key` from the model; the key's latest object follows its new head.
fn forget(model: &mut Model, key: &str, id: &str) {
    let history = model.history.entry(key.to_owned()).or_default();
    history.retain(|e| e.id != id);
    match history.first().and_then(|e| e.object.clone()) {
        Some(latest) => model.objects.insert(key.to_owned(), latest),
        None => model.objects.remove(key),
    };
    if history.is_empty() {
        model.history.remove(key);
    }
}

impl Worker {
    /// The versioned operations: `Some(true)` when one was made, `Some(false)` to make one of the
    /// unversioned run's instead, `None` once the gateway is gone.
    pub(super) fn versioned_step(&mut self, key: &str) -> Option<bool> {
        let (history, mine) = {
            let m = self.model.lock().unwrap();
            let prefix = format!("w{}/", self.w);
            let mine: Vec<(String, Entry)> = m
                .history
                .iter()
                .filter(|(k, _)| k.starts_with(&prefix) && *k != key)
                .flat_map(|(k, h)| h.iter().map(|e| (k.clone(), e.clone())))
                .filter(|(_, e)| e.object.is_some())
                .collect();
            (m.history.get(key).cloned().unwrap_or_default(), mine)
        };
        if history.len() >= MAX_HISTORY {
            let oldest = history.last().expect("a full history").id.clone();
            self.delete_version(key, oldest)?;
            return Some(true);
        }
        match self.rng.random_range(0..100) {
            0..15 if !history.is_empty() => {
                let id = history[self.rng.random_range(0..history.len())].id.clone();
                self.delete_version(key, id)?;
            }
            15..30 if !mine.is_empty() => {
                let (src_key, src) = mine[self.rng.random_range(0..mine.len())].clone();
                self.copy_version(key, &src_key, src)?;
            }
            _ => return Some(false),
        }
        Some(true)
    }

    /// DELETE `key?versionId=id`.
    fn delete_version(&mut self, key: &str, id: String) -> Option<()> {
        let target = format!("/{key}?versionId={id}");
        let pending = Pending::DeleteVersion {
            key: key.to_owned(),
            id: id.clone(),
        };
        let r = self.call(pending, Req::new("DELETE", &target))?;
        assert_eq!(
            r.get("x-cos-version-id"),
            Some(id.as_str()),
            "seed {}: DELETE of one version names it",
            self.seed
        );
        self.done(|m| forget(m, key, &id));
        Some(())
    }

    /// PUT Object - Copy to `key` from version `src` of `src_key`, encrypted anew.
    fn copy_version(&mut self, key: &str, src_key: &str, src: Entry) -> Option<()> {
        let from = src.object.expect("a copy source is an object");
        let new = Version {
            bytes: from.bytes.clone(),
            sse: super::Sse::random(&mut self.rng),
        };
        let source = format!("{HOST}/{src_key}?versionId={}", src.id);
        let path = format!("/{key}");
        let req = Req::new("PUT", &path)
            .header("x-cos-copy-source", &source)
            .headers(&from.sse.source_headers())
            .headers(&new.sse.write_headers());
        let pending = Pending::Write {
            key: key.to_owned(),
            new: new.clone(),
        };
        let r = self.call(pending, req)?;
        self.done(|m| m.record_write(key.to_owned(), new, r.get("x-cos-version-id")));
        Some(())
    }
}

/// `GET /?versions`: every key's entries, newest first.
pub(super) fn list(addr: SocketAddr, seed: u64) -> BTreeMap<String, Vec<Listed>> {
    let text = send(Req::new("GET", "/?versions&max-keys=1000"), addr, seed).text();
    assert!(
        text.contains("<IsTruncated>false</IsTruncated>"),
        "seed {seed}: more than one page of versions"
    );
    let mut listed: BTreeMap<String, Vec<Listed>> = BTreeMap::new();
    let mut rest = text.as_str();
    loop {
        let next = ["<Version>", "<DeleteMarker>"]
            .into_iter()
            .filter_map(|open| rest.find(open).map(|at| (at, open)))
            .min();
        let Some((at, open)) = next else { break };
        let close = open.replace('<', "</");
        let end = at + rest[at..].find(&close).expect("a closed entry");
        let entry = &rest[at..end];
        let marker = open == "<DeleteMarker>";
        listed
            .entry(between(entry, "<Key>", "</Key>")[0].to_owned())
            .or_default()
            .push(Listed {
                id: between(entry, "<VersionId>", "</VersionId>")[0].to_owned(),
                marker,
                size: (!marker).then(|| between(entry, "<Size>", "</Size>")[0].parse().unwrap()),
            });
        rest = &rest[end..];
    }
    listed
}

/// The entry the listing has at the head of `key` that the model does not know, if any.
fn new_head<'a>(
    model: &Model,
    listed: &'a BTreeMap<String, Vec<Listed>>,
    key: &str,
) -> Option<&'a Listed> {
    let known = model.history.get(key);
    let head = listed.get(key)?.first()?;
    known
        .is_none_or(|h| h.iter().all(|e| e.id != head.id))
        .then_some(head)
}

/// Settles a call in flight at the kill against the listing; `false` for the calls that change
/// only uploads (the unversioned run's rules apply to them).
pub(super) fn settle(
    addr: SocketAddr,
    model: &mut Model,
    pending: &Pending,
    listed: &BTreeMap<String, Vec<Listed>>,
    listed_uploads: &BTreeMap<String, String>,
    seed: u64,
) -> bool {
    match pending {
        Pending::Write { key, new } | Pending::Complete { key, new, .. } => {
            let made = new_head(model, listed, key).cloned();
            if let Some(head) = &made {
                assert!(
                    !head.marker,
                    "seed {seed}: a write of {key} left a delete marker"
                );
                read_version(addr, key, &head.id, new, seed);
                model.record_write(key.clone(), new.clone(), Some(&head.id));
            }
            if let Pending::Complete { upload, .. } = pending {
                assert_eq!(
                    listed_uploads.contains_key(upload),
                    made.is_none(),
                    "seed {seed}: upload {upload} of {key}: completed {}",
                    made.is_some()
                );
                if made.is_some() {
                    model.uploads.remove(upload);
                }
            }
        }
        Pending::Delete { key } => {
            if let Some(head) = new_head(model, listed, key) {
                assert!(head.marker, "seed {seed}: a DELETE of {key} made an object");
                model.record_delete(key.clone(), Some(&head.id));
            }
        }
        Pending::DeleteVersion { key, id } => {
            let still = listed
                .get(key)
                .is_some_and(|l| l.iter().any(|e| e.id == *id));
            if !still {
                forget(model, key, id);
            }
        }
        Pending::Initiate { .. } | Pending::Abort { .. } | Pending::Part => return false,
    }
    true
}

/// GET and HEAD of `key?versionId=id` return exactly `want`.
fn read_version(addr: SocketAddr, key: &str, id: &str, want: &Version, seed: u64) {
    let target = format!("/{key}?versionId={id}");
    let r = send(
        Req::new("GET", &target).headers(&want.sse.read_headers()),
        addr,
        seed,
    );
    assert_eq!(
        (r.status, r.body.len(), r.get("x-cos-version-id")),
        (200, want.bytes.len(), Some(id)),
        "seed {seed}: GET {target}: {}",
        r.code()
    );
    assert!(
        r.body == *want.bytes,
        "seed {seed}: GET {target}: other bytes"
    );
    let h = send(
        Req::new("HEAD", &target).headers(&want.sse.read_headers()),
        addr,
        seed,
    );
    assert_eq!(
        (h.status, h.get("content-length"), h.get("etag")),
        (
            200,
            Some(want.bytes.len().to_string().as_str()),
            r.get("etag")
        ),
        "seed {seed}: HEAD {target} disagrees with GET"
    );
}

/// The listing shows exactly the model's versions, and every object version reads back by its id.
pub(super) fn check(
    addr: SocketAddr,
    model: &Model,
    listed: &BTreeMap<String, Vec<Listed>>,
    seed: u64,
) {
    let want: BTreeMap<String, Vec<Listed>> = model
        .history
        .iter()
        .map(|(key, h)| {
            let entries = h
                .iter()
                .map(|e| Listed {
                    id: e.id.clone(),
                    marker: e.object.is_none(),
                    size: e.object.as_ref().map(|v| v.bytes.len()),
                })
                .collect();
            (key.clone(), entries)
        })
        .collect();
    assert_eq!(*listed, want, "seed {seed}: the versions listing");
    for (key, history) in &model.history {
        for e in history {
            if let Some(v) = &e.object {
                read_version(addr, key, &e.id, v, seed);
            }
        }
    }
}
