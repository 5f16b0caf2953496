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

use std::ops::Range;
use std::sync::Arc;

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
/// The largest body one key may seal: [`MAX_SEGMENTS`] full segments (256 TiB).
pub const MAX_PLAIN_SIZE: u64 = MAX_SEGMENTS * SEGMENT_SIZE as u64;

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

/// The nonce of segment `index`: an 11-byte big-endian counter, then the last-segment flag. Private:
/// only this module makes nonces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SegmentNonce([u8; NONCE_LEN]);

impl SegmentNonce {
    fn new(index: u64, last: bool) -> Result<Self> {
        if index >= MAX_SEGMENTS {
            return Err(Error::TooLarge);
        }
        let mut n = [0u8; NONCE_LEN];
        n[3..11].copy_from_slice(&index.to_be_bytes());
        n[11] = u8::from(last);
        Ok(Self(n))
    }

    fn bytes(self) -> [u8; NONCE_LEN] {
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

/// Where one run of consecutive segments lies in a body (see [`seal_runs`] / [`open_runs`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RunSpan {
    /// Index of the run's first segment.
    first: u64,
    /// Segments in the run (at least one).
    segments: u64,
    /// Index of the body's final segment (the one sealed with the last flag).
    final_index: u64,
    /// Plaintext size of the whole body.
    body_plain: u64,
}

impl RunSpan {
    /// The body of `plain` bytes cut into at most `runs` runs of (nearly) equal segment counts.
    /// Refuses a body over [`MAX_SEGMENTS`] before any work.
    fn split(plain: u64, runs: usize) -> Result<Vec<Self>> {
        let count = segment_count(plain);
        SegmentNonce::new(count - 1, true)?;
        let per_run = count.div_ceil(runs.max(1) as u64);
        let mut spans = Vec::new();
        let mut first = 0;
        while first < count {
            let segments = per_run.min(count - first);
            spans.push(Self {
                first,
                segments,
                final_index: count - 1,
                body_plain: plain,
            });
            first += segments;
        }
        Ok(spans)
    }

    /// The run's plaintext bytes within the body.
    fn plain_range(&self) -> Range<usize> {
        let seg = SEGMENT_SIZE as u64;
        let start = self.first * seg;
        let end = ((self.first + self.segments) * seg).min(self.body_plain);
        // The body is in memory, so its offsets fit in `usize`.
        start as usize..end as usize
    }

    /// The run's stored bytes within the stored body.
    fn stored_range(&self) -> Range<usize> {
        let start = self.first as usize * ENCRYPTED_SEGMENT_SIZE;
        start..start + self.plain_range().len() + self.segments as usize * TAG_SIZE
    }

    /// The nonces of the run's segments, with their offsets within the run's plaintext and stored
    /// bytes.
    fn segments(&self) -> impl Iterator<Item = (SegmentNonce, Range<usize>, Range<usize>)> + '_ {
        let plain = self.plain_range();
        (0..self.segments).map(move |k| {
            let index = self.first + k;
            let p_start = k as usize * SEGMENT_SIZE;
            let p_end = (p_start + SEGMENT_SIZE).min(plain.len());
            let s_start = k as usize * ENCRYPTED_SEGMENT_SIZE;
            let nonce = SegmentNonce::new(index, index == self.final_index)
                .expect("the segment limit was checked when the body was split");
            (
                nonce,
                p_start..p_end,
                s_start..s_start + (p_end - p_start) + TAG_SIZE,
            )
        })
    }
}

/// One run of consecutive segments of an in-memory body, to seal on its own (on a thread).
///
/// [`seal_runs`] cuts the body and fixes each run's counters; sealing consumes the run, so a run's
/// nonces are used once and callers pick none.
#[derive(Debug)]
pub(crate) struct SealRun {
    key: Arc<AeadKey>,
    span: RunSpan,
}

impl SealRun {
    /// The size of the run's stored bytes (the runs' stored bytes are contiguous and in order).
    pub(crate) fn stored_len(&self) -> usize {
        self.span.stored_range().len()
    }

    /// Seals the run's segments of `body` (the whole plaintext the runs were cut from) into `out`
    /// ([`SealRun::stored_len`] bytes), out of place.
    pub(crate) fn seal_to(self, body: &[u8], out: &mut [u8]) -> Result<()> {
        if body.len() as u64 != self.span.body_plain || out.len() != self.stored_len() {
            return Err(Error::Internal(
                "a run sealed from the wrong body or into the wrong buffer".into(),
            ));
        }
        let plain = &body[self.span.plain_range()];
        for (nonce, p, o) in self.span.segments() {
            self.key
                .seal_to(nonce.bytes(), &[], &plain[p], &mut out[o])?;
        }
        Ok(())
    }
}

/// Cuts a body of `plain` bytes under `key` into at most `runs` [`SealRun`]s, in order.
pub(crate) fn seal_runs(key: &Key32, plain: u64, runs: usize) -> Result<Vec<SealRun>> {
    let key = Arc::new(AeadKey::new(key));
    Ok(RunSpan::split(plain, runs)?
        .into_iter()
        .map(|span| SealRun {
            key: Arc::clone(&key),
            span,
        })
        .collect())
}

/// One run of consecutive segments of an in-memory stored body, to open on its own (on a thread).
#[derive(Debug)]
pub(crate) struct OpenRun {
    key: Arc<AeadKey>,
    span: RunSpan,
}

impl OpenRun {
    /// The size of the run's plaintext (the runs' plaintexts are contiguous and in order).
    pub(crate) fn plain_len(&self) -> usize {
        self.span.plain_range().len()
    }

    /// Opens the run's segments of `stored` (the whole stored body the runs were cut from) into
    /// `out` ([`OpenRun::plain_len`] bytes), out of place. On failure `out` is zeroed and the error
    /// is the opaque [`Error::Decrypt`].
    pub(crate) fn open_to(self, stored: &[u8], out: &mut [u8]) -> Result<()> {
        if stored.len() as u64 != stored_size(self.span.body_plain) || out.len() != self.plain_len()
        {
            zeroize::Zeroize::zeroize(out);
            return Err(Error::Decrypt);
        }
        let stored = &stored[self.span.stored_range()];
        for (nonce, p, s) in self.span.segments() {
            if let Err(e) = self
                .key
                .open_to(nonce.bytes(), &[], &stored[s], &mut out[p])
            {
                zeroize::Zeroize::zeroize(out);
                return Err(e);
            }
        }
        Ok(())
    }
}

/// Cuts a stored body of `stored` bytes under `key` into at most `runs` [`OpenRun`]s, in order.
/// A size no body has is [`Error::Decrypt`].
pub(crate) fn open_runs(key: &Key32, stored: u64, runs: usize) -> Result<Vec<OpenRun>> {
    let plain = plain_size(stored).ok_or(Error::Decrypt)?;
    let key = Arc::new(AeadKey::new(key));
    Ok(RunSpan::split(plain, runs)
        .map_err(|_| Error::Decrypt)?
        .into_iter()
        .map(|span| OpenRun {
            key: Arc::clone(&key),
            span,
        })
        .collect())
}

/// Encrypts a whole in-memory body (sync, on the calling thread).
pub(crate) fn seal_all(key: &Key32, plain: &[u8]) -> Result<Vec<u8>> {
    let total = usize::try_from(stored_size(plain.len() as u64)).map_err(|_| Error::TooLarge)?;
    let mut out = vec![0u8; total];
    for run in seal_runs(key, plain.len() as u64, 1)? {
        run.seal_to(plain, &mut out)?;
    }
    Ok(out)
}

/// Decrypts a whole in-memory body (sync); nothing is returned unless every segment verifies.
#[cfg(test)]
pub(crate) fn open_all(key: &Key32, stored: &[u8]) -> Result<Vec<u8>> {
    let plain_len = plain_size(stored.len() as u64).ok_or(Error::Decrypt)?;
    let mut out = vec![0u8; usize::try_from(plain_len).map_err(|_| Error::TooLarge)?];
    for run in open_runs(key, stored.len() as u64, 1)? {
        run.open_to(stored, &mut out)?;
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

    /// Seals with the streaming sealer, segment by segment.
    fn seal_in_order(plain: &[u8]) -> Vec<u8> {
        let mut sealer = SegmentSealer::new(&key());
        let mut out = vec![0u8; stored_size(plain.len() as u64) as usize];
        let segments: Vec<_> = plain.chunks(SEGMENT_SIZE).collect();
        if segments.is_empty() {
            sealer.seal_final_to(&[], &mut out).unwrap();
        }
        for (i, (p, o)) in segments
            .iter()
            .zip(out.chunks_mut(ENCRYPTED_SEGMENT_SIZE))
            .enumerate()
        {
            if i + 1 == segments.len() {
                sealer.seal_final_to(p, o).unwrap();
            } else {
                sealer.seal_next_to(p, o).unwrap();
            }
        }
        out
    }

    #[test]
    fn runs_seal_and_open_what_the_sealer_does() {
        let s = SEGMENT_SIZE;
        for n in [0, 1, s, s + 1, 5 * s + 3] {
            let plain: Vec<u8> = (0..n).map(|i| (i % 241) as u8).collect();
            let expected = seal_in_order(&plain);
            for count in [1, 2, 3, 8] {
                let runs = seal_runs(&key(), n as u64, count).unwrap();
                assert!(runs.len() <= count && !runs.is_empty());
                let mut stored = vec![0u8; expected.len()];
                let mut rest = &mut stored[..];
                for run in runs {
                    let (mine, tail) = rest.split_at_mut(run.stored_len());
                    rest = tail;
                    run.seal_to(&plain, mine).unwrap();
                }
                assert!(rest.is_empty());
                assert_eq!(stored, expected, "{n} bytes in {count} runs");
                let mut back = vec![0u8; n];
                let mut rest = &mut back[..];
                for run in open_runs(&key(), stored.len() as u64, count).unwrap() {
                    let (mine, tail) = rest.split_at_mut(run.plain_len());
                    rest = tail;
                    run.open_to(&stored, mine).unwrap();
                }
                assert_eq!(back, plain);
            }
        }
    }

    #[test]
    fn runs_refuse_misuse() {
        let s = SEGMENT_SIZE;
        let plain = vec![3u8; 2 * s];
        let run = seal_runs(&key(), plain.len() as u64, 1).unwrap().remove(0);
        let mut out = vec![0u8; run.stored_len()];
        // Another body than the one the runs were cut from.
        assert!(matches!(
            seal_runs(&key(), plain.len() as u64, 1)
                .unwrap()
                .remove(0)
                .seal_to(&plain[1..], &mut out),
            Err(Error::Internal(_))
        ));
        assert!(matches!(
            run.seal_to(&plain, &mut out[1..]),
            Err(Error::Internal(_))
        ));
        // Past the segment limit, refused before any work.
        assert!(matches!(
            seal_runs(&key(), MAX_SEGMENTS * s as u64 + 1, 4),
            Err(Error::TooLarge)
        ));
        // A stored size no body has, a damaged segment: the opaque error, the output zeroed.
        assert!(matches!(
            open_runs(&key(), 17 + s as u64, 1),
            Err(Error::Decrypt)
        ));
        let mut stored = seal_all(&key(), &plain).unwrap();
        stored[ENCRYPTED_SEGMENT_SIZE + 5] ^= 1;
        let mut back = vec![1u8; plain.len()];
        let run = open_runs(&key(), stored.len() as u64, 1).unwrap().remove(0);
        assert!(matches!(
            run.open_to(&stored, &mut back),
            Err(Error::Decrypt)
        ));
        assert!(back.iter().all(|&b| b == 0));
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
