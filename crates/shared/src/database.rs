//! The one way to reach the database, shared by the migration CLI, the seed and the service, so
//! that all three reach the same database from the same settings.
//!
//! Resolution order: `DATABASE_URL`; else any of `DATABASE_HOST`, `DATABASE_PORT`,
//! `DATABASE_USER`, `DATABASE_PASSWORD`, `DATABASE_NAME` (PostgreSQL, the original's variables and
//! defaults); else the embedded SQLite file at `DATABASE_SQLITE_PATH` (`data/chatai.db`).
//!
//! On PostgreSQL, `DATABASE_SSLMODE` and `DATABASE_SSLROOTCERT` apply on top of either (an
//! `sslmode=` in `DATABASE_URL` holds while `DATABASE_SSLMODE` is unset). Every connection
//! option is set here, so the driver's own `PG*` variables (`PGHOST`, `PGSSLMODE`, `~/.pgpass`,
//! …) never change the connection; the three it would apply regardless are refused.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sea_orm::sqlx::ConnectOptions as _;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sea_orm::{DatabaseConnection, DbErr, SqlxPostgresConnector, SqlxSqliteConnector};

use crate::env::{ConfigError, Env, parse_number};

/// Every variable this module reads.
pub mod vars {
    crate::variables!(
        DATABASE_URL,
        DATABASE_HOST,
        DATABASE_PORT,
        DATABASE_USER,
        DATABASE_PASSWORD,
        DATABASE_NAME,
        DATABASE_SQLITE_PATH,
        DATABASE_POOL_MAX,
        DATABASE_CONNECT_TIMEOUT_MS,
        DATABASE_SSLMODE,
        DATABASE_SSLROOTCERT,
    );
}

/// Variables of the PostgreSQL driver that sqlx applies to every connection and that no
/// connection option can take back; a process that has one set refuses to start.
pub const REFUSED_DRIVER_VARIABLES: [&str; 3] = ["PGOPTIONS", "PGSSLCERT", "PGSSLKEY"];

/// How a failed TLS handshake reads: sqlx's own TLS error (`sqlx::Error::Tls`: no TLS on the
/// server, an unreadable certificate) and rustls's certificate and handshake errors, which sqlx
/// passes on as I/O errors. (Only text survives every path: the migration lock, for one, keeps
/// the message alone.)
const TLS_FAILURES: [&str; 6] = [
    "error occurred while attempting to establish a TLS connection",
    "invalid peer certificate",
    "received fatal alert",
    "peer is incompatible",
    "peer misbehaved",
    "peer sent no certificates",
];

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
    Postgres(Box<Postgres>),
    Sqlite { path: PathBuf },
}

#[derive(Clone)]
struct Postgres {
    options: PgConnectOptions,
    /// The settings that chose the TLS mode and the root certificate, as a person would look
    /// them up (`DATABASE_SSLMODE=verify-full`, `DATABASE_SSLROOTCERT=/etc/ca.pem`), named when
    /// TLS fails.
    ssl_mode_from: String,
    root_cert_from: String,
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
            match target_from_url(&url)? {
                Target::Postgres(postgres) => {
                    Target::Postgres(Box::new(tls_from_env(env, *postgres)?))
                }
                sqlite => sqlite,
            }
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
            Target::Postgres(Box::new(tls_from_env(env, postgres_from_parts(env)?)?))
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
    /// TLS is what the URL says (`sslmode=`, `sslrootcert=`), else `prefer`.
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
            Target::Postgres(postgres) => Some(&postgres.options),
            Target::Sqlite { .. } => None,
        }
    }

    /// Which database this is, for logs:
    /// `PostgreSQL postgres@localhost:5432/chatai_platform (sslmode=prefer)` or
    /// `SQLite data/chatai.db`. Never contains a password.
    pub fn describe(&self) -> String {
        match &self.target {
            Target::Postgres(postgres) => {
                let options = &postgres.options;
                format!(
                    "PostgreSQL {}@{}:{}/{} (sslmode={})",
                    options.get_username(),
                    options.get_host(),
                    options.get_port(),
                    options.get_database().unwrap_or(""),
                    ssl_mode_name(options.get_ssl_mode())
                )
            }
            Target::Sqlite { path } => format!("SQLite {}", path.display()),
        }
    }

    /// The message of a failure to use this database: `error`, followed, when the TLS handshake
    /// with PostgreSQL is what failed, by the settings that chose TLS, so the message names the
    /// variables to check. (PostgreSQL connects lazily, so that failure surfaces at the first
    /// query, far from this configuration.)
    pub fn explain_error(&self, error: &dyn fmt::Display) -> String {
        let message = error.to_string();
        match &self.target {
            Target::Postgres(postgres)
                if TLS_FAILURES.iter().any(|failure| message.contains(failure)) =>
            {
                format!(
                    "{message}; TLS settings: {}, {}",
                    postgres.ssl_mode_from, postgres.root_cert_from
                )
            }
            _ => message,
        }
    }

    /// The same server with another database name (tests and tools create databases with it).
    /// `None` for SQLite.
    pub fn with_database_name(&self, name: &str) -> Option<Self> {
        match &self.target {
            Target::Postgres(postgres) => Some(Self {
                target: Target::Postgres(Box::new(Postgres {
                    options: postgres.options.clone().database(name),
                    ..(**postgres).clone()
                })),
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
            refuse_driver_variables()?;
            let parsed = url::Url::parse(url)
                .map_err(|error| ConfigError::new(name, format!("is not a valid URL ({error})")))?;
            let options = PgConnectOptions::from_url(&parsed).map_err(|error| {
                // sqlx's message may quote parts of the URL: keep the password out of it.
                let mut message = error.to_string();
                if let Some(password) = parsed.password() {
                    message = message.replace(password, "***");
                    // sqlx may quote the decoded form of a percent-encoded password.
                    let decoded = url::form_urlencoded::parse(format!("p={password}").as_bytes())
                        .next()
                        .map(|(_, value)| value.into_owned());
                    if let Some(decoded) = decoded.filter(|decoded| !decoded.is_empty()) {
                        message = message.replace(&decoded, "***");
                    }
                }
                ConfigError::new(name, format!("is not a valid PostgreSQL URL ({message})"))
            })?;
            Ok(Target::Postgres(Box::new(postgres_from_url(
                &parsed, options,
            ))))
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

/// sqlx starts every set of options from the `PG*` variables (and `~/.pgpass`) and lets the URL
/// override them: set what the URL leaves out to fixed values instead, so those variables never
/// choose the server, the account or the TLS mode. A URL without a user means `postgres`, without
/// a database the user's name (PostgreSQL's own default), without a password none.
fn postgres_from_url(url: &url::Url, mut options: PgConnectOptions) -> Postgres {
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let in_query = |keys: &[&str]| {
        query
            .iter()
            .find(|(key, _)| keys.contains(&key.as_str()))
            .map(|(_, value)| value.clone())
    };
    if url.host_str().is_none_or(str::is_empty) && in_query(&["host", "hostaddr"]).is_none() {
        options = options.host("localhost");
    }
    if url.port().is_none() && in_query(&["port"]).is_none() {
        options = options.port(5432);
    }
    if url.username().is_empty() && in_query(&["user"]).is_none() {
        options = options.username("postgres");
    }
    if url.password().is_none() && in_query(&["password"]).is_none() {
        // An empty password is what sqlx sends for none.
        options = options.password("");
    }
    if url.path().trim_start_matches('/').is_empty() && in_query(&["dbname"]).is_none() {
        let user = options.get_username().to_owned();
        options = options.database(&user);
    }
    let ssl_mode_from = if in_query(&["sslmode", "ssl-mode"]).is_some() {
        format!(
            "sslmode={} in {}",
            ssl_mode_name(options.get_ssl_mode()),
            vars::DATABASE_URL
        )
    } else {
        options = options.ssl_mode(PgSslMode::Prefer);
        format!("{} unset (prefer)", vars::DATABASE_SSLMODE)
    };
    let root_cert_from = match in_query(&["sslrootcert", "ssl-root-cert", "ssl-ca"]) {
        Some(path) => format!("sslrootcert={path} in {}", vars::DATABASE_URL),
        None => {
            options = without_root_cert(options);
            format!("{} unset", vars::DATABASE_SSLROOTCERT)
        }
    };
    Postgres {
        options: options.application_name("chatai"),
        ssl_mode_from,
        root_cert_from,
    }
}

fn postgres_from_parts(env: &impl Env) -> Result<Postgres, ConfigError> {
    refuse_driver_variables()?;
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
    let options = PgConnectOptions::new_without_pgpass()
        .host(&host)
        .port(port)
        .username(&user)
        .password(&password)
        .database(&database)
        .ssl_mode(PgSslMode::Prefer)
        .application_name("chatai");
    Ok(Postgres {
        options: without_root_cert(options),
        ssl_mode_from: format!("{} unset (prefer)", vars::DATABASE_SSLMODE),
        root_cert_from: format!("{} unset", vars::DATABASE_SSLROOTCERT),
    })
}

/// No root certificate of our own, whatever `PGSSLROOTCERT` says: an empty list adds nothing to
/// the trusted roots (sqlx has no way to unset the option once it has read the variable).
fn without_root_cert(options: PgConnectOptions) -> PgConnectOptions {
    options.ssl_root_cert_from_pem(Vec::new())
}

/// `PGOPTIONS`, `PGSSLCERT` and `PGSSLKEY` reach every connection sqlx opens and no option
/// removes them, so a process that has one set refuses to start rather than connect in a way no
/// `DATABASE_*` variable says. (sqlx reads the process environment, not `env`.)
fn refuse_driver_variables() -> Result<(), ConfigError> {
    for name in REFUSED_DRIVER_VARIABLES {
        if std::env::var_os(name).is_some_and(|value| !value.is_empty()) {
            return Err(ConfigError::new(
                name,
                "is set, and the PostgreSQL driver would apply it to every connection; this \
                 program takes its database settings only from the DATABASE_* variables: unset it",
            ));
        }
    }
    Ok(())
}

/// `DATABASE_SSLMODE` and `DATABASE_SSLROOTCERT`, on top of what the URL or the parts chose.
fn tls_from_env(env: &impl Env, mut postgres: Postgres) -> Result<Postgres, ConfigError> {
    if let Some(raw) = env.get(vars::DATABASE_SSLMODE)? {
        let mode = parse_ssl_mode(&raw).ok_or_else(|| {
            ConfigError::new(
                vars::DATABASE_SSLMODE,
                format!("expected disable, prefer, require, verify-ca or verify-full, got {raw:?}"),
            )
        })?;
        postgres.options = postgres.options.ssl_mode(mode);
        postgres.ssl_mode_from = format!("{}={}", vars::DATABASE_SSLMODE, ssl_mode_name(mode));
    }
    if let Some(path) = env.get(vars::DATABASE_SSLROOTCERT)? {
        let mode = postgres.options.get_ssl_mode();
        if !matches!(mode, PgSslMode::VerifyCa | PgSslMode::VerifyFull) {
            return Err(ConfigError::new(
                vars::DATABASE_SSLROOTCERT,
                format!(
                    "is only used with {}=verify-ca or verify-full, and the mode is {}, which \
                     checks no certificate",
                    vars::DATABASE_SSLMODE,
                    ssl_mode_name(mode)
                ),
            ));
        }
        check_root_cert(Path::new(&path))?;
        postgres.options = postgres.options.ssl_root_cert(&path);
        postgres.root_cert_from = format!("{}={path}", vars::DATABASE_SSLROOTCERT);
    }
    Ok(postgres)
}

/// The file must hold a PEM certificate now, not at the first connection.
fn check_root_cert(path: &Path) -> Result<(), ConfigError> {
    let contents = std::fs::read(path).map_err(|error| {
        ConfigError::new(
            vars::DATABASE_SSLROOTCERT,
            format!("cannot read {} ({error})", path.display()),
        )
    })?;
    if !contents
        .windows(b"-----BEGIN CERTIFICATE-----".len())
        .any(|window| window == b"-----BEGIN CERTIFICATE-----")
    {
        return Err(ConfigError::new(
            vars::DATABASE_SSLROOTCERT,
            format!(
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// The five modes this configuration offers (sqlx's `allow` is left out: it is `disable`).
fn parse_ssl_mode(raw: &str) -> Option<PgSslMode> {
    match raw.trim() {
        "disable" => Some(PgSslMode::Disable),
        "prefer" => Some(PgSslMode::Prefer),
        "require" => Some(PgSslMode::Require),
        "verify-ca" => Some(PgSslMode::VerifyCa),
        "verify-full" => Some(PgSslMode::VerifyFull),
        _ => None,
    }
}

fn ssl_mode_name(mode: PgSslMode) -> &'static str {
    match mode {
        PgSslMode::Disable => "disable",
        PgSslMode::Allow => "allow",
        PgSslMode::Prefer => "prefer",
        PgSslMode::Require => "require",
        PgSslMode::VerifyCa => "verify-ca",
        PgSslMode::VerifyFull => "verify-full",
    }
}

/// Opens a pool to the configured database.
///
/// PostgreSQL connects lazily: this returns at once and the first query opens a connection, so
/// a service starts (and answers its liveness probe) while the database is down. SQLite creates
/// the file, and its directory, when missing; foreign keys are enforced and WAL is on.
pub async fn connect(config: &DatabaseConfig) -> Result<DatabaseConnection, DbErr> {
    let pool = config.pool;
    match &config.target {
        Target::Postgres(postgres) => {
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
            "PostgreSQL postgres@db.internal:5432/chatai_platform (sslmode=prefer)"
        );
    }

    #[test]
    fn database_url_wins_over_the_parts() {
        let env = HashMap::from([
            ("DATABASE_URL", "postgres://app:s3cret@pg:6543/app"),
            ("DATABASE_HOST", "ignored"),
        ]);
        let config = DatabaseConfig::from_env(&env).unwrap();
        assert_eq!(
            config.describe(),
            "PostgreSQL app@pg:6543/app (sslmode=prefer)"
        );
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

    #[test]
    fn sslmode_applies_to_the_parts_and_on_top_of_a_url() {
        let env = HashMap::from([("DATABASE_HOST", "db"), ("DATABASE_SSLMODE", "require")]);
        let config = DatabaseConfig::from_env(&env).unwrap();
        assert_eq!(
            config.describe(),
            "PostgreSQL postgres@db:5432/chatai_platform (sslmode=require)"
        );

        let env = HashMap::from([
            ("DATABASE_URL", "postgres://app@pg/app?sslmode=verify-full"),
            ("DATABASE_SSLMODE", "disable"),
        ]);
        let config = DatabaseConfig::from_env(&env).unwrap();
        assert_eq!(
            config.describe(),
            "PostgreSQL app@pg:5432/app (sslmode=disable)"
        );
    }

    #[test]
    fn a_url_sslmode_holds_while_database_sslmode_is_unset() {
        let env = HashMap::from([("DATABASE_URL", "postgres://app@pg/app?sslmode=require")]);
        let config = DatabaseConfig::from_env(&env).unwrap();
        assert_eq!(
            config.describe(),
            "PostgreSQL app@pg:5432/app (sslmode=require)"
        );
    }

    #[test]
    fn what_a_url_leaves_out_takes_fixed_defaults() {
        let config = DatabaseConfig::from_url("postgres://pg").unwrap();
        assert_eq!(
            config.describe(),
            "PostgreSQL postgres@pg:5432/postgres (sslmode=prefer)"
        );
        let options = config.postgres_options().unwrap();
        assert_eq!(options.get_application_name(), Some("chatai"));
    }

    #[test]
    fn a_bad_sslmode_names_the_variable() {
        for value in ["bogus", "allow", "REQUIRE!"] {
            let env = HashMap::from([("DATABASE_HOST", "db"), ("DATABASE_SSLMODE", value)]);
            let error = DatabaseConfig::from_env(&env).unwrap_err();
            assert_eq!(error.variable, "DATABASE_SSLMODE", "{value}");
            assert!(
                error.problem.contains("verify-full"),
                "{value}: {}",
                error.problem
            );
        }
    }

    #[test]
    fn a_root_cert_that_cannot_be_used_names_the_variable() {
        let dir = std::env::temp_dir().join(format!("chatai-rootcert-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let not_pem = dir.join("not-a-cert.txt");
        std::fs::write(&not_pem, "hello").unwrap();
        let missing = dir.join("missing.pem");
        for (path, problem) in [
            (missing.display().to_string(), "cannot read"),
            (not_pem.display().to_string(), "holds no PEM certificate"),
        ] {
            let env = HashMap::from([
                ("DATABASE_HOST", "db"),
                ("DATABASE_SSLMODE", "verify-full"),
                ("DATABASE_SSLROOTCERT", path.as_str()),
            ]);
            let error = DatabaseConfig::from_env(&env).unwrap_err();
            assert_eq!(error.variable, "DATABASE_SSLROOTCERT");
            assert!(error.problem.contains(problem), "{error}");
            assert!(error.problem.contains(&path), "{error}");
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_root_cert_without_a_verifying_mode_names_the_variable() {
        for mode in [None, Some("disable"), Some("prefer"), Some("require")] {
            let mut env = HashMap::from([
                ("DATABASE_HOST", "db"),
                ("DATABASE_SSLROOTCERT", "/etc/ssl/certs/ca-certificates.crt"),
            ]);
            if let Some(mode) = mode {
                env.insert("DATABASE_SSLMODE", mode);
            }
            let error = DatabaseConfig::from_env(&env).unwrap_err();
            assert_eq!(error.variable, "DATABASE_SSLROOTCERT", "{mode:?}");
            assert!(
                error.problem.contains("verify-ca or verify-full"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_tls_failure_is_explained_with_the_variables_that_chose_tls() {
        // As sqlx reports a server without TLS, and a certificate rustls refused.
        let no_tls = sea_orm::sqlx::Error::Tls("server does not support TLS".into());
        let tls_failure = sea_orm::sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "invalid peer certificate: UnknownIssuer",
        ));
        let env = HashMap::from([("DATABASE_HOST", "db"), ("DATABASE_SSLMODE", "require")]);
        let config = DatabaseConfig::from_env(&env).unwrap();
        assert_eq!(
            config.explain_error(&no_tls),
            "error occurred while attempting to establish a TLS connection: server does not \
             support TLS; TLS settings: DATABASE_SSLMODE=require, DATABASE_SSLROOTCERT unset"
        );
        assert_eq!(
            config.explain_error(&tls_failure),
            "error communicating with database: invalid peer certificate: UnknownIssuer; TLS \
             settings: DATABASE_SSLMODE=require, DATABASE_SSLROOTCERT unset"
        );
        let config =
            DatabaseConfig::from_url("postgres://pg/db?sslmode=verify-ca&sslrootcert=/ca.pem")
                .unwrap();
        assert!(config.explain_error(&tls_failure).ends_with(
            "TLS settings: sslmode=verify-ca in DATABASE_URL, sslrootcert=/ca.pem in DATABASE_URL"
        ));
        let refused = sea_orm::sqlx::Error::Protocol("connection refused".into());
        assert_eq!(config.explain_error(&refused), refused.to_string());
    }
}
