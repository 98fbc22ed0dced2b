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

use crate::helpers::{index, normalise_users_column};
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
        normalise_users_column(manager, "phone", shared::phone::normalise, |phone, normalised| {
            format!(
                "users' phones {phone:?} and {normalised:?} are one number in two spellings; change one of them, then migrate again"
            )
        })
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("phone_codes").to_owned())
            .await
    }
}
