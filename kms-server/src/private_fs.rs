//! Owner-only directories and files, whatever the process umask: the data directory holds the key
//! database (wrapped material, aliases, every key's state), so under a umask of 022 it must not
//! come out world-readable. And the one check every secret file is read through
//! ([`open_private`]: the root key here, the gateway's SSE-C verifier key), so the rules for what
//! may hold a key are written once.

use std::path::Path;

/// Mode of the directories this server creates.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the files this server creates (the database; SQLite gives its `-wal` and `-shm` files
/// the database file's mode).
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) owner-only; an existing directory is left as it is. The
/// new directory's entry is made durable (its parent fsynced), so a power cut right after a first
/// start cannot lose the directory, and the root key in it, while a remote database keeps the
/// root key's verifier.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir)?;
    set_mode(dir, DIR_MODE)?;
    match dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => sync_dir(parent),
        None => sync_dir(Path::new(".")),
    }
}

/// Flushes a directory's entries (a file or directory created or renamed in it) to disk.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
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
        Self::try_acquire_file(&dir.join(LOCK_FILE))
    }

    /// Takes the lock held on the file `path` (created owner-only if absent), or `Ok(None)` when
    /// another holder has it: for a directory shared by more than one kind of owner (the gateway
    /// keeps its own lock next to an embedded KMS's).
    pub fn try_acquire_file(path: &Path) -> std::io::Result<Option<Self>> {
        ensure_file(path)?;
        let file = std::fs::OpenOptions::new().write(true).open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Self { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }
}

/// Opens an existing secret file (a key) for reading, refusing one that someone else could have
/// chosen or read:
///
/// * a symbolic link (`InvalidInput`): whoever can change where it points chooses the secret;
/// * anything but a regular file (`InvalidInput`);
/// * a file owned by another user than this process's effective user (`PermissionDenied`);
/// * a file group or others may read, write or execute (`PermissionDenied`).
///
/// An absent file is `NotFound` (the caller may then create it). The owner and mode are those of
/// the file actually opened, and the file opened must be the one the path named when it was
/// checked (same device and inode), so swapping in a link between the check and the open is
/// refused too. Every message names the path and what to do.
pub fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    let named = std::fs::symlink_metadata(path)?;
    if named.file_type().is_symlink() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link; give the path of the file itself",
                path.display()
            ),
        ));
    }
    if !named.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    let file = std::fs::File::open(path)?;
    check_private(path, &named, &file.metadata()?)?;
    Ok(file)
}

#[cfg(unix)]
fn check_private(
    path: &Path,
    named: &std::fs::Metadata,
    opened: &std::fs::Metadata,
) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let refused = |what: String| {
        std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{} {what}", path.display()),
        )
    };
    if (named.dev(), named.ino()) != (opened.dev(), opened.ino()) {
        return Err(refused(
            "was replaced while it was being opened; try again".into(),
        ));
    }
    let me = rustix::process::geteuid().as_raw();
    if opened.uid() != me {
        return Err(refused(format!(
            "is owned by uid {}, not by this process's user (uid {me}); chown it",
            opened.uid()
        )));
    }
    let mode = opened.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(refused(format!(
            "is readable or writable by group or others (mode {mode:o}); chmod 600 it"
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path, _: &std::fs::Metadata, _: &std::fs::Metadata) -> std::io::Result<()> {
    Ok(())
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

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::{ErrorKind, Read as _};
    use std::os::unix::fs::PermissionsExt as _;

    fn secret(dir: &Path, mode: u32) -> std::path::PathBuf {
        let path = dir.join("secret.key");
        std::fs::write(&path, b"s3cret").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    fn refusal(path: &Path) -> (ErrorKind, String) {
        let e = open_private(path).unwrap_err();
        (e.kind(), e.to_string())
    }

    #[test]
    fn an_owner_only_file_is_opened() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::new();
        open_private(&secret(dir.path(), 0o600))
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "s3cret");
        // Owner-read-only is fine too.
        assert!(open_private(&secret(dir.path(), 0o400)).is_ok());
    }

    #[test]
    fn an_absent_file_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let e = open_private(&dir.path().join("none")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }

    #[test]
    fn a_file_group_or_others_may_access_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o640, 0o604, 0o620, 0o610, 0o602] {
            let path = secret(dir.path(), mode);
            assert_eq!(
                refusal(&path),
                (
                    ErrorKind::PermissionDenied,
                    format!(
                        "{} is readable or writable by group or others (mode {mode:o}); chmod 600 it",
                        path.display()
                    )
                )
            );
        }
    }

    #[test]
    fn a_symbolic_link_is_refused_even_to_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let real = secret(dir.path(), 0o600);
        let link = dir.path().join("link.key");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let expected = (
            ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link; give the path of the file itself",
                link.display()
            ),
        );
        assert_eq!(refusal(&link), expected);
        // A dangling link is a link, not an absent file (the caller must not create through it).
        std::fs::remove_file(&real).unwrap();
        assert_eq!(refusal(&link), expected);
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            refusal(dir.path()),
            (
                ErrorKind::InvalidInput,
                format!("{} is not a regular file", dir.path().display())
            )
        );
    }

    #[test]
    fn a_file_of_another_user_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = secret(dir.path(), 0o600);
        let me = rustix::process::geteuid().as_raw();
        let other = me + 4321;
        // Only root can give a file away. CI runs as root; elsewhere this test checks nothing.
        if std::os::unix::fs::chown(&path, Some(other), None).is_err() {
            return;
        }
        assert_eq!(
            refusal(&path),
            (
                ErrorKind::PermissionDenied,
                format!(
                    "{} is owned by uid {other}, not by this process's user (uid {me}); chown it",
                    path.display()
                )
            )
        );
    }
}
