//! Envelope encryption of object bodies for a COS-style storage server: SSE-COS (`AES256`), SSE-KMS
//! (`cos/kms`) and SSE-C.
//!
//! This is a library a storage server (or the COS gateway) embeds. It has no HTTP server and no gRPC
//! in its core: it parses SSE headers, talks to a [`KeyProvider`], and turns bodies into STREAM
//! segments and back. It implements `docs/object-format.md` (envelope format v2, and v3 for SSE-KMS
//! objects under a bucket key, see [`envelope`] and [`bucket_key`]); the deviations are listed
//! below.
//!
//! # Modules
//!
//! * [`sse`]: modes, request header parsing per operation, response headers, bucket default.
//! * [`provider`]: the [`KeyProvider`] trait and its implementations (SSE-C, in-memory, the embedded
//!   `kms-server` core behind the `embedded` feature, gRPC behind the `grpc` feature).
//! * [`envelope`]: what is stored beside an object, its canonical encoding, the key wrap.
//! * [`bucket_key`]: SSE-KMS bucket keys (one KMS data key per bucket for a bounded time, each
//!   object's wrap key derived from it; envelope version 3) and their bounded caches.
//! * [`verifier`]: how an SSE-C envelope recognises its customer key (a salted HMAC under the
//!   server-held [`VerifierKey`], no longer the key's MD5).
//! * [`stream`]: the STREAM segment construction (64 KiB segments, counter + last-flag nonces).
//! * [`body`]: streaming encrypt/decrypt over `Stream<Bytes>` / `AsyncRead`, range plans.
//! * [`object`]: the operations (PUT, GET/HEAD/range, multipart, copy) on [`Adapter`].
//! * `suite` (feature `test-suite`, for tests only): the provider behaviour suite every
//!   [`KeyProvider`] is tested with.
//! * `crypto` (private): the one seam to the crypto backends (aws-lc-rs AES-256-GCM, HKDF, HMAC).
//!
//! # How a gateway uses it
//!
//! ```
//! # async fn demo() -> storage_adapter::Result<()> {
//! use std::sync::Arc;
//! use futures::StreamExt as _;
//! use storage_adapter::{sse, Adapter, MemoryKms, ObjectName};
//!
//! let adapter = Adapter::new(Arc::new(MemoryKms::new())); // EmbeddedKms / GrpcKms in production
//! let name = ObjectName::new("examplebucket-1250000000", "photo.jpg");
//!
//! // PUT: headers -> request (or the bucket default) -> sealer -> stored body + envelope.
//! let mut headers = http::HeaderMap::new();
//! headers.insert(sse::SSE, http::HeaderValue::from_static("cos/kms"));
//! let request = sse::apply_bucket_default(sse::parse_write(&headers)?, None).expect("SSE asked");
//! let sealer = adapter.begin_put(&request, name).await?;
//! let echo = sealer.response_headers(); // x-cos-server-side-encryption, ...-cos-kms-key-id
//! let body = storage_adapter::object::bytes_stream(bytes::Bytes::from_static(b"hello"), 4);
//! let mut enc = sealer.encrypt_stream(body);
//! let mut stored = Vec::new();
//! while let Some(segment) = enc.next().await {
//!     stored.extend_from_slice(&segment?); // write to storage
//! }
//! let envelope = enc.finish()?; // store with the object's metadata (envelope.to_base64())
//!
//! // GET with Range: bytes=1-3.
//! let customer_key = sse::parse_read(&http::HeaderMap::new())?; // SSE-C key, if any
//! let object = adapter.open(&envelope, name, customer_key.as_ref()).await?;
//! let plan = object.plan(Some(1..4))?;
//! let r = plan.stored_range(); // fetch only these stored bytes
//! let input = storage_adapter::object::bytes_stream(
//!     bytes::Bytes::copy_from_slice(&stored[r.start as usize..r.end as usize]), 1 << 16);
//! let mut dec = object.decrypt_stream(plan, input);
//! let mut plain = Vec::new();
//! while let Some(chunk) = dec.next().await {
//!     plain.extend_from_slice(&chunk?); // send; on error, abort the response
//! }
//! assert_eq!(plain, b"ell");
//! # Ok(()) }
//! # futures::executor::block_on(demo()).unwrap();
//! ```
//!
//! Errors carry their COS code and HTTP status: [`Error::cos_code`], [`Error::http_status`].
//!
//! # Key hierarchy and body format
//!
//! As in `docs/object-format.md`: a data key (DEK) from the KMS (SSE-COS: the service-managed key; SSE-KMS:
//! the named key or the default CMK) or the SSE-C key wraps a random 32-byte object key (OEK) with
//! `WK = HKDF(DEK, wrap_salt, "sse/v1/wrap" || mode || lp(bucket) || lp(key))` and AES-256-GCM under a
//! zero nonce (safe: WK is unique per wrap). Bodies are STREAM segments under
//! `CK = HKDF(OEK, content_id, "sse/v1/content" || suite)` (single part) or
//! `PK_n = HKDF(OEK, part_salt, "sse/v1/part" || suite || be32(n) || lp(upload_id))` (part `n`);
//! `content_id` and `part_salt` are fresh per attempt, so no key ever seals two bodies and no
//! (key, nonce) pair repeats. `wrap_commit` (to the DEK) and `body_commit` (to the OEK) are
//! checked in constant time before anything is decrypted. Copy, key rotation and mode changes
//! re-wrap 32 bytes; the body is untouched. No plaintext byte is released before its segment's tag
//! verifies; a failure anywhere is the single opaque [`Error::Decrypt`].
//!
//! # Deviations from `docs/object-format.md`, and why
//!
//! 1. **What the wrap's AAD covers.** The design puts every envelope field into the wrap's AAD,
//!    including the total size and the part table. But a multipart upload's OEK is wrapped at
//!    Initiate (Upload Part must unwrap it), long before the part table exists, and the SDKs send no
//!    SSE-C headers on Complete, so an SSE-C upload cannot be re-wrapped there. Here the AAD covers
//!    every field fixed at wrap time (version, suite, segment size, mode, key id and version, user
//!    context, EDK, SSE-C key verifier, wrap salt, wrap commitment, content id, body commitment,
//!    layout kind and upload id) plus bucket and key. The part table and total size are covered by a `layout_mac`
//!    (HMAC-SHA256 under `HKDF(OEK, content_id, "sse/v1/layout" || suite)`), computed at the end of
//!    a PUT and at Complete, and independently by STREAM (every body's final segment is flagged, so
//!    lengths are authenticated). The part keys bind the part number and numbers must be `1..=N`,
//!    so parts cannot be reordered, repeated or skipped.
//! 2. **SSE-C multipart completed without the key** (what the SDKs do) has no `layout_mac`; it is
//!    accepted only for SSE-C multipart envelopes. Residual risk: someone able to edit both the
//!    stored metadata and the stored body can then change the part table undetected, within what
//!    the part keys allow: drop whole trailing parts, put back an earlier upload attempt of a part
//!    (its salt and body, under the same upload), or cut whole segments off the end of a part (a
//!    read of what remains succeeds; one that reaches the cut fails). Completing with the SSE-C
//!    headers present closes this. (KMS modes always get the MAC.)
//! 3. **Multipart objects also have a `content_id`**, used for `body_commit` and the layout key.
//! 4. **KMS context**: the object's identity goes under the reserved name `x-cos-sse-object` as
//!    `bucket/key` (bucket names have no `/`), or `sha256:<hex of lp(bucket) || lp(key)>` when longer
//!    than 256 bytes so the context stays under the KMS limit. The context sent to the KMS is the
//!    canonical (sorted, compact) JSON of the user's pairs plus that entry. SSE-COS uses the same
//!    identity entry. A copy to a KMS destination asks the KMS for a fresh data key bound to the
//!    destination's identity.
//! 5. **Segment AAD is empty**: each segment key seals exactly one body, and the body's binding to
//!    its envelope comes from the key derivation (content id / part salt) and `body_commit`.
//! 6. **Error choices**: a wrong or missing SSE-C key on read is `SsecDecryptHeaderInvalid` (400),
//!    not `AccessDenied`; a body or envelope that fails authentication is `InternalError` (500);
//!    `SM4` is refused as `InvalidArgument` (not implemented); `x-cos-server-side-encryption` on
//!    Upload Part is ignored (the mode was fixed at Initiate).
//! 7. **A copy recomputes the layout MAC** under the (unchanged) OEK, so a copy of an SSE-C
//!    multipart object completed without the key gains one, attesting to the table as read.
//! 8. **Rollback**: replacing an object with an older version of itself under the same name is not
//!    detected unless the storage server binds a version id (as the design says).
//! 9. **Envelope encoding**: a canonical binary encoding (see [`envelope`]); `serde` serialises it as
//!    its base64 string, so there is exactly one form to authenticate.
//! 10. **No SSE-C key MD5 is stored** (envelope version 2). The design keeps the key's MD5 for the
//!     echo header, but a stored unsalted MD5 lets whoever reads the metadata link objects that
//!     share a key and test guessed keys at MD5 speed. Version 2 stores a per-envelope salt and
//!     `HMAC-SHA256(verifier key, "sse/v2/customer-key-verifier" || salt || key)` under a key the
//!     server holds ([`Adapter::with_customer_key_verifier`]); the echoed MD5 is that of the key
//!     the request supplied. Version-1 envelopes are still read. This ends linking; it does not
//!     end offline guessing, which `wrap_commit` still allows at HKDF speed (see [`verifier`]).
//! 11. **Bucket keys** (envelope version 3, SSE-KMS only, opt-in per request through
//!     [`SseRequest::with_bucket_key`]): the DEK is a bucket key the KMS generated under a context
//!     naming the bucket, cached for a bounded time; the wrap key is
//!     `HKDF(bucket key, wrap_salt, "sse/v3/bucket-key/wrap" || mode || lp(bucket) || lp(key))`.
//!     See [`bucket_key`] for the trade-offs.

pub mod body;
pub mod bucket_key;
mod crypto;
pub mod envelope;
pub mod error;
pub mod object;
pub mod provider;
pub mod sse;
pub mod stream;
#[cfg(feature = "test-suite")]
pub mod suite;
pub mod verifier;

pub use body::{DecryptStream, EncryptStream, ReadPlan};
pub use bucket_key::BucketKeyConfig;
pub use crypto::AeadBackend;
pub use envelope::{Envelope, Layout, ObjectName, PartInfo};
pub use error::{CosErrorCode, Error, KeyUse, Result};
/// The embedded KMS's root key (what [`EmbeddedKms::open`] takes), so an embedder names no KMS crate.
#[cfg(feature = "embedded")]
pub use kms_server::RootKey;
pub use object::{
    Adapter, OpenUpload, OpenedObject, PLAIN_READ_SIZE, PartSealer, PutSealer, STORED_READ_SIZE,
};
#[cfg(feature = "embedded")]
pub use provider::embedded::EmbeddedKms;
pub use provider::{
    CustomerKeyProvider, DataKey, DataKeyRequest, GeneratedKey, KeyProvider, KeyTarget, MemoryKms,
    StoredKey,
};
pub use sse::{BucketEncryption, CustomerKey, KmsContext, SseMode, SseRequest};
pub use verifier::VerifierKey;

#[cfg(test)]
mod vectors;
