//! [`KmsClient`]: one async method per RPC of `kms.v1.KeyManagementService`.

use std::future::Future;
use std::time::Duration;

use kms_proto::pb;
use kms_proto::pb::key_management_service_client::KeyManagementServiceClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;

use crate::builder::{
    AUTHORIZATION_METADATA, Authorization, ClientBuilder, DEFAULT_REQUEST_TIMEOUT, Retry,
    RetryPolicy,
};

use crate::error::{Error, Result};
use crate::secret::SecretBytes;
use crate::types::{
    Ciphertext, CreateKeyRequest, DataKey, DecryptRequest, Decrypted, EncryptRequest,
    GenerateDataKeyRequest, KeyList, KeyMetadata, ListKeysRequest, ReEncryptRequest, ReEncrypted,
    RotatedKey, RotationStatus, ScheduledDeletion, SeedSummary, item_error, metadata,
};
/// Connecting: kept beside [`KmsClient`] so the builder's module does not depend on the client's.
impl ClientBuilder {
    /// Connects now: fails with [`Error::Transport`] when the server cannot be reached.
    pub async fn connect(self) -> Result<KmsClient> {
        let endpoint = self.to_endpoint()?;
        let authorization = self.authorization()?;
        let url = self.endpoint_url();
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| Error::transport(&url, &e))?;
        Ok(self.with_channel(channel, authorization))
    }

    /// Returns at once; the connection is opened on the first call (and reopened when lost). The
    /// configuration (TLS files, token file) is still read and checked now.
    pub fn connect_lazy(self) -> Result<KmsClient> {
        let channel = self.to_endpoint()?.connect_lazy();
        let authorization = self.authorization()?;
        Ok(self.with_channel(channel, authorization))
    }

    /// A client over a channel opened by the caller (e.g. several connections from one
    /// [`ClientBuilder::to_endpoint`]), with this builder's token, request timeout and retry
    /// policy. The endpoint rules are checked as [`ClientBuilder::to_endpoint`] does (a token over
    /// plain `http://` to another host is refused).
    pub fn client_over(self, channel: Channel) -> Result<KmsClient> {
        self.to_endpoint()?;
        let authorization = self.authorization()?;
        Ok(self.with_channel(channel, authorization))
    }

    fn with_channel(self, channel: Channel, authorization: Option<Authorization>) -> KmsClient {
        let mut client = KmsClient::from_parts(
            channel,
            self.endpoint_url(),
            self.request_timeout,
            self.retry,
        );
        client.authorization = authorization;
        client
    }
}

/// A client of the KMS gRPC API. Cheap to clone (clones share the connection).
///
/// ```no_run
/// # async fn f() -> kms_client::Result<()> {
/// use kms_client::{DecryptRequest, GenerateDataKeyRequest, KmsClient, encryption_context};
/// let kms = KmsClient::connect("http://127.0.0.1:50051").await?;
/// let key = kms.create_key(kms_client::CreateKeyRequest::new("photos")).await?;
/// let ctx = encryption_context([("bucket", "photos")])?;
/// let dk = kms
///     .generate_data_key(GenerateDataKeyRequest::new(&key.key_id).encryption_context(&ctx))
///     .await?;
/// let back = kms.decrypt(DecryptRequest::new(dk.ciphertext_blob.clone()).encryption_context(&ctx)).await?;
/// assert_eq!(back.plaintext, dk.plaintext);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct KmsClient {
    inner: KeyManagementServiceClient<Channel>,
    endpoint: String,
    deadline: Deadline,
    retry: RetryPolicy,
    authorization: Option<Authorization>,
}

/// The gRPC header that tells the server how long the client waits for a call.
const GRPC_TIMEOUT: &str = "grpc-timeout";

/// The time allowed for each call attempt, and the `grpc-timeout` header that tells the server so,
/// formatted once: tonic's `Request::set_timeout` formats it on every call, which cost a
/// measurable part of a small call's client CPU.
#[derive(Debug, Clone)]
struct Deadline {
    timeout: Duration,
    /// What `set_timeout(timeout)` puts in a request (`None` if tonic ever stops setting the
    /// header: then every call asks tonic again).
    header: Option<MetadataValue<Ascii>>,
}

impl Deadline {
    fn new(timeout: Duration) -> Self {
        let mut probe = tonic::Request::new(());
        probe.set_timeout(timeout);
        Deadline {
            timeout,
            header: probe.metadata().get(GRPC_TIMEOUT).cloned(),
        }
    }

    /// Tells the server this deadline, as `set_timeout` would.
    fn apply<T>(&self, request: &mut tonic::Request<T>) {
        match &self.header {
            Some(header) => {
                request.metadata_mut().insert(GRPC_TIMEOUT, header.clone());
            }
            None => request.set_timeout(self.timeout),
        }
    }
}

impl KmsClient {
    /// Connects to `endpoint` with the default options (see [`ClientBuilder`]).
    pub async fn connect(endpoint: impl Into<String>) -> Result<Self> {
        ClientBuilder::new(endpoint).connect().await
    }

    /// Options for a client of `endpoint`.
    pub fn builder(endpoint: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(endpoint)
    }

    /// A client over `channel` with the given settings (what [`ClientBuilder`] makes).
    pub(crate) fn from_parts(
        channel: Channel,
        endpoint: String,
        request_timeout: Duration,
        retry: RetryPolicy,
    ) -> Self {
        KmsClient {
            inner: KeyManagementServiceClient::new(channel),
            endpoint,
            deadline: Deadline::new(request_timeout),
            retry,
            authorization: None,
        }
    }

    /// A client over an existing channel, with the default request timeout and retry policy.
    pub fn from_channel(channel: Channel) -> Self {
        KmsClient {
            inner: KeyManagementServiceClient::new(channel),
            endpoint: String::from("(channel)"),
            deadline: Deadline::new(DEFAULT_REQUEST_TIMEOUT),
            retry: RetryPolicy::default(),
            authorization: None,
        }
    }

    /// Changes the time allowed for each call attempt.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.deadline = Deadline::new(timeout);
        self
    }

    /// Changes the retry policy.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The endpoint URL this client was built for.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Runs one call: credential, deadline, timeout, error mapping and (for `Retry::Safe`) retries.
    pub(crate) async fn call<Req, Resp, F, Fut>(
        &self,
        retry: Retry,
        name: &'static str,
        req: Req,
        f: F,
    ) -> Result<Resp>
    where
        Req: Clone,
        F: Fn(KeyManagementServiceClient<Channel>, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = std::result::Result<tonic::Response<Resp>, tonic::Status>>,
    {
        let timeout = self.deadline.timeout;
        let max_retries = if retry == Retry::Safe {
            self.retry.max_retries
        } else {
            0
        };
        let mut attempt = 0u32;
        // Cloned only while another attempt may follow: the last (often the only) one moves it,
        // which spares a deep copy of every batch request.
        let mut pending = Some(req);
        loop {
            let body = if attempt < max_retries {
                pending.clone()
            } else {
                pending.take()
            }
            .expect("the request is kept until the last attempt");
            let mut request = tonic::Request::new(body);
            self.deadline.apply(&mut request);
            if let Some(Authorization(value)) = &self.authorization {
                request
                    .metadata_mut()
                    .insert(AUTHORIZATION_METADATA, value.clone());
            }
            let outcome = tokio::time::timeout(timeout, f(self.inner.clone(), request)).await;
            let err = match outcome {
                Ok(Ok(response)) => return Ok(response.into_inner()),
                Ok(Err(status)) => Error::from_status(status, timeout),
                Err(_elapsed) => Error::Timeout { timeout },
            };
            if matches!(err, Error::Unavailable { .. }) && attempt < max_retries {
                let wait = self.retry.backoff(attempt);
                attempt += 1;
                tracing::debug!(call = name, attempt, ?wait, error = %err, "KMS unavailable, retrying");
                tokio::time::sleep(wait).await;
                continue;
            }
            tracing::debug!(call = name, error = %err, "KMS call failed");
            return Err(err);
        }
    }

    // ----- keys -----

    /// `CreateKey`: a new symmetric CMK, Enabled, with one key version. Not retried.
    pub async fn create_key(&self, request: CreateKeyRequest) -> Result<KeyMetadata> {
        let r = self
            .call(
                Retry::Never,
                "CreateKey",
                request.into_pb(),
                |mut c, r| async move { c.create_key(r).await },
            )
            .await?;
        metadata(r.key_metadata, "CreateKey")
    }

    /// `DescribeKey`. Retried on `UNAVAILABLE`.
    pub async fn describe_key(&self, key_id: &str) -> Result<KeyMetadata> {
        let req = pb::DescribeKeyRequest {
            key_id: key_id.to_owned(),
        };
        let r = self
            .call(Retry::Safe, "DescribeKey", req, |mut c, r| async move {
                c.describe_key(r).await
            })
            .await?;
        metadata(r.key_metadata, "DescribeKey")
    }

    /// `ListKeys`: one page. Retried on `UNAVAILABLE`.
    pub async fn list_keys(&self, request: &ListKeysRequest) -> Result<KeyList> {
        let r = self
            .call(
                Retry::Safe,
                "ListKeys",
                request.to_pb(),
                |mut c, r| async move { c.list_keys(r).await },
            )
            .await?;
        Ok(KeyList {
            keys: r.keys.into_iter().map(KeyMetadata::from).collect(),
            total_count: r.total_count,
        })
    }

    /// Every page of `ListKeys` (`offset` and `limit` of `request` are the start and page size).
    pub async fn list_all_keys(&self, request: &ListKeysRequest) -> Result<Vec<KeyMetadata>> {
        let mut page = request.clone();
        if page.limit == 0 {
            page.limit = 1000;
        }
        let mut all = Vec::new();
        loop {
            let list = self.list_keys(&page).await?;
            let got = u32::try_from(list.keys.len()).unwrap_or(u32::MAX);
            all.extend(list.keys);
            page.offset = page.offset.saturating_add(got);
            if got == 0 || page.offset >= list.total_count {
                return Ok(all);
            }
        }
    }

    /// `EnableKey`: Disabled -> Enabled. Not retried.
    pub async fn enable_key(&self, key_id: &str) -> Result<()> {
        let req = pb::EnableKeyRequest {
            key_id: key_id.to_owned(),
        };
        self.call(Retry::Never, "EnableKey", req, |mut c, r| async move {
            c.enable_key(r).await
        })
        .await?;
        Ok(())
    }

    /// `DisableKey`: Enabled -> Disabled. Not retried.
    pub async fn disable_key(&self, key_id: &str) -> Result<()> {
        let req = pb::DisableKeyRequest {
            key_id: key_id.to_owned(),
        };
        self.call(Retry::Never, "DisableKey", req, |mut c, r| async move {
            c.disable_key(r).await
        })
        .await?;
        Ok(())
    }

    /// `ScheduleKeyDeletion`: Disabled -> PendingDelete, in `pending_window_in_days` (7..30) days.
    /// Not retried.
    pub async fn schedule_key_deletion(
        &self,
        key_id: &str,
        pending_window_in_days: u32,
    ) -> Result<ScheduledDeletion> {
        let req = pb::ScheduleKeyDeletionRequest {
            key_id: key_id.to_owned(),
            pending_window_in_days,
        };
        let r = self
            .call(
                Retry::Never,
                "ScheduleKeyDeletion",
                req,
                |mut c, r| async move { c.schedule_key_deletion(r).await },
            )
            .await?;
        Ok(ScheduledDeletion {
            key_id: r.key_id,
            deletion_date: r.deletion_date,
        })
    }

    /// `CancelKeyDeletion`: PendingDelete -> Disabled. Returns the key's UUID. Not retried.
    pub async fn cancel_key_deletion(&self, key_id: &str) -> Result<String> {
        let req = pb::CancelKeyDeletionRequest {
            key_id: key_id.to_owned(),
        };
        let r = self
            .call(
                Retry::Never,
                "CancelKeyDeletion",
                req,
                |mut c, r| async move { c.cancel_key_deletion(r).await },
            )
            .await?;
        Ok(r.key_id)
    }

    /// `ArchiveKey`: Enabled -> Archived (decrypts, does not encrypt). Not retried.
    pub async fn archive_key(&self, key_id: &str) -> Result<()> {
        let req = pb::ArchiveKeyRequest {
            key_id: key_id.to_owned(),
        };
        self.call(Retry::Never, "ArchiveKey", req, |mut c, r| async move {
            c.archive_key(r).await
        })
        .await?;
        Ok(())
    }

    /// `CancelKeyArchive`: Archived -> Enabled. Not retried.
    pub async fn cancel_key_archive(&self, key_id: &str) -> Result<()> {
        let req = pb::CancelKeyArchiveRequest {
            key_id: key_id.to_owned(),
        };
        self.call(
            Retry::Never,
            "CancelKeyArchive",
            req,
            |mut c, r| async move { c.cancel_key_archive(r).await },
        )
        .await?;
        Ok(())
    }

    /// `UpdateAlias`: gives the key a new alias. Not retried.
    pub async fn update_alias(&self, key_id: &str, alias: &str) -> Result<()> {
        let req = pb::UpdateAliasRequest {
            key_id: key_id.to_owned(),
            alias: alias.to_owned(),
        };
        self.call(Retry::Never, "UpdateAlias", req, |mut c, r| async move {
            c.update_alias(r).await
        })
        .await?;
        Ok(())
    }

    /// `UpdateKeyDescription`. Not retried.
    pub async fn update_key_description(&self, key_id: &str, description: &str) -> Result<()> {
        let req = pb::UpdateKeyDescriptionRequest {
            key_id: key_id.to_owned(),
            description: description.to_owned(),
        };
        self.call(
            Retry::Never,
            "UpdateKeyDescription",
            req,
            |mut c, r| async move { c.update_key_description(r).await },
        )
        .await?;
        Ok(())
    }

    /// `EnableKeyRotation`: every `rotate_days` days (7..365; `None` = the default, 365). Not retried.
    pub async fn enable_key_rotation(&self, key_id: &str, rotate_days: Option<u32>) -> Result<()> {
        let req = pb::EnableKeyRotationRequest {
            key_id: key_id.to_owned(),
            rotate_days: rotate_days.unwrap_or(0),
        };
        self.call(
            Retry::Never,
            "EnableKeyRotation",
            req,
            |mut c, r| async move { c.enable_key_rotation(r).await },
        )
        .await?;
        Ok(())
    }

    /// `DisableKeyRotation`. Not retried.
    pub async fn disable_key_rotation(&self, key_id: &str) -> Result<()> {
        let req = pb::DisableKeyRotationRequest {
            key_id: key_id.to_owned(),
        };
        self.call(
            Retry::Never,
            "DisableKeyRotation",
            req,
            |mut c, r| async move { c.disable_key_rotation(r).await },
        )
        .await?;
        Ok(())
    }

    /// `GetKeyRotationStatus`. Retried on `UNAVAILABLE`.
    pub async fn get_key_rotation_status(&self, key_id: &str) -> Result<RotationStatus> {
        let req = pb::GetKeyRotationStatusRequest {
            key_id: key_id.to_owned(),
        };
        let r = self
            .call(
                Retry::Safe,
                "GetKeyRotationStatus",
                req,
                |mut c, r| async move { c.get_key_rotation_status(r).await },
            )
            .await?;
        Ok(r.into())
    }

    /// `RotateKey`: adds a key version now. Not retried (a retry would rotate twice).
    pub async fn rotate_key(&self, key_id: &str) -> Result<RotatedKey> {
        let req = pb::RotateKeyRequest {
            key_id: key_id.to_owned(),
        };
        let r = self
            .call(Retry::Never, "RotateKey", req, |mut c, r| async move {
                c.rotate_key(r).await
            })
            .await?;
        Ok(RotatedKey {
            key_id: r.key_id,
            key_version: r.key_version,
        })
    }

    /// `GetDefaultKey`: the default CMK COS uses for `cos/kms`. Retried on `UNAVAILABLE`.
    pub async fn get_default_key(&self) -> Result<KeyMetadata> {
        let r = self
            .call(
                Retry::Safe,
                "GetDefaultKey",
                pb::GetDefaultKeyRequest {},
                |mut c, r| async move { c.get_default_key(r).await },
            )
            .await?;
        metadata(r.key_metadata, "GetDefaultKey")
    }

    // ----- cryptography -----

    /// `GenerateDataKey`: a fresh data key and its sealed copy. Retried on `UNAVAILABLE`.
    pub async fn generate_data_key(&self, request: GenerateDataKeyRequest) -> Result<DataKey> {
        let r = self
            .call(
                Retry::Safe,
                "GenerateDataKey",
                request.into_pb(),
                |mut c, r| async move { c.generate_data_key(r).await },
            )
            .await?;
        Ok(r.into())
    }

    /// `GenerateDataKeyWithoutPlaintext`: only the sealed copy. Retried on `UNAVAILABLE`.
    pub async fn generate_data_key_without_plaintext(
        &self,
        request: GenerateDataKeyRequest,
    ) -> Result<Ciphertext> {
        let r = self
            .call(
                Retry::Safe,
                "GenerateDataKeyWithoutPlaintext",
                request.into_pb(),
                |mut c, r| async move { c.generate_data_key_without_plaintext(r).await },
            )
            .await?;
        Ok(r.into())
    }

    /// `Encrypt`: seals 1..4096 bytes. Retried on `UNAVAILABLE`.
    pub async fn encrypt(&self, request: EncryptRequest) -> Result<Ciphertext> {
        let req = pb::EncryptRequest {
            key_id: request.key_id,
            plaintext: request.plaintext.expose_secret().to_vec(),
            encryption_context: request.encryption_context,
        };
        let r = self
            .call(Retry::Safe, "Encrypt", req, |mut c, r| async move {
                c.encrypt(r).await
            })
            .await?;
        Ok(r.into())
    }

    /// `Decrypt`: opens a blob (the context must match). Retried on `UNAVAILABLE`.
    pub async fn decrypt(&self, request: DecryptRequest) -> Result<Decrypted> {
        let r = self
            .call(
                Retry::Safe,
                "Decrypt",
                request.into_pb(),
                |mut c, r| async move { c.decrypt(r).await },
            )
            .await?;
        Ok(r.into())
    }

    /// `ReEncrypt`: opens a blob and seals it again (newest version, or another key) without
    /// returning the plaintext. Retried on `UNAVAILABLE`.
    pub async fn re_encrypt(&self, request: ReEncryptRequest) -> Result<ReEncrypted> {
        let r = self
            .call(
                Retry::Safe,
                "ReEncrypt",
                request.into_pb(),
                |mut c, r| async move { c.re_encrypt(r).await },
            )
            .await?;
        Ok(r.into())
    }

    /// `GenerateRandom`: 1..1024 random bytes. Retried on `UNAVAILABLE`.
    pub async fn generate_random(&self, number_of_bytes: u32) -> Result<SecretBytes> {
        let req = pb::GenerateRandomRequest { number_of_bytes };
        let r = self
            .call(Retry::Safe, "GenerateRandom", req, |mut c, r| async move {
                c.generate_random(r).await
            })
            .await?;
        Ok(SecretBytes::new(r.plaintext))
    }

    /// `BatchGenerateDataKey`: up to 1000 data keys; each item succeeds or fails on its own (the
    /// outer `Result` fails only when the whole call does). Retried on `UNAVAILABLE`.
    pub async fn batch_generate_data_key(
        &self,
        items: Vec<GenerateDataKeyRequest>,
    ) -> Result<Vec<Result<DataKey>>> {
        let results = self.batch_generate(items, false).await?;
        results
            .into_iter()
            .map(|r| match r.result {
                Some(pb::batch_generate_data_key_result::Result::Ok(ok)) => {
                    Ok(Ok(DataKey::from(ok)))
                }
                Some(pb::batch_generate_data_key_result::Result::Error(e)) => {
                    Ok(Err(item_error(e)))
                }
                None => Err(Error::Protocol(
                    "BatchGenerateDataKey: an item has no result".to_owned(),
                )),
            })
            .collect()
    }

    /// `BatchGenerateDataKey` with `without_plaintext`: only the sealed copies. Retried on
    /// `UNAVAILABLE`.
    pub async fn batch_generate_data_key_without_plaintext(
        &self,
        items: Vec<GenerateDataKeyRequest>,
    ) -> Result<Vec<Result<Ciphertext>>> {
        let results = self.batch_generate(items, true).await?;
        results
            .into_iter()
            .map(|r| match r.result {
                Some(pb::batch_generate_data_key_result::Result::Ok(ok)) => Ok(Ok(Ciphertext {
                    key_id: ok.key_id,
                    ciphertext_blob: ok.ciphertext_blob,
                    key_version: ok.key_version,
                })),
                Some(pb::batch_generate_data_key_result::Result::Error(e)) => {
                    Ok(Err(item_error(e)))
                }
                None => Err(Error::Protocol(
                    "BatchGenerateDataKey: an item has no result".to_owned(),
                )),
            })
            .collect()
    }

    async fn batch_generate(
        &self,
        items: Vec<GenerateDataKeyRequest>,
        without_plaintext: bool,
    ) -> Result<Vec<pb::BatchGenerateDataKeyResult>> {
        let req = pb::BatchGenerateDataKeyRequest {
            items: items
                .into_iter()
                .map(GenerateDataKeyRequest::into_pb)
                .collect(),
            without_plaintext,
        };
        let r = self
            .call(
                Retry::Safe,
                "BatchGenerateDataKey",
                req,
                |mut c, r| async move { c.batch_generate_data_key(r).await },
            )
            .await?;
        Ok(r.results)
    }

    /// `BatchDecrypt`: up to 1000 blobs; each item succeeds or fails on its own. Retried on
    /// `UNAVAILABLE`.
    pub async fn batch_decrypt(
        &self,
        items: Vec<DecryptRequest>,
    ) -> Result<Vec<Result<Decrypted>>> {
        let req = pb::BatchDecryptRequest {
            items: items.into_iter().map(DecryptRequest::into_pb).collect(),
        };
        let r = self
            .call(Retry::Safe, "BatchDecrypt", req, |mut c, r| async move {
                c.batch_decrypt(r).await
            })
            .await?;
        r.results
            .into_iter()
            .map(|r| match r.result {
                Some(pb::batch_decrypt_result::Result::Ok(ok)) => Ok(Ok(Decrypted::from(ok))),
                Some(pb::batch_decrypt_result::Result::Error(e)) => Ok(Err(item_error(e))),
                None => Err(Error::Protocol(
                    "BatchDecrypt: an item has no result".to_owned(),
                )),
            })
            .collect()
    }

    // ----- admin -----

    /// `SeedKeys` (admin, not a Tencent action): loads a YAML or JSON document of keys with fixed
    /// ids, aliases, states and optional fixed material. All or nothing; a bad document is
    /// [`Error::InvalidArgument`] with `line N: <rule>`. Not retried.
    pub async fn seed_keys(&self, document: &str) -> Result<SeedSummary> {
        let req = pb::SeedKeysRequest {
            document: document.to_owned(),
        };
        let r = self
            .call(Retry::Never, "SeedKeys", req, |mut c, r| async move {
                c.seed_keys(r).await
            })
            .await?;
        Ok(SeedSummary {
            changed: r.changed,
            total: r.total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header formatted once is the one tonic would format for each call.
    #[test]
    fn a_deadline_sets_the_header_set_timeout_sets() {
        for timeout in [
            Duration::from_millis(1),
            Duration::from_millis(1500),
            DEFAULT_REQUEST_TIMEOUT,
            Duration::from_secs(3 * 3600),
        ] {
            let mut ours = tonic::Request::new(());
            Deadline::new(timeout).apply(&mut ours);
            let mut tonics = tonic::Request::new(());
            tonics.set_timeout(timeout);
            let header = |r: &tonic::Request<()>| r.metadata().get(GRPC_TIMEOUT).cloned();
            assert!(header(&ours).is_some(), "{timeout:?}");
            assert_eq!(header(&ours), header(&tonics), "{timeout:?}");
        }
    }
}
