//! Indexes for the API's keyset pages, newest first by `(created_at, id)`: a page deep in a
//! large list costs what the first page costs.
//!
//! - `users` and `projects` (the admin lists) get `(created_at, id)`.
//! - `conversations` lists are per project: `(project_id, created_at, id)` replaces the plain
//!   `project_id` index it leads with, so the foreign key keeps its index.
//! - `messages` already has `(conversation_id, created_at)` from the first migration.

use sea_orm_migration::prelude::*;

use crate::helpers::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index("IDX_users_created", "users", &["created_at", "id"]))
            .await?;
        manager
            .create_index(index(
                "IDX_projects_created",
                "projects",
                &["created_at", "id"],
            ))
            .await?;
        manager
            .create_index(index(
                "IDX_conversations_project_created",
                "conversations",
                &["project_id", "created_at", "id"],
            ))
            .await?;
        manager
            .drop_index(drop("IDX_conversations_project", "conversations"))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index(
                "IDX_conversations_project",
                "conversations",
                &["project_id"],
            ))
            .await?;
        for (name, table) in [
            ("IDX_conversations_project_created", "conversations"),
            ("IDX_projects_created", "projects"),
            ("IDX_users_created", "users"),
        ] {
            manager.drop_index(drop(name, table)).await?;
        }
        Ok(())
    }
}

fn drop(name: &str, table: &'static str) -> IndexDropStatement {
    Index::drop().name(name).table(table).to_owned()
}
