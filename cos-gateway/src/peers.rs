//! The per-client-address connection cap.
//!
//! The global cap (`--max-connections`) alone lets one client take every slot: a few hundred
//! connections that send their headers slowly, or nothing, and everyone else waits in the listen
//! backlog. So each client address may hold at most `--max-connections-per-address` connections;
//! the accept loop asks [`PeerLimit::admit`] right after `accept` and closes a connection over the
//! cap at once, before reading a byte of it (the accept loop, `server.rs`).
//!
//! The counts live in one small map: an address is in it only while it has a live connection
//! (each held by a [`PeerGuard`], whose drop removes the entry at zero), and every live connection
//! also holds a global permit, so the map never has more than `--max-connections` entries.
//! Addresses are compared in canonical form, so an IPv4 client reaching a dual-stack listener as
//! `::ffff:a.b.c.d` counts as `a.b.c.d`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Live connections per client address, capped.
#[derive(Debug)]
pub struct PeerLimit {
    cap: usize,
    counts: Mutex<HashMap<IpAddr, usize>>,
}

impl PeerLimit {
    /// A limit of `cap` connections per address (at least 1).
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap: cap.max(1),
            counts: Mutex::new(HashMap::new()),
        })
    }

    /// Counts one more connection from `ip`, or `None` when `ip` already holds the cap.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<PeerGuard> {
        let ip = ip.to_canonical();
        let mut counts = self.lock();
        let n = counts.entry(ip).or_insert(0);
        if *n >= self.cap {
            return None;
        }
        *n += 1;
        Some(PeerGuard {
            limit: Arc::clone(self),
            ip,
        })
    }

    /// Connections `ip` holds now.
    pub fn count(&self, ip: IpAddr) -> usize {
        self.lock().get(&ip.to_canonical()).copied().unwrap_or(0)
    }

    /// Addresses with at least one live connection.
    pub fn addresses(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        // The map is consistent between statements: a panic elsewhere cannot leave it half-done.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct PeerGuard {
    limit: Arc<PeerLimit>,
    ip: IpAddr,
}

impl Drop for PeerGuard {
    fn drop(&mut self) {
        let mut counts = self.limit.lock();
        if let Some(n) = counts.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_is_per_address_and_entries_go_at_zero() {
        let limit = PeerLimit::new(2);
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.1".parse().unwrap();
        let a1 = limit.admit(a).unwrap();
        let a2 = limit.admit(a).unwrap();
        assert!(limit.admit(a).is_none());
        // The refusal left the count alone.
        assert_eq!(limit.count(a), 2);
        let b1 = limit.admit(b).unwrap();
        assert_eq!(limit.addresses(), 2);
        drop(a1);
        let a3 = limit.admit(a).unwrap();
        assert!(limit.admit(a).is_none());
        drop((a2, a3, b1));
        assert_eq!(limit.addresses(), 0);
    }

    #[test]
    fn a_mapped_ipv4_address_is_the_same_client() {
        let limit = PeerLimit::new(1);
        let _v4 = limit.admit("192.0.2.7".parse().unwrap()).unwrap();
        assert!(limit.admit("::ffff:192.0.2.7".parse().unwrap()).is_none());
        assert!(limit.admit("2001:db8::7".parse().unwrap()).is_some());
    }

    #[test]
    fn a_zero_cap_still_admits_one() {
        let limit = PeerLimit::new(0);
        let _one = limit.admit("192.0.2.7".parse().unwrap()).unwrap();
        assert!(limit.admit("192.0.2.7".parse().unwrap()).is_none());
    }
}
