//! Key providers: where data keys come from.
//!
//! A [`KeyProvider`] answers two questions: "give me a data key for this binding" (a fresh data key
//! and its stored, encrypted form) and "open this stored data key". Implementations:
//!
//! * [`CustomerKeyProvider`]: SSE-C, the customer's key itself (nothing is stored but its MD5).
//! * [`MemoryKms`]: an in-memory KMS for tests and examples (keys vanish with the process).
//! * `EmbeddedKms` (feature `embedded`, in `provider::embedded`): the `kms-server` core in the same
//!   process, with its own SQLite file. The usual choice for a storage server: no separate KMS
//!   process.
//! * `GrpcKms` (feature `grpc`): a running `kms-server` through `kms-client`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;

#[cfg(feature = "embedded")]
pub mod embedded;
#[cfg(feature = "grpc")]
pub mod grpc;

use crate::crypto::{self, AeadKey, Key32};
use crate::error::{Error, Result};
use crate::sse::CustomerKey;

/// A 32-byte data key (the DEK): zeroized on drop, redacted in `Debug`.
#[derive(Clone, Debug)]
pub struct DataKey(pub(crate) Key32);

impl DataKey {
    /// A data key from its 32 raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Key32::from_slice(bytes)
            .map(Self)
            .ok_or_else(|| Error::Internal("a data key must be 32 bytes".into()))
    }
}

/// Which key a data key is generated under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyTarget<'a> {
    /// SSE-COS: the KMS's service-managed key (not a user CMK).
    Service,
    /// SSE-KMS without a key id: the COS default CMK.
    DefaultCmk,
    /// SSE-KMS with `x-cos-server-side-encryption-cos-kms-key-id` (a key id or an alias).
    Key(&'a str),
    /// SSE-C: the customer key held by the provider.
    Customer,
}

/// A request for a fresh data key.
#[derive(Clone, Copy, Debug)]
pub struct DataKeyRequest<'a> {
    /// The key to generate under.
    pub target: KeyTarget<'a>,
    /// The KMS encryption context: base64 of a canonical JSON object (the user's pairs and the
    /// object's identity).
    pub context: &'a str,
}

/// A fresh data key and what to store.
#[derive(Debug)]
pub struct GeneratedKey {
    /// The resolved key id (the default CMK's or the service key's real id; empty for SSE-C).
    pub key_id: String,
    /// The key version that encrypted the blob, when known.
    pub key_version: Option<u32>,
    /// The plaintext data key.
    pub key: DataKey,
    /// The encrypted data key to store (empty for SSE-C).
    pub ciphertext_blob: Vec<u8>,
}

/// A stored data key to open.
#[derive(Clone, Copy, Debug)]
pub struct StoredKey<'a> {
    /// The key id recorded at write time.
    pub key_id: &'a str,
    /// The encrypted data key.
    pub ciphertext_blob: &'a [u8],
    /// The same context as at generation.
    pub context: &'a str,
}

/// Where data keys come from. Object-safe: use it as `Arc<dyn KeyProvider>`.
pub trait KeyProvider: Send + Sync + std::fmt::Debug {
    /// A fresh data key for `request`.
    fn generate_data_key<'a>(
        &'a self,
        request: DataKeyRequest<'a>,
    ) -> BoxFuture<'a, Result<GeneratedKey>>;

    /// Opens a stored data key.
    fn decrypt_data_key<'a>(&'a self, stored: StoredKey<'a>) -> BoxFuture<'a, Result<DataKey>>;
}

/// SSE-C: the data key is the customer's key. Built per request from the request's SSE-C headers.
#[derive(Clone, Debug)]
pub struct CustomerKeyProvider {
    key: CustomerKey,
}

impl CustomerKeyProvider {
    /// A provider for one customer key.
    pub fn new(key: CustomerKey) -> Self {
        Self { key }
    }

    fn data_key(&self) -> DataKey {
        DataKey(self.key.key().clone())
    }
}

impl KeyProvider for CustomerKeyProvider {
    fn generate_data_key<'a>(
        &'a self,
        request: DataKeyRequest<'a>,
    ) -> BoxFuture<'a, Result<GeneratedKey>> {
        Box::pin(async move {
            if request.target != KeyTarget::Customer {
                return Err(Error::Internal(
                    "the SSE-C provider serves only customer keys".into(),
                ));
            }
            Ok(GeneratedKey {
                key_id: String::new(),
                key_version: None,
                key: self.data_key(),
                ciphertext_blob: Vec::new(),
            })
        })
    }

    fn decrypt_data_key<'a>(&'a self, stored: StoredKey<'a>) -> BoxFuture<'a, Result<DataKey>> {
        Box::pin(async move {
            if !stored.ciphertext_blob.is_empty() {
                return Err(Error::Internal(
                    "the SSE-C provider has no stored keys to open".into(),
                ));
            }
            Ok(self.data_key())
        })
    }
}

/// Key state in [`MemoryKms`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MemKeyState {
    Enabled,
    Disabled,
}

#[derive(Debug)]
struct MemKey {
    material: Key32,
    state: MemKeyState,
}

/// An in-memory KMS for tests and examples: data keys are AES-256-GCM-wrapped under per-CMK keys
/// held in memory, bound to the encryption context. Nothing persists.
#[derive(Clone, Debug)]
pub struct MemoryKms {
    inner: Arc<Mutex<HashMap<String, MemKey>>>,
}

/// The id [`MemoryKms`] gives its default CMK.
pub const MEMORY_DEFAULT_CMK: &str = "memory-default-cmk";
/// The id [`MemoryKms`] gives its service key.
pub const MEMORY_SERVICE_KEY: &str = "memory-service-key";

impl Default for MemoryKms {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryKms {
    /// A KMS with a default CMK and a service key.
    pub fn new() -> Self {
        let kms = Self {
            inner: Arc::new(Mutex::new(HashMap::new())),
        };
        kms.create_key(MEMORY_DEFAULT_CMK);
        kms.create_key(MEMORY_SERVICE_KEY);
        kms
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, MemKey>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates (or replaces) an enabled CMK.
    pub fn create_key(&self, id: &str) {
        let material = Key32::random().expect("the system random generator works");
        self.lock().insert(
            id.to_owned(),
            MemKey {
                material,
                state: MemKeyState::Enabled,
            },
        );
    }

    /// Enables or disables a CMK.
    pub fn set_enabled(&self, id: &str, enabled: bool) {
        if let Some(k) = self.lock().get_mut(id) {
            k.state = if enabled {
                MemKeyState::Enabled
            } else {
                MemKeyState::Disabled
            };
        }
    }

    fn with_key<T>(&self, id: &str, f: impl FnOnce(&Key32) -> Result<T>) -> Result<T> {
        let keys = self.lock();
        let key = keys
            .get(id)
            .ok_or_else(|| Error::KmsKeyNotFound(id.to_owned()))?;
        if key.state != MemKeyState::Enabled {
            return Err(Error::KmsKeyDisabled(id.to_owned()));
        }
        f(&key.material)
    }
}

impl KeyProvider for MemoryKms {
    fn generate_data_key<'a>(
        &'a self,
        request: DataKeyRequest<'a>,
    ) -> BoxFuture<'a, Result<GeneratedKey>> {
        Box::pin(async move {
            let id = match request.target {
                KeyTarget::Service => MEMORY_SERVICE_KEY,
                KeyTarget::DefaultCmk => MEMORY_DEFAULT_CMK,
                KeyTarget::Key(id) => id,
                KeyTarget::Customer => {
                    return Err(Error::Internal("a KMS does not serve SSE-C keys".into()));
                }
            };
            let dek = Key32::random()?;
            let nonce: [u8; 12] = crypto::random_array()?;
            let blob = self.with_key(id, |cmk| {
                let mut buf = dek.expose().to_vec();
                AeadKey::new(cmk).seal_append(nonce, request.context.as_bytes(), &mut buf);
                let mut blob = nonce.to_vec();
                blob.extend_from_slice(&buf);
                Ok(blob)
            })?;
            Ok(GeneratedKey {
                key_id: id.to_owned(),
                key_version: Some(1),
                key: DataKey(dek),
                ciphertext_blob: blob,
            })
        })
    }

    fn decrypt_data_key<'a>(&'a self, stored: StoredKey<'a>) -> BoxFuture<'a, Result<DataKey>> {
        Box::pin(async move {
            self.with_key(stored.key_id, |cmk| {
                let blob = stored.ciphertext_blob;
                if blob.len() != 12 + 32 + 16 {
                    return Err(Error::Kms("invalid ciphertext".into()));
                }
                let mut nonce = [0u8; 12];
                nonce.copy_from_slice(&blob[..12]);
                let mut buf = zeroize::Zeroizing::new(blob[12..].to_vec());
                let n = AeadKey::new(cmk)
                    .open_in_place(nonce, stored.context.as_bytes(), &mut buf)
                    .map_err(|_| Error::Kms("invalid ciphertext or context".into()))?;
                DataKey::from_bytes(&buf[..n])
            })
        })
    }
}
