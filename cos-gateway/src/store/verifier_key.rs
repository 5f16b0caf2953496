//! The SSE-C verifier key's file, `ssec-verifier.key` in the data directory: 32 random bytes made
//! at the first start and loaded at every later one.
//!
//! Version-2 SSE-C envelopes recognise the customer key by an HMAC under this key (see
//! `storage_adapter::verifier`), so losing it makes every SSE-C object unreadable, and it lives
//! beside the catalog, not in it (a dump of the metadata alone then says nothing about the keys).
//!
//! The file is created owner-only (0600) and published atomically: the bytes go to a fresh
//! temporary file (exclusive creation), are synced, and the file is hard-linked to its final name,
//! which fails rather than replace a key already there (two gateways starting at once both end up
//! with the one that won). A crash leaves either no key file or a complete one (and perhaps a
//! temporary file, removed at the next start). A key file that is a symbolic link (whoever can
//! repoint it chooses the key), is owned by another user, may be read or written by group or
//! others, or is not exactly 32 bytes is refused rather than used (the first three are
//! kms-server's rule for every secret file, `private_fs::open_private`).

use std::io::{Read as _, Write as _};
use std::path::Path;

use storage_adapter::VerifierKey;
use zeroize::Zeroizing;

/// Name of the key file in the data directory.
pub const FILE: &str = "ssec-verifier.key";

/// Loads the data directory's verifier key, creating it on the first start.
pub fn load_or_create(dir: &Path) -> std::io::Result<VerifierKey> {
    let path = dir.join(FILE);
    match load(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Ok(key) => {
            remove_stale_temporaries(dir);
            return Ok(key);
        }
        failed => return failed,
    }
    let key = VerifierKey::random().map_err(std::io::Error::other)?;
    let tmp = dir.join(format!(
        "{FILE}.{}{TEMPORARY_SUFFIX}",
        uuid::Uuid::new_v4().simple()
    ));
    let published =
        write_new(&tmp, key.expose_secret()).and_then(|()| std::fs::hard_link(&tmp, &path));
    // The temporary name goes whatever happened; the key stays under the final name only.
    let _ = std::fs::remove_file(&tmp);
    match published {
        Ok(()) => {
            std::fs::File::open(dir)?.sync_all()?;
            // Those of a kill before an earlier link.
            remove_stale_temporaries(dir);
            Ok(key)
        }
        // Another gateway made the key first (and, finding it, may have removed this temporary
        // file as a leftover before the link).
        Err(e)
            if e.kind() == std::io::ErrorKind::AlreadyExists
                || (e.kind() == std::io::ErrorKind::NotFound && path.exists()) =>
        {
            load(&path)
        }
        Err(e) => Err(e),
    }
}

/// The end of a temporary key file's name, `<FILE>.<uuid>.tmp`.
const TEMPORARY_SUFFIX: &str = ".tmp";

/// Whether `name` is a temporary key file's.
fn is_temporary(name: &str) -> bool {
    name.strip_prefix(FILE)
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|rest| rest.ends_with(TEMPORARY_SUFFIX))
}

/// Removes the temporary files a kill during [`load_or_create`] left (between writing one and
/// removing it, before or after the link): each holds a verifier key, the one in use or one never
/// used, and must not outlive the crash. Called only once the key file exists, when no gateway can
/// still link its temporary file into place (one that finds its file gone loads the existing key
/// instead). Best effort: a file that cannot be removed is logged.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if is_temporary(&file) {
            tracing::warn!(
                file,
                "removing a temporary SSE-C verifier key file left by a crash"
            );
            if let Err(e) = std::fs::remove_file(entry.path()) {
                tracing::warn!(file, error = %e, "cannot remove a temporary key file");
            }
        }
    }
}

/// Writes `bytes` to a new owner-only file and syncs it.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, super::private_fs::FILE_MODE);
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Reads an existing key file: a regular file of this user's, owner-only, exactly
/// [`VerifierKey::LEN`] bytes.
fn load(path: &Path) -> std::io::Result<VerifierKey> {
    let mut f = super::private_fs::open_private(path)?;
    // One byte more than a key, so a longer file is noticed.
    let mut buf = Zeroizing::new([0u8; VerifierKey::LEN + 1]);
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            r => n += r,
        }
    }
    VerifierKey::from_slice(&buf[..n]).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is not {} bytes", path.display(), VerifierKey::LEN),
        )
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_once_owner_only_then_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        let path = dir.path().join(FILE);
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), first.expose_secret());
        let again = load_or_create(dir.path()).unwrap();
        assert_eq!(again.expose_secret(), first.expose_secret());
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [FILE]);
        // Another directory gets another key.
        let other = tempfile::tempdir().unwrap();
        assert_ne!(
            load_or_create(other.path()).unwrap().expose_secret(),
            first.expose_secret()
        );
    }

    #[test]
    fn temporary_key_files_a_kill_left_are_removed_at_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        // A kill after the link and before the temporary file's removal, and one before the link
        // (a key never used); files of other names stay.
        let leftover = format!("{FILE}.0123456789abcdef0123456789abcdef.tmp");
        std::fs::copy(dir.path().join(FILE), dir.path().join(&leftover)).unwrap();
        write_new(&dir.path().join(format!("{FILE}.ffff.tmp")), &[1; 32]).unwrap();
        std::fs::write(dir.path().join("other.tmp"), "x").unwrap();
        let again = load_or_create(dir.path()).unwrap();
        assert_eq!(again.expose_secret(), first.expose_secret());
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["other.tmp", FILE]);
        // A kill before the link of the very first key: the next start makes the key file and
        // removes the leftover.
        let fresh = tempfile::tempdir().unwrap();
        write_new(&fresh.path().join(format!("{FILE}.0f.tmp")), &[2; 32]).unwrap();
        load_or_create(fresh.path()).unwrap();
        let names: Vec<_> = std::fs::read_dir(fresh.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, [FILE]);
    }

    #[test]
    fn a_key_file_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        load_or_create(dir.path()).unwrap();
        let path = dir.path().join(FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = load_or_create(dir.path()).unwrap_err();
        assert_eq!(
            (e.kind(), e.to_string()),
            (
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{} is readable or writable by group or others (mode 640); chmod 600 it",
                    path.display()
                )
            )
        );
    }

    #[test]
    fn a_key_file_that_is_a_symbolic_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        // A private key file elsewhere, then the data directory's name pointing at it.
        let elsewhere = tempfile::tempdir().unwrap();
        let real = load_or_create(elsewhere.path()).unwrap();
        let path = dir.path().join(FILE);
        std::os::unix::fs::symlink(elsewhere.path().join(FILE), &path).unwrap();
        let expected = (
            std::io::ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link; give the path of the file itself",
                path.display()
            ),
        );
        let e = load_or_create(dir.path()).unwrap_err();
        assert_eq!((e.kind(), e.to_string()), expected);
        // Dangling, it is still refused: no key is created through it, the target stays absent.
        std::fs::remove_file(elsewhere.path().join(FILE)).unwrap();
        let e = load_or_create(dir.path()).unwrap_err();
        assert_eq!((e.kind(), e.to_string()), expected);
        assert!(!elsewhere.path().join(FILE).exists());
        drop(real);
    }

    #[test]
    fn a_key_file_of_another_user_is_refused() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().unwrap();
        load_or_create(dir.path()).unwrap();
        let path = dir.path().join(FILE);
        let me = std::fs::metadata(dir.path()).unwrap().uid();
        let other = me + 4321;
        // Only root can give a file away. CI runs as root; elsewhere this test checks nothing.
        if std::os::unix::fs::chown(&path, Some(other), None).is_err() {
            return;
        }
        let e = load_or_create(dir.path()).unwrap_err();
        assert_eq!(
            (e.kind(), e.to_string()),
            (
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{} is owned by uid {other}, not by this process's user (uid {me}); chown it",
                    path.display()
                )
            )
        );
    }

    #[test]
    fn a_key_file_of_the_wrong_length_is_refused() {
        for len in [0usize, 31, 33] {
            let dir = tempfile::tempdir().unwrap();
            write_new(&dir.path().join(FILE), &vec![7u8; len]).unwrap();
            let e = load_or_create(dir.path()).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{len}");
            assert!(e.to_string().ends_with("is not 32 bytes"), "{e}");
        }
    }
}
