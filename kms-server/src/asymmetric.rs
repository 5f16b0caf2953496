//! The private keys of asymmetric CMKs: made here, kept as PKCS#8 (RFC 5958) DER, wrapped by the
//! root key like symmetric material ([`crate::root_key::RootKey::wrap_private_key`]).
//!
//! Which library runs each algorithm: aws-lc-rs (AWS-LC, FIPS-validated upstream) for RSA-2048 and
//! ECDSA on P-256 and P-384; RustCrypto's `sm2` for SM2 (aws-lc-rs has no SM2). The `rsa` crate is
//! not used: its PKCS#1 v1.5 decryption is open to the Marvin timing attack (RUSTSEC-2023-0071).
//!
//! Signing and verifying are here; decryption (RSAES and SM2 encryption) is in `decrypt`, and
//! sealing a plaintext under the caller's own public key (`EncryptionPublicKey`) in `seal`.
//!
//! A [`PrivateKey`] zeroizes its PKCS#8 bytes on drop and never prints them; aws-lc frees its
//! parsed key pairs with `OPENSSL_cleanse`, `sm2`'s `SecretKey` zeroizes on drop, and the SM2
//! signing and decrypting forms, which `sm2` does not clear, are overwritten by `sm2_pair`.

use std::fmt;

use aws_lc_rs::{
    digest::{self, Digest},
    encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der},
    rand::SystemRandom,
    rsa::{self, KeySize},
    signature::{
        self as aws_sig, ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING,
        EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair as _, UnparsedPublicKey,
    },
};
use sm2::{
    dsa::signature::hazmat::PrehashVerifier as _,
    dsa::signature::{Signer as _, Verifier as _, hazmat::PrehashSigner as _},
    elliptic_curve::Generate as _,
    pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _},
};

use crate::{
    error::{Error, Result},
    keys::KeySpec,
    secret::SecretBytes,
};

mod decrypt;
mod import;
mod seal;
mod sm2_pair;

pub use decrypt::{
    DecryptAlgorithm, MAX_SM2_CIPHERTEXT_BYTES, MIN_SM2_CIPHERTEXT_BYTES, RSA_2048_CIPHERTEXT_BYTES,
};
pub use import::PemPrivateKey;
pub use seal::{SealAlgorithm, SealingKey};

/// The SM2 distinguishing identifier every SM2DSA signature here is made with: the default of
/// GB/T 35276 (and Tencent KMS), `"1234567812345678"`, hashed into `Z` for RAW messages.
pub const SM2_DEFAULT_USER_ID: &str = "1234567812345678";
/// Most bytes of a RAW message to sign (Tencent's limit, before base64).
pub const MAX_SIGN_MESSAGE_BYTES: usize = 4096;

/// A signature algorithm, as Tencent names it (`Algorithm` of SignByAsymmetricKey).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignAlgorithm {
    /// `SM2DSA`: SM2 signatures with SM3 and the default user id, DER (GM/T 0009).
    Sm2Dsa,
    /// `ECC_P256_R1`: ECDSA on P-256 with SHA-256, DER.
    EccP256R1,
    /// `ECDSA384`: ECDSA on P-384 with SHA-384, DER.
    Ecdsa384,
    /// `RSA_PSS_SHA_256`: RSASSA-PSS with SHA-256, MGF1-SHA-256, salt of 32 bytes.
    RsaPssSha256,
    /// `RSA_PKCS1_SHA_256`: RSASSA-PKCS1-v1_5 with SHA-256.
    RsaPkcs1Sha256,
}

impl SignAlgorithm {
    /// Every algorithm.
    pub const ALL: [SignAlgorithm; 5] = [
        Self::Sm2Dsa,
        Self::EccP256R1,
        Self::Ecdsa384,
        Self::RsaPssSha256,
        Self::RsaPkcs1Sha256,
    ];

    /// Tencent's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sm2Dsa => "SM2DSA",
            Self::EccP256R1 => "ECC_P256_R1",
            Self::Ecdsa384 => "ECDSA384",
            Self::RsaPssSha256 => "RSA_PSS_SHA_256",
            Self::RsaPkcs1Sha256 => "RSA_PKCS1_SHA_256",
        }
    }

    /// The algorithm Tencent spells `text`, if any.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }

    /// The key pair the algorithm runs on.
    pub const fn key_spec(self) -> KeySpec {
        match self {
            Self::Sm2Dsa => KeySpec::Sm2,
            Self::EccP256R1 => KeySpec::EccP256,
            Self::Ecdsa384 => KeySpec::EccP384,
            Self::RsaPssSha256 | Self::RsaPkcs1Sha256 => KeySpec::Rsa2048,
        }
    }

    /// Bytes of the digest a DIGEST message must have (SHA-256, SHA-384, or for SM2DSA the SM3
    /// hash of `Z || M`).
    pub const fn digest_len(self) -> usize {
        match self {
            Self::Ecdsa384 => 48,
            Self::Sm2Dsa | Self::EccP256R1 | Self::RsaPssSha256 | Self::RsaPkcs1Sha256 => 32,
        }
    }

    fn digest_alg(self) -> &'static digest::Algorithm {
        match self {
            Self::Ecdsa384 => &digest::SHA384,
            _ => &digest::SHA256,
        }
    }
}

/// What a message to sign or verify is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    /// The message itself (at most [`MAX_SIGN_MESSAGE_BYTES`]); hashed here.
    Raw,
    /// Its digest, of [`SignAlgorithm::digest_len`] bytes.
    Digest,
}

/// An asymmetric CMK's key pair.
pub struct PrivateKey {
    spec: KeySpec,
    /// The PKCS#8 DER form: what is wrapped and stored.
    pkcs8: SecretBytes,
    pair: Pair,
    /// SubjectPublicKeyInfo DER (RFC 5280), what GetPublicKey returns.
    public_der: Vec<u8>,
}

/// The parsed key pair, in the library that runs its algorithm (with, for RSA and SM2, the
/// library's decrypting form of the same private key, and for SM2 its signing form, made once:
/// it derives the public point and the user-id hash Z, as much work as a signature).
enum Pair {
    Rsa(rsa::KeyPair, decrypt::RsaDecrypting),
    Ecdsa(EcdsaKeyPair),
    Sm2(sm2_pair::Sm2Pair),
}

fn ecdsa_alg(spec: KeySpec) -> Option<&'static EcdsaSigningAlgorithm> {
    match spec {
        KeySpec::EccP256 => Some(&ECDSA_P256_SHA256_ASN1_SIGNING),
        KeySpec::EccP384 => Some(&ECDSA_P384_SHA384_ASN1_SIGNING),
        KeySpec::Rsa2048 | KeySpec::Sm2 => None,
    }
}

/// A failure of a library that should not fail (generation, encoding): logged, not sent.
fn library(what: &str) -> Error {
    Error::Internal(format!("asymmetric key: {what} failed"))
}

impl PrivateKey {
    /// A fresh key pair of `spec` from the OS-seeded generator of its library.
    pub fn generate(spec: KeySpec) -> Result<Self> {
        let pkcs8 = match spec {
            KeySpec::Rsa2048 => {
                let pair = rsa::KeyPair::generate(KeySize::Rsa2048)
                    .map_err(|_| library("RSA generation"))?;
                let der: Pkcs8V1Der<'static> =
                    pair.as_der().map_err(|_| library("RSA PKCS#8 encoding"))?;
                SecretBytes::new(der.as_ref().to_vec())
            }
            KeySpec::EccP256 | KeySpec::EccP384 => {
                let alg = ecdsa_alg(spec).expect("an ECDSA spec has an algorithm");
                let pair = EcdsaKeyPair::generate(alg).map_err(|_| library("ECDSA generation"))?;
                let doc = pair
                    .to_pkcs8v1()
                    .map_err(|_| library("ECDSA PKCS#8 encoding"))?;
                SecretBytes::new(doc.as_ref().to_vec())
            }
            KeySpec::Sm2 => {
                let secret = sm2::SecretKey::generate();
                let doc = secret
                    .to_pkcs8_der()
                    .map_err(|_| library("SM2 PKCS#8 encoding"))?;
                SecretBytes::new(doc.as_bytes().to_vec())
            }
        };
        Self::from_pkcs8(spec, pkcs8)
    }

    /// A key pair of `spec` from its PKCS#8 DER. Anything else (another kind of key, an RSA key of
    /// another size, bytes that do not parse) is [`Error::InvalidArgument`].
    pub fn from_pkcs8(spec: KeySpec, pkcs8: SecretBytes) -> Result<Self> {
        let refused = || Error::invalid(format!("not a PKCS#8 private key of {spec:?}"));
        let der = pkcs8.expose();
        let (pair, public_der) = match spec {
            KeySpec::Rsa2048 => {
                let pair = rsa::KeyPair::from_pkcs8(der).map_err(|_| refused())?;
                if pair.public_modulus_len() * 8 != 2048 {
                    return Err(refused());
                }
                let public: PublicKeyX509Der<'static> = pair
                    .public_key()
                    .as_der()
                    .map_err(|_| library("RSA public key encoding"))?;
                let public = public.as_ref().to_vec();
                let decrypting = decrypt::RsaDecrypting::from_pkcs8(der).ok_or_else(refused)?;
                (Pair::Rsa(pair, decrypting), public)
            }
            KeySpec::EccP256 | KeySpec::EccP384 => {
                let alg = ecdsa_alg(spec).expect("an ECDSA spec has an algorithm");
                let pair = EcdsaKeyPair::from_pkcs8(alg, der).map_err(|_| refused())?;
                let public: PublicKeyX509Der<'static> = pair
                    .public_key()
                    .as_der()
                    .map_err(|_| library("ECDSA public key encoding"))?;
                let public = public.as_ref().to_vec();
                (Pair::Ecdsa(pair), public)
            }
            KeySpec::Sm2 => {
                let secret = sm2::SecretKey::from_pkcs8_der(der).map_err(|_| refused())?;
                let public = secret
                    .public_key()
                    .to_public_key_der()
                    .map_err(|_| library("SM2 public key encoding"))?
                    .into_vec();
                let pair =
                    sm2_pair::Sm2Pair::new(&secret).ok_or_else(|| library("SM2 signing key"))?;
                (Pair::Sm2(pair), public)
            }
        };
        Ok(Self {
            spec,
            pkcs8,
            pair,
            public_der,
        })
    }

    /// The kind of key pair.
    pub fn spec(&self) -> KeySpec {
        self.spec
    }

    /// The PKCS#8 DER, at the point of use (wrapping it for the store).
    pub(crate) fn pkcs8(&self) -> &SecretBytes {
        &self.pkcs8
    }

    /// The public key as SubjectPublicKeyInfo DER (RFC 5280).
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_der
    }

    /// Checks that `algorithm` runs on this key and that `message` is of its kind's size.
    fn check(&self, algorithm: SignAlgorithm, kind: MessageType, message: &[u8]) -> Result<()> {
        if algorithm.key_spec() != self.spec {
            return Err(Error::invalid(format!(
                "Algorithm {} does not run on a {:?} key",
                algorithm.as_str(),
                self.spec
            )));
        }
        match kind {
            MessageType::Raw if message.len() > MAX_SIGN_MESSAGE_BYTES => {
                Err(Error::invalid(format!(
                    "a RAW message must be at most {MAX_SIGN_MESSAGE_BYTES} bytes, got {}",
                    message.len()
                )))
            }
            MessageType::Digest if message.len() != algorithm.digest_len() => {
                Err(Error::invalid(format!(
                    "a DIGEST message for {} must be {} bytes, got {}",
                    algorithm.as_str(),
                    algorithm.digest_len(),
                    message.len()
                )))
            }
            MessageType::Raw | MessageType::Digest => Ok(()),
        }
    }

    /// Signs `message` (DER signatures for SM2DSA and ECDSA; the modulus' length for RSA).
    pub fn sign(
        &self,
        algorithm: SignAlgorithm,
        kind: MessageType,
        message: &[u8],
    ) -> Result<Vec<u8>> {
        self.check(algorithm, kind, message)?;
        let failed = || library("signing");
        let digest =
            || Digest::import_less_safe(message, algorithm.digest_alg()).map_err(|_| failed());
        match &self.pair {
            Pair::Rsa(pair, _) => {
                let padding: &'static dyn aws_sig::RsaEncoding = match algorithm {
                    SignAlgorithm::RsaPssSha256 => &aws_sig::RSA_PSS_SHA256,
                    _ => &aws_sig::RSA_PKCS1_SHA256,
                };
                let mut sig = vec![0; pair.public_modulus_len()];
                match kind {
                    MessageType::Raw => pair
                        .sign(padding, &SystemRandom::new(), message, &mut sig)
                        .map_err(|_| failed())?,
                    MessageType::Digest => pair
                        .sign_digest(padding, &digest()?, &mut sig)
                        .map_err(|_| failed())?,
                }
                Ok(sig)
            }
            Pair::Ecdsa(pair) => {
                let sig = match kind {
                    MessageType::Raw => pair.sign(&SystemRandom::new(), message),
                    MessageType::Digest => pair.sign_digest(&digest()?),
                }
                .map_err(|_| failed())?;
                Ok(sig.as_ref().to_vec())
            }
            Pair::Sm2(pair) => {
                let signer = pair.signing();
                let sig: sm2::dsa::Signature = match kind {
                    MessageType::Raw => signer.try_sign(message),
                    MessageType::Digest => signer.sign_prehash(message),
                }
                .map_err(|_| failed())?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
        }
    }

    /// Whether `signature` is this key's signature of `message`. A signature that does not parse
    /// is not valid (false), not an error; a wrong algorithm or message size is an error.
    pub fn verify(
        &self,
        algorithm: SignAlgorithm,
        kind: MessageType,
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool> {
        self.check(algorithm, kind, message)?;
        let digest = || Digest::import_less_safe(message, algorithm.digest_alg());
        let aws = |alg: &'static dyn aws_sig::VerificationAlgorithm, public: &[u8]| {
            let key = UnparsedPublicKey::new(alg, public);
            match kind {
                MessageType::Raw => key.verify(message, signature).is_ok(),
                MessageType::Digest => {
                    digest().is_ok_and(|d| key.verify_digest(&d, signature).is_ok())
                }
            }
        };
        Ok(match &self.pair {
            Pair::Rsa(pair, _) => {
                let alg: &'static dyn aws_sig::VerificationAlgorithm = match algorithm {
                    SignAlgorithm::RsaPssSha256 => &aws_sig::RSA_PSS_2048_8192_SHA256,
                    _ => &aws_sig::RSA_PKCS1_2048_8192_SHA256,
                };
                aws(alg, pair.public_key().as_ref())
            }
            Pair::Ecdsa(pair) => {
                let alg: &'static dyn aws_sig::VerificationAlgorithm = match self.spec {
                    KeySpec::EccP384 => &aws_sig::ECDSA_P384_SHA384_ASN1,
                    _ => &aws_sig::ECDSA_P256_SHA256_ASN1,
                };
                aws(alg, pair.public_key().as_ref())
            }
            Pair::Sm2(pair) => {
                let Ok(sig) = sm2::dsa::Signature::from_der(signature) else {
                    return Ok(false);
                };
                let verifier = pair.signing().verifying_key();
                match kind {
                    MessageType::Raw => verifier.verify(message, &sig).is_ok(),
                    MessageType::Digest => verifier.verify_prehash(message, &sig).is_ok(),
                }
            }
        })
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.pair {
            Pair::Rsa(..) => "aws-lc-rs RSA",
            Pair::Ecdsa(_) => "aws-lc-rs ECDSA",
            Pair::Sm2(..) => "RustCrypto sm2",
        };
        write!(f, "PrivateKey({:?}, {kind}, [REDACTED])", self.spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: [KeySpec; 4] = [
        KeySpec::Rsa2048,
        KeySpec::Sm2,
        KeySpec::EccP256,
        KeySpec::EccP384,
    ];

    #[test]
    fn generated_keys_reload_from_their_pkcs8_and_never_print() {
        for spec in SPECS {
            let key = PrivateKey::generate(spec).unwrap();
            assert_eq!(key.spec(), spec);
            let again =
                PrivateKey::from_pkcs8(spec, SecretBytes::new(key.pkcs8().expose().to_vec()))
                    .unwrap();
            assert_eq!(again.public_key_der(), key.public_key_der(), "{spec:?}");
            // Two generations differ.
            let other = PrivateKey::generate(spec).unwrap();
            assert_ne!(other.public_key_der(), key.public_key_der(), "{spec:?}");
            let printed = format!("{key:?}");
            assert!(printed.ends_with("[REDACTED])"), "{printed}");
            let hex_der = hex::encode(key.pkcs8().expose());
            assert!(!printed.contains(&hex_der[hex_der.len() - 16..]));
        }
    }

    #[test]
    fn public_keys_name_their_algorithm() {
        // OIDs inside the SubjectPublicKeyInfo: rsaEncryption, id-ecPublicKey with the curve.
        let cases: [(KeySpec, &[u8]); 4] = [
            (
                KeySpec::Rsa2048,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
            ),
            // 1.2.156.10197.1.301 (sm2p256v1)
            (
                KeySpec::Sm2,
                &[0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d],
            ),
            // 1.2.840.10045.3.1.7 (prime256v1)
            (
                KeySpec::EccP256,
                &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
            ),
            // 1.3.132.0.34 (secp384r1)
            (KeySpec::EccP384, &[0x2b, 0x81, 0x04, 0x00, 0x22]),
        ];
        for (spec, oid) in cases {
            let der = PrivateKey::generate(spec)
                .unwrap()
                .public_key_der()
                .to_vec();
            assert!(der.windows(oid.len()).any(|w| w == oid), "{spec:?}");
        }
    }

    #[test]
    fn a_pkcs8_of_another_kind_is_refused() {
        let ec = PrivateKey::generate(KeySpec::EccP256).unwrap();
        let sm2 = PrivateKey::generate(KeySpec::Sm2).unwrap();
        let cases = [
            (KeySpec::Rsa2048, ec.pkcs8().expose().to_vec()),
            (KeySpec::EccP384, ec.pkcs8().expose().to_vec()),
            (KeySpec::EccP256, sm2.pkcs8().expose().to_vec()),
            (KeySpec::Sm2, ec.pkcs8().expose().to_vec()),
            (KeySpec::Sm2, vec![0x30, 0x00]),
        ];
        for (spec, der) in cases {
            let e = PrivateKey::from_pkcs8(spec, SecretBytes::new(der)).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("not a PKCS#8 private key of {spec:?}")
            );
        }
    }

    /// The known answers of `tests/vectors/asymmetric.txt`, made by Python `cryptography` and
    /// `gmssl` (see `asymmetric.py` there).
    fn vector(name: &str) -> String {
        include_str!("../tests/vectors/asymmetric.txt")
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no vector {name}"))
            .to_owned()
    }

    fn b64(name: &str) -> Vec<u8> {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(vector(name))
            .unwrap()
    }

    fn unhex(name: &str) -> Vec<u8> {
        hex::decode(vector(name)).unwrap()
    }

    #[test]
    fn known_answers_from_independent_implementations() {
        let msg = unhex("message_hex");
        let raw = MessageType::Raw;
        // P-256: our public key is Python's; Python's signature verifies here.
        let p256 =
            PrivateKey::from_pkcs8(KeySpec::EccP256, SecretBytes::new(b64("p256_pkcs8"))).unwrap();
        assert_eq!(p256.public_key_der(), b64("p256_spki"));
        let theirs = unhex("p256_sig_by_python");
        assert!(
            p256.verify(SignAlgorithm::EccP256R1, raw, &msg, &theirs)
                .unwrap()
        );
        assert!(
            !p256
                .verify(SignAlgorithm::EccP256R1, raw, b"abd", &theirs)
                .unwrap()
        );
        // RSA-2048: PKCS#1 v1.5 is deterministic, so ours is byte for byte Python's; Python's
        // PSS signature verifies here.
        let rsa =
            PrivateKey::from_pkcs8(KeySpec::Rsa2048, SecretBytes::new(b64("rsa_pkcs8"))).unwrap();
        assert_eq!(rsa.public_key_der(), b64("rsa_spki"));
        let pkcs1 = unhex("rsa_pkcs1_sha256_by_python");
        assert_eq!(
            rsa.sign(SignAlgorithm::RsaPkcs1Sha256, raw, &msg).unwrap(),
            pkcs1
        );
        let pss = unhex("rsa_pss_sha256_by_python");
        assert!(
            rsa.verify(SignAlgorithm::RsaPssSha256, raw, &msg, &pss)
                .unwrap()
        );
        assert!(
            !rsa.verify(SignAlgorithm::RsaPkcs1Sha256, raw, &msg, &pss)
                .unwrap()
        );
        // SM2: the key from its scalar; our public key ends with gmssl's point, and gmssl's
        // signature (with Z of the default user id) verifies here.
        let scalar = unhex("sm2_private_scalar");
        let secret = sm2::SecretKey::from_slice(&scalar).unwrap();
        let pkcs8 = SecretBytes::new(secret.to_pkcs8_der().unwrap().as_bytes().to_vec());
        let sm2 = PrivateKey::from_pkcs8(KeySpec::Sm2, pkcs8).unwrap();
        assert!(sm2.public_key_der().ends_with(&unhex("sm2_public_point")));
        let theirs = unhex("sm2_sig_by_gmssl_der");
        assert!(
            sm2.verify(SignAlgorithm::Sm2Dsa, raw, &msg, &theirs)
                .unwrap()
        );
        assert!(
            !sm2.verify(SignAlgorithm::Sm2Dsa, raw, b"abd", &theirs)
                .unwrap()
        );
        // SM2DSA here is deterministic (RFC 6979 nonces): signing twice gives one answer.
        let ours = sm2.sign(SignAlgorithm::Sm2Dsa, raw, &msg).unwrap();
        assert_eq!(sm2.sign(SignAlgorithm::Sm2Dsa, raw, &msg).unwrap(), ours);
        assert!(sm2.verify(SignAlgorithm::Sm2Dsa, raw, &msg, &ours).unwrap());
    }
}
