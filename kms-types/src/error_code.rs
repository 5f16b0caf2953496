//! The Tencent KMS error codes, and the gRPC metadata entry that carries them.
//!
//! The server puts the code of every refusal in [`ERROR_CODE_METADATA`] (and in the `error_code` of
//! a batch item); the client classifies errors by it. Both read the spellings from here, so a typo
//! on one side cannot silently turn a code into an unknown one.

use std::fmt;

/// The gRPC metadata entry in which the server sends the Tencent KMS error code of a failed call.
pub const ERROR_CODE_METADATA: &str = "x-kms-error-code";

/// A Tencent KMS error code this KMS sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `InvalidParameterValue`: a request field breaks a rule.
    InvalidParameterValue,
    /// `InvalidParameterValue.InvalidCiphertext`: a ciphertext blob does not open (whatever the
    /// reason: tampered, truncated, another context, another server, a deleted key).
    InvalidCiphertext,
    /// `InvalidParameterValue.AliasAlreadyExists`: another key has this alias.
    AliasAlreadyExists,
    /// `ResourceUnavailable.CmkNotFound`: no key has this id or alias.
    CmkNotFound,
    /// `ResourceUnavailable.CmkDisabled`: the key is disabled.
    CmkDisabled,
    /// `ResourceUnavailable.CmkArchived`: the key is archived.
    CmkArchived,
    /// `ResourceUnavailable.CmkStateNotSupport`: the key's state forbids the action.
    CmkStateNotSupport,
    /// `ResourceUnavailable.CmkShouldBeDisabled`: the action needs a disabled key.
    CmkShouldBeDisabled,
    /// `ResourceUnavailable.CmkNotPendingDelete`: the action needs a key pending deletion.
    CmkNotPendingDelete,
    /// `UnsupportedOperation.ExternalCmkCanNotRotate`: the key's material was imported.
    ExternalCmkCanNotRotate,
    /// `UnsupportedOperation.NotUserCreatedCmk`: the key is owned by a service.
    NotUserCreatedCmk,
    /// `InvalidParameterValue.InvalidKeyUsage`: a key usage that does not exist, or a key whose
    /// usage does not allow the call (Encrypt with a signing key, Sign with a symmetric key).
    InvalidKeyUsage,
    /// `UnsupportedOperation.RotateNotSupported`: the key cannot rotate (an asymmetric key).
    RotateNotSupported,
    /// `InternalError`: a server fault.
    InternalError,
    /// `AuthFailure`: the call carries no credential, or one no identity of the policy holds
    /// (gRPC `UNAUTHENTICATED`).
    AuthFailure,
    /// `UnauthorizedOperation`: the caller's identity may not make this call on this key (gRPC
    /// `PERMISSION_DENIED`).
    UnauthorizedOperation,
    /// `UnsupportedOperation.ServiceTemporaryUnavailable`: the key store stayed locked by another
    /// process past its wait bound; nothing was changed, the call may be repeated (gRPC
    /// `UNAVAILABLE`).
    ServiceTemporaryUnavailable,
    /// `UnsupportedOperation`: the key cannot do this at all (no longer sent: an import action on
    /// a generated key is [`ErrorCode::NotExternalCmk`]; kept so older servers' answers read).
    UnsupportedOperation,
    /// `InvalidParameter.DecryptMaterialError`: imported key material does not decrypt under the
    /// wrapping key of its import token.
    DecryptMaterialError,
    /// `InvalidParameterValue.MaterialNotMatch`: material imported into a key that holds other
    /// material.
    MaterialNotMatch,
    /// `ResourceUnavailable.TokenExpired`: the import token (and its wrapping key) expired.
    TokenExpired,
    /// `InvalidParameterValue.DuplicatedKeyId`: a list of key ids (DescribeKeys, EnableKeys,
    /// DisableKeys) names a key twice.
    DuplicatedKeyId,
    /// `InvalidParameterValue.TagKeysDuplicated`: CreateKey's tags name a tag key twice.
    TagKeysDuplicated,
    /// `UnsupportedOperation.NotExternalCmk`: an import action on a key whose material this KMS
    /// generated (not created with `Type=2`, origin EXTERNAL).
    NotExternalCmk,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 24] = [
        Self::InvalidParameterValue,
        Self::InvalidCiphertext,
        Self::AliasAlreadyExists,
        Self::CmkNotFound,
        Self::CmkDisabled,
        Self::CmkArchived,
        Self::CmkStateNotSupport,
        Self::CmkShouldBeDisabled,
        Self::CmkNotPendingDelete,
        Self::ExternalCmkCanNotRotate,
        Self::NotUserCreatedCmk,
        Self::InvalidKeyUsage,
        Self::RotateNotSupported,
        Self::InternalError,
        Self::AuthFailure,
        Self::UnauthorizedOperation,
        Self::ServiceTemporaryUnavailable,
        Self::UnsupportedOperation,
        Self::DecryptMaterialError,
        Self::MaterialNotMatch,
        Self::TokenExpired,
        Self::DuplicatedKeyId,
        Self::TagKeysDuplicated,
        Self::NotExternalCmk,
    ];

    /// The code as Tencent spells it, e.g. `ResourceUnavailable.CmkDisabled`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidParameterValue => "InvalidParameterValue",
            Self::InvalidCiphertext => "InvalidParameterValue.InvalidCiphertext",
            Self::AliasAlreadyExists => "InvalidParameterValue.AliasAlreadyExists",
            Self::CmkNotFound => "ResourceUnavailable.CmkNotFound",
            Self::CmkDisabled => "ResourceUnavailable.CmkDisabled",
            Self::CmkArchived => "ResourceUnavailable.CmkArchived",
            Self::CmkStateNotSupport => "ResourceUnavailable.CmkStateNotSupport",
            Self::CmkShouldBeDisabled => "ResourceUnavailable.CmkShouldBeDisabled",
            Self::CmkNotPendingDelete => "ResourceUnavailable.CmkNotPendingDelete",
            Self::ExternalCmkCanNotRotate => "UnsupportedOperation.ExternalCmkCanNotRotate",
            Self::NotUserCreatedCmk => "UnsupportedOperation.NotUserCreatedCmk",
            Self::InvalidKeyUsage => "InvalidParameterValue.InvalidKeyUsage",
            Self::RotateNotSupported => "UnsupportedOperation.RotateNotSupported",
            Self::InternalError => "InternalError",
            Self::AuthFailure => "AuthFailure",
            Self::UnauthorizedOperation => "UnauthorizedOperation",
            Self::ServiceTemporaryUnavailable => "UnsupportedOperation.ServiceTemporaryUnavailable",
            Self::UnsupportedOperation => "UnsupportedOperation",
            Self::DecryptMaterialError => "InvalidParameter.DecryptMaterialError",
            Self::MaterialNotMatch => "InvalidParameterValue.MaterialNotMatch",
            Self::TokenExpired => "ResourceUnavailable.TokenExpired",
            Self::DuplicatedKeyId => "InvalidParameterValue.DuplicatedKeyId",
            Self::TagKeysDuplicated => "InvalidParameterValue.TagKeysDuplicated",
            Self::NotExternalCmk => "UnsupportedOperation.NotExternalCmk",
        }
    }

    /// The code with this exact spelling, if it is one this KMS sends.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == code)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spellings are a wire contract with Tencent KMS clients: frozen here.
    #[test]
    fn spellings_are_frozen() {
        let spelled: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            spelled,
            [
                "InvalidParameterValue",
                "InvalidParameterValue.InvalidCiphertext",
                "InvalidParameterValue.AliasAlreadyExists",
                "ResourceUnavailable.CmkNotFound",
                "ResourceUnavailable.CmkDisabled",
                "ResourceUnavailable.CmkArchived",
                "ResourceUnavailable.CmkStateNotSupport",
                "ResourceUnavailable.CmkShouldBeDisabled",
                "ResourceUnavailable.CmkNotPendingDelete",
                "UnsupportedOperation.ExternalCmkCanNotRotate",
                "UnsupportedOperation.NotUserCreatedCmk",
                "InvalidParameterValue.InvalidKeyUsage",
                "UnsupportedOperation.RotateNotSupported",
                "InternalError",
                "AuthFailure",
                "UnauthorizedOperation",
                "UnsupportedOperation.ServiceTemporaryUnavailable",
                "UnsupportedOperation",
                "InvalidParameter.DecryptMaterialError",
                "InvalidParameterValue.MaterialNotMatch",
                "ResourceUnavailable.TokenExpired",
                "InvalidParameterValue.DuplicatedKeyId",
                "InvalidParameterValue.TagKeysDuplicated",
                "UnsupportedOperation.NotExternalCmk",
            ]
        );
        assert_eq!(ERROR_CODE_METADATA, "x-kms-error-code");
    }

    #[test]
    fn every_code_reads_back() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(code.as_str()), Some(code));
            assert_eq!(code.to_string(), code.as_str());
        }
        assert_eq!(ErrorCode::from_code("ResourceUnavailable.CmkGone"), None);
        assert_eq!(ErrorCode::from_code("internalerror"), None);
        assert_eq!(ErrorCode::from_code(""), None);
    }
}
