//! The transport over real sockets, through `server::serve`: TLS from PEM files, mutual TLS with
//! the client certificate optional and required, the identity digest of a verified client
//! certificate, the limits (message size, open connections, call deadline), and requests that do
//! not decode, on every RPC.
#![cfg(feature = "grpc")]

use std::{
    net::SocketAddr,
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::{Buf as _, BufMut as _, Bytes};
use kms_proto::pb::{self, key_management_service_client::KeyManagementServiceClient};
use kms_server::{
    Config, Kms, RootKey,
    limits::Limits,
    server::{ServeError, ServerOptions, serve},
    tls::{ServerTls, TlsArgs, client_cert_digest},
};
use local_pki::{Issued, LocalCa};
use prost::Message as _;
use tokio::{sync::oneshot, task::JoinHandle};
use tonic::{
    Code, Request, Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    codegen::http::uri::PathAndQuery,
    transport::{Certificate, Channel, ClientTlsConfig, Identity},
};
use tonic_health::pb::{
    HealthCheckRequest, HealthCheckResponse, health_check_response::ServingStatus,
    health_client::HealthClient,
};

const SERVICE: &str = "kms.v1.KeyManagementService";

/// A server on 127.0.0.1:0 over a fresh data directory, stopped gracefully by [`Running::stop`].
struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
    _dir: tempfile::TempDir,
}

async fn start(options: ServerOptions) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let root = RootKey::from_base64("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=").unwrap();
    let kms = Arc::new(Kms::open(Config::new(dir.path(), root)).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, kms, options, async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stop: Some(stop),
        task,
        _dir: dir,
    }
}

impl Running {
    fn plain(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect_lazy()
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the server stops")
            .unwrap()
            .unwrap();
    }
}

fn with_tls(tls: ServerTls) -> ServerOptions {
    ServerOptions {
        tls: Some(tls),
        ..ServerOptions::default()
    }
}

/// A TLS channel to 127.0.0.1 (checked against the certificate's IP address) trusting `ca_pem`,
/// presenting `client` if given.
async fn tls_channel(
    addr: SocketAddr,
    ca_pem: &str,
    client: Option<&Issued>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca_pem));
    if let Some(c) = client {
        tls = tls.identity(Identity::from_pem(&c.cert_pem, c.key_pem.as_bytes()));
    }
    Channel::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)?
        .connect()
        .await
}

/// Health, then GetDefaultKey, over a fresh TLS connection; any failure as text.
async fn health_and_default_key(
    addr: SocketAddr,
    ca_pem: &str,
    client: Option<&Issued>,
) -> Result<(), String> {
    let channel = tls_channel(addr, ca_pem, client)
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    let health = HealthClient::new(channel.clone())
        .check(HealthCheckRequest::default())
        .await
        .map_err(|s| format!("health: {s:?}"))?;
    assert_eq!(health.into_inner().status(), ServingStatus::Serving);
    let key = KeyManagementServiceClient::new(channel)
        .get_default_key(pb::GetDefaultKeyRequest::default())
        .await
        .map_err(|s| format!("GetDefaultKey: {s:?}"))?;
    assert!(key.into_inner().key_metadata.is_some());
    Ok(())
}

/// Writes `text` to `dir/name`.
fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A server certificate from a CA, as PEM files, and the TLS flags naming them.
fn pem_files(dir: &Path, ca: &LocalCa) -> TlsArgs {
    let server = ca.issue_server("kms-server", &[]).unwrap();
    TlsArgs {
        tls_cert: Some(write(dir, "server.pem", &server.cert_pem)),
        tls_key: Some(write(dir, "server.key", &server.key_pem)),
        ..TlsArgs::default()
    }
}

/// A server with TLS from PEM files issued by a fresh CA; the server and the CA.
async fn start_tls_from_pem_files() -> (Running, LocalCa) {
    let files = tempfile::tempdir().unwrap();
    let ca = LocalCa::generate("test CA").unwrap();
    let tls = pem_files(files.path(), &ca)
        .load(files.path())
        .unwrap()
        .unwrap();
    (start(with_tls(tls)).await, ca)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_from_pem_files_serves_and_plain_text_is_refused() {
    let (server, ca) = start_tls_from_pem_files().await;
    health_and_default_key(server.addr, &ca.cert_pem(), None)
        .await
        .unwrap();

    // A client that trusts another CA, and a plain-text client, get nowhere.
    let other = LocalCa::generate("other CA").unwrap();
    assert!(
        health_and_default_key(server.addr, &other.cert_pem(), None)
            .await
            .is_err()
    );
    // The server closes the connection at the first plain-text bytes; which code the client makes
    // of that (UNAVAILABLE, CANCELLED, UNKNOWN) depends on when it notices.
    let plain = KeyManagementServiceClient::new(server.plain())
        .get_default_key(pb::GetDefaultKeyRequest::default())
        .await;
    assert!(plain.is_err(), "a plain-text call was served: {plain:?}");
    server.stop().await;
}

/// A TLS client of `addr` trusting `ca_pem` that offers only `alpn` (nothing when empty); the
/// protocol the server chose, and the stream.
async fn tls_connect(
    addr: SocketAddr,
    ca_pem: &str,
    alpn: &[&[u8]],
) -> std::io::Result<(
    Option<Vec<u8>>,
    tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
)> {
    use rustls_pki_types::{CertificateDer, pem::PemObject as _};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await?;
    let chosen = stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    Ok((chosen, stream))
}

/// The Tencent API (HTTP/1.1) and gRPC (HTTP/2) share the TLS port: the handshake offers both, so
/// a client that asks only for `http/1.1` (the Tencent SDKs and tccli over HTTPS) gets it, one
/// that asks for `h2` gets that, and one that offers nothing is served too. A client offering
/// only protocols the server does not speak is refused at the handshake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_offers_http1_for_the_tencent_api_next_to_h2() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (server, ca) = start_tls_from_pem_files().await;
    let ca_pem = ca.cert_pem();

    for (offered, chosen) in [
        (&[b"http/1.1".as_slice()][..], Some(b"http/1.1".to_vec())),
        (&[], None),
    ] {
        let (alpn, mut stream) = tls_connect(server.addr, &ca_pem, offered).await.unwrap();
        assert_eq!(alpn, chosen);
        let body = "{}";
        let request = format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-TC-Action: GetServiceStatus\r\n\
             X-TC-Version: 2019-01-18\r\nX-TC-Region: ap-guangzhou\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
        assert!(response.contains("\"ServiceEnabled\":true"), "{response}");
    }

    let (alpn, _) = tls_connect(server.addr, &ca_pem, &[b"h2"]).await.unwrap();
    assert_eq!(alpn.as_deref(), Some(b"h2".as_slice()));
    health_and_default_key(server.addr, &ca_pem, None)
        .await
        .unwrap();

    let refused = tls_connect(server.addr, &ca_pem, &[b"spdy/3"]).await;
    let err = refused.expect_err("an unknown protocol was accepted");
    assert!(err.to_string().contains("NoApplicationProtocol"), "{err}");
    server.stop().await;
}

/// The server runs the TLS handshakes itself, each on its own task: clients that connect and say
/// nothing, or send garbage, hold up no one else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_garbage_tls_clients_do_not_block_the_handshakes_of_others() {
    use tokio::io::AsyncWriteExt as _;
    let (server, ca) = start_tls_from_pem_files().await;
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(tokio::net::TcpStream::connect(server.addr).await.unwrap());
    }
    let mut garbage = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    garbage.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(5),
        health_and_default_key(server.addr, &ca.cert_pem(), None),
    )
    .await
    .expect("a handshake waited for the silent clients")
    .unwrap();
    drop(idle);
    server.stop().await;
}

/// With `--tls-client-ca` alone a certificate is optional (token callers still connect), but one
/// that does not chain to the CA fails; with `--tls-require-client-cert` none fails too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_optional_and_required() {
    let files = tempfile::tempdir().unwrap();
    let server_ca = LocalCa::generate("server CA").unwrap();
    let client_ca = LocalCa::generate("client CA").unwrap();
    let stranger_ca = LocalCa::generate("stranger CA").unwrap();
    let client = client_ca.issue_client("storage").unwrap();
    let stranger = stranger_ca.issue_client("storage").unwrap();
    let optional = TlsArgs {
        tls_client_ca: Some(write(files.path(), "clients.pem", &client_ca.cert_pem())),
        ..pem_files(files.path(), &server_ca)
    };
    let required = TlsArgs {
        tls_require_client_cert: true,
        ..optional.clone()
    };
    let ca = server_ca.cert_pem();

    let server = start(with_tls(optional.load(files.path()).unwrap().unwrap())).await;
    health_and_default_key(server.addr, &ca, None)
        .await
        .unwrap();
    health_and_default_key(server.addr, &ca, Some(&client))
        .await
        .unwrap();
    let refused = health_and_default_key(server.addr, &ca, Some(&stranger)).await;
    assert!(refused.is_err(), "a certificate of another CA got in");
    server.stop().await;

    let server = start(with_tls(required.load(files.path()).unwrap().unwrap())).await;
    let refused = health_and_default_key(server.addr, &ca, None).await;
    assert!(refused.is_err(), "a client without a certificate got in");
    health_and_default_key(server.addr, &ca, Some(&client))
        .await
        .unwrap();
    let refused = health_and_default_key(server.addr, &ca, Some(&stranger)).await;
    assert!(refused.is_err(), "a certificate of another CA got in");
    server.stop().await;
}

/// A health service that records what [`client_cert_digest`] says of each call.
#[derive(Debug, Clone, Default)]
struct DigestRecorder {
    seen: Arc<Mutex<Vec<Option<[u8; 32]>>>>,
}

#[tonic::async_trait]
impl tonic_health::pb::health_server::Health for DigestRecorder {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<HealthCheckResponse>, Status> {
        self.seen.lock().unwrap().push(client_cert_digest(&request));
        Ok(tonic::Response::new(HealthCheckResponse {
            status: ServingStatus::Serving.into(),
        }))
    }

    type WatchStream = tokio_stream::Empty<Result<HealthCheckResponse, Status>>;

    async fn watch(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
}

/// The digest is the verified certificate's SPKI SHA-256, through the server's own connection
/// gate (which must keep the TLS connect info), and `None` for a call without a certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_cert_digest_names_the_verified_certificate() {
    let files = tempfile::tempdir().unwrap();
    let ca = LocalCa::generate("test CA").unwrap();
    let client = ca.issue_client("storage").unwrap();
    let tls = TlsArgs {
        tls_client_ca: Some(write(files.path(), "clients.pem", &ca.cert_pem())),
        ..pem_files(files.path(), &ca)
    }
    .load(files.path())
    .unwrap()
    .unwrap();
    let recorder = DigestRecorder::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let idle = kms_server::limits::idle_limit(kms_server::limits::DEFAULT_CALL_DEADLINE);
    let incoming =
        kms_server::tls::accept(kms_server::limits::incoming(listener, 4, idle), tls.config);
    let server = tonic::transport::Server::builder()
        .add_service(tonic_health::pb::health_server::HealthServer::new(
            recorder.clone(),
        ))
        .serve_with_incoming_shutdown(incoming, async {
            let _ = stopped.await;
        });
    let task = tokio::spawn(server);

    for presented in [Some(&client), None] {
        let channel = tls_channel(addr, &ca.cert_pem(), presented).await.unwrap();
        HealthClient::new(channel)
            .check(HealthCheckRequest::default())
            .await
            .unwrap();
    }
    let seen = recorder.seen.lock().unwrap().clone();
    assert_eq!(seen, vec![Some(client.spki_sha256().unwrap()), None]);
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

/// Sends and receives raw message bytes, so a test can send what no typed client would.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining())))
    }
}

/// Calls `/kms.v1.KeyManagementService/<method>` with `body` as the message.
async fn raw_call(channel: &Channel, method: &str, body: Vec<u8>) -> Result<Bytes, Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let path = PathAndQuery::try_from(format!("/{SERVICE}/{method}")).unwrap();
    grpc.unary(Request::new(Bytes::from(body)), path, RawCodec)
        .await
        .map(tonic::Response::into_inner)
}

/// A GetDefaultKeyRequest of exactly `len` bytes: an unknown bytes field (number 15) as padding,
/// which the server skips.
fn padded_request(len: usize) -> Vec<u8> {
    let mut header = vec![15 << 3 | 2];
    let mut payload = len - 2;
    loop {
        header.truncate(1);
        prost::encoding::encode_varint(payload as u64, &mut header);
        if header.len() + payload == len {
            break;
        }
        payload = len - header.len();
    }
    let mut body = header;
    body.resize(len, 0xa5);
    assert!(pb::GetDefaultKeyRequest::decode(&body[..]).is_ok());
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_limit_is_out_of_range() {
    for limit in [1000, kms_server::limits::DEFAULT_MAX_MESSAGE_BYTES] {
        let server = start(ServerOptions {
            limits: Limits {
                max_message_bytes: limit,
                ..Limits::default()
            },
            ..ServerOptions::default()
        })
        .await;
        let channel = server.plain();
        raw_call(&channel, "GetDefaultKey", padded_request(limit))
            .await
            .unwrap();
        let status = raw_call(&channel, "GetDefaultKey", padded_request(limit + 1))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
        assert_eq!(
            status.message(),
            format!(
                "Error, decoded message length too large: found {} bytes, the limit is: {limit} bytes",
                limit + 1
            )
        );
        server.stop().await;
    }
}

/// With one connection slot, a second connection waits while the first is open and is served
/// once it closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_limit_wait_for_a_free_slot() {
    let server = start(ServerOptions {
        limits: Limits {
            max_connections: 1,
            ..Limits::default()
        },
        ..ServerOptions::default()
    })
    .await;
    let first = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    // Let the server accept it (and so take the only slot).
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut second = KeyManagementServiceClient::new(server.plain());
    let waited = tokio::time::timeout(
        Duration::from_millis(700),
        second.get_default_key(pb::GetDefaultKeyRequest::default()),
    )
    .await;
    assert!(
        waited.is_err(),
        "served while the slot was taken: {waited:?}"
    );

    drop(first);
    let served = tokio::time::timeout(
        Duration::from_secs(10),
        second.get_default_key(pb::GetDefaultKeyRequest::default()),
    )
    .await
    .expect("served once the slot is free");
    served.unwrap();
    server.stop().await;
}

/// A call still running at the deadline fails with CANCELLED: here the request body never comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_past_the_deadline_is_cancelled() {
    let deadline = Duration::from_millis(300);
    let server = start(ServerOptions {
        limits: Limits {
            call_deadline: deadline,
            ..Limits::default()
        },
        ..ServerOptions::default()
    })
    .await;
    let mut grpc = tonic::client::Grpc::new(server.plain());
    grpc.ready().await.unwrap();
    let path = PathAndQuery::try_from(format!("/{SERVICE}/GetDefaultKey")).unwrap();
    let started = Instant::now();
    let never = tokio_stream::pending::<Bytes>();
    let status = tokio::time::timeout(
        Duration::from_secs(10),
        grpc.client_streaming(Request::new(never), path, RawCodec),
    )
    .await
    .expect("the server ends the call")
    .unwrap_err();
    assert_eq!(status.code(), Code::Cancelled, "{status:?}");
    assert_eq!(status.message(), "Timeout expired");
    assert!(started.elapsed() >= deadline);
    server.stop().await;
}

/// Whether `bytes` decode as the request type `full_name`, or `None` for a type this table lacks
/// (the test then fails: a new RPC must be added here).
fn decodes(full_name: &str, bytes: &[u8]) -> Option<bool> {
    macro_rules! table {
        ($($ty:ident),* $(,)?) => {
            match full_name {
                $(concat!("kms.v1.", stringify!($ty)) => Some(pb::$ty::decode(bytes).is_ok()),)*
                _ => None,
            }
        };
    }
    table![
        CreateKeyRequest,
        DescribeKeyRequest,
        ListKeysRequest,
        EnableKeyRequest,
        DisableKeyRequest,
        ScheduleKeyDeletionRequest,
        CancelKeyDeletionRequest,
        ArchiveKeyRequest,
        CancelKeyArchiveRequest,
        UpdateAliasRequest,
        UpdateKeyDescriptionRequest,
        EnableKeyRotationRequest,
        DisableKeyRotationRequest,
        GetKeyRotationStatusRequest,
        RotateKeyRequest,
        GetDefaultKeyRequest,
        GenerateDataKeyRequest,
        EncryptRequest,
        DecryptRequest,
        ReEncryptRequest,
        GenerateRandomRequest,
        BatchGenerateDataKeyRequest,
        BatchDecryptRequest,
        SeedKeysRequest,
        GetPublicKeyRequest,
        SignRequest,
        VerifyRequest,
        AsymmetricDecryptRequest,
        GetParametersForImportRequest,
        ImportKeyMaterialRequest,
        DeleteImportedKeyMaterialRequest,
        DescribeKeysRequest,
        EnableKeysRequest,
        DisableKeysRequest,
    ]
}

/// A valid encoding of a message with every field of `message` set (strings and bytes to "abc",
/// numbers, booleans and enums to 1, nested messages empty), or an unknown bytes field when the
/// message has no fields. Every field's encoding ends inside that field, so dropping the last
/// byte always leaves a truncated message.
fn every_field_set(message: &prost_types::DescriptorProto) -> Vec<u8> {
    use prost_types::field_descriptor_proto::Type;
    let mut out = Vec::new();
    for field in &message.field {
        let number = u64::try_from(field.number()).unwrap();
        match field.r#type() {
            Type::String | Type::Bytes => {
                prost::encoding::encode_varint(number << 3 | 2, &mut out);
                out.extend_from_slice(&[3, b'a', b'b', b'c']);
            }
            Type::Message => {
                prost::encoding::encode_varint(number << 3 | 2, &mut out);
                out.push(0);
            }
            Type::Bool | Type::Enum | Type::Int32 | Type::Int64 | Type::Uint32 | Type::Uint64 => {
                prost::encoding::encode_varint(number << 3, &mut out);
                out.push(1);
            }
            other => panic!("{}: add {other:?} to this test", field.name()),
        }
    }
    if out.is_empty() {
        out.extend_from_slice(&[15 << 3 | 2, 3, b'a', b'b', b'c']);
    }
    out
}

/// For every RPC of the service: a wire type that does not exist, random bytes that do not decode
/// and a truncated valid message are INVALID_ARGUMENT naming the request type, with the Tencent
/// code, never INTERNAL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_do_not_decode_are_invalid_argument_on_every_rpc() {
    use rand::{Rng as _, SeedableRng as _};
    let set = prost_types::FileDescriptorSet::decode(kms_proto::FILE_DESCRIPTOR_SET).unwrap();
    let file = &set.file[0];
    let service = &file.service[0];
    assert_eq!(format!("{}.{}", file.package(), service.name()), SERVICE);
    let message = |full_name: &str| {
        file.message_type
            .iter()
            .find(|m| format!("kms.v1.{}", m.name()) == full_name)
            .unwrap()
    };

    let server = start(ServerOptions::default()).await;
    let channel = server.plain();
    let mut rng = rand::rngs::StdRng::seed_from_u64(17);
    let mut undecodable_random = 0;
    for method in &service.method {
        let input = method.input_type().trim_start_matches('.');
        let mut bodies = vec![("wire type 7".to_owned(), vec![0x0f])];
        let valid = every_field_set(message(input));
        assert_eq!(
            decodes(input, &valid),
            Some(true),
            "{input} is not in the table"
        );
        let truncated = valid[..valid.len() - 1].to_vec();
        assert_eq!(decodes(input, &truncated), Some(false));
        bodies.push(("truncated".to_owned(), truncated));
        for i in 0..8 {
            let len = rng.random_range(1..64);
            let random: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            // The few random strings that happen to decode are valid requests, not this test's.
            if decodes(input, &random) == Some(false) {
                undecodable_random += 1;
                bodies.push((format!("random #{i}"), random));
            }
        }
        for (what, body) in bodies {
            let status = raw_call(&channel, method.name(), body).await.unwrap_err();
            let context = format!("{} with {what}: {status:?}", method.name());
            assert_eq!(status.code(), Code::InvalidArgument, "{context}");
            assert!(
                status
                    .message()
                    .starts_with(&format!("request does not decode as {input}: ")),
                "{context}"
            );
            assert_eq!(
                status
                    .metadata()
                    .get(kms_types::ERROR_CODE_METADATA)
                    .unwrap(),
                kms_types::ErrorCode::InvalidParameterValue.as_str(),
                "{context}"
            );
        }
    }
    assert!(
        undecodable_random > service.method.len() * 4,
        "{undecodable_random}"
    );
    server.stop().await;
}

/// A client that opens an HTTP/2 connection and then never reads or answers (a stopped process,
/// a peer gone without a FIN) cannot hold a stopping server: the drain ends one second after the
/// call deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_cannot_keep_a_stopping_server_running() {
    use tokio::io::AsyncWriteExt as _;
    let server = start(ServerOptions {
        limits: Limits {
            // Long enough for the one served call below on a loaded machine.
            call_deadline: Duration::from_secs(1),
            ..Limits::default()
        },
        ..ServerOptions::default()
    })
    .await;
    let mut silent = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    // The HTTP/2 preface and an empty SETTINGS frame; then nothing, and nothing read.
    silent
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    // A served call shows the server is up, and lets it take the silent connection in.
    let mut client = KeyManagementServiceClient::new(server.plain());
    client
        .get_default_key(pb::GetDefaultKeyRequest::default())
        .await
        .unwrap();
    drop(client);
    server.stop().await;
    drop(silent);
}
