//! The request deadline (`--request-timeout`): how long one request may take, from its head
//! having been read to the last byte of its response.
//!
//! The idle timeout bounds a client that stops; it does not bound one that drips (a byte every
//! 59 s keeps its connection, its task and its temp file for ever), nor a reader that takes one
//! segment a minute. So every request has a deadline:
//!
//! * until its response starts, the request ends there with `400 RequestTimeout` and
//!   `Connection: close` (the request frame, `Gateway::handle`): the body stream stops at the
//!   deadline and what is left of the body is not drained (`body::body_stream`); except a request
//!   that has already set a change to the store going ([`crate::store::Decided`]: its row commits
//!   whatever the request does), which is answered when it is done, so a client is never told a
//!   write failed that took effect;
//! * once its response has started (a long GET to a slow reader), the connection is closed at the
//!   deadline and the client sees a truncated body ([`until_deadline`]). A response always gets at
//!   least the idle timeout to be read, so the `RequestTimeout` document itself, which starts at
//!   the deadline, reaches the client.
//!
//! Headers are not under the deadline but under the idle (header read) timeout, as before.
//!
//! A fixed deadline rather than a minimum data rate: a rate needs a grace period and a window to
//! measure over, and a client that keeps exactly to it is held as long; a deadline is one number a
//! client can plan with. What bounds how many such connections one client holds is the
//! per-address cap ([`crate::peers`]). The default is what the largest single PUT
//! ([`MAX_OBJECT_SIZE`]) takes at [`SLOWEST_WHOLE_PUT_RATE`]; slower clients, and downloads
//! of larger multipart objects, use parts or ranges (the COS SDKs' `upload_file` and
//! `download_file` do), each part or range being a request with its own deadline.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::limits::MAX_OBJECT_SIZE;
use crate::wire::{Body, Response};

/// The slowest link (bytes per second: 12 Mbit/s) over which the default deadline lets a
/// 5 GiB PUT ([`MAX_OBJECT_SIZE`]) finish.
pub const SLOWEST_WHOLE_PUT_RATE: u64 = 1_500_000;

/// The default request deadline (`--request-timeout`): [`MAX_OBJECT_SIZE`] at
/// [`SLOWEST_WHOLE_PUT_RATE`], 3580 s (just under an hour).
pub const REQUEST_TIMEOUT: Duration =
    Duration::from_secs(MAX_OBJECT_SIZE.div_ceil(SLOWEST_WHOLE_PUT_RATE));

/// One connection's side of the deadline: when the response being sent must be done by, if one
/// is being sent.
#[derive(Clone, Debug)]
pub struct ResponseDeadline(Arc<watch::Sender<Option<Instant>>>);

impl ResponseDeadline {
    /// A new connection's: no response yet. The receiver goes to [`until_deadline`].
    pub fn new() -> (Self, watch::Receiver<Option<Instant>>) {
        let (tx, rx) = watch::channel(None);
        (Self(Arc::new(tx)), rx)
    }

    /// Starts `resp`: its connection is cut at `cutoff` unless the body has been sent by then
    /// (dropping the body disarms the cut).
    pub fn arm(&self, resp: Response, cutoff: Instant) -> http::Response<TimedBody> {
        self.0.send_replace(Some(cutoff));
        resp.map(|inner| TimedBody {
            inner,
            armed: Arc::clone(&self.0),
        })
    }
}

/// A response body under the deadline of [`ResponseDeadline::arm`].
#[derive(Debug)]
pub struct TimedBody {
    inner: Body,
    armed: Arc<watch::Sender<Option<Instant>>>,
}

impl http_body::Body for TimedBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for TimedBody {
    fn drop(&mut self) {
        self.armed.send_replace(None);
    }
}

/// Runs `conn` (one connection) to its end, or drops it, closing the connection, once a response
/// it is sending passes its cut-off (`None` then).
pub async fn until_deadline<F: Future>(
    conn: F,
    mut cutoff: watch::Receiver<Option<Instant>>,
) -> Option<F::Output> {
    tokio::pin!(conn);
    loop {
        let at = *cutoff.borrow_and_update();
        let expired = async move {
            match at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            out = &mut conn => return Some(out),
            changed = cutoff.changed() => {
                if changed.is_err() {
                    // The service (and its sender) is gone: nothing more to cut.
                    return Some(conn.await);
                }
            }
            () = expired => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_lets_a_whole_put_through_at_the_slowest_rate() {
        assert_eq!(REQUEST_TIMEOUT, Duration::from_secs(3580));
        assert!(REQUEST_TIMEOUT.as_secs() * SLOWEST_WHOLE_PUT_RATE >= MAX_OBJECT_SIZE);
    }

    fn started(deadline: &ResponseDeadline, cutoff: Instant) -> http::Response<TimedBody> {
        deadline.arm(http::Response::new(crate::wire::empty()), cutoff)
    }

    /// Cut-offs in the past, so that no test waits on the clock.
    #[tokio::test]
    async fn a_started_response_is_cut_at_its_deadline_unless_sent() {
        let past = Instant::now();
        let (deadline, rx) = ResponseDeadline::new();
        // No response: nothing to cut.
        assert_eq!(until_deadline(async { 7 }, rx.clone()).await, Some(7));
        // A response whose body is still held when its cut-off has passed.
        let body = started(&deadline, past);
        let r = until_deadline(std::future::pending::<()>(), rx.clone()).await;
        assert!(r.is_none());
        // Sent (its body dropped): disarmed.
        drop(body);
        assert!(rx.borrow().is_none());
        assert_eq!(until_deadline(async { 8 }, rx.clone()).await, Some(8));
        // Started while the connection runs: the cut comes then.
        let conn = async {
            let _body = started(&deadline, past);
            std::future::pending::<()>().await;
        };
        assert!(until_deadline(conn, rx.clone()).await.is_none());
        // Started and sent while the connection runs: no cut.
        let conn = async {
            drop(started(&deadline, past));
            tokio::task::yield_now().await;
            9
        };
        assert_eq!(until_deadline(conn, rx).await, Some(9));
    }
}
