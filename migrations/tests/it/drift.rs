//! Drift: the entities and the migrated schema must agree. A schema built from the entities
//! (SeaORM's `Schema`) is compared with the migrated one, catalog to catalog, on columns, types,
//! nullability, uniqueness, indexed columns and foreign keys.

use sea_orm::{ConnectionTrait, EntityTrait, Schema};
use shared::entities::{
    agent, billing_log, conversation, message, notification, phone_code, project, project_member,
    session, user, user_identity,
};
use test_support::TestDatabase;
use test_support::catalog::{self, Catalog};

use test_support::on_both_backends;

on_both_backends!(entities_and_migrated_schema_agree);

async fn create_from_entity<E: EntityTrait>(database: &TestDatabase, entity: E) {
    let schema = Schema::new(database.backend());
    for statement in schema.create_enum_from_entity(entity) {
        database
            .db
            .execute(&statement)
            .await
            .unwrap_or_else(|error| panic!("create type for {}: {error}", entity.table_name()));
    }
    database
        .db
        .execute(&schema.create_table_from_entity(entity))
        .await
        .unwrap_or_else(|error| panic!("create table {}: {error}", entity.table_name()));
    for statement in schema.create_index_from_entity(entity) {
        database
            .db
            .execute(&statement)
            .await
            .unwrap_or_else(|error| panic!("create index on {}: {error}", entity.table_name()));
    }
}

/// The parts of a catalog both sides must share. Names of indexes and constraints are the
/// migration's business and are left out; so are defaults, which the catalog test pins.
#[derive(Debug, PartialEq, Eq)]
struct Shape {
    columns: Vec<String>,
    unique: Vec<String>,
    indexed_leading_columns: Vec<String>,
    foreign_keys: Vec<String>,
}

fn shape(catalog: &Catalog, with_types: bool) -> Shape {
    let in_schema = |table: &str| table != migration::MIGRATIONS_TABLE;
    let mut columns: Vec<String> = catalog
        .columns
        .iter()
        .filter(|column| in_schema(&column.table))
        .map(|column| {
            let data_type = if with_types {
                column.data_type.as_str()
            } else {
                ""
            };
            format!(
                "{}.{} {} null={}",
                column.table, column.name, data_type, column.nullable
            )
        })
        .collect();
    let mut unique: Vec<String> = catalog
        .indexes
        .iter()
        .filter(|index| in_schema(&index.table) && index.unique && !index.primary)
        .map(|index| format!("{}({})", index.table, index.columns.join(",")))
        .collect();
    let mut indexed_leading_columns: Vec<String> = catalog
        .indexes
        .iter()
        .filter(|index| in_schema(&index.table) && !index.unique)
        .map(|index| format!("{}.{}", index.table, index.columns[0]))
        .collect();
    let mut foreign_keys: Vec<String> = catalog
        .foreign_keys
        .iter()
        .map(|fk| {
            format!(
                "{}({}) -> {}({}) ON DELETE {}",
                fk.table,
                fk.columns.join(","),
                fk.references,
                fk.referenced_columns.join(","),
                fk.on_delete
            )
        })
        .collect();
    for list in [
        &mut columns,
        &mut unique,
        &mut indexed_leading_columns,
        &mut foreign_keys,
    ] {
        list.sort();
        list.dedup();
    }
    Shape {
        columns,
        unique,
        indexed_leading_columns,
        foreign_keys,
    }
}

async fn entities_and_migrated_schema_agree(migrated: TestDatabase) {
    let is_postgres = migrated.backend() == sea_orm::DbBackend::Postgres;
    let from_entities = if is_postgres {
        TestDatabase::postgres()
            .await
            .unwrap_or_else(|| panic!("a second database on the same server"))
    } else {
        TestDatabase::sqlite().await
    };
    let migrated = migrated.migrate().await;
    create_from_entity(&from_entities, user::Entity).await;
    create_from_entity(&from_entities, project::Entity).await;
    create_from_entity(&from_entities, project_member::Entity).await;
    create_from_entity(&from_entities, conversation::Entity).await;
    create_from_entity(&from_entities, agent::Entity).await;
    create_from_entity(&from_entities, message::Entity).await;
    create_from_entity(&from_entities, billing_log::Entity).await;
    create_from_entity(&from_entities, notification::Entity).await;
    create_from_entity(&from_entities, session::Entity).await;
    create_from_entity(&from_entities, user_identity::Entity).await;
    create_from_entity(&from_entities, phone_code::Entity).await;

    // SQLite's declared types differ by construction (CHECK-guarded text for enums), so types
    // are compared on PostgreSQL, the production database.
    let expected = shape(&catalog::read(&migrated.db).await, is_postgres);
    let found = shape(&catalog::read(&from_entities.db).await, is_postgres);
    assert_eq!(
        found.columns, expected.columns,
        "columns, types or nullability drifted"
    );
    assert_eq!(found.unique, expected.unique, "uniqueness drifted");
    assert_eq!(
        found.indexed_leading_columns, expected.indexed_leading_columns,
        "indexed columns drifted (mark the entity field `indexed`, or index it in a migration)"
    );
    assert_eq!(
        found.foreign_keys, expected.foreign_keys,
        "foreign keys drifted"
    );
}
