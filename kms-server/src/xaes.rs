//! XAES-256-GCM (<https://c2sp.org/XAES-256-GCM>): AES-256-GCM with a 192-bit nonce that is safe
//! to draw at random for any number of messages under one key. Each message runs under its own
//! AES-256-GCM key, derived from the long-lived key and the nonce's first half by NIST SP 800-108r1's
//! counter-mode KDF over AES-256-CMAC (single-block inputs); the nonce's second half is the GCM
//! nonce.
//!
//! Why it is here: blob format v2 (see [`crate::blob`]) seals every blob with it. Its derivation is
//! two AES blocks per blob once the per-key part ([`Xaes256Gcm::new`]: the AES-256 schedule and the
//! CMAC subkey) is set up, against v1's HKDF-SHA256 (eight SHA-256 compressions per blob); the KMS
//! keeps that part with each cached key version that uses it (`blob::BlobKey`). The one Rust crate
//! for it is a release candidate on pre-release RustCrypto crates, so the derivation (steps 1 to 5
//! of the specification's "detailed key derivation algorithm") is written here over the `aes`
//! block cipher, and checked against the specification's vectors (intermediate values included),
//! its accumulated randomized test, and aws-lc's CMAC.

use std::fmt;

use aes::{
    Aes256Enc, Block,
    cipher::{BlockEncrypt, KeyInit},
};
use aes_gcm::{
    AesGcm, Nonce,
    aead::{AeadInPlace, Payload, consts::U12},
};
use zeroize::{Zeroize, Zeroizing};

use crate::secret::{KEY_LEN, NONCE_LEN, TAG_LEN};

/// Bytes of an XAES-256-GCM nonce.
pub const XAES_NONCE_LEN: usize = 24;
/// The part of the nonce that goes into the key derivation; the rest is the GCM nonce.
const DERIVE_NONCE_LEN: usize = XAES_NONCE_LEN - NONCE_LEN;
const BLOCK_LEN: usize = 16;
/// What follows the KDF's 16-bit big-endian counter in each input block: the label "X" and the
/// 0x00 separator (the specification's M_i = 0x00 || i || 0x58 || 0x00 || N[:12]).
const LABEL: [u8; 2] = [b'X', 0x00];
/// CMAC's subkey polynomial for 128-bit blocks (NIST SP 800-38B, R_128).
const R_128: u128 = 0x87;

/// AES-256-GCM keyed per message, as the derivation gives it (encryption schedule only: GCM never
/// runs AES backwards).
type MessageCipher = AesGcm<Aes256Enc, U12>;

/// One XAES-256-GCM key: the AES-256 schedule of the key and the CMAC subkey K1. Both are secret;
/// the schedule is zeroized on drop by the `aes` crate, K1 by [`Zeroizing`].
pub struct Xaes256Gcm {
    aes: Aes256Enc,
    k1: Zeroizing<[u8; BLOCK_LEN]>,
}

impl Xaes256Gcm {
    /// Steps 1 and 2 of the derivation, which may be kept per key: L = AES-256_K(0^128), K1 = L << 1, with
    /// R_128 folded in when L's top bit is set (a mask, not a branch, since L is secret).
    pub fn new(key: &[u8; KEY_LEN]) -> Self {
        let aes = Aes256Enc::new(key.into());
        let mut l = Block::default();
        aes.encrypt_block(&mut l);
        let l = Zeroizing::new(u128::from_be_bytes(l.into()));
        let carry = 0u128.wrapping_sub(*l >> 127);
        let k1 = Zeroizing::new(((*l << 1) ^ (carry & R_128)).to_be_bytes());
        Self { aes, k1 }
    }

    /// Steps 3 to 6: the message's AES-256-GCM key K_x = AES-256_K(M1 ^ K1) || AES-256_K(M2 ^ K1),
    /// and its GCM nonce N_x = N[12:].
    fn message_cipher<'n>(
        &self,
        nonce: &'n [u8; XAES_NONCE_LEN],
    ) -> (MessageCipher, &'n Nonce<U12>) {
        let (derive, gcm_nonce) = nonce.split_at(DERIVE_NONCE_LEN);
        let mut blocks = [Block::default(), Block::default()];
        for (counter, block) in (1u8..).zip(blocks.iter_mut()) {
            block[1] = counter;
            block[2..4].copy_from_slice(&LABEL);
            block[4..].copy_from_slice(derive);
            for (b, k) in block.iter_mut().zip(self.k1.iter()) {
                *b ^= k;
            }
        }
        self.aes.encrypt_blocks(&mut blocks);
        let mut kx = Zeroizing::new([0u8; KEY_LEN]);
        kx[..BLOCK_LEN].copy_from_slice(&blocks[0]);
        kx[BLOCK_LEN..].copy_from_slice(&blocks[1]);
        blocks.iter_mut().for_each(|b| b.as_mut_slice().zeroize());
        (
            MessageCipher::new(kx.as_ref().into()),
            Nonce::from_slice(gcm_nonce),
        )
    }

    /// Encrypts `buf` in place and returns the tag.
    pub fn seal_in_place_detached(
        &self,
        nonce: &[u8; XAES_NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> [u8; TAG_LEN] {
        let (cipher, gcm_nonce) = self.message_cipher(nonce);
        cipher
            .encrypt_in_place_detached(gcm_nonce, aad, buf)
            .expect("AES-GCM sealing cannot fail for inputs far below its size limit")
            .into()
    }

    /// Opens ciphertext || tag. The tag is checked before any plaintext exists; every failure is
    /// the one `None`.
    pub fn open(&self, nonce: &[u8; XAES_NONCE_LEN], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        use aes_gcm::aead::Aead as _;
        let (cipher, gcm_nonce) = self.message_cipher(nonce);
        cipher.decrypt(gcm_nonce, Payload { msg: sealed, aad }).ok()
    }
}

impl fmt::Debug for Xaes256Gcm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Xaes256Gcm([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::cmac;
    use sha3::{
        Shake128,
        digest::{ExtendableOutput, Update, XofReader},
    };

    const NONCE: &[u8; XAES_NONCE_LEN] = b"ABCDEFGHIJKLMNOPQRSTUVWX";

    /// Whether the message key `x` derives for `nonce` is `kx`: both seal the same probe alike.
    fn derives(x: &Xaes256Gcm, nonce: &[u8; XAES_NONCE_LEN], kx: &[u8]) -> bool {
        let (cipher, gcm_nonce) = x.message_cipher(nonce);
        let direct = MessageCipher::new(kx.into());
        let mut a = b"probe".to_vec();
        let mut b = a.clone();
        let ta = cipher.encrypt_in_place_detached(gcm_nonce, b"", &mut a);
        let tb = direct.encrypt_in_place_detached(gcm_nonce, b"", &mut b);
        (a, ta.unwrap()) == (b, tb.unwrap())
    }

    /// The specification's two vectors with their intermediate values: L's top bit clear, then
    /// set (the other branch of K1's derivation).
    #[test]
    fn specification_vectors() {
        struct Vector {
            key: u8,
            k1: &'static str,
            kx: &'static str,
            aad: &'static [u8],
            ciphertext: &'static str,
        }
        for v in [
            Vector {
                key: 0x01,
                k1: "e531954aca063d5b8d9c47a47d4cc6f0",
                kx: "c8612c9ed53fe43e8e005b828a1631a0bbcb6ab2f46514ec4f439fcfd0fa969b",
                aad: b"",
                ciphertext: "ce546ef63c9cc60765923609b33a9a1974e96e52daf2fcf7075e2271",
            },
            Vector {
                key: 0x03,
                k1: "23810ec50edb99f374409466ed1f4b7b",
                kx: "e9c621d4cdd9b11b00a6427ad7e559aeedd66b3857646677748f8ca796cb3fd8",
                aad: b"c2sp.org/XAES-256-GCM",
                ciphertext: "986ec1832593df5443a179437fd083bf3fdb41abd740a21f71eb769d",
            },
        ] {
            let x = Xaes256Gcm::new(&[v.key; KEY_LEN]);
            assert_eq!(hex::encode(*x.k1), v.k1);
            assert_eq!(x.message_cipher(NONCE).1.as_slice(), b"MNOPQRSTUVWX");
            let kx = hex::decode(v.kx).unwrap();
            assert!(derives(&x, NONCE, &kx), "K_x of key {:#04x}", v.key);
            assert!(!derives(&x, b"abcdefghijklMNOPQRSTUVWX", &kx));

            let mut buf = b"XAES-256-GCM".to_vec();
            let tag = x.seal_in_place_detached(NONCE, v.aad, &mut buf);
            buf.extend_from_slice(&tag);
            assert_eq!(hex::encode(&buf), v.ciphertext);
            assert_eq!(x.open(NONCE, v.aad, &buf).unwrap(), b"XAES-256-GCM");
        }
    }

    /// The specification's accumulated randomized test, 10 000 iterations: keys, nonces,
    /// plaintexts and AADs from one SHAKE-128 stream, every ciphertext hashed into another.
    #[test]
    fn accumulated_randomized_test() {
        let mut source = Shake128::default().finalize_xof();
        let mut read = |n: usize| {
            let mut v = vec![0u8; n];
            source.read(&mut v);
            v
        };
        let mut hash = Shake128::default();
        for _ in 0..10_000 {
            let key: [u8; KEY_LEN] = read(KEY_LEN).try_into().unwrap();
            let nonce: [u8; XAES_NONCE_LEN] = read(XAES_NONCE_LEN).try_into().unwrap();
            let len = usize::from(read(1)[0]);
            let mut plaintext = read(len);
            let len = usize::from(read(1)[0]);
            let aad = read(len);
            let x = Xaes256Gcm::new(&key);
            let expected = plaintext.clone();
            let tag = x.seal_in_place_detached(&nonce, &aad, &mut plaintext);
            plaintext.extend_from_slice(&tag);
            hash.update(&plaintext);
            assert_eq!(x.open(&nonce, &aad, &plaintext).unwrap(), expected);
        }
        let mut out = [0u8; 32];
        hash.finalize_xof().read(&mut out);
        assert_eq!(
            hex::encode(out),
            "e6b9edf2df6cec60c8cbd864e2211b597fb69a529160cd040d56c0c210081939"
        );
    }

    /// K_x is the CMAC of M1 and M2 as an independent CMAC (aws-lc's) computes it, for keys whose
    /// L has either top bit.
    #[test]
    fn derivation_matches_aws_lc_cmac() {
        for seed in 0u8..32 {
            let key = [seed.wrapping_mul(37).wrapping_add(1); KEY_LEN];
            let nonce: [u8; XAES_NONCE_LEN] = std::array::from_fn(|i| seed ^ i as u8);
            let x = Xaes256Gcm::new(&key);
            let mac = cmac::Key::new(cmac::AES_256, &key).unwrap();
            let mut kx = Vec::new();
            for counter in [1u8, 2] {
                let mut m = vec![0x00, counter, b'X', 0x00];
                m.extend_from_slice(&nonce[..DERIVE_NONCE_LEN]);
                kx.extend_from_slice(cmac::sign(&mac, &m).unwrap().as_ref());
            }
            assert!(derives(&x, &nonce, &kx), "seed {seed}");
        }
    }

    #[test]
    fn every_failure_is_none_and_debug_hides_the_key() {
        let x = Xaes256Gcm::new(&[7; KEY_LEN]);
        let mut buf = b"secret".to_vec();
        let tag = x.seal_in_place_detached(NONCE, b"aad", &mut buf);
        buf.extend_from_slice(&tag);
        for i in 0..buf.len() {
            let mut bad = buf.clone();
            bad[i] ^= 0x80;
            assert!(x.open(NONCE, b"aad", &bad).is_none(), "byte {i}");
        }
        let mut other = *NONCE;
        other[0] ^= 1;
        assert!(x.open(&other, b"aad", &buf).is_none(), "derivation half");
        other = *NONCE;
        other[23] ^= 1;
        assert!(x.open(&other, b"aad", &buf).is_none(), "GCM half");
        assert!(x.open(NONCE, b"aaD", &buf).is_none());
        assert!(
            Xaes256Gcm::new(&[8; KEY_LEN])
                .open(NONCE, b"aad", &buf)
                .is_none()
        );
        assert!(x.open(NONCE, b"aad", &buf[..TAG_LEN - 1]).is_none());
        assert_eq!(format!("{x:?}"), "Xaes256Gcm([REDACTED])");
    }
}
