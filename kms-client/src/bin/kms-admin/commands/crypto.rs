//! Cryptographic calls: data keys, encrypt, decrypt, re-encrypt and random bytes. Plaintexts and
//! data keys are printed only because these commands exist to show them, or written to a file
//! only the owner can read.

use std::path::Path;

use kms_client::{
    DecryptRequest, EncryptRequest, GenerateDataKeyRequest, KeySpec, KmsClient, ReEncryptRequest,
    SecretBytes,
};
use serde_json::json;

use crate::input::Prepared;
use crate::output::{Outcome, Output, b64, lines, out, write_secret_file};

/// What kind of data key `generate-data-key` asks for.
pub struct DataKeySpec {
    pub key_spec: Option<KeySpec>,
    pub number_of_bytes: Option<u32>,
    pub without_plaintext: bool,
}

/// `generate-data-key`, under `input.context`; with `input.sealed_for`, the plaintext comes back
/// sealed.
pub async fn generate_data_key(
    kms: &KmsClient,
    key: String,
    spec: DataKeySpec,
    input: Prepared,
    json: bool,
) -> Outcome {
    let request = GenerateDataKeyRequest {
        key_id: key,
        // AES_256 when neither flag is given; with --number-of-bytes alone no spec is sent,
        // so the server checks the number (0 included) on its own.
        key_spec: spec
            .key_spec
            .or(spec.number_of_bytes.is_none().then_some(KeySpec::Aes256)),
        number_of_bytes: spec.number_of_bytes,
        encryption_context: input.context,
        sealed_for: input.sealed_for,
    };
    if spec.without_plaintext {
        let c = kms.generate_data_key_without_plaintext(request).await?;
        return out(
            json,
            || json!({ "KeyId": c.key_id, "CiphertextBlob": b64(&c.ciphertext_blob), "KeyVersion": c.key_version }),
            || {
                lines(&[
                    ("KeyId", c.key_id.clone()),
                    ("KeyVersion", c.key_version.to_string()),
                    ("CiphertextBlob", b64(&c.ciphertext_blob)),
                ])
            },
        );
    }
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

/// `encrypt` `input.data` under `input.context`.
pub async fn encrypt(kms: &KmsClient, key: String, input: Prepared, json: bool) -> Outcome {
    let data = input.data.unwrap_or_else(|| SecretBytes::new(Vec::new()));
    let c = kms
        .encrypt(EncryptRequest::new(key, data).encryption_context(input.context))
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

/// `decrypt` `input.blob` under `input.context`: the plaintext (sealed, with `input.sealed_for`) as
/// raw bytes on stdout, in the `--json` document, or to `out_file`.
pub async fn decrypt(
    kms: &KmsClient,
    out_file: Option<&Path>,
    input: Prepared,
    json: bool,
) -> Outcome {
    let mut request = DecryptRequest::new(input.blob).encryption_context(input.context);
    request.sealed_for = input.sealed_for;
    let d = kms.decrypt(request).await?;
    if let Some(path) = out_file {
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

/// `re-encrypt` `input.blob` from `input.source_context` to `input.destination_context`, under
/// the key `to` (or the blob's own key when `None`).
pub async fn re_encrypt(
    kms: &KmsClient,
    to: Option<String>,
    input: Prepared,
    json: bool,
) -> Outcome {
    let request = ReEncryptRequest {
        ciphertext_blob: input.blob,
        destination_key_id: to.unwrap_or_default(),
        source_encryption_context: input.source_context,
        destination_encryption_context: input.destination_context,
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

/// `generate-random`: `n` bytes as base64, or raw to `out_file`.
pub async fn generate_random(
    kms: &KmsClient,
    n: u32,
    out_file: Option<&Path>,
    json: bool,
) -> Outcome {
    let bytes = kms.generate_random(n).await?;
    if let Some(path) = out_file {
        write_secret_file(path, bytes.expose_secret())?;
        return out(json, || json!({}), String::new);
    }
    out(
        json,
        || json!({ "Plaintext": b64(bytes.expose_secret()) }),
        || format!("{}\n", b64(bytes.expose_secret())),
    )
}
