//! `/auth` (register, login, who am I) and the conventions every endpoint shares: the error
//! envelope, validation messages, hostile input, query and path errors, 404 and 405.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::{CONTENT_TYPE, HeaderMap, WWW_AUTHENTICATE};
use serde_json::{Value, json};
use shared::entities::UserRole;
use test_support::http::{error, error_body, fields_of};
use test_support::{TestDatabase, on_both_backends};

use crate::helpers::{TestApp, json_of};

on_both_backends!(
    register_answers_201_with_exactly_the_user_representation,
    register_stores_the_email_trimmed_and_lower_cased,
    register_refuses_an_email_that_differs_only_in_case_with_409,
    register_with_an_empty_body_names_each_missing_field_in_field_order,
    every_wrong_json_type_is_reported_in_field_order_after_unknown_fields,
    register_reports_a_bad_email_and_out_of_range_password_lengths,
    register_reports_every_unknown_field_and_creates_nothing,
    register_refuses_wrong_json_types_with_400,
    register_refuses_malformed_json_with_400,
    register_refuses_a_body_that_is_not_json_with_415,
    register_refuses_a_json_body_that_is_not_an_object_with_400,
    register_answers_403_when_registration_is_closed,
    login_answers_200_with_a_session_its_lifetimes_and_the_user,
    login_ignores_the_case_and_surrounding_spaces_of_the_email,
    login_validates_its_body_like_register,
    wrong_password_unknown_email_inactive_and_passwordless_accounts_get_the_same_401,
    me_answers_the_caller,
    me_refuses_every_bad_token_with_the_same_401,
    tokens_from_the_future_living_too_long_or_with_a_crit_header_get_401,
    two_authorization_headers_get_401_even_when_both_are_valid,
    a_token_signed_with_another_jwt_secret_is_refused,
    a_deleted_users_token_stops_working_at_once,
    a_deactivated_users_token_stops_working_at_once,
    a_body_over_the_limit_answers_413_in_the_envelope,
    deeply_nested_json_answers_400,
    a_nul_character_in_a_string_answers_400,
    a_huge_string_answers_400_with_its_length_limit,
    a_path_id_that_is_not_a_uuid_answers_400,
    bad_or_unknown_query_parameters_answer_400,
    an_unknown_path_answers_404_in_the_envelope,
    a_wrong_method_answers_405_in_the_envelope,
    register_login_and_me_never_show_the_password_hash,
);

/// The `JWT_SECRET` of apps whose tokens a test signs itself.
const SECRET: &str = "auth-tests-secret-that-is-at-least-32-bytes";
const OTHER_SECRET: &str = "another-deployments-secret-of-32-bytes-or-more";
const PASSWORD: &str = "correct horse battery";
/// The keys of the user representation, in name order.
const USER_KEYS: &str = "auth_provider avatar_url created_at email id is_active name phone phone_verified_at role updated_at";

fn registration(email: &str) -> Value {
    json!({"name": "Jane Doe", "email": email, "password": PASSWORD})
}

async fn register(app: &TestApp, body: Value) -> (u16, Value) {
    app.call("POST", "/auth/register", None, Some(body)).await
}

/// Status, headers and JSON body of a request.
async fn send(request: reqwest::RequestBuilder) -> (u16, HeaderMap, Value) {
    let response = request
        .send()
        .await
        .unwrap_or_else(|error| panic!("request: {error}"));
    let headers = response.headers().clone();
    let (status, body) = json_of(response).await;
    (status, headers, body)
}

/// `POST path` with `body` sent as is under `content_type` (none when `None`).
async fn post_raw(
    app: &TestApp,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let mut request = app.request("POST", path, None).body(body);
    if let Some(content_type) = content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    let (status, _, body) = send(request).await;
    (status, body)
}

/// Sends only the head of `POST path`, announcing a JSON body of `length` bytes, and reads the
/// answer. No body follows: the limit refuses on the announced length, and a client still
/// writing a body the server has refused may find the connection reset under it.
async fn announce_body(app: &TestApp, path: &str, length: usize) -> (u16, Value) {
    use std::io::{Read, Write};
    let address = app.address.trim_start_matches("http://").to_owned();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\nConnection: close\r\n\r\n"
    );
    let reply = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&address)?;
        stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
        stream.write_all(head.as_bytes())?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).map(|_| reply)
    })
    .await
    .unwrap_or_else(|error| panic!("task: {error}"))
    .unwrap_or_else(|error| panic!("raw POST {path}: {error}"));
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let (head, body) = reply
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("an HTTP answer: {reply}"));
    assert!(!head.to_ascii_lowercase().contains("chunked"), "{head}");
    let status = head.split(' ').nth(1).and_then(|code| code.parse().ok());
    let body = serde_json::from_str(body).unwrap_or_else(|error| panic!("{error}: {reply}"));
    (status.unwrap_or(0), body)
}

/// `GET /auth/me` with this `Authorization` header (none when `None`).
async fn me_with(app: &TestApp, authorization: Option<&str>) -> (u16, HeaderMap, Value) {
    let mut request = app.request("GET", "/auth/me", None);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    send(request).await
}

/// A 400 whose `message` array holds each of `wanted`.
fn assert_validation(status: u16, body: &Value, wanted: &[&str]) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "Bad Request", "{body}");
    assert_eq!(body["statusCode"], 400, "{body}");
    let messages = body["message"]
        .as_array()
        .unwrap_or_else(|| panic!("message is an array: {body}"));
    for want in wanted {
        assert!(messages.iter().any(|m| m == want), "{want:?} in {body}");
    }
}

/// RFC 3339 UTC with milliseconds: `2026-11-24T12:40:56.128Z`.
fn assert_timestamp(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("timestamp is a string: {value}"));
    assert_eq!(text.len(), "2026-11-24T12:40:56.128Z".len(), "{text}");
    assert_eq!(&text[19..20], ".", "milliseconds: {text}");
    assert!(text.ends_with('Z'), "UTC: {text}");
    chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|error| panic!("{text}: {error}"));
}

fn assert_user_representation(user: &Value) {
    assert_eq!(fields_of(user), USER_KEYS, "{user}");
    uuid::Uuid::parse_str(user["id"].as_str().unwrap_or(""))
        .unwrap_or_else(|error| panic!("id is a UUID ({error}): {user}"));
    assert_timestamp(&user["created_at"]);
    assert_timestamp(&user["updated_at"]);
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// `Bearer <token>` for `claims` signed with `algorithm` and `secret`.
fn bearer_signed(algorithm: Algorithm, secret: &str, claims: Value) -> String {
    let key = EncodingKey::from_secret(secret.as_bytes());
    jsonwebtoken::encode(&Header::new(algorithm), &claims, &key)
        .map(|token| format!("Bearer {token}"))
        .unwrap_or_else(|error| panic!("sign: {error}"))
}

/// A 401 for a token or credentials problem: the envelope with `message`, and the challenge.
fn assert_unauthorized(status: u16, headers: &HeaderMap, body: &Value, message: &str, case: &str) {
    assert_eq!((status, body.clone()), error(401, message), "{case}");
    let challenge = headers.get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok());
    assert_eq!(challenge, Some("Bearer"), "{case}");
}

async fn login(app: &TestApp, body: Value) -> (u16, Value) {
    app.call("POST", "/auth/login", None, Some(body)).await
}

/// The claims of a JWT (unverified).
fn claims_of(token: &str) -> Value {
    decode_part(token.split('.').nth(1).unwrap_or(""))
}

fn decode_part(part: &str) -> Value {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .unwrap_or_else(|error| panic!("base64url {part}: {error}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|error| panic!("JSON {part}: {error}"))
}

async fn users_in(database: &TestDatabase) -> i64 {
    database.count("SELECT COUNT(*) FROM users").await
}

async fn register_and_login(app: &TestApp, email: &str) -> (Value, String) {
    let (status, user) = register(app, registration(email)).await;
    assert_eq!(status, 201, "{user}");
    (user, app.login(email, PASSWORD).await)
}

async fn register_answers_201_with_exactly_the_user_representation(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let (status, user) = register(
        &app,
        json!({"name": "Jane Doe", "email": "jane@example.com", "password": PASSWORD,
               "phone": "+16502530000"}),
    )
    .await;
    assert_eq!(status, 201, "{user}");
    assert_user_representation(&user);
    assert_eq!(user["name"], "Jane Doe");
    assert_eq!(user["email"], "jane@example.com");
    assert_eq!(user["phone"], "+16502530000");
    assert_eq!(user["role"], "user");
    assert_eq!(user["auth_provider"], "email");
    assert_eq!(user["avatar_url"], Value::Null);
    assert_eq!(user["is_active"], true);
}

async fn register_stores_the_email_trimmed_and_lower_cased(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let (status, user) = register(&app, registration("  Jane.Doe@Example.COM ")).await;
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["email"], "jane.doe@example.com");
    let stored = database
        .count("SELECT COUNT(*) FROM users WHERE email = 'jane.doe@example.com'")
        .await;
    assert_eq!(stored, 1);
}

async fn register_refuses_an_email_that_differs_only_in_case_with_409(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let (status, body) = register(&app, registration("admin@example.com")).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = register(&app, registration("Admin@Example.com")).await;
    assert_eq!((status, body), error(409, "email already exists"));
    assert_eq!(users_in(&database).await, 1);
}

async fn register_with_an_empty_body_names_each_missing_field_in_field_order(
    database: TestDatabase,
) {
    let app = TestApp::spawn(&database, &[]).await;
    let (status, body) = register(&app, json!({})).await;
    let want = [
        "name should not be empty",
        "email must be an email",
        "password must be longer than or equal to 8 characters",
    ];
    assert_eq!((status, &body["message"]), (400, &json!(want)), "{body}");
}

async fn every_wrong_json_type_is_reported_in_field_order_after_unknown_fields(
    database: TestDatabase,
) {
    let app = TestApp::spawn(&database, &[]).await;
    let body = json!({"phone": 4, "password": [3], "email": 2, "name": {"n": 1}, "zz": 0});
    let (status, body) = register(&app, body).await;
    let want = [
        "property zz should not exist",
        "name must be a string",
        "email must be a string",
        "password must be a string",
        "phone must be a string",
    ];
    assert_eq!((status, &body["message"]), (400, &json!(want)), "{body}");
}

async fn register_reports_a_bad_email_and_out_of_range_password_lengths(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let (email, long) = ("jane@example.com", "p".repeat(129));
    for (body, want) in [
        (
            json!({"name": "Jane", "email": "not-an-email", "password": "short"}),
            &[
                "email must be an email",
                "password must be longer than or equal to 8 characters",
            ][..],
        ),
        (
            json!({"name": "Jane", "email": email, "password": long}),
            &["password must be shorter than or equal to 128 characters"],
        ),
        (
            json!({"name": "Jane", "email": email, "password": PASSWORD, "phone": "12ab"}),
            &["phone must be a valid phone number in international form (+ and the country code)"],
        ),
    ] {
        let (status, answer) = register(&app, body).await;
        assert_validation(status, &answer, want);
    }
    assert_eq!(users_in(&database).await, 0);
}

async fn register_reports_every_unknown_field_and_creates_nothing(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let mut body = registration("jane@example.com");
    body["foo"] = json!(1);
    body["role"] = json!("admin");
    let (status, body) = register(&app, body).await;
    assert_validation(
        status,
        &body,
        &[
            "property foo should not exist",
            "property role should not exist",
        ],
    );
    assert_eq!(users_in(&database).await, 0);
}

async fn register_refuses_wrong_json_types_with_400(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    for (field, value) in [
        ("name", json!(5)),
        ("email", json!(true)),
        ("password", json!(["a", "b"])),
        ("phone", json!(5551234567_u64)),
    ] {
        let mut body = registration("jane@example.com");
        body[field] = value;
        let (status, body) = register(&app, body).await;
        assert_validation(status, &body, &[&format!("{field} must be a string")]);
    }
    assert_eq!(users_in(&database).await, 0);
}

async fn register_refuses_malformed_json_with_400(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let not_utf8 = b"{\"name\": \"\xff\xfe\"}".to_vec();
    for broken in [
        br#"{"name": "Jane""#.to_vec(),
        b"{name: 1}".to_vec(),
        Vec::new(),
        br#"{"a":1}{"b":2}"#.to_vec(),
        not_utf8,
    ] {
        let shown = String::from_utf8_lossy(&broken).into_owned();
        let (status, body) =
            post_raw(&app, "/auth/register", Some("application/json"), broken).await;
        assert_eq!(
            (status, &body["statusCode"]),
            (400, &json!(400)),
            "{shown}: {body}"
        );
        assert_eq!(body["error"], "Bad Request", "{body}");
        let message = body["message"].as_str().unwrap_or("");
        assert!(
            message.starts_with("body is not valid JSON"),
            "{shown}: {body}"
        );
    }
}

async fn register_refuses_a_body_that_is_not_json_with_415(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let json_text = registration("jane@example.com").to_string();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let (status, body) =
            post_raw(&app, "/auth/register", content_type, json_text.clone()).await;
        assert_eq!(
            (status, body),
            error(415, "Content-Type must be application/json")
        );
    }
    let (status, body) = post_raw(
        &app,
        "/auth/register",
        Some("application/json; charset=utf-8"),
        json_text,
    )
    .await;
    assert_eq!(status, 201, "a charset parameter is still JSON: {body}");
}

async fn register_refuses_a_json_body_that_is_not_an_object_with_400(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    for body in ["[]", "null", "5", r#""jane@example.com""#] {
        let (status, answer) =
            post_raw(&app, "/auth/register", Some("application/json"), body).await;
        assert_eq!(
            (status, &answer),
            (400, &error_body(400, json!(["body must be a JSON object"]))),
            "{body}"
        );
    }
}

async fn register_answers_403_when_registration_is_closed(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[("AUTH_REGISTRATION", "closed")]).await;
    let (status, body) = register(&app, registration("jane@example.com")).await;
    assert_eq!((status, body), error(403, "Registration is closed"));
    assert_eq!(users_in(&database).await, 0);
}

async fn login_answers_200_with_a_session_its_lifetimes_and_the_user(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let (status, registered) = register(&app, registration("jane@example.com")).await;
    assert_eq!(status, 201, "{registered}");
    let (status, body) = login(
        &app,
        json!({"email": "jane@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        fields_of(&body),
        "access_token expires_in refresh_expires_in refresh_token token_type user",
        "{body}"
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["refresh_expires_in"], 2_592_000);
    assert_user_representation(&body["user"]);
    assert_eq!(body["user"], registered);
    let token = body["access_token"].as_str().unwrap_or("");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT: {token}");
    assert_eq!(decode_part(parts[0])["alg"], "HS256");
    let claims = decode_part(parts[1]);
    assert_eq!(claims["sub"], registered["id"]);
    let (iat, exp) = (claims["iat"].as_u64(), claims["exp"].as_u64());
    assert_eq!(
        exp.zip(iat).map(|(exp, iat)| exp - iat),
        Some(900),
        "{claims}"
    );
    let sid = claims["sid"].as_str().unwrap_or("");
    uuid::Uuid::parse_str(sid).unwrap_or_else(|error| panic!("sid is a UUID ({error}): {claims}"));
    let (status, me) = app.call("GET", "/auth/me", Some(token), None).await;
    assert_eq!((status, &me), (200, &registered));
}

async fn login_ignores_the_case_and_surrounding_spaces_of_the_email(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let (status, registered) = register(&app, registration("jane@example.com")).await;
    assert_eq!(status, 201, "{registered}");
    for email in ["JANE@Example.Com", "  jane@example.com  "] {
        let (status, body) = login(&app, json!({"email": email, "password": PASSWORD})).await;
        assert_eq!(status, 200, "{email}: {body}");
        assert_eq!(body["user"]["id"], registered["id"]);
    }
}

async fn login_validates_its_body_like_register(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let (status, body) = login(&app, json!({})).await;
    let missing = [
        "email or phone must be given, not both",
        "password should not be empty",
    ];
    assert_validation(status, &body, &missing);
    let extra = json!({"email": "jane@example.com", "password": PASSWORD, "remember": true});
    let (status, body) = login(&app, extra).await;
    assert_validation(status, &body, &["property remember should not exist"]);
    let (status, body) = login(&app, json!({"email": 5, "password": PASSWORD})).await;
    assert_validation(status, &body, &["email must be a string"]);
}

async fn wrong_password_unknown_email_inactive_and_passwordless_accounts_get_the_same_401(
    database: TestDatabase,
) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let inactive = app.user(UserRole::User).await;
    let passwordless = app.user(UserRole::User).await;
    for (assignment, email) in [
        ("is_active = false", &inactive.email),
        ("password = NULL", &passwordless.email),
    ] {
        let sql = format!("UPDATE users SET {assignment} WHERE email = '{email}'");
        database.execute(&sql).await;
    }
    for (case, email, password) in [
        ("wrong password", user.email.as_str(), "not-the-password"),
        ("unknown email", "nobody@example.com", PASSWORD),
        ("inactive account", &inactive.email, &inactive.password),
        ("no password", &passwordless.email, &passwordless.password),
    ] {
        let request = app
            .request("POST", "/auth/login", None)
            .json(&json!({"email": email, "password": password}));
        let (status, headers, body) = send(request).await;
        assert_unauthorized(status, &headers, &body, "Invalid email or password", case);
    }
}

async fn me_answers_the_caller(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let (status, me) = app.call("GET", "/auth/me", user.token(), None).await;
    assert_eq!(status, 200, "{me}");
    assert_user_representation(&me);
    assert_eq!(me["id"], user.id().to_string());
    assert_eq!(me["email"], user.email);
    assert_eq!(me["role"], "user");
}

async fn me_refuses_every_bad_token_with_the_same_401(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[("JWT_SECRET", SECRET)]).await;
    let user = app.user(UserRole::User).await;
    let (sub, sid, now) = (
        user.id().to_string(),
        claims_of(&user.token)["sid"].clone(),
        now(),
    );
    let claims = json!({"sub": sub, "sid": sid, "iat": now, "exp": now + 600});
    let crafted = bearer_signed(Algorithm::HS256, SECRET, claims.clone());
    let (status, _, body) = me_with(&app, Some(&crafted)).await;
    assert_eq!(
        status, 200,
        "a token signed with the app's secret works: {body}"
    );

    let mut flipped: Vec<char> = user.token.chars().collect();
    let middle = user.token.rfind('.').unwrap_or(0) + 10;
    flipped[middle] = if flipped[middle] == 'A' { 'B' } else { 'A' };
    let flipped: String = flipped.into_iter().collect();
    let header_none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let hs256 = |claims: Value| Some(bearer_signed(Algorithm::HS256, SECRET, claims));
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no header", None),
        ("empty bearer", Some("Bearer ".into())),
        ("garbage", Some("Bearer not.a.token".into())),
        ("another scheme", Some(format!("Basic {}", user.token))),
        ("token without scheme", Some(user.token.clone())),
        ("flipped signature", Some(format!("Bearer {flipped}"))),
        ("alg none", Some(format!("Bearer {header_none}.{payload}."))),
        (
            "HS384 with the app's secret",
            Some(bearer_signed(Algorithm::HS384, SECRET, claims.clone())),
        ),
        (
            "another secret",
            Some(bearer_signed(Algorithm::HS256, OTHER_SECRET, claims)),
        ),
        (
            "expired",
            hs256(json!({"sub": sub, "sid": sid, "iat": now - 120, "exp": now - 60})),
        ),
        ("no exp", hs256(json!({"sub": sub, "sid": sid, "iat": now}))),
        (
            "sub not a UUID",
            hs256(json!({"sub": "admin", "sid": sid, "iat": now, "exp": now + 600})),
        ),
        (
            "sub of no user",
            hs256(json!({"sub": uuid::Uuid::new_v4(), "sid": sid, "iat": now, "exp": now + 600})),
        ),
        (
            "no sid",
            hs256(json!({"sub": sub, "iat": now, "exp": now + 600})),
        ),
        (
            "sid of no session",
            hs256(json!({"sub": sub, "sid": uuid::Uuid::new_v4(), "iat": now, "exp": now + 600})),
        ),
    ];
    for (case, authorization) in cases {
        let (status, headers, body) = me_with(&app, authorization.as_deref()).await;
        assert_unauthorized(status, &headers, &body, "Unauthorized", case);
    }
}

async fn tokens_from_the_future_living_too_long_or_with_a_crit_header_get_401(
    database: TestDatabase,
) {
    let app = TestApp::spawn(
        &database,
        &[("JWT_SECRET", SECRET), ("JWT_EXPIRES_IN_SECONDS", "900")],
    )
    .await;
    let user = app.user(UserRole::User).await;
    let (sub, sid, now) = (
        user.id().to_string(),
        claims_of(&user.token)["sid"].clone(),
        now(),
    );
    let fine = json!({"sub": sub, "sid": sid, "iat": now, "exp": now + 900});
    let (status, _, body) =
        me_with(&app, Some(&bearer_signed(Algorithm::HS256, SECRET, fine))).await;
    assert_eq!(status, 200, "a token within every rule works: {body}");
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let mut critical = Header::new(Algorithm::HS256);
    critical.crit = Some(vec!["exp".to_owned()]);
    let with_crit = jsonwebtoken::encode(
        &critical,
        &json!({"sub": sub, "sid": sid, "iat": now, "exp": now + 600}),
        &key,
    )
    .unwrap_or_else(|error| panic!("sign: {error}"));
    let cases = [
        (
            "nbf in the future",
            bearer_signed(
                Algorithm::HS256,
                SECRET,
                json!({"sub": sub, "sid": sid, "iat": now, "nbf": now + 300, "exp": now + 600}),
            ),
        ),
        (
            "iat in the future",
            bearer_signed(
                Algorithm::HS256,
                SECRET,
                json!({"sub": sub, "sid": sid, "iat": now + 300, "exp": now + 600}),
            ),
        ),
        (
            "a lifetime longer than JWT_EXPIRES_IN_SECONDS",
            bearer_signed(
                Algorithm::HS256,
                SECRET,
                json!({"sub": sub, "sid": sid, "iat": now, "exp": now + 901}),
            ),
        ),
        ("an unknown crit header", format!("Bearer {with_crit}")),
    ];
    for (case, authorization) in cases {
        let (status, headers, body) = me_with(&app, Some(&authorization)).await;
        assert_unauthorized(status, &headers, &body, "Unauthorized", case);
    }
}

async fn two_authorization_headers_get_401_even_when_both_are_valid(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let bearer = format!("Bearer {}", user.token);
    let request = app
        .request("GET", "/auth/me", None)
        .header("authorization", &bearer)
        .header("authorization", &bearer);
    let (status, headers, body) = send(request).await;
    assert_unauthorized(status, &headers, &body, "Unauthorized", "two headers");
    let (status, _, _) = me_with(&app, Some(&bearer)).await;
    assert_eq!(status, 200, "one of them alone works");
}

async fn a_token_signed_with_another_jwt_secret_is_refused(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[("JWT_SECRET", SECRET)]).await;
    let other = TestApp::spawn(&database, &[("JWT_SECRET", OTHER_SECRET)]).await;
    let (_, token) = register_and_login(&app, "jane@example.com").await;
    let other_token = other.login("jane@example.com", PASSWORD).await;
    let (status, _) = other
        .call("GET", "/auth/me", Some(&other_token), None)
        .await;
    assert_eq!(
        status, 200,
        "the same user signs in on the other deployment"
    );
    for (case, on, token) in [
        ("theirs here", &app, &other_token),
        ("ours there", &other, &token),
    ] {
        let (status, headers, body) = me_with(on, Some(&format!("Bearer {token}"))).await;
        assert_unauthorized(status, &headers, &body, "Unauthorized", case);
    }
}

async fn a_deleted_users_token_stops_working_at_once(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let (_, token) = register_and_login(&app, "jane@example.com").await;
    let bearer = format!("Bearer {token}");
    let (status, _, _) = me_with(&app, Some(&bearer)).await;
    assert_eq!(status, 200);
    database
        .execute("DELETE FROM users WHERE email = 'jane@example.com'")
        .await;
    let (status, headers, body) = me_with(&app, Some(&bearer)).await;
    assert_unauthorized(status, &headers, &body, "Unauthorized", "deleted");
}

async fn a_deactivated_users_token_stops_working_at_once(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let (_, token) = register_and_login(&app, "jane@example.com").await;
    let bearer = format!("Bearer {token}");
    let set_active = |active: bool| {
        format!("UPDATE users SET is_active = {active} WHERE email = 'jane@example.com'")
    };
    database.execute(&set_active(false)).await;
    let (status, headers, body) = me_with(&app, Some(&bearer)).await;
    assert_unauthorized(status, &headers, &body, "Unauthorized", "deactivated");
    database.execute(&set_active(true)).await;
    let (status, _, _) = me_with(&app, Some(&bearer)).await;
    assert_eq!(status, 200, "the token itself was never revoked");
}

async fn a_body_over_the_limit_answers_413_in_the_envelope(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let (status, body) = announce_body(&app, "/auth/register", 2 * 1024 * 1024).await;
    let message = "Request body is too large";
    assert_eq!((status, body), error(413, message));
    let (status, _) = app.call("GET", "/health", None, None).await;
    assert_eq!(status, 200, "the service is still up");
}

async fn deeply_nested_json_answers_400(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let open = "[".repeat(10_000);
    let closed = format!("{open}{}", "]".repeat(10_000));
    let in_a_field =
        format!(r#"{{"name": {closed}, "email": "jane@example.com", "password": "{PASSWORD}"}}"#);
    for body in [open, closed, in_a_field] {
        let (status, answer) =
            post_raw(&app, "/auth/register", Some("application/json"), body).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["statusCode"], 400, "{answer}");
    }
    let (status, _) = app.call("GET", "/health", None, None).await;
    assert_eq!(status, 200, "the service is still up");
}

async fn a_nul_character_in_a_string_answers_400(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let body = json!({"name": "Ja\u{0}ne", "email": "jane@example.com", "password": PASSWORD});
    let (status, body) = register(&app, body).await;
    assert_validation(status, &body, &["name must not contain NUL characters"]);
    let body = json!({"name": "Jane", "email": "jane@example.com", "password": "pass\u{0}word"});
    let (status, body) = register(&app, body).await;
    assert_validation(status, &body, &["password must not contain NUL characters"]);
    assert_eq!(users_in(&database).await, 0);
}

async fn a_huge_string_answers_400_with_its_length_limit(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let body = json!({"name": "n".repeat(100_000), "email": "jane@example.com",
                      "password": PASSWORD});
    let (status, body) = register(&app, body).await;
    let want = "name must be shorter than or equal to 255 characters";
    assert_validation(status, &body, &[want]);
    let email = format!("{}@example.com", "e".repeat(100_000));
    let (status, body) = register(&app, registration(&email)).await;
    assert_validation(status, &body, &["email must be an email"]);
    // A well-formed address (a 64-character local part, 62-character labels) longer than the
    // 255 characters users.email holds.
    let label = "d".repeat(62);
    let long = format!("{}@{label}.{label}.{label}.com", "e".repeat(64));
    assert_eq!(long.len(), 257);
    let (status, body) = register(&app, registration(&long)).await;
    assert_validation(status, &body, &["email must be an email"]);
}

async fn a_path_id_that_is_not_a_uuid_answers_400(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let admin = app.user(UserRole::Admin).await;
    for path in ["/users/not-a-uuid", "/users/1", "/users/%00"] {
        let (status, body) = app.call("GET", path, admin.token(), None).await;
        assert_validation(status, &body, &["id must be a UUID"]);
    }
}

async fn bad_or_unknown_query_parameters_answer_400(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let admin = app.user(UserRole::Admin).await;
    for (query, want) in [
        ("limit=0", "limit must not be less than 1"),
        ("limit=101", "limit must not be greater than 100"),
        ("limit=abc", "limit must be an integer number"),
        ("limit=-1", "limit must be an integer number"),
        ("foo=1", "property foo should not exist"),
        ("limit=5&limit=6", "limit must be given once"),
    ] {
        let (status, body) = app
            .call("GET", &format!("/users?{query}"), admin.token(), None)
            .await;
        assert_validation(status, &body, &[want]);
    }
    let (status, body) = app
        .call("GET", "/users?limit=100", admin.token(), None)
        .await;
    assert_eq!(status, 200, "the bounds themselves are fine: {body}");
}

async fn an_unknown_path_answers_404_in_the_envelope(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let (status, body) = app.call("GET", "/nope", None, None).await;
    assert_eq!((status, body), error(404, "Cannot GET /nope"));
    let (status, body) = app.call("POST", "/auth/nope?x=1", None, None).await;
    assert_eq!((status, body), error(404, "Cannot POST /auth/nope"));
}

async fn a_wrong_method_answers_405_in_the_envelope(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    for (method, path) in [("GET", "/auth/login"), ("DELETE", "/auth/me")] {
        let (status, body) = app.call(method, path, None, None).await;
        let message = format!("Cannot {method} {path}");
        assert_eq!((status, body), error(405, message.as_str()));
    }
}

async fn register_login_and_me_never_show_the_password_hash(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let text_of = |request: reqwest::RequestBuilder| async move {
        let response = request
            .send()
            .await
            .unwrap_or_else(|error| panic!("request: {error}"));
        (
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        )
    };
    let credentials = json!({"email": "jane@example.com", "password": PASSWORD});
    let register = text_of(
        app.request("POST", "/auth/register", None)
            .json(&registration("jane@example.com")),
    )
    .await;
    let login = text_of(app.request("POST", "/auth/login", None).json(&credentials)).await;
    assert_eq!((register.0, login.0), (201, 200), "{register:?} {login:?}");
    let token = serde_json::from_str::<Value>(&login.1).unwrap_or_default()["access_token"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let me = text_of(app.request("GET", "/auth/me", Some(&token))).await;
    assert_eq!(me.0, 200, "{me:?}");
    for (answer, text) in [("register", register.1), ("login", login.1), ("me", me.1)] {
        for secret in ["\"password\"", "$argon2", "oauth_id", PASSWORD] {
            assert!(!text.contains(secret), "{answer} shows {secret}: {text}");
        }
    }
    let hashed = database
        .count("SELECT COUNT(*) FROM users WHERE password LIKE '$argon2id$%'")
        .await;
    assert_eq!(hashed, 1, "the password is stored as argon2id");
}
