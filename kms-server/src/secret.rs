//! Secret values: [`SecretBytes`] (any length) and [`Key32`] (an AES-256 key), with the AES-256-GCM
//! sizes the key hierarchy is built on. Both zeroize on drop and print as `[REDACTED]`; the bytes
//! are reached only through `expose` at the point of use.

use std::fmt;

use aes_gcm::{Aes256Gcm, KeyInit};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox};
use zeroize::Zeroizing;

/// Bytes of an AES-256 key (root key, CMK material, message key).
pub const KEY_LEN: usize = 32;
/// Bytes of a GCM nonce.
pub const NONCE_LEN: usize = 12;
/// Bytes of a GCM tag.
pub const TAG_LEN: usize = 16;

/// Bytes that must stay secret: zeroized on drop, never printed.
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Wraps bytes (taken, not copied).
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The bytes, at the point of use.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Consumes the wrapper; the caller takes over the duty to zeroize.
    pub fn into_inner(self) -> Zeroizing<Vec<u8>> {
        self.0
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([REDACTED; {}])", self.0.len())
    }
}

/// A 32-byte secret key (root key or CMK version material).
pub struct Key32(SecretBox<[u8; KEY_LEN]>);

impl Key32 {
    /// A fresh random key.
    pub fn random() -> Self {
        let mut k = Box::new([0u8; KEY_LEN]);
        rand::rng().fill_bytes(k.as_mut());
        Self(SecretBox::new(k))
    }

    /// From exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; KEY_LEN] = bytes.try_into().ok()?;
        Some(Self(SecretBox::new(Box::new(arr))))
    }

    pub(crate) fn expose(&self) -> &[u8; KEY_LEN] {
        self.0.expose_secret()
    }

    /// The AES-256-GCM cipher keyed with this key.
    pub(crate) fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(self.expose().into())
    }
}

impl Clone for Key32 {
    fn clone(&self) -> Self {
        Self(SecretBox::new(Box::new(*self.expose())))
    }
}

impl fmt::Debug for Key32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key32([REDACTED])")
    }
}

/// `n` random bytes from the OS-seeded CSPRNG.
pub fn random_bytes(n: usize) -> SecretBytes {
    let mut v = vec![0u8; n];
    rand::rng().fill_bytes(&mut v);
    SecretBytes::new(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let k = Key32::from_slice(&[0xAB; KEY_LEN]).unwrap();
        assert_eq!(format!("{k:?}"), "Key32([REDACTED])");
        let s = SecretBytes::new(vec![0xAB; 3]);
        assert_eq!(format!("{s:?}"), "SecretBytes([REDACTED; 3])");
    }

    #[test]
    fn key32_takes_exactly_32_bytes() {
        assert!(Key32::from_slice(&[0; KEY_LEN - 1]).is_none());
        assert!(Key32::from_slice(&[0; KEY_LEN + 1]).is_none());
        assert_eq!(
            Key32::from_slice(&[7; KEY_LEN]).unwrap().expose(),
            &[7; KEY_LEN]
        );
        assert_eq!(random_bytes(5).len(), 5);
    }
}
