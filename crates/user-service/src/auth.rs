//! Who the caller is: access tokens (HS256 JWT), password hashing off the async runtime, and the
//! [`CurrentUser`] extractor every signed-in endpoint takes.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::ConnectionTrait;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use shared::entities::{Sensitive, UserRole, user};
use shared::password::{self, HashCost, Scratch};
use tracing::Span;
use uuid::Uuid;

use crate::config::AuthSettings;
use crate::domain::users;
use crate::error::{ApiError, Result};
use crate::state::AppState;

/// The one message of every 401 for a token problem: which check failed is not the caller's
/// business (the log has it at debug).
pub const UNAUTHORIZED: &str = "Unauthorized";

/// Issues and checks access tokens.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    lifetime: Duration,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    iat: u64,
    exp: u64,
}

impl Tokens {
    /// From the configured secret, or a random per-process one (with a warning) when none is
    /// configured outside production.
    pub fn new(settings: &AuthSettings) -> Self {
        let secret: Vec<u8> = match &settings.jwt_secret {
            Some(secret) => secret.expose_secret().as_bytes().to_vec(),
            None => {
                tracing::warn!(
                    "JWT_SECRET is not set: using a random secret for this process; tokens stop working when it restarts and other replicas reject them"
                );
                password::random_bytes::<32>().to_vec()
            }
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        Self {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            validation,
            lifetime: settings.token_lifetime,
        }
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A signed token for `user_id`, valid for the configured lifetime.
    pub fn issue(&self, user_id: Uuid) -> Result<String> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: user_id,
            iat: now,
            exp: now + self.lifetime.as_secs(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|error| ApiError::Internal(format!("cannot sign a token: {error}")))
    }

    /// The user id of a valid token: signed with our key, HS256, not expired.
    pub fn verify(&self, token: &str) -> Option<Uuid> {
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation) {
            Ok(data) => Some(data.claims.sub),
            Err(error) => {
                tracing::debug!(reason = ?error.kind(), "token refused");
                None
            }
        }
    }
}

/// argon2 off the async runtime, on `hash_concurrency` threads of its own, so a login flood
/// queues for them instead of taking every worker thread; a queued job whose request gave up is
/// skipped. Each thread verifies in argon2 memory (19 MiB) it keeps while it has work and gives
/// back after [`IDLE_RELEASE`] without any; a new hash (registration, password change) allocates
/// its own for its duration. Memory is bounded by the thread count during a flood and returns to
/// idle after it.
pub struct Passwords {
    jobs: crossbeam_channel::Sender<Job>,
    cost: HashCost,
    /// Verified against when there is no hash to verify (unknown email, account without a
    /// password), so every failed login costs the same.
    dummy: Sensitive,
}

type Job = Box<dyn FnOnce(&mut Scratch) + Send>;

/// How long a hashing thread keeps its argon2 memory without work.
pub const IDLE_RELEASE: Duration = Duration::from_secs(1);

impl Passwords {
    pub fn new(settings: &AuthSettings) -> Result<Self, String> {
        let dummy = settings
            .hash_cost
            .unmatched_hash()
            .map_err(|error| error.to_string())?;
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        for index in 0..settings.hash_concurrency {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("password-{index}"))
                .spawn(move || hash_worker(&queue))
                .map_err(|error| format!("cannot start a hashing thread: {error}"))?;
        }
        Ok(Self {
            jobs,
            cost: settings.hash_cost,
            dummy: Sensitive::new(dummy),
        })
    }

    /// The stored form of `plain`.
    pub async fn hash(&self, plain: String) -> Result<Sensitive> {
        let cost = self.cost;
        let hashed = self
            .run(move |_| password::hash(&plain, cost))
            .await?
            .map_err(|error| ApiError::Internal(error.to_string()))?;
        Ok(Sensitive::new(hashed))
    }

    /// Whether `plain` matches `stored`. Without a stored hash it still pays one verification
    /// and answers false.
    pub async fn verify(&self, plain: String, stored: Option<Sensitive>) -> Result<bool> {
        let matches_stored = stored.is_some();
        let phc = stored.unwrap_or_else(|| self.dummy.clone());
        let matched = self
            .run(move |scratch| password::verify_with(&plain, phc.expose(), scratch))
            .await?;
        Ok(matched && matches_stored)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Scratch) -> T + Send + 'static,
    ) -> Result<T> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let span = Span::current();
        let job: Job = Box::new(move |scratch| {
            // A request that gave up (timed out, client gone) while queued costs nothing more.
            if !reply.is_closed() {
                let _ = reply.send(span.in_scope(|| work(scratch)));
            }
        });
        self.jobs
            .send(job)
            .map_err(|_| ApiError::Internal("the hashing threads are gone".to_owned()))?;
        answer
            .await
            .map_err(|_| ApiError::Internal("a hashing thread failed".to_owned()))
    }
}

/// One hashing thread: runs jobs in its own argon2 memory, gives the memory back when idle, and
/// ends when the [`Passwords`] it serves is dropped.
fn hash_worker(queue: &crossbeam_channel::Receiver<Job>) {
    let mut scratch = Scratch::default();
    loop {
        match queue.recv_timeout(IDLE_RELEASE) {
            Ok(job) => job(&mut scratch),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => scratch.release(),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// A caller whose token is valid, not yet looked up. The endpoints that act on one project or
/// conversation, and the project and conversation lists, take this instead of [`CurrentUser`]:
/// `domain::access` checks that he is still an active user in the same query that reads the rows
/// (and his role), so such a request costs one statement instead of two. Its id is only for those
/// queries, never to act on.
#[derive(Debug, Clone, Copy)]
pub struct Caller(Uuid);

impl Caller {
    /// The id the token names, not yet known to be an active user: for queries that check it.
    pub(crate) fn claimed_id(self) -> Uuid {
        self.0
    }

    /// The caller as an active user, or 401.
    pub async fn look_up(self, db: &impl ConnectionTrait) -> Result<CurrentUser> {
        users::find_active(db, self.0)
            .await?
            .map(CurrentUser)
            .ok_or(ApiError::Unauthorized(UNAUTHORIZED))
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                let (scheme, token) = value.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or(ApiError::Unauthorized(UNAUTHORIZED))?;
        state
            .tokens
            .verify(token)
            .map(Self)
            .ok_or(ApiError::Unauthorized(UNAUTHORIZED))
    }
}

/// The signed-in caller, looked up on every request: a deleted or deactivated user's token stops
/// working at once.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub user::Model);

impl CurrentUser {
    pub fn id(&self) -> Uuid {
        self.0.id
    }

    pub fn is_admin(&self) -> bool {
        self.0.role == UserRole::Admin
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        Caller::from_request_parts(parts, state)
            .await?
            .look_up(&state.db)
            .await
    }
}
