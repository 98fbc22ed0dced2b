//! Emails with an internationalised domain are stored in one form, IDNA's ASCII one
//! (`shared::email`), so the Unicode and the punycode spellings of one address are one account.
//! The service normalises what it is sent; this brings the rows stored before it to that form.
//! If two rows are one address in two spellings, the migration fails naming both, and (in its
//! transaction) changes nothing until one of them is renamed by hand.
//!
//! Nothing in the schema changes, so `down` has nothing to undo: the rows keep their one form,
//! which the older code reads as it is.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let rows = db
            .query_all_raw(Statement::from_string(backend, "SELECT email FROM users"))
            .await?;
        for row in rows {
            let email: String = row.try_get("", "email")?;
            let Some(normalised) = shared::email::normalise(&email) else {
                continue;
            };
            if normalised == email {
                continue;
            }
            let users = Alias::new("users");
            let column = Alias::new("email");
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
                    "users {email:?} and {normalised:?} are one address in two spellings; rename one of them, then migrate again"
                )));
            }
            db.execute_raw(
                backend.build(
                    Query::update()
                        .table(users)
                        .value(column.clone(), normalised)
                        .and_where(Expr::col(column).eq(email)),
                ),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
