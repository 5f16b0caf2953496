//! Owner-only directories and files, whatever the process umask: the data directory holds
//! `gateway.sqlite3` (wrapped data keys, SSE-C verifiers) and unencrypted bodies, so under a umask
//! of 022 none of it may come out group- or world-readable. The directory and database rules are
//! kms-server's own (linked here already through the embedded KMS), and so is the check a secret
//! file is read through ([`open_private`]: no link, this user's, owner-only); this module adds the
//! body files' exclusive creation.

use std::path::Path;

pub use kms_server::private_fs::{
    DIR_MODE, DirLock, FILE_MODE, create_dir, ensure_file, open_private,
};

/// Creates a new owner-only file for writing (a body's temp file): `create_new`, so it never
/// opens a file already there.
pub async fn create_new(path: &Path) -> std::io::Result<tokio::fs::File> {
    let mut opts = tokio::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(FILE_MODE);
    opts.open(path).await
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn created_owner_only_and_old_files_narrowed() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_dir(&nested).unwrap();
        assert_eq!(mode(&nested), DIR_MODE);
        // A database left world-readable by an earlier version is narrowed.
        let db = nested.join("db");
        std::fs::write(&db, b"x").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        ensure_file(&db).unwrap();
        assert_eq!(
            (mode(&db), std::fs::read(&db).unwrap()),
            (FILE_MODE, b"x".to_vec())
        );
        let body = nested.join("body");
        drop(create_new(&body).await.unwrap());
        assert_eq!(mode(&body), FILE_MODE);
        // Never opens a file already there.
        let e = create_new(&body).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
    }
}
