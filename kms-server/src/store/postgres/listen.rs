//! The change feed of the PostgreSQL store: every write appends to the change log and sends
//! `NOTIFY kms_changes` inside its own transaction ([`changelog::record`]; PostgreSQL delivers it
//! only on commit, to every session listening), with the change's number and the ids of the keys it
//! wrote as the payload. Each replica's [`Listener`] holds a connection of its own (application name
//! `kms-server listener`) that runs `LISTEN kms_changes`, and keeps its [`Position`] in the log.
//!
//! A dropped connection is reopened with a bounded backoff (100 ms doubling to 5 s). The first
//! connection reports [`FeedEvent::Connected`] (the reader reloads every key once); a reconnection
//! reads the log after its position and reports the keys changed meanwhile, or
//! [`FeedEvent::Connected`] when the log no longer holds them (pruned: down longer than the
//! retention). While connected, the listener prunes the log now and then.

use std::time::{Duration, Instant};

use postgres::{Client, Config, fallible_iterator::FallibleIterator as _};
use tokio_postgres_rustls::MakeRustlsConnect;
use uuid::Uuid;

use super::{
    changelog::{self, CHANNEL, Position, Since},
    connect::plain,
};
use crate::store::{ChangeFeed, FeedEvent};

/// The `application_name` of the listening connections (to find them in `pg_stat_activity`).
pub const APPLICATION_NAME: &str = "kms-server listener";
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often a listener prunes the change log.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// What a burst of notifications names: keys, and the changes whose keys are only in the log.
#[derive(Default)]
struct Burst {
    /// `None`: a payload did not parse (or named no key, from a replica without a log).
    ids: Option<Vec<Uuid>>,
    unnamed: Vec<i64>,
}

impl Burst {
    fn take(&mut self, position: Option<&mut Position>, payload: &str, now: Instant) {
        let Some(ids) = self.ids.as_mut() else {
            return;
        };
        match changelog::parse_payload(payload) {
            None => self.ids = None,
            Some((seq, named)) => {
                if let (Some(seq), Some(p)) = (seq, position) {
                    p.saw(seq, now);
                }
                match (named, seq) {
                    (Some(named), _) => ids.extend(named),
                    (None, Some(seq)) => self.unnamed.push(seq),
                    (None, None) => self.ids = None,
                }
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
    /// What this replica has seen of the change log; `None` before the first connection.
    position: Option<Position>,
    /// How old a change log row may get before it is pruned.
    retention: Duration,
    last_prune: Instant,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the config: it holds the password.
        f.debug_struct("Listener")
            .field("db", &self.db)
            .field("connected", &self.client.is_some())
            .field("position", &self.position.as_ref().map(Position::mark))
            .finish_non_exhaustive()
    }
}

impl Listener {
    pub(super) fn new(
        mut config: Config,
        tls: MakeRustlsConnect,
        db: String,
        retention: Duration,
    ) -> Self {
        config.application_name(APPLICATION_NAME);
        Self {
            config,
            tls,
            db,
            client: None,
            backoff: FIRST_BACKOFF,
            next_attempt: Instant::now(),
            position: None,
            retention,
            last_prune: Instant::now(),
        }
    }

    fn connect(&mut self, timeout: Duration) -> FeedEvent {
        let now = Instant::now();
        if now < self.next_attempt {
            std::thread::sleep(timeout.min(self.next_attempt - now));
            return FeedEvent::Down;
        }
        // LISTEN before reading the log: a change committed after the read is notified, one
        // committed before it is in the read (one in between is in both: reloaded twice).
        let opened = self.config.connect(self.tls.clone()).and_then(|mut c| {
            c.batch_execute(&format!("LISTEN {CHANNEL}"))?;
            let missed = catch_up(&mut c, self.position.as_mut())?;
            Ok((c, missed))
        });
        match opened {
            Ok((client, (position, event))) => {
                if self.position.is_some() {
                    let keys = match &event {
                        FeedEvent::Changed(Some(ids)) => ids.len().to_string(),
                        FeedEvent::Quiet => "no".to_owned(),
                        _ => "every (the log was pruned past this replica's position)".to_owned(),
                    };
                    tracing::info!(db = %self.db, "change feed reconnected: reloading {keys} keys");
                } else {
                    tracing::info!(
                        db = %self.db,
                        change_log_retention_secs = self.retention.as_secs(),
                        "change feed listening"
                    );
                }
                if let Some(p) = position {
                    self.position = Some(p);
                }
                self.client = Some(client);
                self.backoff = FIRST_BACKOFF;
                event
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

    /// Prunes the change log if it is time (a failure is only logged: the next one retries).
    fn prune_now_and_then(&mut self) {
        if self.last_prune.elapsed() < PRUNE_EVERY {
            return;
        }
        self.last_prune = Instant::now();
        if let Some(client) = self.client.as_mut() {
            match changelog::prune(client, self.retention) {
                Ok(n) => tracing::debug!(rows = n, "change log pruned"),
                Err(e) => {
                    tracing::warn!(error = %plain(e, &self.db), "pruning the change log failed")
                }
            }
        }
    }
}

/// On a new connection: where the log stands, and what the reader must reload. The first time
/// (no position) or when the log lost rows after the position: a fresh position and
/// [`FeedEvent::Connected`] (reload every key). Otherwise the keys changed after the position
/// (the position moves past them), or [`FeedEvent::Quiet`] if none.
fn catch_up(
    client: &mut Client,
    position: Option<&mut Position>,
) -> Result<(Option<Position>, FeedEvent), postgres::Error> {
    let now = Instant::now();
    let Some(position) = position else {
        return Ok((Some(changelog::start(client, now)?), FeedEvent::Connected));
    };
    match changelog::read_since(client, position)? {
        Since::Lost => Ok((Some(changelog::start(client, now)?), FeedEvent::Connected)),
        Since::Changes(rows) if rows.is_empty() => Ok((None, FeedEvent::Quiet)),
        Since::Changes(rows) => {
            let mut ids = Vec::new();
            for (seq, keys) in rows {
                position.saw(seq, now);
                ids.extend(keys);
            }
            ids.sort_unstable();
            ids.dedup();
            Ok((None, FeedEvent::Changed(Some(ids))))
        }
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
                let now = Instant::now();
                let mut burst = Burst {
                    ids: Some(Vec::new()),
                    unnamed: Vec::new(),
                };
                burst.take(self.position.as_mut(), n.payload(), now);
                {
                    let mut queued = client.notifications();
                    let mut more = queued.iter();
                    while let Ok(Some(n)) = more.next() {
                        burst.take(self.position.as_mut(), n.payload(), now);
                    }
                }
                if let (Some(ids), false) = (burst.ids.as_mut(), burst.unnamed.is_empty()) {
                    match changelog::keys_of(client, &burst.unnamed) {
                        Ok(Some(more)) => ids.extend(more),
                        Ok(None) => {
                            tracing::warn!(
                                db = %self.db,
                                "a notified change is no longer in the change log: reloading every key"
                            );
                            burst.ids = None;
                        }
                        Err(e) => {
                            let why = plain(e, &self.db).to_string();
                            // The position has moved past them: reload every key instead.
                            self.lost(why);
                            return FeedEvent::Changed(None);
                        }
                    }
                }
                FeedEvent::Changed(burst.ids)
            }
            Ok(None) if !client.is_closed() => {
                self.prune_now_and_then();
                FeedEvent::Quiet
            }
            Ok(None) => self.lost("connection closed".into()),
            Err(e) => {
                let why = plain(e, &self.db).to_string();
                self.lost(why)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        KeyStore,
        keys::KeyState,
        store::{
            KeyWrite,
            postgres::{PostgresOptions, PostgresStore, harness::Postgres},
            suite::sample_key,
        },
    };

    /// The next event other than Quiet and Down, and whether a Down came first (the connection
    /// was lost: the event came from the change log, not from a notification).
    fn next(feed: &mut dyn ChangeFeed) -> (bool, FeedEvent) {
        let mut down = false;
        for _ in 0..100 {
            match feed.wait(Duration::from_millis(100)) {
                FeedEvent::Quiet => {}
                FeedEvent::Down => down = true,
                e => return (down, e),
            }
        }
        panic!("no event within 10 s");
    }

    fn changed(ids: &[Uuid]) -> FeedEvent {
        FeedEvent::Changed(Some(ids.to_vec()))
    }

    /// Kills the feed's connection and waits until its backend is gone.
    fn kill_listener(admin: &mut Client) {
        let pids: Vec<i32> = admin
            .query(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1 \
                 AND datname = current_database()",
                &[&APPLICATION_NAME],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(pids.len(), 1, "one listening connection: {pids:?}");
        let gone: bool = admin
            .query_one("SELECT pg_terminate_backend($1, 5000)", &[&pids[0]])
            .unwrap()
            .get(0);
        assert!(gone);
    }

    fn log_rows(admin: &mut Client) -> i64 {
        admin
            .query_one("SELECT count(*) FROM key_changes", &[])
            .unwrap()
            .get(0)
    }

    /// Every kind of write is logged and notified with its keys, and a refused one logs nothing.
    /// A feed that lost its connection reads, on reconnecting, exactly the changes after its
    /// position, including one whose number was handed out before the last notification it saw
    /// but committed after (out of order, while it was down); pruned past its position, it asks
    /// for a full reload.
    #[test]
    fn a_reconnected_feed_reads_what_it_missed_from_the_log() {
        let Some(pg) = Postgres::start("postgres change log") else {
            return;
        };
        let url = pg.new_database();
        let store = PostgresStore::open(&url, &PostgresOptions::default()).unwrap();
        let mut admin = Client::connect(&url, postgres::NoTls).unwrap();
        let mut feed = store.change_feed().unwrap();
        assert_eq!(next(&mut *feed), (false, FeedEvent::Connected));

        // Each write, through its notification.
        let (k1, k2) = (sample_key(1, "one"), sample_key(2, "two"));
        store.insert_key(&k1).unwrap();
        assert_eq!(next(&mut *feed), (false, changed(&[k1.meta.key_id])));
        let mut disabled = k1.meta.clone();
        disabled.state = KeyState::Disabled;
        store.update_key(&k1.meta, &disabled).unwrap();
        assert_eq!(next(&mut *feed), (false, changed(&[k1.meta.key_id])));
        let rows = log_rows(&mut admin);
        assert!(store.update_key(&k1.meta, &disabled).is_err(), "stale");
        assert_eq!(
            log_rows(&mut admin),
            rows,
            "a refused write logged a change"
        );
        let mut rotated = disabled.clone();
        rotated.current_key_version = 2;
        let v2 = crate::store::StoredVersion {
            version: 2,
            wrapped: vec![2; 60],
            create_time: 1,
        };
        store.add_version(&disabled, &rotated, &v2).unwrap();
        assert_eq!(next(&mut *feed), (false, changed(&[k1.meta.key_id])));
        store.remove_versions(&rotated, &rotated).unwrap();
        assert_eq!(next(&mut *feed), (false, changed(&[k1.meta.key_id])));
        store
            .apply_seed(&[KeyWrite {
                meta: k2.meta.clone(),
                new_versions: k2.versions.clone(),
                before: None,
            }])
            .unwrap();
        assert_eq!(next(&mut *feed), (false, changed(&[k2.meta.key_id])));
        let mut pending = rotated.clone();
        pending.state = KeyState::PendingDelete;
        store.update_key(&rotated, &pending).unwrap();
        assert_eq!(next(&mut *feed), (false, changed(&[k1.meta.key_id])));
        store.delete_expired(&[k1.meta.key_id], i64::MAX).unwrap();
        assert_eq!(next(&mut *feed), (false, changed(&[k1.meta.key_id])));

        // Missed while down: read from the log on reconnecting.
        kill_listener(&mut admin);
        let k3 = sample_key(3, "three");
        store.insert_key(&k3).unwrap();
        assert_eq!(next(&mut *feed), (true, changed(&[k3.meta.key_id])));

        // Out of order: a transaction takes number N and stays open; N + 1 commits and is
        // notified; the feed goes down; N commits. Reconnected, the feed finds N.
        let mut other = Client::connect(&url, postgres::NoTls).unwrap();
        let mut slow = other.transaction().unwrap();
        slow.execute(
            "UPDATE keys SET description = 'slow' WHERE key_id = $1",
            &[&k3.meta.key_id],
        )
        .unwrap();
        let n = super::changelog::record(&mut slow, &[k3.meta.key_id]).unwrap();
        let k4 = sample_key(4, "four");
        store.insert_key(&k4).unwrap();
        assert_eq!(next(&mut *feed), (false, changed(&[k4.meta.key_id])));
        // The feed is not waiting meanwhile: it reconnects only in its next wait.
        kill_listener(&mut admin);
        slow.commit().unwrap();
        let last: i64 = admin
            .query_one("SELECT max(seq) FROM key_changes", &[])
            .unwrap()
            .get(0);
        assert_eq!(last, n + 1, "N + 1 is k4's");
        assert_eq!(next(&mut *feed), (true, changed(&[k3.meta.key_id])));

        // Pruned past the position: a full reload.
        kill_listener(&mut admin);
        store.insert_key(&sample_key(5, "five")).unwrap();
        let pruned = super::changelog::prune(&mut admin, Duration::ZERO).unwrap();
        assert!(pruned >= 9, "{pruned}");
        assert_eq!(log_rows(&mut admin), 0);
        assert_eq!(next(&mut *feed), (true, FeedEvent::Connected));
        // Young rows are kept.
        store.insert_key(&sample_key(6, "six")).unwrap();
        assert_eq!(
            super::changelog::prune(&mut admin, Duration::from_secs(3600)).unwrap(),
            0
        );
        assert_eq!(log_rows(&mut admin), 1);
    }

    /// A write of more keys than one notification can name (a seed of 120 keys): the payload is
    /// only the change's number, and the feed reads the keys from the log.
    #[test]
    fn a_change_too_big_to_notify_its_keys_is_read_from_the_log() {
        let Some(pg) = Postgres::start("postgres change log, big change") else {
            return;
        };
        let url = pg.new_database();
        let store = PostgresStore::open(&url, &PostgresOptions::default()).unwrap();
        let mut admin = Client::connect(&url, postgres::NoTls).unwrap();
        admin.batch_execute(&format!("LISTEN {CHANNEL}")).unwrap();
        let mut feed = store.change_feed().unwrap();
        assert_eq!(next(&mut *feed), (false, FeedEvent::Connected));

        let keys: Vec<_> = (1..=120u8)
            .map(|n| sample_key(n, &format!("bulk{n}")))
            .collect();
        let writes: Vec<_> = keys
            .iter()
            .map(|k| KeyWrite {
                meta: k.meta.clone(),
                new_versions: k.versions.clone(),
                before: None,
            })
            .collect();
        store.apply_seed(&writes).unwrap();
        let (down, event) = next(&mut *feed);
        assert!(!down);
        let FeedEvent::Changed(Some(mut ids)) = event else {
            panic!("{event:?}");
        };
        ids.sort_unstable();
        let mut want: Vec<Uuid> = keys.iter().map(|k| k.meta.key_id).collect();
        want.sort_unstable();
        assert_eq!(ids, want);

        let seq: i64 = admin
            .query_one("SELECT max(seq) FROM key_changes", &[])
            .unwrap()
            .get(0);
        let heard = admin
            .notifications()
            .timeout_iter(Duration::from_secs(10))
            .next()
            .unwrap()
            .expect("the seed's notification");
        assert_eq!(heard.payload(), format!("{seq}:"), "no key named");
    }
}
