//! SSE modes and the COS request/response headers that select them.
//!
//! Parsing is split by operation because each accepts a different set of headers (see
//! `docs/cos-kms-spec.md` §1.3):
//!
//! | operation | function |
//! |---|---|
//! | PUT Object, Initiate Multipart Upload | [`parse_write`] |
//! | POST Object (form fields) | [`parse_post_form`] |
//! | PUT Object - Copy | [`parse_copy`] (destination + `x-cos-copy-source-…-customer-*`) |
//! | Upload Part | [`parse_upload_part`] |
//! | Upload Part - Copy | [`parse_upload_part_copy`] |
//! | GET / HEAD Object | [`parse_read`] |
//!
//! A write with no SSE header falls back to the bucket's default with [`apply_bucket_default`]. The
//! headers to echo are built by [`echo_headers`] (or `Envelope::response_headers`).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::{HeaderMap, HeaderValue};
use kms_types::{B64_LENIENT, EncryptionContext};
use md5::{Digest as _, Md5};

use crate::crypto::{self, Key32};
use crate::error::{Error, KeyUse, Result};

/// `x-cos-server-side-encryption`: `AES256` (SSE-COS) or `cos/kms` (SSE-KMS).
pub const SSE: &str = "x-cos-server-side-encryption";
/// `x-cos-server-side-encryption-cos-kms-key-id`.
pub const SSE_KMS_KEY_ID: &str = "x-cos-server-side-encryption-cos-kms-key-id";
/// `x-cos-server-side-encryption-context`: base64 of a JSON object of strings.
pub const SSE_CONTEXT: &str = "x-cos-server-side-encryption-context";
/// `x-cos-server-side-encryption-customer-algorithm`: `AES256`.
pub const SSE_C_ALGORITHM: &str = "x-cos-server-side-encryption-customer-algorithm";
/// `x-cos-server-side-encryption-customer-key`: base64 of the 32-byte key.
pub const SSE_C_KEY: &str = "x-cos-server-side-encryption-customer-key";
/// `x-cos-server-side-encryption-customer-key-MD5`, spelled as COS sends it (upper-case `MD5`).
///
/// `http::HeaderName` is always lower case; a gateway that must reproduce the case writes this string.
pub const SSE_C_KEY_MD5: &str = "x-cos-server-side-encryption-customer-key-MD5";
/// Copy source: `x-cos-copy-source-server-side-encryption-customer-algorithm`.
pub const COPY_SOURCE_SSE_C_ALGORITHM: &str =
    "x-cos-copy-source-server-side-encryption-customer-algorithm";
/// Copy source: `x-cos-copy-source-server-side-encryption-customer-key`.
pub const COPY_SOURCE_SSE_C_KEY: &str = "x-cos-copy-source-server-side-encryption-customer-key";
/// Copy source: `x-cos-copy-source-server-side-encryption-customer-key-MD5`.
pub const COPY_SOURCE_SSE_C_KEY_MD5: &str =
    "x-cos-copy-source-server-side-encryption-customer-key-MD5";

/// The name the adapter reserves in the KMS encryption context for the object's identity.
///
/// A user context that uses it is rejected ([`Error::InvalidContext`]).
pub const RESERVED_CONTEXT_KEY: &str = "x-cos-sse-object";
/// The name under which a bucket key's KMS context carries its bucket (reserved too).
pub const RESERVED_BUCKET_KEY_CONTEXT_KEY: &str = "x-cos-sse-bucket-key";

/// The KMS's limit on a context's JSON ([`kms_types::MAX_CONTEXT_JSON_BYTES`]).
pub const MAX_KMS_CONTEXT_JSON: usize = kms_types::MAX_CONTEXT_JSON_BYTES;

/// The longest user context accepted, in bytes of canonical JSON: the KMS limit less room for the
/// adapter's identity entry (its hashed form is 92 bytes with the separators).
pub const MAX_USER_CONTEXT_JSON: usize = MAX_KMS_CONTEXT_JSON - 100;

/// The three SSE modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SseMode {
    /// SSE-COS (`AES256`): a data key under the KMS's service-managed key.
    Cos,
    /// SSE-KMS (`cos/kms`): a data key under the named CMK or the COS default CMK.
    Kms,
    /// SSE-C: the customer's own key, sent with every request.
    Customer,
}

impl SseMode {
    /// The byte that encodes the mode in the envelope and in key derivations.
    pub(crate) fn id(self) -> u8 {
        match self {
            Self::Cos => 1,
            Self::Kms => 2,
            Self::Customer => 3,
        }
    }

    pub(crate) fn from_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(Self::Cos),
            2 => Some(Self::Kms),
            3 => Some(Self::Customer),
            _ => None,
        }
    }
}

/// An SSE-C customer key: the 32 raw bytes (zeroized on drop, never printed) and their MD5.
pub struct CustomerKey {
    key: Key32,
    md5: [u8; 16],
}

impl CustomerKey {
    /// A customer key from its 32 raw bytes.
    pub fn from_bytes(raw: &[u8]) -> Result<Self> {
        let key = Key32::from_slice(raw).ok_or(Error::InvalidCustomerKey {
            reason: "the key is not 32 bytes",
            key_use: KeyUse::Write,
        })?;
        let md5: [u8; 16] = Md5::digest(key.expose()).into();
        Ok(Self { key, md5 })
    }

    /// The raw MD5 of the key.
    pub fn md5(&self) -> &[u8; 16] {
        &self.md5
    }

    /// The base64 MD5, as echoed in `x-cos-server-side-encryption-customer-key-MD5`.
    pub fn md5_base64(&self) -> String {
        B64.encode(self.md5)
    }

    pub(crate) fn key(&self) -> &Key32 {
        &self.key
    }
}

impl Clone for CustomerKey {
    fn clone(&self) -> Self {
        Self {
            key: self.key.clone(),
            md5: self.md5,
        }
    }
}

impl std::fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomerKey")
            .field("key", &"[REDACTED]")
            .field("md5", &self.md5_base64())
            .finish()
    }
}

/// A validated SSE-KMS encryption context: base64 of a JSON object whose values are strings.
#[derive(Clone, PartialEq, Eq)]
pub struct KmsContext {
    given: String,
    parsed: EncryptionContext,
}

impl KmsContext {
    /// Validates the header value with the KMS's own rules ([`EncryptionContext::from_base64`]:
    /// base64 of a JSON object of strings, at most 1024 bytes of JSON), then checks the adapter's
    /// rules: the reserved name is unused and the JSON leaves room for the object's identity
    /// ([`MAX_USER_CONTEXT_JSON`]). It is kept exactly as given (stored and echoed as is).
    pub fn from_base64(value: &str) -> Result<Self> {
        let parsed = EncryptionContext::from_base64(value)
            .map_err(|e| Error::InvalidContext(e.to_string()))?;
        for reserved in [RESERVED_CONTEXT_KEY, RESERVED_BUCKET_KEY_CONTEXT_KEY] {
            if parsed.as_map().contains_key(reserved) {
                return Err(Error::InvalidContext(format!(
                    "the name {reserved:?} is reserved"
                )));
            }
        }
        if parsed.to_json().len() > MAX_USER_CONTEXT_JSON {
            return Err(Error::InvalidContext(format!(
                "longer than {MAX_USER_CONTEXT_JSON} bytes of JSON"
            )));
        }
        Ok(Self {
            given: value.to_owned(),
            parsed,
        })
    }

    /// The context exactly as the client sent it.
    pub fn as_base64(&self) -> &str {
        &self.given
    }

    /// The pairs of the context.
    pub fn pairs(&self) -> &BTreeMap<String, String> {
        self.parsed.as_map()
    }
}

impl std::fmt::Debug for KmsContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: the values may be anything the client considers private.
        f.debug_struct("KmsContext")
            .field("names", &self.pairs().keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The context sent to the KMS: the user's pairs plus the object's identity under
/// [`RESERVED_CONTEXT_KEY`], as canonical (sorted, compact) JSON in base64.
///
/// The identity is `bucket/key` (bucket names contain no `/`, so it is unambiguous) when the whole
/// JSON fits the KMS limit, else `sha256:` and the hex SHA-256 of `lp(bucket) || lp(key)`. Both
/// forms are a function of the name and the user's context only, so a read derives the same one.
pub(crate) fn kms_context_for(user: Option<&KmsContext>, bucket: &str, key: &str) -> String {
    identity_context(
        user,
        RESERVED_CONTEXT_KEY,
        format!("{bucket}/{key}"),
        &[bucket, key],
    )
}

/// The context of a bucket key: the user's pairs plus the bucket under
/// [`RESERVED_BUCKET_KEY_CONTEXT_KEY`] (no object: the key serves the whole bucket), in the same
/// canonical form. Its own reserved name keeps it apart from every object's context.
pub(crate) fn bucket_key_context(user: Option<&KmsContext>, bucket: &str) -> String {
    identity_context(
        user,
        RESERVED_BUCKET_KEY_CONTEXT_KEY,
        bucket.to_owned(),
        &[bucket],
    )
}

/// The user's pairs plus `name: identity`, or `name: sha256:<hex of lp(parts)...>` when the JSON
/// would pass the KMS limit.
fn identity_context(
    user: Option<&KmsContext>,
    name: &str,
    identity: String,
    parts: &[&str],
) -> String {
    use sha2::{Digest as _, Sha256};
    let mut map = user.map(|c| c.pairs().clone()).unwrap_or_default();
    map.insert(name.to_owned(), identity);
    let mut json = serde_json::to_vec(&map).expect("a map of strings always serialises");
    if json.len() > MAX_KMS_CONTEXT_JSON {
        let mut h = Sha256::new();
        for part in parts {
            h.update((part.len() as u32).to_be_bytes());
            h.update(part.as_bytes());
        }
        let mut s = String::from("sha256:");
        for b in h.finalize() {
            s.push_str(&format!("{b:02x}"));
        }
        map.insert(name.to_owned(), s);
        json = serde_json::to_vec(&map).expect("a map of strings always serialises");
    }
    B64.encode(json)
}

/// What a write asks for.
#[derive(Clone, Debug)]
pub enum SseRequest {
    /// SSE-COS (`x-cos-server-side-encryption: AES256`).
    Cos,
    /// SSE-KMS (`x-cos-server-side-encryption: cos/kms`).
    Kms {
        /// `-cos-kms-key-id`; `None` means the COS default CMK.
        key_id: Option<String>,
        /// `-context`, validated.
        context: Option<KmsContext>,
        /// Wrap under the bucket's cached bucket key (envelope version 3) rather than a data key
        /// of the object's own. Set by the server from the bucket's setting, never by a header.
        bucket_key: bool,
    },
    /// SSE-C.
    Customer(CustomerKey),
}

impl SseRequest {
    /// The mode this request selects.
    pub fn mode(&self) -> SseMode {
        match self {
            Self::Cos => SseMode::Cos,
            Self::Kms { .. } => SseMode::Kms,
            Self::Customer(_) => SseMode::Customer,
        }
    }

    /// The same request, with SSE-KMS wrapped under a bucket key when `on` (other modes unchanged:
    /// bucket keys are an SSE-KMS feature).
    pub fn with_bucket_key(self, on: bool) -> Self {
        match self {
            Self::Kms {
                key_id, context, ..
            } => Self::Kms {
                key_id,
                context,
                bucket_key: on,
            },
            other => other,
        }
    }

    /// The SSE-C key of an SSE-C request (what [`crate::Envelope::response_headers`] echoes).
    pub fn customer_key(&self) -> Option<&CustomerKey> {
        match self {
            Self::Customer(k) => Some(k),
            Self::Cos | Self::Kms { .. } => None,
        }
    }
}

/// A bucket's default encryption (`<SSEAlgorithm>` of the bucket encryption XML).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BucketEncryption {
    /// `AES256`: SSE-COS.
    Aes256,
    /// `KMS`: SSE-KMS with `<KMSMasterKeyID>` or the default CMK.
    Kms {
        /// `<KMSMasterKeyID>`.
        key_id: Option<String>,
        /// `<BucketKeyEnabled>`: SSE-KMS writes to the bucket use a bucket key.
        bucket_key: bool,
    },
}

impl BucketEncryption {
    /// Whether the bucket asks for bucket keys (only SSE-KMS has them).
    pub fn bucket_key(&self) -> bool {
        matches!(
            self,
            Self::Kms {
                bucket_key: true,
                ..
            }
        )
    }
}

/// The request's own SSE wins; a write with none gets the bucket default (if any).
pub fn apply_bucket_default(
    request: Option<SseRequest>,
    default: Option<&BucketEncryption>,
) -> Option<SseRequest> {
    request.or_else(|| {
        default.map(|d| match d {
            BucketEncryption::Aes256 => SseRequest::Cos,
            BucketEncryption::Kms { key_id, bucket_key } => SseRequest::Kms {
                key_id: key_id.clone(),
                context: None,
                bucket_key: *bucket_key,
            },
        })
    })
}

/// The three SSE-C header names of one family (plain or copy-source).
struct CustomerHeaders {
    algorithm: &'static str,
    key: &'static str,
    md5: &'static str,
}

const CUSTOMER: CustomerHeaders = CustomerHeaders {
    algorithm: SSE_C_ALGORITHM,
    key: SSE_C_KEY,
    md5: SSE_C_KEY_MD5,
};

const COPY_SOURCE: CustomerHeaders = CustomerHeaders {
    algorithm: COPY_SOURCE_SSE_C_ALGORITHM,
    key: COPY_SOURCE_SSE_C_KEY,
    md5: COPY_SOURCE_SSE_C_KEY_MD5,
};

/// A header's value as text; a value that is not visible ASCII is reported as `invalid`.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<Result<&'a str, ()>> {
    headers.get(name).map(|v| v.to_str().map_err(|_| ()))
}

fn parse_customer(
    headers: &HeaderMap,
    names: &CustomerHeaders,
    key_use: KeyUse,
) -> Result<Option<CustomerKey>> {
    let alg = header(headers, names.algorithm);
    let key = header(headers, names.key);
    let md5 = header(headers, names.md5);
    if alg.is_none() && key.is_none() && md5.is_none() {
        return Ok(None);
    }
    let bad = |reason| Error::InvalidCustomerKey { reason, key_use };
    let (Some(alg), Some(key), Some(md5)) = (alg, key, md5) else {
        return Err(bad(
            "the algorithm, key and key-MD5 headers must all be present",
        ));
    };
    if alg != Ok("AES256") {
        return Err(Error::UnsupportedAlgorithm {
            header: names.algorithm,
            key_use,
        });
    }
    let raw = key
        .ok()
        .and_then(|k| B64_LENIENT.decode(k.trim()).ok())
        .map(zeroize::Zeroizing::new)
        .ok_or_else(|| bad("the key is not base64"))?;
    let customer = CustomerKey::from_bytes(&raw).map_err(|_| bad("the key is not 32 bytes"))?;
    let given_md5 = md5
        .ok()
        .and_then(|m| B64_LENIENT.decode(m.trim()).ok())
        .filter(|m| m.len() == 16)
        .ok_or_else(|| bad("the key MD5 is not base64 of 16 bytes"))?;
    if !crypto::ct_eq(&given_md5, customer.md5()) {
        return Err(bad("the key MD5 does not match the key"));
    }
    Ok(Some(customer))
}

/// PUT Object, Initiate Multipart Upload, and the destination of PUT Object - Copy.
///
/// `Ok(None)`: the request has no SSE header (apply the bucket default).
pub fn parse_write(headers: &HeaderMap) -> Result<Option<SseRequest>> {
    let customer = parse_customer(headers, &CUSTOMER, KeyUse::Write)?;
    let sse = header(headers, SSE);
    let key_id = header(headers, SSE_KMS_KEY_ID);
    let context = header(headers, SSE_CONTEXT);
    if let Some(customer) = customer {
        if sse.is_some() || key_id.is_some() || context.is_some() {
            return Err(Error::ConflictingHeaders(
                "SSE-C cannot be combined with x-cos-server-side-encryption",
            ));
        }
        return Ok(Some(SseRequest::Customer(customer)));
    }
    let unsupported = Error::UnsupportedAlgorithm {
        header: SSE,
        key_use: KeyUse::Write,
    };
    match sse {
        None => {
            if key_id.is_some() || context.is_some() {
                return Err(Error::ConflictingHeaders(
                    "a KMS key id or context needs x-cos-server-side-encryption: cos/kms",
                ));
            }
            Ok(None)
        }
        Some(Ok("AES256")) => {
            if key_id.is_some() || context.is_some() {
                return Err(Error::ConflictingHeaders(
                    "a KMS key id or context needs x-cos-server-side-encryption: cos/kms",
                ));
            }
            Ok(Some(SseRequest::Cos))
        }
        Some(Ok("cos/kms")) => {
            let key_id = match key_id {
                None => None,
                Some(Err(())) => {
                    return Err(Error::ConflictingHeaders(
                        "the KMS key id is not visible ASCII",
                    ));
                }
                Some(Ok(k)) if k.trim().is_empty() => None,
                Some(Ok(k)) => Some(k.trim().to_owned()),
            };
            let context = match context {
                None => None,
                Some(Err(())) => return Err(Error::InvalidContext("not base64".into())),
                Some(Ok(c)) => Some(KmsContext::from_base64(c)?),
            };
            Ok(Some(SseRequest::Kms {
                key_id,
                context,
                bucket_key: false,
            }))
        }
        Some(_) => Err(unsupported),
    }
}

/// POST Object: the same names as form fields (matched case-insensitively).
pub fn parse_post_form<'a>(
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Option<SseRequest>> {
    let mut headers = HeaderMap::new();
    for (name, value) in fields {
        let lower = name.to_ascii_lowercase();
        if !lower.starts_with(SSE) {
            continue;
        }
        let Ok(name) = http::HeaderName::from_bytes(lower.as_bytes()) else {
            continue;
        };
        let value = HeaderValue::from_str(value)
            .map_err(|_| Error::InvalidContext("a form field value is not visible ASCII".into()))?;
        headers.insert(name, value);
    }
    parse_write(&headers)
}

/// GET and HEAD Object: `x-cos-server-side-encryption` is refused; the SSE-C headers give the key.
pub fn parse_read(headers: &HeaderMap) -> Result<Option<CustomerKey>> {
    if headers.contains_key(SSE) {
        return Err(Error::SseHeaderNotAllowed);
    }
    parse_customer(headers, &CUSTOMER, KeyUse::Read)
}

/// Upload Part: only the SSE-C headers matter (the mode was fixed at Initiate).
///
/// SSE-COS/KMS headers on a part are ignored: the SDKs do not send them, and the upload's mode
/// cannot change.
pub fn parse_upload_part(headers: &HeaderMap) -> Result<Option<CustomerKey>> {
    parse_customer(headers, &CUSTOMER, KeyUse::Write)
}

/// The SSE headers of PUT Object - Copy.
#[derive(Debug)]
pub struct CopyHeaders {
    /// `x-cos-copy-source-server-side-encryption-customer-*`: the source's SSE-C key.
    pub source_customer_key: Option<CustomerKey>,
    /// The destination's SSE request (`None`: apply the bucket default; SSE is not inherited).
    pub destination: Option<SseRequest>,
}

/// PUT Object - Copy.
pub fn parse_copy(headers: &HeaderMap) -> Result<CopyHeaders> {
    Ok(CopyHeaders {
        source_customer_key: parse_customer(headers, &COPY_SOURCE, KeyUse::Read)?,
        destination: parse_write(headers)?,
    })
}

/// The SSE headers of Upload Part - Copy.
#[derive(Debug)]
pub struct UploadPartCopyHeaders {
    /// The source's SSE-C key.
    pub source_customer_key: Option<CustomerKey>,
    /// The destination upload's SSE-C key (needed when the upload is SSE-C).
    pub destination_customer_key: Option<CustomerKey>,
}

/// Upload Part - Copy.
pub fn parse_upload_part_copy(headers: &HeaderMap) -> Result<UploadPartCopyHeaders> {
    Ok(UploadPartCopyHeaders {
        source_customer_key: parse_customer(headers, &COPY_SOURCE, KeyUse::Read)?,
        destination_customer_key: parse_customer(headers, &CUSTOMER, KeyUse::Write)?,
    })
}

/// The SSE response headers for an object: names in the exact case COS uses, values ready to send.
///
/// SSE-COS: `x-cos-server-side-encryption: AES256`. SSE-KMS: `cos/kms` and the key id (the default
/// CMK's when none was given). SSE-C: the algorithm and the key's MD5. The key is never echoed.
pub fn echo_headers(
    mode: SseMode,
    kms_key_id: Option<&str>,
    customer_key_md5: Option<&[u8; 16]>,
) -> Vec<(&'static str, HeaderValue)> {
    let mut out = Vec::with_capacity(2);
    match mode {
        SseMode::Cos => out.push((SSE, HeaderValue::from_static("AES256"))),
        SseMode::Kms => {
            out.push((SSE, HeaderValue::from_static("cos/kms")));
            if let Some(id) = kms_key_id.and_then(|id| HeaderValue::from_str(id).ok()) {
                out.push((SSE_KMS_KEY_ID, id));
            }
        }
        SseMode::Customer => {
            out.push((SSE_C_ALGORITHM, HeaderValue::from_static("AES256")));
            if let Some(md5) = customer_key_md5 {
                let v = HeaderValue::from_str(&B64.encode(md5))
                    .expect("base64 is always a valid header value");
                out.push((SSE_C_KEY_MD5, v));
            }
        }
    }
    out
}
