//! Conversations, messages and agents (API.md "Conversations, messages, agents"), over HTTP on
//! both backends: who may do what, lists and soft delete, thread ids, metadata, messages and
//! their keyset pages, and the agent list.

use std::collections::HashSet;
use std::str::FromStr;

use sea_orm::prelude::Decimal;
use sea_orm::{ActiveModelBehavior, ActiveModelTrait, ActiveValue::Set};
use serde_json::{Value, json};
use shared::entities::{AgentType, Sensitive, UserRole, agent, message};
use test_support::{TestDatabase, on_both_backends};
use uuid::Uuid;

use test_support::http::{error, id_of};

use crate::helpers::{As, TestApp, TestUser};

on_both_backends!(
    owners_editors_and_admins_read_and_write_conversations_and_messages,
    viewers_read_conversations_and_messages_but_may_not_write_them,
    non_members_get_the_same_404_as_for_missing_ids,
    anonymous_callers_get_401_on_every_endpoint,
    a_deactivated_or_deleted_members_token_gets_401_on_every_endpoint,
    the_list_shows_every_live_project_of_the_caller_newest_first,
    project_id_limits_the_list_to_that_project,
    a_hidden_deleted_or_missing_project_id_answers_the_same_404,
    a_missing_thread_id_is_generated_url_safe_and_unique,
    a_given_thread_id_is_kept_and_its_duplicate_is_409,
    an_invalid_thread_id_is_400,
    metadata_must_be_an_object_nested_at_most_32_levels,
    metadata_round_trips_nested_objects_unicode_and_exact_numbers,
    metadata_keeps_every_digit_of_numbers_a_float_would_round,
    patch_with_null_metadata_clears_it_and_title_must_be_1_to_255,
    a_deleted_conversation_answers_404_everywhere_and_leaves_the_lists,
    a_posted_message_answers_201_with_the_caller_as_its_user,
    agent_id_must_name_an_active_agent,
    attachments_must_be_an_array_of_objects_and_round_trip,
    cost_is_the_stored_decimal_as_a_string,
    keyset_walk_oldest_first_sees_each_message_once_while_posting,
    keyset_walk_newest_first_sees_each_message_once_while_posting,
    a_cursor_is_a_place_the_other_order_pages_back_from,
    agents_lists_only_active_agents_newest_first,
    include_inactive_shows_every_agent_to_admins_and_is_403_for_others,
    agents_never_carry_their_api_key,
);

/// A project with one user of each standing towards it.
struct Cast {
    app: TestApp,
    owner: TestUser,
    editor: TestUser,
    viewer: TestUser,
    outsider: TestUser,
    admin: TestUser,
    project: String,
}

impl Cast {
    async fn new(database: &TestDatabase) -> Self {
        let app = TestApp::spawn(database, &[]).await;
        let owner = app.user(UserRole::User).await;
        let editor = app.user(UserRole::User).await;
        let viewer = app.user(UserRole::User).await;
        let outsider = app.user(UserRole::User).await;
        let admin = app.user(UserRole::Admin).await;
        let project = create_project(app.by(&owner), "Support").await;
        add_member(app.by(&owner), &project, &editor, "editor").await;
        add_member(app.by(&owner), &project, &viewer, "viewer").await;
        Self {
            app,
            owner,
            editor,
            viewer,
            outsider,
            admin,
            project,
        }
    }

    fn by<'a>(&'a self, user: &'a TestUser) -> As<'a> {
        self.app.by(user)
    }

    /// A conversation the owner starts in the project.
    async fn conversation(&self) -> String {
        new_conversation(self.by(&self.owner), &self.project).await
    }
}

async fn create_project(owner: As<'_>, name: &str) -> String {
    let (status, body) = owner.send("POST", "/projects", json!({"name": name})).await;
    assert_eq!(status, 201, "{body}");
    id_of(&body)
}

async fn add_member(owner: As<'_>, project: &str, user: &TestUser, role: &str) {
    let path = format!("/projects/{project}/members");
    let body = json!({"user_id": user.id(), "role": role});
    let (status, body) = owner.send("POST", &path, body).await;
    assert_eq!(status, 201, "{body}");
}

async fn delete_project(owner: As<'_>, project: &str) {
    let (status, body) = owner.delete(&format!("/projects/{project}")).await;
    assert_eq!(status, 204, "{body}");
}

/// `POST /conversations` with `body`, which must answer 201; the conversation.
async fn create_conversation(who: As<'_>, body: Value) -> Value {
    let (status, body) = who.send("POST", "/conversations", body).await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn new_conversation(who: As<'_>, project: &str) -> String {
    let body = json!({"project_id": project, "title": "Refunds"});
    id_of(&create_conversation(who, body).await)
}

async fn post_message(who: As<'_>, conversation: &str, text: &str) -> Value {
    let path = format!("/conversations/{conversation}/messages");
    let (status, body) = who.send("POST", &path, json!({"user_message": text})).await;
    assert_eq!(status, 201, "{body}");
    body
}

/// The ids of a list answer's `data`, in order.
fn ids(body: &Value) -> Vec<String> {
    let data = body["data"].as_array();
    data.unwrap_or_else(|| panic!("no data: {body}"))
        .iter()
        .map(id_of)
        .collect()
}

/// A 400 envelope whose only message names `field` first.
fn assert_invalid(answer: &(u16, Value), field: &str) {
    let message = &answer.1["message"];
    assert_eq!(*answer, error(400, message.clone()));
    let text = message[0].as_str().unwrap_or_default();
    assert_eq!(message.as_array().map(Vec::len), Some(1), "{message}");
    assert!(text.starts_with(&format!("{field} ")), "{message}");
}

async fn insert_agent(app: &TestApp, name: &str, active: bool) -> agent::Model {
    agent::ActiveModel {
        name: Set(name.to_owned()),
        r#type: Set(AgentType::External),
        active: Set(active),
        api_key_encrypted: Set(Some(Sensitive::new("sk-secret"))),
        ..ActiveModelBehavior::new()
    }
    .insert(&app.db)
    .await
    .unwrap_or_else(|error| panic!("insert agent {name}: {error}"))
}

/// What `who` gets from every conversation endpoint, in this order: list the project's
/// conversations, create one, get, put, patch `conversation`, list and post its messages, and
/// delete it.
async fn every_endpoint(who: As<'_>, project: &str, conversation: &str) -> Vec<(u16, Value)> {
    let path = format!("/conversations/{conversation}");
    let messages = format!("{path}/messages");
    let create = json!({"project_id": project, "title": "New"});
    vec![
        who.get(&format!("/conversations?project_id={project}"))
            .await,
        who.send("POST", "/conversations", create).await,
        who.get(&path).await,
        who.send("PUT", &path, json!({"title": "Put"})).await,
        who.send("PATCH", &path, json!({"metadata": {"k": 1}}))
            .await,
        who.get(&messages).await,
        who.send("POST", &messages, json!({"user_message": "Hi"}))
            .await,
        who.delete(&path).await,
    ]
}

fn statuses(answers: &[(u16, Value)]) -> Vec<u16> {
    answers.iter().map(|(status, _)| *status).collect()
}

async fn owners_editors_and_admins_read_and_write_conversations_and_messages(
    database: TestDatabase,
) {
    let cast = Cast::new(&database).await;
    for user in [&cast.owner, &cast.editor, &cast.admin] {
        let conversation = cast.conversation().await;
        let answers = every_endpoint(cast.by(user), &cast.project, &conversation).await;
        let want = [200, 201, 200, 200, 200, 200, 201, 204];
        assert_eq!(statuses(&answers), want, "{answers:?}");
        assert_eq!(answers[6].1["user_id"], json!(user.id()));
    }
}

async fn viewers_read_conversations_and_messages_but_may_not_write_them(database: TestDatabase) {
    let cast = Cast::new(&database).await;
    let conversation = cast.conversation().await;
    let answers = every_endpoint(cast.by(&cast.viewer), &cast.project, &conversation).await;
    let want = [200, 403, 200, 403, 403, 200, 403, 403];
    assert_eq!(statuses(&answers), want, "{answers:?}");
    for index in [1, 3, 4, 6, 7] {
        assert_eq!(answers[index], error(403, json!("Forbidden resource")));
    }
    let path = format!("/conversations/{conversation}");
    let (status, body) = cast.by(&cast.owner).get(&path).await;
    let unchanged = (200, &json!("Refunds"), &Value::Null);
    assert_eq!((status, &body["title"], &body["metadata"]), unchanged);
    let (_, messages) = cast.by(&cast.owner).get(&format!("{path}/messages")).await;
    assert_eq!(messages["data"], json!([]));
}

async fn non_members_get_the_same_404_as_for_missing_ids(database: TestDatabase) {
    let cast = Cast::new(&database).await;
    let conversation = cast.conversation().await;
    let outsider = cast.by(&cast.outsider);
    let hidden = every_endpoint(outsider, &cast.project, &conversation).await;
    let (project, missing) = (Uuid::now_v7().to_string(), Uuid::now_v7().to_string());
    assert_eq!(hidden, every_endpoint(outsider, &project, &missing).await);
    let project_404 = error(404, json!("Project not found"));
    let conversation_404 = error(404, json!("Conversation not found"));
    assert_eq!(hidden[..2], [project_404.clone(), project_404]);
    assert!(
        hidden[2..].iter().all(|a| *a == conversation_404),
        "{hidden:?}"
    );
    let path = format!("/conversations/{conversation}");
    let (status, body) = cast.by(&cast.owner).get(&path).await;
    assert_eq!((status, &body["title"]), (200, &json!("Refunds")));
}

async fn anonymous_callers_get_401_on_every_endpoint(database: TestDatabase) {
    let cast = Cast::new(&database).await;
    let conversation = cast.conversation().await;
    let anonymous = cast.app.anonymous();
    let mut answers = every_endpoint(anonymous, &cast.project, &conversation).await;
    answers.push(anonymous.get("/conversations").await);
    answers.push(anonymous.get("/agents").await);
    for answer in &answers {
        assert_eq!(answer.0, 401, "{answers:?}");
        assert_eq!(answer.1["error"], "Unauthorized");
        assert_eq!(answer.1["statusCode"], 401);
    }
    let path = format!("/conversations/{conversation}");
    let response = cast.app.request("GET", &path, None).send().await;
    let response = response.unwrap_or_else(|error| panic!("GET: {error}"));
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
}

/// The conversation endpoints look the caller up in the same query as the conversation (or
/// project): a member whose account is deactivated or deleted is refused as signed out.
async fn a_deactivated_or_deleted_members_token_gets_401_on_every_endpoint(database: TestDatabase) {
    let cast = Cast::new(&database).await;
    let conversation = cast.conversation().await;
    let (status, body) = cast.by(&cast.editor).get("/conversations").await;
    assert_eq!((status, ids(&body)), (200, vec![conversation.clone()]));
    cast.app.set_account(&cast.editor, Some(false)).await;
    let unauthorized = error(401, json!("Unauthorized"));
    let answers = every_endpoint(cast.by(&cast.editor), &cast.project, &conversation).await;
    assert_eq!(answers, vec![unauthorized.clone(); 8]);
    let listed = cast.by(&cast.editor).get("/conversations").await;
    assert_eq!(listed, unauthorized);
    let (status, body) = cast
        .by(&cast.owner)
        .get(&format!("/conversations/{conversation}"))
        .await;
    assert_eq!(
        (status, &body["title"]),
        (200, &json!("Refunds")),
        "nothing changed"
    );
    cast.app.set_account(&cast.editor, None).await;
    let answers = every_endpoint(cast.by(&cast.editor), &cast.project, &conversation).await;
    assert_eq!(answers, vec![unauthorized.clone(); 8]);
    let listed = cast.by(&cast.editor).get("/conversations").await;
    assert_eq!(listed, unauthorized);
}

async fn the_list_shows_every_live_project_of_the_caller_newest_first(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let (me_user, other_user) = (
        app.user(UserRole::User).await,
        app.user(UserRole::User).await,
    );
    let (me, other) = (app.by(&me_user), app.by(&other_user));
    let mine = create_project(me, "Mine").await;
    let shared = create_project(other, "Shared").await;
    add_member(other, &shared, &me_user, "viewer").await;
    let foreign = create_project(other, "Foreign").await;
    let deleted = create_project(me, "Deleted").await;
    let a1 = new_conversation(me, &mine).await;
    let s1 = new_conversation(other, &shared).await;
    new_conversation(other, &foreign).await;
    new_conversation(me, &deleted).await;
    let a2 = new_conversation(me, &mine).await;
    let s2 = new_conversation(other, &shared).await;
    delete_project(me, &deleted).await;
    let (status, body) = me.get("/conversations").await;
    assert_eq!((status, ids(&body)), (200, vec![s2, a2, s1, a1]), "{body}");
    assert_eq!(body["meta"], json!({"limit": 20, "next_cursor": null}));
}

async fn project_id_limits_the_list_to_that_project(database: TestDatabase) {
    let cast = Cast::new(&database).await;
    let other = create_project(cast.by(&cast.owner), "Other").await;
    add_member(cast.by(&cast.owner), &other, &cast.viewer, "viewer").await;
    let first = cast.conversation().await;
    new_conversation(cast.by(&cast.owner), &other).await;
    let second = cast.conversation().await;
    let path = format!("/conversations?project_id={}", cast.project);
    for user in [&cast.owner, &cast.viewer, &cast.admin] {
        let (status, body) = cast.by(user).get(&path).await;
        let want = vec![second.clone(), first.clone()];
        assert_eq!((status, ids(&body)), (200, want), "{body}");
        assert_eq!(body["data"][0]["project_id"], json!(cast.project));
        assert_eq!(body["data"][1]["project_id"], json!(cast.project));
    }
}

async fn a_hidden_deleted_or_missing_project_id_answers_the_same_404(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let (me_user, other_user) = (
        app.user(UserRole::User).await,
        app.user(UserRole::User).await,
    );
    let (me, other) = (app.by(&me_user), app.by(&other_user));
    let hidden = create_project(other, "Hidden").await;
    new_conversation(other, &hidden).await;
    let deleted = create_project(me, "Deleted").await;
    new_conversation(me, &deleted).await;
    delete_project(me, &deleted).await;
    for project in [hidden, deleted, Uuid::now_v7().to_string()] {
        let answer = me
            .get(&format!("/conversations?project_id={project}"))
            .await;
        assert_eq!(answer, error(404, json!("Project not found")), "{project}");
    }
}

async fn a_missing_thread_id_is_generated_url_safe_and_unique(database: TestDatabase) {
    let cast = Cast::new(&database).await;
    let mut seen = HashSet::new();
    for _ in 0..3 {
        let body = json!({"project_id": cast.project, "title": "Generated"});
        let conversation = create_conversation(cast.by(&cast.editor), body).await;
        let thread_id = conversation["thread_id"].as_str().unwrap_or_default();
        assert!((1..=100).contains(&thread_id.len()), "{conversation}");
        let url_safe = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
        assert!(thread_id.bytes().all(url_safe), "URL-safe: {thread_id}");
        assert!(seen.insert(thread_id.to_owned()), "unique: {seen:?}");
    }
}

async fn a_given_thread_id_is_kept_and_its_duplicate_is_409(database: TestDatabase) {
    let cast = Cast::new(&database).await;
    let owner = cast.by(&cast.owner);
    let other = create_project(owner, "Other").await;
    let thread_id = format!("Thread_{}-x", "9".repeat(91));
    assert_eq!(thread_id.len(), 100);
    let body = json!({"project_id": cast.project, "title": "Kept", "thread_id": thread_id});
    let conversation = create_conversation(cast.by(&cast.editor), body).await;
    assert_eq!(conversation["thread_id"], json!(thread_id));
    for project in [&cast.project, &other] {
        let body = json!({"project_id": project, "title": "Again", "thread_id": thread_id});
        let answer = owner.send("POST", "/conversations", body).await;
        assert_eq!(answer, error(409, json!("thread_id already exists")));
    }
    let (_, list) = owner.get("/conversations").await;
    assert_eq!(ids(&list), [id_of(&conversation)]);
}

async fn an_invalid_thread_id_is_400(database: TestDatabase) {
    let cast = Cast::new(&database).await;
    for thread_id in ["has space", &"a".repeat(101), "", "slash/ed", "ümlaut"] {
        let body = json!({"project_id": cast.project, "title": "Bad", "thread_id": thread_id});
        let answer = cast
            .by(&cast.editor)
            .send("POST", "/conversations", body)
            .await;
        assert_invalid(&answer, "thread_id");
    }
    let (_, list) = cast.by(&cast.owner).get("/conversations").await;
    assert_eq!(list["data"], json!([]));
}

/// `{"a": {"a": ... {"leaf": true}}}`, `levels` objects deep.
fn nested(levels: usize) -> Value {
    (1..levels).fold(json!({"leaf": true}), |inner, _| json!({"a": inner}))
}

async fn metadata_must_be_an_object_nested_at_most_32_levels(database: TestDatabase) {
    let cast = Cast::new(&database).await;
    let editor = cast.by(&cast.editor);
    let body = |metadata| json!({"project_id": cast.project, "title": "M", "metadata": metadata});
    let not_an_object = error(400, json!(["metadata must be a JSON object"]));
    for metadata in [json!([1, 2]), json!("text"), json!(5)] {
        let answer = editor.send("POST", "/conversations", body(metadata)).await;
        assert_eq!(answer, not_an_object);
    }
    let answer = editor
        .send("POST", "/conversations", body(nested(33)))
        .await;
    assert_invalid(&answer, "metadata");
    let deepest = create_conversation(editor, body(nested(32))).await;
    assert_eq!(deepest["metadata"], nested(32));
    let path = format!("/conversations/{}", id_of(&deepest));
    let answer = editor.send("PATCH", &path, json!({"metadata": [1]})).await;
    assert_eq!(answer, not_an_object);
    let answer = editor
        .send("PATCH", &path, json!({"metadata": nested(33)}))
        .await;
    assert_invalid(&answer, "metadata");
    let (_, read) = editor.get(&path).await;
    assert_eq!(read["metadata"], nested(32));
}

async fn metadata_round_trips_nested_objects_unicode_and_exact_numbers(database: TestDatabase) {
    let cast = Cast::new(&database).await;
    let metadata = json!({
        "customer": {"name": "Zoë 山田 🚀", "tags": ["vip", "日本語", "😀"], "city": {"en": "Zürich"}},
        "beyond_f64": 9007199254740993u64,
        "i64_min": i64::MIN,
        "u64_max": u64::MAX,
        "ratio": 0.1,
        "empty": {},
        "none": null,
        "flags": [true, false, {"deep": [[1, 2], {"x": "y"}]}],
    });
    let body = json!({"project_id": cast.project, "title": "Unicode 💬", "metadata": metadata});
    let created = create_conversation(cast.by(&cast.editor), body).await;
    assert_eq!(
        (&created["title"], &created["metadata"]),
        (&json!("Unicode 💬"), &metadata)
    );
    let path = format!("/conversations/{}", id_of(&created));
    let (status, read) = cast.by(&cast.viewer).get(&path).await;
    assert_eq!((status, &read["metadata"]), (200, &metadata), "{read}");
    let patch = json!({"metadata": metadata});
    let (status, patched) = cast.by(&cast.editor).send("PATCH", &path, patch).await;
    assert_eq!(
        (status, &patched["metadata"]),
        (200, &metadata),
        "{patched}"
    );
}

async fn metadata_keeps_every_digit_of_numbers_a_float_would_round(database: TestDatabase) {
    let cast = Cast::new(&database).await;
    let digits = [
        "12345678901234567890123",
        "0.1000000000000000055511151231257827",
    ];
    let metadata = format!(
        r#"{{"big":{},"tenth":{},"n":[{}]}}"#,
        digits[0], digits[1], digits[0]
    );
    let sent = format!(
        r#"{{"project_id":"{}","title":"Precise","metadata":{metadata}}}"#,
        cast.project
    );
    let request = cast
        .app
        .request("POST", "/conversations", cast.editor.token());
    let request = request.header("content-type", "application/json");
    let response = request.body(sent).send().await;
    let response = response.unwrap_or_else(|error| panic!("POST: {error}"));
    assert_eq!(response.status(), 201);
    let created = response.text().await.unwrap_or_default();
    let parsed: Value = serde_json::from_str(&created).unwrap_or_else(|e| panic!("{e}: {created}"));
    let path = format!("/conversations/{}", id_of(&parsed));
    let read = cast.by(&cast.viewer).text(&path, 200).await;
    for text in [&created, &read] {
        for number in digits {
            assert!(text.contains(number), "{number} in {text}");
        }
    }
    let metadata: Value = serde_json::from_str(&metadata).unwrap_or_else(|e| panic!("{e}"));
    let read: Value = serde_json::from_str(&read).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read["metadata"], metadata);
}

async fn patch_with_null_metadata_clears_it_and_title_must_be_1_to_255(database: TestDatabase) {
    let cast = Cast::new(&database).await;
    let editor = cast.by(&cast.editor);
    let body = json!({"project_id": cast.project, "title": "Before", "metadata": {"a": 1}});
    let path = format!(
        "/conversations/{}",
        id_of(&create_conversation(editor, body).await)
    );
    let (status, body) = editor.send("PATCH", &path, json!({"title": "After"})).await;
    let want = (200, &json!("After"), &json!({"a": 1}));
    assert_eq!((status, &body["title"], &body["metadata"]), want);
    let (status, body) = editor.send("PATCH", &path, json!({"metadata": null})).await;
    let want = (200, &json!("After"), &Value::Null);
    assert_eq!((status, &body["title"], &body["metadata"]), want);
    let (_, read) = editor.get(&path).await;
    assert_eq!(read["metadata"], Value::Null);
    let longest = "t".repeat(255);
    let (status, body) = editor.send("PUT", &path, json!({"title": longest})).await;
    assert_eq!((status, &body["title"]), (200, &json!(longest)));
    let empty = error(400, json!(["title should not be empty"]));
    let answer = editor.send("PATCH", &path, json!({"title": ""})).await;
    assert_eq!(answer, empty);
    let too_long = json!({"title": "t".repeat(256)});
    let answer = editor.send("PATCH", &path, too_long).await;
    let message = "title must be shorter than or equal to 255 characters";
    assert_eq!(answer, error(400, json!([message])));
    let create = json!({"project_id": cast.project, "title": ""});
    assert_eq!(editor.send("POST", "/conversations", create).await, empty);
    let (_, read) = editor.get(&path).await;
    assert_eq!(read["title"], json!(longest));
}

async fn a_deleted_conversation_answers_404_everywhere_and_leaves_the_lists(
    database: TestDatabase,
) {
    let cast = Cast::new(&database).await;
    let owner = cast.by(&cast.owner);
    let kept = cast.conversation().await;
    let gone = cast.conversation().await;
    post_message(owner, &gone, "before the delete").await;
    let path = format!("/conversations/{gone}");
    let answer = cast.by(&cast.editor).delete(&path).await;
    assert_eq!(answer, (204, Value::Null));
    let missing = error(404, json!("Conversation not found"));
    let messages = format!("{path}/messages");
    assert_eq!(owner.get(&path).await, missing);
    assert_eq!(owner.get(&messages).await, missing);
    let rename = json!({"title": "Back"});
    assert_eq!(owner.send("PATCH", &path, rename.clone()).await, missing);
    assert_eq!(owner.send("PUT", &path, rename).await, missing);
    let message = json!({"user_message": "Hello?"});
    assert_eq!(owner.send("POST", &messages, message).await, missing);
    assert_eq!(owner.delete(&path).await, missing);
    let with_project = format!("/conversations?project_id={}", cast.project);
    for list in ["/conversations", with_project.as_str()] {
        let (status, body) = owner.get(list).await;
        assert_eq!((status, ids(&body)), (200, vec![kept.clone()]), "{list}");
    }
    let sql = "SELECT COUNT(*) FROM conversations WHERE is_deleted = TRUE";
    assert_eq!(database.count(sql).await, 1, "a soft delete keeps the row");
}

async fn a_posted_message_answers_201_with_the_caller_as_its_user(database: TestDatabase) {
    let cast = Cast::new(&database).await;
    let gpt4 = insert_agent(&cast.app, "GPT-4", true).await;
    let conversation = cast.conversation().await;
    let path = format!("/conversations/{conversation}/messages");
    let body = json!({"user_message": "How do I get a refund?", "agent_id": gpt4.id});
    let (status, posted) = cast.by(&cast.editor).send("POST", &path, body).await;
    assert_eq!(status, 201, "{posted}");
    let id = id_of(&posted);
    assert!(Uuid::parse_str(&id).is_ok(), "{posted}");
    let created_at = posted["created_at"].as_str().unwrap_or_default();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created_at).is_ok(),
        "{posted}"
    );
    assert_eq!(
        created_at.len(),
        "2026-11-24T12:40:56.128Z".len(),
        "{posted}"
    );
    let expected = json!({
        "id": id,
        "conversation_id": conversation,
        "user_id": cast.editor.id(),
        "agent_id": gpt4.id,
        "user_message": "How do I get a refund?",
        "agent_response": null,
        "attachments": null,
        "tokens_used": null,
        "cost": null,
        "created_at": created_at,
    });
    assert_eq!(posted, expected);
    let (status, list) = cast.by(&cast.viewer).get(&path).await;
    assert_eq!((status, &list["data"]), (200, &json!([expected])), "{list}");
}

async fn agent_id_must_name_an_active_agent(database: TestDatabase) {
    let cast = Cast::new(&database).await;
    let retired = insert_agent(&cast.app, "Retired", false).await;
    let path = format!("/conversations/{}/messages", cast.conversation().await);
    let editor = cast.by(&cast.editor);
    for agent_id in [retired.id, Uuid::now_v7()] {
        let body = json!({"user_message": "Hi", "agent_id": agent_id});
        let answer = editor.send("POST", &path, body).await;
        assert_eq!(
            answer,
            error(400, json!(["agent_id must name an active agent"]))
        );
    }
    let (_, list) = editor.get(&path).await;
    assert_eq!(list["data"], json!([]));
}

async fn attachments_must_be_an_array_of_objects_and_round_trip(database: TestDatabase) {
    let cast = Cast::new(&database).await;
    let path = format!("/conversations/{}/messages", cast.conversation().await);
    let editor = cast.by(&cast.editor);
    let attachments = json!([
        {"name": "invoice 📄.pdf", "size": 12345, "meta": {"pages": [1, 2], "ratio": 0.75}},
        {"url": "https://example.com/a.png", "alt": "图像"},
    ]);
    let body = json!({"user_message": "See attached", "attachments": attachments});
    let (status, posted) = editor.send("POST", &path, body).await;
    assert_eq!(
        (status, &posted["attachments"]),
        (201, &attachments),
        "{posted}"
    );
    let (_, list) = editor.get(&path).await;
    assert_eq!(list["data"][0]["attachments"], attachments);
    for attachments in [
        json!({"name": "a.pdf"}),
        json!([1, 2]),
        json!([{"a": 1}, "b"]),
    ] {
        let body = json!({"user_message": "Bad", "attachments": attachments});
        assert_invalid(&editor.send("POST", &path, body).await, "attachments");
    }
    let answer = editor
        .send("POST", &path, json!({"user_message": ""}))
        .await;
    assert_eq!(
        answer,
        error(400, json!(["user_message should not be empty"]))
    );
    let (_, list) = editor.get(&path).await;
    assert_eq!(ids(&list), [id_of(&posted)]);
}

async fn cost_is_the_stored_decimal_as_a_string(database: TestDatabase) {
    let cast = Cast::new(&database).await;
    let conversation = cast.conversation().await;
    let stored = Decimal::from_str("0.00012000").unwrap_or_else(|e| panic!("{e}"));
    message::ActiveModel {
        conversation_id: Set(Uuid::parse_str(&conversation).unwrap_or_else(|e| panic!("{e}"))),
        user_id: Set(cast.owner.id()),
        user_message: Set("Priced".to_owned()),
        agent_response: Set(Some("An answer".to_owned())),
        tokens_used: Set(Some(42)),
        cost: Set(Some(stored)),
        ..ActiveModelBehavior::new()
    }
    .insert(&cast.app.db)
    .await
    .unwrap_or_else(|error| panic!("insert message: {error}"));
    let path = format!("/conversations/{conversation}/messages");
    let (status, list) = cast.by(&cast.viewer).get(&path).await;
    assert_eq!(status, 200, "{list}");
    let row = &list["data"][0];
    let answered = (&row["tokens_used"], &row["agent_response"]);
    assert_eq!(answered, (&json!(42), &json!("An answer")));
    let cost = row["cost"].as_str();
    let cost = cost.unwrap_or_else(|| panic!("cost is a string: {row}"));
    if database.backend() == sea_orm::DbBackend::Postgres {
        assert_eq!(cost, "0.00012000");
    } else {
        assert!(!cost.contains(['e', 'E']), "no exponent: {cost}");
        let parsed = Decimal::from_str(cost).unwrap_or_else(|e| panic!("{cost}: {e}"));
        assert_eq!(parsed, stored);
    }
}

/// Walks the conversation's messages 7 at a time (`order` as given, or the default), posting a
/// message between page requests; every row seen, in order.
async fn walk_while_posting(who: As<'_>, conversation: &str, order: Option<&str>) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/conversations/{conversation}/messages?limit=7");
        if let Some(order) = order {
            path.push_str(&format!("&order={order}"));
        }
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let (status, body) = who.get(&path).await;
        assert_eq!((status, &body["meta"]["limit"]), (200, &json!(7)), "{body}");
        let page = body["data"].as_array().cloned().unwrap_or_default();
        assert!(page.len() <= 7, "{body}");
        seen.extend(page);
        post_message(who, conversation, "posted during the walk").await;
        match body["meta"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return seen,
        }
        assert!(seen.len() < 200, "the walk does not end");
    }
}

/// Posts 30 messages, walks them in `order` while posting more, and checks that the walk saw
/// each of the 30 once, in `(created_at, id)` order (reversed for `desc`), and nothing twice.
async fn check_walk(database: TestDatabase, order: Option<&str>) {
    let cast = Cast::new(&database).await;
    let editor = cast.by(&cast.editor);
    let conversation = cast.conversation().await;
    let mut before = Vec::new();
    for n in 0..30 {
        before.push(id_of(
            &post_message(editor, &conversation, &format!("m{n}")).await,
        ));
    }
    let seen = walk_while_posting(editor, &conversation, order).await;
    let seen_ids: Vec<String> = seen.iter().map(id_of).collect();
    let distinct: HashSet<_> = seen_ids.iter().collect();
    assert_eq!(distinct.len(), seen_ids.len(), "seen twice: {seen_ids:?}");
    let newest_first = order == Some("desc");
    if newest_first {
        before.reverse();
    } else {
        assert_eq!(
            seen_ids[..30],
            before,
            "oldest first, the walk starts with them"
        );
    }
    let known: Vec<_> = seen_ids.iter().filter(|id| before.contains(id)).collect();
    assert_eq!(known, before.iter().collect::<Vec<_>>());
    let key = |row: &Value| {
        (
            row["created_at"].as_str().unwrap_or_default().to_owned(),
            id_of(row),
        )
    };
    let keys: Vec<_> = seen.iter().map(key).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    if newest_first {
        sorted.reverse();
    }
    assert_eq!(keys, sorted, "(created_at, id) order");
}

async fn keyset_walk_oldest_first_sees_each_message_once_while_posting(database: TestDatabase) {
    check_walk(database, None).await;
}

async fn keyset_walk_newest_first_sees_each_message_once_while_posting(database: TestDatabase) {
    check_walk(database, Some("desc")).await;
}

async fn a_cursor_is_a_place_the_other_order_pages_back_from(database: TestDatabase) {
    let cast = Cast::new(&database).await;
    let conversation = cast.conversation().await;
    for n in 0..3 {
        post_message(cast.by(&cast.editor), &conversation, &format!("m{n}")).await;
    }
    let viewer = cast.by(&cast.viewer);
    let base = format!("/conversations/{conversation}/messages?limit=1");
    // The first page of each order ends at its first message; the other order, from there,
    // goes the other way: past the end.
    for (from, to) in [("asc", "desc"), ("desc", "asc")] {
        let (_, page) = viewer.get(&format!("{base}&order={from}")).await;
        let cursor = page["meta"]["next_cursor"].as_str();
        let cursor = cursor.unwrap_or_else(|| panic!("a next page: {page}"));
        let (status, back) = viewer
            .get(&format!("{base}&order={to}&cursor={cursor}"))
            .await;
        assert_eq!(status, 200, "{back}");
        assert_eq!(back["data"], json!([]), "{from} then {to}: {back}");
    }
    let answer = viewer.get(&format!("{base}&cursor=not-a-cursor")).await;
    assert_invalid(&answer, "cursor");
}

/// The names in a `GET /agents{query}` answer, in order.
async fn agent_names(who: As<'_>, query: &str) -> Vec<String> {
    let (status, body) = who.get(&format!("/agents{query}")).await;
    assert_eq!(status, 200, "{body}");
    let agents = body["data"].as_array().into_iter().flatten();
    agents
        .map(|agent| agent["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn agents_lists_only_active_agents_newest_first(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let gpt4 = insert_agent(&app, "GPT-4", true).await;
    insert_agent(&app, "Retired", false).await;
    insert_agent(&app, "Claude", true).await;
    assert_eq!(agent_names(app.by(&user), "").await, ["Claude", "GPT-4"]);
    let (_, body) = app.by(&user).get("/agents").await;
    assert_eq!(body["meta"], json!({"limit": 20, "next_cursor": null}));
    let listed = &body["data"][1];
    let created_at = listed["created_at"].as_str().unwrap_or_default();
    let expected = json!({
        "id": gpt4.id, "name": "GPT-4", "description": null, "type": "external",
        "api_endpoint": null, "model_source": null, "config": null, "version": null,
        "active": true, "created_at": created_at, "updated_at": created_at,
    });
    assert_eq!(*listed, expected);
}

async fn include_inactive_shows_every_agent_to_admins_and_is_403_for_others(
    database: TestDatabase,
) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let admin = app.user(UserRole::Admin).await;
    insert_agent(&app, "GPT-4", true).await;
    insert_agent(&app, "Retired", false).await;
    let (admin, user) = (app.by(&admin), app.by(&user));
    let all = "?include_inactive=true";
    assert_eq!(agent_names(admin, all).await, ["Retired", "GPT-4"]);
    assert_eq!(agent_names(admin, "").await, ["GPT-4"]);
    assert_eq!(
        agent_names(admin, "?include_inactive=false").await,
        ["GPT-4"]
    );
    let answer = user.get(&format!("/agents{all}")).await;
    assert_eq!(answer, error(403, json!("Forbidden resource")));
}

async fn agents_never_carry_their_api_key(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let admin = app.user(UserRole::Admin).await;
    insert_agent(&app, "GPT-4", true).await;
    insert_agent(&app, "Retired", false).await;
    let pages = [
        (app.by(&user), "/agents", "GPT-4"),
        (app.by(&admin), "/agents?include_inactive=true", "Retired"),
    ];
    for (who, path, listed) in pages {
        let text = who.text(path, 200).await;
        assert!(text.contains(listed), "{text}");
        assert!(!text.contains("sk-secret"), "{text}");
        assert!(!text.contains("api_key"), "{text}");
    }
}
