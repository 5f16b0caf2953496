//! `kms-admin`: administer the KMS emulator from the command line.
//!
//! Parse the command line (`cli`), read and check local input (`input`), connect with the
//! credentials asked for (`credentials`), run one RPC through `kms_client` (`commands`, one module
//! per command group), print the result (`output`). Every
//! failure is one `error: ...` line on stderr and a non-zero exit status (`failure`: 1 the KMS
//! refused; 2 bad command line or input; 3 the KMS could not be reached).

mod cli;
mod commands;
mod credentials;
mod failure;
mod input;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::failure::{EXIT_REFUSED, Failure};
use crate::output::Outcome;

fn main() -> ExitCode {
    failure::report_panics_as_one_line();

    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return failure::clap_failure(&e),
    };

    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return failure::fail(&Failure {
                message: format!("cannot start the async runtime: {e}"),
                status: EXIT_REFUSED,
            });
        }
    };
    let json = cli.json;
    match runtime
        .block_on(run(cli))
        .and_then(|o| output::print(o, json))
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failure::fail(&e),
    }
}

async fn run(cli: Cli) -> Outcome {
    if matches!(cli.command, Command::Identity { .. }) {
        return commands::identity::run(&cli);
    }
    let kms = credentials::client_builder(&cli)?;
    // Check local input before connecting, so a typo is reported as such even with no server.
    let input = input::prepare(&cli.command)?;
    let kms = kms.connect().await?;
    commands::execute(&kms, cli.command, input, cli.json).await
}
