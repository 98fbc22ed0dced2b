//! The HTTP API: one module per resource, each with its handlers and its request and response
//! types. [`router`] merges them with the API docs and the NestJS-style 404 and 405 answers.
//!
//! Every route is registered through utoipa's `OpenApiRouter`, so a route and its OpenAPI entry
//! come from the same `#[utoipa::path]` and cannot drift apart.

mod agents;
mod auth;
mod conversations;
mod fallback;
mod health;
mod projects;
mod users;

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::openapi::ApiDoc;
use crate::state::AppState;

pub use fallback::envelope_bare_errors;

/// Every API route with its documentation.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .merge(auth::router())
        .merge(users::router())
        .merge(projects::router())
        .merge(conversations::router())
        .merge(agents::router())
}

/// The OpenAPI document of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

pub fn router(state: AppState) -> Router {
    let (api, document) = api().split_for_parts();
    api.merge(
        SwaggerUi::new("/docs")
            .url("/docs/openapi.json", document)
            // The validator badge would fetch an image from swagger.io: the page stays offline.
            .config(Config::default().validator_url("none")),
    )
    .fallback(fallback::not_found)
    .method_not_allowed_fallback(fallback::method_not_allowed)
    .with_state(state)
}

/// `DateTime<Utc>` as RFC 3339 UTC with milliseconds (`2026-11-24T12:40:56.128Z`), the
/// timestamp format of every response.
pub(crate) mod timestamp {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(
        value: &DateTime<Utc>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

/// `#[serde(default, deserialize_with = "nullable")]` on an `Option<Option<T>>`: absent is
/// `None` (leave as is), `null` is `Some(None)` (clear), a value is `Some(Some(value))`.
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}
