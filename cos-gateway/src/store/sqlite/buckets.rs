//! The `buckets` table: a bucket's name, creation time, default encryption (with its bucket-key
//! setting) and ACL.

use rusqlite::{Connection, OptionalExtension as _, params};
use storage_adapter::BucketEncryption;

use crate::error::{Error, Result};
use crate::store::Bucket;

/// The `sse_algorithm`, `kms_key_id` and `bucket_key` columns of a default encryption.
fn encryption_to_db(e: Option<&BucketEncryption>) -> (Option<&str>, Option<&str>, bool) {
    match e {
        None => (None, None, false),
        Some(BucketEncryption::Aes256) => (Some("AES256"), None, false),
        Some(BucketEncryption::Kms { key_id, bucket_key }) => {
            (Some("KMS"), key_id.as_deref(), *bucket_key)
        }
    }
}

/// A bucket.
pub(super) fn get(db: &Connection, name: &str) -> Result<Option<Bucket>> {
    Ok(db
        .query_row(
            "SELECT name, created, sse_algorithm, kms_key_id, bucket_key, acl, versioning \
             FROM buckets WHERE name = ?1",
            params![name],
            |r| {
                let alg: Option<String> = r.get(2)?;
                let key_id: Option<String> = r.get(3)?;
                let bucket_key: bool = r.get(4)?;
                Ok(Bucket {
                    name: r.get(0)?,
                    created: r.get(1)?,
                    encryption: match alg.as_deref() {
                        Some("AES256") => Some(BucketEncryption::Aes256),
                        Some("KMS") => Some(BucketEncryption::Kms { key_id, bucket_key }),
                        _ => None,
                    },
                    acl: super::acl_from_db(r.get(5)?)?,
                    versioning: r
                        .get::<_, Option<String>>(6)?
                        .as_deref()
                        .and_then(crate::store::versions::Versioning::from_status)
                        .unwrap_or_default(),
                })
            },
        )
        .optional()?)
}

/// Whether bucket `name` exists (inside the caller's transaction).
pub(super) fn exists(db: &Connection, name: &str) -> Result<bool> {
    let found: Option<i64> = db
        .query_row(
            "SELECT 1 FROM buckets WHERE name = ?1",
            params![name],
            |r| r.get(0),
        )
        .optional()?;
    Ok(found.is_some())
}

/// All buckets, by name (without their encryption).
pub(super) fn list(db: &Connection) -> Result<Vec<Bucket>> {
    let mut st = db.prepare("SELECT name, created FROM buckets ORDER BY name")?;
    let rows = st.query_map([], |r| {
        Ok(Bucket {
            name: r.get(0)?,
            created: r.get(1)?,
            encryption: None,
            acl: None,
            versioning: Default::default(),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Creates a bucket; `false` if it exists.
pub(super) fn create(db: &Connection, name: &str, now: i64) -> Result<bool> {
    Ok(db.execute(
        "INSERT OR IGNORE INTO buckets (name, created) VALUES (?1, ?2)",
        params![name, now],
    )? == 1)
}

/// Deletes an empty bucket: `BucketNotEmpty` while it has objects or uploads.
pub(super) fn delete(db: &mut Connection, name: &str) -> Result<()> {
    let tx = db.transaction()?;
    let n: i64 = tx.query_row(
        "SELECT (SELECT COUNT(*) FROM objects WHERE bucket = ?1) + \
         (SELECT COUNT(*) FROM uploads WHERE bucket = ?1) + \
         (SELECT COUNT(*) FROM versions WHERE bucket = ?1)",
        params![name],
        |r| r.get(0),
    )?;
    if n > 0 {
        return Err(Error::BucketNotEmpty);
    }
    if tx.execute("DELETE FROM buckets WHERE name = ?1", params![name])? == 0 {
        return Err(Error::NoSuchBucket);
    }
    tx.commit()?;
    Ok(())
}

/// Sets (or clears) a bucket's default encryption.
pub(super) fn set_encryption(
    db: &Connection,
    name: &str,
    enc: Option<&BucketEncryption>,
) -> Result<()> {
    let (alg, key, bucket_key) = encryption_to_db(enc);
    if db.execute(
        "UPDATE buckets SET sse_algorithm = ?2, kms_key_id = ?3, bucket_key = ?4 WHERE name = ?1",
        params![name, alg, key, bucket_key],
    )? == 0
    {
        return Err(Error::NoSuchBucket);
    }
    Ok(())
}

/// Sets (or clears) a bucket's ACL.
pub(super) fn set_acl(db: &Connection, name: &str, acl: Option<&crate::acl::Acl>) -> Result<()> {
    if db.execute(
        "UPDATE buckets SET acl = ?2 WHERE name = ?1",
        params![name, super::acl_to_db(acl)],
    )? == 0
    {
        return Err(Error::NoSuchBucket);
    }
    Ok(())
}
