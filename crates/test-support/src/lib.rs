//! What the workspace's tests share: fresh databases (one PostgreSQL database, or one SQLite
//! file, per test, created on demand and dropped when the test ends), readers of the database
//! catalog ([`catalog`]), a holder of the migration lock ([`lock`]), the shape of the HTTP
//! answers ([`http`]), a fake SMS gateway ([`sms`]) and a fake OAuth provider ([`oauth`]).
//!
//! PostgreSQL comes from `TEST_DATABASE_URL`, else `postgres://postgres:postgres@127.0.0.1:5432`.
//! When no server answers, a test says loudly that it was skipped, except under `CI=true`,
//! where that is a failure.

pub mod catalog;
pub mod http;
pub mod lock;
pub mod oauth;
pub mod sms;

use std::path::PathBuf;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use shared::{DatabaseConfig, connect};

/// Settings as a fake hands them out (a name and an owned value), borrowed in the form the
/// services' test helpers take.
pub fn borrowed<'a>(settings: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    settings
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect()
}

pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres:postgres@127.0.0.1:5432";

/// The PostgreSQL server the tests create their databases on.
fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_TEST_DATABASE_URL.to_owned())
}

/// Runs each named `async fn(TestDatabase)` of the calling module twice: against a fresh
/// PostgreSQL database (`postgres::name`) and a fresh SQLite file (`sqlite::name`).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::postgres_or_skip!()).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::TestDatabase::sqlite().await).await;
                }
            )*
        }
    };
}

/// A database that exists for one test.
pub struct TestDatabase {
    pub config: DatabaseConfig,
    pub db: DatabaseConnection,
    cleanup: Cleanup,
}

enum Cleanup {
    Postgres { admin: DatabaseConfig, name: String },
    Sqlite { dir: PathBuf },
}

/// Gets a fresh PostgreSQL database, or returns from the test (after saying so) when no server
/// can be reached outside CI.
#[macro_export]
macro_rules! postgres_or_skip {
    () => {
        match $crate::TestDatabase::postgres().await {
            Some(database) => database,
            None => return,
        }
    };
}

impl TestDatabase {
    /// A fresh, empty PostgreSQL database. `None` (after a loud message) when no server can be
    /// reached; under `CI=true` that panics instead.
    pub async fn postgres() -> Option<Self> {
        let server = match DatabaseConfig::from_url(&server_url()) {
            Ok(config) => config,
            Err(error) => panic!("TEST_DATABASE_URL is not usable: {error}"),
        };
        let admin = server
            .with_database_name("postgres")
            .unwrap_or_else(|| panic!("TEST_DATABASE_URL must be a postgres:// URL"));
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        if let Err(error) = execute(&admin, &format!("CREATE DATABASE \"{name}\"")).await {
            let message = format!(
                "PostgreSQL at {} is not reachable ({error}): this PostgreSQL test was SKIPPED",
                admin.describe()
            );
            if std::env::var("CI").is_ok_and(|value| value == "true") {
                panic!("{message}; under CI=true that is a failure");
            }
            eprintln!("\n!!!!! {message} !!!!!\n");
            return None;
        }
        let config = server
            .with_database_name(&name)
            .unwrap_or_else(|| panic!("a postgres configuration has a database name"));
        let db = connect(&config)
            .await
            .unwrap_or_else(|error| panic!("cannot connect to the test database: {error}"));
        Some(Self {
            config,
            db,
            cleanup: Cleanup::Postgres { admin, name },
        })
    }

    /// A fresh SQLite file in its own temporary directory.
    pub async fn sqlite() -> Self {
        let dir =
            std::env::temp_dir().join(format!("chatai-test-{}", uuid::Uuid::new_v4().simple()));
        let config = DatabaseConfig::sqlite(dir.join("test.db"));
        let db = connect(&config)
            .await
            .unwrap_or_else(|error| panic!("cannot open the test SQLite database: {error}"));
        Self {
            config,
            db,
            cleanup: Cleanup::Sqlite { dir },
        }
    }

    /// Applies every migration, as the CLI's `up` does.
    pub async fn migrate(self) -> Self {
        migration::up(&self.db, &self.config)
            .await
            .unwrap_or_else(|error| panic!("migration up failed: {error}"));
        self
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Runs one SQL statement and panics with it when it fails.
    pub async fn execute(&self, sql: &str) {
        self.db
            .execute_raw(Statement::from_string(self.backend(), sql.to_owned()))
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
    }

    /// Runs one SQL statement and returns its error, if any.
    pub async fn try_execute(&self, sql: &str) -> Result<(), sea_orm::DbErr> {
        self.db
            .execute_raw(Statement::from_string(self.backend(), sql.to_owned()))
            .await
            .map(|_| ())
    }

    /// The first column of the first row of `sql`, as a number.
    pub async fn count(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(Statement::from_string(self.backend(), sql.to_owned()))
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error}"))
            .unwrap_or_else(|| panic!("{sql}: no row"));
        row.try_get_by_index::<i64>(0)
            .unwrap_or_else(|error| panic!("{sql}: {error}"))
    }

    /// Environment variables that point a process (the service, the CLI, the seed) at this
    /// database.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        match &self.cleanup {
            Cleanup::Postgres { name, .. } => {
                let url = server_url();
                vec![(
                    "DATABASE_URL".to_owned(),
                    format!("{}/{name}", url.trim_end_matches('/')),
                )]
            }
            Cleanup::Sqlite { dir } => vec![(
                "DATABASE_SQLITE_PATH".to_owned(),
                dir.join("test.db").display().to_string(),
            )],
        }
    }
}

/// An empty directory of its own for a process under test (its working directory), removed
/// when the test ends.
pub struct ScratchDir(pub PathBuf);

impl ScratchDir {
    pub fn new() -> Self {
        let dir =
            std::env::temp_dir().join(format!("chatai-run-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|error| panic!("scratch dir: {error}"));
        Self(dir)
    }
}

impl Default for ScratchDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn execute(config: &DatabaseConfig, sql: &str) -> Result<(), sea_orm::DbErr> {
    let db = connect(config).await?;
    let result = db
        .execute_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
        .await
        .map(|_| ());
    db.close().await.ok();
    result
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Postgres { admin, name } => {
                let admin = admin.clone();
                let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                // Drop runs inside the test's runtime: do the async work on a thread of its own.
                let dropped = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|error| error.to_string())?;
                    runtime
                        .block_on(execute(&admin, &sql))
                        .map_err(|error| error.to_string())
                })
                .join();
                if !matches!(dropped, Ok(Ok(()))) {
                    eprintln!("warning: could not drop test database {name}");
                }
            }
            Cleanup::Sqlite { dir } => {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}
