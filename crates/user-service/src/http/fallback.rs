//! Answers for requests no route takes, in the NestJS envelope the original's clients parse, and
//! the envelope for error answers that middleware makes without a body.

use axum::body::Body;
use axum::extract::OriginalUri;
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, Response, StatusCode};
use axum::response::IntoResponse;

use super::error::{ApiError, Message, envelope};

pub async fn not_found(method: Method, OriginalUri(uri): OriginalUri) -> Response<Body> {
    envelope(
        StatusCode::NOT_FOUND,
        Message::One(format!("Cannot {method} {}", uri.path())),
    )
}

pub async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> Response<Body> {
    envelope(
        StatusCode::METHOD_NOT_ALLOWED,
        Message::One(format!("Cannot {method} {}", uri.path())),
    )
}

/// An error answer without a JSON body (the body limit's 413, the timeout's 503) gets the
/// envelope; every other answer passes untouched. Success answers cost one comparison.
pub fn envelope_bare_errors<B>(response: Response<B>) -> Response<Body>
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        let is_json = response
            .headers()
            .get(CONTENT_TYPE)
            .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
        if !is_json {
            return match status {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge.into_response(),
                StatusCode::SERVICE_UNAVAILABLE | StatusCode::REQUEST_TIMEOUT => envelope(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Message::One("The request took too long and was cancelled".to_owned()),
                ),
                other => envelope(
                    other,
                    Message::One(other.canonical_reason().unwrap_or("Error").to_owned()),
                ),
            };
        }
    }
    response.map(Body::new)
}
