//! Key material, the root key, and the ciphertext blob format.
//!
//! # Key hierarchy
//! - The **root key** (32 bytes) comes from a file (mode 0600) or `KMS_ROOT_KEY`; it never touches
//!   the database. It wraps every CMK version's material with AES-256-GCM under a random nonce, with
//!   AAD = `"kms/v1/material" || key uuid (16) || be32(version)`, so wrapped material cannot be moved
//!   to another key or version. A verifier sealed under the root key lets a server with the wrong
//!   root key refuse to start instead of failing on every request.
//! - A **CMK version** is 32 random bytes (or bytes given by a seed file).
//! - Each ciphertext blob gets its own **message key** = HKDF-SHA256(ikm = version material,
//!   salt = 32 random bytes, info = [`BLOB_KEY_INFO`]). Keys never repeat (2^-256 per pair), so the
//!   96-bit random GCM nonce is never at risk of the 2^32-messages-per-key limit of SP 800-38D.
//!
//! # Blob format v1 (frozen by the test vectors below)
//! ```text
//! offset len field
//! 0      2   magic "KB"
//! 2      1   format version = 1
//! 3      16  key id (UUID bytes)
//! 19     4   key version, big endian
//! 23     32  salt
//! 55     12  GCM nonce
//! 67     n   ciphertext
//! 67+n   16  GCM tag
//! ```
//! AAD = bytes 0..67 (the whole header) || the canonical encryption context.

use std::{fmt, io::Write, path::Path};

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, AeadInPlace, Payload},
};
use base64::Engine as _;
use hkdf::Hkdf;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox};
use sha2::Sha256;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::{
    context::EncryptionContext,
    error::{Error, Result},
};

/// Bytes of an AES-256 key (root key, CMK material, message key).
pub const KEY_LEN: usize = 32;
/// Bytes of a GCM nonce.
pub const NONCE_LEN: usize = 12;
/// Bytes of a GCM tag.
pub const TAG_LEN: usize = 16;
/// Bytes of the per-blob HKDF salt.
pub const SALT_LEN: usize = 32;

/// Blob magic.
pub const BLOB_MAGIC: [u8; 2] = *b"KB";
/// Current blob format version.
pub const BLOB_VERSION: u8 = 1;
const KEY_ID_OFFSET: usize = BLOB_MAGIC.len() + 1;
const KEY_VERSION_OFFSET: usize = KEY_ID_OFFSET + 16;
const SALT_OFFSET: usize = KEY_VERSION_OFFSET + 4;
const NONCE_OFFSET: usize = SALT_OFFSET + SALT_LEN;
/// Bytes of the blob header (everything before the ciphertext).
pub const BLOB_HEADER_LEN: usize = NONCE_OFFSET + NONCE_LEN;
/// Smallest well-formed blob: a header and a tag (empty plaintexts are never sealed, but the format
/// allows them).
pub const BLOB_MIN_LEN: usize = BLOB_HEADER_LEN + TAG_LEN;

/// HKDF info for the per-blob message key: names the purpose and the format version.
pub const BLOB_KEY_INFO: &[u8] = b"kms/v1/blob-key";
const MATERIAL_AAD_LABEL: &[u8] = b"kms/v1/material";
const ROOT_CHECK_AAD: &[u8] = b"kms/v1/root-key-check";
const ROOT_CHECK_PLAINTEXT: &[u8] = b"kms root key check";

/// Bytes that must stay secret: zeroized on drop, never printed.
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Wraps bytes (taken, not copied).
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The bytes, at the point of use.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Consumes the wrapper; the caller takes over the duty to zeroize.
    pub fn into_inner(self) -> Zeroizing<Vec<u8>> {
        self.0
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([REDACTED; {}])", self.0.len())
    }
}

/// A 32-byte secret key (root key or CMK version material).
pub struct Key32(SecretBox<[u8; KEY_LEN]>);

impl Key32 {
    /// A fresh random key.
    pub fn random() -> Self {
        let mut k = Box::new([0u8; KEY_LEN]);
        rand::rng().fill_bytes(k.as_mut());
        Self(SecretBox::new(k))
    }

    /// From exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; KEY_LEN] = bytes.try_into().ok()?;
        Some(Self(SecretBox::new(Box::new(arr))))
    }

    pub(crate) fn expose(&self) -> &[u8; KEY_LEN] {
        self.0.expose_secret()
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(self.expose().into())
    }
}

impl Clone for Key32 {
    fn clone(&self) -> Self {
        Self(SecretBox::new(Box::new(*self.expose())))
    }
}

impl fmt::Debug for Key32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key32([REDACTED])")
    }
}

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
    /// A file that group or others may read is refused.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        match std::fs::metadata(path) {
            Ok(meta) => {
                check_private(path, &meta)?;
                let text =
                    Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                        Error::RootKey(format!("cannot read {}: {e}", path.display()))
                    })?);
                Self::from_base64(&text)
                    .map_err(|e| Error::RootKey(format!("{}: {e}", path.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let key = Key32::random();
                let text = Zeroizing::new(
                    base64::engine::general_purpose::STANDARD.encode(key.expose()) + "\n",
                );
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                let mut file = opts.open(path).map_err(|e| {
                    Error::RootKey(format!("cannot create {}: {e}", path.display()))
                })?;
                file.write_all(text.as_bytes())?;
                file.sync_all()?;
                Ok(RootKey(key))
            }
            Err(e) => Err(Error::RootKey(format!("{}: {e}", path.display()))),
        }
    }

    /// Wraps one CMK version's material.
    pub(crate) fn wrap_material(&self, key_id: Uuid, version: u32, material: &Key32) -> Vec<u8> {
        seal_random_nonce(&self.0, &material_aad(key_id, version), material.expose())
    }

    /// Unwraps one CMK version's material; any failure is [`Error::RootKeyMismatch`].
    pub(crate) fn unwrap_material(
        &self,
        key_id: Uuid,
        version: u32,
        wrapped: &[u8],
    ) -> Result<Key32> {
        let raw = open_random_nonce(&self.0, &material_aad(key_id, version), wrapped)
            .ok_or(Error::RootKeyMismatch)?;
        Key32::from_slice(&raw).ok_or(Error::RootKeyMismatch)
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

#[cfg(unix)]
fn check_private(path: &Path, meta: &std::fs::Metadata) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(Error::RootKey(format!(
            "{} is readable by group or others (mode {:o}); chmod 600 it",
            path.display(),
            mode & 0o777
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path, _: &std::fs::Metadata) -> Result<()> {
    Ok(())
}

fn material_aad(key_id: Uuid, version: u32) -> Vec<u8> {
    let mut aad = Vec::with_capacity(MATERIAL_AAD_LABEL.len() + 20);
    aad.extend_from_slice(MATERIAL_AAD_LABEL);
    aad.extend_from_slice(key_id.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
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

/// The parts of a blob header that name the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobHeader {
    /// The CMK that sealed the blob.
    pub key_id: Uuid,
    /// Its version.
    pub key_version: u32,
}

impl BlobHeader {
    /// Reads the header; a malformed blob is [`Error::InvalidCiphertext`].
    pub fn parse(blob: &[u8]) -> Result<Self> {
        if blob.len() < BLOB_MIN_LEN
            || blob[..BLOB_MAGIC.len()] != BLOB_MAGIC
            || blob[BLOB_MAGIC.len()] != BLOB_VERSION
        {
            return Err(Error::InvalidCiphertext);
        }
        let key_id = Uuid::from_slice(&blob[KEY_ID_OFFSET..KEY_VERSION_OFFSET])
            .map_err(|_| Error::InvalidCiphertext)?;
        let key_version = u32::from_be_bytes(
            blob[KEY_VERSION_OFFSET..SALT_OFFSET]
                .try_into()
                .map_err(|_| Error::InvalidCiphertext)?,
        );
        Ok(Self {
            key_id,
            key_version,
        })
    }
}

fn message_cipher(material: &Key32, salt: &[u8]) -> Aes256Gcm {
    let hk = Hkdf::<Sha256>::new(Some(salt), material.expose());
    let mut okm = Zeroizing::new([0u8; KEY_LEN]);
    hk.expand(BLOB_KEY_INFO, okm.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    Aes256Gcm::new(okm.as_ref().into())
}

fn blob_aad(header: &[u8], context: &EncryptionContext) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + context.canonical_len());
    aad.extend_from_slice(header);
    context.write_canonical(&mut aad);
    aad
}

/// Seals `plaintext` under one CMK version with a fresh salt and nonce.
pub fn seal_blob(
    material: &Key32,
    header: BlobHeader,
    context: &EncryptionContext,
    plaintext: &[u8],
) -> Vec<u8> {
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    let mut rng = rand::rng();
    rng.fill_bytes(&mut salt);
    rng.fill_bytes(&mut nonce);
    seal_blob_with(material, header, &salt, &nonce, context, plaintext)
}

/// [`seal_blob`] with the salt and nonce given (test vectors only need this).
pub fn seal_blob_with(
    material: &Key32,
    header: BlobHeader,
    salt: &[u8; SALT_LEN],
    nonce: &[u8; NONCE_LEN],
    context: &EncryptionContext,
    plaintext: &[u8],
) -> Vec<u8> {
    let mut blob = Vec::with_capacity(BLOB_MIN_LEN + plaintext.len());
    blob.extend_from_slice(&BLOB_MAGIC);
    blob.push(BLOB_VERSION);
    blob.extend_from_slice(header.key_id.as_bytes());
    blob.extend_from_slice(&header.key_version.to_be_bytes());
    blob.extend_from_slice(salt);
    blob.extend_from_slice(nonce);
    debug_assert_eq!(blob.len(), BLOB_HEADER_LEN);
    let aad = blob_aad(&blob, context);
    // Sealed in place after the header: no separate ciphertext buffer to allocate and copy.
    blob.extend_from_slice(plaintext);
    let tag = message_cipher(material, salt)
        .encrypt_in_place_detached(Nonce::from_slice(nonce), &aad, &mut blob[BLOB_HEADER_LEN..])
        .expect("AES-GCM sealing cannot fail for inputs far below its size limit");
    blob.extend_from_slice(&tag);
    blob
}

/// Opens a blob whose header has been parsed and whose key version is `material`.
/// Every failure is the opaque [`Error::InvalidCiphertext`].
pub fn open_blob(
    material: &Key32,
    context: &EncryptionContext,
    blob: &[u8],
) -> Result<SecretBytes> {
    if blob.len() < BLOB_MIN_LEN {
        return Err(Error::InvalidCiphertext);
    }
    let (header, ct) = blob.split_at(BLOB_HEADER_LEN);
    let aad = blob_aad(header, context);
    message_cipher(material, &header[SALT_OFFSET..NONCE_OFFSET])
        .decrypt(
            Nonce::from_slice(&header[NONCE_OFFSET..]),
            Payload { msg: ct, aad: &aad },
        )
        .map(SecretBytes::new)
        .map_err(|_| Error::InvalidCiphertext)
}

/// `n` random bytes from the OS-seeded CSPRNG.
pub fn random_bytes(n: usize) -> SecretBytes {
    let mut v = vec![0u8; n];
    rand::rng().fill_bytes(&mut v);
    SecretBytes::new(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn material() -> Key32 {
        Key32::from_slice(&[0x11; KEY_LEN]).unwrap()
    }

    fn header() -> BlobHeader {
        BlobHeader {
            key_id: Uuid::parse_str("0f8e4c2a-6b1d-4e3f-9a7b-5c6d7e8f9a0b").unwrap(),
            key_version: 2,
        }
    }

    /// Frozen format: any change to the layout, the KDF or the AAD must change this on purpose.
    const VECTOR_V1: &str = include_str!("../tests/vectors/blob_v1.hex");

    #[test]
    fn blob_test_vector() {
        let ctx =
            EncryptionContext::from_pairs([("bucket", "examplebucket-1250000000"), ("a", "b")]);
        let blob = seal_blob_with(
            &material(),
            header(),
            &[0x22; SALT_LEN],
            &[0x33; NONCE_LEN],
            &ctx,
            b"test vector plaintext",
        );
        assert_eq!(hex::encode(&blob), VECTOR_V1.trim());
        let opened = open_blob(&material(), &ctx, &hex::decode(VECTOR_V1.trim()).unwrap()).unwrap();
        assert_eq!(opened.expose(), b"test vector plaintext");
        assert_eq!(BlobHeader::parse(&blob).unwrap(), header());
    }

    #[test]
    fn every_byte_is_authenticated() {
        let ctx = EncryptionContext::from_pairs([("k", "v")]);
        let blob = seal_blob(&material(), header(), &ctx, b"secret data key bytes");
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            let res = BlobHeader::parse(&bad).and_then(|_| open_blob(&material(), &ctx, &bad));
            assert!(matches!(res, Err(Error::InvalidCiphertext)), "byte {i}");
        }
        for len in 0..blob.len() {
            assert!(open_blob(&material(), &ctx, &blob[..len]).is_err());
        }
    }

    #[test]
    fn context_and_material_bind() {
        let ctx = EncryptionContext::from_pairs([("k", "v")]);
        let blob = seal_blob(&material(), header(), &ctx, b"x");
        assert!(open_blob(&material(), &EncryptionContext::empty(), &blob).is_err());
        assert!(open_blob(&Key32::random(), &ctx, &blob).is_err());
    }

    #[test]
    fn material_wrap_binds_key_and_version() {
        let root = RootKey(Key32::random());
        let id = header().key_id;
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
    fn secrets_do_not_print() {
        let k = Key32::from_slice(&[0xAB; KEY_LEN]).unwrap();
        assert_eq!(format!("{k:?}"), "Key32([REDACTED])");
        let s = SecretBytes::new(vec![0xAB; 3]);
        assert_eq!(format!("{s:?}"), "SecretBytes([REDACTED; 3])");
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
            assert!(err.contains("readable by group or others"), "{err}");
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

    proptest! {
        #[test]
        fn blob_round_trip(
            pt in proptest::collection::vec(any::<u8>(), 0..300),
            version in any::<u32>(),
            id in any::<[u8; 16]>(),
        ) {
            let h = BlobHeader { key_id: Uuid::from_bytes(id), key_version: version };
            let ctx = EncryptionContext::from_pairs([("n", "v")]);
            let blob = seal_blob(&material(), h, &ctx, &pt);
            prop_assert_eq!(blob.len(), BLOB_MIN_LEN + pt.len());
            prop_assert_eq!(BlobHeader::parse(&blob).unwrap(), h);
            let opened = open_blob(&material(), &ctx, &blob).unwrap();
            prop_assert_eq!(opened.expose(), &pt[..]);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = BlobHeader::parse(&bytes);
            let _ = open_blob(&material(), &EncryptionContext::empty(), &bytes);
        }
    }
}
