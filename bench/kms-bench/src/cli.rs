//! The command line of `kms-bench`.

use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Context used when `--context` is not given: what a COS server passes for a typical object.
/// (`{"bucket":"examplebucket-1250000000","object":"photos/2026/cat.jpg"}`)
pub const DEFAULT_CONTEXT: &str =
    "eyJidWNrZXQiOiJleGFtcGxlYnVja2V0LTEyNTAwMDAwMDAiLCJvYmplY3QiOiJwaG90b3MvMjAyNi9jYXQuanBnIn0=";

/// Most items in one batch call (the server's limit).
pub const MAX_BATCH: usize = 1000;

/// Load generator for the KMS emulator: runs one RPC with N requests in flight over C HTTP/2
/// connections and prints ops/s, p50/p90/p99/max latency and the error count.
///
/// It creates what it needs first (a key, a blob to decrypt). Several operations may be given
/// (`--op health,generate-data-key`): they run one after the other against the same server, and
/// each is compared with `health` (the transport's ceiling) when that was measured too.
///
/// Examples:
///   kms-bench --embedded --op health,generate-data-key,decrypt --concurrency 64 --duration 10
///   kms-bench --endpoint http://127.0.0.1:50051 --op batch-decrypt --batch 1000 --json
///   kms-bench --op create-key --count 10000 --concurrency 16
#[derive(Parser, Debug, Clone, PartialEq)]
#[command(version, verbatim_doc_comment)]
pub struct Cli {
    /// Server to load (`http://host:port`). Ignored with `--embedded`.
    #[arg(long, env = "KMS_ENDPOINT", default_value = kms_client::DEFAULT_ENDPOINT)]
    pub endpoint: String,

    /// PEM CA certificates to trust for an https:// endpoint.
    #[arg(long, env = "KMS_CA_FILE", value_name = "FILE")]
    pub ca_cert: Option<std::path::PathBuf>,

    /// Client certificate (PEM) for mutual TLS (with --client-key).
    #[arg(
        long,
        env = "KMS_CLIENT_CERT",
        value_name = "FILE",
        requires = "client_key"
    )]
    pub client_cert: Option<std::path::PathBuf>,

    /// Private key (PEM) of --client-cert.
    #[arg(
        long,
        env = "KMS_CLIENT_KEY",
        value_name = "FILE",
        requires = "client_cert"
    )]
    pub client_key: Option<std::path::PathBuf>,

    /// File holding a bearer token (mode 0600); without it, KMS_TOKEN is used if set.
    #[arg(long, env = "KMS_TOKEN_FILE", value_name = "FILE")]
    pub token_file: Option<std::path::PathBuf>,

    /// Operation(s) to measure, comma separated.
    #[arg(long, value_enum, value_delimiter = ',', required = true)]
    pub op: Vec<Op>,

    /// Requests in flight.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: u32,

    /// Seconds to measure each operation (after the warm-up). Fractions are allowed.
    #[arg(long, default_value = "10", value_parser = parse_seconds)]
    pub duration: Duration,

    /// Seconds to run each operation before measuring.
    #[arg(long, default_value = "1", value_parser = parse_seconds)]
    pub warmup: Duration,

    /// HTTP/2 connections (separate channels); requests are spread over them.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub connections: u32,

    /// Encryption context (base64 of a JSON object); "" for none. Default: a two-pair COS context.
    #[arg(long, default_value = DEFAULT_CONTEXT)]
    pub context: String,

    /// Items per call of the batch operations (1..=1000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=MAX_BATCH as i64))]
    pub batch: u32,

    /// Bytes of plaintext for `encrypt` (1..=4096).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub plaintext_size: u32,

    /// Use this key instead of creating one (UUID or alias).
    #[arg(long)]
    pub key: Option<String>,

    /// Stop after this many calls instead of after `--duration` (no warm-up): to create N keys.
    #[arg(long)]
    pub count: Option<u64>,

    /// Run the whole list of operations this many times, interleaved (a, b, a, b...), and report
    /// for each operation its median round by calls/s: steadier on a machine shared with others.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub rounds: u32,

    /// One JSON object per operation on stdout (JSON Lines), for scripts.
    #[arg(long)]
    pub json: bool,

    /// Start an in-process kms-server on 127.0.0.1:0 in a temp dir and load it.
    #[arg(long)]
    pub embedded: bool,

    /// A kms-server process on this machine whose CPU time per call to report (`server cpu us/op`,
    /// read from `/proc/PID/stat` over the measured window): the server's cost of a call apart
    /// from the client's, steadier than calls/s on a shared machine.
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
}

/// The RPC a run measures.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// grpc.health.v1 Check: a no-op RPC over the same transport (the ceiling).
    Health,
    /// GenerateDataKey AES_256 with the context.
    GenerateDataKey,
    /// Decrypt of one blob made at start, with the context.
    Decrypt,
    /// Encrypt of `--plaintext-size` bytes with the context.
    Encrypt,
    /// BatchGenerateDataKey of `--batch` items.
    BatchGenerateDataKey,
    /// BatchDecrypt of `--batch` blobs.
    BatchDecrypt,
    /// CreateKey with a fresh alias per call (writes to SQLite).
    CreateKey,
    /// DescribeKey of the bench key.
    DescribeKey,
    /// ListKeys, first page of 100.
    ListKeys,
    /// GenerateDataKey AES_256 with the context, over the Tencent Cloud API (HTTP/1.1, signed).
    TencentGenerateDataKey,
    /// Decrypt of one blob made at start, with the context, over the Tencent Cloud API.
    TencentDecrypt,
}

impl Op {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Op::Health => "health",
            Op::GenerateDataKey => "generate-data-key",
            Op::Decrypt => "decrypt",
            Op::Encrypt => "encrypt",
            Op::BatchGenerateDataKey => "batch-generate-data-key",
            Op::BatchDecrypt => "batch-decrypt",
            Op::CreateKey => "create-key",
            Op::DescribeKey => "describe-key",
            Op::ListKeys => "list-keys",
            Op::TencentGenerateDataKey => "tencent-generate-data-key",
            Op::TencentDecrypt => "tencent-decrypt",
        }
    }

    /// Whether one call carries `--batch` items.
    pub fn is_batch(self) -> bool {
        matches!(self, Op::BatchGenerateDataKey | Op::BatchDecrypt)
    }

    /// Whether the call goes through the Tencent Cloud API front end instead of gRPC.
    pub fn is_tencent(self) -> bool {
        matches!(self, Op::TencentGenerateDataKey | Op::TencentDecrypt)
    }
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{s:?} is not a usable duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("kms-bench").chain(args.iter().copied()))
    }

    #[test]
    fn defaults() {
        let cli = parse(&["--op", "generate-data-key"]).unwrap();
        assert_eq!(cli.op, vec![Op::GenerateDataKey]);
        assert_eq!(cli.concurrency, 64);
        assert_eq!(cli.connections, 1);
        assert_eq!(cli.duration, Duration::from_secs(10));
        assert_eq!(cli.warmup, Duration::from_secs(1));
        assert_eq!(cli.batch, 100);
        assert_eq!(cli.context, DEFAULT_CONTEXT);
        assert!(!cli.json && !cli.embedded);
        assert_eq!(cli.count, None);
        assert_eq!(cli.rounds, 1);
    }

    #[test]
    fn every_flag() {
        let cli = parse(&[
            "--endpoint",
            "http://10.0.0.1:9000",
            "--op",
            "health,decrypt,batch-decrypt",
            "--concurrency",
            "8",
            "--duration",
            "0.5",
            "--warmup",
            "0",
            "--connections",
            "4",
            "--context",
            "",
            "--batch",
            "1000",
            "--plaintext-size",
            "4096",
            "--key",
            "alias/bench",
            "--count",
            "10",
            "--rounds",
            "3",
            "--json",
            "--embedded",
        ])
        .unwrap();
        assert_eq!(cli.endpoint, "http://10.0.0.1:9000");
        assert_eq!(cli.op, vec![Op::Health, Op::Decrypt, Op::BatchDecrypt]);
        assert_eq!(cli.concurrency, 8);
        assert_eq!(cli.duration, Duration::from_millis(500));
        assert_eq!(cli.warmup, Duration::ZERO);
        assert_eq!(cli.connections, 4);
        assert_eq!(cli.context, "");
        assert_eq!(cli.batch, 1000);
        assert_eq!(cli.plaintext_size, 4096);
        assert_eq!(cli.key.as_deref(), Some("alias/bench"));
        assert_eq!(cli.count, Some(10));
        assert_eq!(cli.rounds, 3);
        assert!(cli.json && cli.embedded);
    }

    #[test]
    fn every_op_name_parses_back() {
        for op in Op::value_variants() {
            let cli = parse(&["--op", op.name()]).unwrap();
            assert_eq!(cli.op, vec![*op]);
        }
    }

    #[test]
    fn refusals() {
        for args in [
            &[][..],
            &["--op", "nope"],
            &["--op", "health", "--concurrency", "0"],
            &["--op", "health", "--connections", "0"],
            &["--op", "batch-decrypt", "--batch", "0"],
            &["--op", "batch-decrypt", "--batch", "1001"],
            &["--op", "health", "--duration", "-1"],
            &["--op", "health", "--duration", "ten"],
            &["--op", "encrypt", "--plaintext-size", "4097"],
            &["--op", "health", "--rounds", "0"],
        ] {
            assert!(parse(args).is_err(), "{args:?} should be refused");
        }
    }
}
