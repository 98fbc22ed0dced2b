//! What a hostile client tries, and what it gets: slow headers cut off while `/health` keeps
//! answering, the headers every answer carries, request ids taken only when plain, avatars
//! limited to web addresses, admin-only fields refused even as `null`, and one account per
//! email whatever the spelling of its domain.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::entities::UserRole;
use test_support::http::error;
use test_support::{TestDatabase, on_both_backends};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::TestApp;

on_both_backends!(
    avatar_url_takes_only_web_addresses_and_only_https_in_production,
    a_non_admin_naming_an_admin_only_field_even_as_null_gets_403,
    the_unicode_and_punycode_spellings_of_an_email_are_one_account,
);

/// How many slow clients the attack uses: more than the usual 1,024 open files.
const SLOW_CLIENTS: usize = 1100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_header_clients_are_cut_off_and_health_keeps_answering_among_1100_of_them() {
    let database = TestDatabase::sqlite().await;
    let app = TestApp::spawn(&database, &[("HTTP_HEADER_READ_TIMEOUT_MS", "1000")]).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut slow = Vec::with_capacity(SLOW_CLIENTS);
    for _ in 0..SLOW_CLIENTS {
        let mut stream = TcpStream::connect(&address)
            .await
            .unwrap_or_else(|error| panic!("connect: {error}"));
        let _ = stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await;
        slow.push(stream);
    }
    // One byte every 200 ms on every connection, for 2.4 s: past the 1 s header timeout.
    let drip = tokio::spawn(async move {
        for _ in 0..12 {
            for stream in &mut slow {
                let _ = stream.write_all(b"a").await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        slow
    });
    for _ in 0..10 {
        let started = Instant::now();
        let status = app.get("/health").await.status();
        let took = started.elapsed();
        assert_eq!(status, 200);
        assert!(took < Duration::from_secs(1), "/health took {took:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let slow = drip.await.unwrap_or_else(|error| panic!("drip: {error}"));
    let mut open = 0;
    for mut stream in slow {
        let mut buffer = [0u8; 256];
        // Cut off: the server has closed it (end of stream, or a reset), with no answer.
        let closed = matches!(
            tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buffer)).await,
            Ok(Ok(0) | Err(_))
        );
        if !closed {
            open += 1;
        }
    }
    assert_eq!(
        open, 0,
        "slow-header connections still open after the timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_says_nosniff_and_no_store_and_the_docs_cannot_be_framed() {
    let database = TestDatabase::sqlite().await;
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let login = json!({"email": user.email, "password": user.password});
    let requests = [
        app.request("GET", "/health", None),
        app.request("POST", "/auth/login", None).json(&login),
        app.request("GET", "/auth/me", Some(&user.token)),
        app.request("GET", "/auth/me", None),
        app.request("GET", "/nope", None),
        app.request("GET", "/docs/openapi.json", None),
    ];
    for request in requests {
        let response = request
            .send()
            .await
            .unwrap_or_else(|error| panic!("send: {error}"));
        let headers = response.headers();
        let url = response.url().clone();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{url}");
        assert_eq!(headers["cache-control"], "no-store", "{url}");
    }
    for path in ["/docs/", "/docs/openapi.json"] {
        let response = app.get(path).await;
        let headers = response.headers();
        assert_eq!(
            headers["content-security-policy"], "frame-ancestors 'none'",
            "{path}"
        );
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_is_echoed_only_when_short_and_plain() {
    let database = TestDatabase::sqlite().await;
    let app = TestApp::spawn(&database, &[]).await;
    let id_for = |sent: String| {
        let request = app
            .request("GET", "/health", None)
            .header("x-request-id", sent);
        async move {
            let response = request
                .send()
                .await
                .unwrap_or_else(|error| panic!("send: {error}"));
            response.headers()["x-request-id"]
                .to_str()
                .unwrap_or_default()
                .to_owned()
        }
    };
    let plain = "req-42.a:b_C".to_owned();
    assert_eq!(id_for(plain.clone()).await, plain);
    let longest = "a".repeat(128);
    assert_eq!(id_for(longest.clone()).await, longest);
    for refused in [
        "a".repeat(129),
        format!("<script>{}</script>", "x".repeat(8000)),
        "two words".to_owned(),
    ] {
        let given = id_for(refused.clone()).await;
        assert_ne!(given, refused);
        assert!(uuid::Uuid::parse_str(&given).is_ok(), "a new id: {given}");
    }
}

async fn avatar_url_takes_only_web_addresses_and_only_https_in_production(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let path = format!("/users/{}", user.id());
    for refused in [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://example.com/a.png",
    ] {
        let answer = app
            .by(&user)
            .send("PATCH", &path, json!({"avatar_url": refused}))
            .await;
        let message = json!(["avatar_url must be a URL address"]);
        assert_eq!(answer, error(400, message), "{refused}");
    }
    let plain = json!({"avatar_url": "http://example.com/a.png"});
    let body = app.by(&user).ok("PATCH", &path, plain).await;
    assert_eq!(
        body["avatar_url"], "http://example.com/a.png",
        "allowed outside production"
    );

    let production = TestApp::spawn(
        &database,
        &[
            ("APP_ENV", "production"),
            ("JWT_SECRET", "defences-tests-secret-of-at-least-32-bytes"),
        ],
    )
    .await;
    let user = production.user(UserRole::User).await;
    let path = format!("/users/{}", user.id());
    let plain = json!({"avatar_url": "http://example.com/a.png"});
    let answer = production.by(&user).send("PATCH", &path, plain).await;
    assert_eq!(
        answer,
        error(400, json!(["avatar_url must be an https URL"]))
    );
    let secure = json!({"avatar_url": "https://example.com/a.png"});
    let body = production.by(&user).ok("PATCH", &path, secure).await;
    assert_eq!(body["avatar_url"], "https://example.com/a.png");
}

async fn a_non_admin_naming_an_admin_only_field_even_as_null_gets_403(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let admin = app.user(UserRole::Admin).await;
    let path = format!("/users/{}", user.id());
    for field in ["role", "is_active", "email"] {
        let mut body = serde_json::Map::new();
        body.insert(field.to_owned(), Value::Null);
        let answer = app
            .by(&user)
            .send("PATCH", &path, Value::Object(body))
            .await;
        assert_eq!(answer, error(403, "Forbidden resource"), "{field}: null");
    }
    let answer = app
        .by(&admin)
        .send("PATCH", &path, json!({"role": null}))
        .await;
    let message = json!(["role must be one of the following values: admin, user"]);
    assert_eq!(
        answer,
        error(400, message),
        "an admin cannot clear a role either"
    );
    let me = app.by(&user).ok("GET", &path, Value::Null).await;
    assert_eq!(me["role"], "user");
}

async fn the_unicode_and_punycode_spellings_of_an_email_are_one_account(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let register = |email: &str| json!({"name": "Jürgen", "email": email, "password": "correct horse battery"});
    let anonymous = app.anonymous();
    let created = anonymous
        .post("/auth/register", register("Jane@Bücher.Example"))
        .await;
    assert_eq!(created["email"], "jane@xn--bcher-kva.example");
    let again = anonymous
        .send(
            "POST",
            "/auth/register",
            register("jane@xn--bcher-kva.example"),
        )
        .await;
    assert_eq!(again, error(409, "email already exists"));
    let login = json!({"email": "JANE@bücher.example", "password": "correct horse battery"});
    let signed_in = anonymous.ok("POST", "/auth/login", login).await;
    assert_eq!(signed_in["user"]["id"], created["id"]);
}
