//! The real `cos-gateway` binary: start, serve a signed request, stop on SIGTERM; refuse to start
//! without credentials.

mod common;

use std::io::BufRead as _;
use std::process::{Command, Stdio};

#[test]
fn the_binary_serves_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cos-gateway"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("COS_SECRET_ID", common::SECRET_ID)
        .env("COS_SECRET_KEY", common::SECRET_KEY)
        .env_remove("KMS_ROOT_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: std::net::SocketAddr = line
        .trim()
        .rsplit("http://")
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|e| panic!("{line:?}: {e}"));
    let r = common::Req::new("PUT", "/").send(addr);
    assert_eq!(r.status, 200, "{}", r.head);
    let r = common::Req::new("PUT", "/o")
        .header("x-cos-server-side-encryption", "cos/kms")
        .body("x")
        .send(addr);
    assert_eq!(r.exact("x-cos-server-side-encryption"), Some("cos/kms"));
    // The embedded KMS's root key file is private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("root.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0);
    }
    Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn no_credentials_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cos-gateway"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("COS_SECRET_ID")
        .env_remove("COS_SECRET_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error: no credentials"), "{err}");
}

/// `--tls-self-signed` creates the data directory owner-only too (it writes the CA there before the
/// store opens), whatever the umask of the parent process.
#[cfg(unix)]
#[test]
fn a_self_signed_start_makes_an_owner_only_data_directory() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fresh");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cos-gateway"))
        .args(["--listen", "127.0.0.1:0", "--tls-self-signed", "--data-dir"])
        .arg(&data)
        .env("COS_SECRET_ID", common::SECRET_ID)
        .env("COS_SECRET_KEY", common::SECRET_KEY)
        .env_remove("KMS_ROOT_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("https://"), "{line}");
    let mode = std::fs::metadata(&data).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "{mode:o}");
    assert!(data.join("ca.pem").exists());
    let _ = child.kill();
    let _ = child.wait();
}
