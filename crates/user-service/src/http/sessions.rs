//! `/auth/sessions`: the caller's live sessions, and ending one of them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::entities::session;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::error::{ErrorBody, Result};
use super::extract::{Id, ValidQuery};
use super::pagination::{Page, PageCursor, page_request};
use super::timestamp;
use crate::domain::paging::Direction;
use crate::domain::values::Limit;
use crate::domain::{CurrentUser, sessions};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sessions))
        .routes(routes!(end_session))
}

/// One live session: a sign-in and all its refreshes.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    /// The session's id (the access token's `sid`).
    id: Uuid,
    /// When the sign-in happened.
    #[serde(with = "timestamp")]
    created_at: DateTime<Utc>,
    /// The last refresh; `null` before the first.
    #[serde(with = "timestamp::optional")]
    #[schema(value_type = Option<String>, format = DateTime)]
    last_used_at: Option<DateTime<Utc>>,
    /// When its current refresh token expires.
    #[serde(with = "timestamp")]
    expires_at: DateTime<Utc>,
    /// The `User-Agent` of the sign-in.
    user_agent: Option<String>,
    /// The client's address at sign-in, as the login throttle saw it.
    ip_address: Option<String>,
    /// Whether this is the session of the token that asked.
    current: bool,
}

impl SessionResponse {
    fn new(row: session::Model, caller: &CurrentUser) -> Self {
        Self {
            id: row.family,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            expires_at: row.expires_at,
            user_agent: row.user_agent,
            ip_address: row.ip_address,
            current: row.family == caller.session,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListSessionsQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(inline)]
    limit: Option<Limit>,
    #[param(inline)]
    cursor: Option<PageCursor>,
}

/// The caller's live sessions, newest first.
#[utoipa::path(get, path = "/auth/sessions", tag = "auth", params(ListSessionsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Page<SessionResponse>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    ))]
async fn list_sessions(
    State(state): State<AppState>,
    caller: CurrentUser,
    ValidQuery(query): ValidQuery<ListSessionsQuery>,
) -> Result<Json<Page<SessionResponse>>> {
    let page = page_request(query.limit, query.cursor, Direction::NewestFirst);
    let sessions = sessions::list(&state.db, &caller, page).await?;
    Ok(Json(Page::new(sessions, |row| {
        SessionResponse::new(row, &caller)
    })))
}

/// End one of the caller's sessions: its tokens stop working at once (another user's session
/// answers 404, like one that does not exist).
#[utoipa::path(delete, path = "/auth/sessions/{id}", tag = "auth",
    params(("id" = Uuid, Path, description = "The session's id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The session ended"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "No such session of the caller's", body = ErrorBody),
    ))]
async fn end_session(
    State(state): State<AppState>,
    caller: CurrentUser,
    Id(id): Id,
) -> Result<StatusCode> {
    sessions::end_one(&state.db, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
