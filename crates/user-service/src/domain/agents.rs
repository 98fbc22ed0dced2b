//! Agents: the AI models a message can be addressed to.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use shared::entities::agent;

use crate::error::Result;
use crate::pagination::{Page, PageRequest};

/// A page of agents, newest first: active ones, or every one with `include_inactive`.
pub async fn list(
    db: &impl ConnectionTrait,
    include_inactive: bool,
    page: &PageRequest,
) -> Result<Page<agent::Model>> {
    let mut query = agent::Entity::find();
    if !include_inactive {
        query = query.filter(agent::Column::Active.eq(true));
    }
    let rows = page
        .apply(
            query,
            (agent::Entity, agent::Column::CreatedAt),
            (agent::Entity, agent::Column::Id),
        )
        .all(db)
        .await?;
    Ok(page.finish(rows, |agent| (agent.created_at, agent.id)))
}
