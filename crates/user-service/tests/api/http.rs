//! What every route shares: the NestJS error envelope, CORS, request ids, limits.

use test_support::TestDatabase;

use crate::helpers::TestApp;

async fn app() -> (TestDatabase, TestApp) {
    let database = TestDatabase::sqlite().await;
    let app = TestApp::spawn(
        &database,
        &[
            (
                "CORS_ORIGIN",
                "http://localhost:3000,https://app.example.com",
            ),
            ("REQUEST_BODY_LIMIT_BYTES", "1024"),
        ],
    )
    .await;
    (database, app)
}

#[tokio::test]
async fn an_unknown_path_gets_404_in_the_nestjs_envelope() {
    let (_database, app) = app().await;
    let response = app.get("/nope").await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.text().await.unwrap_or_default(),
        r#"{"message":"Cannot GET /nope","error":"Not Found","statusCode":404}"#
    );
}

#[tokio::test]
async fn a_wrong_method_gets_405_in_the_nestjs_envelope() {
    let (_database, app) = app().await;
    let response = app
        .client
        .post(format!("{}/health", app.address))
        .send()
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(response.status(), 405);
    assert_eq!(
        response.text().await.unwrap_or_default(),
        r#"{"message":"Cannot POST /health","error":"Method Not Allowed","statusCode":405}"#
    );
}

#[tokio::test]
async fn cors_allows_each_configured_origin_with_credentials() {
    let (_database, app) = app().await;
    for origin in ["http://localhost:3000", "https://app.example.com"] {
        let response = app
            .client
            .get(format!("{}/health", app.address))
            .header("Origin", origin)
            .send()
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        let headers = response.headers();
        assert_eq!(headers["access-control-allow-origin"], origin);
        assert_eq!(headers["access-control-allow-credentials"], "true");
    }
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/health", app.address))
        .header("Origin", "http://localhost:3000")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(preflight.status().is_success());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert_eq!(
        preflight.headers()["access-control-allow-headers"],
        "authorization"
    );
}

#[tokio::test]
async fn cors_gives_a_foreign_origin_no_allow_origin_header() {
    let (_database, app) = app().await;
    let response = app
        .client
        .get(format!("{}/health", app.address))
        .header("Origin", "https://evil.example.net")
        .send()
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id_taken_from_the_request_or_generated() {
    let (_database, app) = app().await;
    let given = app
        .client
        .get(format!("{}/health", app.address))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(given.headers()["x-request-id"], "abc-123");

    for path in ["/health", "/health/db", "/nope"] {
        let response = app.get(path).await;
        let id = response.headers()["x-request-id"].to_str().unwrap_or("");
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{path}: {id:?}");
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_rejected_with_413() {
    let (_database, app) = app().await;
    let response = app
        .client
        .post(format!("{}/health", app.address))
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(response.status(), 413);
}
