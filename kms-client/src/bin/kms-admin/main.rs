//! `kms-admin`: administer the KMS emulator from the command line.
//!
//! Parse the command line (`cli.rs`), run one RPC through `kms_client`, print the result
//! (`output.rs`). Every failure is one `error: ...` line on stderr and a non-zero exit status
//! (1: the KMS refused; 2: bad command line or input; 3: the KMS could not be reached).

mod cli;
mod output;

use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use clap::Parser;
use clap::error::ErrorKind;
use kms_client::{
    CreateKeyRequest, DecryptRequest, EncryptRequest, GenerateDataKeyRequest, KeySpec, KmsClient,
    ListKeysRequest, ReEncryptRequest, SecretBytes,
};
use serde_json::{Value, json};

use crate::cli::{Cli, Command, ContextArgs};
use crate::output::b64;

/// A failed run: the message for the `error:` line and the exit status.
#[derive(Debug)]
struct Failure {
    message: String,
    status: u8,
}

const EXIT_REFUSED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_UNREACHABLE: u8 = 3;

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            status: EXIT_USAGE,
        }
    }
}

impl From<kms_client::Error> for Failure {
    fn from(e: kms_client::Error) -> Self {
        let status = if e.is_unreachable() {
            EXIT_UNREACHABLE
        } else if matches!(e, kms_client::Error::Config(_)) {
            EXIT_USAGE
        } else {
            EXIT_REFUSED
        };
        Failure {
            message: e.to_string(),
            status,
        }
    }
}

type Outcome = Result<Output, Failure>;

/// What a command prints on success.
enum Output {
    /// `--json` document.
    Json(Value),
    /// Text (already ending in a newline, or empty).
    Text(String),
    /// Raw bytes (a decrypted plaintext).
    Bytes(SecretBytes),
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".to_owned());
        eprintln!("error: internal error: {}", one_line(&what));
    }));

    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_failure(&e),
    };

    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return fail(&Failure {
                message: format!("cannot start the async runtime: {e}"),
                status: 1,
            });
        }
    };
    let json = cli.json;
    match runtime.block_on(run(cli)) {
        Ok(output) => match print(output, json) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e),
        },
        Err(e) => fail(&e),
    }
}

fn fail(f: &Failure) -> ExitCode {
    eprintln!("error: {}", one_line(&f.message));
    ExitCode::from(f.status)
}

/// Newlines and runs of blanks become one space, so the error is one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Help and version go to stdout with status 0; any other clap error becomes one `error:` line
/// (its first paragraph) with status 2.
fn clap_failure(e: &clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            // Writing help to a closed stdout is not worth reporting.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand => {
            eprintln!("error: no subcommand given (see kms-admin --help)");
            return ExitCode::from(EXIT_USAGE);
        }
        _ => {}
    }
    let text = e.to_string();
    let first: Vec<&str> = text.lines().take_while(|l| !l.trim().is_empty()).collect();
    let message = one_line(&first.join(" "));
    let message = message
        .strip_prefix("error:")
        .map_or(message.as_str(), str::trim);
    eprintln!("error: {message} (see kms-admin --help)");
    ExitCode::from(EXIT_USAGE)
}

fn print(output: Output, json: bool) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    let result = match output {
        Output::Json(v) => {
            debug_assert!(json);
            let mut text = serde_json::to_string_pretty(&v).map_err(|e| Failure {
                message: format!("cannot print JSON: {e}"),
                status: 1,
            })?;
            text.push('\n');
            stdout.write_all(text.as_bytes())
        }
        Output::Text(t) => stdout.write_all(t.as_bytes()),
        Output::Bytes(b) => stdout.write_all(b.expose_secret()),
    };
    match result.and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        // `kms-admin ... | head` closing the pipe early is not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure {
            message: format!("cannot write to stdout: {e}"),
            status: 1,
        }),
    }
}

async fn run(cli: Cli) -> Outcome {
    let kms = KmsClient::builder(cli.endpoint.clone())
        .connect_timeout(cli.timeout)
        .request_timeout(cli.timeout);
    let kms = match &cli.ca_file {
        Some(path) => kms.ca_file(path),
        None => kms,
    };
    // Check local input before connecting, so a typo is reported as such even with no server.
    let prepared = prepare(&cli.command)?;
    let kms = kms.connect().await?;
    execute(&kms, cli.command, prepared, cli.json).await
}

/// Inputs read and checked before any RPC: contexts, files, base64.
#[derive(Default)]
struct Prepared {
    context: String,
    source_context: String,
    destination_context: String,
    data: Option<SecretBytes>,
    blob: Vec<u8>,
    document: String,
}

fn prepare(command: &Command) -> Result<Prepared, Failure> {
    let mut p = Prepared::default();
    match command {
        Command::GenerateDataKey { context, .. } => p.context = context_arg(context)?,
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
            ..
        } => {
            p.context = context_arg(context)?;
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
        Command::Seed { file } => {
            let bytes = if file.as_os_str() == "-" {
                read_stdin("seed document", "a FILE")?
            } else {
                read_file(file)?
            };
            p.document = String::from_utf8(bytes)
                .map_err(|_| Failure::usage(format!("{}: not UTF-8 text", file.display())))?;
        }
        _ => {}
    }
    Ok(p)
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
        (Some(b64), _) => Ok(b64.trim().to_owned()),
        (None, Some(json)) => kms_client::encryption_context_from_json(json).map_err(|e| {
            Failure::usage(format!("{flag}: {}", strip_context_prefix(&e.to_string())))
        }),
        (None, None) => Ok(String::new()),
    }
}

fn strip_context_prefix(s: &str) -> &str {
    s.strip_prefix("encryption context: ").unwrap_or(s)
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

fn write_secret_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| Failure::usage(format!("cannot write {}: {e}", path.display())))?;
    file.write_all(bytes)
        .map_err(|e| Failure::usage(format!("cannot write {}: {e}", path.display())))
}

fn out(json: bool, j: impl FnOnce() -> Value, t: impl FnOnce() -> String) -> Outcome {
    Ok(if json {
        Output::Json(j())
    } else {
        Output::Text(t())
    })
}

async fn execute(kms: &KmsClient, command: Command, p: Prepared, json: bool) -> Outcome {
    use output::{lines, metadata_json, metadata_text};
    match command {
        Command::CreateKey { alias, description } => {
            let m = kms
                .create_key(CreateKeyRequest::new(alias).description(description))
                .await?;
            out(json, || output::create_key_json(&m), || metadata_text(&m))
        }
        Command::DescribeKey { key } => {
            let m = kms.describe_key(&key).await?;
            out(
                json,
                || json!({ "KeyMetadata": metadata_json(&m) }),
                || metadata_text(&m),
            )
        }
        Command::ListKeys { state, all } => {
            let request = ListKeysRequest {
                state,
                include_service_keys: all,
                ..Default::default()
            };
            let keys = kms.list_all_keys(&request).await?;
            out(
                json,
                || output::list_json(&keys),
                || output::list_text(&keys),
            )
        }
        Command::EnableKey { key } => {
            kms.enable_key(&key).await?;
            out(json, || json!({}), || format!("key {key} enabled\n"))
        }
        Command::DisableKey { key } => {
            kms.disable_key(&key).await?;
            out(json, || json!({}), || format!("key {key} disabled\n"))
        }
        Command::ScheduleKeyDeletion { key, pending_days } => {
            let d = kms.schedule_key_deletion(&key, pending_days).await?;
            out(
                json,
                || json!({ "KeyId": d.key_id, "DeletionDate": d.deletion_date }),
                || {
                    lines(&[
                        ("KeyId", d.key_id.clone()),
                        ("KeyState", "PendingDelete".to_owned()),
                        ("DeletionDate", output::rfc3339(d.deletion_date)),
                    ])
                },
            )
        }
        Command::CancelKeyDeletion { key } => {
            let id = kms.cancel_key_deletion(&key).await?;
            out(
                json,
                || json!({ "KeyId": id }),
                || format!("deletion of key {id} cancelled; it is Disabled\n"),
            )
        }
        Command::ArchiveKey { key } => {
            kms.archive_key(&key).await?;
            out(json, || json!({}), || format!("key {key} archived\n"))
        }
        Command::CancelKeyArchive { key } => {
            kms.cancel_key_archive(&key).await?;
            out(
                json,
                || json!({}),
                || format!("key {key} enabled (archive cancelled)\n"),
            )
        }
        Command::UpdateAlias { key, alias } => {
            kms.update_alias(&key, &alias).await?;
            out(
                json,
                || json!({}),
                || format!("key {key} now has alias {alias}\n"),
            )
        }
        Command::UpdateDescription { key, text } => {
            kms.update_key_description(&key, &text).await?;
            out(
                json,
                || json!({}),
                || format!("description of key {key} updated\n"),
            )
        }
        Command::EnableKeyRotation { key, rotate_days } => {
            kms.enable_key_rotation(&key, rotate_days).await?;
            out(
                json,
                || json!({}),
                || format!("rotation of key {key} enabled\n"),
            )
        }
        Command::DisableKeyRotation { key } => {
            kms.disable_key_rotation(&key).await?;
            out(
                json,
                || json!({}),
                || format!("rotation of key {key} disabled\n"),
            )
        }
        Command::GetKeyRotationStatus { key } => {
            let s = kms.get_key_rotation_status(&key).await?;
            out(
                json,
                || output::rotation_json(&s),
                || output::rotation_text(&s),
            )
        }
        Command::RotateKey { key } => {
            let r = kms.rotate_key(&key).await?;
            out(
                json,
                || json!({ "KeyId": r.key_id, "KeyVersion": r.key_version }),
                || {
                    lines(&[
                        ("KeyId", r.key_id.clone()),
                        ("KeyVersion", r.key_version.to_string()),
                    ])
                },
            )
        }
        Command::DefaultKey => {
            let m = kms.get_default_key().await?;
            out(
                json,
                || json!({ "KeyMetadata": metadata_json(&m) }),
                || metadata_text(&m),
            )
        }
        Command::GenerateDataKey {
            key,
            key_spec,
            number_of_bytes,
            without_plaintext,
            ..
        } => {
            let request = GenerateDataKeyRequest {
                key_id: key,
                // AES_256 when neither flag is given; with --number-of-bytes alone no spec is sent,
                // so the server checks the number (0 included) on its own.
                key_spec: key_spec.or(number_of_bytes.is_none().then_some(KeySpec::Aes256)),
                number_of_bytes,
                encryption_context: p.context,
            };
            if without_plaintext {
                let c = kms.generate_data_key_without_plaintext(request).await?;
                out(
                    json,
                    || json!({ "KeyId": c.key_id, "CiphertextBlob": b64(&c.ciphertext_blob), "KeyVersion": c.key_version }),
                    || {
                        lines(&[
                            ("KeyId", c.key_id.clone()),
                            ("KeyVersion", c.key_version.to_string()),
                            ("CiphertextBlob", b64(&c.ciphertext_blob)),
                        ])
                    },
                )
            } else {
                let dk = kms.generate_data_key(request).await?;
                // The plaintext is printed because that is what this command is for.
                out(
                    json,
                    || {
                        json!({
                            "KeyId": dk.key_id,
                            "Plaintext": b64(dk.plaintext.expose_secret()),
                            "CiphertextBlob": b64(&dk.ciphertext_blob),
                            "KeyVersion": dk.key_version,
                        })
                    },
                    || {
                        lines(&[
                            ("KeyId", dk.key_id.clone()),
                            ("KeyVersion", dk.key_version.to_string()),
                            ("Plaintext", b64(dk.plaintext.expose_secret())),
                            ("CiphertextBlob", b64(&dk.ciphertext_blob)),
                        ])
                    },
                )
            }
        }
        Command::Encrypt { key, .. } => {
            let data = p.data.unwrap_or_else(|| SecretBytes::new(Vec::new()));
            let c = kms
                .encrypt(EncryptRequest::new(key, data).encryption_context(p.context))
                .await?;
            out(
                json,
                || json!({ "KeyId": c.key_id, "CiphertextBlob": b64(&c.ciphertext_blob), "KeyVersion": c.key_version }),
                || {
                    lines(&[
                        ("KeyId", c.key_id.clone()),
                        ("KeyVersion", c.key_version.to_string()),
                        ("CiphertextBlob", b64(&c.ciphertext_blob)),
                    ])
                },
            )
        }
        Command::Decrypt { out: out_file, .. } => {
            let d = kms
                .decrypt(DecryptRequest::new(p.blob).encryption_context(p.context))
                .await?;
            if let Some(path) = &out_file {
                write_secret_file(path, d.plaintext.expose_secret())?;
                return out(
                    json,
                    || json!({ "KeyId": d.key_id, "KeyVersion": d.key_version }),
                    String::new,
                );
            }
            if json {
                Ok(Output::Json(json!({
                    "KeyId": d.key_id,
                    "Plaintext": b64(d.plaintext.expose_secret()),
                    "KeyVersion": d.key_version,
                })))
            } else {
                Ok(Output::Bytes(d.plaintext))
            }
        }
        Command::ReEncrypt { to, .. } => {
            let request = ReEncryptRequest {
                ciphertext_blob: p.blob,
                destination_key_id: to.unwrap_or_default(),
                source_encryption_context: p.source_context,
                destination_encryption_context: p.destination_context,
            };
            let r = kms.re_encrypt(request).await?;
            out(
                json,
                || {
                    json!({
                        "CiphertextBlob": b64(&r.ciphertext_blob),
                        "KeyId": r.key_id,
                        "KeyVersion": r.key_version,
                        "SourceKeyId": r.source_key_id,
                        "SourceKeyVersion": r.source_key_version,
                        "ReEncrypted": r.re_encrypted,
                    })
                },
                || {
                    lines(&[
                        ("KeyId", r.key_id.clone()),
                        ("KeyVersion", r.key_version.to_string()),
                        ("SourceKeyId", r.source_key_id.clone()),
                        ("SourceKeyVersion", r.source_key_version.to_string()),
                        ("ReEncrypted", r.re_encrypted.to_string()),
                        ("CiphertextBlob", b64(&r.ciphertext_blob)),
                    ])
                },
            )
        }
        Command::GenerateRandom { n, out: out_file } => {
            let bytes = kms.generate_random(n).await?;
            if let Some(path) = &out_file {
                write_secret_file(path, bytes.expose_secret())?;
                return out(json, || json!({}), String::new);
            }
            out(
                json,
                || json!({ "Plaintext": b64(bytes.expose_secret()) }),
                || format!("{}\n", b64(bytes.expose_secret())),
            )
        }
        Command::Seed { file } => {
            let s = kms.seed_keys(&p.document).await?;
            out(
                json,
                || json!({ "Changed": s.changed, "Total": s.total }),
                || {
                    format!(
                        "{}: {} keys, {} created or changed\n",
                        file.display(),
                        s.total,
                        s.changed
                    )
                },
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_joins_lines() {
        assert_eq!(one_line("a\n  b\tc\n"), "a b c");
    }

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
        assert!(e.message.starts_with("--context-json: "), "{}", e.message);
    }

    #[test]
    fn exit_status_classes() {
        let f = Failure::from(kms_client::Error::Timeout {
            timeout: std::time::Duration::from_secs(1),
        });
        assert_eq!(f.status, EXIT_UNREACHABLE);
        let f = Failure::from(kms_client::Error::Config("x".into()));
        assert_eq!(f.status, EXIT_USAGE);
        let f = Failure::from(kms_client::Error::Protocol("x".into()));
        assert_eq!(f.status, EXIT_REFUSED);
    }
}
