//! The Tencent actions of asymmetric keys: GetPublicKey, SignByAsymmetricKey,
//! VerifyByAsymmetricKey, AsymmetricRsaDecrypt and AsymmetricSm2Decrypt, each through the gRPC
//! service's method (so gate, audit and metrics are the gRPC path's). What is left here is the
//! wire form: base64 text for bytes, `MessageType` as `RAW` or `DIGEST`, the SDK's field names.
//! (`EncryptionPublicKey` of GenerateDataKey and Decrypt is the gRPC calls' own field: the
//! service seals the plaintext, see `crate::service`.)

use base64::{Engine as _, engine::general_purpose::STANDARD};
use kms_proto::pb::{self, key_management_service_server::KeyManagementService as _};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::asymmetric::DecryptAlgorithm;

use super::{
    Call,
    actions::{answer, parse, required, to_json},
    wire::{ApiAction, ApiError},
};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetPublicKey {
    key_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PublicKeyOut {
    key_id: String,
    /// Base64 of the SubjectPublicKeyInfo DER.
    public_key: String,
    public_key_pem: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Sign {
    key_id: Option<String>,
    algorithm: Option<String>,
    message: Option<String>,
    message_type: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SignOut {
    signature: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Verify {
    key_id: Option<String>,
    algorithm: Option<String>,
    message: Option<String>,
    message_type: Option<String>,
    signature_value: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct VerifyOut {
    signature_valid: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RsaDecrypt {
    key_id: Option<String>,
    ciphertext: Option<String>,
    algorithm: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Sm2Decrypt {
    key_id: Option<String>,
    ciphertext: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptOut {
    key_id: String,
    /// Base64 of the plaintext.
    plaintext: String,
}

/// AsymmetricRsaDecrypt's `Algorithm`: one of the RSAES names (SM2 has its own action).
fn rsa_algorithm(text: String) -> Result<String, ApiError> {
    if DecryptAlgorithm::RSA.iter().any(|a| a.as_str() == text) {
        return Ok(text);
    }
    let known: Vec<&str> = DecryptAlgorithm::RSA.iter().map(|a| a.as_str()).collect();
    Err(ApiError::value(format!(
        "Algorithm must be one of {known:?}, got {text:?}"
    )))
}

/// `MessageType`: `RAW` (the default) or `DIGEST`.
fn message_type(text: Option<&str>) -> Result<pb::MessageType, ApiError> {
    match text.unwrap_or("") {
        "" | "RAW" => Ok(pb::MessageType::Raw),
        "DIGEST" => Ok(pb::MessageType::Digest),
        other => Err(ApiError::value(format!(
            "MessageType must be RAW or DIGEST, got {other:?}"
        ))),
    }
}

/// A base64 parameter's bytes.
fn bytes(text: String, name: &str) -> Result<Vec<u8>, ApiError> {
    STANDARD
        .decode(text)
        .map_err(|_| ApiError::value(format!("{name} must be base64")))
}

/// The message of a Sign or Verify: its bytes and kind.
fn message(
    message: Option<String>,
    kind: Option<&str>,
) -> Result<(Vec<u8>, pb::MessageType), ApiError> {
    let kind = message_type(kind)?;
    Ok((bytes(required(message, "Message")?, "Message")?, kind))
}

/// Runs one of the asymmetric actions.
pub(super) async fn run(
    call: &Call,
    action: ApiAction,
    params: serde_json::Value,
) -> Result<serde_json::Value, ApiError> {
    let s = &call.service;
    match action {
        ApiAction::GetPublicKey => {
            let p: GetPublicKey = parse(params)?;
            let key_id = required(p.key_id, "KeyId")?;
            let r = s
                .get_public_key(call.request(pb::GetPublicKeyRequest { key_id }))
                .await;
            let k = answer(r)?;
            to_json(PublicKeyOut {
                key_id: k.key_id,
                public_key: STANDARD.encode(&k.public_key),
                public_key_pem: k.public_key_pem,
            })
        }
        ApiAction::SignByAsymmetricKey => {
            let p: Sign = parse(params)?;
            let key_id = required(p.key_id, "KeyId")?;
            let algorithm = required(p.algorithm, "Algorithm")?;
            let (message, kind) = message(p.message, p.message_type.as_deref())?;
            let r = s
                .sign(call.request(pb::SignRequest {
                    key_id,
                    algorithm,
                    message,
                    message_type: kind as i32,
                }))
                .await;
            to_json(SignOut {
                signature: STANDARD.encode(answer(r)?.signature),
            })
        }
        ApiAction::VerifyByAsymmetricKey => {
            let p: Verify = parse(params)?;
            let key_id = required(p.key_id, "KeyId")?;
            let algorithm = required(p.algorithm, "Algorithm")?;
            let signature = bytes(
                required(p.signature_value, "SignatureValue")?,
                "SignatureValue",
            )?;
            let (message, kind) = message(p.message, p.message_type.as_deref())?;
            let r = s
                .verify(call.request(pb::VerifyRequest {
                    key_id,
                    algorithm,
                    message,
                    message_type: kind as i32,
                    signature,
                }))
                .await;
            to_json(VerifyOut {
                signature_valid: answer(r)?.signature_valid,
            })
        }
        ApiAction::AsymmetricRsaDecrypt => {
            let p: RsaDecrypt = parse(params)?;
            let key_id = required(p.key_id, "KeyId")?;
            let ciphertext = bytes(required(p.ciphertext, "Ciphertext")?, "Ciphertext")?;
            let algorithm = rsa_algorithm(required(p.algorithm, "Algorithm")?)?;
            decrypt(call, key_id, algorithm, ciphertext).await
        }
        ApiAction::AsymmetricSm2Decrypt => {
            let p: Sm2Decrypt = parse(params)?;
            let key_id = required(p.key_id, "KeyId")?;
            let ciphertext = bytes(required(p.ciphertext, "Ciphertext")?, "Ciphertext")?;
            let algorithm = DecryptAlgorithm::Sm2.as_str().to_owned();
            decrypt(call, key_id, algorithm, ciphertext).await
        }
        other => Err(ApiError::new(
            super::wire::code::INTERNAL_ERROR,
            format!("{} is not an asymmetric action", other.name()),
        )),
    }
}

/// Either decryption action, through the gRPC method.
async fn decrypt(
    call: &Call,
    key_id: String,
    algorithm: String,
    ciphertext: Vec<u8>,
) -> Result<serde_json::Value, ApiError> {
    let r = call
        .service
        .asymmetric_decrypt(call.request(pb::AsymmetricDecryptRequest {
            key_id,
            algorithm,
            ciphertext,
        }))
        .await;
    let d = answer(r)?;
    let plaintext = Zeroizing::new(d.plaintext);
    to_json(DecryptOut {
        key_id: d.key_id,
        plaintext: STANDARD.encode(&*plaintext),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_parameters_parse_with_exact_errors() {
        assert_eq!(
            rsa_algorithm("RSAES_PKCS1_V1_5".into()).unwrap(),
            "RSAES_PKCS1_V1_5"
        );
        let e = rsa_algorithm("SM2".into()).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                "InvalidParameterValue",
                "Algorithm must be one of [\"RSAES_PKCS1_V1_5\", \"RSAES_OAEP_SHA_1\", \
                 \"RSAES_OAEP_SHA_256\"], got \"SM2\""
            )
        );
        assert_eq!(message_type(None), Ok(pb::MessageType::Raw));
        assert_eq!(message_type(Some("RAW")), Ok(pb::MessageType::Raw));
        assert_eq!(message_type(Some("DIGEST")), Ok(pb::MessageType::Digest));
        let e = message_type(Some("digest")).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                "InvalidParameterValue",
                "MessageType must be RAW or DIGEST, got \"digest\""
            )
        );
        let e = message(Some("not base64!".into()), None).unwrap_err();
        assert_eq!(e.message, "Message must be base64");
        let e = message(None, None).unwrap_err();
        assert_eq!(e.code, "MissingParameter");
        assert_eq!(
            message(Some("AAE=".into()), Some("DIGEST")).unwrap(),
            (vec![0, 1], pb::MessageType::Digest)
        );
    }
}
