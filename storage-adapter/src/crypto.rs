//! The one seam between the adapter and its cryptographic backends.
//!
//! Bodies and key wraps use AES-256-GCM from whichever of two libraries is faster on the CPU, as
//! measured by `cargo bench -p storage-adapter` (`bench/BENCHMARKS.md`, "Object bodies"): aws-lc
//! where the CPU has AVX-512 with VAES and VPCLMULQDQ (its widest code: 1.9 times ring's speed on
//! an Intel Xeon of that kind), ring elsewhere (its VAES/AVX2 code, which aws-lc 0.47 lacks: 1.6
//! times aws-lc's speed on an AMD Zen 3). Both produce the same bytes (tested). Random bytes come
//! from aws-lc. Key derivation is HKDF-SHA256 (RFC 5869) and the layout MAC is HMAC-SHA256
//! (RFC 2104). Everything else in the crate goes through the functions here, so swapping a backend
//! touches only this file.

use std::sync::LazyLock;

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
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

/// The library that runs AES-256-GCM in this process (see the module docs for why).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AeadBackend {
    /// aws-lc (`aws-lc-rs`): chosen on x86-64 CPUs with AVX-512, VAES and VPCLMULQDQ.
    AwsLc,
    /// ring: chosen everywhere else.
    Ring,
}

static BACKEND: LazyLock<AeadBackend> = LazyLock::new(AeadBackend::for_this_cpu);

impl AeadBackend {
    /// The backend every key in this process uses, chosen once from the CPU's features.
    pub fn current() -> AeadBackend {
        *BACKEND
    }

    fn for_this_cpu() -> AeadBackend {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("vaes")
            && std::arch::is_x86_feature_detected!("vpclmulqdq")
        {
            return AeadBackend::AwsLc;
        }
        AeadBackend::Ring
    }

    /// The library's name, for logs and benchmark reports.
    pub fn name(self) -> &'static str {
        match self {
            AeadBackend::AwsLc => "aws-lc",
            AeadBackend::Ring => "ring",
        }
    }
}

/// An AES-256-GCM key ready for use. The only type in the crate that encrypts or decrypts.
///
/// aws-lc clears a key schedule when it frees it (its allocator cleanses every block it frees).
/// ring keeps the schedule (from which the key follows) in plain memory and clears nothing, so
/// [`Drop`] overwrites a ring schedule in place with the all-zero key's (same CPU, so same
/// implementation and layout) before the memory is freed.
pub(crate) struct AeadKey(Schedule);

/// Both schedules live on the heap and never move: aws-lc's in its own allocation, ring's (544
/// bytes) boxed, so moving an [`AeadKey`] leaves no copy of a schedule behind. ring builds its
/// schedule by value, so one transient copy is on the stack while it is boxed (safe Rust offers no
/// way to build it in place).
enum Schedule {
    AwsLc(aws_lc_rs::aead::LessSafeKey),
    Ring(Box<ring::aead::LessSafeKey>),
}

/// What a dropped ring [`AeadKey`] is overwritten with.
static RING_ZEROED: LazyLock<ring::aead::LessSafeKey> =
    LazyLock::new(|| ring_schedule(&[0; KEY_LEN]));

const VALID_KEY: &str = "a 32-byte key is always valid for AES-256-GCM";

fn ring_schedule(key: &[u8; KEY_LEN]) -> ring::aead::LessSafeKey {
    let unbound = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, key).expect(VALID_KEY);
    ring::aead::LessSafeKey::new(unbound)
}

impl Drop for AeadKey {
    fn drop(&mut self) {
        if let Schedule::Ring(schedule) = &mut self.0 {
            **schedule = RING_ZEROED.clone();
            // The overwrite is read by "unknown code", so it is not elided as a dead store.
            std::hint::black_box(schedule);
        }
    }
}

/// Sealing fails only past 2^36 bytes per message; segments are 64 KiB.
const SEAL_FITS: &str = "AES-GCM sealing fails only past 2^36 bytes per message";

impl AeadKey {
    pub(crate) fn new(key: &Key32) -> Self {
        Self::with_backend(AeadBackend::current(), key)
    }

    fn with_backend(backend: AeadBackend, key: &Key32) -> Self {
        Self(match backend {
            AeadBackend::AwsLc => {
                let unbound =
                    aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, key.expose())
                        .expect(VALID_KEY);
                Schedule::AwsLc(aws_lc_rs::aead::LessSafeKey::new(unbound))
            }
            AeadBackend::Ring => Schedule::Ring(Box::new(ring_schedule(key.expose()))),
        })
    }

    /// Encrypts `buf[..]` in place and appends the 16-byte tag.
    ///
    /// The caller guarantees `nonce` is never used twice with this key.
    pub(crate) fn seal_append(&self, nonce: [u8; NONCE_LEN], aad: &[u8], buf: &mut Vec<u8>) {
        let tag: [u8; TAG_LEN] = match &self.0 {
            Schedule::AwsLc(k) => {
                let n = aws_lc_rs::aead::Nonce::assume_unique_for_key(nonce);
                let tag = k
                    .seal_in_place_separate_tag(n, aws_lc_rs::aead::Aad::from(aad), buf)
                    .expect(SEAL_FITS);
                tag.as_ref().try_into().expect("a GCM tag is 16 bytes")
            }
            Schedule::Ring(k) => {
                let n = ring::aead::Nonce::assume_unique_for_key(nonce);
                let tag = k
                    .seal_in_place_separate_tag(n, ring::aead::Aad::from(aad), buf)
                    .expect(SEAL_FITS);
                tag.as_ref().try_into().expect("a GCM tag is 16 bytes")
            }
        };
        buf.extend_from_slice(&tag);
    }

    /// Encrypts `plain` into `out` (ciphertext then the 16-byte tag; `out.len() == plain.len() + 16`)
    /// without touching `plain`. aws-lc encrypts out of place; ring copies into `out` and runs one
    /// pass there while it is in cache.
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
        let sealed = match &self.0 {
            Schedule::AwsLc(k) => k
                .seal_out_of_place_scatter(
                    aws_lc_rs::aead::Nonce::assume_unique_for_key(nonce),
                    aws_lc_rs::aead::Aad::from(aad),
                    plain,
                    ct,
                    &[],
                    tag_out,
                )
                .is_ok(),
            Schedule::Ring(k) => {
                ct.copy_from_slice(plain);
                k.seal_in_place_separate_tag(
                    ring::aead::Nonce::assume_unique_for_key(nonce),
                    ring::aead::Aad::from(aad),
                    ct,
                )
                .map(|tag| tag_out.copy_from_slice(tag.as_ref()))
                .is_ok()
            }
        };
        if sealed {
            Ok(())
        } else {
            Err(Error::Internal("AES-GCM sealing failed".into()))
        }
    }

    /// Decrypts `stored` (ciphertext then tag) into `out` (`out.len() == stored.len() - 16`) without
    /// touching `stored`. aws-lc decrypts out of place; ring copies the ciphertext into `out` and
    /// opens it there.
    ///
    /// On failure `out` is zeroed, so no unauthenticated plaintext can escape: neither backend
    /// releases anything before the tag checks, and a failed open leaves nothing in `out`.
    pub(crate) fn open_to(
        &self,
        nonce: [u8; NONCE_LEN],
        aad: &[u8],
        stored: &[u8],
        out: &mut [u8],
    ) -> Result<()> {
        let opened = match stored.len().checked_sub(TAG_LEN) {
            Some(split) if out.len() == split => {
                let (ct, tag) = stored.split_at(split);
                match &self.0 {
                    Schedule::AwsLc(k) => k
                        .open_separate_gather(
                            aws_lc_rs::aead::Nonce::assume_unique_for_key(nonce),
                            aws_lc_rs::aead::Aad::from(aad),
                            ct,
                            tag,
                            out,
                        )
                        .is_ok(),
                    Schedule::Ring(k) => {
                        let tag = <[u8; TAG_LEN]>::try_from(tag).expect("the split leaves a tag");
                        out.copy_from_slice(ct);
                        k.open_in_place_separate_tag(
                            ring::aead::Nonce::assume_unique_for_key(nonce),
                            ring::aead::Aad::from(aad),
                            ring::aead::Tag::from(tag),
                            out,
                            0..,
                        )
                        .is_ok()
                    }
                }
            }
            _ => false,
        };
        if opened {
            Ok(())
        } else {
            zeroize::Zeroize::zeroize(out);
            Err(Error::Decrypt)
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
        let opened = match &self.0 {
            Schedule::AwsLc(k) => k
                .open_in_place(
                    aws_lc_rs::aead::Nonce::assume_unique_for_key(nonce),
                    aws_lc_rs::aead::Aad::from(aad),
                    buf,
                )
                .map(|plain| plain.len())
                .ok(),
            Schedule::Ring(k) => k
                .open_in_place(
                    ring::aead::Nonce::assume_unique_for_key(nonce),
                    ring::aead::Aad::from(aad),
                    buf,
                )
                .map(|plain| plain.len())
                .ok(),
        };
        opened.ok_or_else(|| {
            zeroize::Zeroize::zeroize(buf);
            Error::Decrypt
        })
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

    const BACKENDS: [AeadBackend; 2] = [AeadBackend::AwsLc, AeadBackend::Ring];

    fn key(backend: AeadBackend) -> AeadKey {
        AeadKey::with_backend(backend, &Key32::from_array(&[7; 32]))
    }

    #[test]
    fn seal_open_round_trip_and_tamper() {
        for backend in BACKENDS {
            let key = key(backend);
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
                "{backend:?}: a failed open zeroes the buffer"
            );
            let mut wrong_aad = buf.clone();
            assert!(key.open_in_place([1; 12], b"aaD", &mut wrong_aad).is_err());
        }
    }

    /// Both backends write the same bytes and open each other's: the choice of backend is
    /// invisible in the stored object. Checked against the NIST GCM test vector too (test case 14
    /// of the GCM specification: a zero 256-bit key, zero nonce, one zero block).
    #[test]
    fn both_backends_write_the_same_bytes() {
        for len in [0usize, 1, 16, 4097, 65536] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let sealed: Vec<Vec<u8>> = BACKENDS
                .iter()
                .map(|&b| {
                    let mut out = vec![0; len + TAG_LEN];
                    key(b).seal_to([9; 12], b"ctx", &plain, &mut out).unwrap();
                    out
                })
                .collect();
            assert_eq!(sealed[0], sealed[1], "len {len}");
            for (opener, sealer) in [(0, 1), (1, 0)] {
                let mut opened = vec![0; len];
                key(BACKENDS[opener])
                    .open_to([9; 12], b"ctx", &sealed[sealer], &mut opened)
                    .unwrap();
                assert_eq!(opened, plain);
            }
        }
        for backend in BACKENDS {
            let zero = AeadKey::with_backend(backend, &Key32::from_array(&[0; 32]));
            let mut out = [0u8; 32];
            zero.seal_to([0; 12], b"", &[0; 16], &mut out).unwrap();
            assert_eq!(
                hex::encode(out),
                "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919",
                "{backend:?}"
            );
        }
    }

    #[test]
    fn out_of_place_matches_in_place_and_zeroes_on_failure() {
        for backend in BACKENDS {
            out_of_place_with(&key(backend));
        }
    }

    fn out_of_place_with(key: &AeadKey) {
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

    /// The choice follows the CPU: aws-lc exactly where AVX-512 with VAES and VPCLMULQDQ is there.
    #[test]
    fn the_backend_follows_the_cpu() {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let flags: Vec<&str> = cpuinfo.split_whitespace().collect();
        let wide = cfg!(target_arch = "x86_64")
            && ["avx512f", "avx512bw", "avx512vl", "vaes", "vpclmulqdq"]
                .iter()
                .all(|f| flags.contains(f));
        if !cpuinfo.is_empty() {
            let want = if wide {
                AeadBackend::AwsLc
            } else {
                AeadBackend::Ring
            };
            assert_eq!(AeadBackend::current(), want);
        }
        assert_eq!(AeadBackend::AwsLc.name(), "aws-lc");
        assert_eq!(AeadBackend::Ring.name(), "ring");
    }

    #[test]
    fn key_debug_is_redacted() {
        let k = Key32::from_array(&[0x41; 32]);
        assert_eq!(format!("{k:?}"), "Key32([REDACTED])");
    }
}
