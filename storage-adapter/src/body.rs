//! Streaming encryption and decryption of bodies, range plans, and parallel in-memory sealing.
//!
//! Memory is bounded by the segments in flight: an [`EncryptStream`] holds at most one partial
//! segment being filled (only when input chunks do not fall on segment boundaries), the current input
//! chunk, and the output batch it is filling; a [`DecryptStream`] likewise holds at most one stored
//! segment that straddles two input chunks. Neither ever holds the object. A segment's plaintext is
//! yielded only after its tag has verified.
//!
//! # The fast path
//!
//! Whole segments that lie inside one input chunk are sealed or opened *out of place*, straight from
//! the input chunk into the output buffer: one pass over the data, no staging copy. Up to
//! [`BATCH_SEGMENTS`] consecutive segments go into one output buffer, yielded as one item (the
//! stored bytes of consecutive segments are contiguous, and so is their plaintext). Output buffers
//! come from a small per-stream pool and go back to it when downstream drops every chunk cut from
//! them, so a steady stream reuses the same cache-warm, already-faulted-in memory instead of
//! allocating a fresh buffer per segment. The pool keeps at most [`POOL_KEEP`] idle buffers; the
//! memory bound is therefore the batches downstream still holds plus that constant.
//!
//! Within a batch, segments are opened in order; if one fails to verify, its output is zeroed, the
//! verified segments before it are yielded, and the next item is the error, exactly as if the
//! segments had been yielded one by one.
//!
//! A stream error after some items were yielded (for example a truncated body, detected at the end)
//! means the response must be aborted, not completed: every byte already sent was authentic, but the
//! object as a whole is not.

use std::ops::Range;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Buf as _, Bytes};
use futures::Stream;

use crate::crypto::Key32;
use crate::envelope::{self, Layout};
use crate::error::{Error, Result};
use crate::stream::{
    self, ENCRYPTED_SEGMENT_SIZE, OpenRun, SEGMENT_SIZE, SegmentOpener, SegmentSealer, TAG_SIZE,
    segment_count, stored_size,
};

/// What an [`EncryptStream`] produces once the body has ended (an envelope, or a part entry).
pub trait Completion {
    /// The result of [`EncryptStream::finish`].
    type Output;
    #[doc(hidden)]
    fn complete(self, plain_size: u64, stored_size: u64) -> Result<Self::Output>;
}

/// Most segments sealed or opened into one output buffer (1 MiB of plaintext).
pub(crate) const BATCH_SEGMENTS: usize = 16;
/// Idle output buffers a stream keeps for reuse.
pub(crate) const POOL_KEEP: usize = 2;

/// The idle output buffers of one stream. Shared with the [`Batch`]es handed downstream, which give
/// their buffer back when the last `Bytes` cut from them is dropped.
#[derive(Clone, Default)]
struct BufferPool(Arc<Mutex<Vec<Vec<u8>>>>);

impl BufferPool {
    /// An empty batch able to hold at least `len` bytes.
    fn batch(&self, len: usize) -> Batch {
        let reused = self.0.lock().ok().and_then(|mut idle| idle.pop());
        let buf = match reused {
            Some(buf) if buf.len() >= len => buf,
            _ => vec![0u8; len],
        };
        Batch {
            buf,
            filled: 0,
            keep: 0..0,
            pool: self.clone(),
        }
    }

    fn give_back(&self, buf: Vec<u8>) {
        if let Ok(mut idle) = self.0.lock()
            && idle.len() < POOL_KEEP
        {
            idle.push(buf);
        }
    }
}

/// One output buffer being filled with consecutive segments, then handed downstream as `Bytes`.
struct Batch {
    buf: Vec<u8>,
    filled: usize,
    /// The part of `buf[..filled]` that is yielded (a range read trims the first and last segment).
    keep: Range<usize>,
    pool: BufferPool,
}

impl Batch {
    fn room(&self) -> usize {
        self.buf.len() - self.filled
    }

    /// The next `n` bytes of the buffer (the caller checked [`Batch::room`]).
    fn slot(&mut self, n: usize) -> &mut [u8] {
        let start = self.filled;
        self.filled += n;
        &mut self.buf[start..start + n]
    }

    fn into_bytes(self) -> Bytes {
        Bytes::from_owner(self)
    }
}

impl AsRef<[u8]> for Batch {
    fn as_ref(&self) -> &[u8] {
        &self.buf[self.keep.clone()]
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buf));
    }
}

/// Encrypts a body given as a stream of plaintext chunks; yields stored (encrypted) chunks.
///
/// Call [`EncryptStream::finish`] after the stream has returned `None` to get the envelope (or the
/// part entry). Each yielded item is one or more whole sealed segments (at most
/// [`BATCH_SEGMENTS`]), in order; their concatenation is the stored body.
pub struct EncryptStream<S, C> {
    inner: S,
    sealer: SegmentSealer,
    /// A partial segment copied from input chunks that do not fall on segment boundaries.
    cur: Vec<u8>,
    /// A full segment (a view of an input chunk, no copy) whose finality is not known yet.
    held: Bytes,
    input: Bytes,
    pool: BufferPool,
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
            cur: Vec::new(),
            held: Bytes::new(),
            input: Bytes::new(),
            pool: BufferPool::default(),
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

    /// A batch sized for what can be sealed from the data at hand.
    fn new_batch(&self) -> Batch {
        let avail = self.cur.len() + self.held.len() + self.input.len();
        // Whole segments' worth (so pooled buffers fit the next batch), exact for a small body.
        let len = if avail < SEGMENT_SIZE {
            avail + TAG_SIZE
        } else {
            avail.div_ceil(SEGMENT_SIZE).min(BATCH_SEGMENTS) * ENCRYPTED_SEGMENT_SIZE
        };
        self.pool.batch(len)
    }

    /// Seals every segment whose finality is known from the data at hand, up to one batch.
    /// `None` when more input (or the end of input) is needed first.
    fn seal_ready(&mut self) -> Result<Option<Bytes>> {
        let mut batch: Option<Batch> = None;
        loop {
            let pending_full = self.cur.len() == SEGMENT_SIZE || !self.held.is_empty();
            // The plaintext of the next segment to seal and whether it is the final one, if known.
            let last = if pending_full && !self.input.is_empty() {
                // More data follows, so this full segment is not the last.
                false
            } else if !pending_full && self.cur.is_empty() && self.input.len() > SEGMENT_SIZE {
                // A whole segment inside the input chunk, with more data after it.
                false
            } else if !pending_full && self.cur.is_empty() && self.input.len() == SEGMENT_SIZE {
                // Whether it is the last one is known only from the next chunk: hold it, no copy.
                self.held = std::mem::take(&mut self.input);
                continue;
            } else if !self.input.is_empty() {
                // Stage input that does not fall on a segment boundary.
                let n = (SEGMENT_SIZE - self.cur.len()).min(self.input.len());
                if self.cur.capacity() == 0 {
                    self.cur.reserve_exact(SEGMENT_SIZE);
                }
                self.cur.extend_from_slice(&self.input[..n]);
                self.input.advance(n);
                continue;
            } else if self.eof {
                true
            } else {
                break;
            };
            let plain_len = if !self.held.is_empty() {
                self.held.len()
            } else if !self.cur.is_empty() || last {
                self.cur.len()
            } else {
                SEGMENT_SIZE
            };
            if batch.is_none() {
                batch = Some(self.new_batch());
            }
            let Some(b) = batch.as_mut() else {
                break;
            };
            if b.room() < plain_len + TAG_SIZE {
                break;
            }
            let slot = b.slot(plain_len + TAG_SIZE);
            let from_input = self.held.is_empty() && self.cur.is_empty() && !last;
            let plain: &[u8] = if !self.held.is_empty() {
                &self.held
            } else if from_input {
                &self.input[..SEGMENT_SIZE]
            } else {
                &self.cur
            };
            if last {
                self.sealer.seal_final_to(plain, slot)?;
            } else {
                self.sealer.seal_next_to(plain, slot)?;
            }
            if !self.held.is_empty() {
                self.held = Bytes::new();
            } else if from_input {
                self.input.advance(SEGMENT_SIZE);
            } else {
                self.cur.clear();
            }
            self.stored += (plain_len + TAG_SIZE) as u64;
            if last {
                break;
            }
        }
        Ok(batch.filter(|b| b.filled > 0).map(|mut b| {
            b.keep = 0..b.filled;
            b.into_bytes()
        }))
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
            match this.seal_ready() {
                Ok(Some(sealed)) => return Poll::Ready(Some(Ok(sealed))),
                Ok(None) => {}
                Err(e) => {
                    this.failed = true;
                    return Poll::Ready(Some(Err(e)));
                }
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
    /// A stored segment that straddles two input chunks, being gathered.
    cur: Vec<u8>,
    input: Bytes,
    pool: BufferPool,
    /// An error to report after the verified segments before it have been yielded.
    pending: Option<Error>,
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
            cur: Vec::new(),
            input: Bytes::new(),
            pool: BufferPool::default(),
            pending: None,
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

    /// Moves to the next segment of the plan (or the first of the next span).
    fn advance(&mut self) {
        let span_last = self.plan.spans[self.span].last_seg;
        if self.seg == span_last {
            self.span += 1;
            self.opener = None;
            self.seg = self.plan.spans.get(self.span).map_or(0, |s| s.first_seg);
        } else {
            self.seg += 1;
        }
    }

    /// A batch sized for what can be opened from the data at hand.
    fn new_batch(&self) -> Batch {
        let avail = self.cur.len() + self.input.len();
        // Whole segments' worth (so pooled buffers fit the next batch), exact for a small body.
        let len = if avail <= ENCRYPTED_SEGMENT_SIZE {
            avail
        } else {
            avail.div_ceil(SEGMENT_SIZE).min(BATCH_SEGMENTS) * SEGMENT_SIZE
        };
        self.pool.batch(len)
    }

    /// Opens every segment the data at hand completes, up to one batch. Returns the verified
    /// plaintext (trimmed to the range; `None` if there is none) and the error that stopped it, if
    /// any. Stops without error when more input is needed or the plan is complete.
    fn open_ready(&mut self) -> (Option<Bytes>, Option<Error>) {
        let mut batch: Option<Batch> = None;
        let mut err = None;
        loop {
            let Some((need, last, plain_start)) = self.current() else {
                if !self.input.is_empty() {
                    // Bytes after the last segment of the plan.
                    err = Some(Error::Decrypt);
                }
                break;
            };
            let direct = self.cur.is_empty() && self.input.len() >= need;
            if !direct && self.cur.len() < need {
                if self.input.is_empty() {
                    break;
                }
                // Gather a segment that straddles input chunks.
                if self.cur.capacity() == 0 {
                    self.cur.reserve_exact(ENCRYPTED_SEGMENT_SIZE);
                }
                let n = (need - self.cur.len()).min(self.input.len());
                self.cur.extend_from_slice(&self.input[..n]);
                self.input.advance(n);
                continue;
            }
            let plain_len = need - TAG_SIZE;
            let seg_end = plain_start + plain_len as u64;
            let from = (self.plan.plain.start.max(plain_start).min(seg_end) - plain_start) as usize;
            let to = (self.plan.plain.end.min(seg_end).max(plain_start) - plain_start) as usize;
            if batch.is_none() {
                batch = Some(self.new_batch());
            }
            let Some(b) = batch.as_mut() else {
                break;
            };
            // The yielded bytes of a batch are one contiguous run.
            let contiguous = b.filled == 0 || (b.keep.end == b.filled && from == 0);
            if b.room() < plain_len || !contiguous {
                // This segment opens into the next batch.
                break;
            }
            if self.opener.is_none() {
                let piece = self.plan.spans[self.span].piece;
                match self.keys.piece_key(piece) {
                    Ok(k) => self.opener = Some(SegmentOpener::new(&k)),
                    Err(e) => {
                        err = Some(e);
                        break;
                    }
                }
            }
            let Some(opener) = self.opener.as_ref() else {
                break;
            };
            let start = b.filled;
            let slot = b.slot(plain_len);
            let opened = if direct {
                let r = opener.open_to(self.seg, last, &self.input[..need], slot);
                self.input.advance(need);
                r
            } else {
                let r = opener.open_to(self.seg, last, &self.cur, slot);
                self.cur.clear();
                r
            };
            if let Err(e) = opened {
                // `open_to` zeroed the slot; it is not part of what is yielded.
                b.filled = start;
                err = Some(e);
                break;
            }
            if start == 0 {
                b.keep = from..to;
            } else {
                b.keep.end = start + to;
            }
            self.advance();
        }
        let out = batch.filter(|b| !b.keep.is_empty()).map(Batch::into_bytes);
        (out, err)
    }
}

/// What [`DecryptStream::step`] arrived at.
enum Step {
    /// An item to yield.
    Item(Result<Bytes>),
    /// The stream is over.
    End,
    /// Nothing more can be done with the input at hand.
    NeedInput,
}

impl<S> DecryptStream<S> {
    /// Does what the input at hand allows: the stream's logic without the polling, so an in-memory
    /// body is decrypted on the calling thread with no executor.
    fn step(&mut self) -> Step {
        loop {
            if let Some(e) = self.pending.take() {
                self.done = true;
                return Step::Item(Err(e));
            }
            if self.done {
                return Step::End;
            }
            match self.open_ready() {
                (Some(plain), err) => {
                    // Verified plaintext first; an error found after it comes next.
                    self.pending = err;
                    return Step::Item(Ok(plain));
                }
                (None, Some(e)) => {
                    self.done = true;
                    return Step::Item(Err(e));
                }
                (None, None) => {}
            }
            if !self.input.is_empty() {
                // Progress was made but yielded nothing (an empty segment): go on.
                continue;
            }
            if self.eof {
                self.done = true;
                return if self.current().is_some() {
                    // The body ended before the plan did (truncation).
                    Step::Item(Err(Error::Decrypt))
                } else {
                    Step::End
                };
            }
            return Step::NeedInput;
        }
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
            match this.step() {
                Step::Item(item) => return Poll::Ready(Some(item)),
                Step::End => return Poll::Ready(None),
                Step::NeedInput => {}
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

/// Decrypts an in-memory stored range on the calling thread (the [`DecryptStream`] logic, driven
/// directly); returns nothing unless all of it verifies.
pub(crate) fn decrypt_bytes(keys: Arc<BodyKeys>, plan: ReadPlan, stored: &[u8]) -> Result<Vec<u8>> {
    let mut out =
        Vec::with_capacity(usize::try_from(plan.plain.end - plan.plain.start).unwrap_or(0));
    // The whole input is at hand: no inner stream to poll.
    let mut s = DecryptStream::new((), keys, plan);
    s.input = Bytes::copy_from_slice(stored);
    s.eof = true;
    loop {
        match s.step() {
            Step::Item(Ok(b)) => out.extend_from_slice(&b),
            Step::End => return Ok(out),
            Step::Item(Err(e)) => {
                zeroize::Zeroize::zeroize(&mut out);
                return Err(e);
            }
            Step::NeedInput => {
                zeroize::Zeroize::zeroize(&mut out);
                return Err(Error::Internal(
                    "the decryption asked for input after the end of the body".into(),
                ));
            }
        }
    }
}

/// Seals a whole in-memory body on `threads` threads (segments are independent).
pub(crate) fn seal_parallel(key: &Key32, plain: &[u8], threads: usize) -> Result<Vec<u8>> {
    let total = usize::try_from(stored_size(plain.len() as u64)).map_err(|_| Error::TooLarge)?;
    let mut out = vec![0u8; total];
    seal_parallel_into(key, plain, &mut out, threads)?;
    Ok(out)
}

/// Seals a whole in-memory body into `out` (exactly its stored size) on `threads` threads: one
/// run of consecutive segments per thread, each sealed out of place straight from the plaintext.
pub(crate) fn seal_parallel_into(
    key: &Key32,
    plain: &[u8],
    out: &mut [u8],
    threads: usize,
) -> Result<()> {
    if out.len() as u64 != stored_size(plain.len() as u64) {
        return Err(Error::Internal(
            "the output buffer is not the stored size".into(),
        ));
    }
    // Checks the segment limit before any work.
    let runs = stream::seal_runs(key, plain.len() as u64, threads)?;
    std::thread::scope(|scope| {
        let mut rest: &mut [u8] = out;
        let handles: Vec<_> = runs
            .into_iter()
            .map(|run| {
                let (mine, tail) = std::mem::take(&mut rest).split_at_mut(run.stored_len());
                rest = tail;
                scope.spawn(move || run.seal_to(plain, mine))
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .map_err(|_| Error::Internal("a sealing thread panicked".into()))?
        })
    })
}

/// Opens a whole in-memory single-part body on `threads` threads: one run of consecutive segments
/// per thread, each opened out of place straight into the output. Nothing is returned unless every
/// segment verifies.
pub(crate) fn open_parallel(key: &Key32, stored: &[u8], threads: usize) -> Result<Vec<u8>> {
    let runs = stream::open_runs(key, stored.len() as u64, threads)?;
    let mut out = vec![0u8; runs.iter().map(OpenRun::plain_len).sum()];
    let ok = std::thread::scope(|scope| {
        let mut rest: &mut [u8] = &mut out;
        let handles: Vec<_> = runs
            .into_iter()
            .map(|run| {
                let (mine, tail) = std::mem::take(&mut rest).split_at_mut(run.plain_len());
                rest = tail;
                scope.spawn(move || run.open_to(stored, mine).is_ok())
            })
            .collect();
        handles.into_iter().all(|h| h.join().unwrap_or(false))
    });
    if !ok {
        zeroize::Zeroize::zeroize(&mut out);
        return Err(Error::Decrypt);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt as _;

    const E: usize = ENCRYPTED_SEGMENT_SIZE;

    fn keys(total: u64) -> (Arc<BodyKeys>, Key32) {
        let oek = Key32::from_array(&[3; 32]);
        let content_id = [4u8; 32];
        let ck = envelope::content_key(&oek, &content_id);
        (
            Arc::new(BodyKeys::new(oek, content_id, Layout::Single, total)),
            ck,
        )
    }

    fn chunks(data: Vec<u8>, chunk: usize) -> impl Stream<Item = std::io::Result<Bytes>> + Unpin {
        crate::object::bytes_stream(Bytes::from(data), chunk)
    }

    struct Done;
    impl Completion for Done {
        type Output = (u64, u64);
        fn complete(self, plain: u64, stored: u64) -> Result<(u64, u64)> {
            Ok((plain, stored))
        }
    }

    #[test]
    fn output_buffers_are_reused_once_dropped() {
        let n = 64 * SEGMENT_SIZE;
        let (keys, ck) = keys(n as u64);
        let mut enc = EncryptStream::new(chunks(vec![5u8; n], 1 << 20), &ck, Done);
        let mut stored = Vec::new();
        let mut ptrs = Vec::new();
        futures::executor::block_on(async {
            while let Some(item) = enc.next().await {
                let item = item.unwrap();
                ptrs.push(item.as_ptr());
                stored.extend_from_slice(&item);
            }
        });
        assert_eq!(enc.finish().unwrap(), (n as u64, stored_size(n as u64)));
        assert!(
            ptrs.len() >= 4 && ptrs.len() <= 6,
            "batched: {} items",
            ptrs.len()
        );
        assert!(
            ptrs[1..].iter().all(|p| *p == ptrs[1]),
            "a dropped batch's buffer is reused"
        );
        let plan = ReadPlan::new(&keys, None).unwrap();
        let mut dec = DecryptStream::new(chunks(stored, 1 << 20), keys, plan);
        let mut ptrs = Vec::new();
        futures::executor::block_on(async {
            while let Some(item) = dec.next().await {
                let item = item.unwrap();
                assert!(item.iter().all(|&b| b == 5));
                ptrs.push(item.as_ptr());
            }
        });
        assert!(
            ptrs.len() >= 4 && ptrs.len() <= 8,
            "batched: {} items",
            ptrs.len()
        );
        assert!(ptrs[1..].iter().all(|p| *p == ptrs[1]));
    }

    #[test]
    fn held_items_keep_their_bytes() {
        // Downstream keeps every item: each keeps its own buffer, nothing is overwritten.
        let n = 40 * SEGMENT_SIZE + 9;
        let plain: Vec<u8> = (0..n).map(|i| (i % 253) as u8).collect();
        let (keys, ck) = keys(n as u64);
        let mut enc = EncryptStream::new(chunks(plain.clone(), 1 << 20), &ck, Done);
        let items: Vec<Bytes> = futures::executor::block_on(async {
            let mut v = Vec::new();
            while let Some(item) = enc.next().await {
                v.push(item.unwrap());
            }
            v
        });
        let stored: Vec<u8> = items.iter().flat_map(|b| b.iter().copied()).collect();
        assert_eq!(crate::stream::open_all(&ck, &stored).unwrap(), plain);
        let plan = ReadPlan::new(&keys, None).unwrap();
        let mut dec = DecryptStream::new(chunks(stored, 1 << 20), keys, plan);
        let items: Vec<Bytes> = futures::executor::block_on(async {
            let mut v = Vec::new();
            while let Some(item) = dec.next().await {
                v.push(item.unwrap());
            }
            v
        });
        let back: Vec<u8> = items.iter().flat_map(|b| b.iter().copied()).collect();
        assert_eq!(back, plain);
    }

    #[test]
    fn final_flag_in_the_middle_of_a_batch_fails() {
        // Segment 2 of 5 carries the final flag (sealed by a misbehaving writer under the same key).
        let n = 5 * SEGMENT_SIZE;
        let (keys, ck) = keys(n as u64);
        let seg = vec![7u8; SEGMENT_SIZE];
        let mut stored = vec![0u8; 5 * E];
        let mut sealer = SegmentSealer::new(&ck);
        sealer.seal_next_to(&seg, &mut stored[..E]).unwrap();
        sealer.seal_next_to(&seg, &mut stored[E..2 * E]).unwrap();
        sealer
            .seal_final_to(&seg, &mut stored[2 * E..3 * E])
            .unwrap();
        // The rest sealed correctly by an honest sealer (indices 3, 4).
        let honest = crate::stream::seal_all(&ck, &vec![7u8; n]).unwrap();
        stored[3 * E..].copy_from_slice(&honest[3 * E..]);
        let plan = ReadPlan::new(&keys, None).unwrap();
        let mut dec = DecryptStream::new(chunks(stored, 64 << 20), keys, plan);
        let (out, err) = futures::executor::block_on(async {
            let mut out = Vec::new();
            while let Some(item) = dec.next().await {
                match item {
                    Ok(b) => out.extend_from_slice(&b),
                    Err(e) => return (out, Some(e)),
                }
            }
            (out, None)
        });
        assert!(matches!(err, Some(Error::Decrypt)));
        assert_eq!(out.len(), 2 * SEGMENT_SIZE, "only the segments before it");
    }

    #[test]
    fn a_failed_open_in_a_batch_leaves_its_slot_zeroed() {
        let n = 10 * SEGMENT_SIZE;
        let (keys, ck) = keys(n as u64);
        let mut stored = crate::stream::seal_all(&ck, &vec![9u8; n]).unwrap();
        stored[6 * E + 100] ^= 1;
        let plan = ReadPlan::new(&keys, None).unwrap();
        let mut dec = DecryptStream::new(chunks(stored, 64 << 20), keys, plan);
        futures::executor::block_on(async {
            let first = dec.next().await.unwrap().unwrap();
            assert_eq!(first.len(), 6 * SEGMENT_SIZE);
            drop(first);
            assert!(matches!(dec.next().await, Some(Err(Error::Decrypt))));
            assert!(dec.next().await.is_none());
        });
        // The batch buffer is back in the pool: the failed segment's plaintext slot is all zero.
        let idle = dec.pool.0.lock().unwrap();
        let buf = idle.last().expect("the buffer went back to the pool");
        assert!(buf[..6 * SEGMENT_SIZE].iter().all(|&b| b == 9));
        assert!(
            buf[6 * SEGMENT_SIZE..7 * SEGMENT_SIZE]
                .iter()
                .all(|&b| b == 0)
        );
    }
}
