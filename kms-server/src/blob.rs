//! The ciphertext blob: what Encrypt and GenerateDataKey return and Decrypt takes back. Its header
//! names the CMK version that sealed it; everything else is the sealed plaintext.
//!
//! Each blob gets its own **message key** = HKDF-SHA256(ikm = version material, salt = 32 random
//! bytes, info = [`BLOB_KEY_INFO`]). Keys never repeat (2^-256 per pair), so the 96-bit random GCM
//! nonce is never at risk of the 2^32-messages-per-key limit of SP 800-38D.
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

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, AeadInPlace, Payload},
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
};

/// Bytes of the per-blob HKDF salt.
pub const SALT_LEN: usize = 32;
/// Blob magic.
pub const BLOB_MAGIC: [u8; 2] = *b"KB";
/// Current blob format version.
pub const BLOB_VERSION: u8 = 1;
pub(crate) const KEY_ID_OFFSET: usize = BLOB_MAGIC.len() + 1;
pub(crate) const KEY_VERSION_OFFSET: usize = KEY_ID_OFFSET + 16;
const SALT_OFFSET: usize = KEY_VERSION_OFFSET + 4;
const NONCE_OFFSET: usize = SALT_OFFSET + SALT_LEN;
/// Bytes of the blob header (everything before the ciphertext).
pub const BLOB_HEADER_LEN: usize = NONCE_OFFSET + NONCE_LEN;
/// Smallest well-formed blob: a header and a tag (empty plaintexts are never sealed, but the format
/// allows them).
pub const BLOB_MIN_LEN: usize = BLOB_HEADER_LEN + TAG_LEN;

/// HKDF info for the per-blob message key: names the purpose and the format version.
pub const BLOB_KEY_INFO: &[u8] = b"kms/v1/blob-key";

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
