//! The gateway over a running `kms-server` (gRPC, the adapter's `grpc` feature), as
//! `cos-gateway --kms-endpoint URL` runs it.

mod common;

use std::sync::Arc;

use common::{Options, Req};
use storage_adapter::provider::grpc::GrpcKms;

/// A kms-server on 127.0.0.1:0 on its own thread; returns its URL and core.
fn kms_server(
    dir: &std::path::Path,
) -> (String, Arc<kms_server::Kms>, std::thread::JoinHandle<()>) {
    use base64::Engine as _;
    let root = kms_server::RootKey::from_base64(
        &base64::engine::general_purpose::STANDARD.encode([9u8; 32]),
    )
    .unwrap();
    let kms = Arc::new(kms_server::Kms::open(kms_server::Config::new(dir, root)).unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let k = Arc::clone(&kms);
    let t = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            kms_server::server::serve(l, k, Default::default(), std::future::pending())
                .await
                .unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    (format!("http://{addr}"), kms, t)
}

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

/// The documented production set-up: the gateway reaches kms-server over mutual TLS with its own
/// data-plane identity (a client certificate the policy names by its public key), and SSE objects
/// go through it. The same gateway without the certificate gets nothing from the KMS.
#[test]
fn objects_through_a_kms_server_over_mutual_tls_with_a_data_plane_identity() {
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

    let rt = tokio::runtime::Runtime::new().unwrap();
    let _enter = rt.enter();
    let gateway = |with_certificate: bool| {
        let mut builder = kms_client::KmsClient::builder(&url).ca_pem(ca.cert_pem());
        if with_certificate {
            builder = builder.client_identity_pem(
                gateway_cert.cert_pem.clone(),
                kms_client::SecretBytes::from(gateway_cert.key_pem.as_bytes()),
            );
        }
        let client = builder.connect_lazy().unwrap();
        common::start_with(
            Options {
                tls: false,
                allow_ssec_over_http: true,
            },
            Some(Arc::new(GrpcKms::new(client, "alias/kms-cos-sse"))),
        )
    };
    let gw = gateway(true);
    let a = gw.addr;
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
    let anonymous = gateway(false);
    assert_eq!(Req::new("PUT", "/").send(anonymous.addr).status, 200);
    Req::new("PUT", "/o")
        .header("x-cos-server-side-encryption", "cos/kms")
        .body("x")
        .send(anonymous.addr)
        .assert_error(500, "KmsInternalException");
}
