//! The key lifecycle calls: CreateKey, DescribeKey, ListKeys, the state changes (each one a row of
//! [`KeyState::next`]'s table), UpdateAlias, UpdateKeyDescription and rotation. Their limits live
//! here, with the calls they bound.

use std::sync::Arc;

use uuid::Uuid;

use super::{Kms, cache::Material, deadlines::rotated, step};
use crate::{
    asymmetric::PrivateKey,
    clock::DAY_SECS,
    error::{Error, Result},
    keys::{
        self, KeyAction, KeyMetadata, KeyState, KeyUsage, ORIGIN_KMS, OWNER_USER, Tag, TagFilter,
        validate_alias, validate_description,
    },
    secret::Key32,
};

/// Range of ScheduleKeyDeletion's pending window, in days.
pub const PENDING_WINDOW_DAYS: std::ops::RangeInclusive<u32> = 7..=30;
/// Range of a rotation period, in days.
pub const ROTATE_DAYS: std::ops::RangeInclusive<u32> = 7..=365;
/// Rotation period when EnableKeyRotation gives none.
pub const DEFAULT_ROTATE_DAYS: u32 = *ROTATE_DAYS.end();
/// Most keys ListKeys returns at once; 0 asks for [`DEFAULT_LIST_LIMIT`].
pub const MAX_LIST_LIMIT: u32 = 1000;
/// ListKeys page size when none is given.
pub const DEFAULT_LIST_LIMIT: u32 = 100;

/// Rotation settings of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationStatus {
    /// Whether automatic rotation is on.
    pub enabled: bool,
    /// Its period in days.
    pub rotate_days: u32,
    /// Last rotation (0: never).
    pub last_rotate_time: i64,
    /// Next automatic rotation (0: none).
    pub next_rotate_time: i64,
    /// Newest version.
    pub current_key_version: u32,
}

/// One page of ListKeys.
#[derive(Debug, Clone)]
pub struct KeyPage {
    /// The keys, oldest first.
    pub keys: Vec<KeyMetadata>,
    /// How many keys match the filter in all.
    pub total_count: u32,
}

/// ListKeys filter, order and page (the filters of Tencent's ListKeyDetail included).
#[derive(Debug, Clone, Default)]
pub struct ListKeys {
    /// Keys to skip.
    pub offset: u32,
    /// Page size (0: [`DEFAULT_LIST_LIMIT`]).
    pub limit: u32,
    /// Only keys in this state.
    pub state: Option<KeyState>,
    /// Only keys in one of these states (empty: any).
    pub states: Vec<KeyState>,
    /// Also list service-owned keys.
    pub include_service_keys: bool,
    /// List service-owned keys only.
    pub service_keys_only: bool,
    /// Newest first (by creation time, then id); oldest first otherwise.
    pub newest_first: bool,
    /// Only keys whose id or alias contains this text (empty: every key).
    pub search: String,
    /// Only keys of this origin ([`ORIGIN_KMS`] or [`keys::ORIGIN_EXTERNAL`]).
    pub origin: Option<String>,
    /// Only keys of this usage.
    pub key_usage: Option<KeyUsage>,
    /// Only keys every filter matches.
    pub tag_filters: Vec<TagFilter>,
}

impl ListKeys {
    /// Whether a key owned by the service (`service`) or not passes the owner filter.
    fn accepts_owner(&self, service: bool) -> bool {
        if self.service_keys_only {
            service
        } else {
            self.include_service_keys || !service
        }
    }

    /// Whether a key in `state` passes the state filters.
    fn accepts_state(&self, state: KeyState) -> bool {
        self.state.is_none_or(|s| state == s)
            && (self.states.is_empty() || self.states.contains(&state))
    }

    /// The number of keys the state and owner filters accept, from the cache's counters.
    fn counted(&self, cache: &super::cache::Cache) -> u32 {
        KeyState::ALL
            .into_iter()
            .filter(|s| self.accepts_state(*s))
            .map(|s| {
                let (all, users) = (cache.count(Some(s), true), cache.count(Some(s), false));
                let service = all - users;
                u32::from(self.accepts_owner(false)) * users
                    + u32::from(self.accepts_owner(true)) * service
            })
            .sum()
    }

    /// Whether a filter beyond state and owner is set (then the total is counted, not read from
    /// the cache's counters).
    fn is_filtered(&self) -> bool {
        !self.search.is_empty()
            || self.origin.is_some()
            || self.key_usage.is_some()
            || !self.tag_filters.is_empty()
    }

    /// Whether `m` passes the filters.
    fn accepts(&self, m: &KeyMetadata) -> bool {
        self.accepts_owner(m.is_service_key())
            && self.accepts_state(m.state)
            && (self.search.is_empty()
                || m.alias.contains(&self.search)
                || m.key_id.to_string().contains(&self.search))
            && self.origin.as_deref().is_none_or(|o| m.origin == o)
            && self.key_usage.is_none_or(|u| m.key_usage == u)
            && keys::tags::matches(&m.tags, &self.tag_filters)
    }
}

/// Refuses a change to a service-owned key.
pub(super) fn user_only(m: &KeyMetadata) -> Result<()> {
    if m.is_service_key() {
        return Err(Error::ServiceKey(m.key_id.to_string()));
    }
    Ok(())
}

/// Refuses a rotation of an asymmetric key (one key pair for life: Tencent answers
/// `UnsupportedOperation.RotateNotSupported`) or of a key whose material was imported (the KMS
/// cannot make a new version).
fn own_material(m: &KeyMetadata) -> Result<()> {
    if !m.key_usage.is_symmetric() {
        return Err(Error::RotateNotSupported(m.key_id.to_string()));
    }
    if m.origin != ORIGIN_KMS {
        return Err(Error::ExternalMaterial(m.key_id.to_string()));
    }
    Ok(())
}

fn invalid_field(e: keys::InvalidField) -> Error {
    Error::invalid(e.to_string())
}

impl Kms {
    /// CreateKey: a new Enabled user key with one version; `key_usage` is Tencent's spelling of a
    /// [`KeyUsage`] (empty: [`KeyUsage::DEFAULT`]). An asymmetric key gets a fresh key pair.
    pub fn create_key(
        &self,
        alias: &str,
        description: &str,
        key_usage: &str,
    ) -> Result<KeyMetadata> {
        self.create_key_from(alias, description, key_usage, false)
    }

    /// CreateKey with its origin: `external` makes a key of [`keys::ORIGIN_EXTERNAL`], in
    /// PendingImport without material until ImportKeyMaterial (symmetric only).
    pub fn create_key_from(
        &self,
        alias: &str,
        description: &str,
        key_usage: &str,
        external: bool,
    ) -> Result<KeyMetadata> {
        self.create_key_tagged(alias, description, key_usage, external, Vec::new())
    }

    /// CreateKey with its origin and its tags (checked with [`keys::tags::validate_tags`] and
    /// kept sorted by key; fixed for the key's life).
    pub fn create_key_tagged(
        &self,
        alias: &str,
        description: &str,
        key_usage: &str,
        external: bool,
        tags: Vec<Tag>,
    ) -> Result<KeyMetadata> {
        let tags = keys::tags::validate_tags(tags).map_err(Error::tags)?;
        let alias = keys::bare_alias(alias);
        validate_alias(alias, false).map_err(invalid_field)?;
        validate_description(description).map_err(invalid_field)?;
        let usage = if key_usage.is_empty() {
            KeyUsage::DEFAULT
        } else {
            KeyUsage::parse(key_usage).ok_or_else(|| {
                let known: Vec<&str> = KeyUsage::ALL.iter().map(|u| u.as_str()).collect();
                Error::KeyUsage(format!(
                    "key_usage must be one of {known:?}, got {key_usage:?}"
                ))
            })?
        };
        if external && !usage.is_symmetric() {
            return Err(Error::KeyUsage(format!(
                "an EXTERNAL key (imported material) must be ENCRYPT_DECRYPT, got {key_usage:?}"
            )));
        }
        // A key pair is made before the write lock: RSA generation takes tens of milliseconds.
        let material = match usage.key_spec() {
            None if external => Material::Versions(Vec::new()),
            None => Material::Versions(vec![Key32::random()]),
            Some(spec) => Material::KeyPair(Arc::new(PrivateKey::generate(spec)?)),
        };
        let _w = self.lock_write()?;
        if self.read().alias_holder(alias).is_some() {
            return Err(Error::AliasExists(alias.to_owned()));
        }
        let mut meta = self.new_metadata(alias, description, OWNER_USER, usage);
        meta.tags = tags;
        if external {
            meta.origin = keys::ORIGIN_EXTERNAL.to_owned();
            meta.state = KeyState::PendingImport;
            meta.current_key_version = 0;
        }
        self.persist_new(meta.clone(), material)?;
        Ok(meta)
    }

    /// DescribeKey.
    pub fn describe_key(&self, name: &str) -> Result<KeyMetadata> {
        self.expire_due(name)?;
        Ok(self.read().resolve(name)?.meta().clone())
    }

    /// The UUID and alias of the key `name` (a UUID, `alias/<name>` or a bare alias) names, if
    /// any: what an access policy's key patterns are matched against.
    pub fn key_names(&self, name: &str) -> Option<(Uuid, String)> {
        let c = self.read();
        let m = c.resolve(name).ok()?.meta();
        Some((m.key_id, m.alias.clone()))
    }

    /// The alias of the key with this UUID (`None`: no such key).
    pub fn alias_of(&self, key_id: Uuid) -> Option<String> {
        self.read().get(&key_id).map(|e| e.meta().alias.clone())
    }

    /// GetDefaultKey: the default CMK.
    pub fn default_key(&self) -> Result<KeyMetadata> {
        self.describe_key(&self.default_key_id.to_string())
    }

    /// ListKeys.
    pub fn list_keys(&self, req: ListKeys) -> Result<KeyPage> {
        self.list_visible_keys(req, None)
    }

    /// ListKeys for a caller who may see only some keys: `visible` is asked of every key, and the
    /// total counts only those it accepts (so the listing says nothing of the others).
    pub fn list_visible_keys(
        &self,
        req: ListKeys,
        visible: Option<&dyn Fn(&KeyMetadata) -> bool>,
    ) -> Result<KeyPage> {
        let limit = match req.limit {
            0 => DEFAULT_LIST_LIMIT,
            n if n > MAX_LIST_LIMIT => {
                return Err(Error::invalid(format!(
                    "limit must be at most {MAX_LIST_LIMIT}, got {n}"
                )));
            }
            n => n,
        };
        keys::tags::validate_filters(&req.tag_filters).map_err(Error::tags)?;
        if req.accepts_state(KeyState::PendingDelete) {
            self.delete_due()?;
        }
        let cache = self.read();
        // The page walks only as far as it needs (offset + limit matches); without filters the
        // total comes from the counters, so a first page costs the same with 100 keys or 100k.
        let matching = || {
            let ordered: Box<dyn Iterator<Item = _>> = if req.newest_first {
                Box::new(cache.ordered().rev())
            } else {
                Box::new(cache.ordered())
            };
            ordered
                .map(|e| e.meta())
                .filter(|m| req.accepts(m))
                .filter(|m| visible.is_none_or(|v| v(m)))
        };
        let keys = matching()
            .skip(req.offset as usize)
            .take(limit as usize)
            .cloned()
            .collect();
        let total_count = if visible.is_none() && !req.is_filtered() {
            req.counted(&cache)
        } else {
            u32::try_from(matching().count()).unwrap_or(u32::MAX)
        };
        Ok(KeyPage { keys, total_count })
    }

    /// How many keys are in each state, every state listed (zeros included) in
    /// [`KeyState::ALL`] order, service keys counted. Read from the cache's counters, without
    /// running the deletion deadlines: a key past its deletion date counts as PendingDelete until
    /// the next call that purges it.
    pub fn count_keys_by_state(&self) -> Vec<(KeyState, u64)> {
        let cache = self.read();
        KeyState::ALL
            .into_iter()
            .map(|state| (state, u64::from(cache.count(Some(state), true))))
            .collect()
    }

    /// How many keys the in-memory cache holds (every key of the store, service keys included).
    pub fn cached_key_count(&self) -> u64 {
        self.read().len() as u64
    }

    /// EnableKey: Disabled -> Enabled; Enabled stays Enabled.
    pub fn enable_key(&self, name: &str) -> Result<()> {
        self.mutate(name, |m, _| {
            step(m, KeyAction::Enable)?;
            Ok(false)
        })
        .map(drop)
    }

    /// DisableKey: Enabled -> Disabled; Disabled stays Disabled. Not for service keys.
    pub fn disable_key(&self, name: &str) -> Result<()> {
        self.mutate(name, |m, _| {
            user_only(m)?;
            step(m, KeyAction::Disable)?;
            Ok(false)
        })
        .map(drop)
    }

    /// ScheduleKeyDeletion: Disabled -> PendingDelete. Returns the deletion date.
    pub fn schedule_key_deletion(&self, name: &str, pending_window_in_days: u32) -> Result<i64> {
        if !PENDING_WINDOW_DAYS.contains(&pending_window_in_days) {
            return Err(Error::invalid(format!(
                "pending_window_in_days must be {}..={}, got {pending_window_in_days}",
                PENDING_WINDOW_DAYS.start(),
                PENDING_WINDOW_DAYS.end()
            )));
        }
        let meta = self.mutate(name, |m, now| {
            user_only(m)?;
            step(m, KeyAction::ScheduleDeletion)?;
            m.deletion_date = now + i64::from(pending_window_in_days) * DAY_SECS;
            Ok(false)
        })?;
        Ok(meta.deletion_date)
    }

    /// CancelKeyDeletion: PendingDelete -> Disabled, or PendingImport for an EXTERNAL key
    /// without material (one scheduled from PendingImport).
    pub fn cancel_key_deletion(&self, name: &str) -> Result<Uuid> {
        self.mutate(name, |m, _| {
            step(m, KeyAction::CancelDeletion)?;
            if m.origin == keys::ORIGIN_EXTERNAL && m.current_key_version == 0 {
                m.state = KeyState::PendingImport;
            }
            m.deletion_date = 0;
            Ok(false)
        })
        .map(|m| m.key_id)
    }

    /// ArchiveKey: Enabled -> Archived. Not for service keys.
    pub fn archive_key(&self, name: &str) -> Result<()> {
        self.mutate(name, |m, _| {
            user_only(m)?;
            step(m, KeyAction::Archive)?;
            Ok(false)
        })
        .map(drop)
    }

    /// CancelKeyArchive: Archived -> Enabled.
    pub fn cancel_key_archive(&self, name: &str) -> Result<()> {
        self.mutate(name, |m, _| {
            step(m, KeyAction::CancelArchive)?;
            Ok(false)
        })
        .map(drop)
    }

    /// UpdateAlias. Not for service keys (their aliases are documented and stable).
    pub fn update_alias(&self, name: &str, alias: &str) -> Result<()> {
        let alias = keys::bare_alias(alias);
        validate_alias(alias, false).map_err(invalid_field)?;
        self.mutate(name, |m, _| {
            user_only(m)?;
            step(m, KeyAction::UpdateAlias)?;
            if m.alias != alias && self.read().alias_holder(alias).is_some() {
                return Err(Error::AliasExists(alias.to_owned()));
            }
            alias.clone_into(&mut m.alias);
            Ok(false)
        })
        .map(drop)
    }

    /// UpdateKeyDescription.
    pub fn update_key_description(&self, name: &str, description: &str) -> Result<()> {
        validate_description(description).map_err(invalid_field)?;
        self.mutate(name, |m, _| {
            step(m, KeyAction::UpdateDescription)?;
            description.clone_into(&mut m.description);
            Ok(false)
        })
        .map(drop)
    }

    /// EnableKeyRotation (0 days means [`DEFAULT_ROTATE_DAYS`]).
    pub fn enable_key_rotation(&self, name: &str, rotate_days: u32) -> Result<()> {
        let days = if rotate_days == 0 {
            DEFAULT_ROTATE_DAYS
        } else {
            rotate_days
        };
        if !ROTATE_DAYS.contains(&days) {
            return Err(Error::invalid(format!(
                "rotate_days must be {}..={}, got {rotate_days}",
                ROTATE_DAYS.start(),
                ROTATE_DAYS.end()
            )));
        }
        self.mutate(name, |m, now| {
            own_material(m)?;
            step(m, KeyAction::EnableRotation)?;
            // Enabling it again with the same period keeps the schedule.
            if !(m.rotation_enabled && m.rotate_days == days) {
                m.rotation_enabled = true;
                m.rotate_days = days;
                m.next_rotate_time = now + i64::from(days) * DAY_SECS;
            }
            Ok(false)
        })
        .map(drop)
    }

    /// DisableKeyRotation.
    pub fn disable_key_rotation(&self, name: &str) -> Result<()> {
        self.mutate(name, |m, _| {
            step(m, KeyAction::DisableRotation)?;
            if m.rotation_enabled {
                m.rotation_enabled = false;
                m.next_rotate_time = 0;
            }
            Ok(false)
        })
        .map(drop)
    }

    /// GetKeyRotationStatus.
    pub fn key_rotation_status(&self, name: &str) -> Result<RotationStatus> {
        self.rotate_due(name)?;
        let m = self.describe_key(name)?;
        Ok(RotationStatus {
            enabled: m.rotation_enabled,
            rotate_days: m.rotate_days,
            last_rotate_time: m.last_rotate_time,
            next_rotate_time: m.next_rotate_time,
            current_key_version: m.current_key_version,
        })
    }

    /// RotateKey: adds a version now. Returns the key id and the new version.
    pub fn rotate_key(&self, name: &str) -> Result<(Uuid, u32)> {
        let m = self.mutate(name, |m, now| {
            own_material(m)?;
            step(m, KeyAction::Rotate)?;
            rotated(m, now);
            Ok(true)
        })?;
        Ok((m.key_id, m.current_key_version))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::test_support::{T0, open};
    use super::*;
    use crate::clock::{Clock, ManualClock};

    const NOT_SUPPORTED: &str = "ResourceUnavailable.CmkStateNotSupport";
    const DISABLED: &str = "ResourceUnavailable.CmkDisabled";
    const ARCHIVED: &str = "ResourceUnavailable.CmkArchived";
    const SHOULD_BE_DISABLED: &str = "ResourceUnavailable.CmkShouldBeDisabled";
    const NOT_PENDING_DELETE: &str = "ResourceUnavailable.CmkNotPendingDelete";

    /// Puts a fresh key (rotation on, one blob sealed while Enabled) into `state`; for
    /// [`KeyAction::UseKeyPair`], an ECC signing key instead (no rotation, no blob).
    fn key_in(kms: &Kms, name: &str, state: KeyState, action: KeyAction) -> Vec<u8> {
        let blob = if action == KeyAction::UseKeyPair {
            kms.create_key(name, "", "ASYMMETRIC_SIGN_VERIFY_ECC")
                .unwrap();
            Vec::new()
        } else {
            kms.create_key(name, "", "").unwrap();
            kms.enable_key_rotation(name, 30).unwrap();
            kms.encrypt(name, b"sealed while enabled", "")
                .unwrap()
                .ciphertext_blob
        };
        match state {
            KeyState::Enabled => {}
            KeyState::Disabled => kms.disable_key(name).unwrap(),
            KeyState::PendingDelete => {
                kms.disable_key(name).unwrap();
                kms.schedule_key_deletion(name, 30).unwrap();
            }
            KeyState::Archived => kms.archive_key(name).unwrap(),
            // No call makes it: set it behind the table's back, as an import would.
            KeyState::PendingImport => {
                kms.mutate(name, |m, _| {
                    m.state = KeyState::PendingImport;
                    Ok(false)
                })
                .unwrap();
            }
        }
        assert_eq!(kms.describe_key(name).unwrap().state, state);
        blob
    }

    /// Runs `action` on `name` through the Kms's public call for it.
    fn act(kms: &Kms, name: &str, action: KeyAction, blob: &[u8]) -> Result<()> {
        match action {
            KeyAction::Enable => kms.enable_key(name),
            KeyAction::Disable => kms.disable_key(name),
            KeyAction::ScheduleDeletion => kms.schedule_key_deletion(name, 7).map(drop),
            KeyAction::CancelDeletion => kms.cancel_key_deletion(name).map(drop),
            KeyAction::Archive => kms.archive_key(name),
            KeyAction::CancelArchive => kms.cancel_key_archive(name),
            KeyAction::UpdateAlias => kms.update_alias(name, &format!("{name}-renamed")),
            KeyAction::UpdateDescription => kms.update_key_description(name, "new words"),
            KeyAction::EnableRotation => kms.enable_key_rotation(name, 7),
            KeyAction::DisableRotation => kms.disable_key_rotation(name),
            KeyAction::Rotate => kms.rotate_key(name).map(drop),
            KeyAction::Encrypt => kms.encrypt(name, b"x", "").map(drop),
            KeyAction::Decrypt => kms.decrypt(blob, "").map(drop),
            KeyAction::UseKeyPair => kms.get_public_key(name).map(drop),
        }
    }

    /// Every action on a key in every state, through the Kms: the next state or the exact Tencent
    /// code, written out here cell by cell; the dates follow the manual clock; a refusal changes
    /// nothing.
    #[test]
    fn every_action_in_every_state() {
        use KeyState::{
            Archived as Ar, Disabled as Di, Enabled as En, PendingDelete as Pd, PendingImport as Pi,
        };
        const STATES: [KeyState; 5] = [En, Di, Pd, Pi, Ar];
        let expected: [(KeyAction, [Result<KeyState, &str>; 5]); 14] = [
            (
                KeyAction::Enable,
                [
                    Ok(En),
                    Ok(En),
                    Err(NOT_SUPPORTED),
                    Err(NOT_SUPPORTED),
                    Err(NOT_SUPPORTED),
                ],
            ),
            (
                KeyAction::Disable,
                [
                    Ok(Di),
                    Ok(Di),
                    Err(NOT_SUPPORTED),
                    Err(NOT_SUPPORTED),
                    Err(NOT_SUPPORTED),
                ],
            ),
            (
                KeyAction::ScheduleDeletion,
                [
                    Err(SHOULD_BE_DISABLED),
                    Ok(Pd),
                    Err(SHOULD_BE_DISABLED),
                    Ok(Pd),
                    Err(SHOULD_BE_DISABLED),
                ],
            ),
            (
                KeyAction::CancelDeletion,
                [
                    Err(NOT_PENDING_DELETE),
                    Err(NOT_PENDING_DELETE),
                    Ok(Di),
                    Err(NOT_PENDING_DELETE),
                    Err(NOT_PENDING_DELETE),
                ],
            ),
            (
                KeyAction::Archive,
                [
                    Ok(Ar),
                    Err(NOT_SUPPORTED),
                    Err(NOT_SUPPORTED),
                    Err(NOT_SUPPORTED),
                    Ok(Ar),
                ],
            ),
            (
                KeyAction::CancelArchive,
                [
                    Err(NOT_SUPPORTED),
                    Err(NOT_SUPPORTED),
                    Err(NOT_SUPPORTED),
                    Err(NOT_SUPPORTED),
                    Ok(En),
                ],
            ),
            (
                KeyAction::UpdateAlias,
                [Ok(En), Ok(Di), Err(NOT_SUPPORTED), Ok(Pi), Ok(Ar)],
            ),
            (
                KeyAction::UpdateDescription,
                [Ok(En), Ok(Di), Err(NOT_SUPPORTED), Ok(Pi), Ok(Ar)],
            ),
            (
                KeyAction::EnableRotation,
                [
                    Ok(En),
                    Err(NOT_SUPPORTED),
                    Err(NOT_SUPPORTED),
                    Err(NOT_SUPPORTED),
                    Err(NOT_SUPPORTED),
                ],
            ),
            (
                KeyAction::DisableRotation,
                [Ok(En), Ok(Di), Ok(Pd), Ok(Pi), Ok(Ar)],
            ),
            (
                KeyAction::Rotate,
                [
                    Ok(En),
                    Err(NOT_SUPPORTED),
                    Err(NOT_SUPPORTED),
                    Err(NOT_SUPPORTED),
                    Err(NOT_SUPPORTED),
                ],
            ),
            (
                KeyAction::Encrypt,
                [
                    Ok(En),
                    Err(DISABLED),
                    Err(NOT_SUPPORTED),
                    Err(NOT_SUPPORTED),
                    Err(ARCHIVED),
                ],
            ),
            (
                KeyAction::Decrypt,
                [
                    Ok(En),
                    Err(DISABLED),
                    Err(NOT_SUPPORTED),
                    Err(NOT_SUPPORTED),
                    Ok(Ar),
                ],
            ),
            (
                KeyAction::UseKeyPair,
                [
                    Ok(En),
                    Err(NOT_SUPPORTED),
                    Err(NOT_SUPPORTED),
                    Err(NOT_SUPPORTED),
                    Err(NOT_SUPPORTED),
                ],
            ),
        ];
        assert_eq!(expected.map(|(a, _)| a), KeyAction::ALL);
        assert_eq!(STATES, KeyState::ALL);

        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let kms = open(dir.path(), clock.clone());
        for (i, (action, row)) in expected.into_iter().enumerate() {
            for (j, (state, want)) in STATES.into_iter().zip(row).enumerate() {
                let name = format!("k{i}-{j}");
                let blob = key_in(&kms, &name, state, action);
                clock.advance(DAY_SECS);
                let now = clock.now();
                let before = kms.describe_key(&name).unwrap();
                let got = act(&kms, &name, action, &blob);
                let cell = format!("{action:?} on {state}");
                let after = kms.describe_key(&before.key_id.to_string()).unwrap();
                match want {
                    Ok(next) => {
                        assert!(got.is_ok(), "{cell}: {got:?}");
                        assert_eq!(after.state, next, "{cell}");
                    }
                    Err(code) => {
                        let err = got.expect_err(&cell);
                        assert!(matches!(err, Error::KeyState { .. }), "{cell}: {err:?}");
                        assert_eq!(err.tencent_code(), code, "{cell}");
                        assert_eq!(after, before, "{cell}: a refusal changed the key");
                        continue;
                    }
                }
                let days = |d: i64| now + d * DAY_SECS;
                match action {
                    KeyAction::ScheduleDeletion => assert_eq!(after.deletion_date, days(7)),
                    KeyAction::CancelDeletion => assert_eq!(after.deletion_date, 0),
                    KeyAction::EnableRotation => {
                        assert_eq!((after.rotate_days, after.next_rotate_time), (7, days(7)));
                    }
                    KeyAction::DisableRotation => {
                        assert!(!after.rotation_enabled && after.next_rotate_time == 0);
                    }
                    KeyAction::Rotate => {
                        assert_eq!(after.current_key_version, 2, "{cell}");
                        assert_eq!(after.last_rotate_time, now);
                        assert_eq!(after.next_rotate_time, days(30));
                    }
                    KeyAction::UpdateAlias => assert_eq!(after.alias, format!("{name}-renamed")),
                    KeyAction::UpdateDescription => assert_eq!(after.description, "new words"),
                    _ => assert_eq!(
                        (after.deletion_date, after.current_key_version),
                        (before.deletion_date, before.current_key_version),
                        "{cell}"
                    ),
                }
            }
        }
    }

    /// Owner and origin rules come before the state table.
    #[test]
    fn service_keys_and_imported_material_are_refused_first() {
        let dir = tempfile::tempdir().unwrap();
        let kms = open(dir.path(), Arc::new(ManualClock::new(T0)));
        let service = kms.default_key_id().to_string();
        for result in [
            kms.disable_key(&service),
            kms.archive_key(&service),
            kms.update_alias(&service, "mine"),
            kms.schedule_key_deletion(&service, 7).map(drop),
        ] {
            assert_eq!(
                result.unwrap_err().tencent_code(),
                "UnsupportedOperation.NotUserCreatedCmk"
            );
        }
        kms.seed(
            "keys:\n  - key_id: 6f1c2d3e-0000-4000-8000-000000000001\n    alias: imported\n    \
             state: Disabled\n    material:\n      - \
             000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
        )
        .unwrap();
        for result in [
            kms.rotate_key("imported").map(drop),
            kms.enable_key_rotation("imported", 7),
        ] {
            assert_eq!(
                result.unwrap_err().tencent_code(),
                "UnsupportedOperation.ExternalCmkCanNotRotate",
                "the origin is checked before the (Disabled) state"
            );
        }
    }

    /// ListKeys' totals come from counters: they must agree with a full scan through every state
    /// change, deletion and filter.
    #[test]
    fn list_totals_match_a_scan() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let kms = open(dir.path(), clock.clone());
        for i in 0..12 {
            kms.create_key(&format!("k{i}"), "", "").unwrap();
            clock.advance(1);
        }
        for i in 0..6 {
            kms.disable_key(&format!("k{i}")).unwrap();
        }
        for i in 0..3 {
            kms.schedule_key_deletion(&format!("k{i}"), 7).unwrap();
        }
        kms.archive_key("k10").unwrap();
        kms.cancel_key_deletion("k2").unwrap();
        kms.update_alias("k11", "renamed").unwrap();
        let check = |kms: &Kms| {
            let all = kms
                .list_keys(ListKeys {
                    limit: MAX_LIST_LIMIT,
                    include_service_keys: true,
                    ..Default::default()
                })
                .unwrap()
                .keys;
            let states = [
                None,
                Some(KeyState::Enabled),
                Some(KeyState::Disabled),
                Some(KeyState::PendingDelete),
                Some(KeyState::Archived),
            ];
            // Tencent's ListKeys set, and one state alone.
            let sets = [
                vec![],
                vec![
                    KeyState::Enabled,
                    KeyState::Disabled,
                    KeyState::PendingImport,
                ],
                vec![KeyState::PendingDelete],
            ];
            // (include_service_keys, service_keys_only)
            let owners = [(false, false), (true, false), (false, true)];
            for (state, set, (include_service_keys, service_keys_only)) in
                states.into_iter().flat_map(|state| {
                    sets.iter()
                        .flat_map(move |set| owners.map(move |owner| (state, set, owner)))
                })
            {
                {
                    let want: Vec<&KeyMetadata> = all
                        .iter()
                        .filter(|m| {
                            if service_keys_only {
                                m.is_service_key()
                            } else {
                                include_service_keys || !m.is_service_key()
                            }
                        })
                        .filter(|m| state.is_none_or(|s| m.state == s))
                        .filter(|m| set.is_empty() || set.contains(&m.state))
                        .collect();
                    for (offset, limit) in [(0, 0), (0, 2), (3, 4), (100, 5)] {
                        let page = kms
                            .list_keys(ListKeys {
                                offset,
                                limit,
                                state,
                                states: set.clone(),
                                include_service_keys,
                                service_keys_only,
                                ..Default::default()
                            })
                            .unwrap();
                        assert_eq!(
                            page.total_count as usize,
                            want.len(),
                            "{state:?} {set:?} {service_keys_only}"
                        );
                        let limit = if limit == 0 {
                            DEFAULT_LIST_LIMIT
                        } else {
                            limit
                        };
                        let expected: Vec<Uuid> = want
                            .iter()
                            .skip(offset as usize)
                            .take(limit as usize)
                            .map(|m| m.key_id)
                            .collect();
                        let got: Vec<Uuid> = page.keys.iter().map(|m| m.key_id).collect();
                        assert_eq!(got, expected, "{state:?} {offset} {limit}");
                    }
                }
            }
            all.len()
        };
        assert_eq!(check(&kms), 14, "12 user keys and 2 service keys");
        clock.advance(8 * DAY_SECS);
        kms.run_due_tasks().unwrap();
        assert_eq!(check(&kms), 12, "two keys were past their deletion date");
        drop(kms);
        let kms = open(dir.path(), clock);
        assert_eq!(check(&kms), 12, "the counters are rebuilt at start");
    }

    #[test]
    fn keys_are_counted_by_state_for_the_metrics() {
        let dir = tempfile::tempdir().unwrap();
        let kms = open(dir.path(), Arc::new(ManualClock::new(T0)));
        key_in(&kms, "a", KeyState::Disabled, KeyAction::Encrypt);
        key_in(&kms, "b", KeyState::Disabled, KeyAction::Encrypt);
        key_in(&kms, "c", KeyState::Archived, KeyAction::Encrypt);
        key_in(&kms, "d", KeyState::Enabled, KeyAction::Encrypt);
        assert_eq!(
            kms.count_keys_by_state(),
            [
                (KeyState::Enabled, 3),
                (KeyState::Disabled, 2),
                (KeyState::PendingDelete, 0),
                (KeyState::PendingImport, 0),
                (KeyState::Archived, 1),
            ],
            "two service keys and d are Enabled"
        );
        assert_eq!(kms.cached_key_count(), 6);
    }
}
