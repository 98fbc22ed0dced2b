//! Reads what a database really contains, from its own catalog, in one shape for both backends.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, QueryResult, Statement};

/// One column as the database describes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Column {
    pub table: String,
    pub name: String,
    /// `format_type` on PostgreSQL (`character varying(255)`), the declared type on SQLite.
    pub data_type: String,
    pub nullable: bool,
    pub default: Option<String>,
}

/// One index, including those behind primary keys.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Index {
    pub table: String,
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
    pub primary: bool,
}

/// One foreign key. SQLite keeps no constraint names, so `name` is empty there.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ForeignKey {
    pub table: String,
    pub columns: Vec<String>,
    pub references: String,
    pub referenced_columns: Vec<String>,
    /// `CASCADE`, `SET NULL`, `NO ACTION`, `RESTRICT` or `SET DEFAULT`.
    pub on_delete: String,
    pub name: String,
}

/// Everything the schema tests compare.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Catalog {
    pub tables: Vec<String>,
    pub columns: Vec<Column>,
    /// PostgreSQL enum types and their labels, in declaration order.
    pub enums: Vec<(String, Vec<String>)>,
    pub indexes: Vec<Index>,
    pub foreign_keys: Vec<ForeignKey>,
    /// CHECK constraints: (table, definition).
    pub checks: Vec<(String, String)>,
    /// Every named object in the schema (relations, types, constraints, functions), so a test
    /// can prove nothing is left behind.
    pub objects: Vec<String>,
}

impl Catalog {
    pub fn columns_of(&self, table: &str) -> Vec<&Column> {
        self.columns
            .iter()
            .filter(|column| column.table == table)
            .collect()
    }

    pub fn column(&self, table: &str, name: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|column| column.table == table && column.name == name)
    }

    /// The same catalog without the migrations table and what belongs to it.
    pub fn without_table(&self, table: &str) -> Self {
        let mut copy = self.clone();
        copy.tables.retain(|name| name != table);
        copy.columns.retain(|column| column.table != table);
        copy.indexes.retain(|index| index.table != table);
        copy.foreign_keys.retain(|fk| fk.table != table);
        copy.checks.retain(|(name, _)| name != table);
        copy.objects.retain(|object| {
            !object.contains(&format!(" {table}")) && !object.ends_with(&format!(":{table}"))
        });
        copy
    }
}

/// Reads the catalog of the current schema.
pub async fn read(db: &DatabaseConnection) -> Catalog {
    match db.get_database_backend() {
        DbBackend::Postgres => read_postgres(db).await,
        DbBackend::Sqlite => read_sqlite(db).await,
        other => panic!("no catalog reader for {other:?}"),
    }
}

async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<QueryResult> {
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        sql.to_owned(),
    ))
    .await
    .unwrap_or_else(|error| panic!("{sql}: {error}"))
}

fn text(row: &QueryResult, column: &str) -> String {
    row.try_get::<String>("", column)
        .unwrap_or_else(|error| panic!("column {column}: {error}"))
}

fn optional_text(row: &QueryResult, column: &str) -> Option<String> {
    row.try_get::<Option<String>>("", column)
        .unwrap_or_else(|error| panic!("column {column}: {error}"))
}

fn list(row: &QueryResult, column: &str) -> Vec<String> {
    text(row, column)
        .split(',')
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Both backends' column queries name their result columns alike: one mapping serves both.
fn column_from_row(row: &QueryResult) -> Column {
    Column {
        table: text(row, "table_name"),
        name: text(row, "column_name"),
        data_type: text(row, "data_type"),
        nullable: text(row, "nullable") == "YES",
        default: optional_text(row, "column_default"),
    }
}

fn index_from_row(row: &QueryResult) -> Index {
    Index {
        table: text(row, "table_name"),
        name: text(row, "index_name"),
        columns: list(row, "columns"),
        unique: text(row, "is_unique") == "YES",
        primary: text(row, "is_primary") == "YES",
    }
}

/// The catalog of the current PostgreSQL schema, one query per part.
async fn read_postgres(db: &DatabaseConnection) -> Catalog {
    Catalog {
        tables: postgres_tables(db).await,
        columns: postgres_columns(db).await,
        enums: postgres_enums(db).await,
        indexes: postgres_indexes(db).await,
        foreign_keys: postgres_foreign_keys(db).await,
        checks: postgres_checks(db).await,
        objects: postgres_objects(db).await,
    }
}

/// The ordinary tables (`relkind = 'r'`), by name.
async fn postgres_tables(db: &DatabaseConnection) -> Vec<String> {
    rows(
        db,
        "SELECT c.relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY 1",
    )
    .await
    .iter()
    .map(|row| text(row, "name"))
    .collect()
}

/// The live columns of those tables (no system or dropped ones), in table order.
async fn postgres_columns(db: &DatabaseConnection) -> Vec<Column> {
    rows(
        db,
        "SELECT c.relname::text AS table_name, a.attname::text AS column_name, \
                format_type(a.atttypid, a.atttypmod) AS data_type, \
                CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END AS nullable, \
                pg_get_expr(d.adbin, d.adrelid) AS column_default \
         FROM pg_attribute a \
         JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         WHERE n.nspname = current_schema() AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY c.relname, a.attnum",
    )
    .await
    .iter()
    .map(column_from_row)
    .collect()
}

/// The enum types with their labels: the query returns one row per label, grouped here by
/// type, in declaration order.
async fn postgres_enums(db: &DatabaseConnection) -> Vec<(String, Vec<String>)> {
    let mut enums: Vec<(String, Vec<String>)> = Vec::new();
    for row in rows(
        db,
        "SELECT t.typname::text AS type_name, e.enumlabel::text AS label FROM pg_type t \
         JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE n.nspname = current_schema() ORDER BY t.typname, e.enumsortorder",
    )
    .await
    {
        let (name, label) = (text(&row, "type_name"), text(&row, "label"));
        match enums.last_mut() {
            Some((last, labels)) if *last == name => labels.push(label),
            _ => enums.push((name, vec![label])),
        }
    }
    enums
}

/// Every index, with its columns in key order.
async fn postgres_indexes(db: &DatabaseConnection) -> Vec<Index> {
    rows(
        db,
        "SELECT t.relname::text AS table_name, i.relname::text AS index_name, \
                CASE WHEN ix.indisunique THEN 'YES' ELSE 'NO' END AS is_unique, \
                CASE WHEN ix.indisprimary THEN 'YES' ELSE 'NO' END AS is_primary, \
                array_to_string(array(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, ord) \
                    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.ord), ',') AS columns \
         FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = current_schema() ORDER BY 1, 2",
    )
    .await
    .iter()
    .map(index_from_row)
    .collect()
}

/// The foreign keys, with both sides' columns in key order and the `ON DELETE` action spelled
/// out.
async fn postgres_foreign_keys(db: &DatabaseConnection) -> Vec<ForeignKey> {
    rows(
        db,
        "SELECT c.conname::text AS name, t.relname::text AS table_name, rt.relname::text AS ref_table, \
                CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'r' THEN 'RESTRICT' \
                     WHEN 'd' THEN 'SET DEFAULT' ELSE 'NO ACTION' END AS on_delete, \
                array_to_string(array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord) \
                    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.ord), ',') AS columns, \
                array_to_string(array(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(attnum, ord) \
                    JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.ord), ',') AS ref_columns \
         FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class rt ON rt.oid = c.confrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE c.contype = 'f' AND n.nspname = current_schema() ORDER BY 2, 1",
    )
    .await
    .iter()
    .map(|row| ForeignKey {
        table: text(row, "table_name"),
        columns: list(row, "columns"),
        references: text(row, "ref_table"),
        referenced_columns: list(row, "ref_columns"),
        on_delete: text(row, "on_delete"),
        name: text(row, "name"),
    })
    .collect()
}

/// The CHECK constraints, as PostgreSQL prints their definitions.
async fn postgres_checks(db: &DatabaseConnection) -> Vec<(String, String)> {
    rows(
        db,
        "SELECT t.relname::text AS table_name, pg_get_constraintdef(c.oid) AS definition FROM pg_constraint c \
         JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE c.contype = 'c' AND n.nspname = current_schema() ORDER BY 1, 2",
    )
    .await
    .iter()
    .map(|row| (text(row, "table_name"), text(row, "definition")))
    .collect()
}

/// Every named object of the schema (relations, types, constraints, functions) and the
/// extensions besides `plpgsql`, so a test can prove nothing is left behind.
async fn postgres_objects(db: &DatabaseConnection) -> Vec<String> {
    rows(
        db,
        "SELECT 'relation:' || c.relkind::text || ':' || c.relname::text AS object FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() \
         UNION ALL SELECT 'type:' || t.typname::text FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
             WHERE n.nspname = current_schema() AND t.typtype IN ('e', 'd', 'r', 'm') \
         UNION ALL SELECT 'constraint:' || c.conname::text || ' ' || t.relname::text FROM pg_constraint c \
             JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = c.connamespace \
             WHERE n.nspname = current_schema() \
         UNION ALL SELECT 'function:' || p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE n.nspname = current_schema() \
         UNION ALL SELECT 'extension:' || e.extname::text FROM pg_extension e WHERE e.extname <> 'plpgsql' \
         ORDER BY 1",
    )
    .await
    .iter()
    .map(|row| text(row, "object"))
    .collect()
}

async fn read_sqlite(db: &DatabaseConnection) -> Catalog {
    let tables: Vec<String> = rows(
        db,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .await
    .iter()
    .map(|row| text(row, "name"))
    .collect();

    let columns = rows(
        db,
        "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type, \
                CASE WHEN p.\"notnull\" = 1 OR p.pk > 0 THEN 'NO' ELSE 'YES' END AS nullable, \
                p.dflt_value AS column_default \
         FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid",
    )
    .await
    .iter()
    .map(column_from_row)
    .collect();

    let indexes = rows(
        db,
        "SELECT m.name AS table_name, il.name AS index_name, \
                CASE WHEN il.\"unique\" = 1 THEN 'YES' ELSE 'NO' END AS is_unique, \
                CASE WHEN il.origin = 'pk' THEN 'YES' ELSE 'NO' END AS is_primary, \
                (SELECT group_concat(name, ',') FROM (SELECT ii.name FROM pragma_index_info(il.name) ii ORDER BY ii.seqno)) AS columns \
         FROM sqlite_master m JOIN pragma_index_list(m.name) il \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY 1, 2",
    )
    .await
    .iter()
    .map(index_from_row)
    .collect();

    let foreign_keys = rows(
        db,
        "SELECT m.name AS table_name, f.\"table\" AS ref_table, f.\"from\" AS column_name, \
                f.\"to\" AS ref_column, f.on_delete AS on_delete \
         FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f \
         WHERE m.type = 'table' ORDER BY 1, 3",
    )
    .await
    .iter()
    .map(|row| ForeignKey {
        table: text(row, "table_name"),
        columns: vec![text(row, "column_name")],
        references: text(row, "ref_table"),
        referenced_columns: vec![text(row, "ref_column")],
        on_delete: text(row, "on_delete"),
        name: String::new(),
    })
    .collect();

    let mut checks = Vec::new();
    for row in rows(
        db,
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL ORDER BY name",
    )
    .await
    {
        let table = text(&row, "name");
        let sql = text(&row, "sql");
        let mut rest = sql.as_str();
        while let Some(start) = rest.find("CHECK (") {
            let body = &rest[start..];
            let mut depth = 0usize;
            let mut end = body.len();
            for (offset, character) in body.char_indices() {
                match character {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = offset + 1;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            checks.push((table.clone(), body[..end].to_owned()));
            rest = &body[end..];
        }
    }

    let objects = rows(
        db,
        "SELECT type || ':' || name AS object FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY 1",
    )
    .await
    .iter()
    .map(|row| text(row, "object"))
    .collect();

    Catalog {
        tables,
        columns,
        enums: Vec::new(),
        indexes,
        foreign_keys,
        checks,
        objects,
    }
}
