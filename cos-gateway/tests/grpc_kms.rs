//! The gateway over a running `kms-server` (gRPC, the adapter's `grpc` feature), as
//! `cos-gateway --kms-endpoint URL` runs it.

mod common;

use std::sync::Arc;

use common::{Options, Req, kms_server};
use storage_adapter::provider::grpc::GrpcKms;

#[test]
fn objects_through_a_kms_server_over_grpc() {
    let kms_dir = tempfile::tempdir().unwrap();
    let (url, kms, _t) = kms_server(kms_dir.path());
    // The lazy channel spawns its worker on the current runtime: keep one running.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _enter = rt.enter();
    let client = kms_client::KmsClient::builder(url).connect_lazy().unwrap();
    let provider = Arc::new(GrpcKms::new(client, "alias/kms-cos-sse"));
    let gw = common::start_with(
        Options {
            tls: false,
            allow_ssec_over_http: true,
            bucket_keys: Default::default(),
        },
        Some(provider),
    );
    let a = gw.addr;
    assert_eq!(Req::new("PUT", "/").send(a).status, 200);
    let key = kms
        .create_key("grpc-test", "", "")
        .unwrap()
        .key_id
        .to_string();
    for (name, headers) in [
        ("cos", vec![("x-cos-server-side-encryption", "AES256")]),
        ("kms", vec![("x-cos-server-side-encryption", "cos/kms")]),
        (
            "kms-key",
            vec![
                ("x-cos-server-side-encryption", "cos/kms"),
                ("x-cos-server-side-encryption-cos-kms-key-id", key.as_str()),
            ],
        ),
    ] {
        let target = format!("/{name}");
        let mut req = Req::new("PUT", &target).body(format!("body of {name}"));
        for (k, v) in &headers {
            req = req.header(k, v);
        }
        let r = req.send(a);
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        let g = Req::new("GET", &target).send(a);
        assert_eq!(g.body, format!("body of {name}").as_bytes());
        assert_eq!(
            g.exact("x-cos-server-side-encryption"),
            Some(headers[0].1),
            "{name}"
        );
    }
    kms.disable_key(&key).unwrap();
    Req::new("GET", "/kms-key")
        .send(a)
        .assert_error(400, "KmsKeyDisabled");
}

#[test]
fn an_unreachable_kms_is_kms_internal_exception() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _enter = rt.enter();
    let client = kms_client::KmsClient::builder("http://127.0.0.1:1")
        .connect_lazy()
        .unwrap();
    let gw = common::start_with(
        Options {
            tls: false,
            allow_ssec_over_http: true,
            bucket_keys: Default::default(),
        },
        Some(Arc::new(GrpcKms::new(client, "alias/kms-cos-sse"))),
    );
    assert_eq!(Req::new("PUT", "/").send(gw.addr).status, 200);
    Req::new("PUT", "/o")
        .header("x-cos-server-side-encryption", "AES256")
        .body("x")
        .send(gw.addr)
        .assert_error(500, "KmsInternalException");
    // Plain objects do not need the KMS.
    assert_eq!(Req::new("PUT", "/p").body("x").send(gw.addr).status, 200);
}

/// A kms-server over mutual TLS whose policy names one data-plane identity, `gateway`, by its
/// client certificate's public key (the documented production set-up), serving on its own thread.
struct MutualTlsKms {
    url: String,
    ca: local_pki::LocalCa,
    gateway_cert: local_pki::Issued,
    dir: tempfile::TempDir,
}

impl MutualTlsKms {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = local_pki::LocalCa::generate("test CA").unwrap();
        let server_cert = ca.issue_server("kms", &[]).unwrap();
        let gateway_cert = ca.issue_client("gateway").unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let tls = kms_server::tls::TlsArgs {
            tls_cert: Some(write("server.pem", &server_cert.cert_pem)),
            tls_key: Some(write("server.key", &server_cert.key_pem)),
            tls_client_ca: Some(write("ca.pem", &ca.cert_pem())),
            ..Default::default()
        };
        let policy = kms_server::access::Policy::parse(&format!(
            "identities:\n  - name: gateway\n    cert_sha256: \"{}\"\n    allow: [GenerateDataKey, \
             Decrypt, BatchGenerateDataKey, BatchDecrypt, GetDefaultKey, DescribeKey]\n",
            hex::encode(gateway_cert.spki_sha256().unwrap())
        ))
        .unwrap();
        let data = dir.path().join("kms");
        let root = kms_server::RootKey::load_or_create(&dir.path().join("root.key")).unwrap();
        let kms = Arc::new(kms_server::Kms::open(kms_server::Config::new(&data, root)).unwrap());
        let options = kms_server::server::ServerOptions {
            tls: tls.load(&data).unwrap(),
            access: Arc::new(kms_server::service::AccessControl::enforce(policy)),
            ..Default::default()
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(l.local_addr().unwrap().port()).unwrap();
                kms_server::server::serve(l, kms, options, std::future::pending())
                    .await
                    .unwrap();
            });
        });
        let url = format!("https://localhost:{}", rx.recv().unwrap());
        Self {
            url,
            ca,
            gateway_cert,
            dir,
        }
    }
}

/// PUT and GET of an SSE-COS and an SSE-KMS object through the gateway at `a` (its bucket made
/// first).
fn round_trip_every_kms_mode(a: std::net::SocketAddr) {
    assert_eq!(Req::new("PUT", "/").send(a).status, 200);
    for mode in ["AES256", "cos/kms"] {
        let r = Req::new("PUT", "/o")
            .header("x-cos-server-side-encryption", mode)
            .body(format!("body under {mode}"))
            .send(a);
        assert_eq!(r.status, 200, "{mode}: {}", r.text());
        let g = Req::new("GET", "/o").send(a);
        assert_eq!(g.body, format!("body under {mode}").as_bytes(), "{mode}");
    }
}

/// The documented production set-up: the gateway reaches kms-server over mutual TLS with its own
/// data-plane identity (a client certificate the policy names by its public key), and SSE objects
/// go through it. The same gateway without the certificate gets nothing from the KMS.
#[test]
fn objects_through_a_kms_server_over_mutual_tls_with_a_data_plane_identity() {
    let kms = MutualTlsKms::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _enter = rt.enter();
    let gateway = |with_certificate: bool| {
        let mut builder = kms_client::KmsClient::builder(&kms.url).ca_pem(kms.ca.cert_pem());
        if with_certificate {
            builder = builder.client_identity_pem(
                kms.gateway_cert.cert_pem.clone(),
                kms_client::SecretBytes::from(kms.gateway_cert.key_pem.as_bytes()),
            );
        }
        let client = builder.connect_lazy().unwrap();
        common::start_with(
            Options {
                tls: false,
                allow_ssec_over_http: true,
                bucket_keys: Default::default(),
            },
            Some(Arc::new(GrpcKms::new(client, "alias/kms-cos-sse"))),
        )
    };
    let gw = gateway(true);
    round_trip_every_kms_mode(gw.addr);
    let anonymous = gateway(false);
    assert_eq!(Req::new("PUT", "/").send(anonymous.addr).status, 200);
    Req::new("PUT", "/o")
        .header("x-cos-server-side-encryption", "cos/kms")
        .body("x")
        .send(anonymous.addr)
        .assert_error(500, "KmsInternalException");
}

/// A `cos-gateway` binary on a fresh data directory with `args`; killed when dropped.
struct GatewayProcess(std::process::Child, std::net::SocketAddr);

impl GatewayProcess {
    fn spawn(data_dir: &std::path::Path, args: &[&std::ffi::OsStr]) -> Self {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cos-gateway"))
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env("COS_SECRET_ID", common::SECRET_ID)
            .env("COS_SECRET_KEY", common::SECRET_KEY)
            .env_remove("KMS_TOKEN")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn cos-gateway");
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let addr = stdout
            .lines()
            .map_while(Result::ok)
            .find_map(|l| l.split("listening on http://").nth(1)?.trim().parse().ok())
            .expect("the gateway prints its address");
        Self(child, addr)
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The same production set-up through the `cos-gateway` binary and its flags:
/// `--kms-endpoint https://...` with `--kms-ca-cert`, `--kms-client-cert` and `--kms-client-key`.
/// Without the certificate flags the KMS refuses the gateway.
#[test]
fn the_gateway_binary_reaches_kms_server_over_mutual_tls_with_its_flags() {
    let kms = MutualTlsKms::start();
    let file = |name: &str, text: &str| {
        let path = kms.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let ca = file("kms-ca.pem", &kms.ca.cert_pem());
    let cert = file("gateway.pem", &kms.gateway_cert.cert_pem);
    let key = file("gateway.key", &kms.gateway_cert.key_pem);
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let flags = |with_certificate: bool| {
        let mut v = vec![
            "--kms-endpoint".as_ref(),
            kms.url.as_ref(),
            "--kms-ca-cert".as_ref(),
            ca.as_os_str(),
        ];
        if with_certificate {
            v.extend(["--kms-client-cert".as_ref(), cert.as_os_str()]);
            v.extend(["--kms-client-key".as_ref(), key.as_os_str()]);
        }
        v
    };
    let gw = GatewayProcess::spawn(&kms.dir.path().join("gw"), &flags(true));
    round_trip_every_kms_mode(gw.1);
    let anonymous = GatewayProcess::spawn(&kms.dir.path().join("gw-anonymous"), &flags(false));
    assert_eq!(Req::new("PUT", "/").send(anonymous.1).status, 200);
    Req::new("PUT", "/o")
        .header("x-cos-server-side-encryption", "cos/kms")
        .body("x")
        .send(anonymous.1)
        .assert_error(500, "KmsInternalException");
}

/// A kms-server that can be killed and started again on the same address and data directory
/// (same root key): its own runtime on its own thread; killing it drops the runtime, which closes
/// every connection without a goodbye, as a killed process does.
struct KillableKms {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl KillableKms {
    fn start(dir: &std::path::Path, addr: &str) -> Self {
        use base64::Engine as _;
        let root = kms_server::RootKey::from_base64(
            &base64::engine::general_purpose::STANDARD.encode([5u8; 32]),
        )
        .unwrap();
        let kms = Arc::new(kms_server::Kms::open(kms_server::Config::new(dir, root)).unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let addr = addr.to_owned();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::bind(addr).await.unwrap();
                tx.send(l.local_addr().unwrap()).unwrap();
                tokio::select! {
                    r = kms_server::server::serve(l, kms, Default::default(), std::future::pending()) => r.unwrap(),
                    _ = stopped => {}
                }
            });
            // Waits for the worker threads: every task (and its Arc<Kms>, the data-directory lock)
            // is dropped before the thread ends.
            drop(rt);
        });
        Self {
            addr: rx.recv().unwrap(),
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn kill(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.thread.take().unwrap().join().unwrap();
    }
}

/// The real binary as the operator runs it (`--kms-endpoint`, the client's default timeouts and
/// retries): while kms-server is down, SSE-KMS and SSE-COS PUTs and an SSE-KMS GET answer 500
/// `KmsInternalException` saying the KMS is unavailable, promptly; plain objects are still
/// served; once kms-server is back on the same port and data directory, the same gateway process
/// serves them all again.
#[test]
fn the_gateway_binary_survives_a_kms_outage_without_a_restart() {
    use std::time::{Duration, Instant};
    let kms_dir = tempfile::tempdir().unwrap();
    let kms = KillableKms::start(kms_dir.path(), "127.0.0.1:0");
    let kms_addr = kms.addr;
    let gw_dir = tempfile::tempdir().unwrap();
    let kms_url = format!("http://{kms_addr}");
    let gw = GatewayProcess::spawn(
        gw_dir.path(),
        &["--kms-endpoint".as_ref(), kms_url.as_ref()],
    );
    let a = gw.1;
    // Answered within this, or the test fails instead of hanging (not a latency check).
    let bound = Duration::from_secs(120);
    let kms_put = |key: &str, mode: &str| {
        Req::new("PUT", key)
            .header("x-cos-server-side-encryption", mode)
            .body(format!("{key} under {mode}"))
            .send_within(a, bound)
    };
    common::create_bucket(a);
    kms_put("/before", "cos/kms").assert_status(200);

    kms.kill();
    let unavailable = |r: common::Raw, what: &str| {
        r.assert_error(500, "KmsInternalException");
        assert!(
            r.text().contains("The KMS is unavailable"),
            "{what}: {}",
            r.text()
        );
    };
    let started = Instant::now();
    unavailable(kms_put("/during", "cos/kms"), "PUT SSE-KMS");
    let put_took = started.elapsed();
    unavailable(kms_put("/during", "AES256"), "PUT SSE-COS");
    let started = Instant::now();
    unavailable(
        Req::new("GET", "/before").send_within(a, bound),
        "GET SSE-KMS",
    );
    let get_took = started.elapsed();
    eprintln!("KMS down: PUT answered in {put_took:?}, GET in {get_took:?}");
    Req::new("HEAD", "/during")
        .send_within(a, bound)
        .assert_status(404);
    Req::new("PUT", "/plain")
        .body("no KMS needed")
        .send_within(a, bound)
        .assert_status(200);

    let kms = KillableKms::start(kms_dir.path(), &kms_addr.to_string());
    let g = Req::new("GET", "/before").send_within(a, bound);
    g.assert_status(200);
    assert_eq!(g.body, b"/before under cos/kms");
    kms_put("/during", "cos/kms").assert_status(200);
    kms_put("/cos", "AES256").assert_status(200);
    assert_eq!(
        Req::new("GET", "/during").send_within(a, bound).body,
        b"/during under cos/kms"
    );
    drop(gw);
    kms.kill();
}

fn bucket_key_gateway(
    url: &str,
    bucket_keys: cos_gateway::state::BucketKeys,
) -> (common::TestGateway, tokio::runtime::Runtime) {
    // The lazy channel spawns its worker on the current runtime: keep one running.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let gw = {
        let _enter = rt.enter();
        let client = kms_client::KmsClient::builder(url).connect_lazy().unwrap();
        common::start_with(
            Options {
                tls: false,
                allow_ssec_over_http: true,
                bucket_keys,
            },
            Some(Arc::new(GrpcKms::new(client, "alias/kms-cos-sse"))),
        )
    };
    (gw, rt)
}

const BUCKET_KEY_DOC: &str = "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>KMS</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>";

/// The issue's test: 1,000 small `cos/kms` PUTs and GETs through the gateway with a separate
/// kms-server, counted on the server (its `kms_calls_total` metrics).
#[test]
fn a_thousand_bucket_key_puts_and_gets_make_a_handful_of_kms_calls() {
    let kms_dir = tempfile::tempdir().unwrap();
    let (url, _kms, metrics, _t) = common::kms_server_with_metrics(kms_dir.path());
    let (gw, _rt) = bucket_key_gateway(&url, Default::default());
    let a = gw.addr;
    assert_eq!(Req::new("PUT", "/").send(a).status, 200);
    let r = Req::new("PUT", "/?encryption").body(BUCKET_KEY_DOC).send(a);
    assert_eq!(r.status, 200, "{}", r.text());
    let calls = |rpc| common::kms_calls(metrics, rpc);
    let before = (calls("GenerateDataKey"), calls("Decrypt"));
    let body = vec![0x5au8; 4096];
    for i in 0..1000 {
        let target = format!("/small/{i}");
        let headers = [("x-cos-server-side-encryption", "cos/kms")];
        let mut req = Req::new("PUT", &target).body(body.clone());
        // Half through the bucket default, half with the header: both use the bucket key.
        if i % 2 == 0 {
            req = req.header(headers[0].0, headers[0].1);
        }
        let r = req.send(a);
        assert_eq!(r.status, 200, "{target}: {}", r.text());
        let g = Req::new("GET", &target).send(a);
        assert_eq!(g.body, body, "{target}");
        assert_eq!(g.exact("x-cos-server-side-encryption"), Some("cos/kms"));
    }
    let after = (calls("GenerateDataKey"), calls("Decrypt"));
    let used = (after.0 - before.0, after.1 - before.1);
    // One GenerateDataKey for the bucket key; the GETs use the key the PUTs cached.
    assert_eq!(
        used,
        (1, 0),
        "1,000 PUTs and GETs made {used:?} GenerateDataKey/Decrypt calls"
    );

    // The same without bucket keys, on another bucket: a call per request, so the count above
    // is the bucket keys' doing.
    Req::new("PUT", "/")
        .host("other-1250000000.cos.ap-guangzhou.myqcloud.com")
        .send(a)
        .assert_status(200);
    let before = (calls("GenerateDataKey"), calls("Decrypt"));
    for i in 0..10 {
        let target = format!("/plain/{i}");
        Req::new("PUT", &target)
            .host("other-1250000000.cos.ap-guangzhou.myqcloud.com")
            .header("x-cos-server-side-encryption", "cos/kms")
            .body(body.clone())
            .send(a)
            .assert_status(200);
        let g = Req::new("GET", &target)
            .host("other-1250000000.cos.ap-guangzhou.myqcloud.com")
            .send(a);
        assert_eq!(g.body, body);
    }
    let after = (calls("GenerateDataKey"), calls("Decrypt"));
    assert_eq!((after.0 - before.0, after.1 - before.1), (10, 10));
}

/// `--bucket-keys` with a short cache time: a disabled CMK still serves writes until the cached
/// bucket key expires, then stops them.
#[test]
fn a_disabled_cmk_stops_bucket_key_writes_after_the_cache_time() {
    let kms_dir = tempfile::tempdir().unwrap();
    let (url, kms, metrics, _t) = common::kms_server_with_metrics(kms_dir.path());
    // Long enough for a PUT, a durable DisableKey and a PUT on a loaded machine.
    let ttl = std::time::Duration::from_secs(5);
    let settings = cos_gateway::state::BucketKeys {
        all_buckets: true,
        cache: storage_adapter::BucketKeyConfig {
            ttl,
            ..Default::default()
        },
    };
    let (gw, _rt) = bucket_key_gateway(&url, settings);
    let a = gw.addr;
    assert_eq!(Req::new("PUT", "/").send(a).status, 200);
    let key = kms.create_key("bk", "", "").unwrap().key_id.to_string();
    let put = |name: &str| {
        Req::new("PUT", name)
            .header("x-cos-server-side-encryption", "cos/kms")
            .header("x-cos-server-side-encryption-cos-kms-key-id", &key)
            .body("x")
            .send(a)
    };
    let start = std::time::Instant::now();
    put("/before").assert_status(200);
    kms.disable_key(&key).unwrap();
    put("/during").assert_status(200);
    assert!(
        start.elapsed() < ttl,
        "the machine was too slow for this test"
    );
    assert_eq!(common::kms_calls(metrics, "GenerateDataKey"), 1);
    std::thread::sleep(ttl);
    put("/after").assert_error(400, "KmsKeyDisabled");
    Req::new("GET", "/before")
        .send(a)
        .assert_error(400, "KmsKeyDisabled");
}
