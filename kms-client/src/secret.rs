//! [`SecretBytes`]: plaintexts and data keys, zeroized on drop and never printed.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Secret bytes (a data key, a decrypted plaintext, random bytes).
///
/// - The buffer is overwritten with zeros when the value is dropped.
/// - `Debug` prints only the length: `SecretBytes([REDACTED; 32 bytes])`. There is no `Display`.
/// - Equality is constant-time.
/// - Not `Copy`; cloning is explicit through [`SecretBytes::clone_secret`].
///
/// Read the bytes with [`SecretBytes::expose_secret`] at the point of use.
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Takes ownership of `bytes` (no copy is made).
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(Zeroizing::new(bytes))
    }

    /// Copies `bytes` into a new secret.
    pub fn copy_from(bytes: &[u8]) -> Self {
        SecretBytes::new(bytes.to_vec())
    }

    /// The secret bytes.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A second copy of the secret (also zeroized on drop).
    pub fn clone_secret(&self) -> Self {
        SecretBytes::copy_from(&self.0)
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(bytes: Vec<u8>) -> Self {
        SecretBytes::new(bytes)
    }
}

impl From<&[u8]> for SecretBytes {
    fn from(bytes: &[u8]) -> Self {
        SecretBytes::copy_from(bytes)
    }
}

impl From<&str> for SecretBytes {
    fn from(text: &str) -> Self {
        SecretBytes::copy_from(text.as_bytes())
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([REDACTED; {} bytes])", self.0.len())
    }
}

impl ConstantTimeEq for SecretBytes {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.as_slice().ct_eq(other.0.as_slice())
    }
}

impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for SecretBytes {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = SecretBytes::from(&b"super secret key material"[..]);
        let shown = format!("{s:?}");
        assert_eq!(shown, "SecretBytes([REDACTED; 25 bytes])");
        assert!(!shown.contains("secret key"));
        let nested = format!("{:?}", Some(&s));
        assert!(!nested.contains("super"));
    }

    #[test]
    fn equality_and_access() {
        let a = SecretBytes::from("abc");
        let b = a.clone_secret();
        assert_eq!(a, b);
        assert_ne!(a, SecretBytes::from("abd"));
        assert_ne!(a, SecretBytes::from("ab"));
        assert_eq!(a.expose_secret(), b"abc");
        assert_eq!(a.len(), 3);
        assert!(!a.is_empty());
        assert!(SecretBytes::new(Vec::new()).is_empty());
    }
}
