//! Seed documents: keys with fixed ids, aliases, states and optional fixed material, so test
//! suites get the same keys and ciphertexts on every run.
//!
//! ```yaml
//! keys:
//!   - key_id: 6f1c2d3e-0000-4000-8000-000000000001   # required, a UUID
//!     alias: orders                                   # required, the CreateKey alias rules
//!     description: Orders bucket key                  # optional
//!     state: Enabled                                  # optional: Enabled, Disabled, Archived
//!     material:                                       # optional: 32 bytes each, hex or base64;
//!       - 000102...1f                                 #   entry N is key version N
//!   - key_id: 6f1c2d3e-0000-4000-8000-000000000002
//!     alias: kms-key-id                               # the reserved `kms-` prefix ...
//!     owner: cos                                      # ... only for a key owned by a service
//!   - key_id: 6f1c2d3e-0000-4000-8000-000000000003
//!     alias: signer
//!     key_usage: ASYMMETRIC_SIGN_VERIFY_ECC           # optional, default ENCRYPT_DECRYPT
//!     private_key_pem: |                              # optional, asymmetric usages only:
//!       -----BEGIN PRIVATE KEY-----                   #   PKCS#8, SEC1 or PKCS#1 PEM
//!       ...
//! ```
//! JSON with the same shape works too (YAML is a superset). A document is checked as a whole before
//! anything is written, then written in one store transaction; loading it again changes nothing. A
//! key already in the store is updated (alias, description, state, further versions) only if its
//! existing versions match the document. A new key without `state` is Enabled; an existing key
//! without `state` keeps its own, and a key pending deletion is refused rather than revived. An
//! alias held by another stored key moves only if the document names that key (by id) too.
//!
//! `owner` (default `user`) names the service a key belongs to, as Tencent's cloud products own
//! their `kms-` keys: only such a key may take an alias with the reserved `kms-` prefix, and, like
//! the built-in COS keys, it is refused every lifecycle call (the seed, an administrator's action,
//! is how it changes). A document changes a stored service key only if it names the same owner.
//!
//! An asymmetric key (`key_usage` one of the `ASYMMETRIC_*` usages) takes `private_key_pem`, checked
//! against the usage ([`PemPrivateKey::key_for`]); without it a new key gets a fresh key pair. A
//! stored key keeps its usage and its key pair: a document that gives another is refused.

use std::{collections::HashMap, fmt, sync::Arc};

use base64::Engine as _;
use serde::{Deserialize, Deserializer};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::{
    Kms,
    cache::{Cache, Entry, Material},
};
use crate::{
    asymmetric::{PemPrivateKey, PrivateKey},
    error::{Error, Result},
    keys::{
        self, KeyMetadata, KeyState, KeyUsage, ORIGIN_EXTERNAL, ORIGIN_KMS, OWNER_USER,
        RESERVED_ALIAS_PREFIX, validate_alias, validate_description,
    },
    secret::{KEY_LEN, Key32},
    store::{KeyWrite, StoredVersion},
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    keys: Vec<SeedKey>,
}

/// One key of a seed document, checked field by field while parsing (so errors carry a line).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedKey {
    key_id: SeedId,
    alias: SeedAlias,
    #[serde(default)]
    description: SeedDescription,
    /// Absent: Enabled for a new key, unchanged for an existing one.
    #[serde(default)]
    state: Option<SeedState>,
    #[serde(default)]
    material: Vec<SeedMaterial>,
    /// Absent: an ordinary user key.
    #[serde(default)]
    owner: Option<SeedOwner>,
    /// Absent: `ENCRYPT_DECRYPT`.
    #[serde(default)]
    key_usage: Option<SeedUsage>,
    /// An asymmetric key's private key. Absent: a new key gets a fresh key pair.
    #[serde(default)]
    private_key_pem: Option<SeedPem>,
}

impl fmt::Debug for SeedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeedKey")
            .field("key_id", &self.key_id.0)
            .field("alias", &self.alias.0)
            .finish_non_exhaustive()
    }
}

struct SeedId(Uuid);
struct SeedAlias(String);
#[derive(Default)]
struct SeedDescription(String);
struct SeedState(KeyState);
struct SeedMaterial(Key32);
struct SeedUsage(KeyUsage);
struct SeedPem(PemPrivateKey);
/// A service name: 1..=[`MAX_OWNER_LEN`] characters of `[a-z0-9-]`, first a letter, not `user`.
struct SeedOwner(String);

/// The longest service name an `owner` field takes.
const MAX_OWNER_LEN: usize = 32;

impl<'de> Deserialize<'de> for SeedId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Uuid::parse_str(&s)
            .map(SeedId)
            .map_err(|_| serde::de::Error::custom(format!("key_id {s:?} is not a UUID")))
    }
}

impl<'de> Deserialize<'de> for SeedAlias {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let bare = keys::bare_alias(&s).to_owned();
        // The reserved prefix is checked against the key's owner once the entry is read.
        validate_alias(&bare, true).map_err(serde::de::Error::custom)?;
        Ok(SeedAlias(bare))
    }
}

impl<'de> Deserialize<'de> for SeedOwner {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let valid = (1..=MAX_OWNER_LEN).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(serde::de::Error::custom(format!(
                "owner must be a service name of 1..={MAX_OWNER_LEN} characters of [a-z0-9-] \
                 starting with a letter, got {s:?}"
            )));
        }
        if s == OWNER_USER {
            return Err(serde::de::Error::custom(
                "owner \"user\" is the default: leave the field out for a user key",
            ));
        }
        Ok(SeedOwner(s))
    }
}

impl<'de> Deserialize<'de> for SeedDescription {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        validate_description(&s).map_err(serde::de::Error::custom)?;
        Ok(SeedDescription(s))
    }
}

impl<'de> Deserialize<'de> for SeedState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.parse::<KeyState>() {
            Ok(st @ (KeyState::Enabled | KeyState::Disabled | KeyState::Archived)) => {
                Ok(SeedState(st))
            }
            _ => Err(serde::de::Error::custom(format!(
                "state must be Enabled, Disabled or Archived, got {s:?}"
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for SeedMaterial {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = zeroize::Zeroizing::new(String::deserialize(d)?);
        let raw = zeroize::Zeroizing::new(
            hex::decode(s.trim())
                .ok()
                .or_else(|| {
                    base64::engine::general_purpose::STANDARD
                        .decode(s.trim())
                        .ok()
                })
                .ok_or_else(|| serde::de::Error::custom("material is neither hex nor base64"))?,
        );
        Key32::from_slice(&raw).map(SeedMaterial).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "material must be {KEY_LEN} bytes, got {}",
                raw.len()
            ))
        })
    }
}

impl<'de> Deserialize<'de> for SeedUsage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        KeyUsage::parse(&s).map(SeedUsage).ok_or_else(|| {
            let known: Vec<&str> = KeyUsage::ALL.iter().map(|u| u.as_str()).collect();
            serde::de::Error::custom(format!("key_usage must be one of {known:?}, got {s:?}"))
        })
    }
}

impl<'de> Deserialize<'de> for SeedPem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = zeroize::Zeroizing::new(String::deserialize(d)?);
        PemPrivateKey::parse(&s)
            .map(SeedPem)
            .map_err(serde::de::Error::custom)
    }
}

/// Parses and checks a document's syntax and per-field rules.
fn parse(document: &str) -> Result<Vec<SeedKey>> {
    let doc: Document = serde_norway::from_str(document).map_err(|e| {
        let line = e.location().map_or(0, |l| l.line());
        let msg = e.to_string();
        let rule = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
        Error::Seed { line, rule }
    })?;
    Ok(doc.keys)
}

/// A key to write: its full metadata and all its versions (the first `existing_versions` are
/// already stored).
struct Planned {
    meta: KeyMetadata,
    material: Material,
    existing_versions: u32,
    /// The key as the cache had it (`None`: a new key): what the store's write is conditional on.
    before: Option<KeyMetadata>,
}

fn line_of(document: &str, needle: &str) -> usize {
    document
        .lines()
        .position(|l| l.contains(needle))
        .map_or(0, |i| i + 1)
}

/// Checks the document against the store and returns what must change (empty: nothing).
fn plan(entries: &[SeedKey], document: &str, cache: &Cache, now: i64) -> Result<Vec<Planned>> {
    let err = |needle: &str, rule: String| Error::Seed {
        line: line_of(document, needle),
        rule,
    };
    let mut ids = HashMap::new();
    let mut aliases = HashMap::new();
    for e in entries {
        let id = e.key_id.0;
        if ids.insert(id, ()).is_some() {
            return Err(err(&id.to_string(), format!("key_id {id} appears twice")));
        }
        if let Some(other) = aliases.insert(e.alias.0.clone(), id) {
            return Err(err(
                &id.to_string(),
                format!("alias {} is also given to key {other}", e.alias.0),
            ));
        }
    }
    let mut out = Vec::new();
    for e in entries {
        let id = e.key_id.0;
        let id_text = id.to_string();
        let alias = &e.alias.0;
        let owner = e.owner.as_ref().map_or(OWNER_USER, |o| o.0.as_str());
        if e.owner.is_none() && alias.starts_with(RESERVED_ALIAS_PREFIX) {
            return Err(err(
                &id_text,
                format!(
                    "alias prefix {RESERVED_ALIAS_PREFIX:?} is reserved for service keys: \
                     give key {id} an owner (the service it belongs to) to use {alias}"
                ),
            ));
        }
        // The alias may belong to another stored key only if the document moves that key elsewhere.
        if let Some(holder) = cache.alias_holder(alias)
            && holder != id
            && !ids.contains_key(&holder)
        {
            return Err(err(
                &id_text,
                format!("alias {alias} is used by key {holder}"),
            ));
        }
        let given: Vec<Key32> = e.material.iter().map(|m| m.0.clone()).collect();
        let usage = e
            .key_usage
            .as_ref()
            .map_or(KeyUsage::EncryptDecrypt, |u| u.0);
        if !usage.is_symmetric() && !given.is_empty() {
            return Err(err(
                &id_text,
                format!(
                    "key {id}: material is for ENCRYPT_DECRYPT keys, a {usage} key takes \
                     private_key_pem"
                ),
            ));
        }
        let pair = match &e.private_key_pem {
            Some(SeedPem(pem)) => {
                Some(Arc::new(pem.key_for(usage).map_err(|rule| {
                    err(&id_text, format!("key {id}: {rule}"))
                })?))
            }
            None => None,
        };
        let (mut meta, material, existing_versions) = match cache.get(&id) {
            Some(existing) => {
                if existing.meta().key_usage != usage {
                    return Err(err(
                        &id_text,
                        format!(
                            "key {id} has KeyUsage {}, the document says {usage}",
                            existing.meta().key_usage
                        ),
                    ));
                }
                if existing.meta().owner != owner {
                    return Err(err(
                        &id_text,
                        format!(
                            "key {id} is owned by {:?}, the document says {owner:?}",
                            existing.meta().owner
                        ),
                    ));
                }
                if existing.meta().state == KeyState::PendingImport {
                    // Its material was deleted or expired, or never imported: only
                    // ImportKeyMaterial gives it material again (checked against the first
                    // material's fingerprint, audited). A seed is applied at every start and must
                    // not undo that, nor enable a key with nothing to seal under.
                    if !given.is_empty()
                        || e.state
                            .as_ref()
                            .is_some_and(|s| s.0 != existing.meta().state)
                    {
                        tracing::warn!(
                            key_id = %id,
                            "seed: the key is PendingImport (no key material): left as it is, \
                             give it material with ImportKeyMaterial"
                        );
                    }
                    continue;
                }
                if let Some(stored) = existing.key_pair() {
                    if pair
                        .as_ref()
                        .is_some_and(|p| p.public_key_der() != stored.public_key_der())
                    {
                        return Err(err(
                            &id_text,
                            format!("key {id} exists with another key pair"),
                        ));
                    }
                    (
                        existing.meta().clone(),
                        Material::KeyPair(Arc::clone(stored)),
                        1,
                    )
                } else {
                    let (versions, n) = symmetric_versions(existing, &given, &id_text, &err)?;
                    (existing.meta().clone(), Material::Versions(versions), n)
                }
            }
            None => {
                let (external, material) = match (usage.key_spec(), pair) {
                    (Some(_), Some(pair)) => (true, Material::KeyPair(pair)),
                    (Some(spec), None) => (
                        false,
                        Material::KeyPair(Arc::new(PrivateKey::generate(spec)?)),
                    ),
                    (None, _) if given.is_empty() => {
                        (false, Material::Versions(vec![Key32::random()]))
                    }
                    (None, _) => (true, Material::Versions(given)),
                };
                let meta = KeyMetadata {
                    key_id: id,
                    alias: alias.clone(),
                    description: String::new(),
                    state: KeyState::Enabled,
                    key_usage: usage,
                    owner: owner.to_owned(),
                    origin: if external {
                        ORIGIN_EXTERNAL
                    } else {
                        ORIGIN_KMS
                    }
                    .to_owned(),
                    create_time: now,
                    deletion_date: 0,
                    rotation_enabled: false,
                    rotate_days: 0,
                    last_rotate_time: 0,
                    next_rotate_time: 0,
                    valid_to: 0,
                    tags: Vec::new(),
                    current_key_version: 0,
                };
                (meta, material, 0)
            }
        };
        let before = meta.clone();
        let cached = cache.get(&id).map(|e| e.meta().clone());
        meta.alias.clone_from(alias);
        meta.description.clone_from(&e.description.0);
        let wanted = match &e.state {
            Some(SeedState(state)) => *state,
            None if existing_versions == 0 => KeyState::Enabled,
            None => meta.state,
        };
        if meta.state != wanted {
            // A seed never cancels a pending deletion: that is CancelKeyDeletion's job, audited
            // and authorized as such.
            if meta.state == KeyState::PendingDelete {
                return Err(err(
                    &id_text,
                    format!(
                        "key {id} is pending deletion: cancel the deletion (CancelKeyDeletion) \
                         before seeding it as {wanted}"
                    ),
                ));
            }
            meta.state = wanted;
        }
        let count = match &material {
            Material::Versions(v) => u32::try_from(v.len()).unwrap_or(u32::MAX),
            Material::KeyPair(_) => 1,
        };
        meta.current_key_version = count;
        if count > existing_versions || meta != before || existing_versions == 0 {
            out.push(Planned {
                meta,
                material,
                existing_versions,
                before: cached,
            });
        }
    }
    Ok(out)
}

/// A stored symmetric key's versions with those the document adds, and how many are stored.
fn symmetric_versions(
    existing: &Entry,
    given: &[Key32],
    id_text: &str,
    err: &impl Fn(&str, String) -> Error,
) -> Result<(Vec<Key32>, u32)> {
    let id = existing.meta().key_id;
    let n = existing.versions().len();
    let mut versions = existing.versions().to_vec();
    if !given.is_empty() {
        if given.len() < n {
            return Err(err(
                id_text,
                format!(
                    "key {id} has {n} versions in the store, the document gives {}",
                    given.len()
                ),
            ));
        }
        let same = existing
            .versions()
            .iter()
            .zip(given)
            .all(|(a, b)| bool::from(a.expose().ct_eq(b.expose())));
        if !same {
            return Err(err(
                id_text,
                format!("key {id} exists with other key material"),
            ));
        }
        versions.extend(given[n..].iter().cloned());
    }
    Ok((versions, u32::try_from(n).unwrap_or(u32::MAX)))
}

impl Kms {
    /// Loads a seed document (YAML or JSON): all or nothing, idempotent. Returns (changed, total).
    ///
    /// The store writes the seed only if every key it touches is still as this replica's cache
    /// has it. If another replica changed, made or deleted one since the last resync (or gave an
    /// alias away), its changes are taken in and the document is checked and planned once more
    /// on the fresh keys, so a seed never undoes another replica's change (re-enabling a key
    /// disabled there, say). A second conflict in a row is returned (ABORTED: retry).
    pub fn seed(&self, document: &str) -> Result<(usize, usize)> {
        let entries = parse(document)?;
        let _w = self.lock_write()?;
        match self.seed_locked(&entries, document) {
            Err(Error::Conflict(_) | Error::AliasExists(_)) => {
                tracing::debug!("seeded keys changed by another replica: reloaded, retrying");
                self.resync_locked()?;
                self.seed_locked(&entries, document)
            }
            done => done,
        }
    }

    /// One attempt of [`Kms::seed`], under the write lock.
    fn seed_locked(&self, entries: &[SeedKey], document: &str) -> Result<(usize, usize)> {
        let now = self.now();
        let planned = {
            let cache = self.read();
            plan(entries, document, &cache, now)?
        };
        let total = entries.len();
        if planned.is_empty() {
            return Ok((0, total));
        }
        let mut writes = Vec::with_capacity(planned.len());
        let mut cached = Vec::with_capacity(planned.len());
        for p in planned {
            let new_versions = match &p.material {
                Material::Versions(versions) => versions
                    .iter()
                    .zip(1u32..)
                    .skip(p.existing_versions as usize)
                    .map(|(m, v)| self.wrap(p.meta.key_id, v, m, now))
                    .collect::<Vec<_>>(),
                // A key pair is version 1 for life: written once, with the key.
                Material::KeyPair(_) if p.existing_versions > 0 => Vec::new(),
                Material::KeyPair(key) => vec![StoredVersion {
                    version: 1,
                    wrapped: self.root.wrap_private_key(p.meta.key_id, 1, key.pkcs8()),
                    create_time: now,
                }],
            };
            writes.push(KeyWrite {
                meta: p.meta.clone(),
                new_versions,
                before: p.before,
            });
            cached.push(Entry::with_material(p.meta, p.material));
        }
        self.store().apply_seed(&writes)?;
        let changed = cached.len();
        self.apply(|c| cached.into_iter().for_each(|e| c.insert(e)));
        Ok((changed, total))
    }
}

/// A seed document checked against `existing` keys and applied to an in-memory copy of them only,
/// twice: how many keys the first load changes and how many the second (always 0: loading a
/// document again changes nothing). No store is touched. What `crate::fuzzing` runs.
pub(crate) fn dry_run(
    document: &str,
    existing: Vec<(KeyMetadata, Vec<Key32>)>,
    now: i64,
) -> Result<(usize, usize)> {
    let entries = parse(document)?;
    let mut cache = Cache::default();
    for (meta, versions) in existing {
        cache.insert(Entry::new(meta, versions));
    }
    let first = plan(&entries, document, &cache, now)?;
    let changed = first.len();
    for p in first {
        cache.insert(Entry::with_material(p.meta, p.material));
    }
    let again = plan(&entries, document, &cache, now)?.len();
    Ok((changed, again))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "  - key_id: 6f1c2d3e-0000-4000-8000-0000000000aa\n    alias: newcomer\n";

    /// What the parser says about broken documents: the line and the rule, word for word.
    fn refusals() -> Vec<(usize, String)> {
        let docs = [
            format!("keys:\n{GOOD}  - key_id: nope\n    alias: x\n"),
            format!("keys:\n{GOOD}    colour: red\n"),
            format!(
                "keys:\n{GOOD}  - key_id: 6f1c2d3e-0000-4000-8000-0000000000bb\n    alias: 'no spaces allowed'\n"
            ),
            format!(
                "keys:\n{GOOD}  - key_id: 6f1c2d3e-0000-4000-8000-0000000000bb\n    alias: b\n    state: PendingDelete\n"
            ),
            format!(
                "keys:\n{GOOD}  - key_id: 6f1c2d3e-0000-4000-8000-0000000000bb\n    alias: b\n    material:\n      - 0102\n"
            ),
            format!("keys:\n{GOOD}  - [unclosed\n"),
            "colour: red\n".to_owned(),
            "".to_owned(),
        ];
        docs.iter()
            .map(|d| match parse(d) {
                Err(Error::Seed { line, rule }) => (line, rule),
                other => panic!("{d:?} gave {:?}", other.map(|k| k.len())),
            })
            .collect()
    }

    /// Frozen when the parser moved from serde_yaml to serde_norway: both said exactly this.
    #[test]
    fn refusals_name_the_line_and_the_rule() {
        let want: [(usize, &str); 8] = [
            (4, "keys[1]: key_id \"nope\" is not a UUID"),
            (
                4,
                "keys[0]: unknown field `colour`, expected one of `key_id`, `alias`, \
                 `description`, `state`, `material`, `owner`, `key_usage`, `private_key_pem`",
            ),
            (
                4,
                "keys[1]: alias may only contain letters, digits, '_' and '-'",
            ),
            (
                4,
                "keys[1]: state must be Enabled, Disabled or Archived, got \"PendingDelete\"",
            ),
            (7, "keys[1].material: material must be 32 bytes, got 2"),
            (
                4,
                "keys[1]: invalid type: sequence, expected struct SeedKey",
            ),
            (1, "unknown field `colour`, expected `keys`"),
            (1, "missing field `keys`"),
        ];
        let got = refusals();
        assert_eq!(got.len(), want.len());
        for (got, (line, rule)) in got.iter().zip(want) {
            assert_eq!((got.0, got.1.as_str()), (line, rule));
        }
    }
}
