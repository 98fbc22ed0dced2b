//! Sign-in by phone (milestone M2): the one-time codes, and phone numbers in one stored form.
//!
//! - `phone_codes`: at most one live code per number (`phone` is unique; a new code replaces the
//!   old row). The code itself is never stored, only its keyed hash (`code_hash`); `attempts`
//!   counts wrong tries, and the row goes when the code is used, burnt or swept after
//!   `expires_at`.
//! - `users.phone` is brought to E.164 (`shared::phone`), the only form the service now stores
//!   or compares, so `+84 90 123 4567` and `+84901234567` are one number. A stored number that is
//!   not in international form (no `+`) or that names no possible number is left as it was:
//!   which country a national number belongs to cannot be known, and no such number was ever
//!   verified, so none of them signs in. If two rows are one number in two spellings, the
//!   migration fails naming both, and (in its transaction) changes nothing until one is changed
//!   by hand.
//!
//! `down` drops `phone_codes` (live codes are lost: at most `OTP_TTL_SECONDS` of them) and keeps
//! the numbers in E.164 form, which the older code reads as it is.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

use crate::helpers::index;
use crate::m20261124_000001_initial_schema::Schema;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let schema = Schema::new(manager.get_database_backend());
        manager
            .create_table(schema.table(
                "phone_codes",
                vec![
                    schema.id(),
                    schema.varchar("phone", 20),
                    schema.varchar("code_hash", 64),
                    ColumnDef::new("attempts")
                        .integer()
                        .not_null()
                        .default(0)
                        .to_owned(),
                    schema.timestamp("created_at"),
                    ColumnDef::new("expires_at")
                        .timestamp_with_time_zone()
                        .not_null()
                        .to_owned(),
                ],
            ))
            .await?;
        manager
            .create_index(
                index("UQ_phone_codes_phone", "phone_codes", &["phone"])
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "IDX_phone_codes_expires",
                "phone_codes",
                &["expires_at"],
            ))
            .await?;
        normalise_phones(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("phone_codes").to_owned())
            .await
    }
}

/// Rewrites every stored number that `shared::phone` reads in its E.164 form.
async fn normalise_phones(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = manager.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT phone FROM users WHERE phone IS NOT NULL",
        ))
        .await?;
    let users = Alias::new("users");
    let column = Alias::new("phone");
    for row in rows {
        let phone: String = row.try_get("", "phone")?;
        let Some(normalised) = shared::phone::normalise(&phone) else {
            continue;
        };
        if normalised == phone {
            continue;
        }
        let taken = db
            .query_one_raw(
                backend.build(
                    Query::select()
                        .expr(Expr::val(1))
                        .from(users.clone())
                        .and_where(Expr::col(column.clone()).eq(normalised.as_str())),
                ),
            )
            .await?;
        if taken.is_some() {
            return Err(DbErr::Migration(format!(
                "users' phones {phone:?} and {normalised:?} are one number in two spellings; change one of them, then migrate again"
            )));
        }
        db.execute_raw(
            backend.build(
                Query::update()
                    .table(users.clone())
                    .value(column.clone(), normalised)
                    .and_where(Expr::col(column.clone()).eq(phone)),
            ),
        )
        .await?;
    }
    Ok(())
}
