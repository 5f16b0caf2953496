//! Body files: `tmp/` while written, `objects/` once durable.
//!
//! A body is written to `tmp/<uuid>`, fsynced, renamed to `objects/<uuid>` and the directory is
//! fsynced ([`BodyWriter::commit`]) before any metadata names it; a body file is never rewritten,
//! a new version always gets a new name. This module knows nothing of buckets or rows: the store
//! (`super`) decides which files to keep, this one only writes, names and removes them.
//!
//! # A full disk
//!
//! A write or a commit that fails (`ENOSPC`, `EDQUOT`, an I/O error) fails the request; the
//! writer is then dropped uncommitted and its temp file removed, so nothing of a failed body stays
//! behind and no row ever names it. Tests reach that path without filling a real disk through a
//! [`DiskBudget`] (feature `test-util`): a byte budget shared by every writer of the store, past
//! which a write fails with `ErrorKind::StorageFull`. It is compiled out of normal builds, so the
//! write path of the binary has no extra branch.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
#[cfg(any(test, feature = "test-util"))]
use std::sync::Arc;
#[cfg(any(test, feature = "test-util"))]
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::AsyncWriteExt as _;

use crate::error::{Error, Result};

/// The write buffer of a [`BodyWriter`]: large writes, few syscalls.
const WRITE_BUFFER: usize = 1 << 20;

/// The body directories under a store's data directory.
#[derive(Clone, Debug)]
pub(super) struct BodyDir {
    objects: PathBuf,
    tmp: PathBuf,
    /// The injected disk size (tests only, see the module docs).
    #[cfg(any(test, feature = "test-util"))]
    budget: Option<Arc<DiskBudget>>,
}

/// A simulated disk size for tests (see the module docs): the bytes the store's writers may still
/// write, shared by all of them. Unlimited until [`DiskBudget::fill`] or [`DiskBudget::allow`].
#[cfg(any(test, feature = "test-util"))]
#[derive(Debug)]
pub struct DiskBudget {
    left: AtomicU64,
}

#[cfg(any(test, feature = "test-util"))]
impl Default for DiskBudget {
    fn default() -> Self {
        Self {
            left: AtomicU64::new(u64::MAX),
        }
    }
}

#[cfg(any(test, feature = "test-util"))]
impl DiskBudget {
    /// An unlimited budget.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The disk is full: the next write of any size fails.
    pub fn fill(&self) {
        self.allow(0);
    }

    /// `bytes` more bytes may be written, then writes fail.
    pub fn allow(&self, bytes: u64) {
        self.left.store(bytes, Ordering::SeqCst);
    }

    /// Space again (as after an operator freed some).
    pub fn free(&self) {
        self.allow(u64::MAX);
    }

    /// Takes `n` bytes, or fails as a full disk does (and the disk stays full).
    fn take(&self, n: usize) -> std::io::Result<()> {
        let n = n as u64;
        self.left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(n)
            })
            .map(drop)
            .map_err(|_| {
                self.left.store(0, Ordering::SeqCst);
                std::io::ErrorKind::StorageFull.into()
            })
    }
}

impl BodyDir {
    /// Creates `objects/` and `tmp/` under `dir` and clears `tmp/` (bodies whose writer never
    /// committed, from a crash).
    pub(super) fn open(dir: &Path) -> Result<Self> {
        let objects = dir.join("objects");
        let tmp = dir.join("tmp");
        super::private_fs::create_dir(&objects)?;
        super::private_fs::create_dir(&tmp)?;
        for entry in std::fs::read_dir(&tmp)? {
            let _ = std::fs::remove_file(entry?.path());
        }
        Ok(Self {
            objects,
            tmp,
            #[cfg(any(test, feature = "test-util"))]
            budget: None,
        })
    }

    /// Limits what this store's writers may write (tests, see [`DiskBudget`]).
    #[cfg(any(test, feature = "test-util"))]
    pub(super) fn set_budget(&mut self, budget: Arc<DiskBudget>) {
        self.budget = Some(budget);
    }

    /// The directory of committed body files.
    pub(super) fn objects(&self) -> &Path {
        &self.objects
    }

    /// The path of a body file.
    pub(super) fn path(&self, file: &str) -> PathBuf {
        self.objects.join(file)
    }

    /// Starts writing a new body file.
    pub(super) async fn writer(&self) -> Result<BodyWriter> {
        let name = uuid::Uuid::new_v4().simple().to_string();
        let tmp = self.tmp.join(&name);
        let file = super::private_fs::create_new(&tmp).await?;
        Ok(BodyWriter {
            file: Some(tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file)),
            tmp,
            dest: self.objects.join(&name),
            objects_dir: self.objects.clone(),
            name,
            written: 0,
            committed: false,
            #[cfg(any(test, feature = "test-util"))]
            budget: self.budget.clone(),
        })
    }

    /// Removes body files (a failure is logged: the file is then collected at the next start).
    pub(super) async fn remove(&self, files: Vec<String>) {
        for f in files {
            if let Err(e) = tokio::fs::remove_file(self.objects.join(&f)).await {
                tracing::warn!(file = %f, error = %e, "cannot remove a body file");
            }
        }
    }

    /// Removes every committed body file not in `referenced` (a crash between a body's rename and
    /// its metadata commit, or before a replaced body was removed).
    pub(super) fn remove_unreferenced(&self, referenced: &HashSet<String>) -> Result<()> {
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
    #[cfg(any(test, feature = "test-util"))]
    budget: Option<Arc<DiskBudget>>,
}

impl BodyWriter {
    /// Appends bytes.
    pub async fn write(&mut self, data: &[u8]) -> Result<()> {
        let f = self
            .file
            .as_mut()
            .ok_or_else(|| Error::internal("write after commit"))?;
        #[cfg(any(test, feature = "test-util"))]
        if let Some(budget) = &self.budget {
            budget.take(data.len())?;
        }
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
