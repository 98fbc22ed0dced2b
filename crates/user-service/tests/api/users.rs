//! `/users` over HTTP: who may do what, self-service, creation rules, the last active admin
//! (and its race on PostgreSQL), keyset pages while users are added, search, and what deleting
//! a user takes with him.

use std::collections::HashSet;

use sea_orm::sea_query::{Condition, IntoCondition};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder,
};
use serde_json::{Value, json};
use shared::entities::{
    NotificationType, UserRole, conversation, message, notification, project, project_member, user,
};
use test_support::{TestDatabase, on_both_backends};
use uuid::Uuid;

use test_support::http::{error, fields_of, id_of};

use crate::helpers::{As, TestApp, json_of};

on_both_backends!(
    anonymous_caller_gets_401_with_a_bearer_challenge_from_every_users_endpoint,
    admin_lists_creates_reads_changes_and_deletes_any_user,
    user_reads_changes_and_deletes_himself_but_nobody_else,
    user_sending_role_is_active_or_email_gets_403_even_for_himself,
    user_changes_his_own_name_phone_and_avatar_url,
    changing_ones_own_password_needs_the_right_current_password,
    admin_creates_a_user_showing_only_public_fields_with_a_normalised_email,
    user_created_without_a_password_cannot_log_in,
    created_users_get_the_role_and_is_active_the_admin_chose,
    taken_email_in_any_case_or_taken_phone_answers_409_saying_which,
    invalid_create_bodies_answer_400_with_one_message_per_problem,
    patch_with_phone_null_clears_the_phone,
    last_active_admin_cannot_be_deleted_demoted_or_deactivated,
    with_two_admins_one_can_demote_the_other_but_then_not_himself,
    keyset_walk_sees_each_earlier_user_once_newest_first_while_users_are_created,
    garbage_cursor_or_out_of_range_limit_answers_400,
    search_matches_name_or_email_case_insensitively,
    search_takes_percent_and_underscore_literally,
    deleting_a_user_removes_his_projects_memberships_messages_notifications_and_token,
    deleting_a_project_owner_deletes_the_project_with_its_other_members_and_conversations,
);

const PHONE_MESSAGE: &str =
    "phone must be a valid phone number in international form (+ and the country code)";
const NO_BODY: Value = Value::Null;

fn forbidden() -> (u16, Value) {
    error(403, "Forbidden resource")
}

fn unauthorized() -> (u16, Value) {
    error(401, "Unauthorized")
}

/// 409 in the envelope, with a message about the last active admin.
fn assert_last_admin_conflict((status, body): &(u16, Value), what: &str) {
    let envelope = json!([status, body["error"], body["statusCode"]]);
    assert_eq!(envelope, json!([409, "Conflict", 409]), "{what}: {body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("last active admin"), "{what}: {body}");
}

/// `POST /users {name, email}` as `admin`; the created user.
async fn make(admin: As<'_>, name: &str, email: &str) -> Value {
    admin
        .post("/users", json!({"name": name, "email": email}))
        .await
}

/// `body` with only the fields named in `names` (space-separated).
fn pick(body: &Value, names: &str) -> Value {
    let fields = names
        .split(' ')
        .map(|name| (name.to_owned(), body[name].clone()));
    Value::Object(fields.collect())
}

fn user_path(id: impl std::fmt::Display) -> String {
    format!("/users/{id}")
}

fn uuid_of(body: &Value) -> Uuid {
    Uuid::parse_str(&id_of(body)).unwrap_or_else(|error| panic!("id of {body}: {error}"))
}

async fn login_status(app: &TestApp, email: &str, password: &str) -> u16 {
    let body = json!({"email": email, "password": password});
    app.call("POST", "/auth/login", None, Some(body)).await.0
}

/// The user row as stored.
async fn stored(app: &TestApp, id: Uuid) -> Option<user::Model> {
    let found = user::Entity::find_by_id(id).one(&app.db).await;
    found.unwrap_or_else(|error| panic!("find user {id}: {error}"))
}

/// How many rows of `E` match `condition`.
async fn rows<E>(app: &TestApp, condition: impl IntoCondition) -> u64
where
    E: EntityTrait,
    E::Model: Sync,
{
    let count = E::find().filter(condition).count(&app.db).await;
    count.unwrap_or_else(|error| panic!("count: {error}"))
}

async fn all_users(app: &TestApp) -> u64 {
    rows::<user::Entity>(app, Condition::all()).await
}

/// The ids of one `GET /users?query` page, and its `meta`.
async fn list_page(admin: As<'_>, query: &str) -> (Vec<String>, Value) {
    let body = admin.ok("GET", &format!("/users?{query}"), NO_BODY).await;
    let data = body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data: {body}"));
    (data.iter().map(id_of).collect(), body["meta"].clone())
}

fn encoded(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn anonymous_caller_gets_401_with_a_bearer_challenge_from_every_users_endpoint(
    database: TestDatabase,
) {
    let app = TestApp::spawn(&database, &[]).await;
    let someone = app.user(UserRole::User).await;
    let path = user_path(someone.id());
    let rename = json!({"name": "Changed By Nobody"});
    let new_user = json!({"name": "N", "email": "n@example.com"});
    let requests = [
        ("GET", "/users", None),
        ("POST", "/users", Some(new_user)),
        ("GET", path.as_str(), None),
        ("PUT", path.as_str(), Some(rename.clone())),
        ("PATCH", path.as_str(), Some(rename)),
        ("DELETE", path.as_str(), None),
    ];
    for (method, path, body) in requests {
        let mut request = app.request(method, path, None);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let challenge = response.headers().get("www-authenticate").cloned();
        assert_eq!(json_of(response).await, unauthorized(), "{method} {path}");
        let challenge = challenge.as_ref().and_then(|value| value.to_str().ok());
        assert_eq!(challenge, Some("Bearer"), "{method} {path}");
    }
    assert_eq!(all_users(&app).await, 1);
    let name = stored(&app, someone.id()).await.map(|user| user.name);
    assert_eq!(name, Some(someone.model.name.clone()));
}

async fn admin_lists_creates_reads_changes_and_deletes_any_user(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let (admin, other) = (
        app.user(UserRole::Admin).await,
        app.user(UserRole::User).await,
    );
    let as_admin = app.by(&admin);
    let (ids, _) = list_page(as_admin, "").await;
    let everyone: HashSet<String> = [admin.id().to_string(), other.id().to_string()].into();
    assert_eq!(ids.into_iter().collect::<HashSet<_>>(), everyone);

    let path = user_path(other.id());
    assert_eq!(
        as_admin.ok("GET", &path, NO_BODY).await["email"],
        json!(other.email)
    );
    let body = as_admin.ok("PUT", &path, json!({"name": "Renamed"})).await;
    assert_eq!(body["name"], json!("Renamed"));
    let changes = json!({"email": "Moved@Example.com", "role": "admin", "is_active": false});
    let body = as_admin.ok("PATCH", &path, changes).await;
    let expected = json!({
        "email": "moved@example.com", "role": "admin", "is_active": false, "name": "Renamed",
    });
    assert_eq!(pick(&body, "email role is_active name"), expected);

    // An admin sets another user's password without knowing the current one.
    let made = user_path(id_of(&make(as_admin, "Made", "made@example.com").await));
    as_admin
        .ok("PATCH", &made, json!({"password": "set-by-the-admin"}))
        .await;
    assert_eq!(
        login_status(&app, "made@example.com", "set-by-the-admin").await,
        200
    );

    assert_eq!(
        as_admin.send("DELETE", &made, NO_BODY).await,
        (204, NO_BODY)
    );
    for method in ["GET", "PATCH", "DELETE"] {
        let answer = as_admin.send(method, &made, json!({})).await;
        assert_eq!(
            answer,
            error(404, "User not found"),
            "{method} after delete"
        );
    }
}

async fn user_reads_changes_and_deletes_himself_but_nobody_else(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let admin = app.user(UserRole::Admin).await;
    let other = app.user(UserRole::User).await;
    let me = app.user(UserRole::User).await;
    let as_me = app.by(&me);
    let mine = user_path(me.id());
    assert_eq!(uuid_of(&as_me.ok("GET", &mine, NO_BODY).await), me.id());
    for method in ["PUT", "PATCH"] {
        let name = format!("Me via {method}");
        let body = as_me.ok(method, &mine, json!({"name": name})).await;
        assert_eq!(body["name"], json!(name));
    }

    assert_eq!(as_me.get("/users").await, forbidden());
    let new_user = json!({"name": "Sneaky", "email": "sneaky@example.com"});
    assert_eq!(as_me.send("POST", "/users", new_user).await, forbidden());
    assert_eq!(all_users(&app).await, 3);
    for target in [&other, &admin] {
        let path = user_path(target.id());
        let rename = json!({"name": "Hijacked"});
        let requests = [
            ("PUT", rename.clone()),
            ("PATCH", rename),
            ("DELETE", NO_BODY),
        ];
        assert_eq!(as_me.get(&path).await, forbidden(), "GET {path}");
        for (method, body) in requests {
            let answer = as_me.send(method, &path, body).await;
            assert_eq!(answer, forbidden(), "{method} {path}");
        }
        let name = stored(&app, target.id()).await.map(|user| user.name);
        assert_eq!(name, Some(target.model.name.clone()), "{path} unchanged");
    }

    assert_eq!(as_me.send("DELETE", &mine, NO_BODY).await, (204, NO_BODY));
    assert!(stored(&app, me.id()).await.is_none());
    assert_eq!(as_me.get("/auth/me").await, unauthorized());
}

async fn user_sending_role_is_active_or_email_gets_403_even_for_himself(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let me = app.user(UserRole::User).await;
    let as_me = app.by(&me);
    let path = user_path(me.id());
    let bodies = [
        json!({"role": "admin"}),
        json!({"role": "user"}),
        json!({"is_active": false}),
        json!({"is_active": true}),
        json!({"email": "elsewhere@example.com"}),
        json!({"email": me.email}),
        json!({"name": "Sneaky", "role": "admin"}),
    ];
    for body in bodies {
        for method in ["PATCH", "PUT"] {
            let answer = as_me.send(method, &path, body.clone()).await;
            assert_eq!(answer, forbidden(), "{method} {body}");
        }
    }
    let row = stored(&app, me.id())
        .await
        .unwrap_or_else(|| panic!("gone"));
    assert_eq!((row.role, row.is_active), (UserRole::User, true));
    assert_eq!(
        (row.email, row.name),
        (Some(me.email.clone()), me.model.name.clone())
    );
}

async fn user_changes_his_own_name_phone_and_avatar_url(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let me = app.user(UserRole::User).await;
    let as_me = app.by(&me);
    let path = user_path(me.id());
    let avatar = "https://cdn.example.com/me.png";
    let changes = json!({"name": "New Name", "phone": "+16502530000", "avatar_url": avatar});
    let fields = "name phone avatar_url";
    assert_eq!(
        pick(&as_me.ok("PATCH", &path, changes.clone()).await, fields),
        changes
    );
    assert_eq!(
        pick(&as_me.ok("GET", &path, NO_BODY).await, fields),
        changes
    );

    // PUT takes a partial body too: what it leaves out stays.
    let body = as_me.ok("PUT", &path, json!({"name": "Put Name"})).await;
    let expected = json!({"name": "Put Name", "phone": "+16502530000", "avatar_url": avatar});
    assert_eq!(pick(&body, fields), expected);
}

async fn changing_ones_own_password_needs_the_right_current_password(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let me = app.user(UserRole::User).await;
    let as_me = app.by(&me);
    let path = user_path(me.id());
    let new = "a-brand-new-password";

    let answer = as_me.send("PATCH", &path, json!({"password": new})).await;
    let missing = json!(["current_password should not be empty"]);
    assert_eq!(answer, error(400, missing));
    let wrong = json!({"password": new, "current_password": "not-my-password"});
    let answer = as_me.send("PATCH", &path, wrong).await;
    assert_eq!(answer, error(403, "current_password is wrong"));
    assert_eq!(login_status(&app, &me.email, new).await, 401);
    assert_eq!(login_status(&app, &me.email, &me.password).await, 200);

    let right = json!({"password": new, "current_password": me.password});
    as_me.ok("PATCH", &path, right).await;
    assert_eq!(login_status(&app, &me.email, new).await, 200);
    assert_eq!(login_status(&app, &me.email, &me.password).await, 401);
}

async fn admin_creates_a_user_showing_only_public_fields_with_a_normalised_email(
    database: TestDatabase,
) {
    let app = TestApp::spawn(&database, &[]).await;
    let admin = app.user(UserRole::Admin).await;
    let as_admin = app.by(&admin);
    let body = json!({
        "name": "New Person",
        "email": "  New.Person@Example.COM ",
        "password": "long-enough",
        "phone": "+442079460958",
        "avatar_url": "https://cdn.example.com/new.png",
    });
    let user = as_admin.post("/users", body).await;
    let expected = "auth_provider avatar_url created_at email id is_active name phone phone_verified_at role \
                    updated_at";
    assert_eq!(fields_of(&user), expected);
    let expected = json!({
        "name": "New Person", "email": "new.person@example.com", "phone": "+442079460958",
        "auth_provider": "email", "role": "user", "avatar_url": "https://cdn.example.com/new.png",
        "is_active": true,
    });
    let public = "name email phone auth_provider role avatar_url is_active";
    assert_eq!(pick(&user, public), expected);

    assert_eq!(
        as_admin.ok("GET", &user_path(id_of(&user)), NO_BODY).await,
        user
    );
    let token = app.login("NEW.person@example.com", "long-enough").await;
    let (status, me) = app.call("GET", "/auth/me", Some(&token), None).await;
    assert_eq!((status, id_of(&me)), (200, id_of(&user)));
}

async fn user_created_without_a_password_cannot_log_in(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let admin = app.user(UserRole::Admin).await;
    let user = make(app.by(&admin), "No Password", "nopass@example.com").await;
    assert_eq!(user["is_active"], json!(true));
    for password in ["anything-at-all", "correct-horse-battery"] {
        let body = json!({"email": "nopass@example.com", "password": password});
        let answer = app.call("POST", "/auth/login", None, Some(body)).await;
        assert_eq!(answer, error(401, "Invalid email or password"));
    }
}

async fn created_users_get_the_role_and_is_active_the_admin_chose(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let admin = app.user(UserRole::Admin).await;
    let as_admin = app.by(&admin);
    let pw = "long-enough";
    let boss =
        json!({"name": "Boss", "email": "boss@example.com", "password": pw, "role": "admin"});
    assert_eq!(as_admin.post("/users", boss).await["role"], json!("admin"));
    let token = app.login("boss@example.com", pw).await;
    let (status, _) = app.call("GET", "/users", Some(&token), None).await;
    assert_eq!(status, 200, "the created admin has admin rights");

    let idle =
        json!({"name": "Idle", "email": "idle@example.com", "password": pw, "is_active": false});
    let idle = as_admin.post("/users", idle).await;
    assert_eq!(
        pick(&idle, "is_active role"),
        json!({"is_active": false, "role": "user"})
    );
    assert_eq!(login_status(&app, "idle@example.com", pw).await, 401);

    let root = json!({"name": "Root", "email": "root@example.com", "role": "root"});
    let roles = json!(["role must be one of the following values: admin, user"]);
    assert_eq!(
        as_admin.send("POST", "/users", root).await,
        error(400, roles)
    );
}

async fn taken_email_in_any_case_or_taken_phone_answers_409_saying_which(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let (admin, other) = (
        app.user(UserRole::Admin).await,
        app.user(UserRole::User).await,
    );
    let (as_admin, as_other) = (app.by(&admin), app.by(&other));
    let first = json!({"name": "First", "email": "taken@example.com", "phone": "+16502530001"});
    as_admin.post("/users", first).await;

    let same_email = json!({"name": "Second", "email": " TAKEN@Example.com"});
    let answer = as_admin.send("POST", "/users", same_email).await;
    assert_eq!(answer, error(409, "email already exists"));
    let same_phone =
        json!({"name": "Third", "email": "third@example.com", "phone": "+16502530001"});
    let answer = as_admin.send("POST", "/users", same_phone).await;
    assert_eq!(answer, error(409, "phone already exists"));

    let path = user_path(other.id());
    let answer = as_admin
        .send("PATCH", &path, json!({"email": "Taken@example.COM"}))
        .await;
    assert_eq!(answer, error(409, "email already exists"));
    let answer = as_other
        .send("PATCH", &path, json!({"phone": "+16502530001"}))
        .await;
    assert_eq!(answer, error(409, "phone already exists"));
    assert_eq!(all_users(&app).await, 3);
}

async fn invalid_create_bodies_answer_400_with_one_message_per_problem(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let admin = app.user(UserRole::Admin).await;
    let as_admin = app.by(&admin);
    let everything_wrong = json!({
        "name": "Wrong", "email": "not-an-email", "password": "short", "phone": "12-34", "foo": 1,
    });
    let (status, body) = as_admin.send("POST", "/users", everything_wrong).await;
    let envelope = json!([status, body["error"], body["statusCode"]]);
    assert_eq!(envelope, json!([400, "Bad Request", 400]), "{body}");
    let messages = body["message"]
        .as_array()
        .unwrap_or_else(|| panic!("an array: {body}"));
    let mut messages: Vec<&str> = messages.iter().filter_map(Value::as_str).collect();
    messages.sort_unstable();
    let mut expected = vec![
        "email must be an email",
        "password must be longer than or equal to 8 characters",
        PHONE_MESSAGE,
        "property foo should not exist",
    ];
    expected.sort_unstable();
    assert_eq!(messages, expected);

    let bad_phones = [
        "123456",
        "+1234567890123456",
        "++1234567",
        "555 123 4567",
        "+15551234a",
        "+15551234567",
        "0901234567",
    ];
    for phone in bad_phones {
        let body = json!({"name": "P", "email": "p@example.com", "phone": phone});
        let answer = as_admin.send("POST", "/users", body).await;
        assert_eq!(
            answer,
            error(400, json!([PHONE_MESSAGE])),
            "phone {phone:?}"
        );
    }
    assert_eq!(all_users(&app).await, 1);
    for (n, (phone, e164)) in [
        ("+16502530000", "+16502530000"),
        ("+44 20 7946 0958", "+442079460958"),
    ]
    .into_iter()
    .enumerate()
    {
        let body = json!({"name": "P", "email": format!("p{n}@example.com"), "phone": phone});
        assert_eq!(as_admin.post("/users", body).await["phone"], json!(e164));
    }
}

async fn patch_with_phone_null_clears_the_phone(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let me = app.user(UserRole::User).await;
    let as_me = app.by(&me);
    let path = user_path(me.id());
    let phone = json!({"phone": "+16502530002", "avatar_url": "https://cdn.example.com/a.png"});
    assert_eq!(
        pick(
            &as_me.ok("PATCH", &path, phone.clone()).await,
            "phone avatar_url"
        ),
        phone
    );

    let body = as_me.ok("PATCH", &path, json!({"phone": null})).await;
    let expected = json!({"phone": null, "avatar_url": "https://cdn.example.com/a.png"});
    assert_eq!(pick(&body, "phone avatar_url"), expected);
    let row = stored(&app, me.id())
        .await
        .unwrap_or_else(|| panic!("gone"));
    assert_eq!(row.phone, None);

    // The number is free again.
    let other = app.user(UserRole::User).await;
    let take = json!({"phone": "+16502530002"});
    let body = app
        .by(&other)
        .ok("PATCH", &user_path(other.id()), take)
        .await;
    assert_eq!(body["phone"], json!("+16502530002"));
}

async fn last_active_admin_cannot_be_deleted_demoted_or_deactivated(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let admin = app.user(UserRole::Admin).await;
    let as_admin = app.by(&admin);
    // An inactive admin does not count as one.
    let idle =
        json!({"name": "Idle", "email": "idle@example.com", "role": "admin", "is_active": false});
    as_admin.post("/users", idle).await;
    let path = user_path(admin.id());
    let attempts = [
        ("DELETE", NO_BODY),
        ("PATCH", json!({"role": "user"})),
        ("PUT", json!({"role": "user"})),
        ("PATCH", json!({"is_active": false})),
        ("PUT", json!({"is_active": false})),
        (
            "PATCH",
            json!({"name": "Gone", "role": "user", "is_active": false}),
        ),
    ];
    for (method, body) in attempts {
        let answer = as_admin.send(method, &path, body.clone()).await;
        assert_last_admin_conflict(&answer, &format!("{method} {body}"));
    }
    let row = stored(&app, admin.id())
        .await
        .unwrap_or_else(|| panic!("gone"));
    let expected = (UserRole::Admin, true, admin.model.name.clone());
    assert_eq!((row.role, row.is_active, row.name), expected);
    assert_eq!(as_admin.get("/users").await.0, 200);
}

async fn with_two_admins_one_can_demote_the_other_but_then_not_himself(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let (first, second) = (
        app.user(UserRole::Admin).await,
        app.user(UserRole::Admin).await,
    );
    let as_first = app.by(&first);
    let demote = json!({"role": "user"});
    let body = as_first
        .ok("PATCH", &user_path(second.id()), demote.clone())
        .await;
    assert_eq!(body["role"], json!("user"));
    assert_eq!(app.by(&second).get("/users").await, forbidden());
    let answer = as_first.send("PATCH", &user_path(first.id()), demote).await;
    assert_last_admin_conflict(&answer, "demoting himself, now the only admin");

    // With a second admin again, one may delete the other.
    let third = app.user(UserRole::Admin).await;
    let answer = as_first
        .send("DELETE", &user_path(third.id()), NO_BODY)
        .await;
    assert_eq!(answer, (204, NO_BODY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_admins_demoting_each_other_at_once_never_both_succeed() {
    let database = test_support::postgres_or_skip!();
    let app = TestApp::spawn(&database, &[]).await;
    let (first, second) = (
        app.user(UserRole::Admin).await,
        app.user(UserRole::Admin).await,
    );
    let (as_first, as_second) = (app.by(&first), app.by(&second));
    let (first_path, second_path) = (user_path(first.id()), user_path(second.id()));
    let demote = json!({"role": "user"});
    let active_admins = "SELECT COUNT(*) FROM users WHERE role = 'admin' AND is_active";
    let mut both_admitted = 0;
    for round in 0..10 {
        let (a, b) = tokio::join!(
            as_first.send("PATCH", &second_path, demote.clone()),
            as_second.send("PATCH", &first_path, demote.clone()),
        );
        let outcome = format!("round {round}: {a:?} {b:?}");
        assert_eq!(database.count(active_admins).await, 1, "{outcome}");
        let (winner, loser) = if a.0 == 200 { (&a, &b) } else { (&b, &a) };
        assert_eq!(winner.0, 200, "one demotion succeeds: {outcome}");
        // The loser is refused by the last-admin rule (409), or, when the winner committed
        // before the loser's token was checked, because he is no admin any more (403).
        if loser.0 == 403 {
            assert_eq!(loser, &forbidden(), "{outcome}");
        } else {
            both_admitted += 1;
            assert_last_admin_conflict(loser, &outcome);
        }
        let promote = "UPDATE users SET role = 'admin', is_active = true";
        database.execute(promote).await;
    }
    eprintln!("both demotions passed authentication in {both_admitted} of 10 rounds");
}

async fn keyset_walk_sees_each_earlier_user_once_newest_first_while_users_are_created(
    database: TestDatabase,
) {
    let app = TestApp::spawn(&database, &[]).await;
    let admin = app.user(UserRole::Admin).await;
    let as_admin = app.by(&admin);
    for n in 0..25 {
        make(
            as_admin,
            &format!("Walker {n}"),
            &format!("walker{n}@example.com"),
        )
        .await;
    }
    let order = user::Entity::find()
        .order_by_desc(user::Column::CreatedAt)
        .order_by_desc(user::Column::Id)
        .all(&app.db)
        .await
        .unwrap_or_else(|error| panic!("users: {error}"));
    let expected: Vec<String> = order.iter().map(|user| user.id.to_string()).collect();
    assert_eq!(expected.len(), 26);

    let (mut seen, mut created_at) = (Vec::new(), Vec::new());
    let mut query = "limit=7".to_owned();
    for page in 1.. {
        let body = as_admin
            .ok("GET", &format!("/users?{query}"), NO_BODY)
            .await;
        assert_eq!(body["meta"]["limit"], json!(7), "{body}");
        let data = body["data"]
            .as_array()
            .unwrap_or_else(|| panic!("no data: {body}"));
        seen.extend(data.iter().map(id_of));
        created_at.extend(data.iter().map(|user| user["created_at"].to_string()));
        // A newer user appears between every two page requests.
        make(
            as_admin,
            &format!("Late {page}"),
            &format!("late{page}@example.com"),
        )
        .await;
        let Some(next) = body["meta"]["next_cursor"].as_str() else {
            assert_eq!(body["meta"]["next_cursor"], NO_BODY, "{body}");
            break;
        };
        assert_eq!(data.len(), 7, "a page before the last is full");
        assert!(page < 10, "the walk does not end: {seen:?}");
        query = format!("limit=7&cursor={}", encoded(next));
    }
    assert_eq!(
        seen, expected,
        "each earlier user once, newest first, no later one"
    );
    let newest_first = created_at.is_sorted_by(|a, b| a >= b);
    assert!(newest_first, "{created_at:?}");
}

async fn garbage_cursor_or_out_of_range_limit_answers_400(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let admin = app.user(UserRole::Admin).await;
    let as_admin = app.by(&admin);
    let queries = [
        ("cursor=garbage", "cursor"),
        ("cursor=ZGVhZGJlZWY", "cursor"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
    ];
    for (query, field) in queries {
        let body = as_admin
            .expect(400, "GET", &format!("/users?{query}"), NO_BODY)
            .await;
        assert_eq!(body["error"], json!("Bad Request"), "{query}: {body}");
        let message = body["message"][0].as_str().unwrap_or_default();
        assert!(message.starts_with(field), "{query}: {body}");
    }
}

async fn search_matches_name_or_email_case_insensitively(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let admin = app.user(UserRole::Admin).await;
    let as_admin = app.by(&admin);
    let alice = id_of(&make(as_admin, "Alice Administrator", "alice@example.com").await);
    let bob = id_of(&make(as_admin, "Bob", "bob.admin@example.com").await);
    let carol = id_of(&make(as_admin, "Carol", "carol@example.org").await);
    let cases = [
        ("ADMIN", vec![&bob, &alice]),
        ("aLiCe", vec![&alice]),
        ("CAROL@EXAMPLE.ORG", vec![&carol]),
        ("nobody", vec![]),
    ];
    for (search, expected) in cases {
        let query = format!("search={}&limit=100", encoded(search));
        let (ids, meta) = list_page(as_admin, &query).await;
        assert_eq!(ids.iter().collect::<Vec<_>>(), expected, "search={search}");
        assert_eq!(meta["next_cursor"], NO_BODY, "search={search}");
    }
    // A search pages like the whole list.
    let (first, meta) = list_page(as_admin, "search=Admin&limit=1").await;
    let next = meta["next_cursor"]
        .as_str()
        .unwrap_or_else(|| panic!("a next page: {meta}"));
    let query = format!("search=Admin&limit=1&cursor={}", encoded(next));
    let (second, meta) = list_page(as_admin, &query).await;
    assert_eq!((first, second), (vec![bob], vec![alice]));
    assert_eq!(meta["next_cursor"], NO_BODY);
}

async fn search_takes_percent_and_underscore_literally(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let admin = app.user(UserRole::Admin).await;
    let as_admin = app.by(&admin);
    let sale = id_of(&make(as_admin, "Sale 50% Off", "sale@example.com").await);
    let under = id_of(&make(as_admin, "Under_Score", "under@example.com").await);
    make(as_admin, "Plain 500", "plain@example.com").await;
    // Each search that finds nothing would find "Plain 500" if `%` or `_` were wildcards.
    let cases = [
        ("%", vec![&sale]),
        ("0% o", vec![&sale]),
        ("5%0", vec![]),
        ("_", vec![&under]),
        ("r_s", vec![&under]),
        ("n_5", vec![]),
    ];
    for (search, expected) in cases {
        let query = format!("search={}&limit=100", encoded(search));
        let (ids, _) = list_page(as_admin, &query).await;
        assert_eq!(ids.iter().collect::<Vec<_>>(), expected, "search={search}");
    }
}

async fn deleting_a_user_removes_his_projects_memberships_messages_notifications_and_token(
    database: TestDatabase,
) {
    let app = TestApp::spawn(&database, &[]).await;
    let admin = app.user(UserRole::Admin).await;
    let owner = app.user(UserRole::User).await;
    let leaver = app.user(UserRole::User).await;
    let (as_owner, as_leaver) = (app.by(&owner), app.by(&leaver));
    let hello = json!({"user_message": "hello"});

    let his = uuid_of(&as_leaver.post("/projects", json!({"name": "His"})).await);
    let chat = json!({"project_id": his, "title": "His chat"});
    let chat = id_of(&as_leaver.post("/conversations", chat).await);
    as_leaver
        .post(&format!("/conversations/{chat}/messages"), hello.clone())
        .await;

    let theirs = id_of(&as_owner.post("/projects", json!({"name": "Theirs"})).await);
    let editor = json!({"user_id": leaver.id(), "role": "editor"});
    as_owner
        .post(&format!("/projects/{theirs}/members"), editor)
        .await;
    let chat = json!({"project_id": theirs, "title": "Shared chat"});
    let chat = id_of(&as_owner.post("/conversations", chat).await);
    let messages = format!("/conversations/{chat}/messages");
    as_leaver.post(&messages, hello.clone()).await;
    as_owner.post(&messages, hello).await;
    for someone in [&leaver, &owner] {
        let notice = notification::ActiveModel {
            user_id: Set(someone.id()),
            r#type: Set(NotificationType::System),
            title: Set("Hello".to_owned()),
            message: Set("Welcome".to_owned()),
            data: Set(None),
            read: Set(false),
            ..notification::ActiveModel::new()
        };
        let inserted = notice.insert(&app.db).await;
        inserted.unwrap_or_else(|error| panic!("notification: {error}"));
    }

    let answer = app
        .by(&admin)
        .send("DELETE", &user_path(leaver.id()), NO_BODY)
        .await;
    assert_eq!(answer, (204, NO_BODY));

    let id = leaver.id();
    let left = [
        rows::<project::Entity>(&app, project::Column::OwnerId.eq(id)).await,
        rows::<conversation::Entity>(&app, conversation::Column::ProjectId.eq(his)).await,
        rows::<project_member::Entity>(&app, project_member::Column::UserId.eq(id)).await,
        rows::<message::Entity>(&app, message::Column::UserId.eq(id)).await,
        rows::<notification::Entity>(&app, notification::Column::UserId.eq(id)).await,
    ];
    // His projects and their conversations, memberships, messages and notifications.
    assert_eq!(left, [0; 5]);
    // What belongs to others stays: the owner's project, membership, message and notification.
    let others = [
        rows::<project::Entity>(&app, Condition::all()).await,
        rows::<project_member::Entity>(&app, Condition::all()).await,
        rows::<message::Entity>(&app, Condition::all()).await,
        rows::<notification::Entity>(&app, Condition::all()).await,
    ];
    assert_eq!(others, [1; 4]);
    for path in ["/auth/me".to_owned(), user_path(id), "/projects".to_owned()] {
        assert_eq!(as_leaver.get(&path).await, unauthorized(), "GET {path}");
    }
}

async fn deleting_a_project_owner_deletes_the_project_with_its_other_members_and_conversations(
    database: TestDatabase,
) {
    let app = TestApp::spawn(&database, &[]).await;
    let (owner, member) = (
        app.user(UserRole::User).await,
        app.user(UserRole::User).await,
    );
    let (as_owner, as_member) = (app.by(&owner), app.by(&member));
    let project = uuid_of(&as_owner.post("/projects", json!({"name": "Owned"})).await);
    let editor = json!({"user_id": member.id(), "role": "editor"});
    as_owner
        .post(&format!("/projects/{project}/members"), editor)
        .await;
    let chat = json!({"project_id": project, "title": "Chat"});
    let chat = id_of(&as_owner.post("/conversations", chat).await);
    let hello = json!({"user_message": "hi"});
    as_member
        .post(&format!("/conversations/{chat}/messages"), hello)
        .await;

    let answer = as_owner
        .send("DELETE", &user_path(owner.id()), NO_BODY)
        .await;
    assert_eq!(answer, (204, NO_BODY));

    let left = [
        rows::<project::Entity>(&app, project::Column::Id.eq(project)).await,
        rows::<project_member::Entity>(&app, project_member::Column::ProjectId.eq(project)).await,
        rows::<conversation::Entity>(&app, conversation::Column::ProjectId.eq(project)).await,
        rows::<message::Entity>(&app, message::Column::UserId.eq(member.id())).await,
    ];
    // The project, every membership in it, its conversations and their messages.
    assert_eq!(left, [0; 4]);
    // The other member stays, without the project.
    assert!(stored(&app, member.id()).await.is_some());
    let answer = as_member.get(&format!("/projects/{project}")).await;
    assert_eq!(answer, error(404, "Project not found"));
    assert_eq!(
        as_member.ok("GET", "/projects", NO_BODY).await["data"],
        json!([])
    );
}
