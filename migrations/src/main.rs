//! The migration CLI: `cargo run -p migration -- up|down|status|fresh|refresh|reset`.
//!
//! It reaches the database exactly as the service and the seed do (see `shared::database`), waits
//! for the migration lock at most `MIGRATION_LOCK_TIMEOUT_MS`, and exits 2 on bad configuration,
//! 1 when the database refuses (or the lock stays taken), 0 otherwise.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use migration::{Command, LockSettings, MigrationState};
use shared::env::{AppEnv, ConfigError, ProcessEnv};
use shared::process::{self, Failure};
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

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::Up { .. } => "up",
            Self::Down { .. } => "down",
            Self::Status => "status",
            Self::Fresh => "fresh",
            Self::Refresh => "refresh",
            Self::Reset => "reset",
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let action = cli.command.unwrap_or(Action::Up { steps: None });
    process::run(
        "migration",
        None,
        || {
            // fresh, refresh and reset destroy data: never against production by accident.
            let destructive = matches!(action, Action::Fresh | Action::Refresh | Action::Reset);
            if destructive && AppEnv::from_env(&ProcessEnv)? == AppEnv::Production {
                return Err(ConfigError::new(
                    AppEnv::VARIABLE,
                    format!(
                        "refusing to run {} with APP_ENV=production: it drops data (use `down -n N` to revert migrations)",
                        action.name()
                    ),
                ));
            }
            Ok((
                DatabaseConfig::from_env(&ProcessEnv)?,
                LockSettings::from_env(&ProcessEnv)?,
            ))
        },
        |(config, lock)| async move {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "warn,sea_orm_migration=info,migration=info".into()),
                )
                .with_writer(std::io::stderr)
                .without_time()
                .with_target(false)
                .init();
            let states = execute(&config, lock, action).await.map_err(|error| {
                Failure::new(format!(
                    "{} failed ({}): {}",
                    action.name(),
                    config.describe(),
                    config.explain_error(&error)
                ))
            })?;
            for state in states {
                let mark = if state.applied { "applied" } else { "pending" };
                println!("{mark:8} {}", state.name);
            }
            Ok(())
        },
    )
}

async fn execute(
    config: &DatabaseConfig,
    lock: LockSettings,
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
    let states = migration::run_with(&db, config, command, lock).await;
    db.close().await.ok();
    states
}
