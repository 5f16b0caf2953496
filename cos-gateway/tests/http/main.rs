//! End-to-end HTTP tests against a gateway on 127.0.0.1:0: raw response bytes (header case),
//! signatures, routing, every operation's bad-input paths with their exact COS code and status.
//! One test binary, one module per behaviour; the fixtures are in `tests/common`.

#[path = "../common/mod.rs"]
mod common;

use common::{
    Options, Req, create_bucket, ssec, start, start_http, start_limited, start_with_bucket,
};

/// An SSE-C key (the COS documentation's example key).
const K1: [u8; 32] = *b"0123456789ABCDEF0123456789ABCDEF";

/// Another SSE-C key.
const K2: [u8; 32] = *b"fedcba9876543210fedcba9876543210";

/// Reads a response off `s` until its error document is complete (the gateway may keep reading
/// the rest of the request body, so the connection does not close at once).
fn read_error_response(s: &mut std::net::TcpStream, within: std::time::Duration) -> common::Raw {
    use std::io::Read as _;
    s.set_read_timeout(Some(within)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.windows(8).any(|w| w == b"</Error>") {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => panic!(
                "no response within {within:?} ({e}); got {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
    common::Raw::parse(&out)
}

mod acl;
mod auth;
mod buckets;
mod delete_objects;
mod faults;
mod limits;
mod multipart;
mod objects;
mod part_number;
mod post_object;
mod responses;
mod restore;
mod routing;
mod slow_clients;
mod ssec_verifier;
mod storage_class;
mod tagging;
mod versioning;
