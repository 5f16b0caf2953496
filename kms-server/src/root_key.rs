//! The root key: the top of the key hierarchy, and the only key that never touches the database.
//!
//! # Key hierarchy
//! - The **root key** (32 bytes) comes from a file (mode 0600) or `KMS_ROOT_KEY`. It wraps every
//!   CMK version's material with AES-256-GCM under a random nonce, with
//!   AAD = `"kms/v1/material" || key uuid (16) || be32(version)`, so wrapped material cannot be moved
//!   to another key or version. A verifier sealed under the root key lets a server with the wrong
//!   root key refuse to start instead of failing on every request.
//! - A **CMK version** is 32 random bytes (or bytes given by a seed file).
//! - An **asymmetric CMK** has one version: its private key as PKCS#8 DER, wrapped the same way
//!   under another label (`"kms/v1/private-key"`), so neither kind of material can be read back as
//!   the other. The symmetric format is unchanged: stores written before asymmetric keys existed
//!   open as they did.
//! - The **wrapping key of a pending import** (GetParametersForImport's RSA key, PKCS#8 DER) is
//!   wrapped the same way under its own label (`"kms/v1/import-wrapping-key"`), with the key's
//!   uuid and the rest of the pending import's record (algorithm, expiry, token digest) as AAD, so
//!   a record cannot be moved to another key nor its expiry or token changed.
//! - Each ciphertext blob gets its own **message key** derived from a version: see [`crate::blob`].

use std::{
    io::{Read as _, Write},
    path::Path,
};

use aes_gcm::{
    Nonce,
    aead::{Aead, Payload},
};
use base64::Engine as _;
use rand::RngCore;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::{
    error::{Error, Result},
    secret::{KEY_LEN, Key32, NONCE_LEN, SecretBytes, TAG_LEN},
};

const MATERIAL_AAD_LABEL: &[u8] = b"kms/v1/material";
const PRIVATE_KEY_AAD_LABEL: &[u8] = b"kms/v1/private-key";
const IMPORT_KEY_AAD_LABEL: &[u8] = b"kms/v1/import-wrapping-key";
const ROOT_CHECK_AAD: &[u8] = b"kms/v1/root-key-check";
const ROOT_CHECK_PLAINTEXT: &[u8] = b"kms root key check";
const MATERIAL_FINGERPRINT_LABEL: &[u8] = b"kms/v1/imported-material-fingerprint";

/// The key that wraps all CMK material.
#[derive(Clone, Debug)]
pub struct RootKey(Key32);

impl RootKey {
    /// From base64 (standard) of exactly 32 bytes, as in `KMS_ROOT_KEY`.
    pub fn from_base64(text: &str) -> Result<Self> {
        let raw = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| Error::RootKey("not valid base64".into()))?,
        );
        Key32::from_slice(&raw)
            .map(RootKey)
            .ok_or_else(|| Error::RootKey(format!("must be {KEY_LEN} bytes, got {}", raw.len())))
    }

    /// The environment variable that carries the root key (base64 of 32 bytes).
    pub const ENV: &'static str = "KMS_ROOT_KEY";

    /// The root key from [`RootKey::ENV`] when it is set, else from `path` ([`RootKey::load_or_create`]).
    /// The variable's text is zeroized once read.
    pub fn from_env_or_file(path: &Path) -> Result<Self> {
        match std::env::var(Self::ENV) {
            Ok(b64) => Self::from_base64(&Zeroizing::new(b64)),
            Err(_) => Self::load_or_create(path),
        }
    }

    /// Reads the root key file, or creates it (mode 0600, base64 of 32 random bytes) when absent.
    ///
    /// The file must be a regular file (a symbolic link is refused: whoever can change where it
    /// points chooses the key), owned by this process's user, and readable by nobody else
    /// ([`crate::private_fs::open_private`]).
    /// Creation is atomic: the key is written to a temporary file in the same directory, synced,
    /// and linked into place only if no file appeared there meanwhile; the directory is synced
    /// after, so a crash leaves either no key file or a whole one.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        match crate::private_fs::open_private(path) {
            Ok(mut file) => {
                remove_stale_temporaries(path);
                let mut text = Zeroizing::new(String::new());
                file.read_to_string(&mut text)
                    .map_err(|e| Error::RootKey(format!("cannot read {}: {e}", path.display())))?;
                Self::from_base64(&text)
                    .map_err(|e| Error::RootKey(format!("{}: {e}", path.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create(path),
            // The refusal's message names the path and the fix.
            Err(e) => Err(Error::RootKey(e.to_string())),
        }
    }

    /// Creates the key file atomically (see [`RootKey::load_or_create`]).
    fn create(path: &Path) -> Result<Self> {
        let cannot =
            |e: std::io::Error| Error::RootKey(format!("cannot create {}: {e}", path.display()));
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        crate::private_fs::create_dir(dir).map_err(cannot)?;
        let key = Key32::random();
        let text =
            Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(key.expose()) + "\n");
        let mut suffix = [0u8; 8];
        rand::rng().fill_bytes(&mut suffix);
        let name = path
            .file_name()
            .map_or_else(|| "root.key".into(), |n| n.to_string_lossy().into_owned());
        let temp = dir.join(format!(
            "{}{}.tmp",
            temporary_prefix(&name),
            hex::encode(suffix)
        ));
        let written = (|| {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, crate::private_fs::FILE_MODE);
            let mut file = opts.open(&temp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            // Linking fails if the name exists: another process created the key first.
            std::fs::hard_link(&temp, path)
        })();
        let _ = std::fs::remove_file(&temp);
        match written {
            Ok(()) => {}
            // Another process created the key first (and, finding it, may have removed this
            // temporary file as a leftover before the link).
            Err(e)
                if e.kind() == std::io::ErrorKind::AlreadyExists
                    || (e.kind() == std::io::ErrorKind::NotFound && path.exists()) =>
            {
                return Self::load_or_create(path);
            }
            Err(e) => return Err(cannot(e)),
        }
        crate::private_fs::sync_dir(dir).map_err(cannot)?;
        // Those of a kill before an earlier link.
        remove_stale_temporaries(path);
        Ok(RootKey(key))
    }

    /// Wraps one CMK version's material.
    pub(crate) fn wrap_material(&self, key_id: Uuid, version: u32, material: &Key32) -> Vec<u8> {
        let aad = material_aad(MATERIAL_AAD_LABEL, key_id, version);
        seal_random_nonce(&self.0, &aad, material.expose())
    }

    /// Unwraps one CMK version's material; any failure is [`Error::RootKeyMismatch`].
    pub(crate) fn unwrap_material(
        &self,
        key_id: Uuid,
        version: u32,
        wrapped: &[u8],
    ) -> Result<Key32> {
        let aad = material_aad(MATERIAL_AAD_LABEL, key_id, version);
        let raw = open_random_nonce(&self.0, &aad, wrapped).ok_or(Error::RootKeyMismatch)?;
        Key32::from_slice(&raw).ok_or(Error::RootKeyMismatch)
    }

    /// Wraps an asymmetric CMK's private key (PKCS#8 DER, any length).
    pub(crate) fn wrap_private_key(
        &self,
        key_id: Uuid,
        version: u32,
        pkcs8: &SecretBytes,
    ) -> Vec<u8> {
        let aad = material_aad(PRIVATE_KEY_AAD_LABEL, key_id, version);
        seal_random_nonce(&self.0, &aad, pkcs8.expose())
    }

    /// Unwraps an asymmetric CMK's private key; any failure is [`Error::RootKeyMismatch`].
    pub(crate) fn unwrap_private_key(
        &self,
        key_id: Uuid,
        version: u32,
        wrapped: &[u8],
    ) -> Result<SecretBytes> {
        let aad = material_aad(PRIVATE_KEY_AAD_LABEL, key_id, version);
        let mut raw = open_random_nonce(&self.0, &aad, wrapped).ok_or(Error::RootKeyMismatch)?;
        Ok(SecretBytes::new(std::mem::take(&mut *raw)))
    }

    /// Wraps the private key of a pending import of `key_id`, bound to `record` (the rest of
    /// the pending import's stored record).
    pub(crate) fn wrap_import_key(
        &self,
        key_id: Uuid,
        record: &[u8],
        pkcs8: &SecretBytes,
    ) -> Vec<u8> {
        seal_random_nonce(&self.0, &import_aad(key_id, record), pkcs8.expose())
    }

    /// Unwraps what [`RootKey::wrap_import_key`] wrapped; any failure (another key, another
    /// record, another root key) is [`Error::RootKeyMismatch`].
    pub(crate) fn unwrap_import_key(
        &self,
        key_id: Uuid,
        record: &[u8],
        wrapped: &[u8],
    ) -> Result<SecretBytes> {
        let mut raw = open_random_nonce(&self.0, &import_aad(key_id, record), wrapped)
            .ok_or(Error::RootKeyMismatch)?;
        Ok(SecretBytes::new(std::mem::take(&mut *raw)))
    }

    /// A keyed digest of imported material, kept when the material is erased so that only the
    /// same material can be imported into `key_id` again: HKDF-SHA256 with the root key as input
    /// key material and its own label as salt, expanded over `key_id || material`. Without the
    /// root key it says nothing about the material, even material of little entropy.
    pub(crate) fn material_fingerprint(&self, key_id: Uuid, material: &Key32) -> [u8; 32] {
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(MATERIAL_FINGERPRINT_LABEL), self.0.expose());
        let mut info = Zeroizing::new(Vec::with_capacity(16 + KEY_LEN));
        info.extend_from_slice(key_id.as_bytes());
        info.extend_from_slice(material.expose());
        let mut out = [0u8; 32];
        hk.expand(&info, &mut out)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        out
    }

    /// A value stored in the database that only this root key opens.
    pub(crate) fn verifier(&self) -> Vec<u8> {
        seal_random_nonce(&self.0, ROOT_CHECK_AAD, ROOT_CHECK_PLAINTEXT)
    }

    /// Whether `verifier` was made by this root key.
    pub(crate) fn verify(&self, verifier: &[u8]) -> bool {
        open_random_nonce(&self.0, ROOT_CHECK_AAD, verifier)
            .is_some_and(|p| p.as_slice() == ROOT_CHECK_PLAINTEXT)
    }
}

/// The start of the temporary names [`RootKey::create`] writes a new key file named `name` under.
fn temporary_prefix(name: &str) -> String {
    format!(".{name}.")
}

/// Removes the temporary files a kill during [`RootKey::create`] left beside the key file `path`
/// (between writing one and removing it, before or after the link): each holds a key, the one in
/// use or one never used, and must not outlive the crash. Called only once the key file exists,
/// when no creator can still link its temporary file into place (one that finds its file gone
/// loads the existing key instead). Best effort: a file that cannot be removed is logged.
fn remove_stale_temporaries(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = temporary_prefix(&name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if file.starts_with(&prefix) && file.ends_with(".tmp") {
            tracing::warn!(file, "removing a temporary root key file left by a crash");
            if let Err(e) = std::fs::remove_file(entry.path()) {
                tracing::warn!(file, error = %e, "cannot remove a temporary root key file");
            }
        }
    }
}

/// `label || key uuid (16) || be32(version)`.
fn material_aad(label: &[u8], key_id: Uuid, version: u32) -> Vec<u8> {
    let mut aad = Vec::with_capacity(label.len() + 20);
    aad.extend_from_slice(label);
    aad.extend_from_slice(key_id.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

/// `label || key uuid (16) || record`.
fn import_aad(key_id: Uuid, record: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(IMPORT_KEY_AAD_LABEL.len() + 16 + record.len());
    aad.extend_from_slice(IMPORT_KEY_AAD_LABEL);
    aad.extend_from_slice(key_id.as_bytes());
    aad.extend_from_slice(record);
    aad
}

/// `nonce || ciphertext || tag`.
fn seal_random_nonce(key: &Key32, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let ct = key
        .cipher()
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("AES-GCM sealing cannot fail for inputs far below its size limit");
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

fn open_random_nonce(key: &Key32, aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return None;
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    key.cipher()
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .ok()
        .map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `nonce || ciphertext || tag` made by Python `cryptography`'s AESGCM (an independent
    /// implementation) with the AAD layout above: see `material_wrapped_by_earlier_versions_still_opens`.
    const FROZEN_WRAPPED_MATERIAL: &str = "000102030405060708090a0b42dbb32a475383132de8bfc6b80236a0\
        bb66ecd442382d6b4c9439e0d48d375f8a7f4dd2ef78247b0537d286c53f2868";

    #[test]
    fn material_wrap_binds_key_and_version() {
        let root = RootKey(Key32::random());
        let id = Uuid::parse_str("0f8e4c2a-6b1d-4e3f-9a7b-5c6d7e8f9a0b").unwrap();
        let m = Key32::random();
        let w = root.wrap_material(id, 1, &m);
        assert_eq!(
            root.unwrap_material(id, 1, &w).unwrap().expose(),
            m.expose()
        );
        assert!(root.unwrap_material(id, 2, &w).is_err());
        assert!(root.unwrap_material(Uuid::new_v4(), 1, &w).is_err());
        assert!(RootKey(Key32::random()).unwrap_material(id, 1, &w).is_err());
        assert!(root.verify(&root.verifier()));
        assert!(!RootKey(Key32::random()).verify(&root.verifier()));
    }

    #[test]
    fn private_key_wrap_binds_key_version_and_kind() {
        let root = RootKey(Key32::random());
        let id = Uuid::parse_str("0f8e4c2a-6b1d-4e3f-9a7b-5c6d7e8f9a0b").unwrap();
        let pkcs8 = SecretBytes::new((0..=255u8).cycle().take(1218).collect());
        let w = root.wrap_private_key(id, 1, &pkcs8);
        assert_eq!(
            root.unwrap_private_key(id, 1, &w).unwrap().expose(),
            pkcs8.expose()
        );
        for e in [
            root.unwrap_private_key(id, 2, &w),
            root.unwrap_private_key(Uuid::new_v4(), 1, &w),
            RootKey(Key32::random()).unwrap_private_key(id, 1, &w),
            root.unwrap_private_key(id, 1, &w[..w.len() - 1]),
        ] {
            assert!(matches!(e, Err(Error::RootKeyMismatch)), "{e:?}");
        }
        // Symmetric material and a private key of 32 bytes do not open as each other.
        let m = Key32::random();
        let sym = root.wrap_material(id, 1, &m);
        assert!(root.unwrap_private_key(id, 1, &sym).is_err());
        let short = root.wrap_private_key(id, 1, &SecretBytes::new(m.expose().to_vec()));
        assert!(root.unwrap_material(id, 1, &short).is_err());
    }

    /// Material wrapped before asymmetric keys existed (a frozen vector: root key 0x07 * 32, key
    /// id 0f8e4c2a-..., version 3, material 0x5a * 32) still opens.
    #[test]
    fn material_wrapped_by_earlier_versions_still_opens() {
        let root = RootKey(Key32::from_slice(&[7; KEY_LEN]).unwrap());
        let id = Uuid::parse_str("0f8e4c2a-6b1d-4e3f-9a7b-5c6d7e8f9a0b").unwrap();
        let wrapped = hex::decode(FROZEN_WRAPPED_MATERIAL).unwrap();
        assert_eq!(
            root.unwrap_material(id, 3, &wrapped).unwrap().expose(),
            &[0x5a; KEY_LEN]
        );
    }

    #[test]
    fn root_key_file_is_created_private_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/root.key");
        let a = RootKey::load_or_create(&path).unwrap();
        let b = RootKey::load_or_create(&path).unwrap();
        assert_eq!(a.0.expose(), b.0.expose());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = RootKey::load_or_create(&path).unwrap_err().to_string();
            assert_eq!(
                err,
                format!(
                    "root key: {} is readable or writable by group or others (mode 644); chmod 600 it",
                    path.display()
                )
            );
        }
    }

    #[test]
    fn root_key_file_creation_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        RootKey::load_or_create(&path).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["root.key"]);
    }

    #[test]
    fn temporary_key_files_a_kill_left_are_removed_at_the_next_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let key = RootKey::load_or_create(&path).unwrap();
        // A kill after the link and before the temporary file's removal, and one before the link
        // (a key never used); a file of another name stays.
        std::fs::copy(&path, dir.path().join(".root.key.00112233aabbccdd.tmp")).unwrap();
        std::fs::write(dir.path().join(".root.key.8899aabbccddeeff.tmp"), "x").unwrap();
        std::fs::write(dir.path().join(".other.key.0011223344556677.tmp"), "y").unwrap();
        let again = RootKey::load_or_create(&path).unwrap();
        assert_eq!(again.0.expose(), key.0.expose());
        let names = |dir: &Path| {
            let mut names: Vec<_> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            names
        };
        assert_eq!(
            names(dir.path()),
            [".other.key.0011223344556677.tmp", "root.key"]
        );
        // A kill before the link of the very first key: the next start creates the key file and
        // removes the leftover.
        let fresh = tempfile::tempdir().unwrap();
        std::fs::write(fresh.path().join(".root.key.0123456789abcdef.tmp"), "z").unwrap();
        RootKey::load_or_create(&fresh.path().join("root.key")).unwrap();
        assert_eq!(names(fresh.path()), ["root.key"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_or_foreign_root_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.key");
        RootKey::load_or_create(&real).unwrap();
        let link = dir.path().join("root.key");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let err = RootKey::load_or_create(&link).unwrap_err().to_string();
        assert!(err.contains("is a symbolic link"), "{err}");
        // Another user's file (only root can give a file away; CI runs as root).
        if std::os::unix::fs::chown(&real, Some(54321), None).is_ok() {
            let err = RootKey::load_or_create(&real).unwrap_err().to_string();
            assert!(err.contains("is owned by uid 54321"), "{err}");
        }
    }

    #[test]
    fn root_key_from_base64_checks_length() {
        assert!(
            RootKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([0u8; 32]))
                .is_ok()
        );
        assert_eq!(
            RootKey::from_base64("AAAA").unwrap_err().to_string(),
            "root key: must be 32 bytes, got 3"
        );
        assert_eq!(
            RootKey::from_base64("!!").unwrap_err().to_string(),
            "root key: not valid base64"
        );
    }
}
