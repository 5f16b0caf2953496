//! Conformance with the REAL official Tencent Cloud SDKs for Python (`tencentcloud-sdk-python-common`
//! and `-kms`) and Node.js (`tencentcloud-sdk-nodejs`), installed by `sdk/install.sh`, run here when
//! missing so a machine without them fails loudly rather than skipping: `sdk/py_tencent_kms.py`
//! runs every implemented action, its error codes and the signature failures against a kms-server
//! on 127.0.0.1:0 whose only setting in the SDK is the endpoint, over plain HTTP and again over
//! HTTPS (`--tls-self-signed`, the SDK trusting its CA); `sdk/node_tencent_kms.js` runs the main
//! actions and errors, and bring your own key with material wrapped by Node's own crypto;
//! `sdk/tccli_kms.py` drives Tencent's command line, tccli, over HTTPS. The
//! Python `cryptography` and `gmssl` of the same virtualenv also encrypt under keys from gRPC
//! GetPublicKey, and gRPC AsymmetricDecrypt opens what they made.
#![cfg(feature = "grpc")]

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
};

use kms_server::tls::TlsArgs;

use kms_server::{
    Config, Kms, RootKey,
    secret::SecretBytes,
    server::{self, ServerOptions},
    tencent::{Credentials, SecretPair},
};

const SECRET_ID: &str = "AKIDsdkconformance01";
const SECRET_KEY: &str = "sdk-conformance-secret-key";

fn sdk_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sdk")
}

fn ensure_sdk() {
    // The tests of this file run in parallel: one installs while the others wait, or on a fresh
    // clone they would all create the same virtualenv at once.
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = INSTALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !sdk_dir().join(".venv/bin/python").exists()
        || !sdk_dir().join(".venv-tccli/bin/tccli").exists()
        || !sdk_dir()
            .join("node_modules/tencentcloud-sdk-nodejs/package.json")
            .exists()
    {
        let status = Command::new("bash")
            .arg(sdk_dir().join("install.sh"))
            .status()
            .expect("bash runs sdk/install.sh");
        assert!(status.success(), "sdk/install.sh failed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_runs_every_action() {
    run_script(
        sdk_dir().join(".venv/bin/python"),
        "py_tencent_kms.py",
        Tls::Off,
    )
    .await;
}

/// The same over HTTPS: the SDK's `HttpProfile(protocol="https", certification=CA)`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_runs_every_action_over_https() {
    run_script(
        sdk_dir().join(".venv/bin/python"),
        "py_tencent_kms.py",
        Tls::On,
    )
    .await;
}

/// The Node.js SDK signs for the service named by the endpoint's first label, so its script keeps
/// the cloud's endpoint name and resolves it to the local server (see the script's header). It
/// also imports key material (CreateKey Type=2 to DeleteImportedKeyMaterial, RSAES_OAEP_SHA_256
/// by `node:crypto`), checking the state string after each step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_sdk_runs_the_main_actions() {
    run_script(PathBuf::from("node"), "node_tencent_kms.js", Tls::Off).await;
}

/// tccli speaks only HTTPS (HTTP/1.1), so the server runs with a self-signed certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tccli_runs_the_main_actions_over_https() {
    run_script(
        sdk_dir().join(".venv-tccli/bin/python"),
        "tccli_kms.py",
        Tls::On,
    )
    .await;
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tls {
    Off,
    On,
}

/// Runs `script` (in `sdk/`) with `interpreter` against a fresh kms-server on 127.0.0.1:0 that
/// knows one secret pair, over HTTPS with a self-signed certificate if `tls` is on, and asserts
/// that every test in it passed.
async fn run_script(interpreter: PathBuf, script: &'static str, tls: Tls) {
    tokio::task::spawn_blocking(ensure_sdk).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kms = Arc::new(
        Kms::open(Config::new(
            dir.path().join("data"),
            RootKey::from_base64("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=").unwrap(),
        ))
        .unwrap(),
    );
    let ca = dir.path().join("ca.pem");
    let server_tls = match tls {
        Tls::Off => None,
        Tls::On => TlsArgs {
            tls_self_signed: true,
            tls_ca_out: Some(ca.clone()),
            ..TlsArgs::default()
        }
        .load(dir.path())
        .unwrap(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = ServerOptions {
        tencent: Credentials::Pair(SecretPair {
            secret_id: SECRET_ID.to_owned(),
            secret_key: Arc::new(SecretBytes::new(SECRET_KEY.as_bytes().to_vec())),
        }),
        tls: server_tls,
        ..ServerOptions::default()
    };
    let server = tokio::spawn(server::serve(listener, kms, options, async move {
        let _ = stopped.await;
    }));
    // tccli keeps its settings under ~/.tccli: a throwaway home, not the user's.
    let home = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(&interpreter)
            .arg(sdk_dir().join(script))
            .current_dir(sdk_dir())
            .env("KMS_ENDPOINT", addr.to_string())
            .envs((tls == Tls::On).then_some(("KMS_CA", ca)))
            .env("TCCLI_PYTHON", sdk_dir().join(".venv-tccli/bin/python"))
            .env("HOME", home.path())
            .env("TENCENTCLOUD_SECRET_ID", SECRET_ID)
            .env("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
            .output()
            .unwrap_or_else(|e| panic!("{} runs: {e}", interpreter.display()))
    })
    .await
    .unwrap();
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.contains(" passed, "))
        .expect("the script prints a summary");
    assert!(out.status.success(), "{summary}");
    assert!(summary.ends_with(" 0 failed"), "{summary}");
    assert!(!summary.starts_with("0 passed"), "{summary}");
}

/// Encrypts with Python `cryptography` (RSA: PKCS#1 v1.5, OAEP-SHA-1, OAEP-SHA-256) and `gmssl`
/// (SM2, C1C3C2 without the 04 prefix) under the public keys given as hex DER (RSA, then SM2) in
/// argv; prints one `name=hex` line per ciphertext.
const PYTHON_ENCRYPTS: &str = r#"
import sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from gmssl import sm2
msg = b'sealed by python'
rsa = serialization.load_der_public_key(bytes.fromhex(sys.argv[1]))
oaep = lambda h: padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None)
print('RSAES_PKCS1_V1_5=' + rsa.encrypt(msg, padding.PKCS1v15()).hex())
print('RSAES_OAEP_SHA_1=' + rsa.encrypt(msg, oaep(hashes.SHA1())).hex())
print('RSAES_OAEP_SHA_256=' + rsa.encrypt(msg, oaep(hashes.SHA256())).hex())
c = sm2.CryptSM2(private_key='', public_key=sys.argv[2][-128:], mode=1)
print('SM2=' + c.encrypt(msg).hex())
"#;

/// Ciphertexts made by Python `cryptography` and `gmssl` under the public keys from gRPC
/// GetPublicKey open through gRPC AsymmetricDecrypt (the Tencent actions are checked with the same
/// libraries by `py_tencent_kms.py`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_ciphertexts_open_through_grpc() {
    use kms_proto::pb::{self, key_management_service_client::KeyManagementServiceClient};
    tokio::task::spawn_blocking(ensure_sdk).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kms = Arc::new(
        Kms::open(Config::new(
            dir.path().join("data"),
            RootKey::from_base64("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=").unwrap(),
        ))
        .unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(
        listener,
        kms,
        ServerOptions::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    let mut grpc = KeyManagementServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let mut public = Vec::new();
    for (alias, usage) in [
        ("py-rsa", "ASYMMETRIC_DECRYPT_RSA_2048"),
        ("py-sm2", "ASYMMETRIC_DECRYPT_SM2"),
    ] {
        grpc.create_key(pb::CreateKeyRequest {
            alias: alias.to_owned(),
            key_usage: usage.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap();
        let p = grpc
            .get_public_key(pb::GetPublicKeyRequest {
                key_id: alias.to_owned(),
            })
            .await
            .unwrap()
            .into_inner();
        public.push(hex::encode(p.public_key));
    }
    let out = Command::new(sdk_dir().join(".venv/bin/python"))
        .arg("-c")
        .arg(PYTHON_ENCRYPTS)
        .args(&public)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<(&str, &str)> = text.lines().filter_map(|l| l.split_once('=')).collect();
    assert_eq!(lines.len(), 4, "{text}");
    for (algorithm, ct) in lines {
        let key_id = if algorithm == "SM2" {
            "py-sm2"
        } else {
            "py-rsa"
        };
        let ciphertext = hex::decode(ct).unwrap();
        let d = grpc
            .asymmetric_decrypt(pb::AsymmetricDecryptRequest {
                key_id: key_id.to_owned(),
                algorithm: algorithm.to_owned(),
                ciphertext: ciphertext.clone(),
            })
            .await
            .unwrap_or_else(|e| panic!("{algorithm}: {e:?}"))
            .into_inner();
        assert_eq!(d.plaintext, b"sealed by python", "{algorithm}");
        let mut tampered = ciphertext;
        *tampered.last_mut().unwrap() ^= 1;
        let e = grpc
            .asymmetric_decrypt(pb::AsymmetricDecryptRequest {
                key_id: key_id.to_owned(),
                algorithm: algorithm.to_owned(),
                ciphertext: tampered,
            })
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (tonic::Code::InvalidArgument, "invalid ciphertext"),
            "{algorithm}"
        );
    }
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
