//! The migration lock. sea-orm-migration has none of its own, so two replicas starting together
//! would both try to create the same tables.

use std::fs::File;
use std::path::PathBuf;

use sea_orm_migration::sea_orm::DbErr;
use sea_orm_migration::sea_orm::sqlx::{self, Connection, PgConnection};
use shared::DatabaseConfig;

/// The PostgreSQL advisory lock key: the ASCII bytes of `chataimg` as a bigint.
pub const MIGRATION_LOCK_KEY: i64 = 0x6368_6174_6169_6d67;

/// Held while migrations run; released by [`LockGuard::release`] (or, if the process dies, by
/// PostgreSQL when the connection closes, and by the kernel for the file lock).
pub(crate) enum LockGuard {
    Postgres(Box<PgConnection>),
    Sqlite(File),
}

pub(crate) async fn acquire(config: &DatabaseConfig) -> Result<LockGuard, DbErr> {
    if let Some(options) = config.postgres_options() {
        // A connection of its own, not one from the pool: the lock must stay on one session for
        // the whole run, and the pool must stay free for the migrations themselves.
        let options = options.clone().application_name("chatai-migrate");
        let connect = PgConnection::connect_with(&options);
        let mut connection = tokio::time::timeout(config.pool.connect_timeout, connect)
            .await
            .map_err(|_| {
                DbErr::Custom(format!(
                    "cannot open the migration lock connection: no answer within {:?}",
                    config.pool.connect_timeout
                ))
            })?
            .map_err(|error| {
                DbErr::Custom(format!(
                    "cannot open the migration lock connection: {error}"
                ))
            })?;
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(MIGRATION_LOCK_KEY)
            .fetch_one(&mut connection)
            .await
            .map_err(|error| DbErr::Custom(format!("cannot take the migration lock: {error}")))?;
        if !taken {
            tracing::info!(
                "another process is migrating this database: waiting for the migration lock"
            );
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(MIGRATION_LOCK_KEY)
                .execute(&mut connection)
                .await
                .map_err(|error| {
                    DbErr::Custom(format!("cannot take the migration lock: {error}"))
                })?;
        }
        return Ok(LockGuard::Postgres(Box::new(connection)));
    }
    let path = lock_file_path(config);
    let file = tokio::task::spawn_blocking(move || {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|error| {
                format!(
                    "cannot open the migration lock file {}: {error}",
                    path.display()
                )
            })?;
        file.lock()
            .map_err(|error| format!("cannot lock {}: {error}", path.display()))?;
        Ok::<_, String>(file)
    })
    .await
    .map_err(|error| DbErr::Custom(format!("the migration lock task failed: {error}")))?
    .map_err(DbErr::Custom)?;
    Ok(LockGuard::Sqlite(file))
}

fn lock_file_path(config: &DatabaseConfig) -> PathBuf {
    let database = config
        .sqlite_path()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("chatai.db"));
    let mut name = database.file_name().unwrap_or_default().to_os_string();
    name.push(".migrate.lock");
    database.with_file_name(name)
}

impl LockGuard {
    pub(crate) async fn release(self) {
        match self {
            Self::Postgres(mut connection) => {
                let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(MIGRATION_LOCK_KEY)
                    .execute(&mut *connection)
                    .await;
                if let Err(error) = unlocked {
                    tracing::warn!(%error, "could not release the migration lock; closing its connection releases it");
                }
                let _ = connection.close().await;
            }
            Self::Sqlite(file) => {
                let _ = file.unlock();
            }
        }
    }
}
