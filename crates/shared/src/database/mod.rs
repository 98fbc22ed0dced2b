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
//!
//! The parts: `config` turns the variables (or a URL) into a [`DatabaseConfig`], `tls` reads and
//! checks the TLS settings and explains TLS failures, `connect` opens the pool.

mod config;
mod connect;
mod tls;

pub use config::{
    Backend, DEFAULT_SQLITE_PATH, DatabaseConfig, PoolSettings, REFUSED_DRIVER_VARIABLES,
};
pub use connect::connect;

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
