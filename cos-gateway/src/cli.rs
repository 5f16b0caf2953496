//! The command line of `cos-gateway`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// A COS-compatible HTTP(S) gateway: the official COS SDKs store and read SSE-COS, SSE-KMS and
/// SSE-C encrypted objects in a local directory.
///
/// Example: cos-gateway --listen 127.0.0.1:8443 --data-dir ./cos-data --tls-self-signed
#[derive(Parser, Debug)]
#[command(version)]
pub struct Cli {
    /// Address to listen on; port 0 picks a free port (the bound address is printed).
    #[arg(long, env = "COS_GATEWAY_LISTEN", default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,
    /// Data directory: bodies, gateway.sqlite3, ssec-verifier.key (the SSE-C verifier key, made at
    /// the first start: back it up with the metadata) and (embedded KMS) kms.sqlite3 and root.key.
    #[arg(long, env = "COS_GATEWAY_DATA_DIR", default_value = "./cos-data")]
    pub data_dir: PathBuf,
    /// A running kms-server (e.g. http://127.0.0.1:50051); without it the KMS is embedded.
    #[arg(long, env = "COS_GATEWAY_KMS_ENDPOINT")]
    pub kms_endpoint: Option<String>,
    /// With an https:// --kms-endpoint: PEM CA certificates to trust for the KMS.
    #[arg(
        long,
        env = "COS_GATEWAY_KMS_CA_CERT",
        value_name = "FILE",
        requires = "kms_endpoint"
    )]
    pub kms_ca_cert: Option<PathBuf>,
    /// With an https:// --kms-endpoint: this gateway's client certificate (PEM) for mutual TLS.
    #[arg(long, env = "COS_GATEWAY_KMS_CLIENT_CERT", value_name = "FILE", requires_all = ["kms_endpoint", "kms_client_key"])]
    pub kms_client_cert: Option<PathBuf>,
    /// Private key (PEM) of --kms-client-cert.
    #[arg(
        long,
        env = "COS_GATEWAY_KMS_CLIENT_KEY",
        value_name = "FILE",
        requires = "kms_client_cert"
    )]
    pub kms_client_key: Option<PathBuf>,
    /// With --kms-endpoint: a file holding the KMS bearer token (mode 0600); without it the
    /// KMS_TOKEN environment variable is used, if set.
    #[arg(
        long,
        env = "COS_GATEWAY_KMS_TOKEN_FILE",
        value_name = "FILE",
        requires = "kms_endpoint"
    )]
    pub kms_token_file: Option<PathBuf>,
    /// With --kms-endpoint: the key (id or alias) SSE-COS data keys are generated under. Refused
    /// without it: the embedded KMS always uses its own SSE-COS service key, and a key named here
    /// must not be silently ignored.
    #[arg(long, default_value = "alias/kms-cos-sse", requires = "kms_endpoint")]
    pub sse_cos_key: String,
    /// Embedded KMS: the root key file (default <data-dir>/root.key, created 0600).
    /// Ignored when KMS_ROOT_KEY (base64 of 32 bytes) is set.
    #[arg(long, env = "KMS_ROOT_KEY_FILE")]
    pub root_key_file: Option<PathBuf>,
    /// SecretId accepted for request signatures (with --secret-key).
    #[arg(long, env = "COS_SECRET_ID")]
    pub secret_id: Option<String>,
    /// SecretKey of --secret-id. Prefer the environment variable or --credentials-file.
    #[arg(long, env = "COS_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<cos_gateway::auth::SecretKey>,
    /// File of SecretId/SecretKey pairs, one `ID KEY` per line (mode 0600).
    #[arg(long, env = "COS_GATEWAY_CREDENTIALS_FILE")]
    pub credentials_file: Option<PathBuf>,
    /// PEM certificate chain: serve HTTPS (with --tls-key).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a generated certificate; its CA is written to --tls-ca-out.
    #[arg(long, conflicts_with = "tls_cert")]
    pub tls_self_signed: bool,
    /// Extra DNS names for the --tls-self-signed certificate (e.g. `*.cos.ap-xian.myqcloud.com`).
    #[arg(long = "tls-name")]
    pub tls_names: Vec<String>,
    /// Where --tls-self-signed writes the CA certificate (default <data-dir>/ca.pem).
    #[arg(long)]
    pub tls_ca_out: Option<PathBuf>,
    /// Connections served at once (at least 1); further clients wait until one closes.
    #[arg(
        long,
        env = "COS_GATEWAY_MAX_CONNECTIONS",
        default_value_t = cos_gateway::server::DEFAULT_MAX_CONNECTIONS,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub max_connections: usize,
    /// Connections one client IP address may hold at once (at least 1); one more is closed right
    /// after it is accepted, before anything is read from it.
    #[arg(
        long,
        env = "COS_GATEWAY_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = cos_gateway::server::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub max_connections_per_address: usize,
    /// Seconds one request may take after its headers: not answered by then, it ends with
    /// `400 RequestTimeout`; a response still being sent then is cut. The default is a 5 GiB PUT
    /// at 12 Mbit/s.
    #[arg(
        long,
        env = "COS_GATEWAY_REQUEST_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = cos_gateway::deadline::REQUEST_TIMEOUT.as_secs(),
        value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(1..)
    )]
    pub request_timeout: u64,
    /// The longest validity window (end minus start of q-sign-time / q-key-time, in seconds) a
    /// signature or presigned URL may have; longer ones are refused. Default 7 days, like S3's
    /// presign limit.
    #[arg(
        long,
        env = "COS_GATEWAY_MAX_SIGNATURE_AGE",
        default_value_t = cos_gateway::auth::DEFAULT_MAX_SIGNATURE_AGE.as_secs(),
        value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(1..)
    )]
    pub max_signature_age: u64,
    /// The region this gateway answers for (GET Bucket location, the listings' `Location`), e.g.
    /// `ap-beijing`: lowercase letters, digits and `-`.
    #[arg(
        long,
        env = "COS_GATEWAY_REGION",
        default_value = cos_gateway::state::DEFAULT_REGION,
        value_parser = parse_region
    )]
    pub region: String,
    /// Seconds a restore of an ARCHIVE or DEEP_ARCHIVE object (POST Object restore) takes before
    /// its copy is readable, whatever the tier (the cloud takes minutes to hours).
    #[arg(
        long,
        env = "COS_GATEWAY_RESTORE_DELAY",
        value_name = "SECONDS",
        default_value_t = cos_gateway::restore::DEFAULT_DELAY.as_secs()
    )]
    pub restore_delay: u64,
    /// Use SSE-KMS bucket keys for every bucket, whatever its encryption document says (one KMS
    /// data key per bucket and CMK for --bucket-key-cache-seconds instead of one KMS call per
    /// request; see the README for the trade-off). Without it, a bucket uses them when its
    /// encryption document has `<BucketKeyEnabled>true</BucketKeyEnabled>`.
    #[arg(long, env = "COS_GATEWAY_BUCKET_KEYS")]
    pub bucket_keys: bool,
    /// How long a bucket key (generated for writes, or opened for reads) is used after the KMS call
    /// that made it, in seconds; 0 turns the caches off. It bounds how long a disabled CMK still
    /// works for bucket-key objects.
    #[arg(
        long,
        env = "COS_GATEWAY_BUCKET_KEY_CACHE_SECONDS",
        value_name = "SECONDS",
        default_value_t = storage_adapter::bucket_key::DEFAULT_TTL.as_secs()
    )]
    pub bucket_key_cache_seconds: u64,
    /// Accept SSE-C over plain HTTP. A TEST CONVENIENCE ONLY: the customer key then crosses the
    /// network in clear. COS itself requires HTTPS for SSE-C.
    #[arg(long)]
    pub allow_ssec_over_http: bool,
}

/// A region name as COS spells them (`ap-guangzhou`, `na-siliconvalley`): 1 to 64 lowercase
/// letters, digits and `-`.
fn parse_region(s: &str) -> Result<String, String> {
    let ok = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(s.to_owned())
    } else {
        Err("a region is 1 to 64 lowercase letters, digits and `-`".into())
    }
}

/// The environment variable holding the KMS bearer token (when `--kms-token-file` is not given).
pub const KMS_TOKEN_ENV: &str = "KMS_TOKEN";

impl Cli {
    /// The KMS client options of the command line for `endpoint`: CA, client certificate, and the
    /// token from `--kms-token-file` or else [`KMS_TOKEN_ENV`]. Files are read when the client is
    /// built.
    pub fn kms_client_builder(
        &self,
        endpoint: &str,
    ) -> Result<kms_client::ClientBuilder, kms_client::Error> {
        let mut kms = kms_client::KmsClient::builder(endpoint);
        if let Some(ca) = &self.kms_ca_cert {
            kms = kms.ca_file(ca);
        }
        if let (Some(cert), Some(key)) = (&self.kms_client_cert, &self.kms_client_key) {
            kms = kms.client_identity_files(cert, key);
        }
        if let Some(path) = &self.kms_token_file {
            kms = kms.token_file(path);
        } else if let Some(token) = std::env::var_os(KMS_TOKEN_ENV) {
            let token = token.into_string().map_err(|_| {
                kms_client::Error::Config(format!(
                    "{KMS_TOKEN_ENV}: the bearer token must be printable ASCII without blanks"
                ))
            })?;
            kms = kms.token(
                kms_client::BearerToken::new(token)
                    .map_err(|e| kms_client::Error::Config(format!("{KMS_TOKEN_ENV}: {e}")))?,
            );
        }
        Ok(kms)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::Cli;

    /// `--sse-cos-key` names a key of an external KMS: without `--kms-endpoint` it would be
    /// ignored (the embedded KMS uses its own service key), so it is refused.
    #[test]
    fn an_sse_cos_key_needs_a_kms_endpoint() {
        let e = Cli::try_parse_from(["cos-gateway", "--sse-cos-key", "alias/other"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        assert!(e.to_string().contains("--kms-endpoint"), "{e}");
        let cli = Cli::try_parse_from([
            "cos-gateway",
            "--kms-endpoint",
            "http://127.0.0.1:50051",
            "--sse-cos-key",
            "alias/other",
        ])
        .unwrap();
        assert_eq!(cli.sse_cos_key, "alias/other");
        // The default alone needs nothing.
        assert_eq!(
            Cli::try_parse_from(["cos-gateway"]).unwrap().sse_cos_key,
            "alias/kms-cos-sse"
        );
    }
}
