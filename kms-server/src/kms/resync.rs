//! Resynchronisation with a key store other replicas write to (PostgreSQL). When the store's
//! [change feed](crate::store::KeyStore::change_feed) names the keys a write touched (a
//! [`Follower`] thread: milliseconds on a LAN), or, after a reconnect, the keys its change log
//! holds since the feed last listened, [`Kms::resync_keys`] reloads just those. When it cannot
//! name them (the feed's first connection; a log pruned past the feed's position), and on the
//! periodic tick when the store [`is shared`](crate::store::KeyStore::is_shared), [`Kms::resync`]
//! reloads every key: the backstop for changes the feed missed. Full reloads are counted
//! ([`Kms::full_reload_count`]).
//!
//! A reload that fails (the store out of reach) is owed: the follower retries it until it
//! succeeds, and meanwhile does not confirm the cache as fresh.

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use uuid::Uuid;

use super::{Kms, cache::Entry};
use crate::{
    error::Result,
    keys::ORIGIN_EXTERNAL,
    root_key::RootKey,
    store::{ChangeFeed, FeedEvent, KeyStore, StoredKey, StoredVersion},
};

/// Whether the cached material of an EXTERNAL key is the stored one. Its metadata and version
/// count do not tell: material deleted and imported again (other material, after a deletion) on
/// another replica leaves both as they were, so the versions are opened and compared.
fn same_material(root: &RootKey, e: &Entry, versions: &[StoredVersion]) -> bool {
    let id = e.meta().key_id;
    e.meta().origin != ORIGIN_EXTERNAL
        || versions.iter().zip(e.versions()).all(|(v, held)| {
            root.unwrap_material(id, v.version, &v.wrapped)
                .is_ok_and(|m| {
                    subtle::ConstantTimeEq::ct_eq(&m.expose()[..], &held.expose()[..]).into()
                })
        })
}

/// How often a [`Follower`] looks at its stop flag while the feed is quiet.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// A thread that resyncs a [`Kms`] on every change its store's feed reports. Dropping it stops
/// the thread and waits for it (at most about 100 ms, or the database connect timeout while the
/// feed reconnects).
#[derive(Debug)]
pub struct Follower {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reloads a follower still owes the cache (from events it could not act on yet).
#[derive(Debug, Default)]
enum Owed {
    #[default]
    Nothing,
    Keys(HashSet<Uuid>),
    Everything,
}

impl Owed {
    fn add(&mut self, event: &FeedEvent) {
        match (event, &mut *self) {
            (FeedEvent::Quiet | FeedEvent::Down, _) | (_, Owed::Everything) => {}
            (FeedEvent::Changed(None) | FeedEvent::Connected, _) => *self = Owed::Everything,
            (FeedEvent::Changed(Some(ids)), Owed::Keys(owed)) => owed.extend(ids),
            (FeedEvent::Changed(Some(ids)), Owed::Nothing) => {
                *self = Owed::Keys(ids.iter().copied().collect());
            }
        }
    }

    /// Runs the reloads owed; kept owed if they fail.
    fn pay(&mut self, kms: &Kms) {
        let done = match self {
            Owed::Nothing => return,
            Owed::Keys(ids) => kms.resync_keys(&ids.iter().copied().collect::<Vec<_>>()),
            Owed::Everything => kms.resync(),
        };
        match done {
            Ok(_) => *self = Owed::Nothing,
            Err(e) => {
                tracing::warn!(error = %e, "reloading other replicas' changes failed; retrying")
            }
        }
    }
}

fn follow(kms: &Kms, mut feed: Box<dyn ChangeFeed>, stop: &AtomicBool) {
    let mut owed = Owed::default();
    while !stop.load(Ordering::Relaxed) {
        let event = feed.wait(FOLLOW_POLL);
        owed.add(&event);
        if event == FeedEvent::Quiet && matches!(owed, Owed::Nothing) {
            // The feed's connection answered and nothing is owed: nothing was missed.
            kms.freshness.confirm();
        }
        owed.pay(kms);
    }
}

impl Kms {
    /// Reloads the cache from the key store: keys made, changed or deleted there by another
    /// replica are made, changed or dropped here. Serialised with this replica's own writes.
    /// Returns how many keys changed.
    pub fn resync(&self) -> Result<usize> {
        let _w = self.lock_write()?;
        self.resync_locked()
    }

    /// [`Kms::resync`] for a caller that holds the write lock.
    pub(super) fn resync_locked(&self) -> Result<usize> {
        self.full_reloads.fetch_add(1, Ordering::Relaxed);
        let read_at = self.freshness.stamp();
        let stored = self.store().load_all()?;
        let cached: Vec<Uuid> = self.read().entries().map(|e| e.meta().key_id).collect();
        let changed = self.take_in(stored, &cached)?;
        // Confirmed only once everything read is in the cache: a reload that took nothing in (a
        // key this root key cannot open) leaves the cache as stale as it was.
        self.freshness.confirm_at(read_at);
        Ok(changed)
    }

    /// Reloads only `key_ids` (the keys a change notification names): made or changed there,
    /// they are made or changed here; gone there, they are dropped here. Serialised with this
    /// replica's own writes. Returns how many keys changed.
    pub fn resync_keys(&self, key_ids: &[Uuid]) -> Result<usize> {
        let _w = self.lock_write()?;
        let read_at = self.freshness.stamp();
        let stored = self.store().load_keys(key_ids)?;
        let changed = self.take_in(stored, key_ids)?;
        // The notification's keys are in the cache and the store answered: confirmed (not
        // before: a failed reload leaves the cache as stale as it was).
        self.freshness.confirm_at(read_at);
        Ok(changed)
    }

    /// Puts the `stored` keys that differ from the cache into it, and drops those of `known` that
    /// are not among them (deleted in the store). Returns how many keys changed.
    fn take_in(&self, stored: Vec<StoredKey>, known: &[Uuid]) -> Result<usize> {
        let mut seen = HashSet::with_capacity(stored.len());
        let mut changed = Vec::new();
        let gone: Vec<Uuid> = {
            let cache = self.read();
            for StoredKey { meta, versions } in stored {
                seen.insert(meta.key_id);
                let same = cache.get(&meta.key_id).is_some_and(|e| {
                    *e.meta() == meta
                        && e.version_count() == versions.len()
                        && same_material(&self.root, e, &versions)
                });
                if !same {
                    changed.push(StoredKey { meta, versions });
                }
            }
            known
                .iter()
                .filter(|id| !seen.contains(*id) && cache.get(id).is_some())
                .copied()
                .collect()
        };
        // Unwrapped before the cache is touched: a version this root key cannot open changes
        // nothing.
        let entries = changed
            .into_iter()
            .map(|stored| super::unwrap_stored(&self.root, stored))
            .collect::<Result<Vec<_>>>()?;
        let n = entries.len() + gone.len();
        self.apply(|cache| {
            for entry in entries {
                cache.insert(entry);
            }
            for id in gone {
                cache.remove(id);
            }
        });
        Ok(n)
    }

    /// Starts a [`Follower`] if the key store has a change feed (PostgreSQL); `None` otherwise.
    pub fn follow_changes(self: &Arc<Self>) -> Option<Follower> {
        let feed = self.store.change_feed()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (kms, flag) = (self.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("kms-changes".into())
            .spawn(move || follow(&kms, feed, &flag));
        match thread {
            Ok(t) => Some(Follower {
                stop,
                thread: Some(t),
            }),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the change feed thread; resync on tick only");
                None
            }
        }
    }

    /// How many times this KMS has reloaded every key from its store since it opened (the tick,
    /// the change feed's first connection, a conflict); reloads of named keys are not counted.
    pub fn full_reload_count(&self) -> u64 {
        self.full_reloads.load(Ordering::Relaxed)
    }

    /// Whether other replicas write to this KMS's key store (so [`Kms::resync`] is worth a tick).
    pub fn store_is_shared(&self) -> bool {
        KeyStore::is_shared(&*self.store)
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::Arc,
        time::{Duration, Instant},
    };

    use base64::Engine as _;

    use crate::{
        Error, KeyState, ManualClock, RootKey,
        clock::DAY_SECS,
        kms::{Kms, data_keys::DataKeySpec, test_support::ctx},
        store::postgres::{
            PostgresOptions, PostgresStore, changelog, harness::Postgres, listen::APPLICATION_NAME,
        },
    };

    /// A replica's change feed cut off: its database refuses new connections and the listening
    /// connection's backend is terminated, until [`ListenerCut::let_in`].
    struct ListenerCut {
        /// To the maintenance database: PostgreSQL refuses `ALLOW_CONNECTIONS false` on the
        /// database the connection is in.
        admin: postgres::Client,
        db: String,
    }

    impl ListenerCut {
        /// Cuts off the listener of the database `behind` is connected to (`behind` stays open).
        fn new(pg: &Postgres, behind: &mut postgres::Client) -> Self {
            let db: String = behind
                .query_one("SELECT current_database()", &[])
                .unwrap()
                .get(0);
            let admin = postgres::Client::connect(&pg.url("postgres"), postgres::NoTls).unwrap();
            let mut cut = Self { admin, db };
            cut.allow(false);
            let pid: i32 = cut
                .admin
                .query_one(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = $2",
                    &[&APPLICATION_NAME, &cut.db],
                )
                .unwrap()
                .get(0);
            let gone: bool = cut
                .admin
                .query_one("SELECT pg_terminate_backend($1, 5000)", &[&pid])
                .unwrap()
                .get(0);
            assert!(gone);
            cut
        }

        fn allow(&mut self, on: bool) {
            let sql = format!("ALTER DATABASE \"{}\" ALLOW_CONNECTIONS {on}", self.db);
            self.admin.batch_execute(&sql).unwrap();
        }

        /// Lets connections in again: the listener reconnects.
        fn let_in(&mut self) {
            self.allow(true);
        }
    }

    /// Two replicas on a fresh database: A writes, B follows the change feed (its first full
    /// reload done) and has taken in keys `k0`..`k{keys - 1}` that A created.
    fn a_writer_and_a_follower(url: &str, keys: usize) -> (Kms, Arc<Kms>, super::Follower) {
        let (a, b) = (replica(url), Arc::new(replica(url)));
        let follower = b.follow_changes().expect("a change feed");
        time_until("the feed's first full reload", || {
            b.full_reload_count() == 1
        });
        for k in 0..keys {
            a.create_key(&format!("k{k}"), "", "").unwrap();
        }
        let last = format!("k{}", keys - 1);
        time_until(&last, || b.describe_key(&last).is_ok());
        (a, b, follower)
    }

    fn replica(url: &str) -> Kms {
        replica_on(url, Arc::new(ManualClock::new(1_700_000_000)))
    }

    fn replica_on(url: &str, clock: Arc<ManualClock>) -> Kms {
        let root = RootKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([9; 32]))
            .unwrap();
        let store = PostgresStore::open(url, &PostgresOptions::default()).unwrap();
        Kms::open_with_store(Box::new(store), root, clock).unwrap()
    }

    /// `--max-stale`: a following replica keeps serving while its feed's connection answers
    /// (long past the bound), then, with PostgreSQL stopped, serves until the bound passes and
    /// fails with UNAVAILABLE after it, lifecycle calls failing at once; when PostgreSQL is back
    /// the feed reconnects, resyncs and the replica serves again by itself.
    #[test]
    fn a_replica_cut_off_longer_than_max_stale_stops_serving_until_the_store_is_back() {
        let Some(mut pg) = Postgres::start("kms max stale") else {
            return;
        };
        let url = pg.new_database();
        let kms = Arc::new(replica(&url));
        kms.create_key("app", "", "").unwrap();
        let blob = kms
            .generate_data_key("app", DataKeySpec::Aes256, &ctx(), false)
            .unwrap()
            .ciphertext_blob;
        let _follower = kms.follow_changes().expect("a change feed");
        // Long enough that stopping PostgreSQL (it waits for the server to exit) and a call fit
        // in it on a loaded machine.
        let max = Duration::from_secs(4);
        kms.set_max_stale(Some(max));
        let serves = || {
            kms.generate_data_key("app", DataKeySpec::Aes256, &ctx(), false)
                .and_then(|_| kms.decrypt(&blob, &ctx()))
        };
        std::thread::sleep(max * 2);
        serves().expect("the feed's connection confirms the cache");

        pg.stop();
        serves().expect("within the bound the cache still serves");
        let e = kms.create_key("during", "", "").unwrap_err();
        assert!(matches!(e, Error::StoreUnavailable(_)), "{e}");
        std::thread::sleep(max + Duration::from_millis(500));
        let e = serves().unwrap_err();
        assert!(matches!(e, Error::StoreUnavailable(_)), "{e}");
        assert!(
            e.to_string()
                .contains("longer than its --max-stale of 4.0 s"),
            "{e}"
        );

        pg.restart();
        // Measured, not asserted (speed is the benchmarks' business): the wait only has a hang
        // guard. What is asserted is that it comes back by itself, nobody calling resync.
        let back = time_until("the store back", || serves().is_ok());
        eprintln!("serving again {back:?} after PostgreSQL restarted");
        kms.create_key("after", "", "").unwrap();
    }

    /// Timed work fires once across replicas: two replicas on one clock find the same automatic
    /// rotation and the same deletion due, and run their deadline tasks at the same moment, eight
    /// rounds; each time exactly one rotates (the key gains one version) and exactly one deletes.
    /// A replica whose cache still shows a deletion that the other cancelled deletes nothing.
    #[test]
    fn deadlines_fire_once_across_replicas() {
        let Some(pg) = Postgres::start("kms deadlines") else {
            return;
        };
        let url = pg.new_database();
        let clock = Arc::new(ManualClock::new(1_700_000_000));
        let (a, b) = (
            Arc::new(replica_on(&url, clock.clone())),
            Arc::new(replica_on(&url, clock.clone())),
        );
        let rotating = a.create_key("rotating", "", "").unwrap();
        a.enable_key_rotation("rotating", 7).unwrap();
        for round in 0..8u32 {
            let doomed = format!("doomed{round}");
            a.create_key(&doomed, "", "").unwrap();
            a.disable_key(&doomed).unwrap();
            a.schedule_key_deletion(&doomed, 7).unwrap();
            a.resync().unwrap();
            b.resync().unwrap();
            clock.advance(7 * DAY_SECS);
            let barrier = Arc::new(std::sync::Barrier::new(2));
            let runs: Vec<_> = [&a, &b]
                .map(|kms| {
                    let (kms, barrier) = (Arc::clone(kms), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        kms.run_due_tasks().unwrap()
                    })
                })
                .into_iter()
                .map(|t| t.join().unwrap())
                .collect();
            let (deleted, rotated) = runs
                .iter()
                .fold((0, 0), |(d, r), (dd, rr)| (d + dd, r + rr));
            assert_eq!((deleted, rotated), (1, 1), "round {round}: {runs:?}");
            for kms in [&a, &b] {
                kms.resync().unwrap();
                assert!(matches!(kms.describe_key(&doomed), Err(Error::NotFound(_))));
                let meta = kms.describe_key("rotating").unwrap();
                assert_eq!(meta.current_key_version, round + 2, "round {round}");
            }
        }
        assert_eq!(a.describe_key("rotating").unwrap().key_id, rotating.key_id);

        // B still believes the key PendingDelete when its deadline passes; A has cancelled it.
        a.create_key("spared", "", "").unwrap();
        a.disable_key("spared").unwrap();
        a.schedule_key_deletion("spared", 7).unwrap();
        b.resync().unwrap();
        a.cancel_key_deletion("spared").unwrap();
        clock.advance(8 * DAY_SECS);
        assert_eq!(b.run_due_tasks().unwrap().0, 0, "B deleted a cancelled key");
        assert_eq!(b.describe_key("spared").unwrap().state, KeyState::Disabled);
        assert_eq!(a.describe_key("spared").unwrap().state, KeyState::Disabled);
    }

    /// Two replicas on one PostgreSQL database: a key made on A is unknown to B until B resyncs,
    /// then usable there; disabled on B, it stops working on A at A's next resync; deleted...
    /// A resync with nothing new changes nothing.
    #[test]
    fn a_resync_brings_the_other_replicas_changes() {
        let Some(pg) = Postgres::start("kms resync") else {
            return;
        };
        let url = pg.new_database();
        let (a, b) = (replica(&url), replica(&url));
        assert!(a.store_is_shared());
        assert_eq!(b.resync().unwrap(), 0);
        let key = a.create_key("shared", "made on A", "").unwrap();
        let data = a
            .generate_data_key("shared", DataKeySpec::Aes256, &ctx(), true)
            .unwrap();
        assert!(matches!(b.describe_key("shared"), Err(Error::NotFound(_))));
        assert_eq!(b.resync().unwrap(), 1);
        assert_eq!(b.describe_key("shared").unwrap(), key);
        let opened = b.decrypt(&data.ciphertext_blob, &ctx()).unwrap();
        let made = data.plaintext.expect("with plaintext");
        assert_eq!(opened.plaintext.expose(), made.expose());

        b.disable_key("shared").unwrap();
        a.generate_data_key("shared", DataKeySpec::Aes256, &ctx(), true)
            .expect("A has not resynced yet");
        assert_eq!(a.resync().unwrap(), 1);
        let e = a
            .generate_data_key("shared", DataKeySpec::Aes256, &ctx(), true)
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::KeyState {
                    state: KeyState::Disabled,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(a.resync().unwrap(), 0);

        // Two rotations from the same cached version: the second replica's write conflicts, it
        // takes in the first's and makes the next version, without the caller seeing an error.
        let rotating = a.create_key("rotating", "", "").unwrap();
        assert_eq!(b.resync().unwrap(), 1);
        assert_eq!(a.rotate_key("rotating").unwrap(), (rotating.key_id, 2));
        assert_eq!(b.rotate_key("rotating").unwrap(), (rotating.key_id, 3));
        assert_eq!(a.resync().unwrap(), 1);
        assert_eq!(a.describe_key("rotating").unwrap().current_key_version, 3);

        // A change from a stale cache does not undo another replica's: B disables, A (not yet
        // resynced, so it believes the key Enabled) changes the description; the key stays
        // Disabled everywhere and has the new description.
        b.disable_key("rotating").unwrap();
        a.update_key_description("rotating", "changed on A")
            .unwrap();
        let after = a.describe_key("rotating").unwrap();
        assert_eq!(
            (after.state, after.description.as_str()),
            (KeyState::Disabled, "changed on A")
        );
        assert_eq!(b.resync().unwrap(), 1);
        assert_eq!(b.describe_key("rotating").unwrap(), after);

        // Deleted elsewhere (as B's deadline task would): dropped here, its alias free.
        a.schedule_key_deletion("shared", 7).unwrap();
        let other = PostgresStore::open(&url, &PostgresOptions::default()).unwrap();
        let deleted = crate::KeyStore::delete_expired(&other, &[key.key_id], i64::MAX).unwrap();
        assert_eq!(deleted, [key.key_id]);
        assert_eq!(a.resync().unwrap(), 1);
        assert!(matches!(a.describe_key("shared"), Err(Error::NotFound(_))));
        a.create_key("shared", "again", "").unwrap();
    }

    /// A seed loaded on a replica whose cache is stale does not undo another replica's change: A
    /// disables a seeded key that B still believes Enabled; B's seed (a new description, no
    /// state) conflicts in the store, B takes in A's change and plans again: the key is Disabled,
    /// with the new description, on both.
    #[test]
    fn a_seed_on_a_stale_replica_keeps_the_other_replicas_change() {
        let Some(pg) = Postgres::start("kms stale seed") else {
            return;
        };
        let url = pg.new_database();
        let (a, b) = (replica(&url), replica(&url));
        let doc = |d: &str| {
            format!(
                "keys:\n  - key_id: 6f1c2d3e-0000-4000-8000-000000000001\n    alias: seeded\n    \
                 description: {d}\n"
            )
        };
        assert_eq!(a.seed(&doc("first")).unwrap(), (1, 1));
        b.resync().unwrap();
        a.disable_key("seeded").unwrap();
        assert_eq!(b.describe_key("seeded").unwrap().state, KeyState::Enabled);
        let reloads = b.full_reload_count();
        assert_eq!(b.seed(&doc("second")).unwrap(), (1, 1));
        assert_eq!(b.full_reload_count(), reloads + 1, "B took in A's change");
        let on_b = b.describe_key("seeded").unwrap();
        assert_eq!(
            (on_b.state, on_b.description.as_str()),
            (KeyState::Disabled, "second")
        );
        a.resync().unwrap();
        assert_eq!(a.describe_key("seeded").unwrap(), on_b);
        // A key another replica made meanwhile with the seed's id: taken in, not inserted twice.
        let other = doc("made on A")
            .replace("000000000001", "000000000002")
            .replace("seeded", "also");
        a.seed(&other).unwrap();
        assert_eq!(
            b.seed(&other.replace("made on A", "seeded on B")).unwrap(),
            (1, 1)
        );
        assert_eq!(b.describe_key("also").unwrap().description, "seeded on B");
    }

    /// A reload that cannot take in what it read (a stored version this root key cannot open)
    /// changes nothing and confirms nothing: past `--max-stale` the replica refuses to serve
    /// instead of serving on from a cache that may miss another replica's DisableKey; once the
    /// row is readable again, a reload confirms and it serves.
    #[test]
    fn a_reload_that_takes_nothing_in_leaves_the_cache_stale() {
        let Some(pg) = Postgres::start("kms failed reload") else {
            return;
        };
        let url = pg.new_database();
        let a = replica(&url);
        a.create_key("app", "", "").unwrap();
        let b = replica(&url);
        let broken = a.create_key("broken", "", "").unwrap().key_id;
        let mut behind = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let good: Vec<u8> = behind
            .query_one(
                "SELECT wrapped FROM key_versions WHERE key_id = $1",
                &[&broken],
            )
            .unwrap()
            .get(0);
        let set = |client: &mut postgres::Client, wrapped: &[u8]| {
            client
                .execute(
                    "UPDATE key_versions SET wrapped = $2 WHERE key_id = $1",
                    &[&broken, &wrapped],
                )
                .unwrap();
        };
        set(&mut behind, &[0u8; 8]);
        // Long enough for a reload and a call on a loaded machine.
        let max = Duration::from_secs(2);
        b.set_max_stale(Some(max));
        std::thread::sleep(max + Duration::from_millis(200));
        b.resync().expect_err("a version this root key cannot open");
        let serves = || b.generate_data_key("app", DataKeySpec::Aes256, &ctx(), false);
        let e = serves().unwrap_err();
        assert!(matches!(e, Error::StoreUnavailable(_)), "{e}");
        set(&mut behind, &good);
        assert_eq!(b.resync().unwrap(), 1);
        serves().expect("confirmed by the reload that took everything in");
    }

    /// B's change feed loses its connection (killed), and cannot reconnect (the database takes no
    /// new connections) while A changes two keys and makes a third. When it reconnects, B reloads
    /// exactly those keys from the change log: it serves them changed, it did not reload every
    /// key (the count of full reloads is unchanged, and a change made behind the KMS's back to
    /// another key, with no log row, is not picked up).
    #[test]
    fn a_reconnected_replica_reloads_only_the_keys_changed_meanwhile() {
        let Some(pg) = Postgres::start("kms change log reconnect") else {
            return;
        };
        let url = pg.new_database();
        let (a, b, _follower) = a_writer_and_a_follower(&url, 5);
        let state = |alias: &str| {
            b.describe_key(alias)
                .map(|m| (m.state, m.current_key_version))
        };

        let mut behind = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        behind
            .execute(
                "UPDATE keys SET description = 'behind' WHERE alias = 'k0'",
                &[],
            )
            .unwrap();
        let mut cut = ListenerCut::new(&pg, &mut behind);
        a.disable_key("k1").unwrap();
        a.rotate_key("k3").unwrap();
        a.create_key("k5", "", "").unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            state("k1").unwrap(),
            (KeyState::Enabled, 1),
            "B's feed is down"
        );
        cut.let_in();

        time_until("k1 disabled", || {
            state("k1").is_ok_and(|s| s == (KeyState::Disabled, 1))
        });
        time_until("k3 rotated", || {
            state("k3").is_ok_and(|s| s == (KeyState::Enabled, 2))
        });
        time_until("k5", || state("k5").is_ok());
        assert_eq!(b.full_reload_count(), 1, "B reloaded every key");
        assert_eq!(b.describe_key("k0").unwrap().description, "");
        assert_eq!(b.resync().unwrap(), 1, "only k0's description was missed");
    }

    /// The log-lookup fallback: when the change log cannot say what B missed, B reloads every key
    /// and ends up as the database is. (1) B's feed is down while A disables k1, rotates k2 and
    /// makes k3, and the log is pruned past B's position: on reconnecting B reloads every key,
    /// which also brings k0's description changed behind the KMS's back (no log row: only a full
    /// reload sees it). (2) A notification that names no key (`seq:`, a change too big to name
    /// them) whose row is no longer in the log, and (3) one that does not parse, each make a full
    /// reload. After each, a resync finds nothing left to take in: B is coherent.
    #[test]
    fn a_replica_the_log_cannot_serve_reloads_every_key() {
        let Some(pg) = Postgres::start("kms change log fallback") else {
            return;
        };
        let url = pg.new_database();
        let (a, b, _follower) = a_writer_and_a_follower(&url, 3);
        let state = |alias: &str| {
            b.describe_key(alias)
                .map(|m| (m.state, m.current_key_version, m.description))
        };

        // (1) Down, changed, pruned past.
        let mut behind = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let mut cut = ListenerCut::new(&pg, &mut behind);
        a.disable_key("k1").unwrap();
        a.rotate_key("k2").unwrap();
        a.create_key("k3", "", "").unwrap();
        behind
            .execute(
                "UPDATE keys SET description = 'behind' WHERE alias = 'k0'",
                &[],
            )
            .unwrap();
        let pruned = changelog::prune(&mut behind, Duration::ZERO).unwrap();
        assert!(pruned >= 6, "{pruned}");
        assert_eq!(b.full_reload_count(), 1, "B's feed is down");
        cut.let_in();
        // Only a full reload brings k0's description (the count moves as a reload starts).
        time_until("a full reload after the reconnect", || {
            state("k0").unwrap().2 == "behind"
        });
        assert_eq!(b.full_reload_count(), 2);
        assert_eq!(state("k1").unwrap().0, KeyState::Disabled);
        assert_eq!(state("k2").unwrap().1, 2);
        assert!(state("k3").is_ok());
        assert_eq!(b.resync().unwrap(), 0, "B holds what the database holds");

        // (2) A notification naming no key, its row gone from the log.
        behind
            .execute(
                "UPDATE keys SET description = 'behind' WHERE alias = 'k1'",
                &[],
            )
            .unwrap();
        let through: i64 = behind
            .query_one("SELECT through FROM key_changes_pruned", &[])
            .unwrap()
            .get(0);
        behind
            .execute(
                "SELECT pg_notify($1, $2)",
                &[&changelog::CHANNEL, &format!("{through}:")],
            )
            .unwrap();
        time_until("a full reload for a change the log lost", || {
            state("k1").unwrap().2 == "behind"
        });
        assert_eq!(b.full_reload_count(), 4, "reconnect, resync, this one");
        assert_eq!(b.resync().unwrap(), 0, "B holds what the database holds");

        // (3) A notification that does not parse.
        behind
            .execute(
                "UPDATE keys SET description = 'behind' WHERE alias = 'k2'",
                &[],
            )
            .unwrap();
        behind
            .execute(
                "SELECT pg_notify($1, 'not a change')",
                &[&changelog::CHANNEL],
            )
            .unwrap();
        time_until("a full reload for a payload that does not parse", || {
            state("k2").unwrap().2 == "behind"
        });
        assert_eq!(b.full_reload_count(), 6);
        assert_eq!(b.resync().unwrap(), 0, "B holds what the database holds");
    }

    /// How long [`time_until`] waits before it gives up: a hang guard, not a performance claim.
    const HANG_GUARD: Duration = Duration::from_secs(30);

    /// Polls `seen` on B every millisecond until it holds; the time it took (panics after
    /// [`HANG_GUARD`]).
    fn time_until(what: &str, mut seen: impl FnMut() -> bool) -> Duration {
        let start = Instant::now();
        while !seen() {
            assert!(
                start.elapsed() < HANG_GUARD,
                "B never saw {what} ({HANG_GUARD:?})"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        start.elapsed()
    }

    /// B follows the change feed and never resyncs otherwise (no tick here): each of 52 changes
    /// made on A (create, disable, enable, rotate) reaches B, each through a reload of the key it
    /// names (no full reload after the first connection's). The lag from A's commit is printed
    /// (p50, p99, max), not asserted: figures are the benchmarks' (bench/scripts/replicas.sh).
    /// Then B's listening connection is killed: notifications flow again on the new
    /// connection, and a change written behind the KMS's back (no notification, no change log
    /// row) is not picked up: the reconnect reads the change log, it does not reload every key.
    /// Without the follower, nothing arrives.
    #[test]
    fn changes_reach_a_following_replica_promptly() {
        let Some(pg) = Postgres::start("kms change feed") else {
            return;
        };
        let url = pg.new_database();
        let (a, b) = (replica(&url), Arc::new(replica(&url)));
        let follower = b.follow_changes().expect("PostgreSQL has a change feed");
        let state = |alias: &str| {
            b.describe_key(alias)
                .map(|m| (m.state, m.current_key_version))
        };
        let mut lags = Vec::new();
        for round in 0..13 {
            let alias = format!("k{round}");
            a.create_key(&alias, "", "").unwrap();
            lags.push(time_until("a new key", || state(&alias).is_ok()));
            a.disable_key(&alias).unwrap();
            lags.push(time_until("a disable", || {
                state(&alias).unwrap() == (KeyState::Disabled, 1)
            }));
            a.enable_key(&alias).unwrap();
            lags.push(time_until("an enable", || {
                state(&alias).unwrap() == (KeyState::Enabled, 1)
            }));
            a.rotate_key(&alias).unwrap();
            lags.push(time_until("a rotation", || {
                state(&alias).unwrap() == (KeyState::Enabled, 2)
            }));
        }
        lags.sort();
        let at = |q: f64| lags[((lags.len() as f64 * q).ceil() as usize).clamp(1, lags.len()) - 1];
        let (p50, p99, max) = (at(0.5), at(0.99), lags[lags.len() - 1]);
        eprintln!(
            "change feed propagation over {} changes: p50 {p50:?}, p99 {p99:?}, max {max:?}",
            lags.len()
        );
        assert_eq!(
            b.full_reload_count(),
            1,
            "every change came as a reload of its key, none as a reload of every key"
        );

        // A change no notification announces, then the listener's connection killed.
        let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        admin
            .execute(
                "UPDATE keys SET description = 'behind' WHERE alias = 'k0'",
                &[],
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(b.describe_key("k0").unwrap().description, "");
        let listener = |admin: &mut postgres::Client| -> Vec<i32> {
            admin
                .query(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = $1 \
                     AND datname = current_database()",
                    &[&APPLICATION_NAME],
                )
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect()
        };
        let before = listener(&mut admin);
        assert_eq!(before.len(), 1, "one listening connection: {before:?}");
        admin
            .execute("SELECT pg_terminate_backend($1)", &[&before[0]])
            .unwrap();
        // The killed backend may linger in pg_stat_activity for a moment.
        time_until("one new listening connection", || {
            let after = listener(&mut admin);
            after.len() == 1 && after != before
        });
        a.disable_key("k1").unwrap();
        time_until("a disable after the reconnect", || {
            state("k1").unwrap().0 == KeyState::Disabled
        });

        // A notification reloads the keys it names, not every key: k3's disable arrives, while
        // k2's description, changed behind the KMS's back, does not (until a full resync); k4,
        // deleted on A, is dropped on B.
        admin
            .execute(
                "UPDATE keys SET description = 'behind too' WHERE alias = 'k2'",
                &[],
            )
            .unwrap();
        a.disable_key("k3").unwrap();
        time_until("a disable named by its notification", || {
            state("k3").unwrap().0 == KeyState::Disabled
        });
        assert_eq!(b.describe_key("k2").unwrap().description, "");
        a.disable_key("k4").unwrap();
        a.schedule_key_deletion("k4", 7).unwrap();
        let k4 = a.describe_key("k4").unwrap().key_id;
        let other = PostgresStore::open(&url, &PostgresOptions::default()).unwrap();
        crate::KeyStore::delete_expired(&other, &[k4], i64::MAX).unwrap();
        time_until("a deletion named by its notification", || {
            b.describe_key("k4").is_err()
        });
        // Neither the reconnect (it reads the change log) nor a notification reloaded every key.
        assert_eq!(b.describe_key("k0").unwrap().description, "");
        assert_eq!(b.full_reload_count(), 1, "only the feed's first connection");
        assert_eq!(
            b.resync().unwrap(),
            2,
            "k0's and k2's descriptions were missed"
        );
        assert_eq!(b.describe_key("k2").unwrap().description, "behind too");

        // Stopped: changes no longer arrive, and the thread is gone (B's last reference is ours).
        drop(follower);
        a.enable_key("k1").unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(state("k1").unwrap().0, KeyState::Disabled);
        assert_eq!(Arc::strong_count(&b), 1);
    }
}
