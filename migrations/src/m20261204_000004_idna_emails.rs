//! Emails with an internationalised domain are stored in one form, IDNA's ASCII one
//! (`shared::email`), so the Unicode and the punycode spellings of one address are one account.
//! The service normalises what it is sent; this brings the rows stored before it to that form.
//! If two rows are one address in two spellings, the migration fails naming both, and (in its
//! transaction) changes nothing until one of them is renamed by hand.
//!
//! Nothing in the schema changes, so `down` has nothing to undo: the rows keep their one form,
//! which the older code reads as it is.

use sea_orm_migration::prelude::*;

use crate::helpers::normalise_users_column;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        normalise_users_column(manager, "email", shared::email::normalise, |email, normalised| {
            format!(
                "users {email:?} and {normalised:?} are one address in two spellings; rename one of them, then migrate again"
            )
        })
        .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
