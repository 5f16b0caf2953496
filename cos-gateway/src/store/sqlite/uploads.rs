//! The `uploads` and `parts` tables: multipart uploads in progress and their part attempts.
//!
//! Every write that needs its upload to still exist (a part, the completion) checks it with
//! [`require_live`] inside its own transaction: an abort or a completion that commits first makes
//! it fail with `NoSuchUpload` and write nothing.

use rusqlite::{Connection, OptionalExtension as _, params};

use super::{acl_from_db, acl_to_db, class_from_db, env_from_db, env_to_db, json, json_from_db};
use crate::error::{Error, Result};
use crate::store::{Object, Part, Upload};

/// `NoSuchUpload` unless upload `id` still exists (checked inside the caller's transaction).
fn require_live(db: &Connection, id: &str) -> Result<()> {
    let live: Option<i64> = db
        .query_row(
            "SELECT 1 FROM uploads WHERE upload_id = ?1",
            params![id],
            |r| r.get(0),
        )
        .optional()?;
    live.map(|_| ()).ok_or(Error::NoSuchUpload)
}

/// Records a new upload.
pub(super) fn create(db: &Connection, u: &Upload) -> Result<()> {
    db.execute(
        "INSERT INTO uploads \
         (upload_id, bucket, key, initiated, meta, envelope, tags, storage_class, acl) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            u.upload_id,
            u.bucket,
            u.key,
            u.initiated,
            json(&u.meta),
            env_to_db(&u.envelope),
            json(&u.tags),
            u.storage_class.as_str(),
            acl_to_db(u.acl.as_ref())
        ],
    )?;
    Ok(())
}

/// Upload `id` of `bucket`/`key`, or `NoSuchUpload`.
pub(super) fn get(db: &Connection, bucket: &str, key: &str, id: &str) -> Result<Upload> {
    db.query_row(
        "SELECT upload_id, bucket, key, initiated, meta, envelope, tags, storage_class, acl \
         FROM uploads \
         WHERE upload_id = ?1 AND bucket = ?2 AND key = ?3",
        params![id, bucket, key],
        |r| {
            Ok(Upload {
                upload_id: r.get(0)?,
                bucket: r.get(1)?,
                key: r.get(2)?,
                initiated: r.get(3)?,
                meta: json_from_db(r.get(4)?)?,
                envelope: env_from_db(r.get(5)?)?,
                tags: json_from_db(r.get(6)?)?,
                storage_class: class_from_db(r.get(7)?)?,
                acl: acl_from_db(r.get(8)?)?,
            })
        },
    )
    .optional()?
    .ok_or(Error::NoSuchUpload)
}

/// Uploads of a bucket whose key starts with `prefix`, by key then initiation (without their
/// envelopes and ACLs).
pub(super) fn list(db: &Connection, bucket: &str, prefix: &str) -> Result<Vec<Upload>> {
    let mut st = db.prepare(
        "SELECT upload_id, bucket, key, initiated, meta, tags, storage_class FROM uploads \
         WHERE bucket = ?1 AND substr(key, 1, length(?2)) = ?2 ORDER BY key, initiated",
    )?;
    let rows = st.query_map(params![bucket, prefix], |r| {
        Ok(Upload {
            upload_id: r.get(0)?,
            bucket: r.get(1)?,
            key: r.get(2)?,
            initiated: r.get(3)?,
            meta: json_from_db(r.get(4)?)?,
            envelope: None,
            tags: json_from_db(r.get(5)?)?,
            storage_class: class_from_db(r.get(6)?)?,
            acl: None,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Records a part attempt, replacing an earlier attempt of its number: `NoSuchUpload` if the
/// upload is gone. Returns the replaced attempt's file.
pub(super) fn put_part(db: &mut Connection, id: &str, part: &Part) -> Result<Option<String>> {
    let tx = db.transaction()?;
    require_live(&tx, id)?;
    let old: Option<String> = tx
        .query_row(
            "SELECT file FROM parts WHERE upload_id = ?1 AND number = ?2",
            params![id, part.number],
            |r| r.get(0),
        )
        .optional()?;
    tx.execute(
        "INSERT OR REPLACE INTO parts \
         (upload_id, number, etag, size, stored_size, salt, file, modified) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            id,
            part.number,
            part.etag,
            part.size as i64,
            part.stored_size as i64,
            part.salt.map(|s| s.to_vec()),
            part.file,
            part.modified
        ],
    )?;
    tx.commit()?;
    Ok(old)
}

/// The parts of an upload, by number.
pub(super) fn parts(db: &Connection, id: &str) -> Result<Vec<Part>> {
    let mut st = db.prepare(
        "SELECT number, etag, size, stored_size, salt, file, modified FROM parts \
         WHERE upload_id = ?1 ORDER BY number",
    )?;
    let rows = st.query_map(params![id], |r| {
        let salt: Option<Vec<u8>> = r.get(4)?;
        Ok(Part {
            number: r.get(0)?,
            etag: r.get(1)?,
            size: r.get::<_, i64>(2)? as u64,
            stored_size: r.get::<_, i64>(3)? as u64,
            salt: salt.and_then(|s| s.try_into().ok()),
            file: r.get(5)?,
            modified: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Completes upload `u` into `obj` (see [`crate::store::Store::complete_upload`]); returns the
/// files no row names any more: unlisted parts' and the replaced object's.
pub(super) fn complete(
    db: &mut Connection,
    u: &Upload,
    chosen: &[Part],
    obj: &Object,
) -> Result<(Vec<String>, Option<String>)> {
    let id = &u.upload_id;
    let tx = db.transaction()?;
    require_live(&tx, id)?;
    for p in chosen {
        let current: Option<(String, String)> = tx
            .query_row(
                "SELECT file, etag FROM parts WHERE upload_id = ?1 AND number = ?2",
                params![id, p.number],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if current.as_ref() != Some(&(p.file.clone(), p.etag.clone())) {
            return Err(Error::InvalidPart(format!(
                "part {} was uploaded again or removed during the completion",
                p.number
            )));
        }
    }
    let mut garbage: Vec<String> = Vec::new();
    {
        let mut st = tx.prepare("SELECT file FROM parts WHERE upload_id = ?1")?;
        for f in st.query_map(params![id], |r| r.get::<_, String>(0))? {
            let f = f?;
            if !obj.files.contains(&f) {
                garbage.push(f);
            }
        }
    }
    let (replaced, version) =
        super::versions::write(&tx, &u.bucket, &u.key, Some(obj), obj.modified)?;
    garbage.extend(replaced);
    tx.execute("DELETE FROM parts WHERE upload_id = ?1", params![id])?;
    tx.execute("DELETE FROM uploads WHERE upload_id = ?1", params![id])?;
    tx.commit()?;
    Ok((garbage, version))
}

/// Aborts an upload: `NoSuchUpload` if it is gone. Returns its parts' files.
pub(super) fn abort(db: &mut Connection, id: &str) -> Result<Vec<String>> {
    let tx = db.transaction()?;
    let files: Vec<String> = {
        let mut st = tx.prepare("SELECT file FROM parts WHERE upload_id = ?1")?;
        st.query_map(params![id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?
    };
    tx.execute("DELETE FROM parts WHERE upload_id = ?1", params![id])?;
    if tx.execute("DELETE FROM uploads WHERE upload_id = ?1", params![id])? == 0 {
        return Err(Error::NoSuchUpload);
    }
    tx.commit()?;
    Ok(files)
}
