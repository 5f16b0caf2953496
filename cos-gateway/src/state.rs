//! A running gateway's shared state and what it is opened from: the store, the adapter over the
//! KMS (and the SSE-C verifier key), the credentials, the transport policy and the header-case
//! template every response gets.

use std::path::PathBuf;
use std::sync::Arc;

use storage_adapter::{Adapter, BucketKeyConfig, EmbeddedKms, KeyProvider, VerifierKey};

use crate::auth::Credentials;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::wire::HeaderCase;

/// Where data keys come from.
#[derive(Debug)]
pub enum KmsBackend {
    /// The `kms-server` core in process ([`EmbeddedKms`]), on the gateway's data directory, under
    /// this root key.
    Embedded(storage_adapter::RootKey),
    /// Any provider (the gRPC client to a running `kms-server`, or a test double).
    Provider(Arc<dyn KeyProvider>),
}

/// What a gateway needs to start.
#[derive(Debug)]
pub struct Config {
    /// Data directory: `kms.sqlite3` (embedded KMS), `gateway.sqlite3`, `ssec-verifier.key`,
    /// `objects/`, `tmp/`.
    pub data_dir: PathBuf,
    /// The accepted SecretId/SecretKey pairs.
    pub credentials: Credentials,
    /// The KMS.
    pub kms: KmsBackend,
    /// Accept SSE-C headers over plain HTTP (a test convenience; COS requires HTTPS).
    pub allow_ssec_over_http: bool,
    /// The longest validity window a request or POST signature may have
    /// ([`crate::auth::DEFAULT_MAX_SIGNATURE_AGE`] unless `--max-signature-age` says otherwise).
    pub max_signature_age: std::time::Duration,
    /// The region this gateway answers for: GET Bucket location and the listings' `Location`
    /// ([`DEFAULT_REGION`] unless `--region` says otherwise).
    pub region: String,
    /// How long a restore of an archived object takes (every tier; see [`crate::restore`]).
    pub restore_delay: std::time::Duration,
    /// SSE-KMS bucket keys: for every bucket, or only those whose encryption document asks.
    pub bucket_keys: BucketKeys,
}

/// The bucket-key settings of a gateway (see `storage_adapter::bucket_key`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BucketKeys {
    /// Every bucket's SSE-KMS writes use bucket keys (`--bucket-keys`), whatever its document says.
    pub all_buckets: bool,
    /// How long and how many bucket keys are cached.
    pub cache: BucketKeyConfig,
}

/// The region a gateway answers for by default (the one the README's SDK samples name).
pub const DEFAULT_REGION: &str = "ap-guangzhou";

/// A running gateway's shared state.
#[derive(Debug)]
pub struct Gateway {
    pub(crate) store: Store,
    pub(crate) adapter: Adapter,
    pub(crate) creds: Credentials,
    pub(crate) allow_ssec_over_http: bool,
    pub(crate) max_signature_age: std::time::Duration,
    pub(crate) region: String,
    pub(crate) restore_delay: std::time::Duration,
    pub(crate) bucket_keys_everywhere: bool,
    pub(crate) header_case: HeaderCase,
    kms: Option<Arc<EmbeddedKms>>,
}

impl Gateway {
    /// Opens the store (`gateway.sqlite3` and the body files under the data directory) and the
    /// KMS.
    pub async fn open(config: Config) -> Result<Arc<Self>> {
        crate::store::private_fs::create_dir(&config.data_dir)?;
        let store = Store::open(&config.data_dir)?;
        Self::with_store(config, store).await
    }

    /// Opens the KMS over a store already opened, e.g. `Store::in_memory` (feature `test-util`),
    /// so the operations can be tested over another catalog than SQLite.
    ///
    /// The SSE-C verifier key is the data directory's (made at the first start, see
    /// [`crate::store::verifier_key`]) when the store is durable, else a random one for this
    /// process only (its objects do not outlive it either).
    pub async fn with_store(config: Config, store: Store) -> Result<Arc<Self>> {
        crate::store::private_fs::create_dir(&config.data_dir)?;
        let verifier = if store.is_durable() {
            crate::store::verifier_key::load_or_create(&config.data_dir).map_err(|e| {
                Error::internal(format!("cannot load or create the SSE-C verifier key: {e}"))
            })?
        } else {
            VerifierKey::random()?
        };
        let (provider, kms): (Arc<dyn KeyProvider>, _) = match config.kms {
            KmsBackend::Embedded(root_key) => {
                let kms = EmbeddedKms::open(&config.data_dir, root_key)
                    .map_err(|e| Error::internal(format!("cannot open the embedded KMS: {e}")))?;
                let kms = Arc::new(kms);
                (Arc::clone(&kms) as Arc<dyn KeyProvider>, Some(kms))
            }
            KmsBackend::Provider(p) => (p, None),
        };
        Ok(Arc::new(Self {
            store,
            adapter: Adapter::new(provider)
                .with_customer_key_verifier(verifier)
                .with_bucket_key_cache(config.bucket_keys.cache),
            creds: config.credentials,
            allow_ssec_over_http: config.allow_ssec_over_http,
            max_signature_age: config.max_signature_age,
            region: config.region,
            restore_delay: config.restore_delay,
            bucket_keys_everywhere: config.bucket_keys.all_buckets,
            header_case: HeaderCase::build().await?,
            kms,
        }))
    }

    /// The embedded KMS (administration in tests and tools), when the gateway embeds one.
    pub fn embedded_kms(&self) -> Option<&EmbeddedKms> {
        self.kms.as_deref()
    }
}
