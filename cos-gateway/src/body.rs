//! Request bodies: the slot a handler takes the body from once, its stream with an idle timeout
//! and the request's deadline that drains what is left when dropped early, small whole-body reads,
//! and the MD5 computed while a body streams through.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt as _, TryStreamExt as _};
use hyper::body::Incoming;
use md5::{Digest as _, Md5};
use tokio::time::Instant;

use crate::error::{Error, Result};

/// The request body, taken once.
pub type RequestBodySlot = Option<RequestBody>;

/// A request body, how long the gateway waits for its next bytes, and when its request must be
/// done by.
#[derive(Debug)]
pub struct RequestBody {
    body: Incoming,
    idle_timeout: Duration,
    deadline: Instant,
}

impl RequestBody {
    /// A body whose reader gives up with `RequestTimeout` after `idle_timeout` without data, or
    /// at `deadline` (the request's, see [`crate::deadline`]).
    pub fn new(body: Incoming, idle_timeout: Duration, deadline: Instant) -> Self {
        Self {
            body,
            idle_timeout,
            deadline,
        }
    }

    /// Reads and drops what is left of the body ([`drain`]), no later than its deadline.
    pub async fn drain(self) {
        drain(self.body, self.deadline).await;
    }
}

/// A boxed stream of body bytes.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// The body of a request as a stream of chunks.
///
/// A client that sends nothing for the body's idle timeout while the stream waits ends it with
/// `RequestTimeout` (a stalled upload would otherwise hold its connection, its temp file and its
/// task forever). Only time spent waiting for the client counts, not time the handler spends
/// elsewhere between reads. A body still unfinished at the request's deadline ends the same way,
/// however steadily it drips.
///
/// If the stream is dropped before the body ended (a handler failed after taking it), the rest is
/// drained in the background (bounded, see [`drain`]), so a client still sending
/// reads the error response instead of a broken pipe; not after the deadline, when the
/// connection is to close instead.
pub fn body_stream(body: RequestBody) -> ByteStream {
    Box::pin(DrainOnDrop {
        inner: Some(body.body),
        done: false,
        idle_timeout: body.idle_timeout,
        deadline: body.deadline,
        idle: None,
    })
}

struct DrainOnDrop {
    inner: Option<Incoming>,
    done: bool,
    idle_timeout: Duration,
    deadline: Instant,
    /// Armed while waiting for the client; disarmed by each frame.
    idle: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Stream for DrainOnDrop {
    type Item = std::io::Result<Bytes>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use http_body::Body as _;
        use std::task::Poll;
        loop {
            let Some(inner) = self.inner.as_mut() else {
                return Poll::Ready(None);
            };
            match Pin::new(inner).poll_frame(cx) {
                Poll::Ready(None) => {
                    self.done = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Ok(frame))) => {
                    self.idle = None;
                    if let Ok(data) = frame.into_data() {
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(std::io::Error::other(e))));
                }
                Poll::Pending => {
                    let wake = (Instant::now() + self.idle_timeout).min(self.deadline);
                    let idle = self
                        .idle
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(wake)));
                    if idle.as_mut().poll(cx).is_ready() {
                        // The client is not sending, or is too late: nothing to drain; the
                        // connection closes.
                        self.done = true;
                        self.inner = None;
                        return Poll::Ready(Some(Err(std::io::Error::other(
                            Error::RequestTimeout,
                        ))));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl Drop for DrainOnDrop {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take()
            && !self.done
            && Instant::now() < self.deadline
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            handle.spawn(drain(inner, self.deadline));
        }
    }
}

/// Takes the request body out of its slot.
pub fn take_body(body: &mut RequestBodySlot) -> Result<RequestBody> {
    body.take()
        .ok_or_else(|| Error::internal("the request body was taken twice"))
}

/// Refuses a request whose `Content-Length` is over [`MAX_OBJECT_SIZE`] at once, before a byte of
/// its body is read (`400 EntityTooLarge`).
///
/// [`MAX_OBJECT_SIZE`]: crate::limits::MAX_OBJECT_SIZE
pub fn check_declared_length(headers: &http::HeaderMap) -> Result<()> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(n) if n > crate::limits::MAX_OBJECT_SIZE => Err(Error::EntityTooLarge),
        _ => Ok(()),
    }
}

/// `s`, failing with `EntityTooLarge` on the chunk that takes it past `max` bytes (a chunked
/// body declares no length, so it is counted as it passes).
pub fn capped(s: ByteStream, max: u64) -> ByteStream {
    let mut seen: u64 = 0;
    Box::pin(s.and_then(move |chunk| {
        seen = seen.saturating_add(chunk.len() as u64);
        let over = seen > max;
        async move {
            if over {
                Err(std::io::Error::other(Error::EntityTooLarge))
            } else {
                Ok(chunk)
            }
        }
    }))
}

/// Reads a whole (small) body, refusing more than `limit` bytes.
pub async fn read_small_body(body: &mut RequestBodySlot, limit: usize) -> Result<Vec<u8>> {
    let mut s = body_stream(take_body(body)?);
    let mut out = Vec::new();
    while let Some(chunk) = s.next().await {
        let chunk = chunk?;
        if out.len() + chunk.len() > limit {
            return Err(Error::EntityTooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// An MD5 computed while a stream passes through.
#[derive(Clone, Debug, Default)]
pub struct Md5Tap(Arc<Mutex<Option<Md5>>>);

impl Md5Tap {
    /// A tap that hashes (`on`) or does nothing.
    pub fn new(on: bool) -> Self {
        Self(Arc::new(Mutex::new(on.then(Md5::new))))
    }

    /// Wraps `s`, hashing every chunk.
    pub fn tap(&self, s: ByteStream) -> ByteStream {
        if self.lock().is_none() {
            return s;
        }
        let me = self.clone();
        Box::pin(s.inspect_ok(move |chunk| {
            if let Some(h) = me.lock().as_mut() {
                h.update(chunk);
            }
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Md5>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The digest (`None` if not hashing).
    pub fn finish(&self) -> Option<[u8; 16]> {
        self.lock().take().map(|h| h.finalize().into())
    }
}

/// Checks a computed MD5 against `Content-MD5`.
pub fn check_md5(expected: Option<[u8; 16]>, got: Option<[u8; 16]>) -> Result<()> {
    match (expected, got) {
        (Some(e), Some(g)) if subtle::ConstantTimeEq::ct_eq(&e[..], &g[..]).into() => Ok(()),
        (Some(_), _) => Err(Error::BadDigest),
        (None, _) => Ok(()),
    }
}

/// Reads and drops the rest of an unread request body (at most 64 MiB, 10 s, and not past the
/// request's `deadline`), so that the client, still sending, reads the error response rather than
/// a connection reset.
pub async fn drain(body: Incoming, deadline: Instant) {
    use http_body_util::BodyExt as _;
    let mut body = body;
    let mut left: u64 = 64 << 20;
    let read = async {
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(d) = frame.data_ref() {
                left = left.saturating_sub(d.len() as u64);
                if left == 0 {
                    break;
                }
            }
        }
    };
    let until = (Instant::now() + Duration::from_secs(10)).min(deadline);
    let _ = tokio::time::timeout_at(until, read).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_checks() {
        assert!(check_md5(None, None).is_ok());
        assert!(check_md5(Some([1; 16]), Some([1; 16])).is_ok());
        let e = check_md5(Some([1; 16]), Some([2; 16])).unwrap_err();
        assert_eq!((e.code(), e.status().as_u16()), ("BadDigest", 400));
    }

    #[tokio::test]
    async fn bodies_are_capped() {
        let chunks = || -> ByteStream {
            Box::pin(futures::stream::iter(
                [&b"ab"[..], b"cd", b"ef"].map(|c| Ok(Bytes::from_static(c))),
            ))
        };
        let all: Vec<_> = capped(chunks(), 6).try_collect().await.unwrap();
        assert_eq!(all.concat(), b"abcdef");
        let mut s = capped(chunks(), 3);
        assert_eq!(&s.next().await.unwrap().unwrap()[..], b"ab");
        let e = Error::from(s.next().await.unwrap().unwrap_err());
        assert_eq!((e.code(), e.status().as_u16()), ("EntityTooLarge", 400));
        let mut h = http::HeaderMap::new();
        check_declared_length(&h).unwrap();
        let max = crate::limits::MAX_OBJECT_SIZE;
        h.insert(http::header::CONTENT_LENGTH, max.into());
        check_declared_length(&h).unwrap();
        h.insert(http::header::CONTENT_LENGTH, (max + 1).into());
        let e = check_declared_length(&h).unwrap_err();
        assert_eq!((e.code(), e.status().as_u16()), ("EntityTooLarge", 400));
    }
}
