//! Shared test helpers: a gateway on 127.0.0.1:0 in a temp dir (HTTP or HTTPS, embedded KMS), and
//! a small signing HTTP/1.1 client that also returns the raw response head.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use cos_gateway::auth::{Credentials, SecretKey};
use cos_gateway::{Config, Gateway, KmsBackend};

pub const SECRET_ID: &str = "AKIDgatewaytest";
pub const SECRET_KEY: &str = "gateway-test-secret-key";
pub const BUCKET: &str = "examplebucket-1250000000";
pub const HOST: &str = "examplebucket-1250000000.cos.ap-beijing.myqcloud.com";

/// A running gateway; stops when dropped.
pub struct TestGateway {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub gateway: Arc<Gateway>,
    pub ca_pem: Option<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub struct Options {
    pub tls: bool,
    pub allow_ssec_over_http: bool,
    /// The gateway's bucket-key settings (`--bucket-keys`, the cache time).
    pub bucket_keys: cos_gateway::state::BucketKeys,
}

/// How long a restore takes in the test gateways: long enough that the few requests a test sends
/// right after POST restore see it running on a loaded machine (readiness counts whole seconds, so
/// the window is at least 4 s), short enough to wait for.
pub const RESTORE_DELAY: std::time::Duration = std::time::Duration::from_secs(5);

/// A gateway over plain HTTP that accepts SSE-C headers anyway (a test convenience), embedded KMS.
pub fn start_http() -> TestGateway {
    start(Options {
        tls: false,
        allow_ssec_over_http: true,
        bucket_keys: Default::default(),
    })
}

/// [`start_http`] with [`BUCKET`] created.
pub fn start_with_bucket() -> TestGateway {
    let gw = start_http();
    create_bucket(gw.addr);
    gw
}

/// Creates [`BUCKET`] (PUT Bucket must answer 200).
pub fn create_bucket(addr: SocketAddr) {
    let r = Req::new("PUT", "/").send(addr);
    assert_eq!(r.status, 200, "PUT Bucket: {}", r.head);
}

/// Starts a gateway over any key provider (default: the embedded KMS).
pub fn start(opts: Options) -> TestGateway {
    start_with(opts, None)
}

/// Starts a gateway on its own runtime thread, over `provider` or the embedded KMS.
pub fn start_with(
    opts: Options,
    provider: Option<Arc<dyn storage_adapter::KeyProvider>>,
) -> TestGateway {
    start_serving(opts, provider, cos_gateway::ServeOptions::default())
}

/// Starts a gateway with explicit connection and body limits.
pub fn start_serving(
    opts: Options,
    provider: Option<Arc<dyn storage_adapter::KeyProvider>>,
    limits: cos_gateway::ServeOptions,
) -> TestGateway {
    launch(opts, provider, limits, Catalog::Sqlite)
}

/// A gateway over plain HTTP (SSE-C allowed), embedded KMS, with explicit connection and request
/// limits: what the limit and slow-client tests start.
pub fn start_limited(limits: cos_gateway::ServeOptions) -> TestGateway {
    start_serving(
        Options {
            tls: false,
            allow_ssec_over_http: true,
            bucket_keys: Default::default(),
        },
        None,
        limits,
    )
}

/// Makes the gateway's store in its data directory (a test's own catalog or disk budget).
pub type MakeStore = Box<dyn FnOnce(&std::path::Path) -> cos_gateway::store::Store + Send>;

/// Which metadata catalog the gateway's store keeps.
pub enum Catalog {
    /// `gateway.sqlite3`, as the binary runs.
    Sqlite,
    /// `store::MemoryCatalog`: the same operations over another backend.
    Memory,
    /// Whatever store the test makes.
    Custom(MakeStore),
}

/// [`start_http`] over the store `make` builds in the data directory.
pub fn start_http_with_store(make: MakeStore) -> TestGateway {
    start_limited_with_store(cos_gateway::ServeOptions::default(), make)
}

/// [`start_limited`] over the store `make` builds in the data directory.
pub fn start_limited_with_store(limits: cos_gateway::ServeOptions, make: MakeStore) -> TestGateway {
    launch(
        Options {
            tls: false,
            allow_ssec_over_http: true,
            bucket_keys: Default::default(),
        },
        None,
        limits,
        Catalog::Custom(make),
    )
}

/// [`start_http`], with the store's metadata in memory instead of SQLite.
pub fn start_http_in_memory() -> TestGateway {
    launch(
        Options {
            tls: false,
            allow_ssec_over_http: true,
            bucket_keys: Default::default(),
        },
        None,
        cos_gateway::ServeOptions::default(),
        Catalog::Memory,
    )
}

fn launch(
    opts: Options,
    provider: Option<Arc<dyn storage_adapter::KeyProvider>>,
    limits: cos_gateway::ServeOptions,
    catalog: Catalog,
) -> TestGateway {
    launch_in(
        tempfile::tempdir().unwrap(),
        opts,
        provider,
        limits,
        catalog,
    )
}

impl TestGateway {
    /// Stops this gateway (plain HTTP, SSE-C allowed, embedded KMS, SQLite) and starts a new one
    /// on the same data directory, as a restart of the binary would.
    pub fn restart_http(mut self) -> TestGateway {
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        drop(self);
        launch_in(
            dir,
            Options {
                tls: false,
                allow_ssec_over_http: true,
                bucket_keys: Default::default(),
            },
            None,
            cos_gateway::ServeOptions::default(),
            Catalog::Sqlite,
        )
    }
}

fn launch_in(
    dir: tempfile::TempDir,
    opts: Options,
    provider: Option<Arc<dyn storage_adapter::KeyProvider>>,
    limits: cos_gateway::ServeOptions,
    catalog: Catalog,
) -> TestGateway {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let data_dir = dir.path().to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut credentials = Credentials::new();
            credentials.insert(SECRET_ID, SecretKey::new(SECRET_KEY));
            use base64::Engine as _;
            let root = kms_server::RootKey::from_base64(
                &base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
            )
            .unwrap();
            let store = match catalog {
                Catalog::Sqlite => cos_gateway::store::Store::open(&data_dir),
                Catalog::Memory => cos_gateway::store::Store::in_memory(&data_dir),
                Catalog::Custom(make) => Ok(make(&data_dir)),
            }
            .unwrap();
            let gateway = Gateway::with_store(
                Config {
                    data_dir,
                    credentials,
                    kms: match provider {
                        Some(p) => KmsBackend::Provider(p),
                        None => KmsBackend::Embedded(root),
                    },
                    allow_ssec_over_http: opts.allow_ssec_over_http,
                    max_signature_age: cos_gateway::auth::DEFAULT_MAX_SIGNATURE_AGE,
                    region: cos_gateway::state::DEFAULT_REGION.to_owned(),
                    restore_delay: RESTORE_DELAY,
                    bucket_keys: opts.bucket_keys,
                },
                store,
            )
            .await
            .unwrap();
            let (tls, ca) = if opts.tls {
                let s = cos_gateway::tls::self_signed(&[]).unwrap();
                (Some(s.config), Some(s.ca_pem))
            } else {
                (None, None)
            };
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send((listener.local_addr().unwrap(), Arc::clone(&gateway), ca))
                .unwrap();
            cos_gateway::serve_with(gateway, listener, tls, limits, async {
                let _ = stop_rx.await;
            })
            .await
            .unwrap();
        });
    });
    let (addr, gateway, ca_pem) = rx.recv().unwrap();
    TestGateway {
        addr,
        dir,
        gateway,
        ca_pem,
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

/// A response read off the wire, header names as sent.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub head: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Raw {
    /// A header by exact (case-sensitive) name.
    pub fn exact(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A header by case-insensitive name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy), for messages and `contains` checks.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts the status, showing the response head and body when it differs.
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "{}\n{}", self.head, self.text());
        self
    }

    /// The `<Code>` of an error document.
    pub fn code(&self) -> String {
        let b = String::from_utf8_lossy(&self.body);
        b.split("<Code>")
            .nth(1)
            .and_then(|r| r.split("</Code>").next())
            .unwrap_or("")
            .to_owned()
    }

    /// Asserts an error: status, code, and the four non-empty fields.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code().as_str()),
            (status, code),
            "{}\n{}",
            self.head,
            String::from_utf8_lossy(&self.body)
        );
        let b = String::from_utf8_lossy(&self.body);
        for f in ["Code", "Message", "Resource", "RequestId"] {
            let v = b
                .split(&format!("<{f}>"))
                .nth(1)
                .and_then(|r| r.split(&format!("</{f}>")).next())
                .unwrap_or("");
            assert!(!v.is_empty(), "empty <{f}> in {b}");
        }
        assert!(self.exact("x-cos-request-id").is_some());
    }
}

/// One request: signed (Host and every given header) unless `sign` is false.
pub struct Req<'a> {
    pub method: &'a str,
    /// Request target as sent (already percent-encoded), e.g. `/key?uploads`.
    pub target: &'a str,
    /// The decoded path the signature covers.
    pub path: &'a str,
    pub host: &'a str,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub sign: bool,
    /// Send no `Content-Length` (the body must then be empty).
    pub no_length: bool,
}

impl<'a> Req<'a> {
    pub fn new(method: &'a str, target: &'a str) -> Self {
        let path = target.split('?').next().unwrap();
        Self {
            method,
            target,
            path,
            host: HOST,
            headers: Vec::new(),
            body: Vec::new(),
            sign: true,
            no_length: false,
        }
    }

    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_owned(), v.to_owned()));
        self
    }

    /// Adds every header of `headers` (for example [`ssec`]'s).
    pub fn headers(mut self, headers: &[(String, String)]) -> Self {
        self.headers.extend_from_slice(headers);
        self
    }

    pub fn body(mut self, b: impl Into<Vec<u8>>) -> Self {
        self.body = b.into();
        self
    }

    pub fn without_length(mut self) -> Self {
        self.no_length = true;
        self
    }

    pub fn unsigned(mut self) -> Self {
        self.sign = false;
        self
    }

    pub fn path(mut self, p: &'a str) -> Self {
        self.path = p;
        self
    }

    pub fn host(mut self, h: &'a str) -> Self {
        self.host = h;
        self
    }

    /// Sends it to `addr` over plain HTTP and reads the whole response.
    pub fn send(self, addr: SocketAddr) -> Raw {
        self.send_on(std::net::TcpStream::connect(addr).unwrap(), None)
    }

    /// [`Req::send`], failing if the gateway goes quiet for `within` (a request that should be
    /// answered but may be stuck behind others).
    pub fn send_within(self, addr: SocketAddr, within: std::time::Duration) -> Raw {
        self.send_on(std::net::TcpStream::connect(addr).unwrap(), Some(within))
    }

    /// Sends it on a connection already open and reads the whole response.
    pub fn send_on(self, mut s: std::net::TcpStream, within: Option<std::time::Duration>) -> Raw {
        use std::io::{Read as _, Write as _};
        s.set_read_timeout(within).unwrap();
        s.write_all(self.head().as_bytes()).unwrap();
        s.write_all(&self.body).unwrap();
        let mut out = Vec::new();
        if let Err(e) = s.read_to_end(&mut out) {
            panic!(
                "{} {}: no complete response ({e}); got {:?}",
                self.method,
                self.target,
                String::from_utf8_lossy(&out)
            );
        }
        Raw::parse(&out)
    }

    /// The request line and headers as sent (signed; `Content-Length` of the body unless
    /// `without_length`), ending with the blank line.
    pub fn head(&self) -> String {
        let query: Vec<(String, String)> = self
            .target
            .split_once('?')
            .map(|(_, q)| {
                q.split('&')
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p.split_once('=').unwrap_or((p, ""));
                        // Not UTF-8: the gateway refuses it before the signature.
                        (
                            cos_gateway::wire::decode_query(k).unwrap_or_default(),
                            cos_gateway::wire::decode_query(v).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut headers = self.headers.clone();
        headers.push(("Host".into(), self.host.to_owned()));
        let mut to_sign = headers.clone();
        if !self.no_length {
            to_sign.push(("Content-Length".into(), self.body.len().to_string()));
        }
        if self.sign {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            let auth = cos_gateway::auth::sign(
                SECRET_ID,
                &SecretKey::new(SECRET_KEY),
                self.method,
                self.path,
                &query,
                &to_sign,
                (now - 60, now + 600),
            );
            headers.push(("Authorization".into(), auth));
        }
        let mut req = format!("{} {} HTTP/1.1\r\n", self.method, self.target);
        for (k, v) in &headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if !self.no_length {
            req.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        req.push_str("Connection: close\r\n\r\n");
        req
    }
}

impl Raw {
    /// Parses a whole response as read off the wire.
    pub fn parse(out: &[u8]) -> Raw {
        let split = out
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a response head");
        let head = String::from_utf8_lossy(&out[..split]).into_owned();
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Raw {
            status,
            head,
            headers,
            body: out[split + 4..].to_vec(),
        }
    }
}

/// A presigned request target for `method` on `path` (on [`HOST`]), with `extra` parameters signed
/// along with it.
pub fn presign(method: &str, path: &str, extra: &[(&str, &str)]) -> String {
    let now = cos_gateway::wire::now_secs();
    let query: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let auth = cos_gateway::auth::sign(
        SECRET_ID,
        &SecretKey::new(SECRET_KEY),
        method,
        path,
        &query,
        &[("host".into(), HOST.into())],
        (now - 10, now + 100),
    );
    let mut params: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{k}={}", cos_gateway::wire::cos_encode(v)))
        .collect();
    params.extend(auth.split('&').map(|p| {
        let (k, v) = p.split_once('=').unwrap();
        format!("{k}={}", cos_gateway::wire::cos_encode(v))
    }));
    format!("{path}?{}", params.join("&"))
}

/// SSE-C headers for a 32-byte key.
pub fn ssec(key: &[u8; 32]) -> Vec<(String, String)> {
    use base64::Engine as _;
    use md5::Digest as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    vec![
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
    ]
}

/// A kms-server on 127.0.0.1:0 on its own thread; returns its URL and core.
pub fn kms_server(
    dir: &std::path::Path,
) -> (String, Arc<kms_server::Kms>, std::thread::JoinHandle<()>) {
    kms_server_observed(dir, Default::default())
}

/// A kms-server with metrics, as `kms-server --metrics-listen` runs it; returns its URL, core and
/// metrics address (scrape it with [`kms_calls`]).
pub fn kms_server_with_metrics(
    dir: &std::path::Path,
) -> (
    String,
    Arc<kms_server::Kms>,
    SocketAddr,
    std::thread::JoinHandle<()>,
) {
    let metrics = Arc::new(kms_server::metrics::Metrics::new());
    let observers = kms_server::service::Observers {
        audit: None,
        metrics: Some(Arc::clone(&metrics)),
    };
    let (url, kms, t) = kms_server_observed(dir, observers);
    let (tx, rx) = std::sync::mpsc::channel();
    let k = Arc::clone(&kms);
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            kms_server::metrics::serve_metrics(l, metrics, k, std::future::pending()).await;
        });
    });
    (url, kms, rx.recv().unwrap(), t)
}

/// The kms-server's `kms_calls_total` of `rpc` with status OK, scraped from its metrics listener.
pub fn kms_calls(metrics: SocketAddr, rpc: &str) -> u64 {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(metrics).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: metrics\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let series = format!("kms_calls_total{{rpc=\"{rpc}\",code=\"OK\"}} ");
    out.lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .map_or(0, |n| n.trim().parse().unwrap())
}

fn kms_server_observed(
    dir: &std::path::Path,
    observers: kms_server::service::Observers,
) -> (String, Arc<kms_server::Kms>, std::thread::JoinHandle<()>) {
    use base64::Engine as _;
    let root = kms_server::RootKey::from_base64(
        &base64::engine::general_purpose::STANDARD.encode([9u8; 32]),
    )
    .unwrap();
    let kms = Arc::new(kms_server::Kms::open(kms_server::Config::new(dir, root)).unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let k = Arc::clone(&kms);
    let t = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            let options = kms_server::server::ServerOptions {
                observers: Arc::new(observers),
                ..Default::default()
            };
            kms_server::server::serve(l, k, options, std::future::pending())
                .await
                .unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    (format!("http://{addr}"), kms, t)
}
