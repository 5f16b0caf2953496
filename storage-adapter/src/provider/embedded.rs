//! The in-process key provider: the `kms-server` core embedded in the storage server, with its own
//! SQLite file. The default for a storage server: no separate KMS process.

use std::path::Path;
use std::sync::Arc;

use futures::future::BoxFuture;
use kms_server::{DataKeySpec, Kms};

use crate::error::{Error, Result};
use crate::provider::{DataKey, DataKeyRequest, GeneratedKey, KeyProvider, KeyTarget, StoredKey};

/// Data keys from an embedded [`kms_server::Kms`].
///
/// SSE-COS uses the KMS's hidden service key (`Kms::sse_cos_key_id`, which users cannot disable or
/// delete through the admin API); SSE-KMS without a key id uses the COS default CMK
/// (`Kms::default_key_id`). The KMS core is synchronous and answers from memory (SQLite is written
/// only on key changes), so calls run inline on the async task.
#[derive(Clone)]
pub struct EmbeddedKms {
    kms: Arc<Kms>,
}

impl std::fmt::Debug for EmbeddedKms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedKms").finish_non_exhaustive()
    }
}

impl EmbeddedKms {
    /// A provider over an open KMS (shared, for example, with an admin API).
    pub fn new(kms: Arc<Kms>) -> Self {
        Self { kms }
    }

    /// Opens (or creates) the KMS database in `data_dir` under `root_key`.
    pub fn open(data_dir: &Path, root_key: kms_server::RootKey) -> Result<Self> {
        let kms = Kms::open(kms_server::Config::new(data_dir, root_key)).map_err(map_error)?;
        Ok(Self::new(Arc::new(kms)))
    }

    /// The embedded KMS.
    pub fn kms(&self) -> &Arc<Kms> {
        &self.kms
    }
}

/// Maps a KMS core error to the COS-facing error: unknown key `KmsKeyNotExist`, a key state that
/// forbids the use (disabled, pending deletion, archived) `KmsKeyDisabled`, any other refusal
/// `KmsException`, a KMS failure `KmsInternalException`.
pub fn map_error(e: kms_server::Error) -> Error {
    use kms_server::Error as K;
    match e {
        K::NotFound(id) => Error::KmsKeyNotFound(id),
        K::KeyState { key_id, state, .. } => Error::KmsKeyDisabled(format!("{key_id} is {state}")),
        K::InvalidCiphertext => Error::Kms("invalid ciphertext or context".into()),
        // A key of the wrong usage (an asymmetric key asked for a data key) is the caller's
        // mistake, as the gRPC provider reports it: not a KMS failure the SDKs would retry.
        K::InvalidArgument(m) | K::KeyUsage(m) => Error::Kms(m),
        K::ServiceKey(id) => Error::Kms(format!("key {id} is owned by a service")),
        other => {
            tracing::error!(error = %other, "embedded KMS failure");
            Error::KmsUnavailable("the embedded KMS failed".into())
        }
    }
}

impl KeyProvider for EmbeddedKms {
    fn generate_data_key<'a>(
        &'a self,
        request: DataKeyRequest<'a>,
    ) -> BoxFuture<'a, Result<GeneratedKey>> {
        Box::pin(async move {
            let name = match request.target {
                KeyTarget::Service => self.kms.sse_cos_key_id().to_string(),
                KeyTarget::DefaultCmk => self.kms.default_key_id().to_string(),
                KeyTarget::Key(id) => id.to_owned(),
                KeyTarget::Customer => {
                    return Err(Error::Internal("a KMS does not serve SSE-C keys".into()));
                }
            };
            let dk = self
                .kms
                .generate_data_key(&name, DataKeySpec::Aes256, request.context, true)
                .map_err(map_error)?;
            let plaintext = dk
                .plaintext
                .ok_or_else(|| Error::Internal("the KMS returned no plaintext".into()))?;
            Ok(GeneratedKey {
                key_id: dk.key_id.to_string(),
                key_version: Some(dk.key_version),
                key: DataKey::from_bytes(plaintext.expose())?,
                ciphertext_blob: dk.ciphertext_blob,
            })
        })
    }

    fn decrypt_data_key<'a>(&'a self, stored: StoredKey<'a>) -> BoxFuture<'a, Result<DataKey>> {
        Box::pin(async move {
            let d = self
                .kms
                .decrypt(stored.ciphertext_blob, stored.context)
                .map_err(map_error)?;
            if d.key_id.to_string() != stored.key_id {
                return Err(Error::Decrypt);
            }
            DataKey::from_bytes(d.plaintext.expose())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The caller's mistakes are 400 `KmsException` (as through the gRPC provider), a KMS failure
    /// 500 `KmsInternalException`: the SDKs retry a 5xx.
    #[test]
    fn refusals_are_the_callers_and_failures_the_kms() {
        use kms_server::Error as K;
        for refusal in [
            K::KeyUsage("key k is ASYMMETRIC_SIGN_VERIFY_ECC".into()),
            K::InvalidArgument("bad".into()),
            K::InvalidCiphertext,
        ] {
            let e = map_error(refusal);
            assert_eq!(e.http_status(), http::StatusCode::BAD_REQUEST, "{e:?}");
            assert_eq!(e.cos_code().as_str(), "KmsException", "{e:?}");
        }
        let e = map_error(K::Internal("disk".into()));
        assert_eq!(e.http_status(), http::StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.cos_code().as_str(), "KmsInternalException");
    }
}
