//! `/users`: admins manage every account; a user reads, changes and deletes his own.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::entities::{AuthProvider, UserRole, user};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::error::{ErrorBody, Result};
use super::extract::{Id, ValidJson, ValidQuery};
use super::pagination::{Page, PageCursor, page_request};
use super::{nullable, timestamp};
use crate::domain::CurrentUser;
use crate::domain::paging::Direction;
use crate::domain::users::{self, ChangeRequest, NewAccount};
use crate::domain::values::{
    AvatarUrl, Email, GivenPassword, Limit, Name, Password, Phone, SearchText,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user, delete_user))
}

/// A user as every response shows him: never his password hash or OAuth id.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: Uuid,
    #[schema(example = "Admin User")]
    pub name: String,
    /// `null` for an account made by phone or by a provider that gave no verified email.
    #[schema(example = "admin@chatai.com")]
    pub email: Option<String>,
    /// E.164 (numbers stored before E.164 was required, and never changed since, may be in the
    /// form they were given).
    #[schema(example = "+84901234567")]
    pub phone: Option<String>,
    /// When a one-time code proved `phone`; `null`: not proven, so it cannot sign in.
    #[serde(with = "timestamp::optional")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub phone_verified_at: Option<DateTime<Utc>>,
    pub auth_provider: AuthProvider,
    pub role: UserRole,
    pub avatar_url: Option<String>,
    pub is_active: bool,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

impl From<user::Model> for UserResponse {
    fn from(user: user::Model) -> Self {
        Self {
            id: user.id,
            name: user.name,
            email: user.email,
            phone: user.phone,
            phone_verified_at: user.phone_verified_at,
            auth_provider: user.auth_provider,
            role: user.role,
            avatar_url: user.avatar_url,
            is_active: user.is_active,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListUsersQuery {
    /// Matches name or email, case-insensitively.
    #[param(inline)]
    search: Option<SearchText>,
    /// Page size, 1 to 100 (default 20).
    #[param(inline)]
    limit: Option<Limit>,
    #[param(inline)]
    cursor: Option<PageCursor>,
}

/// List users (admin).
#[utoipa::path(get, path = "/users", tag = "users", params(ListUsersQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Page<UserResponse>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ))]
async fn list_users(
    State(state): State<AppState>,
    caller: CurrentUser,
    ValidQuery(query): ValidQuery<ListUsersQuery>,
) -> Result<Json<Page<UserResponse>>> {
    let page = page_request(query.limit, query.cursor, Direction::NewestFirst);
    let users = users::list(&state.db, &caller, query.search.as_ref(), &page).await?;
    Ok(Json(Page::new(users, UserResponse::from)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    name: Name,
    email: Email,
    /// Without one the account cannot log in until a password is set.
    password: Option<Password>,
    phone: Option<Phone>,
    role: Option<UserRole>,
    is_active: Option<bool>,
    avatar_url: Option<AvatarUrl>,
}

/// Create a user (admin).
#[utoipa::path(post, path = "/users", tag = "users", request_body = CreateUserRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = UserResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
    ))]
async fn create_user(
    State(state): State<AppState>,
    caller: CurrentUser,
    ValidJson(body): ValidJson<CreateUserRequest>,
) -> Result<(StatusCode, Json<UserResponse>)> {
    let new = NewAccount {
        name: body.name,
        email: body.email,
        phone: body.phone,
        password: body.password,
        role: body.role,
        is_active: body.is_active,
        avatar_url: body.avatar_url,
    };
    let passwords = &state.auth.passwords;
    let user = users::create_account(&state.db, passwords, state.avatars, &caller, new).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Read a user (admin, or the user himself).
#[utoipa::path(get, path = "/users/{id}", tag = "users", params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = UserResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
async fn get_user(
    State(state): State<AppState>,
    caller: CurrentUser,
    Id(id): Id,
) -> Result<Json<UserResponse>> {
    Ok(Json(users::get(&state.db, &caller, id).await?.into()))
}

/// A partial change. `phone` and `avatar_url` may be `null` to clear them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    name: Option<Name>,
    /// Admins only (naming it, even as `null`, needs admin rights; it cannot be cleared).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Email, required = false)]
    email: Option<Option<Email>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Phone>)]
    phone: Option<Option<Phone>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<AvatarUrl>)]
    avatar_url: Option<Option<AvatarUrl>>,
    /// The new password.
    password: Option<Password>,
    /// Required to change one's own password, unless the account has none yet (phone accounts
    /// set their first one without it).
    current_password: Option<GivenPassword>,
    /// Admins only (naming it, even as `null`, needs admin rights; it cannot be cleared).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = UserRole, required = false)]
    role: Option<Option<UserRole>>,
    /// Admins only (naming it, even as `null`, needs admin rights; it cannot be cleared).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = bool, required = false)]
    is_active: Option<Option<bool>>,
}

/// Change a user (admin: any field; the user himself: name, phone, avatar_url, password).
///
/// A new `phone` is unverified (`phone_verified_at` is `null`) until a code proves it; a phone
/// account's only number cannot be changed or cleared here (409).
///
/// `PUT` and `PATCH` are the same: both take a partial body.
#[utoipa::path(method(put, patch), path = "/users/{id}", tag = "users", params(("id" = Uuid, Path)),
    request_body = UpdateUserRequest, security(("bearer" = [])),
    responses(
        (status = 200, body = UserResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    ))]
async fn update_user(
    State(state): State<AppState>,
    caller: CurrentUser,
    Id(id): Id,
    ValidJson(body): ValidJson<UpdateUserRequest>,
) -> Result<Json<UserResponse>> {
    let change = ChangeRequest {
        name: body.name,
        email: body.email,
        phone: body.phone,
        avatar_url: body.avatar_url,
        password: body.password,
        current_password: body.current_password,
        role: body.role,
        is_active: body.is_active,
    };
    let passwords = &state.auth.passwords;
    let user = users::change(&state.db, passwords, state.avatars, &caller, id, change).await?;
    Ok(Json(user.into()))
}

/// Delete a user (admin, or the user himself). The database cascades his projects (with their
/// members and conversations), memberships, messages and notifications.
#[utoipa::path(delete, path = "/users/{id}", tag = "users", params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    ))]
async fn delete_user(
    State(state): State<AppState>,
    caller: CurrentUser,
    Id(id): Id,
) -> Result<StatusCode> {
    users::remove(&state.db, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
