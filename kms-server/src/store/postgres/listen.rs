//! The change feed of the PostgreSQL store: every write sends `NOTIFY kms_changes` inside its own
//! transaction (PostgreSQL delivers it only on commit, to every session listening), with the ids
//! of the keys it wrote as the payload (empty when too many). Each replica's [`Listener`] holds a
//! connection of its own (application name `kms-server listener`) that runs `LISTEN kms_changes`.
//!
//! A dropped connection is reopened with a bounded backoff (100 ms doubling to 5 s); each
//! (re)connection reports [`FeedEvent::Connected`], so the reader reloads what it missed.

use std::time::{Duration, Instant};

use postgres::{Client, Config, Transaction, fallible_iterator::FallibleIterator as _};
use tokio_postgres_rustls::MakeRustlsConnect;
use uuid::Uuid;

use super::connect::plain;
use crate::store::{ChangeFeed, FeedEvent};

/// The channel every write notifies.
pub const CHANNEL: &str = "kms_changes";
/// The `application_name` of the listening connections (to find them in `pg_stat_activity`).
pub const APPLICATION_NAME: &str = "kms-server listener";
/// PostgreSQL refuses payloads of 8000 bytes or more; past this the payload is empty ("reload").
const MAX_PAYLOAD: usize = 4000;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Sends the change notification in `tx` (delivered when it commits).
pub(super) fn notify(tx: &mut Transaction<'_>, key_ids: &[Uuid]) -> Result<(), postgres::Error> {
    let mut payload = key_ids
        .iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(",");
    if payload.len() > MAX_PAYLOAD {
        payload.clear();
    }
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])?;
    Ok(())
}

/// Adds the key ids a notification's payload names to `ids`; a payload that names none (too many
/// for one notification) or does not parse makes it `None`: every key must be reloaded.
fn named_keys(ids: &mut Option<Vec<Uuid>>, payload: &str) {
    let Some(list) = ids else {
        return;
    };
    for id in payload.split(',') {
        match Uuid::parse_str(id) {
            Ok(id) => list.push(id),
            Err(_) => {
                *ids = None;
                return;
            }
        }
    }
}

/// One replica's listening connection, opened on the first wait.
pub struct Listener {
    config: Config,
    tls: MakeRustlsConnect,
    /// The database, as logs may name it (no password).
    db: String,
    client: Option<Client>,
    backoff: Duration,
    next_attempt: Instant,
    /// Whether a connection was ever made (the first one is not worth a warning).
    connected_once: bool,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the config: it holds the password.
        f.debug_struct("Listener")
            .field("db", &self.db)
            .field("connected", &self.client.is_some())
            .finish_non_exhaustive()
    }
}

impl Listener {
    pub(super) fn new(mut config: Config, tls: MakeRustlsConnect, db: String) -> Self {
        config.application_name(APPLICATION_NAME);
        Self {
            config,
            tls,
            db,
            client: None,
            backoff: FIRST_BACKOFF,
            next_attempt: Instant::now(),
            connected_once: false,
        }
    }

    fn connect(&mut self, timeout: Duration) -> FeedEvent {
        let now = Instant::now();
        if now < self.next_attempt {
            std::thread::sleep(timeout.min(self.next_attempt - now));
            return FeedEvent::Down;
        }
        let opened = self.config.connect(self.tls.clone()).and_then(|mut c| {
            c.batch_execute(&format!("LISTEN {CHANNEL}"))?;
            Ok(c)
        });
        match opened {
            Ok(client) => {
                if self.connected_once {
                    tracing::info!(db = %self.db, "change feed reconnected: reloading every key");
                }
                self.client = Some(client);
                self.connected_once = true;
                self.backoff = FIRST_BACKOFF;
                FeedEvent::Connected
            }
            Err(e) => {
                tracing::warn!(
                    error = %plain(e, &self.db),
                    retry_in_ms = self.backoff.as_millis() as u64,
                    "change feed cannot connect; other replicas' changes arrive on the tick"
                );
                self.next_attempt = now + self.backoff;
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                FeedEvent::Down
            }
        }
    }

    fn lost(&mut self, why: String) -> FeedEvent {
        tracing::warn!(db = %self.db, error = %why, "change feed connection lost; reconnecting");
        self.client = None;
        self.next_attempt = Instant::now();
        FeedEvent::Down
    }
}

impl ChangeFeed for Listener {
    fn wait(&mut self, timeout: Duration) -> FeedEvent {
        let Some(client) = self.client.as_mut() else {
            return self.connect(timeout);
        };
        let first = client.notifications().timeout_iter(timeout).next();
        match first {
            Ok(Some(n)) => {
                // A burst is one event: take in what else has arrived already.
                let mut ids = Some(Vec::new());
                named_keys(&mut ids, n.payload());
                let mut queued = client.notifications();
                let mut more = queued.iter();
                while let Ok(Some(n)) = more.next() {
                    named_keys(&mut ids, n.payload());
                }
                FeedEvent::Changed(ids)
            }
            Ok(None) if !client.is_closed() => FeedEvent::Quiet,
            Ok(None) => self.lost("connection closed".into()),
            Err(e) => {
                let why = plain(e, &self.db).to_string();
                self.lost(why)
            }
        }
    }
}
