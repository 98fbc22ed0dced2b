//! Conversations (chat threads in a project) and their messages.

use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    EntityTrait, IntoActiveModel, JoinType, QueryFilter, QuerySelect, RelationTrait,
};
use serde_json::Value;
use shared::entities::{agent, conversation, message, project};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, Result};
use crate::pagination::{Page, PageRequest};

/// A new conversation in a project the caller may write to.
#[derive(Debug)]
pub struct NewConversation {
    pub project_id: Uuid,
    pub title: String,
    pub metadata: Option<Value>,
    pub thread_id: Option<String>,
}

/// Creates a conversation; a missing `thread_id` is generated (32 hex digits, URL-safe and
/// unique). A taken one is 409.
pub async fn create(
    db: &impl ConnectionTrait,
    new: NewConversation,
) -> Result<conversation::Model> {
    let thread_id = new
        .thread_id
        .unwrap_or_else(|| Uuid::new_v4().simple().to_string());
    Ok(conversation::ActiveModel {
        project_id: Set(new.project_id),
        title: Set(new.title),
        thread_id: Set(thread_id),
        metadata: Set(new.metadata),
        is_deleted: Set(false),
        ..conversation::ActiveModel::new()
    }
    .insert(db)
    .await?)
}

/// A page of live conversations, newest first: of one project (already checked readable, with
/// the caller), or of every live project the caller is a member of, in one query that also checks
/// the caller (`access::while_active`).
pub async fn list(
    db: &impl ConnectionTrait,
    caller: Caller,
    project_id: Option<Uuid>,
    page: &PageRequest,
) -> Result<Page<conversation::Model>> {
    let mut query = conversation::Entity::find().filter(conversation::Column::IsDeleted.eq(false));
    match project_id {
        Some(project_id) => {
            query = query.filter(conversation::Column::ProjectId.eq(project_id));
        }
        None => {
            let membership = super::access::membership_of(caller.claimed_id());
            query = query
                .join(JoinType::InnerJoin, conversation::Relation::Project.def())
                .filter(project::Column::IsDeleted.eq(false))
                .filter(super::access::while_active(caller))
                .join(JoinType::InnerJoin, membership);
        }
    }
    let rows = page
        .apply(
            query,
            (conversation::Entity, conversation::Column::CreatedAt),
            (conversation::Entity, conversation::Column::Id),
        )
        .all(db)
        .await?;
    if project_id.is_none() {
        super::access::confirm_empty(db, caller, &rows).await?;
    }
    Ok(page.finish(rows, |conversation| {
        (conversation.created_at, conversation.id)
    }))
}

pub async fn update(
    db: &impl ConnectionTrait,
    conversation: conversation::Model,
    title: Option<String>,
    metadata: Option<Option<Value>>,
) -> Result<conversation::Model> {
    let mut active = conversation.into_active_model();
    if let Some(title) = title {
        active.title = Set(title);
    }
    if let Some(metadata) = metadata {
        active.metadata = Set(metadata);
    }
    Ok(active.update(db).await?)
}

pub async fn soft_delete(
    db: &impl ConnectionTrait,
    conversation: conversation::Model,
) -> Result<()> {
    let mut active = conversation.into_active_model();
    active.is_deleted = Set(true);
    active.update(db).await?;
    Ok(())
}

/// A message the caller posts.
#[derive(Debug)]
pub struct NewMessage {
    pub user_message: String,
    pub agent_id: Option<Uuid>,
    pub attachments: Option<Value>,
}

pub const INACTIVE_AGENT: &str = "agent_id must name an active agent";

/// Stores the caller's message in `conversation_id`. An `agent_id` must name an active agent.
pub async fn post_message(
    db: &impl ConnectionTrait,
    conversation_id: Uuid,
    user_id: Uuid,
    new: NewMessage,
) -> Result<message::Model> {
    if let Some(agent_id) = new.agent_id {
        let active = agent::Entity::find_by_id(agent_id)
            .filter(agent::Column::Active.eq(true))
            .select_only()
            .column(agent::Column::Id)
            .into_tuple::<Uuid>()
            .one(db)
            .await?;
        if active.is_none() {
            return Err(ApiError::invalid(INACTIVE_AGENT));
        }
    }
    Ok(message::ActiveModel {
        conversation_id: Set(conversation_id),
        user_id: Set(user_id),
        agent_id: Set(new.agent_id),
        user_message: Set(new.user_message),
        agent_response: Set(None),
        attachments: Set(new.attachments),
        tokens_used: Set(None),
        cost: Set(None),
        ..message::ActiveModel::new()
    }
    .insert(db)
    .await?)
}

/// A page of the conversation's messages in the page's order, on the
/// `(conversation_id, created_at)` index.
pub async fn messages(
    db: &impl ConnectionTrait,
    conversation_id: Uuid,
    page: &PageRequest,
) -> Result<Page<message::Model>> {
    let query = message::Entity::find().filter(message::Column::ConversationId.eq(conversation_id));
    let rows = page
        .apply(
            query,
            (message::Entity, message::Column::CreatedAt),
            (message::Entity, message::Column::Id),
        )
        .all(db)
        .await?;
    Ok(page.finish(rows, |message| (message.created_at, message.id)))
}
