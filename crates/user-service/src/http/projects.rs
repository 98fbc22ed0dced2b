//! `/projects` and `/projects/{id}/members`: projects with roles. Who may do what is decided by
//! `domain::access`; a project the caller may not see answers 404 like a missing one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::entities::{ProjectRole, project};
use utoipa::openapi::schema::{
    AdditionalProperties, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::error::{ApiError, ErrorBody, Result};
use super::extract::{Id, Ids, ValidJson, ValidQuery};
use super::pagination::{Page, PageCursor, page_request};
use super::{nullable, timestamp};
use crate::domain::paging::Direction;
use crate::domain::projects::{self, Member, NewMember};
use crate::domain::values::{Description, Email, Limit, Name};
use crate::domain::{Caller, CurrentUser};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_projects, create_project))
        .routes(routes!(get_project, update_project, delete_project))
        .routes(routes!(list_members, add_member))
        .routes(routes!(change_member, remove_member))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectResponse {
    id: Uuid,
    name: String,
    description: Option<String>,
    owner_id: Uuid,
    #[serde(with = "timestamp")]
    created_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    updated_at: DateTime<Utc>,
    /// The caller's role; `null` for an admin who is not a member.
    role: Option<ProjectRole>,
}

impl ProjectResponse {
    fn new(project: project::Model, role: Option<ProjectRole>) -> Self {
        Self {
            id: project.id,
            name: project.name,
            description: project.description,
            owner_id: project.owner_id,
            created_at: project.created_at,
            updated_at: project.updated_at,
            role,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListProjectsQuery {
    /// Admins only: every project, not just the caller's.
    all: Option<bool>,
    /// Page size, 1 to 100 (default 20).
    #[param(inline)]
    limit: Option<Limit>,
    #[param(inline)]
    cursor: Option<PageCursor>,
}

/// The caller's projects, newest first (admins: `?all=true` for every project).
#[utoipa::path(get, path = "/projects", tag = "projects", params(ListProjectsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Page<ProjectResponse>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ))]
async fn list_projects(
    State(state): State<AppState>,
    caller: Caller,
    ValidQuery(query): ValidQuery<ListProjectsQuery>,
) -> Result<Json<Page<ProjectResponse>>> {
    let page = page_request(query.limit, query.cursor, Direction::NewestFirst);
    let all = query.all.unwrap_or(false);
    let projects = projects::list(&state.db, caller, all, &page).await?;
    Ok(Json(Page::new(projects, |(project, role)| {
        ProjectResponse::new(project, role)
    })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProjectRequest {
    #[schema(example = "Support bot")]
    name: Name,
    description: Option<Description>,
}

/// Create a project; the caller becomes its owner.
#[utoipa::path(post, path = "/projects", tag = "projects", request_body = CreateProjectRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = ProjectResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    ))]
async fn create_project(
    State(state): State<AppState>,
    caller: CurrentUser,
    ValidJson(body): ValidJson<CreateProjectRequest>,
) -> Result<(StatusCode, Json<ProjectResponse>)> {
    let project = projects::create(&state.db, caller.id(), body.name, body.description).await?;
    Ok((
        StatusCode::CREATED,
        Json(ProjectResponse::new(project, Some(ProjectRole::Owner))),
    ))
}

/// Read a project (viewer and up).
#[utoipa::path(get, path = "/projects/{id}", tag = "projects", params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = ProjectResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
async fn get_project(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<ProjectResponse>> {
    let (project, access) = projects::get(&state.db, caller, id).await?;
    Ok(Json(ProjectResponse::new(project, access.role)))
}

/// A partial change; `description` may be `null` to clear it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProjectRequest {
    name: Option<Name>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Description>)]
    description: Option<Option<Description>>,
}

/// Change a project (editor and up).
///
/// `PUT` and `PATCH` are the same: both take a partial body.
#[utoipa::path(method(put, patch), path = "/projects/{id}", tag = "projects", params(("id" = Uuid, Path)),
    request_body = UpdateProjectRequest, security(("bearer" = [])),
    responses(
        (status = 200, body = ProjectResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
async fn update_project(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ValidJson(body): ValidJson<UpdateProjectRequest>,
) -> Result<Json<ProjectResponse>> {
    let (project, access) =
        projects::update(&state.db, caller, id, body.name, body.description).await?;
    Ok(Json(ProjectResponse::new(project, access.role)))
}

/// Delete a project (owner): a soft delete, after which it and everything under it answer 404.
#[utoipa::path(delete, path = "/projects/{id}", tag = "projects", params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
async fn delete_project(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<StatusCode> {
    projects::soft_delete(&state.db, caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberUser {
    id: Uuid,
    name: String,
    email: Option<String>,
    avatar_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberResponse {
    user: MemberUser,
    role: ProjectRole,
    #[serde(with = "timestamp")]
    created_at: DateTime<Utc>,
}

impl From<Member> for MemberResponse {
    fn from((member, user): Member) -> Self {
        Self {
            user: MemberUser {
                id: user.id,
                name: user.name,
                email: user.email,
                avatar_url: user.avatar_url,
            },
            role: member.role,
            created_at: member.created_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListMembersQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(inline)]
    limit: Option<Limit>,
    #[param(inline)]
    cursor: Option<PageCursor>,
}

/// The project's members, newest first (viewer and up).
#[utoipa::path(get, path = "/projects/{id}/members", tag = "projects",
    params(("id" = Uuid, Path), ListMembersQuery), security(("bearer" = [])),
    responses(
        (status = 200, body = Page<MemberResponse>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ValidQuery(query): ValidQuery<ListMembersQuery>,
) -> Result<Json<Page<MemberResponse>>> {
    let page = page_request(query.limit, query.cursor, Direction::NewestFirst);
    let members = projects::members(&state.db, caller, id, &page).await?;
    Ok(Json(Page::new(members, MemberResponse::from)))
}

/// Who to add: `user_id` or `email`, exactly one of them; `role` defaults to `viewer`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    #[serde(default, deserialize_with = "nullable")]
    user_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "nullable")]
    email: Option<Option<Email>>,
    role: Option<ProjectRole>,
}

/// Two shapes, as the document must say for "exactly one of `user_id` and `email`".
impl PartialSchema for AddMemberRequest {
    fn schema() -> RefOr<Schema> {
        let role = || {
            OneOfBuilder::new()
                .item(Ref::from_schema_name("ProjectRole"))
                .item(ObjectBuilder::new().schema_type(Type::Null))
        };
        let shape = |key: &str, value: RefOr<Schema>| {
            ObjectBuilder::new()
                .property(key, value)
                .required(key)
                .property("role", role())
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        };
        let user_id = ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)));
        OneOfBuilder::new()
            .item(shape("user_id", user_id.into()))
            .item(shape("email", Ref::from_schema_name("Email").into()))
            .description(Some(
                "Who to add: `user_id` or `email`, exactly one of them; `role` defaults to `viewer`.",
            ))
            .into()
    }
}

impl ToSchema for AddMemberRequest {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push(("Email".to_owned(), Email::schema()));
        schemas.push(("ProjectRole".to_owned(), ProjectRole::schema()));
    }
}

/// Add a member (owner).
#[utoipa::path(post, path = "/projects/{id}/members", tag = "projects",
    params(("id" = Uuid, Path)), request_body = AddMemberRequest, security(("bearer" = [])),
    responses(
        (status = 201, body = MemberResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No such project (or hidden), or no such user", body = ErrorBody),
        (status = 409, description = "Already a member", body = ErrorBody),
    ))]
async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ValidJson(body): ValidJson<AddMemberRequest>,
) -> Result<(StatusCode, Json<MemberResponse>)> {
    let who = match (body.user_id, body.email) {
        (Some(Some(user_id)), None) => NewMember::Id(user_id),
        (None, Some(Some(email))) => NewMember::Email(email),
        _ => {
            return Err(ApiError::invalid(
                "user_id or email must be given, not both",
            ));
        }
    };
    let role = body.role.unwrap_or(ProjectRole::Viewer);
    let member = projects::add_member(&state.db, caller, id, who, role).await?;
    Ok((StatusCode::CREATED, Json(member.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeMemberRequest {
    role: ProjectRole,
}

/// Change a member's role (owner). The last owner cannot be demoted.
#[utoipa::path(patch, path = "/projects/{id}/members/{user_id}", tag = "projects",
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)), request_body = ChangeMemberRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = MemberResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    ))]
async fn change_member(
    State(state): State<AppState>,
    caller: Caller,
    ids: Ids<2>,
    ValidJson(body): ValidJson<ChangeMemberRequest>,
) -> Result<Json<MemberResponse>> {
    let Ids([id, user_id]) = ids;
    let member = projects::change_role(&state.db, caller, id, user_id, body.role).await?;
    Ok(Json(member.into()))
}

/// Remove a member (owner), or leave the project (the member himself). The last owner cannot
/// be removed.
#[utoipa::path(delete, path = "/projects/{id}/members/{user_id}", tag = "projects",
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)), security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    ))]
async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    ids: Ids<2>,
) -> Result<StatusCode> {
    let Ids([id, user_id]) = ids;
    projects::remove_member(&state.db, caller, id, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
