//! The real `kms-server` binary: bound-address log, root key file, seeding, reflection, durability
//! across `kill -9`, graceful SIGTERM, and request logs that carry no secret.
#![cfg(all(unix, feature = "grpc"))]

use std::{
    io::{BufRead as _, BufReader},
    os::unix::fs::PermissionsExt as _,
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    time::Duration,
};

use base64::Engine as _;
use kms_proto::pb::{self, key_management_service_client::KeyManagementServiceClient};
use tonic::transport::Channel;
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

const SEEDED: &str = "6f1c2d3e-0000-4000-8000-0000000000c1";

/// A running `kms-server` child with its stderr collected line by line (ANSI colours removed).
struct Server {
    child: Child,
    addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(data_dir: &Path, extra: &[&str]) -> Self {
        Self::start_with_root_key(data_dir, extra, None)
    }

    /// Starts the server, with `KMS_ROOT_KEY` set to `root_key` when given.
    fn start_with_root_key(data_dir: &Path, extra: &[&str], root_key: Option<&str>) -> Self {
        let env: Vec<(&str, &str)> = root_key.map(|k| ("KMS_ROOT_KEY", k)).into_iter().collect();
        Self::launch(data_dir, extra, &env, None)
    }

    /// Starts the server with the variables `env` set.
    fn start_with_env(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        Self::launch(data_dir, extra, env, None)
    }

    /// Starts the server and sends it `signal` as soon as its log shows `line`: during start-up,
    /// when the line comes before the server listens.
    fn start_signalled(data_dir: &Path, extra: &[&str], line: &str, signal: &str) -> Self {
        Self::launch(data_dir, extra, &[], Some((line, signal)))
    }

    fn launch(
        data_dir: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
        signal_at: Option<(&str, &str)>,
    ) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kms-server"));
        command
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("RUST_LOG", "info")
            .env_remove("KMS_ROOT_KEY")
            .env_remove("KMS_DATABASE_URL")
            .envs(env.iter().copied());
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kms-server");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let line = strip_ansi(&line);
                if let Some(addr) = line.split("kms-server listening on ").nth(1) {
                    let addr = addr.split_whitespace().next().unwrap_or_default();
                    let _ = tx.send(addr.to_owned());
                }
                sink.lock().unwrap().push(line);
            }
        });
        if let Some((line, signal)) = signal_at {
            let seen = (0..3000).any(|_| {
                let seen = log.lock().unwrap().iter().any(|l| l.contains(line));
                if !seen {
                    std::thread::sleep(Duration::from_millis(10));
                }
                seen
            });
            assert!(seen, "no {line:?} logged: {:#?}", log.lock().unwrap());
            send(child.id(), signal);
        }
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!("no bound address logged: {:#?}", log.lock().unwrap());
            }
        };
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");
        assert_ne!(addr, "127.0.0.1:0");
        Self { child, addr, log }
    }

    async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The log once it contains `needle` (or as it is after 10 s).
    fn wait_for(&self, needle: &str) -> String {
        for _ in 0..200 {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.log()
    }

    /// Sends a signal with the system `kill` (no unsafe code).
    fn notify(&self, signal: &str) {
        send(self.child.id(), signal);
    }

    /// Sends a signal and waits for the exit status.
    fn signal(&mut self, signal: &str) -> std::process::ExitStatus {
        self.notify(signal);
        let status = self.child.wait().unwrap();
        // Let the reader thread drain the last lines.
        std::thread::sleep(Duration::from_millis(200));
        status
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `signal` to process `pid` with the system `kill` (no unsafe code).
fn send(pid: u32, signal: &str) {
    let sent = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn ctx(json: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_survives_kill_9_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let seed = dir.path().join("seed.yaml");
    std::fs::write(
        &seed,
        format!("keys:\n  - key_id: {SEEDED}\n    alias: seeded\n"),
    )
    .unwrap();

    let server = Server::start(&data, &["--seed", seed.to_str().unwrap()]);
    // The root key file was created owner-only and never entered the database.
    let mode = std::fs::metadata(data.join("root.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let channel = server.channel().await;
    let mut kms = KeyManagementServiceClient::new(channel.clone());

    // Reflection lists the service (grpcurl relies on it).
    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("unexpected reflection answer {answer:?}");
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"kms.v1.KeyManagementService".to_owned()),
        "{names:?}"
    );

    // The same through v1alpha, the version Python's grpcio-reflection, Postman and older grpcurl
    // speak.
    {
        use tonic_reflection::pb::v1alpha::{
            ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        };
        let mut reflection = ServerReflectionClient::new(server.channel().await);
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut answers = reflection
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .expect("v1alpha reflection is served")
            .into_inner();
        let answer = answers.message().await.unwrap().unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
            panic!("unexpected v1alpha reflection answer {answer:?}");
        };
        let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
        assert!(
            names.contains(&"kms.v1.KeyManagementService".to_owned()),
            "{names:?}"
        );
    }

    // The seed file was loaded.
    let seeded = kms
        .describe_key(pb::DescribeKeyRequest {
            key_id: "alias/seeded".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .key_metadata
        .unwrap();
    assert_eq!(seeded.key_id, SEEDED);

    // A key created and a data key generated, then the server is killed without warning.
    let created = kms
        .create_key(pb::CreateKeyRequest {
            alias: "durable".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .key_metadata
        .unwrap();
    let secret_value = "context-value-never-logged";
    let context = ctx(&format!(r#"{{"bucket":"{secret_value}"}}"#));
    let data_key = kms
        .generate_data_key(pb::GenerateDataKeyRequest {
            key_id: "durable".into(),
            key_spec: pb::KeySpec::Aes256 as i32,
            encryption_context: context.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    // One line per request: method, the key as named, status, latency (written by a background
    // thread, so it may take a moment to arrive).
    let log = server.wait_for(r#"method="GenerateDataKey""#);
    let line = log
        .lines()
        .find(|l| l.contains(r#"method="GenerateDataKey""#))
        .unwrap_or_else(|| panic!("no request line: {log}"));
    for field in [r#"key_id="durable""#, r#"status="OK""#, "latency_us="] {
        assert!(line.contains(field), "{line}");
    }
    for secret in [
        secret_value.to_owned(),
        context.clone(),
        base64::engine::general_purpose::STANDARD.encode(&data_key.plaintext),
        hex::encode(&data_key.plaintext),
    ] {
        assert!(!log.contains(&secret), "the log holds a secret: {log}");
    }
    drop(kms);
    let mut server = server;
    let status = server.signal("-KILL");
    assert!(!status.success());
    drop(server);

    // Restarted on the same directory: the key and its data key are back.
    let mut server = Server::start(&data, &[]);
    let mut kms = KeyManagementServiceClient::new(server.channel().await);
    let again = kms
        .describe_key(pb::DescribeKeyRequest {
            key_id: "alias/durable".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .key_metadata
        .unwrap();
    assert_eq!(again.key_id, created.key_id);
    let opened = kms
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: data_key.ciphertext_blob.clone(),
            encryption_context: context,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(opened.plaintext, data_key.plaintext);
    drop(kms);

    // SIGTERM drains and exits cleanly.
    let status = server.signal("-TERM");
    assert!(status.success(), "{status:?}");
    let log = server.wait_for("shutting down");
    assert!(log.contains("shutting down"), "{log}");
}

#[test]
fn a_root_key_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("root.key");
    std::fs::write(
        &key,
        base64::engine::general_purpose::STANDARD.encode([3u8; 32]),
    )
    .unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kms-server"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--root-key-file")
        .arg(&key)
        .env_remove("KMS_ROOT_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = strip_ansi(&String::from_utf8_lossy(&out.stderr));
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("root.key"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_bad_root_key_in_the_environment_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kms-server"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("KMS_ROOT_KEY", "c2hvcnQ=")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = strip_ansi(&String::from_utf8_lossy(&out.stderr));
    assert!(stderr.starts_with("error: root key: "), "{stderr}");
    assert!(stderr.contains("32 bytes"), "{stderr}");
}

/// A second server on a data directory another one holds refuses to start, saying why; the lock
/// goes with the first server (here by SIGKILL), and the directory can then be served again.
#[test]
fn a_second_server_on_the_same_data_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = Server::start(&data, &[]);
    let out = Command::new(env!("CARGO_BIN_EXE_kms-server"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = strip_ansi(&String::from_utf8_lossy(&out.stderr));
    assert!(
        stderr.contains("error: data directory") && stderr.contains("is in use by another process"),
        "{stderr}"
    );
    drop(first);
    let _again = Server::start(&data, &[]);
}

/// kms-server started with `var=value` in its environment: refused before it makes its data
/// directory (asserted). Its stderr, and the temporary directory the data directory was to be in.
fn refused_by_env(var: &str, value: &str) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kms-server"))
        .args(["--data-dir"])
        .arg(dir.path().join("never-created"))
        .env(var, value)
        .env_remove("KMS_ROOT_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!dir.path().join("never-created").exists());
    (strip_ansi(&String::from_utf8_lossy(&out.stderr)), dir)
}

fn run_refused(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kms-server"))
        .args(["--data-dir"])
        .arg(dir.path())
        .args(args)
        .env_remove("KMS_ROOT_KEY")
        .env_remove("KMS_POLICY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    strip_ansi(&String::from_utf8_lossy(&out.stderr))
}

/// Without a policy the server answers everyone, so it serves only on loopback unless told
/// otherwise by name; in development mode it says so at start.
#[test]
fn without_a_policy_only_loopback_is_served() {
    let stderr = run_refused(&["--listen", "0.0.0.0:0"]);
    assert_eq!(
        stderr.trim_end(),
        "error: refusing to listen on 0.0.0.0:0 without --policy: anyone who reaches it could \
         use every key. Add --policy FILE, or --insecure-no-auth to run without access control"
    );
    let stderr = run_refused(&[
        "--listen",
        "0.0.0.0:0",
        "--policy",
        "p.yaml",
        "--insecure-no-auth",
    ]);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    // The warning follows the listening line, so it may not be read yet when start returns.
    let log = server.wait_for("development mode: no --policy");
    assert!(
        log.contains("WARN") && log.contains("development mode: no --policy"),
        "{log}"
    );
}

fn write_policy(path: &Path, token: &str, mode: u32) {
    use sha2::{Digest as _, Sha256};
    let digest = hex::encode(Sha256::digest(token.as_bytes()));
    std::fs::write(
        path,
        format!("identities:\n  - name: app\n    token_sha256: \"{digest}\"\n    allow: [\"*\"]\n"),
    )
    .unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

async fn default_key_with(server: &Server, token: &str) -> Result<(), tonic::Status> {
    let mut client = KeyManagementServiceClient::new(server.channel().await);
    let mut request = tonic::Request::new(pb::GetDefaultKeyRequest {});
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    client.get_default_key(request).await.map(drop)
}

/// A policy readable by others is refused at start; SIGHUP reloads the file, and a file that no
/// longer loads keeps the policy in force.
#[tokio::test]
async fn sighup_reloads_the_policy_and_a_bad_file_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    write_policy(&policy, "first-token", 0o644);
    let stderr = run_refused(&[
        "--listen",
        "127.0.0.1:0",
        "--policy",
        policy.to_str().unwrap(),
    ]);
    assert!(
        stderr.contains("is readable or writable by group or others (mode 644); chmod 600 it"),
        "{stderr}"
    );
    write_policy(&policy, "first-token", 0o600);
    let server = Server::start(
        &dir.path().join("data"),
        &["--policy", policy.to_str().unwrap()],
    );
    default_key_with(&server, "first-token").await.unwrap();
    assert_eq!(
        default_key_with(&server, "second-token")
            .await
            .unwrap_err()
            .code(),
        tonic::Code::Unauthenticated
    );

    write_policy(&policy, "second-token", 0o600);
    server.notify("-HUP");
    let log = server.wait_for("policy reloaded");
    assert!(log.contains("policy reloaded"), "{log}");
    default_key_with(&server, "second-token").await.unwrap();
    assert_eq!(
        default_key_with(&server, "first-token")
            .await
            .unwrap_err()
            .code(),
        tonic::Code::Unauthenticated
    );

    std::fs::write(&policy, "identities: [ broken").unwrap();
    server.notify("-HUP");
    let log = server.wait_for("policy not reloaded");
    assert!(log.contains("the previous policy stays in force"), "{log}");
    default_key_with(&server, "second-token").await.unwrap();
}

/// A SIGHUP during start-up, once the policy is loaded, neither ends the server (SIGHUP's default
/// action, until a handler is installed) nor is lost: it reloads the policy once the server runs.
/// The seed's RSA key pairs keep start-up busy for a while after the policy is loaded.
#[tokio::test]
async fn a_sighup_during_start_up_reloads_the_policy_instead_of_ending_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    write_policy(&policy, "first-token", 0o600);
    let seed = dir.path().join("seed.yaml");
    let keys: String = (0..4)
        .map(|i| {
            format!(
                "  - key_id: 6f1c2d3e-0000-4000-8000-0000000002a{i}\n    alias: rsa-{i}\n    \
                 key_usage: ASYMMETRIC_DECRYPT_RSA_2048\n"
            )
        })
        .collect();
    std::fs::write(&seed, format!("keys:\n{keys}")).unwrap();
    let server = Server::start_signalled(
        &dir.path().join("data"),
        &[
            "--policy",
            policy.to_str().unwrap(),
            "--seed",
            seed.to_str().unwrap(),
        ],
        "access policy loaded",
        "-HUP",
    );
    default_key_with(&server, "first-token").await.unwrap();
    let log = server.wait_for("policy reloaded");
    assert!(log.contains("policy reloaded"), "{log}");
    assert!(log.contains("seed loaded"), "{log}");
}

/// `KMS_DATABASE_URL` (a PostgreSQL URL may hold a password) leaves the process environment like
/// the root key, and is still the database the server opens.
#[tokio::test]
async fn the_database_url_leaves_the_process_environment() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = dir.path().join("elsewhere.sqlite3");
    let url = format!("sqlite:{}", db.display());
    let server = Server::start_with_env(&data, &[], &[("KMS_DATABASE_URL", &url)]);
    let environ = std::fs::read(format!("/proc/{}/environ", server.child.id())).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    assert!(!environ.contains("KMS_DATABASE_URL="), "{environ}");
    assert!(!environ.contains(&url), "{environ}");
    assert!(environ.contains("KMS_ROOT_KEY_HANDOFF=stdin"));
    let mut client = KeyManagementServiceClient::new(server.channel().await);
    client
        .describe_key(pb::DescribeKeyRequest {
            key_id: "alias/kms-cos".to_owned(),
        })
        .await
        .unwrap();
    assert!(db.exists(), "the handed-over URL is the database opened");
    assert!(!data.join("kms.sqlite3").exists());
}

/// `KMS_ROOT_KEY` is read once and is then gone from the process environment (the server
/// re-executes itself without it, same pid); the key still opens the same database after a restart.
#[tokio::test]
async fn the_root_key_variable_leaves_the_process_environment() {
    let dir = tempfile::tempdir().unwrap();
    let key = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
    let data = dir.path().join("data");
    let blob = {
        let server = Server::start_with_root_key(&data, &[], Some(&key));
        let environ = std::fs::read(format!("/proc/{}/environ", server.child.id())).unwrap();
        let environ = String::from_utf8_lossy(&environ);
        assert!(!environ.contains("KMS_ROOT_KEY="), "{environ}");
        assert!(!environ.contains(&key));
        assert!(environ.contains("KMS_ROOT_KEY_HANDOFF=stdin"));
        let mut client = KeyManagementServiceClient::new(server.channel().await);
        client
            .encrypt(pb::EncryptRequest {
                key_id: "alias/kms-cos".to_owned(),
                plaintext: b"kept".to_vec(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .ciphertext_blob
    };
    assert!(
        !data.join("root.key").exists(),
        "the variable's key is never written"
    );
    let server = Server::start_with_root_key(&data, &[], Some(&key));
    let mut client = KeyManagementServiceClient::new(server.channel().await);
    let back = client
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: blob,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(back.plaintext, b"kept");
}

/// A bad --database (or KMS_DATABASE_URL) is one clear line, before anything is created, and never
/// echoes the URL (it may hold a password).
#[test]
fn a_bad_database_url_is_refused_in_one_line() {
    let stderr = run_refused(&["--database", "mysql://root:hunter2@db/kms"]);
    assert_eq!(
        stderr,
        "error: --database: expected sqlite:PATH or postgres://USER@HOST/DB, got a URL with \
         scheme \"mysql\"\n"
    );
    let stderr = run_refused(&["--database", "postgres://kms:hunter2@db/kms?sslmode=maybe"]);
    assert_eq!(
        stderr,
        "error: --database: bad PostgreSQL URL: invalid connection string: invalid value for \
         option `sslmode`\n"
    );
    let (stderr, _dir) = refused_by_env("KMS_DATABASE_URL", "sqlite:");
    assert_eq!(
        stderr,
        "error: --database: sqlite: needs a path (sqlite:PATH)\n"
    );
}

/// `--database sqlite:PATH` puts the key database at PATH; the root key stays in the data
/// directory, which is still locked.
#[test]
fn the_sqlite_database_can_live_outside_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = dir.path().join("elsewhere.sqlite3");
    let arg = format!("sqlite:{}", db.display());
    let first = Server::start(&data, &["--database", &arg]);
    assert!(db.is_file());
    assert!(!data.join("kms.sqlite3").exists());
    assert!(data.join("root.key").is_file());
    let refused = run_refused_in(&data, &["--database", &arg]);
    assert!(
        refused.contains("is in use by another process"),
        "{refused}"
    );
    drop(first);
}

fn run_refused_in(data_dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_kms-server"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .env_remove("KMS_ROOT_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    strip_ansi(&String::from_utf8_lossy(&out.stderr))
}

/// `kms-server migrate`: the exit status and the two output streams.
/// The error line a failed command printed. Its log lines (a PostgreSQL NOTICE, say) go through a
/// non-blocking writer that may flush after it, so the error is not always the last line.
fn error_line(stderr: &str) -> Option<&str> {
    stderr.lines().rev().find(|l| l.starts_with("error: "))
}

fn migrate(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kms-server"))
        .arg("migrate")
        .args(args)
        .env_remove("KMS_DATABASE_URL")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        strip_ansi(&String::from_utf8_lossy(&out.stderr)),
    )
}

/// A server's SQLite file copied into PostgreSQL and back into a new SQLite file by the binary:
/// the copy serves the same keys and opens the same blobs under the same root key; run again, it
/// finds everything there. Each refusal says why and writes nothing: a source in use by a server,
/// a missing source, the same database twice, an unknown scheme, a destination that is another
/// key store's copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_copies_a_key_store_between_sqlite_and_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let source = format!("sqlite:{}", data.join("kms.sqlite3").display());
    let (key_id, blob) = {
        let server = Server::start(&data, &[]);
        let mut client = KeyManagementServiceClient::new(server.channel().await);
        let key = client
            .create_key(pb::CreateKeyRequest {
                alias: "migrated".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .key_metadata
            .unwrap()
            .key_id;
        let blob = client
            .encrypt(pb::EncryptRequest {
                key_id: key.clone(),
                plaintext: b"moved".to_vec(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .ciphertext_blob;
        let target = format!("sqlite:{}", dir.path().join("never.sqlite3").display());
        let (ok, _, stderr) = migrate(&["--from", &source, "--to", &target]);
        assert!(!ok);
        assert!(stderr.contains("is in use by another process"), "{stderr}");
        (key, blob)
    };

    let missing = format!("sqlite:{}", dir.path().join("missing.sqlite3").display());
    let copy = dir.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    let copy_db = format!("sqlite:{}", copy.join("kms.sqlite3").display());
    for (args, says) in [
        (vec!["--from", &missing, "--to", &copy_db], "does not exist"),
        (
            vec!["--from", &source, "--to", &source],
            "the same database",
        ),
        (vec!["--from", "mysql://x", "--to", &copy_db], "--from: "),
    ] {
        let (ok, _, stderr) = migrate(&args);
        assert!(!ok && stderr.contains(says), "{args:?}: {stderr}");
    }
    assert!(!dir.path().join("missing.sqlite3").exists());

    // The harness speaks to PostgreSQL with the blocking client: off the runtime's threads.
    let Some(pg) = tokio::task::block_in_place(|| {
        kms_server::store::postgres::harness::Postgres::start(
            "migrate_copies_a_key_store_between_sqlite_and_postgresql",
        )
    }) else {
        return;
    };
    let url = tokio::task::block_in_place(|| pg.new_database());
    let (ok, stdout, stderr) = migrate(&["--from", &source, "--to", &url]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("migrated 3 keys (3 versions) from sqlite:")
            && stdout.contains(" to postgres://kms@127.0.0.1:"),
        "{stdout}"
    );
    let (ok, stdout, stderr) = migrate(&["--from", &source, "--to", &url]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("migrated 0 keys (0 versions) from sqlite:")
            && stdout.ends_with("; 3 keys were there already\n"),
        "{stdout}"
    );
    // Another server's key store is not a copy of this source in the making: refused, and
    // nothing of it written (a rerun from the source still finds exactly its 3 keys).
    let other = dir.path().join("other");
    drop(Server::start(&other, &[]));
    let other_db = format!("sqlite:{}", other.join("kms.sqlite3").display());
    let (ok, stdout, stderr) = migrate(&["--from", &other_db, "--to", &url]);
    assert!(!ok && stdout.is_empty(), "{stdout}");
    assert_eq!(
        error_line(&stderr),
        Some(
            "error: the destination's setting root_key_check differs from the source's: migrate \
             only completes a copy of the same source, it never overwrites or merges"
        ),
        "{stderr}"
    );
    let (ok, stdout, stderr) = migrate(&["--from", &source, "--to", &url]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("migrated 0 keys (0 versions) from sqlite:")
            && stdout.ends_with("; 3 keys were there already\n"),
        "{stdout}"
    );
    let (ok, stdout, stderr) = migrate(&["--from", &url, "--to", &copy_db]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("migrated 3 keys"), "{stdout}");

    // The copy of the copy serves: same key, same blob, same root key (the source's file).
    std::fs::copy(data.join("root.key"), copy.join("root.key")).unwrap();
    let server = Server::start(&copy, &[]);
    let mut client = KeyManagementServiceClient::new(server.channel().await);
    let opened = client
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: blob,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (opened.plaintext, opened.key_id),
        (b"moved".to_vec(), key_id)
    );
    tokio::task::block_in_place(|| drop(pg));
}

/// `kms-server migrate` reads the destination back after the copy: a PostgreSQL database that
/// stores something else than it was given (here a trigger appends a byte to every wrapped
/// version) fails the run with the first key that differs, and a rerun refuses that copy rather
/// than overwrite it.
#[test]
fn migrate_fails_when_the_destination_reads_back_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    drop(Server::start(&data, &[]));
    let source = format!("sqlite:{}", data.join("kms.sqlite3").display());
    let Some(pg) =
        kms_server::store::postgres::harness::Postgres::start("migrate_fails_when_the_destination")
    else {
        return;
    };
    let url = pg.new_database();
    // The schema first (as a replica would make it), then the trigger on it.
    drop(
        kms_server::store::postgres::PostgresStore::open(
            &url,
            &kms_server::store::postgres::PostgresOptions::default(),
        )
        .unwrap(),
    );
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .batch_execute(
            "CREATE FUNCTION tamper() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN NEW.wrapped := NEW.wrapped || '\\x00'::bytea; RETURN NEW; END $$;
             CREATE TRIGGER tamper BEFORE INSERT ON key_versions
             FOR EACH ROW EXECUTE FUNCTION tamper();",
        )
        .unwrap();
    let (ok, stdout, stderr) = migrate(&["--from", &source, "--to", &url]);
    assert!(!ok && stdout.is_empty(), "{stdout}");
    let first: uuid::Uuid = admin
        .query_one(
            "SELECT key_id FROM keys ORDER BY create_time, key_id LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        error_line(&stderr),
        Some(
            format!(
                "error: internal error: the destination does not read back key {first} as copied"
            )
            .as_str()
        ),
        "{stderr}"
    );
    let (ok, _, stderr) = migrate(&["--from", &source, "--to", &url]);
    assert!(!ok);
    assert_eq!(
        error_line(&stderr),
        Some(
            format!(
                "error: the destination's key {first} differs from the source's (its versions): \
                 migrate only completes a copy of the same source, it never overwrites or merges"
            )
            .as_str()
        ),
        "{stderr}"
    );
}

/// `--change-log-retention` (and `KMS_CHANGE_LOG_RETENTION`): below the minimum (60 s) or not a
/// whole number of seconds, the start stops with one line saying why, before anything is created;
/// the minimum itself is taken (ignored on SQLite, so the server starts).
#[test]
fn a_change_log_retention_below_the_minimum_is_refused() {
    let why = "at least 60 seconds: the change feed looks up a change it missed in the log for up \
               to 60 s, so a row must outlive that";
    let hint = "\n\nFor more information, try '--help'.\n";
    for bad in ["0", "59"] {
        assert_eq!(
            run_refused(&["--change-log-retention", bad]),
            format!(
                "error: invalid value '{bad}' for '--change-log-retention <SECS>': {why}{hint}"
            )
        );
    }
    for bad in ["-1", "5m", "", "1e3"] {
        assert_eq!(
            run_refused(&[&format!("--change-log-retention={bad}")]),
            format!(
                "error: invalid value '{bad}' for '--change-log-retention <SECS>': expected whole \
                 seconds, at least 60{hint}"
            )
        );
    }
    let (stderr, dir) = refused_by_env("KMS_CHANGE_LOG_RETENTION", "30");
    assert_eq!(
        stderr,
        format!("error: invalid value '30' for '--change-log-retention <SECS>': {why}{hint}")
    );
    let server = Server::start(dir.path(), &["--change-log-retention", "60"]);
    drop(server);
}

/// `--audit-buffer-ms` needs `--audit-log` and a value up to a second; a buffered line reaches the
/// file when the server stops on SIGTERM, though the interval has not passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffered_audit_lines_are_written_at_shutdown() {
    let stderr = run_refused(&["--audit-buffer-ms", "5"]);
    assert!(
        stderr.starts_with("error: the following required arguments were not provided:")
            && stderr.contains("--audit-log <AUDIT_LOG>"),
        "{stderr}"
    );
    let stderr = run_refused(&["--audit-log", "a.log", "--audit-buffer-ms", "1001"]);
    assert!(
        stderr.starts_with(
            "error: invalid value '1001' for '--audit-buffer-ms <AUDIT_BUFFER_MS>': 1001 is not \
             in 0..=1000"
        ),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.log");
    let mut server = Server::start(
        &dir.path().join("data"),
        &[
            "--audit-log",
            audit.to_str().unwrap(),
            "--audit-buffer-ms",
            "1000",
        ],
    );
    let mut kms = KeyManagementServiceClient::new(server.channel().await);
    kms.get_default_key(pb::GetDefaultKeyRequest {})
        .await
        .unwrap();
    drop(kms);
    let status = server.signal("-TERM");
    assert!(status.success(), "{status:?}");
    let text = std::fs::read_to_string(&audit).unwrap();
    let rpcs: Vec<String> = text
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["rpc"].to_string())
        .collect();
    assert_eq!(rpcs, ["\"GetDefaultKey\""], "{text}");
}
