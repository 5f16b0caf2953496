//! Asymmetric keys through the library against the real server: a key pair per usage, its public
//! key, signatures that verify (and tampered ones that do not), and the typed refusals.

mod common;

use common::Server;
use kms_client::{CreateKeyRequest, Error, KmsClient, MessageType, SignAlgorithm};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_and_verify_through_the_library() {
    let dir = common::tempdir();
    let server = Server::start(dir.path());
    let kms = KmsClient::connect(server.endpoint()).await.unwrap();
    let cases = [
        ("ASYMMETRIC_SIGN_VERIFY_SM2", SignAlgorithm::Sm2Dsa, 32),
        ("ASYMMETRIC_SIGN_VERIFY_ECC", SignAlgorithm::EccP256R1, 32),
        (
            "ASYMMETRIC_SIGN_VERIFY_ECDSA384",
            SignAlgorithm::Ecdsa384,
            48,
        ),
        (
            "ASYMMETRIC_SIGN_VERIFY_RSA_2048",
            SignAlgorithm::RsaPssSha256,
            32,
        ),
        (
            "ASYMMETRIC_SIGN_VERIFY_RSA_2048",
            SignAlgorithm::RsaPkcs1Sha256,
            32,
        ),
    ];
    for (i, (usage, alg, digest_len)) in cases.into_iter().enumerate() {
        let key = kms
            .create_key(CreateKeyRequest::new(format!("sign-{i}")).key_usage(usage))
            .await
            .unwrap();
        let public = kms.get_public_key(&key.key_id).await.unwrap();
        assert_eq!(
            (public.key_id.as_str(), public.key_usage.as_str()),
            (key.key_id.as_str(), usage)
        );
        assert!(
            public.pem.starts_with("-----BEGIN PUBLIC KEY-----\n"),
            "{}",
            public.pem
        );
        assert!(!public.der.is_empty());
        let msg = b"a document";
        let sig = kms
            .sign(&key.key_id, alg, MessageType::Raw, msg)
            .await
            .unwrap();
        assert_eq!(sig.key_id, key.key_id);
        let verify = |m: &'static [u8], s: Vec<u8>, kind| {
            let kms = kms.clone();
            let id = key.key_id.clone();
            async move { kms.verify(&id, alg, kind, m, &s).await.unwrap() }
        };
        assert!(
            verify(msg, sig.signature.clone(), MessageType::Raw).await,
            "{alg:?}"
        );
        assert!(
            !verify(b"another", sig.signature.clone(), MessageType::Raw).await,
            "{alg:?}"
        );
        let digest = vec![1u8; digest_len];
        let d = kms
            .sign(&key.key_id, alg, MessageType::Digest, &digest)
            .await
            .unwrap();
        assert!(
            kms.verify(&key.key_id, alg, MessageType::Digest, &digest, &d.signature)
                .await
                .unwrap()
        );
        let e = kms
            .sign(&key.key_id, alg, MessageType::Digest, &digest[1..])
            .await
            .unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
        assert_eq!(e.error_code(), Some("InvalidParameterValue"));
    }
    let sym = kms.create_key(CreateKeyRequest::new("sym")).await.unwrap();
    let e = kms.get_public_key(&sym.key_id).await.unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
    assert_eq!(
        e.error_code(),
        Some("InvalidParameterValue.InvalidKeyUsage")
    );
    let e = kms
        .create_key(CreateKeyRequest::new("x").key_usage("SIGN_VERIFY"))
        .await
        .unwrap_err();
    assert_eq!(
        e.error_code(),
        Some("InvalidParameterValue.InvalidKeyUsage")
    );
    let ecc = kms
        .create_key(CreateKeyRequest::new("ecc").key_usage("ASYMMETRIC_SIGN_VERIFY_ECC"))
        .await
        .unwrap();
    let e = kms
        .enable_key_rotation(&ecc.key_id, Some(30))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::KeyStateConflict { .. }), "{e:?}");
    assert_eq!(
        e.error_code(),
        Some("UnsupportedOperation.RotateNotSupported")
    );
    kms.disable_key(&ecc.key_id).await.unwrap();
    let e = kms
        .sign(
            &ecc.key_id,
            SignAlgorithm::EccP256R1,
            MessageType::Raw,
            b"m",
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.error_code(),
        Some("ResourceUnavailable.CmkStateNotSupport")
    );
}
