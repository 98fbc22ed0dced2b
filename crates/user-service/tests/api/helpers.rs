//! Spawning the real application in-process.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::Value;
use shared::entities::{Sensitive, UserRole, user};
use shared::password::{self, HashCost};
use test_support::TestDatabase;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use user_service::domain::users::{self, NewUser};
use user_service::domain::values::{Email, Name};
use user_service::{Application, Settings, StartupError};

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: DatabaseConnection,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Result<(), StartupError>>>,
}

impl TestApp {
    /// Starts the app against `database`, with `overrides` on top of test defaults.
    pub async fn spawn(database: &TestDatabase, overrides: &[(&str, &str)]) -> Self {
        let mut env: Vec<(String, String)> = database.env_vars();
        env.extend(
            overrides
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Self::spawn_with_env(env).await
    }

    pub async fn spawn_with_env(env: Vec<(String, String)>) -> Self {
        init_test_log();
        let mut map: HashMap<&str, &str> = HashMap::from([
            ("USER_SERVICE_HOST", "127.0.0.1"),
            ("USER_SERVICE_PORT", "0"),
            ("MIGRATE_ON_START", "true"),
            ("HEALTH_PROBE_INTERVAL_MS", "200"),
            ("HEALTH_DB_TIMEOUT_MS", "1000"),
            ("DATABASE_CONNECT_TIMEOUT_MS", "1000"),
            // Each test makes the users it needs; the seed has its own tests.
            ("SEED_ON_START", "false"),
        ]);
        for (name, value) in &env {
            map.insert(name, value);
        }
        let mut settings =
            Settings::from_env(&map).unwrap_or_else(|error| panic!("settings: {error}"));
        // Cheap argon2 for new hashes: set in code, so no environment can select it.
        settings.auth.hash_cost = HashCost::Minimal;
        let app = Application::build(settings)
            .await
            .unwrap_or_else(|error| panic!("build: {error}"));
        let address = format!("http://127.0.0.1:{}", app.port());
        let db = app.database();
        let (shutdown, stop) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async move {
            let _ = stop.await;
        }));
        Self {
            address,
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .unwrap_or_else(|error| panic!("client: {error}")),
            db,
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }

    /// A request to `path` on this app, with `token` as bearer when given.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .unwrap_or_else(|error| panic!("method {method}: {error}"));
        let builder = self
            .client
            .request(method, format!("{}{path}", self.address));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// Sends `method path` with an optional JSON body and token; answers the status and the
    /// body as JSON (`Value::Null` for an empty body).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.request(method, path, token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|error| panic!("{method} {path}: {error}"));
        json_of(response).await
    }

    /// Requests as `user`: the one way a test calls the API as someone.
    pub fn by<'a>(&'a self, user: &'a TestUser) -> As<'a> {
        As(self, user.token())
    }

    /// Requests without a token.
    pub fn anonymous(&self) -> As<'_> {
        As(self, None)
    }

    /// A user created straight in the database (cheap hash), logged in through the API.
    pub async fn user(&self, role: UserRole) -> TestUser {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let email = format!("user-{id}@example.com");
        let password = "correct-horse-battery".to_owned();
        let hash = password::hash(&password, HashCost::Minimal)
            .unwrap_or_else(|error| panic!("hash: {error}"));
        let model = users::create(
            &self.db,
            NewUser {
                name: Name::try_from(format!("User {}", &id[..8]))
                    .unwrap_or_else(|error| panic!("name: {error}")),
                email: Email::parse(&email).unwrap_or_else(|| panic!("email {email}")),
                phone: None,
                password: Some(Sensitive::new(hash)),
                role,
                is_active: true,
                avatar_url: None,
            },
        )
        .await
        .unwrap_or_else(|error| panic!("create user: {error}"));
        let token = self.login(&email, &password).await;
        TestUser {
            model,
            email,
            password,
            token,
        }
    }

    /// Deactivates (`Some(false)`), reactivates (`Some(true)`) or deletes (`None`) a user straight
    /// in the database, behind the service's back.
    pub async fn set_account(&self, user: &TestUser, active: Option<bool>) {
        let rows = match active {
            Some(active) => user::Entity::update_many()
                .col_expr(user::Column::IsActive, Expr::value(active))
                .filter(user::Column::Id.eq(user.id()))
                .exec(&self.db)
                .await
                .map(|done| done.rows_affected),
            None => user::Entity::delete_by_id(user.id())
                .exec(&self.db)
                .await
                .map(|done| done.rows_affected),
        };
        assert_eq!(rows.ok(), Some(1), "{} {active:?}", user.email);
    }

    /// Logs in and returns the access token (panics unless 200).
    pub async fn login(&self, email: &str, password: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/auth/login",
                None,
                Some(serde_json::json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(status, 200, "login {email}: {body}");
        body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access_token: {body}"))
            .to_owned()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET {path}: {error}"))
    }

    /// Polls `GET /health` until the last known database state is `want`.
    pub async fn wait_for_database(&self, want: &str, within: Duration) {
        let start = Instant::now();
        loop {
            let body: serde_json::Value = self
                .get("/health")
                .await
                .json()
                .await
                .unwrap_or_else(|error| panic!("/health body: {error}"));
            if body["database"]["status"] == want {
                return;
            }
            assert!(
                start.elapsed() < within,
                "database never became {want}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Signals shutdown and waits for the server to stop.
    pub async fn stop(mut self) -> Result<(), StartupError> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.server.take() {
            Some(server) => server
                .await
                .unwrap_or_else(|error| panic!("server task: {error}")),
            None => Ok(()),
        }
    }

    pub fn trigger_shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// With `TEST_LOG` set (to anything), the service's log goes to the test's output: captured
/// like `println!`, so a failing test shows it (and `--nocapture` shows all of it), filtered by
/// `RUST_LOG` or else `info`. Installed once for the whole test binary.
fn init_test_log() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_none() {
            return;
        }
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}

/// The app as one caller (`None`: anonymous).
#[derive(Clone, Copy)]
pub struct As<'a>(&'a TestApp, Option<&'a str>);

impl As<'_> {
    /// `method path` with `body` (`Value::Null`: none); the status and the JSON body.
    pub async fn send(self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let body = (!body.is_null()).then_some(body);
        self.0.call(method, path, self.1, body).await
    }

    pub async fn get(self, path: &str) -> (u16, Value) {
        self.send("GET", path, Value::Null).await
    }

    pub async fn delete(self, path: &str) -> (u16, Value) {
        self.send("DELETE", path, Value::Null).await
    }

    /// `method path` that must answer `status`; the body.
    pub async fn expect(self, status: u16, method: &str, path: &str, body: Value) -> Value {
        let (got, answer) = self.send(method, path, body).await;
        assert_eq!(got, status, "{method} {path}: {answer}");
        answer
    }

    /// `method path` that must answer 200; the body.
    pub async fn ok(self, method: &str, path: &str, body: Value) -> Value {
        self.expect(200, method, path, body).await
    }

    /// `POST path` that must answer 201; the body.
    pub async fn post(self, path: &str, body: Value) -> Value {
        self.expect(201, "POST", path, body).await
    }

    /// The raw body text of `GET path`, which must answer `status`.
    pub async fn text(self, path: &str, status: u16) -> String {
        let response = self.0.request("GET", path, self.1).send().await;
        let response = response.unwrap_or_else(|error| panic!("GET {path}: {error}"));
        assert_eq!(response.status(), status, "GET {path}");
        response.text().await.unwrap_or_default()
    }
}

/// A user the test made, with his token.
pub struct TestUser {
    pub model: user::Model,
    pub email: String,
    pub password: String,
    pub token: String,
}

impl TestUser {
    pub fn id(&self) -> uuid::Uuid {
        self.model.id
    }

    pub fn token(&self) -> Option<&str> {
        Some(&self.token)
    }
}

/// The status and JSON body of a response (`Value::Null` when the body is empty).
pub async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("not JSON ({error}): {text}"))
    };
    (status, body)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
