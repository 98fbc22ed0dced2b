//! The one way to reach the database, shared by the migration CLI, the seed and the service, so
//! that all three reach the same database from the same settings.
//!
//! Resolution order: `DATABASE_URL`; else any of `DATABASE_HOST`, `DATABASE_PORT`,
//! `DATABASE_USER`, `DATABASE_PASSWORD`, `DATABASE_NAME` (PostgreSQL, the original's variables and
//! defaults); else the embedded SQLite file at `DATABASE_SQLITE_PATH` (`data/chatai.db`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sea_orm::sqlx::ConnectOptions as _;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sea_orm::{DatabaseConnection, DbErr, SqlxPostgresConnector, SqlxSqliteConnector};

use crate::env::{ConfigError, Env, parse_number};

/// Every variable this module reads.
pub mod vars {
    pub const DATABASE_URL: &str = "DATABASE_URL";
    pub const DATABASE_HOST: &str = "DATABASE_HOST";
    pub const DATABASE_PORT: &str = "DATABASE_PORT";
    pub const DATABASE_USER: &str = "DATABASE_USER";
    pub const DATABASE_PASSWORD: &str = "DATABASE_PASSWORD";
    pub const DATABASE_NAME: &str = "DATABASE_NAME";
    pub const DATABASE_SQLITE_PATH: &str = "DATABASE_SQLITE_PATH";
    pub const DATABASE_POOL_MAX: &str = "DATABASE_POOL_MAX";
    pub const DATABASE_CONNECT_TIMEOUT_MS: &str = "DATABASE_CONNECT_TIMEOUT_MS";

    pub const ALL: [&str; 9] = [
        DATABASE_URL,
        DATABASE_HOST,
        DATABASE_PORT,
        DATABASE_USER,
        DATABASE_PASSWORD,
        DATABASE_NAME,
        DATABASE_SQLITE_PATH,
        DATABASE_POOL_MAX,
        DATABASE_CONNECT_TIMEOUT_MS,
    ];
}

/// The embedded database used when nothing else is configured.
pub const DEFAULT_SQLITE_PATH: &str = "data/chatai.db";

/// Which database engine a configuration points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// The name shown to people, as in the original's health JSON (`"type": "PostgreSQL"`).
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Postgres => "PostgreSQL",
            Self::Sqlite => "SQLite",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

#[derive(Clone)]
enum Target {
    Postgres(Box<PgConnectOptions>),
    Sqlite { path: PathBuf },
}

/// Connection pool limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    pub max_connections: u32,
    /// How long a caller may wait for a connection, including opening one.
    pub connect_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            connect_timeout: Duration::from_secs(3),
        }
    }
}

/// Where the database is and how to pool connections to it. Its `Debug` shows no password.
#[derive(Clone)]
pub struct DatabaseConfig {
    target: Target,
    pub pool: PoolSettings,
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("target", &self.describe())
            .field("pool", &self.pool)
            .finish()
    }
}

impl DatabaseConfig {
    /// Resolves the database from the environment (see the module documentation).
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let pool = PoolSettings {
            max_connections: parse_number(env, vars::DATABASE_POOL_MAX, 10, 1, 1000)?,
            connect_timeout: Duration::from_millis(parse_number(
                env,
                vars::DATABASE_CONNECT_TIMEOUT_MS,
                3000,
                1,
                600_000,
            )?),
        };
        let target = if let Some(url) = env.get(vars::DATABASE_URL)? {
            target_from_url(&url)?
        } else if [
            vars::DATABASE_HOST,
            vars::DATABASE_PORT,
            vars::DATABASE_USER,
            vars::DATABASE_PASSWORD,
            vars::DATABASE_NAME,
        ]
        .iter()
        .try_fold(false, |any, name| {
            Ok::<_, ConfigError>(any || env.get(name)?.is_some())
        })? {
            Target::Postgres(Box::new(postgres_from_parts(env)?))
        } else {
            let path = env
                .get(vars::DATABASE_SQLITE_PATH)?
                .unwrap_or_else(|| DEFAULT_SQLITE_PATH.to_owned());
            Target::Sqlite {
                path: PathBuf::from(path),
            }
        };
        Ok(Self { target, pool })
    }

    /// A PostgreSQL or SQLite URL (`postgres://…`, `sqlite:path`), with default pool settings.
    pub fn from_url(url: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            target: target_from_url(url)?,
            pool: PoolSettings::default(),
        })
    }

    /// The SQLite file at `path`, created on first use.
    pub fn sqlite(path: impl Into<PathBuf>) -> Self {
        Self {
            target: Target::Sqlite { path: path.into() },
            pool: PoolSettings::default(),
        }
    }

    pub fn with_pool(mut self, pool: PoolSettings) -> Self {
        self.pool = pool;
        self
    }

    pub fn backend(&self) -> Backend {
        match self.target {
            Target::Postgres(_) => Backend::Postgres,
            Target::Sqlite { .. } => Backend::Sqlite,
        }
    }

    /// The SQLite file, when the backend is SQLite.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.target {
            Target::Sqlite { path } => Some(path),
            Target::Postgres(_) => None,
        }
    }

    /// The typed PostgreSQL connection options, when the backend is PostgreSQL.
    pub fn postgres_options(&self) -> Option<&PgConnectOptions> {
        match &self.target {
            Target::Postgres(options) => Some(options),
            Target::Sqlite { .. } => None,
        }
    }

    /// Which database this is, for logs: `PostgreSQL postgres@localhost:5432/chatai_platform` or
    /// `SQLite data/chatai.db`. Never contains a password.
    pub fn describe(&self) -> String {
        match &self.target {
            Target::Postgres(options) => format!(
                "PostgreSQL {}@{}:{}/{}",
                options.get_username(),
                options.get_host(),
                options.get_port(),
                options.get_database().unwrap_or("")
            ),
            Target::Sqlite { path } => format!("SQLite {}", path.display()),
        }
    }

    /// The same server with another database name (tests and tools create databases with it).
    /// `None` for SQLite.
    pub fn with_database_name(&self, name: &str) -> Option<Self> {
        match &self.target {
            Target::Postgres(options) => Some(Self {
                target: Target::Postgres(Box::new((**options).clone().database(name))),
                pool: self.pool,
            }),
            Target::Sqlite { .. } => None,
        }
    }
}

fn target_from_url(url: &str) -> Result<Target, ConfigError> {
    let name = vars::DATABASE_URL;
    let scheme = url.split_once(':').map(|(scheme, _)| scheme).unwrap_or("");
    match scheme {
        "postgres" | "postgresql" => {
            let parsed = url::Url::parse(url)
                .map_err(|error| ConfigError::new(name, format!("is not a valid URL ({error})")))?;
            let options = PgConnectOptions::from_url(&parsed).map_err(|error| {
                // sqlx's message may quote parts of the URL: keep the password out of it.
                let mut message = error.to_string();
                if let Some(password) = parsed.password() {
                    message = message.replace(password, "***");
                }
                ConfigError::new(name, format!("is not a valid PostgreSQL URL ({message})"))
            })?;
            Ok(Target::Postgres(Box::new(options)))
        }
        "sqlite" => {
            let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
            let path = rest.split('?').next().unwrap_or("");
            if path.is_empty() {
                return Err(ConfigError::new(
                    name,
                    "a sqlite: URL needs a file path, such as sqlite:data/chatai.db",
                ));
            }
            Ok(Target::Sqlite {
                path: PathBuf::from(path),
            })
        }
        _ => Err(ConfigError::new(
            name,
            "expected a postgres:// or sqlite: URL (the value is not shown: it may hold a password)",
        )),
    }
}

fn postgres_from_parts(env: &impl Env) -> Result<PgConnectOptions, ConfigError> {
    let host = env
        .get(vars::DATABASE_HOST)?
        .unwrap_or_else(|| "localhost".to_owned());
    if host.contains(['/', ' ', '@']) && !host.starts_with('/') {
        return Err(ConfigError::new(
            vars::DATABASE_HOST,
            "expected a host name or address (the value is not shown: it may hold a password)",
        ));
    }
    let port: u16 = parse_number(env, vars::DATABASE_PORT, 5432, 1, 65535)?;
    let user = env
        .get(vars::DATABASE_USER)?
        .unwrap_or_else(|| "postgres".to_owned());
    let password = env
        .get(vars::DATABASE_PASSWORD)?
        .unwrap_or_else(|| "postgres".to_owned());
    let database = env
        .get(vars::DATABASE_NAME)?
        .unwrap_or_else(|| "chatai_platform".to_owned());
    Ok(PgConnectOptions::new_without_pgpass()
        .host(&host)
        .port(port)
        .username(&user)
        .password(&password)
        .database(&database))
}

/// Opens a pool to the configured database.
///
/// PostgreSQL connects lazily: this returns at once and the first query opens a connection, so
/// a service starts (and answers its liveness probe) while the database is down. SQLite creates
/// the file, and its directory, when missing; foreign keys are enforced and WAL is on.
pub async fn connect(config: &DatabaseConfig) -> Result<DatabaseConnection, DbErr> {
    let pool = config.pool;
    match &config.target {
        Target::Postgres(options) => {
            let options = options.clone().application_name("chatai");
            let pool = PgPoolOptions::new()
                .max_connections(pool.max_connections)
                .min_connections(0)
                .acquire_timeout(pool.connect_timeout)
                .idle_timeout(Duration::from_secs(300))
                // No ping before every checkout: it doubles the round trips of every query. A
                // connection the server dropped fails its next query once and is replaced.
                .test_before_acquire(false)
                .connect_lazy_with(options);
            Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
        }
        Target::Sqlite { path } => {
            if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|error| {
                    DbErr::Custom(format!(
                        "cannot create the directory {} for the SQLite database: {error}",
                        dir.display()
                    ))
                })?;
            }
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
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn nothing_configured_means_the_embedded_sqlite_file() {
        let config = DatabaseConfig::from_env(&HashMap::new()).unwrap();
        assert_eq!(config.backend(), Backend::Sqlite);
        assert_eq!(config.sqlite_path(), Some(Path::new(DEFAULT_SQLITE_PATH)));
    }

    #[test]
    fn database_variables_mean_postgres_with_the_original_defaults() {
        let env = HashMap::from([("DATABASE_HOST", "db.internal")]);
        let config = DatabaseConfig::from_env(&env).unwrap();
        assert_eq!(
            config.describe(),
            "PostgreSQL postgres@db.internal:5432/chatai_platform"
        );
    }

    #[test]
    fn database_url_wins_over_the_parts() {
        let env = HashMap::from([
            ("DATABASE_URL", "postgres://app:s3cret@pg:6543/app"),
            ("DATABASE_HOST", "ignored"),
        ]);
        let config = DatabaseConfig::from_env(&env).unwrap();
        assert_eq!(config.describe(), "PostgreSQL app@pg:6543/app");
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn a_bad_url_names_the_variable_and_hides_the_password() {
        let env = HashMap::from([("DATABASE_URL", "mysql://root:s3cret@localhost/x")]);
        let error = DatabaseConfig::from_env(&env).unwrap_err();
        assert_eq!(error.variable, "DATABASE_URL");
        assert!(!error.to_string().contains("s3cret"));

        let env = HashMap::from([("DATABASE_URL", "postgres://u:s3cret@host:99999/db")]);
        let error = DatabaseConfig::from_env(&env).unwrap_err();
        assert_eq!(error.variable, "DATABASE_URL");
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }

    #[test]
    fn a_bad_port_names_the_variable() {
        let env = HashMap::from([("DATABASE_PORT", "abc")]);
        let error = DatabaseConfig::from_env(&env).unwrap_err();
        assert_eq!(error.variable, "DATABASE_PORT");
    }
}
