//! Versioned migrations, applied at start in one transaction under a transaction-level advisory
//! lock: two replicas starting together take turns, and the second finds the work done. A database
//! migrated by a newer kms-server (a version this one does not know) is refused.

use postgres::GenericClient;

use crate::error::{Error, Result};

/// The advisory lock key of migrations (any constant shared by every replica: "kms-migr").
pub const MIGRATION_LOCK: i64 = 0x6b6d_732d_6d69_6772;

/// The migrations, in order; migration `i + 1` is `MIGRATIONS[i]`. Never edit one that shipped:
/// add the next.
pub const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
CREATE TABLE keys (
    key_id           UUID PRIMARY KEY,
    alias            TEXT NOT NULL CONSTRAINT keys_alias_key UNIQUE,
    description      TEXT NOT NULL,
    state            BIGINT NOT NULL,
    key_usage        TEXT NOT NULL,
    owner            TEXT NOT NULL,
    origin           TEXT NOT NULL,
    create_time      BIGINT NOT NULL,
    deletion_date    BIGINT NOT NULL,
    rotation_enabled BOOLEAN NOT NULL,
    rotate_days      BIGINT NOT NULL,
    last_rotate_time BIGINT NOT NULL,
    next_rotate_time BIGINT NOT NULL
);
CREATE TABLE key_versions (
    key_id      UUID NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
    version     BIGINT NOT NULL,
    wrapped     BYTEA NOT NULL,
    create_time BIGINT NOT NULL,
    CONSTRAINT key_versions_pkey PRIMARY KEY (key_id, version)
);
",
    "
ALTER TABLE keys ADD COLUMN valid_to BIGINT NOT NULL DEFAULT 0;
",
    // The versioned change log (see `changelog`): one row per committed write, numbered; the
    // highest number pruned, in a table of one row.
    "
CREATE TABLE key_changes (
    seq        BIGSERIAL PRIMARY KEY,
    key_ids    UUID[] NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE key_changes_pruned (
    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CONSTRAINT key_changes_pruned_one_row CHECK (only_row),
    through  BIGINT NOT NULL
);
INSERT INTO key_changes_pruned (through) VALUES (0);
",
    // Tags given at creation: a JSON array of [key, value] pairs (see keys::tags), never updated.
    "
ALTER TABLE keys ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
",
];

/// Brings the schema to the newest version; returns the versions applied now (none when another
/// replica, or an earlier start, did it).
pub fn migrate(client: &mut impl GenericClient) -> Result<Vec<usize>, MigrateError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    BIGINT PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )?;
    let current: i64 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )?
        .get(0);
    let known = MIGRATIONS.len() as i64;
    if current > known {
        return Err(MigrateError::Refused(Error::invalid(format!(
            "the database's schema is version {current}, newer than this kms-server knows \
             ({known}): upgrade kms-server"
        ))));
    }
    let mut applied = Vec::new();
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = i + 1;
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&(version as i64)],
        )?;
        applied.push(version);
    }
    tx.commit()?;
    Ok(applied)
}

/// Why [`migrate`] stopped.
#[derive(Debug)]
pub enum MigrateError {
    /// The driver failed (mapped by the caller, who knows the database's name).
    Db(postgres::Error),
    /// The schema cannot be used.
    Refused(Error),
}

impl From<postgres::Error> for MigrateError {
    fn from(e: postgres::Error) -> Self {
        MigrateError::Db(e)
    }
}
