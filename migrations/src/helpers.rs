//! Statement builders every migration shares, so a later migration names its indexes and
//! foreign keys the way the first one did.

use sea_orm_migration::prelude::*;

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
