//! A typed async client for the KMS emulator's `kms.v1` gRPC API.
//!
//! - [`KmsClient`]: one async method per RPC, with this crate's own request and result types (no
//!   generated type in the public API).
//! - [`Error`]: a `#[non_exhaustive]` enum mapped from gRPC codes that keeps the server's message and
//!   the Tencent KMS error code (`x-kms-error-code`).
//! - [`SecretBytes`]: data keys and plaintexts, zeroized on drop, never printed; [`BearerToken`]:
//!   the caller's credential, the same.
//! - [`encryption_context`]: builds the base64 JSON encryption context the API takes.
//! - Connection options in [`ClientBuilder`]: timeouts, TLS for `https://` endpoints (bundled web
//!   PKI roots plus an optional CA file), a client certificate (mutual TLS) and a bearer token
//!   (`authorization: Bearer ...` on every call, never over plain `http://` to another host),
//!   retries of `UNAVAILABLE` for calls without side effects only (listed on [`RetryPolicy`]).
//!
//! ```no_run
//! # async fn f() -> kms_client::Result<()> {
//! use kms_client::{EncryptRequest, DecryptRequest, KmsClient};
//! let kms = KmsClient::connect("http://127.0.0.1:50051").await?;
//! let sealed = kms.encrypt(EncryptRequest::new("alias/photos", "hello")).await?;
//! let opened = kms.decrypt(DecryptRequest::new(sealed.ciphertext_blob)).await?;
//! assert_eq!(opened.plaintext.expose_secret(), b"hello");
//! # Ok(()) }
//! ```

mod asymmetric;
mod builder;
mod byok;
mod client;
mod context;
mod error;
mod key_sets;
mod secret;
mod tags;
mod types;

pub use asymmetric::{
    AsymmetricDecrypted, DecryptAlgorithm, MessageType, PublicKey, SignAlgorithm, Signature,
};
pub use builder::{
    AUTHORIZATION_METADATA, ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_ENDPOINT,
    DEFAULT_KEEPALIVE_INTERVAL, DEFAULT_KEEPALIVE_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, RetryPolicy,
};
pub use byok::{ImportParameters, WrappingAlgorithm};
pub use client::KmsClient;
pub use context::{
    MAX_CONTEXT_JSON_BYTES, decode_encryption_context, encryption_context,
    encryption_context_from_json,
};
pub use error::{ERROR_CODE_METADATA, Error, ErrorCode, INVALID_CIPHERTEXT_MESSAGE, Result};
pub use key_sets::MAX_KEY_IDS;
pub use secret::{BearerToken, SecretBytes};
pub use tags::{Tag, TagFilter};
pub use types::{
    Ciphertext, CreateKeyRequest, DataKey, DecryptRequest, Decrypted, EncryptRequest,
    EncryptionAlgorithm, GenerateDataKeyRequest, KeyList, KeyMetadata, KeySpec, KeyState,
    ListKeysRequest, ReEncryptRequest, ReEncrypted, RotatedKey, RotationStatus, ScheduledDeletion,
    SeedSummary,
};

/// Re-exported so callers of [`KmsClient::from_channel`] need no direct tonic dependency.
pub use tonic::transport::Channel;
