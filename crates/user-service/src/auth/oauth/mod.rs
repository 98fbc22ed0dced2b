//! Sign-in with Google, Facebook and TikTok (AUTH.md, "Google, Facebook, TikTok").
//!
//! The web flow is the authorization code grant with PKCE (S256) and a one-use `state`, Google
//! also with a `nonce`: `OAuth::start` keeps the `state` (10 min) and answers the provider's
//! authorization URL; [`Auth::oauth_callback`] takes the `state` back, trades the code for the
//! provider's word on who the user is, applies the account rules (`domain::identities`) and
//! answers where to send the browser: the app's `redirect_uri` with a one-use `login_code`
//! (60 s), `linked=<provider>`, or `error=`. [`Auth::exchange_login_code`] turns a login code
//! into a session; the native endpoints ([`Auth::sign_in_with_google`],
//! [`Auth::sign_in_with_facebook`]) take a credential a mobile SDK obtained.
//!
//! Secrets never stored: the `state` and `login_code` are kept under their SHA-256 ([`store`]),
//! and the PKCE verifier and nonce are not kept at all but derived from the `state` with a key
//! only this service has, so only the holder of the `state` and the key can finish a flow.
//! Provider calls go through one HTTP client: rustls, no redirects followed, bounded by
//! `OAUTH_TIMEOUT_MS`; no token, code or secret reaches a log line.

mod code;
mod facebook;
mod google;
pub mod store;
mod tiktok;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::throttle::Budget;
use super::{Auth, SignedIn, sessions};
use crate::config::OAuthSettings;
use crate::domain::identities::{
    self, ACCOUNT_DISABLED, LINK_REQUIRED, Linked, Profile, Provider, SignIn,
};
use crate::domain::{Error, Result, users};
use sea_orm::DatabaseConnection;

/// How long a `state` lives (AUTH.md: 10 min).
const STATE_LIFETIME: Duration = Duration::from_secs(600);
/// How long a `login_code` lives (AUTH.md: 60 s).
const LOGIN_CODE_LIFETIME: Duration = Duration::from_secs(60);
/// Flows started and native sign-ins tried per client address per minute: each keeps a
/// `state` or calls a provider, so neither can be made to grow without bound.
const ATTEMPTS_PER_ADDRESS: u32 = 60;
const ATTEMPTS_WINDOW: Duration = Duration::from_secs(60);

/// The one 400 of a callback whose `state` is missing, unknown, expired, used or another
/// provider's.
pub const UNKNOWN_STATE: &str = "state is unknown, expired or already used";
/// The one 401 of an exchange whose login code is unknown, expired or used.
pub const INVALID_LOGIN_CODE: &str = "Invalid or expired login code";
/// The one 401 of a native sign-in whose credential the provider does not vouch for.
pub const INVALID_PROVIDER_TOKEN: &str = "Invalid provider credential";
pub const PROVIDER_NOT_FOUND: &str = "Provider not found";
const REDIRECT_NOT_ALLOWED: &str = "redirect_uri must be one of the allowed redirect URIs";
const TOO_MANY_ATTEMPTS: &str = "Too many sign-in attempts from this address, try again later";

/// What came of a call to a provider that did not give a verified profile.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// It answered 5xx, timed out, redirected, or sent something unreadable.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// What it sent failed verification, or it answered 4xx.
    #[error("rejected: {0}")]
    Rejected(String),
}

impl Failure {
    /// The web flow's `?error=` for it.
    fn code(&self) -> &'static str {
        match self {
            Self::Unavailable(_) => "provider_unavailable",
            Self::Rejected(_) => "provider_error",
        }
    }

    /// The native endpoints' answer: 503 or the one 401.
    fn into_error(self) -> Error {
        match self {
            Self::Unavailable(cause) => Error::Unavailable(format!("an OAuth provider: {cause}")),
            Self::Rejected(cause) => {
                tracing::info!(%cause, "a provider credential was refused");
                Error::Unauthenticated(INVALID_PROVIDER_TOKEN)
            }
        }
    }
}

/// The providers this deployment has credentials for, and the web flow's settings.
pub struct OAuth {
    google: Option<google::Google>,
    facebook: Option<facebook::Facebook>,
    tiktok: Option<tiktok::TikTok>,
    redirect_uris: Vec<String>,
    /// `PUBLIC_BASE_URL` (or this service's address): where `/auth/oauth/:provider/callback` is.
    public_base_url: url::Url,
    /// Derives each flow's PKCE verifier and nonce from its `state`.
    key: [u8; 32],
    store: store::OneUse,
    http: reqwest::Client,
}

/// A flow in progress, kept under its `state`.
#[derive(Debug, Serialize, Deserialize)]
struct Flow {
    provider: String,
    redirect_uri: String,
    /// Set when a signed-in user links an identity instead of signing in.
    link: Option<Uuid>,
}

/// A finished web sign-in, kept under its `login_code`.
#[derive(Debug, Serialize, Deserialize)]
struct Finished {
    user: Uuid,
    created: bool,
}

/// A signed-in answer, and whether the sign-in created the account (201).
pub struct OAuthSignIn {
    pub signed_in: SignedIn,
    pub created: bool,
}

/// The query a provider sends the browser back with (its other parameters are ignored). No
/// `Debug`: it holds the code and the `state`.
#[derive(Default)]
pub struct Callback {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
}

impl OAuth {
    /// The configured providers, calling out through one client bounded by `OAUTH_TIMEOUT_MS`.
    /// `public_base_url` is used when `PUBLIC_BASE_URL` is unset.
    pub fn new(
        settings: &OAuthSettings,
        public_base_url: url::Url,
        secret: &[u8],
        store: store::OneUse,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .build()?;
        let mut derive = super::keyed(secret);
        derive.update(b"user-service oauth flows v1");
        Ok(Self {
            google: settings.google.as_ref().map(google::Google::new),
            facebook: settings.facebook.as_ref().map(facebook::Facebook::new),
            tiktok: settings.tiktok.as_ref().map(tiktok::TikTok::new),
            redirect_uris: settings.redirect_uris.clone(),
            public_base_url: settings.public_base_url.clone().unwrap_or(public_base_url),
            key: derive.finalize().into_bytes().into(),
            store,
            http,
        })
    }

    /// Whether `provider` has credentials here (else it answers 404 everywhere).
    pub fn require(&self, provider: Provider) -> Result<()> {
        match provider {
            Provider::Google => self.google().map(drop),
            Provider::Facebook => self.facebook().map(drop),
            Provider::Tiktok => self.tiktok().map(drop),
        }
    }

    /// Where `provider` sends the browser back: `PUBLIC_BASE_URL` + the callback path.
    fn callback_url(&self, provider: Provider) -> url::Url {
        let path = format!("auth/oauth/{}/callback", provider.as_str());
        under(&self.public_base_url, &path)
    }

    /// A secret of this flow, derived from its `state`: its PKCE verifier (43 characters of
    /// base64url, within RFC 7636's 43-128) or its nonce.
    fn derive(&self, purpose: &[u8], state: &str) -> String {
        let mut mac = super::keyed(&self.key);
        mac.update(purpose);
        mac.update(b":");
        mac.update(state.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// 404 for a provider without credentials, 400 for a `redirect_uri` not on the list.
    fn check_start(&self, provider: Provider, redirect_uri: &str) -> Result<()> {
        self.require(provider)?;
        if !self
            .redirect_uris
            .iter()
            .any(|allowed| allowed == redirect_uri)
        {
            return Err(Error::invalid(REDIRECT_NOT_ALLOWED));
        }
        Ok(())
    }

    /// Starts a checked web flow for `provider` returning to `redirect_uri` (linking to `link`
    /// when given): keeps a new `state` and answers the provider's authorization URL.
    async fn start(
        &self,
        provider: Provider,
        redirect_uri: &str,
        link: Option<Uuid>,
    ) -> Result<url::Url> {
        let state = super::random_token();
        let flow = Flow {
            provider: provider.as_str().to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            link,
        };
        let flow =
            serde_json::to_string(&flow).map_err(|error| Error::Internal(error.to_string()))?;
        self.store
            .put("state", &state, &flow, STATE_LIFETIME)
            .await?;
        let verifier = self.derive(b"pkce", &state);
        let nonce = self.derive(b"nonce", &state);
        let callback = self.callback_url(provider);
        Ok(match provider {
            Provider::Google => self
                .google()?
                .authorize_url(&callback, &state, &verifier, &nonce),
            Provider::Facebook => self.facebook()?.authorize_url(&callback, &state, &verifier),
            Provider::Tiktok => self.tiktok()?.authorize_url(&callback, &state, &verifier),
        })
    }

    /// The profile the provider vouches for, given the code of the flow with `state`.
    async fn profile_from_code(
        &self,
        provider: Provider,
        code: &str,
        state: &str,
    ) -> Result<Profile, Failure> {
        let verifier = self.derive(b"pkce", state);
        let callback = self.callback_url(provider);
        let gone =
            |_| Failure::Unavailable(format!("{} is no longer configured", provider.as_str()));
        match provider {
            Provider::Google => {
                let nonce = self.derive(b"nonce", state);
                let google = self.google().map_err(gone)?;
                google
                    .profile_for_code(&self.http, code, &callback, &verifier, &nonce)
                    .await
            }
            Provider::Facebook => {
                let facebook = self.facebook().map_err(gone)?;
                facebook
                    .profile_for_code(&self.http, code, &callback, &verifier)
                    .await
            }
            Provider::Tiktok => {
                let tiktok = self.tiktok().map_err(gone)?;
                tiktok
                    .profile_for_code(&self.http, code, &callback, &verifier)
                    .await
            }
        }
    }

    fn google(&self) -> Result<&google::Google> {
        self.google
            .as_ref()
            .ok_or(Error::NotFound(PROVIDER_NOT_FOUND))
    }

    fn facebook(&self) -> Result<&facebook::Facebook> {
        self.facebook
            .as_ref()
            .ok_or(Error::NotFound(PROVIDER_NOT_FOUND))
    }

    fn tiktok(&self) -> Result<&tiktok::TikTok> {
        self.tiktok
            .as_ref()
            .ok_or(Error::NotFound(PROVIDER_NOT_FOUND))
    }
}

impl Auth {
    /// `GET /auth/oauth/:provider/start`: the provider's authorization URL for a sign-in that
    /// returns to `redirect_uri`.
    pub async fn start_oauth(
        &self,
        provider: Provider,
        redirect_uri: &str,
        client: &sessions::Client,
    ) -> Result<url::Url> {
        self.begin_flow(provider, redirect_uri, None, client).await
    }

    /// `POST /auth/identities/:provider`: the same for linking an identity to `user_id`.
    pub async fn start_link(
        &self,
        provider: Provider,
        redirect_uri: &str,
        user_id: Uuid,
        client: &sessions::Client,
    ) -> Result<url::Url> {
        self.begin_flow(provider, redirect_uri, Some(user_id), client)
            .await
    }

    /// Checks the request, then takes a place in the address's budget, then starts the flow.
    async fn begin_flow(
        &self,
        provider: Provider,
        redirect_uri: &str,
        link: Option<Uuid>,
        client: &sessions::Client,
    ) -> Result<url::Url> {
        self.oauth.check_start(provider, redirect_uri)?;
        self.oauth_attempt(client).await?;
        self.oauth.start(provider, redirect_uri, link).await
    }

    /// `GET /auth/oauth/:provider/callback`: where to send the browser. A missing, unknown,
    /// expired, used or other provider's `state` is a 400 with no redirect; everything after
    /// it is told to the app through its `redirect_uri`.
    pub async fn oauth_callback(
        &self,
        db: &DatabaseConnection,
        provider: Provider,
        callback: Callback,
    ) -> Result<url::Url> {
        self.oauth.require(provider)?;
        let unknown = || Error::invalid(UNKNOWN_STATE);
        let state = callback.state.ok_or_else(unknown)?;
        let flow = self
            .oauth
            .store
            .take("state", &state)
            .await?
            .ok_or_else(unknown)?;
        let flow: Flow = serde_json::from_str(&flow).map_err(|_| unknown())?;
        if flow.provider != provider.as_str() {
            return Err(unknown());
        }
        let back = |key: &str, value: &str| with_query(&flow.redirect_uri, key, value);
        if let Some(error) = callback.error {
            let code = if error == "access_denied" {
                "access_denied"
            } else {
                "provider_error"
            };
            return back("error", code);
        }
        let Some(code) = callback.code else {
            return back("error", "provider_error");
        };
        let profile = match self.oauth.profile_from_code(provider, &code, &state).await {
            Ok(profile) => profile,
            Err(failure) => {
                let code = failure.code();
                tracing::warn!(
                    provider = provider.as_str(),
                    ?failure,
                    "an OAuth sign-in failed at the provider"
                );
                return back("error", code);
            }
        };
        if let Some(user) = flow.link {
            return match identities::link(db, user, &profile).await {
                Ok(Linked::Yours) => back("linked", provider.as_str()),
                // `Conflict`: another account linked it at the same moment.
                Ok(Linked::InUse) | Err(Error::Conflict(_)) => back("error", "identity_in_use"),
                Err(Error::Unauthenticated(_)) => back("error", ACCOUNT_DISABLED),
                Err(error) => Err(error),
            };
        }
        let (user, created) = match identities::sign_in(db, &profile).await {
            Ok(SignIn::Existing(user)) => (user, false),
            Ok(SignIn::Created(user)) => (user, true),
            Err(Error::Conflict(_)) => return back("error", LINK_REQUIRED),
            Err(Error::Unauthenticated(_)) => return back("error", ACCOUNT_DISABLED),
            Err(error) => return Err(error),
        };
        let login_code = super::random_token();
        let finished = Finished {
            user: user.id,
            created,
        };
        let finished =
            serde_json::to_string(&finished).map_err(|error| Error::Internal(error.to_string()))?;
        self.oauth
            .store
            .put("login", &login_code, &finished, LOGIN_CODE_LIFETIME)
            .await?;
        back("login_code", &login_code)
    }

    /// `POST /auth/oauth/exchange`: the session of a finished web sign-in; one use.
    pub async fn exchange_login_code(
        &self,
        db: &DatabaseConnection,
        login_code: &str,
        client: &sessions::Client,
    ) -> Result<OAuthSignIn> {
        let invalid = || Error::Unauthenticated(INVALID_LOGIN_CODE);
        let finished = self
            .oauth
            .store
            .take("login", login_code)
            .await?
            .ok_or_else(invalid)?;
        let finished: Finished = serde_json::from_str(&finished).map_err(|_| invalid())?;
        let user = users::find_active(db, finished.user)
            .await?
            .ok_or_else(invalid)?;
        let issued = self.sessions.start(db, user.id, client).await?;
        Ok(OAuthSignIn {
            signed_in: self.signed_in(user, issued)?,
            created: finished.created,
        })
    }

    /// `POST /auth/oauth/google/token`: signs in with an `id_token` a Google SDK obtained.
    pub async fn sign_in_with_google(
        &self,
        db: &DatabaseConnection,
        id_token: &str,
        client: &sessions::Client,
    ) -> Result<OAuthSignIn> {
        let google = self.oauth.google()?;
        self.oauth_attempt(client).await?;
        let profile = google
            .verify(&self.oauth.http, id_token, None)
            .await
            .map_err(Failure::into_error)?;
        self.native_sign_in(db, &profile, client).await
    }

    /// `POST /auth/oauth/facebook/token`: signs in with an access token a Facebook SDK
    /// obtained for this app (checked with `debug_token`).
    pub async fn sign_in_with_facebook(
        &self,
        db: &DatabaseConnection,
        access_token: &str,
        client: &sessions::Client,
    ) -> Result<OAuthSignIn> {
        let facebook = self.oauth.facebook()?;
        self.oauth_attempt(client).await?;
        let profile = facebook
            .profile_for_sdk_token(&self.oauth.http, access_token)
            .await
            .map_err(Failure::into_error)?;
        self.native_sign_in(db, &profile, client).await
    }

    async fn native_sign_in(
        &self,
        db: &DatabaseConnection,
        profile: &Profile,
        client: &sessions::Client,
    ) -> Result<OAuthSignIn> {
        let (user, created) = match identities::sign_in(db, profile).await? {
            SignIn::Existing(user) => (user, false),
            SignIn::Created(user) => (user, true),
        };
        let issued = self.sessions.start(db, user.id, client).await?;
        Ok(OAuthSignIn {
            signed_in: self.signed_in(user, issued)?,
            created,
        })
    }

    /// One place in the address's budget of flows and native sign-ins.
    async fn oauth_attempt(&self, client: &sessions::Client) -> Result<()> {
        let budgets = [Budget {
            key: format!("oauth:address:{}", client.address),
            limit: ATTEMPTS_PER_ADDRESS,
            window: ATTEMPTS_WINDOW,
        }];
        self.admit(&budgets, TOO_MANY_ATTEMPTS)
            .await?
            .settle(true)
            .await;
        Ok(())
    }
}

/// `path` under `root`'s path (a versioned API root, or `PUBLIC_BASE_URL`), without a query.
fn under(root: &url::Url, path: &str) -> url::Url {
    let mut url = root.clone();
    let joined = format!("{}/{path}", root.path().trim_end_matches('/'));
    url.set_path(&joined);
    url.set_query(None);
    url
}

/// `uri` with `key=value` added to its query.
fn with_query(uri: &str, key: &str, value: &str) -> Result<url::Url> {
    let mut url = url::Url::parse(uri).map_err(|error| Error::Internal(error.to_string()))?;
    url.query_pairs_mut().append_pair(key, value);
    Ok(url)
}

/// Sends a request to a provider and reads its JSON answer: a 4xx is `Rejected`; a 5xx, a
/// redirect, a timeout or an unreadable body is `Unavailable`. Errors never carry the URL
/// (it may hold a token) or the body.
async fn fetch_json<T: DeserializeOwned>(
    request: reqwest::RequestBuilder,
    what: &str,
) -> Result<T, Failure> {
    let response = request
        .send()
        .await
        .map_err(|error| Failure::Unavailable(format!("{what}: {}", error.without_url())))?;
    let status = response.status();
    if status.is_client_error() {
        return Err(Failure::Rejected(format!("{what} answered {status}")));
    }
    if !status.is_success() {
        return Err(Failure::Unavailable(format!("{what} answered {status}")));
    }
    let body = response
        .bytes()
        .await
        .map_err(|error| Failure::Unavailable(format!("{what}: {}", error.without_url())))?;
    serde_json::from_slice(&body).map_err(|error| unreadable(what, &error))
}

/// An unreadable answer, described without quoting it.
fn unreadable(what: &str, error: &serde_json::Error) -> Failure {
    Failure::Unavailable(format!(
        "{what} sent an unreadable answer ({:?} at line {}, column {})",
        error.classify(),
        error.line(),
        error.column()
    ))
}

/// oauth2's HTTP client: the service's reqwest client, where a 5xx or a redirect is
/// `Unavailable`, a 4xx whose body is not JSON is `Rejected`, and any other 4xx goes to oauth2
/// to read as the provider's error (`Rejected` too).
pub struct TokenEndpoint<'a>(pub &'a reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for TokenEndpoint<'_> {
    type Error = Failure;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<oauth2::HttpResponse, Failure>> + Send + Sync + 'c>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(send_for_oauth2(self.0, request))
    }
}

async fn send_for_oauth2(
    http: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, Failure> {
    let what = "the token endpoint";
    let unreachable =
        |error: reqwest::Error| Failure::Unavailable(format!("{what}: {}", error.without_url()));
    let (parts, body) = request.into_parts();
    let response = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(unreachable)?;
    let status = response.status();
    if status.is_server_error() || status.is_redirection() {
        return Err(Failure::Unavailable(format!("{what} answered {status}")));
    }
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(unreachable)?;
    if status.is_client_error() && serde_json::from_slice::<serde_json::Value>(&body).is_err() {
        return Err(Failure::Rejected(format!("{what} answered {status}")));
    }
    let mut answer = oauth2::HttpResponse::new(body.to_vec());
    *answer.status_mut() = status;
    *answer.headers_mut() = headers;
    Ok(answer)
}

/// What an oauth2 code exchange came to, as a [`Failure`] (never quoting the answer).
fn token_failure<T: oauth2::ErrorResponse + 'static>(
    error: oauth2::RequestTokenError<Failure, T>,
) -> Failure {
    match error {
        oauth2::RequestTokenError::Request(failure) => failure,
        oauth2::RequestTokenError::ServerResponse(error) => {
            Failure::Rejected(format!("the token endpoint refused the code: {error}"))
        }
        oauth2::RequestTokenError::Parse(error, _) => Failure::Unavailable(format!(
            "the token endpoint sent an unreadable answer at {}",
            error.path()
        )),
        oauth2::RequestTokenError::Other(error) => Failure::Unavailable(error),
    }
}
