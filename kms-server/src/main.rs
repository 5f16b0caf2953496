//! `kms-server`: parse the command line, set up logging, load the root key, serve.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, sync::Arc, time::Duration};

use clap::Parser;
use kms_server::{
    Config, Kms, RootKey, SystemClock,
    access::Policy,
    audit::{AuditLog, AuditTarget},
    limits::{LimitArgs, Limits},
    metrics::Metrics,
    server::{self, ServerOptions},
    service::{AccessControl, Observers},
    store::{
        Database,
        postgres::{DEFAULT_CHANGE_LOG_RETENTION, MIN_CHANGE_LOG_RETENTION, PostgresOptions},
    },
    tencent::{self, Credentials, SecretPair},
    tls::{ClientAuth, TlsArgs},
};

/// `--max-stale` by default: five minutes, long enough to ride out a database fail-over, short
/// enough that a key disabled meanwhile on another replica stops working here soon after.
const DEFAULT_MAX_STALE_SECS: u64 = 300;

/// The environment variable of `--database` (and of `migrate --to`): handed over like the other
/// secrets, since a PostgreSQL URL may hold a password.
const DATABASE_URL_ENV: &str = "KMS_DATABASE_URL";
/// The longest audit buffer interval: the background sync's own interval.
const AUDIT_BUFFER_MS_MAX: u64 = kms_server::audit::SYNC_INTERVAL.as_millis() as u64;

/// mimalloc: its per-thread heaps avoid glibc's arena lock, which the runtime threads otherwise
/// contend on for every request's buffers (see bench/BENCHMARKS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A local KMS emulator with a gRPC API (kms.v1), for testing storage servers and applications
/// that use server-side encryption.
///
/// Example: kms-server --listen 127.0.0.1:50051 --data-dir ./kms-data --seed keys.yaml
#[derive(Parser, Debug)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Address to listen on; port 0 picks a free port (the bound address is logged).
    #[arg(long, env = "KMS_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// Directory of the key database (created if absent).
    #[arg(long, env = "KMS_DATA_DIR", default_value = "./kms-data")]
    data_dir: PathBuf,
    /// The key store: sqlite:PATH (default: sqlite:<data-dir>/kms.sqlite3) or
    /// postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=require for replicas on one PostgreSQL
    /// database. The password is never logged.
    #[arg(long, env = "KMS_DATABASE_URL", hide_env_values = true)]
    database: Option<String>,
    /// CA certificates (PEM) trusted for the PostgreSQL server's TLS certificate, besides the
    /// Mozilla roots.
    #[arg(long, env = "KMS_DATABASE_CA")]
    database_ca: Option<PathBuf>,
    /// With PostgreSQL: seconds this replica keeps serving keys from its cache after it last
    /// reached the database (a resync, or the change feed's connection answering). Past that,
    /// calls that use key material fail with UNAVAILABLE until the database answers again, so a
    /// replica cut off does not go on honouring keys disabled elsewhere. 0: no bound. Ignored
    /// for SQLite.
    #[arg(long = "max-stale", value_name = "SECS", env = "KMS_MAX_STALE", default_value_t = DEFAULT_MAX_STALE_SECS)]
    max_stale_secs: u64,
    /// With PostgreSQL: seconds the change log keeps a change (at least 60). A replica whose
    /// change feed was down for less reloads only the keys changed meanwhile when it reconnects;
    /// down for longer, it reloads every key. Ignored for SQLite.
    #[arg(long = "change-log-retention", value_name = "SECS", env = "KMS_CHANGE_LOG_RETENTION",
        default_value_t = DEFAULT_CHANGE_LOG_RETENTION.as_secs(), value_parser = retention_secs)]
    change_log_retention_secs: u64,
    /// File holding the root key (base64 of 32 bytes, mode 0600); created on first start.
    /// Ignored when KMS_ROOT_KEY is set. Default: <data-dir>/root.key.
    #[arg(long, env = "KMS_ROOT_KEY_FILE")]
    root_key_file: Option<PathBuf>,
    /// Seed document (YAML or JSON) of keys to load at start; see the `seed` module docs.
    #[arg(long)]
    seed: Option<PathBuf>,
    /// Seconds between checks of deletion dates and automatic rotations.
    #[arg(long, default_value_t = 60)]
    tick_secs: u64,
    /// Access policy (YAML): the identities (bearer-token or client-certificate digests), the
    /// calls each may make and the keys it may use. Must not be readable by group or others.
    /// SIGHUP reloads it. Without it the server runs in development mode (every call allowed),
    /// and only on a loopback address.
    #[arg(long, env = "KMS_POLICY", conflicts_with = "insecure_no_auth")]
    policy: Option<PathBuf>,
    /// Run without --policy on a non-loopback address: anyone who reaches the port may use,
    /// disable or delete every key.
    #[arg(long)]
    insecure_no_auth: bool,
    /// Audit log: one JSON line per call (identity, RPC, keys, context names, outcome), written
    /// before the reply leaves (see --audit-buffer-ms); `-` for standard output. A call whose line
    /// cannot be written fails.
    #[arg(long, env = "KMS_AUDIT_LOG")]
    audit_log: Option<PathBuf>,
    /// Rotate the audit log file when it would pass this many bytes (0: never).
    #[arg(long, default_value_t = kms_server::audit::DEFAULT_MAX_BYTES)]
    audit_max_bytes: u64,
    /// Queue audit lines and write them every N ms (1-1000) instead of before each reply: calls
    /// answer sooner, and a crash or kill of the server loses the last N ms of lines. 0 (the
    /// default): every line is written before its call answers.
    #[arg(long, default_value_t = 0, requires = "audit_log",
          value_parser = clap::value_parser!(u64).range(0..=AUDIT_BUFFER_MS_MAX))]
    audit_buffer_ms: u64,
    /// Serve Prometheus metrics at http://ADDR/metrics (calls by RPC and status, latencies, keys
    /// by state; never a key id).
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// SecretId of the Tencent Cloud API 3.0 pair (with TENCENTCLOUD_SECRET_KEY, which only the
    /// environment gives, and which is removed from it once read). Without --policy, Tencent API
    /// calls must be signed with this pair; with neither, signatures are not checked.
    #[arg(long, env = tencent::SECRET_ID_ENV)]
    tencent_secret_id: Option<String>,
    #[command(flatten)]
    tls: TlsArgs,
    #[command(flatten)]
    limits: LimitArgs,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Copy every key (all versions, still wrapped by the root key) and the store's settings from
    /// one key store into another, e.g. a single server's SQLite file into the PostgreSQL
    /// database of replicas. Idempotent: run again, it copies what an interrupted run left out;
    /// a destination holding anything else is refused. No kms-server may run on either
    /// meanwhile. Example:
    /// kms-server migrate --from sqlite:./kms-data/kms.sqlite3 --to postgres://kms@db/kms
    Migrate {
        /// The key store to copy: sqlite:PATH or postgres://...
        #[arg(long)]
        from: String,
        /// The key store to copy into (empty, or an earlier copy of the same source):
        /// sqlite:PATH or postgres://... (its password is never logged).
        #[arg(long, env = "KMS_DATABASE_URL", hide_env_values = true)]
        to: String,
        /// CA certificates (PEM) trusted for a PostgreSQL server's TLS certificate, besides the
        /// Mozilla roots.
        #[arg(long, env = "KMS_DATABASE_CA")]
        database_ca: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    // Log lines are formatted on the request path but written by a background thread, so a request
    // never waits on a stderr syscall. Lossless: under a flood the writer blocks rather than drop
    // lines. `_log_guard` flushes what is queued when `main` returns.
    let (log_writer, _log_guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(log_writer)
        // Colour codes only for a person at a terminal, not for log files and collectors.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    if let Some(Command::Migrate {
        from,
        to,
        database_ca,
    }) = &cli.command
    {
        return match migrate(from, to, database_ca.clone()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    #[cfg(unix)]
    if let Err(e) = root_key_handoff::scrub_environment() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The access control the command line asks for; development mode only where it is safe, or
/// asked for by name.
fn access_control(cli: &Cli) -> Result<AccessControl, Box<dyn std::error::Error>> {
    if let Some(path) = &cli.policy {
        return Ok(AccessControl::enforce(Policy::load(path)?));
    }
    if !cli.listen.ip().is_loopback() && !cli.insecure_no_auth {
        return Err(format!(
            "refusing to listen on {} without --policy: anyone who reaches it could use every \
             key. Add --policy FILE, or --insecure-no-auth to run without access control",
            cli.listen
        )
        .into());
    }
    Ok(AccessControl::allow_all())
}

/// The pair Tencent API calls are checked against without a policy: both halves or neither.
fn tencent_credentials(
    cli: &Cli,
    access: &AccessControl,
    secret_key: Option<kms_server::SecretBytes>,
) -> Result<Credentials, Box<dyn std::error::Error>> {
    let pair = match (&cli.tencent_secret_id, secret_key) {
        (None, None) => return Ok(Credentials::Unchecked),
        (Some(secret_id), Some(key)) => SecretPair {
            secret_id: secret_id.clone(),
            secret_key: Arc::new(key),
        },
        _ => {
            return Err(format!(
                "{} and {} go together: set both, or neither",
                tencent::SECRET_ID_ENV,
                tencent::SECRET_KEY_ENV
            )
            .into());
        }
    };
    if access.is_enforced() {
        tracing::warn!(
            "{} is ignored under --policy: Tencent API callers are the policy's secret_id identities",
            tencent::SECRET_ID_ENV
        );
        return Ok(Credentials::Unchecked);
    }
    Ok(Credentials::Pair(pair))
}

/// `--change-log-retention`: whole seconds, at least [`MIN_CHANGE_LOG_RETENTION`].
fn retention_secs(arg: &str) -> Result<u64, String> {
    let min = MIN_CHANGE_LOG_RETENTION.as_secs();
    let secs: u64 = arg
        .parse()
        .map_err(|_| format!("expected whole seconds, at least {min}"))?;
    if secs < min {
        return Err(format!(
            "at least {min} seconds: the change feed looks up a change it missed in the log for \
             up to {min} s, so a row must outlive that"
        ));
    }
    Ok(secs)
}

/// `kms-server migrate`: copies one key store into another and says what it copied.
fn migrate(
    from: &str,
    to: &str,
    database_ca: Option<PathBuf>,
) -> Result<(), Box<dyn std::error::Error>> {
    let from_db = Database::parse(from).map_err(|e| format!("--from: {e}"))?;
    let to_db = Database::parse(to).map_err(|e| format!("--to: {e}"))?;
    let postgres = PostgresOptions {
        ca_file: database_ca,
        ..PostgresOptions::default()
    };
    let done = kms_server::kms::migrate::migrate_databases(&from_db, &to_db, &postgres)?;
    let present = match done.present {
        0 => String::new(),
        n => format!("; {n} keys were there already"),
    };
    println!(
        "migrated {} keys ({} versions) from {} to {}{present}",
        done.keys,
        done.versions,
        from_db.describe(),
        to_db.describe()
    );
    Ok(())
}

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    #[cfg(unix)]
    let handed_off = root_key_handoff::receive()?;
    #[cfg(not(unix))]
    let handed_off = root_key_handoff::HandedOff::from_env();
    let database_url = cli
        .database
        .as_deref()
        .or(handed_off.database_url.as_ref().map(|url| url.as_str()));
    let database = match database_url {
        None => Database::in_dir(&cli.data_dir),
        Some(url) => Database::parse(url).map_err(|e| format!("--database: {e}"))?,
    };
    let audit = match &cli.audit_log {
        None => None,
        Some(path) => {
            let target = if path.as_os_str() == "-" {
                AuditTarget::Stdout
            } else {
                AuditTarget::File(path.clone())
            };
            let log = match cli.audit_buffer_ms {
                0 => AuditLog::open(target, cli.audit_max_bytes),
                ms => {
                    AuditLog::open_buffered(target, cli.audit_max_bytes, Duration::from_millis(ms))
                }
            }
            .map_err(|e| format!("cannot open the audit log {}: {e}", path.display()))?;
            Some(Arc::new(log))
        }
    };
    let metrics = cli.metrics_listen.map(|_| Arc::new(Metrics::new()));
    let observers = Arc::new(Observers {
        audit,
        metrics: metrics.clone(),
    });
    // Flag mistakes and unreadable certificate files first, before a data directory or a root key
    // is created. A self-signed CA is written only once the data directory is this server's (after
    // `Kms::open` takes its lock), so a second server refused there cannot replace it.
    cli.tls.check()?;
    let tls_from_files = if cli.tls.tls_self_signed {
        None
    } else {
        cli.tls.load(&cli.data_dir)?
    };
    let access = Arc::new(access_control(&cli)?);
    // SIGHUP's default action ends the process: its handler is installed now, before the key
    // store opens (seconds, on a large or remote store), so a reload asked for meanwhile neither
    // kills the server nor is lost. The runtime exists from here on for that.
    let runtime = tokio::runtime::Runtime::new()?;
    if let Some(path) = &cli.policy {
        #[cfg(unix)]
        server::reload_policy_on_hangup(runtime.handle(), access.clone(), path.clone())
            .map_err(|e| format!("cannot listen for SIGHUP (which reloads --policy): {e}"))?;
        tracing::info!(
            file = %path.display(),
            identities = access.policy().map_or(0, |p| p.identities().len()),
            "access policy loaded"
        );
    }
    let key_file = cli
        .root_key_file
        .clone()
        .unwrap_or_else(|| cli.data_dir.join("root.key"));
    let tencent_credentials = tencent_credentials(&cli, &access, handed_off.tencent_secret_key)?;
    let root_key = match handed_off.root_key {
        Some(key) => key,
        None => RootKey::from_env_or_file(&key_file)?,
    };
    let postgres = PostgresOptions {
        ca_file: cli.database_ca.clone(),
        change_log_retention: Duration::from_secs(cli.change_log_retention_secs),
        ..PostgresOptions::default()
    };
    let kms = Kms::open_database(
        &database,
        &postgres,
        Config {
            data_dir: cli.data_dir.clone(),
            root_key,
            clock: Arc::new(SystemClock),
        },
    )?;
    tracing::info!(database = %database.describe(), "key store open");
    kms.set_max_stale((cli.max_stale_secs > 0).then(|| Duration::from_secs(cli.max_stale_secs)));
    if let Some(path) = &cli.seed {
        let doc = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read seed file {}: {e}", path.display()))?;
        let (changed, total) = kms
            .seed(&doc)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        tracing::info!(file = %path.display(), changed, total, "seed loaded");
    }
    let tls = if cli.tls.tls_self_signed {
        cli.tls.load(&cli.data_dir)?
    } else {
        tls_from_files
    };
    if let Some(path) = tls.as_ref().and_then(|t| t.ca_written.as_ref()) {
        tracing::info!(ca = %path.display(), "self-signed TLS: clients trust this CA certificate");
    }
    let kms = Arc::new(kms);
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cli.listen).await?;
        if let (Some(addr), Some(metrics)) = (cli.metrics_listen, metrics) {
            let metrics_listener = tokio::net::TcpListener::bind(addr).await?;
            let bound = metrics_listener.local_addr()?;
            tracing::info!(%bound, "metrics at http://{bound}/metrics");
            tokio::spawn(kms_server::metrics::serve_metrics(
                metrics_listener,
                metrics,
                kms.clone(),
                std::future::pending(),
            ));
        }
        let addr = listener.local_addr()?;
        let transport = match tls.as_ref().map(|t| t.client_auth) {
            None => "plain text",
            Some(ClientAuth::None) => "TLS",
            Some(ClientAuth::Optional) => "TLS, client certificates verified when presented",
            Some(ClientAuth::Required) => "TLS, client certificates required",
        };
        let limits = Limits::from(&cli.limits);
        tracing::info!(
            %addr,
            data_dir = %cli.data_dir.display(),
            default_key = %kms.default_key_id(),
            transport,
            max_message_bytes = limits.max_message_bytes,
            max_concurrent_streams = limits.max_concurrent_streams,
            max_connections = limits.max_connections,
            call_deadline_secs = limits.call_deadline.as_secs(),
            "kms-server listening on {addr}"
        );
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!("tencent api listening on {scheme}://{addr} (the gRPC port, HTTP/1.1)");
        // Said once the server is up, so a start that fails ends on its error line alone.
        if !access.is_enforced() {
            tracing::warn!(
                "development mode: no --policy, so every caller may make every call on every key"
            );
        }
        let options = ServerOptions {
            tick: Duration::from_secs(cli.tick_secs.max(1)),
            access,
            observers,
            tls,
            limits,
            tencent: tencent_credentials,
        };
        server::serve(listener, kms, options, server::shutdown_signal()).await?;
        Ok(())
    })
}

/// `KMS_ROOT_KEY` and `TENCENTCLOUD_SECRET_KEY` must not stay readable in `/proc/<pid>/environ`
/// for the server's whole life, and removing a variable from the running process is `unsafe` in
/// Rust 2024 (which the workspace forbids). So the process replaces itself (exec: same pid, same
/// arguments) with a copy whose environment lacks them, and hands them over through a pipe on its
/// standard input, one `NAME=value` line each.
mod root_key_handoff {
    #[cfg(unix)]
    use std::io::{Read as _, Write as _};
    #[cfg(unix)]
    use std::os::unix::process::CommandExt as _;

    use kms_server::{RootKey, SecretBytes, tencent::SECRET_KEY_ENV};
    use zeroize::Zeroizing;

    /// Set (to `stdin`) in the re-executed process: its secrets arrive on standard input.
    #[cfg(unix)]
    const HANDOFF: &str = "KMS_ROOT_KEY_HANDOFF";
    /// The variables handed over: the root key, the Tencent SecretKey, and the database URL (it
    /// may hold the PostgreSQL password).
    const SECRETS: [&str; 3] = [RootKey::ENV, SECRET_KEY_ENV, super::DATABASE_URL_ENV];
    /// Longest value handed over: the whole text must fit in a pipe buffer before the exec.
    #[cfg(unix)]
    const MAX_VALUE_BYTES: usize = 1024;

    /// What the environment held.
    pub struct HandedOff {
        pub root_key: Option<RootKey>,
        pub tencent_secret_key: Option<SecretBytes>,
        /// `KMS_DATABASE_URL`, for `--database` when the command line gives none.
        pub database_url: Option<Zeroizing<String>>,
    }

    impl HandedOff {
        /// Reads the variables in place (where the environment cannot be scrubbed).
        #[cfg(not(unix))]
        pub fn from_env() -> Self {
            Self {
                root_key: None, // RootKey::from_env_or_file reads it
                tencent_secret_key: std::env::var_os(SECRET_KEY_ENV)
                    .map(|v| SecretBytes::new(v.into_encoded_bytes())),
                database_url: None, // clap reads it
            }
        }
    }

    /// With a secret variable set, re-executes the server without them; returns only on failure,
    /// or when there is nothing to scrub.
    #[cfg(unix)]
    pub fn scrub_environment() -> Result<(), String> {
        let mut text = Zeroizing::new(Vec::new());
        for name in SECRETS {
            let Some(value) = std::env::var_os(name) else {
                continue;
            };
            let value = Zeroizing::new(value.into_encoded_bytes());
            if value.len() > MAX_VALUE_BYTES || value.contains(&b'\n') {
                return Err(format!(
                    "{name} must be one line of at most {MAX_VALUE_BYTES} bytes"
                ));
            }
            text.extend_from_slice(name.as_bytes());
            text.push(b'=');
            text.extend_from_slice(&value);
            text.push(b'\n');
        }
        if text.is_empty() {
            return Ok(());
        }
        let exe = std::env::current_exe()
            .map_err(|e| format!("cannot find this executable to drop {SECRETS:?}: {e}"))?;
        let (reader, mut writer) =
            std::io::pipe().map_err(|e| format!("cannot hand over {SECRETS:?}: {e}"))?;
        // At most a few KiB fit in any pipe buffer: the write completes before the exec.
        writer
            .write_all(&text)
            .map_err(|e| format!("cannot hand over {SECRETS:?}: {e}"))?;
        drop(writer);
        let mut command = std::process::Command::new(exe);
        command.args(std::env::args_os().skip(1));
        for name in SECRETS {
            command.env_remove(name);
        }
        let err = command.env(HANDOFF, "stdin").stdin(reader).exec();
        Err(format!("cannot re-execute without {SECRETS:?}: {err}"))
    }

    /// The secrets handed over by [`scrub_environment`], in the re-executed process.
    #[cfg(unix)]
    pub fn receive() -> Result<HandedOff, Box<dyn std::error::Error>> {
        let mut handed = HandedOff {
            root_key: None,
            tencent_secret_key: None,
            database_url: None,
        };
        if std::env::var_os(HANDOFF).is_none() {
            return Ok(handed);
        }
        let mut text = Zeroizing::new(Vec::new());
        std::io::stdin()
            .read_to_end(&mut text)
            .map_err(|e| format!("secret handover: {e}"))?;
        for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            if let Some(v) = line.strip_prefix(format!("{}=", RootKey::ENV).as_bytes()) {
                let v =
                    std::str::from_utf8(v).map_err(|_| format!("{} is not text", RootKey::ENV))?;
                handed.root_key = Some(RootKey::from_base64(v)?);
            } else if let Some(v) = line.strip_prefix(format!("{SECRET_KEY_ENV}=").as_bytes()) {
                handed.tencent_secret_key = Some(SecretBytes::new(v.to_vec()));
            } else if let Some(v) =
                line.strip_prefix(format!("{}=", super::DATABASE_URL_ENV).as_bytes())
            {
                let v = std::str::from_utf8(v)
                    .map_err(|_| format!("{} is not text", super::DATABASE_URL_ENV))?;
                handed.database_url = Some(Zeroizing::new(v.to_owned()));
            }
        }
        Ok(handed)
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    /// The variable handed over is the one `--database` reads.
    #[test]
    fn the_database_flag_reads_the_variable_handed_over() {
        let cli = super::Cli::command();
        let arg = cli
            .get_arguments()
            .find(|a| a.get_id() == "database")
            .expect("--database");
        assert_eq!(
            arg.get_env(),
            Some(std::ffi::OsStr::new(super::DATABASE_URL_ENV))
        );
    }
}
