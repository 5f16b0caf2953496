//! Bring your own key: the wrapping parameters of an EXTERNAL key, importing its material and
//! deleting it. The material is wrapped outside kms-admin (openssl, a key ceremony tool): the
//! plaintext material never passes through this program.

use std::path::Path;

use kms_client::{KmsClient, WrappingAlgorithm};
use serde_json::json;

use crate::failure::Failure;
use crate::output::{Outcome, b64, out};

/// PEM (LF line endings, 64 columns) of a SubjectPublicKeyInfo DER.
fn public_key_pem(der: &[u8]) -> String {
    let text = b64(der);
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in text.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    pem
}

/// `import-parameters`: the wrapping public key to `out_file`, the token on stdout.
pub async fn parameters(
    kms: &KmsClient,
    key: &str,
    algorithm: WrappingAlgorithm,
    out_file: &Path,
    json: bool,
) -> Outcome {
    let p = kms.get_parameters_for_import(key, algorithm).await?;
    std::fs::write(out_file, public_key_pem(&p.public_key_der))
        .map_err(|e| Failure::usage(format!("cannot write {}: {e}", out_file.display())))?;
    out(
        json,
        || {
            json!({
                "KeyId": p.key_id,
                "ImportToken": p.import_token,
                "PublicKey": b64(&p.public_key_der),
                "ParametersValidTo": p.parameters_valid_to,
            })
        },
        || {
            format!(
                "import token {}\nvalid until {} (unix seconds)\nwrapping key ({}) written to {}\n",
                p.import_token,
                p.parameters_valid_to,
                algorithm.as_str(),
                out_file.display()
            )
        },
    )
}

/// `import-key-material`: the wrapped material from `input`.
pub async fn import(
    kms: &KmsClient,
    key: &str,
    token: &str,
    input: &Path,
    valid_to: i64,
    json: bool,
) -> Outcome {
    let wrapped = std::fs::read(input)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", input.display())))?;
    kms.import_key_material(key, &wrapped, token, valid_to)
        .await?;
    out(
        json,
        || json!({}),
        || {
            if valid_to == 0 {
                format!("key material imported into {key} (never expires)\n")
            } else {
                format!("key material imported into {key} (valid until {valid_to})\n")
            }
        },
    )
}

/// `delete-key-material`.
pub async fn delete(kms: &KmsClient, key: &str, json: bool) -> Outcome {
    kms.delete_imported_key_material(key).await?;
    out(
        json,
        || json!({}),
        || format!("key material of {key} deleted: the key is PendingImport\n"),
    )
}
