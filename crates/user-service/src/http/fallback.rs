//! Answers for requests no route takes, in the NestJS envelope the original's clients parse; the
//! envelope for error answers that middleware makes without a body; and the headers every
//! answer carries.

use axum::body::Body;
use axum::extract::OriginalUri;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderValue, Method, Response, StatusCode};
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

/// Every answer, last thing before it leaves: the headers every answer carries
/// ([`secure_headers`]), and the envelope for an error answer without a JSON body (the body
/// limit's 413, the timeout's 503).
pub fn finish<B>(response: Response<B>) -> Response<Body>
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let mut response = envelope_bare_errors(response);
    secure_headers(response.headers_mut());
    response
}

/// `X-Content-Type-Options: nosniff` on every answer, so no browser guesses a type; and
/// `Cache-Control: no-store` unless the answer says otherwise: answers carry tokens, users and
/// private data, which no cache (a browser's or a proxy's) may keep.
fn secure_headers(headers: &mut axum::http::HeaderMap) {
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers
        .entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
}

/// An error answer without a JSON body gets the envelope; every other answer passes untouched.
/// Success answers cost one comparison.
fn envelope_bare_errors<B>(response: Response<B>) -> Response<Body>
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
