//! Key states and the one table of what each state allows: state x action -> the next state, or
//! the refusal Tencent KMS answers with. Every lifecycle call and every cryptographic use of a key
//! asks [`KeyState::next`], so a rule changes here and nowhere else.

use std::{fmt, str::FromStr};

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

/// What a call does to a key, as far as the key's state is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyAction {
    /// EnableKey.
    Enable,
    /// DisableKey.
    Disable,
    /// ScheduleKeyDeletion.
    ScheduleDeletion,
    /// CancelKeyDeletion.
    CancelDeletion,
    /// ArchiveKey.
    Archive,
    /// CancelKeyArchive.
    CancelArchive,
    /// UpdateAlias.
    UpdateAlias,
    /// UpdateKeyDescription.
    UpdateDescription,
    /// EnableKeyRotation.
    EnableRotation,
    /// DisableKeyRotation.
    DisableRotation,
    /// RotateKey, and an automatic rotation that falls due.
    Rotate,
    /// A new ciphertext: GenerateDataKey, Encrypt, ReEncrypt's destination.
    Encrypt,
    /// Opening a ciphertext: Decrypt, ReEncrypt's source.
    Decrypt,
    /// A use of an asymmetric key's pair: GetPublicKey, Sign, Verify, asymmetric decryption.
    /// Tencent allows them on an Enabled key only, and names no state in its refusal.
    UseKeyPair,
}

/// Why a state refuses an action, named after the Tencent error it is answered with
/// (`ResourceUnavailable.<variant>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The state does not allow the action.
    CmkStateNotSupport,
    /// The key is Disabled (a cryptographic use).
    CmkDisabled,
    /// The key is Archived (a new ciphertext).
    CmkArchived,
    /// Only a Disabled key may be scheduled for deletion.
    CmkShouldBeDisabled,
    /// Only a PendingDelete key's deletion can be cancelled.
    CmkNotPendingDelete,
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

    /// The transition table: the state `action` leaves the key in (the same state when it changes
    /// nothing, e.g. EnableKey on an Enabled key), or why this state refuses it.
    pub fn next(self, action: KeyAction) -> Result<KeyState, Refusal> {
        use KeyAction as A;
        use KeyState as S;
        use Refusal as R;
        match (action, self) {
            (A::Enable, S::Enabled | S::Disabled) => Ok(S::Enabled),
            (A::Disable, S::Enabled | S::Disabled) => Ok(S::Disabled),
            // A key waiting for imported material can be deleted too (Tencent's
            // DeleteImportedKeyMaterial points there); its cancellation returns it to
            // PendingImport (`Kms::cancel_key_deletion`).
            (A::ScheduleDeletion, S::Disabled | S::PendingImport) => Ok(S::PendingDelete),
            (A::ScheduleDeletion, _) => Err(R::CmkShouldBeDisabled),
            (A::CancelDeletion, S::PendingDelete) => Ok(S::Disabled),
            (A::CancelDeletion, _) => Err(R::CmkNotPendingDelete),
            (A::Archive, S::Enabled | S::Archived) => Ok(S::Archived),
            (A::CancelArchive, S::Archived) => Ok(S::Enabled),
            // Tencent refuses renaming a key that is scheduled for deletion.
            (A::UpdateAlias | A::UpdateDescription, S::PendingDelete) => Err(R::CmkStateNotSupport),
            (A::UpdateAlias | A::UpdateDescription | A::DisableRotation, s) => Ok(s),
            (A::EnableRotation | A::Rotate | A::Encrypt | A::UseKeyPair, S::Enabled) => {
                Ok(S::Enabled)
            }
            (A::Decrypt, s @ (S::Enabled | S::Archived)) => Ok(s),
            (A::Encrypt | A::Decrypt, S::Disabled) => Err(R::CmkDisabled),
            (A::Encrypt, S::Archived) => Err(R::CmkArchived),
            (
                A::Enable
                | A::Disable
                | A::Archive
                | A::CancelArchive
                | A::EnableRotation
                | A::Rotate
                | A::Encrypt
                | A::Decrypt
                | A::UseKeyPair,
                _,
            ) => Err(R::CmkStateNotSupport),
        }
    }

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
        self.next(KeyAction::Encrypt).is_ok()
    }

    /// Whether existing ciphertexts may be opened.
    pub fn can_decrypt(self) -> bool {
        self.next(KeyAction::Decrypt).is_ok()
    }

    /// The state's number in the key store.
    pub(crate) fn code(self) -> i64 {
        match self {
            KeyState::Enabled => 1,
            KeyState::Disabled => 2,
            KeyState::PendingDelete => 3,
            KeyState::PendingImport => 4,
            KeyState::Archived => 5,
        }
    }

    /// The state a key store number stands for.
    pub(crate) fn from_code(code: i64) -> Option<Self> {
        KeyState::ALL.into_iter().find(|s| s.code() == code)
    }
}

impl KeyAction {
    /// Every action.
    pub const ALL: [KeyAction; 14] = [
        KeyAction::Enable,
        KeyAction::Disable,
        KeyAction::ScheduleDeletion,
        KeyAction::CancelDeletion,
        KeyAction::Archive,
        KeyAction::CancelArchive,
        KeyAction::UpdateAlias,
        KeyAction::UpdateDescription,
        KeyAction::EnableRotation,
        KeyAction::DisableRotation,
        KeyAction::Rotate,
        KeyAction::Encrypt,
        KeyAction::Decrypt,
        KeyAction::UseKeyPair,
    ];
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The table written out cell by cell, columns in [`KeyState::ALL`] order (Enabled, Disabled,
    /// PendingDelete, PendingImport, Archived). `Ok` cells give the next state.
    #[test]
    fn every_state_and_action() {
        use KeyAction as A;
        use KeyState::{Archived as Ar, Disabled as Di, Enabled as En, PendingDelete as Pd};
        use Refusal::{
            CmkArchived as Arch, CmkDisabled as Dis, CmkNotPendingDelete as Npd,
            CmkShouldBeDisabled as Sbd, CmkStateNotSupport as Nsp,
        };
        let table: [(KeyAction, [Result<KeyState, Refusal>; 5]); 14] = [
            (A::Enable, [Ok(En), Ok(En), Err(Nsp), Err(Nsp), Err(Nsp)]),
            (A::Disable, [Ok(Di), Ok(Di), Err(Nsp), Err(Nsp), Err(Nsp)]),
            (
                A::ScheduleDeletion,
                [Err(Sbd), Ok(Pd), Err(Sbd), Ok(Pd), Err(Sbd)],
            ),
            (
                A::CancelDeletion,
                [Err(Npd), Err(Npd), Ok(Di), Err(Npd), Err(Npd)],
            ),
            (A::Archive, [Ok(Ar), Err(Nsp), Err(Nsp), Err(Nsp), Ok(Ar)]),
            (
                A::CancelArchive,
                [Err(Nsp), Err(Nsp), Err(Nsp), Err(Nsp), Ok(En)],
            ),
            (
                A::UpdateAlias,
                [
                    Ok(En),
                    Ok(Di),
                    Err(Nsp),
                    Ok(KeyState::PendingImport),
                    Ok(Ar),
                ],
            ),
            (
                A::UpdateDescription,
                [
                    Ok(En),
                    Ok(Di),
                    Err(Nsp),
                    Ok(KeyState::PendingImport),
                    Ok(Ar),
                ],
            ),
            (
                A::EnableRotation,
                [Ok(En), Err(Nsp), Err(Nsp), Err(Nsp), Err(Nsp)],
            ),
            (
                A::DisableRotation,
                [Ok(En), Ok(Di), Ok(Pd), Ok(KeyState::PendingImport), Ok(Ar)],
            ),
            (A::Rotate, [Ok(En), Err(Nsp), Err(Nsp), Err(Nsp), Err(Nsp)]),
            (
                A::Encrypt,
                [Ok(En), Err(Dis), Err(Nsp), Err(Nsp), Err(Arch)],
            ),
            (A::Decrypt, [Ok(En), Err(Dis), Err(Nsp), Err(Nsp), Ok(Ar)]),
            (
                A::UseKeyPair,
                [Ok(En), Err(Nsp), Err(Nsp), Err(Nsp), Err(Nsp)],
            ),
        ];
        assert_eq!(
            table.map(|(a, _)| a),
            KeyAction::ALL,
            "every action, once, in order"
        );
        for (action, row) in table {
            for (state, want) in KeyState::ALL.into_iter().zip(row) {
                assert_eq!(state.next(action), want, "{action:?} on {state}");
            }
        }
    }

    #[test]
    fn encrypt_and_decrypt_follow_the_table() {
        let encrypts: Vec<KeyState> = KeyState::ALL
            .into_iter()
            .filter(|s| s.can_encrypt())
            .collect();
        let decrypts: Vec<KeyState> = KeyState::ALL
            .into_iter()
            .filter(|s| s.can_decrypt())
            .collect();
        assert_eq!(encrypts, [KeyState::Enabled]);
        assert_eq!(decrypts, [KeyState::Enabled, KeyState::Archived]);
    }

    #[test]
    fn names_and_codes_round_trip() {
        for s in KeyState::ALL {
            assert_eq!(s.as_str().parse::<KeyState>(), Ok(s));
            assert_eq!(s.as_str().to_lowercase().parse::<KeyState>(), Ok(s));
            assert_eq!(KeyState::from_code(s.code()), Some(s));
        }
        assert!("Gone".parse::<KeyState>().is_err());
        assert_eq!(KeyState::from_code(0), None);
    }
}
