//! The one error type of the KMS core. The gRPC edge maps it to a status exactly once
//! (`service::status`); internal detail is logged there, never sent.

use kms_types::ErrorCode;

use crate::keys::KeyState;

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the KMS core can refuse or fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No key has this id or alias (or it is past its deletion date).
    #[error("key {0} not found")]
    NotFound(String),
    /// A request field breaks a rule; the message names the rule.
    #[error("{0}")]
    InvalidArgument(String),
    /// The key's state forbids the action.
    #[error("key {key_id} is {state}")]
    KeyState {
        /// The key asked for.
        key_id: String,
        /// Its state now.
        state: KeyState,
        /// The Tencent error code for this refusal (it depends on the action).
        code: &'static str,
    },
    /// The key's material was imported (seeded), so the KMS cannot make a new version of it.
    #[error("key {0} has external key material and cannot be rotated")]
    ExternalMaterial(String),
    /// A key usage that does not exist, or a key whose usage does not allow the call; the message
    /// says which.
    #[error("{0}")]
    KeyUsage(String),
    /// The key cannot rotate: an asymmetric key has one key pair for life.
    #[error("key {0} is asymmetric and cannot be rotated")]
    RotateNotSupported(String),
    /// An import of key material (bring your own key) refused: a key that takes no import, a wrong
    /// or expired import token, material that does not decrypt or differs from the key's. The
    /// message says which; `code` is the Tencent code.
    #[error("{message}")]
    Import {
        /// The Tencent code.
        code: ErrorCode,
        /// What was wrong.
        message: String,
    },
    /// A list of key ids (DescribeKeys, EnableKeys, DisableKeys) names this key twice.
    #[error("key_ids names {0:?} twice")]
    DuplicatedKeyId(String),
    /// CreateKey's tags give this tag key twice.
    #[error("tag key {0:?} is given twice")]
    TagKeysDuplicated(String),
    /// The alias is already used by another key.
    #[error("alias {0} already exists")]
    AliasExists(String),
    /// The key is owned by a service and cannot be changed through this API.
    #[error("key {0} is owned by a service and cannot be changed")]
    ServiceKey(String),
    /// A ciphertext blob did not open. Deliberately opaque: it does not say which check failed.
    #[error("invalid ciphertext")]
    InvalidCiphertext,
    /// The call carries no credential, or one no identity of the policy holds.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller's identity may not make this call on this key; the message names both as the
    /// caller gave them.
    #[error("{0}")]
    PermissionDenied(String),
    /// The root key does not open the key store (another server's database, or a wrong key).
    #[error("the root key does not match this key store")]
    RootKeyMismatch,
    /// Another process (a kms-server, or a gateway with an embedded KMS) holds the data directory.
    #[error(
        "data directory {0} is in use by another process (a kms-server or a gateway with an \
         embedded KMS): two servers on one key database would diverge; stop the other or use \
         another --data-dir"
    )]
    DataDirInUse(String),
    /// The root key could not be loaded.
    #[error("root key: {0}")]
    RootKey(String),
    /// A seed document was refused as a whole.
    #[error("seed: line {line}: {rule}")]
    Seed {
        /// 1-based line of the offending entry (0 when the whole document is at fault).
        line: usize,
        /// The rule that failed.
        rule: String,
    },
    /// The key store stayed locked by another connection (an operator's `sqlite3` shell, a backup)
    /// for longer than its busy timeout; the call changed nothing and may be repeated.
    #[error("the key store is busy (locked by another connection): nothing was changed, retry")]
    StoreBusy,
    /// The key store cannot be reached (a PostgreSQL server down, refusing connections, or a
    /// connection lost mid-call); the message says which database (its URL without password) and
    /// why. The call may be repeated once the database is back (gRPC `UNAVAILABLE`).
    #[error("the key store is unavailable: {0}")]
    StoreUnavailable(String),
    /// Another replica changed the key since this replica's cache last heard of it (it took the
    /// version number this call wanted, or changed the key's state or settings): nothing was
    /// changed. The core reloads and tries once more before it returns this; the call may be
    /// repeated (gRPC `ABORTED`).
    #[error("key {0} was changed by another replica at the same time: nothing was changed, retry")]
    Conflict(String),
    /// The key store failed (the backend's own error inside).
    #[error("key store: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A file could not be read or written.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A bug or a broken invariant.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The Tencent KMS error code this error corresponds to.
    pub fn tencent_code(&self) -> &'static str {
        match self {
            Error::NotFound(_) => ErrorCode::CmkNotFound.as_str(),
            Error::InvalidArgument(_) | Error::Seed { .. } => {
                ErrorCode::InvalidParameterValue.as_str()
            }
            Error::KeyState { code, .. } => code,
            Error::ExternalMaterial(_) => ErrorCode::ExternalCmkCanNotRotate.as_str(),
            Error::KeyUsage(_) => ErrorCode::InvalidKeyUsage.as_str(),
            Error::RotateNotSupported(_) => ErrorCode::RotateNotSupported.as_str(),
            Error::Import { code, .. } => code.as_str(),
            Error::AliasExists(_) => ErrorCode::AliasAlreadyExists.as_str(),
            Error::DuplicatedKeyId(_) => ErrorCode::DuplicatedKeyId.as_str(),
            Error::TagKeysDuplicated(_) => ErrorCode::TagKeysDuplicated.as_str(),
            Error::ServiceKey(_) => ErrorCode::NotUserCreatedCmk.as_str(),
            Error::InvalidCiphertext => ErrorCode::InvalidCiphertext.as_str(),
            Error::Unauthenticated(_) => ErrorCode::AuthFailure.as_str(),
            Error::PermissionDenied(_) => ErrorCode::UnauthorizedOperation.as_str(),
            Error::StoreBusy | Error::StoreUnavailable(_) | Error::Conflict(_) => {
                ErrorCode::ServiceTemporaryUnavailable.as_str()
            }
            Error::RootKeyMismatch
            | Error::DataDirInUse(_)
            | Error::RootKey(_)
            | Error::Storage(_)
            | Error::Io(_)
            | Error::Internal(_) => ErrorCode::InternalError.as_str(),
        }
    }

    /// A refused use of a key whose usage does not allow `action` (e.g. `"Encrypt"`).
    pub(crate) fn wrong_usage(key_id: &str, usage: crate::keys::KeyUsage, action: &str) -> Self {
        Error::KeyUsage(format!(
            "key {key_id} has KeyUsage {usage}, which does not allow {action}"
        ))
    }

    /// A refused list of tags (or tag filters).
    pub(crate) fn tags(e: crate::keys::tags::TagError) -> Self {
        match e {
            crate::keys::tags::TagError::Duplicated(key) => Error::TagKeysDuplicated(key),
            crate::keys::tags::TagError::Invalid(rule) => Error::InvalidArgument(rule),
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }

    /// A state refusal for a cryptographic use of the key (Encrypt, GenerateDataKey, Decrypt...).
    pub(crate) fn unusable(key_id: &str, state: KeyState) -> Self {
        let code = match state {
            KeyState::Disabled => ErrorCode::CmkDisabled,
            KeyState::Archived => ErrorCode::CmkArchived,
            _ => ErrorCode::CmkStateNotSupport,
        }
        .as_str();
        Error::KeyState {
            key_id: key_id.to_owned(),
            state,
            code,
        }
    }

    /// A state refusal for a lifecycle action (EnableKey, ArchiveKey...).
    pub(crate) fn transition(key_id: &str, state: KeyState) -> Self {
        Error::KeyState {
            key_id: key_id.to_owned(),
            state,
            code: ErrorCode::CmkStateNotSupport.as_str(),
        }
    }
}
