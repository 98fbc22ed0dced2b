//! The one error type of the HTTP boundary, and the envelope every error answer uses:
//! `{"message": …, "error": "<reason phrase>", "statusCode": <code>}` (NestJS's), with `message`
//! an array of strings for validation failures.
//!
//! Internal causes (database, hashing, bugs) are logged in full inside the request's span, which
//! carries the request id; the client gets the reason phrase only.

use axum::Json;
use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain;

/// `Result` with [`ApiError`] as the default error.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with one message per problem, each naming its field first.
    #[error("validation failed: {0:?}")]
    Validation(Vec<String>),
    /// 400 with one message.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 401, with `WWW-Authenticate: Bearer`.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// 403.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// 404: missing, or hidden from the caller (the same answer).
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// 409: a uniqueness or last-owner/last-admin rule.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 413.
    #[error("request body too large")]
    PayloadTooLarge,
    /// 415.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 429, with `Retry-After`.
    #[error("too many requests (retry after {retry_after_secs}s)")]
    TooManyRequests { retry_after_secs: u64 },
    /// 503: a dependency failed or timed out; the cause is logged, never sent.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// 500: a bug; the cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// One message, or (400 validation) one per problem.
    #[schema(value_type = Object, example = json!(["email must be an email"]))]
    pub message: Message,
    /// The status code's reason phrase.
    #[schema(example = "Bad Request")]
    pub error: &'static str,
    #[schema(example = 400)]
    pub status_code: u16,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Message {
    One(String),
    Many(Vec<String>),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A validation failure with one message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Validation(vec![message.into()])
    }

    fn message(self) -> Message {
        match self {
            Self::Validation(messages) => Message::Many(messages),
            Self::BadRequest(message) | Self::Conflict(message) => Message::One(message),
            Self::Unauthorized(message) | Self::Forbidden(message) | Self::NotFound(message) => {
                Message::One(message.to_owned())
            }
            Self::PayloadTooLarge => Message::One("Request body is too large".to_owned()),
            Self::UnsupportedMediaType => {
                Message::One("Content-Type must be application/json".to_owned())
            }
            Self::TooManyRequests { .. } => {
                Message::One("Too many failed login attempts, try again later".to_owned())
            }
            Self::Unavailable(_) => Message::One("Service Unavailable".to_owned()),
            Self::Internal(_) => Message::One("Internal server error".to_owned()),
        }
    }
}

/// The envelope for `status` with `message`.
pub fn envelope(status: StatusCode, message: Message) -> Response {
    let body = ErrorBody {
        message,
        error: status.canonical_reason().unwrap_or("Error"),
        status_code: status.as_u16(),
    };
    (status, Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Self::Internal(cause) => tracing::error!(%cause, "request failed"),
            Self::Unavailable(cause) => {
                tracing::warn!(%cause, "request failed: a dependency is unavailable")
            }
            _ => {}
        }
        let extra = match &self {
            Self::Unauthorized(_) => Some((WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))),
            Self::TooManyRequests { retry_after_secs } => {
                Some((RETRY_AFTER, HeaderValue::from(*retry_after_secs)))
            }
            _ => None,
        };
        let mut response = envelope(status, self.message());
        if let Some((name, value)) = extra {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

impl From<domain::Error> for ApiError {
    fn from(error: domain::Error) -> Self {
        use domain::Error;
        match error {
            Error::Invalid(messages) => Self::Validation(messages),
            Error::Refused(message) => Self::BadRequest(message.to_owned()),
            Error::Unauthenticated(message) => Self::Unauthorized(message),
            Error::Forbidden(message) => Self::Forbidden(message),
            Error::NotFound(message) => Self::NotFound(message),
            Error::Conflict(message) => Self::Conflict(message),
            Error::TooManyAttempts { retry_after_secs } => {
                Self::TooManyRequests { retry_after_secs }
            }
            Error::Unavailable(cause) => Self::Unavailable(cause),
            Error::Internal(cause) => Self::Internal(cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_messages_are_an_array_and_others_a_string() {
        let many = serde_json::to_value(Message::Many(vec!["a".into()])).unwrap();
        assert_eq!(many, serde_json::json!(["a"]));
        let one = serde_json::to_value(Message::One("a".into())).unwrap();
        assert_eq!(one, serde_json::json!("a"));
    }

    #[test]
    fn internal_causes_never_reach_the_message() {
        let Message::One(text) = ApiError::Internal("SELECT secret".into()).message() else {
            panic!("one message");
        };
        assert_eq!(text, "Internal server error");
    }
}
