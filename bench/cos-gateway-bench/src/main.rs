//! `cos-gateway-bench`: the load tool of `bench/BENCHMARKS.md` (section "COS gateway").
//!
//! Starts a gateway in process (embedded KMS, or a separate `kms-server` over gRPC with
//! `--kms-endpoint`; a temp data dir, plain HTTP on 127.0.0.1:0 so the figures measure the
//! gateway, not TLS) and drives it with one signing HTTP/1.1 keep-alive client:
//!
//! * PUT and GET of one large object (default 256 MiB) for plain, AES256, cos/kms and SSE-C over
//!   `--rounds` rounds that interleave the modes (1 PUT and `--gets-per-round` GETs of each mode per
//!   round); the best and the median PUT and GET reported;
//! * small objects (default 4 KiB): per mode of `--small-modes` (plain, AES256, cos/kms, and
//!   `cos/kms+bucket-key`: cos/kms to a second bucket whose encryption document enables bucket
//!   keys), `--small-requests` PUTs then as many GETs over `--connections` connections, the modes
//!   interleaved over `--small-rounds` rounds; the median round and the spread reported, and each
//!   mode against AES256.
//!
//! Run: `cargo run --release -p cos-gateway-bench`
//!
//! `cos-gateway-bench peers --target ...` drives running servers instead, the gateway and its S3
//! peers side by side (see `peers.rs` and `bench/scripts/peers.sh`).

mod peers;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use cos_gateway::auth::{Credentials, SecretKey};
use cos_gateway::{Config, Gateway, KmsBackend};
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

/// mimalloc: its per-thread heaps avoid glibc's arena lock, which the runtime threads otherwise
/// contend on for every request's buffers (see bench/BENCHMARKS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ID: &str = "AKIDbench";
const KEY: &str = "bench-secret";
const HOST: &str = "benchbucket-1250000000.cos.ap-beijing.myqcloud.com";
/// The bucket whose encryption document enables bucket keys (mode `cos/kms+bucket-key`).
const HOST_BUCKET_KEY: &str = "benchbk-1250000000.cos.ap-beijing.myqcloud.com";
/// The small-object mode that writes SSE-KMS under a bucket key.
const BUCKET_KEY_MODE: &str = "cos/kms+bucket-key";
/// The encryption document of [`HOST_BUCKET_KEY`].
const BUCKET_KEY_DOCUMENT: &str = "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>KMS</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>";

#[derive(Parser, Debug)]
#[command(
    about = "Throughput and request rate of cos-gateway per SSE mode",
    args_conflicts_with_subcommands = true
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Size of the large object, MiB.
    #[arg(long, default_value_t = 256)]
    large_mib: usize,
    /// Rounds of the large PUT/GET per mode (the best and the median are reported).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// GETs of each large object per round (interleaved across modes, each one a sample).
    #[arg(long, default_value_t = 3)]
    gets_per_round: usize,
    /// Size of the small objects, bytes.
    #[arg(long, default_value_t = 4096)]
    small_bytes: usize,
    /// Small PUTs (and as many GETs) per mode.
    #[arg(long, default_value_t = 4000)]
    small_requests: usize,
    /// Concurrent connections for the small-object phase.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Large-object modes to run (comma-separated).
    #[arg(
        long,
        default_value = "plain,AES256,cos/kms,SSE-C",
        value_delimiter = ','
    )]
    modes: Vec<String>,
    /// Skip the small-object phase.
    #[arg(long)]
    no_small: bool,
    /// Skip the large-object phase.
    #[arg(long)]
    no_large: bool,
    /// Small-object modes (comma-separated; `cos/kms+bucket-key` is cos/kms to a bucket with
    /// `<BucketKeyEnabled>true</BucketKeyEnabled>`).
    #[arg(
        long,
        default_value = "plain,AES256,cos/kms,cos/kms+bucket-key",
        value_delimiter = ','
    )]
    small_modes: Vec<String>,
    /// Rounds of the small-object phase; each runs every mode once, in turn.
    #[arg(long, default_value_t = 5)]
    small_rounds: usize,
    /// Use a running kms-server over gRPC (e.g. `http://127.0.0.1:50051`) instead of the embedded
    /// KMS; its `alias/kms-cos-sse` is the SSE-COS key.
    #[arg(long)]
    kms_endpoint: Option<String>,
    /// Data directory (default: a temp dir; put it on the disk you want to measure).
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Drive running servers (the gateway and S3 peers) side by side in interleaved rounds.
    Peers(peers::Args),
}

type Body = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

fn mode_headers(mode: &str) -> Vec<(String, String)> {
    use base64::Engine as _;
    use md5::Digest as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = [0x42u8; 32];
    match mode {
        "plain" => vec![],
        "AES256" => vec![("x-cos-server-side-encryption".into(), "AES256".into())],
        "cos/kms" | BUCKET_KEY_MODE => {
            vec![("x-cos-server-side-encryption".into(), "cos/kms".into())]
        }
        "SSE-C" => vec![
            (
                "x-cos-server-side-encryption-customer-algorithm".into(),
                "AES256".into(),
            ),
            (
                "x-cos-server-side-encryption-customer-key".into(),
                b64.encode(key),
            ),
            (
                "x-cos-server-side-encryption-customer-key-MD5".into(),
                b64.encode(md5::Md5::digest(key)),
            ),
        ],
        _ => unreachable!("modes are fixed"),
    }
}

async fn connect(addr: std::net::SocketAddr) -> SendRequest<Body> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("the gateway listens");
    stream.set_nodelay(true).expect("nodelay");
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(conn);
    send
}

/// The bucket a mode's objects go to.
fn host_of(mode: &str) -> &'static str {
    if mode == BUCKET_KEY_MODE {
        HOST_BUCKET_KEY
    } else {
        HOST
    }
}

fn request(
    host: &str,
    method: &str,
    key: &str,
    headers: &[(String, String)],
    len: usize,
    body: Body,
) -> http::Request<Body> {
    let now = cos_gateway::wire::now_secs();
    let uri = format!("/{key}");
    // A sub-resource (`?encryption`) is signed as a parameter with an empty value.
    let (path, query) = match uri.split_once('?') {
        Some((p, q)) => (p.to_owned(), vec![(q.to_owned(), String::new())]),
        None => (uri.clone(), Vec::new()),
    };
    let mut signed = headers.to_vec();
    signed.push(("host".into(), host.into()));
    let auth = cos_gateway::auth::sign(
        ID,
        &SecretKey::new(KEY),
        method,
        &path,
        &query,
        &signed,
        (now - 60, now + 3600),
    );
    let mut b = http::Request::builder()
        .method(method)
        .uri(&uri)
        .header("host", host)
        .header("authorization", auth)
        .header("content-length", len);
    for (k, v) in headers {
        b = b.header(k.as_str(), v.as_str());
    }
    b.body(body).expect("a valid request")
}

async fn put(send: &mut SendRequest<Body>, key: &str, mode: &str, data: Bytes, chunk: usize) {
    let len = data.len();
    let body: Body = if len <= chunk {
        Full::new(data).boxed()
    } else {
        let chunks: Vec<Result<_, std::convert::Infallible>> = (0..len.div_ceil(chunk))
            .map(|i| {
                Ok(hyper::body::Frame::data(
                    data.slice(i * chunk..((i + 1) * chunk).min(len)),
                ))
            })
            .collect();
        StreamBody::new(futures::stream::iter(chunks)).boxed()
    };
    send.ready().await.expect("connection ready");
    let resp = send
        .send_request(request(
            host_of(mode),
            "PUT",
            key,
            &mode_headers(mode),
            len,
            body,
        ))
        .await
        .expect("PUT sent");
    assert_eq!(resp.status(), 200, "PUT {key} ({mode})");
    let _ = resp.into_body().collect().await;
}

async fn get(send: &mut SendRequest<Body>, key: &str, mode: &str) -> usize {
    let headers = if mode == "SSE-C" {
        mode_headers(mode)
    } else {
        vec![]
    };
    send.ready().await.expect("connection ready");
    let resp = send
        .send_request(request(
            host_of(mode),
            "GET",
            key,
            &headers,
            0,
            Full::new(Bytes::new()).boxed(),
        ))
        .await
        .expect("GET sent");
    assert_eq!(resp.status(), 200, "GET {key} ({mode})");
    let mut body = resp.into_body();
    let mut n = 0;
    while let Some(frame) = body.frame().await {
        if let Some(d) = frame.expect("GET body").data_ref() {
            n += d.len();
        }
    }
    n
}

fn mib_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / d.as_secs_f64()
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Some(Command::Peers(peers)) = args.command {
        peers::run(peers).await;
        return;
    }
    let tmp = tempfile::tempdir().expect("a temp dir");
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| tmp.path().to_owned());
    let mut credentials = Credentials::new();
    credentials.insert(ID, SecretKey::new(KEY));
    use base64::Engine as _;
    let root = storage_adapter::RootKey::from_base64(
        &base64::engine::general_purpose::STANDARD.encode([1u8; 32]),
    )
    .expect("a valid root key");
    let kms = match &args.kms_endpoint {
        None => KmsBackend::Embedded(root),
        Some(url) => {
            let client = kms_client::KmsClient::builder(url.as_str())
                .connect_lazy()
                .expect("a valid KMS endpoint");
            KmsBackend::Provider(Arc::new(storage_adapter::provider::grpc::GrpcKms::new(
                client,
                "alias/kms-cos-sse",
            )))
        }
    };
    let gateway = Gateway::open(Config {
        data_dir,
        credentials,
        kms,
        allow_ssec_over_http: true,
        max_signature_age: cos_gateway::auth::DEFAULT_MAX_SIGNATURE_AGE,
        region: cos_gateway::state::DEFAULT_REGION.to_owned(),
        restore_delay: cos_gateway::restore::DEFAULT_DELAY,
        bucket_keys: Default::default(),
    })
    .await
    .expect("the gateway opens");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(cos_gateway::serve(
        Arc::clone(&gateway),
        listener,
        None,
        async {
            let _ = stopped.await;
        },
    ));
    let mut c = connect(addr).await;
    for host in [HOST, HOST_BUCKET_KEY] {
        c.ready().await.expect("ready");
        let resp = c
            .send_request(request(
                host,
                "PUT",
                "",
                &[],
                0,
                Full::new(Bytes::new()).boxed(),
            ))
            .await
            .expect("PUT bucket");
        assert_eq!(resp.status(), 200);
    }
    c.ready().await.expect("ready");
    let doc = Bytes::from_static(BUCKET_KEY_DOCUMENT.as_bytes());
    let resp = c
        .send_request(request(
            HOST_BUCKET_KEY,
            "PUT",
            "?encryption",
            &[],
            doc.len(),
            Full::new(doc).boxed(),
        ))
        .await
        .expect("PUT bucket encryption");
    assert_eq!(resp.status(), 200, "PUT bucket encryption");
    let _ = resp.into_body().collect().await;

    println!(
        "cos-gateway-bench: KMS {}, bodies through {}, large {}, small {} B x {} requests over {} connections x {} rounds, plain HTTP on {addr}",
        args.kms_endpoint.as_deref().unwrap_or("embedded"),
        storage_adapter::AeadBackend::current().name(),
        if args.no_large {
            "skipped".to_owned()
        } else {
            format!(
                "{} MiB x {} rounds of 1 PUT and {} GETs per mode (modes interleaved)",
                args.large_mib, args.rounds, args.gets_per_round
            )
        },
        args.small_bytes,
        args.small_requests,
        args.connections,
        args.small_rounds
    );
    if !args.no_large {
        large_phase(&args, &mut c).await;
    }

    if args.no_small {
        let _ = stop.send(());
        let _ = server.await;
        return;
    }

    let small: Bytes = vec![7u8; args.small_bytes].into();
    let small_modes: Vec<&str> = args.small_modes.iter().map(String::as_str).collect();
    let per = args.small_requests / args.connections;
    // Rounds interleave the modes, so a slow spell on the shared machine hits every mode alike.
    let mut rates = vec![(Vec::new(), Vec::new()); small_modes.len()];
    for round in 0..args.small_rounds {
        for (i, mode) in small_modes.iter().enumerate() {
            let (p, g) = small_round(addr, mode, round, per, args.connections, &small).await;
            rates[i].0.push(p);
            rates[i].1.push(g);
        }
    }
    println!();
    println!(
        "Small objects ({} B, {} PUTs then {} GETs per mode and round over {} connections, {} interleaved rounds; median round, [min-max]):",
        args.small_bytes,
        per * args.connections,
        per * args.connections,
        args.connections,
        args.small_rounds
    );
    println!();
    println!("| mode | small PUT req/s | small GET req/s | PUT vs AES256 | GET vs AES256 |");
    println!("|---|---|---|---|---|");
    let spread = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[0], v[v.len() - 1])
    };
    let summary: Vec<_> = rates
        .iter_mut()
        .map(|(p, g)| (spread(p), spread(g)))
        .collect();
    let reference = small_modes.iter().position(|m| *m == "AES256");
    for (mode, (p, g)) in small_modes.iter().zip(&summary) {
        let vs = |x: f64, of: Option<f64>| of.map_or("-".to_owned(), |of| format!("{:.2}", x / of));
        let (rp, rg) = match reference {
            Some(r) => (Some(summary[r].0.0), Some(summary[r].1.0)),
            None => (None, None),
        };
        println!(
            "| {mode} | {:.0} [{:.0}-{:.0}] | {:.0} [{:.0}-{:.0}] | {} | {} |",
            p.0,
            p.1,
            p.2,
            g.0,
            g.1,
            g.2,
            vs(p.0, rp),
            vs(g.0, rg)
        );
    }
    let _ = stop.send(());
    let _ = server.await;
}

/// One round of one small-object mode: `per` PUTs then `per` GETs on each of `connections`
/// connections; the PUT and GET rates (requests per second).
async fn small_round(
    addr: std::net::SocketAddr,
    mode: &str,
    round: usize,
    per: usize,
    connections: usize,
    small: &Bytes,
) -> (f64, f64) {
    let total = per * connections;
    let key = move |mode: &str, ci: usize, i: usize| {
        format!("small-{}-{round}-{ci}-{i}", mode.replace(['/', '+'], "-"))
    };
    let mut conns = Vec::new();
    for _ in 0..connections {
        conns.push(connect(addr).await);
    }
    let t = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(ci, mut s)| {
            let small = small.clone();
            let mode = mode.to_owned();
            tokio::spawn(async move {
                for i in 0..per {
                    put(&mut s, &key(&mode, ci, i), &mode, small.clone(), 1 << 20).await;
                }
                s
            })
        })
        .collect();
    let mut conns = Vec::new();
    for task in tasks {
        conns.push(task.await.expect("PUT task"));
    }
    let put_rate = total as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(ci, mut s)| {
            let mode = mode.to_owned();
            tokio::spawn(async move {
                for i in 0..per {
                    get(&mut s, &key(&mode, ci, i), &mode).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("GET task");
    }
    (put_rate, total as f64 / t.elapsed().as_secs_f64())
}

/// The large-object phase (see the crate doc).
async fn large_phase(args: &Args, c: &mut SendRequest<Body>) {
    let large: Bytes = (0..args.large_mib << 20)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<_>>()
        .into();
    // Rounds interleave the modes (PUT of each, then GET of each), so a slow spell on the shared
    // machine hits every mode alike; each mode is reported by its best and its median round.
    let modes: Vec<&str> = args.modes.iter().map(String::as_str).collect();
    let key = |mode: &str| format!("large-{}", mode.replace('/', "-"));
    let mut puts = vec![Vec::new(); modes.len()];
    let mut gets = vec![Vec::new(); modes.len()];
    for _ in 0..args.rounds {
        for (i, mode) in modes.iter().enumerate() {
            let t = Instant::now();
            put(c, &key(mode), mode, large.clone(), 1 << 20).await;
            puts[i].push(mib_s(large.len(), t.elapsed()));
        }
        for _ in 0..args.gets_per_round {
            for (i, mode) in modes.iter().enumerate() {
                let t = Instant::now();
                let n = get(c, &key(mode), mode).await;
                gets[i].push(mib_s(large.len(), t.elapsed()));
                assert_eq!(n, large.len());
            }
        }
    }
    // Each GET over the plain GET of the same pass (taken moments before it): paired, so a slow
    // spell that spans a pass moves both sides.
    let base = modes.iter().position(|m| *m == "plain");
    let paired: Vec<Vec<f64>> = base.map_or_else(Vec::new, |b| {
        gets.iter()
            .map(|g| g.iter().zip(&gets[b]).map(|(x, p)| x / p).collect())
            .collect()
    });
    println!();
    println!(
        "| mode | PUT MiB/s best | GET MiB/s best | GET MiB/s median | PUT vs plain | GET vs plain (best) | GET vs plain (median) |"
    );
    println!("|---|---|---|---|---|---|---|");
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() - 1], v[v.len() / 2])
    };
    let summary: Vec<_> = puts
        .iter_mut()
        .zip(gets.iter_mut())
        .map(|(p, g)| (stats(p).0, stats(g)))
        .collect();
    for (mode, (p, (g_best, g_med))) in modes.iter().zip(&summary) {
        let pct = |x: f64, of: f64| match base {
            Some(_) => format!("{:.0}%", 100.0 * x / of),
            None => "-".to_owned(),
        };
        let (bp, (bg, bm)) = base.map_or((1.0, (1.0, 1.0)), |b| summary[b]);
        println!(
            "| {mode} | {p:.0} | {g_best:.0} | {g_med:.0} | {} | {} | {} |",
            pct(*p, bp),
            pct(*g_best, bg),
            pct(*g_med, bm)
        );
    }
    for (mode, g) in modes.iter().zip(&gets) {
        let all: Vec<String> = g.iter().map(|x| format!("{x:.0}")).collect();
        println!("GET {mode} MiB/s, every GET (sorted): {}", all.join(" "));
    }
    for (mode, mut r) in modes.iter().zip(paired) {
        if *mode == "plain" || r.is_empty() {
            continue;
        }
        r.sort_by(f64::total_cmp);
        println!(
            "GET {mode} / plain GET of the same pass: median {:.3} (range {:.3}-{:.3}, {} pairs)",
            r[r.len() / 2],
            r[0],
            r[r.len() - 1],
            r.len()
        );
    }
    drop(large);
}
