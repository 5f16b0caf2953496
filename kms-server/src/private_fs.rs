//! Owner-only directories and files, whatever the process umask: the data directory holds the key
//! database (wrapped material, aliases, every key's state), so under a umask of 022 it must not
//! come out world-readable.

use std::path::Path;

/// Mode of the directories this server creates.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the files this server creates (the database; SQLite gives its `-wal` and `-shm` files
/// the database file's mode).
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) owner-only; an existing directory is left as it is.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir)?;
    set_mode(dir, DIR_MODE)
}

/// Creates `path` empty and owner-only if it does not exist, and takes group and other access
/// away from it if it does (a database made by an earlier version under the umask).
pub fn ensure_file(path: &Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, FILE_MODE);
    drop(opts.open(path)?);
    set_mode(path, FILE_MODE)
}

/// Name of the lock file in a data directory.
pub const LOCK_FILE: &str = "kms.lock";

/// An exclusive hold on a data directory for as long as it lives (an advisory lock on
/// [`LOCK_FILE`], released by the OS when the process ends, even by SIGKILL).
#[derive(Debug)]
pub struct DirLock {
    _file: std::fs::File,
}

impl DirLock {
    /// Takes the lock of `dir`, or `Ok(None)` when another process (or another open store in this
    /// one) holds it.
    pub fn try_acquire(dir: &Path) -> std::io::Result<Option<Self>> {
        let path = dir.join(LOCK_FILE);
        ensure_file(&path)?;
        let file = std::fs::OpenOptions::new().write(true).open(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Self { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}
