//! The login throttle (API.md "Auth"): per email and per client address, in Redis when
//! `REDIS_URL` is set (shared by replicas), in the process otherwise or while Redis is down.
//!
//! Redis comes from `TEST_REDIS_URL` (default `redis://127.0.0.1:6379`); each test uses its own
//! key prefix. Without a reachable Redis the Redis tests say they were skipped, except under
//! `CI=true`, where that is a failure.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::entities::UserRole;
use test_support::{ScratchDir, TestDatabase};

use crate::helpers::{TestApp, json_of};

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

/// The test Redis's URL, or `None` (after saying so) when none answers outside CI.
pub async fn redis_or_skip() -> Option<String> {
    let url = redis_url();
    let reachable = match redis::Client::open(url.as_str()) {
        Ok(client) => match client.get_multiplexed_async_connection().await {
            Ok(mut connection) => redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
                .is_ok(),
            Err(_) => false,
        },
        Err(_) => false,
    };
    if reachable {
        return Some(url);
    }
    let message = format!("Redis at {url} is not reachable: this Redis test was SKIPPED");
    if std::env::var("CI").is_ok_and(|value| value == "true") {
        panic!("{message}; under CI=true that is a failure");
    }
    eprintln!("\n!!!!! {message} !!!!!\n");
    None
}

fn prefix() -> String {
    format!("test-{}:", uuid::Uuid::new_v4().simple())
}

/// The app on the test Redis under a key prefix of its own, with `extra` settings; `None` when
/// the Redis test is skipped.
async fn spawn_on_redis(database: &TestDatabase, extra: &[(&str, &str)]) -> Option<TestApp> {
    let url = redis_or_skip().await?;
    let prefix = prefix();
    let mut env = vec![
        ("REDIS_URL", url.as_str()),
        ("REDIS_KEY_PREFIX", prefix.as_str()),
    ];
    env.extend_from_slice(extra);
    Some(TestApp::spawn(database, &env).await)
}

async fn login(app: &TestApp, email: &str, password: &str) -> (u16, Value, Option<u64>) {
    let body = json!({"email": email, "password": password});
    send(app.request("POST", "/auth/login", None).json(&body)).await
}

/// The status, the body and the `Retry-After` of `request`.
async fn send(request: reqwest::RequestBuilder) -> (u16, Value, Option<u64>) {
    let response = request
        .send()
        .await
        .unwrap_or_else(|error| panic!("send: {error}"));
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok());
    let (status, body) = json_of(response).await;
    (status, body, retry_after)
}

/// The statuses of twenty logins for `email` with `password`, sent at once.
async fn twenty_concurrent_logins(app: &TestApp, email: &str, password: &str) -> Vec<u16> {
    let attempts = (0..20).map(|_| login(app, email, password));
    futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(|(status, _, _)| status)
        .collect()
}

/// Five wrong passwords for `email` (each a 401).
async fn fail_five_times(app: &TestApp, email: &str) {
    for attempt in 1..=5 {
        let (status, body, _) = login(app, email, "wrong-password").await;
        assert_eq!(status, 401, "attempt {attempt}: {body}");
    }
}

async fn sixth_login_is_429_with_retry_after_even_with_the_right_password(app: &TestApp) {
    let user = app.user(UserRole::User).await;
    fail_five_times(app, &user.email).await;
    let (status, body, retry_after) = login(app, &user.email, &user.password).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["statusCode"], 429);
    assert_eq!(body["error"], "Too Many Requests");
    let retry_after = retry_after.unwrap_or_else(|| panic!("no Retry-After"));
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    // Another email from the same address still has its own budget.
    let other = app.user(UserRole::User).await;
    assert_eq!(login(app, &other.email, &other.password).await.0, 200);
}

#[tokio::test]
async fn in_process_the_sixth_login_answers_429_with_retry_after_even_with_the_right_password() {
    let database = TestDatabase::sqlite().await;
    let app = TestApp::spawn(&database, &[]).await;
    sixth_login_is_429_with_retry_after_even_with_the_right_password(&app).await;
}

#[tokio::test]
async fn in_redis_the_sixth_login_answers_429_with_retry_after_even_with_the_right_password() {
    let database = TestDatabase::sqlite().await;
    let Some(app) = spawn_on_redis(&database, &[]).await else {
        return;
    };
    sixth_login_is_429_with_retry_after_even_with_the_right_password(&app).await;
}

#[tokio::test]
async fn a_successful_login_takes_back_its_place_in_the_window() {
    let database = TestDatabase::sqlite().await;
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    for _ in 0..4 {
        assert_eq!(login(&app, &user.email, "wrong-password").await.0, 401);
    }
    for _ in 0..3 {
        assert_eq!(login(&app, &user.email, &user.password).await.0, 200);
    }
    assert_eq!(login(&app, &user.email, "wrong-password").await.0, 401);
    assert_eq!(
        login(&app, &user.email, &user.password).await.0,
        429,
        "five failures, however many successes between them"
    );
}

#[tokio::test]
async fn the_email_is_free_again_once_the_window_has_passed() {
    let database = TestDatabase::sqlite().await;
    let Some(app) = spawn_on_redis(&database, &[("LOGIN_WINDOW_SECONDS", "2")]).await else {
        return;
    };
    let user = app.user(UserRole::User).await;
    fail_five_times(&app, &user.email).await;
    let (status, _, retry_after) = login(&app, &user.email, &user.password).await;
    assert_eq!(status, 429);
    let retry_after = retry_after.unwrap_or_else(|| panic!("no Retry-After"));
    assert!(retry_after <= 2, "{retry_after}");
    // The window is the feature under test: wait as long as Retry-After says.
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    assert_eq!(login(&app, &user.email, &user.password).await.0, 200);
}

#[tokio::test]
async fn two_services_on_one_redis_share_one_budget() {
    let Some(url) = redis_or_skip().await else {
        return;
    };
    let database = TestDatabase::sqlite().await;
    let prefix = prefix();
    let env = [
        ("REDIS_URL", url.as_str()),
        ("REDIS_KEY_PREFIX", prefix.as_str()),
    ];
    let first = TestApp::spawn(&database, &env).await;
    let second = TestApp::spawn(&database, &env).await;
    let user = first.user(UserRole::User).await;
    for attempt in 0..5 {
        let app = if attempt % 2 == 0 { &first } else { &second };
        assert_eq!(login(app, &user.email, "wrong-password").await.0, 401);
    }
    assert_eq!(login(&first, &user.email, &user.password).await.0, 429);
    assert_eq!(login(&second, &user.email, &user.password).await.0, 429);
}

async fn concurrent_wrong_logins_never_exceed_the_budget(app: &TestApp) {
    let user = app.user(UserRole::User).await;
    let statuses = twenty_concurrent_logins(app, &user.email, "wrong-password").await;
    let verified = statuses.iter().filter(|status| **status == 401).count();
    let refused = statuses.iter().filter(|status| **status == 429).count();
    assert_eq!(verified, 5, "{statuses:?}");
    assert_eq!(refused, 15, "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_twenty_concurrent_wrong_logins_get_exactly_the_budget_of_verifications() {
    let database = TestDatabase::sqlite().await;
    let app = TestApp::spawn(&database, &[]).await;
    concurrent_wrong_logins_never_exceed_the_budget(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_redis_twenty_concurrent_wrong_logins_get_exactly_the_budget_of_verifications() {
    let database = TestDatabase::sqlite().await;
    let Some(app) = spawn_on_redis(&database, &[]).await else {
        return;
    };
    concurrent_wrong_logins_never_exceed_the_budget(&app).await;
}

async fn concurrent_correct_logins_all_succeed_and_count_nothing(app: &TestApp) {
    let user = app.user(UserRole::User).await;
    let statuses = twenty_concurrent_logins(app, &user.email, &user.password).await;
    assert_eq!(statuses, [200; 20]);
    // None of them counted: the whole budget of failures is still there.
    fail_five_times(app, &user.email).await;
    assert_eq!(login(app, &user.email, &user.password).await.0, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_twenty_concurrent_correct_logins_all_succeed() {
    let database = TestDatabase::sqlite().await;
    let app = TestApp::spawn(&database, &[]).await;
    concurrent_correct_logins_all_succeed_and_count_nothing(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_redis_twenty_concurrent_correct_logins_all_succeed() {
    let database = TestDatabase::sqlite().await;
    let Some(app) = spawn_on_redis(&database, &[]).await else {
        return;
    };
    concurrent_correct_logins_all_succeed_and_count_nothing(&app).await;
}

async fn register(app: &TestApp, index: usize) -> (u16, Value, Option<u64>) {
    let email = format!(
        "signup-{index}-{}@example.com",
        uuid::Uuid::new_v4().simple()
    );
    let body = json!({"name": "New", "email": email, "password": "correct horse battery"});
    send(app.request("POST", "/auth/register", None).json(&body)).await
}

#[tokio::test]
async fn registrations_from_one_address_stop_at_its_budget_with_429_and_retry_after() {
    let database = TestDatabase::sqlite().await;
    let app = TestApp::spawn(&database, &[("REGISTRATION_MAX_PER_ADDRESS", "3")]).await;
    for index in 0..3 {
        assert_eq!(register(&app, index).await.0, 201);
    }
    let (status, body, retry_after) = register(&app, 3).await;
    assert_eq!(
        (status, &body),
        (
            429,
            &test_support::http::error_body(
                429,
                "Too many registrations from this address, try again later"
            )
        )
    );
    let retry_after = retry_after.unwrap_or_else(|| panic!("no Retry-After"));
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
}

#[tokio::test]
async fn two_services_on_one_redis_share_one_registration_budget() {
    let Some(url) = redis_or_skip().await else {
        return;
    };
    let database = TestDatabase::sqlite().await;
    let prefix = prefix();
    let env = [
        ("REDIS_URL", url.as_str()),
        ("REDIS_KEY_PREFIX", prefix.as_str()),
        ("REGISTRATION_MAX_PER_ADDRESS", "2"),
    ];
    let first = TestApp::spawn(&database, &env).await;
    let second = TestApp::spawn(&database, &env).await;
    assert_eq!(register(&first, 0).await.0, 201);
    assert_eq!(register(&second, 1).await.0, 201);
    assert_eq!(register(&first, 2).await.0, 429);
    assert_eq!(register(&second, 3).await.0, 429);
}

#[tokio::test]
async fn each_client_address_has_its_own_budget_across_emails() {
    let database = TestDatabase::sqlite().await;
    let app = TestApp::spawn(&database, &[("LOGIN_MAX_FAILURES_PER_ADDRESS", "3")]).await;
    let user = app.user(UserRole::User).await;
    for index in 0..3 {
        let email = format!("nobody-{index}@example.com");
        assert_eq!(login(&app, &email, "wrong-password").await.0, 401);
    }
    assert_eq!(
        login(&app, &user.email, &user.password).await.0,
        429,
        "the address has used its budget"
    );
}

async fn failures_from(app: &TestApp, forwarded_for: &str, email: &str) -> u16 {
    let response = app
        .request("POST", "/auth/login", None)
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"email": email, "password": "wrong-password"}))
        .send()
        .await
        .unwrap_or_else(|error| panic!("login: {error}"));
    response.status().as_u16()
}

#[tokio::test]
async fn x_forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let database = TestDatabase::sqlite().await;
    let untrusted = TestApp::spawn(&database, &[("LOGIN_MAX_FAILURES_PER_ADDRESS", "2")]).await;
    let mut statuses = Vec::new();
    for index in 0..3 {
        let forwarded = format!("198.51.100.{index}");
        let email = format!("a{index}@example.com");
        statuses.push(failures_from(&untrusted, &forwarded, &email).await);
    }
    assert_eq!(
        statuses,
        [401, 401, 429],
        "a client cannot pick its address with X-Forwarded-For"
    );

    let trusted = TestApp::spawn(
        &database,
        &[
            ("LOGIN_MAX_FAILURES_PER_ADDRESS", "2"),
            ("TRUSTED_PROXIES", "127.0.0.1/32,::1"),
        ],
    )
    .await;
    for index in 0..3 {
        let forwarded = format!("198.51.100.{index}");
        let email = format!("b{index}@example.com");
        let status = failures_from(&trusted, &forwarded, &email).await;
        assert_eq!(
            status, 401,
            "behind a trusted proxy each client has its own budget"
        );
    }
}

/// A redis-server of the test's own, on a Unix socket (no port to race for).
struct OwnRedis {
    dir: ScratchDir,
    child: Option<Child>,
}

impl OwnRedis {
    fn socket(&self) -> std::path::PathBuf {
        self.dir.0.join("redis.sock")
    }

    fn url(&self) -> String {
        format!("redis+unix://{}", self.socket().display())
    }

    fn start(dir: ScratchDir) -> Self {
        let mut redis = Self { dir, child: None };
        redis.restart();
        redis
    }

    fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--save",
                "",
                "--appendonly",
                "no",
                "--unixsocket",
            ])
            .arg(self.socket())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("redis-server: {error}"));
        self.child = Some(child);
        let started = Instant::now();
        while !self.socket().exists() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(self.socket());
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn redis_status(app: &TestApp) -> Value {
    let (_, body) = json_of(app.get("/health").await).await;
    body["redis"]["status"].clone()
}

async fn wait_for_redis_status(app: &TestApp, want: &str) {
    let started = Instant::now();
    while redis_status(app).await != want {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "/health never reported redis {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn logins_keep_working_while_redis_is_down_and_redis_is_used_again_when_it_returns() {
    if redis_or_skip().await.is_none() {
        return;
    }
    let mut redis = OwnRedis::start(ScratchDir::new());
    let database = TestDatabase::sqlite().await;
    let url = redis.url();
    let app = TestApp::spawn(&database, &[("REDIS_URL", &url)]).await;
    let user = app.user(UserRole::User).await;
    wait_for_redis_status(&app, "connected").await;

    redis.stop();
    assert_eq!(login(&app, &user.email, "wrong-password").await.0, 401);
    assert_eq!(login(&app, &user.email, &user.password).await.0, 200);
    wait_for_redis_status(&app, "disconnected").await;
    for _ in 0..4 {
        assert_eq!(login(&app, &user.email, "wrong-password").await.0, 401);
    }
    assert_eq!(
        login(&app, &user.email, &user.password).await.0,
        429,
        "five failures counted in the process meanwhile"
    );

    redis.restart();
    wait_for_redis_status(&app, "connected").await;
    let other = app.user(UserRole::User).await;
    assert_eq!(login(&app, &other.email, &other.password).await.0, 200);
}

#[tokio::test]
async fn health_has_no_redis_entry_without_redis_url() {
    let database = TestDatabase::sqlite().await;
    let app = TestApp::spawn(&database, &[]).await;
    let (_, body) = json_of(app.get("/health").await).await;
    assert!(body.get("redis").is_none(), "{body}");
}
