//! The contracts that the KMS server, its client and the storage adapter share, written once.
//!
//! - [`context`]: the encryption context (base64 of a JSON object of strings), its limits and the
//!   canonical, order-free form bound into a blob's AAD.
//! - [`naming`]: key naming rules: which aliases and descriptions are valid, and how a key
//!   reference (UUID, `alias/<name>` or bare alias) is read.
//! - [`limits`]: the numbers and reserved prefixes those rules enforce.
//! - [`algorithm`]: algorithm names both sides spell the same way (key-material wrapping).
//! - [`error_code`]: the Tencent KMS error codes and the `x-kms-error-code` metadata name that
//!   carries them from the server to the client.
//!
//! A leaf crate: no gRPC, no database and no runtime, so each side of the wire can depend on it.

pub mod algorithm;
pub mod context;
pub mod error_code;
pub mod limits;
pub mod naming;

mod error;

pub use algorithm::WrappingAlgorithm;
pub use context::{B64_LENIENT, EncryptionContext, MAX_CONTEXT_JSON_BYTES};
pub use error::{Error, Result};
pub use error_code::{ERROR_CODE_METADATA, ErrorCode};
pub use naming::KeyRef;
