//! The local input of a command, read and checked before any RPC (so a typo is reported as such
//! even with no server): encryption contexts, plaintexts and blobs from flags, files or stdin, and
//! seed documents.

use std::io::{IsTerminal, Read};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use kms_client::{EncryptionAlgorithm, SecretBytes};

use crate::cli::{Command, ContextArgs, MessageArgs, SealArgs};
use crate::failure::Failure;

/// What [`prepare`] read for a command; the fields a command does not use stay empty.
#[derive(Default)]
pub struct Prepared {
    pub context: String,
    pub source_context: String,
    pub destination_context: String,
    pub data: Option<SecretBytes>,
    pub blob: Vec<u8>,
    pub document: String,
    /// The message of `sign` and `verify` (public: not secret bytes).
    pub message: Vec<u8>,
    pub signature: Vec<u8>,
    /// `--seal-for`: the caller's public key (PEM) and how to seal the plaintext under it.
    pub sealed_for: Option<(String, EncryptionAlgorithm)>,
}

/// Reads and checks the command's local input.
pub fn prepare(command: &Command) -> Result<Prepared, Failure> {
    let mut p = Prepared::default();
    match command {
        Command::GenerateDataKey { context, seal, .. } => {
            p.context = context_arg(context)?;
            p.sealed_for = sealing(seal)?;
        }
        Command::Encrypt {
            plaintext,
            input,
            context,
            ..
        } => {
            p.context = context_arg(context)?;
            p.data = Some(match (plaintext, input) {
                (Some(text), _) => SecretBytes::from(text.as_str()),
                (None, Some(path)) => SecretBytes::new(read_file(path)?),
                (None, None) => {
                    SecretBytes::new(read_stdin("plaintext", "--plaintext TEXT or --in FILE")?)
                }
            });
        }
        Command::Decrypt {
            ciphertext,
            input,
            context,
            seal,
            ..
        } => {
            p.context = context_arg(context)?;
            p.sealed_for = sealing(seal)?;
            p.blob = match (ciphertext, input) {
                (Some(text), _) => decode_b64(text, "--ciphertext")?,
                (None, Some(path)) => blob_bytes(read_file(path)?),
                (None, None) => {
                    blob_bytes(read_stdin("ciphertext", "--ciphertext B64 or --in FILE")?)
                }
            };
        }
        Command::ReEncrypt {
            ciphertext,
            source_context,
            source_context_json,
            destination_context,
            destination_context_json,
            ..
        } => {
            p.blob = decode_b64(ciphertext, "--ciphertext")?;
            p.source_context =
                context_value(source_context, source_context_json, "--source-context-json")?;
            p.destination_context = context_value(
                destination_context,
                destination_context_json,
                "--destination-context-json",
            )?;
        }
        Command::Sign { message, .. } => p.message = message_arg(message)?,
        Command::Verify {
            message, signature, ..
        } => {
            p.message = message_arg(message)?;
            p.signature = decode_b64(signature, "--signature")?;
        }
        Command::AsymmetricDecrypt {
            ciphertext, input, ..
        } => {
            p.blob = match (ciphertext, input) {
                (Some(text), _) => decode_b64(text, "--ciphertext")?,
                (None, Some(path)) => blob_bytes(read_file(path)?),
                (None, None) => {
                    blob_bytes(read_stdin("ciphertext", "--ciphertext B64 or --in FILE")?)
                }
            };
        }
        Command::Seed { file } => {
            let bytes = if file.as_os_str() == "-" {
                read_stdin("seed document", "a FILE")?
            } else {
                read_file(file)?
            };
            p.document = String::from_utf8(bytes)
                .map_err(|_| Failure::usage(format!("{}: not UTF-8 text", file.display())))?;
        }
        // The call replaces the key's pending import token: an --out that cannot be written is
        // found before it is made, so the token in hand stays good. Opened without truncating, so
        // a failed call leaves an existing file as it was.
        Command::ImportParameters { out, .. } => {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(out)
                .map_err(|e| Failure::usage(format!("cannot write {}: {e}", out.display())))?;
        }
        _ => {}
    }
    Ok(p)
}

fn message_arg(m: &MessageArgs) -> Result<Vec<u8>, Failure> {
    match (&m.message, &m.input) {
        (Some(text), _) => Ok(text.as_bytes().to_vec()),
        (None, Some(path)) => read_file(path),
        (None, None) => read_stdin("message", "--message TEXT or --in FILE"),
    }
}

fn context_arg(c: &ContextArgs) -> Result<String, Failure> {
    context_value(&c.context, &c.context_json, "--context-json")
}

fn context_value(
    b64: &Option<String>,
    json: &Option<String>,
    flag: &str,
) -> Result<String, Failure> {
    match (b64, json) {
        // Checked here, as `--context-json` is: a bad context is a usage error (exit 2) before
        // any connection, not a refusal from the server.
        (Some(b64), _) => kms_client::decode_encryption_context(b64)
            .map(|_| b64.trim().to_owned())
            .map_err(|e| {
                let flag = flag.strip_suffix("-json").unwrap_or(flag);
                Failure::usage(format!("{flag}: {}", strip_context_prefix(&e.to_string())))
            }),
        (None, Some(json)) => kms_client::encryption_context_from_json(json).map_err(|e| {
            Failure::usage(format!("{flag}: {}", strip_context_prefix(&e.to_string())))
        }),
        (None, None) => Ok(String::new()),
    }
}

fn strip_context_prefix(s: &str) -> &str {
    s.strip_prefix("encryption context: ").unwrap_or(s)
}

/// The public key and algorithm `--seal-for` names (the PEM file read), if given.
fn sealing(args: &SealArgs) -> Result<Option<(String, EncryptionAlgorithm)>, Failure> {
    let Some(path) = &args.seal_for else {
        return Ok(None);
    };
    let pem = String::from_utf8(read_file(path)?)
        .map_err(|_| Failure::usage(format!("{}: not a PEM file", path.display())))?;
    Ok(Some((pem, args.seal_algorithm.unwrap_or_default())))
}

fn read_file(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))
}

fn read_stdin(what: &str, alternatives: &str) -> Result<Vec<u8>, Failure> {
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(Failure::usage(format!(
            "no {what}: give {alternatives}, or pipe it on stdin"
        )));
    }
    let mut buf = Vec::new();
    stdin
        .read_to_end(&mut buf)
        .map_err(|e| Failure::usage(format!("cannot read stdin: {e}")))?;
    Ok(buf)
}

fn decode_b64(text: &str, flag: &str) -> Result<Vec<u8>, Failure> {
    let t = text.trim();
    STANDARD
        .decode(t)
        .or_else(|_| STANDARD_NO_PAD.decode(t.trim_end_matches('=')))
        .map_err(|_| Failure::usage(format!("{flag}: not valid base64")))
}

/// A blob read from a file or stdin: base64 text (as printed by `encrypt`) or the raw bytes.
fn blob_bytes(raw: Vec<u8>) -> Vec<u8> {
    match std::str::from_utf8(&raw) {
        Ok(text) if !text.trim().is_empty() => {
            let compact: String = text.split_whitespace().collect();
            STANDARD
                .decode(&compact)
                .or_else(|_| STANDARD_NO_PAD.decode(compact.trim_end_matches('=')))
                .unwrap_or(raw)
        }
        _ => raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::EXIT_USAGE;

    #[test]
    fn blob_from_file_is_base64_or_raw() {
        assert_eq!(blob_bytes(b"aGVsbG8=\n".to_vec()), b"hello");
        assert_eq!(blob_bytes(b"aGVs\nbG8\n".to_vec()), b"hello");
        let raw = vec![0u8, 159, 146, 150, 1, 2];
        assert_eq!(blob_bytes(raw.clone()), raw);
    }

    #[test]
    fn context_flags() {
        let none: Option<String> = None;
        assert_eq!(context_value(&none, &none, "--context-json").unwrap(), "");
        assert_eq!(
            context_value(&Some(" e30= ".into()), &none, "--context-json").unwrap(),
            "e30="
        );
        let j = context_value(&none, &Some(r#"{"a":"b"}"#.into()), "--context-json").unwrap();
        assert_eq!(STANDARD.decode(j).unwrap(), br#"{"a":"b"}"#);
        let e = context_value(&none, &Some("[1]".into()), "--context-json")
            .err()
            .unwrap();
        assert_eq!(e.status, EXIT_USAGE);
        assert_eq!(e.message, "--context-json: the JSON is not an object");
        for (bad, flag) in [("%%%", "--context-json"), ("WzFd", "--source-context-json")] {
            let e = context_value(&Some(bad.into()), &none, flag).err().unwrap();
            assert_eq!(e.status, EXIT_USAGE, "{bad}");
            assert!(
                e.message
                    .starts_with(&format!("{}: ", flag.strip_suffix("-json").unwrap())),
                "{}",
                e.message
            );
        }
    }
}
