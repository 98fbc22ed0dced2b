//! Conversations (chat threads in a project) and their messages.

use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    EntityTrait, IntoActiveModel, JoinType, QueryFilter, QuerySelect, RelationTrait,
};
use shared::entities::{agent, conversation, message, project};
use uuid::Uuid;

use super::access::{self, Caller, Need};
use super::paging::{Page, PageRequest};
use super::values::{Attachments, Metadata, ThreadId, Title, UserMessage};
use super::{Error, Result};

/// A new conversation in a project.
#[derive(Debug)]
pub struct NewConversation {
    pub project_id: Uuid,
    pub title: Title,
    pub metadata: Option<Metadata>,
    pub thread_id: Option<ThreadId>,
}

/// Starts a conversation in a project the caller may write to (editor and up); a missing
/// `thread_id` is generated (32 hex digits, URL-safe and unique). A taken one is a conflict.
pub async fn create(
    db: &impl ConnectionTrait,
    caller: Caller,
    new: NewConversation,
) -> Result<conversation::Model> {
    access::project(db, caller, new.project_id, Need::Write).await?;
    let thread_id = new.thread_id.unwrap_or_else(ThreadId::generate);
    Ok(conversation::ActiveModel {
        project_id: Set(new.project_id),
        title: Set(new.title.into_string()),
        thread_id: Set(thread_id.into_string()),
        metadata: Set(new.metadata.map(Metadata::into_value)),
        is_deleted: Set(false),
        ..conversation::ActiveModel::new()
    }
    .insert(db)
    .await?)
}

/// A page of live conversations, newest first: of one project the caller may read (one he may
/// not see is not found), or of every live project he is a member of, in one query that also
/// checks the caller (`access::while_active`).
pub async fn list(
    db: &impl ConnectionTrait,
    caller: Caller,
    project_id: Option<Uuid>,
    page: &PageRequest,
) -> Result<Page<conversation::Model>> {
    let mut query = conversation::Entity::find().filter(conversation::Column::IsDeleted.eq(false));
    match project_id {
        Some(project_id) => {
            access::project(db, caller, project_id, Need::Read).await?;
            query = query.filter(conversation::Column::ProjectId.eq(project_id));
        }
        None => {
            let membership = access::membership_of(caller.claimed_id());
            query = query
                .join(JoinType::InnerJoin, conversation::Relation::Project.def())
                .filter(project::Column::IsDeleted.eq(false))
                .filter(access::while_active(caller))
                .join(JoinType::InnerJoin, membership);
        }
    }
    let columns = (
        (conversation::Entity, conversation::Column::CreatedAt),
        (conversation::Entity, conversation::Column::Id),
    );
    let page = page
        .read(db, query, columns, |row| (row.created_at, row.id))
        .await?;
    if project_id.is_none() {
        access::confirm_empty(db, caller, &page.rows).await?;
    }
    Ok(page)
}

/// Conversation `id` as the caller sees it (viewer and up).
pub async fn get(
    db: &impl ConnectionTrait,
    caller: Caller,
    id: Uuid,
) -> Result<conversation::Model> {
    let (_, conversation) = access::conversation(db, caller, id, Need::Read).await?;
    Ok(conversation)
}

/// Changes conversation `id` (editor and up).
pub async fn update(
    db: &impl ConnectionTrait,
    caller: Caller,
    id: Uuid,
    title: Option<Title>,
    metadata: Option<Option<Metadata>>,
) -> Result<conversation::Model> {
    let (_, conversation) = access::conversation(db, caller, id, Need::Write).await?;
    let mut active = conversation.into_active_model();
    if let Some(title) = title {
        active.title = Set(title.into_string());
    }
    if let Some(metadata) = metadata {
        active.metadata = Set(metadata.map(Metadata::into_value));
    }
    Ok(active.update(db).await?)
}

/// Soft delete (editor and up): the conversation answers as missing from now on.
pub async fn soft_delete(db: &impl ConnectionTrait, caller: Caller, id: Uuid) -> Result<()> {
    let (_, conversation) = access::conversation(db, caller, id, Need::Write).await?;
    let mut active = conversation.into_active_model();
    active.is_deleted = Set(true);
    active.update(db).await?;
    Ok(())
}

/// A message the caller posts.
#[derive(Debug)]
pub struct NewMessage {
    pub user_message: UserMessage,
    pub agent_id: Option<Uuid>,
    pub attachments: Option<Attachments>,
}

pub const INACTIVE_AGENT: &str = "agent_id must name an active agent";

/// Stores the caller's message in conversation `conversation_id` (editor and up). An `agent_id`
/// must name an active agent.
pub async fn post_message(
    db: &impl ConnectionTrait,
    caller: Caller,
    conversation_id: Uuid,
    new: NewMessage,
) -> Result<message::Model> {
    let (caller, _) = access::conversation(db, caller, conversation_id, Need::Write).await?;
    if let Some(agent_id) = new.agent_id {
        let active = agent::Entity::find_by_id(agent_id)
            .filter(agent::Column::Active.eq(true))
            .select_only()
            .column(agent::Column::Id)
            .into_tuple::<Uuid>()
            .one(db)
            .await?;
        if active.is_none() {
            return Err(Error::invalid(INACTIVE_AGENT));
        }
    }
    Ok(message::ActiveModel {
        conversation_id: Set(conversation_id),
        user_id: Set(caller.id()),
        agent_id: Set(new.agent_id),
        user_message: Set(new.user_message.into_string()),
        agent_response: Set(None),
        attachments: Set(new.attachments.map(Attachments::into_value)),
        tokens_used: Set(None),
        cost: Set(None),
        ..message::ActiveModel::new()
    }
    .insert(db)
    .await?)
}

/// A page of the conversation's messages (viewer and up) in the page's order, on the
/// `(conversation_id, created_at)` index.
pub async fn messages(
    db: &impl ConnectionTrait,
    caller: Caller,
    conversation_id: Uuid,
    page: &PageRequest,
) -> Result<Page<message::Model>> {
    access::conversation(db, caller, conversation_id, Need::Read).await?;
    let query = message::Entity::find().filter(message::Column::ConversationId.eq(conversation_id));
    let columns = (
        (message::Entity, message::Column::CreatedAt),
        (message::Entity, message::Column::Id),
    );
    page.read(db, query, columns, |row| (row.created_at, row.id))
        .await
}
