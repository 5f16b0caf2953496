//! Library behaviour that needs a misbehaving server: retries of UNAVAILABLE for calls without side
//! effects only, timeouts, the `x-kms-error-code` metadata, per-item batch errors, broken answers.
//! The behaviour against the real server is covered by `cli.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use kms_client::{
    CreateKeyRequest, DecryptRequest, Error, GenerateDataKeyRequest, KmsClient, RetryPolicy,
};
use kms_proto::pb;
use kms_proto::pb::key_management_service_server::{
    KeyManagementService, KeyManagementServiceServer,
};
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status};

#[derive(Default)]
struct Mock {
    describe_calls: AtomicU32,
    create_calls: AtomicU32,
    random_calls: AtomicU32,
}

fn disabled() -> Status {
    let mut s = Status::failed_precondition("key k1 is Disabled");
    s.metadata_mut().insert(
        "x-kms-error-code",
        MetadataValue::from_static("ResourceUnavailable.CmkDisabled"),
    );
    s
}

fn with_code(mut s: Status, code: &'static str) -> Status {
    s.metadata_mut()
        .insert("x-kms-error-code", MetadataValue::from_static(code));
    s
}

type R<T> = Result<Response<T>, Status>;

macro_rules! mock_impl {
    ($($name:ident($req:ident) -> $resp:ident;)*) => {
        #[tonic::async_trait]
        impl KeyManagementService for Mock {
            async fn describe_key(&self, r: Request<pb::DescribeKeyRequest>) -> R<pb::DescribeKeyResponse> {
                let n = self.describe_calls.fetch_add(1, Ordering::SeqCst) + 1;
                match r.get_ref().key_id.as_str() {
                    // UNAVAILABLE twice, then an answer.
                    "flaky" if n <= 2 => Err(Status::unavailable("warming up")),
                    "down" => Err(Status::unavailable("down for good")),
                    "slow" => {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        Err(Status::internal("too late"))
                    }
                    "disabled" => Err(disabled()),
                    // The invalid-ciphertext code with other words, and those words without the code.
                    "opaque" => Err(with_code(
                        Status::invalid_argument("the blob does not open"),
                        "InvalidParameterValue.InvalidCiphertext",
                    )),
                    "textonly" => Err(Status::invalid_argument("invalid ciphertext")),
                    "archived" => Err(with_code(
                        Status::failed_precondition("key k1 is Archived"),
                        "ResourceUnavailable.CmkArchived",
                    )),
                    "nometa" => Ok(Response::new(pb::DescribeKeyResponse { key_metadata: None })),
                    // The deadline the client sent, as the alias.
                    "deadline" => Ok(Response::new(pb::DescribeKeyResponse {
                        key_metadata: Some(pb::KeyMetadata {
                            alias: r
                                .metadata()
                                .get("grpc-timeout")
                                .map_or("(none)".into(), |v| v.to_str().unwrap().to_owned()),
                            ..Default::default()
                        }),
                    })),
                    id => Ok(Response::new(pb::DescribeKeyResponse {
                        key_metadata: Some(pb::KeyMetadata {
                            key_id: id.to_owned(),
                            alias: "a".into(),
                            state: pb::KeyState::PendingDelete as i32,
                            create_time: 1_700_000_000,
                            current_key_version: 3,
                            ..Default::default()
                        }),
                    })),
                }
            }

            async fn create_key(&self, _r: Request<pb::CreateKeyRequest>) -> R<pb::CreateKeyResponse> {
                self.create_calls.fetch_add(1, Ordering::SeqCst);
                Err(Status::unavailable("warming up"))
            }

            async fn generate_random(&self, r: Request<pb::GenerateRandomRequest>) -> R<pb::GenerateRandomResponse> {
                let n = self.random_calls.fetch_add(1, Ordering::SeqCst) + 1;
                if n == 1 {
                    return Err(Status::unavailable("warming up"));
                }
                let len = usize::try_from(r.get_ref().number_of_bytes).unwrap();
                Ok(Response::new(pb::GenerateRandomResponse { plaintext: vec![7; len] }))
            }

            async fn batch_decrypt(&self, r: Request<pb::BatchDecryptRequest>) -> R<pb::BatchDecryptResponse> {
                use pb::batch_decrypt_result::Result as Item;
                let results = r
                    .into_inner()
                    .items
                    .into_iter()
                    .map(|item| pb::BatchDecryptResult {
                        result: Some(if item.ciphertext_blob == b"good" {
                            Item::Ok(pb::DecryptResponse { key_id: "k1".into(), plaintext: b"pt".to_vec(), key_version: 2 })
                        } else {
                            Item::Error(pb::ItemError {
                                code: 3,
                                message: "invalid ciphertext".into(),
                                error_code: "InvalidParameterValue.InvalidCiphertext".into(),
                            })
                        }),
                    })
                    .collect();
                Ok(Response::new(pb::BatchDecryptResponse { results }))
            }

            async fn batch_generate_data_key(
                &self,
                r: Request<pb::BatchGenerateDataKeyRequest>,
            ) -> R<pb::BatchGenerateDataKeyResponse> {
                use pb::batch_generate_data_key_result::Result as Item;
                let r = r.into_inner();
                let without = r.without_plaintext;
                let results = r
                    .items
                    .into_iter()
                    .map(|item| pb::BatchGenerateDataKeyResult {
                        result: Some(if item.key_id == "k1" {
                            Item::Ok(pb::GenerateDataKeyResponse {
                                key_id: "k1".into(),
                                plaintext: if without { Vec::new() } else { vec![1; 32] },
                                ciphertext_blob: b"blob".to_vec(),
                                key_version: 1,
                            })
                        } else {
                            Item::Error(pb::ItemError {
                                code: 9,
                                message: format!("key {} is Disabled", item.key_id),
                                error_code: "ResourceUnavailable.CmkDisabled".into(),
                            })
                        }),
                    })
                    .collect();
                Ok(Response::new(pb::BatchGenerateDataKeyResponse { results }))
            }

            $(
                async fn $name(&self, _r: Request<pb::$req>) -> R<pb::$resp> {
                    Err(Status::unimplemented(stringify!($name)))
                }
            )*
        }
    };
}

mock_impl! {
    list_keys(ListKeysRequest) -> ListKeysResponse;
    enable_key(EnableKeyRequest) -> EnableKeyResponse;
    disable_key(DisableKeyRequest) -> DisableKeyResponse;
    schedule_key_deletion(ScheduleKeyDeletionRequest) -> ScheduleKeyDeletionResponse;
    cancel_key_deletion(CancelKeyDeletionRequest) -> CancelKeyDeletionResponse;
    archive_key(ArchiveKeyRequest) -> ArchiveKeyResponse;
    cancel_key_archive(CancelKeyArchiveRequest) -> CancelKeyArchiveResponse;
    update_alias(UpdateAliasRequest) -> UpdateAliasResponse;
    update_key_description(UpdateKeyDescriptionRequest) -> UpdateKeyDescriptionResponse;
    enable_key_rotation(EnableKeyRotationRequest) -> EnableKeyRotationResponse;
    disable_key_rotation(DisableKeyRotationRequest) -> DisableKeyRotationResponse;
    get_key_rotation_status(GetKeyRotationStatusRequest) -> GetKeyRotationStatusResponse;
    rotate_key(RotateKeyRequest) -> RotateKeyResponse;
    get_default_key(GetDefaultKeyRequest) -> GetDefaultKeyResponse;
    generate_data_key(GenerateDataKeyRequest) -> GenerateDataKeyResponse;
    generate_data_key_without_plaintext(GenerateDataKeyRequest) -> GenerateDataKeyWithoutPlaintextResponse;
    encrypt(EncryptRequest) -> EncryptResponse;
    decrypt(DecryptRequest) -> DecryptResponse;
    re_encrypt(ReEncryptRequest) -> ReEncryptResponse;
    get_public_key(GetPublicKeyRequest) -> GetPublicKeyResponse;
    sign(SignRequest) -> SignResponse;
    verify(VerifyRequest) -> VerifyResponse;
    asymmetric_decrypt(AsymmetricDecryptRequest) -> AsymmetricDecryptResponse;
    seed_keys(SeedKeysRequest) -> SeedKeysResponse;
    get_parameters_for_import(GetParametersForImportRequest) -> GetParametersForImportResponse;
    import_key_material(ImportKeyMaterialRequest) -> ImportKeyMaterialResponse;
    delete_imported_key_material(DeleteImportedKeyMaterialRequest) -> DeleteImportedKeyMaterialResponse;
    describe_keys(DescribeKeysRequest) -> DescribeKeysResponse;
    enable_keys(EnableKeysRequest) -> EnableKeysResponse;
    disable_keys(DisableKeysRequest) -> DisableKeysResponse;
}

/// Starts the mock on 127.0.0.1:0 (with TLS when asked); returns its address.
async fn spawn_mock(mock: Arc<Mock>, tls: bool) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = KeyManagementServiceServer::from_arc(mock);
    let mut builder = tonic::transport::Server::builder();
    if tls {
        let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
        let cert = std::fs::read(format!("{data}/server.pem")).unwrap();
        let key = std::fs::read(format!("{data}/server.key")).unwrap();
        let identity = tonic::transport::Identity::from_pem(cert, key);
        builder = builder
            .tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))
            .unwrap();
    }
    tokio::spawn(async move {
        builder
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    addr
}

/// Starts the mock on 127.0.0.1:0; returns a client with fast retries and a 1 s timeout.
async fn start() -> (Arc<Mock>, KmsClient) {
    let mock = Arc::new(Mock::default());
    let addr = spawn_mock(Arc::clone(&mock), false).await;
    let kms = KmsClient::builder(format!("http://{addr}"))
        .request_timeout(Duration::from_secs(1))
        .retry_policy(RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
        })
        .connect()
        .await
        .unwrap();
    (mock, kms)
}

#[tokio::test]
async fn idempotent_calls_are_retried_after_unavailable() {
    let (mock, kms) = start().await;
    let m = kms.describe_key("flaky").await.unwrap();
    assert_eq!(m.key_id, "flaky");
    assert_eq!(mock.describe_calls.load(Ordering::SeqCst), 3);
    assert_eq!(m.state, kms_client::KeyState::PendingDelete);
    assert_eq!(m.create_time, Some(1_700_000_000));
    assert_eq!(m.deletion_date, None);

    let random = kms.generate_random(4).await.unwrap();
    assert_eq!(random.expose_secret(), &[7, 7, 7, 7]);
    assert_eq!(mock.random_calls.load(Ordering::SeqCst), 2);
}

/// Every call tells the server how long the client waits (`grpc-timeout`), as tonic writes it.
#[tokio::test]
async fn calls_send_their_deadline() {
    let tonics = |timeout| {
        let mut request = Request::new(());
        request.set_timeout(timeout);
        request
            .metadata()
            .get("grpc-timeout")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    let (_mock, kms) = start().await;
    // `start` sets 1 s.
    for (kms, timeout) in [
        (kms.clone(), Duration::from_secs(1)),
        (
            kms.with_request_timeout(Duration::from_millis(250)),
            Duration::from_millis(250),
        ),
    ] {
        let seen = kms.describe_key("deadline").await.unwrap().alias;
        assert_eq!(seen, tonics(timeout), "{timeout:?}");
    }
}

#[tokio::test]
async fn retries_stop_after_the_policy_limit() {
    let (mock, kms) = start().await;
    let e = kms.describe_key("down").await.unwrap_err();
    assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
    assert_eq!(e.to_string(), "KMS unavailable: down for good");
    assert_eq!(
        mock.describe_calls.load(Ordering::SeqCst),
        4,
        "1 attempt + 3 retries"
    );
}

#[tokio::test]
async fn calls_with_side_effects_are_not_retried() {
    let (mock, kms) = start().await;
    let e = kms
        .create_key(CreateKeyRequest::new("a"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
    assert_eq!(mock.create_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn slow_answers_time_out() {
    let (_mock, kms) = start().await;
    let e = kms.describe_key("slow").await.unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert_eq!(e.to_string(), "request timed out after 1s");
    assert!(e.is_unreachable());
}

#[tokio::test]
async fn server_message_and_tencent_code_are_kept() {
    let (_mock, kms) = start().await;
    let e = kms.describe_key("disabled").await.unwrap_err();
    assert!(matches!(e, Error::KeyStateConflict { .. }), "{e:?}");
    assert_eq!(e.to_string(), "key k1 is Disabled");
    assert_eq!(e.error_code(), Some("ResourceUnavailable.CmkDisabled"));
    assert_eq!(e.grpc_code(), Some(tonic::Code::FailedPrecondition));

    let e = kms.list_keys(&Default::default()).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Status {
                code: tonic::Code::Unimplemented,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn errors_are_classified_by_the_tencent_code_not_the_message() {
    let (_mock, kms) = start().await;
    let e = kms.describe_key("opaque").await.unwrap_err();
    assert!(matches!(e, Error::InvalidCiphertext { .. }), "{e:?}");
    assert_eq!(
        e.error_code(),
        Some(kms_client::ErrorCode::InvalidCiphertext.as_str())
    );

    let e = kms.describe_key("textonly").await.unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
    assert_eq!(e.to_string(), "invalid ciphertext");
    assert_eq!(e.error_code(), None);

    let e = kms.describe_key("archived").await.unwrap_err();
    assert!(matches!(e, Error::KeyStateConflict { .. }), "{e:?}");
    assert_eq!(e.error_code(), Some("ResourceUnavailable.CmkArchived"));
}

#[tokio::test]
async fn missing_metadata_is_a_protocol_error() {
    let (_mock, kms) = start().await;
    let e = kms.describe_key("nometa").await.unwrap_err();
    assert!(matches!(e, Error::Protocol(_)), "{e:?}");
}

#[tokio::test]
async fn batch_items_fail_on_their_own() {
    let (_mock, kms) = start().await;
    let results = kms
        .batch_decrypt(vec![
            DecryptRequest::new(b"good".to_vec()),
            DecryptRequest::new(b"bad".to_vec()),
        ])
        .await
        .unwrap();
    assert_eq!(results.len(), 2);
    let ok = results[0].as_ref().unwrap();
    assert_eq!(ok.plaintext.expose_secret(), b"pt");
    assert_eq!(ok.key_version, 2);
    assert!(
        format!("{ok:?}").contains("REDACTED"),
        "Debug must not show the plaintext"
    );
    let err = results[1].as_ref().unwrap_err();
    assert!(matches!(err, Error::InvalidCiphertext { .. }), "{err:?}");
    assert_eq!(
        err.error_code(),
        Some("InvalidParameterValue.InvalidCiphertext")
    );

    let items = vec![
        GenerateDataKeyRequest::new("k1"),
        GenerateDataKeyRequest::new("k2"),
    ];
    let results = kms.batch_generate_data_key(items.clone()).await.unwrap();
    let dk = results[0].as_ref().unwrap();
    assert_eq!(dk.plaintext.len(), 32);
    assert_eq!(dk.ciphertext_blob, b"blob");
    let err = results[1].as_ref().unwrap_err();
    assert!(matches!(err, Error::KeyStateConflict { .. }), "{err:?}");
    assert_eq!(err.to_string(), "key k2 is Disabled");

    let results = kms
        .batch_generate_data_key_without_plaintext(items)
        .await
        .unwrap();
    assert_eq!(results[0].as_ref().unwrap().ciphertext_blob, b"blob");
    assert!(results[1].is_err());
}

#[tokio::test]
async fn from_channel_works() {
    let (_mock, kms) = start().await;
    let channel = tonic::transport::Endpoint::from_shared(kms.endpoint().to_owned())
        .unwrap()
        .connect_lazy();
    let other = KmsClient::from_channel(channel).with_retry_policy(RetryPolicy::none());
    assert_eq!(
        other.describe_key("x").await.unwrap().current_key_version,
        3
    );
}

#[tokio::test]
async fn https_endpoints_verify_the_server_with_the_ca_file() {
    let addr = spawn_mock(Arc::new(Mock::default()), true).await;
    let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ca.pem");
    let kms = KmsClient::builder(format!("https://localhost:{}", addr.port()))
        .ca_file(ca)
        .request_timeout(Duration::from_secs(5))
        .retry_policy(RetryPolicy::none())
        .connect()
        .await
        .unwrap();
    assert_eq!(kms.describe_key("x").await.unwrap().current_key_version, 3);

    // Without the CA the server's certificate is not trusted: the call fails, it is not sent in clear.
    let untrusted = KmsClient::builder(format!("https://localhost:{}", addr.port()))
        .request_timeout(Duration::from_secs(5))
        .retry_policy(RetryPolicy::none())
        .connect_lazy()
        .unwrap();
    let err = untrusted.describe_key("x").await.unwrap_err();
    assert!(
        matches!(
            err,
            kms_client::Error::Unavailable { .. } | kms_client::Error::Transport { .. }
        ),
        "{err:?}"
    );
}

/// A TCP proxy to `upstream` that can go silent: once `silent` is set it reads on and forwards
/// nothing, like a host that vanished without closing its connections.
async fn spawn_proxy(
    upstream: std::net::SocketAddr,
) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicBool>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let silent = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = Arc::clone(&silent);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = tokio::net::TcpStream::connect(upstream).await.unwrap();
            let (client_r, client_w) = client.into_split();
            let (server_r, server_w) = server.into_split();
            for (mut from, mut to) in [(client_r, server_w), (server_r, client_w)] {
                let silent = Arc::clone(&flag);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    while let Ok(n @ 1..) = from.read(&mut buf).await {
                        if !silent.load(Ordering::SeqCst) && to.write_all(&buf[..n]).await.is_err()
                        {
                            break;
                        }
                    }
                });
            }
        }
    });
    (addr, silent)
}

/// A server that goes silent (no FIN, no RST) fails the call in flight once a ping goes
/// unanswered, not after the call's whole timeout; the next call connects again.
#[tokio::test]
async fn a_silent_server_is_found_out_by_its_unanswered_pings() {
    let mock = Arc::new(Mock::default());
    let (proxy, silent) = spawn_proxy(spawn_mock(Arc::clone(&mock), false).await).await;
    let kms = KmsClient::builder(format!("http://{proxy}"))
        .request_timeout(Duration::from_secs(600))
        .keepalive(Duration::from_millis(100), Duration::from_secs(2))
        .retry_policy(RetryPolicy::none())
        .connect()
        .await
        .unwrap();
    assert_eq!(kms.describe_key("k1").await.unwrap().key_id, "k1");
    silent.store(true, Ordering::SeqCst);
    let e = tokio::time::timeout(Duration::from_secs(60), kms.describe_key("k1"))
        .await
        .expect("the call waited for its request timeout")
        .unwrap_err();
    assert!(
        matches!(e, Error::Unavailable { .. } | Error::Transport { .. }),
        "{e:?}"
    );
    silent.store(false, Ordering::SeqCst);
    assert_eq!(kms.describe_key("k2").await.unwrap().key_id, "k2");
}
