//! What a key is for: [`KeyUsage`], with Tencent's spellings, and the key pair each asymmetric usage
//! holds ([`KeySpec`]). The usage is fixed at creation and decides which calls a key serves: a
//! symmetric key encrypts and rotates, an asymmetric one signs or decrypts under its one key pair.

use std::fmt;

/// A key's usage, as Tencent KMS names it (`KeyUsage` of CreateKey and DescribeKey).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyUsage {
    /// `ENCRYPT_DECRYPT`: a symmetric key (AES-256-GCM versions), the default.
    EncryptDecrypt,
    /// `ASYMMETRIC_DECRYPT_RSA_2048`: an RSA-2048 key pair for decryption.
    AsymmetricDecryptRsa2048,
    /// `ASYMMETRIC_DECRYPT_SM2`: an SM2 key pair for decryption.
    AsymmetricDecryptSm2,
    /// `ASYMMETRIC_SIGN_VERIFY_SM2`: an SM2 key pair for SM2DSA signatures.
    AsymmetricSignVerifySm2,
    /// `ASYMMETRIC_SIGN_VERIFY_ECC`: a NIST P-256 key pair for ECDSA signatures.
    AsymmetricSignVerifyEcc,
    /// `ASYMMETRIC_SIGN_VERIFY_ECDSA384`: a NIST P-384 key pair for ECDSA signatures.
    AsymmetricSignVerifyEcdsa384,
    /// `ASYMMETRIC_SIGN_VERIFY_RSA_2048`: an RSA-2048 key pair for signatures.
    AsymmetricSignVerifyRsa2048,
}

/// The kind of key pair an asymmetric key holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeySpec {
    /// RSA with a 2048-bit modulus.
    Rsa2048,
    /// SM2 (GB/T 32918) on its recommended curve.
    Sm2,
    /// ECDSA on NIST P-256 (secp256r1).
    EccP256,
    /// ECDSA on NIST P-384 (secp384r1).
    EccP384,
}

impl KeyUsage {
    /// Every usage, the symmetric one first.
    pub const ALL: [KeyUsage; 7] = [
        Self::EncryptDecrypt,
        Self::AsymmetricDecryptRsa2048,
        Self::AsymmetricDecryptSm2,
        Self::AsymmetricSignVerifySm2,
        Self::AsymmetricSignVerifyEcc,
        Self::AsymmetricSignVerifyEcdsa384,
        Self::AsymmetricSignVerifyRsa2048,
    ];

    /// The usage of a key created without one.
    pub const DEFAULT: KeyUsage = Self::EncryptDecrypt;

    /// Tencent's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EncryptDecrypt => "ENCRYPT_DECRYPT",
            Self::AsymmetricDecryptRsa2048 => "ASYMMETRIC_DECRYPT_RSA_2048",
            Self::AsymmetricDecryptSm2 => "ASYMMETRIC_DECRYPT_SM2",
            Self::AsymmetricSignVerifySm2 => "ASYMMETRIC_SIGN_VERIFY_SM2",
            Self::AsymmetricSignVerifyEcc => "ASYMMETRIC_SIGN_VERIFY_ECC",
            Self::AsymmetricSignVerifyEcdsa384 => "ASYMMETRIC_SIGN_VERIFY_ECDSA384",
            Self::AsymmetricSignVerifyRsa2048 => "ASYMMETRIC_SIGN_VERIFY_RSA_2048",
        }
    }

    /// The usage Tencent spells `text` (exact spelling), if any.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|u| u.as_str() == text)
    }

    /// The key pair of an asymmetric usage; `None` for the symmetric one.
    pub const fn key_spec(self) -> Option<KeySpec> {
        match self {
            Self::EncryptDecrypt => None,
            Self::AsymmetricDecryptRsa2048 | Self::AsymmetricSignVerifyRsa2048 => {
                Some(KeySpec::Rsa2048)
            }
            Self::AsymmetricDecryptSm2 | Self::AsymmetricSignVerifySm2 => Some(KeySpec::Sm2),
            Self::AsymmetricSignVerifyEcc => Some(KeySpec::EccP256),
            Self::AsymmetricSignVerifyEcdsa384 => Some(KeySpec::EccP384),
        }
    }

    /// Whether the key is symmetric (encrypts, decrypts its blobs, makes data keys, rotates).
    pub const fn is_symmetric(self) -> bool {
        self.key_spec().is_none()
    }

    /// Whether the key signs and verifies.
    pub const fn signs(self) -> bool {
        matches!(
            self,
            Self::AsymmetricSignVerifySm2
                | Self::AsymmetricSignVerifyEcc
                | Self::AsymmetricSignVerifyEcdsa384
                | Self::AsymmetricSignVerifyRsa2048
        )
    }

    /// Whether the key decrypts what was encrypted under its public key.
    pub const fn decrypts(self) -> bool {
        matches!(
            self,
            Self::AsymmetricDecryptRsa2048 | Self::AsymmetricDecryptSm2
        )
    }
}

impl fmt::Display for KeyUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spellings are Tencent's (tencentcloud-sdk kms models): frozen here.
    #[test]
    fn spellings_are_frozen_and_read_back() {
        let spelled: Vec<&str> = KeyUsage::ALL.iter().map(|u| u.as_str()).collect();
        assert_eq!(
            spelled,
            [
                "ENCRYPT_DECRYPT",
                "ASYMMETRIC_DECRYPT_RSA_2048",
                "ASYMMETRIC_DECRYPT_SM2",
                "ASYMMETRIC_SIGN_VERIFY_SM2",
                "ASYMMETRIC_SIGN_VERIFY_ECC",
                "ASYMMETRIC_SIGN_VERIFY_ECDSA384",
                "ASYMMETRIC_SIGN_VERIFY_RSA_2048",
            ]
        );
        for u in KeyUsage::ALL {
            assert_eq!(KeyUsage::parse(u.as_str()), Some(u));
            assert_eq!(u.to_string(), u.as_str());
            // Every usage does exactly one thing.
            let roles = [u.is_symmetric(), u.signs(), u.decrypts()];
            assert_eq!(roles.iter().filter(|r| **r).count(), 1, "{u}");
        }
        for bad in [
            "",
            "encrypt_decrypt",
            "ASYMMETRIC_SIGN_VERIFY_RSA_3072",
            "SIGN_VERIFY",
        ] {
            assert_eq!(KeyUsage::parse(bad), None, "{bad}");
        }
        assert_eq!(KeyUsage::DEFAULT, KeyUsage::EncryptDecrypt);
        assert_eq!(
            KeyUsage::AsymmetricSignVerifyEcdsa384.key_spec(),
            Some(KeySpec::EccP384)
        );
    }
}
