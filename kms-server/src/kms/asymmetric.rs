//! The calls of asymmetric keys: GetPublicKey, Sign, Verify and AsymmetricDecrypt. Like the symmetric cryptographic
//! calls they serve from the cache (the key pair is parsed once, when the key is loaded) and write
//! only to settle a deletion date that fell due. A key's usage decides which of them it serves;
//! every one needs an Enabled key ([`KeyAction::UseKeyPair`]).

use std::sync::Arc;

use uuid::Uuid;

use super::{Kms, next_state};
use crate::{
    asymmetric::{DecryptAlgorithm, MessageType, PrivateKey, SignAlgorithm},
    error::{Error, Result},
    keys::{KeyAction, KeyUsage},
    secret::SecretBytes,
};

/// An asymmetric key's public half, as GetPublicKey returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// The key.
    pub key_id: Uuid,
    /// Its usage.
    pub key_usage: KeyUsage,
    /// SubjectPublicKeyInfo DER (RFC 5280).
    pub der: Vec<u8>,
}

impl Kms {
    /// The key pair of `name` for `action` (a call's name, for the refusal), once the key's usage
    /// and state allow it.
    fn key_pair(
        &self,
        name: &str,
        action: &str,
        allowed: impl Fn(KeyUsage) -> bool,
    ) -> Result<(Uuid, KeyUsage, Arc<PrivateKey>)> {
        self.expire_due(name)?;
        let c = self.serve()?;
        let e = c.resolve(name)?;
        let m = e.meta();
        if !allowed(m.key_usage) {
            return Err(Error::wrong_usage(
                &m.key_id.to_string(),
                m.key_usage,
                action,
            ));
        }
        next_state(m, KeyAction::UseKeyPair)?;
        let pair = e.key_pair().ok_or_else(|| {
            Error::Internal(format!("asymmetric key {} has no key pair", m.key_id))
        })?;
        Ok((m.key_id, m.key_usage, Arc::clone(pair)))
    }

    /// GetPublicKey: the public key of an Enabled asymmetric key.
    pub fn get_public_key(&self, name: &str) -> Result<PublicKey> {
        let (key_id, key_usage, pair) =
            self.key_pair(name, "GetPublicKey", |u| !u.is_symmetric())?;
        Ok(PublicKey {
            key_id,
            key_usage,
            der: pair.public_key_der().to_vec(),
        })
    }

    /// Sign with an Enabled signing key. Returns the key id and the signature.
    pub fn sign(
        &self,
        name: &str,
        algorithm: SignAlgorithm,
        kind: MessageType,
        message: &[u8],
    ) -> Result<(Uuid, Vec<u8>)> {
        let (key_id, _, pair) = self.key_pair(name, "Sign", KeyUsage::signs)?;
        Ok((key_id, pair.sign(algorithm, kind, message)?))
    }

    /// Verify with an Enabled signing key: whether `signature` is valid. Returns the key id too.
    pub fn verify(
        &self,
        name: &str,
        algorithm: SignAlgorithm,
        kind: MessageType,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(Uuid, bool)> {
        let (key_id, _, pair) = self.key_pair(name, "Verify", KeyUsage::signs)?;
        Ok((key_id, pair.verify(algorithm, kind, message, signature)?))
    }

    /// AsymmetricRsaDecrypt and AsymmetricSm2Decrypt: opens, with an Enabled decryption key of the
    /// algorithm's kind, what was encrypted under its public key. Returns the key id and the
    /// plaintext. Another key (symmetric, signing, or a decryption key of the other kind) is
    /// refused as a wrong usage; a ciphertext that does not open is the opaque
    /// [`Error::InvalidCiphertext`].
    pub fn asymmetric_decrypt(
        &self,
        name: &str,
        algorithm: DecryptAlgorithm,
        ciphertext: &[u8],
    ) -> Result<(Uuid, SecretBytes)> {
        let spec = algorithm.key_spec();
        let (key_id, _, pair) = self.key_pair(name, algorithm.action(), |u| {
            u.decrypts() && u.key_spec() == Some(spec)
        })?;
        Ok((key_id, pair.decrypt(algorithm, ciphertext)?))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::test_support::{T0, ctx, open};
    use super::*;
    use crate::{clock::ManualClock, kms::data_keys::DataKeySpec};

    const SIGNING: [(KeyUsage, SignAlgorithm); 5] = [
        (KeyUsage::AsymmetricSignVerifySm2, SignAlgorithm::Sm2Dsa),
        (KeyUsage::AsymmetricSignVerifyEcc, SignAlgorithm::EccP256R1),
        (
            KeyUsage::AsymmetricSignVerifyEcdsa384,
            SignAlgorithm::Ecdsa384,
        ),
        (
            KeyUsage::AsymmetricSignVerifyRsa2048,
            SignAlgorithm::RsaPssSha256,
        ),
        (
            KeyUsage::AsymmetricSignVerifyRsa2048,
            SignAlgorithm::RsaPkcs1Sha256,
        ),
    ];

    #[test]
    fn asymmetric_keys_survive_a_restart_with_the_same_key_pair() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let mut made = Vec::new();
        {
            let kms = open(dir.path(), clock.clone());
            for (i, usage) in KeyUsage::ALL.into_iter().enumerate() {
                let m = kms
                    .create_key(&format!("k{i}"), "", usage.as_str())
                    .unwrap();
                assert_eq!(m.key_usage, usage);
                assert_eq!(m.current_key_version, 1);
                let public = (!usage.is_symmetric())
                    .then(|| kms.get_public_key(&m.key_id.to_string()).unwrap().der);
                made.push((m, public));
            }
        }
        let kms = open(dir.path(), clock);
        for (m, public) in made {
            let name = m.key_id.to_string();
            assert_eq!(kms.describe_key(&name).unwrap(), m);
            match public {
                Some(der) => assert_eq!(kms.get_public_key(&name).unwrap().der, der),
                None => {
                    let e = kms.get_public_key(&name).unwrap_err();
                    assert_eq!(
                        e.to_string(),
                        format!(
                            "key {name} has KeyUsage ENCRYPT_DECRYPT, which does not allow GetPublicKey"
                        )
                    );
                    assert_eq!(e.tencent_code(), "InvalidParameterValue.InvalidKeyUsage");
                }
            }
        }
    }

    #[test]
    fn signatures_verify_and_tampering_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let kms = open(dir.path(), Arc::new(ManualClock::new(T0)));
        for (i, (usage, alg)) in SIGNING.into_iter().enumerate() {
            let name = format!("s{i}");
            let key_id = kms.create_key(&name, "", usage.as_str()).unwrap().key_id;
            let msg = b"pay 100 to alice";
            let (id, sig) = kms.sign(&name, alg, MessageType::Raw, msg).unwrap();
            assert_eq!(id, key_id);
            let ok = |m: &[u8], s: &[u8]| kms.verify(&name, alg, MessageType::Raw, m, s).unwrap().1;
            assert!(ok(msg, &sig), "{alg:?}");
            assert!(!ok(b"pay 900 to alice", &sig), "{alg:?}: another message");
            let mut bad = sig.clone();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            assert!(!ok(msg, &bad), "{alg:?}: a flipped bit");
            assert!(!ok(msg, b""), "{alg:?}: an empty signature");
            // The same key signs a digest of the algorithm's hash.
            let digest = vec![7u8; alg.digest_len()];
            let (_, dsig) = kms.sign(&name, alg, MessageType::Digest, &digest).unwrap();
            assert!(
                kms.verify(&name, alg, MessageType::Digest, &digest, &dsig)
                    .unwrap()
                    .1
            );
            let short = vec![7u8; alg.digest_len() - 1];
            assert_eq!(
                kms.sign(&name, alg, MessageType::Digest, &short)
                    .unwrap_err()
                    .to_string(),
                format!(
                    "a DIGEST message for {} must be {} bytes, got {}",
                    alg.as_str(),
                    alg.digest_len(),
                    alg.digest_len() - 1
                )
            );
        }
    }

    #[test]
    fn wrong_algorithm_size_usage_and_state_are_refused_with_the_tencent_code() {
        let dir = tempfile::tempdir().unwrap();
        let kms = open(dir.path(), Arc::new(ManualClock::new(T0)));
        kms.create_key("ecc", "", "ASYMMETRIC_SIGN_VERIFY_ECC")
            .unwrap();
        kms.create_key("dec", "", "ASYMMETRIC_DECRYPT_SM2").unwrap();
        kms.create_key("sym", "", "").unwrap();
        let e = kms
            .sign("ecc", SignAlgorithm::Sm2Dsa, MessageType::Raw, b"m")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Algorithm SM2DSA does not run on a EccP256 key"
        );
        assert_eq!(e.tencent_code(), "InvalidParameterValue");
        let long = vec![0u8; crate::asymmetric::MAX_SIGN_MESSAGE_BYTES + 1];
        let e = kms
            .sign("ecc", SignAlgorithm::EccP256R1, MessageType::Raw, &long)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "a RAW message must be at most 4096 bytes, got 4097"
        );
        for name in ["dec", "sym"] {
            let e = kms
                .sign(name, SignAlgorithm::Sm2Dsa, MessageType::Raw, b"m")
                .unwrap_err();
            assert_eq!(
                e.tencent_code(),
                "InvalidParameterValue.InvalidKeyUsage",
                "{name}"
            );
            assert!(e.to_string().ends_with("which does not allow Sign"), "{e}");
        }
        // GetPublicKey serves decryption keys too.
        assert_eq!(
            kms.get_public_key("dec").unwrap().key_usage,
            KeyUsage::AsymmetricDecryptSm2
        );
        kms.disable_key("ecc").unwrap();
        let e = kms
            .sign("ecc", SignAlgorithm::EccP256R1, MessageType::Raw, b"m")
            .unwrap_err();
        assert_eq!(e.tencent_code(), "ResourceUnavailable.CmkStateNotSupport");
        let e = kms.get_public_key("ecc").unwrap_err();
        assert_eq!(e.tencent_code(), "ResourceUnavailable.CmkStateNotSupport");
        let e = kms.create_key("x", "", "SIGN_VERIFY").unwrap_err();
        assert_eq!(e.tencent_code(), "InvalidParameterValue.InvalidKeyUsage");
        assert!(
            e.to_string()
                .starts_with("key_usage must be one of [\"ENCRYPT_DECRYPT\""),
            "{e}"
        );
    }

    /// Tencent refuses rotation of asymmetric keys (UnsupportedOperation.RotateNotSupported) and
    /// symmetric calls on them (InvalidParameterValue.InvalidKeyUsage); nothing changes.
    #[test]
    fn asymmetric_keys_neither_rotate_nor_serve_symmetric_calls() {
        let dir = tempfile::tempdir().unwrap();
        let kms = open(dir.path(), Arc::new(ManualClock::new(T0)));
        let ctx = ctx();
        kms.create_key("sym", "", "").unwrap();
        let blob = kms.encrypt("sym", b"x", "").unwrap().ciphertext_blob;
        for usage in KeyUsage::ALL.into_iter().filter(|u| !u.is_symmetric()) {
            let name = format!("a-{}", usage.as_str().to_lowercase().replace('_', "-"));
            let m = kms.create_key(&name, "", usage.as_str()).unwrap();
            let id = m.key_id.to_string();
            for e in [
                kms.enable_key_rotation(&name, 30).unwrap_err(),
                kms.rotate_key(&name).unwrap_err(),
            ] {
                assert!(matches!(e, Error::RotateNotSupported(_)), "{usage}: {e:?}");
                assert_eq!(e.tencent_code(), "UnsupportedOperation.RotateNotSupported");
                assert_eq!(
                    e.to_string(),
                    format!("key {id} is asymmetric and cannot be rotated")
                );
            }
            let want = format!(
                "key {id} has KeyUsage {usage}, which does not allow Encrypt, GenerateDataKey or ReEncrypt"
            );
            let symmetric = [
                kms.encrypt(&name, b"x", "").map(drop),
                kms.generate_data_key(&name, DataKeySpec::Aes256, &ctx, true)
                    .map(drop),
                kms.generate_data_key(&name, DataKeySpec::Aes128, "", false)
                    .map(drop),
            ];
            for r in symmetric {
                let e = r.unwrap_err();
                assert_eq!(e.tencent_code(), "InvalidParameterValue.InvalidKeyUsage");
                assert_eq!(e.to_string(), want);
            }
            let e = kms.re_encrypt(&blob, &name, "", "").unwrap_err();
            assert_eq!(e.to_string(), want);
            // A blob that names an asymmetric key does not open: indistinguishable from tampering.
            let mut forged = blob.clone();
            forged[crate::blob::KEY_ID_OFFSET..crate::blob::KEY_VERSION_OFFSET]
                .copy_from_slice(m.key_id.as_bytes());
            assert!(matches!(
                kms.decrypt(&forged, ""),
                Err(Error::InvalidCiphertext)
            ));
            assert_eq!(
                kms.describe_key(&name).unwrap(),
                m,
                "{usage}: a refusal changed the key"
            );
        }
    }

    /// A seed document may not turn an asymmetric key into a symmetric one (or the reverse): the
    /// key pair stays as it is.
    #[test]
    fn a_seed_document_cannot_change_a_key_usage() {
        let dir = tempfile::tempdir().unwrap();
        let kms = open(dir.path(), Arc::new(ManualClock::new(T0)));
        let m = kms
            .create_key("ecc", "", "ASYMMETRIC_SIGN_VERIFY_ECC")
            .unwrap();
        let public = kms.get_public_key("ecc").unwrap().der;
        let doc = format!("keys:\n  - key_id: {}\n    alias: ecc\n", m.key_id);
        let e = kms.seed(&doc).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "seed: line 2: key {} has KeyUsage ASYMMETRIC_SIGN_VERIFY_ECC, the document says \
                 ENCRYPT_DECRYPT",
                m.key_id
            )
        );
        assert_eq!(kms.get_public_key("ecc").unwrap().der, public);
        // Naming the usage, the same document only updates the metadata.
        let doc = format!("{doc}    key_usage: ASYMMETRIC_SIGN_VERIFY_ECC\n    description: d\n");
        assert_eq!(kms.seed(&doc).unwrap(), (1, 1));
        assert_eq!(kms.seed(&doc).unwrap(), (0, 1));
        assert_eq!(kms.describe_key("ecc").unwrap().description, "d");
        assert_eq!(kms.get_public_key("ecc").unwrap().der, public);
    }

    /// Key pairs of every usage, generated by the libraries themselves, in each PEM encoding taken.
    fn pems() -> Vec<(KeyUsage, String, Vec<u8>)> {
        use aws_lc_rs::encoding::{AsDer, EcPrivateKeyRfc5915Der, Pkcs8V1Der, PublicKeyX509Der};
        use aws_lc_rs::signature::{
            ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair,
            KeyPair as _,
        };
        use sm2::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, PrivateKeyInfoRef};
        let pem = |tag: &str, der: &[u8]| pem::encode(&pem::Pem::new(tag, der.to_vec()));
        let mut out = Vec::new();
        let rsa = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let rsa_pkcs8: Pkcs8V1Der<'static> = rsa.as_der().unwrap();
        let rsa_public: PublicKeyX509Der<'static> = rsa.public_key().as_der().unwrap();
        let pkcs1 = PrivateKeyInfoRef::try_from(rsa_pkcs8.as_ref())
            .unwrap()
            .private_key
            .as_bytes()
            .to_vec();
        out.push((
            KeyUsage::AsymmetricSignVerifyRsa2048,
            pem("PRIVATE KEY", rsa_pkcs8.as_ref()),
            rsa_public.as_ref().to_vec(),
        ));
        out.push((
            KeyUsage::AsymmetricDecryptRsa2048,
            pem("RSA PRIVATE KEY", &pkcs1),
            rsa_public.as_ref().to_vec(),
        ));
        for (usage, alg) in [
            (
                KeyUsage::AsymmetricSignVerifyEcc,
                &ECDSA_P256_SHA256_ASN1_SIGNING,
            ),
            (
                KeyUsage::AsymmetricSignVerifyEcdsa384,
                &ECDSA_P384_SHA384_ASN1_SIGNING,
            ),
        ] {
            let pair = EcdsaKeyPair::generate(alg).unwrap();
            let public: PublicKeyX509Der<'static> = pair.public_key().as_der().unwrap();
            let sec1: EcPrivateKeyRfc5915Der<'static> = pair.private_key().as_der().unwrap();
            let text = if usage == KeyUsage::AsymmetricSignVerifyEcc {
                pem("EC PRIVATE KEY", sec1.as_ref())
            } else {
                pem("PRIVATE KEY", pair.to_pkcs8v1().unwrap().as_ref())
            };
            out.push((usage, text, public.as_ref().to_vec()));
        }
        for usage in [
            KeyUsage::AsymmetricSignVerifySm2,
            KeyUsage::AsymmetricDecryptSm2,
        ] {
            use sm2::elliptic_curve::Generate as _;
            let secret = sm2::SecretKey::generate();
            let public = secret.public_key().to_public_key_der().unwrap().into_vec();
            let text = if usage == KeyUsage::AsymmetricSignVerifySm2 {
                pem("PRIVATE KEY", secret.to_pkcs8_der().unwrap().as_bytes())
            } else {
                pem("EC PRIVATE KEY", &secret.to_sec1_der().unwrap())
            };
            out.push((usage, text, public));
        }
        out
    }

    fn seed_entry(i: usize, usage: KeyUsage, pem: &str) -> String {
        let indented = pem.trim_end().replace('\n', "\n      ");
        format!(
            "  - key_id: 6f1c2d3e-0000-4000-8000-0000000000{i:02}\n    alias: pem{i}\n    \
             key_usage: {usage}\n    private_key_pem: |\n      {indented}\n"
        )
    }

    /// A seed with one PEM key of each asymmetric usage loads; GetPublicKey gives the PEM's public
    /// key; the KMS's signatures verify with it and its ciphertexts open in the KMS; loading again
    /// changes nothing, and the key pairs survive a restart.
    #[test]
    fn a_seed_document_loads_pem_key_pairs_of_every_usage() {
        use aws_lc_rs::signature::{self as sig, UnparsedPublicKey};
        use sm2::pkcs8::DecodePublicKey as _;
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let pems = pems();
        let doc = pems
            .iter()
            .enumerate()
            .fold("keys:\n".to_owned(), |d, (i, (u, p, _))| {
                d + &seed_entry(i, *u, p)
            });
        {
            let kms = open(dir.path(), clock.clone());
            assert_eq!(kms.seed(&doc).unwrap(), (pems.len(), pems.len()));
            assert_eq!(kms.seed(&doc).unwrap(), (0, pems.len()));
        }
        let kms = open(dir.path(), clock);
        assert_eq!(kms.seed(&doc).unwrap(), (0, pems.len()));
        let msg = b"pay 100 to alice";
        for (i, (usage, _, public)) in pems.iter().enumerate() {
            let name = format!("pem{i}");
            let m = kms.describe_key(&name).unwrap();
            assert_eq!((m.key_usage, m.origin.as_str()), (*usage, "EXTERNAL"));
            assert_eq!(&kms.get_public_key(&name).unwrap().der, public, "{usage}");
            let sign = |alg| kms.sign(&name, alg, MessageType::Raw, msg).unwrap().1;
            let aws = |alg: &'static dyn sig::VerificationAlgorithm, spki: &[u8], s: &[u8]| {
                let info = sm2::pkcs8::SubjectPublicKeyInfoRef::try_from(spki).unwrap();
                let raw = info.subject_public_key.raw_bytes();
                UnparsedPublicKey::new(alg, raw).verify(msg, s).is_ok()
            };
            match usage {
                KeyUsage::AsymmetricSignVerifyRsa2048 => {
                    let s = sign(SignAlgorithm::RsaPssSha256);
                    assert!(aws(&sig::RSA_PSS_2048_8192_SHA256, public, &s));
                    let s = sign(SignAlgorithm::RsaPkcs1Sha256);
                    assert!(aws(&sig::RSA_PKCS1_2048_8192_SHA256, public, &s));
                }
                KeyUsage::AsymmetricSignVerifyEcc => {
                    let s = sign(SignAlgorithm::EccP256R1);
                    assert!(aws(&sig::ECDSA_P256_SHA256_ASN1, public, &s));
                }
                KeyUsage::AsymmetricSignVerifyEcdsa384 => {
                    let s = sign(SignAlgorithm::Ecdsa384);
                    assert!(aws(&sig::ECDSA_P384_SHA384_ASN1, public, &s));
                }
                KeyUsage::AsymmetricSignVerifySm2 => {
                    use sm2::dsa::signature::Verifier as _;
                    let s = sign(SignAlgorithm::Sm2Dsa);
                    let key = sm2::PublicKey::from_public_key_der(public).unwrap();
                    let v =
                        sm2::dsa::VerifyingKey::new(crate::asymmetric::SM2_DEFAULT_USER_ID, key)
                            .unwrap();
                    v.verify(msg, &sm2::dsa::Signature::from_der(&s).unwrap())
                        .unwrap();
                }
                KeyUsage::AsymmetricDecryptSm2 => {
                    let key = sm2::PublicKey::from_public_key_der(public).unwrap();
                    let ct = sm2::pke::EncryptingKey::new_with_mode(key, sm2::pke::Mode::C1C3C2)
                        .encrypt_der(&mut sm2::elliptic_curve::common::getrandom::SysRng, msg)
                        .unwrap();
                    let (_, plain) = kms
                        .asymmetric_decrypt(&name, DecryptAlgorithm::Sm2, &ct)
                        .unwrap();
                    assert_eq!(plain.expose(), msg);
                }
                KeyUsage::AsymmetricDecryptRsa2048 => {
                    use aws_lc_rs::rsa::{
                        OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey,
                    };
                    let key = OaepPublicEncryptingKey::new(
                        PublicEncryptingKey::from_der(public).unwrap(),
                    )
                    .unwrap();
                    let mut ct = vec![0; 256];
                    key.encrypt(&OAEP_SHA256_MGF1SHA256, msg, &mut ct, None)
                        .unwrap();
                    let alg = DecryptAlgorithm::RsaesOaepSha256;
                    let (_, plain) = kms.asymmetric_decrypt(&name, alg, &ct).unwrap();
                    assert_eq!(plain.expose(), msg);
                }
                KeyUsage::EncryptDecrypt => unreachable!(),
            }
        }
    }

    /// Every refusal of a PEM key, word for word; none writes anything.
    #[test]
    fn pem_keys_that_do_not_fit_are_refused_exactly() {
        use aws_lc_rs::signature::{ECDSA_P521_SHA512_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
        let dir = tempfile::tempdir().unwrap();
        let kms = open(dir.path(), Arc::new(ManualClock::new(T0)));
        let pems = pems();
        let pem_of = |u: KeyUsage| pems.iter().find(|p| p.0 == u).unwrap().1.clone();
        let p521 = EcdsaKeyPair::generate(&ECDSA_P521_SHA512_ASN1_SIGNING).unwrap();
        let p521 = pem::encode(&pem::Pem::new(
            "PRIVATE KEY",
            p521.to_pkcs8v1().unwrap().as_ref().to_vec(),
        ));
        let ed = Ed25519KeyPair::generate_pkcs8v1(&aws_lc_rs::rand::SystemRandom::new()).unwrap();
        let ed = pem::encode(&pem::Pem::new("PRIVATE KEY", ed.as_ref().to_vec()));
        let rsa3072 = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa3072).unwrap();
        let rsa3072: aws_lc_rs::encoding::Pkcs8V1Der<'static> =
            aws_lc_rs::encoding::AsDer::as_der(&rsa3072).unwrap();
        let rsa3072 = pem::encode(&pem::Pem::new("PRIVATE KEY", rsa3072.as_ref().to_vec()));
        let garbage = pem::encode(&pem::Pem::new("PRIVATE KEY", vec![0x30, 0x03, 1, 2, 3]));
        let id = "6f1c2d3e-0000-4000-8000-000000000000";
        let ecc = KeyUsage::AsymmetricSignVerifyEcc;
        let cases: Vec<(KeyUsage, String, String)> = vec![
            (
                ecc,
                pem_of(KeyUsage::AsymmetricSignVerifyRsa2048),
                format!(
                    "key {id}: key_usage ASYMMETRIC_SIGN_VERIFY_ECC needs an EC key on P-256, private_key_pem holds an RSA-2048 key"
                ),
            ),
            (
                ecc,
                pem_of(KeyUsage::AsymmetricSignVerifyEcdsa384),
                format!(
                    "key {id}: key_usage ASYMMETRIC_SIGN_VERIFY_ECC needs an EC key on P-256, private_key_pem holds an EC key on P-384"
                ),
            ),
            (
                ecc,
                pem_of(KeyUsage::AsymmetricSignVerifySm2),
                format!(
                    "key {id}: key_usage ASYMMETRIC_SIGN_VERIFY_ECC needs an EC key on P-256, private_key_pem holds an EC key on SM2"
                ),
            ),
            (
                ecc,
                p521,
                format!(
                    "key {id}: key_usage ASYMMETRIC_SIGN_VERIFY_ECC needs an EC key on P-256, private_key_pem holds an EC key on curve 1.3.132.0.35"
                ),
            ),
            (
                KeyUsage::AsymmetricDecryptSm2,
                pem_of(ecc),
                format!(
                    "key {id}: key_usage ASYMMETRIC_DECRYPT_SM2 needs an EC key on SM2, private_key_pem holds an EC key on P-256"
                ),
            ),
            (
                KeyUsage::AsymmetricSignVerifyRsa2048,
                rsa3072,
                format!(
                    "key {id}: key_usage ASYMMETRIC_SIGN_VERIFY_RSA_2048 needs an RSA-2048 key, private_key_pem holds an RSA-3072 key"
                ),
            ),
            (
                KeyUsage::AsymmetricDecryptRsa2048,
                ed,
                format!(
                    "key {id}: key_usage ASYMMETRIC_DECRYPT_RSA_2048 needs an RSA-2048 key, private_key_pem holds a key of algorithm 1.3.101.112"
                ),
            ),
            (
                KeyUsage::EncryptDecrypt,
                pem_of(ecc),
                format!(
                    "key {id}: private_key_pem is for ASYMMETRIC_* key usages, not ENCRYPT_DECRYPT"
                ),
            ),
            (
                ecc,
                garbage,
                format!("key {id}: private_key_pem is not a readable PRIVATE KEY"),
            ),
        ];
        for (usage, pem, want) in cases {
            let doc = format!("keys:\n{}", seed_entry(0, usage, &pem));
            let e = kms.seed(&doc).unwrap_err();
            assert_eq!(e.to_string(), format!("seed: line 2: {want}"));
            assert_eq!(e.tencent_code(), "InvalidParameterValue");
        }
        // Refused while parsing, with the line of the field.
        let parse_cases = [
            (
                "private_key_pem: not a pem",
                "seed: line 2: keys[0]: private_key_pem is not a PEM block",
            ),
            (
                "private_key_pem: \"-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\\n\"",
                "seed: line 2: keys[0]: private_key_pem must be a PRIVATE KEY, EC PRIVATE KEY or \
                 RSA PRIVATE KEY block, got \"PUBLIC KEY\"",
            ),
            (
                "key_usage: SIGN",
                "seed: line 2: keys[0]: key_usage must be one of [\"ENCRYPT_DECRYPT\", \"ASYMMETRIC_DECRYPT_RSA_2048\", \"ASYMMETRIC_DECRYPT_SM2\", \"ASYMMETRIC_SIGN_VERIFY_SM2\", \"ASYMMETRIC_SIGN_VERIFY_ECC\", \"ASYMMETRIC_SIGN_VERIFY_ECDSA384\", \"ASYMMETRIC_SIGN_VERIFY_RSA_2048\"], got \"SIGN\"",
            ),
        ];
        for (field, want) in parse_cases {
            let doc = format!("keys:\n  - key_id: {id}\n    alias: a\n    {field}\n");
            assert_eq!(kms.seed(&doc).unwrap_err().to_string(), want);
        }
        let doc = format!(
            "keys:\n  - key_id: {id}\n    alias: a\n    key_usage: ASYMMETRIC_SIGN_VERIFY_ECC\n    \
             material:\n      - {}\n",
            "00".repeat(32)
        );
        assert_eq!(
            kms.seed(&doc).unwrap_err().to_string(),
            format!(
                "seed: line 2: key {id}: material is for ENCRYPT_DECRYPT keys, a \
                 ASYMMETRIC_SIGN_VERIFY_ECC key takes private_key_pem"
            )
        );
        assert!(kms.describe_key(id).is_err(), "a refused seed wrote a key");
        // A stored key pair is never replaced: another PEM for the same id is refused.
        let first = format!("keys:\n{}", seed_entry(0, ecc, &pem_of(ecc)));
        kms.seed(&first).unwrap();
        let public = kms.get_public_key(id).unwrap().der;
        let other =
            EcdsaKeyPair::generate(&aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let other = pem::encode(&pem::Pem::new(
            "PRIVATE KEY",
            other.to_pkcs8v1().unwrap().as_ref().to_vec(),
        ));
        let e = kms
            .seed(&format!("keys:\n{}", seed_entry(0, ecc, &other)))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("seed: line 2: key {id} exists with another key pair")
        );
        assert_eq!(kms.get_public_key(id).unwrap().der, public);
        // Without a PEM, a new asymmetric key gets a fresh key pair, kept on the next load.
        let fresh = "keys:\n  - key_id: 6f1c2d3e-0000-4000-8000-0000000000ff\n    alias: fresh\n    \
                     key_usage: ASYMMETRIC_DECRYPT_SM2\n";
        assert_eq!(kms.seed(fresh).unwrap(), (1, 1));
        let public = kms.get_public_key("fresh").unwrap().der;
        assert_eq!(kms.seed(fresh).unwrap(), (0, 1));
        assert_eq!(kms.get_public_key("fresh").unwrap().der, public);
        assert_eq!(kms.describe_key("fresh").unwrap().origin, "TENCENT_KMS");
    }
}
