//! The one way a program of the workspace starts and ends, shared by the service, the migration
//! CLI and the seed: `.env` merged into the environment, configuration read (a bad value is one
//! line naming the variable, exit 2, before anything is done), a Tokio runtime, the work, and an
//! exit code from how the work ended. Every failure is one line on stderr, `<program>: …`.

use std::future::Future;
use std::path::Path;
use std::process::ExitCode;

use crate::env::{ConfigError, load_dotenv};

/// Exit code for a configuration the program refuses: do not restart it until that changes.
pub const EXIT_CONFIG: u8 = 2;

/// How a program's work failed: the line to print (after `<program>: `) and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    pub exit_code: u8,
}

impl Failure {
    /// A failure of the work itself (exit 1): the database refused, a port was taken, ….
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            exit_code: 1,
        }
    }

    /// A refusal that only a configuration change can fix (exit 2, like a bad variable).
    pub fn configuration(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            exit_code: EXIT_CONFIG,
        }
    }
}

/// Runs `program`: merges `.env` (the current directory's, then `dotenv_fallback`'s), reads the
/// configuration with `configure`, then runs `work` on a multi-threaded runtime.
pub fn run<C, W, F>(
    program: &str,
    dotenv_fallback: Option<&Path>,
    configure: impl FnOnce() -> Result<C, ConfigError>,
    work: W,
) -> ExitCode
where
    W: FnOnce(C) -> F,
    F: Future<Output = Result<(), Failure>>,
{
    let config = match load_dotenv(dotenv_fallback).and_then(|()| configure()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{program}: invalid configuration: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{program}: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(work(config));
    // The work has ended within its own bounds; a blocking task still running (a DNS lookup of an
    // unreachable database host, say) must not hold the exit, as dropping the runtime would.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{program}: {}", failure.message);
            ExitCode::from(failure.exit_code)
        }
    }
}
