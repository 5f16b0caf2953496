//! Connecting to PostgreSQL: the URL (parsed by the driver, never by hand), its password-free form
//! for messages and logs, TLS on rustls for `sslmode=require`/`prefer`, and how the driver's
//! errors become the crate's.

use std::{path::Path, sync::Arc};

use postgres::{
    Config,
    config::{Host, SslMode},
    error::SqlState,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{Error, Result};

/// Parses a `postgres://` URL. The error names the rule the driver found broken, never the URL
/// (it may hold a password).
pub fn parse_url(url: &str) -> Result<Config> {
    url.parse::<Config>().map_err(|e| {
        // The driver's message is generic; its source names the option at fault.
        let detail = std::error::Error::source(&e).map_or(String::new(), |s| format!(": {s}"));
        Error::invalid(format!("bad PostgreSQL URL: {e}{detail}"))
    })
}

/// The database as messages and logs may name it: `postgres://user@host:port/dbname`, without the
/// password and without the other options.
pub fn redacted(config: &Config) -> String {
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let hosts = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            };
            match config.get_ports().get(i).or(config.get_ports().first()) {
                Some(port) => format!("{host}:{port}"),
                None => host,
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    let db = config.get_dbname().unwrap_or_default();
    format!("postgres://{user}{hosts}/{db}")
}

/// The TLS connector: the Mozilla roots (webpki-roots), plus the certificates of `ca_file` (PEM)
/// for a database whose certificate a private CA signed. Used when the URL's `sslmode` is
/// `prefer` (the driver's default) or `require`; `sslmode=disable` never starts TLS. The server's
/// name is always verified against its certificate.
pub fn tls(ca_file: Option<&Path>) -> Result<MakeRustlsConnect> {
    use rustls::pki_types::{CertificateDer, pem::PemObject as _};
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| Error::invalid(format!("database CA file {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(Error::invalid(format!(
                "database CA file {}: no certificate in it",
                path.display()
            )));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| Error::invalid(format!("database CA file {}: {e}", path.display())))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// Whether the URL asks for TLS at all (for the start-up log line).
#[cfg_attr(not(test), allow(dead_code))]
pub fn wants_tls(config: &Config) -> bool {
    config.get_ssl_mode() != SslMode::Disable
}

/// The name of the unique constraint on aliases (migration 1).
pub const ALIAS_CONSTRAINT: &str = "keys_alias_key";
/// The primary key of key versions (migration 1).
pub const VERSION_CONSTRAINT: &str = "key_versions_pkey";
/// The primary key of keys (migration 1).
pub const KEY_CONSTRAINT: &str = "keys_pkey";

/// What a failed statement means for the call that made it.
#[derive(Debug)]
pub enum Failure {
    /// The alias constraint refused a write.
    AliasTaken,
    /// The version primary key refused a write.
    VersionTaken,
    /// The key primary key refused a write (another replica made the key meanwhile).
    KeyTaken,
    /// Anything else, already mapped.
    Other(Error),
}

/// Classifies a driver error; `db` names the database (redacted) for the unavailable case.
pub fn classify(e: postgres::Error, db: &str) -> Failure {
    if let Some(dbe) = e.as_db_error() {
        if *dbe.code() == SqlState::UNIQUE_VIOLATION {
            match dbe.constraint() {
                Some(ALIAS_CONSTRAINT) => return Failure::AliasTaken,
                Some(VERSION_CONSTRAINT) => return Failure::VersionTaken,
                Some(KEY_CONSTRAINT) => return Failure::KeyTaken,
                _ => {}
            }
        }
        let code = dbe.code().code();
        // Class 08 (connection exception), 57P0x (the server shutting down or starting), 53300
        // (too many connections): the database is not there for us, not broken.
        if code.starts_with("08") || code.starts_with("57P0") || code == "53300" {
            return Failure::Other(Error::StoreUnavailable(format!("{db}: {}", dbe.message())));
        }
        return Failure::Other(Error::Storage(Box::new(e)));
    }
    if e.is_closed() || e.code().is_none() {
        // No server answer at all: the connection is gone (I/O error, closed, timed out).
        return Failure::Other(Error::StoreUnavailable(format!(
            "{db}: {}",
            with_causes(&e)
        )));
    }
    Failure::Other(Error::Storage(Box::new(e)))
}

/// `e` with its causes, as one line (`error performing TLS handshake: invalid peer certificate:
/// UnknownIssuer`): the driver's own text often leaves out the cause that says what to fix. A
/// cause already in the text is not repeated.
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// The pool's error handler: keeps the last connection error, with its causes, for the message
/// of a pool that could not open a connection (the pool's own error keeps only the first line).
#[derive(Debug, Clone, Default)]
pub struct LastError(std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl LastError {
    /// The last error seen, if any.
    pub fn take(&self) -> Option<String> {
        self.0.lock().ok()?.take()
    }
}

impl r2d2::HandleError<postgres::Error> for LastError {
    fn handle_error(&self, error: postgres::Error) {
        if let Ok(mut last) = self.0.lock() {
            *last = Some(with_causes(&error));
        }
    }
}

/// A driver error with no constraint to interpret.
pub fn plain(e: postgres::Error, db: &str) -> Error {
    match classify(e, db) {
        Failure::Other(e) => e,
        Failure::AliasTaken | Failure::VersionTaken | Failure::KeyTaken => {
            Error::Internal("unexpected unique violation in the key store".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redacted_url_has_no_password() {
        let c = parse_url("postgres://kms:s3cret-pw@db.example:6432/keys?sslmode=require").unwrap();
        assert_eq!(redacted(&c), "postgres://kms@db.example:6432/keys");
        assert!(wants_tls(&c));
        let c = parse_url("postgresql://a:b@h1:1,h2:2/d?sslmode=disable").unwrap();
        assert_eq!(redacted(&c), "postgres://a@h1:1,h2:2/d");
        assert!(!wants_tls(&c));
    }

    #[test]
    fn a_bad_url_is_refused_without_echoing_it() {
        let e = parse_url("postgres://kms:s3cret-pw@db/keys?sslmode=sometimes").unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad PostgreSQL URL: invalid connection string: invalid value for option `sslmode`"
        );
        let e = parse_url("postgres://kms:s3cret-pw@db/keys?colour=blue").unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let Err(e) = tls(Some(Path::new("/nonexistent/ca.pem"))) else {
            panic!("a missing CA file was accepted");
        };
        assert!(
            e.to_string()
                .starts_with("database CA file /nonexistent/ca.pem: "),
            "{e}"
        );
    }
}
