//! What a rule answers when it cannot do what was asked. Each variant is a kind of outcome a
//! client can act on; `http::error` gives each its status code.

use sea_orm::{DbErr, SqlErr};

/// `Result` with the domain's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request names something invalid: one message per problem, each naming its field
    /// first (`"agent_id must name an active agent"`).
    #[error("invalid: {0:?}")]
    Invalid(Vec<String>),
    /// A value the database refused although the request was well-formed.
    #[error("refused: {0}")]
    Refused(&'static str),
    /// The caller is not (or no longer) an active user, or his credentials do not match.
    #[error("unauthenticated: {0}")]
    Unauthenticated(&'static str),
    /// The caller is known but his role does not allow this.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// No such thing, or one the caller may not see (the same answer).
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// A uniqueness rule, or a last-owner / last-admin rule.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Too many attempts (`message` says of what); try again after this many seconds.
    #[error("too many attempts (retry after {retry_after_secs}s)")]
    TooManyAttempts {
        retry_after_secs: u64,
        message: &'static str,
    },
    /// A dependency (the database) failed or timed out; the cause is for the log.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or an impossible state; the cause is for the log.
    #[error("internal: {0}")]
    Internal(String),
}

impl Error {
    /// A request problem with one message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(vec![message.into()])
    }
}

/// What a violated unique constraint means to a client, by constraint: the PostgreSQL name, or
/// SQLite's `table.column` list.
const UNIQUE_CONSTRAINTS: [(&str, &str, &str); 6] = [
    ("UQ_users_email", "users.email", "email already exists"),
    ("UQ_users_phone", "users.phone", "phone already exists"),
    (
        "UQ_conversations_thread_id",
        "conversations.thread_id",
        "thread_id already exists",
    ),
    (
        "UQ_project_members_project_user",
        "project_members.project_id, project_members.user_id",
        "user is already a member of this project",
    ),
    ("UQ_agents_name", "agents.name", "name already exists"),
    (
        "UQ_user_identities_provider_subject",
        "user_identities.provider, user_identities.subject",
        "identity is linked to another account",
    ),
];

impl From<DbErr> for Error {
    fn from(error: DbErr) -> Self {
        if let Some(SqlErr::UniqueConstraintViolation(detail)) = error.sql_err()
            && let Some((_, _, message)) = UNIQUE_CONSTRAINTS
                .iter()
                .find(|(name, columns, _)| detail.contains(name) || detail.contains(columns))
        {
            return Self::Conflict((*message).to_owned());
        }
        if is_unavailable(&error) {
            return Self::Unavailable(error.to_string());
        }
        if is_data_error(&error) {
            // Validation should have caught it first; answer for the input all the same.
            tracing::warn!(%error, "the database refused a value the validation let through");
            return Self::Refused("a value is out of the range the database can store");
        }
        Self::Internal(error.to_string())
    }
}

/// The SQLSTATE (PostgreSQL) or result code (SQLite) of a statement's error, if it has one.
fn database_code(error: &DbErr) -> Option<String> {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    match error {
        DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error)) => {
            match &**error {
                Sqlx::Database(database) => database.code().map(|code| code.into_owned()),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A fault of the database's availability rather than of the statement: no connection in time,
/// a lost connection, a server shutting down or overloaded, a busy SQLite file.
fn is_unavailable(error: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error)) => {
            if matches!(
                &**error,
                Sqlx::Io(_)
                    | Sqlx::Tls(_)
                    | Sqlx::PoolTimedOut
                    | Sqlx::PoolClosed
                    | Sqlx::WorkerCrashed
                    | Sqlx::Protocol(_)
            ) {
                return true;
            }
        }
        _ => {}
    }
    // SQLite: 5 SQLITE_BUSY, 6 SQLITE_LOCKED (and their extended codes); PostgreSQL: class 57
    // (shutdown), 53 (resources), 08 (connection), and 40001/40P01 (a serialisation failure or
    // deadlock the client may retry).
    database_code(error).is_some_and(|code| {
        matches!(code.as_str(), "5" | "6" | "517" | "261" | "40001" | "40P01")
            || code.starts_with("57")
            || code.starts_with("53")
            || code.starts_with("08")
    })
}

/// PostgreSQL refused a value (SQLSTATE class 22: too long, out of range, bad format) or a
/// check or foreign key (23514, 23503): input the validation should have refused.
fn is_data_error(error: &DbErr) -> bool {
    database_code(error)
        .is_some_and(|code| code.starts_with("22") || matches!(code.as_str(), "23514" | "23503"))
}
