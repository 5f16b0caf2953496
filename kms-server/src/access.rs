//! Who may call which action on which key: the policy document, its identities, and the decisions.
//!
//! A KMS is judged first on this. The model is KES's (an identity is the hash of a credential; each
//! identity lists the API calls it may make) with AWS KMS's per-key scope: an identity may be
//! limited to keys whose UUID or `alias/<alias>` matches one of its glob patterns. A pattern that
//! starts with `alias/` is matched against `alias/<alias>` only, any other against the UUID only:
//! a glob's `*` crosses `/`, so `a*` (meant as UUIDs starting with `a`) would otherwise match every
//! `alias/...` and grant every aliased key.
//!
//! ```yaml
//! identities:
//!   - name: admin
//!     token_sha256: "<hex SHA-256 of a bearer token>"   # the token itself is never stored
//!     allow: ["*"]
//!   - name: storage
//!     cert_sha256: "<hex SHA-256 of a client certificate's SubjectPublicKeyInfo>"
//!     allow: [GenerateDataKey, Decrypt, BatchGenerateDataKey, BatchDecrypt, GetDefaultKey]
//!     keys: ["alias/kms-cos", "alias/app-*", "<a key UUID>"]
//!   - name: app
//!     secret_id: "AKIDexample"                          # Tencent Cloud API 3.0 (TC3) callers
//!     secret_key_file: "/etc/kms/app.secret-key"        # owner-only; the SecretKey itself
//!     allow: [Encrypt, Decrypt]
//!   - name: job
//!     secret_id: "AKIDtemporary"                        # a temporary (STS-style) TC3 credential:
//!     secret_key_file: "/etc/kms/job.secret-key"
//!     session_token_sha256: "<hex SHA-256 of its token>" # every call carries X-TC-Token
//!     allow: [Decrypt]
//! ```
//!
//! A TC3 pair is held differently from a token: the server must recompute the caller's HMAC, so
//! it needs the SecretKey itself, not a digest of it. The key therefore lives in its own file
//! (read through [`crate::private_fs::open_private`]: this user's, owner-only, no symlink; a
//! trailing newline is dropped), never in the policy document.
//!
//! This module is transport-free: the gRPC edge extracts the [`Credential`] (bearer token metadata
//! or the client certificate's public key), asks [`Policy::authenticate`], then
//! [`Identity::allows`] for the action and each key the call touches (for Decrypt, ReEncrypt and
//! BatchDecrypt: the key inside the blob). Presented tokens are hashed and compared with every
//! identity's digest in constant time, without stopping at the first match.

use std::{
    collections::BTreeSet,
    fmt,
    path::{Path, PathBuf},
    sync::Arc,
};

use globset::{Glob, GlobSet, GlobSetBuilder};
use kms_types::naming::ALIAS_PREFIX;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::secret::SecretBytes;

/// Bytes of a SHA-256 digest (token and certificate-key digests).
pub const DIGEST_LEN: usize = 32;

/// Errors loading a policy. Each names what to fix; none carries a secret (digests are public).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The file cannot be read.
    #[error("cannot read policy file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The document does not parse, or an identity is malformed.
    #[error("policy: {0}")]
    Invalid(String),
}

/// An action a policy can allow: one per RPC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Action {
    /// CreateKey.
    CreateKey,
    /// DescribeKey.
    DescribeKey,
    /// ListKeys.
    ListKeys,
    /// EnableKey.
    EnableKey,
    /// DisableKey.
    DisableKey,
    /// ScheduleKeyDeletion.
    ScheduleKeyDeletion,
    /// CancelKeyDeletion.
    CancelKeyDeletion,
    /// ArchiveKey.
    ArchiveKey,
    /// CancelKeyArchive.
    CancelKeyArchive,
    /// UpdateAlias.
    UpdateAlias,
    /// UpdateKeyDescription.
    UpdateKeyDescription,
    /// EnableKeyRotation.
    EnableKeyRotation,
    /// DisableKeyRotation.
    DisableKeyRotation,
    /// GetKeyRotationStatus.
    GetKeyRotationStatus,
    /// RotateKey.
    RotateKey,
    /// GetDefaultKey.
    GetDefaultKey,
    /// GenerateDataKey.
    GenerateDataKey,
    /// GenerateDataKeyWithoutPlaintext.
    GenerateDataKeyWithoutPlaintext,
    /// Encrypt.
    Encrypt,
    /// Decrypt.
    Decrypt,
    /// ReEncrypt.
    ReEncrypt,
    /// GenerateRandom.
    GenerateRandom,
    /// BatchGenerateDataKey.
    BatchGenerateDataKey,
    /// BatchDecrypt.
    BatchDecrypt,
    /// SeedKeys.
    SeedKeys,
    /// GetPublicKey.
    GetPublicKey,
    /// Sign (Tencent: SignByAsymmetricKey).
    Sign,
    /// Verify (Tencent: VerifyByAsymmetricKey).
    Verify,
    /// AsymmetricDecrypt (Tencent: AsymmetricRsaDecrypt and AsymmetricSm2Decrypt).
    AsymmetricDecrypt,
    /// GetParametersForImport.
    GetParametersForImport,
    /// ImportKeyMaterial.
    ImportKeyMaterial,
    /// DeleteImportedKeyMaterial.
    DeleteImportedKeyMaterial,
    /// DescribeKeys (each key is checked under this action).
    DescribeKeys,
    /// EnableKeys (each key is checked under this action).
    EnableKeys,
    /// DisableKeys (each key is checked under this action).
    DisableKeys,
}

impl Action {
    /// Whether the action writes to the key store on the caller's behalf (a key made, changed,
    /// deleted or given material; an import token issued): its audit line has a `started` line
    /// before it ([`crate::audit::Outcome::Started`]). The data calls only read keys (a deadline
    /// they find due is the server's own change, not the caller's).
    pub fn changes_keys(self) -> bool {
        match self {
            Self::CreateKey
            | Self::EnableKey
            | Self::DisableKey
            | Self::ScheduleKeyDeletion
            | Self::CancelKeyDeletion
            | Self::ArchiveKey
            | Self::CancelKeyArchive
            | Self::UpdateAlias
            | Self::UpdateKeyDescription
            | Self::EnableKeyRotation
            | Self::DisableKeyRotation
            | Self::RotateKey
            | Self::SeedKeys
            | Self::GetParametersForImport
            | Self::ImportKeyMaterial
            | Self::DeleteImportedKeyMaterial
            | Self::EnableKeys
            | Self::DisableKeys => true,
            Self::DescribeKey
            | Self::ListKeys
            | Self::GetKeyRotationStatus
            | Self::GetDefaultKey
            | Self::GenerateDataKey
            | Self::GenerateDataKeyWithoutPlaintext
            | Self::Encrypt
            | Self::Decrypt
            | Self::ReEncrypt
            | Self::GenerateRandom
            | Self::BatchGenerateDataKey
            | Self::BatchDecrypt
            | Self::GetPublicKey
            | Self::Sign
            | Self::Verify
            | Self::AsymmetricDecrypt
            | Self::DescribeKeys => false,
        }
    }

    /// Every action, in the order of the gRPC service.
    pub const ALL: [Self; 35] = [
        Self::CreateKey,
        Self::DescribeKey,
        Self::ListKeys,
        Self::EnableKey,
        Self::DisableKey,
        Self::ScheduleKeyDeletion,
        Self::CancelKeyDeletion,
        Self::ArchiveKey,
        Self::CancelKeyArchive,
        Self::UpdateAlias,
        Self::UpdateKeyDescription,
        Self::EnableKeyRotation,
        Self::DisableKeyRotation,
        Self::GetKeyRotationStatus,
        Self::RotateKey,
        Self::GetDefaultKey,
        Self::GenerateDataKey,
        Self::GenerateDataKeyWithoutPlaintext,
        Self::Encrypt,
        Self::Decrypt,
        Self::ReEncrypt,
        Self::GenerateRandom,
        Self::BatchGenerateDataKey,
        Self::BatchDecrypt,
        Self::SeedKeys,
        Self::GetPublicKey,
        Self::Sign,
        Self::Verify,
        Self::AsymmetricDecrypt,
        Self::GetParametersForImport,
        Self::ImportKeyMaterial,
        Self::DeleteImportedKeyMaterial,
        Self::DescribeKeys,
        Self::EnableKeys,
        Self::DisableKeys,
    ];

    /// The RPC name, as a policy writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreateKey => "CreateKey",
            Self::DescribeKey => "DescribeKey",
            Self::ListKeys => "ListKeys",
            Self::EnableKey => "EnableKey",
            Self::DisableKey => "DisableKey",
            Self::ScheduleKeyDeletion => "ScheduleKeyDeletion",
            Self::CancelKeyDeletion => "CancelKeyDeletion",
            Self::ArchiveKey => "ArchiveKey",
            Self::CancelKeyArchive => "CancelKeyArchive",
            Self::UpdateAlias => "UpdateAlias",
            Self::UpdateKeyDescription => "UpdateKeyDescription",
            Self::EnableKeyRotation => "EnableKeyRotation",
            Self::DisableKeyRotation => "DisableKeyRotation",
            Self::GetKeyRotationStatus => "GetKeyRotationStatus",
            Self::RotateKey => "RotateKey",
            Self::GetDefaultKey => "GetDefaultKey",
            Self::GenerateDataKey => "GenerateDataKey",
            Self::GenerateDataKeyWithoutPlaintext => "GenerateDataKeyWithoutPlaintext",
            Self::Encrypt => "Encrypt",
            Self::Decrypt => "Decrypt",
            Self::ReEncrypt => "ReEncrypt",
            Self::GenerateRandom => "GenerateRandom",
            Self::BatchGenerateDataKey => "BatchGenerateDataKey",
            Self::BatchDecrypt => "BatchDecrypt",
            Self::SeedKeys => "SeedKeys",
            Self::GetPublicKey => "GetPublicKey",
            Self::Sign => "Sign",
            Self::Verify => "Verify",
            Self::AsymmetricDecrypt => "AsymmetricDecrypt",
            Self::GetParametersForImport => "GetParametersForImport",
            Self::ImportKeyMaterial => "ImportKeyMaterial",
            Self::DeleteImportedKeyMaterial => "DeleteImportedKeyMaterial",
            Self::DescribeKeys => "DescribeKeys",
            Self::EnableKeys => "EnableKeys",
            Self::DisableKeys => "DisableKeys",
        }
    }

    /// The action an RPC name names (exact case, as in the proto).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a caller presented.
#[derive(Clone, Copy)]
pub enum Credential<'a> {
    /// `authorization: Bearer <token>`.
    Bearer(&'a [u8]),
    /// The SHA-256 of the verified client certificate's SubjectPublicKeyInfo (DER).
    ClientCert([u8; DIGEST_LEN]),
}

impl fmt::Debug for Credential<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Self::ClientCert(d) => write!(f, "ClientCert({})", hex::encode(d)),
        }
    }
}

/// How an identity proves itself.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Proof {
    /// SHA-256 of a bearer token.
    Token([u8; DIGEST_LEN]),
    /// SHA-256 of a client certificate's SubjectPublicKeyInfo.
    Cert([u8; DIGEST_LEN]),
    /// A TC3 SecretId (public); its SecretKey is in [`Identity::secret_key`].
    SecretId(String),
}

/// One identity of the policy.
#[derive(Clone, Debug)]
pub struct Identity {
    name: String,
    proof: Proof,
    /// `None`: every action (`"*"`).
    actions: Option<BTreeSet<Action>>,
    /// `None`: every key.
    keys: Option<KeyPatterns>,
    /// The TC3 SecretKey of a [`Proof::SecretId`] identity.
    secret_key: Option<Arc<SecretBytes>>,
    /// SHA-256 of the `X-TC-Token` a temporary TC3 credential must carry.
    session_token: Option<[u8; DIGEST_LEN]>,
}

/// What the Tencent front end checks a TC3 caller against (see [`Policy::tencent_secret`]).
#[derive(Debug)]
pub struct TencentSecret<'a> {
    /// The identity's index in the policy.
    pub index: usize,
    /// The SecretKey the signature is made with.
    pub secret_key: &'a SecretBytes,
    /// SHA-256 of the `X-TC-Token` every call must carry; `None`: a permanent pair, no token.
    pub session_token_sha256: Option<&'a [u8; DIGEST_LEN]>,
}

impl TencentSecret<'_> {
    /// Whether `token` (the `X-TC-Token` sent; empty or `None` when absent) is the one this
    /// credential needs: the SHA-256 digests compared in constant time, and no token for a
    /// permanent pair.
    pub fn token_matches(&self, token: Option<&[u8]>) -> bool {
        let token = token.filter(|t| !t.is_empty());
        match (self.session_token_sha256, token) {
            (None, None) => true,
            (Some(want), Some(sent)) => {
                let sent: [u8; DIGEST_LEN] = Sha256::digest(sent).into();
                want.ct_eq(&sent).into()
            }
            _ => false,
        }
    }
}

/// The `keys` globs of an identity, compiled once, in two sets that never see each other's names.
#[derive(Clone, Debug)]
struct KeyPatterns {
    /// The patterns without `alias/`, matched against a key's UUID.
    ids: GlobSet,
    /// The `alias/<glob>` patterns as `<glob>`, matched against a key's bare alias (which holds no
    /// `/`, so this is `alias/<glob>` against `alias/<alias>`).
    aliases: GlobSet,
}

impl Identity {
    /// The identity's name (for the audit log and error messages).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the identity may call `action` at all.
    pub fn allows_action(&self, action: Action) -> bool {
        self.actions.as_ref().is_none_or(|a| a.contains(&action))
    }

    /// [`Identity::allows_action`], with the words of the refusal when not: the gRPC gate and the
    /// Tencent front end refuse alike.
    pub fn check_action(&self, action: Action) -> std::result::Result<(), String> {
        if self.allows_action(action) {
            Ok(())
        } else {
            Err(format!("identity {} may not call {action}", self.name()))
        }
    }

    /// Whether the identity may use the key with this UUID and alias (without `alias/`): an
    /// `alias/...` pattern matches `alias/<alias>`, any other pattern the UUID.
    pub fn allows_key(&self, key_id: &str, alias: Option<&str>) -> bool {
        let Some(patterns) = &self.keys else {
            return true;
        };
        patterns.ids.is_match(key_id) || alias.is_some_and(|a| patterns.aliases.is_match(a))
    }

    /// Whether the identity is limited to some keys (then listings are filtered, and a name that
    /// resolves to nothing is denied like a forbidden key, so it learns nothing about what exists).
    pub fn is_key_scoped(&self) -> bool {
        self.keys.is_some()
    }
}

/// The policy document as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    identities: Vec<IdentityDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityDoc {
    name: String,
    #[serde(default)]
    token_sha256: Option<String>,
    #[serde(default)]
    cert_sha256: Option<String>,
    #[serde(default)]
    secret_id: Option<String>,
    #[serde(default)]
    secret_key_file: Option<PathBuf>,
    #[serde(default)]
    session_token_sha256: Option<String>,
    allow: Vec<String>,
    #[serde(default)]
    keys: Option<Vec<String>>,
}

/// A loaded policy: the identities, checked and compiled.
#[derive(Clone, Debug)]
pub struct Policy {
    identities: Vec<Identity>,
}

impl Policy {
    /// Loads a policy file through the check every secret file here is read through
    /// ([`crate::private_fs::open_private`]): no symbolic link, owned by this process's user, no
    /// access for group or others (who could read the token digests, or write themselves an
    /// `allow: ["*"]`), and the checks are made on the file actually read, so a file renamed into
    /// place meanwhile (a reload) cannot slip past them.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let read = |source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        };
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut crate::private_fs::open_private(path).map_err(read)?,
            &mut text,
        )
        .map_err(read)?;
        Self::parse(&text)
    }

    /// Parses a policy document (YAML, or JSON which is YAML too).
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let doc: Document =
            serde_norway::from_str(text).map_err(|e| PolicyError::Invalid(e.to_string()))?;
        let mut identities: Vec<Identity> = Vec::with_capacity(doc.identities.len());
        for d in doc.identities {
            let identity = compile(d)?;
            if let Some(other) = identities.iter().find(|i| i.name == identity.name) {
                return Err(PolicyError::Invalid(format!(
                    "identity name {:?} is used twice",
                    other.name
                )));
            }
            if let Some(other) = identities.iter().find(|i| i.proof == identity.proof) {
                return Err(PolicyError::Invalid(format!(
                    "identities {:?} and {:?} have the same credential digest",
                    other.name, identity.name
                )));
            }
            identities.push(identity);
        }
        Ok(Self { identities })
    }

    /// The identity a credential belongs to, if any. Every identity's digest is compared, in
    /// constant time, whatever matched before.
    pub fn authenticate(&self, credential: Credential<'_>) -> Option<&Identity> {
        let (presented, want_token) = match credential {
            Credential::Bearer(token) => (<[u8; DIGEST_LEN]>::from(Sha256::digest(token)), true),
            Credential::ClientCert(digest) => (digest, false),
        };
        let mut found = None;
        for identity in &self.identities {
            let (digest, is_token) = match &identity.proof {
                Proof::Token(d) => (d, true),
                Proof::Cert(d) => (d, false),
                Proof::SecretId(_) => continue,
            };
            let same: bool = digest.ct_eq(&presented).into();
            if same && is_token == want_token && found.is_none() {
                found = Some(identity);
            }
        }
        found
    }

    /// The identity holding this TC3 SecretId (its index) and its SecretKey. A SecretId is public
    /// (it names the key, like an access key id), so it is compared plainly; the signature made
    /// with the key is what is compared in constant time.
    pub fn tencent_secret(&self, secret_id: &str) -> Option<TencentSecret<'_>> {
        self.identities
            .iter()
            .enumerate()
            .find_map(
                |(index, identity)| match (&identity.proof, &identity.secret_key) {
                    (Proof::SecretId(id), Some(key)) if id == secret_id => Some(TencentSecret {
                        index,
                        secret_key: key,
                        session_token_sha256: identity.session_token.as_ref(),
                    }),
                    _ => None,
                },
            )
    }

    /// The identities, in the document's order.
    pub fn identities(&self) -> &[Identity] {
        &self.identities
    }
}

fn compile(d: IdentityDoc) -> Result<Identity, PolicyError> {
    let who = d.name.clone();
    if who.trim().is_empty() {
        return Err(PolicyError::Invalid("an identity has an empty name".into()));
    }
    let mut secret_key = None;
    let proof = match (
        &d.token_sha256,
        &d.cert_sha256,
        &d.secret_id,
        &d.secret_key_file,
    ) {
        (Some(t), None, None, None) => Proof::Token(digest(&who, "token_sha256", t)?),
        (None, Some(c), None, None) => Proof::Cert(digest(&who, "cert_sha256", c)?),
        (None, None, Some(id), Some(file)) => {
            if id.is_empty() || id.contains(['/', ',', ' ']) {
                return Err(PolicyError::Invalid(format!(
                    "identity {who:?}: secret_id must be non-empty, without '/', ',' or spaces"
                )));
            }
            secret_key = Some(Arc::new(read_secret_key(&who, file)?));
            Proof::SecretId(id.clone())
        }
        (None, None, Some(_), None) | (None, None, None, Some(_)) => {
            return Err(PolicyError::Invalid(format!(
                "identity {who:?}: secret_id and secret_key_file go together"
            )));
        }
        _ => {
            return Err(PolicyError::Invalid(format!(
                "identity {who:?} needs exactly one of token_sha256, cert_sha256 and \
                 secret_id (with secret_key_file)"
            )));
        }
    };
    let session_token = match (&d.session_token_sha256, &proof) {
        (None, _) => None,
        (Some(t), Proof::SecretId(_)) => Some(digest(&who, "session_token_sha256", t)?),
        (Some(_), _) => {
            return Err(PolicyError::Invalid(format!(
                "identity {who:?}: session_token_sha256 belongs to a secret_id (a temporary TC3 \
                 credential)"
            )));
        }
    };
    if d.allow.is_empty() {
        return Err(PolicyError::Invalid(format!(
            "identity {who:?} allows nothing: list actions in `allow` (or \"*\")"
        )));
    }
    let actions = if d.allow.iter().any(|a| a == "*") {
        None
    } else {
        let mut set = BTreeSet::new();
        for a in &d.allow {
            let action = Action::from_name(a).ok_or_else(|| {
                PolicyError::Invalid(format!("identity {who:?}: unknown action {a:?}"))
            })?;
            set.insert(action);
        }
        Some(set)
    };
    let keys = match d.keys {
        None => None,
        Some(patterns) if patterns.is_empty() => {
            return Err(PolicyError::Invalid(format!(
                "identity {who:?} has an empty `keys` list: leave it out for every key"
            )));
        }
        Some(patterns) => {
            let (mut ids, mut aliases) = (GlobSetBuilder::new(), GlobSetBuilder::new());
            for p in &patterns {
                let (builder, glob) = match p.strip_prefix(ALIAS_PREFIX) {
                    Some(alias) => (&mut aliases, alias),
                    None => (&mut ids, p.as_str()),
                };
                builder.add(Glob::new(glob).map_err(|e| {
                    PolicyError::Invalid(format!("identity {who:?}: key pattern {p:?}: {e}"))
                })?);
            }
            let build = |b: GlobSetBuilder| {
                b.build()
                    .map_err(|e| PolicyError::Invalid(format!("identity {who:?}: {e}")))
            };
            Some(KeyPatterns {
                ids: build(ids)?,
                aliases: build(aliases)?,
            })
        }
    };
    Ok(Identity {
        name: d.name,
        proof,
        actions,
        keys,
        secret_key,
        session_token,
    })
}

/// Reads a TC3 SecretKey file: owner-only, one line (a trailing newline is not part of the key).
fn read_secret_key(who: &str, path: &Path) -> Result<SecretBytes, PolicyError> {
    use std::io::Read as _;
    let shown = path.display().to_string();
    let mut text = zeroize::Zeroizing::new(Vec::new());
    crate::private_fs::open_private(path)
        .and_then(|mut f| f.read_to_end(&mut text))
        .map_err(|source| PolicyError::Read {
            path: shown.clone(),
            source,
        })?;
    let key = text.trim_ascii_end();
    if key.is_empty() || key.contains(&b'\n') {
        return Err(PolicyError::Invalid(format!(
            "identity {who:?}: secret_key_file {shown} must hold the SecretKey on one line"
        )));
    }
    Ok(SecretBytes::new(key.to_vec()))
}

fn digest(who: &str, field: &str, hex_text: &str) -> Result<[u8; DIGEST_LEN], PolicyError> {
    let bad = || {
        PolicyError::Invalid(format!(
            "identity {who:?}: {field} must be 64 hex digits (a SHA-256)"
        ))
    };
    let raw = hex::decode(hex_text.trim()).map_err(|_| bad())?;
    raw.try_into().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN_TOKEN: &[u8] = b"admin-token-0123456789";
    const CERT: [u8; 32] = [7; 32];

    fn sha(b: &[u8]) -> String {
        hex::encode(Sha256::digest(b))
    }

    fn policy() -> Policy {
        Policy::parse(&format!(
            r#"
identities:
  - name: admin
    token_sha256: "{}"
    allow: ["*"]
  - name: storage
    cert_sha256: "{}"
    allow: [GenerateDataKey, Decrypt]
    keys: ["alias/kms-cos", "alias/app-*", "11111111-2222-3333-4444-555555555555"]
"#,
            sha(ADMIN_TOKEN),
            hex::encode(CERT)
        ))
        .unwrap()
    }

    #[test]
    fn tokens_and_certificates_authenticate() {
        let p = policy();
        assert_eq!(
            p.authenticate(Credential::Bearer(ADMIN_TOKEN))
                .unwrap()
                .name(),
            "admin"
        );
        assert!(p.authenticate(Credential::Bearer(b"wrong")).is_none());
        assert_eq!(
            p.authenticate(Credential::ClientCert(CERT)).unwrap().name(),
            "storage"
        );
        assert!(p.authenticate(Credential::ClientCert([8; 32])).is_none());
        // A token whose hash equals a certificate digest is not that certificate's identity.
        let token_digest: [u8; 32] = Sha256::digest(ADMIN_TOKEN).into();
        assert!(
            p.authenticate(Credential::ClientCert(token_digest))
                .is_none()
        );
    }

    #[test]
    fn actions_and_keys() {
        let p = policy();
        let admin = p.authenticate(Credential::Bearer(ADMIN_TOKEN)).unwrap();
        for a in Action::ALL {
            assert!(admin.allows_action(a), "{a}");
        }
        assert!(admin.allows_key("any", None));
        assert!(!admin.is_key_scoped());

        let storage = p.authenticate(Credential::ClientCert(CERT)).unwrap();
        assert!(storage.allows_action(Action::Decrypt));
        assert!(!storage.allows_action(Action::DisableKey));
        assert!(!storage.allows_action(Action::SeedKeys));
        assert!(storage.is_key_scoped());
        assert!(storage.allows_key("99999999-0000-0000-0000-000000000000", Some("kms-cos")));
        assert!(storage.allows_key("99999999-0000-0000-0000-000000000000", Some("app-logs")));
        assert!(storage.allows_key("11111111-2222-3333-4444-555555555555", None));
        assert!(!storage.allows_key("99999999-0000-0000-0000-000000000000", Some("other")));
        assert!(!storage.allows_key("99999999-0000-0000-0000-000000000000", None));
        // The pattern names `alias/...`: a bare alias string as the key id does not match it.
        assert!(!storage.allows_key("kms-cos", None));
    }

    /// An identity with these `keys` patterns.
    fn scoped(patterns: &str) -> Policy {
        Policy::parse(&format!(
            "identities:\n  - name: s\n    cert_sha256: '{}'\n    allow: ['*']\n    keys: {patterns}\n",
            hex::encode(CERT)
        ))
        .unwrap()
    }

    /// A pattern starting with `alias/` matches only `alias/<alias>`, any other only the UUID:
    /// globset's `*` crosses `/`, so one set over both would let `a*` (UUIDs starting with a)
    /// match every `alias/...`.
    #[test]
    fn alias_patterns_match_aliases_and_other_patterns_match_uuids() {
        let key = "00000000-0000-4000-8000-000000000001";
        for (patterns, allowed) in [
            (r#"["a*"]"#, false),
            (r#"["*s/x"]"#, false),
            (r#"["alias/*"]"#, true),
            (r#"["alias/x"]"#, true),
            (r#"["0000*"]"#, true),
            (r#"["alias/0000*"]"#, false),
        ] {
            let p = scoped(patterns);
            let identity = p.authenticate(Credential::ClientCert(CERT)).unwrap();
            assert_eq!(identity.allows_key(key, Some("x")), allowed, "{patterns}");
        }
    }

    #[test]
    fn every_action_name_round_trips() {
        for a in Action::ALL {
            assert_eq!(Action::from_name(a.as_str()), Some(a));
        }
        assert_eq!(Action::from_name("decrypt"), None);
    }

    #[test]
    fn bad_documents_say_what_to_fix() {
        let t = sha(b"t");
        let cases = [
            ("identities: [", "policy: "),
            (
                "identities:\n  - name: a\n    allow: ['*']\n",
                "needs exactly one of token_sha256, cert_sha256 and secret_id",
            ),
            (
                &format!(
                    "identities:\n  - name: a\n    token_sha256: '{t}'\n    cert_sha256: '{t}'\n    allow: ['*']\n"
                ),
                "needs exactly one of token_sha256, cert_sha256 and secret_id",
            ),
            (
                "identities:\n  - name: a\n    token_sha256: 'abc'\n    allow: ['*']\n",
                "token_sha256 must be 64 hex digits",
            ),
            (
                &format!("identities:\n  - name: a\n    token_sha256: '{t}'\n    allow: []\n"),
                "allows nothing",
            ),
            (
                &format!(
                    "identities:\n  - name: a\n    token_sha256: '{t}'\n    allow: [Decrypt, Fly]\n"
                ),
                "unknown action \"Fly\"",
            ),
            (
                &format!(
                    "identities:\n  - name: a\n    token_sha256: '{t}'\n    allow: ['*']\n    keys: []\n"
                ),
                "empty `keys` list",
            ),
            (
                &format!(
                    "identities:\n  - name: a\n    token_sha256: '{t}'\n    allow: ['*']\n    keys: ['a[']\n"
                ),
                "key pattern \"a[\"",
            ),
            (
                &format!(
                    "identities:\n  - name: a\n    token_sha256: '{t}'\n    allow: ['*']\n  - name: a\n    cert_sha256: '{}'\n    allow: ['*']\n",
                    hex::encode(CERT)
                ),
                "used twice",
            ),
            (
                &format!(
                    "identities:\n  - name: a\n    token_sha256: '{t}'\n    allow: ['*']\n  - name: b\n    token_sha256: '{t}'\n    allow: ['*']\n"
                ),
                "same credential digest",
            ),
            (
                &format!("identities:\n  - name: a\n    token: '{t}'\n    allow: ['*']\n"),
                "unknown field `token`",
            ),
        ];
        for (doc, want) in cases {
            let e = Policy::parse(doc).unwrap_err().to_string();
            assert!(e.contains(want), "{doc}\n=> {e}\n(wanted {want})");
            assert!(
                !e.contains(&t) || want == "policy: ",
                "no digest echoed needlessly: {e}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_file_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.yaml");
        std::fs::write(
            &path,
            format!(
                "identities:\n  - name: a\n    token_sha256: '{}'\n    allow: ['*']\n",
                sha(b"t")
            ),
        )
        .unwrap();
        // Readable by others, or only writable by the group (which could then allow itself
        // anything): both refused, saying what to do.
        for mode in [0o644, 0o620] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = Policy::load(&path).unwrap_err();
            assert!(
                e.to_string()
                    .contains(&format!("(mode {mode:o}); chmod 600 it")),
                "{e}"
            );
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        // A symbolic link to a good file is refused: whoever can change it chooses the policy.
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let e = Policy::load(&link).unwrap_err();
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        assert_eq!(Policy::load(&path).unwrap().identities().len(), 1);
        let e = Policy::load(&dir.path().join("absent.yaml")).unwrap_err();
        assert!(e.to_string().starts_with("cannot read policy file"), "{e}");
    }

    #[test]
    fn debug_never_shows_a_token() {
        let shown = format!("{:?}", Credential::Bearer(ADMIN_TOKEN));
        assert_eq!(shown, "Bearer(<redacted>)");
    }
}
