//! Owner-only directories and files, whatever the process umask: the data directory holds
//! `gateway.sqlite3` (wrapped data keys, SSE-C verifiers) and unencrypted bodies, so under a umask
//! of 022 none of it may come out group- or world-readable. (The same rule as kms-server's
//! `private_fs`, which the gateway cannot depend on.)

use std::path::Path;

/// Mode of the directories the store creates.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the files the store creates: body files, temp files, the database (SQLite gives its
/// `-wal` and `-shm` files the database file's mode).
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

/// Creates a new owner-only file for writing (a body's temp file): `create_new`, so it never
/// opens a file already there.
pub async fn create_new(path: &Path) -> std::io::Result<tokio::fs::File> {
    let mut opts = tokio::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(FILE_MODE);
    opts.open(path).await
}

/// Sets `path`'s permission bits (the umask only narrows a creation mode, so directories and
/// files made before this rule existed are fixed here).
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
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
