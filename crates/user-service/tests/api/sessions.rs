//! Sessions (AUTH.md, "Sessions"): every sign-in starts one, refresh tokens rotate, reuse ends
//! the session, and a session that ends stops its access tokens on the next request.

use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use shared::entities::{UserRole, session};
use test_support::TestDatabase;
use test_support::http::{error, fields_of};

use crate::helpers::{TestApp, TestUser, json_of};
use test_support::on_both_backends;

on_both_backends!(
    login_starts_a_session_the_caller_sees_as_current_with_its_user_agent_and_address,
    refresh_answers_a_new_session_body_and_keeps_the_session,
    refresh_tokens_are_stored_only_as_their_sha256,
    reusing_a_token_spent_two_rotations_ago_ends_the_session_and_its_access_tokens,
    the_token_spent_last_within_the_grace_answers_401_and_ends_nothing,
    the_token_spent_last_after_the_grace_ends_the_session,
    unknown_malformed_and_expired_refresh_tokens_get_one_401,
    a_missing_or_nul_holding_refresh_token_is_a_400,
    an_expired_session_stops_its_access_tokens,
    logout_ends_the_callers_session_at_once_and_no_other,
    logout_all_ends_every_session_of_the_caller_and_no_one_elses,
    deleting_a_session_ends_it_and_another_users_session_answers_404,
    deleting_an_expired_session_answers_404,
    changing_ones_own_password_ends_every_other_session_but_this_one,
    a_password_set_by_an_admin_ends_every_session_of_that_user,
    deactivation_ends_every_session_and_reactivation_revives_none,
    deleting_a_user_deletes_his_sessions,
    concurrent_refreshes_with_one_token_exactly_one_wins_and_the_session_lives,
    the_sweep_removes_expired_rows_and_keeps_live_ones,
    the_session_list_pages_newest_first,
);

const INVALID_REFRESH: &str = "Invalid or expired refresh token";

/// One session as a test holds it.
struct Session {
    access: String,
    refresh: String,
}

impl Session {
    fn from_body(body: &Value) -> Self {
        let field = |name: &str| {
            body[name]
                .as_str()
                .unwrap_or_else(|| panic!("no {name}: {body}"))
                .to_owned()
        };
        Self {
            access: field("access_token"),
            refresh: field("refresh_token"),
        }
    }

    /// The session's id: the access token's `sid`.
    fn id(&self) -> String {
        sid_of(&self.access)
    }
}

/// The `sid` claim of an access token.
fn sid_of(access: &str) -> String {
    use base64::Engine;
    let payload = access.split('.').nth(1).unwrap_or("");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap_or_else(|error| panic!("payload: {error}"));
    let claims: Value =
        serde_json::from_slice(&bytes).unwrap_or_else(|error| panic!("claims: {error}"));
    claims["sid"].as_str().unwrap_or("").to_owned()
}

/// Logs `user` in again (a new session), with `agent` as its `User-Agent`.
async fn sign_in(app: &TestApp, user: &TestUser, agent: &str) -> Session {
    let request = app
        .request("POST", "/auth/login", None)
        .header("user-agent", agent)
        .json(&json!({"email": user.email, "password": user.password}));
    let (status, body) = json_of(request.send().await.unwrap_or_else(|e| panic!("{e}"))).await;
    assert_eq!(status, 200, "{body}");
    Session::from_body(&body)
}

async fn refresh(app: &TestApp, token: &str) -> (u16, Value) {
    app.call(
        "POST",
        "/auth/refresh",
        None,
        Some(json!({"refresh_token": token})),
    )
    .await
}

/// Refreshes `session`, which must succeed, and answers its successor.
async fn rotate(app: &TestApp, session: &Session) -> Session {
    let (status, body) = refresh(app, &session.refresh).await;
    assert_eq!(status, 200, "{body}");
    Session::from_body(&body)
}

/// The status of `GET /auth/me` with `access`.
async fn me(app: &TestApp, access: &str) -> u16 {
    app.call("GET", "/auth/me", Some(access), None).await.0
}

async fn sessions_of(app: &TestApp, access: &str) -> Vec<Value> {
    let (status, body) = app.call("GET", "/auth/sessions", Some(access), None).await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().cloned().unwrap_or_default()
}

fn assert_invalid_refresh(answer: (u16, Value), case: &str) {
    assert_eq!(answer, error(401, INVALID_REFRESH), "{case}");
}

async fn login_starts_a_session_the_caller_sees_as_current_with_its_user_agent_and_address(
    database: TestDatabase,
) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let phone = sign_in(&app, &user, "ChatAI-iOS/2.1").await;

    let listed = sessions_of(&app, &phone.access).await;
    assert_eq!(
        listed.len(),
        2,
        "the helper's login and this one: {listed:?}"
    );
    let current: Vec<&Value> = listed.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "{listed:?}");
    let current = current[0];
    assert_eq!(current["id"], phone.id());
    assert_eq!(current["user_agent"], "ChatAI-iOS/2.1");
    assert_eq!(current["ip_address"], "127.0.0.1");
    assert_eq!(current["last_used_at"], Value::Null);
    assert_eq!(
        fields_of(current),
        "created_at current expires_at id ip_address last_used_at user_agent"
    );
    let created =
        chrono::DateTime::parse_from_rfc3339(current["created_at"].as_str().unwrap_or(""));
    let expires =
        chrono::DateTime::parse_from_rfc3339(current["expires_at"].as_str().unwrap_or(""));
    let lifetime = expires
        .and_then(|expires| created.map(|created| expires - created))
        .map(|lifetime| lifetime.num_seconds());
    assert!(
        matches!(lifetime, Ok(seconds) if (2_591_999..=2_592_000).contains(&seconds)),
        "30 days from the sign-in: {current}"
    );
}

async fn refresh_answers_a_new_session_body_and_keeps_the_session(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let first = sign_in(&app, &user, "web").await;

    let (status, body) = refresh(&app, &first.refresh).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["refresh_expires_in"], 2_592_000);
    assert_eq!(body["user"]["id"], user.id().to_string());
    let second = Session::from_body(&body);
    assert_ne!(second.refresh, first.refresh, "the refresh token rotates");
    assert_eq!(second.id(), first.id(), "the same session");
    assert_eq!(me(&app, &second.access).await, 200);
    assert_eq!(
        me(&app, &first.access).await,
        200,
        "the session's earlier access token too"
    );

    let listed = sessions_of(&app, &second.access).await;
    let this = listed
        .iter()
        .find(|s| s["id"] == first.id())
        .unwrap_or_else(|| panic!("listed: {listed:?}"));
    assert_eq!(this["user_agent"], "web", "the sign-in's agent stays");
    assert_ne!(
        this["last_used_at"],
        Value::Null,
        "the refresh is its last use"
    );
    // The successor works in turn.
    let third = rotate(&app, &second).await;
    assert_eq!(third.id(), first.id());
}

async fn refresh_tokens_are_stored_only_as_their_sha256(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let session = sign_in(&app, &user, "web").await;
    let rows = session::Entity::find()
        .filter(session::Column::UserId.eq(user.id()))
        .all(&app.db)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let hash = hex::encode(Sha256::digest(session.refresh.as_bytes()));
    assert!(
        rows.iter().any(|row| row.token_hash.expose() == hash),
        "stored as its SHA-256"
    );
    assert!(
        rows.iter()
            .all(|row| row.token_hash.expose() != session.refresh),
        "never as itself"
    );
    assert_eq!(format!("{:?}", rows[0].token_hash), "<redacted>");
}

async fn reusing_a_token_spent_two_rotations_ago_ends_the_session_and_its_access_tokens(
    database: TestDatabase,
) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let first = sign_in(&app, &user, "web").await;
    let second = rotate(&app, &first).await;
    let third = rotate(&app, &second).await;

    assert_invalid_refresh(
        refresh(&app, &first.refresh).await,
        "the stolen first token",
    );
    assert_invalid_refresh(
        refresh(&app, &third.refresh).await,
        "the newest token of the ended session",
    );
    assert_eq!(me(&app, &third.access).await, 401, "its access token");
    // Other sessions of the user live on.
    assert_eq!(me(&app, &user.token).await, 200);
}

async fn the_token_spent_last_within_the_grace_answers_401_and_ends_nothing(
    database: TestDatabase,
) {
    let app = TestApp::spawn(&database, &[("REFRESH_REUSE_GRACE_SECONDS", "60")]).await;
    let user = app.user(UserRole::User).await;
    let first = sign_in(&app, &user, "tab 1").await;
    let second = rotate(&app, &first).await;

    // The other tab sends the same token a moment later.
    assert_invalid_refresh(
        refresh(&app, &first.refresh).await,
        "the parent, in the grace",
    );
    assert_eq!(me(&app, &second.access).await, 200);
    let third = rotate(&app, &second).await;
    assert_eq!(third.id(), first.id());
}

async fn the_token_spent_last_after_the_grace_ends_the_session(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[("REFRESH_REUSE_GRACE_SECONDS", "1")]).await;
    let user = app.user(UserRole::User).await;
    let first = sign_in(&app, &user, "web").await;
    let second = rotate(&app, &first).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    assert_invalid_refresh(
        refresh(&app, &first.refresh).await,
        "the parent, after the grace",
    );
    assert_invalid_refresh(refresh(&app, &second.refresh).await, "the session ended");
    assert_eq!(me(&app, &second.access).await, 401);
}

async fn unknown_malformed_and_expired_refresh_tokens_get_one_401(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[("REFRESH_TOKEN_TTL_SECONDS", "1")]).await;
    let user = app.user(UserRole::User).await;
    let session = sign_in(&app, &user, "web").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    for (case, token) in [
        ("expired", session.refresh.as_str()),
        ("unknown", "Jc2Qf1x1mF0o0a9M2rTQ0n7y5u8pVbWcXdYeZfAgBhC"),
        ("malformed", "not a token"),
        ("empty", ""),
    ] {
        assert_invalid_refresh(refresh(&app, token).await, case);
    }
}

async fn a_missing_or_nul_holding_refresh_token_is_a_400(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    for (body, message) in [
        (json!({}), "refresh_token should not be empty"),
        (
            json!({"refresh_token": "a\u{0}b"}),
            "refresh_token must not contain NUL characters",
        ),
        (
            json!({"refresh_token": 42}),
            "refresh_token must be a string",
        ),
    ] {
        let answer = app
            .call("POST", "/auth/refresh", None, Some(body.clone()))
            .await;
        assert_eq!(answer, error(400, [message]), "{body}");
    }
}

async fn an_expired_session_stops_its_access_tokens(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[("REFRESH_TOKEN_TTL_SECONDS", "1")]).await;
    let user = app.user(UserRole::User).await;
    assert_eq!(me(&app, &user.token).await, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        me(&app, &user.token).await,
        401,
        "the session expired with its refresh token"
    );
}

async fn logout_ends_the_callers_session_at_once_and_no_other(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let laptop = sign_in(&app, &user, "laptop").await;

    let (status, body) = app
        .call("POST", "/auth/logout", Some(&laptop.access), None)
        .await;
    assert_eq!((status, body), (204, Value::Null));
    assert_eq!(
        me(&app, &laptop.access).await,
        401,
        "its access token, before exp"
    );
    assert_invalid_refresh(refresh(&app, &laptop.refresh).await, "its refresh token");
    let (status, _) = app
        .call("POST", "/auth/logout", Some(&laptop.access), None)
        .await;
    assert_eq!(status, 401, "logging out twice");
    assert_eq!(me(&app, &user.token).await, 200, "his other session lives");
}

async fn logout_all_ends_every_session_of_the_caller_and_no_one_elses(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let other = app.user(UserRole::User).await;
    let phone = sign_in(&app, &user, "phone").await;
    let laptop = sign_in(&app, &user, "laptop").await;

    let (status, _) = app
        .call("POST", "/auth/logout-all", Some(&laptop.access), None)
        .await;
    assert_eq!(status, 204);
    for access in [&user.token, &phone.access, &laptop.access] {
        assert_eq!(me(&app, access).await, 401);
    }
    assert_invalid_refresh(
        refresh(&app, &phone.refresh).await,
        "another session's token",
    );
    assert_eq!(me(&app, &other.token).await, 200, "another user's session");
    // Signing in again works.
    let again = sign_in(&app, &user, "laptop").await;
    assert_eq!(me(&app, &again.access).await, 200);
}

async fn deleting_a_session_ends_it_and_another_users_session_answers_404(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let other = app.user(UserRole::User).await;
    let phone = sign_in(&app, &user, "phone").await;
    let laptop = sign_in(&app, &user, "laptop").await;
    let theirs = sign_in(&app, &other, "theirs").await;

    let path = format!("/auth/sessions/{}", phone.id());
    let (status, _) = app.call("DELETE", &path, Some(&laptop.access), None).await;
    assert_eq!(status, 204);
    assert_eq!(me(&app, &phone.access).await, 401);
    assert_invalid_refresh(
        refresh(&app, &phone.refresh).await,
        "the ended session's token",
    );
    assert_eq!(me(&app, &laptop.access).await, 200);

    let not_found = error(404, "Session not found");
    for id in [theirs.id(), uuid::Uuid::now_v7().to_string(), phone.id()] {
        let path = format!("/auth/sessions/{id}");
        let answer = app.call("DELETE", &path, Some(&laptop.access), None).await;
        assert_eq!(answer, not_found, "{id}");
    }
    assert_eq!(
        me(&app, &theirs.access).await,
        200,
        "the other user's session lives"
    );
    let listed = sessions_of(&app, &laptop.access).await;
    assert!(
        listed.iter().all(|s| s["id"] != phone.id()),
        "an ended session is not listed: {listed:?}"
    );
}

async fn deleting_an_expired_session_answers_404(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[("REFRESH_TOKEN_TTL_SECONDS", "1")]).await;
    let user = app.user(UserRole::User).await;
    let old = sign_in(&app, &user, "old").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let fresh = sign_in(&app, &user, "fresh").await;
    let path = format!("/auth/sessions/{}", old.id());
    let answer = app.call("DELETE", &path, Some(&fresh.access), None).await;
    assert_eq!(answer, error(404, "Session not found"));
}

async fn changing_ones_own_password_ends_every_other_session_but_this_one(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let phone = sign_in(&app, &user, "phone").await;
    let laptop = sign_in(&app, &user, "laptop").await;

    let (status, body) = app
        .call(
            "PATCH",
            &format!("/users/{}", user.id()),
            Some(&laptop.access),
            Some(json!({"password": "a-brand-new-password", "current_password": user.password})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        me(&app, &laptop.access).await,
        200,
        "the session that changed it"
    );
    assert_eq!(rotate(&app, &laptop).await.id(), laptop.id());
    for access in [&user.token, &phone.access] {
        assert_eq!(me(&app, access).await, 401);
    }
    assert_invalid_refresh(
        refresh(&app, &phone.refresh).await,
        "another session's token",
    );
}

async fn a_password_set_by_an_admin_ends_every_session_of_that_user(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let admin = app.user(UserRole::Admin).await;
    let user = app.user(UserRole::User).await;
    let phone = sign_in(&app, &user, "phone").await;

    let (status, body) = app
        .call(
            "PATCH",
            &format!("/users/{}", user.id()),
            Some(&admin.token),
            Some(json!({"password": "reset-by-the-admin"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for access in [&user.token, &phone.access] {
        assert_eq!(me(&app, access).await, 401);
    }
    assert_invalid_refresh(refresh(&app, &phone.refresh).await, "his refresh token");
    assert_eq!(
        me(&app, &admin.token).await,
        200,
        "the admin's own session lives"
    );
}

async fn deactivation_ends_every_session_and_reactivation_revives_none(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let admin = app.user(UserRole::Admin).await;
    let user = app.user(UserRole::User).await;
    let phone = sign_in(&app, &user, "phone").await;
    let path = format!("/users/{}", user.id());

    for active in [false, true] {
        let (status, body) = app
            .call(
                "PATCH",
                &path,
                Some(&admin.token),
                Some(json!({"is_active": active})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    for access in [&user.token, &phone.access] {
        assert_eq!(
            me(&app, access).await,
            401,
            "reactivated, but the sessions ended"
        );
    }
    assert_invalid_refresh(refresh(&app, &phone.refresh).await, "his refresh token");
    let again = sign_in(&app, &user, "phone").await;
    assert_eq!(me(&app, &again.access).await, 200);
}

async fn deleting_a_user_deletes_his_sessions(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let phone = sign_in(&app, &user, "phone").await;
    let (status, _) = app
        .call(
            "DELETE",
            &format!("/users/{}", user.id()),
            Some(&phone.access),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let left = session::Entity::find()
        .filter(session::Column::UserId.eq(user.id()))
        .count(&app.db)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(left, 0);
    assert_invalid_refresh(
        refresh(&app, &phone.refresh).await,
        "a deleted user's token",
    );
}

async fn concurrent_refreshes_with_one_token_exactly_one_wins_and_the_session_lives(
    database: TestDatabase,
) {
    let app = TestApp::spawn(&database, &[("REFRESH_REUSE_GRACE_SECONDS", "60")]).await;
    let user = app.user(UserRole::User).await;
    let session = sign_in(&app, &user, "two tabs").await;

    let racers = (0..8).map(|_| refresh(&app, &session.refresh));
    let answers = futures_util::future::join_all(racers).await;
    let winners: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == 200)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(status, _)| *status != 200) {
        assert_eq!((*status, body.clone()), error(401, INVALID_REFRESH));
    }
    let winner = Session::from_body(winners[0]);
    assert_eq!(me(&app, &winner.access).await, 200, "the session lives on");
    assert_eq!(rotate(&app, &winner).await.id(), session.id());
}

async fn the_sweep_removes_expired_rows_and_keeps_live_ones(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[("REFRESH_TOKEN_TTL_SECONDS", "1")]).await;
    let user = app.user(UserRole::User).await;
    for _ in 0..3 {
        sign_in(&app, &user, "soon expired").await;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let fresh = sign_in(&app, &user, "fresh").await;

    let removed = user_service::auth::sessions::sweep(&app.db)
        .await
        .unwrap_or_else(|error| panic!("sweep: {error}"));
    assert_eq!(
        removed, 4,
        "the helper's session and the three expired ones"
    );
    let left = session::Entity::find()
        .filter(session::Column::UserId.eq(user.id()))
        .count(&app.db)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(left, 1);
    assert_eq!(me(&app, &fresh.access).await, 200);
}

async fn the_session_list_pages_newest_first(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let mut ids = vec![sid_of(&user.token)];
    for agent in ["one", "two", "three"] {
        ids.push(sign_in(&app, &user, agent).await.id());
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut path = "/auth/sessions?limit=3".to_owned();
    loop {
        let (status, body) = app.call("GET", &path, Some(&user.token), None).await;
        assert_eq!(status, 200, "{body}");
        for session in body["data"].as_array().into_iter().flatten() {
            seen.push(session["id"].as_str().unwrap_or("").to_owned());
        }
        match body["meta"]["next_cursor"].as_str() {
            Some(cursor) => path = format!("/auth/sessions?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ids);
}
