//! Who is calling, and may they: the gRPC edge of [`crate::access`].
//!
//! Every call first becomes a [`Caller`]: the identity its bearer token or client certificate
//! belongs to (UNAUTHENTICATED when it has neither, or one the policy does not hold). Then each RPC
//! asks the caller about the action and every key it touches, before the core sees the request.
//! A key-scoped identity gets the same PERMISSION_DENIED for a key it may not use and for a name
//! that resolves to nothing, so it learns nothing about which keys exist; and a name it may use is
//! pinned to the key's UUID for the core, so an alias moved in between cannot redirect the call.
//!
//! Without a policy the server runs in development mode: every call is allowed (the binary refuses
//! that on a non-loopback address and logs a warning).

use std::{
    borrow::Cow,
    sync::{Arc, PoisonError, RwLock},
};

use tonic::Request;
use uuid::Uuid;

use crate::{
    access::{Action, Credential, Identity, Policy},
    blob::BlobHeader,
    error::{Error, Result},
    keys::KeyMetadata,
    kms::Kms,
};

/// The metadata entry a bearer token travels in.
pub const AUTHORIZATION_METADATA: &str = "authorization";
const BEARER: &str = "Bearer ";

/// The access policy a server enforces, swappable at run time (SIGHUP), or development mode.
#[derive(Debug)]
pub struct AccessControl {
    /// `None`: development mode, every call allowed.
    policy: Option<RwLock<Arc<Policy>>>,
}

impl AccessControl {
    /// Development mode: every call is allowed, as the identity `-`.
    pub fn allow_all() -> Self {
        Self { policy: None }
    }

    /// Enforces `policy`.
    pub fn enforce(policy: Policy) -> Self {
        Self {
            policy: Some(RwLock::new(Arc::new(policy))),
        }
    }

    /// Whether a policy is enforced (false in development mode).
    pub fn is_enforced(&self) -> bool {
        self.policy.is_some()
    }

    /// Replaces the policy for calls that start from now on (calls under way keep theirs). In
    /// development mode there is none to replace: returns false.
    pub fn replace(&self, policy: Policy) -> bool {
        let Some(current) = &self.policy else {
            return false;
        };
        *current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(policy);
        true
    }

    /// The policy in force, `None` in development mode.
    pub fn policy(&self) -> Option<Arc<Policy>> {
        self.policy
            .as_ref()
            .map(|p| p.read().unwrap_or_else(PoisonError::into_inner).clone())
    }

    /// Who is calling: the identity the request's credential belongs to.
    pub(super) fn caller<T>(&self, request: &Request<T>) -> Result<Caller> {
        let Some(policy) = &self.policy else {
            return Ok(Caller::Open);
        };
        // Set by the Tencent API front end once it has verified the request's TC3 signature; an
        // extension, so nothing on the wire can set it.
        if let Some(tencent) = request.extensions().get::<TencentCaller>() {
            return Ok(Caller::Known {
                policy: tencent.policy.clone(),
                index: tencent.index,
            });
        }
        let policy = policy
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let token = bearer_token(request)?;
        // A token wins: the certificate is looked at only without one.
        let cert = match token {
            Some(_) => None,
            None => crate::tls::client_cert_digest(request),
        };
        let credential = match (token, cert) {
            (Some(token), _) => Credential::Bearer(token.as_bytes()),
            (None, Some(digest)) => Credential::ClientCert(digest),
            (None, None) => {
                return Err(Error::Unauthenticated(
                    "no credential: send `authorization: Bearer <token>` metadata or a client \
                     certificate"
                        .to_owned(),
                ));
            }
        };
        let found = policy.authenticate(credential);
        let index = found
            .and_then(|f| policy.identities().iter().position(|i| std::ptr::eq(i, f)))
            .ok_or_else(|| {
                Error::Unauthenticated(match credential {
                    Credential::Bearer(_) => "unknown bearer token".to_owned(),
                    Credential::ClientCert(digest) => format!(
                        "unknown client certificate (cert_sha256 {})",
                        hex::encode(digest)
                    ),
                })
            })?;
        Ok(Caller::Known { policy, index })
    }
}

/// A caller of the Tencent API whose TC3 signature was verified: the identity holding its
/// SecretId in the policy the signature was checked under (which a reload does not change).
#[derive(Debug, Clone)]
pub struct TencentCaller {
    policy: Arc<Policy>,
    index: usize,
}

impl TencentCaller {
    /// The identity at `index` of `policy`.
    pub(crate) fn new(policy: Arc<Policy>, index: usize) -> Self {
        Self { policy, index }
    }
}

/// The bearer token of a request, if it sends one; a malformed `authorization` entry is refused.
fn bearer_token<T>(request: &Request<T>) -> Result<Option<&str>> {
    let Some(value) = request.metadata().get(AUTHORIZATION_METADATA) else {
        return Ok(None);
    };
    let malformed = || Error::Unauthenticated("authorization must be `Bearer <token>`".to_owned());
    let text = value.to_str().map_err(|_| malformed())?;
    let scheme = text.get(..BEARER.len()).ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case(BEARER) {
        return Err(malformed());
    }
    let token = text[BEARER.len()..].trim();
    if token.is_empty() {
        return Err(malformed());
    }
    Ok(Some(token))
}

/// The caller of one RPC.
#[derive(Debug)]
pub(super) enum Caller {
    /// Development mode.
    Open,
    /// An identity of the policy in force when the call started.
    Known {
        /// That policy.
        policy: Arc<Policy>,
        /// The identity's index in it.
        index: usize,
    },
}

impl Caller {
    fn identity(&self) -> Option<&Identity> {
        match self {
            Self::Open => None,
            Self::Known { policy, index } => policy.identities().get(*index),
        }
    }

    /// The identity's name, as the audit log writes it (`-` in development mode).
    pub(super) fn name(&self) -> &str {
        self.identity().map_or("-", Identity::name)
    }

    /// May the caller make this call at all?
    pub(super) fn action(&self, action: Action) -> Result<()> {
        match self.identity() {
            Some(i) => i.check_action(action).map_err(Error::PermissionDenied),
            None => Ok(()),
        }
    }

    /// The identity when it is limited to some keys.
    fn scoped(&self) -> Option<&Identity> {
        self.identity().filter(|i| i.is_key_scoped())
    }

    /// May the caller make this call on the key `name` names? Returns the name the core should
    /// use: the key's UUID for a key-scoped identity (pinned), `name` itself otherwise.
    pub(super) fn key<'a>(&self, kms: &Kms, action: Action, name: &'a str) -> Result<Cow<'a, str>> {
        self.action(action)?;
        let Some(identity) = self.scoped() else {
            return Ok(Cow::Borrowed(name));
        };
        pin(identity, action, name, kms.key_names(name))
    }

    /// [`Caller::key`] that also says which key `name` resolved to (its UUID, `None` when it
    /// names none), for every caller and also when the call is refused: for the audit line of a
    /// call whose answer does not name its key. One lookup, the one the policy check uses; the
    /// name handed on is then the UUID for every caller, so the key recorded is the key changed.
    pub(super) fn resolve<'a>(
        &self,
        kms: &Kms,
        action: Action,
        name: &'a str,
    ) -> (Option<Uuid>, Result<Cow<'a, str>>) {
        let names = kms.key_names(name);
        let id = names.as_ref().map(|(id, _)| *id);
        let key = self.action(action).and_then(|()| match self.scoped() {
            Some(identity) => pin(identity, action, name, names),
            None => Ok(id.map_or(Cow::Borrowed(name), |id| Cow::Owned(id.to_string()))),
        });
        (id, key)
    }

    /// May the caller open (or re-encrypt) a blob with this header? The key is the one the header
    /// names; a blob whose header does not parse (`None`) is left to the core (an invalid
    /// ciphertext for everyone). The call parses the header once, for this and its audit line.
    pub(super) fn blob(&self, kms: &Kms, action: Action, header: Option<BlobHeader>) -> Result<()> {
        self.action(action)?;
        let (Some(identity), Some(header)) = (self.scoped(), header) else {
            return Ok(());
        };
        by_id(kms, identity, action, header.key_id, None)
    }

    /// May the caller use the key with this UUID, which the call names for the caller as `shown`
    /// (GetDefaultKey: the caller names no key, so a refusal names the default key by its public
    /// alias, not by a UUID it never gave)?
    pub(super) fn known_key(&self, kms: &Kms, action: Action, id: Uuid, shown: &str) -> Result<()> {
        self.action(action)?;
        match self.scoped() {
            Some(identity) => by_id(kms, identity, action, id, Some(shown)),
            None => Ok(()),
        }
    }

    /// May the caller give a key this alias (CreateKey, UpdateAlias)? Checked against the
    /// `alias/<alias>` patterns, so a scoped identity cannot move a key under another's pattern.
    pub(super) fn new_alias(&self, action: Action, alias: &str) -> Result<()> {
        self.action(action)?;
        let Some(identity) = self.scoped() else {
            return Ok(());
        };
        let bare = kms_types::naming::bare_alias(alias);
        if identity.allows_key("", Some(bare)) {
            Ok(())
        } else {
            Err(denied(identity, action, &format!("alias/{bare}")))
        }
    }

    /// May the caller make a call that may touch any key (SeedKeys)? Only an identity not limited
    /// to some keys.
    pub(super) fn every_key(&self, action: Action) -> Result<()> {
        self.action(action)?;
        match self.scoped() {
            Some(i) => Err(Error::PermissionDenied(format!(
                "identity {} may not call {action}: it is limited to some keys",
                i.name()
            ))),
            None => Ok(()),
        }
    }

    /// Whether a listing shows the caller this key.
    pub(super) fn sees(&self, m: &KeyMetadata) -> bool {
        self.identity()
            .is_none_or(|i| i.allows_key(&m.key_id.to_string(), Some(&m.alias)))
    }

    /// Whether listings must be filtered for this caller.
    pub(super) fn is_key_scoped(&self) -> bool {
        self.identity().is_some_and(Identity::is_key_scoped)
    }
}

/// The key `name` resolved to (`names`, from [`Kms::key_names`]) pinned by its UUID, if the
/// identity may use it; refused, naming it as given, if not or if it names no key.
fn pin<'a>(
    identity: &Identity,
    action: Action,
    name: &str,
    names: Option<(Uuid, String)>,
) -> Result<Cow<'a, str>> {
    match names {
        Some((id, alias)) if identity.allows_key(&id.to_string(), Some(&alias)) => {
            Ok(Cow::Owned(id.to_string()))
        }
        _ => Err(denied(identity, action, name)),
    }
}

/// May the identity use the key with this UUID? A refusal names it as `shown` (default: the UUID).
fn by_id(
    kms: &Kms,
    identity: &Identity,
    action: Action,
    id: Uuid,
    shown: Option<&str>,
) -> Result<()> {
    let alias = kms.alias_of(id);
    let uuid = id.to_string();
    if identity.allows_key(&uuid, alias.as_deref()) {
        Ok(())
    } else {
        Err(denied(identity, action, shown.unwrap_or(&uuid)))
    }
}

fn denied(identity: &Identity, action: Action, shown: &str) -> Error {
    Error::PermissionDenied(format!(
        "identity {} may not call {action} on key {shown}",
        identity.name()
    ))
}
