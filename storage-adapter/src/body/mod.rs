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
//! Whole segments that lie inside one input chunk are sealed or opened *out of place*, from the input
//! chunk into the output buffer: no staging buffer (aws-lc reads one and writes the other; ring,
//! the backend on CPUs without AVX-512, works in place, so each segment is copied into its slot
//! and processed there while it is in cache). Up to
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
//!
//! # Modules
//!
//! * `encrypt`: [`EncryptStream`], plaintext chunks in, sealed batches out.
//! * `plan`: [`ReadPlan`], which segments (of which part) a read needs, and the body's keys.
//! * `decrypt`: [`DecryptStream`], stored chunks in, verified plaintext out; also the in-memory
//!   read on the calling thread.
//! * `pool`: the per-stream output buffers behind the batches.
//! * `parallel`: whole in-memory bodies sealed or opened on several threads.

mod decrypt;
mod encrypt;
mod parallel;
mod plan;
mod pool;

pub use decrypt::DecryptStream;
pub(crate) use decrypt::decrypt_bytes;
pub use encrypt::EncryptStream;
pub(crate) use parallel::{open_parallel, seal_parallel, seal_parallel_into};
pub(crate) use plan::BodyKeys;
pub use plan::ReadPlan;

use crate::error::Result;

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

#[cfg(test)]
mod tests;
