//! The calls over several keys at once. The rule on their lists (DescribeKeys, EnableKeys,
//! DisableKeys): 1 to [`MAX_KEY_IDS`] ids, none twice, checked here, once, for the gRPC API and for
//! the Tencent actions that go through it, so both front ends refuse the same lists with the same
//! codes.
//!
//! EnableKeys and DisableKeys ([`Kms::switch_keys`]) are all or nothing: every key is resolved and
//! its change checked (state, service key) against this replica's view before any is written,
//! and the changes are then written in one conditional transaction of the store
//! ([`crate::store::KeyStore::apply_seed`]). A refusal anywhere in the list changes no key. If
//! another replica changed one of the keys since this replica last saw it, the transaction
//! writes nothing ([`Error::Conflict`]); the replica reloads, checks the whole list again on the
//! fresh view and writes once more, so a key another replica disabled meanwhile is judged as it
//! now is. A second conflict in a row is returned (ABORTED: nothing changed, retry). Outside the
//! all or nothing: the deadlines due on the listed keys (deletion, imported material's expiry)
//! run first, each its own write, as on any use of a key.

use std::collections::HashSet;

use uuid::Uuid;

use super::{
    Kms,
    cache::{Entry, Material},
    lifecycle::user_only,
    step,
};
use crate::{
    error::{Error, Result},
    keys::{KeyAction, KeyMetadata},
    store::KeyWrite,
};

/// Most key ids one DescribeKeys, EnableKeys or DisableKeys names (the cloud's limit).
pub const MAX_KEY_IDS: usize = 100;

/// Refuses an empty or oversize list (`InvalidParameterValue`) and a list naming an id twice
/// (`InvalidParameterValue.DuplicatedKeyId`). Ids are compared as given: a key named once by id
/// and once by alias is two names (checked, and changed, as one key).
pub fn check_key_ids(ids: &[String]) -> Result<()> {
    if ids.is_empty() || ids.len() > MAX_KEY_IDS {
        return Err(Error::invalid(format!(
            "key_ids must name 1..={MAX_KEY_IDS} keys, got {}",
            ids.len()
        )));
    }
    let mut seen = HashSet::with_capacity(ids.len());
    match ids.iter().find(|id| !seen.insert(id.as_str())) {
        Some(dup) => Err(Error::DuplicatedKeyId(dup.clone())),
        None => Ok(()),
    }
}

/// What EnableKeys and DisableKeys do to each key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// EnableKey on each: Disabled -> Enabled.
    Enable,
    /// DisableKey on each: Enabled -> Disabled; not for service keys.
    Disable,
}

impl Switch {
    /// The single-key call's rule, applied to `m`.
    fn change(self, m: &mut KeyMetadata) -> Result<()> {
        match self {
            Switch::Enable => step(m, KeyAction::Enable),
            Switch::Disable => {
                user_only(m)?;
                step(m, KeyAction::Disable)
            }
        }
    }
}

impl Kms {
    /// EnableKeys / DisableKeys on keys `names` names (a list the caller checked with
    /// [`check_key_ids`], whose names it may have resolved to UUIDs): checks every key, then
    /// changes them all in one conditional write, or none (see the module doc). Two names of one
    /// key change it once. Returns the keys' UUIDs in the order given.
    pub fn switch_keys(&self, names: &[String], to: Switch) -> Result<Vec<Uuid>> {
        for name in names {
            self.expire_due(name)?;
        }
        let _w = self.lock_write()?;
        match self.switch_locked(names, to) {
            Err(Error::Conflict(id)) => {
                tracing::debug!(key_id = %id, "key changed by another replica: reloaded, retrying");
                self.resync_locked()?;
                self.switch_locked(names, to)
            }
            done => done,
        }
    }

    /// One attempt of [`Kms::switch_keys`], under the write lock: the whole plan is made on the
    /// cached view before anything is written.
    fn switch_locked(&self, names: &[String], to: Switch) -> Result<Vec<Uuid>> {
        let mut ids = Vec::with_capacity(names.len());
        // One write per key, even when two names resolve to it.
        let mut writes: Vec<KeyWrite> = Vec::new();
        let mut materials: Vec<Material> = Vec::new();
        {
            let c = self.read();
            for name in names {
                let e = c.resolve(name)?;
                let id = e.meta().key_id;
                ids.push(id);
                let i = match writes.iter().position(|w| w.meta.key_id == id) {
                    Some(i) => i,
                    None => {
                        writes.push(KeyWrite {
                            meta: e.meta().clone(),
                            new_versions: Vec::new(),
                            before: Some(e.meta().clone()),
                        });
                        materials.push(e.material().clone());
                        writes.len() - 1
                    }
                };
                to.change(&mut writes[i].meta)?;
            }
        }
        let changed: Vec<usize> = (0..writes.len())
            .filter(|&i| Some(&writes[i].meta) != writes[i].before.as_ref())
            .collect();
        if changed.is_empty() {
            return Ok(ids);
        }
        let writes: Vec<KeyWrite> = changed.iter().map(|&i| writes[i].clone()).collect();
        self.store().apply_seed(&writes)?;
        self.apply(|c| {
            for (w, &i) in writes.into_iter().zip(&changed) {
                c.insert(Entry::with_material(w.meta, materials[i].clone()));
            }
        });
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::test_support::{T0, open, replica_on_sqlite};
    use super::*;
    use crate::{clock::ManualClock, keys::KeyState};

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn states(kms: &Kms, list: &[&str]) -> Vec<KeyState> {
        list.iter()
            .map(|n| kms.describe_key(n).unwrap().state)
            .collect()
    }

    /// A refusal anywhere in the list, last included, changes no key, in the cache or the store;
    /// a list without one changes every key.
    #[test]
    fn a_refused_key_anywhere_changes_none() {
        use KeyState::{Disabled, Enabled, PendingDelete};
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let kms = open(dir.path(), clock.clone());
        for alias in ["a", "b", "c"] {
            kms.create_key(alias, "", "").unwrap();
        }
        kms.disable_key("c").unwrap();
        kms.schedule_key_deletion("c", 7).unwrap();
        let e = kms
            .switch_keys(&names(&["a", "b", "c"]), Switch::Disable)
            .unwrap_err();
        assert_eq!(e.tencent_code(), "ResourceUnavailable.CmkStateNotSupport");
        let c = kms.describe_key("c").unwrap().key_id.to_string();
        assert!(e.to_string().contains(&c), "{e}");
        assert_eq!(states(&kms, &["a", "b"]), [Enabled, Enabled]);
        // A service key last: refused before anything changes.
        let service = kms.sse_cos_key_id().to_string();
        let e = kms
            .switch_keys(&names(&["a", "b", &service]), Switch::Disable)
            .unwrap_err();
        assert_eq!(e.tencent_code(), "UnsupportedOperation.NotUserCreatedCmk");
        assert_eq!(states(&kms, &["a", "b"]), [Enabled, Enabled]);
        // An unknown key last.
        let e = kms
            .switch_keys(&names(&["a", "nope"]), Switch::Disable)
            .unwrap_err();
        assert_eq!(e.tencent_code(), "ResourceUnavailable.CmkNotFound");
        drop(kms);
        let kms = open(dir.path(), clock.clone());
        assert_eq!(
            states(&kms, &["a", "b", "c"]),
            [Enabled, Enabled, PendingDelete]
        );
        // Two names of one key change it once; the answer keeps the order given.
        let a = kms.describe_key("a").unwrap().key_id;
        let b = kms.describe_key("b").unwrap().key_id;
        let ids = kms
            .switch_keys(&names(&["b", "alias/a", &a.to_string()]), Switch::Disable)
            .unwrap();
        assert_eq!(ids, [b, a, a]);
        assert_eq!(states(&kms, &["a", "b"]), [Disabled, Disabled]);
        let e = kms
            .switch_keys(&names(&["a", "b", "c"]), Switch::Enable)
            .unwrap_err();
        assert_eq!(e.tencent_code(), "ResourceUnavailable.CmkStateNotSupport");
        assert_eq!(states(&kms, &["a", "b"]), [Disabled, Disabled]);
        kms.switch_keys(&names(&["a", "b"]), Switch::Enable)
            .unwrap();
        drop(kms);
        let kms = open(dir.path(), clock);
        assert_eq!(states(&kms, &["a", "b"]), [Enabled, Enabled]);
    }

    /// A replica whose view is stale writes nothing: the store refuses its transaction, it
    /// reloads and judges the list again on the fresh view (here: a key the other replica
    /// scheduled for deletion is refused, and the other key stays as it was).
    #[test]
    fn a_stale_replica_checks_the_list_again_and_changes_none() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("kms.sqlite3");
        let clock = Arc::new(ManualClock::new(T0));
        let a = replica_on_sqlite(&db, clock.clone());
        a.create_key("one", "", "").unwrap();
        a.create_key("two", "", "").unwrap();
        let b = replica_on_sqlite(&db, clock.clone());
        b.disable_key("two").unwrap();
        b.schedule_key_deletion("two", 7).unwrap();
        // `a` still sees "two" Enabled.
        assert_eq!(
            states(&a, &["one", "two"]),
            [KeyState::Enabled, KeyState::Enabled]
        );
        let e = a
            .switch_keys(&names(&["one", "two"]), Switch::Disable)
            .unwrap_err();
        assert_eq!(e.tencent_code(), "ResourceUnavailable.CmkStateNotSupport");
        b.resync().unwrap();
        assert_eq!(
            states(&b, &["one", "two"]),
            [KeyState::Enabled, KeyState::PendingDelete]
        );
        assert_eq!(
            states(&a, &["one", "two"]),
            [KeyState::Enabled, KeyState::PendingDelete]
        );
    }

    #[test]
    fn lists_are_checked() {
        let ids = |n: usize| (0..n).map(|i| format!("k{i}")).collect::<Vec<_>>();
        assert!(check_key_ids(&ids(1)).is_ok());
        assert!(check_key_ids(&ids(MAX_KEY_IDS)).is_ok());
        for (list, message, code) in [
            (
                ids(0),
                "key_ids must name 1..=100 keys, got 0",
                "InvalidParameterValue",
            ),
            (
                ids(101),
                "key_ids must name 1..=100 keys, got 101",
                "InvalidParameterValue",
            ),
            (
                vec!["a".into(), "b".into(), "a".into()],
                "key_ids names \"a\" twice",
                "InvalidParameterValue.DuplicatedKeyId",
            ),
        ] {
            let e = check_key_ids(&list).unwrap_err();
            assert_eq!((e.to_string().as_str(), e.tencent_code()), (message, code));
        }
    }
}
