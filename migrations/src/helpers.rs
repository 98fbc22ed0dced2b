//! Statement builders every migration shares, so a later migration names its indexes and
//! foreign keys the way the first one did, and the one way stored values are brought to a new
//! form.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

/// A (non-unique) index `name` on `table (columns…)`; call `.unique()` on it for a unique one.
pub fn index(name: &str, table: &'static str, columns: &[&'static str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(*column);
    }
    index
}

/// A foreign key `name` from `table.column` to `references.id`.
pub fn foreign_key(
    name: &str,
    table: &'static str,
    column: &'static str,
    references: &'static str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(references, "id")
        .on_delete(on_delete)
        .to_owned()
}

/// Rewrites `users.<column>` in every row to the form `normalise` gives it; a value it cannot
/// read stays as it is. Two rows that are one value in two spellings stop the migration with
/// `collision(stored, normalised)`, before that row is changed (in the migration's
/// transaction, nothing is).
pub async fn normalise_users_column(
    manager: &SchemaManager<'_>,
    column: &'static str,
    normalise: impl Fn(&str) -> Option<String>,
    collision: impl Fn(&str, &str) -> String,
) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = manager.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            format!("SELECT {column} FROM users WHERE {column} IS NOT NULL"),
        ))
        .await?;
    let users = Alias::new("users");
    for row in rows {
        let stored: String = row.try_get("", column)?;
        let Some(normalised) = normalise(&stored) else {
            continue;
        };
        if normalised == stored {
            continue;
        }
        let taken = db
            .query_one_raw(
                backend.build(
                    Query::select()
                        .expr(Expr::val(1))
                        .from(users.clone())
                        .and_where(Expr::col(column).eq(normalised.as_str())),
                ),
            )
            .await?;
        if taken.is_some() {
            return Err(DbErr::Migration(collision(&stored, &normalised)));
        }
        db.execute_raw(
            backend.build(
                Query::update()
                    .table(users.clone())
                    .value(column, normalised)
                    .and_where(Expr::col(column).eq(stored)),
            ),
        )
        .await?;
    }
    Ok(())
}
