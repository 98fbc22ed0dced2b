//! `/health` and `/health/db` on a healthy database, on both backends.

use std::time::Duration;

use test_support::{TestDatabase, on_both_backends};

use crate::helpers::TestApp;

on_both_backends!(
    health_answers_the_original_body_in_the_original_key_order,
    health_db_answers_ok_with_a_real_round_trip,
    the_service_migrates_the_database_when_asked,
);

async fn health_answers_the_original_body_in_the_original_key_order(database: TestDatabase) {
    let kind = match database.backend() {
        sea_orm::DbBackend::Postgres => "PostgreSQL",
        _ => "SQLite",
    };
    let app = TestApp::spawn(&database, &[]).await;
    app.wait_for_database("connected", Duration::from_secs(5))
        .await;
    let response = app.get("/health").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap_or(""),
        "application/json"
    );
    let body = response.text().await.unwrap_or_default();
    let prefix = r#"{"status":"ok","timestamp":""#;
    let suffix = format!(
        r#"","service":"user-service","version":"{}","database":{{"status":"connected","type":"{kind}"}}}}"#,
        env!("CARGO_PKG_VERSION")
    );
    assert!(
        body.starts_with(prefix) && body.ends_with(&suffix),
        "{body}"
    );
    let timestamp = &body[prefix.len()..body.len() - suffix.len()];
    assert_eq!(
        timestamp.len(),
        "2024-01-15T10:00:00.000Z".len(),
        "{timestamp}"
    );
    assert!(timestamp.ends_with('Z'), "UTC: {timestamp}");
    let parsed = chrono::DateTime::parse_from_rfc3339(timestamp)
        .unwrap_or_else(|error| panic!("{timestamp}: {error}"));
    let age = chrono::Utc::now().signed_duration_since(parsed);
    assert!(age.num_seconds().abs() < 5, "timestamp is now: {timestamp}");
}

async fn health_db_answers_ok_with_a_real_round_trip(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let response = app.get("/health/db").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.unwrap_or_default(),
        r#"{"status":"ok","database":"connected","result":1}"#
    );
}

async fn the_service_migrates_the_database_when_asked(database: TestDatabase) {
    let _app = TestApp::spawn(&database, &[("MIGRATE_ON_START", "true")]).await;
    assert!(
        migration::is_up_to_date(&database.db)
            .await
            .unwrap_or(false)
    );
}

#[tokio::test]
async fn postgres_is_not_migrated_unless_asked() {
    let database = test_support::postgres_or_skip!();
    let _app = TestApp::spawn(&database, &[("MIGRATE_ON_START", "false")]).await;
    assert!(!migration::is_up_to_date(&database.db).await.unwrap_or(true));
}
