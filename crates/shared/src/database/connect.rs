//! Opening a pool to the configured database.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sea_orm::sqlx::postgres::PgPoolOptions;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sea_orm::{DatabaseConnection, DbErr, SqlxPostgresConnector, SqlxSqliteConnector};

use super::config::{DatabaseConfig, PoolSettings, Postgres, Target};

/// Opens a pool to the configured database.
///
/// PostgreSQL connects lazily: this returns at once and the first query opens a connection, so
/// a service starts (and answers its liveness probe) while the database is down. SQLite creates
/// the file, and its directory, when missing; foreign keys are enforced and WAL is on.
pub async fn connect(config: &DatabaseConfig) -> Result<DatabaseConnection, DbErr> {
    match &config.target {
        Target::Postgres(postgres) => Ok(postgres_pool(postgres, config.pool)),
        Target::Sqlite { path } => sqlite_pool(path, config.pool).await,
    }
}

/// A lazy pool: no connection is opened until the first query, and idle ones close after five
/// minutes.
fn postgres_pool(postgres: &Postgres, pool: PoolSettings) -> DatabaseConnection {
    let options = postgres.options.clone();
    let pool = PgPoolOptions::new()
        .max_connections(pool.max_connections)
        .min_connections(0)
        .acquire_timeout(pool.connect_timeout)
        .idle_timeout(Duration::from_secs(300))
        // No ping before every checkout: it doubles the round trips of every query. A
        // connection the server dropped fails its next query once and is replaced.
        .test_before_acquire(false)
        .connect_lazy_with(options);
    SqlxPostgresConnector::from_sqlx_postgres_pool(pool)
}

/// Opens the SQLite file now (creating it and its directory when missing), so a path that
/// cannot be used fails here, with the path in the message.
async fn sqlite_pool(path: &Path, pool: PoolSettings) -> Result<DatabaseConnection, DbErr> {
    create_parent_dir(path)?;
    let options = SqliteConnectOptions::from_str("sqlite://")
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .filename(path)
        .create_if_missing(true)
        .foreign_keys(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(pool.max_connections)
        .acquire_timeout(pool.connect_timeout)
        .connect_with(options)
        .await
        .map_err(|error| {
            DbErr::Custom(format!(
                "cannot open the SQLite database {}: {error}",
                path.display()
            ))
        })?;
    Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

/// SQLite creates a missing file but not a missing directory: create the directory first (a
/// bare file name has none to create).
fn create_parent_dir(path: &Path) -> Result<(), DbErr> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|error| {
            DbErr::Custom(format!(
                "cannot create the directory {} for the SQLite database: {error}",
                dir.display()
            ))
        })?;
    }
    Ok(())
}
