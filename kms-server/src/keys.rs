//! The key model: states, owners, metadata. Plain data; the rules that move keys between states
//! live in [`crate::kms`].

use std::{fmt, str::FromStr};

use uuid::Uuid;

/// Lifecycle state of a CMK, as Tencent KMS names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyState {
    /// Encrypts and decrypts.
    Enabled,
    /// Does neither.
    Disabled,
    /// Scheduled for deletion; does neither. Gone after its deletion date.
    PendingDelete,
    /// Waiting for imported material (not produced by this emulator, kept for API parity).
    PendingImport,
    /// Decrypts, does not encrypt.
    Archived,
}

impl KeyState {
    /// All states, in their wire order.
    pub const ALL: [KeyState; 5] = [
        KeyState::Enabled,
        KeyState::Disabled,
        KeyState::PendingDelete,
        KeyState::PendingImport,
        KeyState::Archived,
    ];

    /// The Tencent spelling (`Enabled`, `PendingDelete`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDelete => "PendingDelete",
            KeyState::PendingImport => "PendingImport",
            KeyState::Archived => "Archived",
        }
    }

    /// Whether new ciphertexts may be made under the key.
    pub fn can_encrypt(self) -> bool {
        self == KeyState::Enabled
    }

    /// Whether existing ciphertexts may be opened.
    pub fn can_decrypt(self) -> bool {
        matches!(self, KeyState::Enabled | KeyState::Archived)
    }

    pub(crate) fn code(self) -> i64 {
        match self {
            KeyState::Enabled => 1,
            KeyState::Disabled => 2,
            KeyState::PendingDelete => 3,
            KeyState::PendingImport => 4,
            KeyState::Archived => 5,
        }
    }

    pub(crate) fn from_code(code: i64) -> Option<Self> {
        KeyState::ALL.into_iter().find(|s| s.code() == code)
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyState::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown key state {s:?}"))
    }
}

/// The only key usage of a symmetric CMK.
pub const KEY_USAGE: &str = "ENCRYPT_DECRYPT";
/// Owner of keys created through the API.
pub const OWNER_USER: &str = "user";
/// Owner of the service keys COS uses.
pub const OWNER_COS: &str = "cos";
/// Origin of keys whose material this KMS generated.
pub const ORIGIN_KMS: &str = "TENCENT_KMS";
/// Origin of keys whose material was given (by a seed file).
pub const ORIGIN_EXTERNAL: &str = "EXTERNAL";

/// Everything the API says about a key. Times are unix seconds; 0 is "not set".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyMetadata {
    /// The key id.
    pub key_id: Uuid,
    /// The alias (bare, without `alias/`).
    pub alias: String,
    /// Free text, at most 1024 bytes.
    pub description: String,
    /// Lifecycle state.
    pub state: KeyState,
    /// Always [`KEY_USAGE`].
    pub key_usage: String,
    /// [`OWNER_USER`] or the owning service.
    pub owner: String,
    /// [`ORIGIN_KMS`] or [`ORIGIN_EXTERNAL`].
    pub origin: String,
    /// When the key was created.
    pub create_time: i64,
    /// When a PendingDelete key is deleted.
    pub deletion_date: i64,
    /// Whether automatic rotation is on.
    pub rotation_enabled: bool,
    /// Rotation period in days when rotation is on.
    pub rotate_days: u32,
    /// When the last version was added by a rotation.
    pub last_rotate_time: i64,
    /// When the next automatic rotation is due.
    pub next_rotate_time: i64,
    /// The newest key version; new ciphertexts use it.
    pub current_key_version: u32,
}

impl KeyMetadata {
    /// Whether a service, not a user, owns the key.
    pub fn is_service_key(&self) -> bool {
        self.owner != OWNER_USER
    }
}
