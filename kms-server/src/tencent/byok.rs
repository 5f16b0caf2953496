//! The Tencent actions of bring your own key: GetParametersForImport, ImportKeyMaterial and
//! DeleteImportedKeyMaterial, each through the gRPC service's method (so gate, audit and metrics
//! are the gRPC path's). What is left here is the wire form: base64 text for the public key and
//! the wrapped material, `ValidTo` and `ParametersValidTo` as integer unix seconds.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use kms_proto::pb::{self, key_management_service_server::KeyManagementService as _};
use serde::{Deserialize, Deserializer, Serialize, de::Error as _};

use super::{
    Call,
    actions::{answer, parse, required, to_json},
    wire::{ApiAction, ApiError},
};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetParametersForImport {
    key_id: Option<String>,
    wrapping_algorithm: Option<String>,
    wrapping_key_spec: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ParametersOut {
    key_id: String,
    import_token: String,
    /// Base64 of the wrapping key's SubjectPublicKeyInfo DER.
    public_key: String,
    parameters_valid_to: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImportKeyMaterial {
    key_id: Option<String>,
    encrypted_key_material: Option<String>,
    import_token: Option<String>,
    #[serde(default, deserialize_with = "unix_time")]
    valid_to: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyOnly {
    key_id: Option<String>,
}

/// A unix time as a JSON number (POST) or as text (a GET query).
fn unix_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("{n} is not a unix time"))),
        Some(serde_json::Value::String(t)) => t
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("{t:?} is not a unix time"))),
        Some(other) => Err(D::Error::custom(format!("{other} is not a unix time"))),
    }
}

fn empty() -> Result<serde_json::Value, ApiError> {
    Ok(serde_json::Value::Object(serde_json::Map::new()))
}

/// Runs one of the import actions.
pub(super) async fn run(
    call: &Call,
    action: ApiAction,
    params: serde_json::Value,
) -> Result<serde_json::Value, ApiError> {
    let s = &call.service;
    match action {
        ApiAction::GetParametersForImport => {
            let p: GetParametersForImport = parse(params)?;
            let r = s
                .get_parameters_for_import(call.request(pb::GetParametersForImportRequest {
                    key_id: required(p.key_id, "KeyId")?,
                    wrapping_algorithm: required(p.wrapping_algorithm, "WrappingAlgorithm")?,
                    wrapping_key_spec: required(p.wrapping_key_spec, "WrappingKeySpec")?,
                }))
                .await;
            let r = answer(r)?;
            to_json(ParametersOut {
                key_id: r.key_id,
                import_token: r.import_token,
                public_key: STANDARD.encode(r.public_key),
                parameters_valid_to: r.parameters_valid_to,
            })
        }
        ApiAction::ImportKeyMaterial => {
            let p: ImportKeyMaterial = parse(params)?;
            let key_id = required(p.key_id, "KeyId")?;
            let material = required(p.encrypted_key_material, "EncryptedKeyMaterial")?;
            let import_token = required(p.import_token, "ImportToken")?;
            let encrypted_key_material = kms_types::context::B64_LENIENT
                .decode(material.trim())
                .map_err(|_| ApiError::value("EncryptedKeyMaterial must be base64"))?;
            let valid_to = p.valid_to.unwrap_or(0);
            if valid_to < 0 {
                return Err(ApiError::value(format!(
                    "ValidTo must be 0 (never expires) or a unix time, got {valid_to}"
                )));
            }
            answer(
                s.import_key_material(call.request(pb::ImportKeyMaterialRequest {
                    key_id,
                    encrypted_key_material,
                    import_token,
                    valid_to,
                }))
                .await,
            )?;
            empty()
        }
        ApiAction::DeleteImportedKeyMaterial => {
            let p: KeyOnly = parse(params)?;
            answer(
                s.delete_imported_key_material(call.request(
                    pb::DeleteImportedKeyMaterialRequest {
                        key_id: required(p.key_id, "KeyId")?,
                    },
                ))
                .await,
            )?;
            empty()
        }
        _ => Err(ApiError::unsupported(format!(
            "{} is not an import action",
            action.name()
        ))),
    }
}
