//! The Tencent actions of asymmetric keys: GetPublicKey, SignByAsymmetricKey and
//! VerifyByAsymmetricKey, each through the gRPC service's method (so gate, audit and metrics are
//! the gRPC path's). What is left here is the wire form: base64 text for bytes, `MessageType` as
//! `RAW` or `DIGEST`, the SDK's field names.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use kms_proto::pb::{self, key_management_service_server::KeyManagementService as _};
use serde::{Deserialize, Serialize};

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
        other => Err(ApiError::new(
            super::wire::code::INTERNAL_ERROR,
            format!("{} is not an asymmetric action", other.name()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_parameters_parse_with_exact_errors() {
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
