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
//! with the one that won). A crash leaves either no key file or a complete one. A key file that is
//! a symbolic link (whoever can repoint it chooses the key), is owned by another user, may be read
//! or written by group or others, or is not exactly 32 bytes is refused rather than used (the
//! first three are kms-server's rule for every secret file, `private_fs::open_private`).

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
        loaded => return loaded,
    }
    let key = VerifierKey::random().map_err(std::io::Error::other)?;
    let tmp = dir.join(format!("{FILE}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let published =
        write_new(&tmp, key.expose_secret()).and_then(|()| std::fs::hard_link(&tmp, &path));
    // The temporary name goes whatever happened; the key stays under the final name only.
    let _ = std::fs::remove_file(&tmp);
    match published {
        Ok(()) => {
            std::fs::File::open(dir)?.sync_all()?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load(&path),
        Err(e) => Err(e),
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
