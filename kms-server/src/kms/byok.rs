//! Bring your own key: a key of origin EXTERNAL is made in PendingImport without material
//! ([`Kms::create_key_from`]); GetParametersForImport hands out a fresh RSA-2048 wrapping key and
//! an import token, both valid for [`IMPORT_PARAMETERS_VALID_SECS`]; ImportKeyMaterial unwraps
//! 32 bytes of material with it (RSAES-OAEP), stores them wrapped by the root key as version 1,
//! and enables the key until its `valid_to`; DeleteImportedKeyMaterial (and `valid_to` passing)
//! erases the material and puts the key back in PendingImport, so its ciphertexts stop opening
//! until the same material is imported again.
//!
//! "The same material": a key remembers a keyed fingerprint of the first material imported into
//! it ([`crate::root_key::RootKey::material_fingerprint`], in the store's settings), which outlives
//! the material's erasure, so other material is refused even when the key holds none (Tencent: a
//! key's material may be imported again, but it must be the same material).
//!
//! The wrapping private key, the token's digest and the expiry are kept in the key store, the
//! private key wrapped by the root key ([`super::pending_import`]), one pending import per key,
//! the newest replacing an older one: a token is good on any replica of the store, once.

use subtle::ConstantTimeEq as _;
use uuid::Uuid;

use super::{Kms, cache::Entry, next_state, pending_import};
use crate::{
    asymmetric::{DecryptAlgorithm, PrivateKey},
    clock::DAY_SECS,
    error::{Error, Result},
    keys::{KeyAction, KeyMetadata, KeySpec, KeyState, ORIGIN_EXTERNAL},
    secret::{Key32, random_bytes},
};
use kms_types::{ErrorCode, WrappingAlgorithm};

/// How long a wrapping key and its import token stay valid (Tencent: 24 hours).
pub const IMPORT_PARAMETERS_VALID_SECS: i64 = DAY_SECS;
/// The length of imported key material (an AES-256 key).
pub const IMPORTED_MATERIAL_BYTES: usize = 32;
/// The one wrapping key spec.
pub const WRAPPING_KEY_SPEC_RSA_2048: &str = "RSA_2048";

/// The decryption that unwraps material wrapped with `algorithm`.
fn decrypt_algorithm(algorithm: WrappingAlgorithm) -> DecryptAlgorithm {
    match algorithm {
        WrappingAlgorithm::RsaesOaepSha1 => DecryptAlgorithm::RsaesOaepSha1,
        WrappingAlgorithm::RsaesOaepSha256 => DecryptAlgorithm::RsaesOaepSha256,
    }
}

/// What GetParametersForImport answers. Its `Debug` leaves the token out: it is a single-use
/// bearer secret (whoever holds it may import material under this key until it expires).
#[derive(Clone)]
pub struct ImportParameters {
    /// The key.
    pub key_id: Uuid,
    /// The token ImportKeyMaterial must carry.
    pub import_token: String,
    /// The wrapping public key, DER SubjectPublicKeyInfo.
    pub public_key_der: Vec<u8>,
    /// Until when (unix seconds) the token and the wrapping key are good.
    pub parameters_valid_to: i64,
}

impl std::fmt::Debug for ImportParameters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportParameters")
            .field("key_id", &self.key_id)
            .field("import_token", &"<redacted>")
            .field("parameters_valid_to", &self.parameters_valid_to)
            .finish_non_exhaustive()
    }
}

fn refused(code: ErrorCode, message: impl Into<String>) -> Error {
    Error::Import {
        code,
        message: message.into(),
    }
}

/// Whether `m`'s imported material is past its `valid_to` (a PendingDelete key is left to its
/// deletion).
pub(super) fn material_expired(m: &KeyMetadata, now: i64) -> bool {
    m.valid_to != 0
        && m.valid_to <= now
        && matches!(
            m.state,
            KeyState::Enabled | KeyState::Disabled | KeyState::Archived
        )
}

/// The latest `ValidTo` Tencent accepts for imported material (2038-01-18 00:00:00 UTC+8).
pub const MAX_VALID_TO: i64 = 2_147_443_200;

/// The store setting that holds the fingerprint of `key_id`'s imported material.
pub(crate) fn material_fingerprint_setting(key_id: Uuid) -> String {
    format!("imported-material-fingerprint/{key_id}")
}

/// Refuses a key that takes no imported material, or whose state is PendingDelete.
fn external(m: &KeyMetadata, action: &str) -> Result<()> {
    if m.origin != ORIGIN_EXTERNAL {
        return Err(refused(
            ErrorCode::NotExternalCmk,
            format!(
                "key {} was not created with imported material (Type=2, origin EXTERNAL): \
                 {action} is not supported",
                m.key_id
            ),
        ));
    }
    if m.state == KeyState::PendingDelete {
        return Err(Error::transition(&m.key_id.to_string(), m.state));
    }
    Ok(())
}

/// `m` without material: PendingImport, no version, no `valid_to`.
fn without_material(m: &KeyMetadata) -> KeyMetadata {
    let mut after = m.clone();
    after.state = KeyState::PendingImport;
    after.valid_to = 0;
    after.current_key_version = 0;
    after
}

impl Kms {
    /// GetParametersForImport: a fresh wrapping key for `name` (an EXTERNAL key not pending
    /// deletion) and its import token, valid for [`IMPORT_PARAMETERS_VALID_SECS`]. Replaces the
    /// key's earlier ones.
    pub fn get_parameters_for_import(
        &self,
        name: &str,
        wrapping_algorithm: &str,
        wrapping_key_spec: &str,
    ) -> Result<ImportParameters> {
        let algorithm = WrappingAlgorithm::parse(wrapping_algorithm).ok_or_else(|| {
            let known: Vec<&str> = WrappingAlgorithm::ALL.iter().map(|a| a.as_str()).collect();
            Error::invalid(format!(
                "WrappingAlgorithm must be one of {known:?}, got {wrapping_algorithm:?}"
            ))
        })?;
        if wrapping_key_spec != WRAPPING_KEY_SPEC_RSA_2048 {
            return Err(Error::invalid(format!(
                "WrappingKeySpec must be {WRAPPING_KEY_SPEC_RSA_2048:?}, got {wrapping_key_spec:?}"
            )));
        }
        self.expire_due(name)?;
        let key_id = {
            let c = self.read();
            let m = c.resolve(name)?.meta();
            external(m, "GetParametersForImport")?;
            m.key_id
        };
        let key = PrivateKey::generate(KeySpec::Rsa2048)?;
        let public_key_der = key.public_key_der().to_vec();
        let import_token = hex::encode(random_bytes(32).expose());
        let parameters_valid_to = self.now() + IMPORT_PARAMETERS_VALID_SECS;
        let record = pending_import::seal(
            &self.root,
            key_id,
            &key,
            algorithm,
            parameters_valid_to,
            &import_token,
        );
        self.store()
            .set_meta(&pending_import::setting(key_id), &record)?;
        Ok(ImportParameters {
            key_id,
            import_token,
            public_key_der,
            parameters_valid_to,
        })
    }

    /// ImportKeyMaterial: unwraps `encrypted` with the wrapping key of `import_token` and makes it
    /// the key's material until `valid_to` (0: never expires); the key becomes Enabled. A key that
    /// holds material takes only the same material again (a new `valid_to`). The token is used up.
    pub fn import_key_material(
        &self,
        name: &str,
        encrypted: &[u8],
        import_token: &str,
        valid_to: i64,
    ) -> Result<KeyMetadata> {
        self.expire_due(name)?;
        let now = self.now();
        let key_id = {
            let c = self.read();
            let m = c.resolve(name)?.meta();
            external(m, "ImportKeyMaterial")?;
            // Tencent imports into an Enabled or a PendingImport key only.
            if !matches!(m.state, KeyState::Enabled | KeyState::PendingImport) {
                return Err(Error::transition(&m.key_id.to_string(), m.state));
            }
            m.key_id
        };
        if valid_to != 0 && !(now + 1..=MAX_VALID_TO).contains(&valid_to) {
            return Err(Error::invalid(format!(
                "ValidTo must be 0 (never expires) or a unix time in the future, at most \
                 {MAX_VALID_TO}, got {valid_to}"
            )));
        }
        let not_given = || {
            Error::invalid(format!(
                "ImportToken is not one GetParametersForImport gave for key {key_id}"
            ))
        };
        // Any replica's GetParametersForImport: the store holds the pending import.
        let setting = pending_import::setting(key_id);
        let record = self.store().meta(&setting)?.ok_or_else(not_given)?;
        let pending = pending_import::Pending::parse(&record)
            .filter(|p| p.is_for(import_token))
            .ok_or_else(not_given)?;
        if pending.valid_to <= now {
            self.store().take_meta(&setting, &record)?;
            return Err(refused(
                ErrorCode::TokenExpired,
                "ImportToken expired: call GetParametersForImport again",
            ));
        }
        let key = pending.open(&self.root, key_id)?;
        let plain = key
            .decrypt(decrypt_algorithm(pending.algorithm), encrypted)
            .map_err(|_| {
                refused(
                    ErrorCode::DecryptMaterialError,
                    format!(
                        "EncryptedKeyMaterial does not decrypt with {} under the wrapping key of \
                         this ImportToken",
                        pending.algorithm.as_str()
                    ),
                )
            })?;
        let material = Key32::from_slice(plain.expose()).ok_or_else(|| {
            Error::invalid(format!(
                "key material must be {IMPORTED_MATERIAL_BYTES} bytes, got {}",
                plain.expose().len()
            ))
        })?;
        // Taken (once, of all replicas) after the material is known good and before it is
        // written: a token used, or replaced, meanwhile is refused like one never given.
        let take = || match self.store().take_meta(&setting, &record)? {
            true => Ok(()),
            false => Err(not_given()),
        };
        self.store_material(key_id, material, valid_to, take)
    }

    /// Writes imported material (version 1) or, if the key holds material already, sets the new
    /// `valid_to`. Material other than the key's first (held, or known by its fingerprint) is
    /// refused; then `take` uses the token up (or refuses), before anything is written. If
    /// another replica changed the key since this one saw it, the key is reloaded and checked
    /// again (the token stays taken by this call).
    fn store_material(
        &self,
        key_id: Uuid,
        material: Key32,
        valid_to: i64,
        take: impl FnOnce() -> Result<()>,
    ) -> Result<KeyMetadata> {
        let _w = self.lock_write()?;
        let mut take = Some(take);
        match self.store_material_locked(key_id, &material, valid_to, &mut take) {
            Err(Error::Conflict(id)) => {
                tracing::debug!(key_id = %id, "key changed by another replica: reloaded, retrying");
                self.resync_locked()?;
                self.store_material_locked(key_id, &material, valid_to, &mut take)
            }
            done => done,
        }
    }

    /// One attempt of [`Kms::store_material`], under the write lock.
    fn store_material_locked(
        &self,
        key_id: Uuid,
        material: &Key32,
        valid_to: i64,
        take: &mut Option<impl FnOnce() -> Result<()>>,
    ) -> Result<KeyMetadata> {
        // Every version the key holds: a key seeded with several keeps them all (its newest
        // seals), the first is the one import compares against.
        let (before, versions) = {
            let c = self.read();
            let e = c.resolve(&key_id.to_string())?;
            (e.meta().clone(), e.versions().to_vec())
        };
        let held = versions.first();
        external(&before, "ImportKeyMaterial")?;
        let other_material = || {
            refused(
                ErrorCode::MaterialNotMatch,
                format!(
                    "key {key_id} was given other key material before: only the same material \
                     may be imported again"
                ),
            )
        };
        if held.is_some_and(|h| !bool::from(h.expose().ct_eq(material.expose()))) {
            return Err(other_material());
        }
        let fingerprint = self.root.material_fingerprint(key_id, material);
        let setting = material_fingerprint_setting(key_id);
        let known = self.store().meta(&setting)?;
        if known
            .as_ref()
            .is_some_and(|k| !bool::from(k.as_slice().ct_eq(&fingerprint)))
        {
            return Err(other_material());
        }
        if let Some(take) = take.take() {
            take()?;
        }
        let mut after = before.clone();
        after.valid_to = valid_to;
        match held {
            Some(_) => {
                self.store().update_key(&before, &after)?;
                self.apply(|c| c.insert(Entry::new(after.clone(), versions)));
            }
            None => {
                after.state = KeyState::Enabled;
                after.current_key_version = 1;
                let now = self.now();
                let version = self.wrap(key_id, 1, material, now);
                self.store().add_version(&before, &after, &version)?;
                self.apply(|c| c.insert(Entry::new(after.clone(), vec![material.clone()])));
            }
        }
        // Written after the key's conditional write: of two replicas importing different material
        // at once, only the one whose write won records its fingerprint. A failure here (or a crash
        // before it) leaves the key without one until its next import, or the erasing of its
        // material, which sets it.
        if known.is_none() {
            self.store().set_meta(&setting, &fingerprint)?;
        }
        tracing::info!(key_id = %key_id, valid_to, "key material imported");
        Ok(after)
    }

    /// DeleteImportedKeyMaterial: erases an EXTERNAL key's material; the key goes back to
    /// PendingImport and its ciphertexts stop opening.
    pub fn delete_imported_key_material(&self, name: &str) -> Result<()> {
        self.expire_due(name)?;
        let _w = self.lock_write()?;
        let before = self.read().resolve(name)?.meta().clone();
        external(&before, "DeleteImportedKeyMaterial")?;
        if before.state == KeyState::PendingImport {
            return Err(Error::transition(&before.key_id.to_string(), before.state));
        }
        self.erase_material(&before)?;
        tracing::info!(key_id = %before.key_id, "imported key material deleted");
        Ok(())
    }

    /// Erases the material of `before` (as cached). Caller holds the write lock.
    ///
    /// The first material's fingerprint is recorded first if the key has none (material a seed
    /// document gave, or an import whose fingerprint write failed): once the material is gone,
    /// the fingerprint is all that refuses other material later.
    fn erase_material(&self, before: &KeyMetadata) -> Result<()> {
        let setting = material_fingerprint_setting(before.key_id);
        let first = self
            .read()
            .get(&before.key_id)
            .and_then(|e| e.versions().first().cloned());
        if let Some(first) = first
            && self.store().meta(&setting)?.is_none()
        {
            let fingerprint = self.root.material_fingerprint(before.key_id, &first);
            self.store().set_meta(&setting, &fingerprint)?;
        }
        let after = without_material(before);
        self.store().remove_versions(before, &after)?;
        self.apply(|c| c.insert(Entry::new(after, Vec::new())));
        Ok(())
    }

    /// Erases the material of `key_id` if it is past its `valid_to` (checked on use and by
    /// [`Kms::run_due_tasks`]); true if this call erased it.
    pub(super) fn expire_material(&self, key_id: Uuid) -> Result<bool> {
        let now = self.now();
        let due = |k: &Kms| {
            k.read()
                .get(&key_id)
                .map(|e| e.meta().clone())
                .filter(|m| material_expired(m, now))
        };
        if due(self).is_none() {
            return Ok(false);
        }
        let _w = self.lock_write()?;
        let Some(before) = due(self) else {
            return Ok(false);
        };
        match self.erase_material(&before) {
            Err(Error::Conflict(_)) => {
                // Another replica changed it (or erased the material already): take its view.
                self.resync_locked()?;
                return Ok(false);
            }
            done => done?,
        }
        tracing::info!(key_id = %key_id, valid_to = before.valid_to, "imported key material expired");
        Ok(true)
    }
}

/// The refusal of a cryptographic use of a key without material (PendingImport).
pub(super) fn no_material(m: &KeyMetadata, action: KeyAction) -> Error {
    match next_state(m, action) {
        Err(e) => e,
        Ok(_) => Error::InvalidCiphertext,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use aws_lc_rs::rsa::{
        OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey,
    };

    use super::super::{
        data_keys::DataKeySpec,
        test_support::{T0, open, replica_on_sqlite},
    };
    use super::*;
    use crate::clock::ManualClock;

    /// `material` wrapped under the parameters' public key with `algorithm`.
    fn wrap(p: &ImportParameters, algorithm: WrappingAlgorithm, material: &[u8]) -> Vec<u8> {
        let key =
            OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(&p.public_key_der).unwrap())
                .unwrap();
        let alg = match algorithm {
            WrappingAlgorithm::RsaesOaepSha1 => &OAEP_SHA1_MGF1SHA1,
            WrappingAlgorithm::RsaesOaepSha256 => &OAEP_SHA256_MGF1SHA256,
        };
        let mut out = vec![0u8; key.ciphertext_size()];
        key.encrypt(alg, material, &mut out, None).unwrap().to_vec()
    }

    fn code(e: &Error) -> &'static str {
        e.tencent_code()
    }

    #[test]
    fn import_use_delete_and_import_again() {
        for alg in WrappingAlgorithm::ALL {
            let dir = tempfile::tempdir().unwrap();
            let clock = Arc::new(ManualClock::new(T0));
            let kms = open(dir.path(), clock.clone());
            let m = kms.create_key_from("byok", "", "", true).unwrap();
            assert_eq!(m.state, KeyState::PendingImport);
            assert_eq!(m.origin, ORIGIN_EXTERNAL);
            assert_eq!(m.current_key_version, 0);
            let e = kms
                .generate_data_key("byok", DataKeySpec::Aes256, "", false)
                .unwrap_err();
            assert_eq!(code(&e), "ResourceUnavailable.CmkStateNotSupport");
            let e = kms.rotate_key("byok").unwrap_err();
            assert_eq!(code(&e), "UnsupportedOperation.ExternalCmkCanNotRotate");
            let p = kms
                .get_parameters_for_import("byok", alg.as_str(), "RSA_2048")
                .unwrap();
            assert_eq!(p.parameters_valid_to, T0 + DAY_SECS);
            let material = [7u8; 32];
            let wrapped = wrap(&p, alg, &material);
            let m = kms
                .import_key_material("byok", &wrapped, &p.import_token, 0)
                .unwrap();
            assert_eq!((m.state, m.current_key_version), (KeyState::Enabled, 1));
            let dk = kms
                .generate_data_key("byok", DataKeySpec::Aes256, "", true)
                .unwrap();
            assert_eq!(
                kms.decrypt(&dk.ciphertext_blob, "")
                    .unwrap()
                    .plaintext
                    .expose(),
                dk.plaintext.as_ref().unwrap().expose()
            );
            // The token is used up.
            let e = kms
                .import_key_material("byok", &wrapped, &p.import_token, 0)
                .unwrap_err();
            assert_eq!(code(&e), "InvalidParameterValue");
            kms.delete_imported_key_material("byok").unwrap();
            assert_eq!(
                kms.describe_key("byok").unwrap().state,
                KeyState::PendingImport
            );
            let e = kms.decrypt(&dk.ciphertext_blob, "").unwrap_err();
            assert_eq!(code(&e), "ResourceUnavailable.CmkStateNotSupport");
            let e = kms.delete_imported_key_material("byok").unwrap_err();
            assert_eq!(code(&e), "ResourceUnavailable.CmkStateNotSupport");
            // The same material again: the old ciphertexts open again, after a restart too.
            let p = kms
                .get_parameters_for_import("byok", alg.as_str(), "RSA_2048")
                .unwrap();
            kms.import_key_material("byok", &wrap(&p, alg, &material), &p.import_token, 0)
                .unwrap();
            drop(kms);
            let kms2 = open(dir.path(), clock.clone());
            assert!(kms2.decrypt(&dk.ciphertext_blob, "").is_ok());
            kms2.delete_imported_key_material("byok").unwrap();
            drop(kms2);
            let kms2 = open(dir.path(), clock.clone());
            assert_eq!(
                kms2.describe_key("byok").unwrap().state,
                KeyState::PendingImport
            );
        }
    }

    /// A key seeded with two versions of its own material keeps both through an import of the
    /// first again: what it seals under its newest version opens, before and after a restart.
    #[test]
    fn importing_again_keeps_every_seeded_version() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let kms = open(dir.path(), clock.clone());
        let (m1, m2) = ([0x31u8; 32], [0x32u8; 32]);
        let doc = format!(
            "keys:\n  - key_id: 6f1c2d3e-0000-4000-8000-0000000000e1\n    alias: ext\n    \
             material: ['{}', '{}']\n",
            hex::encode(m1),
            hex::encode(m2)
        );
        assert_eq!(kms.seed(&doc).unwrap(), (1, 1));
        let before = kms
            .generate_data_key("ext", DataKeySpec::Aes256, "", false)
            .unwrap();
        assert_eq!(before.key_version, 2);
        let alg = WrappingAlgorithm::ALL[0];
        let p = kms
            .get_parameters_for_import("ext", alg.as_str(), "RSA_2048")
            .unwrap();
        kms.import_key_material("ext", &wrap(&p, alg, &m1), &p.import_token, 0)
            .unwrap();
        let after = kms
            .generate_data_key("ext", DataKeySpec::Aes256, "", false)
            .unwrap();
        assert_eq!(after.key_version, 2);
        for blob in [&before.ciphertext_blob, &after.ciphertext_blob] {
            assert_eq!(kms.decrypt(blob, "").unwrap().key_version, 2);
        }
        drop(kms);
        let kms = open(dir.path(), clock);
        for blob in [&before.ciphertext_blob, &after.ciphertext_blob] {
            assert_eq!(kms.decrypt(blob, "").unwrap().key_version, 2);
        }
    }

    /// A seed applied again (every start applies `--seed`) leaves a PendingImport key as it is:
    /// deleted material stays deleted, and a key created for import is not enabled without any.
    #[test]
    fn a_seed_never_gives_a_pending_import_key_material() {
        let dir = tempfile::tempdir().unwrap();
        let kms = open(dir.path(), Arc::new(ManualClock::new(T0)));
        let doc = format!(
            "keys:\n  - key_id: 6f1c2d3e-0000-4000-8000-0000000000e2\n    alias: seeded\n    \
             material: ['{}']\n",
            hex::encode([0x41u8; 32])
        );
        assert_eq!(kms.seed(&doc).unwrap(), (1, 1));
        let sealed = kms.encrypt("seeded", b"old", "").unwrap();
        kms.delete_imported_key_material("seeded").unwrap();
        assert_eq!(kms.seed(&doc).unwrap(), (0, 1));
        assert_eq!(
            kms.describe_key("seeded").unwrap().state,
            KeyState::PendingImport
        );
        let e = kms.decrypt(&sealed.ciphertext_blob, "").unwrap_err();
        assert_eq!(code(&e), "ResourceUnavailable.CmkStateNotSupport");
        let created = kms.create_key_from("for-import", "", "", true).unwrap();
        let doc = format!(
            "keys:\n  - key_id: {}\n    alias: for-import\n    state: Enabled\n",
            created.key_id
        );
        assert_eq!(kms.seed(&doc).unwrap(), (0, 1));
        let m = kms.describe_key("for-import").unwrap();
        assert_eq!(
            (m.state, m.current_key_version),
            (KeyState::PendingImport, 0)
        );
    }

    /// A seeded EXTERNAL key whose material is deleted takes back only that material: its
    /// fingerprint is recorded when the material goes (the seed wrote none), so other material
    /// cannot make what it sealed unreadable.
    #[test]
    fn seeded_material_once_deleted_is_the_only_material_taken_back() {
        let dir = tempfile::tempdir().unwrap();
        let kms = open(dir.path(), Arc::new(ManualClock::new(T0)));
        let own = [0x51u8; 32];
        let doc = format!(
            "keys:\n  - key_id: 6f1c2d3e-0000-4000-8000-0000000000e3\n    alias: seeded\n    \
             material: ['{}']\n",
            hex::encode(own)
        );
        assert_eq!(kms.seed(&doc).unwrap(), (1, 1));
        let sealed = kms.encrypt("seeded", b"kept", "").unwrap();
        kms.delete_imported_key_material("seeded").unwrap();
        let alg = WrappingAlgorithm::ALL[0];
        let p = kms
            .get_parameters_for_import("seeded", alg.as_str(), "RSA_2048")
            .unwrap();
        let e = kms
            .import_key_material("seeded", &wrap(&p, alg, &[0x99u8; 32]), &p.import_token, 0)
            .unwrap_err();
        assert_eq!(code(&e), "InvalidParameterValue.MaterialNotMatch");
        let p = kms
            .get_parameters_for_import("seeded", alg.as_str(), "RSA_2048")
            .unwrap();
        kms.import_key_material("seeded", &wrap(&p, alg, &own), &p.import_token, 0)
            .unwrap();
        assert_eq!(
            kms.decrypt(&sealed.ciphertext_blob, "")
                .unwrap()
                .plaintext
                .expose(),
            b"kept"
        );
    }

    /// A key that never got material (or lost it) can be scheduled for deletion; cancelled, it
    /// waits for material again; due, it is gone.
    #[test]
    fn a_key_without_material_can_be_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let kms = open(dir.path(), clock.clone());
        kms.create_key_from("waiting", "", "", true).unwrap();
        assert_eq!(
            kms.schedule_key_deletion("waiting", 7).unwrap(),
            T0 + 7 * DAY_SECS
        );
        assert_eq!(
            kms.describe_key("waiting").unwrap().state,
            KeyState::PendingDelete
        );
        kms.cancel_key_deletion("waiting").unwrap();
        let m = kms.describe_key("waiting").unwrap();
        assert_eq!(
            (m.state, m.deletion_date, m.current_key_version),
            (KeyState::PendingImport, 0, 0)
        );
        kms.schedule_key_deletion("waiting", 7).unwrap();
        clock.advance(7 * DAY_SECS + 1);
        kms.run_due_tasks().unwrap();
        let e = kms.describe_key("waiting").unwrap_err();
        assert_eq!(code(&e), "ResourceUnavailable.CmkNotFound");
    }

    #[test]
    fn import_parameters_never_print_their_token() {
        let dir = tempfile::tempdir().unwrap();
        let kms = open(dir.path(), Arc::new(ManualClock::new(T0)));
        kms.create_key_from("byok", "", "", true).unwrap();
        let p = kms
            .get_parameters_for_import("byok", "RSAES_OAEP_SHA_256", "RSA_2048")
            .unwrap();
        let shown = format!("{p:?}");
        assert!(!p.import_token.is_empty());
        assert!(!shown.contains(&p.import_token), "{shown}");
        assert!(shown.contains(&p.key_id.to_string()), "{shown}");
    }

    #[test]
    fn refusals_name_their_codes() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let kms = open(dir.path(), clock.clone());
        kms.create_key("own", "", "").unwrap();
        kms.create_key_from("byok", "", "", true).unwrap();
        let e = kms
            .get_parameters_for_import("own", "RSAES_OAEP_SHA_256", "RSA_2048")
            .unwrap_err();
        assert_eq!(code(&e), "UnsupportedOperation.NotExternalCmk");
        for (alg, spec) in [
            ("RSAES_PKCS1_V1_5", "RSA_2048"),
            ("RSAES_OAEP_SHA_1", "RSA_4096"),
        ] {
            let e = kms
                .get_parameters_for_import("byok", alg, spec)
                .unwrap_err();
            assert_eq!(code(&e), "InvalidParameterValue", "{alg} {spec}");
        }
        let alg = WrappingAlgorithm::RsaesOaepSha256;
        let p = kms
            .get_parameters_for_import("byok", alg.as_str(), "RSA_2048")
            .unwrap();
        let e = kms
            .import_key_material("own", &wrap(&p, alg, &[1; 32]), &p.import_token, 0)
            .unwrap_err();
        assert_eq!(code(&e), "UnsupportedOperation.NotExternalCmk");
        let e = kms
            .import_key_material("byok", &wrap(&p, alg, &[1; 32]), "nope", 0)
            .unwrap_err();
        assert_eq!(code(&e), "InvalidParameterValue");
        let e = kms
            .import_key_material("byok", &wrap(&p, alg, &[1; 16]), &p.import_token, 0)
            .unwrap_err();
        assert_eq!(e.to_string(), "key material must be 32 bytes, got 16");
        let sha1 = wrap(&p, WrappingAlgorithm::RsaesOaepSha1, &[1; 32]);
        let e = kms
            .import_key_material("byok", &sha1, &p.import_token, 0)
            .unwrap_err();
        assert_eq!(code(&e), "InvalidParameter.DecryptMaterialError");
        let e = kms
            .import_key_material("byok", &wrap(&p, alg, &[1; 32]), &p.import_token, T0)
            .unwrap_err();
        assert_eq!(code(&e), "InvalidParameterValue");
        let e = kms
            .import_key_material(
                "byok",
                &wrap(&p, alg, &[1; 32]),
                &p.import_token,
                MAX_VALID_TO + 1,
            )
            .unwrap_err();
        assert_eq!(code(&e), "InvalidParameterValue");
        assert!(e.to_string().contains("at most 2147443200"), "{e}");
        // Different material into a key that holds material.
        kms.import_key_material("byok", &wrap(&p, alg, &[1; 32]), &p.import_token, 0)
            .unwrap();
        let p = kms
            .get_parameters_for_import("byok", alg.as_str(), "RSA_2048")
            .unwrap();
        let e = kms
            .import_key_material("byok", &wrap(&p, alg, &[2; 32]), &p.import_token, 0)
            .unwrap_err();
        assert_eq!(code(&e), "InvalidParameterValue.MaterialNotMatch");
        // Tencent imports into Enabled and PendingImport keys only: the same material, to a
        // Disabled key, is refused for its state.
        kms.disable_key("byok").unwrap();
        let e = kms
            .import_key_material("byok", &wrap(&p, alg, &[1; 32]), &p.import_token, 0)
            .unwrap_err();
        assert_eq!(code(&e), "ResourceUnavailable.CmkStateNotSupport");
        kms.enable_key("byok").unwrap();
        // An expired token.
        clock.advance(DAY_SECS);
        let e = kms
            .import_key_material("byok", &wrap(&p, alg, &[1; 32]), &p.import_token, 0)
            .unwrap_err();
        assert_eq!(code(&e), "ResourceUnavailable.TokenExpired");
    }

    #[test]
    fn material_expires_at_valid_to_and_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let kms = open(dir.path(), clock.clone());
        kms.create_key_from("byok", "", "", true).unwrap();
        let alg = WrappingAlgorithm::RsaesOaepSha1;
        let p = kms
            .get_parameters_for_import("byok", alg.as_str(), "RSA_2048")
            .unwrap();
        let m = kms
            .import_key_material("byok", &wrap(&p, alg, &[5; 32]), &p.import_token, T0 + 100)
            .unwrap();
        assert_eq!(m.valid_to, T0 + 100);
        let blob = kms.encrypt("byok", b"hi", "").unwrap().ciphertext_blob;
        drop(kms);
        let kms = open(dir.path(), clock.clone());
        assert_eq!(kms.describe_key("byok").unwrap().valid_to, T0 + 100);
        clock.advance(99);
        assert!(kms.decrypt(&blob, "").is_ok());
        clock.advance(1);
        let e = kms.decrypt(&blob, "").unwrap_err();
        assert_eq!(code(&e), "ResourceUnavailable.CmkStateNotSupport");
        let m = kms.describe_key("byok").unwrap();
        assert_eq!((m.state, m.valid_to), (KeyState::PendingImport, 0));
        drop(kms);
        // Erased in the store, too; and run_due_tasks erases without a use.
        let kms = open(dir.path(), clock.clone());
        assert_eq!(kms.material_count("byok"), 0);
        let p = kms
            .get_parameters_for_import("byok", alg.as_str(), "RSA_2048")
            .unwrap();
        kms.import_key_material("byok", &wrap(&p, alg, &[5; 32]), &p.import_token, T0 + 200)
            .unwrap();
        clock.advance(100);
        kms.run_due_tasks().unwrap();
        assert_eq!(kms.material_count("byok"), 0);
    }

    /// Other material than the key's first is refused once the first is erased: deleted, or
    /// past its `valid_to`, after a restart too; the first material is taken again.
    #[test]
    fn only_the_first_material_is_taken_after_it_is_erased() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let kms = open(dir.path(), clock.clone());
        kms.create_key_from("byok", "", "", true).unwrap();
        kms.create_key_from("other", "", "", true).unwrap();
        let alg = WrappingAlgorithm::RsaesOaepSha256;
        let import = |kms: &Kms, name: &str, material: [u8; 32], valid_to: i64| {
            let p = kms
                .get_parameters_for_import(name, alg.as_str(), "RSA_2048")
                .unwrap();
            kms.import_key_material(name, &wrap(&p, alg, &material), &p.import_token, valid_to)
        };
        import(&kms, "byok", [1; 32], 0).unwrap();
        kms.delete_imported_key_material("byok").unwrap();
        let e = import(&kms, "byok", [2; 32], 0).unwrap_err();
        assert_eq!(code(&e), "InvalidParameterValue.MaterialNotMatch");
        assert_eq!(
            e.to_string(),
            format!(
                "key {} was given other key material before: only the same material may be \
                 imported again",
                kms.describe_key("byok").unwrap().key_id
            )
        );
        assert_eq!(
            kms.describe_key("byok").unwrap().state,
            KeyState::PendingImport
        );
        // Each key has its own fingerprint: the same bytes go into another key.
        import(&kms, "other", [2; 32], 0).unwrap();
        drop(kms);
        let kms = open(dir.path(), clock.clone());
        let e = import(&kms, "byok", [2; 32], 0).unwrap_err();
        assert_eq!(code(&e), "InvalidParameterValue.MaterialNotMatch");
        // Material that expired is the key's material too.
        import(&kms, "byok", [1; 32], T0 + 10).unwrap();
        clock.advance(10);
        kms.run_due_tasks().unwrap();
        assert_eq!(kms.material_count("byok"), 0);
        let e = import(&kms, "byok", [3; 32], 0).unwrap_err();
        assert_eq!(code(&e), "InvalidParameterValue.MaterialNotMatch");
        let m = import(&kms, "byok", [1; 32], 0).unwrap();
        assert_eq!(m.state, KeyState::Enabled);
    }

    /// A fingerprint is a keyed digest: another root key, key or material gives another one.
    #[test]
    fn fingerprints_depend_on_root_key_key_and_material() {
        use base64::Engine as _;
        let root = |b: u8| {
            crate::root_key::RootKey::from_base64(
                &base64::engine::general_purpose::STANDARD.encode([b; 32]),
            )
            .unwrap()
        };
        let (k1, k2) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let m = |b: u8| Key32::from_slice(&[b; 32]).unwrap();
        let f = root(1).material_fingerprint(k1, &m(1));
        assert_eq!(f, root(1).material_fingerprint(k1, &m(1)));
        assert_ne!(f, root(2).material_fingerprint(k1, &m(1)));
        assert_ne!(f, root(1).material_fingerprint(k2, &m(1)));
        assert_ne!(f, root(1).material_fingerprint(k1, &m(2)));
    }

    /// Two servers on one database: material deleted on one stops the other after its resync,
    /// the same material imported again on one opens on the other, and other material is refused
    /// on either (the fingerprint is in the shared store).
    #[test]
    fn a_resync_takes_in_material_imported_again_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("kms.sqlite3");
        let clock = Arc::new(ManualClock::new(T0));
        let a = replica_on_sqlite(&db, clock.clone());
        let b = replica_on_sqlite(&db, clock.clone());
        a.create_key_from("byok", "", "", true).unwrap();
        let alg = WrappingAlgorithm::RsaesOaepSha256;
        let import = |kms: &Kms, material: [u8; 32]| {
            let p = kms
                .get_parameters_for_import("byok", alg.as_str(), "RSA_2048")
                .unwrap();
            kms.import_key_material("byok", &wrap(&p, alg, &material), &p.import_token, 0)
        };
        import(&a, [1; 32]).unwrap();
        b.resync().unwrap();
        let blob = b.encrypt("byok", b"x", "").unwrap().ciphertext_blob;
        a.delete_imported_key_material("byok").unwrap();
        b.resync().unwrap();
        assert!(b.decrypt(&blob, "").is_err(), "b still holds the material");
        for kms in [&a, &b] {
            let e = import(kms, [2; 32]).unwrap_err();
            assert_eq!(code(&e), "InvalidParameterValue.MaterialNotMatch");
        }
        import(&a, [1; 32]).unwrap();
        b.resync().unwrap();
        assert!(b.decrypt(&blob, "").is_ok());
        let again = b.encrypt("byok", b"y", "").unwrap().ciphertext_blob;
        assert!(a.decrypt(&again, "").is_ok());
    }

    /// An import token works on any replica of the store, once: given by one, used on the
    /// other; used again on either, refused; replaced by a newer one from either, refused;
    /// expired, refused (and gone); two replicas racing with one token, one wins.
    fn tokens_work_across_replicas(a: &Kms, b: &Kms, clock: &ManualClock) {
        let alg = WrappingAlgorithm::RsaesOaepSha256;
        let material = [6u8; 32];
        a.create_key_from("byok", "", "", true).unwrap();
        b.resync().unwrap();
        let params = |kms: &Kms| {
            kms.get_parameters_for_import("byok", alg.as_str(), "RSA_2048")
                .unwrap()
        };
        let import = |kms: &Kms, p: &ImportParameters| {
            kms.import_key_material("byok", &wrap(p, alg, &material), &p.import_token, 0)
        };
        let not_given = |e: Error| {
            assert_eq!(code(&e), "InvalidParameterValue", "{e}");
            assert_eq!(
                e.to_string(),
                format!(
                    "ImportToken is not one GetParametersForImport gave for key {}",
                    a.describe_key("byok").unwrap().key_id
                )
            );
        };
        let p = params(a);
        let m = import(b, &p).unwrap();
        assert_eq!((m.state, m.current_key_version), (KeyState::Enabled, 1));
        not_given(import(a, &p).unwrap_err());
        not_given(import(b, &p).unwrap_err());
        a.resync().unwrap();
        let blob = b.encrypt("byok", b"x", "").unwrap().ciphertext_blob;
        assert!(a.decrypt(&blob, "").is_ok());
        // A newer call on either replica replaces the older token.
        let (older, newer) = (params(a), params(b));
        not_given(import(b, &older).unwrap_err());
        not_given(import(a, &older).unwrap_err());
        import(a, &newer).unwrap();
        // Expired on one replica, gone on both.
        let p = params(a);
        clock.advance(IMPORT_PARAMETERS_VALID_SECS);
        let e = import(b, &p).unwrap_err();
        assert_eq!(code(&e), "ResourceUnavailable.TokenExpired");
        not_given(import(a, &p).unwrap_err());
        // Both replicas at once with one token: exactly one imports.
        for _ in 0..5 {
            let p = params(b);
            let barrier = std::sync::Barrier::new(2);
            let (barrier, p, import) = (&barrier, &p, &import);
            let [ra, rb] = std::thread::scope(|s| {
                let ta = s.spawn(move || {
                    barrier.wait();
                    import(a, p)
                });
                let tb = s.spawn(move || {
                    barrier.wait();
                    import(b, p)
                });
                [ta.join().unwrap(), tb.join().unwrap()]
            });
            let (ok, refused): (Vec<_>, Vec<_>) = [ra, rb].into_iter().partition(Result::is_ok);
            assert_eq!(ok.len(), 1, "{refused:?}");
            not_given(refused.into_iter().next().unwrap().unwrap_err());
        }
    }

    #[test]
    fn tokens_work_across_replicas_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("kms.sqlite3");
        let clock = Arc::new(ManualClock::new(T0));
        let a = replica_on_sqlite(&db, clock.clone());
        let b = replica_on_sqlite(&db, clock.clone());
        tokens_work_across_replicas(&a, &b, &clock);
    }

    /// The same on one PostgreSQL (skipped, saying so, without PostgreSQL unless
    /// `KMS_REQUIRE_POSTGRES=1` or `CI`).
    #[test]
    fn tokens_work_across_replicas_on_postgres() {
        use crate::store::postgres::{PostgresOptions, PostgresStore, harness::Postgres};
        use base64::Engine as _;
        let Some(pg) = Postgres::start("byok tokens across replicas") else {
            return;
        };
        let url = pg.new_database();
        let clock = Arc::new(ManualClock::new(T0));
        let replica = || {
            let root = crate::root_key::RootKey::from_base64(
                &base64::engine::general_purpose::STANDARD.encode([4u8; 32]),
            )
            .unwrap();
            let store = PostgresStore::open(&url, &PostgresOptions::default()).unwrap();
            Kms::open_with_store(Box::new(store), root, clock.clone()).unwrap()
        };
        let (a, b) = (replica(), replica());
        tokens_work_across_replicas(&a, &b, &clock);
    }

    impl Kms {
        fn material_count(&self, name: &str) -> usize {
            self.read().resolve(name).unwrap().version_count()
        }
    }
}
