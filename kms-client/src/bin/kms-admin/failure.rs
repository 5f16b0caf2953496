//! How `kms-admin` fails: one `error: ...` line on stderr and an exit status that tells the
//! caller whose fault it was (the KMS refused, the command line was wrong, or the KMS was out of
//! reach), whatever went wrong: a refusal, a clap error, even a panic.

use std::process::ExitCode;

use clap::error::ErrorKind;

/// The KMS refused the request (or printing the answer failed).
pub const EXIT_REFUSED: u8 = 1;
/// Bad command line or unusable input (flags, files, base64, context JSON, CA, certificate or token
/// files, a token for a plain http:// endpoint).
pub const EXIT_USAGE: u8 = 2;
/// The KMS could not be reached or did not answer in time.
pub const EXIT_UNREACHABLE: u8 = 3;

/// A failed run: the message for the `error:` line and the exit status.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub status: u8,
}

impl Failure {
    /// A bad command line or unusable input.
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            status: EXIT_USAGE,
        }
    }
}

impl From<kms_client::Error> for Failure {
    fn from(e: kms_client::Error) -> Self {
        let status = if e.is_unreachable() {
            EXIT_UNREACHABLE
        } else if matches!(
            e,
            kms_client::Error::Config(_) | kms_client::Error::TokenOverPlaintext { .. }
        ) {
            EXIT_USAGE
        } else {
            EXIT_REFUSED
        };
        Failure {
            message: e.to_string(),
            status,
        }
    }
}

/// Prints the `error:` line and gives the exit status.
pub fn fail(f: &Failure) -> ExitCode {
    eprintln!("error: {}", one_line(&f.message));
    ExitCode::from(f.status)
}

/// A panic is reported like any other failure: one `error: internal error: ...` line.
pub fn report_panics_as_one_line() {
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".to_owned());
        eprintln!("error: internal error: {}", one_line(&what));
    }));
}

/// Newlines and runs of blanks become one space, so the error is one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Help and version go to stdout with status 0; any other clap error becomes one `error:` line
/// (its first paragraph) with status 2.
pub fn clap_failure(e: &clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            // Writing help to a closed stdout is not worth reporting.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand => {
            eprintln!("error: no subcommand given (see kms-admin --help)");
            return ExitCode::from(EXIT_USAGE);
        }
        _ => {}
    }
    let text = e.to_string();
    let first: Vec<&str> = text.lines().take_while(|l| !l.trim().is_empty()).collect();
    let message = one_line(&first.join(" "));
    let message = message
        .strip_prefix("error:")
        .map_or(message.as_str(), str::trim);
    eprintln!("error: {message} (see kms-admin --help)");
    ExitCode::from(EXIT_USAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_joins_lines() {
        assert_eq!(one_line("a\n  b\tc\n"), "a b c");
    }

    #[test]
    fn exit_status_classes() {
        let f = Failure::from(kms_client::Error::Timeout {
            timeout: std::time::Duration::from_secs(1),
        });
        assert_eq!(f.status, EXIT_UNREACHABLE);
        let f = Failure::from(kms_client::Error::Config("x".into()));
        assert_eq!(f.status, EXIT_USAGE);
        let f = Failure::from(kms_client::Error::Protocol("x".into()));
        assert_eq!(f.status, EXIT_REFUSED);
    }
}
