//! Milestone M2's schema: sessions (one row per refresh token), the identities that OAuth
//! providers vouch for, and users who may have no email.
//!
//! - `sessions`: a row is one refresh token, stored only as its SHA-256 (`token_hash`, unique).
//!   The rows of one sign-in and all its rotations share a `family`, which is the session's id
//!   (the access token's `sid`). The family's current token is its one row with no `rotated_at`;
//!   `revoked_at` marks an ended session.
//! - `user_identities`: `(provider, subject)` is unique, so one identity belongs to one user, and
//!   one user may have several.
//! - `users.email` becomes optional (phone and TikTok accounts have none), with a rule that every
//!   user keeps a way to be found: an email, a phone or an OAuth provider
//!   (`CHK_users_sign_in`). `email_verified_at` and `phone_verified_at` say what was proven;
//!   rows from before stay unverified. `users_auth_provider_enum` gains `phone`.
//!
//! `down` restores the old shape. Rows the old shape cannot hold (no email, or provider `phone`)
//! make it refuse, naming them, and change nothing.
//!
//! SQLite cannot drop a NOT NULL or change a CHECK in place, and rebuilding `users` would fire
//! every `ON DELETE CASCADE` that points at it. So its table definition is edited in
//! `sqlite_schema`, the procedure SQLite documents for removing NOT NULL and CHECK constraints
//! (<https://www.sqlite.org/lang_altertable.html#otheralter>), inside this migration's
//! transaction, after checking that every row satisfies the new definition.

use sea_orm_migration::prelude::extension::postgres::Type;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::prelude::Uuid;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::helpers::{foreign_key, index};
use crate::m20261124_000001_initial_schema::Schema;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables this migration creates.
pub const TABLES: [&str; 2] = ["sessions", "user_identities"];

/// The rule that keeps every user reachable.
pub const SIGN_IN_RULE: &str = "CHK_users_sign_in";
const SIGN_IN_CONDITION: &str =
    "email IS NOT NULL OR phone IS NOT NULL OR auth_provider IN ('google', 'facebook', 'tiktok')";

/// `users` as the earlier migrations left it on SQLite, and as this one leaves it: the pieces of
/// its `CREATE TABLE` text that change.
const SQLITE_EMAIL_BEFORE: &str = r#""email" varchar(255) NOT NULL"#;
const SQLITE_EMAIL_AFTER: &str = r#""email" varchar(255) NULL"#;
const SQLITE_PROVIDERS_BEFORE: &str = "'email', 'google', 'facebook', 'tiktok')";
const SQLITE_PROVIDERS_AFTER: &str = "'email', 'google', 'facebook', 'tiktok', 'phone')";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on every backend: the SQLite schema edit must not be seen half done.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let schema = Schema::new(backend);
        if backend == DbBackend::Postgres {
            // Not used in this transaction, which PostgreSQL requires of a new label.
            db.execute_unprepared("ALTER TYPE users_auth_provider_enum ADD VALUE 'phone'")
                .await?;
            db.execute_unprepared("ALTER TABLE users ALTER COLUMN email DROP NOT NULL")
                .await?;
            db.execute_unprepared(&format!(
                r#"ALTER TABLE users ADD CONSTRAINT "{SIGN_IN_RULE}" CHECK ({SIGN_IN_CONDITION})"#
            ))
            .await?;
        } else {
            edit_sqlite_users(manager, |sql| {
                let sql = replace_once(sql, SQLITE_EMAIL_BEFORE, SQLITE_EMAIL_AFTER)?;
                let sql = replace_once(&sql, SQLITE_PROVIDERS_BEFORE, SQLITE_PROVIDERS_AFTER)?;
                let end = sql.rfind(')').ok_or_else(|| unexpected_users_sql(&sql))?;
                Ok(format!(
                    r#"{}, CONSTRAINT "{SIGN_IN_RULE}" CHECK ({SIGN_IN_CONDITION}){}"#,
                    &sql[..end],
                    &sql[end..]
                ))
            })
            .await?;
        }
        for column in ["email_verified_at", "phone_verified_at"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("users")
                        .add_column(optional_timestamp(column))
                        .to_owned(),
                )
                .await?;
        }
        for table in tables(&schema) {
            manager.create_table(table).await?;
        }
        for index in indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        refuse_rows_the_old_shape_cannot_hold(manager).await?;
        for table in TABLES.iter().rev() {
            manager
                .drop_table(Table::drop().table(*table).to_owned())
                .await?;
        }
        if backend == DbBackend::Postgres {
            db.execute_unprepared(&format!(
                r#"ALTER TABLE users DROP CONSTRAINT "{SIGN_IN_RULE}""#
            ))
            .await?;
        } else {
            edit_sqlite_users(manager, |sql| {
                let rule = format!(r#", CONSTRAINT "{SIGN_IN_RULE}" CHECK ({SIGN_IN_CONDITION})"#);
                let sql = replace_once(sql, &rule, "")?;
                let sql = replace_once(&sql, SQLITE_PROVIDERS_AFTER, SQLITE_PROVIDERS_BEFORE)?;
                replace_once(&sql, SQLITE_EMAIL_AFTER, SQLITE_EMAIL_BEFORE)
            })
            .await?;
        }
        for column in ["phone_verified_at", "email_verified_at"] {
            manager
                .alter_table(Table::alter().table("users").drop_column(column).to_owned())
                .await?;
        }
        if backend == DbBackend::Postgres {
            db.execute_unprepared("ALTER TABLE users ALTER COLUMN email SET NOT NULL")
                .await?;
            // PostgreSQL cannot drop an enum label: the type is made again without it.
            db.execute_unprepared(
                "ALTER TYPE users_auth_provider_enum RENAME TO users_auth_provider_enum_m5",
            )
            .await?;
            manager
                .create_type(
                    Type::create()
                        .as_enum("users_auth_provider_enum")
                        .values(["email", "google", "facebook", "tiktok"])
                        .to_owned(),
                )
                .await?;
            for statement in [
                "ALTER TABLE users ALTER COLUMN auth_provider DROP DEFAULT",
                "ALTER TABLE users ALTER COLUMN auth_provider TYPE users_auth_provider_enum \
                 USING auth_provider::text::users_auth_provider_enum",
                "ALTER TABLE users ALTER COLUMN auth_provider SET DEFAULT 'email'",
                "DROP TYPE users_auth_provider_enum_m5",
            ] {
                db.execute_unprepared(statement).await?;
            }
        }
        Ok(())
    }
}

/// `timestamptz NULL`.
fn optional_timestamp(name: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

fn tables(schema: &Schema) -> Vec<TableCreateStatement> {
    vec![
        schema
            .table(
                "sessions",
                vec![
                    schema.id(),
                    schema.uuid("user_id"),
                    schema.uuid("family"),
                    schema.varchar("token_hash", 64),
                    schema.timestamp("created_at"),
                    optional_timestamp("last_used_at"),
                    ColumnDef::new("expires_at")
                        .timestamp_with_time_zone()
                        .not_null()
                        .to_owned(),
                    optional_timestamp("rotated_at"),
                    optional_timestamp("revoked_at"),
                    schema.optional_varchar("user_agent", 500),
                    schema.optional_varchar("ip_address", 45),
                ],
            )
            .foreign_key(&mut foreign_key(
                "FK_sessions_user",
                "sessions",
                "user_id",
                "users",
                ForeignKeyAction::Cascade,
            ))
            .to_owned(),
        schema
            .table(
                "user_identities",
                vec![
                    schema.id(),
                    schema.uuid("user_id"),
                    schema.varchar("provider", 20),
                    schema.varchar("subject", 255),
                    schema.optional_varchar("email", 255),
                    schema.timestamp("created_at"),
                    optional_timestamp("last_used_at"),
                ],
            )
            .foreign_key(&mut foreign_key(
                "FK_user_identities_user",
                "user_identities",
                "user_id",
                "users",
                ForeignKeyAction::Cascade,
            ))
            .to_owned(),
    ]
}

/// The token lookup (unique), a session's rows (revoking it, finding its current token), a
/// user's sessions (listing and ending them), the expiry sweep, and the identities' lookups.
fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        index("UQ_sessions_token_hash", "sessions", &["token_hash"])
            .unique()
            .to_owned(),
        index("IDX_sessions_family", "sessions", &["family"]),
        index("IDX_sessions_user", "sessions", &["user_id", "created_at"]),
        index("IDX_sessions_expires", "sessions", &["expires_at"]),
        index(
            "UQ_user_identities_provider_subject",
            "user_identities",
            &["provider", "subject"],
        )
        .unique()
        .to_owned(),
        index("IDX_user_identities_user", "user_identities", &["user_id"]),
    ]
}

/// Fails, naming up to ten of them, when users exist that the schema before this migration
/// cannot hold: without an email, or signed up by phone.
async fn refuse_rows_the_old_shape_cannot_hold(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let rows = db
        .query_all_raw(Statement::from_string(
            manager.get_database_backend(),
            "SELECT id FROM users \
             WHERE email IS NULL OR CAST(auth_provider AS TEXT) = 'phone' ORDER BY id LIMIT 10",
        ))
        .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let ids = rows
        .iter()
        .map(|row| row.try_get::<Uuid>("", "id").map(|id| id.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    Err(DbErr::Migration(format!(
        "cannot revert: users without an email or signed up by phone exist, which the older schema cannot hold (first {}: {}); give them an email and another provider, or delete them, then revert again",
        ids.len(),
        ids.join(", ")
    )))
}

/// Rewrites the `CREATE TABLE users` text in `sqlite_schema` with `edit`, as SQLite documents
/// for constraint changes that every row is known to satisfy: with `writable_schema` on, and the
/// schema version moved on so that every connection reloads it.
async fn edit_sqlite_users(
    manager: &SchemaManager<'_>,
    edit: impl FnOnce(&str) -> Result<String, DbErr>,
) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = manager.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'users'",
        ))
        .await?
        .ok_or_else(|| DbErr::Migration("the users table is missing".to_owned()))?;
    let sql: String = row.try_get("", "sql")?;
    let edited = edit(&sql)?;
    let version: i64 = db
        .query_one_raw(Statement::from_string(backend, "PRAGMA schema_version"))
        .await?
        .ok_or_else(|| DbErr::Migration("PRAGMA schema_version answered nothing".to_owned()))?
        .try_get_by_index(0)?;
    db.execute_unprepared("PRAGMA writable_schema = ON").await?;
    let updated = db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            "UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = 'users'",
            [edited.into()],
        ))
        .await;
    db.execute_unprepared(&format!("PRAGMA schema_version = {}", version + 1))
        .await?;
    db.execute_unprepared("PRAGMA writable_schema = OFF")
        .await?;
    updated?;
    Ok(())
}

fn replace_once(sql: &str, from: &str, to: &str) -> Result<String, DbErr> {
    if sql.matches(from).count() != 1 {
        return Err(unexpected_users_sql(sql));
    }
    Ok(sql.replacen(from, to, 1))
}

fn unexpected_users_sql(sql: &str) -> DbErr {
    DbErr::Migration(format!(
        "the users table is not as the earlier migrations left it, so it is not edited: {sql}"
    ))
}
