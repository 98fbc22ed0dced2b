//! Emails are stored normalised (trimmed, lower-cased), so the unique index on `users.email`
//! also makes a differently-cased duplicate impossible, whoever writes the row.
//!
//! PostgreSQL gets a CHECK constraint; SQLite cannot add one to an existing table, so it gets the
//! same rule as two triggers (insert and update) that abort with the constraint's name. Rows
//! written before this migration are normalised first; if two of them differ only in case, the
//! migration fails (and, in its transaction, changes nothing) until one is renamed by hand.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The constraint (PostgreSQL) or the trigger message (SQLite) a denormalised email violates.
pub const EMAIL_NORMALISED: &str = "CHK_users_email_normalised";

const SQLITE_TRIGGERS: [(&str, &str); 2] = [
    ("TRG_users_email_normalised_insert", "INSERT"),
    ("TRG_users_email_normalised_update", "UPDATE OF email"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "UPDATE users SET email = lower(btrim(email)) WHERE email <> lower(btrim(email))",
                )
                .await?;
                db.execute_unprepared(&format!(
                    r#"ALTER TABLE users ADD CONSTRAINT "{EMAIL_NORMALISED}" CHECK (email = lower(btrim(email)))"#
                ))
                .await?;
            }
            _ => {
                db.execute_unprepared(
                    "UPDATE users SET email = lower(trim(email)) WHERE email <> lower(trim(email))",
                )
                .await?;
                for (name, event) in SQLITE_TRIGGERS {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER \"{name}\" BEFORE {event} ON users \
                         WHEN NEW.email <> lower(trim(NEW.email)) \
                         BEGIN SELECT RAISE(ABORT, '{EMAIL_NORMALISED}'); END"
                    ))
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(&format!(
                    r#"ALTER TABLE users DROP CONSTRAINT "{EMAIL_NORMALISED}""#
                ))
                .await?;
            }
            _ => {
                for (name, _) in SQLITE_TRIGGERS {
                    db.execute_unprepared(&format!("DROP TRIGGER \"{name}\""))
                        .await?;
                }
            }
        }
        Ok(())
    }
}
