//! The migration lock. sea-orm-migration has none of its own, so two replicas starting together
//! would both try to create the same tables.
//!
//! Waiting for it is bounded (`MIGRATION_LOCK_TIMEOUT_MS`): a replica behind a hung migrator
//! gives up, says who holds the lock, and exits, instead of never starting.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sea_orm_migration::sea_orm::DbErr;
use sea_orm_migration::sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm_migration::sea_orm::sqlx::{self, ConnectOptions, Connection, PgConnection};
use shared::DatabaseConfig;
use shared::env::{ConfigError, Env, parse_number};

/// The PostgreSQL advisory lock key: the ASCII bytes of `chataimg` as a bigint.
pub const MIGRATION_LOCK_KEY: i64 = 0x6368_6174_6169_6d67;

/// The application name of the connection that holds (or waits for) the lock, as
/// `pg_stat_activity` shows it.
pub const LOCK_APPLICATION_NAME: &str = "chatai-migrate";

/// How often a waiter retries the SQLite file lock (the operating system cannot notify it).
const FILE_LOCK_POLL: Duration = Duration::from_millis(100);

/// The variables the migration lock reads (the CLI and the service read them alike).
pub mod vars {
    shared::variables!(MIGRATION_LOCK_TIMEOUT_MS,);
}

/// How long to wait for the migration lock while another process holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockSettings {
    pub timeout: Duration,
}

impl LockSettings {
    /// The wait when `MIGRATION_LOCK_TIMEOUT_MS` is unset.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

    /// `MIGRATION_LOCK_TIMEOUT_MS`: 1 to 3600000 milliseconds, 60000 when unset.
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let millis = parse_number(
            env,
            vars::MIGRATION_LOCK_TIMEOUT_MS,
            60_000u64,
            1,
            3_600_000,
        )?;
        Ok(Self {
            timeout: Duration::from_millis(millis),
        })
    }
}

impl Default for LockSettings {
    fn default() -> Self {
        Self {
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }
}

/// Held while migrations run; released by [`LockGuard::release`] (or, if the process dies, by
/// PostgreSQL when the connection closes, and by the kernel for the file lock).
pub(crate) enum LockGuard {
    Postgres(Box<PgConnection>),
    Sqlite(File),
}

pub(crate) async fn acquire(
    config: &DatabaseConfig,
    settings: LockSettings,
) -> Result<LockGuard, DbErr> {
    match config.postgres_options() {
        Some(options) => acquire_advisory(options, config.pool.connect_timeout, settings).await,
        None => acquire_file(lock_file_path(config), settings).await,
    }
}

/// The PostgreSQL advisory lock, on a connection of its own: not one from the pool, because the
/// lock must stay on one session for the whole run and the pool must stay free for the
/// migrations themselves. `round_trip` bounds each exchange with the server.
async fn acquire_advisory(
    options: &PgConnectOptions,
    round_trip: Duration,
    settings: LockSettings,
) -> Result<LockGuard, DbErr> {
    // Waiting is what this connection is for: sqlx's slow-statement warning would be noise.
    let options = options
        .clone()
        .application_name(LOCK_APPLICATION_NAME)
        .disable_statement_logging();
    let connect = PgConnection::connect_with(&options);
    let mut connection = tokio::time::timeout(round_trip, connect)
        .await
        .map_err(|_| {
            DbErr::Custom(format!(
                "cannot open the migration lock connection: no answer within {round_trip:?}"
            ))
        })?
        .map_err(|error| {
            DbErr::Custom(format!(
                "cannot open the migration lock connection: {error}"
            ))
        })?;
    let try_lock = sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
        .bind(MIGRATION_LOCK_KEY)
        .fetch_one(&mut connection);
    let taken = tokio::time::timeout(round_trip, try_lock)
        .await
        .map_err(|_| no_answer(round_trip))?
        .map_err(|error| DbErr::Custom(format!("cannot take the migration lock: {error}")))?;
    if taken {
        return Ok(LockGuard::Postgres(Box::new(connection)));
    }

    let holder = describe_holder(&mut connection, round_trip).await;
    tracing::info!(
        "another process is migrating this database: waiting up to {:?} for the migration lock, held by {holder}",
        settings.timeout
    );
    // The server bounds the wait (`lock_timeout` applies to advisory locks) and hands the lock
    // over the moment it is released; the client bound only covers a server that stops answering.
    sqlx::query("SELECT set_config('lock_timeout', $1, false)")
        .bind(format!("{}ms", settings.timeout.as_millis()))
        .execute(&mut connection)
        .await
        .map_err(|error| DbErr::Custom(format!("cannot take the migration lock: {error}")))?;
    let wait = sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK_KEY)
        .execute(&mut connection);
    match tokio::time::timeout(settings.timeout + round_trip, wait).await {
        Ok(Ok(_)) => Ok(LockGuard::Postgres(Box::new(connection))),
        Ok(Err(error)) if is_lock_not_available(&error) => {
            let holder = describe_holder(&mut connection, round_trip).await;
            let _ = connection.close().await;
            Err(gave_up(
                &format!("the migration lock is held by {holder}"),
                settings,
            ))
        }
        Ok(Err(error)) => Err(DbErr::Custom(format!(
            "cannot take the migration lock: {error}"
        ))),
        Err(_) => Err(DbErr::Custom(format!(
            "PostgreSQL stopped answering while this process waited for the migration lock; gave up after {:?} ({})",
            settings.timeout + round_trip,
            vars::MIGRATION_LOCK_TIMEOUT_MS
        ))),
    }
}

fn no_answer(round_trip: Duration) -> DbErr {
    DbErr::Custom(format!(
        "cannot take the migration lock: PostgreSQL did not answer within {round_trip:?}"
    ))
}

/// SQLSTATE 55P03: `lock_timeout` expired.
fn is_lock_not_available(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(database) if database.code().as_deref() == Some("55P03"))
}

fn gave_up(holder: &str, settings: LockSettings) -> DbErr {
    DbErr::Custom(format!(
        "{holder}; gave up after {:?} ({})",
        settings.timeout,
        vars::MIGRATION_LOCK_TIMEOUT_MS
    ))
}

/// Who holds the advisory lock, from `pg_locks` and `pg_stat_activity`, e.g. `pid 12345
/// (application_name "chatai-migrate", user postgres, client 10.0.0.5, connected since
/// 2026-11-25T15:17:52Z)`. Fields that PostgreSQL hides from this
/// user (another role's session without `pg_read_all_stats`) are left out.
async fn describe_holder(connection: &mut PgConnection, round_trip: Duration) -> String {
    type Holder = (
        i32,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    // A bigint key is stored as classid = its high 32 bits, objid = its low 32 bits, objsubid 1.
    let query = sqlx::query_as::<_, Holder>(
        "SELECT a.pid, a.application_name, a.usename::text, host(a.client_addr), \
                to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
           AND l.classid::bigint = $1 AND l.objid::bigint = $2 \
         LIMIT 1",
    )
    .bind(MIGRATION_LOCK_KEY >> 32)
    .bind(MIGRATION_LOCK_KEY & 0xFFFF_FFFF)
    .fetch_optional(connection);
    match tokio::time::timeout(round_trip, query).await {
        Ok(Ok(Some((pid, application_name, user, client, since)))) => {
            let mut details = vec![format!(
                "application_name {:?}",
                application_name.unwrap_or_default()
            )];
            details.extend(user.map(|user| format!("user {user}")));
            details.extend(client.map(|client| format!("client {client}")));
            details.extend(since.map(|since| format!("connected since {since}")));
            format!("pid {pid} ({})", details.join(", "))
        }
        Ok(Ok(None)) => "another session, which released it just now".to_owned(),
        Ok(Err(error)) => format!("another session (cannot tell which: {error})"),
        Err(_) => {
            format!("another session (cannot tell which: no answer within {round_trip:?})")
        }
    }
}

/// The exclusive lock on a file beside the SQLite database. The operating system cannot wake a
/// waiter with a deadline, so it retries every [`FILE_LOCK_POLL`].
async fn acquire_file(path: PathBuf, settings: LockSettings) -> Result<LockGuard, DbErr> {
    let file = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || open_lock_file(&path))
            .await
            .map_err(|error| DbErr::Custom(format!("the migration lock task failed: {error}")))?
            .map_err(DbErr::Custom)?
    };
    let deadline = tokio::time::Instant::now() + settings.timeout;
    let mut waiting = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(LockGuard::Sqlite(file)),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(error)) => {
                return Err(DbErr::Custom(format!(
                    "cannot lock {}: {error}",
                    path.display()
                )));
            }
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            let holder = format!(
                "the migration lock file {} is held by another process",
                path.display()
            );
            return Err(gave_up(&holder, settings));
        }
        if !waiting {
            waiting = true;
            tracing::info!(
                "another process is migrating this database: waiting up to {:?} for the migration lock file {}",
                settings.timeout,
                path.display()
            );
        }
        tokio::time::sleep(FILE_LOCK_POLL.min(deadline - now)).await;
    }
}

fn open_lock_file(path: &Path) -> Result<File, String> {
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|error| {
            format!(
                "cannot open the migration lock file {}: {error}",
                path.display()
            )
        })
}

/// `<database>.migrate.lock` beside the SQLite database.
pub fn lock_file_path(config: &DatabaseConfig) -> PathBuf {
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn the_timeout_defaults_to_a_minute_and_names_its_variable_when_out_of_range() {
        assert_eq!(
            LockSettings::from_env(&HashMap::new()),
            Ok(LockSettings {
                timeout: Duration::from_secs(60)
            })
        );
        let env = HashMap::from([("MIGRATION_LOCK_TIMEOUT_MS", "300")]);
        assert_eq!(
            LockSettings::from_env(&env).map(|settings| settings.timeout),
            Ok(Duration::from_millis(300))
        );
        for bad in ["0", "3600001", "soon"] {
            let env = HashMap::from([("MIGRATION_LOCK_TIMEOUT_MS", bad)]);
            let error = LockSettings::from_env(&env).unwrap_err();
            assert_eq!(error.variable, "MIGRATION_LOCK_TIMEOUT_MS", "{bad}");
        }
    }
}
