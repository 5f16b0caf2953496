//! The provider behaviour suite ([`storage_adapter::suite`]) against `GrpcKms` across a real gRPC
//! hop: `GrpcKms` -> `kms-client` -> `kms-server` on 127.0.0.1:0, keys administered over gRPC.

use std::sync::Arc;

use kms_client::KmsClient;
use storage_adapter::Adapter;
use storage_adapter::provider::grpc::GrpcKms;
use storage_adapter::suite::{BoxFuture, NamedKey, ProviderFixture};
use tests::{TestKms, pb};

/// A server in a temp dir, an adapter reaching it through `GrpcKms`.
#[derive(Debug)]
struct GrpcFixture {
    adapter: Adapter,
    /// `None` once the server is stopped.
    kms: Option<TestKms>,
    _dir: tempfile::TempDir,
}

impl GrpcFixture {
    async fn new() -> Self {
        let (kms, dir) = TestKms::start_temp().await;
        let client = KmsClient::connect(format!("http://{}", kms.addr))
            .await
            .expect("the client connects");
        Self {
            adapter: Adapter::new(Arc::new(GrpcKms::with_service_key_alias(client)))
                .with_customer_key_verifier(
                    storage_adapter::VerifierKey::random()
                        .expect("the system random generator works"),
                ),
            kms: Some(kms),
            _dir: dir,
        }
    }

    /// A client for the administration calls (tonic clients are cheap clones of one channel).
    fn admin(
        &self,
    ) -> pb::key_management_service_client::KeyManagementServiceClient<tonic::transport::Channel>
    {
        self.kms
            .as_ref()
            .expect("the server runs until make_unreachable")
            .client
            .clone()
    }

    async fn key_id(&self, key: &str) -> String {
        self.admin()
            .describe_key(pb::DescribeKeyRequest { key_id: key.into() })
            .await
            .expect("DescribeKey")
            .into_inner()
            .key_metadata
            .expect("metadata")
            .key_id
    }
}

impl ProviderFixture for GrpcFixture {
    fn adapter(&self) -> &Adapter {
        &self.adapter
    }

    fn service_key_id(&self) -> BoxFuture<'_, String> {
        Box::pin(self.key_id(storage_adapter::provider::grpc::SERVICE_KEY_ALIAS))
    }

    fn default_key_id(&self) -> BoxFuture<'_, String> {
        Box::pin(async {
            self.admin()
                .get_default_key(pb::GetDefaultKeyRequest {})
                .await
                .expect("GetDefaultKey")
                .into_inner()
                .key_metadata
                .expect("metadata")
                .key_id
        })
    }

    fn create_key<'a>(&'a self, name: &'a str) -> BoxFuture<'a, NamedKey> {
        Box::pin(async move {
            let key_id = self
                .admin()
                .create_key(pb::CreateKeyRequest {
                    alias: name.into(),
                    description: format!("test key {name}"),
                    key_usage: String::new(),
                    ..Default::default()
                })
                .await
                .expect("CreateKey")
                .into_inner()
                .key_metadata
                .expect("metadata")
                .key_id;
            NamedKey {
                reference: format!("alias/{name}"),
                key_id,
            }
        })
    }

    fn set_enabled<'a>(&'a self, key: &'a NamedKey, enabled: bool) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let key_id = key.key_id.clone();
            if enabled {
                self.admin()
                    .enable_key(pb::EnableKeyRequest { key_id })
                    .await
                    .expect("EnableKey");
            } else {
                self.admin()
                    .disable_key(pb::DisableKeyRequest { key_id })
                    .await
                    .expect("DisableKey");
            }
        })
    }

    fn rotate_key<'a>(&'a self, key: &'a NamedKey) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            self.admin()
                .rotate_key(pb::RotateKeyRequest {
                    key_id: key.key_id.clone(),
                })
                .await
                .expect("RotateKey");
            true
        })
    }

    fn make_unreachable(&mut self) -> BoxFuture<'_, bool> {
        Box::pin(async {
            if let Some(kms) = self.kms.take() {
                kms.stop().await;
            }
            true
        })
    }
}

storage_adapter::provider_suite!(GrpcFixture::new());
