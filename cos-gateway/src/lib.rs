//! `cos-gateway`: a COS-compatible HTTP(S) gateway that stores objects encrypted with SSE-COS
//! (`AES256`), SSE-KMS (`cos/kms`) and SSE-C through [`storage_adapter`], so the official COS SDKs
//! (Python `cos-python-sdk-v5`, Node `cos-nodejs-sdk-v5`) work against a local directory.
//!
//! It is also the reference for how a storage server embeds the adapter: every SSE decision
//! (header parsing per operation, bucket default, envelope, key wrap, body encryption, range plans)
//! is the adapter's; the gateway routes, authenticates, stores and streams.
//!
//! # Layout
//!
//! * [`server`]: the accept loop (`serve(listener, shutdown)`), TLS, connection limits;
//!   [`peers`]: the per-client-address cap; [`deadline`]: the request deadline.
//! * [`frame`]: the per-request frame (request id, header case, error document) around
//!   [`ops::dispatch`].
//! * [`state`]: the [`Gateway`] shared by every request and the [`Config`] it opens from.
//! * [`route`]: Host / path-style / absolute-form routing to bucket and key.
//! * [`endpoint`]: the typed endpoint, which COS operation a request is with its parsed
//!   parameters; an unimplemented sub-resource is `501 NotImplemented`, never a fall-through.
//! * [`acl`]: canned ACLs, grants, the `AccessControlPolicy` document and the anonymous-read rule.
//! * [`auth`]: COS v5 signatures (header and presigned), credentials, POST policy.
//! * [`context`]: one routed request ([`context::RequestContext`]); [`body`]: its body.
//! * [`ops`]: the operations (bucket, object, copy, multipart, bucket encryption, POST Object).
//! * [`store`]: bodies as files (temp, fsync, rename) and metadata in SQLite.
//! * [`wire`], [`xml`], [`tls`], [`error`]: plumbing and the single error -> COS XML mapping;
//!   [`limits`]: the COS limits several layers check.

pub mod acl;
pub mod auth;
pub mod body;
pub mod context;
pub mod deadline;
pub mod documents;
pub mod endpoint;
pub mod error;
pub mod frame;
/// For the fuzz targets in `fuzz/` only; not an API.
#[doc(hidden)]
pub mod fuzzing;
pub mod limits;
pub mod ops;
pub mod peers;
pub mod restore;
pub mod route;
pub mod server;
pub mod state;
pub mod storage_class;
pub mod store;
pub mod tagging;
pub mod tls;
pub mod wire;
pub mod xml;

pub use error::{Error, Result};
pub use server::{ServeOptions, serve, serve_with};
pub use state::{Config, Gateway, KmsBackend};
