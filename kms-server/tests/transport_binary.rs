//! The real `kms-server` binary's transport flags: `--tls-self-signed` serves TLS whose CA it
//! writes where clients find it, the limit flags reach the server, and flag mistakes are one-line
//! errors that stop the server before it creates anything.
#![cfg(all(unix, feature = "grpc"))]

use std::{
    io::{BufRead as _, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use kms_proto::pb::{self, key_management_service_client::KeyManagementServiceClient};
use tonic::transport::{Certificate, Channel, ClientTlsConfig};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

fn command(data_dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kms-server"));
    cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env_remove("KMS_ROOT_KEY");
    cmd
}

/// A running server and the address it logged; killed on drop.
struct Running {
    child: Child,
    addr: String,
    listening_line: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data_dir: &Path, extra: &[&str]) -> Running {
    let mut child = command(data_dir, extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kms-server");
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains("kms-server listening on ") {
                let _ = tx.send(line);
            }
        }
    });
    let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) else {
        let _ = child.kill();
        panic!("no listening line: {:?}", child.wait_with_output());
    };
    let addr = line
        .split("kms-server listening on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();
    Running {
        child,
        addr,
        listening_line: line,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_signed_tls_serves_health_and_default_key_to_a_client_trusting_the_written_ca() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start(
        &data,
        &[
            "--tls-self-signed",
            "--tls-name",
            "kms.test",
            "--max-connections",
            "64",
        ],
    );
    assert!(
        server.listening_line.contains("transport=\"TLS\""),
        "{}",
        server.listening_line
    );
    assert!(
        server.listening_line.contains("max_connections=64"),
        "{}",
        server.listening_line
    );
    let ca = std::fs::read_to_string(data.join("ca.pem")).unwrap();
    let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&ca));
    let channel = Channel::from_shared(format!("https://{}", server.addr))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let health = HealthClient::new(channel.clone())
        .check(HealthCheckRequest::default())
        .await
        .unwrap();
    assert_eq!(health.into_inner().status(), ServingStatus::Serving);
    let key = KeyManagementServiceClient::new(channel)
        .get_default_key(pb::GetDefaultKeyRequest::default())
        .await
        .unwrap();
    assert!(key.into_inner().key_metadata.is_some());
}

/// A flag mistake: exit status 1, the one line on stderr, and no data directory created.
fn refused(extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = command(&data, extra).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(!data.exists(), "the data directory was created");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn flag_mistakes_are_one_line_errors() {
    assert_eq!(
        refused(&["--tls-client-ca", "ca.pem"]),
        "error: --tls-client-ca needs TLS: add --tls-cert and --tls-key, or --tls-self-signed\n"
    );
    assert_eq!(
        refused(&["--tls-cert", "server.pem"]),
        "error: --tls-cert needs --tls-key (the certificate's private key, PEM)\n"
    );
    assert_eq!(
        refused(&["--tls-self-signed", "--tls-require-client-cert"]),
        "error: --tls-require-client-cert needs --tls-client-ca\n"
    );
}

#[test]
fn a_missing_certificate_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let out = command(
        &dir.path().join("data"),
        &[
            "--tls-cert",
            missing.to_str().unwrap(),
            "--tls-key",
            missing.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "error: cannot read --tls-cert file {}: No such file or directory (os error 2)\n",
            missing.display()
        )
    );
}
