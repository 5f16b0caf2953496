//! The versioned change log of the PostgreSQL store, so that a replica whose change feed lost its
//! connection reloads only the keys changed meanwhile, not every key.
//!
//! Every write appends one row (`seq`, the ids of the keys it wrote) to `key_changes` in its own
//! transaction and notifies `seq:ids` ([`record`]). A replica's feed keeps a [`Position`]: the
//! highest number it has seen and the numbers below it it has not. After a reconnect it reads the
//! rows after that position ([`read_since`]) and reloads those keys.
//!
//! Gaps: a number is handed out when a transaction writes its row and becomes visible when it
//! commits, so numbers commit out of order. Seeing 11 says nothing of 10: still in flight (it will
//! commit), or rolled back (it never will). A position therefore keeps the unseen numbers below
//! its mark (holes), and a reconnect reads `seq > mark OR seq IN holes`. While the feed is connected
//! every commit is notified, hole or not, and the feed reloads whatever a notification names; so a
//! hole matters only across a reconnect. Holes are forgotten after [`HOLE_TTL`] (a transaction that
//! stays open that long between its last write and its commit, and then commits while the feed is
//! down, is missed by the feed): the periodic full resync of every replica is the backstop there.
//!
//! Growth: [`prune`] deletes rows older than the retention and records the highest number it
//! deleted; a position below that (a feed down longer than the retention) may have lost rows, and
//! its reader reloads every key ([`Since::Lost`]).

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use postgres::GenericClient;
use uuid::Uuid;

/// The channel every write notifies.
pub const CHANNEL: &str = "kms_changes";
/// PostgreSQL refuses payloads of 8000 bytes or more; past this the payload names no key (the
/// reader finds them in the log).
const MAX_PAYLOAD: usize = 4000;
/// How long an unseen number below the mark is looked for after a reconnect.
pub const HOLE_TTL: Duration = Duration::from_secs(60);
/// Most holes kept (the oldest go first): a bound on what a burst of rollbacks costs.
const MAX_HOLES: usize = 10_000;
/// How far below the log's newest number a new position looks for numbers still in flight.
const START_WINDOW: i64 = 1_000;

/// Appends the change of `key_ids` to the log in `tx` and notifies `seq:ids` (delivered when `tx`
/// commits). Returns the change's number.
pub fn record(tx: &mut impl GenericClient, key_ids: &[Uuid]) -> Result<i64, postgres::Error> {
    let mut ids = key_ids
        .iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(",");
    if ids.len() > MAX_PAYLOAD {
        ids.clear();
    }
    let row = tx.query_one(
        "WITH c AS (INSERT INTO key_changes (key_ids) VALUES ($1) RETURNING seq)
         SELECT seq, pg_notify($2, seq::text || ':' || $3) FROM c",
        &[&key_ids, &CHANNEL, &ids],
    )?;
    Ok(row.get(0))
}

/// What a replica has seen of the log: every number up to `mark` except the `holes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    mark: i64,
    /// Unseen numbers below the mark, with when each was first missed.
    holes: BTreeMap<i64, Instant>,
}

impl Position {
    /// Everything up to `mark` seen except `holes`.
    pub fn new(mark: i64, holes: impl IntoIterator<Item = i64>, now: Instant) -> Self {
        let mut p = Self {
            mark,
            holes: holes.into_iter().map(|s| (s, now)).collect(),
        };
        p.bound();
        p
    }

    /// The highest number seen.
    pub fn mark(&self) -> i64 {
        self.mark
    }

    /// The unseen numbers below the mark still looked for.
    pub fn holes(&self) -> Vec<i64> {
        self.holes.keys().copied().collect()
    }

    /// Takes in change `seq`: past the mark, the numbers skipped become holes; below it, it fills
    /// its hole (if any). Holes older than [`HOLE_TTL`] are forgotten.
    pub fn saw(&mut self, seq: i64, now: Instant) {
        if seq > self.mark {
            let skipped = (seq - self.mark - 1).min(MAX_HOLES as i64);
            self.holes.extend((seq - skipped..seq).map(|s| (s, now)));
            self.mark = seq;
        } else {
            self.holes.remove(&seq);
        }
        self.holes
            .retain(|_, at| now.duration_since(*at) < HOLE_TTL);
        self.bound();
    }

    fn bound(&mut self) {
        while self.holes.len() > MAX_HOLES {
            self.holes.pop_first();
        }
    }
}

/// The key ids a notification's payload names, and its change number: `seq:id,id` from this
/// version, `id,id` from a replica that keeps no log. `None`: it does not parse. The ids are
/// `None` when the payload leaves them out (too many: they are in the log row).
pub fn parse_payload(payload: &str) -> Option<(Option<i64>, Option<Vec<Uuid>>)> {
    let (seq, ids) = match payload.split_once(':') {
        Some((seq, ids)) => (Some(seq.parse().ok()?), ids),
        None => (None, payload),
    };
    if ids.is_empty() {
        // A replica without a log sends no ids for "too many": nothing to look up.
        return seq.map(|s| (Some(s), None));
    }
    let ids = ids
        .split(',')
        .map(Uuid::parse_str)
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    Some((seq, Some(ids)))
}

/// A position for a feed that is about to reload every key: the log's newest number, and the
/// numbers missing just below it (transactions still in flight may commit them).
pub fn start(client: &mut impl GenericClient, now: Instant) -> Result<Position, postgres::Error> {
    let mut tx = client.transaction()?;
    tx.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
    let pruned: i64 = tx
        .query_one("SELECT through FROM key_changes_pruned", &[])?
        .get(0);
    let newest: i64 = tx
        .query_one("SELECT coalesce(max(seq), 0) FROM key_changes", &[])?
        .get(0);
    let mark = newest.max(pruned);
    let low = pruned.max(mark - START_WINDOW);
    let seen: std::collections::HashSet<i64> = tx
        .query("SELECT seq FROM key_changes WHERE seq > $1", &[&low])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    tx.commit()?;
    Ok(Position::new(
        mark,
        (low + 1..mark).filter(|s| !seen.contains(s)),
        now,
    ))
}

/// What the log holds after a position.
#[derive(Debug, PartialEq, Eq)]
pub enum Since {
    /// The changes after it (and those of its holes now committed), oldest first.
    Changes(Vec<(i64, Vec<Uuid>)>),
    /// Rows it had not seen were pruned: reload every key.
    Lost,
}

/// The changes after `position` (see [`Since`]), in one snapshot.
pub fn read_since(
    client: &mut impl GenericClient,
    position: &Position,
) -> Result<Since, postgres::Error> {
    let mut tx = client.transaction()?;
    tx.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
    let pruned: i64 = tx
        .query_one("SELECT through FROM key_changes_pruned", &[])?
        .get(0);
    let holes = position.holes();
    if pruned > position.mark || holes.first().is_some_and(|h| *h <= pruned) {
        return Ok(Since::Lost);
    }
    let rows = tx.query(
        "SELECT seq, key_ids FROM key_changes WHERE seq > $1 OR seq = ANY($2) ORDER BY seq",
        &[&position.mark, &holes],
    )?;
    tx.commit()?;
    Ok(Since::Changes(
        rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
    ))
}

/// The keys the changes numbered `seqs` wrote (for notifications too big to name them); `None`
/// when one of them is not in the log (pruned, or never written: the caller reloads every key).
pub fn keys_of(
    client: &mut impl GenericClient,
    seqs: &[i64],
) -> Result<Option<Vec<Uuid>>, postgres::Error> {
    let rows = client.query(
        "SELECT seq, key_ids FROM key_changes WHERE seq = ANY($1)",
        &[&seqs],
    )?;
    let found: std::collections::HashSet<i64> = rows.iter().map(|r| r.get(0)).collect();
    if seqs.iter().any(|s| !found.contains(s)) {
        return Ok(None);
    }
    Ok(Some(
        rows.iter().flat_map(|r| r.get::<_, Vec<Uuid>>(1)).collect(),
    ))
}

/// Deletes the rows older than `retention` and records the highest number deleted. Returns how
/// many rows went. Several replicas pruning at once is harmless.
pub fn prune(client: &mut impl GenericClient, retention: Duration) -> Result<u64, postgres::Error> {
    let row = client.query_one(
        "WITH gone AS (
             DELETE FROM key_changes
             WHERE changed_at < clock_timestamp() - make_interval(secs => $1)
             RETURNING seq),
         mark AS (
             UPDATE key_changes_pruned SET through = greatest(through, (SELECT max(seq) FROM gone))
             RETURNING through)
         SELECT count(*) FROM gone, mark",
        &[&retention.as_secs_f64()],
    )?;
    Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Numbers skipped become holes; a late one fills its hole; duplicates change nothing; holes
    /// past their time are forgotten; a huge jump keeps a bounded number of holes.
    #[test]
    fn a_position_tracks_its_mark_and_holes() {
        let t0 = Instant::now();
        let mut p = Position::new(5, [], t0);
        p.saw(6, t0);
        p.saw(9, t0);
        assert_eq!((p.mark(), p.holes()), (9, vec![7, 8]));
        p.saw(8, t0);
        p.saw(6, t0);
        assert_eq!((p.mark(), p.holes()), (9, vec![7]));
        p.saw(11, t0 + HOLE_TTL / 2);
        assert_eq!(p.holes(), [7, 10]);
        p.saw(12, t0 + HOLE_TTL);
        assert_eq!(p.holes(), [10], "7 was missed for HOLE_TTL");
        p.saw(12 + 3 * MAX_HOLES as i64, t0 + HOLE_TTL);
        assert_eq!(p.holes().len(), MAX_HOLES);
        assert_eq!(p.holes()[0], 12 + 2 * MAX_HOLES as i64);
    }

    #[test]
    fn payloads_parse_with_and_without_a_number() {
        let a = Uuid::from_bytes([1; 16]);
        let b = Uuid::from_bytes([2; 16]);
        assert_eq!(
            parse_payload(&format!("42:{a},{b}")),
            Some((Some(42), Some(vec![a, b])))
        );
        assert_eq!(parse_payload("42:"), Some((Some(42), None)));
        assert_eq!(parse_payload(&format!("{a}")), Some((None, Some(vec![a]))));
        assert_eq!(parse_payload(""), None);
        assert_eq!(parse_payload("x:"), None);
        assert_eq!(parse_payload("7:not-a-uuid"), None);
    }
}
