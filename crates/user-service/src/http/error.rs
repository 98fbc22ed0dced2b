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

/// What an answer can go wrong with: a rule of the domain (its own [`domain::Error`]), or a
/// request the HTTP layer itself refuses.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A rule answered no; its kind decides the status.
    #[error(transparent)]
    Domain(#[from] domain::Error),
    /// 400 with one message per problem, each naming its field first.
    #[error("validation failed: {0:?}")]
    Validation(Vec<String>),
    /// 400 with one message.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 401 for a missing or invalid token, with `WWW-Authenticate: Bearer`.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// 413.
    #[error("request body too large")]
    PayloadTooLarge,
    /// 415.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 500: a bug; the cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// One message, or (400 validation) one per problem.
    #[schema(example = json!(["email must be an email"]))]
    pub message: Message,
    /// The status code's reason phrase.
    #[schema(example = "Bad Request")]
    pub error: &'static str,
    #[schema(example = 400, minimum = 400, maximum = 599)]
    pub status_code: u16,
}

/// A string, or (400 validation) an array of strings, one per problem.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Message {
    One(String),
    Many(Vec<String>),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        use domain::Error;
        match self {
            Self::Validation(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Domain(error) => match error {
                Error::Invalid(_) | Error::Refused(_) => StatusCode::BAD_REQUEST,
                Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
                Error::Forbidden(_) => StatusCode::FORBIDDEN,
                Error::NotFound(_) => StatusCode::NOT_FOUND,
                Error::Conflict(_) => StatusCode::CONFLICT,
                Error::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
                Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    /// A validation failure with one message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Validation(vec![message.into()])
    }

    fn message(self) -> Message {
        use domain::Error;
        let text = match self {
            Self::Validation(messages) | Self::Domain(Error::Invalid(messages)) => {
                return Message::Many(messages);
            }
            Self::BadRequest(message) | Self::Domain(Error::Conflict(message)) => message,
            Self::Unauthorized(message)
            | Self::Domain(
                Error::Unauthenticated(message)
                | Error::Forbidden(message)
                | Error::NotFound(message)
                | Error::Refused(message),
            ) => message.to_owned(),
            Self::PayloadTooLarge => "Request body is too large".to_owned(),
            Self::UnsupportedMediaType => "Content-Type must be application/json".to_owned(),
            Self::Domain(Error::TooManyAttempts { message, .. }) => message.to_owned(),
            Self::Domain(Error::Unavailable(_)) => "Service Unavailable".to_owned(),
            Self::Internal(_) | Self::Domain(Error::Internal(_)) => {
                "Internal server error".to_owned()
            }
        };
        Message::One(text)
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
        use domain::Error;
        match &self {
            Self::Internal(cause) | Self::Domain(Error::Internal(cause)) => {
                tracing::error!(%cause, "request failed")
            }
            Self::Domain(Error::Unavailable(cause)) => {
                tracing::warn!(%cause, "request failed: a dependency is unavailable")
            }
            _ => {}
        }
        let extra = match &self {
            Self::Unauthorized(_) | Self::Domain(Error::Unauthenticated(_)) => {
                Some((WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")))
            }
            Self::Domain(Error::TooManyAttempts {
                retry_after_secs, ..
            }) => Some((RETRY_AFTER, HeaderValue::from(*retry_after_secs))),
            _ => None,
        };
        let mut response = envelope(status, self.message());
        if let Some((name, value)) = extra {
            response.headers_mut().insert(name, value);
        }
        response
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
