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
use validator::{Validate, ValidationError};

use super::{nullable, timestamp};
use crate::auth::CurrentUser;
use crate::domain::access::{self, FORBIDDEN};
use crate::domain::users::{self, Email, NewUser, USER_NOT_FOUND, UserChanges};
use crate::error::{ApiError, ErrorBody, Result};
use crate::extract::{Id, ValidJson, ValidQuery};
use crate::pagination::{Page, PageRequest};
use crate::state::AppState;
use crate::validation::fail;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, put_user, patch_user, delete_user))
}

/// A user as every response shows him: never his password hash or OAuth id.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: Uuid,
    #[schema(example = "Admin User")]
    pub name: String,
    #[schema(example = "admin@chatai.com")]
    pub email: String,
    pub phone: Option<String>,
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
            auth_provider: user.auth_provider,
            role: user.role,
            avatar_url: user.avatar_url,
            is_active: user.is_active,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// `email`: an email address (stored trimmed and lower-cased).
pub fn valid_email(value: &str) -> Result<(), ValidationError> {
    Email::parse(value)
        .map(|_| ())
        .ok_or_else(|| fail("must be an email"))
}

/// `phone`: an optional `+` and 7 to 15 digits.
pub fn valid_phone(value: &str) -> Result<(), ValidationError> {
    let digits = value.strip_prefix('+').unwrap_or(value);
    if (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(fail(
            "must be a phone number: an optional + and 7 to 15 digits",
        ))
    }
}

/// A validated email: validation already accepted it.
pub fn email(raw: &str) -> Result<Email> {
    Email::parse(raw).ok_or_else(|| ApiError::invalid("email must be an email"))
}

#[derive(Debug, Default, Deserialize, Validate, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct ListUsersQuery {
    /// Matches name or email, case-insensitively.
    #[validate(length(max = 255))]
    search: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[validate(range(min = 1, max = 100))]
    limit: Option<u64>,
    /// `meta.next_cursor` of the previous page.
    cursor: Option<String>,
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
    access::require_admin(&caller)?;
    let page = PageRequest::newest_first(query.limit, query.cursor.as_deref())?;
    let users = users::list(&state.db, query.search.as_deref(), &page).await?;
    Ok(Json(users.map(UserResponse::from)))
}

#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(default)]
pub struct CreateUserRequest {
    #[validate(length(min = 1, max = 255))]
    #[schema(example = "Jane Doe")]
    name: String,
    #[validate(custom(function = valid_email))]
    #[schema(example = "jane@example.com")]
    email: String,
    /// 8 to 128 characters. Without one the account cannot log in until a password is set.
    #[validate(length(min = 8, max = 128))]
    password: Option<String>,
    #[validate(custom(function = valid_phone))]
    phone: Option<String>,
    role: Option<UserRole>,
    is_active: Option<bool>,
    #[validate(url, length(max = 500))]
    avatar_url: Option<String>,
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
    access::require_admin(&caller)?;
    let password = match body.password {
        Some(password) => Some(state.passwords.hash(password).await?),
        None => None,
    };
    let user = users::create(
        &state.db,
        NewUser {
            name: body.name,
            email: email(&body.email)?,
            phone: body.phone,
            password,
            role: body.role.unwrap_or(UserRole::User),
            is_active: body.is_active.unwrap_or(true),
            avatar_url: body.avatar_url,
        },
    )
    .await?;
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
    access::require_admin_or_self(&caller, id)?;
    let user = users::find(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound(USER_NOT_FOUND))?;
    Ok(Json(user.into()))
}

/// A partial change. `phone` and `avatar_url` may be `null` to clear them.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(default)]
pub struct UpdateUserRequest {
    #[validate(length(min = 1, max = 255))]
    name: Option<String>,
    /// Admins only.
    #[validate(custom(function = valid_email))]
    email: Option<String>,
    #[serde(deserialize_with = "nullable")]
    #[validate(custom(function = valid_phone))]
    #[schema(value_type = Option<String>)]
    phone: Option<Option<String>>,
    #[serde(deserialize_with = "nullable")]
    #[validate(url, length(max = 500))]
    #[schema(value_type = Option<String>)]
    avatar_url: Option<Option<String>>,
    /// The new password, 8 to 128 characters.
    #[validate(length(min = 8, max = 128))]
    password: Option<String>,
    /// Required to change one's own password.
    #[validate(length(max = 128))]
    current_password: Option<String>,
    /// Admins only.
    role: Option<UserRole>,
    /// Admins only.
    is_active: Option<bool>,
}

/// Change a user (admin: any field; the user himself: name, phone, avatar_url, password).
#[utoipa::path(put, path = "/users/{id}", tag = "users", params(("id" = Uuid, Path)),
    request_body = UpdateUserRequest, security(("bearer" = [])),
    responses(
        (status = 200, body = UserResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    ))]
async fn put_user(
    state: State<AppState>,
    caller: CurrentUser,
    id: Id,
    body: ValidJson<UpdateUserRequest>,
) -> Result<Json<UserResponse>> {
    update_user(state, caller, id, body).await
}

/// Change a user; the same as `PUT` (both take a partial body).
#[utoipa::path(patch, path = "/users/{id}", tag = "users", params(("id" = Uuid, Path)),
    request_body = UpdateUserRequest, security(("bearer" = [])),
    responses(
        (status = 200, body = UserResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    ))]
async fn patch_user(
    state: State<AppState>,
    caller: CurrentUser,
    id: Id,
    body: ValidJson<UpdateUserRequest>,
) -> Result<Json<UserResponse>> {
    update_user(state, caller, id, body).await
}

async fn update_user(
    State(state): State<AppState>,
    caller: CurrentUser,
    Id(id): Id,
    ValidJson(body): ValidJson<UpdateUserRequest>,
) -> Result<Json<UserResponse>> {
    access::require_admin_or_self(&caller, id)?;
    let is_self = caller.id() == id;
    let admin_fields = body.role.is_some() || body.is_active.is_some() || body.email.is_some();
    if !caller.is_admin() && admin_fields {
        return Err(ApiError::Forbidden(FORBIDDEN));
    }
    // Checked again inside the change, after the admins are locked.
    let admin = (!is_self || admin_fields).then(|| caller.id());
    let password = match body.password {
        None => None,
        Some(new_password) => {
            if is_self {
                let current = body
                    .current_password
                    .ok_or_else(|| ApiError::invalid("current_password should not be empty"))?;
                let stored = caller.0.password.clone();
                if !state.passwords.verify(current, stored).await? {
                    return Err(ApiError::Forbidden("current_password is wrong"));
                }
            }
            Some(state.passwords.hash(new_password).await?)
        }
    };
    let changes = UserChanges {
        name: body.name,
        email: body.email.as_deref().map(email).transpose()?,
        phone: body.phone,
        password,
        role: body.role,
        is_active: body.is_active,
        avatar_url: body.avatar_url,
    };
    let user = users::update(&state.db, admin, id, changes)
        .await?
        .ok_or(ApiError::NotFound(USER_NOT_FOUND))?;
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
    access::require_admin_or_self(&caller, id)?;
    let admin = (caller.id() != id).then(|| caller.id());
    if users::delete(&state.db, admin, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(USER_NOT_FOUND))
    }
}
