//! `/auth`: register, log in, refresh, log out, and who am I. (The caller's sessions are
//! `http::sessions`.)

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody, Result};
use super::extract::{ClientAddress, SigningIn, ValidJson};
use super::users::UserResponse;
use crate::auth::{Login, Registering, SignedIn};
use crate::domain::values::{Credential, Email, GivenPassword, Name, Password, Phone};
use crate::domain::{CurrentUser, sessions};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(logout_all))
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

/// `{email, password}` or `{phone, password}`: exactly one of `email` and `phone`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    email: Option<Email>,
    phone: Option<Phone>,
    password: GivenPassword,
}

impl PartialSchema for LoginRequest {
    fn schema() -> RefOr<Schema> {
        let login = |field: &str, schema: RefOr<Schema>| {
            ObjectBuilder::new()
                .property(field, schema)
                .required(field)
                .property("password", GivenPassword::schema())
                .required("password")
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        };
        OneOfBuilder::new()
            .item(login("email", Email::schema()))
            .item(login("phone", Phone::schema()))
            .description(Some(
                "Exactly one of `email` and `phone` (a verified one), with the password.",
            ))
            .examples([json!({"email": "admin@chatai.com", "password": "Admin@123"})])
            .into()
    }
}

impl ToSchema for LoginRequest {}

/// A signed-in session: what every sign-in and every refresh answers.
// No `Debug`: it holds both tokens.
#[derive(Serialize, ToSchema)]
pub struct SessionBody {
    /// The access token (an HS256 JWT with `sub`, `sid`, `iat`, `exp`).
    access_token: String,
    #[schema(example = "Bearer")]
    token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    expires_in: u64,
    /// Opaque; spend it at `POST /auth/refresh` for a new session body. Shown once.
    refresh_token: String,
    /// Seconds until the refresh token expires.
    #[schema(example = 2_592_000)]
    refresh_expires_in: u64,
    user: UserResponse,
}

impl SessionBody {
    pub(super) fn new(state: &AppState, signed_in: SignedIn) -> Self {
        Self {
            access_token: signed_in.access_token,
            token_type: "Bearer",
            expires_in: state.auth.tokens.lifetime().as_secs(),
            refresh_token: signed_in.refresh_token.into_string(),
            refresh_expires_in: state.auth.sessions.refresh_lifetime().as_secs(),
            user: signed_in.user.into(),
        }
    }
}

/// Log in with an email or a verified phone and a password, starting a session. A wrong
/// password, an unknown account, an unverified phone and an inactive account get the same 401
/// (`Invalid email or password`, or `Invalid phone or password`) and take the same time.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, body = SessionBody),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 429, description = "Too many failed logins; see Retry-After", body = ErrorBody),
    ))]
async fn login(
    State(state): State<AppState>,
    SigningIn(client): SigningIn,
    ValidJson(body): ValidJson<LoginRequest>,
) -> Result<Json<SessionBody>> {
    let login = match (body.email, body.phone) {
        (Some(email), None) => Login::Email(email),
        (None, Some(phone)) => Login::Phone(phone),
        // The validation lets exactly one through; this answers for it all the same.
        _ => return Err(ApiError::invalid("email or phone must be given, not both")),
    };
    let signed_in = state
        .auth
        .login(&state.db, &login, body.password, &client)
        .await?;
    Ok(Json(SessionBody::new(&state, signed_in)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: Credential,
}

/// Spend a refresh token for a new session body (the token is rotated: the one sent is spent).
/// Sending a spent one again ends its session, unless it is the one spent last and comes within
/// `REFRESH_REUSE_GRACE_SECONDS` of that refresh (two tabs refreshing at once).
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, body = SessionBody),
        (status = 400, body = ErrorBody),
        (status = 401, description = "Unknown, malformed, expired, spent or ended", body = ErrorBody),
    ))]
async fn refresh(
    State(state): State<AppState>,
    ValidJson(body): ValidJson<RefreshRequest>,
) -> Result<Json<SessionBody>> {
    let signed_in = state
        .auth
        .refresh(&state.db, body.refresh_token.as_str())
        .await?;
    Ok(Json(SessionBody::new(&state, signed_in)))
}

/// End the caller's session: its access and refresh tokens stop working at once.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "The session ended"), (status = 401, body = ErrorBody)))]
async fn logout(State(state): State<AppState>, caller: CurrentUser) -> Result<StatusCode> {
    sessions::end_one(&state.db, &caller, caller.session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End every session of the caller, this one included.
#[utoipa::path(post, path = "/auth/logout-all", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Every session ended"), (status = 401, body = ErrorBody)))]
async fn logout_all(State(state): State<AppState>, caller: CurrentUser) -> Result<StatusCode> {
    sessions::end_all(&state.db, caller.id(), None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserResponse), (status = 401, body = ErrorBody)))]
async fn me(caller: CurrentUser) -> Json<UserResponse> {
    Json(caller.user.into())
}
