//! Crash consistency of the real `kms-server` binary: SIGKILL at random moments while clients run
//! CreateKey / RotateKey / SeedKeys / Enable-Disable / Encrypt loops (and while a `--seed` document
//! loads at start), restart, and check after every restart that
//!
//! * every acknowledged key is there with its alias, description, state and every acknowledged
//!   version, and no key appears that no call created (nothing half-visible);
//! * an unacknowledged call (in flight at the kill) is all or nothing: a CreateKey either made a
//!   whole key (its alias, version 1, Enabled) or nothing; a seed document is applied entirely or
//!   not at all; a rotation added one version or none;
//! * every blob an acknowledged Encrypt returned still decrypts to the same plaintext and version;
//! * the seeded keys' material is intact (reloading every acknowledged seed document changes
//!   nothing, which the server only allows when the stored versions match the document);
//! * exactly the two service keys exist, and a server killed during its very first start (while it
//!   creates its root key file and them) starts again and leaves no temporary key file.
//!
//! The kill moments and the operations come from a seeded PRNG: `CRASH_SEED=<u64>` replays the
//! operation sequence (the kill timing still depends on the machine). `CRASH_KILLS` sets the number
//! of kills (default sized for CI, about half a minute on two cores); `CRASH_RUN_MS` the longest a
//! client loop runs before its kill. The gateway's harness is `cos-gateway/tests/crash/`.
#![cfg(all(unix, feature = "grpc"))]

use std::{
    collections::{BTreeMap, HashMap},
    io::{BufRead as _, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    time::{Duration, Instant},
};

use base64::Engine as _;
use kms_proto::pb::{self, key_management_service_client::KeyManagementServiceClient};
use rand::{Rng as _, RngCore as _, SeedableRng as _, rngs::StdRng};
use tonic::transport::Channel;

/// Kills in the default (CI) run.
const DEFAULT_KILLS: u32 = 150;
/// Longest time (ms) the client loops run before the kill, by default.
const DEFAULT_RUN_MS: u64 = 120;
/// Client loops running at once; each owns the keys it made, so its own calls are ordered.
const WORKERS: usize = 2;
/// The pending slot of the start-up seed (after the workers' slots).
const STARTUP: usize = WORKERS;
/// One kill in this many lands during start-up (key loading, start-up seed) instead of a loop.
const STARTUP_KILL_EVERY: u32 = 4;
/// One kill in this many is of a fresh server during its first start (service key creation).
const FIRST_START_KILL_EVERY: u32 = 10;
/// The owner of the server's own keys in listings.
const OWNER_USER: &str = "user";
/// Service keys every server has (the default CMK and the SSE-COS key).
const SERVICE_KEYS: usize = 2;
/// ListKeys and BatchDecrypt page size (the largest both accept).
const PAGE: usize = 1000;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        })
        .unwrap_or(default)
}

// ---- the server process -------------------------------------------------------------------------

/// A `kms-server` child; killed (SIGKILL) when dropped.
struct Server {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    addr: mpsc::Receiver<String>,
}

impl Server {
    fn spawn(data_dir: &Path, seed: Option<&Path>) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kms-server"));
        command
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("RUST_LOG", "info")
            .env_remove("KMS_ROOT_KEY");
        if let Some(seed) = seed {
            command.arg("--seed").arg(seed);
        }
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kms-server");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, addr) = mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let line = strip_ansi(&line);
                if let Some(rest) = line.split("kms-server listening on ").nth(1) {
                    let a = rest.split_whitespace().next().unwrap_or_default();
                    let _ = tx.send(a.to_owned());
                }
                sink.lock().unwrap().push(line);
            }
        });
        Self { child, log, addr }
    }

    /// The bound address once logged, or the log if the process ended first.
    fn wait_listening(&self) -> Result<String, String> {
        self.addr
            .recv()
            .map_err(|_| self.log.lock().unwrap().join("\n"))
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
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

async fn connect(addr: &str) -> KeyManagementServiceClient<Channel> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("a valid URI")
        .connect()
        .await
        .expect("connect to a server that logged its address");
    KeyManagementServiceClient::new(channel)
}

// ---- the model ----------------------------------------------------------------------------------

/// A key as acknowledged.
#[derive(Clone, Debug)]
struct KeyModel {
    owner: usize,
    alias: String,
    description: String,
    versions: u32,
    enabled: bool,
    /// The material of every version, for a seeded key.
    material: Option<Vec<[u8; 32]>>,
}

/// A blob an acknowledged Encrypt returned.
#[derive(Clone, Debug)]
struct Blob {
    key_id: String,
    version: u32,
    context: String,
    plaintext: Vec<u8>,
    ciphertext: Vec<u8>,
}

/// A key a seed document names.
#[derive(Clone, Debug)]
struct SeedKey {
    key_id: String,
    alias: String,
    description: String,
    material: Vec<[u8; 32]>,
}

/// A call sent whose answer did not arrive (the server was killed).
#[derive(Clone, Debug)]
enum Pending {
    Create { alias: String, description: String },
    Rotate { key_id: String, from: u32 },
    Seed(Vec<SeedKey>),
    SetState { key_id: String, enabled: bool },
    Encrypt,
}

#[derive(Debug, Default)]
struct Model {
    keys: BTreeMap<String, KeyModel>,
    blobs: Vec<Blob>,
    pending: Vec<Option<Pending>>,
    /// Names handed out so far (aliases are never reused, even for calls that may have failed).
    names: u64,
}

impl Model {
    fn new() -> Self {
        Self {
            pending: vec![None; WORKERS + 1],
            ..Self::default()
        }
    }

    fn next_name(&mut self, prefix: &str) -> String {
        self.names += 1;
        format!("{prefix}-{}", self.names)
    }

    /// Applies an acknowledged seed document.
    fn apply_seed(&mut self, owner: usize, keys: &[SeedKey]) {
        for k in keys {
            // An existing key keeps its owner and state (a document without `state` leaves it).
            let (owner, enabled) = self
                .keys
                .get(&k.key_id)
                .map_or((owner, true), |e| (e.owner, e.enabled));
            self.keys.insert(
                k.key_id.clone(),
                KeyModel {
                    owner,
                    alias: k.alias.clone(),
                    description: k.description.clone(),
                    versions: k.material.len() as u32,
                    enabled,
                    material: Some(k.material.clone()),
                },
            );
        }
    }
}

/// A seed document of `keys` (YAML).
fn seed_document(keys: &[SeedKey]) -> String {
    let mut doc = String::from("keys:\n");
    for k in keys {
        doc.push_str(&format!(
            "  - key_id: {}\n    alias: {}\n    description: {}\n    material:\n",
            k.key_id, k.alias, k.description
        ));
        for m in &k.material {
            doc.push_str(&format!("      - {}\n", hex::encode(m)));
        }
    }
    doc
}

/// A document of every acknowledged seeded key as it stands (reloading it must change nothing).
fn all_seeded(model: &Model) -> Vec<SeedKey> {
    model
        .keys
        .iter()
        .filter_map(|(id, k)| {
            k.material.as_ref().map(|m| SeedKey {
                key_id: id.clone(),
                alias: k.alias.clone(),
                description: k.description.clone(),
                material: m.clone(),
            })
        })
        .collect()
}

/// A new seed document: one or two new keys, and sometimes a new version of a seeded key of
/// `owner`.
fn new_seed(model: &mut Model, owner: usize, rng: &mut StdRng) -> Vec<SeedKey> {
    let mut keys = Vec::new();
    for _ in 0..rng.random_range(1..=2) {
        let alias = model.next_name("seed");
        let material = (0..rng.random_range(1..=3))
            .map(|_| rng.random::<[u8; 32]>())
            .collect();
        keys.push(SeedKey {
            key_id: uuid::Uuid::from_u128(rng.random::<u128>() | 1).to_string(),
            description: format!("seeded {alias}"),
            alias,
            material,
        });
    }
    let mine: Vec<(String, KeyModel)> = model
        .keys
        .iter()
        .filter(|(_, k)| k.owner == owner && k.material.is_some())
        .map(|(id, k)| (id.clone(), k.clone()))
        .collect();
    if !mine.is_empty() && rng.random_bool(0.5) {
        let (id, k) = &mine[rng.random_range(0..mine.len())];
        let mut material = k.material.clone().expect("filtered on seeded keys");
        material.push(rng.random());
        keys.push(SeedKey {
            key_id: id.clone(),
            alias: k.alias.clone(),
            description: k.description.clone(),
            material,
        });
    }
    keys
}

fn context(n: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{{\"object\":\"o{n}\"}}"))
}

// ---- the client loops ---------------------------------------------------------------------------

/// What a worker's call needs, chosen under the model's lock.
enum Call {
    Create(String, String),
    Rotate(String, u32),
    Seed(Vec<SeedKey>),
    SetState(String, bool),
    Encrypt(String, Vec<u8>, String),
}

/// Runs random calls until the server dies; every acknowledged call is applied to the model.
async fn worker(
    w: usize,
    mut client: KeyManagementServiceClient<Channel>,
    model: Arc<Mutex<Model>>,
    killed: Arc<AtomicBool>,
    mut rng: StdRng,
    seed: u64,
) {
    loop {
        let call = {
            let mut m = model.lock().unwrap();
            let enabled: Vec<(String, KeyModel)> = m
                .keys
                .iter()
                .filter(|(_, k)| k.owner == w && k.enabled)
                .map(|(id, k)| (id.clone(), k.clone()))
                .collect();
            let mine: Vec<(String, KeyModel)> = m
                .keys
                .iter()
                .filter(|(_, k)| k.owner == w)
                .map(|(id, k)| (id.clone(), k.clone()))
                .collect();
            let roll = rng.random_range(0..100);
            let call = if enabled.is_empty() || roll < 25 {
                let alias = m.next_name(&format!("w{w}"));
                Call::Create(alias.clone(), format!("made by {alias}"))
            } else if roll < 45 {
                let own: Vec<_> = enabled
                    .iter()
                    .filter(|(_, k)| k.material.is_none())
                    .collect();
                match own.is_empty() {
                    true => Call::Seed(new_seed(&mut m, w, &mut rng)),
                    false => {
                        let (id, k) = own[rng.random_range(0..own.len())];
                        Call::Rotate(id.clone(), k.versions)
                    }
                }
            } else if roll < 60 {
                Call::Seed(new_seed(&mut m, w, &mut rng))
            } else if roll < 70 {
                let (id, k) = &mine[rng.random_range(0..mine.len())];
                Call::SetState(id.clone(), !k.enabled)
            } else {
                let (id, _) = &enabled[rng.random_range(0..enabled.len())];
                let mut plaintext = vec![0u8; rng.random_range(1..200)];
                rng.fill_bytes(&mut plaintext);
                m.names += 1;
                Call::Encrypt(id.clone(), plaintext, context(m.names))
            };
            m.pending[w] = Some(match &call {
                Call::Create(alias, description) => Pending::Create {
                    alias: alias.clone(),
                    description: description.clone(),
                },
                Call::Rotate(id, from) => Pending::Rotate {
                    key_id: id.clone(),
                    from: *from,
                },
                Call::Seed(keys) => Pending::Seed(keys.clone()),
                Call::SetState(id, enabled) => Pending::SetState {
                    key_id: id.clone(),
                    enabled: *enabled,
                },
                Call::Encrypt(..) => Pending::Encrypt,
            });
            call
        };
        let outcome: Result<(), tonic::Status> = match call {
            Call::Create(alias, description) => client
                .create_key(pb::CreateKeyRequest {
                    alias: alias.clone(),
                    description: description.clone(),
                    key_usage: String::new(),
                    ..Default::default()
                })
                .await
                .map(|r| {
                    let meta = r.into_inner().key_metadata.expect("metadata");
                    assert_eq!(meta.current_key_version, 1, "seed {seed}");
                    let mut m = model.lock().unwrap();
                    m.keys.insert(
                        meta.key_id,
                        KeyModel {
                            owner: w,
                            alias,
                            description,
                            versions: 1,
                            enabled: true,
                            material: None,
                        },
                    );
                    m.pending[w] = None;
                }),
            Call::Rotate(id, from) => client
                .rotate_key(pb::RotateKeyRequest { key_id: id.clone() })
                .await
                .map(|r| {
                    let version = r.into_inner().key_version;
                    assert_eq!(version, from + 1, "seed {seed}: rotation of {id}");
                    let mut m = model.lock().unwrap();
                    m.keys.get_mut(&id).expect("own key").versions = version;
                    m.pending[w] = None;
                }),
            Call::Seed(keys) => client
                .seed_keys(pb::SeedKeysRequest {
                    document: seed_document(&keys),
                })
                .await
                .map(|r| {
                    assert_eq!(r.into_inner().changed as usize, keys.len(), "seed {seed}");
                    let mut m = model.lock().unwrap();
                    m.apply_seed(w, &keys);
                    m.pending[w] = None;
                }),
            Call::SetState(id, enabled) => {
                let r = if enabled {
                    client
                        .enable_key(pb::EnableKeyRequest { key_id: id.clone() })
                        .await
                        .map(drop)
                } else {
                    client
                        .disable_key(pb::DisableKeyRequest { key_id: id.clone() })
                        .await
                        .map(drop)
                };
                r.map(|()| {
                    let mut m = model.lock().unwrap();
                    m.keys.get_mut(&id).expect("own key").enabled = enabled;
                    m.pending[w] = None;
                })
            }
            Call::Encrypt(id, plaintext, context) => client
                .encrypt(pb::EncryptRequest {
                    key_id: id.clone(),
                    plaintext: plaintext.clone(),
                    encryption_context: context.clone(),
                })
                .await
                .map(|r| {
                    let r = r.into_inner();
                    let mut m = model.lock().unwrap();
                    assert_eq!(
                        r.key_version, m.keys[&id].versions,
                        "seed {seed}: Encrypt under {id} used another version"
                    );
                    m.blobs.push(Blob {
                        key_id: id,
                        version: r.key_version,
                        context,
                        plaintext,
                        ciphertext: r.ciphertext_blob,
                    });
                    m.pending[w] = None;
                }),
        };
        if let Err(status) = outcome {
            // Only the kill may end a call without an answer.
            assert!(
                killed.load(Ordering::SeqCst),
                "seed {seed}: worker {w}: a call failed while the server ran: {status:?}"
            );
            return;
        }
    }
}

// ---- the checks after a restart -----------------------------------------------------------------

async fn list_keys(
    client: &mut KeyManagementServiceClient<Channel>,
    service: bool,
) -> Vec<pb::KeyMetadata> {
    let mut out = Vec::new();
    loop {
        let r = client
            .list_keys(pb::ListKeysRequest {
                offset: out.len() as u32,
                limit: PAGE as u32,
                state: 0,
                include_service_keys: service,
                ..Default::default()
            })
            .await
            .expect("ListKeys")
            .into_inner();
        let n = r.keys.len();
        out.extend(r.keys);
        if n < PAGE {
            return out;
        }
    }
}

fn state_of(enabled: bool) -> i32 {
    if enabled {
        pb::KeyState::Enabled as i32
    } else {
        pb::KeyState::Disabled as i32
    }
}

/// Resolves the calls in flight at the kill against what the server shows, adopting those that
/// took effect; panics on a half-applied one.
fn resolve_pending(model: &mut Model, listed: &HashMap<String, pb::KeyMetadata>, seed: u64) {
    let by_alias: HashMap<&str, &pb::KeyMetadata> =
        listed.values().map(|k| (k.alias.as_str(), k)).collect();
    for slot in 0..model.pending.len() {
        let Some(p) = model.pending[slot].take() else {
            continue;
        };
        match p {
            Pending::Create { alias, description } => {
                if let Some(k) = by_alias.get(alias.as_str()) {
                    assert_eq!(
                        (k.description.as_str(), k.current_key_version, k.state),
                        (description.as_str(), 1, pb::KeyState::Enabled as i32),
                        "seed {seed}: an unacknowledged CreateKey left a partial key {k:?}"
                    );
                    model.keys.insert(
                        k.key_id.clone(),
                        KeyModel {
                            owner: slot,
                            alias,
                            description,
                            versions: 1,
                            enabled: true,
                            material: None,
                        },
                    );
                }
            }
            Pending::Rotate { key_id, from } => {
                let got = listed.get(&key_id).map(|k| k.current_key_version);
                assert!(
                    got == Some(from) || got == Some(from + 1),
                    "seed {seed}: key {key_id} at version {got:?} after a rotation from {from}"
                );
                model.keys.get_mut(&key_id).expect("own key").versions = got.unwrap_or(from);
            }
            Pending::SetState { key_id, enabled } => {
                let got = listed.get(&key_id).map(|k| k.state);
                let k = model.keys.get_mut(&key_id).expect("own key");
                assert!(
                    got == Some(state_of(enabled)) || got == Some(state_of(k.enabled)),
                    "seed {seed}: key {key_id} in state {got:?}"
                );
                k.enabled = got == Some(state_of(true));
            }
            Pending::Seed(keys) => {
                let applied: Vec<bool> = keys
                    .iter()
                    .map(|k| {
                        listed
                            .get(&k.key_id)
                            .is_some_and(|l| l.current_key_version as usize == k.material.len())
                    })
                    .collect();
                assert!(
                    applied.iter().all(|&a| a) || applied.iter().all(|&a| !a),
                    "seed {seed}: a seed document was applied in part: {applied:?} of {keys:?}"
                );
                if applied[0] {
                    model.apply_seed(if slot == STARTUP { 0 } else { slot }, &keys);
                }
            }
            Pending::Encrypt => {}
        }
    }
}

/// Every check of the module docs, on a freshly restarted server.
async fn verify(client: &mut KeyManagementServiceClient<Channel>, model: &mut Model, seed: u64) {
    let listed: HashMap<String, pb::KeyMetadata> = list_keys(client, false)
        .await
        .into_iter()
        .map(|k| (k.key_id.clone(), k))
        .collect();
    resolve_pending(model, &listed, seed);
    for (id, k) in &listed {
        assert_eq!(k.owner, OWNER_USER);
        let Some(want) = model.keys.get(id) else {
            panic!("seed {seed}: key {k:?} was never acknowledged nor in flight");
        };
        assert_eq!(
            (
                k.alias.as_str(),
                k.description.as_str(),
                k.current_key_version,
                k.state
            ),
            (
                want.alias.as_str(),
                want.description.as_str(),
                want.versions,
                state_of(want.enabled)
            ),
            "seed {seed}: key {id} differs from what was acknowledged"
        );
    }
    for id in model.keys.keys() {
        assert!(
            listed.contains_key(id),
            "seed {seed}: acknowledged key {id} is lost"
        );
    }
    let service = list_keys(client, true).await.len() - listed.len();
    assert_eq!(service, SERVICE_KEYS, "seed {seed}: service keys");
    // Blobs of enabled keys decrypt (a disabled key refuses Decrypt by design).
    let blobs: Vec<&Blob> = model
        .blobs
        .iter()
        .filter(|b| model.keys[&b.key_id].enabled)
        .collect();
    for chunk in blobs.chunks(PAGE) {
        let r = client
            .batch_decrypt(pb::BatchDecryptRequest {
                items: chunk
                    .iter()
                    .map(|b| pb::DecryptRequest {
                        ciphertext_blob: b.ciphertext.clone(),
                        encryption_context: b.context.clone(),
                        ..Default::default()
                    })
                    .collect(),
            })
            .await
            .expect("BatchDecrypt")
            .into_inner();
        for (b, got) in chunk.iter().zip(r.results) {
            match got.result {
                Some(pb::batch_decrypt_result::Result::Ok(d)) => assert_eq!(
                    (d.key_id.as_str(), d.key_version, d.plaintext.as_slice()),
                    (b.key_id.as_str(), b.version, b.plaintext.as_slice()),
                    "seed {seed}: a blob decrypts to something else"
                ),
                other => panic!("seed {seed}: blob of {} fails: {other:?}", b.key_id),
            }
        }
    }
    // The seeded material is intact: the whole seed reloads as a no-op.
    let seeded = all_seeded(model);
    if !seeded.is_empty() {
        let r = client
            .seed_keys(pb::SeedKeysRequest {
                document: seed_document(&seeded),
            })
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: reloading the acknowledged seeds: {e:?}"))
            .into_inner();
        assert_eq!(
            (r.changed, r.total as usize),
            (0, seeded.len()),
            "seed {seed}"
        );
    }
}

// ---- the harness --------------------------------------------------------------------------------

/// Kills a server on a fresh directory during its first start, then checks it starts again with
/// its two service keys.
async fn first_start_kill(scratch: &Path, n: u32, rng: &mut StdRng, startup: Duration, seed: u64) {
    let dir = scratch.join(format!("first-{n}"));
    let mut server = Server::spawn(&dir, None);
    tokio::time::sleep(startup.mul_f64(rng.random_range(0.0..1.2))).await;
    server.kill();
    let server = Server::spawn(&dir, None);
    let addr = server.wait_listening().unwrap_or_else(|log| {
        panic!("seed {seed}: no start after a kill during the first start:\n{log}")
    });
    let keys = list_keys(&mut connect(&addr).await, true).await;
    assert_eq!(keys.len(), SERVICE_KEYS, "seed {seed}: {keys:?}");
    // No temporary root key file outlives the restart (each holds a key).
    let temporary: Vec<_> = std::fs::read_dir(&dir)
        .expect("the data dir")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(temporary.is_empty(), "seed {seed}: {temporary:?}");
    drop(server);
    std::fs::remove_dir_all(&dir).expect("remove the scratch data dir");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_keys_survive_random_kills() {
    let seed = env_u64("CRASH_SEED", rand::rng().random());
    let kills = env_u64("CRASH_KILLS", DEFAULT_KILLS.into()) as u32;
    let run_ms = env_u64("CRASH_RUN_MS", DEFAULT_RUN_MS);
    println!("kms crash harness: CRASH_SEED={seed} CRASH_KILLS={kills} CRASH_RUN_MS={run_ms}");
    let mut rng = StdRng::seed_from_u64(seed);
    let scratch = tempfile::tempdir().expect("temp dir");
    let data: PathBuf = scratch.path().join("data");
    let seed_file = scratch.path().join("seed.yaml");
    let model = Arc::new(Mutex::new(Model::new()));
    let began = Instant::now();
    let mut startup = Duration::from_millis(50);
    let (mut loop_kills, mut startup_kills, mut first_kills) = (0u32, 0u32, 0u32);
    for n in 0..kills {
        if n % FIRST_START_KILL_EVERY == FIRST_START_KILL_EVERY - 1 {
            first_start_kill(scratch.path(), n, &mut rng, startup, seed).await;
            first_kills += 1;
            continue;
        }
        // Sometimes a start-up seed document: acknowledged once the server listens.
        let idle = model.lock().unwrap().pending[STARTUP].is_none();
        let start_seed = (idle && rng.random_bool(0.3)).then(|| {
            let mut m = model.lock().unwrap();
            let keys = new_seed(&mut m, 0, &mut rng);
            std::fs::write(&seed_file, seed_document(&keys)).expect("write the seed file");
            m.pending[STARTUP] = Some(Pending::Seed(keys.clone()));
            keys
        });
        let spawned = Instant::now();
        let mut server = Server::spawn(&data, start_seed.as_ref().map(|_| seed_file.as_path()));
        if n % STARTUP_KILL_EVERY == 1 {
            tokio::time::sleep(startup.mul_f64(rng.random_range(0.0..1.2))).await;
            server.kill();
            startup_kills += 1;
            continue;
        }
        let addr = server
            .wait_listening()
            .unwrap_or_else(|log| panic!("seed {seed}: no start after kill {n}:\n{log}"));
        startup = (startup + spawned.elapsed()) / 2;
        let mut client = connect(&addr).await;
        // Checked out of the mutex: the lock is not held across the calls.
        let mut checked = {
            let mut m = model.lock().unwrap();
            if let (Some(keys), Some(Pending::Seed(_))) = (&start_seed, &m.pending[STARTUP]) {
                m.pending[STARTUP] = None;
                m.apply_seed(0, keys);
            }
            std::mem::take(&mut *m)
        };
        verify(&mut client, &mut checked, seed).await;
        *model.lock().unwrap() = checked;
        let killed = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                tokio::spawn(worker(
                    w,
                    client.clone(),
                    Arc::clone(&model),
                    Arc::clone(&killed),
                    StdRng::seed_from_u64(rng.random()),
                    seed,
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..=run_ms))).await;
        killed.store(true, Ordering::SeqCst);
        server.kill();
        for w in workers {
            w.await.expect("a worker panicked");
        }
        loop_kills += 1;
    }
    // A last start and check, with no kill after it.
    let server = Server::spawn(&data, None);
    let addr = server
        .wait_listening()
        .unwrap_or_else(|log| panic!("seed {seed}: no final start:\n{log}"));
    let mut client = connect(&addr).await;
    let mut m = std::mem::take(&mut *model.lock().unwrap());
    verify(&mut client, &mut m, seed).await;
    let versions: u32 = m.keys.values().map(|k| k.versions).sum();
    println!(
        "kms crash harness: {kills} kills ({loop_kills} during client loops, {startup_kills} \
         during start-up, {first_kills} during a first start) in {:.1} s; {} keys, {versions} \
         versions, {} blobs checked after every restart",
        began.elapsed().as_secs_f64(),
        m.keys.len(),
        m.blobs.len()
    );
    assert!(
        !m.keys.is_empty() && !m.blobs.is_empty(),
        "seed {seed}: the loops did nothing"
    );
}
