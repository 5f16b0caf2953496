//! Who may call the gateway: the SecretId -> SecretKey pairs it accepts.
//!
//! Apart from the signature code because the key material has its own rules (zeroized on drop,
//! redacted in `Debug`, a credentials file readable by group or others is refused), and the
//! signature code only ever needs to look a key up by its SecretId.

use std::collections::HashMap;
use std::path::Path;

use zeroize::{Zeroize as _, Zeroizing};

/// A SecretKey: zeroized on drop, redacted in `Debug`, never logged.
pub struct SecretKey(Zeroizing<String>);

impl SecretKey {
    /// Wraps a secret key.
    pub fn new(s: impl Into<String>) -> Self {
        Self(Zeroizing::new(s.into()))
    }

    pub(super) fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::str::FromStr for SecretKey {
    type Err = std::convert::Infallible;

    /// For the command line (`--secret-key`, `COS_SECRET_KEY`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

impl Clone for SecretKey {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey([REDACTED])")
    }
}

/// The SecretId -> SecretKey pairs the gateway accepts.
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    keys: HashMap<String, SecretKey>,
}

impl Credentials {
    /// No credentials (every signed request is `InvalidAccessKeyId`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a pair.
    pub fn insert(&mut self, secret_id: impl Into<String>, secret_key: SecretKey) {
        self.keys.insert(secret_id.into(), secret_key);
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Reads a credentials file: one pair per line, `SECRET_ID SECRET_KEY` (or `SECRET_ID=SECRET_KEY`);
    /// blank lines and `#` comments are skipped. A file readable by group or others is refused.
    pub fn load_file(&mut self, path: &Path) -> std::io::Result<usize> {
        let meta = std::fs::metadata(path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!(
                        "{} is readable by group or others; chmod 600 it",
                        path.display()
                    ),
                ));
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
        let mut text = std::fs::read_to_string(path)?;
        let mut n = 0;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (id, key) = line
                .split_once(|c: char| c.is_whitespace() || c == '=' || c == ':')
                .map(|(a, b)| (a.trim(), b.trim()))
                .filter(|(a, b)| !a.is_empty() && !b.is_empty())
                .ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "{} line {}: expected SECRET_ID SECRET_KEY",
                            path.display(),
                            i + 1
                        ),
                    )
                })?;
            self.insert(id, SecretKey::new(key));
            n += 1;
        }
        text.zeroize();
        Ok(n)
    }

    /// The key of `secret_id`.
    pub(super) fn get(&self, secret_id: &str) -> Option<&SecretKey> {
        self.keys.get(secret_id)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_credentials as creds;
    use super::*;

    #[test]
    fn secret_key_debug_is_redacted() {
        assert_eq!(
            format!("{:?}", SecretKey::new("hunter2")),
            "SecretKey([REDACTED])"
        );
        assert!(!format!("{:?}", creds()).contains("secretkey"));
    }

    #[test]
    fn credentials_file_permissions_and_format() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("creds");
        std::fs::write(&p, "# comment\nAKID1 key1\nAKID2=key2\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(Credentials::new().load_file(&p).is_err());
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let mut c = Credentials::new();
        assert_eq!(c.load_file(&p).unwrap(), 2);
        assert_eq!(c.len(), 2);
    }
}
