//! `/docs` and `/docs/openapi.json`: the OpenAPI 3.1 document lists exactly the routes the
//! service serves, and the Swagger UI page loads nothing from outside the service.

use serde_json::Value;
use test_support::TestDatabase;

use crate::helpers::{TestApp, json_of};

/// Every operation of the API: what clients are written against (API.md), frozen here so a
/// route cannot appear or vanish without this list (and the document) changing.
const OPERATIONS: [(&str, &str); 45] = [
    ("DELETE", "/auth/identities/{provider}"),
    ("DELETE", "/auth/sessions/{id}"),
    ("DELETE", "/conversations/{id}"),
    ("DELETE", "/projects/{id}"),
    ("DELETE", "/projects/{id}/members/{user_id}"),
    ("DELETE", "/users/{id}"),
    ("GET", "/agents"),
    ("GET", "/auth/identities"),
    ("GET", "/auth/me"),
    ("GET", "/auth/oauth/{provider}/callback"),
    ("GET", "/auth/oauth/{provider}/start"),
    ("GET", "/auth/sessions"),
    ("GET", "/conversations"),
    ("GET", "/conversations/{id}"),
    ("GET", "/conversations/{id}/messages"),
    ("GET", "/health"),
    ("GET", "/health/db"),
    ("GET", "/projects"),
    ("GET", "/projects/{id}"),
    ("GET", "/projects/{id}/members"),
    ("GET", "/users"),
    ("GET", "/users/{id}"),
    ("PATCH", "/conversations/{id}"),
    ("PATCH", "/projects/{id}"),
    ("PATCH", "/projects/{id}/members/{user_id}"),
    ("PATCH", "/users/{id}"),
    ("POST", "/auth/identities/{provider}"),
    ("POST", "/auth/login"),
    ("POST", "/auth/logout"),
    ("POST", "/auth/logout-all"),
    ("POST", "/auth/oauth/exchange"),
    ("POST", "/auth/oauth/facebook/token"),
    ("POST", "/auth/oauth/google/token"),
    ("POST", "/auth/refresh"),
    ("POST", "/auth/phone/otp"),
    ("POST", "/auth/phone/verify"),
    ("POST", "/auth/register"),
    ("POST", "/conversations"),
    ("POST", "/conversations/{id}/messages"),
    ("POST", "/projects"),
    ("POST", "/projects/{id}/members"),
    ("POST", "/users"),
    ("PUT", "/conversations/{id}"),
    ("PUT", "/projects/{id}"),
    ("PUT", "/users/{id}"),
];

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

async fn document(app: &TestApp) -> Value {
    let (status, document) = json_of(app.get("/docs/openapi.json").await).await;
    assert_eq!(status, 200);
    document
}

fn documented_operations(document: &Value) -> Vec<(String, String)> {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            if item.get(method.to_lowercase()).is_some() {
                operations.push((method.to_owned(), path.clone()));
            }
        }
    }
    operations.sort();
    operations
}

fn expected_operations() -> Vec<(String, String)> {
    let mut expected: Vec<(String, String)> = OPERATIONS
        .iter()
        .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
        .collect();
    expected.sort();
    expected
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "00000000-0000-0000-0000-000000000000")
        .replace("{user_id}", "00000000-0000-0000-0000-000000000000")
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_lists_exactly_the_api_operations() {
    let database = TestDatabase::sqlite().await;
    let app = TestApp::spawn(&database, &[]).await;
    let document = document(&app).await;
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        document["openapi"]
    );
    assert_eq!(documented_operations(&document), expected_operations());
    assert!(
        document["components"]["securitySchemes"]["bearer"].is_object(),
        "the bearer scheme is documented"
    );
}

#[tokio::test]
async fn every_documented_operation_is_served_and_no_other_method_on_its_path() {
    let database = TestDatabase::sqlite().await;
    let app = TestApp::spawn(&database, &[]).await;
    let documented = documented_operations(&document(&app).await);
    let paths: std::collections::BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    for path in paths {
        for method in METHODS {
            let (status, body) = app.call(method, &concrete(path), None, None).await;
            let is_documented = documented.contains(&(method.to_owned(), path.clone()));
            if is_documented {
                assert_ne!(status, 405, "{method} {path} is documented but not routed");
                assert_ne!(
                    body["message"],
                    format!("Cannot {method} {}", concrete(path)),
                    "{method} {path} is documented but falls through to the 404"
                );
            } else {
                assert_eq!(status, 405, "{method} {path} is served but not documented");
            }
        }
    }
}

#[test]
fn every_route_is_registered_through_the_openapi_router() {
    // A plain axum `.route(...)` would serve a path the document does not list.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut offenders = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(dir)];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).unwrap_or_else(|error| panic!("{error}")) {
            let entry = entry.unwrap_or_else(|error| panic!("{error}")).path();
            if entry.is_dir() {
                stack.push(entry);
            } else if entry.extension().is_some_and(|ext| ext == "rs") {
                let text = std::fs::read_to_string(&entry).unwrap_or_default();
                if text.contains(".route(") {
                    offenders.push(entry.display().to_string());
                }
            }
        }
    }
    assert!(offenders.is_empty(), "plain .route( in {offenders:?}");
}

#[tokio::test]
async fn the_swagger_ui_page_loads_only_assets_of_the_service() {
    let database = TestDatabase::sqlite().await;
    let app = TestApp::spawn(&database, &[]).await;
    let page = app.get("/docs/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap_or_default();
    assert!(html.contains("swagger-ui"), "{html}");
    for attribute in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
        assert!(
            !html.contains(attribute),
            "external asset ({attribute}) in {html}"
        );
    }
    let (status, config) = json_of(app.get("/docs/swagger-config.json").await).await;
    if status == 200 {
        assert_eq!(config["validatorUrl"], "none", "{config}");
    }
}
