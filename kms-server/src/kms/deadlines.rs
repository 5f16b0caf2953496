//! Deadlines: a PendingDelete key is deleted once its deletion date passes, and a key with
//! automatic rotation gets a new version once its rotation is due. There is no timer: every use of
//! a key settles its own deadlines first, and [`Kms::run_due_tasks`] settles everyone's.

use uuid::Uuid;

use super::{Kms, byok::material_expired, cache::Cache};
use crate::{
    clock::DAY_SECS,
    error::Result,
    keys::{KeyAction, KeyMetadata, KeyState},
};

/// Whether `m` is past its deletion date.
pub(super) fn deletion_due(m: &KeyMetadata, now: i64) -> bool {
    m.state == KeyState::PendingDelete && m.deletion_date <= now
}

/// Whether `m`'s automatic rotation is due (and its state allows a rotation).
pub(super) fn rotation_due(m: &KeyMetadata, now: i64) -> bool {
    m.rotation_enabled && m.next_rotate_time <= now && m.state.next(KeyAction::Rotate).is_ok()
}

/// Whether any deadline of `m` is due: its deletion, its rotation, or the end of its imported
/// material.
pub(super) fn any_due(m: &KeyMetadata, now: i64) -> bool {
    deletion_due(m, now) || rotation_due(m, now) || material_expired(m, now)
}

/// Records a rotation made at `now` and schedules the next automatic one.
pub(super) fn rotated(m: &mut KeyMetadata, now: i64) {
    m.last_rotate_time = now;
    if m.rotation_enabled {
        m.next_rotate_time = now + i64::from(m.rotate_days) * DAY_SECS;
    }
}

impl Kms {
    /// Deletes every key past its deletion date and rotates every key whose rotation is due.
    /// Returns how many keys it deleted and rotated.
    pub fn run_due_tasks(&self) -> Result<(usize, usize)> {
        let deleted = self.delete_due()?;
        let now = self.now();
        let expired: Vec<Uuid> = self
            .read()
            .entries()
            .filter(|e| material_expired(e.meta(), now))
            .map(|e| e.meta().key_id)
            .collect();
        for id in expired {
            self.expire_material(id)?;
        }
        let due: Vec<Uuid> = self
            .read()
            .entries()
            .filter(|e| rotation_due(e.meta(), now))
            .map(|e| e.meta().key_id)
            .collect();
        let mut rotated = 0;
        for id in &due {
            rotated += usize::from(self.rotate_due(&id.to_string())?);
        }
        Ok((deleted, rotated))
    }

    /// Deletes every key past its deletion date; returns how many.
    pub(super) fn delete_due(&self) -> Result<usize> {
        if self.read().count(Some(KeyState::PendingDelete), true) == 0 {
            return Ok(0);
        }
        let now = self.now();
        let due = |c: &Cache| -> Vec<Uuid> {
            c.entries()
                .filter(|e| deletion_due(e.meta(), now))
                .map(|e| e.meta().key_id)
                .collect()
        };
        if due(&self.read()).is_empty() {
            return Ok(0);
        }
        let _w = self.lock_write()?;
        let ids = due(&self.read());
        // The store deletes only what is still due as stored: a key another replica deleted, or
        // took out of PendingDelete since this cache last heard of it, is not deleted here.
        let deleted = self.store().delete_expired(&ids, now)?;
        self.apply(|c| deleted.iter().for_each(|id| c.remove(*id)));
        for id in &deleted {
            tracing::info!(key_id = %id, "key deleted: deletion date passed");
        }
        if deleted.len() < ids.len() {
            self.resync_locked()?;
        }
        Ok(deleted.len())
    }

    /// Deletes `name` if it is past its deletion date (checked on every use).
    pub(super) fn expire_due(&self, name: &str) -> Result<()> {
        let now = self.now();
        let (due, expired) = match self.read().resolve(name) {
            Ok(e) => (
                deletion_due(e.meta(), now),
                material_expired(e.meta(), now).then_some(e.meta().key_id),
            ),
            Err(_) => (false, None),
        };
        if due {
            self.delete_due()?;
        }
        if let Some(id) = expired {
            self.expire_material(id)?;
        }
        Ok(())
    }

    /// Rotates `name` if its automatic rotation is due (checked on every encrypting use); true
    /// if this call rotated it. Of several replicas that find the same rotation due, one rotates:
    /// the others' writes conflict, and on the fresh metadata the rotation is no longer due.
    pub(super) fn rotate_due(&self, name: &str) -> Result<bool> {
        let now = self.now();
        let due = matches!(self.read().resolve(name), Ok(e) if rotation_due(e.meta(), now));
        let done = std::cell::Cell::new(false);
        if due {
            let m = self.mutate(name, |m, now| {
                // Another caller (or replica) may have rotated it in the meantime.
                done.set(rotation_due(m, now));
                if done.get() {
                    rotated(m, now);
                }
                Ok(done.get())
            })?;
            if done.get() {
                tracing::info!(key_id = %m.key_id, "key rotated automatically");
            }
        }
        Ok(done.get())
    }

    /// Runs `name`'s deletion or automatic rotation if it is due, before an encrypting use. Rare,
    /// and the only part of an encrypting call that may write.
    pub(super) fn settle_due(&self, name: &str) -> Result<()> {
        let now = self.now();
        let due = matches!(self.read().resolve(name),
            Ok(e) if any_due(e.meta(), now));
        if due {
            self.expire_due(name)?;
            self.rotate_due(name)?;
        }
        Ok(())
    }

    /// Deletes every key past its deletion date if one of `key_ids` is (before a decrypting use).
    pub(super) fn expire_due_ids(&self, key_ids: impl IntoIterator<Item = Uuid>) -> Result<()> {
        let now = self.now();
        let (due, expired) = {
            let c = self.read();
            let mut due = false;
            let mut expired = Vec::new();
            for e in key_ids.into_iter().filter_map(|id| c.get(&id)) {
                due |= deletion_due(e.meta(), now);
                if material_expired(e.meta(), now) {
                    expired.push(e.meta().key_id);
                }
            }
            (due, expired)
        };
        if due {
            self.delete_due()?;
        }
        for id in expired {
            self.expire_material(id)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::{
        data_keys::{DataKeyItem, DataKeySpec, DecryptItem},
        test_support::{T0, open},
    };
    use crate::{clock::ManualClock, error::Error};

    use super::*;

    /// A batch settles due deadlines first, like a single call: a due rotation happens, and a key
    /// past its deletion date is gone.
    #[test]
    fn batches_settle_deadlines() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let kms = open(dir.path(), clock.clone());
        kms.create_key("rot", "", "").unwrap();
        kms.enable_key_rotation("rot", 7).unwrap();
        kms.create_key("del", "", "").unwrap();
        let blob = kms
            .generate_data_key("del", DataKeySpec::Aes256, "", false)
            .unwrap()
            .ciphertext_blob;
        kms.disable_key("del").unwrap();
        kms.schedule_key_deletion("del", 7).unwrap();
        clock.advance(8 * DAY_SECS);
        let made = kms
            .generate_data_keys(
                &[DataKeyItem {
                    key: "rot",
                    spec: DataKeySpec::Aes256,
                    encryption_context: "",
                }],
                false,
            )
            .unwrap();
        assert_eq!(made[0].as_ref().unwrap().key_version, 2);
        let opened = kms
            .decrypt_many(&[DecryptItem {
                ciphertext_blob: &blob,
                encryption_context: "",
            }])
            .unwrap();
        assert!(matches!(opened[0], Err(Error::InvalidCiphertext)));
        assert!(matches!(kms.describe_key("del"), Err(Error::NotFound(_))));
    }

    /// Automatic rotation follows the manual clock: not before the period, once when it passes,
    /// and never for a key whose state refuses a rotation.
    #[test]
    fn automatic_rotation_is_due_after_its_period() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let kms = open(dir.path(), clock.clone());
        kms.create_key("rot", "", "").unwrap();
        kms.create_key("arch", "", "").unwrap();
        kms.enable_key_rotation("rot", 7).unwrap();
        kms.enable_key_rotation("arch", 7).unwrap();
        kms.archive_key("arch").unwrap();
        clock.advance(7 * DAY_SECS - 1);
        assert_eq!(kms.run_due_tasks().unwrap(), (0, 0));
        clock.advance(1);
        assert_eq!(kms.run_due_tasks().unwrap(), (0, 1));
        let rot = kms.describe_key("rot").unwrap();
        assert_eq!(rot.current_key_version, 2);
        assert_eq!(rot.last_rotate_time, T0 + 7 * DAY_SECS);
        assert_eq!(rot.next_rotate_time, T0 + 14 * DAY_SECS);
        assert_eq!(kms.describe_key("arch").unwrap().current_key_version, 1);
        assert_eq!(kms.run_due_tasks().unwrap(), (0, 0), "rotated once");
    }
}
