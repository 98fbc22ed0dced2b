//! The schema, proven by reading the database catalog after `up`, on PostgreSQL and SQLite.
//! Every test gets a fresh database, dropped when it ends.

use migration::{Command, MIGRATIONS_TABLE, MigratorTrait};
use test_support::catalog::{self, Catalog};
use test_support::{TestDatabase, postgres_or_skip};

use test_support::on_both_backends;

on_both_backends!(
    up_creates_the_eleven_tables_and_nothing_else,
    every_foreign_key_has_the_original_delete_rule,
    every_index_has_its_name_columns_and_uniqueness,
    every_foreign_key_column_leads_an_index,
    down_removes_every_object_up_created,
    up_down_up_round_trips_to_the_same_catalog,
    concurrent_ups_all_succeed_and_apply_the_migration_once,
);

/// The foundation's eight tables and M2's three (sessions, identities, phone codes).
const TABLES: [&str; 11] = [
    "agents",
    "billing_logs",
    "conversations",
    "messages",
    "notifications",
    "phone_codes",
    "project_members",
    "projects",
    "sessions",
    "user_identities",
    "users",
];

async fn up_creates_the_eleven_tables_and_nothing_else(database: TestDatabase) {
    let database = database.migrate().await;
    let catalog = catalog::read(&database.db).await;
    let mut expected: Vec<&str> = TABLES.to_vec();
    expected.push(MIGRATIONS_TABLE);
    expected.sort_unstable();
    assert_eq!(catalog.tables, expected);
}

/// (table, columns, referenced table, ON DELETE, constraint name on PostgreSQL)
const FOREIGN_KEYS: [(&str, &str, &str, &str, &str); 10] = [
    (
        "conversations",
        "project_id",
        "projects",
        "CASCADE",
        "FK_conversations_project",
    ),
    (
        "messages",
        "agent_id",
        "agents",
        "SET NULL",
        "FK_messages_agent",
    ),
    (
        "messages",
        "conversation_id",
        "conversations",
        "CASCADE",
        "FK_messages_conversation",
    ),
    (
        "messages",
        "user_id",
        "users",
        "CASCADE",
        "FK_messages_user",
    ),
    (
        "notifications",
        "user_id",
        "users",
        "CASCADE",
        "FK_notifications_user",
    ),
    (
        "project_members",
        "project_id",
        "projects",
        "CASCADE",
        "FK_project_members_project",
    ),
    (
        "project_members",
        "user_id",
        "users",
        "CASCADE",
        "FK_project_members_user",
    ),
    (
        "projects",
        "owner_id",
        "users",
        "CASCADE",
        "FK_projects_owner",
    ),
    (
        "sessions",
        "user_id",
        "users",
        "CASCADE",
        "FK_sessions_user",
    ),
    (
        "user_identities",
        "user_id",
        "users",
        "CASCADE",
        "FK_user_identities_user",
    ),
];

async fn every_foreign_key_has_the_original_delete_rule(database: TestDatabase) {
    let is_postgres = database.backend() == sea_orm::DbBackend::Postgres;
    let database = database.migrate().await;
    let catalog = catalog::read(&database.db).await;
    let mut found: Vec<_> = catalog
        .foreign_keys
        .iter()
        .map(|fk| {
            assert_eq!(fk.referenced_columns, ["id"], "{fk:?}");
            (
                fk.table.as_str(),
                fk.columns.join(","),
                fk.references.as_str(),
                fk.on_delete.as_str(),
                fk.name.as_str(),
            )
        })
        .collect();
    found.sort();
    let expected: Vec<_> = FOREIGN_KEYS
        .iter()
        .map(|(table, columns, references, on_delete, name)| {
            // SQLite keeps no foreign-key names.
            let name = if is_postgres { *name } else { "" };
            (*table, (*columns).to_owned(), *references, *on_delete, name)
        })
        .collect();
    assert_eq!(found, expected);
    assert!(
        !catalog
            .foreign_keys
            .iter()
            .any(|fk| fk.table == "billing_logs"),
        "billing_logs is a ledger: no foreign keys"
    );
}

/// (table, index name, columns, unique). Primary keys are checked apart: their index name is
/// the constraint's on PostgreSQL and generated on SQLite.
const INDEXES: [(&str, &str, &str, bool); 24] = [
    ("agents", "UQ_agents_name", "name", true),
    (
        "billing_logs",
        "IDX_billing_logs_project_timestamp",
        "project_id,timestamp",
        false,
    ),
    (
        "billing_logs",
        "IDX_billing_logs_user_timestamp",
        "user_id,timestamp",
        false,
    ),
    (
        "conversations",
        "IDX_conversations_project_created",
        "project_id,created_at,id",
        false,
    ),
    (
        "conversations",
        "UQ_conversations_thread_id",
        "thread_id",
        true,
    ),
    ("messages", "IDX_messages_agent", "agent_id", false),
    (
        "messages",
        "IDX_messages_conversation_created",
        "conversation_id,created_at",
        false,
    ),
    ("messages", "IDX_messages_user", "user_id", false),
    (
        "notifications",
        "IDX_notifications_user_read_created",
        "user_id,read,created_at",
        false,
    ),
    (
        "phone_codes",
        "IDX_phone_codes_expires",
        "expires_at",
        false,
    ),
    ("phone_codes", "UQ_phone_codes_phone", "phone", true),
    (
        "project_members",
        "IDX_project_members_user",
        "user_id",
        false,
    ),
    (
        "project_members",
        "UQ_project_members_project_user",
        "project_id,user_id",
        true,
    ),
    ("projects", "IDX_projects_created", "created_at,id", false),
    ("projects", "IDX_projects_owner", "owner_id", false),
    ("sessions", "IDX_sessions_expires", "expires_at", false),
    ("sessions", "IDX_sessions_family", "family", false),
    ("sessions", "IDX_sessions_user", "user_id,created_at", false),
    ("sessions", "UQ_sessions_token_hash", "token_hash", true),
    (
        "user_identities",
        "IDX_user_identities_user",
        "user_id",
        false,
    ),
    (
        "user_identities",
        "UQ_user_identities_provider_subject",
        "provider,subject",
        true,
    ),
    ("users", "IDX_users_created", "created_at,id", false),
    ("users", "UQ_users_email", "email", true),
    ("users", "UQ_users_phone", "phone", true),
];

async fn every_index_has_its_name_columns_and_uniqueness(database: TestDatabase) {
    let database = database.migrate().await;
    let catalog = catalog::read(&database.db).await;
    let schema_indexes: Vec<_> = catalog
        .indexes
        .iter()
        .filter(|index| index.table != MIGRATIONS_TABLE)
        .collect();

    let mut secondary: Vec<_> = schema_indexes
        .iter()
        .filter(|index| !index.primary)
        .map(|index| {
            (
                index.table.as_str(),
                index.name.as_str(),
                index.columns.join(","),
                index.unique,
            )
        })
        .collect();
    secondary.sort();
    let expected: Vec<_> = INDEXES
        .iter()
        .map(|(table, name, columns, unique)| (*table, *name, (*columns).to_owned(), *unique))
        .collect();
    assert_eq!(secondary, expected);

    let mut primary: Vec<_> = schema_indexes
        .iter()
        .filter(|index| index.primary)
        .map(|index| (index.table.as_str(), index.columns.join(",")))
        .collect();
    primary.sort();
    let expected: Vec<_> = TABLES
        .iter()
        .map(|table| (*table, "id".to_owned()))
        .collect();
    assert_eq!(primary, expected, "every table has the primary key (id)");
    if database.backend() == sea_orm::DbBackend::Postgres {
        for index in schema_indexes.iter().filter(|index| index.primary) {
            assert_eq!(index.name, format!("PK_{}_id", index.table));
        }
    }
}

async fn every_foreign_key_column_leads_an_index(database: TestDatabase) {
    let database = database.migrate().await;
    let catalog = catalog::read(&database.db).await;
    for fk in &catalog.foreign_keys {
        let covered = catalog
            .indexes
            .iter()
            .any(|index| index.table == fk.table && index.columns.first() == fk.columns.first());
        assert!(
            covered,
            "{}.{:?} has no index that starts with it",
            fk.table, fk.columns
        );
    }
}

/// What a database holds when only the migrations table exists.
async fn migrations_table_only(database: &TestDatabase) -> Catalog {
    let empty = match database.backend() {
        sea_orm::DbBackend::Postgres => TestDatabase::postgres().await,
        _ => Some(TestDatabase::sqlite().await),
    }
    .unwrap_or_else(|| panic!("a second database on the same server"));
    migration::Migrator::install(&empty.db)
        .await
        .unwrap_or_else(|error| panic!("install: {error}"));
    catalog::read(&empty.db).await
}

async fn down_removes_every_object_up_created(database: TestDatabase) {
    let database = database.migrate().await;
    migration::run(&database.db, &database.config, Command::Down(None))
        .await
        .unwrap_or_else(|error| panic!("down: {error}"));
    let after_down = catalog::read(&database.db).await;
    assert_eq!(after_down.tables, [MIGRATIONS_TABLE]);
    assert!(
        after_down.enums.is_empty(),
        "enum types left: {:?}",
        after_down.enums
    );
    assert_eq!(after_down, migrations_table_only(&database).await);
}

async fn up_down_up_round_trips_to_the_same_catalog(database: TestDatabase) {
    let database = database.migrate().await;
    let first = catalog::read(&database.db).await;
    for command in [Command::Down(None), Command::Up(None)] {
        migration::run(&database.db, &database.config, command)
            .await
            .unwrap_or_else(|error| panic!("{command:?}: {error}"));
    }
    assert_eq!(catalog::read(&database.db).await, first);
}

async fn concurrent_ups_all_succeed_and_apply_the_migration_once(database: TestDatabase) {
    // Separate pools, as separate replicas would have.
    let mut runs = Vec::new();
    for _ in 0..6 {
        let config = database.config.clone();
        runs.push(tokio::spawn(async move {
            let db = shared::connect(&config).await?;
            migration::up(&db, &config).await
        }));
    }
    for run in runs {
        run.await
            .unwrap_or_else(|error| panic!("task: {error}"))
            .unwrap_or_else(|error| panic!("a concurrent up failed: {error}"));
    }
    let applied = database
        .count(&format!("SELECT COUNT(*) FROM {MIGRATIONS_TABLE}"))
        .await;
    assert_eq!(applied, migration::Migrator::migrations().len() as i64);
    assert!(
        migration::is_up_to_date(&database.db)
            .await
            .unwrap_or(false)
    );
}

#[tokio::test]
async fn postgres_columns_have_the_original_types_nullability_and_defaults() {
    let database = postgres_or_skip!().migrate().await;
    let catalog = catalog::read(&database.db).await;
    let found: Vec<String> = catalog
        .columns
        .iter()
        .filter(|column| column.table != MIGRATIONS_TABLE)
        .map(|column| {
            format!(
                "{}|{}|{}|{}|{}",
                column.table,
                column.name,
                column.data_type,
                if column.nullable { "null" } else { "not null" },
                column.default.as_deref().unwrap_or("")
            )
        })
        .collect();
    let expected = [
        "agents|id|uuid|not null|gen_random_uuid()",
        "agents|name|character varying(255)|not null|",
        "agents|description|text|null|",
        "agents|type|agents_type_enum|not null|'external'::agents_type_enum",
        "agents|api_endpoint|character varying(500)|null|",
        "agents|api_key_encrypted|text|null|",
        "agents|config|jsonb|null|",
        "agents|model_source|character varying(255)|null|",
        "agents|training_config|jsonb|null|",
        "agents|version|character varying(50)|null|",
        "agents|active|boolean|not null|true",
        "agents|created_at|timestamp with time zone|not null|now()",
        "agents|updated_at|timestamp with time zone|not null|now()",
        "billing_logs|id|uuid|not null|gen_random_uuid()",
        "billing_logs|user_id|uuid|not null|",
        "billing_logs|project_id|uuid|null|",
        "billing_logs|conversation_id|uuid|null|",
        "billing_logs|agent_id|uuid|null|",
        "billing_logs|tokens|bigint|not null|",
        "billing_logs|cost|numeric(18,8)|not null|",
        "billing_logs|currency|character varying(10)|not null|'USD'::character varying",
        "billing_logs|timestamp|timestamp with time zone|not null|now()",
        "conversations|id|uuid|not null|gen_random_uuid()",
        "conversations|project_id|uuid|not null|",
        "conversations|title|character varying(255)|not null|",
        "conversations|thread_id|character varying(100)|not null|",
        "conversations|metadata|jsonb|null|",
        "conversations|is_deleted|boolean|not null|false",
        "conversations|created_at|timestamp with time zone|not null|now()",
        "conversations|updated_at|timestamp with time zone|not null|now()",
        "messages|id|uuid|not null|gen_random_uuid()",
        "messages|conversation_id|uuid|not null|",
        "messages|user_id|uuid|not null|",
        "messages|agent_id|uuid|null|",
        "messages|user_message|text|not null|",
        "messages|agent_response|text|null|",
        "messages|attachments|jsonb|null|",
        "messages|tokens_used|bigint|null|",
        "messages|cost|numeric(18,8)|null|",
        "messages|created_at|timestamp with time zone|not null|now()",
        "notifications|id|uuid|not null|gen_random_uuid()",
        "notifications|user_id|uuid|not null|",
        "notifications|type|notifications_type_enum|not null|",
        "notifications|title|character varying(255)|not null|",
        "notifications|message|text|not null|",
        "notifications|data|jsonb|null|",
        "notifications|read|boolean|not null|false",
        "notifications|created_at|timestamp with time zone|not null|now()",
        "phone_codes|id|uuid|not null|gen_random_uuid()",
        "phone_codes|phone|character varying(20)|not null|",
        "phone_codes|code_hash|character varying(64)|not null|",
        "phone_codes|attempts|integer|not null|0",
        "phone_codes|created_at|timestamp with time zone|not null|now()",
        "phone_codes|expires_at|timestamp with time zone|not null|",
        "project_members|id|uuid|not null|gen_random_uuid()",
        "project_members|project_id|uuid|not null|",
        "project_members|user_id|uuid|not null|",
        "project_members|role|project_members_role_enum|not null|'viewer'::project_members_role_enum",
        "project_members|created_at|timestamp with time zone|not null|now()",
        "projects|id|uuid|not null|gen_random_uuid()",
        "projects|name|character varying(255)|not null|",
        "projects|description|text|null|",
        "projects|owner_id|uuid|not null|",
        "projects|is_deleted|boolean|not null|false",
        "projects|created_at|timestamp with time zone|not null|now()",
        "projects|updated_at|timestamp with time zone|not null|now()",
        "sessions|id|uuid|not null|gen_random_uuid()",
        "sessions|user_id|uuid|not null|",
        "sessions|family|uuid|not null|",
        "sessions|token_hash|character varying(64)|not null|",
        "sessions|created_at|timestamp with time zone|not null|now()",
        "sessions|last_used_at|timestamp with time zone|null|",
        "sessions|expires_at|timestamp with time zone|not null|",
        "sessions|rotated_at|timestamp with time zone|null|",
        "sessions|revoked_at|timestamp with time zone|null|",
        "sessions|user_agent|character varying(500)|null|",
        "sessions|ip_address|character varying(45)|null|",
        "user_identities|id|uuid|not null|gen_random_uuid()",
        "user_identities|user_id|uuid|not null|",
        "user_identities|provider|character varying(20)|not null|",
        "user_identities|subject|character varying(255)|not null|",
        "user_identities|email|character varying(255)|null|",
        "user_identities|created_at|timestamp with time zone|not null|now()",
        "user_identities|last_used_at|timestamp with time zone|null|",
        "users|id|uuid|not null|gen_random_uuid()",
        "users|name|character varying(255)|not null|",
        "users|email|character varying(255)|null|",
        "users|phone|character varying(20)|null|",
        "users|password|character varying(255)|null|",
        "users|auth_provider|users_auth_provider_enum|not null|'email'::users_auth_provider_enum",
        "users|oauth_id|character varying(255)|null|",
        "users|role|users_role_enum|not null|'user'::users_role_enum",
        "users|avatar_url|character varying(500)|null|",
        "users|is_active|boolean|not null|true",
        "users|created_at|timestamp with time zone|not null|now()",
        "users|updated_at|timestamp with time zone|not null|now()",
        "users|email_verified_at|timestamp with time zone|null|",
        "users|phone_verified_at|timestamp with time zone|null|",
    ];
    assert_eq!(found, expected);
}

#[tokio::test]
async fn postgres_has_the_five_enum_types_with_the_original_labels() {
    let database = postgres_or_skip!().migrate().await;
    let catalog = catalog::read(&database.db).await;
    let labels = |list: &[&str]| {
        list.iter()
            .map(|label| (*label).to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        catalog.enums,
        vec![
            (
                "agents_type_enum".to_owned(),
                labels(&["external", "self-hosted"])
            ),
            (
                "notifications_type_enum".to_owned(),
                labels(&[
                    "new_message",
                    "project_invite",
                    "training_complete",
                    "agent_deployed",
                    "system"
                ])
            ),
            (
                "project_members_role_enum".to_owned(),
                labels(&["owner", "editor", "viewer"])
            ),
            (
                "users_auth_provider_enum".to_owned(),
                labels(&["email", "google", "facebook", "tiktok", "phone"])
            ),
            ("users_role_enum".to_owned(), labels(&["admin", "user"])),
        ]
    );
}

#[tokio::test]
async fn postgres_needs_no_extension_so_down_leaves_none() {
    let database = postgres_or_skip!();
    let extensions = |catalog: Catalog| -> Vec<String> {
        catalog
            .objects
            .into_iter()
            .filter(|object| object.starts_with("extension:"))
            .collect()
    };
    let database = database.migrate().await;
    assert_eq!(
        extensions(catalog::read(&database.db).await),
        Vec::<String>::new(),
        "up creates no extension (gen_random_uuid is built in since PostgreSQL 13)"
    );
    migration::run(&database.db, &database.config, Command::Down(None))
        .await
        .unwrap_or_else(|error| panic!("down: {error}"));
    assert_eq!(
        extensions(catalog::read(&database.db).await),
        Vec::<String>::new(),
        "so down leaves none behind"
    );
}

#[tokio::test]
async fn postgres_migration_that_fails_part_way_leaves_the_database_as_it_was() {
    let database = postgres_or_skip!();
    // The last enum type the migration creates already exists: the first four succeed, then
    // CREATE TYPE fails, and the transaction must take the four back.
    database
        .execute("CREATE TYPE notifications_type_enum AS ENUM ('x')")
        .await;
    let before = catalog::read(&database.db).await;
    let result = migration::up(&database.db, &database.config).await;
    assert!(result.is_err(), "up must fail on the existing type");
    let mut after = catalog::read(&database.db).await;
    // The migrations table is created (empty) before the migration's own transaction starts.
    after = after.without_table(MIGRATIONS_TABLE);
    assert_eq!(after.tables, before.tables);
    assert_eq!(after.enums, before.enums);
    assert_eq!(
        database
            .count(&format!("SELECT COUNT(*) FROM {MIGRATIONS_TABLE}"))
            .await,
        0
    );
}

#[tokio::test]
async fn sqlite_columns_match_postgres_and_enums_are_guarded_by_checks() {
    let database = TestDatabase::sqlite().await.migrate().await;
    let catalog = catalog::read(&database.db).await;
    let names = |catalog: &Catalog| {
        let mut names: Vec<(String, String, bool)> = catalog
            .columns
            .iter()
            .filter(|column| column.table != MIGRATIONS_TABLE)
            .map(|column| (column.table.clone(), column.name.clone(), column.nullable))
            .collect();
        names.sort();
        names
    };
    if let Some(postgres) = TestDatabase::postgres().await {
        let postgres = postgres.migrate().await;
        assert_eq!(
            names(&catalog),
            names(&catalog::read(&postgres.db).await),
            "the same columns and nullability on both backends"
        );
    }
    let mut checks: Vec<_> = catalog
        .checks
        .iter()
        .map(|(table, check)| format!("{table}: {check}"))
        .collect();
    checks.sort();
    assert_eq!(
        checks,
        [
            "agents: CHECK (\"type\" IN ('external', 'self-hosted'))",
            "notifications: CHECK (\"type\" IN ('new_message', 'project_invite', 'training_complete', 'agent_deployed', 'system'))",
            "project_members: CHECK (\"role\" IN ('owner', 'editor', 'viewer'))",
            "users: CHECK (\"auth_provider\" IN ('email', 'google', 'facebook', 'tiktok', 'phone'))",
            "users: CHECK (\"role\" IN ('admin', 'user'))",
            "users: CHECK (email IS NOT NULL OR phone IS NOT NULL OR auth_provider IN ('google', 'facebook', 'tiktok'))",
        ]
    );
    let foreign_keys_enforced = database.count("PRAGMA foreign_keys").await;
    assert_eq!(foreign_keys_enforced, 1);
}
