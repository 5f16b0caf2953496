//! Test support: a real KMS server on 127.0.0.1:0 in a temp dir, and runs of the real `kms-admin`.

#![allow(dead_code)] // Each test file uses a different part of it.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use serde_json::Value;

/// A KMS server running on its own thread and runtime; stopped (gracefully) on drop.
pub struct Server {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Starts a server whose state lives in `dir` (reuse the dir to restart with the same state).
    pub fn start(dir: &Path) -> Server {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let dir = dir.to_owned();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let kms = Arc::new(open_waiting_for_the_lock(&dir));
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let options = kms_server::server::ServerOptions::default();
                kms_server::server::serve(listener, kms, options, async {
                    let _ = shutdown_rx.await;
                })
                .await
                .unwrap();
            });
        });
        let addr = addr_rx
            .recv()
            .expect("the server thread died before listening");
        Server {
            addr,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Runs `kms-admin --endpoint <this server> args...`.
    pub fn admin(&self, args: &[&str]) -> Run {
        admin_at(&self.endpoint(), args, None)
    }

    /// Same, with `stdin` piped in.
    pub fn admin_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        admin_at(&self.endpoint(), args, Some(stdin))
    }

    /// Runs with `--json` and returns the parsed document (the run must succeed).
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        self.admin(&all).json()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Opens the KMS whose state is in `dir`, waiting out a previous server's hold on the data
/// directory's lock. A restart on the same directory can find it still held for a moment after
/// the previous server is gone: a `kms-admin` another test spawned at that time (fork, then exec)
/// holds a copy of every descriptor, the lock file's included, until its exec. The wait is
/// bounded (10 s); any other error, or a lock still held then, fails the test.
fn open_waiting_for_the_lock(dir: &Path) -> kms_server::Kms {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match kms_server::Kms::open(config(dir)) {
            Err(kms_server::Error::DataDirInUse(_)) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            opened => return opened.unwrap(),
        }
    }
}

pub fn config(dir: &Path) -> kms_server::Config {
    let root_key = kms_server::RootKey::load_or_create(&dir.join("root.key")).expect("root key");
    kms_server::Config::new(dir.join("data"), root_key)
}

/// One finished run of `kms-admin`.
#[derive(Debug)]
pub struct Run {
    pub args: Vec<String>,
    pub output: Output,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Asserts success with nothing on stderr; returns stdout.
    #[track_caller]
    pub fn ok(&self) -> String {
        assert!(
            self.output.status.success() && self.output.stderr.is_empty(),
            "kms-admin {:?} failed: {:?}\nstdout: {}\nstderr: {}",
            self.args,
            self.output.status,
            self.stdout(),
            self.stderr()
        );
        self.stdout()
    }

    /// Asserts success and parses stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        let out = self.ok();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    }

    /// Asserts failure with exit status `code` and exactly one `error: ...` line on stderr, nothing
    /// on stdout; returns that line.
    #[track_caller]
    pub fn fails(&self, code: i32) -> String {
        let err = self.stderr();
        assert_eq!(
            self.code(),
            Some(code),
            "kms-admin {:?}: stdout {} stderr {}",
            self.args,
            self.stdout(),
            err
        );
        assert!(
            self.output.stdout.is_empty(),
            "kms-admin {:?}: stdout on failure: {}",
            self.args,
            self.stdout()
        );
        assert!(
            err.starts_with("error: "),
            "kms-admin {:?}: stderr {err:?}",
            self.args
        );
        assert_eq!(
            err.lines().count(),
            1,
            "kms-admin {:?}: stderr not one line: {err:?}",
            self.args
        );
        assert!(
            !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
            "{err}"
        );
        err.trim_end().to_owned()
    }
}

/// The environment variables `kms-admin` reads, cleared for every run so the caller's shell does
/// not leak into a test.
const ADMIN_ENV: &[&str] = &[
    "KMS_ENDPOINT",
    "KMS_TIMEOUT",
    "KMS_CA_FILE",
    "KMS_CLIENT_CERT",
    "KMS_CLIENT_KEY",
    "KMS_TOKEN_FILE",
    "KMS_TOKEN",
    "RUST_LOG",
];

/// Runs `kms-admin --endpoint endpoint args...` (stdin: the given bytes, or empty).
pub fn admin_at(endpoint: &str, args: &[&str], stdin: Option<&[u8]>) -> Run {
    admin_with_env(endpoint, args, &[], stdin)
}

/// Same, with these environment variables set (after the clean-up of [`ADMIN_ENV`]).
pub fn admin_with_env(
    endpoint: &str,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&[u8]>,
) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kms-admin"));
    cmd.arg("--endpoint").arg(endpoint).args(args);
    for name in ADMIN_ENV {
        cmd.env_remove(name);
    }
    cmd.envs(env.iter().copied());
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("kms-admin runs");
    {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        if let Some(bytes) = stdin {
            pipe.write_all(bytes).expect("write stdin");
        }
    }
    let output = child.wait_with_output().expect("kms-admin finishes");
    let mut all = vec!["--endpoint".to_owned(), endpoint.to_owned()];
    all.extend(args.iter().map(|s| (*s).to_owned()));
    Run { args: all, output }
}

/// Base64 helpers.
pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .expect("valid base64")
}

pub fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

pub fn file(dir: &Path, name: &str, contents: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, contents).expect("write test file");
    p
}
