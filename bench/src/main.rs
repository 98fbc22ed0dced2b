//! The Rust half of `bench/run.sh`:
//!
//! - `baseline`: a minimal axum server whose `GET /health` returns a body of the service's size
//!   with no middleware: the ceiling the service is measured against.
//! - `startup`: launches the service binary N times and measures launch to the first 200 from
//!   `/health`.
//! - `cascade`: times deleting one user who owns 10 000 rows, with 100 000 and with 1 000 000
//!   rows of other users in the tables.
//! - `proxy`: a TCP proxy in front of PostgreSQL that counts database round trips.
//! - `capture`: turns the statements PostgreSQL logged for one request into a pgbench script.
//! - `argon2`: argon2id verifications per second with the service's parameters and bound.
//! - `report`: turns the samples `run.sh` collected into `docs/BENCHMARKS.md`.

mod argon2;
mod capture;
mod cascade;
mod proxy;
mod report;
mod startup;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the baseline `/health` on 127.0.0.1:PORT.
    Baseline {
        #[arg(long)]
        port: u16,
    },
    /// Time launch to first 200 of the service binary, RUNS times; prints one sample (ms) a line.
    Startup {
        #[arg(long)]
        binary: String,
        #[arg(long, default_value_t = 10)]
        runs: usize,
    },
    /// Time the cascading delete of one user at each size of other users' data; prints
    /// `cascade_<size>_ms <value>` lines.
    Cascade {
        /// A PostgreSQL server URL without database name; databases are created and dropped.
        #[arg(long)]
        server: String,
        #[arg(long, value_delimiter = ',', default_value = "100000,1000000")]
        sizes: Vec<u64>,
        #[arg(long, default_value_t = 10_000)]
        own_rows: u64,
        #[arg(long, default_value_t = 3)]
        repetitions: usize,
    },
    /// Relay 127.0.0.1:LISTEN to UPSTREAM, counting round trips; `GET /` on 127.0.0.1:STATS
    /// answers `<round trips> <connections>`.
    Proxy {
        #[arg(long)]
        listen: u16,
        #[arg(long)]
        upstream: String,
        #[arg(long)]
        stats: u16,
    },
    /// Write a pgbench script (and its `-D` definitions, one a line) from the statements of
    /// DATABASE that PostgreSQL logged in LOG after byte FROM; prints the statements.
    Capture {
        #[arg(long)]
        log: String,
        #[arg(long)]
        from: u64,
        #[arg(long)]
        database: String,
        #[arg(long)]
        script: String,
        #[arg(long)]
        defines: String,
    },
    /// Print argon2id verifications per second on THREADS threads with the service's parameters.
    Argon2 {
        #[arg(long)]
        threads: usize,
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// Write the report from a samples file (`metric value` lines) and a context file.
    Report {
        #[arg(long)]
        samples: String,
        #[arg(long)]
        context: String,
        #[arg(long)]
        output: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("bench: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result: Result<(), String> = runtime.block_on(async {
        match cli.command {
            Command::Baseline { port } => baseline(port).await,
            Command::Startup { binary, runs } => startup::run(&binary, runs).await,
            Command::Cascade {
                server,
                sizes,
                own_rows,
                repetitions,
            } => cascade::run(&server, &sizes, own_rows, repetitions).await,
            Command::Proxy {
                listen,
                upstream,
                stats,
            } => proxy::run(listen, upstream, stats).await,
            Command::Capture {
                log,
                from,
                database,
                script,
                defines,
            } => capture::run(&log, from, &database, &script, &defines),
            Command::Argon2 { threads, seconds } => argon2::run(threads, seconds),
            Command::Report {
                samples,
                context,
                output,
            } => report::write(&samples, &context, &output),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The same length as the service's `/health` body against PostgreSQL.
const BASELINE_BODY: &str = r#"{"status":"ok","timestamp":"2026-01-01T00:00:00.000Z","service":"user-service","version":"1.0.0","database":{"status":"connected","type":"PostgreSQL"}}"#;

async fn baseline(port: u16) -> Result<(), String> {
    let app = axum::Router::new().route(
        "/health",
        axum::routing::get(|| async {
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                BASELINE_BODY,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|error| format!("bind 127.0.0.1:{port}: {error}"))?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|error| error.to_string())
}
