//! Connection and idle limits: a cap on connections, stalled bodies and stalled requests.

use super::*;

#[test]
fn connections_beyond_the_cap_wait_for_one_to_close() {
    let gw = start_limited(cos_gateway::ServeOptions {
        max_connections: 1,
        ..Default::default()
    });
    let a = gw.addr;
    // One idle connection holds the only permit...
    let idle = std::net::TcpStream::connect(a).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(Req::new("PUT", "/").send(a).status);
    });
    // ...so the next request is not served while it is open,
    assert!(
        rx.recv_timeout(std::time::Duration::from_millis(700))
            .is_err(),
        "a connection beyond the cap was served"
    );
    // and is once it closes.
    drop(idle);
    assert_eq!(
        rx.recv_timeout(std::time::Duration::from_secs(20)).unwrap(),
        200
    );
}

#[test]
fn a_stalled_body_ends_with_request_timeout() {
    use std::io::Write as _;
    let idle = std::time::Duration::from_secs(1);
    let gw = start_limited(cos_gateway::ServeOptions {
        idle_timeout: idle,
        ..Default::default()
    });
    let a = gw.addr;
    create_bucket(a);
    for (target, ctype) in [
        ("/stall", None),
        ("/", Some("multipart/form-data; boundary=BND")),
    ] {
        let mut req = Req::new(if ctype.is_some() { "POST" } else { "PUT" }, target)
            .without_length()
            .header("Content-Length", "100");
        if let Some(c) = ctype {
            req = req.unsigned().header("Content-Type", c);
        }
        // Before anything is sent: the gateway's idle clock starts after this.
        let started = std::time::Instant::now();
        let mut s = std::net::TcpStream::connect(a).unwrap();
        s.write_all(req.head().as_bytes()).unwrap();
        s.write_all(b"--BND\r\n").unwrap();
        read_error_response(&mut s, std::time::Duration::from_secs(20))
            .assert_error(400, "RequestTimeout");
        assert!(started.elapsed() >= idle, "{target}");
    }
    Req::new("GET", "/stall")
        .send(a)
        .assert_error(404, "NoSuchKey");
    // A body that keeps sending, slower than the timeout overall, is not cut.
    let mut s = std::net::TcpStream::connect(a).unwrap();
    let req = Req::new("PUT", "/slow")
        .without_length()
        .header("Content-Length", "6");
    s.write_all(req.head().as_bytes()).unwrap();
    for part in b"abcdef".chunks(1) {
        std::thread::sleep(idle / 5);
        s.write_all(part).unwrap();
    }
    use std::io::Read as _;
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    assert_eq!(common::Raw::parse(&out).status, 200);
    assert_eq!(Req::new("GET", "/slow").send(a).body, b"abcdef");
}

#[test]
fn a_client_that_stalls_before_its_request_loses_the_connection() {
    use std::io::{Read as _, Write as _};
    let idle = std::time::Duration::from_millis(500);
    for tls in [false, true] {
        let gw = common::start_serving(
            Options {
                tls,
                allow_ssec_over_http: true,
                bucket_keys: Default::default(),
            },
            None,
            cos_gateway::ServeOptions {
                idle_timeout: idle,
                ..Default::default()
            },
        );
        // TLS: no handshake at all. Plain: half a request line.
        let mut s = std::net::TcpStream::connect(gw.addr).unwrap();
        if !tls {
            s.write_all(b"GET / HTTP/1.1\r\n").unwrap();
        }
        s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let started = std::time::Instant::now();
        let mut buf = [0u8; 1024];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("tls={tls}: the connection was kept ({e})"),
            }
        }
        assert!(started.elapsed() >= idle / 2, "tls={tls}");
    }
}

/// COS takes at most 5 GiB in one PUT or one part: a larger declared body is refused at once,
/// before a byte of it is read.
#[test]
fn bodies_over_5_gib_are_refused_at_once() {
    use std::io::Write as _;
    let gw = start_with_bucket();
    let a = gw.addr;
    let max = cos_gateway::limits::MAX_OBJECT_SIZE;
    assert_eq!(max, 5 << 30);
    let id = super::multipart::initiate(a, "big", &[]);
    let part = format!("/big?partNumber=1&uploadId={id}");
    for target in ["/big", part.as_str()] {
        let head = Req::new("PUT", target)
            .without_length()
            .header("Content-Length", &(max + 1).to_string())
            .head();
        let mut s = std::net::TcpStream::connect(a).unwrap();
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(b"some of it").unwrap();
        read_error_response(&mut s, std::time::Duration::from_secs(5))
            .assert_error(400, "EntityTooLarge");
    }
    Req::new("GET", "/big")
        .send(a)
        .assert_error(404, "NoSuchKey");
}
