//! docs/SCHEMA.md describes the schema that `up` builds: the same tables, the same columns.

use std::collections::BTreeSet;

use test_support::TestDatabase;
use test_support::catalog;

/// (table, column) pairs from the `### \`table\`` sections of SCHEMA.md.
fn documented_columns() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/SCHEMA.md"))
        .unwrap_or_else(|error| panic!("docs/SCHEMA.md: {error}"));
    let mut table: Option<String> = None;
    let mut columns = BTreeSet::new();
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("### ") {
            table = Some(heading.trim().trim_matches('`').to_owned());
        } else if line.starts_with("## ") {
            table = None;
        } else if let (Some(table), Some(row)) = (&table, line.strip_prefix("| `"))
            && let Some((column, _)) = row.split_once('`')
        {
            columns.insert((table.clone(), column.to_owned()));
        }
    }
    columns
}

#[tokio::test]
async fn schema_md_lists_exactly_the_migrated_tables_and_columns() {
    let database = TestDatabase::sqlite().await.migrate().await;
    let migrated: BTreeSet<(String, String)> = catalog::read(&database.db)
        .await
        .columns
        .into_iter()
        .filter(|column| column.table != migration::MIGRATIONS_TABLE)
        .map(|column| (column.table, column.name))
        .collect();
    let documented = documented_columns();
    let undocumented: Vec<_> = migrated.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&migrated).collect();
    assert!(
        undocumented.is_empty(),
        "in the schema but not in docs/SCHEMA.md: {undocumented:?}"
    );
    assert!(
        stale.is_empty(),
        "in docs/SCHEMA.md but not in the schema: {stale:?}"
    );
}
