//! A throwaway PostgreSQL server for tests: `initdb` into a temporary directory, `postgres` on a
//! free loopback port with its socket in that directory, stopped and removed on drop. Run as root,
//! the server runs as the `postgres` user (PostgreSQL refuses root). Tests only (`test-hooks`).
//!
//! [`Postgres::start_tls`] starts one that takes TCP connections over TLS only, with a
//! certificate a test's own CA issued; the harness itself connects over the Unix socket.
//!
//! Where the server programs are missing, [`Postgres::start`] says so on stderr and returns `None`
//! (the test is skipped), unless `CI` is set or `KMS_REQUIRE_POSTGRES=1`: then it panics, so CI
//! never skips these tests.

use std::{
    io::Write as _,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use postgres::{Client, NoTls};

/// Where Debian's packages put the server programs; `KMS_POSTGRES_BIN` overrides it.
const DEBIAN_BIN: &str = "/usr/lib/postgresql";

/// A running throwaway PostgreSQL.
#[derive(Debug)]
pub struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    child: Option<Child>,
    /// Set when run as root: the `postgres` user's ids.
    owner: Option<(u32, u32)>,
    databases: AtomicUsize,
    /// TCP connections must use TLS (see [`Postgres::start_tls`]).
    tls: bool,
}

/// The directory of `initdb` and `postgres`, if installed.
fn find_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("KMS_POSTGRES_BIN") {
        let bin = PathBuf::from(dir);
        return bin.join("initdb").is_file().then_some(bin);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir(DEBIAN_BIN)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file() && bin.join("postgres").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

/// Whether a missing PostgreSQL must fail the test rather than skip it.
fn required() -> bool {
    std::env::var_os("CI").is_some() || std::env::var("KMS_REQUIRE_POSTGRES").as_deref() == Ok("1")
}

fn id(flag: &str) -> u32 {
    let out = Command::new("id")
        .args([flag, "postgres"])
        .output()
        .expect("`id` runs");
    assert!(
        out.status.success(),
        "running as root needs a `postgres` user to run the test database"
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("`id` prints a number")
}

impl Postgres {
    /// Starts a server, or returns `None` (after saying so) where PostgreSQL is not installed.
    pub fn start(test: &str) -> Option<Self> {
        Some(Self::start_in(Self::programs(test)?, None))
    }

    /// Like [`Postgres::start`], for a server whose TCP connections must use TLS (a plain one is
    /// rejected by `pg_hba.conf`), with a certificate for `localhost`, `127.0.0.1` and `::1`
    /// that `ca` issues.
    #[cfg(feature = "grpc")]
    pub fn start_tls(test: &str, ca: &local_pki::LocalCa) -> Option<Self> {
        let issued = ca
            .issue_server("kms test database", &[])
            .expect("a server certificate");
        let pair = (issued.cert_pem.as_str(), issued.key_pem.as_str());
        Some(Self::start_in(Self::programs(test)?, Some(pair)))
    }

    /// The server programs' directory, or `None` after saying the test is skipped.
    fn programs(test: &str) -> Option<PathBuf> {
        let Some(bin) = find_bin() else {
            let msg = format!(
                "PostgreSQL server programs (initdb, postgres) not found under {DEBIAN_BIN}/*/bin \
                 or KMS_POSTGRES_BIN"
            );
            assert!(
                !required(),
                "{msg}; CI / KMS_REQUIRE_POSTGRES=1 forbid skipping {test}"
            );
            // Written to the real stderr, past the test harness's capture: a skip must show.
            let _ = writeln!(
                std::io::stderr().lock(),
                "SKIPPED {test}: {msg} (install the `postgresql` package to run it)"
            );
            return None;
        };
        Some(bin)
    }

    /// Starts a server; with `tls` (a certificate and its key, PEM), TLS-only over TCP.
    fn start_in(bin: PathBuf, tls: Option<(&str, &str)>) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kms-pg-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let owner = rustix::process::geteuid()
            .is_root()
            .then(|| (id("-u"), id("-g")));
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown temp dir");
        }
        let mut pg = Self {
            dir,
            bin,
            port: 0,
            child: None,
            owner,
            databases: AtomicUsize::new(0),
            tls: tls.is_some(),
        };
        let data = pg.dir.join("data");
        let status = pg
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "kms", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("initdb runs");
        assert!(status.success(), "initdb failed");
        if let Some((cert, key)) = tls {
            pg.write_owned(&data.join("server.crt"), cert.as_bytes());
            pg.write_owned(&data.join("server.key"), key.as_bytes());
            // The harness's own connections use the socket; TCP ones must use TLS.
            pg.write_owned(
                &data.join("pg_hba.conf"),
                b"local all all trust\n\
                  hostssl all all 127.0.0.1/32 trust\n\
                  hostnossl all all 127.0.0.1/32 reject\n",
            );
        }
        pg.run();
        pg
    }

    /// Writes a file of the server's, mode 0600, owned by the user the server runs as.
    fn write_owned(&self, path: &Path, contents: &[u8]) {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::write(path, contents).expect("write a server file");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        if let Some((uid, gid)) = self.owner {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown");
        }
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(self.bin.join(program));
        if let Some((uid, gid)) = self.owner {
            use std::os::unix::process::CommandExt as _;
            c.uid(uid).gid(gid);
        }
        c
    }

    /// Starts the server process (again) on a free port, and waits until it takes connections.
    /// The port is picked free, then bound by the server a moment later: if another process took
    /// it meanwhile the server exits, and a first start tries again on another port (a restart
    /// must keep its port, and fails saying so).
    fn run(&mut self) {
        let first = self.port == 0;
        for _ in 0..5 {
            if first {
                self.port = TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .expect("a free port")
                    .port();
            }
            if self.start_on_port() {
                return;
            }
            assert!(
                first,
                "PostgreSQL exited at restart: port {} was taken meanwhile",
                self.port
            );
        }
        panic!("PostgreSQL exited at start five times (its port taken each time?)");
    }

    /// Starts the server on `self.port`; `false` if it exited before taking connections.
    fn start_on_port(&mut self) -> bool {
        let child = self
            .command("postgres")
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(&self.dir)
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .args(["-c", "max_connections=200"])
            .args(if self.tls { &["-c", "ssl=on"][..] } else { &[] })
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres starts");
        // Held before the wait, so a server that never answers is stopped when `self` drops.
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = self.socket_url("postgres");
        while Client::connect(&url, NoTls).is_err() {
            let server = self.child.as_mut().expect("just started");
            if server.try_wait().expect("the server's status").is_some() {
                self.child = None;
                return false;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start in 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        true
    }

    /// Stops the server (a fast shutdown), keeping its data; [`Postgres::restart`] starts it again.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = rustix::process::kill_process(
                rustix::process::Pid::from_child(&child),
                rustix::process::Signal::INT,
            );
            let _ = child.wait();
        }
    }

    /// Starts the stopped server again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    /// The URL of database `db` (no TLS: the server is on loopback).
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://kms@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    /// Database `db` over the Unix socket (the harness's own connections, TLS or not).
    fn socket_url(&self, db: &str) -> String {
        format!(
            "host={} port={} user=kms dbname={db}",
            self.dir.display(),
            self.port
        )
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A new, empty database; returns its URL.
    pub fn new_database(&self) -> String {
        let name = format!("t{}", self.databases.fetch_add(1, Ordering::Relaxed));
        let mut admin =
            Client::connect(&self.socket_url("postgres"), NoTls).expect("admin connection");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create database");
        self.url(&name)
    }

    /// The data directory's parent (the server's temp dir).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server whose port another process holds exits, and the harness sees it at once instead
    /// of waiting out its 30 s; a restart on a taken port fails saying why.
    #[test]
    fn a_server_whose_port_is_taken_is_seen_to_exit() {
        let Some(mut pg) = Postgres::start("harness port taken") else {
            return;
        };
        pg.stop();
        let _taken = TcpListener::bind(("127.0.0.1", pg.port())).expect("the freed port");
        let started = Instant::now();
        assert!(!pg.start_on_port());
        assert!(started.elapsed() < Duration::from_secs(30));
        let e = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pg.restart()))
            .expect_err("a restart on a taken port");
        let msg = e.downcast_ref::<String>().expect("a formatted message");
        assert!(msg.contains("was taken meanwhile"), "{msg}");
    }
}
