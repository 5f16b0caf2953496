//! The gateway half of the soak: each slot keeps a few live objects in every SSE mode and runs
//! PUT, GET, range GET, multipart, copy and DELETE over one keep-alive connection, checking every
//! byte it reads back against what it wrote.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use bytes::Bytes;
use cos_gateway::auth::SecretKey;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use md5::Digest as _;
use rand::Rng as _;

use crate::stats::{Op, Recorder};

/// The credentials the soak script starts the gateway with.
pub const SECRET_ID: &str = "AKIDsoak";
pub const SECRET_KEY: &str = "soak-secret";
/// The bucket every slot writes in (created by [`prepare`]).
const BUCKET: &str = "soak-1250000000";
const HOST: &str = "soak-1250000000.cos.ap-beijing.myqcloud.com";

/// Live objects per slot: a PUT beyond it deletes one first, so the store stays bounded.
const LIVE_OBJECTS: usize = 16;
/// Largest single-PUT body.
const MAX_SMALL: usize = 64 << 10;
/// The first part of a multipart upload: the COS minimum part size.
const PART: usize = 1 << 20;

/// Operation mix, in per mille, in this order: PUT, GET, range GET, multipart, copy; the rest
/// are DELETEs.
const MIX: [(Op, u32); 5] = [
    (Op::Put, 300),
    (Op::Get, 300),
    (Op::RangeGet, 150),
    (Op::Multipart, 30),
    (Op::Copy, 100),
];

#[derive(Clone, Copy, Debug)]
enum Mode {
    Plain,
    Cos,
    Kms,
    CustomerKey,
}

const MODES: [Mode; 4] = [Mode::Plain, Mode::Cos, Mode::Kms, Mode::CustomerKey];

/// The SSE-C key every slot uses (the soak measures the server, not key handling).
const CUSTOMER_KEY: [u8; 32] = [0x5a; 32];

impl Mode {
    /// Headers for a write (and, for SSE-C, for every read).
    fn headers(self, prefix: &str) -> Vec<(String, String)> {
        let b64 = base64::engine::general_purpose::STANDARD;
        match self {
            Mode::Plain => vec![],
            Mode::Cos => vec![("x-cos-server-side-encryption".into(), "AES256".into())],
            Mode::Kms => vec![("x-cos-server-side-encryption".into(), "cos/kms".into())],
            Mode::CustomerKey => vec![
                (format!("{prefix}-algorithm"), "AES256".into()),
                (format!("{prefix}-key"), b64.encode(CUSTOMER_KEY)),
                (
                    format!("{prefix}-key-MD5"),
                    b64.encode(md5::Md5::digest(CUSTOMER_KEY)),
                ),
            ],
        }
    }

    fn write_headers(self) -> Vec<(String, String)> {
        self.headers("x-cos-server-side-encryption-customer")
    }

    fn read_headers(self) -> Vec<(String, String)> {
        match self {
            Mode::CustomerKey => self.write_headers(),
            _ => vec![],
        }
    }
}

/// What a slot wrote under a key: enough to regenerate every byte.
#[derive(Clone, Copy, Debug)]
struct Written {
    mode: Mode,
    len: usize,
    seed: u64,
}

/// The bytes of an object: a cheap function of its seed and the offset.
fn content(seed: u64, len: usize) -> Bytes {
    (0..len as u64)
        .map(|i| (seed.wrapping_add(i).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8)
        .collect::<Vec<_>>()
        .into()
}

type Body = Full<Bytes>;

/// A response: status and body, or why there is none.
struct Answer {
    status: u16,
    etag: Option<String>,
    body: Bytes,
}

struct Connection {
    addr: SocketAddr,
    send: Option<SendRequest<Body>>,
}

impl Connection {
    async fn open(addr: SocketAddr) -> Result<SendRequest<Body>, String> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(conn);
        Ok(send)
    }

    /// Sends one signed request; a broken connection is replaced on the next call.
    async fn call(
        &mut self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(String, String)],
        body: Bytes,
    ) -> Result<Answer, String> {
        let mut send = match self.send.take() {
            Some(s) if !s.is_closed() => s,
            _ => Self::open(self.addr).await?,
        };
        let now = cos_gateway::wire::now_secs();
        let mut signed = headers.to_vec();
        signed.push(("host".into(), HOST.into()));
        signed.push(("content-length".into(), body.len().to_string()));
        let query_owned: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let auth = cos_gateway::auth::sign(
            SECRET_ID,
            &SecretKey::new(SECRET_KEY),
            method,
            path,
            &query_owned,
            &signed,
            (now - 60, now + 3600),
        );
        let mut target = path.to_owned();
        for (i, (k, v)) in query.iter().enumerate() {
            target.push(if i == 0 { '?' } else { '&' });
            target.push_str(k);
            if !v.is_empty() {
                target.push('=');
                target.push_str(v);
            }
        }
        let mut request = http::Request::builder()
            .method(method)
            .uri(target)
            .header("authorization", auth);
        for (k, v) in &signed {
            request = request.header(k.as_str(), v.as_str());
        }
        let request = request.body(Full::new(body)).map_err(|e| e.to_string())?;
        send.ready().await.map_err(|e| format!("ready: {e}"))?;
        let response = send
            .send_request(request)
            .await
            .map_err(|e| format!("send: {e}"))?;
        let status = response.status().as_u16();
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        self.send = Some(send);
        Ok(Answer { status, etag, body })
    }
}

/// Creates the soak bucket.
pub async fn prepare(addr: SocketAddr) -> Result<(), String> {
    let mut c = Connection { addr, send: None };
    let a = c.call("PUT", "/", &[], &[], Bytes::new()).await?;
    match a.status {
        200 | 409 => Ok(()),
        s => Err(format!(
            "PUT bucket: {s} {}",
            String::from_utf8_lossy(&a.body)
        )),
    }
}

fn expect(answer: Answer, status: u16) -> Result<Bytes, String> {
    if answer.status == status {
        Ok(answer.body)
    } else {
        Err(format!(
            "{} {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        ))
    }
}

/// The text of the first `<tag>` element in an XML answer.
fn element<'a>(xml: &'a [u8], tag: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(xml).ok()?;
    let open = format!("<{tag}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{tag}>"))? + start;
    Some(&text[start..end])
}

/// One in-flight slot: runs operations back to back until `until`.
pub async fn worker(addr: SocketAddr, slot: usize, until: Instant, recorder: Arc<Recorder>) {
    let mut c = Connection { addr, send: None };
    let mut live: BTreeMap<String, Written> = BTreeMap::new();
    let mut next = 0u64;
    while Instant::now() < until {
        let (op, mode, len, seed, pick) = {
            let mut rng = rand::rng();
            let roll = rng.random_range(0..1000u32);
            let mut acc = 0;
            let op = MIX
                .iter()
                .find(|(_, w)| {
                    acc += w;
                    roll < acc
                })
                .map_or(Op::Delete, |(op, _)| *op);
            (
                op,
                MODES[rng.random_range(0..MODES.len())],
                rng.random_range(1..=MAX_SMALL),
                rng.random::<u64>(),
                rng.random_range(0..LIVE_OBJECTS.max(1)),
            )
        };
        // Reads, copies and deletes need an object: write one first.
        let op = if live.is_empty() && !matches!(op, Op::Put | Op::Multipart) {
            Op::Put
        } else {
            op
        };
        let existing = live
            .iter()
            .nth(pick % live.len().max(1))
            .map(|(k, w)| (k.clone(), *w));
        if matches!(op, Op::Put | Op::Multipart | Op::Copy) && live.len() >= LIVE_OBJECTS {
            if let Some((key, _)) = &existing {
                let start = Instant::now();
                match delete(&mut c, key).await {
                    Ok(()) => recorder.ok(Op::Delete, start.elapsed()),
                    Err(e) => recorder.error(Op::Delete, e),
                }
                live.remove(key);
            }
            continue;
        }
        next += 1;
        let fresh = format!("/s{slot}/o{next}");
        let start = Instant::now();
        let result = match op {
            Op::Put => {
                let w = Written { mode, len, seed };
                put(&mut c, &fresh, w).await.map(|()| {
                    live.insert(fresh, w);
                })
            }
            Op::Multipart => {
                let w = Written {
                    mode,
                    len: PART + len,
                    seed,
                };
                multipart(&mut c, &fresh, w).await.map(|()| {
                    live.insert(fresh, w);
                })
            }
            Op::Get => {
                let (key, w) = existing.expect("an object exists");
                get(&mut c, &key, w, None).await
            }
            Op::RangeGet => {
                let (key, w) = existing.expect("an object exists");
                let first = (seed as usize) % w.len;
                let last = (first + len).min(w.len) - 1;
                get(&mut c, &key, w, Some((first, last))).await
            }
            Op::Copy => {
                let (key, w) = existing.expect("an object exists");
                let copied = Written { mode, ..w };
                copy(&mut c, &key, w, &fresh, mode).await.map(|()| {
                    live.insert(fresh, copied);
                })
            }
            _ => {
                let (key, _) = existing.expect("an object exists");
                let done = delete(&mut c, &key).await;
                live.remove(&key);
                done
            }
        };
        match result {
            Ok(()) => recorder.ok(op, start.elapsed()),
            Err(e) => recorder.error(op, e),
        }
    }
}

async fn put(c: &mut Connection, key: &str, w: Written) -> Result<(), String> {
    let a = c
        .call(
            "PUT",
            key,
            &[],
            &w.mode.write_headers(),
            content(w.seed, w.len),
        )
        .await?;
    expect(a, 200).map(drop)
}

async fn get(
    c: &mut Connection,
    key: &str,
    w: Written,
    range: Option<(usize, usize)>,
) -> Result<(), String> {
    let mut headers = w.mode.read_headers();
    if let Some((first, last)) = range {
        headers.push(("range".into(), format!("bytes={first}-{last}")));
    }
    let a = c.call("GET", key, &[], &headers, Bytes::new()).await?;
    let (status, want) = match range {
        None => (200, content(w.seed, w.len)),
        Some((first, last)) => (206, content(w.seed, w.len).slice(first..=last)),
    };
    let body = expect(a, status)?;
    if body == want {
        Ok(())
    } else {
        Err(format!(
            "{key}: {} bytes differ from what was written",
            body.len()
        ))
    }
}

async fn multipart(c: &mut Connection, key: &str, w: Written) -> Result<(), String> {
    let a = c
        .call(
            "POST",
            key,
            &[("uploads", "")],
            &w.mode.write_headers(),
            Bytes::new(),
        )
        .await?;
    let body = expect(a, 200)?;
    let upload = element(&body, "UploadId")
        .ok_or("no UploadId in the answer")?
        .to_owned();
    let all = content(w.seed, w.len);
    let parts = [all.slice(..PART), all.slice(PART..)];
    let mut etags = Vec::new();
    for (i, part) in parts.into_iter().enumerate() {
        let number = (i + 1).to_string();
        let a = c
            .call(
                "PUT",
                key,
                &[("partNumber", &number), ("uploadId", &upload)],
                &w.mode.read_headers(),
                part,
            )
            .await?;
        let etag = a.etag.clone().unwrap_or_default();
        expect(a, 200).map_err(|e| format!("part {number}: {e}"))?;
        etags.push(format!(
            "<Part><PartNumber>{number}</PartNumber><ETag>{etag}</ETag></Part>"
        ));
    }
    let done = format!(
        "<CompleteMultipartUpload>{}</CompleteMultipartUpload>",
        etags.concat()
    );
    let a = c
        .call("POST", key, &[("uploadId", &upload)], &[], done.into())
        .await?;
    expect(a, 200).map(drop)
}

async fn copy(
    c: &mut Connection,
    from: &str,
    w: Written,
    to: &str,
    mode: Mode,
) -> Result<(), String> {
    let mut headers = mode.write_headers();
    headers.push((
        "x-cos-copy-source".into(),
        format!("{BUCKET}.cos.ap-beijing.myqcloud.com{from}"),
    ));
    if let Mode::CustomerKey = w.mode {
        headers.extend(
            w.mode
                .headers("x-cos-copy-source-server-side-encryption-customer"),
        );
    }
    let a = c.call("PUT", to, &[], &headers, Bytes::new()).await?;
    expect(a, 200).map(drop)
}

async fn delete(c: &mut Connection, key: &str) -> Result<(), String> {
    let a = c.call("DELETE", key, &[], &[], Bytes::new()).await?;
    expect(a, 204).map(drop)
}
