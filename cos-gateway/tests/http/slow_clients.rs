//! Slow clients: the per-client-address connection cap and the request deadline. Linux routes all
//! of 127.0.0.0/8 to the loopback, so the slow clients connect from 127.0.0.2 and the normal one
//! from 127.0.0.1.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::*;

/// Where the slow clients connect from.
const SLOW_PEER: [u8; 4] = [127, 0, 0, 2];

/// How long a client that should be served waits for the gateway before the test fails: far below
/// the idle timeouts the tests set, so a client stuck behind slow ones fails instead of passing
/// late.
const SERVED_WITHIN: Duration = Duration::from_secs(60);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A connection to `to` from the loopback address `from`.
fn connect_from(rt: &tokio::runtime::Runtime, from: [u8; 4], to: SocketAddr) -> TcpStream {
    rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((from, 0))).unwrap();
        let s = socket.connect(to).await.unwrap().into_std().unwrap();
        s.set_nonblocking(false).unwrap();
        s
    })
}

/// HEAD Bucket on `s`, keeping the connection open; the response head.
fn head_bucket_keep_alive(s: &mut TcpStream) -> common::Raw {
    let head = Req::new("HEAD", "/")
        .head()
        .replace("Connection: close\r\n", "");
    s.write_all(head.as_bytes()).unwrap();
    s.set_read_timeout(Some(SERVED_WITHIN)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    while !out.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) => panic!("closed; got {:?}", String::from_utf8_lossy(&out)),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => panic!("no response ({e}); got {:?}", String::from_utf8_lossy(&out)),
        }
    }
    common::Raw::parse(&out)
}

/// Whether the gateway closed `s` (end-of-file, or a reset when the client had sent something),
/// without waiting: `None` while it is open with nothing to read.
fn closed_now(s: &mut TcpStream) -> Option<bool> {
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    let r = match s.read(&mut buf) {
        Ok(0) => Some(true),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Some(true),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
        Ok(n) => panic!("a slow client got an answer: {:?}", &buf[..n]),
        Err(e) => panic!("{e}"),
    };
    s.set_nonblocking(false).unwrap();
    r
}

/// Many slow clients from one address hold connections (half a request head each, under an idle
/// timeout of an hour) while the global cap is small: without the per-address cap they would take
/// every slot and the normal client would wait an hour in the backlog.
#[test]
fn many_slow_clients_from_one_address_do_not_starve_another() {
    const SLOW: usize = 200;
    const CAP: usize = 4;
    let gw = start_limited(cos_gateway::ServeOptions {
        max_connections: 2 * CAP,
        max_connections_per_address: CAP,
        idle_timeout: Duration::from_secs(3600),
        ..Default::default()
    });
    let rt = runtime();
    let mut slow: Vec<TcpStream> = (0..SLOW)
        .map(|_| {
            let mut s = connect_from(&rt, SLOW_PEER, gw.addr);
            // A refused connection may be closed already: its write may fail.
            let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: examplebu");
            s
        })
        .collect();
    // The normal client, from 127.0.0.1, is served.
    Req::new("PUT", "/")
        .send_within(gw.addr, SERVED_WITHIN)
        .assert_status(200);
    Req::new("HEAD", "/")
        .send_within(gw.addr, SERVED_WITHIN)
        .assert_status(200);
    // Of the slow ones, all but CAP were closed at once, and CAP still hold their connection.
    let mut refused = 0;
    for _ in 0..1200 {
        refused = slow
            .iter_mut()
            .map(closed_now)
            .filter(|c| *c == Some(true))
            .count();
        if refused >= SLOW - CAP {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(refused, SLOW - CAP);
    drop(slow);
}

/// A connection over the per-address cap is closed right after it is accepted, before it sends
/// anything (the client reads end-of-file), while another address is served; once one of the
/// address's connections closes, the address is served again.
#[test]
fn a_connection_over_the_per_address_cap_is_closed_at_once() {
    const CAP: usize = 3;
    // No idle timeout within the test: only the cap may close a connection.
    let gw = start_limited(cos_gateway::ServeOptions {
        max_connections_per_address: CAP,
        idle_timeout: Duration::from_secs(3600),
        ..Default::default()
    });
    create_bucket(gw.addr);
    let rt = runtime();
    // CAP connections from 127.0.0.2, each shown accepted by a request answered on it...
    let mut held: Vec<TcpStream> = (0..CAP)
        .map(|_| {
            let mut s = connect_from(&rt, SLOW_PEER, gw.addr);
            head_bucket_keep_alive(&mut s).assert_status(200);
            s
        })
        .collect();
    // ...so one more from that address is closed without a byte sent either way,
    let mut over = connect_from(&rt, SLOW_PEER, gw.addr);
    over.set_read_timeout(Some(SERVED_WITHIN)).unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(over.read(&mut buf).unwrap(), 0, "not closed");
    // while 127.0.0.1 is served,
    Req::new("HEAD", "/")
        .send_within(gw.addr, SERVED_WITHIN)
        .assert_status(200);
    // and the held ones still are.
    for s in &mut held {
        head_bucket_keep_alive(s).assert_status(200);
    }
    // A connection that closes frees its place (once the gateway has seen it close).
    drop(held.pop());
    let served = (0..600).any(|_| {
        let mut s = connect_from(&rt, SLOW_PEER, gw.addr);
        s.set_read_timeout(Some(SERVED_WITHIN)).unwrap();
        let _ = s.write_all(Req::new("HEAD", "/").head().as_bytes());
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        if out.is_empty() {
            std::thread::sleep(Duration::from_millis(50));
            return false;
        }
        common::Raw::parse(&out).assert_status(200);
        true
    });
    assert!(served, "the address stayed at its cap");
}

/// A request whose body drips steadily (never stalling for the idle timeout) but is not done by
/// the request deadline ends with `400 RequestTimeout` and the connection closes; nothing is
/// stored.
#[test]
fn a_request_not_done_by_its_deadline_ends_with_request_timeout() {
    // Long enough for the quick PUT's fsyncs at the end on a loaded machine.
    let gw = start_limited(cos_gateway::ServeOptions {
        request_timeout: Duration::from_secs(3),
        ..Default::default()
    });
    let a = gw.addr;
    create_bucket(a);
    let mut s = TcpStream::connect(a).unwrap();
    let head = Req::new("PUT", "/drip")
        .without_length()
        .header("Content-Length", "100")
        .head();
    s.write_all(head.as_bytes()).unwrap();
    // 100 bytes, one per 100 ms: at least 10 s, over three times the deadline.
    let mut w = s.try_clone().unwrap();
    let drip = std::thread::spawn(move || {
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(100));
            if w.write_all(b"x").is_err() {
                break;
            }
        }
    });
    let r = read_error_response(&mut s, SERVED_WITHIN);
    r.assert_error(400, "RequestTimeout");
    assert_eq!(r.get("connection"), Some("close"), "{}", r.head);
    // The connection closes.
    let mut buf = [0u8; 64];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the connection was kept ({e})"),
        }
    }
    drip.join().unwrap();
    Req::new("GET", "/drip")
        .send(a)
        .assert_error(404, "NoSuchKey");
    // A request done in time on the same gateway is served.
    Req::new("PUT", "/quick")
        .body("hello")
        .send(a)
        .assert_status(200);
}

/// A response still being sent at the deadline (a large GET to a client that does not read) has
/// its connection closed: the client gets the response head and less than `Content-Length` of
/// body, then end-of-file (`deadline.rs`: "once its response has started, the connection is
/// closed at the deadline and the client sees a truncated body").
///
/// Deterministic, with no wall-clock wait: the object is written through the gateway's default
/// listener; the same gateway is then served on a second listener, on a runtime whose clock is
/// paused. That clock moves only when every task waits, and it then jumps to the next timer. The
/// client sends its GET before the server runs and reads nothing, so the server writes until the
/// socket buffers are full and blocks: only then can the clock move, to the cut (at most
/// `deadline + idle timeout` after the request, [`cos_gateway::ServeOptions`]), which closes the
/// connection. The client's own virtual wait ends after that; only then does it read.
#[test]
fn a_response_still_being_sent_at_the_deadline_is_cut() {
    // Far more than the loopback socket buffers hold.
    const SIZE: usize = 32 << 20;
    const DEADLINE: Duration = Duration::from_secs(1);
    let gw = common::start_with_bucket();
    Req::new("PUT", "/big")
        .body(vec![7u8; SIZE])
        .send(gw.addr)
        .assert_status(200);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    // Connected (the kernel completes the handshake from the backlog) and the request sent
    // before the server runs: no timer can fire while the server waits for it.
    let mut s = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    s.write_all(Req::new("GET", "/big").head().as_bytes())
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(cos_gateway::serve_with(
        std::sync::Arc::clone(&gw.gateway),
        listener,
        None,
        cos_gateway::ServeOptions {
            request_timeout: DEADLINE,
            idle_timeout: DEADLINE,
            ..Default::default()
        },
        async {
            let _ = stopped.await;
        },
    ));
    // Virtual time: ends after the cut (at most 2 * DEADLINE after the request was read).
    rt.block_on(async { tokio::time::sleep(3 * DEADLINE).await });
    // The server is not driven any more: what the client reads now was sent before the cut.
    s.set_read_timeout(Some(SERVED_WITHIN)).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the connection was kept ({e})"),
        }
    }
    let r = common::Raw::parse(&out);
    r.assert_status(200);
    assert_eq!(r.get("content-length"), Some(SIZE.to_string().as_str()));
    assert!(r.body.len() < SIZE, "the whole body was sent");
    assert!(!r.body.is_empty(), "no body was sent before the cut");
    assert!(
        r.body.iter().all(|&b| b == 7),
        "the body sent is the object's"
    );
    let _ = stop.send(());
    rt.block_on(server).unwrap().unwrap();
}
