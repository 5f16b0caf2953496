//! Asymmetric keys: the public key, signatures, and decryption of what was encrypted under the
//! public key. Public keys and signatures are public; a plaintext is printed only because
//! `asymmetric-decrypt` exists to show it, or written to a file only the owner can read.

use std::path::Path;

use kms_client::{DecryptAlgorithm, KmsClient, MessageType};
use serde_json::json;

use crate::cli::MessageArgs;
use crate::failure::{EXIT_REFUSED, Failure};
use crate::input::Prepared;
use crate::output::{Outcome, Output, b64, lines, out, write_secret_file};

fn message_type(m: &MessageArgs) -> MessageType {
    if m.digest {
        MessageType::Digest
    } else {
        MessageType::Raw
    }
}

/// `public-key`: PEM on stdout (or to `out_file`); `--json` gives the DER too.
pub async fn public_key(
    kms: &KmsClient,
    key: &str,
    out_file: Option<&Path>,
    json: bool,
) -> Outcome {
    let p = kms.get_public_key(key).await?;
    if let Some(path) = out_file {
        std::fs::write(path, &p.pem)
            .map_err(|e| Failure::usage(format!("cannot write {}: {e}", path.display())))?;
    }
    out(
        json,
        || {
            json!({
                "KeyId": p.key_id,
                "KeyUsage": p.key_usage,
                "PublicKey": b64(&p.der),
                "PublicKeyPem": p.pem,
            })
        },
        || {
            if out_file.is_some() {
                String::new()
            } else {
                p.pem.clone()
            }
        },
    )
}

/// `sign` `input.message`.
pub async fn sign(
    kms: &KmsClient,
    key: &str,
    m: &MessageArgs,
    input: Prepared,
    json: bool,
) -> Outcome {
    let s = kms
        .sign(key, m.algorithm, message_type(m), &input.message)
        .await?;
    out(
        json,
        || json!({ "KeyId": s.key_id, "Signature": b64(&s.signature) }),
        || format!("{}\n", b64(&s.signature)),
    )
}

/// `verify` `input.signature` of `input.message`: a signature that does not verify is a failure
/// (exit status 1), so scripts can test the status alone.
pub async fn verify(
    kms: &KmsClient,
    key: &str,
    m: &MessageArgs,
    input: Prepared,
    json: bool,
) -> Outcome {
    let valid = kms
        .verify(
            key,
            m.algorithm,
            message_type(m),
            &input.message,
            &input.signature,
        )
        .await?;
    if !valid {
        return Err(Failure {
            message: "the signature is not valid".to_owned(),
            status: EXIT_REFUSED,
        });
    }
    out(
        json,
        || json!({ "SignatureValid": true }),
        || lines(&[("SignatureValid", "true".to_owned())]),
    )
}

/// `asymmetric-decrypt` `input.blob`: the plaintext as raw bytes on stdout, in the `--json`
/// document, or to `out_file`.
pub async fn decrypt(
    kms: &KmsClient,
    key: &str,
    algorithm: DecryptAlgorithm,
    out_file: Option<&Path>,
    input: Prepared,
    json: bool,
) -> Outcome {
    let d = kms.asymmetric_decrypt(key, algorithm, &input.blob).await?;
    if let Some(path) = out_file {
        write_secret_file(path, d.plaintext.expose_secret())?;
        return out(json, || json!({ "KeyId": d.key_id }), String::new);
    }
    if json {
        Ok(Output::Json(json!({
            "KeyId": d.key_id,
            "Plaintext": b64(d.plaintext.expose_secret()),
        })))
    } else {
        Ok(Output::Bytes(d.plaintext))
    }
}
