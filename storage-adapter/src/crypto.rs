//! The one seam between the adapter and its cryptographic backends.
//!
//! Bodies and key wraps use AES-256-GCM from `ring`: on CPUs with VAES and VPCLMULQDQ but no
//! AVX-512 (AMD Zen 3, the machine the benchmarks run on) it has code that aws-lc 0.47 lacks, and
//! opens 64 KiB segments about 1.6 times as fast (`bench/BENCHMARKS.md`, "Object bodies"). Random
//! bytes come from aws-lc. Key derivation is HKDF-SHA256 (RFC 5869) and the layout MAC is
//! HMAC-SHA256 (RFC 2104). Everything else in the crate goes through the functions here, so
//! swapping a backend touches only this file.

use std::sync::LazyLock;

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, Tag, UnboundKey};
use secrecy::{ExposeSecret, SecretBox};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

/// Length of an AES-256-GCM key.
pub(crate) const KEY_LEN: usize = 32;
/// Length of an AES-GCM nonce.
pub(crate) const NONCE_LEN: usize = 12;
/// Length of an AES-GCM tag.
pub(crate) const TAG_LEN: usize = 16;

/// A 32-byte secret: zeroized on drop, redacted in `Debug`, never `Copy`.
pub(crate) struct Key32(SecretBox<[u8; KEY_LEN]>);

impl Key32 {
    pub(crate) fn from_array(bytes: &[u8; KEY_LEN]) -> Self {
        Self(SecretBox::init_with_mut(|k: &mut [u8; KEY_LEN]| {
            k.copy_from_slice(bytes)
        }))
    }

    pub(crate) fn from_slice(bytes: &[u8]) -> Option<Self> {
        let arr: &[u8; KEY_LEN] = bytes.try_into().ok()?;
        Some(Self::from_array(arr))
    }

    /// 32 bytes from the operating system's CSPRNG (through aws-lc).
    pub(crate) fn random() -> Result<Self> {
        let mut failed = false;
        let key = Self(SecretBox::init_with_mut(|k: &mut [u8; KEY_LEN]| {
            failed = aws_lc_rs::rand::fill(k).is_err();
        }));
        if failed {
            return Err(Error::Internal("the system random generator failed".into()));
        }
        Ok(key)
    }

    pub(crate) fn expose(&self) -> &[u8; KEY_LEN] {
        self.0.expose_secret()
    }
}

impl Clone for Key32 {
    fn clone(&self) -> Self {
        Self::from_array(self.expose())
    }
}

impl std::fmt::Debug for Key32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key32([REDACTED])")
    }
}

/// Random public bytes (salts, content ids).
pub(crate) fn random_array<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    aws_lc_rs::rand::fill(&mut out)
        .map_err(|_| Error::Internal("the system random generator failed".into()))?;
    Ok(out)
}

/// HKDF-SHA256(ikm, salt, info = concatenation of `info`) into a 32-byte secret.
pub(crate) fn hkdf_key(ikm: &[u8; KEY_LEN], salt: &[u8], info: &[&[u8]]) -> Key32 {
    let hk = Hkdf::<Sha256>::new(Some(salt), ikm);
    let mut failed = false;
    let key = Key32(SecretBox::init_with_mut(|okm: &mut [u8; KEY_LEN]| {
        failed = hk.expand_multi_info(info, okm).is_err();
    }));
    debug_assert!(
        !failed,
        "32 bytes is far below HKDF-SHA256's 8160-byte limit"
    );
    key
}

/// HKDF-SHA256 output that is public (a commitment).
pub(crate) fn hkdf_public(ikm: &[u8; KEY_LEN], salt: &[u8], info: &[&[u8]]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let hk = Hkdf::<Sha256>::new(Some(salt), ikm);
    // 32 bytes is far below HKDF-SHA256's 8160-byte output limit, so expand cannot fail.
    let _ = hk.expand_multi_info(info, &mut out);
    out
}

/// HMAC-SHA256 of the concatenation of `parts`.
pub(crate) fn hmac_sha256(key: &[u8; KEY_LEN], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC-SHA256 accepts keys of any length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// Constant-time equality of two byte strings (lengths are public).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// An AES-256-GCM key ready for use. The only type in the crate that encrypts or decrypts.
///
/// ring keeps the key schedule (from which the key follows) in plain memory and clears nothing
/// when it is dropped, so [`Drop`] overwrites it in place with the schedule of the all-zero key
/// (same CPU, so same implementation and layout) before the memory is freed.
pub(crate) struct AeadKey(LessSafeKey);

/// What a dropped [`AeadKey`] is overwritten with.
static ZEROED: LazyLock<LessSafeKey> = LazyLock::new(|| schedule(&[0; KEY_LEN]));

fn schedule(key: &[u8; KEY_LEN]) -> LessSafeKey {
    let unbound =
        UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte key is always valid for AES-256-GCM");
    LessSafeKey::new(unbound)
}

impl Drop for AeadKey {
    fn drop(&mut self) {
        self.0 = ZEROED.clone();
        // The overwrite is read by "unknown code", so it is not elided as a dead store.
        std::hint::black_box(&self.0);
    }
}

impl AeadKey {
    pub(crate) fn new(key: &Key32) -> Self {
        Self(schedule(key.expose()))
    }

    /// Encrypts `buf[..]` in place and appends the 16-byte tag.
    ///
    /// The caller guarantees `nonce` is never used twice with this key.
    pub(crate) fn seal_append(&self, nonce: [u8; NONCE_LEN], aad: &[u8], buf: &mut Vec<u8>) {
        let tag = self
            .0
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), buf)
            .expect("AES-GCM sealing fails only past 2^36 bytes per message; segments are 64 KiB");
        buf.extend_from_slice(tag.as_ref());
    }

    /// Encrypts `plain` into `out` (ciphertext then the 16-byte tag; `out.len() == plain.len() + 16`)
    /// without touching `plain`: a copy into `out`, then one encryption pass there while it is in
    /// cache.
    ///
    /// The caller guarantees `nonce` is never used twice with this key.
    pub(crate) fn seal_to(
        &self,
        nonce: [u8; NONCE_LEN],
        aad: &[u8],
        plain: &[u8],
        out: &mut [u8],
    ) -> Result<()> {
        if out.len() != plain.len() + TAG_LEN {
            return Err(Error::Internal("seal output of the wrong length".into()));
        }
        let (ct, tag_out) = out.split_at_mut(plain.len());
        // ring encrypts in place only; the copy is of one segment, still in cache for the pass.
        ct.copy_from_slice(plain);
        let tag = self
            .0
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), ct)
            .map_err(|_| Error::Internal("AES-GCM sealing failed".into()))?;
        tag_out.copy_from_slice(tag.as_ref());
        Ok(())
    }

    /// Decrypts `stored` (ciphertext then tag) into `out` (`out.len() == stored.len() - 16`) without
    /// touching `stored`.
    ///
    /// On failure `out` is zeroed, so no unauthenticated plaintext can escape.
    pub(crate) fn open_to(
        &self,
        nonce: [u8; NONCE_LEN],
        aad: &[u8],
        stored: &[u8],
        out: &mut [u8],
    ) -> Result<()> {
        let Some(split) = stored.len().checked_sub(TAG_LEN) else {
            zeroize::Zeroize::zeroize(out);
            return Err(Error::Decrypt);
        };
        let (ct, tag) = stored.split_at(split);
        if out.len() != ct.len() {
            zeroize::Zeroize::zeroize(out);
            return Err(Error::Decrypt);
        }
        let tag =
            Tag::from(<[u8; TAG_LEN]>::try_from(tag).expect("the split leaves TAG_LEN bytes"));
        // ring decrypts in place only: the ciphertext is copied into `out` (one segment, still in
        // cache for the pass) and opened there; nothing in `out` is released before the tag checks.
        out.copy_from_slice(ct);
        match self.0.open_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            tag,
            out,
            0..,
        ) {
            Ok(_) => Ok(()),
            Err(_) => {
                zeroize::Zeroize::zeroize(out);
                Err(Error::Decrypt)
            }
        }
    }

    /// Decrypts `buf` (ciphertext then tag) in place and returns the plaintext length.
    ///
    /// On failure the buffer is zeroed, so no unauthenticated plaintext can escape.
    pub(crate) fn open_in_place(
        &self,
        nonce: [u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<usize> {
        match self
            .0
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), buf)
        {
            Ok(plain) => Ok(plain.len()),
            Err(_) => {
                zeroize::Zeroize::zeroize(buf);
                Err(Error::Decrypt)
            }
        }
    }
}

impl std::fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AeadKey([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper() {
        let key = AeadKey::new(&Key32::from_array(&[7; 32]));
        let mut buf = b"hello".to_vec();
        key.seal_append([1; 12], b"aad", &mut buf);
        assert_eq!(buf.len(), 5 + TAG_LEN);
        let mut copy = buf.clone();
        let n = key.open_in_place([1; 12], b"aad", &mut copy).unwrap();
        assert_eq!(&copy[..n], b"hello");
        let mut bad = buf.clone();
        bad[0] ^= 1;
        assert!(matches!(
            key.open_in_place([1; 12], b"aad", &mut bad),
            Err(Error::Decrypt)
        ));
        assert!(
            bad.iter().all(|&b| b == 0),
            "a failed open zeroes the buffer"
        );
        let mut wrong_aad = buf.clone();
        assert!(key.open_in_place([1; 12], b"aaD", &mut wrong_aad).is_err());
    }

    #[test]
    fn out_of_place_matches_in_place_and_zeroes_on_failure() {
        let key = AeadKey::new(&Key32::from_array(&[7; 32]));
        for len in [0usize, 1, 15, 16, 17, 4096, 65536] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 31 % 256) as u8).collect();
            let mut in_place = plain.clone();
            key.seal_append([2; 12], b"", &mut in_place);
            let mut out = vec![0xAA; len + TAG_LEN];
            key.seal_to([2; 12], b"", &plain, &mut out).unwrap();
            assert_eq!(out, in_place, "len {len}");
            let mut opened = vec![0x55; len];
            key.open_to([2; 12], b"", &out, &mut opened).unwrap();
            assert_eq!(opened, plain);
            if len > 0 {
                let mut bad = out.clone();
                bad[len / 2] ^= 4;
                let mut dirty = vec![0x55; len];
                assert!(matches!(
                    key.open_to([2; 12], b"", &bad, &mut dirty),
                    Err(Error::Decrypt)
                ));
                assert!(dirty.iter().all(|&b| b == 0), "a failed open zeroes out");
            }
            // Wrong nonce, wrong lengths.
            let mut dirty = vec![0x55; len];
            assert!(key.open_to([3; 12], b"", &out, &mut dirty).is_err());
            assert!(dirty.iter().all(|&b| b == 0));
            let mut short = vec![0x55; len + 1];
            assert!(key.open_to([2; 12], b"", &out, &mut short).is_err());
            assert!(short.iter().all(|&b| b == 0));
            assert!(key.seal_to([2; 12], b"", &plain, &mut [0u8; 3]).is_err() || len + 16 == 3);
        }
        let mut tiny = [0x55u8; 4];
        assert!(key.open_to([2; 12], b"", &[1; 10], &mut tiny).is_err());
        assert_eq!(tiny, [0; 4]);
    }

    #[test]
    fn key_debug_is_redacted() {
        let k = Key32::from_array(&[0x41; 32]);
        assert_eq!(format!("{k:?}"), "Key32([REDACTED])");
    }
}
