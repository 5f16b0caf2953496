//! The ciphertext blob: what Encrypt and GenerateDataKey return and Decrypt takes back. Its header
//! names the CMK version that sealed it; everything else is the sealed plaintext.
//!
//! New blobs are **format v2**: XAES-256-GCM ([`crate::xaes`]) under the version material, with a
//! random 192-bit nonce. Every blob runs under its own derived AES-256-GCM key, so the random nonce
//! never approaches SP 800-38D's limit of 2^32 messages per key; the derivation is two AES blocks
//! once a version's [`BlobKey`] is set up. **Format v1** blobs (a per-blob HKDF-SHA256 key from a 32-byte
//! salt) still open and are never written.
//!
//! # Blob format v2 (frozen by `tests/vectors/blob_v2.hex`)
//! ```text
//! offset len field
//! 0      2   magic "KB"
//! 2      1   format version = 2
//! 3      16  key id (UUID bytes)
//! 19     4   key version, big endian
//! 23     24  XAES-256-GCM nonce
//! 47     n   ciphertext
//! 47+n   16  GCM tag
//! ```
//! # Blob format v1 (read only; frozen by `tests/vectors/blob_v1.hex`)
//! ```text
//! 0 "KB", 2 version = 1, 3 key id, 19 key version, 23 salt (32), 55 GCM nonce (12), 67 ciphertext, tag
//! ```
//! v1's message key = HKDF-SHA256(ikm = version material, salt, info = [`BLOB_KEY_INFO`]).
//!
//! In both, AAD = the whole header || the canonical encryption context.

use std::sync::OnceLock;

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::{
    context::EncryptionContext,
    error::{Error, Result},
    secret::{KEY_LEN, Key32, NONCE_LEN, SecretBytes, TAG_LEN},
    xaes::{XAES_NONCE_LEN, Xaes256Gcm},
};

/// Bytes of the per-blob HKDF salt of format v1.
pub const SALT_LEN: usize = 32;
/// Blob magic.
pub const BLOB_MAGIC: [u8; 2] = *b"KB";
/// The format new blobs are written in.
pub const BLOB_VERSION: u8 = 2;
/// The first format, still read.
pub const BLOB_VERSION_V1: u8 = 1;
pub(crate) const KEY_ID_OFFSET: usize = BLOB_MAGIC.len() + 1;
pub(crate) const KEY_VERSION_OFFSET: usize = KEY_ID_OFFSET + 16;
const KEY_PART_END: usize = KEY_VERSION_OFFSET + 4;
/// v2: the XAES-256-GCM nonce ends the header.
const XAES_NONCE_OFFSET: usize = KEY_PART_END;
/// Bytes of a v2 blob header (everything before the ciphertext).
pub const BLOB_HEADER_LEN: usize = XAES_NONCE_OFFSET + XAES_NONCE_LEN;
/// v1: the salt, then the GCM nonce.
const V1_SALT_OFFSET: usize = KEY_PART_END;
const V1_NONCE_OFFSET: usize = V1_SALT_OFFSET + SALT_LEN;
/// Bytes of a v1 blob header.
pub const BLOB_V1_HEADER_LEN: usize = V1_NONCE_OFFSET + NONCE_LEN;
/// Smallest well-formed blob: a v2 header and a tag (empty plaintexts are never sealed, but the
/// format allows them).
pub const BLOB_MIN_LEN: usize = BLOB_HEADER_LEN + TAG_LEN;
/// The most a blob adds to its plaintext in any format read (v1's longer header and a tag): what
/// size limits on incoming blobs allow for.
pub const BLOB_MAX_OVERHEAD: usize = BLOB_V1_HEADER_LEN + TAG_LEN;

/// HKDF info for the per-blob message key of format v1.
pub const BLOB_KEY_INFO: &[u8] = b"kms/v1/blob-key";

/// The parts of a blob header that name the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobHeader {
    /// The CMK that sealed the blob.
    pub key_id: Uuid,
    /// Its version.
    pub key_version: u32,
}

/// The header length of a blob of format `version`, if it is one this crate reads.
fn header_len(version: u8) -> Option<usize> {
    match version {
        BLOB_VERSION => Some(BLOB_HEADER_LEN),
        BLOB_VERSION_V1 => Some(BLOB_V1_HEADER_LEN),
        _ => None,
    }
}

/// Splits a blob into its header and ciphertext || tag; a malformed blob is
/// [`Error::InvalidCiphertext`].
fn split(blob: &[u8]) -> Result<(u8, &[u8], &[u8])> {
    if blob.len() < BLOB_MIN_LEN || blob[..BLOB_MAGIC.len()] != BLOB_MAGIC {
        return Err(Error::InvalidCiphertext);
    }
    let version = blob[BLOB_MAGIC.len()];
    let len = header_len(version).ok_or(Error::InvalidCiphertext)?;
    if blob.len() < len + TAG_LEN {
        return Err(Error::InvalidCiphertext);
    }
    let (header, sealed) = blob.split_at(len);
    Ok((version, header, sealed))
}

impl BlobHeader {
    /// Reads the header of a blob of either format; a malformed blob is
    /// [`Error::InvalidCiphertext`].
    pub fn parse(blob: &[u8]) -> Result<Self> {
        let (_, header, _) = split(blob)?;
        let key_id = Uuid::from_slice(&header[KEY_ID_OFFSET..KEY_VERSION_OFFSET])
            .map_err(|_| Error::InvalidCiphertext)?;
        let key_version = u32::from_be_bytes(
            header[KEY_VERSION_OFFSET..KEY_PART_END]
                .try_into()
                .map_err(|_| Error::InvalidCiphertext)?,
        );
        Ok(Self {
            key_id,
            key_version,
        })
    }

    /// The key part of a header: magic, `version`, key id and key version.
    fn write(self, version: u8, out: &mut Vec<u8>) {
        out.extend_from_slice(&BLOB_MAGIC);
        out.push(version);
        out.extend_from_slice(self.key_id.as_bytes());
        out.extend_from_slice(&self.key_version.to_be_bytes());
        debug_assert_eq!(out.len(), KEY_PART_END);
    }
}

/// One CMK version as blobs use it: its material, and the XAES-256-GCM key set up from it
/// ([`Xaes256Gcm::new`]: an AES-256 key expansion and one block) on first use and kept, so a busy
/// version pays that once rather than per blob. Only versions that seal or open a v2 blob hold
/// one (about a kilobyte, boxed). Secret: zeroized on drop, never printed.
pub struct BlobKey {
    material: Key32,
    xaes: OnceLock<Box<Xaes256Gcm>>,
}

impl BlobKey {
    /// The blob key of one version's material.
    pub fn new(material: Key32) -> Self {
        Self {
            material,
            xaes: OnceLock::new(),
        }
    }

    fn xaes(&self) -> &Xaes256Gcm {
        self.xaes
            .get_or_init(|| Box::new(Xaes256Gcm::new(self.material.expose())))
    }
}

impl std::fmt::Debug for BlobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlobKey([REDACTED])")
    }
}

fn blob_aad(header: &[u8], context: &EncryptionContext) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + context.canonical_len());
    aad.extend_from_slice(header);
    context.write_canonical(&mut aad);
    aad
}

/// Seals `plaintext` under one CMK version (format v2) with a fresh random nonce.
pub fn seal_blob(
    key: &BlobKey,
    header: BlobHeader,
    context: &EncryptionContext,
    plaintext: &[u8],
) -> Vec<u8> {
    let mut nonce = [0u8; XAES_NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    seal_blob_with(key, header, &nonce, context, plaintext)
}

/// [`seal_blob`] with the nonce given (test vectors and the fuzz target need this).
pub fn seal_blob_with(
    key: &BlobKey,
    header: BlobHeader,
    nonce: &[u8; XAES_NONCE_LEN],
    context: &EncryptionContext,
    plaintext: &[u8],
) -> Vec<u8> {
    let mut blob = Vec::with_capacity(BLOB_MIN_LEN + plaintext.len());
    header.write(BLOB_VERSION, &mut blob);
    blob.extend_from_slice(nonce);
    debug_assert_eq!(blob.len(), BLOB_HEADER_LEN);
    let aad = blob_aad(&blob, context);
    // Sealed in place after the header: no separate ciphertext buffer to allocate and copy.
    blob.extend_from_slice(plaintext);
    let tag = key
        .xaes()
        .seal_in_place_detached(nonce, &aad, &mut blob[BLOB_HEADER_LEN..]);
    blob.extend_from_slice(&tag);
    blob
}

/// A format v1 blob with the salt and nonce given. The server never writes v1; this keeps the
/// frozen v1 vector and the fuzz target's one-encoding check honest.
pub fn seal_blob_v1_with(
    material: &Key32,
    header: BlobHeader,
    salt: &[u8; SALT_LEN],
    nonce: &[u8; NONCE_LEN],
    context: &EncryptionContext,
    plaintext: &[u8],
) -> Vec<u8> {
    let mut blob = Vec::with_capacity(BLOB_V1_HEADER_LEN + TAG_LEN + plaintext.len());
    header.write(BLOB_VERSION_V1, &mut blob);
    blob.extend_from_slice(salt);
    blob.extend_from_slice(nonce);
    let aad = blob_aad(&blob, context);
    let sealed = v1_cipher(material, salt)
        .encrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .expect("AES-GCM sealing cannot fail for inputs far below its size limit");
    blob.extend_from_slice(&sealed);
    blob
}

fn v1_cipher(material: &Key32, salt: &[u8]) -> Aes256Gcm {
    let hk = Hkdf::<Sha256>::new(Some(salt), material.expose());
    let mut okm = Zeroizing::new([0u8; KEY_LEN]);
    hk.expand(BLOB_KEY_INFO, okm.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    Aes256Gcm::new(okm.as_ref().into())
}

/// Opens a blob of either format whose header has been parsed and whose key version is `key`.
/// Every failure is the opaque [`Error::InvalidCiphertext`].
pub fn open_blob(key: &BlobKey, context: &EncryptionContext, blob: &[u8]) -> Result<SecretBytes> {
    let (version, header, sealed) = split(blob)?;
    let aad = blob_aad(header, context);
    let opened = if version == BLOB_VERSION {
        let nonce = header[XAES_NONCE_OFFSET..]
            .try_into()
            .map_err(|_| Error::InvalidCiphertext)?;
        key.xaes().open(nonce, &aad, sealed)
    } else {
        v1_cipher(&key.material, &header[V1_SALT_OFFSET..V1_NONCE_OFFSET])
            .decrypt(
                Nonce::from_slice(&header[V1_NONCE_OFFSET..]),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .ok()
    };
    opened.map(SecretBytes::new).ok_or(Error::InvalidCiphertext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn material() -> Key32 {
        Key32::from_slice(&[0x11; KEY_LEN]).unwrap()
    }

    fn key() -> BlobKey {
        BlobKey::new(material())
    }

    fn header() -> BlobHeader {
        BlobHeader {
            key_id: Uuid::parse_str("0f8e4c2a-6b1d-4e3f-9a7b-5c6d7e8f9a0b").unwrap(),
            key_version: 2,
        }
    }

    fn vector_context() -> EncryptionContext {
        EncryptionContext::from_pairs([("bucket", "examplebucket-1250000000"), ("a", "b")])
    }

    /// Frozen formats: any change to a layout, a KDF or the AAD must change these on purpose.
    /// Each has an independent derivation next to it (`blob_v*.py`, Python `cryptography`).
    const VECTOR_V1: &str = include_str!("../tests/vectors/blob_v1.hex");
    const VECTOR_V2: &str = include_str!("../tests/vectors/blob_v2.hex");
    const VECTOR_PLAINTEXT: &[u8] = b"test vector plaintext";

    #[test]
    fn blob_test_vector_v2() {
        let blob = seal_blob_with(
            &key(),
            header(),
            &[0x44; XAES_NONCE_LEN],
            &vector_context(),
            VECTOR_PLAINTEXT,
        );
        assert_eq!(hex::encode(&blob), VECTOR_V2.trim());
        let frozen = hex::decode(VECTOR_V2.trim()).unwrap();
        let opened = open_blob(&key(), &vector_context(), &frozen).unwrap();
        assert_eq!(opened.expose(), VECTOR_PLAINTEXT);
        assert_eq!(BlobHeader::parse(&frozen).unwrap(), header());
    }

    #[test]
    fn blob_test_vector_v1_still_opens() {
        let blob = seal_blob_v1_with(
            &material(),
            header(),
            &[0x22; SALT_LEN],
            &[0x33; NONCE_LEN],
            &vector_context(),
            VECTOR_PLAINTEXT,
        );
        assert_eq!(hex::encode(&blob), VECTOR_V1.trim());
        let frozen = hex::decode(VECTOR_V1.trim()).unwrap();
        let opened = open_blob(&key(), &vector_context(), &frozen).unwrap();
        assert_eq!(opened.expose(), VECTOR_PLAINTEXT);
        assert_eq!(BlobHeader::parse(&frozen).unwrap(), header());
    }

    #[test]
    fn new_blobs_are_v2_with_fresh_nonces() {
        let ctx = EncryptionContext::from_pairs([("k", "v")]);
        let a = seal_blob(&key(), header(), &ctx, b"same");
        let b = seal_blob(&key(), header(), &ctx, b"same");
        assert_eq!(a[BLOB_MAGIC.len()], BLOB_VERSION);
        assert_eq!(a.len(), BLOB_MIN_LEN + 4);
        assert_ne!(
            a[XAES_NONCE_OFFSET..BLOB_HEADER_LEN],
            b[XAES_NONCE_OFFSET..BLOB_HEADER_LEN]
        );
        assert_ne!(a[BLOB_HEADER_LEN..], b[BLOB_HEADER_LEN..]);
    }

    fn both_formats(ctx: &EncryptionContext, pt: &[u8]) -> [Vec<u8>; 2] {
        [
            seal_blob(&key(), header(), ctx, pt),
            seal_blob_v1_with(
                &material(),
                header(),
                &[5; SALT_LEN],
                &[6; NONCE_LEN],
                ctx,
                pt,
            ),
        ]
    }

    #[test]
    fn every_byte_is_authenticated() {
        let ctx = EncryptionContext::from_pairs([("k", "v")]);
        for blob in both_formats(&ctx, b"secret data key bytes") {
            for i in 0..blob.len() {
                let mut bad = blob.clone();
                bad[i] ^= 0x01;
                let res = BlobHeader::parse(&bad).and_then(|_| open_blob(&key(), &ctx, &bad));
                assert!(matches!(res, Err(Error::InvalidCiphertext)), "byte {i}");
            }
            for len in 0..blob.len() {
                assert!(matches!(
                    open_blob(&key(), &ctx, &blob[..len]),
                    Err(Error::InvalidCiphertext)
                ));
            }
        }
    }

    #[test]
    fn a_version_byte_swapped_between_formats_does_not_open() {
        let ctx = EncryptionContext::from_pairs([("k", "v")]);
        let [v2, v1] = both_formats(&ctx, &[9; 40]);
        for (blob, other) in [(v2, BLOB_VERSION_V1), (v1, BLOB_VERSION)] {
            let mut bad = blob.clone();
            bad[BLOB_MAGIC.len()] = other;
            assert!(matches!(
                open_blob(&key(), &ctx, &bad),
                Err(Error::InvalidCiphertext)
            ));
        }
        for unknown in [0u8, 3, 0xff] {
            let mut bad = seal_blob(&key(), header(), &ctx, b"x");
            bad[BLOB_MAGIC.len()] = unknown;
            assert!(matches!(
                BlobHeader::parse(&bad),
                Err(Error::InvalidCiphertext)
            ));
        }
    }

    #[test]
    fn context_and_material_bind() {
        let ctx = EncryptionContext::from_pairs([("k", "v")]);
        for blob in both_formats(&ctx, b"x") {
            assert!(open_blob(&key(), &EncryptionContext::empty(), &blob).is_err());
            assert!(open_blob(&BlobKey::new(Key32::random()), &ctx, &blob).is_err());
        }
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(format!("{:?}", key()), "BlobKey([REDACTED])");
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
            let blob = seal_blob(&key(), h, &ctx, &pt);
            prop_assert_eq!(blob.len(), BLOB_MIN_LEN + pt.len());
            prop_assert_eq!(BlobHeader::parse(&blob).unwrap(), h);
            let opened = open_blob(&key(), &ctx, &blob).unwrap();
            prop_assert_eq!(opened.expose(), &pt[..]);
            let v1 = seal_blob_v1_with(&material(), h, &[1; SALT_LEN], &[2; NONCE_LEN], &ctx, &pt);
            prop_assert_eq!(v1.len(), BLOB_MAX_OVERHEAD + pt.len());
            prop_assert_eq!(BlobHeader::parse(&v1).unwrap(), h);
            let opened = open_blob(&key(), &ctx, &v1).unwrap();
            prop_assert_eq!(opened.expose(), &pt[..]);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = BlobHeader::parse(&bytes);
            let _ = open_blob(&key(), &EncryptionContext::empty(), &bytes);
        }
    }
}
