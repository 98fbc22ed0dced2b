//! The service's rules, as plain async functions over a connection or a transaction: what the
//! handlers call after parsing a request, testable without HTTP. It knows no web framework and
//! no status code: it answers with its own [`Error`], which `http` maps to a response.
//!
//! - [`access`]: who the caller is ([`Caller`], [`CurrentUser`]) and who may do what;
//! - [`values`]: the values a request carries, valid by construction ([`Email`], [`Name`], …);
//! - [`paging`]: keyset pages, the one way every list pages;
//! - [`users`], [`projects`], [`conversations`], [`agents`]: each resource's queries and rules;
//! - [`sessions`]: which sessions are live, listing and ending them;
//! - [`identities`]: OAuth identities and the account rules of signing in with one.

pub mod access;
pub mod agents;
pub mod conversations;
mod error;
pub mod identities;
pub mod paging;
pub mod projects;
pub mod sessions;
pub mod users;
pub mod values;

pub use access::{Caller, CurrentUser};
pub use error::{Error, Result};
pub use values::Email;

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

/// A transaction for a read-then-write rule. On SQLite it takes the write lock at `BEGIN`
/// (`BEGIN IMMEDIATE`), so two such transactions queue instead of one failing when it upgrades
/// from reading to writing; PostgreSQL ignores the option and relies on the row locks each rule
/// takes.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// Whether row locks (`FOR UPDATE`) mean anything on this connection's backend.
pub fn locks_rows(db: &impl sea_orm::ConnectionTrait) -> bool {
    db.get_database_backend() == DbBackend::Postgres
}
