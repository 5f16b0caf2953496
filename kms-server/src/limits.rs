//! The gRPC server's resource limits: what each one bounds, its default and where the default comes
//! from, its command-line flag, and the listener gate that enforces the connection limit.
//!
//! | limit | default | beyond it |
//! |---|---|---|
//! | request message size | [`DEFAULT_MAX_MESSAGE_BYTES`] (6 MiB) | the call fails with OUT_OF_RANGE (tonic's code) before the body is buffered |
//! | concurrent HTTP/2 streams per connection | [`DEFAULT_MAX_CONCURRENT_STREAMS`] | the client queues further calls on its side (HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS`) |
//! | open connections | [`DEFAULT_MAX_CONNECTIONS`] | the next connection waits, unaccepted, until one closes |
//! | per-call deadline | [`DEFAULT_CALL_DEADLINE`] | the call fails with CANCELLED ("Timeout expired"); a shorter `grpc-timeout` from the client wins |
//! | a connection reading nothing | [`idle_limit`] of the call deadline (90 s by default) | the connection is closed and its slot given back |
//!
//! An HTTP/2 connection is pinged every [`KEEPALIVE_INTERVAL`], so a client that is there (even
//! idle, in a pool) keeps sending bytes; one that connects and says nothing (no HTTP preface, or
//! nothing after its TLS handshake), or vanished without a FIN, is closed once it has read
//! nothing for [`idle_limit`]: without it, a few hundred silent sockets would hold every slot.
//!
//! Connections beyond the limit wait rather than being closed: the listener is not polled while
//! every slot is taken, so the kernel keeps them in its accept backlog and they proceed as soon as
//! another connection closes. A closed connection would turn a burst into errors and retries;
//! a waiting one is plain back-pressure, bounded by the client's own connect or call deadline.

use std::{
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures::{FutureExt as _, Stream};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
    time::{Instant, Sleep},
};
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::{blob::BLOB_MAX_OVERHEAD, kms::data_keys};

/// Bytes a length-delimited protobuf field adds to its payload: one tag byte and a length varint of
/// at most three bytes (payloads under 2 MiB).
const FIELD_OVERHEAD: usize = 1 + 3;

/// The largest ciphertext blob the server reads: an Encrypt of the most plaintext it takes, in the
/// format with the longest header.
const MAX_BLOB_BYTES: usize = BLOB_MAX_OVERHEAD + *data_keys::ENCRYPT_PLAINTEXT_BYTES.end();

/// The largest item of a BatchDecrypt: the largest blob and the largest context, framed.
const MAX_DECRYPT_ITEM_BYTES: usize = FIELD_OVERHEAD
    + (FIELD_OVERHEAD + MAX_BLOB_BYTES)
    + (FIELD_OVERHEAD + kms_types::limits::MAX_CONTEXT_BASE64_BYTES);

/// Default largest request message (6 MiB): the largest legitimate request, a full BatchDecrypt
/// (the most items, each with the largest blob and context), rounded up to a whole MiB. It also
/// bounds a SeedKeys document.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize =
    (data_keys::MAX_BATCH_ITEMS * MAX_DECRYPT_ITEM_BYTES).next_multiple_of(1 << 20);

/// Default most concurrent HTTP/2 streams (calls in flight) on one connection.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 256;

/// Default most open connections, well below the common soft limit of 1024 open files (the
/// database, its WAL and the listener need descriptors too).
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// Default deadline of one call, the same as kms-client's default request timeout.
pub const DEFAULT_CALL_DEADLINE: Duration = Duration::from_secs(30);

/// The limits the server enforces (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest request message, in bytes.
    pub max_message_bytes: usize,
    /// Most concurrent streams per HTTP/2 connection.
    pub max_concurrent_streams: u32,
    /// Most open connections; further ones wait until one closes.
    pub max_connections: usize,
    /// Deadline of one call.
    pub call_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            call_deadline: DEFAULT_CALL_DEADLINE,
        }
    }
}

/// The command-line flags of [`Limits`].
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Largest request message in bytes; a larger one fails with OUT_OF_RANGE.
    #[arg(long, env = "KMS_MAX_MESSAGE_BYTES", value_name = "BYTES", default_value_t = DEFAULT_MAX_MESSAGE_BYTES,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_message_bytes: usize,
    /// Most concurrent calls on one HTTP/2 connection.
    #[arg(long, env = "KMS_MAX_CONCURRENT_STREAMS", value_name = "N", default_value_t = DEFAULT_MAX_CONCURRENT_STREAMS,
        value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent_streams: u32,
    /// Most open connections; further ones wait until one closes.
    #[arg(long, env = "KMS_MAX_CONNECTIONS", value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_connections: usize,
    /// Deadline of one call in seconds; a call still running then fails with CANCELLED.
    #[arg(long, env = "KMS_CALL_DEADLINE_SECS", value_name = "SECS", default_value_t = DEFAULT_CALL_DEADLINE.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..))]
    pub call_deadline_secs: u64,
}

impl From<&LimitArgs> for Limits {
    fn from(args: &LimitArgs) -> Self {
        Self {
            max_message_bytes: args.max_message_bytes,
            max_concurrent_streams: args.max_concurrent_streams,
            max_connections: args.max_connections,
            call_deadline: Duration::from_secs(args.call_deadline_secs),
        }
    }
}

/// How often the server pings an HTTP/2 connection.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// How long an HTTP/2 ping may go unanswered before the connection is closed.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a connection may read nothing before it is closed: a call may run for its whole
/// deadline without the client sending a byte (an HTTP/1.1 request being answered), and an idle
/// HTTP/2 client answers a ping every [`KEEPALIVE_INTERVAL`]; two intervals more is slack for both.
pub fn idle_limit(call_deadline: Duration) -> Duration {
    call_deadline + 2 * KEEPALIVE_INTERVAL
}

/// An accepted connection holding one of the listener's connection slots until it is dropped;
/// reading nothing for its idle limit fails its reads (`TimedOut`), which closes it.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    idle: Idle,
}

/// When a connection last read a byte, and a timer that looks again at its idle limit. A read
/// only notes the time (no timer reset on the hot path); the timer, when it fires, either finds
/// the connection idle or sets itself for the limit after the last read.
#[derive(Debug)]
struct Idle {
    limit: Duration,
    last_read: Instant,
    timer: Pin<Box<Sleep>>,
}

impl Idle {
    fn new(limit: Duration) -> Self {
        let now = Instant::now();
        Self {
            limit,
            last_read: now,
            timer: Box::pin(tokio::time::sleep_until(now + limit)),
        }
    }

    /// Ready with an error once nothing was read for the limit; registers `cx` otherwise.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.timer.poll_unpin(cx).is_ready() {
            let due = self.last_read + self.limit;
            if Instant::now() >= due {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("nothing read for {:?}: connection closed", self.limit),
                )));
            }
            self.timer.as_mut().reset(due);
        }
        Poll::Pending
    }
}

/// The connections `listener` accepts, at most `max_connections` open at once: while every slot is
/// taken the listener is not polled (see the module docs). `TCP_NODELAY` is set on each: without
/// it, Nagle's algorithm holds back the last segment of a response larger than one segment
/// (ListKeys) until the client's delayed ACK, about 40 ms per call.
pub fn incoming(
    listener: TcpListener,
    max_connections: usize,
    idle_limit: Duration,
) -> impl Stream<Item = io::Result<Connection>> + Send {
    let slots = Arc::new(Semaphore::new(max_connections));
    futures::stream::unfold((listener, slots), move |(listener, slots)| async move {
        let slot = slots
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let accepted = listener.accept().await.map(|(stream, _)| {
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
            Connection {
                stream,
                _slot: slot,
                idle: Idle::new(idle_limit),
            }
        });
        Some((accepted, (listener, slots)))
    })
}

impl Connected for Connection {
    // The same connect info as a bare TcpStream, so `Request::remote_addr` and (under TLS)
    // `Request::peer_certs` keep working.
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(read) => {
                if buf.filled().len() > before {
                    self.idle.last_read = Instant::now();
                }
                Poll::Ready(read)
            }
            Poll::Pending => self.idle.poll_expired(cx),
        }
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection that sends nothing is closed after its idle limit and gives its slot back; one
    /// that keeps sending is not.
    #[tokio::test]
    async fn a_silent_connection_gives_its_slot_back() {
        use futures::StreamExt as _;
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limit = Duration::from_secs(1);
        let mut incoming = Box::pin(incoming(listener, 1, limit));
        // Before the connection exists: its idle clock starts after this.
        let started = std::time::Instant::now();
        let _silent = TcpStream::connect(addr).await.unwrap();
        let mut first = incoming.next().await.unwrap().unwrap();
        let e = first.read(&mut [0u8; 16]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= limit, "{:?}", started.elapsed());
        drop(first);
        // The slot is back: the next connection is accepted, and while it sends a byte every
        // 200 ms it reads on, well past the limit.
        let mut talking = TcpStream::connect(addr).await.unwrap();
        let mut second = incoming.next().await.unwrap().unwrap();
        for _ in 0..8 {
            talking.write_all(b"x").await.unwrap();
            let mut byte = [0u8; 1];
            second.read_exact(&mut byte).await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(idle_limit(DEFAULT_CALL_DEADLINE), Duration::from_secs(90));
    }

    /// The default fits the largest BatchDecrypt, counted by encoding one.
    #[test]
    fn the_default_message_size_fits_the_largest_batch_decrypt() {
        use prost::Message as _;
        let item = kms_proto::pb::DecryptRequest {
            ciphertext_blob: vec![0xff; MAX_BLOB_BYTES],
            encryption_context: "A".repeat(kms_types::limits::MAX_CONTEXT_BASE64_BYTES),
            // A batch item takes no public key (BatchDecrypt refuses one).
            ..Default::default()
        };
        let batch = kms_proto::pb::BatchDecryptRequest {
            items: vec![item; data_keys::MAX_BATCH_ITEMS],
        };
        let len = batch.encoded_len();
        assert!(
            len <= data_keys::MAX_BATCH_ITEMS * MAX_DECRYPT_ITEM_BYTES,
            "{len}"
        );
        assert!(len <= DEFAULT_MAX_MESSAGE_BYTES);
        assert_eq!(DEFAULT_MAX_MESSAGE_BYTES, 6 << 20);
    }
}
