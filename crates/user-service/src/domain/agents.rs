//! Agents: the AI models a message can be addressed to.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use shared::entities::agent;

use super::Result;
use super::access::{self, CurrentUser};
use super::paging::{Page, PageRequest};

/// A page of agents, newest first: active ones, or (admins only) every one with
/// `include_inactive`.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &CurrentUser,
    include_inactive: bool,
    page: &PageRequest,
) -> Result<Page<agent::Model>> {
    let mut query = agent::Entity::find();
    if include_inactive {
        access::require_admin(caller)?;
    } else {
        query = query.filter(agent::Column::Active.eq(true));
    }
    let columns = (
        (agent::Entity, agent::Column::CreatedAt),
        (agent::Entity, agent::Column::Id),
    );
    page.read(db, query, columns, |row| (row.created_at, row.id))
        .await
}
