//! Which key store a server opens: `--database sqlite:PATH` (the default, `<data-dir>/kms.sqlite3`)
//! or `--database postgres://...`. The URL may hold a password: this type's `Debug` and
//! [`Database::describe`] never show it, and a refused URL is never echoed.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A key store's location.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// The SQLite file at this path.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by its `postgres://` URL (checked by the driver's parser).
    Postgres(String),
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Database {
    /// The SQLite database of a data directory (the default).
    pub fn in_dir(data_dir: &Path) -> Self {
        Database::Sqlite(data_dir.join(super::sqlite::DB_FILE))
    }

    /// Parses `sqlite:PATH` or `postgres://...` (`postgresql://` too). The error names the rule
    /// broken, never the value.
    pub fn parse(url: &str) -> Result<Self> {
        if let Some(path) = url.strip_prefix("sqlite:") {
            if path.is_empty() {
                return Err(Error::invalid("sqlite: needs a path (sqlite:PATH)"));
            }
            return Ok(Database::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            super::postgres::parse_url(url)?;
            return Ok(Database::Postgres(url.to_owned()));
        }
        let scheme = match url.split_once(':') {
            Some((s, _)) if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()) => {
                format!("scheme {s:?}")
            }
            _ => "no scheme".to_owned(),
        };
        Err(Error::invalid(format!(
            "expected sqlite:PATH or postgres://USER@HOST/DB, got a URL with {scheme}"
        )))
    }

    /// The database as logs may name it: `sqlite:PATH`, or the PostgreSQL URL without its
    /// password and options.
    pub fn describe(&self) -> String {
        match self {
            Database::Sqlite(path) => format!("sqlite:{}", path.display()),
            Database::Postgres(url) => super::postgres::parse_url(url).map_or_else(
                |_| "postgres://(bad URL)".to_owned(),
                |c| super::postgres::redacted(&c),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_bad_ones_are_refused_exactly() {
        assert_eq!(
            Database::parse("sqlite:/var/kms/k.db").unwrap(),
            Database::Sqlite("/var/kms/k.db".into())
        );
        let pg = Database::parse("postgresql://kms:pw@db:5432/kms?sslmode=require").unwrap();
        assert_eq!(format!("{pg:?}"), "postgres://kms@db:5432/kms");
        assert_eq!(pg.describe(), "postgres://kms@db:5432/kms");
        let refused = |url: &str| Database::parse(url).unwrap_err().to_string();
        assert_eq!(refused("sqlite:"), "sqlite: needs a path (sqlite:PATH)");
        assert_eq!(
            refused("mysql://root:pw@db/kms"),
            "expected sqlite:PATH or postgres://USER@HOST/DB, got a URL with scheme \"mysql\""
        );
        assert_eq!(
            refused("/var/kms/k.db"),
            "expected sqlite:PATH or postgres://USER@HOST/DB, got a URL with no scheme"
        );
        assert_eq!(
            refused("postgres://kms:pw@db/kms?sslmode=maybe"),
            "bad PostgreSQL URL: invalid connection string: invalid value for option `sslmode`"
        );
    }
}
