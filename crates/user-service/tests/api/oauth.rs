//! Sign-in with Google, Facebook and TikTok (AUTH.md, "Google, Facebook, TikTok"), driven
//! through real HTTP against `test_support::oauth::FakeProvider`, which speaks the three
//! providers' endpoints and checks what they check (client credentials, redirect URI, PKCE in
//! each provider's form, `appsecret_proof`, single-use codes). On both backends; flows in Redis
//! in `oauth_flows_in_redis_*` and across replicas in `replicas.rs`.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use shared::entities::{user, user_identity};
use test_support::http::error;
use test_support::oauth::{FACEBOOK_APP_ID, FakeProvider, Flaw, Mode, Person};
use test_support::{TestDatabase, on_both_backends};

use crate::helpers::TestApp;

on_both_backends!(
    a_google_web_sign_in_creates_the_account_with_201_then_signs_it_in_with_200,
    a_facebook_web_sign_in_never_stores_the_email,
    a_tiktok_web_sign_in_speaks_login_kit_v2,
    a_login_code_signs_in_once,
    a_state_is_single_use_and_bound_to_its_provider,
    start_refuses_a_redirect_uri_that_is_not_allowed,
    an_unknown_or_unconfigured_provider_answers_404_everywhere,
    a_declined_consent_returns_access_denied,
    a_provider_that_fails_hangs_or_redirects_returns_provider_unavailable,
    an_id_token_that_fails_verification_returns_provider_error,
    google_keys_are_fetched_again_for_an_unknown_kid,
    a_native_google_id_token_signs_in_and_a_bad_one_answers_401,
    a_native_facebook_token_must_be_valid_and_this_apps,
    a_provider_down_answers_503_on_the_native_endpoints,
    an_email_verified_on_both_sides_links_the_identity,
    any_other_email_collision_is_link_required_and_never_a_second_account,
    an_inactive_account_is_account_disabled,
    a_signed_in_user_links_an_identity_and_lists_it,
    linking_someone_elses_identity_returns_identity_in_use,
    an_identity_is_never_the_last_way_in_to_be_unlinked,
    a_phone_account_with_an_identity_may_clear_its_number,
);

/// The app with all three providers pointing at a fake one, and a browser that does not follow
/// redirects (each hop is checked).
struct OAuthApp {
    app: TestApp,
    fake: FakeProvider,
    browser: reqwest::Client,
}

impl OAuthApp {
    async fn spawn(database: &TestDatabase, extra: &[(&str, &str)]) -> Self {
        let fake = FakeProvider::start().await;
        let settings = fake.env();
        let mut env = test_support::borrowed(&settings);
        env.extend_from_slice(extra);
        let app = TestApp::spawn(database, &env).await;
        Self {
            app,
            fake,
            browser: browser(),
        }
    }

    /// `GET url` without following a redirect: the status and the `Location`.
    async fn visit(&self, url: &str) -> (u16, Option<String>) {
        visit(&self.browser, url).await
    }

    /// Starts a web sign-in: the provider's authorization URL.
    async fn start(&self, provider: &str) -> String {
        let url = format!(
            "{}/auth/oauth/{provider}/start?redirect_uri={}",
            self.app.address,
            encode(&self.fake.app_url())
        );
        let (status, location) = self.visit(&url).await;
        assert_eq!(status, 302, "start {provider}");
        location.unwrap_or_else(|| panic!("start {provider}: no Location"))
    }

    /// Through the provider's page: the callback URL it sends the browser to.
    async fn authorize(&self, authorization_url: &str) -> String {
        let (status, location) = self.visit(authorization_url).await;
        assert_eq!(status, 302, "the provider's page");
        location.unwrap_or_else(|| panic!("the provider's page: no Location"))
    }

    /// The callback: the app URL the service sends the browser back to.
    async fn finish(&self, callback_url: &str) -> url::Url {
        let (status, location) = self.visit(callback_url).await;
        assert_eq!(status, 302, "callback {callback_url}");
        let location = location.unwrap_or_else(|| panic!("callback: no Location"));
        assert!(
            location.starts_with(&self.fake.app_url()),
            "back to the app: {location}"
        );
        url::Url::parse(&location).unwrap_or_else(|error| panic!("{location}: {error}"))
    }

    /// A whole web sign-in as far as the app's page.
    async fn web_flow(&self, provider: &str) -> url::Url {
        let authorization = self.start(provider).await;
        let callback = self.authorize(&authorization).await;
        self.finish(&callback).await
    }

    /// A whole web sign-in, exchanged: the status (200/201) and the session body.
    async fn sign_in(&self, provider: &str) -> (u16, Value) {
        let back = self.web_flow(provider).await;
        let code = param(&back, "login_code").unwrap_or_else(|| panic!("no login_code: {back}"));
        self.exchange(&code).await
    }

    async fn exchange(&self, login_code: &str) -> (u16, Value) {
        self.app
            .anonymous()
            .send(
                "POST",
                "/auth/oauth/exchange",
                json!({"login_code": login_code}),
            )
            .await
    }

    /// `POST /auth/oauth/google/token` with `id_token`.
    async fn native_google(&self, id_token: String) -> (u16, Value) {
        let body = json!({"id_token": id_token});
        let path = "/auth/oauth/google/token";
        self.app.anonymous().send("POST", path, body).await
    }

    /// `POST /auth/oauth/facebook/token` with `access_token`.
    async fn native_facebook(&self, access_token: String) -> (u16, Value) {
        let body = json!({"access_token": access_token});
        let path = "/auth/oauth/facebook/token";
        self.app.anonymous().send("POST", path, body).await
    }

    async fn identity_of(&self, user_id: &str) -> Vec<user_identity::Model> {
        let id = uuid::Uuid::parse_str(user_id).unwrap_or_else(|error| panic!("{error}"));
        user_identity::Entity::find()
            .filter(user_identity::Column::UserId.eq(id))
            .all(&self.app.db)
            .await
            .unwrap_or_else(|error| panic!("identities: {error}"))
    }
}

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap_or_else(|error| panic!("client: {error}"))
}

pub async fn visit(browser: &reqwest::Client, url: &str) -> (u16, Option<String>) {
    let response = browser
        .get(url)
        .send()
        .await
        .unwrap_or_else(|error| panic!("GET {url}: {error}"));
    let location = response
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    (response.status().as_u16(), location)
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The value of `key` in `url`'s query.
pub fn param(url: &url::Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.into_owned())
}

async fn a_google_web_sign_in_creates_the_account_with_201_then_signs_it_in_with_200(
    database: TestDatabase,
) {
    let oauth = OAuthApp::spawn(&database, &[]).await;
    let person = Person::new();
    oauth.fake.sign_in_as(&person);

    let authorization =
        url::Url::parse(&oauth.start("google").await).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        param(&authorization, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert!(param(&authorization, "nonce").is_some_and(|nonce| nonce.len() >= 32));
    assert!(param(&authorization, "state").is_some_and(|state| state.len() >= 43));
    assert_eq!(
        param(&authorization, "redirect_uri"),
        Some(format!("{}/auth/oauth/google/callback", oauth.app.address))
    );
    let callback = oauth.authorize(authorization.as_str()).await;
    let back = oauth.finish(&callback).await;
    let code = param(&back, "login_code").unwrap_or_else(|| panic!("{back}"));
    assert!(param(&back, "access_token").is_none() && param(&back, "error").is_none());

    let (status, session) = oauth.exchange(&code).await;
    assert_eq!(status, 201, "{session}");
    assert_eq!(session["token_type"], "Bearer");
    assert!(session["refresh_token"].is_string());
    let user = &session["user"];
    assert_eq!(user["name"], person.name);
    assert_eq!(user["email"], json!(person.email));
    assert_eq!(user["avatar_url"], json!(person.picture));
    assert_eq!(user["auth_provider"], "google");
    let token = session["access_token"].as_str().unwrap_or_default();
    let me = oauth.app.call("GET", "/auth/me", Some(token), None).await;
    assert_eq!((me.0, &me.1["id"]), (200, &user["id"]));

    let (again, second) = oauth.sign_in("google").await;
    assert_eq!(again, 200, "{second}");
    assert_eq!(second["user"]["id"], user["id"]);
    let identities = oauth
        .identity_of(user["id"].as_str().unwrap_or_default())
        .await;
    assert_eq!(identities.len(), 1);
    assert_eq!(identities[0].subject.expose(), person.subject);
}

async fn a_facebook_web_sign_in_never_stores_the_email(database: TestDatabase) {
    let oauth = OAuthApp::spawn(&database, &[]).await;
    let person = Person::new();
    oauth.fake.sign_in_as(&person);
    let (status, session) = oauth.sign_in("facebook").await;
    assert_eq!(status, 201, "{session}");
    assert_eq!(session["user"]["email"], Value::Null);
    assert_eq!(session["user"]["auth_provider"], "facebook");
    assert_eq!(session["user"]["name"], person.name);
    let me = oauth
        .fake
        .received()
        .into_iter()
        .find(|request| request.path == "/facebook/graph/me")
        .unwrap_or_else(|| panic!("/me was not called"));
    assert_eq!(
        me.query.get("fields").map(String::as_str),
        Some("id,name,email,picture")
    );
    assert!(
        me.query
            .get("appsecret_proof")
            .is_some_and(|proof| proof.len() == 64)
    );
    assert!(
        !me.query.contains_key("access_token"),
        "the token travels as a bearer"
    );
    let identities = oauth
        .identity_of(session["user"]["id"].as_str().unwrap_or_default())
        .await;
    assert_eq!(identities[0].email, None);
}

async fn a_tiktok_web_sign_in_speaks_login_kit_v2(database: TestDatabase) {
    let oauth = OAuthApp::spawn(&database, &[]).await;
    let person = Person::new();
    oauth.fake.sign_in_as(&person);
    let authorization =
        url::Url::parse(&oauth.start("tiktok").await).unwrap_or_else(|error| panic!("{error}"));
    assert!(param(&authorization, "client_key").is_some());
    assert!(param(&authorization, "client_id").is_none());
    assert_eq!(
        param(&authorization, "scope").as_deref(),
        Some("user.info.basic")
    );
    let challenge = param(&authorization, "code_challenge").unwrap_or_default();
    assert!(challenge.len() == 64 && challenge.chars().all(|c| c.is_ascii_hexdigit()));
    let callback = oauth.authorize(authorization.as_str()).await;
    let back = oauth.finish(&callback).await;
    let code = param(&back, "login_code").unwrap_or_else(|| panic!("{back}"));
    let (status, session) = oauth.exchange(&code).await;
    assert_eq!(status, 201, "{session}");
    assert_eq!(session["user"]["email"], Value::Null);
    assert_eq!(session["user"]["auth_provider"], "tiktok");
    assert_eq!(session["user"]["name"], person.name);
}

async fn a_login_code_signs_in_once(database: TestDatabase) {
    let oauth = OAuthApp::spawn(&database, &[]).await;
    let back = oauth.web_flow("google").await;
    let code = param(&back, "login_code").unwrap_or_default();
    assert_eq!(oauth.exchange(&code).await.0, 201);
    let invalid = error(401, "Invalid or expired login code");
    assert_eq!(oauth.exchange(&code).await, invalid);
    assert_eq!(oauth.exchange("no-such-code").await, invalid);
}

async fn a_state_is_single_use_and_bound_to_its_provider(database: TestDatabase) {
    let oauth = OAuthApp::spawn(&database, &[]).await;
    let unknown = error(400, json!(["state is unknown, expired or already used"]));
    let callback = oauth.authorize(&oauth.start("google").await).await;
    oauth.finish(&callback).await;
    let replayed = callback_path(&oauth, &callback);
    let replay = oauth.app.anonymous().get(&replayed).await;
    assert_eq!(replay, unknown, "a replayed state");

    // Google's state presented at Facebook's callback.
    let callback = oauth.authorize(&oauth.start("google").await).await;
    let elsewhere = callback.replace("/auth/oauth/google/", "/auth/oauth/facebook/");
    let answer = oauth
        .app
        .anonymous()
        .get(&callback_path(&oauth, &elsewhere))
        .await;
    assert_eq!(answer, unknown, "another provider's state");
    for query in ["?code=abc", "?code=abc&state=made-up", "?state="] {
        let answer = oauth
            .app
            .anonymous()
            .get(&format!("/auth/oauth/google/callback{query}"))
            .await;
        assert_eq!(answer, unknown, "{query}");
    }
}

/// The path and query of a callback URL, to call through the test app.
fn callback_path(oauth: &OAuthApp, callback: &str) -> String {
    callback
        .strip_prefix(&oauth.app.address)
        .unwrap_or_else(|| panic!("callback elsewhere: {callback}"))
        .to_owned()
}

async fn start_refuses_a_redirect_uri_that_is_not_allowed(database: TestDatabase) {
    let oauth = OAuthApp::spawn(&database, &[]).await;
    let refused = error(
        400,
        json!(["redirect_uri must be one of the allowed redirect URIs"]),
    );
    let near_misses = [
        format!("{}/", oauth.fake.app_url()),
        format!("{}?next=/", oauth.fake.app_url()),
        "https://evil.example.com/app".to_owned(),
    ];
    for uri in near_misses {
        let path = format!("/auth/oauth/google/start?redirect_uri={}", encode(&uri));
        assert_eq!(oauth.app.anonymous().get(&path).await, refused, "{uri}");
    }
    let (status, body) = oauth.app.anonymous().get("/auth/oauth/google/start").await;
    assert_eq!(status, 400, "{body}");
    let nul = oauth
        .app
        .anonymous()
        .get("/auth/oauth/google/start?redirect_uri=https%3A%2F%2Fa%00b")
        .await;
    assert_eq!(
        nul,
        error(400, json!(["redirect_uri must not contain NUL characters"]))
    );
    let user = oauth.app.user(shared::entities::UserRole::User).await;
    let link = oauth
        .app
        .by(&user)
        .send(
            "POST",
            "/auth/identities/google",
            json!({"redirect_uri": "https://evil.example.com/app"}),
        )
        .await;
    assert_eq!(link, refused);
}

async fn an_unknown_or_unconfigured_provider_answers_404_everywhere(database: TestDatabase) {
    // Google only: Facebook and TikTok have no credentials.
    let fake = FakeProvider::start().await;
    let env: Vec<(&str, String)> = fake
        .env()
        .into_iter()
        .filter(|(name, _)| !name.starts_with("FACEBOOK_") && !name.starts_with("TIKTOK_"))
        .collect();
    let env = test_support::borrowed(&env);
    let app = TestApp::spawn(&database, &env).await;
    let user = app.user(shared::entities::UserRole::User).await;
    let not_found = error(404, "Provider not found");
    let redirect = encode(&fake.app_url());
    for provider in ["facebook", "tiktok", "github", "Google"] {
        let start = format!("/auth/oauth/{provider}/start?redirect_uri={redirect}");
        assert_eq!(app.anonymous().get(&start).await, not_found, "{start}");
        let callback = format!("/auth/oauth/{provider}/callback?code=a&state=b");
        assert_eq!(
            app.anonymous().get(&callback).await,
            not_found,
            "{callback}"
        );
        let identity = format!("/auth/identities/{provider}");
        let link = json!({"redirect_uri": fake.app_url()});
        assert_eq!(app.by(&user).send("POST", &identity, link).await, not_found);
        assert_eq!(app.by(&user).delete(&identity).await, not_found);
    }
    let facebook = json!({"access_token": "EAAanything"});
    let native = app
        .anonymous()
        .send("POST", "/auth/oauth/facebook/token", facebook)
        .await;
    assert_eq!(native, not_found);
    let tiktok = app
        .anonymous()
        .send("POST", "/auth/oauth/tiktok/token", json!({}))
        .await;
    assert_eq!(tiktok.0, 404, "TikTok has no native endpoint");
}

async fn a_declined_consent_returns_access_denied(database: TestDatabase) {
    let oauth = OAuthApp::spawn(&database, &[]).await;
    oauth.fake.set_deny(true);
    for provider in ["google", "facebook", "tiktok"] {
        let back = oauth.web_flow(provider).await;
        assert_eq!(
            param(&back, "error").as_deref(),
            Some("access_denied"),
            "{provider}"
        );
        assert_eq!(param(&back, "login_code"), None);
    }
}

async fn a_provider_that_fails_hangs_or_redirects_returns_provider_unavailable(
    database: TestDatabase,
) {
    let oauth = OAuthApp::spawn(&database, &[]).await;
    for mode in [Mode::Fail(500), Mode::Fail(503), Mode::Hang, Mode::Redirect] {
        for provider in ["google", "facebook", "tiktok"] {
            let callback = oauth.authorize(&oauth.start(provider).await).await;
            oauth.fake.set_mode(mode);
            let started = std::time::Instant::now();
            let back = oauth.finish(&callback).await;
            oauth.fake.set_mode(Mode::Accept);
            let error = param(&back, "error");
            assert_eq!(
                error.as_deref(),
                Some("provider_unavailable"),
                "{provider} {mode:?}"
            );
            // OAUTH_TIMEOUT_MS is 1000 here.
            assert!(
                started.elapsed() < std::time::Duration::from_secs(5),
                "{mode:?}"
            );
        }
    }
    // A 4xx is the provider's refusal.
    let callback = oauth.authorize(&oauth.start("google").await).await;
    oauth.fake.set_mode(Mode::Fail(400));
    let back = oauth.finish(&callback).await;
    assert_eq!(param(&back, "error").as_deref(), Some("provider_error"));
}

async fn an_id_token_that_fails_verification_returns_provider_error(database: TestDatabase) {
    let oauth = OAuthApp::spawn(&database, &[]).await;
    let flaws = [
        Flaw::ForeignKey,
        Flaw::WrongAudience,
        Flaw::WrongIssuer,
        Flaw::WrongNonce,
        Flaw::Expired,
    ];
    for flaw in flaws {
        oauth.fake.set_flaw(flaw);
        let back = oauth.web_flow("google").await;
        assert_eq!(
            param(&back, "error").as_deref(),
            Some("provider_error"),
            "{flaw:?}"
        );
    }
    let accounts = user::Entity::find()
        .all(&oauth.app.db)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(accounts.is_empty(), "no account from a bad id_token");
}

async fn google_keys_are_fetched_again_for_an_unknown_kid(database: TestDatabase) {
    let oauth = OAuthApp::spawn(&database, &[]).await;
    let jwks_fetches = || {
        oauth
            .fake
            .received()
            .iter()
            .filter(|request| request.path == "/google/jwks")
            .count()
    };
    assert_eq!(oauth.sign_in("google").await.0, 201);
    assert_eq!(oauth.sign_in("google").await.0, 200);
    assert_eq!(jwks_fetches(), 1, "the key set is cached");
    oauth.fake.rotate_key();
    assert_eq!(oauth.sign_in("google").await.0, 200);
    assert_eq!(jwks_fetches(), 2, "a new kid fetches the set again");
}

async fn a_native_google_id_token_signs_in_and_a_bad_one_answers_401(database: TestDatabase) {
    let oauth = OAuthApp::spawn(&database, &[]).await;
    let native = |id_token| oauth.native_google(id_token);
    let (status, first) = native(oauth.fake.google_id_token()).await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = native(oauth.fake.google_id_token()).await;
    assert_eq!((status, &again["user"]["id"]), (200, &first["user"]["id"]));
    let invalid = error(401, "Invalid provider credential");
    for flaw in [
        Flaw::ForeignKey,
        Flaw::WrongAudience,
        Flaw::WrongIssuer,
        Flaw::Expired,
    ] {
        oauth.fake.set_flaw(flaw);
        assert_eq!(
            native(oauth.fake.google_id_token()).await,
            invalid,
            "{flaw:?}"
        );
    }
    assert_eq!(native("not.a.jwt".to_owned()).await, invalid);
}

async fn a_native_facebook_token_must_be_valid_and_this_apps(database: TestDatabase) {
    let oauth = OAuthApp::spawn(&database, &[]).await;
    let native = |access_token| oauth.native_facebook(access_token);
    let (status, session) = native(oauth.fake.facebook_token_for(FACEBOOK_APP_ID)).await;
    assert_eq!(status, 201, "{session}");
    let debugged = oauth
        .fake
        .received()
        .into_iter()
        .find(|request| request.path == "/facebook/graph/debug_token")
        .unwrap_or_else(|| panic!("debug_token was not called"));
    assert!(debugged.query.contains_key("input_token"));
    let invalid = error(401, "Invalid provider credential");
    let foreign = oauth.fake.facebook_token_for("999999999999999");
    assert_eq!(native(foreign).await, invalid, "another app's token");
    assert_eq!(native("EAAnever-issued".to_owned()).await, invalid);
}

async fn a_provider_down_answers_503_on_the_native_endpoints(database: TestDatabase) {
    let oauth = OAuthApp::spawn(&database, &[]).await;
    let unavailable = error(503, "Service Unavailable");
    for mode in [Mode::Fail(500), Mode::Hang, Mode::Redirect] {
        oauth.fake.set_mode(mode);
        let google = oauth.native_google(oauth.fake.google_id_token()).await;
        assert_eq!(google, unavailable, "google {mode:?}");
        let token = oauth.fake.facebook_token_for(FACEBOOK_APP_ID);
        let facebook = oauth.native_facebook(token).await;
        assert_eq!(facebook, unavailable, "facebook {mode:?}");
    }
}

/// Marks `email`'s account as having proven its email.
async fn prove_email(app: &TestApp, email: &str) {
    user::Entity::update_many()
        .col_expr(
            user::Column::EmailVerifiedAt,
            Expr::value(shared::entities::now()),
        )
        .filter(user::Column::Email.eq(email))
        .exec(&app.db)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
}

async fn an_email_verified_on_both_sides_links_the_identity(database: TestDatabase) {
    let oauth = OAuthApp::spawn(&database, &[]).await;
    let owner = oauth.app.user(shared::entities::UserRole::User).await;
    prove_email(&oauth.app, &owner.email).await;
    let mut person = Person::new();
    person.email = Some(owner.email.to_uppercase());
    oauth.fake.sign_in_as(&person);
    let (status, session) = oauth.sign_in("google").await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["user"]["id"], json!(owner.id()));
    assert_eq!(oauth.identity_of(&owner.id().to_string()).await.len(), 1);
}

async fn any_other_email_collision_is_link_required_and_never_a_second_account(
    database: TestDatabase,
) {
    let oauth = OAuthApp::spawn(&database, &[]).await;
    // Registered with a password: its email was never proven.
    let owner = oauth.app.user(shared::entities::UserRole::User).await;
    let mut person = Person::new();
    person.email = Some(owner.email.clone());
    oauth.fake.sign_in_as(&person);
    let back = oauth.web_flow("google").await;
    assert_eq!(param(&back, "error").as_deref(), Some("link_required"));
    let native = oauth.native_google(oauth.fake.google_id_token()).await;
    assert_eq!(native, error(409, "link_required"));

    // Proven on our side, but Google does not vouch for it.
    prove_email(&oauth.app, &owner.email).await;
    person.email_verified = false;
    oauth.fake.sign_in_as(&person);
    let back = oauth.web_flow("google").await;
    assert_eq!(param(&back, "error").as_deref(), Some("link_required"));
    // Facebook's email never links.
    let back = oauth.web_flow("facebook").await;
    assert_eq!(param(&back, "error").as_deref(), Some("link_required"));

    let accounts = user::Entity::find()
        .all(&oauth.app.db)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(accounts.len(), 1, "never a second account");
    assert!(oauth.identity_of(&owner.id().to_string()).await.is_empty());
}

async fn an_inactive_account_is_account_disabled(database: TestDatabase) {
    let oauth = OAuthApp::spawn(&database, &[]).await;
    let (_, session) = oauth.sign_in("google").await;
    let id = session["user"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    user::Entity::update_many()
        .col_expr(user::Column::IsActive, Expr::value(false))
        .filter(user::Column::Id.eq(uuid::Uuid::parse_str(&id).unwrap_or_default()))
        .exec(&oauth.app.db)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let back = oauth.web_flow("google").await;
    assert_eq!(param(&back, "error").as_deref(), Some("account_disabled"));
    let native = oauth.native_google(oauth.fake.google_id_token()).await;
    assert_eq!(native, error(401, "account_disabled"));
}

/// Starts linking `provider` for `token`'s user: the provider's authorization URL.
async fn start_link(oauth: &OAuthApp, token: &str, provider: &str) -> String {
    let (status, body) = oauth
        .app
        .call(
            "POST",
            &format!("/auth/identities/{provider}"),
            Some(token),
            Some(json!({"redirect_uri": oauth.fake.app_url()})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["authorization_url"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

async fn a_signed_in_user_links_an_identity_and_lists_it(database: TestDatabase) {
    let oauth = OAuthApp::spawn(&database, &[]).await;
    let user = oauth.app.user(shared::entities::UserRole::User).await;
    let (_, empty) = oauth.app.by(&user).get("/auth/identities").await;
    assert_eq!(empty["data"], json!([]));

    let authorization = start_link(&oauth, &user.token, "tiktok").await;
    let back = oauth.finish(&oauth.authorize(&authorization).await).await;
    assert_eq!(param(&back, "linked").as_deref(), Some("tiktok"));
    assert_eq!(param(&back, "login_code"), None);
    // Linking it again is the same.
    let authorization = start_link(&oauth, &user.token, "tiktok").await;
    let back = oauth.finish(&oauth.authorize(&authorization).await).await;
    assert_eq!(param(&back, "linked").as_deref(), Some("tiktok"));

    let (status, listed) = oauth.app.by(&user).get("/auth/identities").await;
    assert_eq!(status, 200, "{listed}");
    let rows = listed["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 1, "{listed}");
    let fields: Vec<&String> = rows[0]
        .as_object()
        .map(|row| row.keys().collect())
        .unwrap_or_default();
    assert_eq!(fields, ["created_at", "last_used_at", "provider"]);
    assert_eq!(rows[0]["provider"], "tiktok");

    // The linked identity now signs him in.
    let (status, session) = oauth.sign_in("tiktok").await;
    assert_eq!((status, &session["user"]["id"]), (200, &json!(user.id())));
}

async fn linking_someone_elses_identity_returns_identity_in_use(database: TestDatabase) {
    let oauth = OAuthApp::spawn(&database, &[]).await;
    assert_eq!(oauth.sign_in("google").await.0, 201);
    let user = oauth.app.user(shared::entities::UserRole::User).await;
    let authorization = start_link(&oauth, &user.token, "google").await;
    let back = oauth.finish(&oauth.authorize(&authorization).await).await;
    assert_eq!(param(&back, "error").as_deref(), Some("identity_in_use"));
    assert!(oauth.identity_of(&user.id().to_string()).await.is_empty());
}

async fn an_identity_is_never_the_last_way_in_to_be_unlinked(database: TestDatabase) {
    let oauth = OAuthApp::spawn(&database, &[]).await;
    let (_, session) = oauth.sign_in("tiktok").await;
    let token = session["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let app = &oauth.app;
    let token = token.as_str();
    let unlink = |provider: &'static str| async move {
        let path = format!("/auth/identities/{provider}");
        app.call("DELETE", &path, Some(token), None).await
    };
    let last = error(409, "this identity is the account's last way to sign in");
    assert_eq!(unlink("tiktok").await, last);
    assert_eq!(unlink("google").await, error(404, "Identity not found"));

    let authorization = start_link(&oauth, token, "google").await;
    oauth.finish(&oauth.authorize(&authorization).await).await;
    assert_eq!(unlink("tiktok").await.0, 204);
    assert_eq!(unlink("google").await, last);
    let (_, listed) = app.call("GET", "/auth/identities", Some(token), None).await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1));
    // The list never shows a subject.
    assert!(!listed.to_string().contains("subject"));
}

async fn a_phone_account_with_an_identity_may_clear_its_number(database: TestDatabase) {
    let oauth = OAuthApp::spawn(&database, &[]).await;
    let (_, session) = oauth.sign_in("tiktok").await;
    let token = session["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let id = session["user"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // Made a phone account with a proven number behind the service's back.
    let uuid = uuid::Uuid::parse_str(&id).unwrap_or_default();
    user::Entity::update_many()
        .col_expr(user::Column::AuthProvider, Expr::cust("'phone'"))
        .col_expr(user::Column::Phone, Expr::value("+84901234567"))
        .col_expr(
            user::Column::PhoneVerifiedAt,
            Expr::value(shared::entities::now()),
        )
        .filter(user::Column::Id.eq(uuid))
        .exec(&oauth.app.db)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let path = format!("/users/{id}");
    let clear = json!({"phone": null});
    let (status, user) = oauth
        .app
        .call("PATCH", &path, Some(&token), Some(clear))
        .await;
    assert_eq!(status, 200, "the identity is still a way in: {user}");
    assert_eq!(
        (&user["phone"], &user["auth_provider"]),
        (&Value::Null, &json!("tiktok"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_flows_in_redis_finish_on_another_service_and_are_used_once() {
    let database = TestDatabase::sqlite().await;
    let Some(url) = crate::throttle::redis_or_skip().await else {
        return;
    };
    let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
    // Both behind one load balancer: providers send the browser to its address.
    let balancer = "http://balancer.invalid";
    let shared = [
        ("REDIS_URL", url.as_str()),
        ("REDIS_KEY_PREFIX", prefix.as_str()),
        (
            "JWT_SECRET",
            "a-shared-secret-of-at-least-32-bytes-for-both",
        ),
        ("PUBLIC_BASE_URL", balancer),
    ];
    let first = OAuthApp::spawn(&database, &shared).await;
    // A second service on the same database, Redis and provider.
    let settings = first.fake.env();
    let mut env = test_support::borrowed(&settings);
    env.extend_from_slice(&shared);
    let second = TestApp::spawn(&database, &env).await;

    let authorization = first.start("google").await;
    let state = url::Url::parse(&authorization)
        .ok()
        .and_then(|url| param(&url, "state"))
        .unwrap_or_default();
    let mut redis = redis::Client::open(url.as_str())
        .and_then(|client| client.get_connection())
        .unwrap_or_else(|error| panic!("redis: {error}"));
    let stored = |kind: &str, secret: &str| {
        use sha2::Digest;
        let digest = hex::encode(sha2::Sha256::digest(secret.as_bytes()));
        format!("{prefix}oauth:{kind}:{digest}")
    };
    let lifetime: i64 = redis::cmd("PTTL")
        .arg(stored("state", &state))
        .query(&mut redis)
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(
        (590_000..=600_000).contains(&lifetime),
        "a state lives 10 min: {lifetime}"
    );
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query(&mut redis)
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(
        keys.iter().all(|key| !key.contains(&state)),
        "stored by digest only: {keys:?}"
    );
    let callback = first.authorize(&authorization).await;
    let path = callback
        .strip_prefix(balancer)
        .unwrap_or_else(|| panic!("the callback is the balancer's: {callback}"))
        .to_owned();
    let (status, location) = first.visit(&format!("{}{path}", second.address)).await;
    assert_eq!(status, 302, "the second service finishes the flow");
    let back =
        url::Url::parse(&location.unwrap_or_default()).unwrap_or_else(|error| panic!("{error}"));
    let code = param(&back, "login_code").unwrap_or_else(|| panic!("{back}"));
    let lifetime: i64 = redis::cmd("PTTL")
        .arg(stored("login", &code))
        .query(&mut redis)
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(
        (50_000..=60_000).contains(&lifetime),
        "a login code lives 60 s: {lifetime}"
    );
    // The state was taken by the second service: the first refuses it.
    let replay = first.app.anonymous().get(&path).await;
    let unknown = json!(["state is unknown, expired or already used"]);
    assert_eq!(replay, error(400, unknown));
    // The login code is spent on the first, once.
    assert_eq!(first.exchange(&code).await.0, 201);
    let again = second
        .anonymous()
        .send("POST", "/auth/oauth/exchange", json!({"login_code": code}))
        .await;
    assert_eq!(again, error(401, "Invalid or expired login code"));
}
