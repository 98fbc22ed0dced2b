//! The request extractors every endpoint uses. Each answers a bad request with the API's error
//! envelope (never axum's plain-text rejections):
//! - [`ValidJson`]: a JSON object body, unknown fields refused, every field valid.
//! - [`ValidQuery`]: the query string, unknown parameters refused, every parameter valid.
//! - [`Id`] and [`Ids`]: UUID path parameters.
//! - [`Caller`] (a verified token) and [`CurrentUser`] (its user, looked up and active), and
//!   [`MaybeSignedIn`] for the endpoints that also serve anonymous callers.
//! - [`ClientAddress`]: the client's address, for the throttles.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::ApiError;
use super::validation;
use crate::domain::access::UNAUTHORIZED;
use crate::domain::{Caller, CurrentUser};
use crate::state::AppState;

/// A validated JSON body.
pub struct ValidJson<T>(pub T);

impl<T, S> FromRequest<S> for ValidJson<T>
where
    T: DeserializeOwned + ToSchema,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(&request) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes =
            Bytes::from_request(request, state)
                .await
                .map_err(|rejection| match rejection {
                    BytesRejection::FailedToBufferBody(failed)
                        if failed.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
                    {
                        ApiError::PayloadTooLarge
                    }
                    other => ApiError::BadRequest(format!("cannot read the body ({other})")),
                })?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|error| ApiError::BadRequest(format!("body is not valid JSON ({error})")))?;
        let Value::Object(map) = value else {
            return Err(ApiError::invalid("body must be a JSON object"));
        };
        validation::from_object(map).map(Self)
    }
}

/// `application/json`, or any `application/…+json`, with or without parameters.
fn is_json(request: &Request) -> bool {
    let Some(value) = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A validated query string. Every parameter must be a field of `T` (`#[serde(default)]` on
/// `T` makes them optional).
pub struct ValidQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ValidQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        validation::from_query(parts.uri.query().unwrap_or("")).map(Self)
    }
}

/// The `:id` path parameter, a UUID.
pub struct Id(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Ids([id]) = Ids::<1>::from_request_parts(parts, state).await?;
        Ok(Self(id))
    }
}

/// `N` UUID path parameters, in the order of the route (`/projects/{id}/members/{user_id}`).
pub struct Ids<const N: usize>(pub [Uuid; N]);

impl<S: Send + Sync, const N: usize> FromRequestParts<S> for Ids<N> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
        let mut ids = [Uuid::nil(); N];
        let mut problems = Vec::new();
        if raw.len() != N {
            return Err(ApiError::Internal(format!(
                "route has {} path parameters, the handler expects {N}",
                raw.len()
            )));
        }
        for (slot, (name, value)) in ids.iter_mut().zip(raw) {
            match Uuid::try_parse(&value) {
                Ok(id) => *slot = id,
                Err(_) => problems.push(format!("{name} must be a UUID")),
            }
        }
        if problems.is_empty() {
            Ok(Self(ids))
        } else {
            Err(ApiError::Validation(problems))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let mut given = parts.headers.get_all(AUTHORIZATION).iter();
        // Two credentials are ambiguous: which one a proxy or a log would see is anyone's guess.
        let (Some(value), None) = (given.next(), given.next()) else {
            return Err(ApiError::Unauthorized(UNAUTHORIZED));
        };
        let token = Some(value)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                let (scheme, token) = value.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or(ApiError::Unauthorized(UNAUTHORIZED))?;
        state
            .auth
            .tokens
            .verify(token)
            .map(|verified| Caller::claimed(verified.user, verified.session))
            .ok_or(ApiError::Unauthorized(UNAUTHORIZED))
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        Ok(caller.look_up(&state.db).await?)
    }
}

/// The signed-in user when the request carries `Authorization`, `None` when it carries none. A
/// credential that is there but not valid is a 401, never an anonymous request.
pub struct MaybeSignedIn(pub Option<CurrentUser>);

impl FromRequestParts<AppState> for MaybeSignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if !parts.headers.contains_key(AUTHORIZATION) {
            return Ok(Self(None));
        }
        CurrentUser::from_request_parts(parts, state)
            .await
            .map(|user| Self(Some(user)))
    }
}

/// The client's address for the login throttle: the TCP peer, or, when the peer is one of
/// `TRUSTED_PROXIES`, the nearest address in `X-Forwarded-For` that is not a trusted proxy. A
/// client cannot choose its own address unless a proxy is trusted to say it.
pub struct ClientAddress(pub std::net::IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip())
            .ok_or_else(|| ApiError::Internal("no peer address on the connection".to_owned()))?;
        Ok(Self(client_address(
            peer,
            parts.headers.get_all("x-forwarded-for"),
            &state.trusted_proxies,
        )))
    }
}

/// Who is signing in, for the session it starts: the client's address (as [`ClientAddress`])
/// and its `User-Agent`.
pub struct SigningIn(pub crate::auth::Client);

impl FromRequestParts<AppState> for SigningIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ClientAddress(address) = ClientAddress::from_request_parts(parts, state).await?;
        let user_agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        Ok(Self(crate::auth::Client {
            address,
            user_agent,
        }))
    }
}

fn client_address(
    peer: std::net::IpAddr,
    forwarded: axum::http::header::GetAll<'_, axum::http::HeaderValue>,
    trusted: &[ipnet::IpNet],
) -> std::net::IpAddr {
    let is_trusted = |address: &std::net::IpAddr| trusted.iter().any(|net| net.contains(address));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<std::net::IpAddr> = forwarded
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    hops.iter()
        .rev()
        .find(|hop| !is_trusted(hop))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};

    use super::*;

    fn address(peer: &str, forwarded: &[&str], trusted: &[&str]) -> String {
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        let trusted: Vec<ipnet::IpNet> = trusted.iter().map(|net| net.parse().unwrap()).collect();
        client_address(
            peer.parse().unwrap(),
            headers.get_all("x-forwarded-for"),
            &trusted,
        )
        .to_string()
    }

    #[test]
    fn forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        assert_eq!(address("203.0.113.9", &["1.2.3.4"], &[]), "203.0.113.9");
        assert_eq!(
            address("203.0.113.9", &["1.2.3.4"], &["10.0.0.0/8"]),
            "203.0.113.9"
        );
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() {
        assert_eq!(
            address("10.0.0.2", &["6.6.6.6, 1.2.3.4, 10.0.0.1"], &["10.0.0.0/8"]),
            "1.2.3.4",
            "a client-supplied first hop (6.6.6.6) is not believed"
        );
    }
}
