//! The calls of asymmetric keys (GetPublicKey, Sign, Verify, AsymmetricDecrypt), typed: algorithms and message kinds
//! are enums here, so a caller cannot misspell them; the wire carries Tencent's spellings.

use std::str::FromStr;

use kms_proto::pb;

use crate::builder::Retry;
use crate::client::KmsClient;
use crate::error::{Error, Result};
use crate::secret::SecretBytes;
use crate::types::by_name;

/// A signature algorithm, by Tencent's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignAlgorithm {
    /// `SM2DSA` (ASYMMETRIC_SIGN_VERIFY_SM2 keys): SM3 with the default user id, DER signatures.
    Sm2Dsa,
    /// `ECC_P256_R1` (ASYMMETRIC_SIGN_VERIFY_ECC keys): ECDSA P-256/SHA-256, DER signatures.
    EccP256R1,
    /// `ECDSA384` (ASYMMETRIC_SIGN_VERIFY_ECDSA384 keys): ECDSA P-384/SHA-384, DER signatures.
    Ecdsa384,
    /// `RSA_PSS_SHA_256` (ASYMMETRIC_SIGN_VERIFY_RSA_2048 keys).
    RsaPssSha256,
    /// `RSA_PKCS1_SHA_256` (ASYMMETRIC_SIGN_VERIFY_RSA_2048 keys).
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

    /// Tencent's spelling, as sent.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sm2Dsa => "SM2DSA",
            Self::EccP256R1 => "ECC_P256_R1",
            Self::Ecdsa384 => "ECDSA384",
            Self::RsaPssSha256 => "RSA_PSS_SHA_256",
            Self::RsaPkcs1Sha256 => "RSA_PKCS1_SHA_256",
        }
    }
}

/// An asymmetric decryption algorithm, by Tencent's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecryptAlgorithm {
    /// `RSAES_PKCS1_V1_5` (ASYMMETRIC_DECRYPT_RSA_2048 keys).
    RsaesPkcs1V15,
    /// `RSAES_OAEP_SHA_1` (ASYMMETRIC_DECRYPT_RSA_2048 keys): MGF1-SHA-1, empty label.
    RsaesOaepSha1,
    /// `RSAES_OAEP_SHA_256` (ASYMMETRIC_DECRYPT_RSA_2048 keys): MGF1-SHA-256, empty label.
    RsaesOaepSha256,
    /// `SM2` (ASYMMETRIC_DECRYPT_SM2 keys): SM3, C1C3C2, ASN.1 or concatenated.
    Sm2,
}

impl DecryptAlgorithm {
    /// Every algorithm.
    pub const ALL: [DecryptAlgorithm; 4] = [
        Self::RsaesPkcs1V15,
        Self::RsaesOaepSha1,
        Self::RsaesOaepSha256,
        Self::Sm2,
    ];

    /// Tencent's spelling, as sent.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RsaesPkcs1V15 => "RSAES_PKCS1_V1_5",
            Self::RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
            Self::RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
            Self::Sm2 => "SM2",
        }
    }
}

impl FromStr for SignAlgorithm {
    type Err = Error;

    /// Tencent's spelling (`SM2DSA`, `ECC_P256_R1`, ...).
    fn from_str(s: &str) -> Result<Self> {
        by_name(s, &Self::ALL, Self::as_str, "signature algorithm")
    }
}

impl FromStr for DecryptAlgorithm {
    type Err = Error;

    /// Tencent's spelling (`RSAES_PKCS1_V1_5`, `RSAES_OAEP_SHA_1`, `RSAES_OAEP_SHA_256`, `SM2`).
    fn from_str(s: &str) -> Result<Self> {
        by_name(s, &Self::ALL, Self::as_str, "decryption algorithm")
    }
}

/// A plaintext opened by an asymmetric key.
#[derive(Debug)]
#[non_exhaustive]
pub struct AsymmetricDecrypted {
    /// The key.
    pub key_id: String,
    /// The plaintext.
    pub plaintext: SecretBytes,
}

/// What a message to sign or verify is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MessageType {
    /// The message itself (at most 4096 bytes): the server hashes it.
    #[default]
    Raw,
    /// Its digest (32 bytes; 48 for ECDSA384).
    Digest,
}

impl MessageType {
    fn to_pb(self) -> i32 {
        match self {
            Self::Raw => pb::MessageType::Raw as i32,
            Self::Digest => pb::MessageType::Digest as i32,
        }
    }
}

/// An asymmetric key's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PublicKey {
    /// The key.
    pub key_id: String,
    /// Its usage (e.g. `ASYMMETRIC_SIGN_VERIFY_SM2`).
    pub key_usage: String,
    /// SubjectPublicKeyInfo, DER.
    pub der: Vec<u8>,
    /// The same, PEM.
    pub pem: String,
}

/// A signature and the key that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Signature {
    /// The key.
    pub key_id: String,
    /// The signature (DER for SM2DSA and ECDSA).
    pub signature: Vec<u8>,
}

impl KmsClient {
    /// `GetPublicKey`: the public key of an Enabled asymmetric key. Retried on `UNAVAILABLE`.
    pub async fn get_public_key(&self, key_id: &str) -> Result<PublicKey> {
        let req = pb::GetPublicKeyRequest {
            key_id: key_id.to_owned(),
        };
        let r = self
            .call(Retry::Safe, "GetPublicKey", req, |mut c, r| async move {
                c.get_public_key(r).await
            })
            .await?;
        Ok(PublicKey {
            key_id: r.key_id,
            key_usage: r.key_usage,
            der: r.public_key,
            pem: r.public_key_pem,
        })
    }

    /// `Sign`: signs `message` with a signing key. Retried on `UNAVAILABLE`.
    pub async fn sign(
        &self,
        key_id: &str,
        algorithm: SignAlgorithm,
        message_type: MessageType,
        message: &[u8],
    ) -> Result<Signature> {
        let req = pb::SignRequest {
            key_id: key_id.to_owned(),
            algorithm: algorithm.as_str().to_owned(),
            message: message.to_vec(),
            message_type: message_type.to_pb(),
        };
        let r = self
            .call(Retry::Safe, "Sign", req, |mut c, r| async move {
                c.sign(r).await
            })
            .await?;
        Ok(Signature {
            key_id: r.key_id,
            signature: r.signature,
        })
    }

    /// `Verify`: whether `signature` is the key's signature of `message` (a signature that does
    /// not verify is `Ok(false)`). Retried on `UNAVAILABLE`.
    pub async fn verify(
        &self,
        key_id: &str,
        algorithm: SignAlgorithm,
        message_type: MessageType,
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool> {
        let req = pb::VerifyRequest {
            key_id: key_id.to_owned(),
            algorithm: algorithm.as_str().to_owned(),
            message: message.to_vec(),
            message_type: message_type.to_pb(),
            signature: signature.to_vec(),
        };
        let r = self
            .call(Retry::Safe, "Verify", req, |mut c, r| async move {
                c.verify(r).await
            })
            .await?;
        Ok(r.signature_valid)
    }

    /// `AsymmetricDecrypt` (Tencent: AsymmetricRsaDecrypt, AsymmetricSm2Decrypt): opens with a
    /// decryption key what was encrypted under its public key. A ciphertext that does not open is
    /// the opaque invalid-ciphertext error. Retried on `UNAVAILABLE`.
    pub async fn asymmetric_decrypt(
        &self,
        key_id: &str,
        algorithm: DecryptAlgorithm,
        ciphertext: &[u8],
    ) -> Result<AsymmetricDecrypted> {
        let req = pb::AsymmetricDecryptRequest {
            key_id: key_id.to_owned(),
            algorithm: algorithm.as_str().to_owned(),
            ciphertext: ciphertext.to_vec(),
        };
        let r = self
            .call(
                Retry::Safe,
                "AsymmetricDecrypt",
                req,
                |mut c, r| async move { c.asymmetric_decrypt(r).await },
            )
            .await?;
        Ok(AsymmetricDecrypted {
            key_id: r.key_id,
            plaintext: SecretBytes::new(r.plaintext),
        })
    }
}
