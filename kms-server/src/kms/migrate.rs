//! Copying a whole key store into another (`kms-server migrate --from sqlite:PATH --to
//! postgres://...`): how a single server's SQLite file becomes the shared database of replicas.
//!
//! Everything is copied as stored: the wrapped key material stays wrapped (it is bound to its key
//! id and version and to the root key, not to the store), so no root key is needed and no key
//! material is ever in clear here. The store's own settings (the root key check, the default and
//! SSE-COS key ids) and every key with all its versions are compared with the destination first;
//! then what the destination lacks is written, the keys in one transaction
//! ([`KeyStore::apply_seed`]); then the destination is read back and must hold the source's
//! settings and keys byte for byte, so every version opens there exactly as in the source.
//!
//! Idempotent: a run after a finished copy writes nothing, and a run after an interrupted one
//! (settings written, keys not; or some keys there) copies the rest. A destination that is not a
//! copy of this source in the making (a key or setting that differs, a key the source lacks) is
//! refused before anything is written: migrate never overwrites and never merges.

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
    /// Keys the destination held already, identical (from an earlier run).
    pub present: usize,
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

/// Why a destination cannot be completed: what it holds that is not the source's.
const NOT_A_COPY: &str = "migrate only completes a copy of the same source, it never overwrites \
                          or merges";

/// Copies every key and setting of `from` that `to` lacks into `to`, after checking that what `to`
/// holds is the source's (`InvalidArgument` otherwise, nothing written). Reads `to` back and
/// checks it holds exactly what `from` holds.
pub fn migrate(from: &dyn KeyStore, to: &dyn KeyStore) -> Result<Migrated> {
    if from.meta(META_ROOT_CHECK)?.is_none() {
        return Err(Error::invalid(
            "the source holds no root key check: it is not a key store a kms-server has opened",
        ));
    }
    let keys = from.load_all()?;
    let mut settings = Vec::new();
    for name in setting_names(&keys) {
        let (value, there) = (from.meta(&name)?, to.meta(&name)?);
        match (value, there) {
            (Some(v), None) => settings.push((name, v)),
            (v, there) if there.is_none() || v == there => {}
            _ => {
                return Err(Error::invalid(format!(
                    "the destination's setting {name} differs from the source's: {NOT_A_COPY}"
                )));
            }
        }
    }
    let mut there: std::collections::HashMap<_, _> = to
        .load_all()?
        .into_iter()
        .map(|k| (k.meta.key_id, k))
        .collect();
    let mut writes = Vec::new();
    for k in &keys {
        match there.remove(&k.meta.key_id) {
            None => writes.push(KeyWrite {
                meta: k.meta.clone(),
                new_versions: k.versions.clone(),
                before: None,
            }),
            Some(d) if d == *k => {}
            Some(d) => {
                let what = if d.meta == k.meta {
                    "its versions"
                } else {
                    "its metadata"
                };
                return Err(Error::invalid(format!(
                    "the destination's key {} differs from the source's ({what}): {NOT_A_COPY}",
                    k.meta.key_id
                )));
            }
        }
    }
    if let Some(extra) = there.keys().min() {
        return Err(Error::invalid(format!(
            "the destination holds key {extra}, which the source does not: {NOT_A_COPY}"
        )));
    }
    for (name, value) in &settings {
        to.set_meta(name, value)?;
    }
    if !writes.is_empty() {
        to.apply_seed(&writes)?;
    }
    verify(from, to, &keys)?;
    Ok(Migrated {
        keys: writes.len(),
        versions: writes.iter().map(|w| w.new_versions.len()).sum(),
        present: keys.len() - writes.len(),
    })
}

/// The settings a copy carries: the store's own, and the fingerprint of each imported key's
/// material ([`super::byok`]), without which a key whose material was deleted would take any
/// material on the destination.
fn setting_names(keys: &[crate::store::StoredKey]) -> Vec<String> {
    let own = [META_ROOT_CHECK, META_DEFAULT_KEY, META_SSE_COS_KEY].map(str::to_owned);
    let fingerprints = keys
        .iter()
        .filter(|k| k.meta.origin == crate::keys::ORIGIN_EXTERNAL)
        .map(|k| super::byok::material_fingerprint_setting(k.meta.key_id));
    own.into_iter().chain(fingerprints).collect()
}

/// Whether `to` now holds `from`'s settings and exactly its `keys`, every wrapped version byte for
/// byte (bound to its key id and version and to the root key, it opens there as in the source).
fn verify(from: &dyn KeyStore, to: &dyn KeyStore, keys: &[crate::store::StoredKey]) -> Result<()> {
    for name in setting_names(keys) {
        if from.meta(&name)? != to.meta(&name)? {
            return Err(Error::Internal(format!(
                "the destination does not read back the setting {name} copied"
            )));
        }
    }
    let copied = to.load_all()?;
    if copied.len() != keys.len() {
        return Err(Error::Internal(format!(
            "the destination reads back {} keys, the source holds {}",
            copied.len(),
            keys.len()
        )));
    }
    if let Some((c, _)) = copied.iter().zip(keys).find(|(c, k)| c != k) {
        return Err(Error::Internal(format!(
            "the destination does not read back key {} as copied",
            c.meta.key_id
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::store::{StoredKey, StoredVersion, suite::sample_key};
    use crate::{Config, Kms, RootKey, keys::KeyMetadata};
    use uuid::Uuid;

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
                versions: 4,
                present: 0
            }
        );
        // A second run finds everything there and writes nothing.
        assert_eq!(
            migrate(&from, &to).unwrap(),
            Migrated {
                keys: 0,
                versions: 0,
                present: 3
            }
        );
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

    /// A destination that dies at its first key write, as a run interrupted after the settings
    /// were written.
    #[derive(Debug)]
    struct Interrupted(SqliteStore);

    impl KeyStore for Interrupted {
        fn meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
            self.0.meta(name)
        }
        fn set_meta(&self, name: &str, value: &[u8]) -> Result<()> {
            self.0.set_meta(name, value)
        }
        fn take_meta(&self, name: &str, value: &[u8]) -> Result<bool> {
            self.0.take_meta(name, value)
        }
        fn load_all(&self) -> Result<Vec<StoredKey>> {
            self.0.load_all()
        }
        fn insert_key(&self, _: &StoredKey) -> Result<()> {
            Err(Error::Internal("interrupted".into()))
        }
        fn update_key(&self, _: &KeyMetadata, _: &KeyMetadata) -> Result<()> {
            Err(Error::Internal("interrupted".into()))
        }
        fn add_version(&self, _: &KeyMetadata, _: &KeyMetadata, _: &StoredVersion) -> Result<()> {
            Err(Error::Internal("interrupted".into()))
        }
        fn remove_versions(&self, _: &KeyMetadata, _: &KeyMetadata) -> Result<()> {
            Err(Error::Internal("interrupted".into()))
        }
        fn delete_expired(&self, _: &[Uuid], _: i64) -> Result<Vec<Uuid>> {
            Err(Error::Internal("interrupted".into()))
        }
        fn apply_seed(&self, _: &[KeyWrite]) -> Result<()> {
            Err(Error::Internal("interrupted".into()))
        }
    }

    /// How a [`Misreads`] destination reads back what was written to it.
    #[derive(Debug, Clone, Copy)]
    enum Misread {
        /// The default key id setting comes back changed.
        Setting,
        /// The last key is missing.
        LostKey,
        /// One byte of the second key's last version comes back flipped.
        FlippedByte,
    }

    /// A destination that writes faithfully but, once written to, reads back something else: the
    /// read-back after the copy must catch it.
    #[derive(Debug)]
    struct Misreads(SqliteStore, Misread, std::sync::atomic::AtomicBool);

    impl Misreads {
        fn written(&self) -> bool {
            self.2.load(std::sync::atomic::Ordering::Relaxed)
        }
        fn write(&self) {
            self.2.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    impl KeyStore for Misreads {
        fn meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
            let value = self.0.meta(name)?;
            Ok(match self.1 {
                Misread::Setting if self.written() && name == META_DEFAULT_KEY => {
                    Some(b"another".to_vec())
                }
                _ => value,
            })
        }
        fn set_meta(&self, name: &str, value: &[u8]) -> Result<()> {
            self.write();
            self.0.set_meta(name, value)
        }
        fn take_meta(&self, name: &str, value: &[u8]) -> Result<bool> {
            self.write();
            self.0.take_meta(name, value)
        }
        fn load_all(&self) -> Result<Vec<StoredKey>> {
            let mut keys = self.0.load_all()?;
            if self.written() {
                match self.1 {
                    Misread::Setting => {}
                    Misread::LostKey => drop(keys.pop()),
                    Misread::FlippedByte => {
                        let version = keys[1].versions.last_mut().expect("two has versions");
                        version.wrapped[0] ^= 1;
                    }
                }
            }
            Ok(keys)
        }
        fn insert_key(&self, k: &StoredKey) -> Result<()> {
            self.write();
            self.0.insert_key(k)
        }
        fn update_key(&self, before: &KeyMetadata, after: &KeyMetadata) -> Result<()> {
            self.0.update_key(before, after)
        }
        fn add_version(&self, b: &KeyMetadata, a: &KeyMetadata, v: &StoredVersion) -> Result<()> {
            self.0.add_version(b, a, v)
        }
        fn remove_versions(&self, before: &KeyMetadata, after: &KeyMetadata) -> Result<()> {
            self.0.remove_versions(before, after)
        }
        fn delete_expired(&self, ids: &[Uuid], now: i64) -> Result<Vec<Uuid>> {
            self.0.delete_expired(ids, now)
        }
        fn apply_seed(&self, writes: &[KeyWrite]) -> Result<()> {
            self.write();
            self.0.apply_seed(writes)
        }
    }

    /// The read-back after the copy: a destination that returns another setting, fewer keys, or
    /// a version with one byte changed fails the migration with what it got wrong (an internal
    /// error: the store misbehaved, the arguments were fine). A faithful one passes.
    #[test]
    fn a_destination_that_reads_back_otherwise_fails_the_migration() {
        let dir = tempfile::tempdir().unwrap();
        let from = source(dir.path());
        let two = from.load_all().unwrap()[1].meta.key_id;
        assert_eq!(two, Uuid::from_bytes([2; 16]));
        let run = |misread: Misread| {
            let path = dir.path().join(format!("dst-{misread:?}.sqlite3"));
            let to = Misreads(
                SqliteStore::open(&path).unwrap(),
                misread,
                Default::default(),
            );
            let e = migrate(&from, &to).unwrap_err();
            assert!(matches!(e, Error::Internal(_)), "{e:?}");
            e.to_string()
        };
        assert_eq!(
            run(Misread::Setting),
            "internal error: the destination does not read back the setting default_key_id copied"
        );
        assert_eq!(
            run(Misread::LostKey),
            "internal error: the destination reads back 2 keys, the source holds 3"
        );
        assert_eq!(
            run(Misread::FlippedByte),
            format!("internal error: the destination does not read back key {two} as copied")
        );
        let to = SqliteStore::open(&dir.path().join("faithful.sqlite3")).unwrap();
        assert_eq!(migrate(&from, &to).unwrap().keys, 3);
    }

    /// A source of three keys (one with two versions) and its root key check.
    fn source(dir: &Path) -> SqliteStore {
        let from = SqliteStore::open(&dir.join("src.sqlite3")).unwrap();
        from.set_meta(META_ROOT_CHECK, b"check").unwrap();
        from.set_meta(META_DEFAULT_KEY, b"default").unwrap();
        let mut two = sample_key(2, "two");
        two.versions.push(StoredVersion {
            version: 2,
            wrapped: vec![22; 61],
            create_time: 2,
        });
        two.meta.current_key_version = 2;
        for k in [sample_key(1, "one"), two, sample_key(3, "three")] {
            from.insert_key(&k).unwrap();
        }
        from
    }

    /// An imported key's material fingerprint goes with it (so the destination, too, takes only
    /// the key's first material again); a destination with another one is refused.
    #[test]
    fn imported_material_fingerprints_are_copied() {
        let dir = tempfile::tempdir().unwrap();
        let from = source(dir.path());
        let mut byok = sample_key(4, "byok");
        byok.meta.origin = crate::keys::ORIGIN_EXTERNAL.to_owned();
        byok.meta.state = crate::keys::KeyState::PendingImport;
        byok.meta.current_key_version = 0;
        byok.versions.clear();
        from.insert_key(&byok).unwrap();
        let name = super::super::byok::material_fingerprint_setting(byok.meta.key_id);
        from.set_meta(&name, &[9; 32]).unwrap();
        let to = SqliteStore::open(&dir.path().join("dst.sqlite3")).unwrap();
        migrate(&from, &to).unwrap();
        assert_eq!(to.meta(&name).unwrap(), Some(vec![9; 32]));
        let other = SqliteStore::open(&dir.path().join("other.sqlite3")).unwrap();
        other.set_meta(&name, &[8; 32]).unwrap();
        let e = migrate(&from, &other).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("the destination's setting {name} differs from the source's: {NOT_A_COPY}")
        );
        assert!(other.load_all().unwrap().is_empty(), "nothing written");
    }

    /// Interrupted after the settings, then again with one key copied by hand: each rerun copies
    /// what is missing and leaves the rest, and the destination ends equal to the source.
    #[test]
    fn an_interrupted_or_partial_copy_is_completed_by_a_rerun() {
        let dir = tempfile::tempdir().unwrap();
        let from = source(dir.path());
        let to = SqliteStore::open(&dir.path().join("dst.sqlite3")).unwrap();
        let to = Interrupted(to);
        let e = migrate(&from, &to).unwrap_err();
        assert_eq!(e.to_string(), "internal error: interrupted");
        assert_eq!(
            to.0.meta(META_ROOT_CHECK).unwrap().as_deref(),
            Some(&b"check"[..])
        );
        assert!(to.0.load_all().unwrap().is_empty());
        let to = to.0;
        to.insert_key(&from.load_all().unwrap()[1]).unwrap();
        assert_eq!(
            migrate(&from, &to).unwrap(),
            Migrated {
                keys: 2,
                versions: 2,
                present: 1
            }
        );
        assert_eq!(to.load_all().unwrap(), from.load_all().unwrap());
        assert_eq!(
            to.meta(META_DEFAULT_KEY).unwrap().as_deref(),
            Some(&b"default"[..])
        );
    }

    /// A destination that is not a copy of this source in the making is refused with what differs,
    /// and nothing is written: a key whose metadata or versions differ, a key the source lacks, a
    /// setting that differs.
    #[test]
    fn a_destination_that_differs_is_refused_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let from = source(dir.path());
        let refused = |prepare: &dyn Fn(&SqliteStore)| {
            let path = dir.path().join(format!("dst-{}.sqlite3", Uuid::new_v4()));
            let to = SqliteStore::open(&path).unwrap();
            prepare(&to);
            let (keys, check) = (to.load_all().unwrap(), to.meta(META_ROOT_CHECK).unwrap());
            let e = migrate(&from, &to).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
            assert_eq!(to.load_all().unwrap(), keys, "a refused run wrote keys");
            assert_eq!(to.meta(META_ROOT_CHECK).unwrap(), check, "or settings");
            e.to_string()
        };
        let tail =
            "migrate only completes a copy of the same source, it never overwrites or merges";
        let id = |n: u8| Uuid::from_bytes([n; 16]);
        let mut renamed = sample_key(1, "renamed");
        renamed.meta.description = "key 1".into();
        assert_eq!(
            refused(&|to| to.insert_key(&renamed).unwrap()),
            format!(
                "the destination's key {} differs from the source's (its metadata): {tail}",
                id(1)
            )
        );
        let mut other_material = sample_key(3, "three");
        other_material.versions[0].wrapped = vec![0; 61];
        assert_eq!(
            refused(&|to| to.insert_key(&other_material).unwrap()),
            format!(
                "the destination's key {} differs from the source's (its versions): {tail}",
                id(3)
            )
        );
        assert_eq!(
            refused(&|to| to.insert_key(&sample_key(7, "seven")).unwrap()),
            format!(
                "the destination holds key {}, which the source does not: {tail}",
                id(7)
            )
        );
        assert_eq!(
            refused(&|to| to.set_meta(META_ROOT_CHECK, b"another root key").unwrap()),
            format!("the destination's setting root_key_check differs from the source's: {tail}")
        );
    }
}
