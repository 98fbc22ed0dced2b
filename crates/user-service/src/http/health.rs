//! `GET /health` (liveness: never waits on the database) and `GET /health/db` (readiness: a
//! real, bounded round trip).

use std::cell::RefCell;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use shared::Backend;

use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(health_db))
}

/// The original's body, field for field and in its order.
#[derive(Serialize, ToSchema)]
struct Health {
    status: &'static str,
    timestamp: String,
    service: &'static str,
    version: &'static str,
    database: DatabaseSummary,
    /// Present when `REDIS_URL` is set: whether the login throttle reaches Redis.
    #[serde(skip_serializing_if = "Option::is_none")]
    redis: Option<RedisSummary>,
}

#[derive(Serialize, ToSchema)]
struct RedisSummary {
    status: &'static str,
}

#[derive(Serialize, ToSchema)]
struct DatabaseSummary {
    status: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// Liveness: never waits on the database; reports the last known database state.
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, description = "The service is up", body = Health)))]
async fn health(State(state): State<AppState>) -> Response {
    let connected = state.database_health.is_connected();
    let redis = state.auth.throttle.redis_connected();
    match health_body(Utc::now(), connected, redis, state.backend) {
        Ok(body) => (
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot render /health");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

impl Health {
    fn new(now: DateTime<Utc>, connected: bool, redis: Option<bool>, backend: Backend) -> Self {
        Self {
            status: if connected { "ok" } else { "error" },
            timestamp: now.to_rfc3339_opts(SecondsFormat::Millis, true),
            service: "user-service",
            version: env!("CARGO_PKG_VERSION"),
            database: DatabaseSummary {
                status: if connected {
                    "connected"
                } else {
                    "disconnected"
                },
                kind: backend.display_name(),
            },
            redis: redis.map(|up| RedisSummary {
                status: if up { "connected" } else { "disconnected" },
            }),
        }
    }
}

/// The last body this thread rendered, and what it was rendered from.
struct RenderedHealth {
    millis: i64,
    connected: bool,
    redis: Option<bool>,
    backend: Backend,
    body: Bytes,
}

/// The `/health` body for this instant. Its only moving part is a timestamp with millisecond
/// precision, so every request in the same millisecond gets the same bytes: each worker thread
/// renders the body at most once a millisecond and hands out that `Bytes` until the millisecond
/// or the database state changes (what hyper does for its `Date` header, once a second). Under
/// load that takes JSON rendering off the hot path (docs/BENCHMARKS.md).
fn health_body(
    now: DateTime<Utc>,
    connected: bool,
    redis: Option<bool>,
    backend: Backend,
) -> Result<Bytes, serde_json::Error> {
    thread_local! {
        static LAST: RefCell<Option<RenderedHealth>> = const { RefCell::new(None) };
    }
    let millis = now.timestamp_millis();
    LAST.with_borrow_mut(|last| {
        if let Some(last) = last
            && last.millis == millis
            && last.connected == connected
            && last.redis == redis
            && last.backend == backend
        {
            return Ok(last.body.clone());
        }
        let body = Bytes::from(serde_json::to_vec(&Health::new(
            now, connected, redis, backend,
        ))?);
        *last = Some(RenderedHealth {
            millis,
            connected,
            redis,
            backend,
            body: body.clone(),
        });
        Ok(body)
    })
}

#[derive(Serialize, ToSchema)]
struct DatabaseUp {
    status: &'static str,
    database: &'static str,
    result: i32,
}

#[derive(Serialize, ToSchema)]
struct DatabaseDown {
    status: &'static str,
    database: &'static str,
    error: String,
}

/// Readiness: a real `SELECT 1` that starts after the request arrived, bounded.
#[utoipa::path(get, path = "/health/db", tag = "health",
    responses(
        (status = 200, description = "The database answered", body = DatabaseUp),
        (status = 503, description = "The database did not answer in time", body = DatabaseDown),
    ))]
async fn health_db(State(state): State<AppState>) -> Response {
    match state.database_probe.check().await {
        Ok(result) => Json(DatabaseUp {
            status: "ok",
            database: "connected",
            result,
        })
        .into_response(),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(DatabaseDown {
                status: "error",
                database: "disconnected",
                error: error.to_string(),
            }),
        )
            .into_response(),
    }
}
