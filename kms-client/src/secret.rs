//! The secrets a client holds: [`SecretBytes`] (plaintexts and data keys) and [`BearerToken`] (the
//! credential sent to the server), both zeroized on drop and never printed.

use std::fmt;
use std::path::Path;

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

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

/// A bearer token: sent as `authorization: Bearer <token>` on every call (see
/// [`ClientBuilder::token`](crate::ClientBuilder::token)).
///
/// - Zeroized on drop; `Debug` prints `BearerToken([REDACTED])`; there is no `Display`.
/// - Printable ASCII without blanks (what an HTTP/2 header value carries unchanged), not empty.
/// - The server's policy names it by [`BearerToken::sha256_hex`]; the token itself is never stored
///   there.
pub struct BearerToken(Zeroizing<String>);

impl BearerToken {
    /// Checks and takes `token`.
    pub fn new(token: impl Into<String>) -> Result<Self> {
        let token = Zeroizing::new(token.into());
        if token.is_empty() {
            return Err(Error::Config("the bearer token is empty".to_owned()));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::Config(
                "the bearer token must be printable ASCII without blanks".to_owned(),
            ));
        }
        Ok(BearerToken(token))
    }

    /// Reads a token from `path`: one trailing newline (`\n` or `\r\n`) is dropped; an empty file,
    /// a file readable by group or others (unix) or an unreadable one is refused with an error that
    /// names the file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let named = |what: &str| Error::Config(format!("token file {}: {what}", path.display()));
        let bytes = read_private(path).map_err(|e| named(&e))?;
        let text = std::str::from_utf8(&bytes).map_err(|_| named("not UTF-8 text"))?;
        let text = text
            .strip_suffix('\n')
            .map_or(text, |t| t.strip_suffix('\r').unwrap_or(t));
        if text.is_empty() {
            return Err(named("empty"));
        }
        BearerToken::new(text).map_err(|e| named(&e.to_string().replace("the bearer token ", "")))
    }

    /// The token.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Lowercase hex SHA-256 of the token: its `token_sha256` in the server's policy.
    pub fn sha256_hex(&self) -> String {
        hex_lower(&Sha256::digest(self.0.as_bytes()))
    }

    /// A second copy (also zeroized on drop).
    pub fn clone_secret(&self) -> Self {
        BearerToken(self.0.clone())
    }
}

/// Permission bits that let someone other than the owner read a file.
#[cfg(unix)]
const GROUP_OR_OTHER_READ: u32 = 0o044;

/// Reads a credential file (a bearer token, a client private key) that must be readable by its
/// owner only (unix): the mode checked is that of the file opened, not of whatever the path names
/// a moment later. The error says what is wrong, without the path (the caller names the file).
pub(crate) fn read_private(path: &Path) -> std::result::Result<Zeroizing<Vec<u8>>, String> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = file
            .metadata()
            .map_err(|e| e.to_string())?
            .permissions()
            .mode();
        if mode & GROUP_OR_OTHER_READ != 0 {
            return Err(format!(
                "readable by group or others (mode {:o}): chmod 600 it",
                mode & 0o777
            ));
        }
    }
    let mut bytes = Zeroizing::new(Vec::new());
    file.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    Ok(bytes)
}

fn hex_lower(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(2 * bytes.len()), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken([REDACTED])")
    }
}

impl ConstantTimeEq for BearerToken {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.as_bytes().ct_eq(other.0.as_bytes())
    }
}

impl PartialEq for BearerToken {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for BearerToken {}

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

    #[test]
    fn token_debug_is_redacted_and_digest_is_sha256_hex() {
        let t = BearerToken::new("s3cr3t-token").unwrap();
        assert_eq!(format!("{t:?}"), "BearerToken([REDACTED])");
        assert!(!format!("{:?}", Some(&t)).contains("s3cr3t"));
        // sha256("abc"), FIPS 180-4 example.
        assert_eq!(
            BearerToken::new("abc").unwrap().sha256_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(t, t.clone_secret());
        assert_ne!(t, BearerToken::new("s3cr3t-tokeN").unwrap());
    }

    #[test]
    fn bad_tokens_are_refused() {
        let e = BearerToken::new("").unwrap_err();
        assert_eq!(e.to_string(), "the bearer token is empty");
        for bad in ["has space", "tab\t", "line\n", "caf\u{e9}"] {
            let e = BearerToken::new(bad).unwrap_err();
            assert_eq!(
                e.to_string(),
                "the bearer token must be printable ASCII without blanks"
            );
        }
    }

    #[cfg(unix)]
    fn token_file(dir: &Path, contents: &[u8], mode: u32) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let path = dir.join("token");
        std::fs::write(&path, contents).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[cfg(unix)]
    #[test]
    fn token_file_trims_one_newline_and_refuses_empty_or_shared_files() {
        let dir = tempfile::tempdir().unwrap();
        for (contents, want) in [(&b"tok\n"[..], "tok"), (b"tok\r\n", "tok"), (b"tok", "tok")] {
            let path = token_file(dir.path(), contents, 0o600);
            assert_eq!(BearerToken::from_file(&path).unwrap().expose_secret(), want);
        }
        let path = token_file(dir.path(), b"\n", 0o600);
        let e = BearerToken::from_file(&path).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("token file {}: empty", path.display())
        );
        let path = token_file(dir.path(), b"tok\n\n", 0o600);
        let e = BearerToken::from_file(&path).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "token file {}: must be printable ASCII without blanks",
                path.display()
            )
        );
        let path = token_file(dir.path(), b"tok\n", 0o640);
        let e = BearerToken::from_file(&path).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "token file {}: readable by group or others (mode 640): chmod 600 it",
                path.display()
            )
        );
        let missing = dir.path().join("missing");
        let e = BearerToken::from_file(&missing).unwrap_err();
        assert!(matches!(e, Error::Config(_)));
        assert!(
            e.to_string()
                .starts_with(&format!("token file {}: ", missing.display())),
            "{e}"
        );
    }
}
