//! Where the database is and how to pool connections to it: the `DATABASE_*` variables, or a
//! URL, turned into one [`DatabaseConfig`] (see the module documentation of `database` for the
//! resolution order).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sea_orm::sqlx::ConnectOptions as _;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgSslMode};

use super::{tls, vars};
use crate::env::{ConfigError, Env, parse_number};

/// Variables of the PostgreSQL driver that sqlx applies to every connection and that no
/// connection option can take back; a process that has one set refuses to start.
pub const REFUSED_DRIVER_VARIABLES: [&str; 3] = ["PGOPTIONS", "PGSSLCERT", "PGSSLKEY"];

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
pub(super) enum Target {
    Postgres(Box<Postgres>),
    Sqlite { path: PathBuf },
}

#[derive(Clone)]
pub(super) struct Postgres {
    pub(super) options: PgConnectOptions,
    /// The settings that chose the TLS mode and the root certificate, as a person would look
    /// them up (`DATABASE_SSLMODE=verify-full`, `DATABASE_SSLROOTCERT=/etc/ca.pem`), named when
    /// TLS fails.
    pub(super) ssl_mode_from: String,
    pub(super) root_cert_from: String,
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
    pub(super) target: Target,
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
        let pool = pool_from_env(env)?;
        let target = target_from_env(env)?;
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
                    tls::ssl_mode_name(options.get_ssl_mode())
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
            Target::Postgres(postgres) => tls::explain_failure(postgres, message),
            Target::Sqlite { .. } => message,
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

/// `DATABASE_POOL_MAX` and `DATABASE_CONNECT_TIMEOUT_MS`, each taking the default of
/// `PoolSettings` when unset.
fn pool_from_env(env: &impl Env) -> Result<PoolSettings, ConfigError> {
    Ok(PoolSettings {
        max_connections: parse_number(env, vars::DATABASE_POOL_MAX, 10, 1, 1000)?,
        connect_timeout: Duration::from_millis(parse_number(
            env,
            vars::DATABASE_CONNECT_TIMEOUT_MS,
            3000,
            1,
            600_000,
        )?),
    })
}

/// The resolution order of the module documentation: `DATABASE_URL`, else the parts, else the
/// SQLite file. The TLS variables apply on top of a PostgreSQL URL as well as of the parts.
fn target_from_env(env: &impl Env) -> Result<Target, ConfigError> {
    if let Some(url) = env.get(vars::DATABASE_URL)? {
        return Ok(match target_from_url(&url)? {
            Target::Postgres(postgres) => {
                Target::Postgres(Box::new(tls::apply_env(env, *postgres)?))
            }
            sqlite => sqlite,
        });
    }
    if any_part_set(env)? {
        return Ok(Target::Postgres(Box::new(tls::apply_env(
            env,
            postgres_from_parts(env)?,
        )?)));
    }
    let path = env
        .get(vars::DATABASE_SQLITE_PATH)?
        .unwrap_or_else(|| DEFAULT_SQLITE_PATH.to_owned());
    Ok(Target::Sqlite {
        path: PathBuf::from(path),
    })
}

/// Whether any of the five part variables is set: one is enough to mean PostgreSQL, the others
/// taking the original's defaults.
fn any_part_set(env: &impl Env) -> Result<bool, ConfigError> {
    [
        vars::DATABASE_HOST,
        vars::DATABASE_PORT,
        vars::DATABASE_USER,
        vars::DATABASE_PASSWORD,
        vars::DATABASE_NAME,
    ]
    .iter()
    .try_fold(false, |any, name| {
        Ok::<_, ConfigError>(any || env.get(name)?.is_some())
    })
}

/// `DATABASE_URL` (or the URL given to [`DatabaseConfig::from_url`]), by its scheme. The value
/// is never quoted in an error: it may hold a password.
fn target_from_url(url: &str) -> Result<Target, ConfigError> {
    let scheme = url.split_once(':').map(|(scheme, _)| scheme).unwrap_or("");
    match scheme {
        "postgres" | "postgresql" => postgres_target_from_url(url),
        "sqlite" => sqlite_target_from_url(url),
        _ => Err(ConfigError::new(
            vars::DATABASE_URL,
            "expected a postgres:// or sqlite: URL (the value is not shown: it may hold a password)",
        )),
    }
}

/// A `postgres://` URL, parsed by sqlx, then completed so that no `PG*` variable fills a gap.
fn postgres_target_from_url(url: &str) -> Result<Target, ConfigError> {
    let name = vars::DATABASE_URL;
    refuse_driver_variables()?;
    let parsed = url::Url::parse(url)
        .map_err(|error| ConfigError::new(name, format!("is not a valid URL ({error})")))?;
    let options = PgConnectOptions::from_url(&parsed).map_err(|error| {
        let message = hide_password(error.to_string(), &parsed);
        ConfigError::new(name, format!("is not a valid PostgreSQL URL ({message})"))
    })?;
    Ok(Target::Postgres(Box::new(postgres_from_url(
        &parsed, options,
    ))))
}

/// sqlx's message may quote parts of the URL: keep the password out of it, both as the URL
/// spells it and decoded (sqlx may quote the decoded form of a percent-encoded password).
fn hide_password(mut message: String, url: &url::Url) -> String {
    if let Some(password) = url.password() {
        message = message.replace(password, "***");
        let decoded = url::form_urlencoded::parse(format!("p={password}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned());
        if let Some(decoded) = decoded.filter(|decoded| !decoded.is_empty()) {
            message = message.replace(&decoded, "***");
        }
    }
    message
}

/// A `sqlite:` URL: its file path, without a leading `//` or a query.
fn sqlite_target_from_url(url: &str) -> Result<Target, ConfigError> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() {
        return Err(ConfigError::new(
            vars::DATABASE_URL,
            "a sqlite: URL needs a file path, such as sqlite:data/chatai.db",
        ));
    }
    Ok(Target::Sqlite {
        path: PathBuf::from(path),
    })
}

/// sqlx starts every set of options from the `PG*` variables (and `~/.pgpass`) and lets the URL
/// override them: set what the URL leaves out to fixed values instead, so those variables never
/// choose the server, the account or the TLS mode.
fn postgres_from_url(url: &url::Url, options: PgConnectOptions) -> Postgres {
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let options = fill_what_the_url_leaves_out(url, &query, options);
    let mut postgres = tls::from_url_query(&query, options);
    postgres.options = postgres.options.application_name("chatai");
    postgres
}

/// A URL without a host means `localhost`, without a port 5432, without a user `postgres`,
/// without a database the user's name (PostgreSQL's own default), without a password none;
/// each may also be given in the query.
fn fill_what_the_url_leaves_out(
    url: &url::Url,
    query: &[(String, String)],
    mut options: PgConnectOptions,
) -> PgConnectOptions {
    if url.host_str().is_none_or(str::is_empty) && in_query(query, &["host", "hostaddr"]).is_none()
    {
        options = options.host("localhost");
    }
    if url.port().is_none() && in_query(query, &["port"]).is_none() {
        options = options.port(5432);
    }
    if url.username().is_empty() && in_query(query, &["user"]).is_none() {
        options = options.username("postgres");
    }
    if url.password().is_none() && in_query(query, &["password"]).is_none() {
        // An empty password is what sqlx sends for none.
        options = options.password("");
    }
    if url.path().trim_start_matches('/').is_empty() && in_query(query, &["dbname"]).is_none() {
        let user = options.get_username().to_owned();
        options = options.database(&user);
    }
    options
}

/// The value of the first pair of a URL's query whose key is one of `keys` (sqlx accepts
/// several spellings of some parameters).
pub(super) fn in_query(query: &[(String, String)], keys: &[&str]) -> Option<String> {
    query
        .iter()
        .find(|(key, _)| keys.contains(&key.as_str()))
        .map(|(_, value)| value.clone())
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
        options: tls::without_root_cert(options),
        ssl_mode_from: format!("{} unset (prefer)", vars::DATABASE_SSLMODE),
        root_cert_from: format!("{} unset", vars::DATABASE_SSLROOTCERT),
    })
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
    fn what_a_url_leaves_out_takes_fixed_defaults() {
        let config = DatabaseConfig::from_url("postgres://pg").unwrap();
        assert_eq!(
            config.describe(),
            "PostgreSQL postgres@pg:5432/postgres (sslmode=prefer)"
        );
        let options = config.postgres_options().unwrap();
        assert_eq!(options.get_application_name(), Some("chatai"));
    }
}
