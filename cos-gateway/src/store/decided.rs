//! Whether the request running in this task has set a change to the store going: from then on
//! its outcome is decided (the catalog call runs to its end on the blocking pool, the request
//! dropped or not), so answering `RequestTimeout` at its deadline would tell the client that a
//! write which took effect had not (a retried CompleteMultipartUpload would then find no upload).
//! The request frame runs each request in a [`Decided`] scope and, at the deadline, waits for the
//! answer of a request that is decided instead of cutting it.
//!
//! A task-local rather than a parameter: every change goes through the store, which marks it in
//! one place ([`mark`]), and no operation has to carry the flag to it.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

tokio::task_local! {
    static DECIDED: Decided;
}

/// The flag one request's changes set; clones share it.
#[derive(Clone, Debug, Default)]
pub struct Decided(Arc<AtomicBool>);

impl Decided {
    /// Runs `request` with this flag as its task's: the changes it makes through the store set it.
    pub fn scope<F: Future>(&self, request: F) -> impl Future<Output = F::Output> {
        DECIDED.scope(self.clone(), request)
    }

    /// Whether the request has set a change going.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Marks the running request as decided (nothing outside a [`Decided::scope`]).
pub(super) fn mark() {
    let _ = DECIDED.try_with(|d| d.0.store(true, Ordering::Release));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_mark_sets_only_its_own_scope() {
        let (mine, other) = (Decided::default(), Decided::default());
        mine.scope(async { mark() }).await;
        other.scope(async {}).await;
        mark();
        assert!(mine.is_set());
        assert!(!other.is_set());
    }
}
