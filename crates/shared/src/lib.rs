//! What every service of the platform shares: the entities of the schema and the one way to
//! turn configuration into a database connection.

pub mod database;
pub mod email;
pub mod entities;
pub mod env;
pub mod password;
pub mod phone;
pub mod process;

pub use database::{Backend, DatabaseConfig, connect};
pub use env::ConfigError;
