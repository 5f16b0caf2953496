//! Decryption under an ASYMMETRIC_DECRYPT_* key: what AsymmetricRsaDecrypt and AsymmetricSm2Decrypt
//! run. A browser or a partner encrypts under the key's public key (from GetPublicKey); only the
//! private key, which never leaves the KMS, opens it.
//!
//! RSA runs on aws-lc-rs (RSAES-PKCS1-v1_5 and RSAES-OAEP with SHA-1 or SHA-256 and MGF1 of the
//! same hash, RFC 8017), never on the `rsa` crate (Marvin, RUSTSEC-2023-0071). SM2 (GB/T 32918.4)
//! runs on RustCrypto `sm2`, with SM3 and the C1C3C2 order; Tencent documents its ciphertext as
//! the ASN.1 form (`SM2_C1C3C2_ASN1`, GM/T 0009), and `gmssl` and other libraries give the bare
//! concatenation with or without the `04` point prefix, so all three are accepted.
//!
//! Only a ciphertext's length is checked in the open (it is public: the RSA modulus' length, at
//! most 256 bytes for SM2). Every later failure (padding, OAEP label hash, a point off the curve,
//! C3) is the one [`Error::InvalidCiphertext`], so the answer is no padding oracle in words; the
//! plaintext is held in zeroizing buffers from the moment the library writes it.

use aws_lc_rs::rsa::{OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256};
use sm2::{
    pkcs8::der::Decode as _,
    pke::{Cipher, DecryptingKey, Mode},
};
use zeroize::Zeroizing;

use super::{Pair, PrivateKey};
use crate::{
    error::{Error, Result},
    keys::KeySpec,
    secret::SecretBytes,
};

/// Bytes of an RSA-2048 ciphertext: the modulus' length.
pub const RSA_2048_CIPHERTEXT_BYTES: usize = 256;
/// Most bytes of an SM2 ciphertext (Tencent's limit, before base64).
pub const MAX_SM2_CIPHERTEXT_BYTES: usize = 256;
/// Fewest bytes of an SM2 ciphertext: C1 without its prefix (64), C3 (32) and one byte of C2.
pub const MIN_SM2_CIPHERTEXT_BYTES: usize = 64 + 32 + 1;
/// The SEC1 tag of an uncompressed point, which `gmssl` leaves off C1.
const UNCOMPRESSED_POINT: u8 = 0x04;

/// An asymmetric decryption algorithm, as Tencent names it (`Algorithm` of AsymmetricRsaDecrypt;
/// `SM2` is what AsymmetricSm2Decrypt runs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecryptAlgorithm {
    /// `RSAES_PKCS1_V1_5`.
    RsaesPkcs1V15,
    /// `RSAES_OAEP_SHA_1`: OAEP with SHA-1 and MGF1-SHA-1, empty label.
    RsaesOaepSha1,
    /// `RSAES_OAEP_SHA_256`: OAEP with SHA-256 and MGF1-SHA-256, empty label.
    RsaesOaepSha256,
    /// `SM2`: SM2 encryption with SM3, C1C3C2 (ASN.1 or concatenated).
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

    /// The algorithms of RSA keys, those AsymmetricRsaDecrypt takes.
    pub const RSA: [DecryptAlgorithm; 3] = [
        Self::RsaesPkcs1V15,
        Self::RsaesOaepSha1,
        Self::RsaesOaepSha256,
    ];

    /// Tencent's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RsaesPkcs1V15 => "RSAES_PKCS1_V1_5",
            Self::RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
            Self::RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
            Self::Sm2 => "SM2",
        }
    }

    /// The algorithm Tencent spells `text`, if any.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }

    /// The key pair the algorithm runs on.
    pub const fn key_spec(self) -> KeySpec {
        match self {
            Self::Sm2 => KeySpec::Sm2,
            Self::RsaesPkcs1V15 | Self::RsaesOaepSha1 | Self::RsaesOaepSha256 => KeySpec::Rsa2048,
        }
    }

    /// The Tencent action that runs it, as a refusal names it.
    pub const fn action(self) -> &'static str {
        match self {
            Self::Sm2 => "AsymmetricSm2Decrypt",
            Self::RsaesPkcs1V15 | Self::RsaesOaepSha1 | Self::RsaesOaepSha256 => {
                "AsymmetricRsaDecrypt"
            }
        }
    }
}

/// The RSA private key, ready for both paddings (parsed once, when the key is loaded).
pub(super) struct RsaDecrypting {
    pkcs1: aws_lc_rs::rsa::Pkcs1PrivateDecryptingKey,
    oaep: aws_lc_rs::rsa::OaepPrivateDecryptingKey,
}

impl RsaDecrypting {
    /// From the key pair's PKCS#8 DER (already accepted as an RSA-2048 key).
    pub(super) fn from_pkcs8(der: &[u8]) -> Option<Self> {
        use aws_lc_rs::rsa::{
            OaepPrivateDecryptingKey, Pkcs1PrivateDecryptingKey, PrivateDecryptingKey,
        };
        let key = PrivateDecryptingKey::from_pkcs8(der).ok()?;
        Some(Self {
            pkcs1: Pkcs1PrivateDecryptingKey::new(key.clone()).ok()?,
            oaep: OaepPrivateDecryptingKey::new(key).ok()?,
        })
    }

    fn decrypt(&self, algorithm: DecryptAlgorithm, ciphertext: &[u8]) -> Result<SecretBytes> {
        let mut out = Zeroizing::new(vec![0u8; self.pkcs1.min_output_size()]);
        let plain = match algorithm {
            DecryptAlgorithm::RsaesPkcs1V15 => self.pkcs1.decrypt(ciphertext, &mut out),
            DecryptAlgorithm::RsaesOaepSha1 => {
                self.oaep
                    .decrypt(&OAEP_SHA1_MGF1SHA1, ciphertext, &mut out, None)
            }
            DecryptAlgorithm::RsaesOaepSha256 => {
                self.oaep
                    .decrypt(&OAEP_SHA256_MGF1SHA256, ciphertext, &mut out, None)
            }
            DecryptAlgorithm::Sm2 => return Err(Error::InvalidCiphertext),
        }
        .map_err(|_| Error::InvalidCiphertext)?;
        Ok(SecretBytes::new(plain.to_vec()))
    }
}

/// The SM2 decrypting key (built once, when the key is loaded: it holds a copy of the scalar,
/// which `sm2` does not zeroize on drop, so there is one per key pair rather than one per call,
/// and `sm2_pair` wipes it).
pub(super) fn sm2_decrypting(secret: &sm2::SecretKey) -> DecryptingKey {
    DecryptingKey::new_with_mode(secret.to_nonzero_scalar(), Mode::C1C3C2)
}

/// An SM2 ciphertext with SM3 as its hash.
type Sm2Cipher<'a> = Cipher<'a, sm2::Sm2, sm3::Sm3>;

/// The readings of an SM2 ciphertext: ASN.1 (GM/T 0009), C1C3C2 as given, C1C3C2 with the `04`
/// prefix restored. Parsing looks only at public structure; C3 decides which reading is right.
fn sm2_readings(ciphertext: &[u8]) -> Vec<Sm2Cipher<'static>> {
    let mut prefixed = Vec::with_capacity(ciphertext.len() + 1);
    prefixed.push(UNCOMPRESSED_POINT);
    prefixed.extend_from_slice(ciphertext);
    [
        Sm2Cipher::from_der(ciphertext).ok(),
        Sm2Cipher::from_slice(ciphertext, Mode::C1C3C2).ok(),
        Sm2Cipher::from_slice(&prefixed, Mode::C1C3C2).ok(),
    ]
    .into_iter()
    .flatten()
    .map(Sm2Cipher::cats_to_static)
    .collect()
}

fn sm2_decrypt(key: &DecryptingKey, ciphertext: &[u8]) -> Result<SecretBytes> {
    for cipher in sm2_readings(ciphertext) {
        let mut out = Zeroizing::new(vec![0u8; cipher.c2().len()]);
        if let Ok(n) = key.decrypt_cipher_with_buf(&cipher, &mut out) {
            return Ok(SecretBytes::new(out[..n].to_vec()));
        }
    }
    Err(Error::InvalidCiphertext)
}

impl PrivateKey {
    /// Decrypts `ciphertext`, encrypted under this key's public key with `algorithm`. A wrong
    /// algorithm for the key or a ciphertext of an impossible length is [`Error::InvalidArgument`];
    /// anything else that fails is [`Error::InvalidCiphertext`], whatever the reason.
    pub fn decrypt(&self, algorithm: DecryptAlgorithm, ciphertext: &[u8]) -> Result<SecretBytes> {
        if algorithm.key_spec() != self.spec {
            return Err(Error::invalid(format!(
                "Algorithm {} does not run on a {:?} key",
                algorithm.as_str(),
                self.spec
            )));
        }
        match &self.pair {
            Pair::Rsa(_, rsa) => {
                if ciphertext.len() != RSA_2048_CIPHERTEXT_BYTES {
                    return Err(Error::invalid(format!(
                        "an RSA-2048 ciphertext must be {RSA_2048_CIPHERTEXT_BYTES} bytes, got {}",
                        ciphertext.len()
                    )));
                }
                rsa.decrypt(algorithm, ciphertext)
            }
            Pair::Sm2(pair) => {
                let key = pair.decrypting();
                if !(MIN_SM2_CIPHERTEXT_BYTES..=MAX_SM2_CIPHERTEXT_BYTES)
                    .contains(&ciphertext.len())
                {
                    return Err(Error::invalid(format!(
                        "an SM2 ciphertext must be {MIN_SM2_CIPHERTEXT_BYTES} to \
                         {MAX_SM2_CIPHERTEXT_BYTES} bytes, got {}",
                        ciphertext.len()
                    )));
                }
                sm2_decrypt(key, ciphertext)
            }
            Pair::Ecdsa(_) => Err(Error::Internal(
                "an ECDSA key pair has no decryption algorithm".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::rsa::{OaepPublicEncryptingKey, Pkcs1PublicEncryptingKey, PublicEncryptingKey};
    use sm2::pke::EncryptingKey;

    use super::*;

    const MSG: &[u8] = b"attack at dawn";

    fn rsa_encrypt(public_der: &[u8], algorithm: DecryptAlgorithm, msg: &[u8]) -> Vec<u8> {
        let public = PublicEncryptingKey::from_der(public_der).unwrap();
        let mut out = vec![0; RSA_2048_CIPHERTEXT_BYTES];
        let n = match algorithm {
            DecryptAlgorithm::RsaesPkcs1V15 => Pkcs1PublicEncryptingKey::new(public)
                .unwrap()
                .encrypt(msg, &mut out)
                .unwrap()
                .len(),
            DecryptAlgorithm::RsaesOaepSha1 | DecryptAlgorithm::RsaesOaepSha256 => {
                let alg = if algorithm == DecryptAlgorithm::RsaesOaepSha1 {
                    &OAEP_SHA1_MGF1SHA1
                } else {
                    &OAEP_SHA256_MGF1SHA256
                };
                OaepPublicEncryptingKey::new(public)
                    .unwrap()
                    .encrypt(alg, msg, &mut out, None)
                    .unwrap()
                    .len()
            }
            DecryptAlgorithm::Sm2 => unreachable!(),
        };
        assert_eq!(n, RSA_2048_CIPHERTEXT_BYTES);
        out
    }

    fn sm2_encrypting(key: &PrivateKey, mode: Mode) -> EncryptingKey {
        let Pair::Sm2(pair) = &key.pair else {
            panic!("not SM2")
        };
        EncryptingKey::new_with_mode(pair.signing().verifying_key().into(), mode)
    }

    fn opaque(r: Result<SecretBytes>) {
        let e = r.unwrap_err();
        assert!(matches!(e, Error::InvalidCiphertext), "{e:?}");
        assert_eq!(e.to_string(), "invalid ciphertext");
    }

    #[test]
    fn rsa_ciphertexts_of_every_padding_open_and_tampering_is_opaque() {
        let key = PrivateKey::generate(KeySpec::Rsa2048).unwrap();
        for alg in DecryptAlgorithm::RSA {
            let ct = rsa_encrypt(key.public_key_der(), alg, MSG);
            assert_eq!(key.decrypt(alg, &ct).unwrap().expose(), MSG, "{alg:?}");
            // Empty plaintexts are RSAES plaintexts too.
            let empty = rsa_encrypt(key.public_key_der(), alg, b"");
            assert!(key.decrypt(alg, &empty).unwrap().is_empty(), "{alg:?}");
            let mut bad = ct.clone();
            bad[100] ^= 1;
            opaque(key.decrypt(alg, &bad));
            // Another padding than the one used: the same opaque error.
            for other in DecryptAlgorithm::RSA.into_iter().filter(|o| *o != alg) {
                opaque(key.decrypt(other, &ct));
            }
            // All zeros, all ones (above the modulus): opaque.
            opaque(key.decrypt(alg, &[0; RSA_2048_CIPHERTEXT_BYTES]));
            opaque(key.decrypt(alg, &[0xff; RSA_2048_CIPHERTEXT_BYTES]));
            for len in [0, 255, 257, 512] {
                assert_eq!(
                    key.decrypt(alg, &vec![1; len]).unwrap_err().to_string(),
                    format!("an RSA-2048 ciphertext must be 256 bytes, got {len}")
                );
            }
        }
        let e = key.decrypt(DecryptAlgorithm::Sm2, &[0; 97]).unwrap_err();
        assert_eq!(e.to_string(), "Algorithm SM2 does not run on a Rsa2048 key");
    }

    #[test]
    fn sm2_ciphertexts_open_in_all_three_forms() {
        let key = PrivateKey::generate(KeySpec::Sm2).unwrap();
        let enc = sm2_encrypting(&key, Mode::C1C3C2);
        let mut rng = sm2::elliptic_curve::common::getrandom::SysRng;
        let prefixed = enc.encrypt(&mut rng, MSG).unwrap();
        assert_eq!(prefixed[0], UNCOMPRESSED_POINT);
        assert_eq!(prefixed.len(), 65 + 32 + MSG.len());
        let bare = prefixed[1..].to_vec();
        let der = enc.encrypt_der(&mut rng, MSG).unwrap();
        assert_eq!(der[0], 0x30);
        for ct in [&prefixed, &bare, &der] {
            let plain = key.decrypt(DecryptAlgorithm::Sm2, ct).unwrap();
            assert_eq!(plain.expose(), MSG);
        }
        // A flipped bit anywhere (C1, C3, C2) is the opaque error, in every form.
        for ct in [&prefixed, &bare, &der] {
            for i in [2, 70, ct.len() - 1] {
                let mut bad = ct.clone();
                bad[i] ^= 1;
                opaque(key.decrypt(DecryptAlgorithm::Sm2, &bad));
            }
        }
        // C1C2C3 (the old order) does not open: C3 is read from the wrong place.
        let old = sm2_encrypting(&key, Mode::C1C2C3)
            .encrypt(&mut rng, MSG)
            .unwrap();
        opaque(key.decrypt(DecryptAlgorithm::Sm2, &old));
        // Another key's ciphertext does not open.
        let other = PrivateKey::generate(KeySpec::Sm2).unwrap();
        let theirs = sm2_encrypting(&other, Mode::C1C3C2)
            .encrypt(&mut rng, MSG)
            .unwrap();
        opaque(key.decrypt(DecryptAlgorithm::Sm2, &theirs));
        // The longest plaintext that fits: 256 - 64 - 32 = 160 bytes, bare (with the 04 prefix
        // it is one byte too long).
        let long = vec![7u8; MAX_SM2_CIPHERTEXT_BYTES - 96];
        let ct = enc.encrypt(&mut rng, &long).unwrap();
        assert_eq!(ct.len(), MAX_SM2_CIPHERTEXT_BYTES + 1, "with its 04 prefix");
        assert_eq!(
            key.decrypt(DecryptAlgorithm::Sm2, &ct)
                .unwrap_err()
                .to_string(),
            "an SM2 ciphertext must be 97 to 256 bytes, got 257"
        );
        assert_eq!(
            key.decrypt(DecryptAlgorithm::Sm2, &ct[1..])
                .unwrap()
                .expose(),
            &long[..]
        );
        for len in [0, 96] {
            assert_eq!(
                key.decrypt(DecryptAlgorithm::Sm2, &vec![4; len])
                    .unwrap_err()
                    .to_string(),
                format!("an SM2 ciphertext must be 97 to 256 bytes, got {len}")
            );
        }
        opaque(key.decrypt(DecryptAlgorithm::Sm2, &[0; 97]));
        let e = key
            .decrypt(DecryptAlgorithm::RsaesOaepSha256, &[0; 256])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Algorithm RSAES_OAEP_SHA_256 does not run on a Sm2 key"
        );
    }

    #[test]
    fn signing_key_pairs_refuse_to_decrypt() {
        let key = PrivateKey::generate(KeySpec::EccP256).unwrap();
        for alg in DecryptAlgorithm::ALL {
            let e = key.decrypt(alg, &[0; 256]).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        }
    }

    /// `name` of a vector file (`name=value` lines).
    fn vector(file: &str, name: &str) -> Vec<u8> {
        use base64::Engine as _;
        let value = file
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no vector {name}"));
        if name.ends_with("_hex") || name == "sm2_private_scalar" {
            hex::decode(value).unwrap()
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(value)
                .unwrap()
        }
    }

    /// The ciphertexts of `tests/vectors/asymmetric_decrypt.txt`, made by Python `cryptography`
    /// and `gmssl` under the keys of `asymmetric.txt`, open here.
    #[test]
    fn known_answers_from_independent_implementations() {
        use sm2::pkcs8::EncodePrivateKey as _;
        let keys = include_str!("../../tests/vectors/asymmetric.txt");
        let cts = include_str!("../../tests/vectors/asymmetric_decrypt.txt");
        let msg = vector(cts, "plaintext_hex");
        let rsa = PrivateKey::from_pkcs8(
            KeySpec::Rsa2048,
            SecretBytes::new(vector(keys, "rsa_pkcs8")),
        )
        .unwrap();
        for (alg, name) in [
            (DecryptAlgorithm::RsaesPkcs1V15, "rsa_pkcs1_v1_5_by_python"),
            (DecryptAlgorithm::RsaesOaepSha1, "rsa_oaep_sha_1_by_python"),
            (
                DecryptAlgorithm::RsaesOaepSha256,
                "rsa_oaep_sha_256_by_python",
            ),
        ] {
            let ct = vector(cts, name);
            assert_eq!(rsa.decrypt(alg, &ct).unwrap().expose(), msg, "{name}");
        }
        let scalar = vector(keys, "sm2_private_scalar");
        let secret = sm2::SecretKey::from_slice(&scalar).unwrap();
        let pkcs8 = SecretBytes::new(secret.to_pkcs8_der().unwrap().as_bytes().to_vec());
        let sm2 = PrivateKey::from_pkcs8(KeySpec::Sm2, pkcs8).unwrap();
        for name in ["sm2_c1c3c2_by_gmssl", "sm2_c1c3c2_asn1_by_gmssl"] {
            let ct = vector(cts, name);
            let plain = sm2.decrypt(DecryptAlgorithm::Sm2, &ct).unwrap();
            assert_eq!(plain.expose(), msg, "{name}");
        }
    }

    #[test]
    fn algorithm_names_round_trip() {
        for alg in DecryptAlgorithm::ALL {
            assert_eq!(DecryptAlgorithm::parse(alg.as_str()), Some(alg));
        }
        assert_eq!(DecryptAlgorithm::parse("rsaes_pkcs1_v1_5"), None);
        assert_eq!(DecryptAlgorithm::parse("SM2_C1C3C2_ASN1"), None);
    }
}
