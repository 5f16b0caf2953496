//! `kms-bench`: parse the command line, run, print.

use std::process::ExitCode;

use clap::Parser;
use kms_bench::{Cli, render_json, render_table, run};

/// mimalloc: its per-thread heaps avoid glibc's arena lock, which the runtime threads otherwise
/// contend on for every request's buffers (see bench/BENCHMARKS.md); the embedded server uses it too.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // The embedded server logs one line per request at info; keep the bench quiet unless asked.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&cli)) {
        Ok(reports) => {
            if cli.json {
                print!("{}", render_json(&reports));
            } else {
                print!("{}", render_table(&reports));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
