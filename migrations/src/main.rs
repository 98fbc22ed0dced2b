//! The migration CLI: `cargo run -p migration -- up|down|status|fresh|refresh|reset`.
//!
//! It reaches the database exactly as the service and the seed do (see `shared::database`), and
//! exits 2 on bad configuration, 1 when the database refuses, 0 otherwise.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use migration::{Command, MigrationState};
use shared::env::{ProcessEnv, load_dotenv};
use shared::{DatabaseConfig, connect};

#[derive(Parser)]
#[command(
    name = "migration",
    about = "Apply, revert and inspect the database schema."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Action>,
}

#[derive(Subcommand, Clone, Copy)]
enum Action {
    /// Apply pending migrations (the default).
    Up {
        /// Apply only this many.
        #[arg(short = 'n', long = "num")]
        steps: Option<u32>,
    },
    /// Revert the newest applied migration (or this many).
    Down {
        #[arg(short = 'n', long = "num", default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
    /// Drop every table and type, then apply all migrations (development only).
    Fresh,
    /// Revert all migrations, then apply them again.
    Refresh,
    /// Revert all migrations and drop the migrations table.
    Reset,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(error) = load_dotenv(Some(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/.."
    )))) {
        eprintln!("error: invalid configuration: {error}");
        return ExitCode::from(2);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,sea_orm_migration=info".into()),
        )
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .init();
    let config = match DatabaseConfig::from_env(&ProcessEnv) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: invalid configuration: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(
        &config,
        cli.command.unwrap_or(Action::Up { steps: None }),
    )) {
        Ok(states) => {
            for state in states {
                let mark = if state.applied { "applied" } else { "pending" };
                println!("{mark:8} {}", state.name);
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: migration failed ({}): {error}", config.describe());
            ExitCode::FAILURE
        }
    }
}

async fn execute(
    config: &DatabaseConfig,
    action: Action,
) -> Result<Vec<MigrationState>, migration::DbErr> {
    let db = connect(config).await?;
    eprintln!("database: {}", config.describe());
    let command = match action {
        Action::Status => {
            let states = migration::status(&db).await;
            db.close().await.ok();
            return states;
        }
        Action::Up { steps } => Command::Up(steps),
        Action::Down { steps } => Command::Down(Some(steps)),
        Action::Fresh => Command::Fresh,
        Action::Refresh => Command::Refresh,
        Action::Reset => Command::Reset,
    };
    let states = migration::run(&db, config, command).await;
    db.close().await.ok();
    states
}
