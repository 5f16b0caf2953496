//! The `versions` table: the noncurrent history of a key (object versions and delete markers),
//! newest first by `seq`, beside its current row in `objects` (see [`crate::store::versions`]).
//! Every change here runs inside the caller's transaction, so a write's archive of the current row,
//! its removal of the `null` version and its new row commit together or not at all.

use rusqlite::{Connection, OptionalExtension as _, Transaction, params};

use super::{acl_from_db, acl_to_db, class_from_db, env_from_db, json, json_from_db};
use crate::error::{Error, Result};
use crate::store::versions::{Deleted, Entry, NULL_VERSION, Version, Versioning, WritePlan};
use crate::store::{Object, ObjectUpdate, Pins, ReadPin};

/// The columns an object row has in both tables, in this order (after `key`).
const COLUMNS: &str = "size, etag, modified, meta, envelope, files, tags, storage_class, \
                       restore_ready, restore_expiry, acl";

/// Reads [`COLUMNS`] from `r` starting at column `at`; `version_id` as stored (`None`: `null`).
fn object_at(
    r: &rusqlite::Row<'_>,
    at: usize,
    version_id: Option<String>,
) -> rusqlite::Result<Object> {
    Ok(Object {
        size: r.get::<_, i64>(at)? as u64,
        etag: r.get(at + 1)?,
        modified: r.get(at + 2)?,
        meta: json_from_db(r.get(at + 3)?)?,
        envelope: env_from_db(r.get(at + 4)?)?,
        files: json_from_db(r.get(at + 5)?)?,
        tags: json_from_db(r.get(at + 6)?)?,
        storage_class: class_from_db(r.get(at + 7)?)?,
        restore: super::objects::restore_from_db(r.get(at + 8)?, r.get(at + 9)?),
        acl: acl_from_db(r.get(at + 10)?)?,
        version_id,
    })
}

/// A `versions` row selected as `version_id, marker, COLUMNS`.
fn entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    let id: String = r.get(0)?;
    let id = (id != NULL_VERSION).then_some(id);
    if r.get::<_, bool>(1)? {
        Ok(Entry::DeleteMarker {
            version_id: id,
            modified: r.get(4)?,
        })
    } else {
        object_at(r, 2, id).map(Entry::Object)
    }
}

/// A bucket's versioning state (`Unversioned` for a bucket that is gone).
pub(super) fn state(db: &Connection, bucket: &str) -> Result<Versioning> {
    let s: Option<Option<String>> = db
        .query_row(
            "SELECT versioning FROM buckets WHERE name = ?1",
            params![bucket],
            |r| r.get(0),
        )
        .optional()?;
    Ok(s.flatten()
        .as_deref()
        .and_then(Versioning::from_status)
        .unwrap_or_default())
}

/// Sets a bucket's versioning state.
pub(super) fn set_state(db: &Connection, bucket: &str, state: Versioning) -> Result<()> {
    if db.execute(
        "UPDATE buckets SET versioning = ?2 WHERE name = ?1",
        params![bucket, state.status()],
    )? == 0
    {
        return Err(Error::NoSuchBucket);
    }
    Ok(())
}

/// The current row's version id, if the key has a current row (`Some(None)`: `null`).
fn current_id(tx: &Connection, bucket: &str, key: &str) -> Result<Option<Option<String>>> {
    Ok(tx
        .query_row(
            "SELECT version_id FROM objects WHERE bucket = ?1 AND key = ?2",
            params![bucket, key],
            |r| r.get(0),
        )
        .optional()?)
}

/// Removes the current row; returns its files.
fn remove_current(tx: &Transaction<'_>, bucket: &str, key: &str) -> Result<Vec<String>> {
    let files = super::objects::files_of(tx, bucket, key)?;
    tx.execute(
        "DELETE FROM objects WHERE bucket = ?1 AND key = ?2",
        params![bucket, key],
    )?;
    Ok(files)
}

/// Moves the current row (if any) to the head of the history.
fn archive_current(tx: &Transaction<'_>, bucket: &str, key: &str) -> Result<()> {
    tx.execute(
        &format!(
            "INSERT INTO versions (bucket, key, version_id, marker, {COLUMNS}) \
             SELECT bucket, key, COALESCE(version_id, 'null'), 0, {COLUMNS} FROM objects \
             WHERE bucket = ?1 AND key = ?2"
        ),
        params![bucket, key],
    )?;
    tx.execute(
        "DELETE FROM objects WHERE bucket = ?1 AND key = ?2",
        params![bucket, key],
    )?;
    Ok(())
}

/// Removes history rows of `bucket`/`key` whose id is `id`; returns their files.
fn remove_history(tx: &Transaction<'_>, bucket: &str, key: &str, id: &str) -> Result<Vec<String>> {
    let mut files = Vec::new();
    {
        let mut st = tx.prepare(
            "SELECT files FROM versions WHERE bucket = ?1 AND key = ?2 AND version_id = ?3",
        )?;
        for f in st.query_map(params![bucket, key, id], |r| r.get::<_, String>(0))? {
            files.extend(json_from_db::<Vec<String>>(f?)?);
        }
    }
    tx.execute(
        "DELETE FROM versions WHERE bucket = ?1 AND key = ?2 AND version_id = ?3",
        params![bucket, key, id],
    )?;
    Ok(files)
}

/// When the key has no current row and its newest history entry is an object version, that
/// version becomes current again.
fn promote(tx: &Transaction<'_>, bucket: &str, key: &str) -> Result<()> {
    if current_id(tx, bucket, key)?.is_some() {
        return Ok(());
    }
    let newest: Option<(i64, bool)> = tx
        .query_row(
            "SELECT seq, marker FROM versions WHERE bucket = ?1 AND key = ?2 \
             ORDER BY seq DESC LIMIT 1",
            params![bucket, key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((seq, false)) = newest {
        tx.execute(
            &format!(
                "INSERT INTO objects (bucket, key, version_id, {COLUMNS}) \
                 SELECT bucket, key, NULLIF(version_id, 'null'), {COLUMNS} FROM versions \
                 WHERE seq = ?1"
            ),
            params![seq],
        )?;
        tx.execute("DELETE FROM versions WHERE seq = ?1", params![seq])?;
    }
    Ok(())
}

/// Writes `new` (an object, or a delete marker when `None`) as the latest version of
/// `bucket`/`key` inside `tx`, by the bucket's state ([`WritePlan`]); a marker in a bucket never
/// versioned only removes the object. Returns the files no row names any more and the id to
/// answer with.
pub(super) fn write(
    tx: &Transaction<'_>,
    bucket: &str,
    key: &str,
    new: Option<&Object>,
    modified: i64,
) -> Result<(Vec<String>, Option<String>)> {
    let state = state(tx, bucket)?;
    let plan = WritePlan::new(state);
    let mut garbage = Vec::new();
    if plan.drop_null {
        if current_id(tx, bucket, key)? == Some(None) {
            garbage.extend(remove_current(tx, bucket, key)?);
        }
        garbage.extend(remove_history(tx, bucket, key, NULL_VERSION)?);
    }
    if plan.archive {
        archive_current(tx, bucket, key)?;
    } else {
        garbage.extend(remove_current(tx, bucket, key)?);
    }
    match new {
        Some(obj) => {
            let obj = Object {
                version_id: plan.id.clone(),
                ..obj.clone()
            };
            super::objects::insert_row(tx, bucket, key, &obj)?;
        }
        None if state != Versioning::Unversioned => {
            tx.execute(
                &format!(
                    "INSERT INTO versions (bucket, key, version_id, marker, {COLUMNS}) \
                     VALUES (?1, ?2, ?3, 1, 0, '', ?4, '[]', NULL, '[]', '[]', 'STANDARD', \
                     NULL, NULL, NULL)"
                ),
                params![
                    bucket,
                    key,
                    plan.id.as_deref().unwrap_or(NULL_VERSION),
                    modified
                ],
            )?;
        }
        None => {}
    }
    Ok((garbage, plan.answer))
}

/// Deletes one version (see [`crate::store::Catalog::delete_version`]).
pub(super) fn delete(
    db: &mut Connection,
    bucket: &str,
    key: &str,
    id: &str,
) -> Result<(Vec<String>, Deleted)> {
    let tx = db.transaction()?;
    let mut deleted = Deleted {
        version_id: Some(id.to_owned()),
        marker: false,
    };
    let files = match current_id(&tx, bucket, key)? {
        Some(current) if current.as_deref().unwrap_or(NULL_VERSION) == id => {
            remove_current(&tx, bucket, key)?
        }
        _ => {
            deleted.marker = tx
                .query_row(
                    "SELECT marker FROM versions WHERE bucket = ?1 AND key = ?2 \
                     AND version_id = ?3",
                    params![bucket, key, id],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(false);
            remove_history(&tx, bucket, key, id)?
        }
    };
    promote(&tx, bucket, key)?;
    tx.commit()?;
    Ok((files, deleted))
}

/// Applies `update` to the current object of `bucket`/`key` or, with `id`, to that object
/// version, current or noncurrent (see [`crate::store::Catalog::update_object`]). Called under the
/// catalog's lock, so the row cannot move between the two tables in between.
pub(super) fn update(
    db: &Connection,
    bucket: &str,
    key: &str,
    id: Option<&str>,
    update: &ObjectUpdate,
) -> Result<bool> {
    use rusqlite::types::Value;
    let (set, values): (&str, Vec<Value>) = match update {
        ObjectUpdate::Tags(tags) => ("tags = ?4", vec![Value::Text(json(tags))]),
        ObjectUpdate::Acl(acl) => (
            "acl = ?4",
            vec![acl_to_db(acl.as_ref()).map_or(Value::Null, Value::Text)],
        ),
        ObjectUpdate::Restore(r) => (
            "restore_ready = ?4, restore_expiry = ?5",
            vec![Value::Integer(r.ready_at), Value::Integer(r.expires_at)],
        ),
    };
    let mut args = vec![
        Value::Text(bucket.to_owned()),
        Value::Text(key.to_owned()),
        id.map_or(Value::Null, |v| Value::Text(v.to_owned())),
    ];
    args.extend(values);
    let current = db.execute(
        &format!(
            "UPDATE objects SET {set} WHERE bucket = ?1 AND key = ?2 \
             AND (?3 IS NULL OR COALESCE(version_id, 'null') = ?3)"
        ),
        rusqlite::params_from_iter(&args),
    )?;
    if current > 0 || id.is_none() {
        return Ok(current > 0);
    }
    let noncurrent = db.execute(
        &format!(
            "UPDATE versions SET {set} WHERE bucket = ?1 AND key = ?2 AND version_id = ?3 \
             AND marker = 0"
        ),
        rusqlite::params_from_iter(&args),
    )?;
    Ok(noncurrent > 0)
}

/// Version `id` of `bucket`/`key` (current or not), pinned.
pub(super) fn get_pinned(
    db: &Connection,
    bucket: &str,
    key: &str,
    id: &str,
    pins: &Pins,
) -> Result<Option<(Entry, ReadPin)>> {
    let current = super::objects::get(db, bucket, key)?
        .filter(|o| o.version_id.as_deref().unwrap_or(NULL_VERSION) == id)
        .map(Entry::Object);
    let found = match current {
        Some(e) => Some(e),
        None => db
            .query_row(
                &format!(
                    "SELECT version_id, marker, {COLUMNS} FROM versions \
                     WHERE bucket = ?1 AND key = ?2 AND version_id = ?3"
                ),
                params![bucket, key, id],
                entry,
            )
            .optional()?,
    };
    Ok(found.map(|e| {
        let pin = pins.pin(e.files());
        (e, pin)
    }))
}

/// The id of the delete marker that is the key's latest version, if it is one.
pub(super) fn latest_marker(db: &Connection, bucket: &str, key: &str) -> Result<Option<String>> {
    if current_id(db, bucket, key)?.is_some() {
        return Ok(None);
    }
    let newest: Option<(String, bool)> = db
        .query_row(
            "SELECT version_id, marker FROM versions WHERE bucket = ?1 AND key = ?2 \
             ORDER BY seq DESC LIMIT 1",
            params![bucket, key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(newest.and_then(|(id, marker)| marker.then_some(id)))
}

/// The versions listing (see [`crate::store::Catalog::list_versions`]).
pub(super) fn list(
    db: &Connection,
    bucket: &str,
    prefix: &str,
    key_marker: &str,
    version_marker: Option<&str>,
    limit: usize,
) -> Result<Vec<Version>> {
    // The position after which to list: (key, seq), the current row taking the largest seq.
    let after_seq: i64 = match version_marker {
        None => i64::MIN,
        Some(v) => {
            let current = current_id(db, bucket, key_marker)?
                .is_some_and(|c| c.as_deref().unwrap_or(NULL_VERSION) == v);
            if current {
                i64::MAX
            } else {
                db.query_row(
                    "SELECT seq FROM versions WHERE bucket = ?1 AND key = ?2 AND version_id = ?3",
                    params![bucket, key_marker, v],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(i64::MIN)
            }
        }
    };
    let mut st = db.prepare(&format!(
        "SELECT key, version_id, marker, {COLUMNS}, seq, latest FROM ( \
           SELECT key, COALESCE(version_id, 'null') AS version_id, 0 AS marker, {COLUMNS}, \
                  9223372036854775807 AS seq, 1 AS latest \
           FROM objects WHERE bucket = ?1 \
           UNION ALL \
           SELECT key, version_id, marker, {COLUMNS}, seq, \
                  (NOT EXISTS (SELECT 1 FROM objects o WHERE o.bucket = v.bucket AND o.key = v.key) \
                   AND seq = (SELECT MAX(seq) FROM versions w \
                              WHERE w.bucket = v.bucket AND w.key = v.key)) AS latest \
           FROM versions v WHERE bucket = ?1) \
         WHERE substr(key, 1, length(?2)) = ?2 \
           AND (key > ?3 OR (key = ?3 AND seq < ?4)) \
         ORDER BY key, seq DESC LIMIT ?5"
    ))?;
    let rows = st.query_map(
        params![bucket, prefix, key_marker, after_seq, limit as i64],
        |r| {
            let key: String = r.get(0)?;
            let latest: bool = r.get(15)?;
            let mut e = {
                // `entry` reads from column 0: shift by one (the key).
                let id: String = r.get(1)?;
                let id = (id != NULL_VERSION).then_some(id);
                if r.get::<_, bool>(2)? {
                    Entry::DeleteMarker {
                        version_id: id,
                        modified: r.get(5)?,
                    }
                } else {
                    Entry::Object(object_at(r, 3, id)?)
                }
            };
            if let Entry::Object(o) = &mut e {
                o.envelope = None;
                o.files = Vec::new();
                o.acl = None;
            }
            Ok(Version {
                key,
                latest,
                entry: e,
            })
        },
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
