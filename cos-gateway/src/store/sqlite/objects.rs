//! The `objects` table: one row per object, naming its body files.

use rusqlite::{Connection, OptionalExtension as _, Transaction, params};

use super::{acl_from_db, acl_to_db, class_from_db, env_from_db, env_to_db, json, json_from_db};
use crate::error::{Error, Result};
use crate::restore::Restore;
use crate::store::Object;
use crate::store::versions::Deleted;

/// The object row of `bucket`/`key`.
pub(super) fn get(db: &Connection, bucket: &str, key: &str) -> Result<Option<Object>> {
    Ok(db
        .query_row(
            "SELECT size, etag, modified, meta, envelope, files, tags, storage_class, \
             restore_ready, restore_expiry, acl, version_id FROM objects \
             WHERE bucket = ?1 AND key = ?2",
            params![bucket, key],
            |r| {
                Ok(Object {
                    size: r.get::<_, i64>(0)? as u64,
                    etag: r.get(1)?,
                    modified: r.get(2)?,
                    meta: json_from_db(r.get(3)?)?,
                    envelope: env_from_db(r.get(4)?)?,
                    files: json_from_db(r.get(5)?)?,
                    tags: json_from_db(r.get(6)?)?,
                    storage_class: class_from_db(r.get(7)?)?,
                    restore: restore_from_db(r.get(8)?, r.get(9)?),
                    acl: acl_from_db(r.get(10)?)?,
                    version_id: r.get(11)?,
                })
            },
        )
        .optional()?)
}

/// The body files of `bucket`/`key` (empty when there is no such object).
pub(super) fn files_of(tx: &Connection, bucket: &str, key: &str) -> Result<Vec<String>> {
    let files: Option<String> = tx
        .query_row(
            "SELECT files FROM objects WHERE bucket = ?1 AND key = ?2",
            params![bucket, key],
            |r| r.get(0),
        )
        .optional()?;
    Ok(files.map(json_from_db).transpose()?.unwrap_or_default())
}

/// Writes `obj` (its version id included) as the current row of `bucket/key` inside `tx`; the
/// caller has moved or removed the row it replaces (see [`super::versions::write`]).
pub(super) fn insert_row(
    tx: &Transaction<'_>,
    bucket: &str,
    key: &str,
    obj: &Object,
) -> Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO objects \
         (bucket, key, size, etag, modified, meta, envelope, files, tags, storage_class, \
          restore_ready, restore_expiry, acl, version_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            bucket,
            key,
            obj.size as i64,
            obj.etag,
            obj.modified,
            json(&obj.meta),
            env_to_db(&obj.envelope),
            json(&obj.files),
            json(&obj.tags),
            obj.storage_class.as_str(),
            obj.restore.map(|r| r.ready_at),
            obj.restore.map(|r| r.expires_at),
            acl_to_db(obj.acl.as_ref()),
            obj.version_id
        ],
    )?;
    Ok(())
}

/// Writes an object as the key's latest version: `NoSuchBucket` if its bucket is gone. Returns
/// the body files no row names any more and the version id to answer with.
pub(super) fn put(
    db: &mut Connection,
    bucket: &str,
    key: &str,
    obj: &Object,
) -> Result<(Vec<String>, Option<String>)> {
    let tx = db.transaction()?;
    if !super::buckets::exists(&tx, bucket)? {
        return Err(Error::NoSuchBucket);
    }
    let written = super::versions::write(&tx, bucket, key, Some(obj), obj.modified)?;
    tx.commit()?;
    Ok(written)
}

/// Deletes an object (idempotent; a delete marker in a versioned bucket); returns the body files
/// no row names any more.
pub(super) fn delete(
    db: &mut Connection,
    bucket: &str,
    key: &str,
    now: i64,
) -> Result<(Vec<String>, Deleted)> {
    let tx = db.transaction()?;
    let (old, version_id) = super::versions::write(&tx, bucket, key, None, now)?;
    tx.commit()?;
    let marker = version_id.is_some();
    Ok((old, Deleted { version_id, marker }))
}

/// Objects of a bucket with `prefix`, keys after `marker`, at most `limit`, by key (without their
/// envelopes, files, restores and ACLs).
pub(super) fn list(
    db: &Connection,
    bucket: &str,
    prefix: &str,
    marker: &str,
    limit: usize,
) -> Result<Vec<(String, Object)>> {
    let mut st = db.prepare(
        "SELECT key, size, etag, modified, meta, tags, storage_class FROM objects \
         WHERE bucket = ?1 AND substr(key, 1, length(?2)) = ?2 AND key > ?3 \
         ORDER BY key LIMIT ?4",
    )?;
    let rows = st.query_map(params![bucket, prefix, marker, limit as i64], |r| {
        Ok((
            r.get(0)?,
            Object {
                size: r.get::<_, i64>(1)? as u64,
                etag: r.get(2)?,
                modified: r.get(3)?,
                meta: json_from_db(r.get(4)?)?,
                envelope: None,
                files: Vec::new(),
                tags: json_from_db(r.get(5)?)?,
                storage_class: class_from_db(r.get(6)?)?,
                restore: None,
                acl: None,
                version_id: None,
            },
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A restore from its two columns (both set, or neither).
pub(super) fn restore_from_db(ready_at: Option<i64>, expires_at: Option<i64>) -> Option<Restore> {
    Some(Restore {
        ready_at: ready_at?,
        expires_at: expires_at?,
    })
}
