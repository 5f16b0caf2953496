//! Bring your own key through the library against the real server: an EXTERNAL key, its wrapping
//! parameters, material wrapped here by aws-lc-rs (OAEP), import, use, deletion, and the typed
//! refusals with their Tencent codes.

mod common;

use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey,
};
use common::Server;
use kms_client::{
    CreateKeyRequest, DecryptRequest, EncryptRequest, ImportParameters, KeyState, KmsClient,
    WrappingAlgorithm,
};

fn wrap(p: &ImportParameters, alg: WrappingAlgorithm, material: &[u8]) -> Vec<u8> {
    let key =
        OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(&p.public_key_der).unwrap())
            .unwrap();
    let oaep = match alg {
        WrappingAlgorithm::RsaesOaepSha1 => &OAEP_SHA1_MGF1SHA1,
        _ => &OAEP_SHA256_MGF1SHA256,
    };
    let mut out = vec![0u8; key.ciphertext_size()];
    key.encrypt(oaep, material, &mut out, None)
        .unwrap()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_material_through_the_library() {
    let dir = common::tempdir();
    let server = Server::start(dir.path());
    let kms = KmsClient::connect(server.endpoint()).await.unwrap();
    let key = kms
        .create_key(CreateKeyRequest::new("byok").external())
        .await
        .unwrap();
    assert_eq!(
        (key.state, key.origin.as_str()),
        (KeyState::PendingImport, "EXTERNAL")
    );
    let own = kms.create_key(CreateKeyRequest::new("own")).await.unwrap();
    let e = kms
        .get_parameters_for_import(&own.key_id, WrappingAlgorithm::RsaesOaepSha256)
        .await
        .unwrap_err();
    assert_eq!(e.error_code(), Some("UnsupportedOperation.NotExternalCmk"));
    let material = [9u8; 32];
    for alg in WrappingAlgorithm::ALL {
        let p = kms.get_parameters_for_import("byok", alg).await.unwrap();
        assert_eq!(p.key_id, key.key_id);
        let e = kms
            .import_key_material("byok", &wrap(&p, alg, &[1; 31]), &p.import_token, 0)
            .await
            .unwrap_err();
        assert_eq!(e.error_code(), Some("InvalidParameterValue"), "{e:?}");
        kms.import_key_material("byok", &wrap(&p, alg, &material), &p.import_token, 0)
            .await
            .unwrap();
        assert_eq!(
            kms.describe_key("byok").await.unwrap().state,
            KeyState::Enabled
        );
        let blob = kms
            .encrypt(EncryptRequest::new("byok", b"mine".to_vec()))
            .await
            .unwrap()
            .ciphertext_blob;
        kms.delete_imported_key_material("byok").await.unwrap();
        let e = kms.decrypt(DecryptRequest::new(blob)).await.unwrap_err();
        assert_eq!(
            e.error_code(),
            Some("ResourceUnavailable.CmkStateNotSupport")
        );
    }
}
