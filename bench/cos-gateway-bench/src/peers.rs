//! `cos-gateway-bench peers`: the same client against cos-gateway and its S3 peers (issue 15).
//!
//! A reader choosing a local object store weighs moto's S3 server and s3s-fs against the gateway,
//! so `bench/scripts/peers.sh` starts all three and this subcommand drives them in one run with one
//! client: the same hyper HTTP/1.1 keep-alive connections (opened before each timed cell, reopened
//! only when a server closes one, which is counted), the same object sizes, the same in-flight
//! levels. Only the request's dialect differs: the gateway gets COS requests signed as the COS SDKs
//! sign them (virtual-hosted bucket); an S3 peer gets path-style requests without a signature, which
//! both peers accept when started without credentials (moto never checks signatures but refuses
//! anonymous reads of a private bucket, so the bucket is created `public-read-write`; s3s-fs checks
//! only when given an access key). SSE is a header: `x-cos-server-side-encryption` or
//! `x-amz-server-side-encryption`.
//!
//! Rounds interleave the targets (A, B, C, A, B, C, ...) at every measurement, so a slow spell on
//! the shared machine hits every target alike; the ratios are taken round by round and reported as
//! median with min and max. The JSON written with `--out` is what `bench/scripts/charts.py` draws.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper::client::conn::http1::SendRequest;
use serde::Serialize;

use crate::Body;

/// Bucket the S3 peers are driven on (path-style); the gateway's bucket is in `crate::HOST`.
const S3_BUCKET: &str = "benchbucket";
/// Size of the body frames a PUT streams, as the COS SDKs' upload buffer.
const CHUNK: usize = 1 << 20;
/// Small keys per connection that the PUT cell cycles over and the GET cell reads back: enough to
/// miss any per-key cache, few enough that the data stays small on every target.
const SMALL_KEYS_PER_CONNECTION: usize = 256;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A target: NAME=KIND,HOST:PORT,MODE[,MODE...]; KIND is `cos` (the gateway, signed with the
    /// bench credentials) or `s3` (path-style, unsigned); MODE is `plain`, `AES256` or (cos only)
    /// `cos/kms`. The first target is the one the others are compared with.
    #[arg(long = "target", required = true, value_parser = parse_target)]
    targets: Vec<Target>,
    /// Interleaved rounds (the median and the min-max over them are reported).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Size of the small objects, bytes.
    #[arg(long, default_value_t = 4096)]
    small_bytes: usize,
    /// Seconds each small PUT and each small GET cell runs for.
    #[arg(long, default_value_t = 2.0)]
    small_secs: f64,
    /// Requests in flight (one connection each) for the small objects, comma-separated.
    #[arg(long, default_value = "1,16", value_delimiter = ',')]
    in_flight: Vec<usize>,
    /// Size of the large object, MiB (one PUT and one GET per cell and round, one in flight).
    #[arg(long, default_value_t = 64)]
    large_mib: usize,
    /// Where to write the JSON report (the table goes to stdout either way).
    #[arg(long)]
    out: Option<std::path::PathBuf>,
}

/// The request dialect a target speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// cos-gateway: COS-signed, bucket in the Host header.
    Cos,
    /// An S3 server started without credentials: path-style, unsigned.
    S3,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Target {
    name: String,
    kind: Kind,
    addr: SocketAddr,
    modes: Vec<String>,
}

/// Parses `NAME=KIND,HOST:PORT,MODE[,MODE...]`.
pub fn parse_target(s: &str) -> Result<Target, String> {
    let (name, rest) = s
        .split_once('=')
        .ok_or("expected NAME=KIND,HOST:PORT,MODE[,MODE...]")?;
    if name.is_empty() || name.contains(['/', ' ']) {
        return Err(format!("bad target name {name:?}"));
    }
    let mut parts = rest.split(',');
    let kind = match parts.next() {
        Some("cos") => Kind::Cos,
        Some("s3") => Kind::S3,
        other => return Err(format!("unknown kind {other:?}: cos or s3")),
    };
    let addr = parts
        .next()
        .ok_or("missing HOST:PORT")?
        .parse::<SocketAddr>()
        .map_err(|e| format!("bad HOST:PORT: {e}"))?;
    let modes: Vec<String> = parts.map(str::to_owned).collect();
    if modes.is_empty() {
        return Err("no MODE: give at least `plain`".into());
    }
    for (i, mode) in modes.iter().enumerate() {
        let known = match kind {
            Kind::Cos => ["plain", "AES256", "cos/kms"].contains(&mode.as_str()),
            Kind::S3 => ["plain", "AES256"].contains(&mode.as_str()),
        };
        if !known {
            return Err(format!("mode {mode:?} is not one a {kind:?} target takes"));
        }
        if modes[..i].contains(mode) {
            return Err(format!("mode {mode:?} given twice"));
        }
    }
    Ok(Target {
        name: name.to_owned(),
        kind,
        addr,
        modes,
    })
}

impl Target {
    fn request(&self, method: &str, key: &str, mode: &str, len: usize, body: Body) -> Request {
        match self.kind {
            Kind::Cos => {
                let headers: Vec<(String, String)> = match mode {
                    "plain" => vec![],
                    sse => vec![("x-cos-server-side-encryption".into(), sse.into())],
                };
                let headers = if method == "PUT" { headers } else { vec![] };
                crate::request(crate::HOST, method, key, &headers, len, body)
            }
            Kind::S3 => {
                let mut b = http::Request::builder()
                    .method(method)
                    .uri(format!("/{S3_BUCKET}/{key}"))
                    .header("host", self.addr.to_string())
                    .header("content-length", len);
                if method == "PUT" && mode != "plain" {
                    b = b.header("x-amz-server-side-encryption", mode);
                }
                b.body(body).expect("a valid request")
            }
        }
    }

    fn label(&self, mode: &str) -> String {
        format!("{}/{mode}", self.name)
    }
}

type Request = http::Request<Body>;

/// One keep-alive connection, reopened (and counted) when the server closes it.
struct Conn {
    addr: SocketAddr,
    send: SendRequest<Body>,
    reconnects: u64,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Self {
        Self {
            addr,
            send: crate::connect(addr).await,
            reconnects: 0,
        }
    }

    /// Sends one request and drains the response; returns whether it succeeded (2xx) and, for a
    /// failure, the status or transport error, which the caller counts.
    async fn call(&mut self, req: Request) -> Result<usize, String> {
        if self.send.is_closed() || self.send.ready().await.is_err() {
            self.send = crate::connect(self.addr).await;
            self.reconnects += 1;
            self.send.ready().await.map_err(|e| e.to_string())?;
        }
        let resp = self
            .send
            .send_request(req)
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let mut body = resp.into_body();
        let mut n = 0;
        while let Some(frame) = body.frame().await {
            if let Some(d) = frame.map_err(|e| e.to_string())?.data_ref() {
                n += d.len();
            }
        }
        if status.is_success() {
            Ok(n)
        } else {
            Err(format!("HTTP {status}"))
        }
    }
}

fn body_of(data: &Bytes) -> Body {
    let len = data.len();
    if len <= CHUNK {
        return Full::new(data.clone()).boxed();
    }
    let chunks: Vec<Result<_, std::convert::Infallible>> = (0..len.div_ceil(CHUNK))
        .map(|i| {
            Ok(hyper::body::Frame::data(
                data.slice(i * CHUNK..((i + 1) * CHUNK).min(len)),
            ))
        })
        .collect();
    StreamBody::new(futures::stream::iter(chunks)).boxed()
}

fn empty() -> Body {
    Full::new(Bytes::new()).boxed()
}

/// One timed measurement of one target, mode, operation, size and in-flight level.
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    round: usize,
    target: String,
    mode: String,
    op: &'static str,
    bytes: usize,
    in_flight: usize,
    requests: u64,
    errors: u64,
    first_error: Option<String>,
    reconnects: u64,
    secs: f64,
    /// Successful requests per second.
    req_per_s: f64,
    /// Successful payload MiB per second.
    mib_per_s: f64,
}

impl Sample {
    /// The figure a reader compares: MiB/s for the large object, requests/s for small ones.
    fn figure(&self, large: bool) -> f64 {
        if large {
            self.mib_per_s
        } else {
            self.req_per_s
        }
    }
}

struct Tally {
    ok: u64,
    /// The fewest successful requests of any one connection.
    fewest_ok: u64,
    errors: u64,
    first_error: Option<String>,
    reconnects: u64,
}

/// Runs `op` on every connection, each over its own keys (cycling through the first `written`),
/// until `until` (or, without it, one request per connection).
async fn drive(
    target: &Target,
    mode: &str,
    op: &'static str,
    data: &Bytes,
    conns: Vec<Conn>,
    until: Option<Instant>,
    written: usize,
) -> (Vec<Conn>, Tally) {
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(ci, mut conn)| {
            let target = target.clone();
            let mode = mode.to_owned();
            let data = data.clone();
            tokio::spawn(async move {
                let mut t = Tally {
                    ok: 0,
                    fewest_ok: 0,
                    errors: 0,
                    first_error: None,
                    reconnects: 0,
                };
                let mut i = 0usize;
                loop {
                    let key = key(&mode, data.len(), ci, i % written.max(1));
                    let req = if op == "PUT" {
                        target.request("PUT", &key, &mode, data.len(), body_of(&data))
                    } else {
                        target.request("GET", &key, &mode, 0, empty())
                    };
                    match conn.call(req).await {
                        Ok(n) if op == "PUT" || n == data.len() => t.ok += 1,
                        Ok(n) => {
                            t.errors += 1;
                            t.first_error
                                .get_or_insert(format!("GET returned {n} of {} B", data.len()));
                        }
                        Err(e) => {
                            t.errors += 1;
                            t.first_error.get_or_insert(e);
                        }
                    }
                    i += 1;
                    if until.is_none_or(|u| Instant::now() >= u) {
                        break;
                    }
                }
                t.reconnects = conn.reconnects;
                (conn, t)
            })
        })
        .collect();
    let mut conns = Vec::new();
    let mut total = Tally {
        ok: 0,
        fewest_ok: u64::MAX,
        errors: 0,
        first_error: None,
        reconnects: 0,
    };
    for task in tasks {
        let (conn, t) = task.await.expect("load task");
        conns.push(conn);
        total.ok += t.ok;
        total.fewest_ok = total.fewest_ok.min(t.ok);
        total.errors += t.errors;
        total.reconnects += t.reconnects;
        if total.first_error.is_none() {
            total.first_error = t.first_error;
        }
    }
    (conns, total)
}

fn key(mode: &str, bytes: usize, conn: usize, i: usize) -> String {
    format!("obj-{}-{bytes}-{conn}-{i}", mode.replace('/', "-"))
}

/// PUT then GET of one cell; returns the two samples.
async fn cell(
    round: usize,
    target: &Target,
    mode: &str,
    data: &Bytes,
    in_flight: usize,
    secs: Option<f64>,
) -> [Sample; 2] {
    let mut conns = Vec::new();
    for _ in 0..in_flight {
        conns.push(Conn::open(target.addr).await);
    }
    let keys = if secs.is_some() {
        SMALL_KEYS_PER_CONNECTION
    } else {
        1
    };
    let mut out = Vec::new();
    let mut written = keys;
    for op in ["PUT", "GET"] {
        let t = Instant::now();
        let until = secs.map(|s| t + Duration::from_secs_f64(s));
        let (c, tally) = drive(target, mode, op, data, conns, until, written).await;
        conns = c;
        let secs = t.elapsed().as_secs_f64();
        if op == "PUT" {
            // GETs read only keys every connection has written (a short PUT cell may not have
            // cycled through all of them).
            written = keys.min(tally.fewest_ok as usize).max(1);
        }
        out.push(Sample {
            round,
            target: target.name.clone(),
            mode: mode.to_owned(),
            op,
            bytes: data.len(),
            in_flight,
            requests: tally.ok + tally.errors,
            errors: tally.errors,
            first_error: tally.first_error,
            reconnects: tally.reconnects,
            secs,
            req_per_s: tally.ok as f64 / secs,
            mib_per_s: tally.ok as f64 * data.len() as f64 / f64::from(1 << 20) / secs,
        });
    }
    let get = out.pop().expect("two samples");
    let put = out.pop().expect("two samples");
    [put, get]
}

async fn make_bucket(target: &Target) -> Result<(), String> {
    let mut conn = Conn::open(target.addr).await;
    let req = match target.kind {
        Kind::Cos => crate::request(crate::HOST, "PUT", "", &[], 0, empty()),
        // moto answers an unsigned GET of a private bucket with 403 (it treats it as anonymous,
        // though it never checks a signature): the bucket is made public for every S3 peer alike.
        Kind::S3 => http::Request::builder()
            .method("PUT")
            .uri(format!("/{S3_BUCKET}"))
            .header("host", target.addr.to_string())
            .header("x-amz-acl", "public-read-write")
            .header("content-length", 0)
            .body(empty())
            .expect("a valid request"),
    };
    match conn.call(req).await {
        // Already there (the SSE probe of peers.sh makes it first): s3s-fs says so with 409.
        Ok(_) => Ok(()),
        Err(e) if e.contains("409") => Ok(()),
        Err(e) => Err(e),
    }
}

/// The load average (1 min) from /proc/loadavg, where there is one.
fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Median, min and max of a non-empty list.
pub fn spread(mut v: Vec<f64>) -> Stat {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Stat {
        median,
        min: v[0],
        max: v[n - 1],
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Stat {
    median: f64,
    min: f64,
    max: f64,
}

/// The peer mode a mode of the first target is compared with: the same mode when the peer takes
/// it, else the peer's last-listed mode (its strongest SSE; `plain` if that is all it takes).
pub fn peer_mode<'a>(ours: &str, peer: &'a Target) -> &'a str {
    peer.modes
        .iter()
        .find(|m| *m == ours)
        .or(peer.modes.last())
        .expect("a target has modes")
}

#[derive(Serialize)]
struct Summary {
    target: String,
    mode: String,
    op: &'static str,
    bytes: usize,
    in_flight: usize,
    unit: &'static str,
    value: Stat,
    errors: u64,
}

#[derive(Serialize)]
struct Ratio {
    op: &'static str,
    bytes: usize,
    in_flight: usize,
    ours: String,
    peer: String,
    /// ours / peer, taken round by round.
    ratio: Stat,
}

#[derive(Serialize)]
struct Report<'a> {
    tool: &'static str,
    started_unix: u64,
    rounds: usize,
    small_secs: f64,
    targets: &'a [Target],
    loadavg_per_round: Vec<Option<f64>>,
    samples: &'a [Sample],
    summary: Vec<Summary>,
    ratios: Vec<Ratio>,
}

pub async fn run(args: Args) {
    let started_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_secs();
    for t in &args.targets {
        if let Err(e) = make_bucket(t).await {
            eprintln!("warning: creating the bucket on {}: {e}", t.name);
        }
    }
    let small: Bytes = vec![7u8; args.small_bytes].into();
    let large: Bytes = (0..args.large_mib << 20)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<_>>()
        .into();
    let mut samples = Vec::new();
    let mut loads = Vec::new();
    for round in 0..args.rounds {
        loads.push(loadavg());
        let load = loads[round].map_or("unknown".to_owned(), |l| format!("{l:.2}"));
        eprintln!("round {}/{} (load average {load})", round + 1, args.rounds);
        for &n in &args.in_flight {
            for t in &args.targets {
                for mode in &t.modes {
                    samples.extend(cell(round, t, mode, &small, n, Some(args.small_secs)).await);
                }
            }
        }
        for t in &args.targets {
            for mode in &t.modes {
                samples.extend(cell(round, t, mode, &large, 1, None).await);
            }
        }
    }
    let (summary, ratios) = summarise(&args.targets, &samples, args.large_mib << 20);
    print_table(&summary, &ratios);
    if let Some(out) = &args.out {
        let report = Report {
            tool: "cos-gateway-bench peers",
            started_unix,
            rounds: args.rounds,
            small_secs: args.small_secs,
            targets: &args.targets,
            loadavg_per_round: loads,
            samples: &samples,
            summary,
            ratios,
        };
        let json = serde_json::to_string_pretty(&report).expect("the report serialises");
        std::fs::write(out, json).expect("the report is written");
    }
}

/// Per cell the median and spread over rounds; per (ours, peer) pair the ratios round by round.
fn summarise(targets: &[Target], samples: &[Sample], large: usize) -> (Vec<Summary>, Vec<Ratio>) {
    let mut shapes: Vec<(&'static str, usize, usize)> = Vec::new();
    for s in samples {
        let shape = (s.op, s.bytes, s.in_flight);
        if !shapes.contains(&shape) {
            shapes.push(shape);
        }
    }
    let of = |t: &str, m: &str, (op, bytes, n): (&str, usize, usize)| -> Vec<&Sample> {
        samples
            .iter()
            .filter(|s| {
                s.target == t && s.mode == m && s.op == op && s.bytes == bytes && s.in_flight == n
            })
            .collect()
    };
    let mut summary = Vec::new();
    let mut ratios = Vec::new();
    for &shape in &shapes {
        let is_large = shape.1 == large;
        for t in targets {
            for m in &t.modes {
                let cells = of(&t.name, m, shape);
                if cells.is_empty() {
                    continue;
                }
                summary.push(Summary {
                    target: t.name.clone(),
                    mode: m.clone(),
                    op: shape.0,
                    bytes: shape.1,
                    in_flight: shape.2,
                    unit: if is_large { "MiB/s" } else { "req/s" },
                    value: spread(cells.iter().map(|s| s.figure(is_large)).collect()),
                    errors: cells.iter().map(|s| s.errors).sum(),
                });
            }
        }
        let Some((ours, peers)) = targets.split_first() else {
            continue;
        };
        for peer in peers {
            for m in &ours.modes {
                let pm = peer_mode(m, peer);
                let a = of(&ours.name, m, shape);
                let b = of(&peer.name, pm, shape);
                let per_round: Vec<f64> = a
                    .iter()
                    .filter_map(|x| {
                        let y = b.iter().find(|y| y.round == x.round)?;
                        let (fx, fy) = (x.figure(is_large), y.figure(is_large));
                        (fy > 0.0).then(|| fx / fy)
                    })
                    .collect();
                if per_round.is_empty() {
                    continue;
                }
                ratios.push(Ratio {
                    op: shape.0,
                    bytes: shape.1,
                    in_flight: shape.2,
                    ours: ours.label(m),
                    peer: peer.label(pm),
                    ratio: spread(per_round),
                });
            }
        }
    }
    (summary, ratios)
}

fn print_table(summary: &[Summary], ratios: &[Ratio]) {
    println!("| op | size | in flight | target/mode | median | min-max | errors |");
    println!("|---|---|---|---|---|---|---|");
    for s in summary {
        println!(
            "| {} | {} | {} | {}/{} | {:.1} {} | {:.1}-{:.1} | {} |",
            s.op,
            size(s.bytes),
            s.in_flight,
            s.target,
            s.mode,
            s.value.median,
            s.unit,
            s.value.min,
            s.value.max,
            s.errors
        );
    }
    println!();
    println!("| op | size | in flight | ours | peer | ours / peer, median | min-max |");
    println!("|---|---|---|---|---|---|---|");
    for r in ratios {
        println!(
            "| {} | {} | {} | {} | {} | {:.2}x | {:.2}-{:.2}x |",
            r.op,
            size(r.bytes),
            r.in_flight,
            r.ours,
            r.peer,
            r.ratio.median,
            r.ratio.min,
            r.ratio.max
        );
    }
}

fn size(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        let t = parse_target("gateway=cos,127.0.0.1:9000,plain,AES256,cos/kms").unwrap();
        assert_eq!(t.name, "gateway");
        assert_eq!(t.kind, Kind::Cos);
        assert_eq!(t.addr, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(t.modes, ["plain", "AES256", "cos/kms"]);
        let t = parse_target("s3s-fs=s3,[::1]:8014,plain").unwrap();
        assert_eq!((t.kind, t.modes.len()), (Kind::S3, 1));
    }

    #[test]
    fn refuses_bad_targets() {
        for bad in [
            "gateway",
            "=cos,127.0.0.1:1,plain",
            "a/b=cos,127.0.0.1:1,plain",
            "x=ftp,127.0.0.1:1,plain",
            "x=s3,localhost,plain",
            "x=s3,127.0.0.1:1",
            "x=s3,127.0.0.1:1,cos/kms",
            "x=cos,127.0.0.1:1,SSE-C",
            "x=cos,127.0.0.1:1,plain,plain",
        ] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pairs_modes_with_the_peers() {
        let moto = parse_target("moto=s3,127.0.0.1:1,plain,AES256").unwrap();
        let fs = parse_target("fs=s3,127.0.0.1:1,plain").unwrap();
        assert_eq!(peer_mode("plain", &moto), "plain");
        assert_eq!(peer_mode("AES256", &moto), "AES256");
        assert_eq!(peer_mode("cos/kms", &moto), "AES256");
        assert_eq!(peer_mode("cos/kms", &fs), "plain");
    }

    #[test]
    fn spreads() {
        let s = spread(vec![3.0, 1.0, 2.0]);
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(spread(vec![4.0, 1.0, 2.0, 9.0]).median, 3.0);
    }

    #[test]
    fn ratios_are_taken_round_by_round() {
        let targets = [
            parse_target("gw=cos,127.0.0.1:1,plain").unwrap(),
            parse_target("p=s3,127.0.0.1:2,plain").unwrap(),
        ];
        let sample = |round, target: &str, req_per_s| Sample {
            round,
            target: target.into(),
            mode: "plain".into(),
            op: "PUT",
            bytes: 4096,
            in_flight: 1,
            requests: 1,
            errors: 0,
            first_error: None,
            reconnects: 0,
            secs: 1.0,
            req_per_s,
            mib_per_s: 0.0,
        };
        // The gateway is twice as fast in round 0 and four times in round 1, while both slow
        // down together in round 1: the ratios are 2 and 4, not a ratio of medians.
        let samples = [
            sample(0, "gw", 200.0),
            sample(0, "p", 100.0),
            sample(1, "gw", 100.0),
            sample(1, "p", 25.0),
        ];
        let (summary, ratios) = summarise(&targets, &samples, 64 << 20);
        assert_eq!(summary.len(), 2);
        assert_eq!(summary[0].value.median, 150.0);
        assert_eq!(summary[0].unit, "req/s");
        assert_eq!(ratios.len(), 1);
        assert_eq!(
            (ratios[0].ours.as_str(), ratios[0].peer.as_str()),
            ("gw/plain", "p/plain")
        );
        assert_eq!(
            ratios[0].ratio,
            Stat {
                median: 3.0,
                min: 2.0,
                max: 4.0
            }
        );
    }

    #[test]
    fn sizes_read_as_a_reader_writes_them() {
        assert_eq!(size(4096), "4 KiB");
        assert_eq!(size(64 << 20), "64 MiB");
        assert_eq!(size(1000), "1000 B");
    }
}
