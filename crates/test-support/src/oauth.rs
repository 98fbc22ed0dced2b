//! A fake OAuth provider: one real HTTP server on 127.0.0.1 that speaks the endpoints the
//! service calls at Google (authorize, token, JWKS), Facebook (dialog, `oauth/access_token`,
//! `/me`, `debug_token`) and TikTok (authorize, `oauth/token/`, `user/info/`), checking what
//! their documentation says they check (client credentials, the redirect URI, PKCE in each
//! provider's form, `appsecret_proof`, one use per code). It can deny, fail, hang, redirect,
//! and sign bad `id_token`s (a foreign key, a wrong `aud`, `iss` or `nonce`, expired), and it
//! rotates its signing key on demand. `GET /app` stands in for the app's page.
//!
//! The test keys in `keys/` are throwaway RSA keys made for these tests; nothing else trusts
//! them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Query, RawForm, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub const GOOGLE_CLIENT_ID: &str = "fake-google-client.apps.googleusercontent.com";
pub const GOOGLE_CLIENT_SECRET: &str = "fake-google-secret";
pub const FACEBOOK_APP_ID: &str = "100000000000001";
pub const FACEBOOK_APP_SECRET: &str = "fake-facebook-secret";
pub const TIKTOK_CLIENT_KEY: &str = "fakeTikTokClientKey";
pub const TIKTOK_CLIENT_SECRET: &str = "fake-tiktok-secret";
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

const KEYS: [&[u8]; 2] = [
    include_bytes!("../keys/fake-oauth-1.der"),
    include_bytes!("../keys/fake-oauth-2.der"),
];
const FOREIGN_KEY: &[u8] = include_bytes!("../keys/foreign.der");

/// How the provider's server-to-server endpoints (token, JWKS, `/me`, `debug_token`,
/// `user/info/`) answer; the authorization pages follow `deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Accept,
    /// Answer with this status and a body that is not the provider's.
    Fail(u16),
    /// Never answer.
    Hang,
    /// Answer 302 somewhere else.
    Redirect,
}

/// What is wrong with the `id_token`s it signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    None,
    /// Signed with a key the JWKS does not hold, under a `kid` it does.
    ForeignKey,
    WrongAudience,
    WrongIssuer,
    WrongNonce,
    Expired,
}

/// The person signing in at the provider.
#[derive(Debug, Clone)]
pub struct Person {
    pub subject: String,
    pub name: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub picture: Option<String>,
}

impl Person {
    /// A new person with a unique subject and email, verified.
    pub fn new() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self {
            subject: id[..21].to_owned(),
            name: "Jane Provider".to_owned(),
            email: Some(format!("jane-{id}@example.com")),
            email_verified: true,
            picture: Some(format!("https://pictures.example.com/{id}.jpg")),
        }
    }
}

impl Default for Person {
    fn default() -> Self {
        Self::new()
    }
}

/// A code the authorization page gave out, with what it was bound to.
#[derive(Debug, Clone)]
struct Grant {
    provider: &'static str,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
    person: Person,
}

/// One request to a server-to-server endpoint: its path, query and form.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub query: HashMap<String, String>,
    pub form: HashMap<String, String>,
    pub authorization: Option<String>,
}

#[derive(Debug)]
struct Provider {
    mode: Mode,
    deny: bool,
    flaw: Flaw,
    person: Person,
    key: usize,
    grants: HashMap<String, Grant>,
    /// Access tokens: the app they were issued to and whose they are.
    tokens: HashMap<String, (String, Person)>,
    received: Vec<Received>,
}

type Shared = Arc<Mutex<Provider>>;

pub struct FakeProvider {
    /// The server's root, `http://127.0.0.1:<port>`.
    pub url: String,
    provider: Shared,
    server: JoinHandle<()>,
}

impl FakeProvider {
    /// A provider that accepts, on a free port.
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// A provider that accepts, on `port` of 127.0.0.1 (0: a free one).
    pub async fn start_on(port: u16) -> Self {
        let provider: Shared = Arc::new(Mutex::new(Provider {
            mode: Mode::Accept,
            deny: false,
            flaw: Flaw::None,
            person: Person::new(),
            key: 0,
            grants: HashMap::new(),
            tokens: HashMap::new(),
            received: Vec::new(),
        }));
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap_or_else(|error| panic!("fake OAuth provider: {error}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|error| panic!("fake OAuth provider: {error}"))
            .port();
        let app = Router::new()
            .route("/google/authorize", get(google_authorize))
            .route("/google/token", axum::routing::post(google_token))
            .route("/google/jwks", get(jwks))
            .route("/facebook/dialog", get(facebook_dialog))
            .route(
                "/facebook/graph/oauth/access_token",
                get(facebook_token).post(facebook_token),
            )
            .route("/facebook/graph/me", get(facebook_me))
            .route("/facebook/graph/debug_token", get(debug_token))
            .route("/tiktok/authorize/", get(tiktok_authorize))
            .route(
                "/tiktok/api/oauth/token/",
                axum::routing::post(tiktok_token),
            )
            .route("/tiktok/api/user/info/", get(tiktok_user_info))
            .route("/app", get(app_page))
            .with_state(provider.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://127.0.0.1:{port}"),
            provider,
            server,
        }
    }

    /// The stand-in for the app's page, the one allowed `redirect_uri`.
    pub fn app_url(&self) -> String {
        format!("{}/app", self.url)
    }

    /// The service's settings that make all three providers this one.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let url = &self.url;
        vec![
            ("GOOGLE_CLIENT_ID", GOOGLE_CLIENT_ID.to_owned()),
            ("GOOGLE_CLIENT_SECRET", GOOGLE_CLIENT_SECRET.to_owned()),
            ("GOOGLE_AUTH_URL", format!("{url}/google/authorize")),
            ("GOOGLE_TOKEN_URL", format!("{url}/google/token")),
            ("GOOGLE_JWKS_URL", format!("{url}/google/jwks")),
            ("FACEBOOK_APP_ID", FACEBOOK_APP_ID.to_owned()),
            ("FACEBOOK_APP_SECRET", FACEBOOK_APP_SECRET.to_owned()),
            ("FACEBOOK_DIALOG_URL", format!("{url}/facebook/dialog")),
            ("FACEBOOK_GRAPH_URL", format!("{url}/facebook/graph")),
            ("TIKTOK_CLIENT_KEY", TIKTOK_CLIENT_KEY.to_owned()),
            ("TIKTOK_CLIENT_SECRET", TIKTOK_CLIENT_SECRET.to_owned()),
            ("TIKTOK_AUTH_URL", format!("{url}/tiktok/authorize/")),
            ("TIKTOK_API_URL", format!("{url}/tiktok/api")),
            ("OAUTH_REDIRECT_URIS", self.app_url()),
            ("OAUTH_TIMEOUT_MS", "1000".to_owned()),
        ]
    }

    pub fn set_mode(&self, mode: Mode) {
        lock(&self.provider).mode = mode;
    }

    /// Whether the authorization pages answer `access_denied` (the user declined).
    pub fn set_deny(&self, deny: bool) {
        lock(&self.provider).deny = deny;
    }

    pub fn set_flaw(&self, flaw: Flaw) {
        lock(&self.provider).flaw = flaw;
    }

    /// Who signs in from now on.
    pub fn sign_in_as(&self, person: &Person) {
        lock(&self.provider).person = person.clone();
    }

    /// Signs with the next key (and publishes only it), as Google does when it rotates.
    pub fn rotate_key(&self) {
        let mut provider = lock(&self.provider);
        provider.key = (provider.key + 1) % KEYS.len();
    }

    /// Every server-to-server request received, oldest first.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.provider).received.clone()
    }

    /// An `id_token` for the current person, as Google's SDK would hand it to an app (no
    /// nonce), with the current flaw.
    pub fn google_id_token(&self) -> String {
        let provider = lock(&self.provider);
        sign_id_token(&provider, &provider.person, None)
    }

    /// A user access token for the current person, issued to `app_id`.
    pub fn facebook_token_for(&self, app_id: &str) -> String {
        let token = format!("EAAfake{}", uuid::Uuid::new_v4().simple());
        let mut provider = lock(&self.provider);
        let person = provider.person.clone();
        provider
            .tokens
            .insert(token.clone(), (app_id.to_owned(), person));
        token
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock(provider: &Shared) -> MutexGuard<'_, Provider> {
    provider
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

fn kid(index: usize) -> String {
    format!("fake-key-{}", index + 1)
}

fn sign_id_token(provider: &Provider, person: &Person, nonce: Option<&str>) -> String {
    let flaw = provider.flaw;
    let issued = if flaw == Flaw::Expired {
        now() - 7200
    } else {
        now()
    };
    let mut claims = json!({
        "iss": if flaw == Flaw::WrongIssuer { "https://accounts.example.com" } else { GOOGLE_ISSUER },
        "azp": GOOGLE_CLIENT_ID,
        "aud": if flaw == Flaw::WrongAudience { "someone-else.apps.googleusercontent.com" } else { GOOGLE_CLIENT_ID },
        "sub": person.subject,
        "iat": issued,
        "exp": issued + 3600,
        "name": person.name,
    });
    if let Some(email) = &person.email {
        claims["email"] = json!(email);
        claims["email_verified"] = json!(person.email_verified);
    }
    if let Some(picture) = &person.picture {
        claims["picture"] = json!(picture);
    }
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(if flaw == Flaw::WrongNonce {
            "another-flow's-nonce"
        } else {
            nonce
        });
    }
    let der = if flaw == Flaw::ForeignKey {
        FOREIGN_KEY
    } else {
        KEYS[provider.key]
    };
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid(provider.key));
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_der(der))
        .unwrap_or_else(|error| panic!("signing an id_token: {error}"))
}

/// The answer the current mode gives instead of the real one, if any.
async fn fault(provider: &Shared, received: Received) -> Option<Response> {
    let mode = {
        let mut provider = lock(provider);
        provider.received.push(received);
        provider.mode
    };
    match mode {
        Mode::Accept => None,
        Mode::Fail(status) => Some(
            (
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                "<html>the provider is having a bad day</html>",
            )
                .into_response(),
        ),
        Mode::Hang => {
            std::future::pending::<()>().await;
            None
        }
        Mode::Redirect => Some(
            (
                StatusCode::FOUND,
                [(header::LOCATION, "https://elsewhere.example.com/")],
            )
                .into_response(),
        ),
    }
}

fn received(
    path: &str,
    query: &HashMap<String, String>,
    form: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Received {
    Received {
        path: path.to_owned(),
        query: query.clone(),
        form: form.clone(),
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
    }
}

fn parse_form(form: &RawForm) -> HashMap<String, String> {
    form_urlencoded::parse(&form.0).into_owned().collect()
}

fn bad_request(what: &str) -> Response {
    (StatusCode::BAD_REQUEST, what.to_owned()).into_response()
}

fn redirect_to(uri: &str, pairs: &[(&str, &str)]) -> Response {
    let mut url = match url::Url::parse(uri) {
        Ok(url) => url,
        Err(_) => return bad_request("redirect_uri is not a URL"),
    };
    url.query_pairs_mut().extend_pairs(pairs);
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

/// The common part of the three authorization pages: check, then send the browser back with
/// a code (or `access_denied`).
fn authorize(
    shared: &Shared,
    provider_name: &'static str,
    query: &HashMap<String, String>,
    client_param: &str,
    client_id: &str,
    scope: &str,
) -> Response {
    let param = |name: &str| query.get(name).map(String::as_str).unwrap_or("");
    if param(client_param) != client_id {
        return bad_request(&format!("unknown {client_param}"));
    }
    if param("response_type") != "code" || param("code_challenge_method") != "S256" {
        return bad_request("response_type=code and code_challenge_method=S256 are required");
    }
    if !param("scope").split([' ', ',']).any(|given| given == scope) {
        return bad_request(&format!("scope must include {scope}"));
    }
    let (redirect_uri, state) = (param("redirect_uri"), param("state"));
    if redirect_uri.is_empty() || state.is_empty() || param("code_challenge").is_empty() {
        return bad_request("redirect_uri, state and code_challenge are required");
    }
    let mut provider = lock(shared);
    if provider.deny {
        return redirect_to(
            redirect_uri,
            &[
                ("error", "access_denied"),
                ("error_reason", "user_denied"),
                ("state", state),
            ],
        );
    }
    let code = format!("code-{}", uuid::Uuid::new_v4().simple());
    let grant = Grant {
        provider: provider_name,
        redirect_uri: redirect_uri.to_owned(),
        challenge: param("code_challenge").to_owned(),
        nonce: query.get("nonce").cloned(),
        person: provider.person.clone(),
    };
    provider.grants.insert(code.clone(), grant);
    // Providers add parameters of their own; the service must ignore them.
    redirect_to(
        redirect_uri,
        &[("code", &code), ("state", state), ("scope", scope)],
    )
}

/// Takes the grant of `code` (one use) if `form` matches it: the provider, the redirect URI and
/// the PKCE verifier (`challenge` says how a verifier becomes its challenge).
fn redeem(
    shared: &Shared,
    provider_name: &str,
    form: &HashMap<String, String>,
    challenge: fn(&str) -> String,
) -> Result<Grant, &'static str> {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    let grant = lock(shared)
        .grants
        .remove(field("code"))
        .ok_or("unknown or used code")?;
    if grant.provider != provider_name || grant.redirect_uri != field("redirect_uri") {
        return Err("redirect_uri does not match");
    }
    if challenge(field("code_verifier")) != grant.challenge {
        return Err("code_verifier does not match the code_challenge");
    }
    Ok(grant)
}

fn base64url_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn hex_challenge(verifier: &str) -> String {
    hex::encode(Sha256::digest(verifier.as_bytes()))
}

fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn google_authorize(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if query.get("nonce").is_none_or(String::is_empty) {
        return bad_request("nonce is required");
    }
    authorize(
        &shared,
        "google",
        &query,
        "client_id",
        GOOGLE_CLIENT_ID,
        "openid",
    )
}

async fn google_token(State(shared): State<Shared>, headers: HeaderMap, form: RawForm) -> Response {
    let form = parse_form(&form);
    let seen = received("/google/token", &HashMap::new(), &form, &headers);
    if let Some(fault) = fault(&shared, seen).await {
        return fault;
    }
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    if field("client_id") != GOOGLE_CLIENT_ID || field("client_secret") != GOOGLE_CLIENT_SECRET {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    if field("grant_type") != "authorization_code" {
        return oauth_error("unsupported_grant_type", "authorization_code only");
    }
    let grant = match redeem(&shared, "google", &form, base64url_challenge) {
        Ok(grant) => grant,
        Err(why) => return oauth_error("invalid_grant", why),
    };
    let id_token = sign_id_token(&lock(&shared), &grant.person, grant.nonce.as_deref());
    Json(json!({
        "access_token": format!("ya29.fake{}", uuid::Uuid::new_v4().simple()),
        "expires_in": 3599,
        "token_type": "Bearer",
        "scope": "openid email profile",
        "id_token": id_token,
    }))
    .into_response()
}

async fn jwks(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let seen = received("/google/jwks", &HashMap::new(), &HashMap::new(), &headers);
    if let Some(fault) = fault(&shared, seen).await {
        return fault;
    }
    let index = lock(&shared).key;
    let key = EncodingKey::from_rsa_der(KEYS[index]);
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256)
        .unwrap_or_else(|error| panic!("the test key's JWK: {error}"));
    jwk.common.key_id = Some(kid(index));
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk.common.key_algorithm = Some(KeyAlgorithm::RS256);
    Json(JwkSet { keys: vec![jwk] }).into_response()
}

async fn facebook_dialog(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    authorize(
        &shared,
        "facebook",
        &query,
        "client_id",
        FACEBOOK_APP_ID,
        "email",
    )
}

async fn facebook_token(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    form: RawForm,
) -> Response {
    // Graph takes the parameters in the query or the form alike.
    let mut form = parse_form(&form);
    form.extend(query.clone());
    let seen = received(
        "/facebook/graph/oauth/access_token",
        &query,
        &form,
        &headers,
    );
    if let Some(fault) = fault(&shared, seen).await {
        return fault;
    }
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    if field("client_id") != FACEBOOK_APP_ID || field("client_secret") != FACEBOOK_APP_SECRET {
        return graph_error(101, "Error validating application.");
    }
    let grant = match redeem(&shared, "facebook", &form, base64url_challenge) {
        Ok(grant) => grant,
        Err(why) => return graph_error(100, why),
    };
    let token = format!("EAAfake{}", uuid::Uuid::new_v4().simple());
    lock(&shared)
        .tokens
        .insert(token.clone(), (FACEBOOK_APP_ID.to_owned(), grant.person));
    Json(json!({"access_token": token, "token_type": "bearer", "expires_in": 5_183_944}))
        .into_response()
}

fn graph_error(code: u32, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "FakeTrace"}})),
    )
        .into_response()
}

/// The token a Graph request carries: `Authorization: Bearer`, or `access_token`.
fn graph_token(query: &HashMap<String, String>, headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_owned)
        .or_else(|| query.get("access_token").cloned())
}

async fn facebook_me(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let seen = received("/facebook/graph/me", &query, &HashMap::new(), &headers);
    if let Some(fault) = fault(&shared, seen).await {
        return fault;
    }
    let Some(token) = graph_token(&query, &headers) else {
        return graph_error(2500, "An active access token must be used.");
    };
    let Some((_, person)) = lock(&shared).tokens.get(&token).cloned() else {
        return graph_error(190, "Invalid OAuth access token.");
    };
    let mut proof = <Hmac<Sha256>>::new_from_slice(FACEBOOK_APP_SECRET.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    proof.update(token.as_bytes());
    if query.get("appsecret_proof") != Some(&hex::encode(proof.finalize().into_bytes())) {
        return graph_error(100, "Invalid appsecret_proof provided in the API argument");
    }
    let fields = query.get("fields").map(String::as_str).unwrap_or("id,name");
    let mut me = json!({"id": person.subject});
    if fields.contains("name") {
        me["name"] = json!(person.name);
    }
    if fields.contains("email")
        && let Some(email) = &person.email
    {
        me["email"] = json!(email);
    }
    if fields.contains("picture")
        && let Some(picture) = &person.picture
    {
        me["picture"] =
            json!({"data": {"height": 50, "is_silhouette": false, "url": picture, "width": 50}});
    }
    Json(me).into_response()
}

async fn debug_token(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let seen = received(
        "/facebook/graph/debug_token",
        &query,
        &HashMap::new(),
        &headers,
    );
    if let Some(fault) = fault(&shared, seen).await {
        return fault;
    }
    let app_token = format!("{FACEBOOK_APP_ID}|{FACEBOOK_APP_SECRET}");
    if graph_token(&query, &headers).as_deref() != Some(app_token.as_str()) {
        return graph_error(
            190,
            "Invalid OAuth access token - Cannot parse access token",
        );
    }
    let input = query.get("input_token").cloned().unwrap_or_default();
    let data = match lock(&shared).tokens.get(&input) {
        Some((app_id, person)) => json!({
            "app_id": app_id, "type": "USER", "application": "Fake app",
            "data_access_expires_at": now() + 7_776_000, "expires_at": now() + 5_183_944,
            "is_valid": true, "scopes": ["email", "public_profile"], "user_id": person.subject,
        }),
        None => json!({
            "is_valid": false,
            "error": {"code": 190, "message": "Invalid OAuth access token.", "subcode": 0},
            "scopes": [],
        }),
    };
    Json(json!({"data": data})).into_response()
}

async fn tiktok_authorize(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    authorize(
        &shared,
        "tiktok",
        &query,
        "client_key",
        TIKTOK_CLIENT_KEY,
        "user.info.basic",
    )
}

async fn tiktok_token(State(shared): State<Shared>, headers: HeaderMap, form: RawForm) -> Response {
    let form = parse_form(&form);
    let seen = received("/tiktok/api/oauth/token/", &HashMap::new(), &form, &headers);
    if let Some(fault) = fault(&shared, seen).await {
        return fault;
    }
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    let tiktok_error = |error: &str, description: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": error, "error_description": description, "log_id": "fake-log"})),
        )
            .into_response()
    };
    if field("client_key") != TIKTOK_CLIENT_KEY || field("client_secret") != TIKTOK_CLIENT_SECRET {
        return tiktok_error("invalid_client", "client_key or client_secret is wrong");
    }
    if field("grant_type") != "authorization_code" {
        return tiktok_error("invalid_grant", "authorization_code only");
    }
    let grant = match redeem(&shared, "tiktok", &form, hex_challenge) {
        Ok(grant) => grant,
        Err(why) => return tiktok_error("invalid_grant", why),
    };
    let token = format!("act.fake{}", uuid::Uuid::new_v4().simple());
    let open_id = grant.person.subject.clone();
    lock(&shared)
        .tokens
        .insert(token.clone(), (TIKTOK_CLIENT_KEY.to_owned(), grant.person));
    Json(json!({
        "access_token": token, "expires_in": 86400, "open_id": open_id,
        "refresh_expires_in": 31_536_000, "refresh_token": "rft.fake",
        "scope": "user.info.basic", "token_type": "Bearer",
    }))
    .into_response()
}

async fn tiktok_user_info(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let seen = received("/tiktok/api/user/info/", &query, &HashMap::new(), &headers);
    if let Some(fault) = fault(&shared, seen).await {
        return fault;
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_owned)
        .unwrap_or_default();
    let Some((_, person)) = lock(&shared).tokens.get(&bearer).cloned() else {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"code": "access_token_invalid", "message": "The access token is invalid or not found in the request.", "log_id": "fake-log"}})),
        )
            .into_response();
    };
    Json(json!({
        "data": {"user": {
            "open_id": person.subject,
            "union_id": format!("union-{}", person.subject),
            "avatar_url": person.picture,
            "display_name": person.name,
        }},
        "error": {"code": "ok", "message": "", "log_id": "fake-log"},
    }))
    .into_response()
}

/// The app's page: shows what the service sent the browser back with.
async fn app_page(Query(query): Query<HashMap<String, String>>) -> Response {
    let mut lines: Vec<String> = query
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    lines.sort();
    let body = format!(
        "The app page (fake). The service sent the browser back with:\n\n{}\n\nWith a login_code, sign in:\n\ncurl -s -X POST http://localhost:4001/auth/oauth/exchange -H 'Content-Type: application/json' -d '{{\"login_code\": \"…\"}}'\n",
        lines.join("\n")
    );
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}
