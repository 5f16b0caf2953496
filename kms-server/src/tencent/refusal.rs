//! What the Tencent layer refuses itself once the signature has verified, and the audit line of
//! each such refusal.
//!
//! The gRPC method a Tencent action runs through holds the policy gate and writes the call's
//! audit line. Everything the Tencent layer checks before it hands the call over (the API version,
//! the action name, the body, each parameter's wire form) would otherwise be answered with no line
//! at all, and, checked before the gate, would tell an identity that may not make the call which of
//! its parameters were wrong. So, in this order:
//! 1. the action-level part of the policy is asked here ([`check_action`]) as soon as the action is
//!    known, before any parameter is read: an identity that may not call it gets the gate's own
//!    `UnauthorizedOperation` and learns nothing else (the key-level part stays with the gate,
//!    which alone resolves keys);
//! 2. a refusal made here is written to the audit log ([`record`]) as the gRPC method writes its
//!    own: the identity, the action's gRPC name, the gRPC status and the Tencent code. A call
//!    that reached the gRPC method is never written here again (see `Call::handed_over`).

use std::net::SocketAddr;

use tonic::Code;

use super::wire::{ApiAction, ApiError, code};
use crate::{
    access::{Action, Identity},
    audit::{AuditEvent, Outcome, RequestId},
    service::Observers,
};

/// The policy action (the gRPC RPC) a Tencent action runs as; `None` for the actions that
/// describe the service rather than a key, which every verified caller may make.
pub(super) fn policy_action(action: ApiAction) -> Option<Action> {
    use ApiAction as A;
    Some(match action {
        A::CreateKey => Action::CreateKey,
        A::DescribeKey => Action::DescribeKey,
        // ListKeyDetail is one gRPC ListKeys with filters.
        A::ListKeys | A::ListKeyDetail => Action::ListKeys,
        A::EnableKey => Action::EnableKey,
        A::DisableKey => Action::DisableKey,
        A::ScheduleKeyDeletion => Action::ScheduleKeyDeletion,
        A::CancelKeyDeletion => Action::CancelKeyDeletion,
        A::ArchiveKey => Action::ArchiveKey,
        A::CancelKeyArchive => Action::CancelKeyArchive,
        A::UpdateAlias => Action::UpdateAlias,
        A::UpdateKeyDescription => Action::UpdateKeyDescription,
        A::EnableKeyRotation => Action::EnableKeyRotation,
        A::DisableKeyRotation => Action::DisableKeyRotation,
        A::GetKeyRotationStatus => Action::GetKeyRotationStatus,
        A::RotateKey => Action::RotateKey,
        A::GenerateDataKey => Action::GenerateDataKey,
        A::Encrypt => Action::Encrypt,
        A::Decrypt => Action::Decrypt,
        A::ReEncrypt => Action::ReEncrypt,
        A::GenerateRandom => Action::GenerateRandom,
        A::DescribeKeys => Action::DescribeKeys,
        A::EnableKeys => Action::EnableKeys,
        A::DisableKeys => Action::DisableKeys,
        A::GetPublicKey => Action::GetPublicKey,
        A::SignByAsymmetricKey => Action::Sign,
        A::VerifyByAsymmetricKey => Action::Verify,
        A::AsymmetricRsaDecrypt | A::AsymmetricSm2Decrypt => Action::AsymmetricDecrypt,
        A::GetParametersForImport => Action::GetParametersForImport,
        A::ImportKeyMaterial => Action::ImportKeyMaterial,
        A::DeleteImportedKeyMaterial => Action::DeleteImportedKeyMaterial,
        A::GetServiceStatus | A::GetRegions | A::ListAlgorithms => return None,
    })
}

/// The name an audit line gives a Tencent action: its gRPC RPC's, as the line the gRPC method
/// writes has it (so one identity's `Sign` refusals read alike whichever layer made them), or the
/// Tencent name for an action with no RPC.
pub(super) fn rpc_name(action: ApiAction) -> &'static str {
    policy_action(action).map_or(action.name(), Action::as_str)
}

/// May `identity` call `action` at all? The gate's own refusal when not (same code, same words).
pub(super) fn check_action(identity: &Identity, action: ApiAction) -> Result<(), ApiError> {
    match policy_action(action) {
        Some(a) => identity.check_action(a).map_err(|refusal| {
            ApiError::new(
                kms_types::ErrorCode::UnauthorizedOperation.as_str(),
                refusal,
            )
        }),
        None => Ok(()),
    }
}

/// The gRPC status a refusal of the Tencent layer is written with, by its Tencent code, as the
/// gRPC service would have mapped the same refusal.
pub(super) fn status_of(tencent_code: &str) -> Code {
    match tencent_code {
        c if c == kms_types::ErrorCode::UnauthorizedOperation.as_str() => Code::PermissionDenied,
        c if c.starts_with("AuthFailure") => Code::Unauthenticated,
        code::INVALID_ACTION | code::UNSUPPORTED_OPERATION => Code::Unimplemented,
        code::INTERNAL_ERROR => Code::Internal,
        // Every other code of this layer is about the request's form: a missing or wrong
        // parameter, header, version, body or content type.
        _ => Code::InvalidArgument,
    }
}

/// Writes the audit line of a refusal made by the Tencent layer (identity `identity`: `-` for a
/// signature refusal, nobody being identified; action `rpc`; no key: none was resolved) and gives
/// the refusal back; if the line cannot be written, the answer is `InternalError`, as for any
/// call whose line is lost.
pub(super) async fn record(
    observers: &Observers,
    identity: &str,
    peer: Option<SocketAddr>,
    rpc: &str,
    refusal: ApiError,
) -> ApiError {
    let Some(log) = &observers.audit else {
        return refusal;
    };
    let written = log
        .record(&AuditEvent {
            time: time::OffsetDateTime::now_utc(),
            request_id: RequestId::new(),
            identity,
            peer,
            rpc,
            keys: Vec::new(),
            context_keys: Default::default(),
            outcome: Outcome::Error {
                status: status_of(refusal.code),
                code: refusal.code,
            },
        })
        .await;
    match written {
        Ok(()) => refusal,
        Err(e) => {
            tracing::error!(error = %e, "audit log not written: a refused Tencent API call");
            ApiError::new(code::INTERNAL_ERROR, "internal error")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_action_runs_as_its_rpc() {
        assert_eq!(rpc_name(ApiAction::SignByAsymmetricKey), "Sign");
        assert_eq!(
            rpc_name(ApiAction::AsymmetricSm2Decrypt),
            "AsymmetricDecrypt"
        );
        assert_eq!(rpc_name(ApiAction::ListKeyDetail), "ListKeys");
        assert_eq!(rpc_name(ApiAction::GetRegions), "GetRegions");
        assert_eq!(policy_action(ApiAction::ListAlgorithms), None);
    }

    #[test]
    fn refusals_of_this_layer_have_the_grpc_status_of_their_kind() {
        assert_eq!(status_of("UnauthorizedOperation"), Code::PermissionDenied);
        assert_eq!(
            status_of(code::AUTH_SIGNATURE_FAILURE),
            Code::Unauthenticated
        );
        assert_eq!(status_of(code::INVALID_ACTION), Code::Unimplemented);
        assert_eq!(status_of(code::UNSUPPORTED_OPERATION), Code::Unimplemented);
        assert_eq!(status_of(code::INTERNAL_ERROR), Code::Internal);
        for c in [
            code::NO_SUCH_VERSION,
            code::MISSING_PARAMETER,
            code::INVALID_PARAMETER,
            code::INVALID_PENDING_WINDOW,
            code::INVALID_PLAINTEXT,
        ] {
            assert_eq!(status_of(c), Code::InvalidArgument, "{c}");
        }
    }
}
