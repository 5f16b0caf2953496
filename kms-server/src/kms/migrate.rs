//! Copying a whole key store into another (`kms-server migrate --from sqlite:PATH --to
//! postgres://...`): how a single server's SQLite file becomes the shared database of replicas.
//!
//! Everything is copied as stored: the wrapped key material stays wrapped (it is bound to its key
//! id and version and to the root key, not to the store), so no root key is needed and no key
//! material is ever in clear here. The store's own settings (the root key check, the default and
//! SSE-COS key ids) go first, then every key with all its versions in one transaction
//! ([`KeyStore::apply_seed`]). The destination must hold no key: a half-finished copy (settings
//! written, keys not) can be run again, a finished one cannot be applied twice, and an existing
//! database is never merged into.

use std::path::Path;

use super::{META_DEFAULT_KEY, META_ROOT_CHECK, META_SSE_COS_KEY};
use crate::error::{Error, Result};
use crate::store::postgres::{PostgresOptions, PostgresStore, StartLock};
use crate::store::sqlite::SqliteStore;
use crate::store::{Database, KeyStore, KeyWrite};

/// What a migration copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    /// Keys copied.
    pub keys: usize,
    /// Key versions copied.
    pub versions: usize,
}

/// Opens `from` and `to` and copies the one into the other ([`migrate`]). Each SQLite file is
/// opened under its directory's lock, so no kms-server may run on it meanwhile
/// ([`Error::DataDirInUse`]), and a source file must exist; each PostgreSQL database under the
/// replicas' start lock, so no replica starts on it (and creates its service keys) meanwhile.
pub fn migrate_databases(
    from: &Database,
    to: &Database,
    postgres: &PostgresOptions,
) -> Result<Migrated> {
    if from == to {
        return Err(Error::invalid("--from and --to name the same database"));
    }
    if let Database::Sqlite(path) = from
        && !path.is_file()
    {
        return Err(Error::invalid(format!(
            "the source {} does not exist",
            from.describe()
        )));
    }
    let (source, _source_lock) = open(from, postgres)?;
    let (destination, _destination_lock) = open(to, postgres)?;
    migrate(source.as_ref(), destination.as_ref())
}

/// A store and, for PostgreSQL, the start lock held while it is copied.
fn open(
    db: &Database,
    postgres: &PostgresOptions,
) -> Result<(Box<dyn KeyStore>, Option<StartLock>)> {
    match db {
        Database::Sqlite(path) => {
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            Ok((Box::new(SqliteStore::open_for_dir(path, dir)?), None))
        }
        Database::Postgres(url) => {
            let store = PostgresStore::open(url, postgres)?;
            let lock = store.start_lock()?;
            Ok((Box::new(store), Some(lock)))
        }
    }
}

/// Copies every key and setting of `from` into `to`, which must hold no key (`InvalidArgument`
/// otherwise, nothing written). Reads `to` back and checks it holds what `from` held.
pub fn migrate(from: &dyn KeyStore, to: &dyn KeyStore) -> Result<Migrated> {
    if !to.load_all()?.is_empty() {
        return Err(Error::invalid(
            "the destination already holds keys: migrate only into an empty key store",
        ));
    }
    let keys = from.load_all()?;
    if from.meta(META_ROOT_CHECK)?.is_none() {
        return Err(Error::invalid(
            "the source holds no root key check: it is not a key store a kms-server has opened",
        ));
    }
    for name in [META_ROOT_CHECK, META_DEFAULT_KEY, META_SSE_COS_KEY] {
        if let Some(value) = from.meta(name)? {
            to.set_meta(name, &value)?;
        }
    }
    let writes: Vec<KeyWrite> = keys
        .iter()
        .map(|k| KeyWrite {
            meta: k.meta.clone(),
            new_versions: k.versions.clone(),
        })
        .collect();
    to.apply_seed(&writes)?;
    let copied = to.load_all()?;
    if copied.len() != keys.len()
        || copied
            .iter()
            .zip(&keys)
            .any(|(a, b)| a.meta != b.meta || a.versions.len() != b.versions.len())
    {
        return Err(Error::Internal(
            "the destination does not read back what was copied".into(),
        ));
    }
    Ok(Migrated {
        keys: keys.len(),
        versions: keys.iter().map(|k| k.versions.len()).sum(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::{Config, Kms, RootKey};

    const ROOT: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

    #[test]
    fn a_store_is_copied_whole_and_opens_with_the_same_keys_and_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let src_dir = dir.path().join("src");
        let (key, blob) = {
            let kms =
                Kms::open(Config::new(&src_dir, RootKey::from_base64(ROOT).unwrap())).unwrap();
            let key = kms.create_key("moved", "", "").unwrap().key_id;
            kms.rotate_key(&key.to_string()).unwrap();
            let blob = kms
                .encrypt(&key.to_string(), b"secret", "")
                .unwrap()
                .ciphertext_blob;
            (key, blob)
        };
        let from = SqliteStore::open(&src_dir.join(crate::store::sqlite::DB_FILE)).unwrap();
        let to_path = dir.path().join("dst.sqlite3");
        let to = SqliteStore::open(&to_path).unwrap();
        let migrated = migrate(&from, &to).unwrap();
        // The two service keys and ours (two versions).
        assert_eq!(
            migrated,
            Migrated {
                keys: 3,
                versions: 4
            }
        );
        // A second run finds keys there and writes nothing.
        let err = migrate(&from, &to).unwrap_err();
        assert!(err.to_string().contains("already holds keys"), "{err}");
        drop(to);

        let moved = dir.path().join("moved");
        std::fs::create_dir(&moved).unwrap();
        std::fs::rename(&to_path, moved.join(crate::store::sqlite::DB_FILE)).unwrap();
        let kms = Kms::open(Config::new(&moved, RootKey::from_base64(ROOT).unwrap())).unwrap();
        assert_eq!(
            kms.decrypt(&blob, "").unwrap().plaintext.expose(),
            b"secret"
        );
        assert_eq!(kms.describe_key(&key.to_string()).unwrap().alias, "moved");
        // The service keys are the source's, not new ones.
        assert_eq!(
            kms.default_key_id(),
            Kms::open(Config::new(&src_dir, RootKey::from_base64(ROOT).unwrap()))
                .unwrap()
                .default_key_id()
        );
        // Another root key cannot open the copy.
        drop(kms);
        let other = RootKey::from_base64("CAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg=").unwrap();
        assert!(matches!(
            Kms::open(Config::new(&moved, other)),
            Err(Error::RootKeyMismatch)
        ));
    }

    #[test]
    fn an_unopened_source_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let from = SqliteStore::open(&dir.path().join("empty.sqlite3")).unwrap();
        let to = SqliteStore::open(&dir.path().join("dst.sqlite3")).unwrap();
        let err = migrate(&from, &to).unwrap_err();
        assert!(err.to_string().contains("no root key check"), "{err}");
        assert!(to.meta(META_ROOT_CHECK).unwrap().is_none());
    }
}
