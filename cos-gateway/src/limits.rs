//! The COS limits more than one layer checks: the request parsers ([`crate::xml`],
//! [`crate::endpoint`]) and the multipart operations ([`crate::ops::multipart`]) read them from
//! here, so that neither reaches into the other.

/// The largest body one PUT Object, POST Object file or Upload Part may carry (COS: 5 GiB; larger
/// objects are uploaded in parts). More is `400 EntityTooLarge`.
pub const MAX_OBJECT_SIZE: u64 = 5 << 30;

/// The smallest part other than the last.
pub const MIN_PART_SIZE: u64 = 1 << 20;

/// The highest part number (COS: parts 1 to 10000).
pub const MAX_PARTS: u32 = 10_000;
