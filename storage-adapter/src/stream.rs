//! STREAM: a body as a sequence of independently authenticated 64 KiB segments.
//!
//! The construction is the online authenticated encryption of Hoang, Reyhanitabar, Rogaway and Vizár
//! ("STREAM"), as age uses it: segment `i` is sealed with AES-256-GCM under a key used for exactly one
//! body (a content key or a part key, both fresh per write attempt) and the nonce
//! `be88(i) || last`, where `last` is 1 on the final segment and 0 elsewhere.
//!
//! # Invariant: a (key, nonce) pair is never used twice
//!
//! Every body key is derived from a fresh random salt (`content_id` or `part_salt`) by HKDF, so no two
//! bodies share a key; within a body the counter increases by one per segment and is refused at
//! [`MAX_SEGMENTS`], and only the final segment has the last flag. A [`SegmentSealer`] hands out
//! counters itself: callers cannot pick one.
//!
//! # Layout
//!
//! The stored body has no header: segment `i` starts at byte `i * ENCRYPTED_SEGMENT_SIZE`. Every
//! segment but the last holds exactly [`SEGMENT_SIZE`] bytes of plaintext; the last holds 1 to
//! [`SEGMENT_SIZE`] bytes, or 0 when the whole body is empty. A dropped final segment, a final flag in
//! the middle, swapped or repeated segments and bytes after the final segment all fail to open.

use crate::crypto::{AeadKey, Key32, NONCE_LEN, TAG_LEN};
use crate::error::{Error, Result};

/// log2 of [`SEGMENT_SIZE`], as recorded in the envelope.
pub const SEGMENT_SIZE_LOG2: u8 = 16;
/// Plaintext bytes per segment.
pub const SEGMENT_SIZE: usize = 1 << SEGMENT_SIZE_LOG2;
/// The AES-GCM tag after each segment.
pub const TAG_SIZE: usize = TAG_LEN;
/// Stored bytes of a full segment.
pub const ENCRYPTED_SEGMENT_SIZE: usize = SEGMENT_SIZE + TAG_SIZE;
/// The most segments one key may seal (the counter has 88 bits; the design caps it at 2^32).
pub const MAX_SEGMENTS: u64 = 1 << 32;

/// Segments needed for `plain` bytes of plaintext (an empty body is one empty segment).
pub fn segment_count(plain: u64) -> u64 {
    plain.div_ceil(SEGMENT_SIZE as u64).max(1)
}

/// Stored size of a body of `plain` bytes.
pub fn stored_size(plain: u64) -> u64 {
    plain + segment_count(plain) * TAG_SIZE as u64
}

/// The plaintext size of a stored body of `stored` bytes, if `stored` is a possible stored size.
pub fn plain_size(stored: u64) -> Option<u64> {
    let segments = stored.div_ceil(ENCRYPTED_SEGMENT_SIZE as u64).max(1);
    let plain = stored.checked_sub(segments * TAG_SIZE as u64)?;
    (stored_size(plain) == stored).then_some(plain)
}

/// The nonce of segment `index`: an 11-byte big-endian counter, then the last-segment flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SegmentNonce([u8; NONCE_LEN]);

impl SegmentNonce {
    pub(crate) fn new(index: u64, last: bool) -> Result<Self> {
        if index >= MAX_SEGMENTS {
            return Err(Error::TooLarge);
        }
        let mut n = [0u8; NONCE_LEN];
        n[3..11].copy_from_slice(&index.to_be_bytes());
        n[11] = u8::from(last);
        Ok(Self(n))
    }

    pub(crate) fn bytes(self) -> [u8; NONCE_LEN] {
        self.0
    }
}

/// Seals the segments of one body in order. [`SegmentSealer::seal_final_to`] must be called exactly once.
#[derive(Debug)]
pub(crate) struct SegmentSealer {
    key: AeadKey,
    next: u64,
    finished: bool,
}

impl SegmentSealer {
    pub(crate) fn new(key: &Key32) -> Self {
        Self {
            key: AeadKey::new(key),
            next: 0,
            finished: false,
        }
    }

    /// Seals a full, non-final segment from `plain` into `out` (`SEGMENT_SIZE + 16` bytes), out of
    /// place.
    pub(crate) fn seal_next_to(&mut self, plain: &[u8], out: &mut [u8]) -> Result<()> {
        if plain.len() != SEGMENT_SIZE {
            return Err(Error::Internal("a non-final segment must be full".into()));
        }
        self.seal_to(plain, out, false)
    }

    /// Seals the final segment from `plain` into `out` (`plain.len() + 16` bytes), out of place.
    pub(crate) fn seal_final_to(&mut self, plain: &[u8], out: &mut [u8]) -> Result<()> {
        if plain.len() > SEGMENT_SIZE || (plain.is_empty() && self.next != 0) {
            return Err(Error::Internal("bad final segment length".into()));
        }
        self.seal_to(plain, out, true)?;
        self.finished = true;
        Ok(())
    }

    fn seal_to(&mut self, plain: &[u8], out: &mut [u8], last: bool) -> Result<()> {
        if self.finished {
            return Err(Error::Internal("segment sealed after the final one".into()));
        }
        let nonce = SegmentNonce::new(self.next, last)?;
        self.key.seal_to(nonce.bytes(), &[], plain, out)?;
        // The counter moves only after a seal that happened; a refused call consumed no nonce.
        self.next += 1;
        Ok(())
    }

    /// Whether the final segment has been sealed.
    pub(crate) fn is_finished(&self) -> bool {
        self.finished
    }
}

/// Opens segments of one body, in any order (range reads).
#[derive(Debug)]
pub(crate) struct SegmentOpener {
    key: AeadKey,
}

impl SegmentOpener {
    pub(crate) fn new(key: &Key32) -> Self {
        Self {
            key: AeadKey::new(key),
        }
    }

    /// Opens segment `index` from `stored` (ciphertext then tag) into `out`
    /// (`stored.len() - 16` bytes), out of place.
    ///
    /// `last` says whether the reader expects this to be the final segment (from the authenticated
    /// size). On failure `out` is zeroed and the error is the
    /// opaque [`Error::Decrypt`].
    pub(crate) fn open_to(
        &self,
        index: u64,
        last: bool,
        stored: &[u8],
        out: &mut [u8],
    ) -> Result<()> {
        let ok_len = if last {
            stored.len() >= TAG_SIZE
                && stored.len() <= ENCRYPTED_SEGMENT_SIZE
                && (index == 0 || stored.len() > TAG_SIZE)
        } else {
            stored.len() == ENCRYPTED_SEGMENT_SIZE
        };
        if !ok_len || out.len() + TAG_SIZE != stored.len() {
            zeroize::Zeroize::zeroize(out);
            return Err(Error::Decrypt);
        }
        let Ok(nonce) = SegmentNonce::new(index, last) else {
            zeroize::Zeroize::zeroize(out);
            return Err(Error::Decrypt);
        };
        self.key.open_to(nonce.bytes(), &[], stored, out)
    }
}

/// Encrypts a whole in-memory body (sync).
pub(crate) fn seal_all(key: &Key32, plain: &[u8]) -> Result<Vec<u8>> {
    let mut sealer = SegmentSealer::new(key);
    let total = usize::try_from(stored_size(plain.len() as u64)).map_err(|_| Error::TooLarge)?;
    // Checks the segment limit before any work.
    SegmentNonce::new(segment_count(plain.len() as u64) - 1, true)?;
    let mut out = vec![0u8; total];
    if plain.is_empty() {
        sealer.seal_final_to(&[], &mut out)?;
        return Ok(out);
    }
    let mut chunks = plain
        .chunks(SEGMENT_SIZE)
        .zip(out.chunks_mut(ENCRYPTED_SEGMENT_SIZE))
        .peekable();
    while let Some((p, o)) = chunks.next() {
        if chunks.peek().is_some() {
            sealer.seal_next_to(p, o)?;
        } else {
            sealer.seal_final_to(p, o)?;
        }
    }
    Ok(out)
}

/// Decrypts a whole in-memory body (sync); nothing is returned unless every segment verifies.
#[cfg(test)]
pub(crate) fn open_all(key: &Key32, stored: &[u8]) -> Result<Vec<u8>> {
    let plain_len = plain_size(stored.len() as u64).ok_or(Error::Decrypt)?;
    let opener = SegmentOpener::new(key);
    let count = segment_count(plain_len);
    let mut out = vec![0u8; usize::try_from(plain_len).map_err(|_| Error::TooLarge)?];
    for (i, chunk) in stored.chunks(ENCRYPTED_SEGMENT_SIZE).enumerate() {
        let index = i as u64;
        let start = i * SEGMENT_SIZE;
        let end = start + chunk.len() - TAG_SIZE;
        if let Err(e) = opener.open_to(index, index + 1 == count, chunk, &mut out[start..end]) {
            zeroize::Zeroize::zeroize(&mut out);
            return Err(e);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key32 {
        Key32::from_array(&[9; 32])
    }

    #[test]
    fn nonce_layout() {
        let n = SegmentNonce::new(0x0102, true).unwrap().bytes();
        assert_eq!(n, [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 1]);
        assert!(matches!(
            SegmentNonce::new(MAX_SEGMENTS, false),
            Err(Error::TooLarge)
        ));
    }

    #[test]
    fn sizes() {
        let s = SEGMENT_SIZE as u64;
        for (p, st) in [
            (0, 16),
            (1, 17),
            (s - 1, s + 15),
            (s, s + 16),
            (s + 1, s + 33),
            (3 * s, 3 * s + 48),
        ] {
            assert_eq!(stored_size(p), st, "plain {p}");
            assert_eq!(plain_size(st), Some(p), "stored {st}");
        }
        for bad in [0, 15, s + 17, s + 32] {
            assert_eq!(plain_size(bad), None, "stored {bad}");
        }
    }

    #[test]
    fn round_trip_sizes() {
        let s = SEGMENT_SIZE;
        for n in [0, 1, s - 1, s, s + 1, 3 * s, 3 * s + 7] {
            let plain: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            let stored = seal_all(&key(), &plain).unwrap();
            assert_eq!(stored.len() as u64, stored_size(n as u64));
            assert_eq!(open_all(&key(), &stored).unwrap(), plain);
        }
    }

    #[test]
    fn tampering_fails() {
        let s = SEGMENT_SIZE;
        let plain: Vec<u8> = (0..3 * s + 5).map(|i| (i % 13) as u8).collect();
        let stored = seal_all(&key(), &plain).unwrap();
        let e = ENCRYPTED_SEGMENT_SIZE;
        // Flip a byte in each segment.
        for seg in 0..4 {
            let mut t = stored.clone();
            t[seg * e + 3] ^= 0x80;
            assert!(matches!(open_all(&key(), &t), Err(Error::Decrypt)));
        }
        // Drop the final segment: the third now claims to be final and is not.
        assert!(open_all(&key(), &stored[..3 * e]).is_err());
        // Append bytes.
        let mut t = stored.clone();
        t.push(0);
        assert!(open_all(&key(), &t).is_err());
        // Swap two segments.
        let mut t = stored.clone();
        let (a, b) = t.split_at_mut(e);
        a.swap_with_slice(&mut b[..e]);
        assert!(open_all(&key(), &t).is_err());
        // Wrong key.
        assert!(open_all(&Key32::from_array(&[8; 32]), &stored).is_err());
    }

    #[test]
    fn sealer_refuses_misuse() {
        let mut s = SegmentSealer::new(&key());
        let mut out = vec![0u8; ENCRYPTED_SEGMENT_SIZE];
        assert!(s.seal_next_to(&[0u8; 10], &mut out[..26]).is_err());
        // A wrong output length is refused without consuming a nonce.
        assert!(
            s.seal_next_to(&[0u8; SEGMENT_SIZE], &mut out[..10])
                .is_err()
        );
        assert!(s.seal_final_to(&[1u8; 10], &mut out[..25]).is_err());
        assert!(!s.is_finished());
        s.seal_final_to(&[1u8; 10], &mut out[..26]).unwrap();
        assert!(s.is_finished());
        assert!(s.seal_next_to(&[1u8; SEGMENT_SIZE], &mut out).is_err());
        assert!(s.seal_final_to(&[1u8; 10], &mut out[..26]).is_err());
        // An empty final segment only as the only segment.
        let mut s = SegmentSealer::new(&key());
        s.seal_next_to(&[1u8; SEGMENT_SIZE], &mut out).unwrap();
        assert!(s.seal_final_to(&[], &mut out[..16]).is_err());
        // The refused seals consumed no counter: the first seal uses counter 0.
        let mut s = SegmentSealer::new(&key());
        assert!(s.seal_final_to(&[1u8; 10], &mut out[..3]).is_err());
        s.seal_final_to(&[1u8; 10], &mut out[..26]).unwrap();
        let opener = SegmentOpener::new(&key());
        let mut plain = [0u8; 10];
        opener.open_to(0, true, &out[..26], &mut plain).unwrap();
        assert_eq!(plain, [1u8; 10]);
    }
}
