//! `/auth`: register, log in, and who am I.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared::entities::{UserRole, user};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use validator::Validate;

use super::users::{UserResponse, email, valid_email, valid_phone};
use crate::auth::CurrentUser;
use crate::config::Registration;
use crate::domain::users::{self, Email, NewUser};
use crate::error::{ApiError, ErrorBody, Result};
use crate::extract::{ClientAddress, ValidJson};
use crate::state::AppState;
use crate::throttle::Verdict;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(me))
}

/// The one answer to a failed login, whatever failed.
pub const INVALID_CREDENTIALS: &str = "Invalid email or password";

#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(default)]
pub struct RegisterRequest {
    #[validate(length(min = 1, max = 255))]
    #[schema(example = "Jane Doe")]
    name: String,
    #[validate(custom(function = valid_email))]
    #[schema(example = "jane@example.com")]
    email: String,
    /// 8 to 128 characters, no composition rules.
    #[validate(length(min = 8, max = 128))]
    #[schema(example = "correct horse battery")]
    password: String,
    /// An optional `+` and 7 to 15 digits.
    #[validate(custom(function = valid_phone))]
    phone: Option<String>,
}

/// Create an account (role `user`, provider `email`).
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, body = UserResponse),
        (status = 400, body = ErrorBody),
        (status = 403, description = "Registration is closed (AUTH_REGISTRATION=closed)", body = ErrorBody),
        (status = 409, description = "The email or phone is taken", body = ErrorBody),
    ))]
async fn register(
    State(state): State<AppState>,
    ValidJson(body): ValidJson<RegisterRequest>,
) -> Result<(StatusCode, Json<UserResponse>)> {
    if state.registration == Registration::Closed {
        return Err(ApiError::Forbidden("Registration is closed"));
    }
    let email = email(&body.email)?;
    let password = state.passwords.hash(body.password).await?;
    let user = users::create(
        &state.db,
        NewUser {
            name: body.name,
            email,
            phone: body.phone,
            password: Some(password),
            role: UserRole::User,
            is_active: true,
            avatar_url: None,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(default)]
pub struct LoginRequest {
    #[validate(custom(function = valid_email))]
    #[schema(example = "admin@chatai.com")]
    email: String,
    #[validate(length(min = 1, max = 128))]
    #[schema(example = "Admin@123")]
    password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    access_token: String,
    #[schema(example = "Bearer")]
    token_type: &'static str,
    /// Seconds until the token expires.
    #[schema(example = 3600)]
    expires_in: u64,
    user: UserResponse,
}

/// Log in with email and password. A wrong password, an unknown email and an inactive account
/// get the same 401 and take the same time.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 429, description = "Too many failed logins; see Retry-After", body = ErrorBody),
    ))]
async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ValidJson(body): ValidJson<LoginRequest>,
) -> Result<Json<LoginResponse>> {
    let email = email(&body.email)?;
    let reservation = match state.throttle.reserve(email.as_str(), address).await {
        Verdict::Allowed(reservation) => reservation,
        Verdict::Blocked { retry_after_secs } => {
            return Err(ApiError::TooManyRequests { retry_after_secs });
        }
    };
    let user = match authenticate(&state, &email, body.password).await {
        Err(ApiError::Unauthorized(message)) => return Err(ApiError::Unauthorized(message)),
        outcome => {
            // Only a failed login keeps its place in the throttle's window.
            state.throttle.refund(reservation).await;
            outcome?
        }
    };
    let access_token = state.tokens.issue(user.id)?;
    Ok(Json(LoginResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.tokens.lifetime().as_secs(),
        user: user.into(),
    }))
}

/// The active user with this email and password, or 401 (the same for every reason).
async fn authenticate(state: &AppState, email: &Email, password: String) -> Result<user::Model> {
    let user = users::find_by_email(&state.db, email).await?;
    let stored = user.as_ref().and_then(|user| user.password.clone());
    let published = state
        .published
        .iter()
        .any(|(account, known)| account == email.as_str() && *known == password);
    let matched = state.passwords.verify(password, stored).await?;
    user.filter(|user| matched && user.is_active && !published)
        .ok_or(ApiError::Unauthorized(INVALID_CREDENTIALS))
}

/// The signed-in user.
#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserResponse), (status = 401, body = ErrorBody)))]
async fn me(caller: CurrentUser) -> Json<UserResponse> {
    Json(caller.0.into())
}
