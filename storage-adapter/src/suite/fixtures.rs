//! The fixtures of the providers this crate holds (the gRPC one lives with its server, in the
//! workspace's `tests` crate).

use super::{BoxFuture, NamedKey, ProviderFixture};
use crate::provider::{MEMORY_DEFAULT_CMK, MEMORY_SERVICE_KEY};
use crate::{Adapter, MemoryKms, VerifierKey};

/// A fresh SSE-C verifier key for a fixture's adapter.
fn verifier_key() -> VerifierKey {
    VerifierKey::random().expect("the system random generator works")
}

/// The in-memory provider under the suite.
#[derive(Debug)]
pub struct MemoryFixture {
    adapter: Adapter,
    kms: MemoryKms,
}

impl MemoryFixture {
    /// A fresh in-memory KMS and an adapter over it.
    pub async fn new() -> Self {
        let kms = MemoryKms::new();
        Self {
            adapter: Adapter::new(std::sync::Arc::new(kms.clone()))
                .with_customer_key_verifier(verifier_key()),
            kms,
        }
    }
}

impl ProviderFixture for MemoryFixture {
    fn adapter(&self) -> &Adapter {
        &self.adapter
    }

    fn service_key_id(&self) -> BoxFuture<'_, String> {
        Box::pin(async { MEMORY_SERVICE_KEY.to_owned() })
    }

    fn default_key_id(&self) -> BoxFuture<'_, String> {
        Box::pin(async { MEMORY_DEFAULT_CMK.to_owned() })
    }

    fn create_key<'a>(&'a self, name: &'a str) -> BoxFuture<'a, NamedKey> {
        Box::pin(async move {
            // No aliases: a key is named by its id.
            self.kms.create_key(name);
            NamedKey {
                reference: name.to_owned(),
                key_id: name.to_owned(),
            }
        })
    }

    fn set_enabled<'a>(&'a self, key: &'a NamedKey, enabled: bool) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.kms.set_enabled(&key.key_id, enabled) })
    }

    fn rotate_key<'a>(&'a self, _key: &'a NamedKey) -> BoxFuture<'a, bool> {
        Box::pin(async { false })
    }

    fn make_unreachable(&mut self) -> BoxFuture<'_, bool> {
        Box::pin(async { false })
    }
}

/// The embedded `kms-server` core (SQLite in a temporary directory) under the suite.
#[cfg(feature = "embedded")]
#[derive(Debug)]
pub struct EmbeddedFixture {
    adapter: Adapter,
    kms: crate::EmbeddedKms,
    _dir: tempfile::TempDir,
}

#[cfg(feature = "embedded")]
impl EmbeddedFixture {
    /// A fresh KMS database in a temporary directory and an adapter over it.
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = kms_server::RootKey::from_base64("MDEyMzQ1Njc4OUFCQ0RFRjAxMjM0NTY3ODlBQkNERUY=")
            .expect("the fixed root key is 32 bytes");
        let kms = crate::EmbeddedKms::open(dir.path(), root).expect("the KMS opens");
        Self {
            adapter: Adapter::new(std::sync::Arc::new(kms.clone()))
                .with_customer_key_verifier(verifier_key()),
            kms,
            _dir: dir,
        }
    }
}

#[cfg(feature = "embedded")]
impl ProviderFixture for EmbeddedFixture {
    fn adapter(&self) -> &Adapter {
        &self.adapter
    }

    fn service_key_id(&self) -> BoxFuture<'_, String> {
        Box::pin(async { self.kms.kms().sse_cos_key_id().to_string() })
    }

    fn default_key_id(&self) -> BoxFuture<'_, String> {
        Box::pin(async { self.kms.kms().default_key_id().to_string() })
    }

    fn create_key<'a>(&'a self, name: &'a str) -> BoxFuture<'a, NamedKey> {
        Box::pin(async move {
            let meta = self.kms.kms().create_key(name, "", "").expect("CreateKey");
            NamedKey {
                reference: format!("alias/{name}"),
                key_id: meta.key_id.to_string(),
            }
        })
    }

    fn set_enabled<'a>(&'a self, key: &'a NamedKey, enabled: bool) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let kms = self.kms.kms();
            if enabled {
                kms.enable_key(&key.key_id).expect("EnableKey");
            } else {
                kms.disable_key(&key.key_id).expect("DisableKey");
            }
        })
    }

    fn rotate_key<'a>(&'a self, key: &'a NamedKey) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            self.kms.kms().rotate_key(&key.key_id).expect("RotateKey");
            true
        })
    }

    fn make_unreachable(&mut self) -> BoxFuture<'_, bool> {
        Box::pin(async { false })
    }
}
