//! `GET /health` (liveness: never waits on the database) and `GET /health/db` (readiness: a
//! real, bounded round trip).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{SecondsFormat, Utc};
use serde::Serialize;

use crate::database_health::{error_chain, ping};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/health/db", get(health_db))
}

/// The original's body, field for field and in its order.
#[derive(Serialize)]
struct Health {
    status: &'static str,
    timestamp: String,
    service: &'static str,
    version: &'static str,
    database: DatabaseSummary,
}

#[derive(Serialize)]
struct DatabaseSummary {
    status: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
}

async fn health(State(state): State<AppState>) -> Json<Health> {
    let connected = state.database_health.is_connected();
    Json(Health {
        status: if connected { "ok" } else { "error" },
        timestamp: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        service: "user-service",
        version: env!("CARGO_PKG_VERSION"),
        database: DatabaseSummary {
            status: if connected {
                "connected"
            } else {
                "disconnected"
            },
            kind: state.backend.display_name(),
        },
    })
}

#[derive(Serialize)]
struct DatabaseUp {
    status: &'static str,
    database: &'static str,
    result: i32,
}

#[derive(Serialize)]
struct DatabaseDown {
    status: &'static str,
    database: &'static str,
    error: String,
}

async fn health_db(State(state): State<AppState>) -> Response {
    let outcome = ping(&state.db, state.health_db_timeout).await;
    state.database_health.record(&outcome);
    match outcome {
        Ok(result) => Json(DatabaseUp {
            status: "ok",
            database: "connected",
            result,
        })
        .into_response(),
        Err(error) => {
            tracing::warn!(error = %error_chain(&error), "/health/db failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(DatabaseDown {
                    status: "error",
                    database: "disconnected",
                    error: error.to_string(),
                }),
            )
                .into_response()
        }
    }
}
