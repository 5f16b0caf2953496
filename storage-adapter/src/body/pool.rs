//! The output buffers of one stream: batches of consecutive segments handed downstream as `Bytes`,
//! whose memory comes back for reuse when downstream drops them.

use std::ops::Range;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::POOL_KEEP;

/// The idle output buffers of one stream. Shared with the [`Batch`]es handed downstream, which give
/// their buffer back when the last `Bytes` cut from them is dropped.
#[derive(Clone, Default)]
pub(super) struct BufferPool(pub(super) Arc<Mutex<Vec<Vec<u8>>>>);

impl BufferPool {
    /// An empty batch able to hold at least `len` bytes.
    pub(super) fn batch(&self, len: usize) -> Batch {
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
pub(super) struct Batch {
    buf: Vec<u8>,
    pub(super) filled: usize,
    /// The part of `buf[..filled]` that is yielded (a range read trims the first and last segment).
    pub(super) keep: Range<usize>,
    pool: BufferPool,
}

impl Batch {
    pub(super) fn room(&self) -> usize {
        self.buf.len() - self.filled
    }

    /// The next `n` bytes of the buffer (the caller checked [`Batch::room`]).
    pub(super) fn slot(&mut self, n: usize) -> &mut [u8] {
        let start = self.filled;
        self.filled += n;
        &mut self.buf[start..start + n]
    }

    pub(super) fn into_bytes(self) -> Bytes {
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
