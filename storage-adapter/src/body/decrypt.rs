//! [`DecryptStream`]: the stored bytes of a [`ReadPlan`] given as chunks, opened segment by segment
//! into batches of verified plaintext; and [`decrypt_bytes`], the same logic over an in-memory
//! range on the calling thread.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf as _, Bytes};
use futures::Stream;

use super::BATCH_SEGMENTS;
use super::plan::{BodyKeys, ReadPlan};
use super::pool::{Batch, BufferPool};
use crate::error::{Error, Result};
use crate::stream::{ENCRYPTED_SEGMENT_SIZE, SEGMENT_SIZE, SegmentOpener, TAG_SIZE};

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
    pub(super) pool: BufferPool,
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
