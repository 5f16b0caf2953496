//! The production set-up over real mutual TLS: a data-plane client known to the KMS only by its
//! certificate's public key (no token), allowed GenerateDataKey and Decrypt on the COS key and
//! nothing else; a client without a certificate is not let in.

use std::sync::Arc;

use kms_client::{DecryptRequest, Error, GenerateDataKeyRequest, KeySpec, KmsClient, SecretBytes};
use kms_server::{
    Config, Kms, RootKey,
    access::Policy,
    server::{self, ServerOptions},
    service::AccessControl,
    tls::TlsArgs,
};
use local_pki::LocalCa;

#[tokio::test]
async fn a_data_plane_identity_over_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let ca = LocalCa::generate("test CA").unwrap();
    let server_cert = ca.issue_server("kms", &[]).unwrap();
    let storage = ca.issue_client("storage").unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let tls = TlsArgs {
        tls_cert: Some(write("server.pem", &server_cert.cert_pem)),
        tls_key: Some(write("server.key", &server_cert.key_pem)),
        tls_client_ca: Some(write("ca.pem", &ca.cert_pem())),
        ..TlsArgs::default()
    };
    let policy = Policy::parse(&format!(
        "identities:\n  - name: storage\n    cert_sha256: \"{}\"\n    allow: [GenerateDataKey, Decrypt]\n    keys: [\"alias/kms-cos\"]\n",
        hex::encode(storage.spki_sha256().unwrap())
    ))
    .unwrap();
    let data = dir.path().join("data");
    let kms = Arc::new(
        Kms::open(Config::new(
            &data,
            RootKey::load_or_create(&dir.path().join("root.key")).unwrap(),
        ))
        .unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let options = ServerOptions {
        tls: tls.load(&data).unwrap(),
        access: Arc::new(AccessControl::enforce(policy)),
        ..ServerOptions::default()
    };
    tokio::spawn(server::serve(
        listener,
        kms,
        options,
        std::future::pending(),
    ));

    let endpoint = format!("https://localhost:{port}");
    let client = KmsClient::builder(&endpoint)
        .ca_pem(ca.cert_pem())
        .client_identity_pem(
            storage.cert_pem.clone(),
            SecretBytes::from(storage.key_pem.as_bytes()),
        )
        .connect()
        .await
        .unwrap();
    let dk = client
        .generate_data_key(GenerateDataKeyRequest {
            key_id: "alias/kms-cos".to_owned(),
            key_spec: Some(KeySpec::Aes256),
            ..Default::default()
        })
        .await
        .unwrap();
    let back = client
        .decrypt(DecryptRequest {
            ciphertext_blob: dk.ciphertext_blob.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(back.plaintext.expose_secret(), dk.plaintext.expose_secret());
    // Administration is not the data plane's.
    let denied = client.disable_key("alias/kms-cos").await.unwrap_err();
    assert!(
        matches!(denied, Error::PermissionDenied { .. }),
        "{denied:?}"
    );
    assert_eq!(
        denied.to_string(),
        "identity storage may not call DisableKey"
    );
    // The same TLS without a client certificate (and no token) is not let in.
    let anonymous = KmsClient::builder(&endpoint)
        .ca_pem(ca.cert_pem())
        .connect()
        .await
        .unwrap();
    let refused = anonymous
        .generate_data_key(GenerateDataKeyRequest {
            key_id: "alias/kms-cos".to_owned(),
            key_spec: Some(KeySpec::Aes256),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Error::Unauthenticated { .. }),
        "{refused:?}"
    );
}
