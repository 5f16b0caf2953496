//! Streaming encryption and decryption of bodies, range plans, and parallel in-memory sealing.
//!
//! Memory is bounded by the segments in flight: an [`EncryptStream`] holds one segment being filled
//! plus the current input chunk; a [`DecryptStream`] holds one stored segment. Neither ever holds the
//! object. A segment's plaintext is yielded only after its tag has verified.
//!
//! A stream error after some items were yielded (for example a truncated body, detected at the end)
//! means the response must be aborted, not completed: every byte already sent was authentic, but the
//! object as a whole is not.

use std::io;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf as _, Bytes};
use futures::Stream;

use crate::crypto::{AeadKey, Key32};
use crate::envelope::{self, Layout};
use crate::error::{Error, Result};
use crate::stream::{
    ENCRYPTED_SEGMENT_SIZE, SEGMENT_SIZE, SegmentNonce, SegmentOpener, SegmentSealer, TAG_SIZE,
    segment_count, stored_size,
};

/// What an [`EncryptStream`] produces once the body has ended (an envelope, or a part entry).
pub trait Completion {
    /// The result of [`EncryptStream::finish`].
    type Output;
    #[doc(hidden)]
    fn complete(self, plain_size: u64, stored_size: u64) -> Result<Self::Output>;
}

/// Encrypts a body given as a stream of plaintext chunks; yields stored (encrypted) chunks.
///
/// Call [`EncryptStream::finish`] after the stream has returned `None` to get the envelope (or the
/// part entry). Each yielded item is one sealed segment.
pub struct EncryptStream<S, C> {
    inner: S,
    sealer: SegmentSealer,
    cur: Vec<u8>,
    input: Bytes,
    eof: bool,
    failed: bool,
    plain: u64,
    stored: u64,
    completion: C,
}

impl<S, C> std::fmt::Debug for EncryptStream<S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptStream")
            .field("plain", &self.plain)
            .field("finished", &self.sealer.is_finished())
            .finish_non_exhaustive()
    }
}

impl<S, C: Completion> EncryptStream<S, C> {
    pub(crate) fn new(inner: S, key: &Key32, completion: C) -> Self {
        Self {
            inner,
            sealer: SegmentSealer::new(key),
            cur: Vec::with_capacity(ENCRYPTED_SEGMENT_SIZE),
            input: Bytes::new(),
            eof: false,
            failed: false,
            plain: 0,
            stored: 0,
            completion,
        }
    }

    /// Plaintext bytes consumed so far.
    pub fn plain_size(&self) -> u64 {
        self.plain
    }

    /// The envelope or part entry; only after the stream has ended without error.
    pub fn finish(self) -> Result<C::Output> {
        if self.failed || !self.sealer.is_finished() {
            return Err(Error::Internal(
                "finish called before the encrypted body ended".into(),
            ));
        }
        self.completion.complete(self.plain, self.stored)
    }

    fn emit(&mut self, last: bool) -> Result<Bytes> {
        let mut seg = std::mem::replace(
            &mut self.cur,
            if last {
                Vec::new()
            } else {
                Vec::with_capacity(ENCRYPTED_SEGMENT_SIZE)
            },
        );
        if last {
            self.sealer.seal_final(&mut seg)?;
        } else {
            self.sealer.seal_next(&mut seg)?;
        }
        self.stored += seg.len() as u64;
        Ok(Bytes::from(seg))
    }
}

impl<S, E, C> Stream for EncryptStream<S, C>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    E: Into<Error>,
    C: Completion + Unpin,
{
    type Item = Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.failed || this.sealer.is_finished() {
                return Poll::Ready(None);
            }
            if !this.input.is_empty() {
                if this.cur.len() == SEGMENT_SIZE {
                    // More data follows, so this full segment is not the last.
                    return Poll::Ready(Some(this.emit(false).inspect_err(|_| this.failed = true)));
                }
                let n = (SEGMENT_SIZE - this.cur.len()).min(this.input.len());
                this.cur.extend_from_slice(&this.input[..n]);
                this.input.advance(n);
                continue;
            }
            if this.eof {
                return Poll::Ready(Some(this.emit(true).inspect_err(|_| this.failed = true)));
            }
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => this.eof = true,
                Poll::Ready(Some(Ok(chunk))) => {
                    this.plain += chunk.len() as u64;
                    this.input = chunk;
                }
                Poll::Ready(Some(Err(e))) => {
                    this.failed = true;
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
        }
    }
}

/// The keys of one object's body (one piece per part; one piece for a single-part object).
pub(crate) struct BodyKeys {
    oek: Key32,
    content_id: [u8; 32],
    layout: Layout,
    total: u64,
}

impl std::fmt::Debug for BodyKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyKeys").finish_non_exhaustive()
    }
}

impl BodyKeys {
    pub(crate) fn new(oek: Key32, content_id: [u8; 32], layout: Layout, total: u64) -> Self {
        Self {
            oek,
            content_id,
            layout,
            total,
        }
    }

    /// (plaintext size, stored size) of each piece.
    fn pieces(&self) -> Vec<(u64, u64)> {
        match &self.layout {
            Layout::Single => vec![(self.total, stored_size(self.total))],
            Layout::Multipart { parts, .. } => parts
                .iter()
                .map(|p| (p.plain_size, p.stored_size))
                .collect(),
        }
    }

    fn piece_key(&self, piece: usize) -> Result<Key32> {
        match &self.layout {
            Layout::Single => Ok(envelope::content_key(&self.oek, &self.content_id)),
            Layout::Multipart { upload_id, parts } => {
                let p = parts.get(piece).ok_or(Error::Decrypt)?;
                Ok(envelope::part_key(
                    &self.oek,
                    &p.part_salt,
                    p.number,
                    upload_id,
                ))
            }
        }
    }

    pub(crate) fn oek(&self) -> &Key32 {
        &self.oek
    }
}

/// The segments of one piece a read touches.
#[derive(Clone, Debug)]
struct Span {
    piece: usize,
    first_seg: u64,
    last_seg: u64,
    segments: u64,
    plain_start: u64,
    plain_size: u64,
}

/// Which stored bytes a read needs and which plaintext it delivers.
#[derive(Clone, Debug)]
pub struct ReadPlan {
    stored: Range<u64>,
    plain: Range<u64>,
    spans: Vec<Span>,
}

impl ReadPlan {
    /// The stored byte range to fetch (contiguous, also across multipart parts).
    pub fn stored_range(&self) -> Range<u64> {
        self.stored.clone()
    }

    /// The plaintext byte range the read delivers.
    pub fn plain_range(&self) -> Range<u64> {
        self.plain.clone()
    }

    /// Number of segments the read decrypts.
    pub fn segments(&self) -> u64 {
        self.spans
            .iter()
            .map(|s| s.last_seg - s.first_seg + 1)
            .sum()
    }

    pub(crate) fn new(keys: &BodyKeys, range: Option<Range<u64>>) -> Result<Self> {
        let total = keys.total;
        let (a, b, full) = match range {
            None => (0, total, true),
            Some(r) => {
                if r.start >= r.end || r.end > total {
                    return Err(Error::InvalidRange);
                }
                (r.start, r.end, false)
            }
        };
        let seg = SEGMENT_SIZE as u64;
        let mut spans = Vec::new();
        let mut stored_start = None;
        let mut stored_end = 0;
        let (mut plain_off, mut stored_off) = (0u64, 0u64);
        for (piece, (plain, stored)) in keys.pieces().into_iter().enumerate() {
            let segments = segment_count(plain);
            let touched = if full {
                Some((0, segments - 1))
            } else if plain == 0 {
                (a < plain_off && plain_off < b).then_some((0, 0))
            } else if plain_off < b && plain_off + plain > a {
                let lo = a.max(plain_off) - plain_off;
                let hi = b.min(plain_off + plain) - 1 - plain_off;
                Some((lo / seg, hi / seg))
            } else {
                None
            };
            if let Some((first, last)) = touched {
                let span_start = stored_off + first * ENCRYPTED_SEGMENT_SIZE as u64;
                stored_start.get_or_insert(span_start);
                let last_len = if last == segments - 1 {
                    stored - last * ENCRYPTED_SEGMENT_SIZE as u64
                } else {
                    ENCRYPTED_SEGMENT_SIZE as u64
                };
                stored_end = stored_off + last * ENCRYPTED_SEGMENT_SIZE as u64 + last_len;
                spans.push(Span {
                    piece,
                    first_seg: first,
                    last_seg: last,
                    segments,
                    plain_start: plain_off,
                    plain_size: plain,
                });
            }
            plain_off += plain;
            stored_off += stored;
        }
        Ok(Self {
            stored: stored_start.unwrap_or(0)..stored_end,
            plain: a..b,
            spans,
        })
    }
}

/// Decrypts the stored bytes of a [`ReadPlan`]; yields verified plaintext trimmed to the range.
pub struct DecryptStream<S> {
    inner: S,
    keys: Arc<BodyKeys>,
    plan: ReadPlan,
    span: usize,
    seg: u64,
    opener: Option<SegmentOpener>,
    cur: Vec<u8>,
    input: Bytes,
    eof: bool,
    done: bool,
}

impl<S> std::fmt::Debug for DecryptStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptStream")
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

impl<S> DecryptStream<S> {
    pub(crate) fn new(inner: S, keys: Arc<BodyKeys>, plan: ReadPlan) -> Self {
        let seg = plan.spans.first().map_or(0, |s| s.first_seg);
        Self {
            inner,
            keys,
            plan,
            span: 0,
            seg,
            opener: None,
            cur: Vec::with_capacity(ENCRYPTED_SEGMENT_SIZE),
            input: Bytes::new(),
            eof: false,
            done: false,
        }
    }

    /// Stored length, last flag and plaintext offset of the current segment.
    fn current(&self) -> Option<(usize, bool, u64)> {
        let span = self.plan.spans.get(self.span)?;
        let last = self.seg == span.segments - 1;
        let offset = self.seg * SEGMENT_SIZE as u64;
        let plain_len = if last {
            span.plain_size - offset
        } else {
            SEGMENT_SIZE as u64
        };
        Some((
            plain_len as usize + TAG_SIZE,
            last,
            span.plain_start + offset,
        ))
    }

    fn open_current(&mut self, last: bool, plain_start: u64) -> Result<Bytes> {
        let span = &self.plan.spans[self.span];
        if self.opener.is_none() {
            self.opener = Some(SegmentOpener::new(&self.keys.piece_key(span.piece)?));
        }
        let opener = self.opener.as_ref().ok_or(Error::Decrypt)?;
        let mut seg = std::mem::replace(&mut self.cur, Vec::with_capacity(ENCRYPTED_SEGMENT_SIZE));
        opener.open(self.seg, last, &mut seg)?;
        let seg_end = plain_start + seg.len() as u64;
        let from = self.plan.plain.start.max(plain_start).min(seg_end) - plain_start;
        let to = self.plan.plain.end.min(seg_end).max(plain_start) - plain_start;
        // Advance to the next segment (or span).
        if self.seg == span.last_seg {
            self.span += 1;
            self.opener = None;
            self.seg = self.plan.spans.get(self.span).map_or(0, |s| s.first_seg);
        } else {
            self.seg += 1;
        }
        Ok(Bytes::from(seg).slice(from as usize..to as usize))
    }
}

impl<S, E> Stream for DecryptStream<S>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    E: Into<Error>,
{
    type Item = Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            let current = this.current();
            if let Some((need, last, plain_start)) = current {
                if this.cur.len() == need {
                    match this.open_current(last, plain_start) {
                        Ok(b) if b.is_empty() => continue,
                        Ok(b) => return Poll::Ready(Some(Ok(b))),
                        Err(e) => {
                            this.done = true;
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                }
                if !this.input.is_empty() {
                    let n = (need - this.cur.len()).min(this.input.len());
                    this.cur.extend_from_slice(&this.input[..n]);
                    this.input.advance(n);
                    continue;
                }
            } else if !this.input.is_empty() {
                // Bytes after the last segment of the plan.
                this.done = true;
                return Poll::Ready(Some(Err(Error::Decrypt)));
            }
            if this.eof {
                this.done = true;
                return if current.is_some() {
                    // The body ended before the plan did (truncation).
                    Poll::Ready(Some(Err(Error::Decrypt)))
                } else {
                    Poll::Ready(None)
                };
            }
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => this.eof = true,
                Poll::Ready(Some(Ok(chunk))) => this.input = chunk,
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
        }
    }
}

/// Runs a [`DecryptStream`] over an in-memory stored range; returns nothing unless all of it verifies.
pub(crate) fn decrypt_bytes(keys: Arc<BodyKeys>, plan: ReadPlan, stored: &[u8]) -> Result<Vec<u8>> {
    use futures::StreamExt as _;
    let input = futures::stream::iter(std::iter::once(Ok::<_, io::Error>(Bytes::copy_from_slice(
        stored,
    ))));
    let mut out =
        Vec::with_capacity(usize::try_from(plan.plain.end - plan.plain.start).unwrap_or(0));
    let mut s = DecryptStream::new(input, keys, plan);
    futures::executor::block_on(async {
        while let Some(item) = s.next().await {
            match item {
                Ok(b) => out.extend_from_slice(&b),
                Err(e) => {
                    zeroize::Zeroize::zeroize(&mut out);
                    return Err(e);
                }
            }
        }
        Ok(out)
    })
}

/// Seals a whole in-memory body on `threads` threads (segments are independent).
pub(crate) fn seal_parallel(key: &Key32, plain: &[u8], threads: usize) -> Result<Vec<u8>> {
    let total = usize::try_from(stored_size(plain.len() as u64)).map_err(|_| Error::TooLarge)?;
    let mut out = vec![0u8; total];
    seal_parallel_into(key, plain, &mut out, threads)?;
    Ok(out)
}

/// Seals a whole in-memory body into `out` (exactly its stored size) on `threads` threads.
pub(crate) fn seal_parallel_into(
    key: &Key32,
    plain: &[u8],
    out: &mut [u8],
    threads: usize,
) -> Result<()> {
    let count = segment_count(plain.len() as u64);
    if out.len() as u64 != stored_size(plain.len() as u64) {
        return Err(Error::Internal(
            "the output buffer is not the stored size".into(),
        ));
    }
    // Checks the segment limit before any work.
    SegmentNonce::new(count - 1, true)?;
    let aead = AeadKey::new(key);
    let per_thread = (count as usize).div_ceil(threads.max(1));
    std::thread::scope(|scope| {
        let mut rest: &mut [u8] = out;
        let mut first = 0usize;
        while first < count as usize {
            let n = per_thread.min(count as usize - first);
            let end_plain = ((first + n) * SEGMENT_SIZE).min(plain.len());
            let bytes = end_plain - first * SEGMENT_SIZE + n * TAG_SIZE;
            let (mine, tail) = rest.split_at_mut(bytes);
            rest = tail;
            let aead = &aead;
            let start = first;
            scope.spawn(move || {
                for (k, stored) in mine.chunks_mut(ENCRYPTED_SEGMENT_SIZE).enumerate() {
                    let i = start + k;
                    let p = &plain[i * SEGMENT_SIZE..(i * SEGMENT_SIZE + stored.len() - TAG_SIZE)];
                    stored[..p.len()].copy_from_slice(p);
                    let nonce = SegmentNonce::new(i as u64, i as u64 == count - 1)
                        .expect("the segment limit was checked before sealing");
                    aead.seal_slice(nonce.bytes(), &[], stored);
                }
            });
            first += n;
        }
    });
    Ok(())
}

/// Opens a whole in-memory single-part body on `threads` threads.
pub(crate) fn open_parallel(key: &Key32, stored: &[u8], threads: usize) -> Result<Vec<u8>> {
    let plain_len = crate::stream::plain_size(stored.len() as u64).ok_or(Error::Decrypt)?;
    let count = segment_count(plain_len);
    let mut out = vec![0u8; usize::try_from(plain_len).map_err(|_| Error::TooLarge)?];
    let aead = AeadKey::new(key);
    let per_thread = (count as usize).div_ceil(threads.max(1));
    let ok = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        let mut rest: &mut [u8] = &mut out;
        let mut first = 0usize;
        while first < count as usize {
            let n = per_thread.min(count as usize - first);
            let stored_end = ((first + n) * ENCRYPTED_SEGMENT_SIZE).min(stored.len());
            let mine_stored = &stored[first * ENCRYPTED_SEGMENT_SIZE..stored_end];
            let plain_bytes = mine_stored.len() - n * TAG_SIZE;
            let (mine, tail) = rest.split_at_mut(plain_bytes);
            rest = tail;
            let aead = &aead;
            let start = first;
            handles.push(scope.spawn(move || {
                let mut buf = Vec::with_capacity(ENCRYPTED_SEGMENT_SIZE);
                for (k, seg) in mine_stored.chunks(ENCRYPTED_SEGMENT_SIZE).enumerate() {
                    let i = (start + k) as u64;
                    let Ok(nonce) = SegmentNonce::new(i, i == count - 1) else {
                        return false;
                    };
                    buf.clear();
                    buf.extend_from_slice(seg);
                    match aead.open_in_place(nonce.bytes(), &[], &mut buf) {
                        Ok(len) => mine[k * SEGMENT_SIZE..k * SEGMENT_SIZE + len]
                            .copy_from_slice(&buf[..len]),
                        Err(_) => return false,
                    }
                }
                true
            }));
            first += n;
        }
        handles.into_iter().all(|h| h.join().unwrap_or(false))
    });
    if !ok {
        zeroize::Zeroize::zeroize(&mut out);
        return Err(Error::Decrypt);
    }
    Ok(out)
}
