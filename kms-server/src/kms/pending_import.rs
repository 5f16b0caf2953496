//! A pending import (GetParametersForImport's answer, waiting for ImportKeyMaterial) as the key
//! store keeps it, so that any replica on the store can complete the import, not only the one
//! that gave the token.
//!
//! One record per key, in the store's settings ([`setting`]): a newer GetParametersForImport
//! replaces it, and ImportKeyMaterial takes it with [`crate::store::KeyStore::take_meta`], which
//! succeeds for exactly one caller, so a token is used once across replicas. The record holds
//! the token's SHA-256 (never the token: the store's reader cannot import with it; compared in
//! constant time), the wrapping algorithm, the expiry, and the RSA wrapping private key wrapped
//! by the root key with the rest of the record as AAD ([`RootKey::wrap_import_key`]), so neither
//! the expiry nor the token digest can be changed without the private key failing to open.
//!
//! Layout (version 1): `01 || algorithm (1 byte) || be64(valid_to) || sha256(token) (32) ||
//! wrapped private key`.

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use uuid::Uuid;

use crate::{
    asymmetric::PrivateKey,
    error::{Error, Result},
    keys::KeySpec,
    root_key::RootKey,
};
use kms_types::WrappingAlgorithm;

/// The record layout's version byte.
const RECORD_V1: u8 = 1;
/// Bytes before the wrapped private key: version, algorithm, expiry, token digest.
const HEADER_LEN: usize = 1 + 1 + 8 + 32;

/// The store setting that holds `key_id`'s pending import.
pub(super) fn setting(key_id: Uuid) -> String {
    format!("pending-import/{key_id}")
}

fn algorithm_byte(a: WrappingAlgorithm) -> u8 {
    match a {
        WrappingAlgorithm::RsaesOaepSha1 => 1,
        WrappingAlgorithm::RsaesOaepSha256 => 2,
    }
}

fn algorithm_of(b: u8) -> Option<WrappingAlgorithm> {
    match b {
        1 => Some(WrappingAlgorithm::RsaesOaepSha1),
        2 => Some(WrappingAlgorithm::RsaesOaepSha256),
        _ => None,
    }
}

fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The stored record of a new pending import of `key_id`.
pub(super) fn seal(
    root: &RootKey,
    key_id: Uuid,
    key: &PrivateKey,
    algorithm: WrappingAlgorithm,
    valid_to: i64,
    token: &str,
) -> Vec<u8> {
    let mut record = Vec::with_capacity(HEADER_LEN + key.pkcs8().len() + 28);
    record.push(RECORD_V1);
    record.push(algorithm_byte(algorithm));
    record.extend_from_slice(&valid_to.to_be_bytes());
    record.extend_from_slice(&token_digest(token));
    let wrapped = root.wrap_import_key(key_id, &record, key.pkcs8());
    record.extend_from_slice(&wrapped);
    record
}

/// A stored record, read back.
pub(super) struct Pending<'a> {
    record: &'a [u8],
    /// The wrapping algorithm asked for.
    pub(super) algorithm: WrappingAlgorithm,
    /// Until when (unix seconds) the token is good.
    pub(super) valid_to: i64,
}

impl<'a> Pending<'a> {
    /// Reads a record; `None` if it is not one (a record of a newer layout included).
    pub(super) fn parse(record: &'a [u8]) -> Option<Self> {
        let header = record.get(..HEADER_LEN)?;
        if header[0] != RECORD_V1 {
            return None;
        }
        let algorithm = algorithm_of(header[1])?;
        let valid_to = i64::from_be_bytes(header[2..10].try_into().ok()?);
        Some(Self {
            record,
            algorithm,
            valid_to,
        })
    }

    /// Whether `token` is the one this record was made for (digests compared in constant time).
    pub(super) fn is_for(&self, token: &str) -> bool {
        bool::from(self.record[10..HEADER_LEN].ct_eq(&token_digest(token)))
    }

    /// The wrapping private key; a record the root key does not open (altered, moved to another
    /// key) is [`Error::RootKeyMismatch`].
    pub(super) fn open(&self, root: &RootKey, key_id: Uuid) -> Result<PrivateKey> {
        let (header, wrapped) = self.record.split_at(HEADER_LEN);
        let pkcs8 = root.unwrap_import_key(key_id, header, wrapped)?;
        PrivateKey::from_pkcs8(KeySpec::Rsa2048, pkcs8).map_err(|_| Error::RootKeyMismatch)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    fn root(b: u8) -> RootKey {
        RootKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([b; 32])).unwrap()
    }

    /// A record reads back; the token digest matches only its token; it holds neither the token
    /// nor the private key in the clear; any change to it, another key or another root key makes
    /// the private key refuse to open.
    #[test]
    fn records_read_back_and_resist_tampering() {
        let key = PrivateKey::generate(KeySpec::Rsa2048).unwrap();
        let id = Uuid::from_u128(7);
        let token = "ab".repeat(32);
        let alg = WrappingAlgorithm::RsaesOaepSha256;
        let record = seal(&root(1), id, &key, alg, 1_700_086_400, &token);
        let p = Pending::parse(&record).unwrap();
        assert_eq!((p.algorithm, p.valid_to), (alg, 1_700_086_400));
        assert!(p.is_for(&token));
        assert!(!p.is_for(&"ab".repeat(31)));
        assert!(!p.is_for(""));
        let opened = p.open(&root(1), id).unwrap();
        assert_eq!(opened.public_key_der(), key.public_key_der());
        let pkcs8 = key.pkcs8().expose();
        // The private exponent's neighbourhood: any 32 bytes of the PKCS#8 past the modulus.
        let inner = &pkcs8[pkcs8.len() - 64..pkcs8.len() - 32];
        assert!(!record.windows(32).any(|w| w == inner));
        assert!(!record.windows(token.len()).any(|w| w == token.as_bytes()));
        assert!(matches!(p.open(&root(2), id), Err(Error::RootKeyMismatch)));
        assert!(matches!(
            p.open(&root(1), Uuid::from_u128(8)),
            Err(Error::RootKeyMismatch)
        ));
        for i in [1, 2, 9, 10, 41, 42, record.len() - 1] {
            let mut bad = record.clone();
            bad[i] ^= 1;
            if let Some(p) = Pending::parse(&bad) {
                assert!(p.open(&root(1), id).is_err(), "byte {i} changed");
            }
        }
        let mut v2 = record.clone();
        v2[0] = 2;
        assert!(Pending::parse(&v2).is_none());
        assert!(Pending::parse(&record[..HEADER_LEN - 1]).is_none());
    }
}
