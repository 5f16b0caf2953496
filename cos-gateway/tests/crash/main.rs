//! Crash consistency of the real `cos-gateway` binary, once with its embedded KMS in the same
//! process and once over gRPC to a kms-server that outlives the gateway (`--kms-endpoint`, the
//! production set-up): SIGKILL at random moments while clients loop over PUT (plain, SSE-COS, SSE-KMS, SSE-C),
//! multipart uploads (Complete and Abort), PUT Object - Copy and DELETE, restart, and check after
//! every restart that
//!
//! * every acknowledged object reads back (GET, with its SSE-C key when it has one) with exactly
//!   the acknowledged bytes, and HEAD agrees on its length and ETag;
//! * a write in flight at the kill is all or nothing: the key holds either the old object or the
//!   whole new one (or, for a DELETE, nothing); a Complete either made the object and ended the
//!   upload, or left both as they were;
//! * the bucket listing and the multipart upload listing show exactly the acknowledged objects and
//!   uploads (plus in-flight ones that took effect), nothing half-made;
//! * no body file survives the start-up sweep unless a row names it (`objects/`), `tmp/` is empty,
//!   and no temporary key file is left in the data directory;
//! * a gateway killed during its very first start (root key, KMS service keys, SSE-C verifier key)
//!   starts again and serves SSE-C.
//!
//! A third run does the same in a bucket with versioning enabled ([`versions`]): writes, delete
//! markers, deletes of one version and copies from one version, and after every restart each
//! acknowledged version (and no other) is listed and reads back by its id.
//!
//! `CRASH_SEED=<u64>` replays the operation sequence (the kill timing still depends on the
//! machine); `CRASH_KILLS` sets the number of kills (default sized for CI); `CRASH_RUN_MS` the
//! longest a client loop runs before its kill. The KMS's harness is `kms-server/tests/crash.rs`.
#![cfg(unix)]

#[path = "../common/mod.rs"]
mod common;
mod versions;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use common::{HOST, Raw, Req, ssec};
use rand::{Rng as _, RngCore as _, SeedableRng as _, rngs::StdRng};

/// Kills in the default (CI) run with the embedded KMS.
const DEFAULT_KILLS: u32 = 150;
/// Kills in the default run over gRPC to a separate kms-server: fewer, since the start-up and
/// the file paths are the same; what it adds is the KMS round trip inside each write.
const DEFAULT_KILLS_SEPARATE_KMS: u32 = DEFAULT_KILLS / 2;
/// Kills in the default run in a versioned bucket (embedded KMS): the write paths are those of the
/// first run; what it adds is the version rows and their bodies.
const DEFAULT_KILLS_VERSIONED: u32 = DEFAULT_KILLS / 2;
/// Longest time (ms) the client loops run before the kill, by default.
const DEFAULT_RUN_MS: u64 = 150;
/// Client loops running at once; each owns its own object keys, so its own calls are ordered.
const WORKERS: usize = 2;
/// Object keys per worker (overwritten, copied and deleted over and over).
const KEYS_PER_WORKER: usize = 5;
/// One kill in this many lands during start-up instead of during the client loops.
const STARTUP_KILL_EVERY: u32 = 4;
/// One kill in this many is of a fresh gateway during its first start.
const FIRST_START_KILL_EVERY: u32 = 10;
/// The smallest part other than the last (the gateway's rule).
const MIN_PART: usize = 1 << 20;
/// The largest single PUT body.
const MAX_PUT: usize = 300_000;
/// Bodies at and around the adapter's 64 KiB segment boundary.
const EDGE_SIZES: [usize; 5] = [0, 1, 65_535, 65_536, 65_537];

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

// ---- the gateway process ------------------------------------------------------------------------

/// A `cos-gateway` child; killed (SIGKILL) when dropped.
struct Gateway {
    child: Child,
    addr: mpsc::Receiver<SocketAddr>,
}

impl Gateway {
    /// A gateway on `data_dir`, with its embedded KMS or over gRPC to `kms` (a URL).
    fn spawn(data_dir: &Path, kms: Option<&str>) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cos-gateway"));
        command
            .args([
                "--listen",
                "127.0.0.1:0",
                "--allow-ssec-over-http",
                "--data-dir",
            ])
            .arg(data_dir);
        if let Some(url) = kms {
            command.args(["--kms-endpoint", url]);
        }
        let mut child = command
            .env("COS_SECRET_ID", common::SECRET_ID)
            .env("COS_SECRET_KEY", common::SECRET_KEY)
            .env_remove("KMS_ROOT_KEY")
            .env_remove("COS_GATEWAY_KMS_ENDPOINT")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn cos-gateway");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, addr) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(a) = line.split("listening on http://").nth(1)
                    && let Ok(a) = a.trim().parse()
                {
                    let _ = tx.send(a);
                }
            }
        });
        Self { child, addr }
    }

    /// The bound address once printed; `None` if the process ended first.
    fn wait_listening(&self) -> Option<SocketAddr> {
        self.addr.recv().ok()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Sends `req`; `Err` unless a whole response arrived (a response cut by the kill is no answer).
fn try_send(req: Req<'_>, addr: SocketAddr) -> Result<Raw, String> {
    let mut s = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.write_all(req.head().as_bytes())
        .and_then(|()| s.write_all(&req.body))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).map_err(|e| e.to_string())?;
    if !out.windows(4).any(|w| w == b"\r\n\r\n") {
        return Err(format!(
            "no response head: {:?}",
            String::from_utf8_lossy(&out)
        ));
    }
    let r = Raw::parse(&out);
    // A response with a body must say its length (the gateway never chunks), and have it all.
    let whole = req.method == "HEAD"
        || r.status == 204
        || r.get("content-length").and_then(|n| n.parse().ok()) == Some(r.body.len());
    if whole {
        Ok(r)
    } else {
        Err(format!("a cut response: {}", r.head))
    }
}

/// Sends `req` to a gateway that is not being killed: any failure is one.
fn send(req: Req<'_>, addr: SocketAddr, seed: u64) -> Raw {
    let what = format!("{} {}", req.method, req.target);
    try_send(req, addr).unwrap_or_else(|e| panic!("seed {seed}: {what}: {e}"))
}

// ---- the model ----------------------------------------------------------------------------------

/// How an object is encrypted.
#[derive(Clone, Debug, PartialEq)]
enum Sse {
    Plain,
    Cos,
    Kms,
    Customer([u8; 32]),
}

impl Sse {
    fn random(rng: &mut StdRng) -> Self {
        match rng.random_range(0..4) {
            0 => Sse::Plain,
            1 => Sse::Cos,
            2 => Sse::Kms,
            _ => Sse::Customer(rng.random()),
        }
    }

    /// The headers of a write (PUT, Initiate, copy destination).
    fn write_headers(&self) -> Vec<(String, String)> {
        let sse = |v: &str| vec![("x-cos-server-side-encryption".into(), v.to_owned())];
        match self {
            Sse::Plain => Vec::new(),
            Sse::Cos => sse("AES256"),
            Sse::Kms => sse("cos/kms"),
            Sse::Customer(k) => ssec(k),
        }
    }

    /// The headers a read needs (and a part upload of an SSE-C upload).
    fn read_headers(&self) -> Vec<(String, String)> {
        match self {
            Sse::Customer(k) => ssec(k),
            _ => Vec::new(),
        }
    }

    /// The headers naming this object as a copy source.
    fn source_headers(&self) -> Vec<(String, String)> {
        self.read_headers()
            .into_iter()
            .map(|(k, v)| (k.replace("x-cos-", "x-cos-copy-source-"), v))
            .collect()
    }
}

/// An object as acknowledged.
#[derive(Clone, Debug)]
struct Version {
    bytes: Arc<Vec<u8>>,
    sse: Sse,
}

/// A call sent whose answer did not arrive (the gateway was killed).
#[derive(Clone, Debug)]
enum Pending {
    /// A PUT or a copy: the key holds the old object or `new`.
    Write { key: String, new: Version },
    /// The key holds the old object or nothing.
    Delete { key: String },
    /// An Initiate: an upload of `key` may exist that no answer named.
    Initiate { key: String },
    /// The upload still exists, or it is gone and the key holds `new`.
    Complete {
        key: String,
        upload: String,
        new: Version,
    },
    /// The upload exists or not; no object changes.
    Abort { upload: String },
    /// A part upload: nothing visible changes but the upload's parts.
    Part,
    /// A DELETE of one version (versioned buckets): it is there or gone.
    DeleteVersion { key: String, id: String },
}

#[derive(Debug, Default)]
struct Model {
    /// Whether the bucket has versioning enabled (then `history` is kept).
    versioned: bool,
    /// Each key's latest object.
    objects: BTreeMap<String, Version>,
    /// Each key's versions, newest first (versioned buckets only).
    history: BTreeMap<String, Vec<versions::Entry>>,
    /// The longest history any key has had (versioned buckets only).
    most_versions: usize,
    /// Upload id -> key, for uploads acknowledged and neither completed nor aborted.
    uploads: BTreeMap<String, String>,
    pending: Vec<Option<Pending>>,
}

impl Model {
    /// An acknowledged PUT, copy or Complete; `version_id` is the answer's `x-cos-version-id`.
    fn record_write(&mut self, key: String, new: Version, version_id: Option<&str>) {
        if self.versioned {
            let id = version_id.expect("a versioned write answers with its version id");
            versions::record(self, &key, id, Some(new.clone()));
        }
        self.objects.insert(key, new);
    }

    /// An acknowledged DELETE of a key (a delete marker in a versioned bucket).
    fn record_delete(&mut self, key: String, version_id: Option<&str>) {
        if self.versioned {
            let id = version_id.expect("a versioned DELETE answers with its marker's id");
            versions::record(self, &key, id, None);
        }
        self.objects.remove(&key);
    }
}

fn random_bytes(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    rng.fill_bytes(&mut b);
    b
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Vec<&'a str> {
    text.split(open)
        .skip(1)
        .filter_map(|s| s.split(close).next())
        .collect()
}

// ---- the client loops ---------------------------------------------------------------------------

/// One worker's loop until the gateway dies; every acknowledged call is applied to the model.
struct Worker {
    w: usize,
    addr: SocketAddr,
    model: Arc<Mutex<Model>>,
    killed: Arc<AtomicBool>,
    rng: StdRng,
    seed: u64,
    versioned: bool,
}

impl Worker {
    /// Sends a call recorded as `pending`; `None` once the gateway is gone (it stays pending).
    fn call(&self, pending: Pending, req: Req<'_>) -> Option<Raw> {
        self.model.lock().unwrap().pending[self.w] = Some(pending);
        match try_send(req, self.addr) {
            Ok(r) if r.status < 300 => Some(r),
            Ok(r) if !self.killed.load(Ordering::SeqCst) => panic!(
                "seed {}: worker {}: {}\n{}",
                self.seed,
                self.w,
                r.head,
                r.text()
            ),
            Ok(_) => None,
            Err(e) => {
                assert!(
                    self.killed.load(Ordering::SeqCst),
                    "seed {}: worker {}: a call failed while the gateway ran: {e}",
                    self.seed,
                    self.w
                );
                None
            }
        }
    }

    fn done(&self, f: impl FnOnce(&mut Model)) {
        let mut m = self.model.lock().unwrap();
        f(&mut m);
        m.pending[self.w] = None;
    }

    fn run(mut self) {
        while self.step().is_some() {}
    }

    fn step(&mut self) -> Option<()> {
        let key = format!("w{}/k{}", self.w, self.rng.random_range(0..KEYS_PER_WORKER));
        if self.versioned && self.versioned_step(&key)? {
            return Some(());
        }
        let path = format!("/{key}");
        match self.rng.random_range(0..100) {
            0..40 => {
                let len = if self.rng.random_bool(0.2) {
                    EDGE_SIZES[self.rng.random_range(0..EDGE_SIZES.len())]
                } else {
                    self.rng.random_range(0..=MAX_PUT)
                };
                let new = Version {
                    bytes: Arc::new(random_bytes(&mut self.rng, len)),
                    sse: Sse::random(&mut self.rng),
                };
                let req = Req::new("PUT", &path)
                    .headers(&new.sse.write_headers())
                    .body(new.bytes.to_vec());
                let pending = Pending::Write {
                    key: key.clone(),
                    new: new.clone(),
                };
                let r = self.call(pending, req)?;
                self.done(|m| m.record_write(key, new, r.get("x-cos-version-id")));
            }
            40..55 => {
                let (src_key, src) = {
                    let m = self.model.lock().unwrap();
                    let mine: Vec<_> = m
                        .objects
                        .iter()
                        .filter(|(k, _)| k.starts_with(&format!("w{}/", self.w)))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    if mine.is_empty() {
                        return Some(());
                    }
                    mine[self.rng.random_range(0..mine.len())].clone()
                };
                if src_key == key {
                    return Some(());
                }
                let new = Version {
                    bytes: src.bytes.clone(),
                    sse: Sse::random(&mut self.rng),
                };
                let source = format!("{HOST}/{src_key}");
                let req = Req::new("PUT", &path)
                    .header("x-cos-copy-source", &source)
                    .headers(&src.sse.source_headers())
                    .headers(&new.sse.write_headers());
                let pending = Pending::Write {
                    key: key.clone(),
                    new: new.clone(),
                };
                let r = self.call(pending, req)?;
                self.done(|m| m.record_write(key, new, r.get("x-cos-version-id")));
            }
            55..62 => {
                // Abort an upload a kill left behind (this worker's), if any.
                let mine = format!("w{}/", self.w);
                let left = (self.model.lock().unwrap().uploads.iter())
                    .find(|(_, k)| k.starts_with(&mine))
                    .map(|(id, k)| (id.clone(), k.clone()));
                let Some((upload, key)) = left else {
                    return Some(());
                };
                let target = format!("/{key}?uploadId={upload}");
                let pending = Pending::Abort {
                    upload: upload.clone(),
                };
                self.call(pending, Req::new("DELETE", &target))?;
                self.done(|m| {
                    m.uploads.remove(&upload);
                });
            }
            62..75 => {
                let r = self.call(
                    Pending::Delete { key: key.clone() },
                    Req::new("DELETE", &path),
                )?;
                self.done(|m| m.record_delete(key, r.get("x-cos-version-id")));
            }
            _ => self.multipart(key)?,
        }
        Some(())
    }

    /// Initiate, two parts (a minimum-size one and a tail), then Complete (or, one time in five,
    /// Abort).
    fn multipart(&mut self, key: String) -> Option<()> {
        let sse = Sse::random(&mut self.rng);
        let initiate = format!("/{key}?uploads");
        let r = self.call(
            Pending::Initiate { key: key.clone() },
            Req::new("POST", &initiate).headers(&sse.write_headers()),
        )?;
        let text = r.text();
        let upload = between(&text, "<UploadId>", "</UploadId>")[0].to_owned();
        self.done(|m| {
            m.uploads.insert(upload.clone(), key.clone());
        });
        let tail = self.rng.random_range(1..=100_000);
        let first = random_bytes(&mut self.rng, MIN_PART);
        let second = random_bytes(&mut self.rng, tail);
        let mut etags = Vec::new();
        for (n, body) in [(1, &first), (2, &second)] {
            let target = format!("/{key}?partNumber={n}&uploadId={upload}");
            let req = Req::new("PUT", &target)
                .headers(&sse.read_headers())
                .body(body.clone());
            let r = self.call(Pending::Part, req)?;
            etags.push(r.get("etag").expect("a part's ETag").to_owned());
            self.done(|_| {});
        }
        let target = format!("/{key}?uploadId={upload}");
        if self.rng.random_bool(0.2) {
            let pending = Pending::Abort {
                upload: upload.clone(),
            };
            self.call(pending, Req::new("DELETE", &target))?;
            self.done(|m| {
                m.uploads.remove(&upload);
            });
            return Some(());
        }
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (n, e) in etags.iter().enumerate() {
            xml.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{e}</ETag></Part>",
                n + 1
            ));
        }
        xml.push_str("</CompleteMultipartUpload>");
        let mut bytes = first;
        bytes.extend_from_slice(&second);
        let new = Version {
            bytes: Arc::new(bytes),
            sse,
        };
        let pending = Pending::Complete {
            key: key.clone(),
            upload: upload.clone(),
            new: new.clone(),
        };
        let r = self.call(pending, Req::new("POST", &target).body(xml))?;
        self.done(|m| {
            m.uploads.remove(&upload);
            m.record_write(key, new, r.get("x-cos-version-id"));
        });
        Some(())
    }
}

// ---- the checks after a restart -----------------------------------------------------------------

/// What `key` holds now: `Some(candidate)` when GET returns one of `candidates` byte for byte
/// (and HEAD agrees), `None` when it is absent and `absent_ok`; panics otherwise.
fn read_back(
    addr: SocketAddr,
    key: &str,
    candidates: &[&Version],
    absent_ok: bool,
    seed: u64,
) -> Option<Version> {
    let path = format!("/{key}");
    let mut seen = Vec::new();
    for c in candidates {
        let r = send(
            Req::new("GET", &path).headers(&c.sse.read_headers()),
            addr,
            seed,
        );
        if r.status == 404 && absent_ok {
            return None;
        }
        if r.status == 200 && r.body == *c.bytes {
            let h = send(
                Req::new("HEAD", &path).headers(&c.sse.read_headers()),
                addr,
                seed,
            );
            assert_eq!(
                (h.status, h.get("content-length"), h.get("etag")),
                (200, Some(c.bytes.len().to_string().as_str()), r.get("etag")),
                "seed {seed}: HEAD {key} disagrees with GET"
            );
            return Some((*c).clone());
        }
        seen.push(format!(
            "{} ({} bytes) {}",
            r.status,
            r.body.len(),
            r.code()
        ));
    }
    panic!(
        "seed {seed}: {key} holds none of the {} acceptable objects (absent allowed: {absent_ok}): \
         {seen:?}",
        candidates.len()
    );
}

/// No body file without a row, nothing in `tmp/`, no temporary key file.
fn check_no_orphans(dir: &Path, seed: u64) {
    let db = rusqlite::Connection::open_with_flags(
        dir.join("gateway.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the catalog read-only");
    let mut referenced = HashSet::new();
    let mut st = db.prepare("SELECT files FROM objects").unwrap();
    for files in st.query_map([], |r| r.get::<_, String>(0)).unwrap() {
        let files: Vec<String> = serde_json::from_str(&files.unwrap()).unwrap();
        referenced.extend(files);
    }
    let mut st = db.prepare("SELECT files FROM versions").unwrap();
    for files in st.query_map([], |r| r.get::<_, String>(0)).unwrap() {
        let files: Vec<String> = serde_json::from_str(&files.unwrap()).unwrap();
        referenced.extend(files);
    }
    let mut st = db.prepare("SELECT file FROM parts").unwrap();
    for f in st.query_map([], |r| r.get::<_, String>(0)).unwrap() {
        referenced.insert(f.unwrap());
    }
    let names = |sub: &str| -> HashSet<String> {
        std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    let bodies = names("objects");
    let orphans: Vec<_> = bodies.difference(&referenced).collect();
    let missing: Vec<_> = referenced.difference(&bodies).collect();
    assert!(
        orphans.is_empty() && missing.is_empty(),
        "seed {seed}: orphan body files {orphans:?}, missing body files {missing:?}"
    );
    assert_eq!(
        names("tmp"),
        HashSet::new(),
        "seed {seed}: tmp/ after start"
    );
    let temporary: Vec<_> = names(".")
        .into_iter()
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(temporary.is_empty(), "seed {seed}: {temporary:?}");
}

/// Every check of the module docs, on a freshly restarted gateway.
fn verify(addr: SocketAddr, dir: &Path, model: &mut Model, seed: u64) {
    check_no_orphans(dir, seed);
    let listed_uploads = {
        let r = send(Req::new("GET", "/?uploads"), addr, seed);
        let text = r.text();
        between(&text, "<Upload>", "</Upload>")
            .into_iter()
            .map(|u| {
                let key = between(u, "<Key>", "</Key>")[0].to_owned();
                (between(u, "<UploadId>", "</UploadId>")[0].to_owned(), key)
            })
            .collect::<BTreeMap<String, String>>()
    };
    let listed_versions = model.versioned.then(|| versions::list(addr, seed));
    // The calls in flight at the kill: all or nothing.
    for p in std::mem::take(&mut model.pending).into_iter().flatten() {
        if let Some(listed) = &listed_versions
            && versions::settle(addr, model, &p, listed, &listed_uploads, seed)
        {
            continue;
        }
        match p {
            Pending::Write { key, new } => {
                let old = model.objects.get(&key).cloned();
                let cands: Vec<&Version> = old.iter().chain([&new]).collect();
                match read_back(addr, &key, &cands, old.is_none(), seed) {
                    Some(v) => model.objects.insert(key, v),
                    None => model.objects.remove(&key),
                };
            }
            Pending::Delete { key } => {
                if let Some(old) = model.objects.get(&key).cloned()
                    && read_back(addr, &key, &[&old], true, seed).is_none()
                {
                    model.objects.remove(&key);
                }
            }
            Pending::Initiate { key } => {
                let made: Vec<_> = listed_uploads
                    .iter()
                    .filter(|(id, k)| **k == key && !model.uploads.contains_key(*id))
                    .collect();
                assert!(made.len() <= 1, "seed {seed}: {made:?}");
                for (id, k) in made {
                    model.uploads.insert(id.clone(), k.clone());
                }
            }
            Pending::Complete { key, upload, new } => {
                let old = model.objects.get(&key).cloned();
                let cands: Vec<&Version> = old.iter().chain([&new]).collect();
                let now = read_back(addr, &key, &cands, old.is_none(), seed);
                let completed = now
                    .as_ref()
                    .is_some_and(|v| Arc::ptr_eq(&v.bytes, &new.bytes));
                assert_eq!(
                    listed_uploads.contains_key(&upload),
                    !completed,
                    "seed {seed}: upload {upload} of {key}: completed {completed}"
                );
                if completed {
                    model.uploads.remove(&upload);
                    model.objects.insert(key, new);
                }
            }
            Pending::Abort { upload } => {
                if !listed_uploads.contains_key(&upload) {
                    model.uploads.remove(&upload);
                }
            }
            Pending::Part => {}
            Pending::DeleteVersion { .. } => unreachable!("settled by versions::settle"),
        }
    }
    model.pending = vec![None; WORKERS];
    assert_eq!(
        listed_uploads, model.uploads,
        "seed {seed}: the listed uploads differ from the acknowledged ones"
    );
    if let Some(listed) = &listed_versions {
        versions::check(addr, model, listed, seed);
    }
    // Every acknowledged object reads back, and the listing shows exactly them.
    for (key, v) in &model.objects {
        read_back(addr, key, &[v], false, seed);
    }
    let r = send(Req::new("GET", "/?max-keys=1000"), addr, seed);
    let text = r.text();
    let listed: BTreeMap<String, usize> = between(&text, "<Contents>", "</Contents>")
        .into_iter()
        .map(|c| {
            (
                between(c, "<Key>", "</Key>")[0].to_owned(),
                between(c, "<Size>", "</Size>")[0].parse().unwrap(),
            )
        })
        .collect();
    let want: BTreeMap<String, usize> = model
        .objects
        .iter()
        .map(|(k, v)| (k.clone(), v.bytes.len()))
        .collect();
    assert_eq!(listed, want, "seed {seed}: the bucket listing");
}

// ---- the harness --------------------------------------------------------------------------------

/// Kills a gateway on a fresh directory during its first start, then checks it starts again and
/// stores and reads an SSE-C object.
fn first_start_kill(
    scratch: &Path,
    kms: Option<&str>,
    n: u32,
    rng: &mut StdRng,
    startup: Duration,
    seed: u64,
) {
    let dir = scratch.join(format!("first-{n}"));
    let mut gw = Gateway::spawn(&dir, kms);
    std::thread::sleep(startup.mul_f64(rng.random_range(0.0..1.2)));
    gw.kill();
    let gw = Gateway::spawn(&dir, kms);
    let addr = gw
        .wait_listening()
        .unwrap_or_else(|| panic!("seed {seed}: no start after a kill during the first start"));
    let key: [u8; 32] = rng.random();
    send(Req::new("PUT", "/"), addr, seed).assert_status(200);
    let put = Req::new("PUT", "/o").headers(&ssec(&key)).body("first");
    send(put, addr, seed).assert_status(200);
    let r = send(Req::new("GET", "/o").headers(&ssec(&key)), addr, seed);
    assert_eq!(r.body, b"first", "seed {seed}");
    check_no_orphans(&dir, seed);
    drop(gw);
    std::fs::remove_dir_all(&dir).expect("remove the scratch data dir");
}

#[test]
fn acknowledged_objects_survive_random_kills() {
    harness("embedded KMS", None, DEFAULT_KILLS, false);
}

/// The same in a bucket with versioning enabled: every acknowledged version survives, by its id.
#[test]
fn acknowledged_versions_survive_random_kills() {
    harness(
        "versioned bucket, embedded KMS",
        None,
        DEFAULT_KILLS_VERSIONED,
        true,
    );
}

/// The gateway over gRPC to a kms-server that is never killed: object keys come from and go back
/// to the KMS, so a kill between the KMS's answer and the catalog's commit must still leave nothing
/// half-made, and a restarted gateway must open what it acknowledged before.
#[test]
fn acknowledged_objects_survive_random_kills_with_a_separate_kms_server() {
    let kms_dir = tempfile::tempdir().expect("temp dir");
    let (url, _kms, _thread) = common::kms_server(kms_dir.path());
    harness(
        "kms-server over gRPC",
        Some(&url),
        DEFAULT_KILLS_SEPARATE_KMS,
        false,
    );
}

/// Runs the kill loop against gateways with the embedded KMS (`kms` None) or over gRPC to `kms`,
/// in a bucket with versioning enabled when `versioned`.
fn harness(label: &str, kms: Option<&str>, default_kills: u32, versioned: bool) {
    let seed = env_u64("CRASH_SEED", rand::rng().random());
    let kills = env_u64("CRASH_KILLS", default_kills.into()) as u32;
    let run_ms = env_u64("CRASH_RUN_MS", DEFAULT_RUN_MS);
    println!(
        "gateway crash harness ({label}): CRASH_SEED={seed} CRASH_KILLS={kills} CRASH_RUN_MS={run_ms}"
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let scratch = tempfile::tempdir().expect("temp dir");
    let data: PathBuf = scratch.path().join("data");
    let model = Arc::new(Mutex::new(Model {
        versioned,
        pending: vec![None; WORKERS],
        ..Model::default()
    }));
    {
        let gw = Gateway::spawn(&data, kms);
        let addr = gw.wait_listening().expect("the first start");
        send(Req::new("PUT", "/"), addr, seed).assert_status(200);
        if versioned {
            versions::enable(addr, seed);
        }
    }
    let began = Instant::now();
    let mut startup = Duration::from_millis(50);
    let (mut loop_kills, mut startup_kills, mut first_kills) = (0u32, 0u32, 0u32);
    let mut written = 0usize;
    for n in 0..kills {
        if n % FIRST_START_KILL_EVERY == FIRST_START_KILL_EVERY - 1 {
            first_start_kill(scratch.path(), kms, n, &mut rng, startup, seed);
            first_kills += 1;
            continue;
        }
        let spawned = Instant::now();
        let mut gw = Gateway::spawn(&data, kms);
        if n % STARTUP_KILL_EVERY == 1 {
            std::thread::sleep(startup.mul_f64(rng.random_range(0.0..1.2)));
            gw.kill();
            startup_kills += 1;
            continue;
        }
        let addr = gw
            .wait_listening()
            .unwrap_or_else(|| panic!("seed {seed}: no start after kill {n}"));
        startup = (startup + spawned.elapsed()) / 2;
        verify(addr, &data, &mut model.lock().unwrap(), seed);
        let killed = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let worker = Worker {
                    w,
                    addr,
                    model: Arc::clone(&model),
                    killed: Arc::clone(&killed),
                    rng: StdRng::seed_from_u64(rng.random()),
                    seed,
                    versioned,
                };
                std::thread::spawn(move || worker.run())
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.random_range(0..=run_ms)));
        killed.store(true, Ordering::SeqCst);
        gw.kill();
        for w in workers {
            w.join().expect("a worker panicked");
        }
        written += model.lock().unwrap().objects.len();
        loop_kills += 1;
    }
    let gw = Gateway::spawn(&data, kms);
    let addr = gw.wait_listening().expect("the final start");
    let mut m = model.lock().unwrap();
    verify(addr, &data, &mut m, seed);
    let kinds: BTreeSet<String> = m
        .objects
        .values()
        .map(|v| format!("{:?}", std::mem::discriminant(&v.sse)))
        .collect();
    let versions_kept: usize = m.history.values().map(Vec::len).sum();
    println!(
        "gateway crash harness ({label}): {kills} kills ({loop_kills} during client loops, {startup_kills} \
         during start-up, {first_kills} during a first start) in {:.1} s; {written} object \
         read-backs after restarts, {} objects, {versions_kept} versions and {} uploads at the end",
        began.elapsed().as_secs_f64(),
        m.objects.len(),
        m.uploads.len()
    );
    assert!(
        written > 0 && !kinds.is_empty(),
        "seed {seed}: the loops did nothing"
    );
    assert!(
        !versioned || m.most_versions > 1,
        "seed {seed}: no key ever had two versions"
    );
}
