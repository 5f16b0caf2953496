//! The Tencent Cloud API 3.0 wire: the action names (parsed once into [`ApiAction`]), the response
//! envelope, and the error codes of the front end itself. The codes the KMS core gives arrive
//! already mapped (the `x-kms-error-code` of the gRPC status, [`crate::Error::tencent_code`]).
//!
//! Every answer is HTTP 200 with `Content-Type: application/json` exactly (the Python SDK ignores
//! an error body whose content type carries a charset, and the call then "succeeds" empty):
//! `{"Response": {<fields>, "RequestId": "<uuid>"}}` or
//! `{"Response": {"Error": {"Code": "...", "Message": "..."}, "RequestId": "<uuid>"}}`.

use serde::Serialize;

/// The API version every request must name in `X-TC-Version`.
pub const API_VERSION: &str = "2019-01-18";
/// The response content type, exactly.
pub const CONTENT_TYPE: &str = "application/json";

/// Error codes the front end sends itself (Tencent Cloud API 3.0 common codes).
pub mod code {
    /// The Authorization header is missing or malformed.
    pub const AUTH_INVALID_AUTHORIZATION: &str = "AuthFailure.InvalidAuthorization";
    /// The signature does not match.
    pub const AUTH_SIGNATURE_FAILURE: &str = "AuthFailure.SignatureFailure";
    /// `X-TC-Timestamp` is too far from the server's clock.
    pub const AUTH_SIGNATURE_EXPIRE: &str = "AuthFailure.SignatureExpire";
    /// No credential has this SecretId.
    pub const AUTH_SECRET_ID_NOT_FOUND: &str = "AuthFailure.SecretIdNotFound";
    /// `X-TC-Token` is missing, wrong, or sent with a permanent pair.
    pub const AUTH_TOKEN_FAILURE: &str = "AuthFailure.TokenFailure";
    /// No such action.
    pub const INVALID_ACTION: &str = "InvalidAction";
    /// A required parameter (or header) is missing.
    pub const MISSING_PARAMETER: &str = "MissingParameter";
    /// A parameter has the wrong type, or the body is not a JSON object.
    pub const INVALID_PARAMETER: &str = "InvalidParameter";
    /// A parameter's value breaks a rule.
    pub const INVALID_PARAMETER_VALUE: &str = "InvalidParameterValue";
    /// The version in `X-TC-Version` is not this API's.
    pub const NO_SUCH_VERSION: &str = "NoSuchVersion";
    /// The body is larger than [`super::super::MAX_BODY_BYTES`].
    pub const REQUEST_SIZE_LIMIT_EXCEEDED: &str = "RequestSizeLimitExceeded";
    /// A real Tencent KMS action, or an option of one, that this emulator does not implement.
    pub const UNSUPPORTED_OPERATION: &str = "UnsupportedOperation";
    /// A method other than POST and GET, or a content type other than JSON (POST) and a query (GET).
    pub const UNSUPPORTED_PROTOCOL: &str = "UnsupportedProtocol";
    /// A fault of the server.
    pub const INTERNAL_ERROR: &str = "InternalError";
    /// `Plaintext` is not base64.
    pub const INVALID_PLAINTEXT: &str = "InvalidParameterValue.InvalidPlaintext";
    /// `CiphertextBlob` is not base64 (the core sends the same code for a blob that does not open).
    pub const INVALID_CIPHERTEXT: &str = "InvalidParameterValue.InvalidCiphertext";
    /// An alias breaks the alias rules.
    pub const INVALID_ALIAS: &str = "InvalidParameterValue.InvalidAlias";
    /// CreateKey's `Type` is neither 1 nor 2.
    pub const INVALID_TYPE: &str = "InvalidParameterValue.InvalidType";
    /// CreateKey's `KeyUsage` is not a usage Tencent KMS knows.
    pub const INVALID_KEY_USAGE: &str = "InvalidParameterValue.InvalidKeyUsage";
    /// ScheduleKeyDeletion's window is outside 7..=30 days.
    pub const INVALID_PENDING_WINDOW: &str = "InvalidParameter.InvalidPendingWindowInDays";

    /// Every code above, in their order.
    pub const ALL: [&str; 20] = [
        AUTH_INVALID_AUTHORIZATION,
        AUTH_SIGNATURE_FAILURE,
        AUTH_SIGNATURE_EXPIRE,
        AUTH_SECRET_ID_NOT_FOUND,
        AUTH_TOKEN_FAILURE,
        INVALID_ACTION,
        MISSING_PARAMETER,
        INVALID_PARAMETER,
        INVALID_PARAMETER_VALUE,
        NO_SUCH_VERSION,
        REQUEST_SIZE_LIMIT_EXCEEDED,
        UNSUPPORTED_OPERATION,
        UNSUPPORTED_PROTOCOL,
        INTERNAL_ERROR,
        INVALID_PLAINTEXT,
        INVALID_CIPHERTEXT,
        INVALID_ALIAS,
        INVALID_TYPE,
        INVALID_KEY_USAGE,
        INVALID_PENDING_WINDOW,
    ];

    /// Whether the API can answer with `code`: one of the front end's own ([`ALL`]) or one the
    /// KMS core's errors map to ([`kms_types::ErrorCode`]).
    pub fn is_sent(code: &str) -> bool {
        ALL.contains(&code) || kms_types::ErrorCode::from_code(code).is_some()
    }
}

/// A refusal as the API sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The Tencent error code.
    pub code: &'static str,
    /// What went wrong, for a person (never a secret).
    pub message: String,
}

impl ApiError {
    /// An error with this code and message.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A required parameter is absent.
    pub fn missing(name: &str) -> Self {
        Self::new(
            code::MISSING_PARAMETER,
            format!("the parameter {name} is required"),
        )
    }

    /// A value breaks a rule.
    pub fn value(message: impl Into<String>) -> Self {
        Self::new(code::INVALID_PARAMETER_VALUE, message)
    }

    /// Not implemented by this emulator.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(code::UNSUPPORTED_OPERATION, message)
    }
}

/// The success envelope: the action's fields and the request id, under `Response`.
#[derive(Serialize)]
struct Success<'a, T> {
    #[serde(rename = "Response")]
    response: SuccessBody<'a, T>,
}

#[derive(Serialize)]
struct SuccessBody<'a, T> {
    #[serde(flatten)]
    fields: &'a T,
    #[serde(rename = "RequestId")]
    request_id: &'a str,
}

#[derive(Serialize)]
struct Failure<'a> {
    #[serde(rename = "Response")]
    response: FailureBody<'a>,
}

#[derive(Serialize)]
struct FailureBody<'a> {
    #[serde(rename = "Error")]
    error: ErrorFields<'a>,
    #[serde(rename = "RequestId")]
    request_id: &'a str,
}

#[derive(Serialize)]
struct ErrorFields<'a> {
    #[serde(rename = "Code")]
    code: &'a str,
    #[serde(rename = "Message")]
    message: &'a str,
}

/// The body of an answer: the action's fields, or the error.
pub fn envelope<T: Serialize>(result: &Result<T, ApiError>, request_id: &str) -> Vec<u8> {
    let encoded = match result {
        Ok(fields) => serde_json::to_vec(&Success {
            response: SuccessBody { fields, request_id },
        }),
        Err(e) => serde_json::to_vec(&failure(e, request_id)),
    };
    encoded.unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot encode a response");
        serde_json::to_vec(&failure(
            &ApiError::new(code::INTERNAL_ERROR, "internal error"),
            request_id,
        ))
        .expect("an error envelope of plain strings always encodes")
    })
}

fn failure<'a>(e: &'a ApiError, request_id: &'a str) -> Failure<'a> {
    Failure {
        response: FailureBody {
            error: ErrorFields {
                code: e.code,
                message: &e.message,
            },
            request_id,
        },
    }
}

macro_rules! actions {
    (implemented: $($name:ident),* ; unsupported: $($other:ident),* $(,)?) => {
        /// A Tencent KMS action this front end serves.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ApiAction {
            $(
                #[doc = concat!("`", stringify!($name), "`.")]
                $name,
            )*
        }

        impl ApiAction {
            /// The action's Tencent name (`Encrypt`), as the audit log writes it.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$name => stringify!($name),)*
                }
            }

            /// The action an `X-TC-Action` value names: an implemented one, or the refusal a real
            /// but unimplemented Tencent action (UnsupportedOperation) or an unknown name
            /// (InvalidAction) gets.
            pub fn parse(name: &str) -> Result<Self, ApiError> {
                match name {
                    $(stringify!($name) => Ok(Self::$name),)*
                    $(stringify!($other))|* => Err(ApiError::unsupported(format!(
                        "{name} is a Tencent KMS action this emulator does not implement \
                         (white-box, post-quantum, hosted data key and cloud-binding \
                         actions are out of scope for now)"
                    ))),
                    _ => Err(ApiError::new(
                        code::INVALID_ACTION,
                        format!("the action {name:?} does not exist in kms {API_VERSION}"),
                    )),
                }
            }
        }
    };
}

actions! {
    implemented: CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey, ScheduleKeyDeletion,
        CancelKeyDeletion, ArchiveKey, CancelKeyArchive, UpdateAlias, UpdateKeyDescription,
        EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKey, GenerateDataKey,
        Encrypt, Decrypt, ReEncrypt, GenerateRandom, DescribeKeys, EnableKeys, DisableKeys,
        ListKeyDetail, GetServiceStatus, GetRegions, ListAlgorithms, GetPublicKey,
        SignByAsymmetricKey, VerifyByAsymmetricKey, AsymmetricRsaDecrypt, AsymmetricSm2Decrypt,
        GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial;
    unsupported: BindCloudResource,
        CancelDataKeyDeletion, CreateWhiteBoxKey, DeleteWhiteBoxKey,
        DescribeDataKey, DescribeDataKeys, DescribeWhiteBoxDecryptKey,
        DescribeWhiteBoxDeviceFingerprints, DescribeWhiteBoxKey, DescribeWhiteBoxKeyDetails,
        DescribeWhiteBoxServiceStatus, DisableDataKey, DisableDataKeys,
        DisableWhiteBoxKey, DisableWhiteBoxKeys, EnableDataKey, EnableDataKeys,
        EnableWhiteBoxKey, EnableWhiteBoxKeys, EncryptByWhiteBox, GetDataKeyCiphertextBlob,
        GetDataKeyPlaintext,
        ImportDataKey, ListDataKeyDetail, ListDataKeys,
        OverwriteWhiteBoxDeviceFingerprints, PostQuantumCryptoDecrypt,
        PostQuantumCryptoEncrypt, PostQuantumCryptoSign, PostQuantumCryptoVerify,
        ScheduleDataKeyDeletion, UnbindCloudResource, UpdateDataKeyDescription,
        UpdateDataKeyName,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_parse_once_into_three_answers() {
        assert_eq!(ApiAction::parse("Encrypt"), Ok(ApiAction::Encrypt));
        assert_eq!(ApiAction::DescribeKeys.name(), "DescribeKeys");
        assert_eq!(
            ApiAction::parse("CreateWhiteBoxKey").unwrap_err().code,
            code::UNSUPPORTED_OPERATION
        );
        assert_eq!(
            ApiAction::parse("encrypt").unwrap_err().code,
            code::INVALID_ACTION
        );
        assert_eq!(
            ApiAction::parse("Fly").unwrap_err().code,
            code::INVALID_ACTION
        );
    }

    /// [`code::ALL`] lists every code constant of the module (counted in this file's source).
    #[test]
    fn the_code_list_is_complete() {
        let source = include_str!("wire.rs");
        let module = &source[source.find("pub mod code {").unwrap()..];
        let module = &module[..module.find("\n}\n").unwrap()];
        let declared: Vec<&str> = module
            .lines()
            .filter_map(|l| l.trim().strip_prefix("pub const "))
            .filter_map(|l| l.split_once(": &str = "))
            .map(|(_, v)| v.trim_end_matches(';').trim_matches('"'))
            .collect();
        assert_eq!(declared, code::ALL);
        assert!(code::is_sent("ResourceUnavailable.CmkNotFound"));
        assert!(code::is_sent(code::NO_SUCH_VERSION));
        assert!(!code::is_sent("FailedOperation"));
    }

    #[test]
    fn envelopes_are_the_clouds() {
        #[derive(Serialize)]
        struct F {
            #[serde(rename = "KeyId")]
            key_id: &'static str,
        }
        let ok = envelope(&Ok::<_, ApiError>(F { key_id: "k" }), "r");
        assert_eq!(ok, br#"{"Response":{"KeyId":"k","RequestId":"r"}}"#);
        let err = envelope(&Err::<F, _>(ApiError::missing("KeyId")), "r");
        assert_eq!(
            String::from_utf8(err).unwrap(),
            r#"{"Response":{"Error":{"Code":"MissingParameter","Message":"the parameter KeyId is required"},"RequestId":"r"}}"#
        );
    }
}
