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
//! with the one that won). A crash leaves either no key file or a complete one. A key file that
//! group or others may read, or that is not exactly 32 bytes, is refused rather than used.

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

/// Reads an existing key file: owner-only, exactly [`VerifierKey::LEN`] bytes.
fn load(path: &Path) -> std::io::Result<VerifierKey> {
    let mut f = std::fs::File::open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if f.metadata()?.permissions().mode() & 0o077 != 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{} is readable or writable by group or others; make it owner-only (chmod 600)",
                    path.display()
                ),
            ));
        }
    }
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
        assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied);
        assert!(e.to_string().contains("chmod 600"), "{e}");
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
