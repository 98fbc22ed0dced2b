//! `/auth`: register, log in, and who am I.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ErrorBody, Result};
use super::extract::{ClientAddress, ValidJson};
use super::users::UserResponse;
use crate::auth::Registering;
use crate::domain::CurrentUser;
use crate::domain::values::{Email, GivenPassword, Name, Password, Phone};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(me))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    name: Name,
    email: Email,
    password: Password,
    phone: Option<Phone>,
}

/// Create an account (role `user`, provider `email`).
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, body = UserResponse),
        (status = 400, body = ErrorBody),
        (status = 403, description = "Registration is closed (AUTH_REGISTRATION=closed)", body = ErrorBody),
        (status = 409, description = "The email or phone is taken", body = ErrorBody),
        (status = 429, description = "Too many registrations from this address; see Retry-After", body = ErrorBody),
    ))]
async fn register(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ValidJson(body): ValidJson<RegisterRequest>,
) -> Result<(StatusCode, Json<UserResponse>)> {
    let new = Registering {
        name: body.name,
        email: body.email,
        password: body.password,
        phone: body.phone,
    };
    let user = state.auth.register(&state.db, new, address).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "admin@chatai.com")]
    email: Email,
    #[schema(example = "Admin@123")]
    password: GivenPassword,
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
    let signed_in = state
        .auth
        .login(&state.db, &body.email, body.password, address)
        .await?;
    Ok(Json(LoginResponse {
        access_token: signed_in.access_token,
        token_type: "Bearer",
        expires_in: state.auth.tokens.lifetime().as_secs(),
        user: signed_in.user.into(),
    }))
}

/// The signed-in user.
#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserResponse), (status = 401, body = ErrorBody)))]
async fn me(caller: CurrentUser) -> Json<UserResponse> {
    Json(caller.0.into())
}
