//! `/auth/oauth` and `/auth/identities`: sign-in with Google, Facebook and TikTok, and the
//! identities linked to an account (AUTH.md, "Google, Facebook, TikTok").

use axum::Json;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::entities::user_identity;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::SessionBody;
use super::error::{ApiError, ErrorBody, Result};
use super::extract::{SigningIn, ValidJson, ValidQuery};
use super::pagination::{Page, PageCursor, page_request};
use super::timestamp;
use crate::auth::oauth::{Callback, OAuthSignIn, PROVIDER_NOT_FOUND};
use crate::domain::identities::{self, Provider};
use crate::domain::paging::Direction;
use crate::domain::values::{Credential, Limit, RedirectUri};
use crate::domain::{CurrentUser, Error};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start))
        .routes(routes!(callback))
        .routes(routes!(exchange))
        .routes(routes!(google_token))
        .routes(routes!(facebook_token))
        .routes(routes!(list_identities))
        .routes(routes!(link_identity, unlink_identity))
}

/// The `:provider` path parameter: `google`, `facebook` or `tiktok` (anything else is 404,
/// like a provider this deployment has no credentials for).
pub struct ProviderName(Provider);

impl<S: Send + Sync> FromRequestParts<S> for ProviderName {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(name) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| Error::NotFound(PROVIDER_NOT_FOUND))?;
        Provider::parse(&name)
            .map(Self)
            .ok_or_else(|| Error::NotFound(PROVIDER_NOT_FOUND).into())
    }
}

/// A 302 to `location`.
fn found(location: &url::Url) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.as_str())]).into_response()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StartQuery {
    /// The app page to return to: exactly one of `OAUTH_REDIRECT_URIS`.
    #[param(inline)]
    redirect_uri: RedirectUri,
}

/// Start a web sign-in: 302 to the provider's authorization page (authorization code with
/// PKCE S256 and a one-use `state`; Google also a `nonce`). The provider sends the browser back
/// to `/auth/oauth/{provider}/callback`.
#[utoipa::path(get, path = "/auth/oauth/{provider}/start", tag = "oauth",
    params(("provider" = Provider, Path), StartQuery),
    responses(
        (status = 302, description = "To the provider's authorization page",
            headers(("Location" = String, description = "The provider's authorization URL"))),
        (status = 400, description = "redirect_uri is missing or not allowed", body = ErrorBody),
        (status = 404, description = "Unknown or unconfigured provider", body = ErrorBody),
        (status = 429, description = "Too many sign-ins from this address; see Retry-After", body = ErrorBody),
        (status = 503, description = "Redis, where flows are kept, is unavailable", body = ErrorBody),
    ))]
async fn start(
    State(state): State<AppState>,
    ProviderName(provider): ProviderName,
    SigningIn(client): SigningIn,
    ValidQuery(query): ValidQuery<StartQuery>,
) -> Result<Response> {
    let url = state
        .auth
        .start_oauth(provider, query.redirect_uri.as_str(), &client)
        .await?;
    Ok(found(&url))
}

/// Where the provider sends the browser back (its own extra parameters are ignored). It only
/// documents the query: [`callback_query`] reads it, because providers add parameters of
/// their own that a strict query would refuse.
#[allow(dead_code)]
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// The authorization code.
    code: Option<String>,
    /// The flow's `state`, as `start` sent it.
    state: Option<String>,
    /// The provider's error (`access_denied` when the user declined).
    error: Option<String>,
}

/// The provider's return: 302 to the app's `redirect_uri` with `?login_code=` (one use, 60 s;
/// spend it at `POST /auth/oauth/exchange`), `?linked=<provider>` (linking), or `?error=`:
/// `access_denied`, `link_required`, `account_disabled`, `identity_in_use`,
/// `provider_unavailable`, `provider_error`. A missing, unknown, expired or used `state`: 400,
/// no redirect.
#[utoipa::path(get, path = "/auth/oauth/{provider}/callback", tag = "oauth",
    params(("provider" = Provider, Path), CallbackQuery),
    responses(
        (status = 302, description = "Back to the app",
            headers(("Location" = String, description = "The app's redirect_uri with login_code, linked or error"))),
        (status = 400, description = "state is missing, unknown, expired or already used", body = ErrorBody),
        (status = 404, description = "Unknown or unconfigured provider", body = ErrorBody),
        (status = 503, description = "Redis or the database is unavailable", body = ErrorBody),
    ))]
async fn callback(
    State(state): State<AppState>,
    ProviderName(provider): ProviderName,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let url = state
        .auth
        .oauth_callback(&state.db, provider, callback_query(query.as_deref()))
        .await?;
    Ok(found(&url))
}

/// The callback's own parameters, the first of each; any others (providers add `scope`,
/// `authuser`, `error_description`…) are ignored.
fn callback_query(query: Option<&str>) -> Callback {
    let mut callback = Callback::default();
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let slot = match key.as_ref() {
            "code" => &mut callback.code,
            "state" => &mut callback.state,
            "error" => &mut callback.error,
            _ => continue,
        };
        slot.get_or_insert_with(|| value.into_owned());
    }
    callback
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    /// The `login_code` the callback put in the app's URL.
    login_code: Credential,
}

/// The session of a web sign-in (200, or 201 when it created the account). Unknown, expired
/// and used login codes answer the same 401.
#[utoipa::path(post, path = "/auth/oauth/exchange", tag = "oauth", request_body = ExchangeRequest,
    responses(
        (status = 200, body = SessionBody),
        (status = 201, description = "The sign-in created the account", body = SessionBody),
        (status = 400, body = ErrorBody),
        (status = 401, description = "Invalid or expired login code", body = ErrorBody),
        (status = 503, description = "Redis or the database is unavailable", body = ErrorBody),
    ))]
async fn exchange(
    State(state): State<AppState>,
    SigningIn(client): SigningIn,
    ValidJson(body): ValidJson<ExchangeRequest>,
) -> Result<(StatusCode, Json<SessionBody>)> {
    let signed_in = state
        .auth
        .exchange_login_code(&state.db, body.login_code.as_str(), &client)
        .await?;
    Ok(session(&state, signed_in))
}

fn session(state: &AppState, signed_in: OAuthSignIn) -> (StatusCode, Json<SessionBody>) {
    let status = if signed_in.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (status, Json(SessionBody::new(state, signed_in.signed_in)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GoogleTokenRequest {
    /// The `id_token` Google's SDK gave the app (its audience must be `GOOGLE_CLIENT_ID`).
    id_token: Credential,
}

/// Sign in with an `id_token` from Google's mobile SDK (200, or 201 when it created the
/// account).
#[utoipa::path(post, path = "/auth/oauth/google/token", tag = "oauth", request_body = GoogleTokenRequest,
    responses(
        (status = 200, body = SessionBody),
        (status = 201, description = "The sign-in created the account", body = SessionBody),
        (status = 400, body = ErrorBody),
        (status = 401, description = "A bad or foreign id_token, or an inactive account (account_disabled)", body = ErrorBody),
        (status = 404, description = "Google is not configured", body = ErrorBody),
        (status = 409, description = "The email belongs to an account to link from (message link_required)", body = ErrorBody),
        (status = 429, description = "Too many sign-ins from this address; see Retry-After", body = ErrorBody),
        (status = 503, description = "Google is unavailable", body = ErrorBody),
    ))]
async fn google_token(
    State(state): State<AppState>,
    SigningIn(client): SigningIn,
    ValidJson(body): ValidJson<GoogleTokenRequest>,
) -> Result<(StatusCode, Json<SessionBody>)> {
    let signed_in = state
        .auth
        .sign_in_with_google(&state.db, body.id_token.as_str(), &client)
        .await?;
    Ok(session(&state, signed_in))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FacebookTokenRequest {
    /// The user access token Facebook's SDK gave the app (issued to `FACEBOOK_APP_ID`).
    access_token: Credential,
}

/// Sign in with an access token from Facebook's mobile SDK, checked with `debug_token` (200,
/// or 201 when it created the account).
#[utoipa::path(post, path = "/auth/oauth/facebook/token", tag = "oauth", request_body = FacebookTokenRequest,
    responses(
        (status = 200, body = SessionBody),
        (status = 201, description = "The sign-in created the account", body = SessionBody),
        (status = 400, body = ErrorBody),
        (status = 401, description = "A bad or foreign access token, or an inactive account (account_disabled)", body = ErrorBody),
        (status = 404, description = "Facebook is not configured", body = ErrorBody),
        (status = 409, description = "The email belongs to an account to link from (message link_required)", body = ErrorBody),
        (status = 429, description = "Too many sign-ins from this address; see Retry-After", body = ErrorBody),
        (status = 503, description = "Facebook is unavailable", body = ErrorBody),
    ))]
async fn facebook_token(
    State(state): State<AppState>,
    SigningIn(client): SigningIn,
    ValidJson(body): ValidJson<FacebookTokenRequest>,
) -> Result<(StatusCode, Json<SessionBody>)> {
    let signed_in = state
        .auth
        .sign_in_with_facebook(&state.db, body.access_token.as_str(), &client)
        .await?;
    Ok(session(&state, signed_in))
}

/// One identity linked to the caller's account (its subject is not shown).
#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityResponse {
    #[schema(value_type = Provider)]
    provider: String,
    #[serde(with = "timestamp")]
    created_at: DateTime<Utc>,
    /// The last sign-in with it.
    #[serde(with = "timestamp::optional")]
    #[schema(value_type = Option<String>, format = DateTime)]
    last_used_at: Option<DateTime<Utc>>,
}

impl From<user_identity::Model> for IdentityResponse {
    fn from(row: user_identity::Model) -> Self {
        Self {
            provider: row.provider,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListIdentitiesQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(inline)]
    limit: Option<Limit>,
    #[param(inline)]
    cursor: Option<PageCursor>,
}

/// The identities linked to the caller's account, newest first.
#[utoipa::path(get, path = "/auth/identities", tag = "oauth", params(ListIdentitiesQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Page<IdentityResponse>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    ))]
async fn list_identities(
    State(state): State<AppState>,
    caller: CurrentUser,
    ValidQuery(query): ValidQuery<ListIdentitiesQuery>,
) -> Result<Json<Page<IdentityResponse>>> {
    let page = page_request(query.limit, query.cursor, Direction::NewestFirst);
    let rows = identities::list(&state.db, &caller, page).await?;
    Ok(Json(Page::new(rows, IdentityResponse::from)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// The app page to return to: exactly one of `OAUTH_REDIRECT_URIS`.
    redirect_uri: RedirectUri,
}

/// Where to send the browser to link an identity.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkStarted {
    /// The provider's authorization page; the flow returns to `redirect_uri` with
    /// `?linked=<provider>` or `?error=`.
    authorization_url: String,
}

/// Link an identity of `provider` to the caller's account: the answer is the provider's
/// authorization URL; finishing there returns to `redirect_uri` with `?linked=<provider>` (also
/// when it was already his) or `?error=identity_in_use` (another account's).
#[utoipa::path(post, path = "/auth/identities/{provider}", tag = "oauth",
    params(("provider" = Provider, Path)), request_body = LinkRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = LinkStarted),
        (status = 400, description = "redirect_uri is missing or not allowed", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "Unknown or unconfigured provider", body = ErrorBody),
        (status = 429, description = "Too many sign-ins from this address; see Retry-After", body = ErrorBody),
        (status = 503, description = "Redis, where flows are kept, is unavailable", body = ErrorBody),
    ))]
async fn link_identity(
    State(state): State<AppState>,
    caller: CurrentUser,
    ProviderName(provider): ProviderName,
    SigningIn(client): SigningIn,
    ValidJson(body): ValidJson<LinkRequest>,
) -> Result<Json<LinkStarted>> {
    let url = state
        .auth
        .start_link(provider, body.redirect_uri.as_str(), caller.id(), &client)
        .await?;
    Ok(Json(LinkStarted {
        authorization_url: url.into(),
    }))
}

/// Unlink the caller's identities of `provider`: 409 when they are his last way to sign in.
#[utoipa::path(delete, path = "/auth/identities/{provider}", tag = "oauth",
    params(("provider" = Provider, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Unlinked"),
        (status = 401, body = ErrorBody),
        (status = 404, description = "Unknown or unconfigured provider, or no identity of it on the caller's account", body = ErrorBody),
        (status = 409, description = "It is the account's last way to sign in", body = ErrorBody),
    ))]
async fn unlink_identity(
    State(state): State<AppState>,
    caller: CurrentUser,
    ProviderName(provider): ProviderName,
) -> Result<StatusCode> {
    state.auth.oauth.require(provider)?;
    identities::unlink(&state.db, &caller, provider).await?;
    Ok(StatusCode::NO_CONTENT)
}
