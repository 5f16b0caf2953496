//! Helpers for the end-to-end tests: a real KMS server on `127.0.0.1:0` in a temp dir, driven by a
//! manual clock, and a gRPC client connected to it.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use base64::Engine as _;
use kms_proto::pb::key_management_service_client::KeyManagementServiceClient;
use kms_server::{
    Config, Kms, ManualClock, RootKey,
    server::{ServerOptions, serve},
};
use tokio::{sync::oneshot, task::JoinHandle};
use tonic::transport::Channel;

pub use kms_proto::pb;

/// The manual clock's start: 2023-11-14T22:13:20Z.
pub const T0: i64 = 1_700_000_000;
/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// A running server and a client for it.
#[derive(Debug)]
pub struct TestKms {
    /// Where the server listens.
    pub addr: SocketAddr,
    /// A client connected to it.
    pub client: KeyManagementServiceClient<Channel>,
    /// The core, shared with the server (for test hooks).
    pub kms: Arc<Kms>,
    /// The clock the server runs on.
    pub clock: Arc<ManualClock>,
    /// The data directory.
    pub data_dir: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

/// A fixed root key made of one repeated byte.
pub fn root_key(byte: u8) -> RootKey {
    RootKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([byte; 32]))
        .expect("32 bytes are a valid root key")
}

/// Base64 of a JSON object built from pairs, written in the given order.
pub fn ctx(pairs: &[(&str, &str)]) -> String {
    let body = pairs
        .iter()
        .map(|(k, v)| format!("{}:{}", serde_json::json!(k), serde_json::json!(v)))
        .collect::<Vec<_>>()
        .join(",");
    base64::engine::general_purpose::STANDARD.encode(format!("{{{body}}}"))
}

/// Base64 of arbitrary text (for malformed contexts).
pub fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

impl TestKms {
    /// Starts a server on a fresh temp dir (kept alive by the returned guard).
    pub async fn start_temp() -> (Self, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let kms = Self::start(dir.path(), root_key(7), Arc::new(ManualClock::new(T0))).await;
        (kms, dir)
    }

    /// Starts a server on `data_dir` with the given root key and clock.
    pub async fn start(data_dir: &Path, root: RootKey, clock: Arc<ManualClock>) -> Self {
        Self::try_start(data_dir, root, clock, Duration::from_secs(3600))
            .await
            .expect("server starts")
    }

    /// Starts a server, returning the core's error if it refuses to open.
    pub async fn try_start(
        data_dir: &Path,
        root: RootKey,
        clock: Arc<ManualClock>,
        tick: Duration,
    ) -> Result<Self, kms_server::Error> {
        let dir = data_dir.to_path_buf();
        let c: Arc<dyn kms_server::Clock> = clock.clone();
        let kms = tokio::task::spawn_blocking(move || {
            Kms::open(Config {
                data_dir: dir,
                root_key: root,
                clock: c,
            })
        })
        .await
        .expect("open task")?;
        let kms = Arc::new(kms);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("bound address");
        let (tx, rx) = oneshot::channel::<()>();
        let server_kms = kms.clone();
        let handle = tokio::spawn(async move {
            serve(
                listener,
                server_kms,
                ServerOptions {
                    tick,
                    ..ServerOptions::default()
                },
                async {
                    let _ = rx.await;
                },
            )
            .await
            .expect("server runs");
        });
        let client = KeyManagementServiceClient::connect(format!("http://{addr}"))
            .await
            .expect("client connects");
        Ok(Self {
            addr,
            client,
            kms,
            clock,
            data_dir: data_dir.to_path_buf(),
            shutdown: Some(tx),
            handle: Some(handle),
        })
    }

    /// Stops the server gracefully and waits until it has released the key store.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("server task ends cleanly");
        }
    }

    /// Creates a user key and returns its id.
    pub async fn create_key(&mut self, alias: &str) -> String {
        self.client
            .create_key(pb::CreateKeyRequest {
                alias: alias.into(),
                description: format!("test key {alias}"),
                key_usage: String::new(),
                ..Default::default()
            })
            .await
            .expect("CreateKey")
            .into_inner()
            .key_metadata
            .expect("metadata")
            .key_id
    }

    /// DescribeKey's metadata.
    pub async fn describe(&mut self, key: &str) -> pb::KeyMetadata {
        self.client
            .describe_key(pb::DescribeKeyRequest { key_id: key.into() })
            .await
            .expect("DescribeKey")
            .into_inner()
            .key_metadata
            .expect("metadata")
    }

    /// GenerateDataKey with AES_256.
    pub async fn data_key(&mut self, key: &str, context: &str) -> pb::GenerateDataKeyResponse {
        self.client
            .generate_data_key(pb::GenerateDataKeyRequest {
                key_id: key.into(),
                key_spec: pb::KeySpec::Aes256 as i32,
                number_of_bytes: 0,
                encryption_context: context.into(),
                ..Default::default()
            })
            .await
            .expect("GenerateDataKey")
            .into_inner()
    }

    /// Decrypt, keeping the status on failure.
    pub async fn decrypt(
        &mut self,
        blob: &[u8],
        context: &str,
    ) -> Result<pb::DecryptResponse, tonic::Status> {
        self.client
            .decrypt(pb::DecryptRequest {
                ciphertext_blob: blob.to_vec(),
                encryption_context: context.into(),
                ..Default::default()
            })
            .await
            .map(tonic::Response::into_inner)
    }
}

impl Drop for TestKms {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Asserts a status's code, message and Tencent error code.
#[track_caller]
pub fn assert_status(status: &tonic::Status, code: tonic::Code, message: &str, tencent: &str) {
    assert_eq!(status.code(), code, "code of {status:?}");
    assert_eq!(status.message(), message, "message of {status:?}");
    let got = status
        .metadata()
        .get("x-kms-error-code")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert_eq!(got, tencent, "x-kms-error-code of {status:?}");
}
