//! How an SSE-C object remembers which customer key it was written with, without storing anything
//! that identifies the key to whoever reads the metadata.
//!
//! # Why not the key's MD5
//!
//! Envelope version 1 stored the customer key's plain MD5 (what the client sends in
//! `x-cos-server-side-encryption-customer-key-MD5`). Anyone who could read the stored metadata could
//! then link every object written under one key (equal digests) and test guessed keys offline at MD5
//! speed. Version 2 stores instead
//!
//! ```text
//! verifier_salt = 32 random bytes, fresh for every envelope written (PUT, Initiate, copy)
//! verifier      = HMAC-SHA256(verifier key, "sse/v2/customer-key-verifier" || verifier_salt || customer key)
//! ```
//!
//! * The **verifier key** ([`VerifierKey`]) is held by the server (the gateway keeps it in its data
//!   directory, never beside the objects' metadata): without it a stored verifier says nothing about
//!   the key. It does not stop guesses being tested offline: the envelope's `wrap_commit`
//!   (HKDF of the customer key under the stored wrap salt and the object's name) confirms a guess
//!   at the cost of one HKDF-SHA256, and a right guess opens the body. SSE-C is only as strong as
//!   its key: a 256-bit random key cannot be guessed; a key made from a password can (a server-held
//!   pepper for the wrap would need a new format version).
//! * The **salt** makes two objects under the same key carry unrelated verifiers, so even the holder
//!   of a metadata dump cannot link them.
//! * The salt is a field of its own rather than the wrap salt: the wrap salt is renewed at every
//!   re-wrap and is used as HKDF salt with the customer key as input keying material; a separate
//!   salt keeps the two constructions independent without an argument about their interaction.
//! * Every input has a fixed length (label, 32, 32), so the concatenation is unambiguous.
//! * The stored verifier is compared with the recomputed one in constant time. Version 1 envelopes
//!   are still read: their MD5 is compared in constant time, as before.
//!
//! The MD5 a response echoes is now the MD5 of the key the *request* supplied (COS requires the key
//! on every read of an SSE-C object, and the adapter checks it before anything is echoed).

use crate::crypto::{self, KEY_LEN, Key32};
use crate::error::{Error, Result};
use crate::sse::CustomerKey;

/// The domain-separation label of the version-2 verifier.
const VERIFIER_LABEL: &[u8] = b"sse/v2/customer-key-verifier";
/// Length of a version-2 verifier salt.
pub(crate) const SALT_LEN: usize = 32;
/// Length of a version-2 verifier (an HMAC-SHA256 output).
pub(crate) const VERIFIER_LEN: usize = 32;

/// The server-held key of the SSE-C key verifiers: 32 secret bytes, zeroized on drop, redacted in
/// `Debug`, never `Copy`.
///
/// Losing it makes every version-2 SSE-C object unreadable (the request's key can no longer be
/// checked), so a server that keeps objects keeps this key as durably as their metadata.
#[derive(Clone)]
pub struct VerifierKey(Key32);

impl VerifierKey {
    /// Length of the key in bytes.
    pub const LEN: usize = KEY_LEN;

    /// A key from its 32 bytes (loaded from where the server keeps it).
    pub fn from_bytes(bytes: &[u8; Self::LEN]) -> Self {
        Self(Key32::from_array(bytes))
    }

    /// A key from a slice that must be exactly [`VerifierKey::LEN`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        Key32::from_slice(bytes).map(Self)
    }

    /// 32 bytes from the operating system's CSPRNG.
    pub fn random() -> Result<Self> {
        Key32::random().map(Self)
    }

    /// The key's bytes, to persist it. Never log them.
    pub fn expose_secret(&self) -> &[u8; Self::LEN] {
        self.0.expose()
    }

    fn verifier(&self, salt: &[u8; SALT_LEN], customer: &CustomerKey) -> [u8; VERIFIER_LEN] {
        crypto::hmac_sha256(
            self.0.expose(),
            &[VERIFIER_LABEL, salt, customer.key().expose()],
        )
    }
}

impl std::fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerifierKey([REDACTED])")
    }
}

/// What an SSE-C envelope stores to recognise its customer key.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum CustomerKeyCheck {
    /// Envelope version 1: the key's plain MD5 (read only).
    Md5([u8; 16]),
    /// Envelope version 2: a fresh salt and the keyed verifier.
    Verifier {
        salt: [u8; SALT_LEN],
        verifier: [u8; VERIFIER_LEN],
    },
}

impl CustomerKeyCheck {
    /// A new version-2 check of `customer` under `key`, with a fresh salt.
    pub(crate) fn new(key: Option<&VerifierKey>, customer: &CustomerKey) -> Result<Self> {
        let key = key.ok_or(Error::CustomerKeyVerifierUnset)?;
        Self::with_salt(key, customer, crypto::random_array()?)
    }

    /// The version-2 check of `customer` under `key` with a given salt (fixed test vectors).
    pub(crate) fn with_salt(
        key: &VerifierKey,
        customer: &CustomerKey,
        salt: [u8; SALT_LEN],
    ) -> Result<Self> {
        Ok(Self::Verifier {
            salt,
            verifier: key.verifier(&salt, customer),
        })
    }

    /// Checks the request's `customer` key in constant time: [`Error::CustomerKeyMismatch`] when it
    /// is not the object's key, [`Error::CustomerKeyVerifierUnset`] for a version-2 check without
    /// the verifier key.
    pub(crate) fn check(&self, key: Option<&VerifierKey>, customer: &CustomerKey) -> Result<()> {
        let ok = match self {
            Self::Md5(stored) => crypto::ct_eq(stored, customer.md5()),
            Self::Verifier { salt, verifier } => {
                let key = key.ok_or(Error::CustomerKeyVerifierUnset)?;
                crypto::ct_eq(verifier, &key.verifier(salt, customer))
            }
        };
        if ok {
            Ok(())
        } else {
            Err(Error::CustomerKeyMismatch)
        }
    }

    /// The stored MD5 of a version-1 check.
    pub(crate) fn md5(&self) -> Option<&[u8; 16]> {
        match self {
            Self::Md5(m) => Some(m),
            Self::Verifier { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(b: u8) -> CustomerKey {
        CustomerKey::from_bytes(&[b; 32]).unwrap()
    }

    #[test]
    fn verifier_key_debug_is_redacted() {
        let k = VerifierKey::from_bytes(&[0x41; 32]);
        assert_eq!(format!("{k:?}"), "VerifierKey([REDACTED])");
    }

    #[test]
    fn same_key_gets_unrelated_verifiers_and_each_checks() {
        let vk = VerifierKey::random().unwrap();
        let a = CustomerKeyCheck::new(Some(&vk), &customer(1)).unwrap();
        let b = CustomerKeyCheck::new(Some(&vk), &customer(1)).unwrap();
        let (
            CustomerKeyCheck::Verifier {
                salt: sa,
                verifier: va,
            },
            CustomerKeyCheck::Verifier {
                salt: sb,
                verifier: vb,
            },
        ) = (&a, &b)
        else {
            panic!("version-2 checks")
        };
        assert_ne!(sa, sb);
        assert_ne!(va, vb);
        a.check(Some(&vk), &customer(1)).unwrap();
        b.check(Some(&vk), &customer(1)).unwrap();
    }

    #[test]
    fn wrong_key_wrong_verifier_key_and_no_verifier_key() {
        let vk = VerifierKey::from_bytes(&[9; 32]);
        let c = CustomerKeyCheck::with_salt(&vk, &customer(1), [3; 32]).unwrap();
        assert!(matches!(
            c.check(Some(&vk), &customer(2)),
            Err(Error::CustomerKeyMismatch)
        ));
        let other = VerifierKey::from_bytes(&[8; 32]);
        assert!(matches!(
            c.check(Some(&other), &customer(1)),
            Err(Error::CustomerKeyMismatch)
        ));
        assert!(matches!(
            c.check(None, &customer(1)),
            Err(Error::CustomerKeyVerifierUnset)
        ));
        assert!(matches!(
            CustomerKeyCheck::new(None, &customer(1)),
            Err(Error::CustomerKeyVerifierUnset)
        ));
    }

    #[test]
    fn md5_check_is_kept_for_version_1() {
        let c = CustomerKeyCheck::Md5(*customer(1).md5());
        // No verifier key is needed to check a version-1 object.
        c.check(None, &customer(1)).unwrap();
        assert!(matches!(
            c.check(None, &customer(2)),
            Err(Error::CustomerKeyMismatch)
        ));
        assert_eq!(c.md5(), Some(customer(1).md5()));
    }

    #[test]
    fn verifier_matches_an_independent_hmac() {
        // HMAC-SHA256(key = 32 × 0x09, "sse/v2/customer-key-verifier" || 32 × 0x03 || 32 × 0x01),
        // computed with Python's hmac module.
        let vk = VerifierKey::from_bytes(&[9; 32]);
        let CustomerKeyCheck::Verifier { verifier, .. } =
            CustomerKeyCheck::with_salt(&vk, &customer(1), [3; 32]).unwrap()
        else {
            panic!("a version-2 check")
        };
        assert_eq!(hex::encode(verifier), EXPECTED);
    }

    const EXPECTED: &str = "d8b14c92655136b92268ee092359f570a59a21f2f4ed42a86225478d6f604d19";
}
