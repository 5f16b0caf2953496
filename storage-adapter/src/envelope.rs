//! The envelope: everything stored beside an encrypted object, and the key wrap it carries.
//!
//! # Encoding (format versions 2 and 3; version 1 is still read)
//!
//! A canonical binary encoding, all integers big-endian, `lp(x)` = `u32` length then the bytes,
//! `opt(x)` = one byte `0` (absent) or `1` then `x`:
//!
//! ```text
//! "CSSE" version=2 suite=1 segment_log2=16 mode(1=SSE-COS,2=SSE-KMS,3=SSE-C)
//! opt(lp(kms_key_id)) opt(u32 kms_key_version) opt(lp(context)) opt(lp(edk))
//! opt([32] verifier_salt [32] verifier)
//! [32] wrap_salt [48] wrapped_oek [32] wrap_commit [32] content_id [32] body_commit
//! layout: 0 (single part) | 1 lp(upload_id) u32 n, n × (u32 number, [32] part_salt, u64 plain, u64 stored)
//! u64 total_plain_size  opt([32] layout_mac)
//! ```
//!
//! Version 1 is the same except `version=1` and, in place of the SSE-C verifier, `opt([16] key_md5)`:
//! the customer key's plain MD5, which let a reader of the metadata link objects under one key and
//! test guessed keys at MD5 speed. Version 2 stores a salted HMAC under a server-held key instead
//! (see [`crate::verifier`]). Every write produces version 2, whatever the mode (a copy or a
//! re-wrap of a version-1 object too); version-1 envelopes are still opened, their MD5 compared in
//! constant time. An in-progress multipart upload keeps the version it was initiated with. Nothing
//! else changed: the key derivations and their `sse/v1/...` labels are those of version 1, and the
//! version byte is part of the wrap's AAD, so an envelope cannot be relabelled to the other version.
//!
//! # Version 3: bucket keys
//!
//! Version 3 has the encoding of version 2 and marks an SSE-KMS object whose data key is a *bucket
//! key* (see [`crate::bucket_key`]): one KMS data key per bucket (and CMK and user context) reused
//! for a bounded time, its EDK stored in `edk` and bound to the bucket (not the object) in the KMS
//! context. Each object's wrap key is still unique: `WK = HKDF(bucket key, wrap_salt,
//! "sse/v3/bucket-key/wrap" || mode || lp(bucket) || lp(key))` with a fresh 32-byte `wrap_salt`
//! per wrap, and the wrap commitment uses `"sse/v3/bucket-key/wrap-commit"`. Only objects written
//! with a bucket key are version 3; every other write stays version 2, byte for byte as before, so
//! turning bucket keys on changes nothing for objects written without them and a reader that sees
//! version 2 knows the EDK is per object. Version 3 is refused for any mode but SSE-KMS. The version
//! byte is in the wrap's AAD and selects the labels, so relabelling a version-3 envelope as version 2
//! (or the reverse) makes the unwrap fail.
//!
//! Decoding is strict: unknown versions, suites or segment sizes, bad presence bytes, a missing or
//! superfluous SSE-C check and trailing bytes are refused, so every envelope has exactly one
//! encoding. [`Envelope::to_base64`] gives a form for a metadata header, and `serde`
//! (de)serialises the envelope as that base64 string.
//!
//! # What is authenticated, and by what
//!
//! * The wrap's AAD covers every field fixed when the object key is wrapped (all but `wrapped_oek`,
//!   the layout's part list, the total size and the layout MAC) plus the bucket and the key. Changing
//!   any of them, or presenting the envelope under another name, makes the unwrap fail.
//! * `wrap_commit` commits to the data key and `body_commit` to the object key (AES-GCM is not
//!   key-committing); both are compared in constant time before anything is decrypted.
//! * The part list and the total size are set after the wrap (at the end of a PUT, at Complete
//!   Multipart Upload). They are covered by `layout_mac`, an HMAC under a key derived from the object
//!   key, and independently by STREAM itself (each body's final segment is flagged, so a body's
//!   length is authenticated).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::HeaderValue;

use crate::crypto::{self, AeadKey, Key32};
use crate::error::{Error, Result};
use crate::sse::{self, CustomerKey, SseMode};
use crate::stream::{self, SEGMENT_SIZE_LOG2};
use crate::verifier::CustomerKeyCheck;

/// The envelope format version this crate writes for every object without a bucket key.
pub const FORMAT_VERSION: u8 = FORMAT_VERSION_V1 + 1;
/// The format version of an SSE-KMS object wrapped under a bucket key (see the module doc).
pub const FORMAT_VERSION_BUCKET_KEY: u8 = FORMAT_VERSION + 1;
/// The first format version (SSE-C keys recognised by their plain MD5): still read, never written.
pub const FORMAT_VERSION_V1: u8 = 1;
/// Suite 1: AES-256-GCM, STREAM, HKDF-SHA256.
pub const SUITE_AES256GCM_STREAM: u8 = 1;
const MAGIC: &[u8; 4] = b"CSSE";
/// Length of a wrapped object key: 32 bytes and a 16-byte tag.
const WRAPPED_LEN: usize = 48;

/// One part of a completed multipart object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartInfo {
    /// The part number (1..=10000).
    pub number: u32,
    /// The fresh salt of the attempt that produced the stored bytes.
    pub part_salt: [u8; 32],
    /// Plaintext bytes of the part.
    pub plain_size: u64,
    /// Stored bytes of the part (plaintext plus one tag per segment).
    pub stored_size: u64,
}

/// How the body is laid out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One STREAM under the content key.
    Single,
    /// One STREAM per part, concatenated in part-number order.
    Multipart {
        /// The upload id (bound into each part key).
        upload_id: String,
        /// The part table (empty while the upload is in progress).
        parts: Vec<PartInfo>,
    },
}

/// What a storage server keeps beside an encrypted object (or an in-progress multipart upload).
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
    /// [`FORMAT_VERSION`], or [`FORMAT_VERSION_BUCKET_KEY`] under a bucket key; [`FORMAT_VERSION_V1`]
    /// when read.
    pub(crate) version: u8,
    pub(crate) mode: SseMode,
    pub(crate) kms_key_id: Option<String>,
    pub(crate) kms_key_version: Option<u32>,
    pub(crate) context: Option<String>,
    pub(crate) edk: Option<Vec<u8>>,
    /// SSE-C only: the MD5 (version 1) or the keyed verifier (version 2) of the customer key.
    pub(crate) customer_key: Option<CustomerKeyCheck>,
    pub(crate) wrap_salt: [u8; 32],
    pub(crate) wrapped_oek: [u8; WRAPPED_LEN],
    pub(crate) wrap_commit: [u8; 32],
    pub(crate) content_id: [u8; 32],
    pub(crate) body_commit: [u8; 32],
    pub(crate) layout: Layout,
    pub(crate) total_size: u64,
    pub(crate) layout_mac: Option<[u8; 32]>,
}

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Envelope")
            .field("version", &self.version)
            .field("mode", &self.mode)
            .field("kms_key_id", &self.kms_key_id)
            .field("total_size", &self.total_size)
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

/// The identity an envelope is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectName<'a> {
    /// The bucket.
    pub bucket: &'a str,
    /// The object key.
    pub key: &'a str,
}

impl<'a> ObjectName<'a> {
    /// A bucket and key.
    pub fn new(bucket: &'a str, key: &'a str) -> Self {
        Self { bucket, key }
    }
}

fn lp(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn lp_vec(bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + bytes.len());
    lp(&mut v, bytes);
    v
}

/// Info of the wrap-key and wrap-commit derivations: label || mode || lp(bucket) || lp(key).
fn wrap_info(label: &[u8], mode: SseMode, name: ObjectName<'_>) -> Vec<u8> {
    let mut info = label.to_vec();
    info.push(mode.id());
    lp(&mut info, name.bucket.as_bytes());
    lp(&mut info, name.key.as_bytes());
    info
}

/// The wrap-key and wrap-commit labels of a format version: a bucket key's own labels, so a key
/// derived from a bucket key never equals one derived from a per-object data key.
fn wrap_labels(version: u8) -> (&'static [u8], &'static [u8]) {
    if version == FORMAT_VERSION_BUCKET_KEY {
        (b"sse/v3/bucket-key/wrap", b"sse/v3/bucket-key/wrap-commit")
    } else {
        (b"sse/v1/wrap", b"sse/v1/wrap-commit")
    }
}

pub(crate) fn wrap_key(
    version: u8,
    dek: &Key32,
    salt: &[u8; 32],
    mode: SseMode,
    name: ObjectName<'_>,
) -> Key32 {
    let (label, _) = wrap_labels(version);
    crypto::hkdf_key(dek.expose(), salt, &[&wrap_info(label, mode, name)])
}

pub(crate) fn wrap_commit(
    version: u8,
    dek: &Key32,
    salt: &[u8; 32],
    mode: SseMode,
    name: ObjectName<'_>,
) -> [u8; 32] {
    let (_, label) = wrap_labels(version);
    crypto::hkdf_public(dek.expose(), salt, &[&wrap_info(label, mode, name)])
}

/// CK = HKDF(OEK, content_id, "sse/v1/content" || suite).
pub(crate) fn content_key(oek: &Key32, content_id: &[u8; 32]) -> Key32 {
    crypto::hkdf_key(
        oek.expose(),
        content_id,
        &[b"sse/v1/content", &[SUITE_AES256GCM_STREAM]],
    )
}

/// body_commit = HKDF(OEK, content_id, "sse/v1/commit" || suite).
pub(crate) fn body_commit(oek: &Key32, content_id: &[u8; 32]) -> [u8; 32] {
    crypto::hkdf_public(
        oek.expose(),
        content_id,
        &[b"sse/v1/commit", &[SUITE_AES256GCM_STREAM]],
    )
}

/// PK_n = HKDF(OEK, part_salt, "sse/v1/part" || suite || be32(n) || lp(upload_id)).
pub(crate) fn part_key(oek: &Key32, part_salt: &[u8; 32], number: u32, upload_id: &str) -> Key32 {
    crypto::hkdf_key(
        oek.expose(),
        part_salt,
        &[
            b"sse/v1/part",
            &[SUITE_AES256GCM_STREAM],
            &number.to_be_bytes(),
            &lp_vec(upload_id.as_bytes()),
        ],
    )
}

fn layout_key(oek: &Key32, content_id: &[u8; 32]) -> Key32 {
    crypto::hkdf_key(
        oek.expose(),
        content_id,
        &[b"sse/v1/layout", &[SUITE_AES256GCM_STREAM]],
    )
}

impl Envelope {
    /// The SSE mode of the object.
    pub fn mode(&self) -> SseMode {
        self.mode
    }

    /// The KMS key id (SSE-KMS: the named key or the default CMK; SSE-COS: the service key).
    pub fn kms_key_id(&self) -> Option<&str> {
        self.kms_key_id.as_deref()
    }

    /// The KMS key version that produced the data key, when the KMS reported it.
    pub fn kms_key_version(&self) -> Option<u32> {
        self.kms_key_version
    }

    /// The user's SSE-KMS context, exactly as given.
    pub fn context(&self) -> Option<&str> {
        self.context.as_deref()
    }

    /// The format version of this envelope ([`FORMAT_VERSION`], [`FORMAT_VERSION_BUCKET_KEY`] or
    /// an older one read back).
    pub fn version(&self) -> u8 {
        self.version
    }

    /// Whether the object's key is wrapped under a bucket key (format version 3).
    pub fn uses_bucket_key(&self) -> bool {
        self.version == FORMAT_VERSION_BUCKET_KEY
    }

    /// The plaintext size of the object.
    pub fn plain_size(&self) -> u64 {
        self.total_size
    }

    /// The stored size of the body.
    pub fn stored_size(&self) -> u64 {
        match &self.layout {
            Layout::Single => stream::stored_size(self.total_size),
            Layout::Multipart { parts, .. } => parts.iter().map(|p| p.stored_size).sum(),
        }
    }

    /// The body layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The SSE response headers for this object (names in COS's case).
    ///
    /// SSE-COS echoes only `AES256`: the service key's id is internal. SSE-C echoes the MD5 of
    /// `customer`, the key the request supplied and the adapter accepted for this object (the
    /// envelope no longer stores the key's MD5); without one, a version-1 envelope's stored MD5,
    /// else the algorithm alone (for example Complete Multipart Upload, which the SDKs send without
    /// the key).
    pub fn response_headers(
        &self,
        customer: Option<&CustomerKey>,
    ) -> Vec<(&'static str, HeaderValue)> {
        let md5 = match (self.mode, customer) {
            (SseMode::Customer, Some(c)) => Some(c.md5()),
            (SseMode::Customer, None) => self.customer_key.as_ref().and_then(|c| c.md5()),
            _ => None,
        };
        sse::echo_headers(self.mode, self.kms_key_id.as_deref(), md5)
    }

    /// The canonical encoding of the fields the wrap's AAD covers, plus the object's name.
    pub(crate) fn wrap_aad(&self, name: ObjectName<'_>) -> Vec<u8> {
        let mut out = b"sse/v1/wrap-aad".to_vec();
        self.encode_header(&mut out);
        out.extend_from_slice(&self.wrap_salt);
        out.extend_from_slice(&self.wrap_commit);
        out.extend_from_slice(&self.content_id);
        out.extend_from_slice(&self.body_commit);
        match &self.layout {
            Layout::Single => out.push(0),
            Layout::Multipart { upload_id, .. } => {
                out.push(1);
                lp(&mut out, upload_id.as_bytes());
            }
        }
        lp(&mut out, name.bucket.as_bytes());
        lp(&mut out, name.key.as_bytes());
        out
    }

    fn encode_header(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[
            self.version,
            SUITE_AES256GCM_STREAM,
            SEGMENT_SIZE_LOG2,
            self.mode.id(),
        ]);
        opt(out, self.kms_key_id.as_deref(), |o, v| lp(o, v.as_bytes()));
        opt(out, self.kms_key_version, |o, v| {
            o.extend_from_slice(&v.to_be_bytes())
        });
        opt(out, self.context.as_deref(), |o, v| lp(o, v.as_bytes()));
        opt(out, self.edk.as_deref(), lp);
        // The variant always matches the version (the decoder and the constructors see to it).
        opt(out, self.customer_key.as_ref(), |o, v| match v {
            CustomerKeyCheck::Md5(md5) => o.extend_from_slice(md5),
            CustomerKeyCheck::Verifier { salt, verifier } => {
                o.extend_from_slice(salt);
                o.extend_from_slice(verifier);
            }
        });
    }

    fn encode_layout(&self, out: &mut Vec<u8>) {
        match &self.layout {
            Layout::Single => out.push(0),
            Layout::Multipart { upload_id, parts } => {
                out.push(1);
                lp(out, upload_id.as_bytes());
                out.extend_from_slice(&(parts.len() as u32).to_be_bytes());
                for p in parts {
                    out.extend_from_slice(&p.number.to_be_bytes());
                    out.extend_from_slice(&p.part_salt);
                    out.extend_from_slice(&p.plain_size.to_be_bytes());
                    out.extend_from_slice(&p.stored_size.to_be_bytes());
                }
            }
        }
        out.extend_from_slice(&self.total_size.to_be_bytes());
    }

    /// The canonical binary encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        self.encode_header(&mut out);
        out.extend_from_slice(&self.wrap_salt);
        out.extend_from_slice(&self.wrapped_oek);
        out.extend_from_slice(&self.wrap_commit);
        out.extend_from_slice(&self.content_id);
        out.extend_from_slice(&self.body_commit);
        self.encode_layout(&mut out);
        opt(&mut out, self.layout_mac.as_ref(), |o, v| {
            o.extend_from_slice(v)
        });
        out
    }

    /// Decodes [`Envelope::to_bytes`]; strict.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader(bytes);
        if r.take(4)? != MAGIC {
            return Err(Error::MalformedEnvelope("bad magic"));
        }
        let version = r.u8()?;
        if !(FORMAT_VERSION_V1..=FORMAT_VERSION_BUCKET_KEY).contains(&version) {
            return Err(Error::MalformedEnvelope("unsupported format version"));
        }
        if r.u8()? != SUITE_AES256GCM_STREAM {
            return Err(Error::MalformedEnvelope("unsupported suite"));
        }
        if r.u8()? != SEGMENT_SIZE_LOG2 {
            return Err(Error::MalformedEnvelope("unsupported segment size"));
        }
        let mode = SseMode::from_id(r.u8()?).ok_or(Error::MalformedEnvelope("unknown mode"))?;
        if version == FORMAT_VERSION_BUCKET_KEY && mode != SseMode::Kms {
            return Err(Error::MalformedEnvelope("a bucket key serves only SSE-KMS"));
        }
        let kms_key_id = r.opt(|r| r.string())?;
        let kms_key_version = r.opt(|r| r.u32())?;
        let context = r.opt(|r| r.string())?;
        let edk = r.opt(|r| Ok(r.lp()?.to_vec()))?;
        let customer_key = if version == FORMAT_VERSION_V1 {
            r.opt(|r| Ok(CustomerKeyCheck::Md5(r.array()?)))?
        } else {
            r.opt(|r| {
                Ok(CustomerKeyCheck::Verifier {
                    salt: r.array()?,
                    verifier: r.array()?,
                })
            })?
        };
        let wrap_salt = r.array()?;
        let wrapped_oek = r.array()?;
        let wrap_commit = r.array()?;
        let content_id = r.array()?;
        let body_commit = r.array()?;
        let layout = match r.u8()? {
            0 => Layout::Single,
            1 => {
                let upload_id = r.string()?;
                let n = r.u32()? as usize;
                if n > 10_000 {
                    return Err(Error::MalformedEnvelope("too many parts"));
                }
                let mut parts = Vec::with_capacity(n);
                for _ in 0..n {
                    parts.push(PartInfo {
                        number: r.u32()?,
                        part_salt: r.array()?,
                        plain_size: r.u64()?,
                        stored_size: r.u64()?,
                    });
                }
                Layout::Multipart { upload_id, parts }
            }
            _ => return Err(Error::MalformedEnvelope("unknown layout")),
        };
        let total_size = r.u64()?;
        let layout_mac = r.opt(|r| r.array::<32>())?;
        if !r.0.is_empty() {
            return Err(Error::MalformedEnvelope("trailing bytes"));
        }
        let env = Self {
            version,
            mode,
            kms_key_id,
            kms_key_version,
            context,
            edk,
            customer_key,
            wrap_salt,
            wrapped_oek,
            wrap_commit,
            content_id,
            body_commit,
            layout,
            total_size,
            layout_mac,
        };
        let consistent = match env.mode {
            SseMode::Customer => {
                env.customer_key.is_some() && env.edk.is_none() && env.kms_key_id.is_none()
            }
            SseMode::Cos | SseMode::Kms => {
                env.customer_key.is_none() && env.edk.is_some() && env.kms_key_id.is_some()
            }
        } && (env.version != FORMAT_VERSION_BUCKET_KEY
            || env.mode == SseMode::Kms);
        if !consistent {
            return Err(Error::MalformedEnvelope("fields do not match the mode"));
        }
        Ok(env)
    }

    /// Base64 of [`Envelope::to_bytes`].
    pub fn to_base64(&self) -> String {
        B64.encode(self.to_bytes())
    }

    /// Decodes [`Envelope::to_base64`].
    pub fn from_base64(s: &str) -> Result<Self> {
        let bytes = B64
            .decode(s.trim())
            .map_err(|_| Error::MalformedEnvelope("not base64"))?;
        Self::from_bytes(&bytes)
    }

    /// Wraps `oek` under `dek` for `name`, filling `wrap_salt`, `wrap_commit` and `wrapped_oek`.
    pub(crate) fn wrap(&mut self, dek: &Key32, oek: &Key32, name: ObjectName<'_>, salt: [u8; 32]) {
        self.wrap_salt = salt;
        self.wrap_commit = wrap_commit(self.version, dek, &salt, self.mode, name);
        let aad = self.wrap_aad(name);
        let wk = AeadKey::new(&wrap_key(self.version, dek, &salt, self.mode, name));
        let mut buf = Vec::with_capacity(WRAPPED_LEN);
        buf.extend_from_slice(oek.expose());
        // A zero nonce is safe: WK is unique to this wrap (fresh wrap_salt) and seals one message.
        wk.seal_append([0; 12], &aad, &mut buf);
        self.wrapped_oek.copy_from_slice(&buf);
        zeroize::Zeroize::zeroize(&mut buf);
    }

    /// Unwraps the object key and checks both commitments (in constant time) and the layout MAC.
    pub(crate) fn unwrap(&self, dek: &Key32, name: ObjectName<'_>) -> Result<Key32> {
        let commit = wrap_commit(self.version, dek, &self.wrap_salt, self.mode, name);
        if !crypto::ct_eq(&commit, &self.wrap_commit) {
            return Err(Error::Decrypt);
        }
        let aad = self.wrap_aad(name);
        let wk = AeadKey::new(&wrap_key(
            self.version,
            dek,
            &self.wrap_salt,
            self.mode,
            name,
        ));
        let mut buf = zeroize::Zeroizing::new(self.wrapped_oek.to_vec());
        let n = wk.open_in_place([0; 12], &aad, &mut buf)?;
        let oek = Key32::from_slice(&buf[..n]).ok_or(Error::Decrypt)?;
        if !crypto::ct_eq(&body_commit(&oek, &self.content_id), &self.body_commit) {
            return Err(Error::Decrypt);
        }
        Ok(oek)
    }

    /// The layout MAC under the object key.
    pub(crate) fn compute_layout_mac(&self, oek: &Key32) -> [u8; 32] {
        let mut data = b"sse/v1/layout-mac".to_vec();
        self.encode_layout(&mut data);
        crypto::hmac_sha256(layout_key(oek, &self.content_id).expose(), &[&data])
    }

    /// Checks the layout of a readable object: the MAC (required except for an SSE-C multipart
    /// upload completed without the key), the part table's shape and the sizes.
    pub(crate) fn verify_layout(&self, oek: &Key32) -> Result<()> {
        match (&self.layout_mac, &self.layout) {
            (Some(mac), _) => {
                if !crypto::ct_eq(mac, &self.compute_layout_mac(oek)) {
                    return Err(Error::Decrypt);
                }
            }
            (None, Layout::Multipart { .. }) if self.mode == SseMode::Customer => {}
            (None, _) => return Err(Error::Decrypt),
        }
        if let Layout::Multipart { parts, .. } = &self.layout {
            check_parts(parts).map_err(|_| Error::Decrypt)?;
            let sum: u64 = parts.iter().map(|p| p.plain_size).sum();
            if sum != self.total_size {
                return Err(Error::Decrypt);
            }
        }
        Ok(())
    }
}

/// A part table must be parts 1..=N in order, with stored sizes matching plaintext sizes.
pub(crate) fn check_parts(parts: &[PartInfo]) -> Result<()> {
    if parts.is_empty() {
        return Err(Error::InvalidPart("no parts"));
    }
    for (i, p) in parts.iter().enumerate() {
        if p.number as usize != i + 1 {
            return Err(Error::InvalidPart(
                "parts must be numbered 1..=N in ascending order",
            ));
        }
        // Checked first: a size past what one key can seal would overflow the stored size below
        // (an SSE-C table completed without the key has no MAC to vouch for its sizes).
        if p.plain_size > stream::MAX_PLAIN_SIZE {
            return Err(Error::InvalidPart("a part is larger than one key can seal"));
        }
        if stream::stored_size(p.plain_size) != p.stored_size {
            return Err(Error::InvalidPart(
                "a part's stored size does not match its plaintext size",
            ));
        }
    }
    Ok(())
}

fn opt<T>(out: &mut Vec<u8>, v: Option<T>, f: impl FnOnce(&mut Vec<u8>, T)) {
    match v {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            f(out, v);
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(Error::MalformedEnvelope("truncated"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    fn lp(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn string(&mut self) -> Result<String> {
        String::from_utf8(self.lp()?.to_vec()).map_err(|_| Error::MalformedEnvelope("not UTF-8"))
    }
    fn opt<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<Option<T>> {
        match self.u8()? {
            0 => Ok(None),
            1 => f(self).map(Some),
            _ => Err(Error::MalformedEnvelope("bad presence byte")),
        }
    }
}

impl serde::Serialize for Envelope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64())
    }
}

impl<'de> serde::Deserialize<'de> for Envelope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        Self::from_base64(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(plain_size: u64, stored_size: u64) -> PartInfo {
        PartInfo {
            number: 1,
            part_salt: [0; 32],
            plain_size,
            stored_size,
        }
    }

    /// Found by `fuzz/` (target `envelope`): an SSE-C multipart envelope completed without the key
    /// has no layout MAC, and a part table claiming a size near 2^64 made the stored-size check
    /// overflow (a panic with overflow checks, a wrapped size that could match without them).
    #[test]
    fn a_part_larger_than_one_key_seals_is_refused() {
        let max = stream::MAX_PLAIN_SIZE;
        for plain in [max + 1, u64::MAX - 1, u64::MAX] {
            let stored = plain.wrapping_add(stream::segment_count(plain).wrapping_mul(16));
            match check_parts(&[part(plain, stored)]) {
                Err(Error::InvalidPart(m)) => {
                    assert_eq!(m, "a part is larger than one key can seal")
                }
                other => panic!("{plain}: {other:?}"),
            }
        }
        assert!(check_parts(&[part(max, stream::stored_size(max))]).is_ok());
        // 10000 parts at the limit still add up without overflow.
        assert!(max.checked_mul(10_000).is_some());
    }
}
