//! Conformance with the REAL official SDKs: `cos-python-sdk-v5` (PyPI) and `cos-nodejs-sdk-v5`
//! (npm), installed by `sdk/install.sh` (run here when missing, so a machine without them fails
//! loudly rather than skipping). The gateway runs on 127.0.0.1:0 over HTTPS with a generated CA;
//! the scripts in `sdk/` use the SDKs as the seed samples do (Python `IP`/`Port`, Node `Ip`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn sdk_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sdk")
}

/// Installs the SDKs if they are not there (idempotent; registries are reachable).
fn ensure_sdks() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let dir = sdk_dir();
        let have = dir.join(".venv/bin/python").exists()
            && dir
                .join("node_modules/cos-nodejs-sdk-v5/package.json")
                .exists();
        if !have {
            let status = Command::new("bash")
                .arg(dir.join("install.sh"))
                .status()
                .expect("bash runs sdk/install.sh");
            assert!(status.success(), "sdk/install.sh failed");
        }
    });
}

/// A gateway with an enabled and a disabled KMS key; returns it and the env for the scripts.
fn setup() -> (common::TestGateway, Vec<(String, String)>) {
    ensure_sdks();
    let gw = common::start(common::Options {
        tls: true,
        allow_ssec_over_http: false,
        bucket_keys: Default::default(),
    });
    let kms = gw.gateway.embedded_kms().expect("embedded KMS").kms();
    let enabled = kms
        .create_key("sdk-test-key", "", "")
        .unwrap()
        .key_id
        .to_string();
    let disabled = kms
        .create_key("sdk-disabled-key", "", "")
        .unwrap()
        .key_id
        .to_string();
    kms.disable_key(&disabled).unwrap();
    let ca = gw.dir.path().join("ca.pem");
    std::fs::write(&ca, gw.ca_pem.as_ref().unwrap()).unwrap();
    let work = gw.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let env = vec![
        ("COS_SECRET_ID".into(), common::SECRET_ID.into()),
        ("COS_SECRET_KEY".into(), common::SECRET_KEY.into()),
        ("GW_PORT".into(), gw.addr.port().to_string()),
        ("GW_CA".into(), ca.display().to_string()),
        ("GW_WORK".into(), work.display().to_string()),
        (
            "GW_REGION".into(),
            cos_gateway::state::DEFAULT_REGION.to_owned(),
        ),
        ("GW_KMS_KEY".into(), enabled),
        ("GW_KMS_DISABLED_KEY".into(), disabled),
        ("NODE_EXTRA_CA_CERTS".into(), ca.display().to_string()),
    ];
    (gw, env)
}

fn run(program: &Path, script: &str, env: &[(String, String)]) {
    let out = Command::new(program)
        .arg(sdk_dir().join(script))
        .current_dir(sdk_dir())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        out.status.success(),
        "{script} failed ({}), see its output above",
        out.status
    );
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.contains(" passed, "))
        .expect("the script prints a summary");
    assert!(summary.ends_with(" 0 failed"), "{summary}");
    assert!(!summary.starts_with("0 passed"), "{summary}");
}

#[test]
fn python_sdk_conformance() {
    let (_gw, env) = setup();
    run(
        &sdk_dir().join(".venv/bin/python"),
        "py_conformance.py",
        &env,
    );
}

#[test]
fn node_sdk_conformance() {
    let (_gw, env) = setup();
    run(Path::new("node"), "node_conformance.js", &env);
}

#[test]
fn python_sdk_proxy_mode_and_advanced_copy() {
    ensure_sdks();
    let gw = common::start(common::Options {
        tls: false,
        allow_ssec_over_http: true,
        bucket_keys: Default::default(),
    });
    let env = vec![
        ("COS_SECRET_ID".to_owned(), common::SECRET_ID.to_owned()),
        ("COS_SECRET_KEY".to_owned(), common::SECRET_KEY.to_owned()),
        ("GW_PORT".to_owned(), gw.addr.port().to_string()),
    ];
    run(&sdk_dir().join(".venv/bin/python"), "py_proxy.py", &env);
}
