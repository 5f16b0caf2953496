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

    /// A seed document gives symmetric material: it may not name an asymmetric key (it would drop
    /// the key pair).
    #[test]
    fn a_seed_document_cannot_touch_an_asymmetric_key() {
        let dir = tempfile::tempdir().unwrap();
        let kms = open(dir.path(), Arc::new(ManualClock::new(T0)));
        let m = kms
            .create_key("ecc", "", "ASYMMETRIC_SIGN_VERIFY_ECC")
            .unwrap();
        let public = kms.get_public_key("ecc").unwrap().der;
        let doc = format!("keys:\n  - key_id: {}\n    alias: ecc\n", m.key_id);
        let e = kms.seed(&doc).unwrap_err();
        assert!(matches!(e, Error::Seed { line: 2, .. }), "{e:?}");
        assert!(
            e.to_string().ends_with(&format!(
                "key {} is asymmetric (ASYMMETRIC_SIGN_VERIFY_ECC): a seed document gives \
                 symmetric material only",
                m.key_id
            )),
            "{e}"
        );
        assert_eq!(kms.get_public_key("ecc").unwrap().der, public);
    }
}
