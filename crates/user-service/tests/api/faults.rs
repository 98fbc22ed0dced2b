//! Database faults through a proxy: down at start, coming back, hanging, an exhausted pool, and
//! shutting down while a request is in flight.
//!
//! Outcomes are decided by waiting on the condition itself (the proxy sees a round trip reach
//! the silent database, the pool has its connection back, PostgreSQL runs the slow queries), not
//! by sleeping. The wall-clock bounds left are the features under test (an answer within its
//! timeout, liveness without waiting, a shutdown within `SHUTDOWN_TIMEOUT_MS`), each with a wide
//! margin against what a wrong implementation would take.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Statement};
use test_support::{TestDatabase, postgres_or_skip};

use crate::helpers::TestApp;
use crate::proxy::{Mode, Proxy, upstream_of};

/// How long a test waits for a condition that takes milliseconds on an idle machine.
const PATIENCE: Duration = Duration::from_secs(10);

pub fn database_url(database: &TestDatabase) -> String {
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

/// An app behind a forwarding proxy with one pooled connection, idle, and no periodic round
/// trips: from here on, readiness checks cause the only traffic, each one round trip on that
/// connection. `extra` comes on top.
async fn app_with_one_idle_connection(
    database: &TestDatabase,
    extra: &[(&str, &str)],
) -> (Proxy, TestApp) {
    let mut env = vec![
        ("HEALTH_PROBE_INTERVAL_MS", "600000"),
        ("DATABASE_POOL_MAX", "1"),
    ];
    env.extend_from_slice(extra);
    let (proxy, app) = app_behind_proxy(database, Mode::Forward, &env).await;
    assert_eq!(app.get("/health/db").await.status(), 200);
    // sqlx hands a connection back to the pool after a round trip of its own; wait for it, so
    // that a stall catches the next check's round trip and nothing else.
    let pool = app.db.get_postgres_connection_pool();
    let deadline = Instant::now() + PATIENCE;
    while pool.num_idle() < 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(pool.num_idle(), 1, "the pooled connection is back");
    (proxy, app)
}

/// Sends `GET path` in the background; the handle yields the status code and the body.
fn spawn_get(app: &TestApp, path: &str) -> tokio::task::JoinHandle<reqwest::Result<(u16, String)>> {
    let (client, url) = (app.client.clone(), format!("{}{path}", app.address));
    tokio::spawn(async move {
        let response = client.get(url).send().await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    })
}

/// Makes the database go silent on the app's one idle connection and sends a readiness check
/// into it; returns once the check's round trip has reached the silent database.
async fn a_check_waiting_on_the_hung_database(
    proxy: &Proxy,
    app: &TestApp,
) -> tokio::task::JoinHandle<reqwest::Result<(u16, String)>> {
    proxy.set(Mode::Stall);
    let check = spawn_get(app, "/health/db");
    proxy.wait_for_silenced_round_trips(1, PATIENCE).await;
    check
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
    app.wait_for_database("connected", PATIENCE).await;
    assert_eq!(app.get("/health/db").await.status(), 200);

    // And down again, and back again, on a pool that had live connections.
    proxy.set(Mode::Down);
    app.wait_for_database("disconnected", PATIENCE).await;
    assert_eq!(app.get("/health/db").await.status(), 503);
    proxy.set(Mode::Forward);
    app.wait_for_database("connected", PATIENCE).await;
    assert_eq!(app.get("/health/db").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_db_answers_503_within_its_timeout_when_the_database_hangs() {
    let database = postgres_or_skip!();
    // Connecting may take longer than the check: the check's own timeout is what answers.
    let (_proxy, app) = app_behind_proxy(
        &database,
        Mode::Hang,
        &[
            ("HEALTH_DB_TIMEOUT_MS", "2000"),
            ("DATABASE_CONNECT_TIMEOUT_MS", "30000"),
        ],
    )
    .await;

    let started = Instant::now();
    let ready = app.get("/health/db").await;
    let waited = started.elapsed();
    assert_eq!(ready.status(), 503);
    assert!(
        waited < Duration::from_secs(4),
        "answered after {waited:?}, timeout is 2000 ms"
    );
    let body = ready.text().await.unwrap_or_default();
    assert_eq!(
        body,
        r#"{"status":"error","database":"disconnected","error":"database did not answer within 2s"}"#
    );

    // Liveness never waits on the database: a /health that did would take the 2 s timeout.
    let started = Instant::now();
    assert_eq!(app.get("/health").await.status(), 200);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(1),
        "/health waited on the database: {waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_readiness_check_never_reuses_a_round_trip_that_started_before_it() {
    let database = postgres_or_skip!();
    let (proxy, app) =
        app_with_one_idle_connection(&database, &[("HEALTH_DB_TIMEOUT_MS", "5000")]).await;

    // The pooled connection goes silent; the first check's round trip hangs on it.
    let first = a_check_waiting_on_the_hung_database(&proxy, &app).await;
    // Arrives while that round trip is under way: it must wait for the next one. (No outside
    // sign says it has arrived; if it came after the cut below it would get a fresh round trip
    // and pass for that reason, so the pause only has to be long enough in the usual case.)
    let second = spawn_get(&app, "/health/db");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Cuts the silent connection (the first round trip fails) and lets new ones through.
    proxy.set(Mode::Forward);

    let (first, second) = (first.await, second.await);
    assert!(matches!(&first, Ok(Ok((503, _)))), "first check: {first:?}");
    assert!(
        matches!(&second, Ok(Ok((200, _)))),
        "second check shared the failed round trip: {second:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_at_once_while_slow_queries_hold_every_pooled_connection() {
    let database = postgres_or_skip!();
    // A request that waited for a connection would wait the 5 s acquire timeout.
    let app = TestApp::spawn(
        &database,
        &[
            ("DATABASE_POOL_MAX", "2"),
            ("DATABASE_CONNECT_TIMEOUT_MS", "5000"),
        ],
    )
    .await;
    app.wait_for_database("connected", PATIENCE).await;
    let mut sleepers = Vec::new();
    for _ in 0..2 {
        let db = app.db.clone();
        sleepers.push(tokio::spawn(async move {
            db.execute_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT pg_sleep(60)",
            ))
            .await
        }));
    }
    let sleeping = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                    AND state = 'active' AND query = 'SELECT pg_sleep(60)'";
    let deadline = Instant::now() + PATIENCE;
    while database.count(sleeping).await < 2 {
        assert!(Instant::now() < deadline, "the slow queries never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let started = Instant::now();
    assert_eq!(app.get("/health").await.status(), 200);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(1),
        "/health waited for the pool: {waited:?}"
    );
    assert_eq!(
        app.get("/health/db").await.status(),
        503,
        "no connection within the timeout"
    );

    database
        .execute(
            "SELECT pg_cancel_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query = 'SELECT pg_sleep(60)'",
        )
        .await;
    for sleeper in sleepers {
        let _ = sleeper.await;
    }
    let deadline = Instant::now() + PATIENCE;
    while app.get("/health/db").await.status() != 200 {
        assert!(Instant::now() < deadline, "the pool never recovered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_an_in_flight_request_finish_then_stops() {
    let database = postgres_or_skip!();
    let (proxy, mut app) =
        app_with_one_idle_connection(&database, &[("HEALTH_DB_TIMEOUT_MS", "800")]).await;
    let in_flight = a_check_waiting_on_the_hung_database(&proxy, &app).await;

    app.trigger_shutdown();
    let answer = in_flight
        .await
        .unwrap_or_else(|error| panic!("{error}"))
        .unwrap_or_else(|error| panic!("the in-flight request was cut: {error}"));
    // Its own answer, after its own timeout: shutting down did not cut it short.
    assert_eq!(
        answer,
        (
            503,
            r#"{"status":"error","database":"disconnected","error":"database did not answer within 800ms"}"#
                .to_owned()
        )
    );
    // The database comes back (as down: the silent connection is cut), so closing the pool does
    // not have to wait out SHUTDOWN_TIMEOUT_MS.
    proxy.set(Mode::Down);
    app.stop().await.unwrap_or_else(|error| panic!("{error}"));
}

/// `SHUTDOWN_TIMEOUT_MS` in the shutdown-bound tests, and how long past it they accept.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_millis(1000);
const SHUTDOWN_MARGIN: Duration = Duration::from_millis(800);

/// Signals shutdown and asserts that the server has stopped, pool closed, within the bound.
async fn stop_within_the_shutdown_timeout(app: TestApp) {
    let started = Instant::now();
    app.stop().await.unwrap_or_else(|error| panic!("{error}"));
    let took = started.elapsed();
    assert!(
        took < SHUTDOWN_TIMEOUT + SHUTDOWN_MARGIN,
        "shutdown took {took:?}; SHUTDOWN_TIMEOUT_MS is {SHUTDOWN_TIMEOUT:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_within_its_timeout_while_a_request_waits_on_a_hung_database() {
    let database = postgres_or_skip!();
    // The request would wait 30 s; shutting down may take 1 s, closing the pool included.
    let (proxy, app) = app_with_one_idle_connection(
        &database,
        &[
            ("SHUTDOWN_TIMEOUT_MS", "1000"),
            ("HEALTH_DB_TIMEOUT_MS", "30000"),
            ("REQUEST_TIMEOUT_MS", "30000"),
        ],
    )
    .await;
    let in_flight = a_check_waiting_on_the_hung_database(&proxy, &app).await;

    stop_within_the_shutdown_timeout(app).await;
    // The request still running at the deadline is answered, not cut.
    let answer = in_flight.await.unwrap_or_else(|error| panic!("{error}"));
    assert!(
        matches!(&answer, Ok((503, body)) if body == r#"{"message":"The service is shutting down","error":"Service Unavailable","statusCode":503}"#),
        "{answer:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_database_hung_and_every_request_answered_shutdown_ends_at_once_not_at_its_timeout()
 {
    let database = postgres_or_skip!();
    // The shutdown may take 10 s; with nothing in flight it must not wait for the pool.
    let (proxy, app) = app_with_one_idle_connection(
        &database,
        &[
            ("SHUTDOWN_TIMEOUT_MS", "10000"),
            ("HEALTH_DB_TIMEOUT_MS", "300"),
        ],
    )
    .await;
    let check = a_check_waiting_on_the_hung_database(&proxy, &app).await;
    // The check gives up on the hung round trip (503), which keeps its pooled connection.
    let answer = check.await.unwrap_or_else(|error| panic!("{error}"));
    assert!(matches!(&answer, Ok((503, _))), "{answer:?}");

    let started = Instant::now();
    app.stop().await.unwrap_or_else(|error| panic!("{error}"));
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "shutdown took {took:?} with nothing in flight"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_within_its_timeout_while_a_slow_query_holds_a_pooled_connection() {
    let database = postgres_or_skip!();
    let app = TestApp::spawn(&database, &[("SHUTDOWN_TIMEOUT_MS", "1000")]).await;
    // A query of the service's own pool that outlives the shutdown timeout.
    let db = app.db.clone();
    let sleeper = tokio::spawn(async move {
        db.execute_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT pg_sleep(60)",
        ))
        .await
    });
    let sleeping = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                    AND state = 'active' AND query = 'SELECT pg_sleep(60)'";
    let deadline = Instant::now() + PATIENCE;
    while database.count(sleeping).await < 1 {
        assert!(Instant::now() < deadline, "the slow query never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    stop_within_the_shutdown_timeout(app).await;
    sleeper.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_within_its_timeout_while_the_database_is_down() {
    let database = postgres_or_skip!();
    let (_proxy, app) = app_behind_proxy(
        &database,
        Mode::Down,
        &[
            ("SHUTDOWN_TIMEOUT_MS", "1000"),
            ("DATABASE_CONNECT_TIMEOUT_MS", "30000"),
        ],
    )
    .await;
    assert_eq!(app.get("/health/db").await.status(), 503);
    stop_within_the_shutdown_timeout(app).await;
}
