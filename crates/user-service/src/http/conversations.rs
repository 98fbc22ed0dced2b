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
use validator::{Validate, ValidationError};

use super::{nullable, timestamp};
use crate::auth::Caller;
use crate::domain::access::{self, Need};
use crate::domain::conversations::{self, NewConversation, NewMessage};
use crate::error::{ApiError, ErrorBody, Result};
use crate::extract::{Id, ValidJson, ValidQuery};
use crate::pagination::{Direction, Page, PageRequest};
use crate::state::AppState;
use crate::validation::fail;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_conversations, create_conversation))
        .routes(routes!(
            get_conversation,
            put_conversation,
            patch_conversation,
            delete_conversation
        ))
        .routes(routes!(list_messages, post_message))
}

/// How deep `metadata` and `attachments` may nest.
pub const MAX_JSON_DEPTH: usize = 32;

fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn valid_metadata(value: &Value) -> Result<(), ValidationError> {
    if !value.is_object() {
        return Err(fail("must be a JSON object"));
    }
    if depth(value) > MAX_JSON_DEPTH {
        return Err(fail("must not nest deeper than 32 levels"));
    }
    Ok(())
}

fn valid_attachments(value: &Value) -> Result<(), ValidationError> {
    let Some(items) = value.as_array() else {
        return Err(fail("must be an array of objects"));
    };
    if !items.iter().all(Value::is_object) {
        return Err(fail("must be an array of objects"));
    }
    if depth(value) > MAX_JSON_DEPTH {
        return Err(fail("must not nest deeper than 32 levels"));
    }
    Ok(())
}

fn valid_thread_id(value: &str) -> Result<(), ValidationError> {
    let valid = (1..=100).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(fail(
            "must be 1 to 100 characters of A-Z, a-z, 0-9, _ and -",
        ))
    }
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

#[derive(Debug, Default, Deserialize, Validate, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct ListConversationsQuery {
    /// Only this project's conversations (404 if the caller cannot see it).
    project_id: Option<Uuid>,
    /// Page size, 1 to 100 (default 20).
    #[validate(range(min = 1, max = 100))]
    limit: Option<u64>,
    /// `meta.next_cursor` of the previous page.
    cursor: Option<String>,
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
    let page = PageRequest::newest_first(query.limit, query.cursor.as_deref())?;
    if let Some(project_id) = query.project_id {
        access::project(&state.db, caller, project_id, Need::Read).await?;
    }
    let conversations = conversations::list(&state.db, caller, query.project_id, &page).await?;
    Ok(Json(conversations.map(ConversationResponse::from)))
}

#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(default)]
pub struct CreateConversationRequest {
    #[validate(required)]
    project_id: Option<Uuid>,
    #[validate(length(min = 1, max = 255))]
    #[schema(example = "Refund questions")]
    title: String,
    #[validate(custom(function = valid_metadata))]
    #[schema(value_type = Option<Object>)]
    metadata: Option<Value>,
    /// 1 to 100 of `[A-Za-z0-9_-]`; generated when absent.
    #[validate(custom(function = valid_thread_id))]
    thread_id: Option<String>,
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
    let project_id = body
        .project_id
        .ok_or_else(|| ApiError::invalid("project_id should not be empty"))?;
    access::project(&state.db, caller, project_id, Need::Write).await?;
    let conversation = conversations::create(
        &state.db,
        NewConversation {
            project_id,
            title: body.title,
            metadata: body.metadata,
            thread_id: body.thread_id,
        },
    )
    .await?;
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
    let (_, conversation) = access::conversation(&state.db, caller, id, Need::Read).await?;
    Ok(Json(conversation.into()))
}

/// A partial change; `metadata` may be `null` to clear it.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(default)]
pub struct UpdateConversationRequest {
    #[validate(length(min = 1, max = 255))]
    title: Option<String>,
    #[serde(deserialize_with = "nullable")]
    #[validate(custom(function = valid_metadata))]
    #[schema(value_type = Option<Object>)]
    metadata: Option<Option<Value>>,
}

/// Change a conversation (editor and up).
#[utoipa::path(put, path = "/conversations/{id}", tag = "conversations",
    params(("id" = Uuid, Path)), request_body = UpdateConversationRequest, security(("bearer" = [])),
    responses(
        (status = 200, body = ConversationResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
async fn put_conversation(
    state: State<AppState>,
    caller: Caller,
    id: Id,
    body: ValidJson<UpdateConversationRequest>,
) -> Result<Json<ConversationResponse>> {
    update_conversation(state, caller, id, body).await
}

/// Change a conversation (editor and up); the same as `PUT`.
#[utoipa::path(patch, path = "/conversations/{id}", tag = "conversations",
    params(("id" = Uuid, Path)), request_body = UpdateConversationRequest, security(("bearer" = [])),
    responses(
        (status = 200, body = ConversationResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
async fn patch_conversation(
    state: State<AppState>,
    caller: Caller,
    id: Id,
    body: ValidJson<UpdateConversationRequest>,
) -> Result<Json<ConversationResponse>> {
    update_conversation(state, caller, id, body).await
}

async fn update_conversation(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ValidJson(body): ValidJson<UpdateConversationRequest>,
) -> Result<Json<ConversationResponse>> {
    let (_, conversation) = access::conversation(&state.db, caller, id, Need::Write).await?;
    let conversation =
        conversations::update(&state.db, conversation, body.title, body.metadata).await?;
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
    let (_, conversation) = access::conversation(&state.db, caller, id, Need::Write).await?;
    conversations::soft_delete(&state.db, conversation).await?;
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

#[derive(Debug, Default, Deserialize, Validate, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct ListMessagesQuery {
    /// `asc` (oldest first, default) or `desc` (newest first).
    order: Option<MessageOrder>,
    /// Page size, 1 to 100 (default 20).
    #[validate(range(min = 1, max = 100))]
    limit: Option<u64>,
    /// `meta.next_cursor` of the previous page (of the same order).
    cursor: Option<String>,
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
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), direction)?;
    access::conversation(&state.db, caller, id, Need::Read).await?;
    let messages = conversations::messages(&state.db, id, &page).await?;
    Ok(Json(messages.map(MessageResponse::from)))
}

#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(default)]
pub struct PostMessageRequest {
    #[validate(length(min = 1, max = 100000))]
    #[schema(example = "How do I get a refund?")]
    user_message: String,
    /// An active agent.
    agent_id: Option<Uuid>,
    #[validate(custom(function = valid_attachments))]
    #[schema(value_type = Option<Vec<Object>>)]
    attachments: Option<Value>,
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
    let (caller, _) = access::conversation(&state.db, caller, id, Need::Write).await?;
    let message = conversations::post_message(
        &state.db,
        id,
        caller.id(),
        NewMessage {
            user_message: body.user_message,
            agent_id: body.agent_id,
            attachments: body.attachments,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(message.into())))
}
