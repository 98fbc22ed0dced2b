//! Database faults through a proxy: down at start, coming back, hanging, an exhausted pool, and
//! shutting down while a request is in flight.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Statement};
use test_support::{TestDatabase, postgres_or_skip};

use crate::helpers::TestApp;
use crate::proxy::{Mode, Proxy, upstream_of};

fn database_url(database: &TestDatabase) -> String {
    database
        .env_vars()
        .into_iter()
        .find(|(name, _)| name == "DATABASE_URL")
        .map(|(_, url)| url)
        .unwrap_or_else(|| panic!("a PostgreSQL test database has a URL"))
}

async fn app_behind_proxy(
    database: &TestDatabase,
    mode: Mode,
    extra: &[(&str, &str)],
) -> (Proxy, TestApp) {
    let url = database_url(database);
    let proxy = Proxy::start(upstream_of(&url), mode).await;
    let mut env = vec![
        ("DATABASE_URL".to_owned(), proxy.url(&url)),
        ("MIGRATE_ON_START".to_owned(), "false".to_owned()),
    ];
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let app = TestApp::spawn_with_env(env).await;
    (proxy, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_down_at_start_still_serves_then_recovers_without_a_restart() {
    let database = postgres_or_skip!();
    let (proxy, app) = app_behind_proxy(&database, Mode::Down, &[]).await;

    let health = app.get("/health").await;
    assert_eq!(
        health.status(),
        200,
        "liveness stays up while the database is down"
    );
    let body: serde_json::Value = health.json().await.unwrap_or_default();
    assert_eq!(body["status"], "error");
    assert_eq!(body["database"]["status"], "disconnected");
    assert_eq!(body["database"]["type"], "PostgreSQL");

    let ready = app.get("/health/db").await;
    assert_eq!(ready.status(), 503);
    let body = ready.text().await.unwrap_or_default();
    assert_eq!(
        body,
        r#"{"status":"error","database":"disconnected","error":"database unavailable"}"#
    );

    proxy.set(Mode::Forward);
    app.wait_for_database("connected", Duration::from_secs(10))
        .await;
    assert_eq!(app.get("/health/db").await.status(), 200);

    // And down again, and back again, on a pool that had live connections.
    proxy.set(Mode::Down);
    app.wait_for_database("disconnected", Duration::from_secs(10))
        .await;
    assert_eq!(app.get("/health/db").await.status(), 503);
    proxy.set(Mode::Forward);
    app.wait_for_database("connected", Duration::from_secs(10))
        .await;
    assert_eq!(app.get("/health/db").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_db_answers_503_within_its_timeout_when_the_database_hangs() {
    let database = postgres_or_skip!();
    let (_proxy, app) =
        app_behind_proxy(&database, Mode::Hang, &[("HEALTH_DB_TIMEOUT_MS", "500")]).await;

    let started = Instant::now();
    let ready = app.get("/health/db").await;
    let waited = started.elapsed();
    assert_eq!(ready.status(), 503);
    assert!(
        waited < Duration::from_secs(2),
        "answered after {waited:?}, timeout is 500 ms"
    );
    let body = ready.text().await.unwrap_or_default();
    assert_eq!(
        body,
        r#"{"status":"error","database":"disconnected","error":"database did not answer within 500ms"}"#
    );

    let started = Instant::now();
    assert_eq!(app.get("/health").await.status(), 200);
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "/health waited on the database"
    );
}

/// Sends `GET path` in the background; the handle yields the status code.
fn spawn_get(app: &TestApp, path: &str) -> tokio::task::JoinHandle<reqwest::Result<u16>> {
    let (client, url) = (app.client.clone(), format!("{}{path}", app.address));
    tokio::spawn(async move {
        client
            .get(url)
            .send()
            .await
            .map(|response| response.status().as_u16())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_readiness_check_never_reuses_a_round_trip_that_started_before_it() {
    let database = postgres_or_skip!();
    // No periodic round trips during the test: only checks cause them. One pooled connection,
    // so the round trip after the cut has to open a new one.
    let (proxy, app) = app_behind_proxy(
        &database,
        Mode::Forward,
        &[
            ("HEALTH_PROBE_INTERVAL_MS", "600000"),
            ("HEALTH_DB_TIMEOUT_MS", "3000"),
            ("DATABASE_POOL_MAX", "1"),
        ],
    )
    .await;
    assert_eq!(app.get("/health/db").await.status(), 200);
    // sqlx hands a connection back to the pool after a round trip of its own; wait for it, so
    // that the stall below catches the next check's round trip and nothing else.
    let pool = app.db.get_postgres_connection_pool();
    let deadline = Instant::now() + Duration::from_secs(5);
    while pool.num_idle() < 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(pool.num_idle(), 1, "the pooled connection is back");

    // The pooled connection goes silent: the next round trip hangs.
    proxy.set(Mode::Stall);
    let first = spawn_get(&app, "/health/db");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Arrives while that round trip is under way: it must wait for the next one.
    let second = spawn_get(&app, "/health/db");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Cuts the silent connection (the first round trip fails) and lets new ones through.
    proxy.set(Mode::Forward);

    let (first, second) = (first.await, second.await);
    assert!(matches!(first, Ok(Ok(503))), "first check: {first:?}");
    assert!(
        matches!(second, Ok(Ok(200))),
        "second check shared the failed round trip: {second:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_at_once_while_slow_queries_hold_every_pooled_connection() {
    let database = postgres_or_skip!();
    let app = TestApp::spawn(&database, &[("DATABASE_POOL_MAX", "2")]).await;
    app.wait_for_database("connected", Duration::from_secs(5))
        .await;
    let mut sleepers = Vec::new();
    for _ in 0..2 {
        let db = app.db.clone();
        sleepers.push(tokio::spawn(async move {
            db.execute_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT pg_sleep(2)",
            ))
            .await
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    assert_eq!(app.get("/health").await.status(), 200);
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "/health waited for the pool"
    );
    assert_eq!(
        app.get("/health/db").await.status(),
        503,
        "no connection within the timeout"
    );
    for sleeper in sleepers {
        let _ = sleeper.await;
    }
    assert_eq!(
        app.get("/health/db").await.status(),
        200,
        "the pool recovers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_an_in_flight_request_finish_then_stops() {
    let database = postgres_or_skip!();
    let (_proxy, mut app) =
        app_behind_proxy(&database, Mode::Hang, &[("HEALTH_DB_TIMEOUT_MS", "800")]).await;
    let client = app.client.clone();
    let url = format!("{}/health/db", app.address);
    let in_flight = tokio::spawn(async move { client.get(url).send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.trigger_shutdown();
    let response = in_flight
        .await
        .unwrap_or_else(|error| panic!("{error}"))
        .unwrap_or_else(|error| panic!("the in-flight request was cut: {error}"));
    assert_eq!(response.status(), 503);
    app.stop().await.unwrap_or_else(|error| panic!("{error}"));
}
