//! Asymmetric keys through the library against the real server: a key pair per usage, its public
//! key, signatures that verify (and tampered ones that do not), decryption of what was encrypted
//! under the public key, and the typed refusals.

mod common;

use common::Server;
use kms_client::{
    CreateKeyRequest, DecryptAlgorithm, Error, KmsClient, MessageType, SignAlgorithm,
};

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

/// RSA-OAEP-SHA-256 under `public_der` (aws-lc-rs, not the server's code path).
fn rsa_oaep_sha256(public_der: &[u8], msg: &[u8]) -> Vec<u8> {
    use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey};
    let key =
        OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(public_der).unwrap()).unwrap();
    let mut out = vec![0; 256];
    let n = key
        .encrypt(&OAEP_SHA256_MGF1SHA256, msg, &mut out, None)
        .unwrap()
        .len();
    out.truncate(n);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asymmetric_decrypt_through_the_library() {
    use sm2::pkcs8::DecodePublicKey as _;
    let dir = common::tempdir();
    let server = Server::start(dir.path());
    let kms = KmsClient::connect(server.endpoint()).await.unwrap();
    let rsa = kms
        .create_key(CreateKeyRequest::new("inbox").key_usage("ASYMMETRIC_DECRYPT_RSA_2048"))
        .await
        .unwrap();
    let der = kms.get_public_key("inbox").await.unwrap().der;
    let ct = rsa_oaep_sha256(&der, b"for the KMS");
    let d = kms
        .asymmetric_decrypt("alias/inbox", DecryptAlgorithm::RsaesOaepSha256, &ct)
        .await
        .unwrap();
    assert_eq!(d.key_id, rsa.key_id);
    assert_eq!(d.plaintext.expose_secret(), b"for the KMS");
    let e = kms
        .asymmetric_decrypt("inbox", DecryptAlgorithm::RsaesPkcs1V15, &ct)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidCiphertext { .. }), "{e:?}");
    assert_eq!(e.to_string(), "invalid ciphertext");
    let e = kms
        .asymmetric_decrypt("inbox", DecryptAlgorithm::Sm2, &ct)
        .await
        .unwrap_err();
    assert_eq!(
        e.error_code(),
        Some("InvalidParameterValue.InvalidKeyUsage")
    );

    kms.create_key(CreateKeyRequest::new("sm2-inbox").key_usage("ASYMMETRIC_DECRYPT_SM2"))
        .await
        .unwrap();
    let der = kms.get_public_key("sm2-inbox").await.unwrap().der;
    let public = sm2::PublicKey::from_public_key_der(&der).unwrap();
    let ct = sm2::pke::EncryptingKey::new(public)
        .encrypt_der(
            &mut sm2::elliptic_curve::common::getrandom::SysRng,
            b"sm2 secret",
        )
        .unwrap();
    let d = kms
        .asymmetric_decrypt("sm2-inbox", DecryptAlgorithm::Sm2, &ct)
        .await
        .unwrap();
    assert_eq!(d.plaintext.expose_secret(), b"sm2 secret");
    assert_eq!(
        "RSAES_OAEP_SHA_1".parse::<DecryptAlgorithm>().unwrap(),
        DecryptAlgorithm::RsaesOaepSha1
    );
    assert_eq!(
        "SM2_C1C3C2_ASN1"
            .parse::<DecryptAlgorithm>()
            .unwrap_err()
            .to_string(),
        "unknown decryption algorithm \"SM2_C1C3C2_ASN1\" (expected one of RSAES_PKCS1_V1_5, \
         RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2)"
    );
}
