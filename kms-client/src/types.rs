//! The client's own request and result types (no generated `pb` type is public).
//!
//! Wherever a request takes a `key_id`, the server accepts the key's UUID, `alias/<name>` or the
//! bare alias `<name>`. Times are unix seconds (UTC); `None` means "not set".

use std::fmt;
use std::str::FromStr;

use kms_proto::pb;

use crate::error::{Error, Result};
use crate::secret::SecretBytes;
use crate::tags::{Tag, TagFilter};

/// A CMK's state, spelled as Tencent KMS spells it (`Enabled`, `PendingDelete`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyState {
    /// Usable for every action.
    Enabled,
    /// No cryptographic use; can be enabled again or scheduled for deletion.
    Disabled,
    /// Scheduled for deletion (see [`KeyMetadata::deletion_date`]).
    PendingDelete,
    /// Waiting for imported key material.
    PendingImport,
    /// Decrypts, does not encrypt.
    Archived,
    /// A state this client does not know (a newer server), with its wire value.
    Unknown(i32),
}

impl KeyState {
    /// Every known state.
    pub const ALL: [KeyState; 5] = [
        KeyState::Enabled,
        KeyState::Disabled,
        KeyState::PendingDelete,
        KeyState::PendingImport,
        KeyState::Archived,
    ];

    /// The Tencent KMS spelling: `Enabled`, `Disabled`, `PendingDelete`, `PendingImport`,
    /// `Archived` (`Unknown` for an unknown state).
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDelete => "PendingDelete",
            KeyState::PendingImport => "PendingImport",
            KeyState::Archived => "Archived",
            KeyState::Unknown(_) => "Unknown",
        }
    }

    pub(crate) fn from_pb(value: i32) -> Self {
        match pb::KeyState::try_from(value) {
            Ok(pb::KeyState::Enabled) => KeyState::Enabled,
            Ok(pb::KeyState::Disabled) => KeyState::Disabled,
            Ok(pb::KeyState::PendingDelete) => KeyState::PendingDelete,
            Ok(pb::KeyState::PendingImport) => KeyState::PendingImport,
            Ok(pb::KeyState::Archived) => KeyState::Archived,
            Ok(pb::KeyState::Unspecified) | Err(_) => KeyState::Unknown(value),
        }
    }

    pub(crate) fn to_pb(self) -> i32 {
        match self {
            KeyState::Enabled => pb::KeyState::Enabled as i32,
            KeyState::Disabled => pb::KeyState::Disabled as i32,
            KeyState::PendingDelete => pb::KeyState::PendingDelete as i32,
            KeyState::PendingImport => pb::KeyState::PendingImport as i32,
            KeyState::Archived => pb::KeyState::Archived as i32,
            KeyState::Unknown(v) => v,
        }
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyState {
    type Err = Error;

    /// Accepts the Tencent spelling in any case, with or without `-`/`_` (`PendingDelete`,
    /// `pending-delete`, `PENDING_DELETE`).
    fn from_str(s: &str) -> Result<Self> {
        let norm: String = s
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .collect::<String>()
            .to_lowercase();
        KeyState::ALL
            .into_iter()
            .find(|st| st.as_str().to_lowercase() == norm)
            .ok_or_else(|| Error::InvalidArgument {
                message: format!(
                    "unknown key state {s:?} (expected one of Enabled, Disabled, PendingDelete, PendingImport, Archived)"
                ),
                error_code: None,
            })
    }
}

/// The length of a generated data key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum KeySpec {
    /// 32 bytes.
    #[default]
    Aes256,
    /// 16 bytes.
    Aes128,
}

impl KeySpec {
    /// `AES_256` or `AES_128`, as Tencent KMS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            KeySpec::Aes256 => "AES_256",
            KeySpec::Aes128 => "AES_128",
        }
    }

    fn to_pb(self) -> i32 {
        match self {
            KeySpec::Aes256 => pb::KeySpec::Aes256 as i32,
            KeySpec::Aes128 => pb::KeySpec::Aes128 as i32,
        }
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeySpec {
    type Err = Error;

    /// `AES_256` / `AES_128` (any case, `-` or `_`).
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_uppercase().replace('-', "_").as_str() {
            "AES_256" | "AES256" => Ok(KeySpec::Aes256),
            "AES_128" | "AES128" => Ok(KeySpec::Aes128),
            _ => Err(Error::InvalidArgument {
                message: format!("unknown key spec {s:?} (expected AES_256 or AES_128)"),
                error_code: None,
            }),
        }
    }
}

/// A CMK's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyMetadata {
    /// The key's UUID.
    pub key_id: String,
    /// The alias (without `alias/`).
    pub alias: String,
    /// Free text.
    pub description: String,
    /// The key's state.
    pub state: KeyState,
    /// `ENCRYPT_DECRYPT`.
    pub key_usage: String,
    /// `user`, or the owning service (`cos`).
    pub owner: String,
    /// `TENCENT_KMS` (generated by the KMS) or `EXTERNAL` (material from a seed file).
    pub origin: String,
    /// Creation time.
    pub create_time: Option<i64>,
    /// When a PendingDelete key is deleted.
    pub deletion_date: Option<i64>,
    /// Automatic rotation on or off.
    pub rotation_enabled: bool,
    /// Rotation period in days (when rotation is on).
    pub rotate_days: u32,
    /// Time of the last rotation.
    pub last_rotate_time: Option<i64>,
    /// Time of the next automatic rotation.
    pub next_rotate_time: Option<i64>,
    /// The newest key version (1 for a new key, +1 per rotation; 0 for an EXTERNAL key without
    /// material).
    pub current_key_version: u32,
    /// When imported material expires (EXTERNAL keys; `None`: never, or no material).
    pub valid_to: Option<i64>,
    /// The tags given at creation, sorted by key.
    pub tags: Vec<Tag>,
}

impl KeyMetadata {
    /// Metadata of an Enabled key with this id and every other field empty (for tests and mocks;
    /// real metadata comes from the server).
    pub fn new(key_id: impl Into<String>) -> Self {
        KeyMetadata {
            key_id: key_id.into(),
            alias: String::new(),
            description: String::new(),
            state: KeyState::Enabled,
            key_usage: String::new(),
            owner: String::new(),
            origin: String::new(),
            create_time: None,
            deletion_date: None,
            rotation_enabled: false,
            rotate_days: 0,
            last_rotate_time: None,
            next_rotate_time: None,
            current_key_version: 0,
            valid_to: None,
            tags: Vec::new(),
        }
    }
}

fn time(t: i64) -> Option<i64> {
    (t != 0).then_some(t)
}

impl From<pb::KeyMetadata> for KeyMetadata {
    fn from(m: pb::KeyMetadata) -> Self {
        KeyMetadata {
            key_id: m.key_id,
            alias: m.alias,
            description: m.description,
            state: KeyState::from_pb(m.state),
            key_usage: m.key_usage,
            owner: m.owner,
            origin: m.origin,
            create_time: time(m.create_time),
            deletion_date: time(m.deletion_date),
            rotation_enabled: m.rotation_enabled,
            rotate_days: m.rotate_days,
            last_rotate_time: time(m.last_rotate_time),
            next_rotate_time: time(m.next_rotate_time),
            current_key_version: m.current_key_version,
            valid_to: time(m.valid_to),
            tags: m.tags.into_iter().map(Tag::from).collect(),
        }
    }
}

pub(crate) fn metadata(m: Option<pb::KeyMetadata>, call: &str) -> Result<KeyMetadata> {
    m.map(KeyMetadata::from)
        .ok_or_else(|| Error::Protocol(format!("{call} answered without key_metadata")))
}

/// Arguments of [`crate::KmsClient::create_key`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateKeyRequest {
    /// Required: 1-60 characters of `[A-Za-z0-9_-]`, starting with a letter or digit; unique.
    pub alias: String,
    /// Optional free text (at most 1024 bytes).
    pub description: String,
    /// Empty means `ENCRYPT_DECRYPT` (a symmetric key); the asymmetric usages
    /// (`ASYMMETRIC_SIGN_VERIFY_SM2`, `ASYMMETRIC_SIGN_VERIFY_ECC`, ...) make a key pair.
    pub key_usage: String,
    /// Bring your own key: the key starts in PendingImport without material (origin `EXTERNAL`,
    /// Tencent `Type=2`) until [`crate::KmsClient::import_key_material`].
    pub external: bool,
    /// Tags, fixed at creation (the server checks Tencent's tag rules).
    pub tags: Vec<Tag>,
}

impl CreateKeyRequest {
    /// A request for a key with this alias and no description.
    pub fn new(alias: impl Into<String>) -> Self {
        CreateKeyRequest {
            alias: alias.into(),
            ..Default::default()
        }
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Sets the key usage (Tencent's spelling, e.g. `ASYMMETRIC_SIGN_VERIFY_ECC`).
    pub fn key_usage(mut self, key_usage: impl Into<String>) -> Self {
        self.key_usage = key_usage.into();
        self
    }

    /// Makes the key EXTERNAL (imported material).
    pub fn external(mut self) -> Self {
        self.external = true;
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push(Tag::new(key, value));
        self
    }

    pub(crate) fn into_pb(self) -> pb::CreateKeyRequest {
        pb::CreateKeyRequest {
            alias: self.alias,
            description: self.description,
            key_usage: self.key_usage,
            origin: if self.external { "EXTERNAL" } else { "" }.to_owned(),
            tags: self.tags.into_iter().map(Tag::into_pb).collect(),
        }
    }
}

/// Arguments of [`crate::KmsClient::list_keys`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListKeysRequest {
    /// Keys to skip.
    pub offset: u32,
    /// Page size: 0 means 100; at most 1000.
    pub limit: u32,
    /// Only keys in this state (`None`: every state).
    pub state: Option<KeyState>,
    /// Also list service-owned keys (the COS default CMK and the SSE-COS key).
    pub include_service_keys: bool,
    /// Newest keys first (by creation time); oldest first otherwise.
    pub newest_first: bool,
    /// Only keys whose id or alias contains this text (empty: every key).
    pub search: String,
    /// Only keys of this origin: `TENCENT_KMS` or `EXTERNAL` (empty: both).
    pub origin: String,
    /// Only keys of this usage, e.g. `ENCRYPT_DECRYPT` (empty: every usage).
    pub key_usage: String,
    /// Only keys every filter matches.
    pub tag_filters: Vec<TagFilter>,
    /// Only keys in one of these states (empty: any; with `state` too, a key must pass both).
    pub states: Vec<KeyState>,
    /// Only service-owned keys (implies `include_service_keys`).
    pub service_keys_only: bool,
}

impl ListKeysRequest {
    pub(crate) fn to_pb(&self) -> pb::ListKeysRequest {
        pb::ListKeysRequest {
            offset: self.offset,
            limit: self.limit,
            state: self
                .state
                .map_or(pb::KeyState::Unspecified as i32, KeyState::to_pb),
            include_service_keys: self.include_service_keys,
            newest_first: self.newest_first,
            search: self.search.clone(),
            origin: self.origin.clone(),
            key_usage: self.key_usage.clone(),
            tag_filters: self.tag_filters.iter().map(TagFilter::to_pb).collect(),
            states: self.states.iter().copied().map(KeyState::to_pb).collect(),
            service_keys_only: self.service_keys_only,
        }
    }
}

/// One page of [`crate::KmsClient::list_keys`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyList {
    /// The keys of this page.
    pub keys: Vec<KeyMetadata>,
    /// How many keys match, over every page.
    pub total_count: u32,
}

/// Result of [`crate::KmsClient::schedule_key_deletion`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScheduledDeletion {
    /// The key's UUID.
    pub key_id: String,
    /// When the key will be deleted (unix seconds).
    pub deletion_date: i64,
}

/// Result of [`crate::KmsClient::get_key_rotation_status`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RotationStatus {
    /// Automatic rotation on or off.
    pub key_rotation_enabled: bool,
    /// Rotation period in days.
    pub rotate_days: u32,
    /// Time of the last rotation.
    pub last_rotate_time: Option<i64>,
    /// Time of the next automatic rotation.
    pub next_rotate_time: Option<i64>,
    /// The newest key version.
    pub current_key_version: u32,
}

impl From<pb::GetKeyRotationStatusResponse> for RotationStatus {
    fn from(r: pb::GetKeyRotationStatusResponse) -> Self {
        RotationStatus {
            key_rotation_enabled: r.key_rotation_enabled,
            rotate_days: r.rotate_days,
            last_rotate_time: time(r.last_rotate_time),
            next_rotate_time: time(r.next_rotate_time),
            current_key_version: r.current_key_version,
        }
    }
}

/// Result of [`crate::KmsClient::rotate_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RotatedKey {
    /// The key's UUID.
    pub key_id: String,
    /// The new (now current) key version.
    pub key_version: u32,
}

/// Arguments of [`crate::KmsClient::generate_data_key`] and its variants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenerateDataKeyRequest {
    /// The CMK (UUID, `alias/<name>` or `<name>`).
    pub key_id: String,
    /// The data key's length, when `number_of_bytes` is not set.
    pub key_spec: Option<KeySpec>,
    /// The data key's length in bytes (1..1024); wins over `key_spec`.
    pub number_of_bytes: Option<u32>,
    /// Base64 JSON context (see [`crate::encryption_context`]); empty for none.
    pub encryption_context: String,
    /// The caller's public key (PEM) and algorithm to seal the data key under: the answer's
    /// `plaintext` is then that seal, never the key in clear (Tencent's EncryptionPublicKey).
    pub sealed_for: Option<(String, EncryptionAlgorithm)>,
}

impl GenerateDataKeyRequest {
    /// An AES-256 data key under `key_id`, with no context.
    pub fn new(key_id: impl Into<String>) -> Self {
        GenerateDataKeyRequest {
            key_id: key_id.into(),
            key_spec: Some(KeySpec::Aes256),
            ..Default::default()
        }
    }

    /// Sets the key spec.
    pub fn key_spec(mut self, spec: KeySpec) -> Self {
        self.key_spec = Some(spec);
        self
    }

    /// Sets the length in bytes (wins over the key spec).
    pub fn number_of_bytes(mut self, n: u32) -> Self {
        self.number_of_bytes = Some(n);
        self
    }

    /// Sets the base64 encryption context.
    pub fn encryption_context(mut self, context: impl Into<String>) -> Self {
        self.encryption_context = context.into();
        self
    }

    /// Seals the data key under the caller's public key (PEM SubjectPublicKeyInfo: RSA or SM2).
    pub fn sealed_for(
        mut self,
        public_key_pem: impl Into<String>,
        algorithm: EncryptionAlgorithm,
    ) -> Self {
        self.sealed_for = Some((public_key_pem.into(), algorithm));
        self
    }

    pub(crate) fn into_pb(self) -> pb::GenerateDataKeyRequest {
        let (encryption_public_key, encryption_algorithm) = sealing_pb(self.sealed_for);
        pb::GenerateDataKeyRequest {
            key_id: self.key_id,
            key_spec: self
                .key_spec
                .map_or(pb::KeySpec::Unspecified as i32, KeySpec::to_pb),
            number_of_bytes: self.number_of_bytes.unwrap_or(0),
            encryption_context: self.encryption_context,
            encryption_public_key,
            encryption_algorithm,
        }
    }
}

/// The wire fields of a seal request: the PEM and the algorithm's name, or two empty texts.
fn sealing_pb(sealed_for: Option<(String, EncryptionAlgorithm)>) -> (String, String) {
    sealed_for.map_or_else(Default::default, |(pem, a)| (pem, a.as_str().to_owned()))
}

/// A data key: its plaintext (secret) and the same key sealed under the CMK.
#[derive(Debug)]
#[non_exhaustive]
pub struct DataKey {
    /// The CMK's UUID.
    pub key_id: String,
    /// The data key (use it, then drop it: it is zeroized), or its seal under the request's
    /// public key when it named one.
    pub plaintext: SecretBytes,
    /// The data key sealed under the CMK; store it next to the data.
    pub ciphertext_blob: Vec<u8>,
    /// The CMK version that sealed it.
    pub key_version: u32,
}

impl From<pb::GenerateDataKeyResponse> for DataKey {
    fn from(r: pb::GenerateDataKeyResponse) -> Self {
        DataKey {
            key_id: r.key_id,
            plaintext: SecretBytes::new(r.plaintext),
            ciphertext_blob: r.ciphertext_blob,
            key_version: r.key_version,
        }
    }
}

/// A sealed blob (from Encrypt or GenerateDataKeyWithoutPlaintext).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Ciphertext {
    /// The CMK's UUID.
    pub key_id: String,
    /// The sealed blob.
    pub ciphertext_blob: Vec<u8>,
    /// The CMK version that sealed it.
    pub key_version: u32,
}

impl From<pb::EncryptResponse> for Ciphertext {
    fn from(r: pb::EncryptResponse) -> Self {
        Ciphertext {
            key_id: r.key_id,
            ciphertext_blob: r.ciphertext_blob,
            key_version: r.key_version,
        }
    }
}

impl From<pb::GenerateDataKeyWithoutPlaintextResponse> for Ciphertext {
    fn from(r: pb::GenerateDataKeyWithoutPlaintextResponse) -> Self {
        Ciphertext {
            key_id: r.key_id,
            ciphertext_blob: r.ciphertext_blob,
            key_version: r.key_version,
        }
    }
}

/// Arguments of [`crate::KmsClient::encrypt`].
#[derive(Debug, PartialEq, Eq)]
pub struct EncryptRequest {
    /// The CMK.
    pub key_id: String,
    /// 1..4096 bytes.
    pub plaintext: SecretBytes,
    /// Base64 JSON context; empty for none.
    pub encryption_context: String,
}

impl EncryptRequest {
    /// Encrypt `plaintext` under `key_id` with no context.
    pub fn new(key_id: impl Into<String>, plaintext: impl Into<SecretBytes>) -> Self {
        EncryptRequest {
            key_id: key_id.into(),
            plaintext: plaintext.into(),
            encryption_context: String::new(),
        }
    }

    /// Sets the base64 encryption context.
    pub fn encryption_context(mut self, context: impl Into<String>) -> Self {
        self.encryption_context = context.into();
        self
    }
}

/// Arguments of [`crate::KmsClient::decrypt`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecryptRequest {
    /// The sealed blob.
    pub ciphertext_blob: Vec<u8>,
    /// The same base64 context as at encryption (semantically equal); empty for none.
    pub encryption_context: String,
    /// As in [`GenerateDataKeyRequest::sealed_for`]: the plaintext comes back sealed under it.
    pub sealed_for: Option<(String, EncryptionAlgorithm)>,
}

impl DecryptRequest {
    /// Decrypt `blob` with no context.
    pub fn new(blob: impl Into<Vec<u8>>) -> Self {
        DecryptRequest {
            ciphertext_blob: blob.into(),
            ..Default::default()
        }
    }

    /// Seals the plaintext under the caller's public key (PEM SubjectPublicKeyInfo: RSA or SM2).
    pub fn sealed_for(
        mut self,
        public_key_pem: impl Into<String>,
        algorithm: EncryptionAlgorithm,
    ) -> Self {
        self.sealed_for = Some((public_key_pem.into(), algorithm));
        self
    }

    /// Sets the base64 encryption context.
    pub fn encryption_context(mut self, context: impl Into<String>) -> Self {
        self.encryption_context = context.into();
        self
    }

    pub(crate) fn into_pb(self) -> pb::DecryptRequest {
        let (encryption_public_key, encryption_algorithm) = sealing_pb(self.sealed_for);
        pb::DecryptRequest {
            ciphertext_blob: self.ciphertext_blob,
            encryption_context: self.encryption_context,
            encryption_public_key,
            encryption_algorithm,
        }
    }
}

/// Result of [`crate::KmsClient::decrypt`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Decrypted {
    /// The CMK's UUID.
    pub key_id: String,
    /// The plaintext, or its seal under the request's public key when it named one.
    pub plaintext: SecretBytes,
    /// The CMK version that had sealed it.
    pub key_version: u32,
}

impl From<pb::DecryptResponse> for Decrypted {
    fn from(r: pb::DecryptResponse) -> Self {
        Decrypted {
            key_id: r.key_id,
            plaintext: SecretBytes::new(r.plaintext),
            key_version: r.key_version,
        }
    }
}

/// Arguments of [`crate::KmsClient::re_encrypt`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReEncryptRequest {
    /// The sealed blob.
    pub ciphertext_blob: Vec<u8>,
    /// The key to seal under; empty means the source key (its newest version).
    pub destination_key_id: String,
    /// The blob's base64 context; empty for none.
    pub source_encryption_context: String,
    /// The new base64 context; empty for none.
    pub destination_encryption_context: String,
}

impl ReEncryptRequest {
    /// Re-seal `blob` under the newest version of its own key, no contexts.
    pub fn new(blob: impl Into<Vec<u8>>) -> Self {
        ReEncryptRequest {
            ciphertext_blob: blob.into(),
            ..Default::default()
        }
    }

    /// Seal under another key.
    pub fn destination_key_id(mut self, key_id: impl Into<String>) -> Self {
        self.destination_key_id = key_id.into();
        self
    }

    /// The blob's base64 context.
    pub fn source_encryption_context(mut self, context: impl Into<String>) -> Self {
        self.source_encryption_context = context.into();
        self
    }

    /// The new base64 context.
    pub fn destination_encryption_context(mut self, context: impl Into<String>) -> Self {
        self.destination_encryption_context = context.into();
        self
    }

    pub(crate) fn into_pb(self) -> pb::ReEncryptRequest {
        pb::ReEncryptRequest {
            ciphertext_blob: self.ciphertext_blob,
            destination_key_id: self.destination_key_id,
            source_encryption_context: self.source_encryption_context,
            destination_encryption_context: self.destination_encryption_context,
        }
    }
}

/// Result of [`crate::KmsClient::re_encrypt`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReEncrypted {
    /// The new blob (the same blob when `re_encrypted` is false).
    pub ciphertext_blob: Vec<u8>,
    /// The key that sealed the new blob.
    pub key_id: String,
    /// Its version.
    pub key_version: u32,
    /// The key that had sealed the old blob.
    pub source_key_id: String,
    /// Its version.
    pub source_key_version: u32,
    /// False when nothing changed (same key, same version, same context).
    pub re_encrypted: bool,
}

impl From<pb::ReEncryptResponse> for ReEncrypted {
    fn from(r: pb::ReEncryptResponse) -> Self {
        ReEncrypted {
            ciphertext_blob: r.ciphertext_blob,
            key_id: r.key_id,
            key_version: r.key_version,
            source_key_id: r.source_key_id,
            source_key_version: r.source_key_version,
            re_encrypted: r.re_encrypted,
        }
    }
}

/// Result of [`crate::KmsClient::seed_keys`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SeedSummary {
    /// Keys created or changed by this load; 0 when the document was already loaded.
    pub changed: u32,
    /// Keys in the document.
    pub total: u32,
}

pub(crate) fn item_error(e: pb::ItemError) -> Error {
    let code = tonic::Code::from_i32(e.code);
    let error_code = (!e.error_code.is_empty()).then_some(e.error_code);
    Error::from_parts(code, e.message, error_code)
}

/// How GenerateDataKey and Decrypt seal their plaintext under the caller's public key
/// (Tencent's `EncryptionAlgorithm`; see [`crate::GenerateDataKeyRequest::sealed_for`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum EncryptionAlgorithm {
    /// `SM2` (an SM2 public key; Tencent's default): C1 || C3 || C2, C1 with its `04` prefix.
    #[default]
    Sm2,
    /// `SM2_C1C3C2_ASN1` (an SM2 public key): the ASN.1 form (GM/T 0009).
    Sm2C1C3C2Asn1,
    /// `RSAES_PKCS1_V1_5` (an RSA public key).
    RsaesPkcs1V15,
    /// `RSAES_OAEP_SHA_1` (an RSA public key): MGF1-SHA-1, empty label.
    RsaesOaepSha1,
    /// `RSAES_OAEP_SHA_256` (an RSA public key): MGF1-SHA-256, empty label.
    RsaesOaepSha256,
}

impl EncryptionAlgorithm {
    /// Every algorithm.
    pub const ALL: [EncryptionAlgorithm; 5] = [
        Self::Sm2,
        Self::Sm2C1C3C2Asn1,
        Self::RsaesPkcs1V15,
        Self::RsaesOaepSha1,
        Self::RsaesOaepSha256,
    ];

    /// Tencent's spelling, as sent.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sm2 => "SM2",
            Self::Sm2C1C3C2Asn1 => "SM2_C1C3C2_ASN1",
            Self::RsaesPkcs1V15 => "RSAES_PKCS1_V1_5",
            Self::RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
            Self::RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
        }
    }
}

impl FromStr for EncryptionAlgorithm {
    type Err = Error;

    /// Tencent's spelling (`SM2`, `SM2_C1C3C2_ASN1`, `RSAES_PKCS1_V1_5`, ...).
    fn from_str(s: &str) -> Result<Self> {
        by_name(s, &Self::ALL, Self::as_str, "encryption algorithm")
    }
}

/// The algorithm of `known` spelled `s` (Tencent's spelling, exactly), or an error listing them.
pub(crate) fn by_name<T: Copy>(
    s: &str,
    known: &[T],
    name: fn(T) -> &'static str,
    what: &str,
) -> Result<T> {
    known
        .iter()
        .copied()
        .find(|a| name(*a) == s)
        .ok_or_else(|| {
            let names: Vec<&str> = known.iter().map(|a| name(*a)).collect();
            Error::InvalidArgument {
                message: format!(
                    "unknown {what} {s:?} (expected one of {})",
                    names.join(", ")
                ),
                error_code: None,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_state_spelling_round_trips() {
        for st in KeyState::ALL {
            assert_eq!(st.as_str().parse::<KeyState>().unwrap(), st);
            assert_eq!(KeyState::from_pb(st.to_pb()), st);
        }
        assert_eq!(
            "pending-delete".parse::<KeyState>().unwrap(),
            KeyState::PendingDelete
        );
        assert_eq!(
            "PENDING_IMPORT".parse::<KeyState>().unwrap(),
            KeyState::PendingImport
        );
        assert!("gone".parse::<KeyState>().is_err());
        assert_eq!(KeyState::from_pb(0), KeyState::Unknown(0));
        assert_eq!(KeyState::from_pb(42), KeyState::Unknown(42));
    }

    #[test]
    fn key_spec_parsing() {
        assert_eq!("AES_256".parse::<KeySpec>().unwrap(), KeySpec::Aes256);
        assert_eq!("aes-128".parse::<KeySpec>().unwrap(), KeySpec::Aes128);
        assert!("AES_512".parse::<KeySpec>().is_err());
    }

    #[test]
    fn zero_times_are_none() {
        let m = KeyMetadata::from(pb::KeyMetadata {
            create_time: 5,
            ..Default::default()
        });
        assert_eq!(m.create_time, Some(5));
        assert_eq!(m.deletion_date, None);
        assert_eq!(m.state, KeyState::Unknown(0));
    }

    #[test]
    fn generate_data_key_request_to_pb() {
        let r = GenerateDataKeyRequest::new("k")
            .number_of_bytes(7)
            .encryption_context("e30=")
            .into_pb();
        assert_eq!(r.key_id, "k");
        assert_eq!(r.number_of_bytes, 7);
        assert_eq!(r.key_spec, pb::KeySpec::Aes256 as i32);
        assert_eq!(r.encryption_context, "e30=");
        let r = GenerateDataKeyRequest {
            key_id: "k".into(),
            ..Default::default()
        }
        .into_pb();
        assert_eq!(r.key_spec, pb::KeySpec::Unspecified as i32);
    }

    #[test]
    fn item_errors_map_like_statuses() {
        let e = item_error(pb::ItemError {
            code: 3,
            message: "invalid ciphertext".into(),
            error_code: "InvalidParameterValue.InvalidCiphertext".into(),
        });
        assert!(matches!(e, Error::InvalidCiphertext { .. }));
        assert_eq!(
            e.error_code(),
            Some("InvalidParameterValue.InvalidCiphertext")
        );
        let e = item_error(pb::ItemError {
            code: 9,
            message: "key k is Disabled".into(),
            error_code: String::new(),
        });
        assert!(matches!(e, Error::KeyStateConflict { .. }));
        assert_eq!(e.error_code(), None);
    }
}
