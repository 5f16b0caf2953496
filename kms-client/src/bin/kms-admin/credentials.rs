//! Which credentials `kms-admin` presents to the KMS, and the client options made from the
//! command line: the CA to trust, a client certificate for mutual TLS, and a bearer token from
//! `--token-file` or, without it, the `KMS_TOKEN` environment variable. Kept apart so that
//! `identity` names exactly the credentials a call would use.

use std::path::PathBuf;

use kms_client::{BearerToken, ClientBuilder, KmsClient};

use crate::cli::Cli;
use crate::failure::Failure;

/// The environment variable holding a bearer token (used when `--token-file` is not given).
pub const TOKEN_ENV: &str = "KMS_TOKEN";

/// The token from `--token-file`, else from [`TOKEN_ENV`], else none. A set but empty
/// [`TOKEN_ENV`] is refused: the caller meant to authenticate.
pub fn configured_token(cli: &Cli) -> Result<Option<BearerToken>, Failure> {
    if let Some(path) = &cli.token_file {
        return BearerToken::from_file(path)
            .map(Some)
            .map_err(|e| Failure::usage(e.to_string()));
    }
    match std::env::var(TOKEN_ENV) {
        Ok(value) => BearerToken::new(value)
            .map(Some)
            .map_err(|e| Failure::usage(format!("{TOKEN_ENV}: {e}"))),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(Failure::usage(format!(
            "{TOKEN_ENV}: the bearer token must be printable ASCII without blanks"
        ))),
    }
}

/// The client certificate and key files, when both were given.
pub fn client_identity(cli: &Cli) -> Option<(&PathBuf, &PathBuf)> {
    cli.client_cert.as_ref().zip(cli.client_key.as_ref())
}

/// The client options of the command line: endpoint, timeouts, CA, client certificate, token.
pub fn client_builder(cli: &Cli) -> Result<ClientBuilder, Failure> {
    let mut kms = KmsClient::builder(cli.endpoint.clone())
        .connect_timeout(cli.timeout)
        .request_timeout(cli.timeout);
    if let Some(path) = &cli.ca_cert {
        kms = kms.ca_file(path);
    }
    if let Some((cert, key)) = client_identity(cli) {
        kms = kms.client_identity_files(cert, key);
    }
    if let Some(token) = configured_token(cli)? {
        kms = kms.token(token);
    }
    Ok(kms)
}
