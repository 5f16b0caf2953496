//! Read pins: a body being read keeps its files on disk until the last reader lets go.
//!
//! An overwrite or a delete that lands while a GET streams a body must not pull the files from
//! under it (a multipart body's later parts are opened late). So the store asks [`Pins`] before it
//! removes replaced files: a file nobody reads goes at once, a file being read is marked doomed and
//! removed when its last [`ReadPin`] drops. Apart from the metadata and the file I/O because it is
//! the one piece of state shared by both, and its rule (count, defer, remove at zero) stands alone.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Body files being read, and those whose removal waits for their last reader.
#[derive(Debug, Default)]
struct Readers {
    open: HashMap<String, usize>,
    doomed: HashSet<String>,
}

/// The registry of pinned body files of one body directory.
#[derive(Clone, Debug)]
pub struct Pins {
    readers: Arc<Mutex<Readers>>,
    objects: PathBuf,
}

impl Pins {
    /// The registry for body files under `objects`.
    pub(super) fn new(objects: PathBuf) -> Self {
        Self {
            readers: Arc::default(),
            objects,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Readers> {
        // Every update is a few map operations that leave the maps consistent, even after a panic.
        self.readers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Pins `files` until the returned [`ReadPin`] drops. A metadata backend calls it while it still
    /// holds the lock under which it read the row naming `files`, so no commit can replace the row
    /// and remove the files between the read and the pin.
    pub fn pin(&self, files: Vec<String>) -> ReadPin {
        {
            let mut r = self.lock();
            for f in &files {
                *r.open.entry(f.clone()).or_default() += 1;
            }
        }
        ReadPin {
            pins: self.clone(),
            files,
        }
    }

    /// Of `files` (no longer named by the metadata), those nobody reads: to remove now. The others
    /// are removed when their last [`ReadPin`] drops.
    pub(super) fn unpinned(&self, files: Vec<String>) -> Vec<String> {
        let mut r = self.lock();
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
    }
}

/// Keeps an object's body files on disk while it is read (see the module docs). Dropping it removes
/// the files that were replaced or deleted meanwhile.
#[derive(Debug)]
pub struct ReadPin {
    pins: Pins,
    files: Vec<String>,
}

impl Drop for ReadPin {
    fn drop(&mut self) {
        let mut r = self.pins.lock();
        for f in &self.files {
            let Some(n) = r.open.get_mut(f) else {
                continue;
            };
            *n -= 1;
            if *n == 0 {
                r.open.remove(f);
                if r.doomed.remove(f)
                    && let Err(e) = std::fs::remove_file(self.pins.objects.join(f))
                {
                    tracing::warn!(file = %f, error = %e, "cannot remove a body file");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_file_is_removed_by_its_last_reader() {
        let dir = tempfile::tempdir().unwrap();
        let pins = Pins::new(dir.path().to_owned());
        for f in ["a", "b"] {
            std::fs::write(dir.path().join(f), f).unwrap();
        }
        let first = pins.pin(vec!["a".into()]);
        let second = pins.pin(vec!["a".into()]);
        assert_eq!(pins.unpinned(vec!["a".into(), "b".into()]), vec!["b"]);
        drop(first);
        assert!(dir.path().join("a").exists(), "a reader still holds it");
        drop(second);
        assert!(!dir.path().join("a").exists());
        // A pin of a file nobody dooms leaves it in place.
        drop(pins.pin(vec!["b".into()]));
        assert!(dir.path().join("b").exists());
    }
}
