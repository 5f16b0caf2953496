//! A local KMS emulator: customer master keys (CMKs) with a default CMK for COS, key lifecycle,
//! rotation with old versions still decrypting, data keys and ciphertexts bound to an encryption
//! context, and SQLite persistence with all key material wrapped by a root key.
//!
//! The core ([`Kms`]) has no gRPC dependency: a storage server can embed it with
//! `default-features = false`. The `grpc` feature (on by default) adds the tonic service
//! ([`service`]) and the server loop ([`server`]) behind the `kms-server` binary.
//!
//! Layers, top to bottom: `service`/`tencent`/`server`/`tls`/`limits` (transport; `tencent` is the
//! Tencent Cloud API 3.0 front end over `service`; `audit` and `metrics` at its edge) -> [`kms`] (the calls, the cache,
//! deadlines, seeding) -> [`keys`] (the key model, its field rules and the state table), [`blob`], [`xaes`],
//! [`root_key`], [`secret`], [`context`] (formats and key types) -> [`store`] (the [`KeyStore`]
//! trait; SQLite behind it).
//! See [`root_key`] for the key hierarchy and [`blob`] for the frozen blob format.

pub mod access;
pub mod asymmetric;
#[cfg(feature = "grpc")]
pub mod audit;
pub mod blob;
pub mod clock;
pub mod context;
pub mod error;
/// For the fuzz targets in `fuzz/` only; not an API.
#[doc(hidden)]
pub mod fuzzing;
pub mod keys;
pub mod kms;
#[cfg(feature = "grpc")]
pub mod limits;
#[cfg(feature = "grpc")]
pub mod metrics;
pub mod private_fs;
pub mod root_key;
pub mod secret;
#[cfg(feature = "grpc")]
pub mod server;
#[cfg(feature = "grpc")]
pub mod service;
pub mod store;
#[cfg(feature = "grpc")]
pub mod tencent;
#[cfg(feature = "grpc")]
pub mod tls;
pub mod xaes;

pub use clock::{Clock, ManualClock, SystemClock};
pub use context::EncryptionContext;
pub use error::{Error, Result};
pub use keys::{KeyAction, KeyMetadata, KeyState};
pub use kms::{
    Config, Kms,
    data_keys::{DataKey, DataKeySpec, Decrypted, ReEncrypted, Sealed},
    lifecycle::ListKeys,
};
pub use root_key::RootKey;
pub use secret::SecretBytes;
pub use store::KeyStore;
