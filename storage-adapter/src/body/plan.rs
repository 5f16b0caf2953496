//! [`ReadPlan`]: which stored segments (of which piece: the body, or each multipart part) a read of
//! a plaintext range needs, and [`BodyKeys`], the key of each piece.

use std::ops::Range;

use crate::crypto::Key32;
use crate::envelope::{self, Layout};
use crate::error::{Error, Result};
use crate::stream::{ENCRYPTED_SEGMENT_SIZE, SEGMENT_SIZE, segment_count, stored_size};

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

    pub(super) fn piece_key(&self, piece: usize) -> Result<Key32> {
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
pub(super) struct Span {
    pub(super) piece: usize,
    pub(super) first_seg: u64,
    pub(super) last_seg: u64,
    pub(super) segments: u64,
    pub(super) plain_start: u64,
    pub(super) plain_size: u64,
}

/// Which stored bytes a read needs and which plaintext it delivers.
#[derive(Clone, Debug)]
pub struct ReadPlan {
    stored: Range<u64>,
    pub(super) plain: Range<u64>,
    pub(super) spans: Vec<Span>,
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
