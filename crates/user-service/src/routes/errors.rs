//! The error envelope of the original (NestJS): `{"message","error","statusCode"}`.

use axum::Json;
use axum::extract::OriginalUri;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub message: String,
    pub error: &'static str,
    pub status_code: u16,
}

fn envelope(status: StatusCode, message: String) -> Response {
    let body = ErrorBody {
        message,
        error: status.canonical_reason().unwrap_or("Error"),
        status_code: status.as_u16(),
    };
    (status, Json(body)).into_response()
}

pub async fn not_found(method: Method, OriginalUri(uri): OriginalUri) -> Response {
    envelope(
        StatusCode::NOT_FOUND,
        format!("Cannot {method} {}", uri.path()),
    )
}

pub async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> Response {
    envelope(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("Cannot {method} {}", uri.path()),
    )
}
