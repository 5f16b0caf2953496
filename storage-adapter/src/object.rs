//! Object operations: PUT, GET/HEAD/range, multipart, copy. The entry point is [`Adapter`].
//!
//! An adapter that writes or reads SSE-C objects needs a [`VerifierKey`]
//! ([`Adapter::with_customer_key_verifier`]): version-2 envelopes recognise the customer key by a
//! salted HMAC under it (see [`crate::verifier`]). Without one, SSE-C writes and checks against
//! version-2 SSE-C objects fail with [`Error::CustomerKeyVerifierUnset`] instead of falling back
//! to a weaker check; SSE-COS and SSE-KMS need none.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::Stream;
use tokio::io::AsyncRead;
use tokio_util::io::ReaderStream;

use crate::body::{self, BodyKeys, Completion, DecryptStream, EncryptStream, ReadPlan};
use crate::bucket_key::{BucketKeyCache, BucketKeyConfig};
use crate::crypto::{self, Key32};
use crate::envelope::{self, Envelope, Layout, ObjectName, PartInfo};
use crate::error::{Error, Result};
use crate::provider::{
    CustomerKeyProvider, DataKey, DataKeyRequest, GeneratedKey, KeyProvider, KeyTarget, StoredKey,
};
use crate::sse::{self, CustomerKey, KmsContext, SseMode, SseRequest};
use crate::stream::{ENCRYPTED_SEGMENT_SIZE, SEGMENT_SIZE};
use crate::verifier::{CustomerKeyCheck, VerifierKey};

/// The chunk size to feed [`PutSealer::encrypt_stream`] (and parts) with: a batch of whole segments,
/// so chunks that come full take the streams' zero-copy path (see [`crate::body`]).
pub const PLAIN_READ_SIZE: usize = body::BATCH_SEGMENTS * SEGMENT_SIZE;
/// The chunk size to read stored bytes in for [`OpenedObject::decrypt_stream`]: a batch of whole
/// stored segments, so no segment straddles two chunks (which would cost a copy).
pub const STORED_READ_SIZE: usize = body::BATCH_SEGMENTS * ENCRYPTED_SEGMENT_SIZE;

/// The adapter a storage server embeds: turns SSE requests into envelopes and bodies.
///
/// It holds the KMS provider used for SSE-COS and SSE-KMS and the server-held key of the SSE-C
/// key verifiers; SSE-C keys come with each request.
#[derive(Clone, Debug)]
pub struct Adapter {
    kms: Arc<dyn KeyProvider>,
    verifier: Option<VerifierKey>,
    bucket_keys: Arc<BucketKeyCache>,
}

impl Adapter {
    /// An adapter over a KMS provider (embedded, gRPC, or [`crate::MemoryKms`] in tests), without
    /// a verifier key: SSE-C writes are refused until one is set
    /// ([`Adapter::with_customer_key_verifier`]).
    pub fn new(kms: Arc<dyn KeyProvider>) -> Self {
        Self {
            kms,
            verifier: None,
            bucket_keys: Arc::new(BucketKeyCache::new(BucketKeyConfig::default())),
        }
    }

    /// Sets the bounds of the bucket-key caches (default: [`BucketKeyConfig::default`]), with
    /// fresh, empty caches. Bucket keys are used only by SSE-KMS requests that ask for them
    /// ([`SseRequest::with_bucket_key`]); see [`crate::bucket_key`].
    pub fn with_bucket_key_cache(mut self, config: BucketKeyConfig) -> Self {
        self.bucket_keys = Arc::new(BucketKeyCache::new(config));
        self
    }

    /// The bounds of the bucket-key caches.
    pub fn bucket_key_cache(&self) -> BucketKeyConfig {
        self.bucket_keys.config()
    }

    /// Sets the server-held key that SSE-C key verifiers are computed under. Keep it as durably
    /// as the objects' metadata: version-2 SSE-C objects cannot be read without it.
    pub fn with_customer_key_verifier(mut self, key: VerifierKey) -> Self {
        self.verifier = Some(key);
        self
    }

    /// The KMS provider.
    pub fn kms(&self) -> &Arc<dyn KeyProvider> {
        &self.kms
    }

    /// A fresh data key for `request` on `name`, and an envelope skeleton recording where it came from.
    async fn new_binding(
        &self,
        request: &SseRequest,
        name: ObjectName<'_>,
        layout: Layout,
    ) -> Result<(Envelope, DataKey)> {
        let (generated, context, check) = match request {
            SseRequest::Cos => {
                let ctx = sse::kms_context_for(None, name.bucket, name.key);
                let g = self
                    .kms
                    .generate_data_key(DataKeyRequest {
                        target: KeyTarget::Service,
                        context: &ctx,
                    })
                    .await?;
                (g, None, None)
            }
            SseRequest::Kms {
                key_id,
                context,
                bucket_key: true,
            } => {
                let ctx = sse::bucket_key_context(context.as_ref(), name.bucket);
                let target = key_id
                    .as_deref()
                    .map_or(KeyTarget::DefaultCmk, KeyTarget::Key);
                let b = self
                    .bucket_keys
                    .for_write(self.kms.as_ref(), target, &ctx)
                    .await?;
                let g = GeneratedKey {
                    key_id: b.key_id,
                    key_version: b.key_version,
                    key: DataKey(b.key),
                    ciphertext_blob: b.edk,
                };
                (g, context.as_ref().map(|c| c.as_base64().to_owned()), None)
            }
            SseRequest::Kms {
                key_id, context, ..
            } => {
                let ctx = sse::kms_context_for(context.as_ref(), name.bucket, name.key);
                let target = key_id
                    .as_deref()
                    .map_or(KeyTarget::DefaultCmk, KeyTarget::Key);
                let g = self
                    .kms
                    .generate_data_key(DataKeyRequest {
                        target,
                        context: &ctx,
                    })
                    .await?;
                (g, context.as_ref().map(|c| c.as_base64().to_owned()), None)
            }
            SseRequest::Customer(key) => {
                let check = CustomerKeyCheck::new(self.verifier.as_ref(), key)?;
                let g = CustomerKeyProvider::new(key.clone())
                    .generate_data_key(DataKeyRequest {
                        target: KeyTarget::Customer,
                        context: "",
                    })
                    .await?;
                (g, None, Some(check))
            }
        };
        let mode = request.mode();
        let kms = mode != SseMode::Customer;
        let bucket_key = matches!(
            request,
            SseRequest::Kms {
                bucket_key: true,
                ..
            }
        );
        let env = Envelope {
            version: if bucket_key {
                envelope::FORMAT_VERSION_BUCKET_KEY
            } else {
                envelope::FORMAT_VERSION
            },
            mode,
            kms_key_id: kms.then(|| generated.key_id.clone()),
            kms_key_version: if kms { generated.key_version } else { None },
            context,
            edk: kms.then_some(generated.ciphertext_blob),
            customer_key: check,
            wrap_salt: [0; 32],
            wrapped_oek: [0; 48],
            wrap_commit: [0; 32],
            content_id: [0; 32],
            body_commit: [0; 32],
            layout,
            total_size: 0,
            layout_mac: None,
        };
        Ok((env, generated.key))
    }

    /// The data key of a stored envelope: the SSE-C key (checked against the stored verifier, or a
    /// version-1 envelope's MD5, in constant time) or the KMS's decryption of the stored data key.
    async fn data_key_for(
        &self,
        env: &Envelope,
        name: ObjectName<'_>,
        customer: Option<&CustomerKey>,
    ) -> Result<DataKey> {
        match env.mode {
            SseMode::Customer => {
                let key = customer.ok_or(Error::CustomerKeyRequired)?;
                let stored = env.customer_key.as_ref().ok_or(Error::Decrypt)?;
                stored.check(self.verifier.as_ref(), key)?;
                CustomerKeyProvider::new(key.clone())
                    .decrypt_data_key(StoredKey {
                        key_id: "",
                        ciphertext_blob: &[],
                        context: "",
                    })
                    .await
            }
            SseMode::Cos | SseMode::Kms => {
                if customer.is_some() {
                    return Err(Error::CustomerKeyMismatch);
                }
                let user = match env.context.as_deref() {
                    None => None,
                    Some(c) => Some(KmsContext::from_base64(c).map_err(|_| Error::Decrypt)?),
                };
                let key_id = env.kms_key_id.as_deref().ok_or(Error::Decrypt)?;
                let edk = env.edk.as_deref().ok_or(Error::Decrypt)?;
                if env.uses_bucket_key() {
                    let ctx = sse::bucket_key_context(user.as_ref(), name.bucket);
                    return self
                        .bucket_keys
                        .for_read(self.kms.as_ref(), key_id, edk, &ctx)
                        .await;
                }
                let ctx = sse::kms_context_for(user.as_ref(), name.bucket, name.key);
                self.kms
                    .decrypt_data_key(StoredKey {
                        key_id,
                        ciphertext_blob: edk,
                        context: &ctx,
                    })
                    .await
            }
        }
    }

    /// PUT Object / POST Object: makes the object key and its wrap; then stream the body through the
    /// returned sealer.
    pub async fn begin_put(&self, request: &SseRequest, name: ObjectName<'_>) -> Result<PutSealer> {
        let (mut env, dek) = self.new_binding(request, name, Layout::Single).await?;
        let oek = Key32::random()?;
        let content_id = crypto::random_array()?;
        seal_new(&mut env, &dek, &oek, name, content_id)?;
        let ck = envelope::content_key(&oek, &content_id);
        let echo = env.response_headers(request.customer_key());
        Ok(PutSealer { env, oek, ck, echo })
    }

    /// GET / HEAD / copy source: unwraps the object key (KMS decrypt or the SSE-C key), checks the
    /// commitments and the layout. No body byte is read yet.
    pub async fn open(
        &self,
        env: &Envelope,
        name: ObjectName<'_>,
        customer: Option<&CustomerKey>,
    ) -> Result<OpenedObject> {
        let dek = self.data_key_for(env, name, customer).await?;
        let oek = env.unwrap(&dek.0, name)?;
        env.verify_layout(&oek)?;
        let keys = BodyKeys::new(oek, env.content_id, env.layout.clone(), env.total_size);
        Ok(OpenedObject {
            env: env.clone(),
            keys: Arc::new(keys),
            echo: env.response_headers(customer),
        })
    }

    /// Initiate Multipart Upload: makes the object key and its wrap; returns the upload's envelope,
    /// which the server keeps with the upload (it remembers the mode for Upload Part and Complete).
    pub async fn initiate_multipart(
        &self,
        request: &SseRequest,
        name: ObjectName<'_>,
        upload_id: &str,
    ) -> Result<Envelope> {
        let layout = Layout::Multipart {
            upload_id: upload_id.to_owned(),
            parts: Vec::new(),
        };
        let (mut env, dek) = self.new_binding(request, name, layout).await?;
        let oek = Key32::random()?;
        seal_new(&mut env, &dek, &oek, name, crypto::random_array()?)?;
        Ok(env)
    }

    /// Upload Part (and Complete): opens an upload's envelope. SSE-C uploads need the customer key.
    pub async fn open_upload(
        &self,
        upload: &Envelope,
        name: ObjectName<'_>,
        customer: Option<&CustomerKey>,
    ) -> Result<OpenUpload> {
        let Layout::Multipart { upload_id, parts } = &upload.layout else {
            return Err(Error::InvalidPart("not a multipart upload"));
        };
        if !parts.is_empty() {
            return Err(Error::InvalidPart("the upload is already complete"));
        }
        let dek = self.data_key_for(upload, name, customer).await?;
        let oek = upload.unwrap(&dek.0, name)?;
        Ok(OpenUpload {
            env: upload.clone(),
            upload_id: upload_id.clone(),
            oek,
            echo: upload.response_headers(customer),
        })
    }

    /// Complete Multipart Upload: records the part table and total size.
    ///
    /// With the key (always for SSE-COS/KMS; for SSE-C when the request carries the SSE-C headers)
    /// the table is authenticated by the layout MAC. The SDKs send no SSE-C headers on Complete, so
    /// an SSE-C upload completed without them gets no MAC; its parts are still each authenticated
    /// (their keys bind the part number, and numbers must be 1..=N), but an edit of both the
    /// table and the body (whole trailing parts dropped, an earlier attempt of a part put back,
    /// whole segments cut off a part's end) is then not detected. See the crate docs.
    pub async fn complete_multipart(
        &self,
        upload: &Envelope,
        name: ObjectName<'_>,
        customer: Option<&CustomerKey>,
        parts: Vec<PartInfo>,
    ) -> Result<Envelope> {
        if upload.mode == SseMode::Customer && customer.is_none() {
            envelope::check_parts(&parts)?;
            let Layout::Multipart {
                upload_id,
                parts: pending,
            } = &upload.layout
            else {
                return Err(Error::InvalidPart("not a multipart upload"));
            };
            if !pending.is_empty() {
                return Err(Error::InvalidPart("the upload is already complete"));
            }
            let mut env = upload.clone();
            env.total_size = parts.iter().map(|p| p.plain_size).sum();
            env.layout = Layout::Multipart {
                upload_id: upload_id.clone(),
                parts,
            };
            env.layout_mac = None;
            return Ok(env);
        }
        self.open_upload(upload, name, customer)
            .await?
            .complete(parts)
    }

    /// PUT Object - Copy (and SSE-C key rotation, KMS key change): re-wraps the source's object key
    /// for the destination's name and SSE request. The body bytes are copied unchanged; only the
    /// envelope is new. (A copy to an unencrypted destination, or a ranged copy, must instead decrypt
    /// and re-encrypt the body: see [`OpenedObject::decrypt_stream`] and [`Adapter::begin_put`].)
    pub async fn rewrap(
        &self,
        source: &OpenedObject,
        destination: &SseRequest,
        name: ObjectName<'_>,
    ) -> Result<Envelope> {
        let (mut env, dek) = self
            .new_binding(destination, name, source.env.layout.clone())
            .await?;
        env.content_id = source.env.content_id;
        env.body_commit = source.env.body_commit;
        env.total_size = source.env.total_size;
        env.wrap(&dek.0, source.keys.oek(), name, crypto::random_array()?);
        env.layout_mac = Some(env.compute_layout_mac(source.keys.oek()));
        Ok(env)
    }
}

/// Fills content id, body commitment and wrap of a new envelope.
fn seal_new(
    env: &mut Envelope,
    dek: &DataKey,
    oek: &Key32,
    name: ObjectName<'_>,
    content_id: [u8; 32],
) -> Result<()> {
    env.content_id = content_id;
    env.body_commit = envelope::body_commit(oek, &content_id);
    env.wrap(&dek.0, oek, name, crypto::random_array()?);
    Ok(())
}

/// A PUT in progress: the object key is made and wrapped; the body is next.
///
/// Consumed by the body it encrypts, so its content key seals exactly one body.
pub struct PutSealer {
    env: Envelope,
    oek: Key32,
    ck: Key32,
    echo: Vec<(&'static str, http::HeaderValue)>,
}

impl std::fmt::Debug for PutSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PutSealer")
            .field("mode", &self.env.mode)
            .finish_non_exhaustive()
    }
}

/// The completion of a single-part body: the envelope with its size and layout MAC.
#[derive(Debug)]
pub struct PendingObject {
    env: Envelope,
    oek: Key32,
}

impl Completion for PendingObject {
    type Output = Envelope;
    fn complete(mut self, plain_size: u64, _stored_size: u64) -> Result<Envelope> {
        self.env.total_size = plain_size;
        self.env.layout_mac = Some(self.env.compute_layout_mac(&self.oek));
        Ok(self.env)
    }
}

impl PutSealer {
    /// The SSE response headers (the final envelope's, with the request's SSE-C key).
    pub fn response_headers(&self) -> Vec<(&'static str, http::HeaderValue)> {
        self.echo.clone()
    }

    /// Encrypts a body given as a stream of chunks. After the stream ends, call
    /// [`EncryptStream::finish`] for the envelope to store.
    pub fn encrypt_stream<S>(self, input: S) -> EncryptStream<S, PendingObject> {
        let Self { env, oek, ck, .. } = self;
        EncryptStream::new(input, &ck, PendingObject { env, oek })
    }

    /// Encrypts a body read from an `AsyncRead`.
    pub fn encrypt_reader<R: AsyncRead>(
        self,
        reader: R,
    ) -> EncryptStream<ReaderStream<R>, PendingObject> {
        self.encrypt_stream(ReaderStream::with_capacity(reader, PLAIN_READ_SIZE))
    }

    /// Encrypts an in-memory body; returns the stored body and the envelope.
    pub fn seal_bytes(self, plain: &[u8]) -> Result<(Vec<u8>, Envelope)> {
        let stored = crate::stream::seal_all(&self.ck, plain)?;
        let env = PendingObject {
            env: self.env,
            oek: self.oek,
        }
        .complete(plain.len() as u64, stored.len() as u64)?;
        Ok((stored, env))
    }

    /// Encrypts an in-memory body on `threads` threads.
    pub fn seal_bytes_parallel(self, plain: &[u8], threads: usize) -> Result<(Vec<u8>, Envelope)> {
        let stored = body::seal_parallel(&self.ck, plain, threads)?;
        let env = PendingObject {
            env: self.env,
            oek: self.oek,
        }
        .complete(plain.len() as u64, stored.len() as u64)?;
        Ok((stored, env))
    }
}

impl PutSealer {
    /// Encrypts an in-memory body into `out` (exactly `stream::stored_size(plain.len())` bytes) on
    /// `threads` threads; returns the envelope. Reusing `out` avoids faulting in fresh memory.
    pub fn seal_bytes_parallel_into(
        self,
        plain: &[u8],
        out: &mut [u8],
        threads: usize,
    ) -> Result<Envelope> {
        body::seal_parallel_into(&self.ck, plain, out, threads)?;
        PendingObject {
            env: self.env,
            oek: self.oek,
        }
        .complete(plain.len() as u64, out.len() as u64)
    }
}

/// An object whose key has been unwrapped and verified: ready to decrypt its body or be re-wrapped.
pub struct OpenedObject {
    env: Envelope,
    keys: Arc<BodyKeys>,
    echo: Vec<(&'static str, http::HeaderValue)>,
}

impl std::fmt::Debug for OpenedObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedObject")
            .field("envelope", &self.env)
            .finish_non_exhaustive()
    }
}

impl OpenedObject {
    /// The object's envelope.
    pub fn envelope(&self) -> &Envelope {
        &self.env
    }

    /// The plaintext size (Content-Length of a full GET).
    pub fn plain_size(&self) -> u64 {
        self.env.total_size
    }

    /// The SSE response headers (SSE-C: the MD5 of the key the object was opened with).
    pub fn response_headers(&self) -> Vec<(&'static str, http::HeaderValue)> {
        self.echo.clone()
    }

    /// Plans a read of the whole body (`None`) or of the plaintext bytes `range` (half-open).
    ///
    /// Fetch [`ReadPlan::stored_range`] of the stored body and feed it to
    /// [`OpenedObject::decrypt_stream`]. A range outside the object is [`Error::InvalidRange`].
    pub fn plan(&self, range: Option<Range<u64>>) -> Result<ReadPlan> {
        ReadPlan::new(&self.keys, range)
    }

    /// Decrypts the stored bytes of `plan` given as a stream of chunks.
    pub fn decrypt_stream<S>(&self, plan: ReadPlan, stored: S) -> DecryptStream<S> {
        DecryptStream::new(stored, Arc::clone(&self.keys), plan)
    }

    /// Decrypts the stored bytes of `plan` read from an `AsyncRead`.
    pub fn decrypt_reader<R: AsyncRead>(
        &self,
        plan: ReadPlan,
        reader: R,
    ) -> DecryptStream<ReaderStream<R>> {
        self.decrypt_stream(plan, ReaderStream::with_capacity(reader, STORED_READ_SIZE))
    }

    /// Decrypts in-memory stored bytes of `plan` (exactly [`ReadPlan::stored_range`]).
    pub fn decrypt_bytes(&self, plan: ReadPlan, stored: &[u8]) -> Result<Vec<u8>> {
        body::decrypt_bytes(Arc::clone(&self.keys), plan, stored)
    }

    /// Decrypts a whole in-memory single-part body on `threads` threads.
    pub fn decrypt_bytes_parallel(&self, stored: &[u8], threads: usize) -> Result<Vec<u8>> {
        match &self.env.layout {
            Layout::Single => {
                let ck = envelope::content_key(self.keys.oek(), &self.env.content_id);
                let out = body::open_parallel(&ck, stored, threads)?;
                if out.len() as u64 != self.env.total_size {
                    return Err(Error::Decrypt);
                }
                Ok(out)
            }
            Layout::Multipart { .. } => {
                let plan = self.plan(None)?;
                self.decrypt_bytes(plan, stored)
            }
        }
    }
}

/// An open multipart upload (Upload Part, Upload Part - Copy, Complete).
pub struct OpenUpload {
    env: Envelope,
    upload_id: String,
    oek: Key32,
    echo: Vec<(&'static str, http::HeaderValue)>,
}

impl std::fmt::Debug for OpenUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenUpload")
            .field("upload_id", &self.upload_id)
            .finish_non_exhaustive()
    }
}

impl OpenUpload {
    /// The SSE response headers for Upload Part (SSE-C: the MD5 of the part request's key).
    pub fn response_headers(&self) -> Vec<(&'static str, http::HeaderValue)> {
        self.echo.clone()
    }

    /// A sealer for one attempt at part `number`, with a fresh part salt (so a retried part never
    /// reuses a key).
    pub fn part(&self, number: u32) -> Result<PartSealer> {
        if !(1..=10_000).contains(&number) {
            return Err(Error::InvalidPart("part numbers are 1..=10000"));
        }
        let part_salt = crypto::random_array()?;
        let key = envelope::part_key(&self.oek, &part_salt, number, &self.upload_id);
        Ok(PartSealer {
            key,
            pending: PendingPart { number, part_salt },
        })
    }

    /// Complete Multipart Upload with the key: the part table and total size, MAC'd.
    pub fn complete(&self, parts: Vec<PartInfo>) -> Result<Envelope> {
        envelope::check_parts(&parts)?;
        let mut env = self.env.clone();
        env.total_size = parts.iter().map(|p| p.plain_size).sum();
        env.layout = Layout::Multipart {
            upload_id: self.upload_id.clone(),
            parts,
        };
        env.layout_mac = Some(env.compute_layout_mac(&self.oek));
        Ok(env)
    }
}

/// The completion of a part: its entry for the part table.
#[derive(Debug)]
pub struct PendingPart {
    number: u32,
    part_salt: [u8; 32],
}

impl Completion for PendingPart {
    type Output = PartInfo;
    fn complete(self, plain_size: u64, stored_size: u64) -> Result<PartInfo> {
        Ok(PartInfo {
            number: self.number,
            part_salt: self.part_salt,
            plain_size,
            stored_size,
        })
    }
}

/// One Upload Part attempt. Keep the returned [`PartInfo`] with the stored part: Complete needs it.
pub struct PartSealer {
    key: Key32,
    pending: PendingPart,
}

impl std::fmt::Debug for PartSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartSealer")
            .field("number", &self.pending.number)
            .finish_non_exhaustive()
    }
}

impl PartSealer {
    /// Encrypts the part's body given as a stream; [`EncryptStream::finish`] gives the part entry.
    pub fn encrypt_stream<S>(self, input: S) -> EncryptStream<S, PendingPart> {
        EncryptStream::new(input, &self.key, self.pending)
    }

    /// Encrypts the part's body read from an `AsyncRead`.
    pub fn encrypt_reader<R: AsyncRead>(
        self,
        reader: R,
    ) -> EncryptStream<ReaderStream<R>, PendingPart> {
        self.encrypt_stream(ReaderStream::with_capacity(reader, PLAIN_READ_SIZE))
    }

    /// Encrypts an in-memory part.
    pub fn seal_bytes(self, plain: &[u8]) -> Result<(Vec<u8>, PartInfo)> {
        let stored = crate::stream::seal_all(&self.key, plain)?;
        let info = self
            .pending
            .complete(plain.len() as u64, stored.len() as u64)?;
        Ok((stored, info))
    }
}

/// A stream of chunks from an in-memory buffer (tests, small bodies).
pub fn bytes_stream(
    data: Bytes,
    chunk: usize,
) -> impl Stream<Item = std::io::Result<Bytes>> + Unpin + Send {
    let chunk = chunk.max(1);
    let n = data.len().div_ceil(chunk);
    futures::stream::iter(
        (0..n).map(move |i| Ok(data.slice(i * chunk..((i + 1) * chunk).min(data.len())))),
    )
}
