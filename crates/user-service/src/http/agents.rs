//! `/agents`: the AI agents a message can address. The API key never leaves the service.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::entities::{AgentType, agent};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::error::{ErrorBody, Result};
use super::extract::ValidQuery;
use super::pagination::{Page, PageCursor, page_request};
use super::timestamp;
use crate::domain::CurrentUser;
use crate::domain::agents;
use crate::domain::paging::Direction;
use crate::domain::values::Limit;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_agents))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentResponse {
    id: Uuid,
    name: String,
    description: Option<String>,
    r#type: AgentType,
    api_endpoint: Option<String>,
    model_source: Option<String>,
    #[schema(value_type = Option<Object>)]
    config: Option<Value>,
    version: Option<String>,
    active: bool,
    #[serde(with = "timestamp")]
    created_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    updated_at: DateTime<Utc>,
}

impl From<agent::Model> for AgentResponse {
    fn from(agent: agent::Model) -> Self {
        Self {
            id: agent.id,
            name: agent.name,
            description: agent.description,
            r#type: agent.r#type,
            api_endpoint: agent.api_endpoint,
            model_source: agent.model_source,
            config: agent.config,
            version: agent.version,
            active: agent.active,
            created_at: agent.created_at,
            updated_at: agent.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListAgentsQuery {
    /// Admins only: inactive agents too.
    include_inactive: Option<bool>,
    /// Page size, 1 to 100 (default 20).
    #[param(inline)]
    limit: Option<Limit>,
    #[param(inline)]
    cursor: Option<PageCursor>,
}

/// Active agents, newest first (admins: `?include_inactive=true` for all).
#[utoipa::path(get, path = "/agents", tag = "agents", params(ListAgentsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Page<AgentResponse>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ))]
async fn list_agents(
    State(state): State<AppState>,
    caller: CurrentUser,
    ValidQuery(query): ValidQuery<ListAgentsQuery>,
) -> Result<Json<Page<AgentResponse>>> {
    let page = page_request(query.limit, query.cursor, Direction::NewestFirst);
    let include_inactive = query.include_inactive.unwrap_or(false);
    let agents = agents::list(&state.db, &caller, include_inactive, &page).await?;
    Ok(Json(Page::new(agents, AgentResponse::from)))
}
