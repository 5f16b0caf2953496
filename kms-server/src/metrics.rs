//! Prometheus metrics: calls by RPC and status, latency histograms, keys by state and the cache's
//! size, served as OpenMetrics text at `GET /metrics` on their own listener (`--metrics-listen`).
//!
//! [`Metrics::observe`] is on every call's path, so it costs a read lock on a small map, one
//! atomic increment and one histogram observation, and allocates nothing once an (RPC, status)
//! pair has been seen. The key gauges are computed from the [`Kms`]'s counters at scrape time.
//!
//! Label values are RPC names, status names and key states: never a key id or an alias, so the
//! number of series stays bounded and a scrape reveals no key names.

use std::{
    collections::HashMap,
    convert::Infallible,
    future::Future,
    sync::{Arc, OnceLock, RwLock},
    time::Duration,
};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric as _},
    metrics::{
        MetricType, counter::Counter, family::Family, gauge::ConstGauge, histogram::Histogram,
    },
    registry::{Registry, Unit},
};
use tokio::net::TcpListener;
use tonic::Code;

use crate::{Kms, audit::status_name};

/// The path metrics are served at.
pub const METRICS_PATH: &str = "/metrics";
/// The scrape's content type: OpenMetrics text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Upper bounds of the latency buckets, in seconds: 1, 2.5 and 5 per decade from 10 us to 1 s
/// (an in-memory call takes tens of microseconds; a store write milliseconds).
pub const DURATION_BUCKETS: [f64; 16] = [
    10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3,
    250e-3, 500e-3, 1.0,
];
/// Most scrape connections served at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 8;
/// How long a scrape connection may take to send its request head.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for open scrape connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How many gRPC status codes there are (`OK` = 0 .. `UNAUTHENTICATED` = 16).
const CODES: usize = Code::Unauthenticated as usize + 1;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    rpc: &'static str,
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcLabels {
    rpc: &'static str,
}

type DurationFamily = Family<RpcLabels, Histogram, fn() -> Histogram>;

/// One RPC's series, made once: the hot path only reads them.
#[derive(Debug)]
struct RpcSeries {
    duration: Histogram,
    /// By status code; a counter is created (and appears in scrapes) at its first use.
    calls: [OnceLock<Counter>; CODES],
}

/// The server's call metrics. Share it behind an `Arc`; see [`serve_metrics`].
#[derive(Debug)]
pub struct Metrics {
    calls: Family<CallLabels, Counter>,
    durations: DurationFamily,
    series: RwLock<HashMap<&'static str, RpcSeries>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// No calls observed yet.
    pub fn new() -> Self {
        Self {
            calls: Family::default(),
            durations: Family::new_with_constructor(|| Histogram::new(DURATION_BUCKETS)),
            series: RwLock::new(HashMap::new()),
        }
    }

    /// Counts one call of `rpc` that ended with `code` after `elapsed`:
    /// `kms_calls_total{rpc,code}` and `kms_call_duration_seconds{rpc}`.
    pub fn observe(&self, rpc: &'static str, code: Code, elapsed: Duration) {
        {
            // A panic while holding the lock cannot leave the map half-updated (one insert).
            let series = self.series.read().unwrap_or_else(|p| p.into_inner());
            if let Some(s) = series.get(rpc) {
                self.record(s, rpc, code, elapsed);
                return;
            }
        }
        let mut series = self.series.write().unwrap_or_else(|p| p.into_inner());
        let s = series.entry(rpc).or_insert_with(|| RpcSeries {
            duration: self.durations.get_or_create_owned(&RpcLabels { rpc }),
            calls: std::array::from_fn(|_| OnceLock::new()),
        });
        self.record(s, rpc, code, elapsed);
    }

    fn record(&self, s: &RpcSeries, rpc: &'static str, code: Code, elapsed: Duration) {
        let counter = s.calls[code as usize].get_or_init(|| {
            self.calls.get_or_create_owned(&CallLabels {
                rpc,
                code: status_name(code),
            })
        });
        counter.inc();
        s.duration.observe(elapsed.as_secs_f64());
    }

    /// A registry with these metrics and the key gauges of `kms`, computed at each encoding.
    pub fn registry(&self, kms: Arc<Kms>) -> Registry {
        let mut registry = Registry::default();
        registry.register(
            "kms_calls",
            "gRPC calls by RPC and status code",
            self.calls.clone(),
        );
        registry.register_with_unit(
            "kms_call_duration",
            "gRPC call latency by RPC, in seconds",
            Unit::Seconds,
            self.durations.clone(),
        );
        registry.register_collector(Box::new(KeyGauges { kms }));
        registry
    }
}

/// `kms_keys{state}` and `kms_cache_keys`, read from the KMS at scrape time.
#[derive(Debug)]
struct KeyGauges {
    kms: Arc<Kms>,
}

impl Collector for KeyGauges {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut keys = encoder.encode_descriptor(
            "kms_keys",
            "Keys by state, service keys included",
            None,
            MetricType::Gauge,
        )?;
        for (state, n) in self.kms.count_keys_by_state() {
            let labels = [("state", state.as_str())];
            gauge(n).encode(keys.encode_family(&labels)?)?;
        }
        let cache = encoder.encode_descriptor(
            "kms_cache_keys",
            "Keys held in the in-memory cache",
            None,
            MetricType::Gauge,
        )?;
        gauge(self.kms.cached_key_count()).encode(cache)
    }
}

fn gauge(n: u64) -> ConstGauge {
    ConstGauge::new(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Serves `GET /metrics` over HTTP/1.1 on `listener` until `shutdown` completes, then waits up to a
/// few seconds for open scrapes. Other paths answer 404, other methods 405.
pub async fn serve_metrics(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    kms: Arc<Kms>,
    shutdown: impl Future<Output = ()>,
) {
    let registry = Arc::new(metrics.registry(kms));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let connections = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = Arc::clone(&connections).acquire_owned() => {
                permit.expect("the connection semaphore is never closed")
            }
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let registry = Arc::clone(&registry);
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |req| {
                let response = answer(&req, &registry);
                async move { Ok::<_, Infallible>(response) }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%peer, error = %e, "metrics: connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("metrics: scrapes still open at shutdown; stopping anyway");
        }
    }
}

fn answer<B>(req: &Request<B>, registry: &Registry) -> Response<Full<Bytes>> {
    if req.uri().path() != METRICS_PATH {
        return plain(
            StatusCode::NOT_FOUND,
            "not found: metrics are at /metrics\n",
        );
    }
    if req.method() != Method::GET {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET"));
        return response;
    }
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, registry) {
        tracing::error!(error = %e, "metrics: encoding failed");
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "encoding failed\n");
    }
    let mut response = Response::new(Full::new(Bytes::from(text)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(CONTENT_TYPE),
    );
    response
}

fn plain(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;
    use crate::kms::test_support::{T0, open};

    /// Sends one request over a fresh connection and returns the status code and the body.
    async fn http(addr: std::net::SocketAddr, method: &str, path: &str) -> (u16, String, String) {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("{method} {path} HTTP/1.1\r\nHost: kms\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).await.unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let status = head[9..12].parse().unwrap();
        (status, head.to_owned(), body.to_owned())
    }

    #[tokio::test]
    async fn a_scrape_over_http_shows_calls_latencies_and_keys() {
        let dir = tempfile::tempdir().unwrap();
        let kms = Arc::new(open(
            dir.path(),
            Arc::new(crate::clock::ManualClock::new(T0)),
        ));
        kms.create_key("app", "", "").unwrap();
        kms.disable_key("app").unwrap();
        let metrics = Arc::new(Metrics::new());
        metrics.observe("Decrypt", Code::Ok, Duration::from_micros(40));
        metrics.observe("Decrypt", Code::Ok, Duration::from_micros(60));
        metrics.observe("Decrypt", Code::PermissionDenied, Duration::from_millis(2));
        metrics.observe("CreateKey", Code::Ok, Duration::from_secs(3));

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_metrics(listener, metrics, kms.clone(), async {
            let _ = stopped.await;
        }));

        let (status, head, body) = http(addr, "GET", "/metrics").await;
        assert_eq!(status, 200, "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains(&format!("content-type: {CONTENT_TYPE}")),
            "{head}"
        );
        let lines: Vec<&str> = body.lines().collect();
        for want in [
            "# TYPE kms_calls counter",
            r#"kms_calls_total{rpc="Decrypt",code="OK"} 2"#,
            r#"kms_calls_total{rpc="Decrypt",code="PERMISSION_DENIED"} 1"#,
            r#"kms_calls_total{rpc="CreateKey",code="OK"} 1"#,
            "# TYPE kms_call_duration_seconds histogram",
            "# UNIT kms_call_duration_seconds seconds",
            r#"kms_call_duration_seconds_count{rpc="Decrypt"} 3"#,
            r#"kms_call_duration_seconds_bucket{le="0.00005",rpc="Decrypt"} 1"#,
            r#"kms_call_duration_seconds_bucket{le="0.0001",rpc="Decrypt"} 2"#,
            r#"kms_call_duration_seconds_bucket{le="0.0025",rpc="Decrypt"} 3"#,
            r#"kms_call_duration_seconds_bucket{le="1.0",rpc="CreateKey"} 0"#,
            r#"kms_call_duration_seconds_bucket{le="+Inf",rpc="CreateKey"} 1"#,
            "# TYPE kms_keys gauge",
            r#"kms_keys{state="Enabled"} 2"#,
            r#"kms_keys{state="Disabled"} 1"#,
            r#"kms_keys{state="PendingDelete"} 0"#,
            "kms_cache_keys 3",
            "# EOF",
        ] {
            assert!(lines.contains(&want), "missing {want:?} in\n{body}");
        }
        // No key id or alias anywhere in a scrape.
        let app = kms.describe_key("app").unwrap().key_id.to_string();
        assert!(!body.contains(&app) && !body.contains("app"), "{body}");

        assert_eq!(http(addr, "GET", "/").await.0, 404);
        assert_eq!(http(addr, "GET", "/metrics/x").await.0, 404);
        let (status, head, _) = http(addr, "POST", "/metrics").await;
        assert_eq!(status, 405);
        assert!(head.to_ascii_lowercase().contains("allow: get"), "{head}");

        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("the server stops on shutdown")
            .unwrap();
    }

    #[test]
    fn observe_reuses_the_series_it_made() {
        let metrics = Metrics::new();
        for _ in 0..3 {
            metrics.observe("Encrypt", Code::Ok, Duration::from_micros(10));
        }
        metrics.observe("Encrypt", Code::NotFound, Duration::from_micros(10));
        let ok = CallLabels {
            rpc: "Encrypt",
            code: "OK",
        };
        assert_eq!(metrics.calls.get(&ok).map(|c| c.get()), Some(3));
        let not_found = CallLabels {
            rpc: "Encrypt",
            code: "NOT_FOUND",
        };
        assert_eq!(metrics.calls.get(&not_found).map(|c| c.get()), Some(1));
        assert_eq!(metrics.series.read().unwrap().len(), 1);
    }

    #[test]
    fn buckets_rise_from_10_us_to_1_s() {
        assert_eq!(DURATION_BUCKETS.first(), Some(&10e-6));
        assert_eq!(DURATION_BUCKETS.last(), Some(&1.0));
        assert!(DURATION_BUCKETS.windows(2).all(|w| w[0] < w[1]));
    }
}
