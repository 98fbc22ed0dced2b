//! Everything that speaks HTTP. One module per resource (`auth`, `phone`, `oauth`, `sessions`, `users`, `projects`,
//! `conversations`, `agents`, `health`), each with its thin handlers (parse, one call into
//! `domain` or `auth`, answer) and its request and response types; beside them what they share:
//! the extractors ([`extract`]), the error type and envelope ([`error`]), the validation messages
//! ([`validation`]), pagination's wire format ([`pagination`]), the OpenAPI frame ([`openapi`]),
//! the request-id/trace and CORS layers ([`request_trace`], [`cors`]) and the 404/405 answers.
//!
//! Every route is registered through utoipa's `OpenApiRouter`, so a route and its OpenAPI entry
//! come from the same `#[utoipa::path]` and cannot drift apart.

mod agents;
mod auth;
mod conversations;
pub mod cors;
pub mod error;
pub mod extract;
mod fallback;
mod health;
mod oauth;
pub mod openapi;
pub mod pagination;
mod phone;
mod projects;
pub mod request_trace;
pub mod serve;
mod sessions;
mod users;
pub mod validation;

use axum::Router;
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_SECURITY_POLICY, X_FRAME_OPTIONS};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::state::AppState;
use openapi::ApiDoc;

pub use fallback::finish;

/// Every API route with its documentation.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .merge(auth::router())
        .merge(phone::router())
        .merge(oauth::router())
        .merge(sessions::router())
        .merge(users::router())
        .merge(projects::router())
        .merge(conversations::router())
        .merge(agents::router())
}

/// The OpenAPI document of every route.
pub fn document() -> utoipa::openapi::OpenApi {
    openapi::finish(api().into_openapi())
}

pub fn router(state: AppState) -> Router {
    let (api, document) = api().split_for_parts();
    let document = openapi::finish(document);
    let docs = Router::from(
        SwaggerUi::new("/docs")
            .url("/docs/openapi.json", document)
            // The validator badge would fetch an image from swagger.io: the page stays offline.
            .config(Config::default().validator_url("none")),
    )
    // No other site may frame the docs page (clickjacking).
    .layer(SetResponseHeaderLayer::overriding(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("frame-ancestors 'none'"),
    ))
    .layer(SetResponseHeaderLayer::overriding(
        X_FRAME_OPTIONS,
        HeaderValue::from_static("DENY"),
    ));
    api.merge(docs)
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

    /// The same for an optional timestamp (`null` when absent).
    pub mod optional {
        use chrono::{DateTime, Utc};
        use serde::Serializer;

        pub fn serialize<S: Serializer>(
            value: &Option<DateTime<Utc>>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(value) => super::serialize(value, serializer),
                None => serializer.serialize_none(),
            }
        }
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
