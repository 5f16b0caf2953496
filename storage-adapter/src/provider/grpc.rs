//! The gRPC key provider: a running `kms-server` reached through `kms-client` (feature `grpc`).

use futures::future::BoxFuture;
use kms_client::{DecryptRequest, GenerateDataKeyRequest, KeySpec, KmsClient};
use tokio::sync::OnceCell;

use crate::error::{Error, Result};
use crate::provider::{DataKey, DataKeyRequest, GeneratedKey, KeyProvider, KeyTarget, StoredKey};

/// The alias of `kms-server`'s hidden SSE-COS service key (`alias/` and its
/// `kms::SSE_COS_KEY_ALIAS`), spelled out so the gRPC provider does not pull in the KMS core; a test
/// with the `embedded` feature checks that the two agree.
pub const SERVICE_KEY_ALIAS: &str = "alias/kms-cos-sse";

/// Data keys from a remote `kms-server`.
///
/// SSE-KMS without a key id uses the server's COS default CMK (`GetDefaultKey`, looked up once).
/// SSE-COS uses `service_key`: [`GrpcKms::with_service_key_alias`] picks the server's hidden
/// service-managed key ([`SERVICE_KEY_ALIAS`], the one the embedded KMS uses), [`GrpcKms::new`] lets
/// the operator name another.
#[derive(Debug)]
pub struct GrpcKms {
    client: KmsClient,
    service_key: String,
    default_cmk: OnceCell<String>,
}

impl GrpcKms {
    /// A provider over a connected (or lazily connecting) client.
    pub fn new(client: KmsClient, service_key: impl Into<String>) -> Self {
        Self {
            client,
            service_key: service_key.into(),
            default_cmk: OnceCell::new(),
        }
    }

    /// A provider whose SSE-COS key is the server's hidden service-managed key.
    pub fn with_service_key_alias(client: KmsClient) -> Self {
        Self::new(client, SERVICE_KEY_ALIAS)
    }

    async fn default_cmk(&self) -> Result<&str> {
        self.default_cmk
            .get_or_try_init(|| async {
                self.client
                    .get_default_key()
                    .await
                    .map(|m| m.key_id)
                    .map_err(map_error)
            })
            .await
            .map(String::as_str)
    }
}

/// Maps a KMS client error to the COS-facing error (`KmsKeyNotExist`, `KmsKeyDisabled`,
/// `KmsException`, `KmsInternalException`).
pub fn map_error(e: kms_client::Error) -> Error {
    use kms_client::Error as K;
    match e {
        K::NotFound { message, .. } => Error::KmsKeyNotFound(message),
        K::KeyStateConflict { message, .. } => Error::KmsKeyDisabled(message),
        K::InvalidCiphertext { .. } => Error::Kms("invalid ciphertext or context".into()),
        K::InvalidArgument { message, .. } | K::PermissionDenied { message, .. } => {
            Error::Kms(message)
        }
        // The KMS does not accept this server's own credential: a fault of the server's set-up,
        // not of the request.
        K::Unauthenticated { message, .. } => Error::KmsUnavailable(message),
        other => Error::KmsUnavailable(other.to_string()),
    }
}

impl KeyProvider for GrpcKms {
    fn generate_data_key<'a>(
        &'a self,
        request: DataKeyRequest<'a>,
    ) -> BoxFuture<'a, Result<GeneratedKey>> {
        Box::pin(async move {
            let key_id = match request.target {
                KeyTarget::Service => self.service_key.clone(),
                KeyTarget::DefaultCmk => self.default_cmk().await?.to_owned(),
                KeyTarget::Key(id) => id.to_owned(),
                KeyTarget::Customer => {
                    return Err(Error::Internal("a KMS does not serve SSE-C keys".into()));
                }
            };
            let dk = self
                .client
                .generate_data_key(
                    GenerateDataKeyRequest::new(key_id)
                        .key_spec(KeySpec::Aes256)
                        .encryption_context(request.context),
                )
                .await
                .map_err(map_error)?;
            Ok(GeneratedKey {
                key_id: dk.key_id,
                key_version: Some(dk.key_version),
                key: DataKey::from_bytes(dk.plaintext.expose_secret())?,
                ciphertext_blob: dk.ciphertext_blob,
            })
        })
    }

    fn decrypt_data_key<'a>(&'a self, stored: StoredKey<'a>) -> BoxFuture<'a, Result<DataKey>> {
        Box::pin(async move {
            let d = self
                .client
                .decrypt(
                    DecryptRequest::new(stored.ciphertext_blob.to_vec())
                        .encryption_context(stored.context),
                )
                .await
                .map_err(map_error)?;
            // A blob of another key (an envelope edited to name a key it was not made under).
            if d.key_id != stored.key_id {
                return Err(Error::Decrypt);
            }
            DataKey::from_bytes(d.plaintext.expose_secret())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unreachable_kms_is_kms_internal_exception() {
        let client = KmsClient::builder("http://127.0.0.1:1")
            .connect_lazy()
            .unwrap();
        let kms = GrpcKms::new(client, "alias/cos-service");
        let e = kms
            .generate_data_key(DataKeyRequest {
                target: KeyTarget::Service,
                context: "e30=",
            })
            .await
            .unwrap_err();
        assert_eq!(e.cos_code().as_str(), "KmsInternalException");
        assert_eq!(e.http_status(), 500);
    }

    #[test]
    fn service_key_alias_is_the_kms_servers() {
        assert_eq!(
            SERVICE_KEY_ALIAS,
            format!(
                "{}{}",
                kms_types::naming::ALIAS_PREFIX,
                kms_types::naming::SSE_COS_KEY_ALIAS
            )
        );
    }

    #[test]
    fn client_errors_map_to_cos_codes() {
        use kms_client::Error as K;
        let nf = K::NotFound {
            message: "no key".into(),
            error_code: None,
        };
        assert_eq!(map_error(nf).cos_code().as_str(), "KmsKeyNotExist");
        let st = K::KeyStateConflict {
            message: "disabled".into(),
            error_code: None,
        };
        assert_eq!(map_error(st).cos_code().as_str(), "KmsKeyDisabled");
        let ic = K::InvalidCiphertext { error_code: None };
        assert_eq!(map_error(ic).cos_code().as_str(), "KmsException");
        let denied = K::PermissionDenied {
            message: "not allowed".into(),
            error_code: Some("UnauthorizedOperation".into()),
        };
        assert_eq!(map_error(denied).cos_code().as_str(), "KmsException");
        let unknown = K::Unauthenticated {
            message: "no credential".into(),
            error_code: Some("AuthFailure".into()),
        };
        assert_eq!(
            map_error(unknown).cos_code().as_str(),
            "KmsInternalException"
        );
    }
}
