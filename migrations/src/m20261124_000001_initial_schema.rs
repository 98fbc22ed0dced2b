//! The initial schema: the original's eight tables, five enum types, foreign keys and indexes,
//! with the deliberate differences listed in `docs/SCHEMA.md`.
//!
//! One definition serves both backends. PostgreSQL gets native enum types, `uuid` ids defaulting
//! to `gen_random_uuid()`, `timestamptz` and `jsonb`; SQLite gets text columns guarded by CHECK
//! constraints for the enums and no id default (the application always supplies a UUIDv7).

use sea_orm_migration::prelude::extension::postgres::Type;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::helpers::{foreign_key, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables this migration creates, each after the tables it references.
pub const TABLES: [&str; 8] = [
    "users",
    "projects",
    "project_members",
    "conversations",
    "agents",
    "messages",
    "billing_logs",
    "notifications",
];

/// The five enum types, with the original's names and labels.
pub const ENUMS: [(&str, &[&str]); 5] = [
    (
        "users_auth_provider_enum",
        &["email", "google", "facebook", "tiktok"],
    ),
    ("users_role_enum", &["admin", "user"]),
    ("project_members_role_enum", &["owner", "editor", "viewer"]),
    ("agents_type_enum", &["external", "self-hosted"]),
    (
        "notifications_type_enum",
        &[
            "new_message",
            "project_invite",
            "training_complete",
            "agent_deployed",
            "system",
        ],
    ),
];

fn enum_labels(type_name: &str) -> &'static [&'static str] {
    ENUMS
        .iter()
        .find(|(name, _)| *name == type_name)
        .map(|(_, labels)| *labels)
        .unwrap_or(&[])
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let schema = Schema::new(manager.get_database_backend());
        if schema.backend == DbBackend::Postgres {
            for (name, labels) in ENUMS {
                manager
                    .create_type(
                        Type::create()
                            .as_enum(name)
                            .values(labels.iter().copied())
                            .to_owned(),
                    )
                    .await?;
            }
        }
        for table in schema.tables() {
            manager.create_table(table).await?;
        }
        for index in schema.indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Dropping a table drops its indexes and constraints; children go first.
        for table in TABLES.iter().rev() {
            manager
                .drop_table(Table::drop().table(*table).to_owned())
                .await?;
        }
        if manager.get_database_backend() == DbBackend::Postgres {
            for (name, _) in ENUMS.iter().rev() {
                manager
                    .drop_type(Type::drop().name(*name).to_owned())
                    .await?;
            }
        }
        Ok(())
    }
}

/// Builds the statements for one backend (later migrations build their tables with it too).
pub(crate) struct Schema {
    pub(crate) backend: DbBackend,
}

impl Schema {
    pub(crate) fn new(backend: DbBackend) -> Self {
        Self { backend }
    }

    pub(crate) fn is_postgres(&self) -> bool {
        self.backend == DbBackend::Postgres
    }

    /// `id uuid NOT NULL DEFAULT gen_random_uuid()`, the primary key.
    pub(crate) fn id(&self) -> ColumnDef {
        let mut column = ColumnDef::new("id");
        column.uuid().not_null();
        if self.is_postgres() {
            column.default(Expr::cust("gen_random_uuid()"));
        }
        column
    }

    pub(crate) fn uuid(&self, name: &'static str) -> ColumnDef {
        ColumnDef::new(name).uuid().not_null().to_owned()
    }

    pub(crate) fn optional_uuid(&self, name: &'static str) -> ColumnDef {
        ColumnDef::new(name).uuid().null().to_owned()
    }

    pub(crate) fn varchar(&self, name: &'static str, len: u32) -> ColumnDef {
        ColumnDef::new(name).string_len(len).not_null().to_owned()
    }

    pub(crate) fn optional_varchar(&self, name: &'static str, len: u32) -> ColumnDef {
        ColumnDef::new(name).string_len(len).null().to_owned()
    }

    pub(crate) fn text(&self, name: &'static str) -> ColumnDef {
        ColumnDef::new(name).text().not_null().to_owned()
    }

    pub(crate) fn optional_text(&self, name: &'static str) -> ColumnDef {
        ColumnDef::new(name).text().null().to_owned()
    }

    pub(crate) fn optional_jsonb(&self, name: &'static str) -> ColumnDef {
        ColumnDef::new(name).json_binary().null().to_owned()
    }

    pub(crate) fn flag(&self, name: &'static str, default: bool) -> ColumnDef {
        ColumnDef::new(name)
            .boolean()
            .not_null()
            .default(default)
            .to_owned()
    }

    /// Exact money: `NUMERIC(18,8)`.
    pub(crate) fn money(&self, name: &'static str) -> ColumnDef {
        ColumnDef::new(name).decimal_len(18, 8).to_owned()
    }

    /// `timestamptz NOT NULL DEFAULT now()`. On SQLite the default is an RFC 3339 UTC text,
    /// the format the entities read and write.
    pub(crate) fn timestamp(&self, name: &'static str) -> ColumnDef {
        let mut column = ColumnDef::new(name);
        column.timestamp_with_time_zone().not_null();
        if self.is_postgres() {
            column.default(Expr::cust("now()"));
        } else {
            column.default(Expr::cust("(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"));
        }
        column
    }

    /// A column of one of the enum types: the native type on PostgreSQL, a CHECK-guarded text
    /// column on SQLite.
    pub(crate) fn enumeration(
        &self,
        name: &'static str,
        type_name: &'static str,
        default: Option<&str>,
    ) -> ColumnDef {
        let mut column = ColumnDef::new(name);
        column.not_null();
        if self.is_postgres() {
            column.custom(type_name);
        } else {
            let longest = enum_labels(type_name)
                .iter()
                .map(|label| label.len())
                .max()
                .unwrap_or(1);
            column.string_len(longest as u32).check(Check::named(
                format!("CHK_{type_name}"),
                Expr::col(name).is_in(enum_labels(type_name).iter().copied()),
            ));
        }
        if let Some(default) = default {
            column.default(default);
        }
        column
    }

    pub(crate) fn table(
        &self,
        name: &'static str,
        columns: Vec<ColumnDef>,
    ) -> TableCreateStatement {
        let mut table = Table::create();
        table.table(name);
        for mut column in columns {
            table.col(&mut column);
        }
        table.primary_key(Index::create().name(format!("PK_{name}_id")).col("id"));
        table.to_owned()
    }

    fn tables(&self) -> Vec<TableCreateStatement> {
        vec![
            self.table(
                "users",
                vec![
                    self.id(),
                    self.varchar("name", 255),
                    self.varchar("email", 255),
                    self.optional_varchar("phone", 20),
                    self.optional_varchar("password", 255),
                    self.enumeration("auth_provider", "users_auth_provider_enum", Some("email")),
                    self.optional_varchar("oauth_id", 255),
                    self.enumeration("role", "users_role_enum", Some("user")),
                    self.optional_varchar("avatar_url", 500),
                    self.flag("is_active", true),
                    self.timestamp("created_at"),
                    self.timestamp("updated_at"),
                ],
            ),
            self.table(
                "projects",
                vec![
                    self.id(),
                    self.varchar("name", 255),
                    self.optional_text("description"),
                    self.uuid("owner_id"),
                    self.flag("is_deleted", false),
                    self.timestamp("created_at"),
                    self.timestamp("updated_at"),
                ],
            )
            .foreign_key(&mut foreign_key(
                "FK_projects_owner",
                "projects",
                "owner_id",
                "users",
                ForeignKeyAction::Cascade,
            ))
            .to_owned(),
            self.table(
                "project_members",
                vec![
                    self.id(),
                    self.uuid("project_id"),
                    self.uuid("user_id"),
                    self.enumeration("role", "project_members_role_enum", Some("viewer")),
                    self.timestamp("created_at"),
                ],
            )
            .foreign_key(&mut foreign_key(
                "FK_project_members_project",
                "project_members",
                "project_id",
                "projects",
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut foreign_key(
                "FK_project_members_user",
                "project_members",
                "user_id",
                "users",
                ForeignKeyAction::Cascade,
            ))
            .to_owned(),
            self.table(
                "conversations",
                vec![
                    self.id(),
                    self.uuid("project_id"),
                    self.varchar("title", 255),
                    self.varchar("thread_id", 100),
                    self.optional_jsonb("metadata"),
                    self.flag("is_deleted", false),
                    self.timestamp("created_at"),
                    self.timestamp("updated_at"),
                ],
            )
            .foreign_key(&mut foreign_key(
                "FK_conversations_project",
                "conversations",
                "project_id",
                "projects",
                ForeignKeyAction::Cascade,
            ))
            .to_owned(),
            self.table(
                "agents",
                vec![
                    self.id(),
                    self.varchar("name", 255),
                    self.optional_text("description"),
                    self.enumeration("type", "agents_type_enum", Some("external")),
                    self.optional_varchar("api_endpoint", 500),
                    self.optional_text("api_key_encrypted"),
                    self.optional_jsonb("config"),
                    self.optional_varchar("model_source", 255),
                    self.optional_jsonb("training_config"),
                    self.optional_varchar("version", 50),
                    self.flag("active", true),
                    self.timestamp("created_at"),
                    self.timestamp("updated_at"),
                ],
            ),
            self.table(
                "messages",
                vec![
                    self.id(),
                    self.uuid("conversation_id"),
                    self.uuid("user_id"),
                    self.optional_uuid("agent_id"),
                    self.text("user_message"),
                    self.optional_text("agent_response"),
                    self.optional_jsonb("attachments"),
                    ColumnDef::new("tokens_used")
                        .big_integer()
                        .null()
                        .to_owned(),
                    self.money("cost").null().to_owned(),
                    self.timestamp("created_at"),
                ],
            )
            .foreign_key(&mut foreign_key(
                "FK_messages_conversation",
                "messages",
                "conversation_id",
                "conversations",
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut foreign_key(
                "FK_messages_user",
                "messages",
                "user_id",
                "users",
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut foreign_key(
                "FK_messages_agent",
                "messages",
                "agent_id",
                "agents",
                ForeignKeyAction::SetNull,
            ))
            .to_owned(),
            // No foreign keys: the ledger outlives what it references.
            self.table(
                "billing_logs",
                vec![
                    self.id(),
                    self.uuid("user_id"),
                    self.optional_uuid("project_id"),
                    self.optional_uuid("conversation_id"),
                    self.optional_uuid("agent_id"),
                    ColumnDef::new("tokens").big_integer().not_null().to_owned(),
                    self.money("cost").not_null().to_owned(),
                    self.varchar("currency", 10).default("USD").to_owned(),
                    self.timestamp("timestamp"),
                ],
            ),
            self.table(
                "notifications",
                vec![
                    self.id(),
                    self.uuid("user_id"),
                    self.enumeration("type", "notifications_type_enum", None),
                    self.varchar("title", 255),
                    self.text("message"),
                    self.optional_jsonb("data"),
                    self.flag("read", false),
                    self.timestamp("created_at"),
                ],
            )
            .foreign_key(&mut foreign_key(
                "FK_notifications_user",
                "notifications",
                "user_id",
                "users",
                ForeignKeyAction::Cascade,
            ))
            .to_owned(),
        ]
    }

    /// Every index, by name. Unique ones carry the original's unique constraints; the rest cover
    /// the original's query paths and lead with every foreign-key column, so a cascade or
    /// SET NULL never scans a whole child table.
    fn indexes(&self) -> Vec<IndexCreateStatement> {
        let unique = |name: &str, table: &'static str, columns: &[&'static str]| {
            let mut index = index(name, table, columns);
            index.unique();
            index
        };
        vec![
            unique("UQ_users_email", "users", &["email"]),
            unique("UQ_users_phone", "users", &["phone"]),
            index("IDX_projects_owner", "projects", &["owner_id"]),
            unique(
                "UQ_project_members_project_user",
                "project_members",
                &["project_id", "user_id"],
            ),
            index("IDX_project_members_user", "project_members", &["user_id"]),
            unique(
                "UQ_conversations_thread_id",
                "conversations",
                &["thread_id"],
            ),
            index(
                "IDX_conversations_project",
                "conversations",
                &["project_id"],
            ),
            unique("UQ_agents_name", "agents", &["name"]),
            index(
                "IDX_messages_conversation_created",
                "messages",
                &["conversation_id", "created_at"],
            ),
            index("IDX_messages_user", "messages", &["user_id"]),
            index("IDX_messages_agent", "messages", &["agent_id"]),
            index(
                "IDX_billing_logs_user_timestamp",
                "billing_logs",
                &["user_id", "timestamp"],
            ),
            index(
                "IDX_billing_logs_project_timestamp",
                "billing_logs",
                &["project_id", "timestamp"],
            ),
            index(
                "IDX_notifications_user_read_created",
                "notifications",
                &["user_id", "read", "created_at"],
            ),
        ]
    }
}
