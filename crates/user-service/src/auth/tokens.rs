//! Access tokens: HS256 JWTs naming the user (`sub`) and his session (`sid`), issued at every
//! sign-in and refresh and checked on every signed-in request (the session's liveness is checked
//! with the user, in the same statement: `domain::access`).

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use shared::password;
use uuid::Uuid;

use crate::config::AuthSettings;
use crate::domain::{Error, Result};

/// Issues and checks access tokens.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    lifetime: Duration,
}

/// What a valid token says: whose it is, and of which session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub user: Uuid,
    pub session: Uuid,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    /// The session, so that ending it stops its tokens at once.
    sid: Uuid,
    iat: u64,
    exp: u64,
    /// Never issued here; a token that carries one is held to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<u64>,
}

impl Tokens {
    /// The signing key: the configured secret, or a random per-process one (with a warning)
    /// when none is configured outside production. Phone codes derive their key from it too.
    pub fn secret(settings: &AuthSettings) -> Vec<u8> {
        match &settings.jwt_secret {
            Some(secret) => secret.expose_secret().as_bytes().to_vec(),
            None => {
                tracing::warn!(
                    "JWT_SECRET is not set: using a random secret for this process; tokens, phone codes and OAuth flows stop working when it restarts and other replicas reject them"
                );
                password::random_bytes::<32>().to_vec()
            }
        }
    }

    /// Tokens signed with `secret` (see [`Tokens::secret`]).
    pub fn new(settings: &AuthSettings, secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            lifetime: settings.token_lifetime,
        }
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A signed token for `user_id` in `session`, valid for the configured lifetime.
    pub fn issue(&self, user_id: Uuid, session: Uuid) -> Result<String> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: user_id,
            sid: session,
            iat: now,
            exp: now + self.lifetime.as_secs(),
            nbf: None,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|error| Error::Internal(format!("cannot sign a token: {error}")))
    }

    /// The user and session of a valid token: signed with our key, HS256, not expired, not used before
    /// its `nbf` or its `iat`, living no longer than the configured lifetime, and with no
    /// critical header extension (`crit`: none is understood here, so RFC 7515 says refuse).
    pub fn verify(&self, token: &str) -> Option<Verified> {
        let data = match jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation) {
            Ok(data) => data,
            Err(error) => {
                tracing::debug!(reason = ?error.kind(), "token refused");
                return None;
            }
        };
        let claims = data.claims;
        let now = jsonwebtoken::get_current_timestamp();
        let refusal = if data.header.crit.is_some() {
            Some("an unknown critical header extension (crit)")
        } else if claims.iat > now {
            Some("issued in the future (iat)")
        } else if claims.exp.saturating_sub(claims.iat) > self.lifetime.as_secs() {
            Some("a lifetime longer than JWT_EXPIRES_IN_SECONDS")
        } else {
            None
        };
        match refusal {
            Some(reason) => {
                tracing::debug!(reason, "token refused");
                None
            }
            None => Some(Verified {
                user: claims.sub,
                session: claims.sid,
            }),
        }
    }
}
