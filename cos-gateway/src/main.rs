//! `cos-gateway`: parse the command line, set up logging, open the gateway, serve.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser as _;
use cos_gateway::auth::Credentials;
use cos_gateway::{Config, Gateway, KmsBackend};

mod cli;

/// mimalloc: its per-thread heaps avoid glibc's arena lock, which the runtime threads otherwise
/// contend on for every request's buffers (see bench/BENCHMARKS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(cos_gateway::server::BLOCKING_THREADS)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(mut cli: cli::Cli) -> Result<(), Box<dyn std::error::Error>> {
    let mut credentials = Credentials::new();
    if let Some(path) = &cli.credentials_file {
        credentials.load_file(path)?;
    }
    match (cli.secret_id.take(), cli.secret_key.take()) {
        (Some(id), Some(key)) => credentials.insert(id, key),
        (None, None) => {}
        _ => {
            return Err(
                "--secret-id and --secret-key (COS_SECRET_ID/COS_SECRET_KEY) go together".into(),
            );
        }
    }
    if credentials.is_empty() {
        return Err("no credentials: give --secret-id/--secret-key, COS_SECRET_ID/COS_SECRET_KEY, or --credentials-file".into());
    }
    let kms = match &cli.kms_endpoint {
        Some(endpoint) => {
            let client = cli.kms_client_builder(endpoint)?.connect_lazy()?;
            KmsBackend::Provider(Arc::new(storage_adapter::provider::grpc::GrpcKms::new(
                client,
                cli.sse_cos_key.clone(),
            )))
        }
        None => {
            let root_key = storage_adapter::RootKey::from_env_or_file(
                &cli.root_key_file
                    .clone()
                    .unwrap_or_else(|| cli.data_dir.join("root.key")),
            )?;
            KmsBackend::Embedded(root_key)
        }
    };
    let tls = if cli.tls_self_signed {
        let s = cos_gateway::tls::self_signed(&cli.tls_names)?;
        let ca_path = cli
            .tls_ca_out
            .clone()
            .unwrap_or_else(|| cli.data_dir.join("ca.pem"));
        // Owner-only like everything else in the data directory (the CA file itself is public).
        cos_gateway::store::private_fs::create_dir(&cli.data_dir)?;
        std::fs::write(&ca_path, &s.ca_pem)?;
        eprintln!(
            "TLS CA certificate written to {} (Python: VerifySSL='{}'; Node: NODE_EXTRA_CA_CERTS)",
            ca_path.display(),
            ca_path.display()
        );
        Some(s.config)
    } else if let (Some(cert), Some(key)) = (&cli.tls_cert, &cli.tls_key) {
        Some(cos_gateway::tls::server_config_from_files(cert, key)?)
    } else {
        None
    };
    if cli.allow_ssec_over_http {
        tracing::warn!(
            "--allow-ssec-over-http: SSE-C keys are accepted over plain HTTP (tests only)"
        );
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    let gateway = Gateway::open(Config {
        data_dir: cli.data_dir.clone(),
        credentials,
        kms,
        allow_ssec_over_http: cli.allow_ssec_over_http,
        max_signature_age: std::time::Duration::from_secs(cli.max_signature_age),
        region: cli.region.clone(),
        restore_delay: std::time::Duration::from_secs(cli.restore_delay),
        bucket_keys: cos_gateway::state::BucketKeys {
            all_buckets: cli.bucket_keys,
            cache: storage_adapter::BucketKeyConfig {
                ttl: std::time::Duration::from_secs(cli.bucket_key_cache_seconds),
                ..Default::default()
            },
        },
    })
    .await?;
    let listener = tokio::net::TcpListener::bind(cli.listen).await?;
    let addr = listener.local_addr()?;
    println!("cos-gateway listening on {scheme}://{addr}");
    tracing::info!(
        %addr,
        scheme,
        data_dir = %cli.data_dir.display(),
        body_cipher = storage_adapter::AeadBackend::current().name(),
        "cos-gateway listening"
    );
    let shutdown = async {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("installing a SIGTERM handler cannot fail on unix");
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
    };
    let options = cos_gateway::ServeOptions {
        max_connections: cli.max_connections,
        max_connections_per_address: cli.max_connections_per_address,
        request_timeout: std::time::Duration::from_secs(cli.request_timeout),
        ..Default::default()
    };
    cos_gateway::serve_with(gateway, listener, tls, options, shutdown).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    #[test]
    fn the_secret_key_is_not_in_the_cli_debug() {
        let cli = super::cli::Cli::parse_from([
            "cos-gateway",
            "--secret-id",
            "AKID",
            "--secret-key",
            "hunter2-secret",
        ]);
        assert!(!format!("{cli:?}").contains("hunter2"));
    }

    #[test]
    fn kms_client_options_reach_the_client_builder() {
        let dir = tempfile::tempdir().unwrap();
        let cli = super::cli::Cli::parse_from([
            "cos-gateway",
            "--kms-endpoint",
            "http://kms.example:50051",
            "--kms-token-file",
            "/nonexistent/token",
        ]);
        let e = cli
            .kms_client_builder("http://kms.example:50051")
            .unwrap()
            .connect_lazy()
            .unwrap_err();
        assert!(
            matches!(e, kms_client::Error::TokenOverPlaintext { .. }),
            "{e:?}"
        );
        let cert = dir.path().join("client.pem");
        std::fs::write(&cert, "not a certificate").unwrap();
        let cli = super::cli::Cli::parse_from([
            "cos-gateway",
            "--kms-endpoint",
            "https://kms.example:50051",
            "--kms-ca-cert",
            cert.to_str().unwrap(),
            "--kms-client-cert",
            cert.to_str().unwrap(),
            "--kms-client-key",
            cert.to_str().unwrap(),
        ]);
        let e = cli
            .kms_client_builder("https://kms.example:50051")
            .unwrap()
            .connect_lazy()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("CA file {}: no PEM certificate in it", cert.display())
        );
        let e = super::cli::Cli::try_parse_from(["cos-gateway", "--kms-client-cert", "c.pem"])
            .unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }

    #[test]
    fn max_signature_age_defaults_to_a_week_and_must_be_positive() {
        let cli = super::cli::Cli::parse_from(["cos-gateway"]);
        assert_eq!(cli.max_signature_age, 604_800);
        let cli = super::cli::Cli::parse_from(["cos-gateway", "--max-signature-age", "3600"]);
        assert_eq!(cli.max_signature_age, 3600);
        let e = super::cli::Cli::try_parse_from(["cos-gateway", "--max-signature-age", "0"])
            .unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation);
    }

    #[test]
    fn max_connections_defaults_and_must_be_positive() {
        let cli = super::cli::Cli::parse_from(["cos-gateway"]);
        assert_eq!(
            cli.max_connections,
            cos_gateway::server::DEFAULT_MAX_CONNECTIONS
        );
        let cli = super::cli::Cli::parse_from(["cos-gateway", "--max-connections", "8"]);
        assert_eq!(cli.max_connections, 8);
        let e =
            super::cli::Cli::try_parse_from(["cos-gateway", "--max-connections", "0"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation);
    }

    #[test]
    fn per_address_cap_and_request_timeout_default_and_must_be_positive() {
        let cli = super::cli::Cli::parse_from(["cos-gateway"]);
        assert_eq!(cli.max_connections_per_address, 64);
        assert_eq!(cli.request_timeout, 3580);
        let cli = super::cli::Cli::parse_from([
            "cos-gateway",
            "--max-connections-per-address",
            "4",
            "--request-timeout",
            "900",
        ]);
        assert_eq!(
            (cli.max_connections_per_address, cli.request_timeout),
            (4, 900)
        );
        for flag in ["--max-connections-per-address", "--request-timeout"] {
            let e = super::cli::Cli::try_parse_from(["cos-gateway", flag, "0"]).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation, "{flag}");
        }
    }
}
