//! Two `kms-server` processes on one throwaway PostgreSQL (issue 14): they share keys and the root
//! key check, a replica killed (SIGKILL) in the middle of its writes loses nothing it acknowledged,
//! and an import token given by one is used on the other, once (issue 13). Skipped,
//! saying so, where PostgreSQL is not installed (never under `CI` or `KMS_REQUIRE_POSTGRES=1`).
#![cfg(all(unix, feature = "grpc"))]

use std::{
    io::{BufRead as _, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    time::{Duration, Instant},
};

use base64::Engine as _;
use kms_proto::pb::{self, key_management_service_client::KeyManagementServiceClient};
use kms_server::store::postgres::harness::Postgres;
use tonic::transport::Channel;

fn root_key(byte: u8) -> String {
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

/// A `kms-server` on `database` with its own data directory; killed on drop.
struct Replica {
    child: Child,
    addr: String,
    /// Its log so far.
    log: Arc<Mutex<Vec<String>>>,
}

impl Replica {
    fn command(data_dir: &Path, database: &str, root: &str) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kms-server"));
        // An hour between ticks: only the change feed (LISTEN/NOTIFY) can bring the others'
        // changes during a test.
        c.args([
            "--listen",
            "127.0.0.1:0",
            "--tick-secs",
            "3600",
            "--data-dir",
        ])
        .arg(data_dir)
        .env("KMS_DATABASE_URL", database)
        .env("KMS_ROOT_KEY", root)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1");
        c
    }

    fn start(data_dir: &Path, database: &str, root: &str) -> Self {
        Self::spawn(Self::command(data_dir, database, root))
    }

    fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kms-server");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("kms-server listening on ").nth(1) {
                    let addr = addr.split_whitespace().next().unwrap_or_default();
                    let _ = tx.send(Ok(addr.to_owned()));
                }
                lines.lock().unwrap().push(line);
            }
            let _ = tx.send(Err(lines.lock().unwrap().join("\n")));
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(addr)) => Self { child, addr, log },
            Ok(Err(log)) => panic!("the replica did not start: {log}"),
            Err(_) => {
                let _ = child.kill();
                panic!("no bound address logged in 30 s");
            }
        }
    }

    /// The first log line containing `text`, waiting for it (30 s: a hang guard).
    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(line) = self.log.lock().unwrap().iter().find(|l| l.contains(text)) {
                return line.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no {text:?} logged in 30 s: {:?}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    async fn client(&self) -> KeyManagementServiceClient<Channel> {
        let channel = Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        KeyManagementServiceClient::new(channel)
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A key created on replica A, with a data key generated there, is usable on replica B once B has
/// loaded it (at its start). Disabled on B, it stops working on A through the change feed (the tick is
/// an hour). Two
/// replicas starting together share the service keys. A replica with another root key refuses to start.
#[test]
fn a_key_made_on_one_replica_is_usable_on_the_other() {
    // The harness's blocking PostgreSQL client runs outside the test's async runtime.
    let Some(pg) = Postgres::start("replicas a_key_made_on_one_replica") else {
        return;
    };
    let database = pg.new_database();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(two_replicas(&database));
}

async fn two_replicas(database: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (dir.path().join("a"), dir.path().join("b"));
    let root = root_key(0x42);
    // Started together on an empty database: they take turns (an advisory lock), so the service
    // keys are made once.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| Replica::start(&dir_a, database, &root));
        let b = s.spawn(|| Replica::start(&dir_b, database, &root));
        (a.join().unwrap(), b.join().unwrap())
    });
    let (mut ka, mut kb) = (a.client().await, b.client().await);
    let default_key = |m: pb::DescribeKeyResponse| m.key_metadata.unwrap().key_id;
    let describe = |alias: &str| pb::DescribeKeyRequest {
        key_id: format!("alias/{alias}"),
    };
    let default_a = default_key(
        ka.describe_key(describe(kms_server::kms::DEFAULT_KEY_ALIAS))
            .await
            .unwrap()
            .into_inner(),
    );
    let default_b = default_key(
        kb.describe_key(describe(kms_server::kms::DEFAULT_KEY_ALIAS))
            .await
            .unwrap()
            .into_inner(),
    );
    assert_eq!(default_a, default_b, "one default key for all replicas");

    let created = ka
        .create_key(pb::CreateKeyRequest {
            alias: "shared".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .key_metadata
        .unwrap();
    let data_key = ka
        .generate_data_key(pb::GenerateDataKeyRequest {
            key_id: "shared".into(),
            key_spec: pb::KeySpec::Aes256 as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    // The alias is the database's: B (whose cache lacks the key) cannot take it too.
    let clash = kb
        .create_key(pb::CreateKeyRequest {
            alias: "shared".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(clash.code(), tonic::Code::AlreadyExists, "{clash:?}");
    assert_eq!(clash.message(), "alias shared already exists");

    drop(kb);
    drop(b);
    let b = Replica::start(&dir_b, database, &root);
    let mut kb = b.client().await;
    let on_b = kb
        .describe_key(describe("shared"))
        .await
        .unwrap()
        .into_inner()
        .key_metadata
        .unwrap();
    assert_eq!(on_b.key_id, created.key_id);
    let opened = kb
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: data_key.ciphertext_blob.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(opened.plaintext, data_key.plaintext);
    assert_eq!(opened.key_id, created.key_id);

    // Running replicas: disabled on B, the key stops working on A as soon as A's change feed
    // brings it (the tick is an hour); 10 s is only the give-up point of this check.
    kb.disable_key(pb::DisableKeyRequest {
        key_id: "shared".into(),
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        let r = ka
            .generate_data_key(pb::GenerateDataKeyRequest {
                key_id: "shared".into(),
                key_spec: pb::KeySpec::Aes256 as i32,
                ..Default::default()
            })
            .await;
        match r {
            Err(status) => break status,
            Ok(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(_) => panic!("A still uses a key B disabled 10 s ago"),
        }
    };
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );

    // Another root key: refused at start, before serving.
    let out = Replica::command(&dir.path().join("c"), database, &root_key(0x43))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.ends_with("error: the root key does not match this key store\n"),
        "{stderr}"
    );
    // The database's password-free name is logged, the key material never leaves the replicas
    // unwrapped (the store only sees sealed blobs: store::postgres tests and the suite).
    drop((ka, kb, a, b));
}

/// Bring your own key across replicas: the token GetParametersForImport gave on A imports on B;
/// used, it is refused on A and on B (`InvalidParameterValue`); the key is Enabled on both and a
/// ciphertext made on B opens on A.
#[test]
fn an_import_token_from_one_replica_is_used_on_the_other_once() {
    let Some(pg) = Postgres::start("replicas import token") else {
        return;
    };
    let database = pg.new_database();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(import_across(&database));
}

/// Waits (up to 10 s) until `check` holds on a replica, which the change feed brings.
async fn eventually<F: std::future::Future<Output = bool>>(mut check: impl FnMut() -> F) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "the other replica did not see the change within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn import_across(database: &str) {
    use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey};
    let dir = tempfile::tempdir().unwrap();
    let root = root_key(0x42);
    let a = Replica::start(&dir.path().join("a"), database, &root);
    let b = Replica::start(&dir.path().join("b"), database, &root);
    let (mut ka, mut kb) = (a.client().await, b.client().await);
    let key_id = ka
        .create_key(pb::CreateKeyRequest {
            alias: "byok".into(),
            origin: "EXTERNAL".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .key_metadata
        .unwrap()
        .key_id;
    let state_on = |k: &KeyManagementServiceClient<Channel>| {
        let mut k = k.clone();
        async move {
            k.describe_key(pb::DescribeKeyRequest {
                key_id: "byok".into(),
            })
            .await
            .ok()
            .and_then(|r| r.into_inner().key_metadata)
            .map(|m| m.state)
        }
    };
    let pending_import = pb::KeyState::PendingImport as i32;
    eventually(|| {
        let f = state_on(&kb);
        async move { f.await == Some(pending_import) }
    })
    .await;

    let p = ka
        .get_parameters_for_import(pb::GetParametersForImportRequest {
            key_id: "byok".into(),
            wrapping_algorithm: "RSAES_OAEP_SHA_256".into(),
            wrapping_key_spec: "RSA_2048".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let public = OaepPublicEncryptingKey::new(
        PublicEncryptingKey::from_der(&p.public_key).expect("a DER SubjectPublicKeyInfo"),
    )
    .unwrap();
    let mut wrapped = vec![0u8; public.ciphertext_size()];
    let wrapped = public
        .encrypt(&OAEP_SHA256_MGF1SHA256, &[0x5a; 32], &mut wrapped, None)
        .unwrap()
        .to_vec();
    let import = || pb::ImportKeyMaterialRequest {
        key_id: "byok".into(),
        encrypted_key_material: wrapped.clone(),
        import_token: p.import_token.clone(),
        valid_to: 0,
    };
    kb.import_key_material(import()).await.unwrap();
    for (replica, k) in [("A", &mut ka), ("B", &mut kb)] {
        let e = k.import_key_material(import()).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{replica}: {e:?}");
        assert_eq!(
            e.message(),
            format!("ImportToken is not one GetParametersForImport gave for key {key_id}"),
            "{replica}"
        );
        assert_eq!(
            e.metadata().get("x-kms-error-code").unwrap(),
            "InvalidParameterValue",
            "{replica}"
        );
    }
    let enabled = pb::KeyState::Enabled as i32;
    eventually(|| {
        let f = state_on(&ka);
        async move { f.await == Some(enabled) }
    })
    .await;
    let blob = kb
        .encrypt(pb::EncryptRequest {
            key_id: "byok".into(),
            plaintext: b"across".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .ciphertext_blob;
    let opened = ka
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: blob,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(opened.plaintext, b"across");
    drop((ka, kb, a, b));
}

/// `--change-log-retention` (here through `KMS_CHANGE_LOG_RETENTION`) reaches the replica's change
/// feed, which says so when it starts listening; without it, the default (300 s) does.
#[test]
fn the_change_log_retention_reaches_the_change_feed() {
    let Some(pg) = Postgres::start("replicas change log retention") else {
        return;
    };
    let database = pg.new_database();
    let dir = tempfile::tempdir().unwrap();
    let root = root_key(0x42);
    let mut command = Replica::command(&dir.path().join("a"), &database, &root);
    command.env("KMS_CHANGE_LOG_RETENTION", "90");
    let a = Replica::spawn(command);
    let line = a.wait_for("change feed listening");
    assert!(line.contains("change_log_retention_secs=90"), "{line}");
    let b = Replica::start(&dir.path().join("b"), &database, &root);
    let line = b.wait_for("change feed listening");
    assert!(line.contains("change_log_retention_secs=300"), "{line}");
}

/// SIGKILL of a replica in the middle of its writes loses nothing it acknowledged: a client
/// creates keys on A, rotates each and encrypts under the new version, and A is killed while the
/// client keeps calling; a replica started afterwards (it loads everything from the database) has
/// every acknowledged key at its acknowledged version, and every acknowledged blob opens there.
#[test]
fn a_replica_killed_mid_writes_loses_nothing_it_acknowledged() {
    let Some(pg) = Postgres::start("replicas killed mid writes") else {
        return;
    };
    let database = pg.new_database();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(killed_mid_writes(&database));
}

/// Keys acknowledged before the kill: (key id, version of its last rotation, blob, plaintext).
type Acknowledged = Vec<(String, u32, Vec<u8>, Vec<u8>)>;

async fn killed_mid_writes(database: &str) {
    const ACKNOWLEDGED_BEFORE_KILL: usize = 15;
    let dir = tempfile::tempdir().unwrap();
    let root = root_key(0x42);
    let mut a = Replica::start(&dir.path().join("a"), database, &root);
    let mut ka = a.client().await;
    let acknowledged: Arc<Mutex<Acknowledged>> = Arc::default();
    let (progress, mut progressed) = tokio::sync::mpsc::unbounded_channel();
    let writer = {
        let acknowledged = acknowledged.clone();
        tokio::spawn(async move {
            for i in 0u32.. {
                let Ok(made) = ka
                    .create_key(pb::CreateKeyRequest {
                        alias: format!("killed-{i}"),
                        ..Default::default()
                    })
                    .await
                else {
                    return;
                };
                let key_id = made.into_inner().key_metadata.unwrap().key_id;
                let rotate = pb::RotateKeyRequest {
                    key_id: key_id.clone(),
                };
                let Ok(rotated) = ka.rotate_key(rotate).await else {
                    return;
                };
                let version = rotated.into_inner().key_version;
                let plaintext = format!("acknowledged {i}").into_bytes();
                let encrypt = pb::EncryptRequest {
                    key_id: key_id.clone(),
                    plaintext: plaintext.clone(),
                    ..Default::default()
                };
                let Ok(sealed) = ka.encrypt(encrypt).await else {
                    return;
                };
                let sealed = sealed.into_inner();
                assert_eq!(sealed.key_version, version);
                acknowledged.lock().unwrap().push((
                    key_id,
                    version,
                    sealed.ciphertext_blob,
                    plaintext,
                ));
                let _ = progress.send(());
            }
        })
    };
    for _ in 0..ACKNOWLEDGED_BEFORE_KILL {
        progressed
            .recv()
            .await
            .expect("the writer stopped before the kill");
    }
    // SIGKILL while the writer is still calling.
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    writer.await.unwrap();
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= ACKNOWLEDGED_BEFORE_KILL);

    let c = Replica::start(&dir.path().join("c"), database, &root);
    let mut kc = c.client().await;
    for (key_id, version, blob, plaintext) in &acknowledged {
        let meta = kc
            .describe_key(pb::DescribeKeyRequest {
                key_id: key_id.clone(),
            })
            .await
            .unwrap_or_else(|e| panic!("acknowledged key {key_id} lost: {e}"))
            .into_inner()
            .key_metadata
            .unwrap();
        assert_eq!(meta.current_key_version, *version, "{key_id}");
        let opened = kc
            .decrypt(pb::DecryptRequest {
                ciphertext_blob: blob.clone(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("acknowledged blob of {key_id} lost: {e}"))
            .into_inner();
        assert_eq!(&opened.plaintext, plaintext);
    }
    eprintln!(
        "{} keys acknowledged before and around the kill, all intact on a new replica",
        acknowledged.len()
    );
    drop((a, c));
}
