//! Key pairs an administrator brings (a seed document's `private_key_pem`): a PEM private key,
//! PKCS#8 (`PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`), checked against
//! the key usage it is given for and re-encoded as the PKCS#8 DER every key pair is stored as.
//!
//! What a key holds (algorithm, curve, RSA modulus size) is read from its public structure, so a
//! mismatch is named exactly ("needs an EC key on P-256, private_key_pem holds an RSA-3072 key");
//! the private scalar or exponents are never part of a message. Every buffer that holds private
//! key bytes is zeroized on drop.

use std::fmt;

use super::PrivateKey;
use crate::{
    keys::{KeySpec, KeyUsage},
    secret::SecretBytes,
};
use aws_lc_rs::{
    encoding::{AsDer as _, Pkcs8V1Der},
    rsa,
    signature::{ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair},
};
use sm2::pkcs8::{
    DecodePrivateKey as _, EncodePrivateKey as _, PrivateKeyInfoRef,
    der::{Decode as _, SliceReader, asn1::AnyRef, asn1::UintRef},
};

const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const P256: &str = "1.2.840.10045.3.1.7";
const P384: &str = "1.3.132.0.34";
/// The SM2 curve (GM/T 0006); some tools also put it in place of `id-ecPublicKey`.
const SM2_CURVE: &str = "1.2.156.10197.1.301";

/// The PEM encodings taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Pkcs8,
    Sec1,
    Pkcs1,
}

/// A PEM private key as read, before its usage is known. Prints as its format only.
pub struct PemPrivateKey {
    format: Format,
    der: SecretBytes,
}

impl fmt::Debug for PemPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PemPrivateKey")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// What a private key is, from its public structure.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Held {
    Rsa(usize),
    Ec(&'static str),
    EcOther(String),
    Other(String),
}

impl fmt::Display for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Held::Rsa(bits) => write!(f, "an RSA-{bits} key"),
            Held::Ec(curve) => write!(f, "an EC key on {curve}"),
            Held::EcOther(oid) => write!(f, "an EC key on curve {oid}"),
            Held::Other(oid) => write!(f, "a key of algorithm {oid}"),
        }
    }
}

fn wanted(spec: KeySpec) -> Held {
    match spec {
        KeySpec::Rsa2048 => Held::Rsa(2048),
        KeySpec::EccP256 => Held::Ec("P-256"),
        KeySpec::EccP384 => Held::Ec("P-384"),
        KeySpec::Sm2 => Held::Ec("SM2"),
    }
}

fn curve(oid: &str) -> Held {
    match oid {
        P256 => Held::Ec("P-256"),
        P384 => Held::Ec("P-384"),
        SM2_CURVE => Held::Ec("SM2"),
        other => Held::EcOther(other.to_owned()),
    }
}

/// Bits of the modulus of a PKCS#1 `RSAPrivateKey` (its second INTEGER, a public value).
fn rsa_bits(pkcs1: &[u8]) -> Option<usize> {
    let seq = AnyRef::from_der(pkcs1).ok()?;
    let mut r = SliceReader::new(seq.value()).ok()?;
    let _version = UintRef::decode(&mut r).ok()?;
    let n = UintRef::decode(&mut r).ok()?;
    let first = *n.as_bytes().first()?;
    Some(n.as_bytes().len() * 8 - first.leading_zeros() as usize)
}

impl PemPrivateKey {
    /// Reads one PEM block. The error is a one-line rule for the seed document.
    pub fn parse(text: &str) -> Result<Self, String> {
        let block =
            pem::parse(text.trim()).map_err(|_| "private_key_pem is not a PEM block".to_owned())?;
        let format = match block.tag() {
            "PRIVATE KEY" => Format::Pkcs8,
            "EC PRIVATE KEY" => Format::Sec1,
            "RSA PRIVATE KEY" => Format::Pkcs1,
            other => {
                return Err(format!(
                    "private_key_pem must be a PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY \
                     block, got {other:?}"
                ));
            }
        };
        Ok(Self {
            format,
            der: SecretBytes::new(block.into_contents()),
        })
    }

    fn unreadable(&self) -> String {
        let tag = match self.format {
            Format::Pkcs8 => "PRIVATE KEY",
            Format::Sec1 => "EC PRIVATE KEY",
            Format::Pkcs1 => "RSA PRIVATE KEY",
        };
        format!("private_key_pem is not a readable {tag}")
    }

    /// What the key is.
    fn held(&self) -> Result<Held, String> {
        let der = self.der.expose();
        match self.format {
            Format::Pkcs1 => rsa_bits(der)
                .map(Held::Rsa)
                .ok_or_else(|| self.unreadable()),
            Format::Pkcs8 => {
                let info = PrivateKeyInfoRef::try_from(der).map_err(|_| self.unreadable())?;
                let alg = info.algorithm.oid.to_string();
                match alg.as_str() {
                    RSA_ENCRYPTION => rsa_bits(info.private_key.as_bytes())
                        .map(Held::Rsa)
                        .ok_or_else(|| self.unreadable()),
                    EC_PUBLIC_KEY => info
                        .algorithm
                        .parameters_oid()
                        .map(|oid| curve(&oid.to_string()))
                        .map_err(|_| self.unreadable()),
                    SM2_CURVE => Ok(Held::Ec("SM2")),
                    _ => Ok(Held::Other(alg)),
                }
            }
            // SEC1 names its curve in optional parameters: try each curve's parser instead.
            Format::Sec1 => {
                if EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_ASN1_SIGNING, der).is_ok()
                {
                    Ok(Held::Ec("P-256"))
                } else if EcdsaKeyPair::from_private_key_der(&ECDSA_P384_SHA384_ASN1_SIGNING, der)
                    .is_ok()
                {
                    Ok(Held::Ec("P-384"))
                } else if sm2::SecretKey::from_sec1_der(der).is_ok() {
                    Ok(Held::Ec("SM2"))
                } else {
                    Err("private_key_pem is not an EC PRIVATE KEY on P-256, P-384 or SM2".into())
                }
            }
        }
    }

    /// The PKCS#8 DER of the key, as its library encodes it, for `spec` (already checked).
    fn normalized(&self, spec: KeySpec) -> Option<SecretBytes> {
        let der = self.der.expose();
        let bytes = match spec {
            KeySpec::Rsa2048 => {
                let pair = match self.format {
                    Format::Pkcs1 => rsa::KeyPair::from_der(der),
                    _ => rsa::KeyPair::from_pkcs8(der),
                }
                .ok()?;
                let doc: Pkcs8V1Der<'static> = pair.as_der().ok()?;
                doc.as_ref().to_vec()
            }
            KeySpec::EccP256 | KeySpec::EccP384 => {
                let alg = if spec == KeySpec::EccP256 {
                    &ECDSA_P256_SHA256_ASN1_SIGNING
                } else {
                    &ECDSA_P384_SHA384_ASN1_SIGNING
                };
                let pair = EcdsaKeyPair::from_private_key_der(alg, der).ok()?;
                pair.to_pkcs8v1().ok()?.as_ref().to_vec()
            }
            KeySpec::Sm2 => {
                let secret = match self.format {
                    Format::Sec1 => sm2::SecretKey::from_sec1_der(der).ok()?,
                    _ => sm2::SecretKey::from_pkcs8_der(der).ok().or_else(|| {
                        // The algorithm given as the SM2 curve itself: its key is SEC1 inside.
                        let info = PrivateKeyInfoRef::try_from(der).ok()?;
                        sm2::SecretKey::from_sec1_der(info.private_key.as_bytes()).ok()
                    })?,
                };
                secret.to_pkcs8_der().ok()?.as_bytes().to_vec()
            }
        };
        Some(SecretBytes::new(bytes))
    }

    /// The key pair for `usage` (an asymmetric usage), or the one-line rule it breaks.
    pub fn key_for(&self, usage: KeyUsage) -> Result<PrivateKey, String> {
        let Some(spec) = usage.key_spec() else {
            return Err(format!(
                "private_key_pem is for ASYMMETRIC_* key usages, not {usage}"
            ));
        };
        let held = self.held()?;
        let want = wanted(spec);
        if held != want {
            return Err(format!(
                "key_usage {usage} needs {want}, private_key_pem holds {held}"
            ));
        }
        let invalid = || format!("private_key_pem does not hold a valid {held}");
        let pkcs8 = self.normalized(spec).ok_or_else(invalid)?;
        PrivateKey::from_pkcs8(spec, pkcs8).map_err(|_| invalid())
    }
}
