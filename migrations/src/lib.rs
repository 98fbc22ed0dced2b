//! The reversible schema of the platform and the one way to apply it.
//!
//! [`run`] is what the CLI, the service (embedded default) and the tests call: it applies or
//! reverts migrations while holding a lock, so several processes migrating one database at once
//! (replicas starting together) apply each migration exactly once. Waiting for that lock is
//! bounded ([`LockSettings`], `MIGRATION_LOCK_TIMEOUT_MS`).

pub use sea_orm_migration::prelude::*;

mod helpers;
mod lock;
mod m20261124_000001_initial_schema;
mod m20261125_000002_normalised_emails;
mod m20261125_000003_list_indexes;
mod m20261204_000004_idna_emails;
mod m20261205_000005_sessions_and_identities;
mod m20261206_000006_phone_codes;

use sea_orm_migration::MigrationStatus;
use sea_orm_migration::sea_orm::DatabaseConnection;
use shared::DatabaseConfig;

pub use lock::{LOCK_APPLICATION_NAME, LockSettings, MIGRATION_LOCK_KEY, lock_file_path, vars};
pub use m20261124_000001_initial_schema::{ENUMS, TABLES};
pub use m20261125_000002_normalised_emails::EMAIL_NORMALISED;
pub use m20261205_000005_sessions_and_identities::{SIGN_IN_RULE, TABLES as M2_TABLES};

/// Every migration, oldest first.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_initial_schema::Migration),
            Box::new(m20261125_000002_normalised_emails::Migration),
            Box::new(m20261125_000003_list_indexes::Migration),
            Box::new(m20261204_000004_idna_emails::Migration),
            Box::new(m20261205_000005_sessions_and_identities::Migration),
            Box::new(m20261206_000006_phone_codes::Migration),
        ]
    }
}

/// The name of the table that records applied migrations.
pub const MIGRATIONS_TABLE: &str = "seaql_migrations";

/// What to do to the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Apply pending migrations (all, or this many).
    Up(Option<u32>),
    /// Revert applied migrations (this many, newest first; `None` reverts all).
    Down(Option<u32>),
    /// Drop every table and type, then apply all migrations.
    Fresh,
    /// Revert all applied migrations, then apply all.
    Refresh,
    /// Revert all applied migrations and drop the migrations table.
    Reset,
}

/// One migration and whether it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    pub name: String,
    pub applied: bool,
}

/// Runs `command` against `db` under the migration lock (a PostgreSQL advisory lock held on a
/// dedicated connection, or an exclusive lock on a file beside the SQLite database), waiting for
/// it at most [`LockSettings::DEFAULT_TIMEOUT`]. See [`run_with`].
pub async fn run(
    db: &DatabaseConnection,
    config: &DatabaseConfig,
    command: Command,
) -> Result<Vec<MigrationState>, DbErr> {
    run_with(db, config, command, LockSettings::default()).await
}

/// Runs `command` against `db` under the migration lock, waiting for it at most
/// `lock.timeout`; past that it fails with a message that says who holds the lock.
///
/// On PostgreSQL each migration runs in its own transaction, so one that fails part-way leaves
/// the database as it was.
pub async fn run_with(
    db: &DatabaseConnection,
    config: &DatabaseConfig,
    command: Command,
    lock: LockSettings,
) -> Result<Vec<MigrationState>, DbErr> {
    let guard = lock::acquire(config, lock).await?;
    let result = match command {
        Command::Up(steps) => Migrator::up(db, steps).await,
        Command::Down(steps) => Migrator::down(db, steps).await,
        Command::Fresh => Migrator::fresh(db).await,
        Command::Refresh => Migrator::refresh(db).await,
        Command::Reset => Migrator::reset(db).await,
    };
    let states = match result {
        Ok(()) if command == Command::Reset => Ok(Migrator::migrations()
            .iter()
            .map(|migration| MigrationState {
                name: migration.name().to_owned(),
                applied: false,
            })
            .collect()),
        Ok(()) => status(db).await,
        Err(error) => Err(error),
    };
    guard.release().await;
    states
}

/// Applies every pending migration under the lock (waiting for it at most
/// [`LockSettings::DEFAULT_TIMEOUT`]).
pub async fn up(db: &DatabaseConnection, config: &DatabaseConfig) -> Result<(), DbErr> {
    up_with(db, config, LockSettings::default()).await
}

/// Applies every pending migration under the lock, waiting for it at most `lock.timeout`.
pub async fn up_with(
    db: &DatabaseConnection,
    config: &DatabaseConfig,
    lock: LockSettings,
) -> Result<(), DbErr> {
    run_with(db, config, Command::Up(None), lock)
        .await
        .map(|_| ())
}

/// Which migrations are applied. Read-only: creates nothing, takes no lock.
pub async fn status(db: &DatabaseConnection) -> Result<Vec<MigrationState>, DbErr> {
    let migrations = Migrator::get_migration_with_status_read_only(db).await?;
    Ok(migrations
        .iter()
        .map(|migration| MigrationState {
            name: migration.name().to_owned(),
            applied: migration.status() == MigrationStatus::Applied,
        })
        .collect())
}

/// Whether every migration is applied (the seed and the service ask before touching tables).
pub async fn is_up_to_date(db: &DatabaseConnection) -> Result<bool, DbErr> {
    Ok(status(db).await?.iter().all(|state| state.applied))
}
