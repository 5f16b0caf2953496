//! Credentials over real TLS on loopback: a tonic server with the real KMS service, a certificate
//! from a `LocalCa`, mutual TLS against a client CA, and an interceptor that stands for the
//! server's policy check (it requires a known bearer token or a client certificate, and records
//! what arrived). Shows that the token and the client certificate reach the server, that a wrong
//! CA is refused on either side, that a token is never sent in clear to another host, and that
//! `kms-admin` presents the same credentials and names them as the policy does.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{admin_with_env, path_str, tempdir};
use kms_client::{BearerToken, ClientBuilder, Error, KmsClient, RetryPolicy, SecretBytes};
use kms_proto::pb::key_management_service_server::KeyManagementServiceServer;
use local_pki::{Issued, LocalCa};
use sha2::{Digest as _, Sha256};
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

/// The token the test server knows.
const TOKEN: &str = "test-token-0123456789abcdef";

/// What one call presented.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    /// The whole `authorization` value, if any.
    authorization: Option<String>,
    /// The identity digest of the client certificate, if any.
    cert_sha256: Option<[u8; local_pki::DIGEST_LEN]>,
}

/// A KMS behind TLS (client certificates optional, from `client_ca`) on its own thread.
struct TlsServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl TlsServer {
    fn start(server_ca: &LocalCa, client_ca: &LocalCa) -> TlsServer {
        let dir = tempdir();
        let kms = Arc::new(kms_server::Kms::open(common::config(dir.path())).unwrap());
        let issued = server_ca.issue_server("kms", &[]).unwrap();
        let tls = ServerTlsConfig::new()
            .identity(Identity::from_pem(
                &issued.cert_pem,
                issued.key_pem.as_bytes(),
            ))
            .client_ca_root(Certificate::from_pem(client_ca.cert_pem()))
            .client_auth_optional(true);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let check = move |req: tonic::Request<()>| -> Result<tonic::Request<()>, tonic::Status> {
            let authorization = req
                .metadata()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let cert_sha256 = req
                .peer_certs()
                .and_then(|certs| certs.first().map(|c| local_pki::spki_sha256(c).unwrap()));
            let known_token = authorization.as_deref() == Some(&format!("Bearer {TOKEN}"));
            record.lock().unwrap().push(Seen {
                authorization: authorization.clone(),
                cert_sha256,
            });
            if known_token || (authorization.is_none() && cert_sha256.is_some()) {
                Ok(req)
            } else {
                let mut status = tonic::Status::unauthenticated("no valid credential");
                status.metadata_mut().insert(
                    "x-kms-error-code",
                    MetadataValue::from_static("AuthFailure"),
                );
                Err(status)
            }
        };
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let service = KeyManagementServiceServer::with_interceptor(
                    kms_server::service::KmsService::new(kms),
                    check,
                );
                Server::builder()
                    .tls_config(tls)
                    .unwrap()
                    .add_service(service)
                    .serve_with_incoming_shutdown(
                        tokio_stream::wrappers::TcpListenerStream::new(listener),
                        async {
                            let _ = shutdown_rx.await;
                        },
                    )
                    .await
                    .unwrap();
            });
        });
        let addr = addr_rx
            .recv()
            .expect("the server thread died before listening");
        TlsServer {
            addr,
            seen,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
            _dir: dir,
        }
    }

    fn endpoint(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn last_seen(&self) -> Seen {
        self.seen()
            .last()
            .cloned()
            .expect("a call reached the server")
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A server CA, a client CA and a server.
fn setup() -> (LocalCa, LocalCa, TlsServer) {
    let server_ca = LocalCa::generate("test server CA").unwrap();
    let client_ca = LocalCa::generate("test client CA").unwrap();
    let server = TlsServer::start(&server_ca, &client_ca);
    (server_ca, client_ca, server)
}

fn builder(server: &TlsServer, server_ca: &LocalCa) -> ClientBuilder {
    KmsClient::builder(server.endpoint())
        .ca_pem(server_ca.cert_pem())
        .connect_timeout(Duration::from_secs(5))
        .request_timeout(Duration::from_secs(10))
        .retry_policy(RetryPolicy::none())
}

/// Writes `contents` to `dir/name` with mode 0600.
fn secret_file(dir: &Path, name: &str, contents: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
}

/// The client certificate and key written to files.
fn identity_files(dir: &Path, issued: &Issued) -> (PathBuf, PathBuf) {
    (
        secret_file(dir, "client.pem", issued.cert_pem.as_bytes()),
        secret_file(dir, "client.key", issued.key_pem.as_bytes()),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_arrives_with_every_call() {
    let (server_ca, _client_ca, server) = setup();
    let kms = builder(&server, &server_ca)
        .token(BearerToken::new(TOKEN).unwrap())
        .connect()
        .await
        .unwrap();
    let key = kms.get_default_key().await.unwrap();
    kms.describe_key(&key.key_id).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for s in seen {
        assert_eq!(
            s.authorization.as_deref(),
            Some(&*format!("Bearer {TOKEN}"))
        );
        assert_eq!(s.cert_sha256, None);
    }

    // From a file, one trailing newline dropped.
    let dir = tempdir();
    let file = secret_file(dir.path(), "token", format!("{TOKEN}\n").as_bytes());
    let kms = builder(&server, &server_ca)
        .token_file(&file)
        .connect()
        .await
        .unwrap();
    kms.get_default_key().await.unwrap();
    assert_eq!(
        server.last_seen().authorization.as_deref(),
        Some(&*format!("Bearer {TOKEN}"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_or_wrong_credential_is_unauthenticated() {
    let (server_ca, _client_ca, server) = setup();
    let kms = builder(&server, &server_ca).connect().await.unwrap();
    let e = kms.get_default_key().await.unwrap_err();
    assert!(matches!(e, Error::Unauthenticated { .. }), "{e:?}");
    assert_eq!(e.to_string(), "no valid credential");
    assert_eq!(e.error_code(), Some("AuthFailure"));
    assert_eq!(server.last_seen().authorization, None);

    let kms = builder(&server, &server_ca)
        .token(BearerToken::new("not-the-token").unwrap())
        .connect()
        .await
        .unwrap();
    let e = kms.get_default_key().await.unwrap_err();
    assert!(matches!(e, Error::Unauthenticated { .. }), "{e:?}");
    assert_eq!(
        server.last_seen().authorization.as_deref(),
        Some("Bearer not-the-token")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_is_presented_and_accepted() {
    let (server_ca, client_ca, server) = setup();
    let storage = client_ca.issue_client("storage").unwrap();
    let dir = tempdir();
    let (cert, key) = identity_files(dir.path(), &storage);
    let kms = builder(&server, &server_ca)
        .client_identity_files(&cert, &key)
        .connect()
        .await
        .unwrap();
    kms.get_default_key().await.unwrap();
    assert_eq!(
        server.last_seen(),
        Seen {
            authorization: None,
            cert_sha256: Some(storage.spki_sha256().unwrap()),
        }
    );

    // The PEM variant, with a token as well: both arrive.
    let kms = builder(&server, &server_ca)
        .client_identity_pem(
            storage.cert_pem.as_bytes(),
            SecretBytes::from(storage.key_pem.as_bytes()),
        )
        .token(BearerToken::new(TOKEN).unwrap())
        .connect()
        .await
        .unwrap();
    kms.get_default_key().await.unwrap();
    let seen = server.last_seen();
    assert_eq!(seen.cert_sha256, Some(storage.spki_sha256().unwrap()));
    assert_eq!(
        seen.authorization.as_deref(),
        Some(&*format!("Bearer {TOKEN}"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_from_another_ca_is_refused() {
    let (server_ca, _client_ca, server) = setup();
    let stranger = LocalCa::generate("someone else's CA")
        .unwrap()
        .issue_client("intruder")
        .unwrap();
    let dir = tempdir();
    let (cert, key) = identity_files(dir.path(), &stranger);
    let result = async {
        let kms = builder(&server, &server_ca)
            .client_identity_files(&cert, &key)
            .connect()
            .await?;
        kms.get_default_key().await
    }
    .await;
    // In TLS 1.3 the server checks the client certificate after the client has finished its side
    // of the handshake, so the refusal reaches the client as the server's alert (`UnknownCA`) or,
    // when the connection closes first, as a broken or cancelled stream: a transport-level
    // failure, never an answer.
    let e = result.unwrap_err();
    assert!(
        e.is_unreachable()
            || matches!(
                e.grpc_code(),
                Some(tonic::Code::Cancelled | tonic::Code::Unknown)
            ),
        "{e:?}"
    );
    assert!(
        server.seen().is_empty(),
        "no call got through: {:?}",
        server.seen()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_certificate_from_another_ca_is_refused() {
    let (_server_ca, client_ca, server) = setup();
    let e = builder(&server, &client_ca)
        .token(BearerToken::new(TOKEN).unwrap())
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("cannot connect to {}: ", server.endpoint())),
        "{text}"
    );
    assert!(
        text.contains("invalid peer certificate: UnknownIssuer"),
        "{text}"
    );
    assert!(server.seen().is_empty());
}

#[test]
fn a_token_is_not_sent_in_clear_to_another_host() {
    let e = KmsClient::builder("http://kms.example:50051")
        .token(BearerToken::new(TOKEN).unwrap())
        .connect_lazy()
        .unwrap_err();
    assert!(matches!(e, Error::TokenOverPlaintext { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "refusing to send a bearer token over plain http:// to http://kms.example:50051: use \
         https://, or a loopback address (127.0.0.1, ::1, localhost)"
    );
}

#[test]
fn kms_admin_identity_names_certificates_and_tokens_as_the_policy_does() {
    let ca = LocalCa::generate("test client CA").unwrap();
    let storage = ca.issue_client("storage").unwrap();
    let dir = tempdir();
    let (cert, _key) = identity_files(dir.path(), &storage);
    let token_file = secret_file(dir.path(), "token", format!("{TOKEN}\n").as_bytes());
    let token_hex = hex(&Sha256::digest(TOKEN.as_bytes()));
    let cert_hex = hex(&local_pki::spki_sha256_of_pem(storage.cert_pem.as_bytes()).unwrap());
    let at = "http://127.0.0.1:1";

    let out = admin_with_env(at, &["identity", "--cert", path_str(&cert)], &[], None).ok();
    assert_eq!(out, format!("cert_sha256: \"{cert_hex}\"\n"));
    let out = admin_with_env(
        at,
        &["identity", "--token-file", path_str(&token_file)],
        &[],
        None,
    )
    .ok();
    assert_eq!(out, format!("token_sha256: \"{token_hex}\"\n"));
    let out = admin_with_env(
        at,
        &["identity", "--token-stdin"],
        &[],
        Some(format!("{TOKEN}\n").as_bytes()),
    )
    .ok();
    assert_eq!(out, format!("token_sha256: \"{token_hex}\"\n"));
    // KMS_TOKEN, and the configured client certificate, when nothing is named.
    let out = admin_with_env(
        at,
        &[
            "--client-cert",
            path_str(&cert),
            "--client-key",
            path_str(&cert),
            "--json",
            "identity",
        ],
        &[("KMS_TOKEN", TOKEN)],
        None,
    )
    .json();
    assert_eq!(
        out,
        serde_json::json!({ "cert_sha256": cert_hex, "token_sha256": token_hex })
    );

    let e = admin_with_env(at, &["identity"], &[], None).fails(2);
    assert_eq!(
        e,
        "error: no credential: give --cert FILE, --token-file FILE or --token-stdin (or set \
         KMS_TOKEN)"
    );
    let e = admin_with_env(
        at,
        &["identity", "--cert", path_str(&token_file)],
        &[],
        None,
    )
    .fails(2);
    assert!(
        e.starts_with(&format!("error: {}: ", token_file.display())),
        "{e}"
    );
}

#[test]
fn kms_admin_new_token_prints_the_token_and_its_digest() {
    let run = admin_with_env("http://127.0.0.1:1", &["identity", "new-token"], &[], None);
    assert!(run.output.status.success(), "{run:?}");
    let token = run.stdout();
    let token = token.strip_suffix('\n').expect("one line");
    assert_eq!(token.len(), 43, "32 bytes in base64url: {token}");
    assert_eq!(
        run.stderr(),
        format!(
            "token_sha256: \"{}\"\n",
            hex(&Sha256::digest(token.as_bytes()))
        )
    );
    let again = admin_with_env("http://127.0.0.1:1", &["identity", "new-token"], &[], None);
    assert_ne!(again.stdout(), run.stdout());
}

#[test]
fn kms_admin_presents_the_ca_client_certificate_and_token() {
    let (server_ca, client_ca, server) = setup();
    let dir = tempdir();
    let ca = secret_file(dir.path(), "ca.pem", server_ca.cert_pem().as_bytes());
    let admin_cert = client_ca.issue_client("admin").unwrap();
    let (cert, key) = identity_files(dir.path(), &admin_cert);
    let token_file = secret_file(dir.path(), "token", format!("{TOKEN}\n").as_bytes());
    let at = server.endpoint();

    // --ca-cert and a client certificate.
    let out = admin_with_env(
        &at,
        &[
            "--ca-cert",
            path_str(&ca),
            "--client-cert",
            path_str(&cert),
            "--client-key",
            path_str(&key),
            "--json",
            "default-key",
        ],
        &[],
        None,
    )
    .json();
    assert!(out["KeyMetadata"]["KeyId"].is_string(), "{out}");
    assert_eq!(
        server.last_seen().cert_sha256,
        Some(admin_cert.spki_sha256().unwrap())
    );

    // KMS_TOKEN alone; then --token-file wins over it.
    admin_with_env(
        &at,
        &["--ca-cert", path_str(&ca), "default-key"],
        &[("KMS_TOKEN", TOKEN)],
        None,
    )
    .ok();
    assert_eq!(
        server.last_seen().authorization.as_deref(),
        Some(&*format!("Bearer {TOKEN}"))
    );
    admin_with_env(
        &at,
        &[
            "--ca-cert",
            path_str(&ca),
            "--token-file",
            path_str(&token_file),
            "default-key",
        ],
        &[("KMS_TOKEN", "the-env-token")],
        None,
    )
    .ok();
    assert_eq!(
        server.last_seen().authorization.as_deref(),
        Some(&*format!("Bearer {TOKEN}"))
    );

    // A refused credential is a refusal (status 1), and the token is not echoed.
    let e = admin_with_env(
        &at,
        &["--ca-cert", path_str(&ca), "default-key"],
        &[("KMS_TOKEN", "wrong-token-value")],
        None,
    )
    .fails(1);
    assert_eq!(e, "error: no valid credential");

    // A token for a plain http:// endpoint on another host: status 2, nothing sent.
    let e = admin_with_env(
        "http://kms.example:50051",
        &["default-key"],
        &[("KMS_TOKEN", TOKEN)],
        None,
    )
    .fails(2);
    assert!(
        e.starts_with("error: refusing to send a bearer token over plain http://"),
        "{e}"
    );
    assert!(!e.contains(TOKEN));

    // Unusable files are named.
    let e = admin_with_env(
        &at,
        &[
            "--client-cert",
            path_str(&token_file),
            "--client-key",
            path_str(&key),
            "default-key",
        ],
        &[],
        None,
    )
    .fails(2);
    assert_eq!(
        e,
        format!(
            "error: client certificate file {}: no PEM certificate in it",
            token_file.display()
        )
    );
    let e = admin_with_env(
        &at,
        &["--client-cert", path_str(&cert), "default-key"],
        &[],
        None,
    )
    .fails(2);
    assert!(e.contains("--client-key"), "{e}");
}
