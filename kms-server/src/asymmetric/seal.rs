//! Sealing a plaintext under the caller's own public key: what GenerateDataKey and Decrypt do with
//! Tencent's `EncryptionPublicKey` and `EncryptionAlgorithm`, so a data key or a plaintext crosses
//! the wire only encrypted to whoever holds the matching private key (a browser, an enclave).
//!
//! The key is the PEM of a SubjectPublicKeyInfo (RSA-2048 to RSA-4096, or SM2), as Tencent takes
//! it. RSA runs on aws-lc-rs; SM2 on RustCrypto `sm2` with SM3: `SM2` gives C1 || C3 || C2 with
//! C1's `04` prefix (GB/T 32918.4), `SM2_C1C3C2_ASN1` the ASN.1 form (GM/T 0009); both are what
//! AsymmetricSm2Decrypt opens.

use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, Pkcs1PublicEncryptingKey,
    PublicEncryptingKey,
};
use sm2::{
    elliptic_curve::common::getrandom::SysRng,
    pkcs8::DecodePublicKey as _,
    pke::{EncryptingKey, Mode},
};

use crate::error::{Error, Result};

/// How a plaintext is sealed under the caller's key (`EncryptionAlgorithm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SealAlgorithm {
    /// `SM2` (Tencent's default): C1 || C3 || C2, C1 with its `04` prefix.
    #[default]
    Sm2,
    /// `SM2_C1C3C2_ASN1`: the ASN.1 form.
    Sm2Asn1,
    /// `RSAES_PKCS1_V1_5`.
    RsaesPkcs1V15,
    /// `RSAES_OAEP_SHA_1`: MGF1-SHA-1, empty label.
    RsaesOaepSha1,
    /// `RSAES_OAEP_SHA_256`: MGF1-SHA-256, empty label.
    RsaesOaepSha256,
}

impl SealAlgorithm {
    /// Every algorithm.
    pub const ALL: [SealAlgorithm; 5] = [
        Self::Sm2,
        Self::Sm2Asn1,
        Self::RsaesPkcs1V15,
        Self::RsaesOaepSha1,
        Self::RsaesOaepSha256,
    ];

    /// Tencent's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sm2 => "SM2",
            Self::Sm2Asn1 => "SM2_C1C3C2_ASN1",
            Self::RsaesPkcs1V15 => "RSAES_PKCS1_V1_5",
            Self::RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
            Self::RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
        }
    }

    /// `EncryptionAlgorithm` as given: empty is `SM2`; an unknown name is refused with the list.
    pub fn parse(text: &str) -> Result<Self> {
        if text.is_empty() {
            return Ok(Self::default());
        }
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == text)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|a| a.as_str()).collect();
                Error::invalid(format!(
                    "EncryptionAlgorithm must be one of {known:?}, got {text:?}"
                ))
            })
    }

    const fn is_sm2(self) -> bool {
        matches!(self, Self::Sm2 | Self::Sm2Asn1)
    }
}

/// The caller's public key, parsed once (before any key is used, so a bad one costs nothing).
pub enum SealingKey {
    /// An RSA key.
    Rsa(PublicEncryptingKey, SealAlgorithm),
    /// An SM2 key.
    Sm2(EncryptingKey, SealAlgorithm),
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, algorithm) = match self {
            Self::Rsa(_, a) => ("RSA", a),
            Self::Sm2(_, a) => ("SM2", a),
        };
        write!(f, "SealingKey({kind}, {})", algorithm.as_str())
    }
}

impl SealingKey {
    /// `EncryptionPublicKey` (PEM, `-----BEGIN PUBLIC KEY-----`) for `algorithm`. A key that does
    /// not parse, or of the other kind than the algorithm's, is [`Error::InvalidArgument`].
    pub fn parse(pem_text: &str, algorithm: SealAlgorithm) -> Result<Self> {
        let refused = || {
            Error::invalid(format!(
                "EncryptionPublicKey must be the PEM of {} public key for {}",
                if algorithm.is_sm2() {
                    "an SM2"
                } else {
                    "an RSA"
                },
                algorithm.as_str()
            ))
        };
        let pem = pem::parse(pem_text.trim()).map_err(|_| refused())?;
        if pem.tag() != "PUBLIC KEY" {
            return Err(refused());
        }
        let der = pem.contents();
        if algorithm.is_sm2() {
            let public = sm2::PublicKey::from_public_key_der(der).map_err(|_| refused())?;
            Ok(Self::Sm2(
                EncryptingKey::new_with_mode(public, Mode::C1C3C2),
                algorithm,
            ))
        } else {
            let public = PublicEncryptingKey::from_der(der).map_err(|_| refused())?;
            Ok(Self::Rsa(public, algorithm))
        }
    }

    /// `plaintext` sealed under the key. A plaintext too long for an RSA key (the padding's limit)
    /// is [`Error::InvalidArgument`].
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let failed = || Error::Internal("sealing under the caller's public key failed".into());
        match self {
            Self::Sm2(key, SealAlgorithm::Sm2Asn1) => key
                .encrypt_der(&mut SysRng, plaintext)
                .map_err(|_| failed()),
            Self::Sm2(key, _) => key.encrypt(&mut SysRng, plaintext).map_err(|_| failed()),
            Self::Rsa(key, algorithm) => {
                let too_long = |max: usize| {
                    Error::invalid(format!(
                        "{} under this {}-bit key seals at most {max} bytes, got {}",
                        algorithm.as_str(),
                        key.key_size_bits(),
                        plaintext.len()
                    ))
                };
                let mut out = vec![0; key.key_size_bytes()];
                let n = match algorithm {
                    SealAlgorithm::RsaesPkcs1V15 => {
                        let k = Pkcs1PublicEncryptingKey::new(key.clone()).map_err(|_| failed())?;
                        if plaintext.len() > k.max_plaintext_size() {
                            return Err(too_long(k.max_plaintext_size()));
                        }
                        k.encrypt(plaintext, &mut out).map_err(|_| failed())?.len()
                    }
                    _ => {
                        let alg = if *algorithm == SealAlgorithm::RsaesOaepSha1 {
                            &OAEP_SHA1_MGF1SHA1
                        } else {
                            &OAEP_SHA256_MGF1SHA256
                        };
                        let k = OaepPublicEncryptingKey::new(key.clone()).map_err(|_| failed())?;
                        if plaintext.len() > k.max_plaintext_size(alg) {
                            return Err(too_long(k.max_plaintext_size(alg)));
                        }
                        k.encrypt(alg, plaintext, &mut out, None)
                            .map_err(|_| failed())?
                            .len()
                    }
                };
                out.truncate(n);
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        asymmetric::{DecryptAlgorithm, PrivateKey},
        keys::KeySpec,
    };

    fn pem_of(key: &PrivateKey) -> String {
        pem::encode(&pem::Pem::new("PUBLIC KEY", key.public_key_der()))
    }

    #[test]
    fn what_is_sealed_under_a_kms_public_key_opens_with_its_private_key() {
        let rsa = PrivateKey::generate(KeySpec::Rsa2048).unwrap();
        let sm2 = PrivateKey::generate(KeySpec::Sm2).unwrap();
        let data_key = [9u8; 32];
        for (alg, key, opens_with) in [
            (SealAlgorithm::Sm2, &sm2, DecryptAlgorithm::Sm2),
            (SealAlgorithm::Sm2Asn1, &sm2, DecryptAlgorithm::Sm2),
            (
                SealAlgorithm::RsaesPkcs1V15,
                &rsa,
                DecryptAlgorithm::RsaesPkcs1V15,
            ),
            (
                SealAlgorithm::RsaesOaepSha1,
                &rsa,
                DecryptAlgorithm::RsaesOaepSha1,
            ),
            (
                SealAlgorithm::RsaesOaepSha256,
                &rsa,
                DecryptAlgorithm::RsaesOaepSha256,
            ),
        ] {
            let sealed = SealingKey::parse(&pem_of(key), alg)
                .unwrap()
                .seal(&data_key)
                .unwrap();
            assert_ne!(&sealed[..], &data_key[..]);
            let opened = key.decrypt(opens_with, &sealed).unwrap();
            assert_eq!(opened.expose(), &data_key[..], "{alg:?}");
        }
        let sealed = SealingKey::parse(&pem_of(&sm2), SealAlgorithm::Sm2)
            .unwrap()
            .seal(b"x")
            .unwrap();
        assert_eq!(sealed[0], 0x04, "C1 keeps its prefix");
        assert_eq!(sealed.len(), 65 + 32 + 1);
    }

    #[test]
    fn bad_keys_algorithms_and_lengths_are_refused_with_exact_messages() {
        let rsa = PrivateKey::generate(KeySpec::Rsa2048).unwrap();
        let sm2 = PrivateKey::generate(KeySpec::Sm2).unwrap();
        assert_eq!(SealAlgorithm::parse("").unwrap(), SealAlgorithm::Sm2);
        assert_eq!(
            SealAlgorithm::parse("RSAES_OAEP_SHA_1").unwrap(),
            SealAlgorithm::RsaesOaepSha1
        );
        assert_eq!(
            SealAlgorithm::parse("RSA").unwrap_err().to_string(),
            "EncryptionAlgorithm must be one of [\"SM2\", \"SM2_C1C3C2_ASN1\", \
             \"RSAES_PKCS1_V1_5\", \"RSAES_OAEP_SHA_1\", \"RSAES_OAEP_SHA_256\"], got \"RSA\""
        );
        let refusals = [
            (pem_of(&rsa), SealAlgorithm::Sm2, "an SM2", "SM2"),
            (
                pem_of(&sm2),
                SealAlgorithm::RsaesOaepSha256,
                "an RSA",
                "RSAES_OAEP_SHA_256",
            ),
            (
                "not a pem".to_owned(),
                SealAlgorithm::Sm2Asn1,
                "an SM2",
                "SM2_C1C3C2_ASN1",
            ),
            (
                pem::encode(&pem::Pem::new("PRIVATE KEY", rsa.public_key_der())),
                SealAlgorithm::RsaesPkcs1V15,
                "an RSA",
                "RSAES_PKCS1_V1_5",
            ),
        ];
        for (pem_text, alg, kind, name) in refusals {
            let e = SealingKey::parse(&pem_text, alg).err().unwrap();
            assert_eq!(
                e.to_string(),
                format!("EncryptionPublicKey must be the PEM of {kind} public key for {name}")
            );
        }
        let key = SealingKey::parse(&pem_of(&rsa), SealAlgorithm::RsaesOaepSha256).unwrap();
        assert_eq!(
            key.seal(&[0; 191]).unwrap_err().to_string(),
            "RSAES_OAEP_SHA_256 under this 2048-bit key seals at most 190 bytes, got 191"
        );
        assert_eq!(key.seal(&[0; 190]).unwrap().len(), 256);
    }
}
