//! Body files: `tmp/` while written, `objects/` once durable.
//!
//! A body is written to `tmp/<uuid>`, fsynced, renamed to `objects/<uuid>` and the directory is
//! fsynced ([`BodyWriter::commit`]) before any metadata names it; a body file is never rewritten,
//! a new version always gets a new name. This module knows nothing of buckets or rows: the store
//! (`super`) decides which files to keep, this one only writes, names and removes them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt as _;

use crate::error::{Error, Result};

/// The write buffer of a [`BodyWriter`]: large writes, few syscalls.
const WRITE_BUFFER: usize = 1 << 20;

/// The body directories under a store's data directory.
#[derive(Clone, Debug)]
pub(super) struct BodyDir {
    objects: PathBuf,
    tmp: PathBuf,
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
        Ok(Self { objects, tmp })
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
