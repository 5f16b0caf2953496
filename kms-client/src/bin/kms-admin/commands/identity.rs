//! `identity`: the line of the KMS's access policy that names a credential (the SHA-256 of a client
//! certificate's public key, or of a bearer token), and fresh tokens. Runs without a server: the
//! operator builds the policy from these lines, and the token itself never goes into it.

use std::io::Read as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kms_client::{BearerToken, SecretBytes};
use rand::TryRngCore as _;
use zeroize::Zeroizing;

use crate::cli::{Cli, Command, IdentityAction};
use crate::credentials::{TOKEN_ENV, client_identity, configured_token};
use crate::failure::{EXIT_REFUSED, Failure};
use crate::output::{Outcome, Output};

/// Random bytes in a token made by `identity new-token` (256 bits).
pub const NEW_TOKEN_BYTES: usize = 32;

/// The policy field of a client certificate's digest.
const CERT_FIELD: &str = "cert_sha256";
/// The policy field of a token's digest.
const TOKEN_FIELD: &str = "token_sha256";

/// Runs `identity` (the command must be [`Command::Identity`]).
pub fn run(cli: &Cli) -> Outcome {
    let Command::Identity {
        cert,
        token_stdin,
        action,
    } = &cli.command
    else {
        return Err(Failure::usage("not an identity command"));
    };
    if let Some(IdentityAction::NewToken) = action {
        return new_token(cli.json);
    }
    let explicit = cert.is_some() || *token_stdin || cli.token_file.is_some();
    let cert_path = match cert {
        Some(path) => Some(path),
        None if !explicit => client_identity(cli).map(|(cert, _)| cert),
        None => None,
    };
    let token = if *token_stdin {
        Some(token_from_stdin()?)
    } else if cert.is_some() && cli.token_file.is_none() {
        None
    } else {
        configured_token(cli)?
    };
    let mut fields = Vec::new();
    if let Some(path) = cert_path {
        fields.push((CERT_FIELD, cert_digest(path)?));
    }
    if let Some(token) = &token {
        fields.push((TOKEN_FIELD, token.sha256_hex()));
    }
    if fields.is_empty() {
        return Err(Failure::usage(format!(
            "no credential: give --cert FILE, --token-file FILE or --token-stdin (or set {TOKEN_ENV})"
        )));
    }
    Ok(if cli.json {
        Output::Json(serde_json::Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v)))
                .collect(),
        ))
    } else {
        Output::Text(fields.iter().map(|(k, v)| policy_line(k, v)).collect())
    })
}

/// `field: "<hex>"` and a newline: the line as a policy file holds it.
fn policy_line(field: &str, hex: &str) -> String {
    format!("{field}: \"{hex}\"\n")
}

/// The identity digest of the first certificate in a PEM file, in hex.
fn cert_digest(path: &Path) -> Result<String, Failure> {
    let pem = std::fs::read(path)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
    let digest = local_pki::spki_sha256_of_pem(&pem)
        .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
    Ok(hex(&digest))
}

/// A token piped on stdin: one trailing newline is dropped, as in a token file.
fn token_from_stdin() -> Result<BearerToken, Failure> {
    let mut raw = Zeroizing::new(String::new());
    std::io::stdin()
        .read_to_string(&mut raw)
        .map_err(|e| Failure::usage(format!("cannot read the token from stdin: {e}")))?;
    let text = raw.strip_suffix('\n').unwrap_or(&raw);
    let text = text.strip_suffix('\r').unwrap_or(text);
    BearerToken::new(text).map_err(|e| Failure::usage(format!("stdin: {e}")))
}

/// `identity new-token`: the token on stdout (the only thing there, for `> file`), its policy line
/// on stderr; with `--json`, both in one object on stdout.
fn new_token(json: bool) -> Outcome {
    let mut bytes = Zeroizing::new([0u8; NEW_TOKEN_BYTES]);
    rand::rngs::OsRng
        .try_fill_bytes(bytes.as_mut())
        .map_err(|e| Failure {
            message: format!("the system random generator failed: {e}"),
            status: EXIT_REFUSED,
        })?;
    let token = BearerToken::new(URL_SAFE_NO_PAD.encode(bytes.as_ref()))
        .map_err(|e| Failure::usage(e.to_string()))?;
    let digest = token.sha256_hex();
    // Built in a buffer that is wiped once written: the token is printed, never kept.
    let mut out = Vec::new();
    if json {
        out.extend_from_slice(b"{\n  \"token\": \"");
        out.extend_from_slice(token.expose_secret().as_bytes());
        out.extend_from_slice(format!("\",\n  \"{TOKEN_FIELD}\": \"{digest}\"\n}}\n").as_bytes());
    } else {
        out.extend_from_slice(token.expose_secret().as_bytes());
        out.push(b'\n');
        eprint!("{}", policy_line(TOKEN_FIELD, &digest));
    }
    Ok(Output::Bytes(SecretBytes::new(out)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_lines_are_yaml_fields() {
        assert_eq!(policy_line(CERT_FIELD, "ab01"), "cert_sha256: \"ab01\"\n");
        assert_eq!(hex(&[0x00, 0xab, 0x10]), "00ab10");
    }

    #[test]
    fn new_tokens_are_43_base64url_characters_and_differ() {
        let one = |_| match new_token(false) {
            Ok(Output::Bytes(b)) => String::from_utf8(b.expose_secret().to_vec()).unwrap(),
            _ => panic!("new_token prints bytes"),
        };
        let (a, b) = (one(0), one(1));
        // 32 bytes -> ceil(32 * 8 / 6) = 43 characters, no padding.
        assert_eq!(a.trim_end().len(), (NEW_TOKEN_BYTES * 8).div_ceil(6));
        assert!(a.ends_with('\n'));
        assert!(
            a.trim_end()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a, b);
    }
}
