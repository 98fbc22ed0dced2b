//! `/conversations` and their messages. Access follows the project role: viewer reads, editor
//! writes; a conversation the caller may not see answers 404 like a missing one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::entities::{conversation, message};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::error::{ErrorBody, Result};
use super::extract::{Id, ValidJson, ValidQuery};
use super::pagination::{Page, PageCursor, page_request};
use super::{nullable, timestamp};
use crate::domain::Caller;
use crate::domain::conversations::{self, NewConversation, NewMessage};
use crate::domain::paging::Direction;
use crate::domain::values::{Attachments, Limit, Metadata, ThreadId, Title, UserMessage};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_conversations, create_conversation))
        .routes(routes!(
            get_conversation,
            update_conversation,
            delete_conversation
        ))
        .routes(routes!(list_messages, post_message))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationResponse {
    id: Uuid,
    project_id: Uuid,
    title: String,
    thread_id: String,
    /// A JSON object, returned as stored.
    #[schema(value_type = Option<Object>)]
    metadata: Option<Value>,
    #[serde(with = "timestamp")]
    created_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    updated_at: DateTime<Utc>,
}

impl From<conversation::Model> for ConversationResponse {
    fn from(conversation: conversation::Model) -> Self {
        Self {
            id: conversation.id,
            project_id: conversation.project_id,
            title: conversation.title,
            thread_id: conversation.thread_id,
            metadata: conversation.metadata,
            created_at: conversation.created_at,
            updated_at: conversation.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListConversationsQuery {
    /// Only this project's conversations (404 if the caller cannot see it).
    project_id: Option<Uuid>,
    /// Page size, 1 to 100 (default 20).
    #[param(inline)]
    limit: Option<Limit>,
    #[param(inline)]
    cursor: Option<PageCursor>,
}

/// Conversations of the caller's projects (or of one), newest first.
#[utoipa::path(get, path = "/conversations", tag = "conversations",
    params(ListConversationsQuery), security(("bearer" = [])),
    responses(
        (status = 200, body = Page<ConversationResponse>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
async fn list_conversations(
    State(state): State<AppState>,
    caller: Caller,
    ValidQuery(query): ValidQuery<ListConversationsQuery>,
) -> Result<Json<Page<ConversationResponse>>> {
    let page = page_request(query.limit, query.cursor, Direction::NewestFirst);
    let conversations = conversations::list(&state.db, caller, query.project_id, &page).await?;
    Ok(Json(Page::new(conversations, ConversationResponse::from)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConversationRequest {
    project_id: Uuid,
    title: Title,
    metadata: Option<Metadata>,
    /// Generated when absent.
    thread_id: Option<ThreadId>,
}

/// Start a conversation in a project (editor and up).
#[utoipa::path(post, path = "/conversations", tag = "conversations",
    request_body = CreateConversationRequest, security(("bearer" = [])),
    responses(
        (status = 201, body = ConversationResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "thread_id is taken", body = ErrorBody),
    ))]
async fn create_conversation(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(body): ValidJson<CreateConversationRequest>,
) -> Result<(StatusCode, Json<ConversationResponse>)> {
    let new = NewConversation {
        project_id: body.project_id,
        title: body.title,
        metadata: body.metadata,
        thread_id: body.thread_id,
    };
    let conversation = conversations::create(&state.db, caller, new).await?;
    Ok((StatusCode::CREATED, Json(conversation.into())))
}

/// Read a conversation (viewer and up).
#[utoipa::path(get, path = "/conversations/{id}", tag = "conversations",
    params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = ConversationResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
async fn get_conversation(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<ConversationResponse>> {
    Ok(Json(
        conversations::get(&state.db, caller, id).await?.into(),
    ))
}

/// A partial change; `metadata` may be `null` to clear it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConversationRequest {
    title: Option<Title>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Metadata>)]
    metadata: Option<Option<Metadata>>,
}

/// Change a conversation (editor and up).
///
/// `PUT` and `PATCH` are the same: both take a partial body.
#[utoipa::path(method(put, patch), path = "/conversations/{id}", tag = "conversations",
    params(("id" = Uuid, Path)), request_body = UpdateConversationRequest, security(("bearer" = [])),
    responses(
        (status = 200, body = ConversationResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
async fn update_conversation(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ValidJson(body): ValidJson<UpdateConversationRequest>,
) -> Result<Json<ConversationResponse>> {
    let conversation =
        conversations::update(&state.db, caller, id, body.title, body.metadata).await?;
    Ok(Json(conversation.into()))
}

/// Delete a conversation (editor and up): a soft delete; it answers 404 from then on.
#[utoipa::path(delete, path = "/conversations/{id}", tag = "conversations",
    params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
async fn delete_conversation(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<StatusCode> {
    conversations::soft_delete(&state.db, caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageResponse {
    id: Uuid,
    conversation_id: Uuid,
    user_id: Uuid,
    agent_id: Option<Uuid>,
    user_message: String,
    agent_response: Option<String>,
    /// An array of objects, returned as stored.
    #[schema(value_type = Option<Vec<Object>>)]
    attachments: Option<Value>,
    tokens_used: Option<i64>,
    /// A decimal string as stored, never in exponent notation (`"0.00012000"`).
    #[schema(value_type = Option<String>, example = "0.00012000")]
    cost: Option<Decimal>,
    #[serde(with = "timestamp")]
    created_at: DateTime<Utc>,
}

impl From<message::Model> for MessageResponse {
    fn from(message: message::Model) -> Self {
        Self {
            id: message.id,
            conversation_id: message.conversation_id,
            user_id: message.user_id,
            agent_id: message.agent_id,
            user_message: message.user_message,
            agent_response: message.agent_response,
            attachments: message.attachments,
            tokens_used: message.tokens_used,
            cost: message.cost,
            created_at: message.created_at,
        }
    }
}

/// `asc` (oldest first, the default) or `desc`.
#[derive(Debug, Default, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageOrder {
    #[default]
    Asc,
    Desc,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListMessagesQuery {
    /// `asc` (oldest first, default) or `desc` (newest first).
    #[param(inline)]
    order: Option<MessageOrder>,
    /// Page size, 1 to 100 (default 20).
    #[param(inline)]
    limit: Option<Limit>,
    #[param(inline)]
    cursor: Option<PageCursor>,
}

/// The conversation's messages, oldest first (viewer and up).
#[utoipa::path(get, path = "/conversations/{id}/messages", tag = "conversations",
    params(("id" = Uuid, Path), ListMessagesQuery), security(("bearer" = [])),
    responses(
        (status = 200, body = Page<MessageResponse>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
async fn list_messages(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ValidQuery(query): ValidQuery<ListMessagesQuery>,
) -> Result<Json<Page<MessageResponse>>> {
    let direction = match query.order.unwrap_or_default() {
        MessageOrder::Asc => Direction::OldestFirst,
        MessageOrder::Desc => Direction::NewestFirst,
    };
    let page = page_request(query.limit, query.cursor, direction);
    let messages = conversations::messages(&state.db, caller, id, &page).await?;
    Ok(Json(Page::new(messages, MessageResponse::from)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostMessageRequest {
    user_message: UserMessage,
    /// An active agent.
    agent_id: Option<Uuid>,
    attachments: Option<Attachments>,
}

/// Post the caller's message (editor and up).
#[utoipa::path(post, path = "/conversations/{id}/messages", tag = "conversations",
    params(("id" = Uuid, Path)), request_body = PostMessageRequest, security(("bearer" = [])),
    responses(
        (status = 201, body = MessageResponse),
        (status = 400, description = "Invalid body, or agent_id is not an active agent", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
async fn post_message(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ValidJson(body): ValidJson<PostMessageRequest>,
) -> Result<(StatusCode, Json<MessageResponse>)> {
    let new = NewMessage {
        user_message: body.user_message,
        agent_id: body.agent_id,
        attachments: body.attachments,
    };
    let message = conversations::post_message(&state.db, caller, id, new).await?;
    Ok((StatusCode::CREATED, Json(message.into())))
}
