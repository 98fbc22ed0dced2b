//! Sign-in by phone (AUTH.md, "Phone"): one-time codes sent through a fake SMS gateway that
//! speaks the webhook's HTTP API, on both backends; the limits in the process here and in
//! Redis in `phone_limits_in_redis_*`.

use std::time::{Duration, Instant};

use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use shared::entities::{UserRole, phone_code};
use test_support::http::error;
use test_support::sms::{self, FakeSms, Mode};
use test_support::{TestDatabase, on_both_backends};

use crate::helpers::TestApp;

on_both_backends!(
    a_code_request_answers_202_and_posts_six_digits_to_the_webhook_with_its_token,
    a_code_request_answers_the_same_whether_or_not_the_number_has_an_account,
    a_code_for_a_new_number_creates_a_phone_account_and_signs_it_in_with_201,
    a_code_signs_in_the_verified_owner_with_200_and_only_once,
    written_forms_of_one_number_are_one_account,
    wrong_codes_burn_the_code_after_the_maximum_attempts,
    an_expired_code_answers_the_one_401,
    a_new_code_replaces_the_old_one,
    codes_are_stored_only_as_keyed_hashes,
    a_failed_send_answers_503_and_leaves_no_live_code,
    a_hanging_gateway_answers_503_within_the_send_timeout,
    a_second_code_within_the_resend_interval_answers_429_and_is_not_counted,
    a_number_gets_at_most_its_hourly_codes,
    an_address_gets_at_most_its_hourly_codes,
    a_failed_send_counts_against_the_limits,
    an_inactive_phone_account_gets_the_one_401,
    with_a_token_the_code_attaches_the_phone_verified_to_the_caller,
    with_a_token_a_phone_verified_on_another_account_answers_409,
    an_invalid_token_answers_401_and_never_signs_in_anonymously,
    an_unverified_phone_never_signs_in_and_goes_when_its_owner_proves_it,
    a_phone_account_sets_its_first_password_and_logs_in_with_its_phone,
    unknown_unverified_wrong_passwordless_and_inactive_phone_logins_get_the_one_401,
    phone_logins_are_throttled_per_number,
    login_takes_exactly_one_of_email_and_phone,
    phone_numbers_are_stored_in_e164_wherever_they_are_accepted,
    a_phone_accounts_only_number_cannot_be_changed_or_cleared,
    codes_are_off_in_production_without_an_sms_provider,
);

const NUMBER: &str = "+84901234567";
const INVALID_CODE: &str = "Invalid or expired code";
const INVALID_PHONE_LOGIN: &str = "Invalid phone or password";

/// The app with its codes going to a fake gateway.
struct PhoneApp {
    app: TestApp,
    sms: FakeSms,
}

impl PhoneApp {
    async fn spawn(database: &TestDatabase, extra: &[(&str, &str)]) -> Self {
        let sms = FakeSms::start().await;
        let settings = sms.env();
        let mut env = test_support::borrowed(&settings);
        env.extend_from_slice(extra);
        let app = TestApp::spawn(database, &env).await;
        Self { app, sms }
    }

    async fn ask(&self, phone: &str) -> (u16, Value) {
        self.app
            .anonymous()
            .send("POST", "/auth/phone/otp", json!({"phone": phone}))
            .await
    }

    /// Asks for a code (which must be sent) and answers it.
    async fn code(&self, phone: &str) -> String {
        let (status, body) = self.ask(phone).await;
        assert_eq!(status, 202, "{body}");
        let e164 = shared::phone::normalise(phone).unwrap_or_else(|| panic!("{phone}"));
        self.sms
            .last_code_to(&e164)
            .unwrap_or_else(|| panic!("no code went to {e164}"))
    }

    async fn verify(&self, token: Option<&str>, body: Value) -> (u16, Value) {
        self.app
            .call("POST", "/auth/phone/verify", token, Some(body))
            .await
    }

    /// Signs in (or up) by phone; the session body.
    async fn sign_in(&self, phone: &str, expected: u16) -> Value {
        let code = self.code(phone).await;
        let (status, body) = self
            .verify(None, json!({"phone": phone, "code": code}))
            .await;
        assert_eq!(status, expected, "{body}");
        body
    }

    /// `POST /auth/login` with `body`, anonymous.
    async fn login(&self, body: Value) -> (u16, Value) {
        self.app.anonymous().send("POST", "/auth/login", body).await
    }

    async fn live_codes(&self) -> u64 {
        phone_code::Entity::find()
            .count(&self.app.db)
            .await
            .unwrap_or_else(|error| panic!("{error}"))
    }
}

/// A code that is not `code`.
fn other_than(code: &str) -> String {
    if code == "000000" { "000001" } else { "000000" }.to_owned()
}

fn token_of(body: &Value) -> String {
    body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access_token: {body}"))
        .to_owned()
}

async fn a_code_request_answers_202_and_posts_six_digits_to_the_webhook_with_its_token(
    database: TestDatabase,
) {
    let phone = PhoneApp::spawn(&database, &[]).await;
    let (status, body) = phone.ask("+84 90 123 4567").await;
    assert_eq!(
        (status, body),
        (202, json!({"expires_in": 300, "retry_after": 60}))
    );
    let received = phone.sms.received();
    assert_eq!(received.len(), 1);
    let sent = &received[0];
    assert_eq!(
        sent.authorization.as_deref(),
        Some(&*format!("Bearer {}", sms::TOKEN))
    );
    assert_eq!(sent.content_type.as_deref(), Some("application/json"));
    assert_eq!(sent.to(), NUMBER, "sent to the E.164 form");
    assert!(sent.code().len() == 6 && sent.code().bytes().all(|b| b.is_ascii_digit()));
    let message = sent.body["message"].as_str().unwrap_or_default();
    assert!(message.contains(sent.code()), "{message}");
}

async fn a_code_request_answers_the_same_whether_or_not_the_number_has_an_account(
    database: TestDatabase,
) {
    let phone = PhoneApp::spawn(&database, &[("OTP_RESEND_SECONDS", "1")]).await;
    phone.sign_in(NUMBER, 201).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let with_account = phone.ask(NUMBER).await;
    let without_account = phone.ask("+84901234568").await;
    assert_eq!(with_account.0, 202, "{}", with_account.1);
    assert_eq!(with_account, without_account);
    assert_eq!(phone.sms.received().len(), 3, "both were sent a code");
}

async fn a_code_for_a_new_number_creates_a_phone_account_and_signs_it_in_with_201(
    database: TestDatabase,
) {
    let phone = PhoneApp::spawn(&database, &[]).await;
    let body = phone.sign_in(NUMBER, 201).await;
    let user = &body["user"];
    assert_eq!(user["auth_provider"], "phone");
    assert_eq!(user["name"], NUMBER, "named by the number without a name");
    assert_eq!(user["email"], Value::Null);
    assert_eq!(user["phone"], NUMBER);
    assert!(user["phone_verified_at"].is_string(), "{user}");
    assert_eq!(body["token_type"], "Bearer");
    let refresh = body["refresh_token"].as_str().unwrap_or_default();
    assert!(!refresh.is_empty());
    let me = phone
        .app
        .call("GET", "/auth/me", Some(&token_of(&body)), None)
        .await;
    assert_eq!(me, (200, user.clone()));

    let code = phone.code("+84901234568").await;
    let named = json!({"phone": "+84901234568", "code": code, "name": "Lan"});
    let (status, body) = phone.verify(None, named).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["user"]["name"], "Lan");
}

async fn a_code_signs_in_the_verified_owner_with_200_and_only_once(database: TestDatabase) {
    let phone = PhoneApp::spawn(&database, &[("OTP_RESEND_SECONDS", "1")]).await;
    let created = phone.sign_in(NUMBER, 201).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let code = phone.code(NUMBER).await;
    let body = json!({"phone": NUMBER, "code": code});
    let (status, signed_in) = phone.verify(None, body.clone()).await;
    assert_eq!(status, 200, "{signed_in}");
    assert_eq!(signed_in["user"]["id"], created["user"]["id"]);
    let (status, again) = phone.verify(None, body).await;
    assert_eq!(
        (status, again),
        error(401, INVALID_CODE),
        "one code, one sign-in"
    );
}

async fn written_forms_of_one_number_are_one_account(database: TestDatabase) {
    let phone = PhoneApp::spawn(&database, &[("OTP_RESEND_SECONDS", "1")]).await;
    let created = phone.sign_in("+84 90 123 4567", 201).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = phone.sign_in("+84 (90) 123-4567", 200).await;
    assert_eq!(again["user"]["id"], created["user"]["id"]);
}

async fn wrong_codes_burn_the_code_after_the_maximum_attempts(database: TestDatabase) {
    let phone = PhoneApp::spawn(&database, &[("OTP_MAX_ATTEMPTS", "3")]).await;
    let code = phone.code(NUMBER).await;
    for _ in 0..3 {
        let wrong = json!({"phone": NUMBER, "code": other_than(&code)});
        let (status, body) = phone.verify(None, wrong).await;
        assert_eq!((status, body), error(401, INVALID_CODE));
    }
    let (status, body) = phone
        .verify(None, json!({"phone": NUMBER, "code": code}))
        .await;
    assert_eq!((status, body), error(401, INVALID_CODE), "burnt");
    assert_eq!(phone.live_codes().await, 0);
}

async fn an_expired_code_answers_the_one_401(database: TestDatabase) {
    let phone = PhoneApp::spawn(&database, &[("OTP_TTL_SECONDS", "1")]).await;
    let (status, body) = phone.ask(NUMBER).await;
    assert_eq!((status, body["expires_in"].clone()), (202, json!(1)));
    let code = phone.sms.last_code_to(NUMBER).unwrap_or_default();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (status, body) = phone
        .verify(None, json!({"phone": NUMBER, "code": code}))
        .await;
    assert_eq!((status, body), error(401, INVALID_CODE));
}

async fn a_new_code_replaces_the_old_one(database: TestDatabase) {
    let phone = PhoneApp::spawn(&database, &[("OTP_RESEND_SECONDS", "1")]).await;
    let first = phone.code(NUMBER).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = phone.code(NUMBER).await;
    assert_eq!(phone.live_codes().await, 1);
    if first != second {
        let (status, _) = phone
            .verify(None, json!({"phone": NUMBER, "code": first}))
            .await;
        assert_eq!(status, 401, "the first code was replaced");
    }
    let (status, body) = phone
        .verify(None, json!({"phone": NUMBER, "code": second}))
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn codes_are_stored_only_as_keyed_hashes(database: TestDatabase) {
    let phone = PhoneApp::spawn(&database, &[]).await;
    let code = phone.code(NUMBER).await;
    let rows = phone_code::Entity::find()
        .all(&phone.app.db)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(rows.len(), 1);
    let stored = rows[0].code_hash.expose();
    assert_eq!(stored.len(), 64);
    assert!(!stored.contains(&code));
    use sha2::{Digest, Sha256};
    for plain in [code.clone(), format!("{NUMBER}:{code}")] {
        let unkeyed = hex::encode(Sha256::digest(plain.as_bytes()));
        assert_ne!(
            stored, unkeyed,
            "an unkeyed hash of six digits is a lookup away"
        );
    }
}

async fn a_failed_send_answers_503_and_leaves_no_live_code(database: TestDatabase) {
    let phone = PhoneApp::spawn(&database, &[]).await;
    phone.sms.set_mode(Mode::Fail(500));
    let (status, body) = phone.ask(NUMBER).await;
    assert_eq!((status, body), error(503, "Service Unavailable"));
    assert_eq!(phone.sms.received().len(), 1, "the gateway was asked");
    assert_eq!(phone.live_codes().await, 0);
    let code = phone.sms.last_code_to(NUMBER).unwrap_or_default();
    let (status, _) = phone
        .verify(None, json!({"phone": NUMBER, "code": code}))
        .await;
    assert_eq!(
        status, 401,
        "the code that failed to go out signs no one in"
    );
}

async fn a_hanging_gateway_answers_503_within_the_send_timeout(database: TestDatabase) {
    let phone = PhoneApp::spawn(&database, &[("SMS_TIMEOUT_MS", "300")]).await;
    phone.sms.set_mode(Mode::Hang);
    let started = Instant::now();
    let (status, _) = phone.ask(NUMBER).await;
    assert_eq!(status, 503);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(phone.live_codes().await, 0);
}

async fn a_second_code_within_the_resend_interval_answers_429_and_is_not_counted(
    database: TestDatabase,
) {
    let phone = PhoneApp::spawn(
        &database,
        &[("OTP_RESEND_SECONDS", "2"), ("OTP_MAX_PER_PHONE", "2")],
    )
    .await;
    assert_eq!(phone.ask(NUMBER).await.0, 202);
    let response = phone
        .app
        .request("POST", "/auth/phone/otp", None)
        .json(&json!({"phone": NUMBER}))
        .send()
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok()?.parse().ok())
        .unwrap_or_default();
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(
        phone.sms.received().len(),
        1,
        "a refused request sends nothing"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // Had the 429 counted, this would be the third of two per hour.
    assert_eq!(phone.ask(NUMBER).await.0, 202);
}

async fn a_number_gets_at_most_its_hourly_codes(database: TestDatabase) {
    let phone = PhoneApp::spawn(
        &database,
        &[("OTP_RESEND_SECONDS", "1"), ("OTP_MAX_PER_PHONE", "2")],
    )
    .await;
    assert_eq!(phone.ask(NUMBER).await.0, 202);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, last) = phone.ask(NUMBER).await;
    assert_eq!(status, 202);
    let retry_after = last["retry_after"].as_u64().unwrap_or_default();
    assert!(
        retry_after > 3000,
        "the answer says the hour is used up: {last}"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = phone.ask(NUMBER).await;
    assert_eq!(
        (status, body),
        error(429, "Too many codes requested, try again later")
    );
    assert_eq!(
        phone.ask("+84901234568").await.0,
        202,
        "another number is not held"
    );
}

async fn an_address_gets_at_most_its_hourly_codes(database: TestDatabase) {
    let phone = PhoneApp::spawn(&database, &[("OTP_MAX_PER_ADDRESS", "3")]).await;
    for last_digit in 1..=3 {
        assert_eq!(phone.ask(&format!("+8490123456{last_digit}")).await.0, 202);
    }
    assert_eq!(phone.ask("+84901234565").await.0, 429);
}

async fn a_failed_send_counts_against_the_limits(database: TestDatabase) {
    let phone = PhoneApp::spawn(&database, &[]).await;
    phone.sms.set_mode(Mode::Fail(502));
    assert_eq!(phone.ask(NUMBER).await.0, 503);
    phone.sms.set_mode(Mode::Accept);
    assert_eq!(
        phone.ask(NUMBER).await.0,
        429,
        "the 503 took the minute's code"
    );
}

async fn an_inactive_phone_account_gets_the_one_401(database: TestDatabase) {
    let phone = PhoneApp::spawn(&database, &[("OTP_RESEND_SECONDS", "1")]).await;
    let created = phone.sign_in(NUMBER, 201).await;
    let admin = phone.app.user(UserRole::Admin).await;
    let id = created["user"]["id"].as_str().unwrap_or_default();
    phone
        .app
        .by(&admin)
        .ok(
            "PATCH",
            &format!("/users/{id}"),
            json!({"is_active": false}),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let code = phone.code(NUMBER).await;
    let (status, body) = phone
        .verify(None, json!({"phone": NUMBER, "code": code}))
        .await;
    assert_eq!((status, body), error(401, INVALID_CODE));
}

async fn with_a_token_the_code_attaches_the_phone_verified_to_the_caller(database: TestDatabase) {
    let phone = PhoneApp::spawn(&database, &[("OTP_RESEND_SECONDS", "1")]).await;
    let user = phone.app.user(UserRole::User).await;
    let code = phone.code("+84 90 123 4567").await;
    let (status, body) = phone
        .verify(
            user.token(),
            json!({"phone": "+84 90 123 4567", "code": code}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], json!(user.id()));
    assert_eq!(body["phone"], NUMBER);
    assert!(body["phone_verified_at"].is_string());
    assert!(
        body.get("access_token").is_none(),
        "the user, no new session"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let signed_in = phone.sign_in(NUMBER, 200).await;
    assert_eq!(
        signed_in["user"]["id"],
        json!(user.id()),
        "the number signs him in now"
    );
}

async fn with_a_token_a_phone_verified_on_another_account_answers_409(database: TestDatabase) {
    let phone = PhoneApp::spawn(&database, &[("OTP_RESEND_SECONDS", "1")]).await;
    phone.sign_in(NUMBER, 201).await;
    let user = phone.app.user(UserRole::User).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let code = phone.code(NUMBER).await;
    let (status, body) = phone
        .verify(user.token(), json!({"phone": NUMBER, "code": code}))
        .await;
    assert_eq!(
        (status, body),
        error(409, "phone is verified on another account")
    );
}

async fn an_invalid_token_answers_401_and_never_signs_in_anonymously(database: TestDatabase) {
    let phone = PhoneApp::spawn(&database, &[]).await;
    let code = phone.code(NUMBER).await;
    let body = json!({"phone": NUMBER, "code": code});
    let (status, answer) = phone.verify(Some("not-a-token"), body.clone()).await;
    assert_eq!((status, answer), error(401, "Unauthorized"));
    assert_eq!(phone.live_codes().await, 1, "the code was not spent");
    let (status, answer) = phone.verify(None, body).await;
    assert_eq!(status, 201, "{answer}");
}

async fn an_unverified_phone_never_signs_in_and_goes_when_its_owner_proves_it(
    database: TestDatabase,
) {
    let phone = PhoneApp::spawn(&database, &[]).await;
    let squatter = phone.app.user(UserRole::User).await;
    let changed = phone
        .app
        .by(&squatter)
        .ok(
            "PATCH",
            &format!("/users/{}", squatter.id()),
            json!({"phone": NUMBER}),
        )
        .await;
    assert_eq!(changed["phone"], NUMBER);
    assert_eq!(changed["phone_verified_at"], Value::Null);
    let login = json!({"phone": NUMBER, "password": squatter.password});
    let (status, body) = phone.login(login).await;
    assert_eq!((status, body), error(401, INVALID_PHONE_LOGIN));

    let owner = phone.sign_in(NUMBER, 201).await;
    assert_ne!(
        owner["user"]["id"],
        json!(squatter.id()),
        "a new account, not the squatter's"
    );
    let (status, squatter_now) = phone
        .app
        .by(&squatter)
        .get(&format!("/users/{}", squatter.id()))
        .await;
    assert_eq!(status, 200);
    assert_eq!(squatter_now["phone"], Value::Null, "taken off his account");
}

async fn a_phone_account_sets_its_first_password_and_logs_in_with_its_phone(
    database: TestDatabase,
) {
    let phone = PhoneApp::spawn(&database, &[]).await;
    let body = phone.sign_in(NUMBER, 201).await;
    let token = token_of(&body);
    let id = body["user"]["id"].as_str().unwrap_or_default().to_owned();
    let first = json!({"password": "a-first-password"});
    let (status, answer) = phone
        .app
        .call("PATCH", &format!("/users/{id}"), Some(&token), Some(first))
        .await;
    assert_eq!(
        status, 200,
        "no current_password for a first password: {answer}"
    );
    let login = json!({"phone": "+84 90 123 4567", "password": "a-first-password"});
    let (status, session) = phone.login(login).await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["user"]["id"], json!(id));
    let second = json!({"password": "a-second-password"});
    let (status, answer) = phone
        .app
        .call(
            "PATCH",
            &format!("/users/{id}"),
            Some(&token_of(&session)),
            Some(second),
        )
        .await;
    assert_eq!(
        (status, answer),
        error(400, vec!["current_password should not be empty"]),
        "once there is a password, API.md's rule holds"
    );
}

async fn unknown_unverified_wrong_passwordless_and_inactive_phone_logins_get_the_one_401(
    database: TestDatabase,
) {
    let phone = PhoneApp::spawn(&database, &[]).await;
    let user = phone.app.user(UserRole::User).await;
    phone
        .app
        .by(&user)
        .ok(
            "PATCH",
            &format!("/users/{}", user.id()),
            json!({"phone": "+84901234568"}),
        )
        .await;
    for (number, password) in [
        ("+84901234569", "any-password"),
        ("+84901234568", user.password.as_str()),
    ] {
        let login = json!({"phone": number, "password": password});
        let (status, body) = phone.login(login).await;
        assert_eq!((status, body), error(401, INVALID_PHONE_LOGIN), "{number}");
    }
    let account = phone.sign_in(NUMBER, 201).await;
    let login = json!({"phone": NUMBER, "password": "no-password-was-set"});
    let (status, body) = phone.login(login).await;
    assert_eq!(
        (status, body),
        error(401, INVALID_PHONE_LOGIN),
        "no password"
    );
    let path = format!(
        "/users/{}",
        account["user"]["id"].as_str().unwrap_or_default()
    );
    let first = json!({"password": "a-first-password"});
    let token = token_of(&account);
    let (status, _) = phone
        .app
        .call("PATCH", &path, Some(&token), Some(first))
        .await;
    assert_eq!(status, 200);
    let sql = format!("UPDATE users SET is_active = false WHERE phone = '{NUMBER}'");
    database.execute(&sql).await;
    let login = json!({"phone": NUMBER, "password": "a-first-password"});
    let (status, body) = phone.login(login).await;
    assert_eq!(
        (status, body),
        error(401, INVALID_PHONE_LOGIN),
        "an inactive account, the right password"
    );
}

async fn phone_logins_are_throttled_per_number(database: TestDatabase) {
    let phone = PhoneApp::spawn(&database, &[("LOGIN_MAX_FAILURES", "2")]).await;
    let login = json!({"phone": NUMBER, "password": "wrong-password"});
    for _ in 0..2 {
        let (status, _) = phone.login(login.clone()).await;
        assert_eq!(status, 401);
    }
    let (status, body) = phone.login(login).await;
    assert_eq!(
        (status, body),
        error(429, "Too many failed login attempts, try again later")
    );
    let other = json!({"phone": "+84901234568", "password": "wrong-password"});
    let (status, _) = phone.login(other).await;
    assert_eq!(status, 401, "another number has its own budget");
}

async fn login_takes_exactly_one_of_email_and_phone(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let both = json!({"email": "jane@example.com", "phone": NUMBER, "password": "x"});
    let (status, body) = app.anonymous().send("POST", "/auth/login", both).await;
    assert_eq!(
        (status, body),
        error(400, vec!["email or phone must be given, not both"])
    );
    let (status, body) = app
        .anonymous()
        .send("POST", "/auth/login", json!({"password": "x"}))
        .await;
    assert_eq!(
        (status, body),
        error(400, vec!["email or phone must be given, not both"])
    );
    let (status, body) = app
        .anonymous()
        .send("POST", "/auth/login", json!({"phone": "0901234567"}))
        .await;
    let problem =
        "phone must be a valid phone number in international form (+ and the country code)";
    assert_eq!(
        (status, body),
        error(400, vec![problem, "password should not be empty"])
    );
}

async fn phone_numbers_are_stored_in_e164_wherever_they_are_accepted(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let admin = app.user(UserRole::Admin).await;
    let created = app
        .by(&admin)
        .post(
            "/users",
            json!({"name": "Lan", "email": "lan@example.com", "phone": "+84 90 123 4567"}),
        )
        .await;
    assert_eq!(created["phone"], NUMBER);
    let registered = app
        .anonymous()
        .post(
            "/auth/register",
            json!({"name": "Minh", "email": "minh@example.com", "password": "correct-horse-battery",
                   "phone": "+1 (650) 253-0000"}),
        )
        .await;
    assert_eq!(registered["phone"], "+16502530000");
    let id = registered["id"].as_str().unwrap_or_default();
    let changed = app
        .by(&admin)
        .ok(
            "PATCH",
            &format!("/users/{id}"),
            json!({"phone": "+44 20 7946 0958"}),
        )
        .await;
    assert_eq!(changed["phone"], "+442079460958");
    let duplicate = json!({"name": "Dup", "email": "dup@example.com", "phone": "+84.90.123.4567"});
    let (status, body) = app.by(&admin).send("POST", "/users", duplicate).await;
    assert_eq!(
        (status, body),
        error(409, "phone already exists"),
        "one number"
    );
    let problem =
        "phone must be a valid phone number in international form (+ and the country code)";
    for impossible in ["+0000000", "0901234567", "+84 1", "+999 123 456 789"] {
        let (status, body) = app
            .by(&admin)
            .send(
                "PATCH",
                &format!("/users/{id}"),
                json!({"phone": impossible}),
            )
            .await;
        assert_eq!((status, body), error(400, vec![problem]), "{impossible}");
    }
}

async fn a_phone_accounts_only_number_cannot_be_changed_or_cleared(database: TestDatabase) {
    let phone = PhoneApp::spawn(&database, &[]).await;
    let body = phone.sign_in(NUMBER, 201).await;
    let token = token_of(&body);
    let path = format!("/users/{}", body["user"]["id"].as_str().unwrap_or_default());
    let only =
        "phone is this account's only way to sign in; prove the new number with a code instead";
    for change in [json!({"phone": null}), json!({"phone": "+84901234568"})] {
        let (status, answer) = phone
            .app
            .call("PATCH", &path, Some(&token), Some(change))
            .await;
        assert_eq!((status, answer), error(409, only));
    }
    let same = phone
        .app
        .call(
            "PATCH",
            &path,
            Some(&token),
            Some(json!({"phone": "+84 90 123 4567"})),
        )
        .await;
    assert_eq!(same.0, 200, "the same number is no change: {}", same.1);
    assert!(
        same.1["phone_verified_at"].is_string(),
        "and stays verified"
    );
}

async fn codes_are_off_in_production_without_an_sms_provider(database: TestDatabase) {
    let app = TestApp::spawn(
        &database,
        &[
            ("APP_ENV", "production"),
            (
                "JWT_SECRET",
                "a-production-secret-of-enough-length-0123456789",
            ),
        ],
    )
    .await;
    let (status, body) = app
        .anonymous()
        .send("POST", "/auth/phone/otp", json!({"phone": NUMBER}))
        .await;
    assert_eq!((status, body), error(503, "Service Unavailable"));
    let (status, _) = app.anonymous().get("/health").await;
    assert_eq!(status, 200, "the service runs without phone codes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_limits_in_redis_are_shared_by_two_services() {
    let database = TestDatabase::sqlite().await;
    let Some(url) = crate::throttle::redis_or_skip().await else {
        return;
    };
    let prefix = format!("phone-{}:", uuid::Uuid::new_v4().simple());
    let shared = [
        ("REDIS_URL", url.as_str()),
        ("REDIS_KEY_PREFIX", prefix.as_str()),
    ];
    let first = PhoneApp::spawn(&database, &shared).await;
    let second = PhoneApp::spawn(&database, &shared).await;
    assert_eq!(first.ask(NUMBER).await.0, 202);
    let (status, body) = second.ask(NUMBER).await;
    assert_eq!(
        (status, body),
        error(429, "Too many codes requested, try again later"),
        "the other service sees the number's minute taken"
    );
    assert!(second.sms.received().is_empty(), "and sends nothing");
}
