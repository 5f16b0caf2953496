//! [`EncryptStream`]: a body given as plaintext chunks, sealed into batches of STREAM segments.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf as _, Bytes};
use futures::Stream;

use super::pool::{Batch, BufferPool};
use super::{BATCH_SEGMENTS, Completion};
use crate::crypto::Key32;
use crate::error::{Error, Result};
use crate::stream::{ENCRYPTED_SEGMENT_SIZE, SEGMENT_SIZE, SegmentSealer, TAG_SIZE};

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
