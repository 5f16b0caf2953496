//! `kms-propagation`: how long a lifecycle change made on one replica takes to show on another
//! (see `kms_bench::propagation`).

use std::process::ExitCode;

use clap::Parser;

/// Times lifecycle changes (create, disable, enable, rotate; a new key per round) made on the
/// leader until the follower's DescribeKey shows each, and prints p50/p90/p99/max.
///
/// Example: kms-propagation --leader http://127.0.0.1:50051 --follower http://127.0.0.1:50052
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// The replica the changes are made on.
    #[arg(long)]
    leader: String,
    /// The replica whose view is timed.
    #[arg(long)]
    follower: String,
    /// Rounds of four changes.
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    rounds: u32,
    /// One JSON object on stdout instead of a line of text.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(kms_bench::propagation::measure(
        &cli.leader,
        &cli.follower,
        cli.rounds,
    )) {
        Ok(lags) if cli.json => match serde_json::to_string(&lags) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Ok(lags) => {
            println!("{lags}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("kms-propagation").chain(args.iter().copied()))
    }

    #[test]
    fn flags_and_refusals() {
        let cli = parse(&["--leader", "http://a", "--follower", "http://b"]).unwrap();
        assert_eq!((cli.rounds, cli.json), (25, false));
        let cli = parse(&[
            "--leader",
            "http://a",
            "--follower",
            "http://b",
            "--rounds",
            "3",
            "--json",
        ])
        .unwrap();
        assert_eq!(
            (
                cli.leader.as_str(),
                cli.follower.as_str(),
                cli.rounds,
                cli.json
            ),
            ("http://a", "http://b", 3, true)
        );
        for args in [
            &["--leader", "http://a"][..],
            &["--follower", "http://b"],
            &["--leader", "a", "--follower", "b", "--rounds", "0"],
        ] {
            let e = parse(args).unwrap_err();
            assert!(
                matches!(
                    e.kind(),
                    clap::error::ErrorKind::MissingRequiredArgument
                        | clap::error::ErrorKind::ValueValidation
                ),
                "{args:?}: {e}"
            );
        }
    }
}
