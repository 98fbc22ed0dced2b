//! `/projects` and `/projects/{id}/members`: who may do what on a project, that a hidden project
//! answers like a missing one, the owner membership made with the project, the last-owner rule,
//! soft delete, keyset pages and validation, on both backends (the demotion race on PostgreSQL).

use sea_orm::{DbBackend, EntityTrait};
use serde_json::{Value, json};
use shared::entities::{UserRole, project};
use test_support::{TestDatabase, on_both_backends};
use uuid::Uuid;

use test_support::http::{error_body, fields_of, id_of};

use crate::helpers::{TestApp, TestUser, json_of};

on_both_backends!(
    owner_reads_changes_and_deletes_a_project_and_manages_its_members,
    editor_changes_a_project_but_cannot_delete_it_or_manage_members,
    viewer_reads_a_project_and_its_members_but_cannot_change_anything,
    admin_who_is_not_a_member_has_owner_rights_on_every_project_endpoint,
    non_member_gets_404_from_every_project_endpoint_and_changes_nothing,
    anonymous_caller_gets_401_from_every_project_endpoint,
    a_deactivated_or_deleted_members_token_gets_401_from_every_project_endpoint,
    an_active_user_in_no_project_gets_an_empty_first_page,
    hidden_project_answers_with_the_same_status_and_body_as_a_missing_one,
    creating_a_project_answers_201_and_makes_the_caller_its_owner_member,
    project_creation_leaves_no_project_when_the_owner_membership_cannot_be_inserted,
    project_list_shows_only_the_callers_projects_with_his_role,
    admin_lists_every_project_with_all_true_and_role_null_where_not_a_member,
    non_admin_asking_for_all_projects_gets_403,
    owner_adds_members_by_user_id_and_by_differently_cased_email_as_viewers_by_default,
    adding_a_member_twice_answers_409,
    adding_an_unknown_user_answers_404_user_not_found,
    adding_a_member_with_an_unknown_role_answers_400,
    adding_a_member_needs_exactly_one_of_user_id_and_email,
    owner_changes_a_members_role_and_gets_the_member_representation,
    viewer_leaves_a_project_by_deleting_his_own_membership,
    the_only_owner_cannot_demote_himself_or_be_removed,
    with_two_owners_one_can_demote_the_other,
    deleted_project_answers_404_everywhere_and_leaves_every_list_but_stays_in_the_table,
    keyset_walk_sees_each_project_once_newest_first_while_projects_are_created,
    project_without_a_name_answers_400_name_should_not_be_empty,
    project_name_longer_than_255_characters_answers_400,
    patching_description_to_null_clears_it,
);

fn not_found(what: &str) -> Value {
    error_body(404, json!(format!("{what} not found")))
}

fn forbidden() -> Value {
    error_body(403, json!("Forbidden resource"))
}

fn conflict(message: &str) -> Value {
    error_body(409, json!(message))
}

const LAST_OWNER: &str = "the last owner of a project cannot be removed or demoted";

fn invalid(message: &str) -> Value {
    error_body(400, json!([message]))
}

/// `POST /projects` as `user` with `body` (panics unless 201); the project's id.
async fn create_project_with(app: &TestApp, user: &TestUser, body: Value) -> String {
    let (status, answer) = app.by(user).send("POST", "/projects", body).await;
    assert_eq!(status, 201, "create project: {answer}");
    id_of(&answer)
}

async fn create_project(app: &TestApp, user: &TestUser, name: &str) -> String {
    create_project_with(app, user, json!({"name": name})).await
}

/// `/members/{user id}`, to follow a project's path.
fn member(user: &TestUser) -> String {
    format!("/members/{}", user.id())
}

/// Adds `user` to `project` with `role`, as `owner` (panics unless 201); the member.
async fn add_member(
    app: &TestApp,
    owner: &TestUser,
    project: &str,
    user: &TestUser,
    role: &str,
) -> Value {
    let body = json!({"user_id": user.id(), "role": role});
    let path = format!("/projects/{project}/members");
    let (status, answer) = app.by(owner).send("POST", &path, body).await;
    assert_eq!(status, 201, "add member: {answer}");
    answer
}

/// `(user id, role)` pairs, sorted.
fn roles(pairs: &[(&TestUser, &str)]) -> Vec<(String, String)> {
    let pairs = pairs.iter().map(|(user, role)| (user.id(), *role));
    let mut pairs: Vec<_> = pairs
        .map(|(id, role)| (id.to_string(), role.into()))
        .collect();
    pairs.sort();
    pairs
}

/// The project's members as `caller` sees them: `(user id, role)` pairs, sorted.
async fn members(app: &TestApp, caller: &TestUser, project: &str) -> Vec<(String, String)> {
    let path = format!("/projects/{project}/members");
    let (status, body) = app.by(caller).send("GET", &path, Value::Null).await;
    assert_eq!(status, 200, "members: {body}");
    let data = body["data"].as_array().cloned().unwrap_or_default();
    let text = |value: &Value| value.as_str().unwrap_or("").to_owned();
    let mut pairs: Vec<_> = data
        .iter()
        .map(|m| (text(&m["user"]["id"]), text(&m["role"])))
        .collect();
    pairs.sort();
    pairs
}

/// The `(id, role)` of each project of `GET path` as `user`, in the order answered.
async fn listed(app: &TestApp, user: &TestUser, path: &str) -> Vec<(String, Value)> {
    let (status, body) = app.by(user).send("GET", path, Value::Null).await;
    assert_eq!(status, 200, "{path}: {body}");
    let data = body["data"].as_array().cloned().unwrap_or_default();
    data.iter().map(|p| (id_of(p), p["role"].clone())).collect()
}

type Endpoint = (&'static str, String, Option<Value>);

/// Sends one request; answers the status and the raw body text.
async fn send(app: &TestApp, token: Option<&str>, endpoint: &Endpoint) -> (u16, String) {
    let (method, path, body) = endpoint;
    let mut request = app.request(method, path, token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await;
    let response = response.unwrap_or_else(|error| panic!("{method} {path}: {error}"));
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// A project owned by `owner`, with an `editor`, a `viewer` and a `bystander` (a viewer the
/// member endpoints act on), and a `newcomer` who is not a member yet.
struct Team {
    app: TestApp,
    owner: TestUser,
    editor: TestUser,
    viewer: TestUser,
    bystander: TestUser,
    newcomer: TestUser,
    project: String,
}

async fn team(database: &TestDatabase) -> Team {
    let app = TestApp::spawn(database, &[]).await;
    let owner = app.user(UserRole::User).await;
    let editor = app.user(UserRole::User).await;
    let viewer = app.user(UserRole::User).await;
    let bystander = app.user(UserRole::User).await;
    let newcomer = app.user(UserRole::User).await;
    let project = create_project(&app, &owner, "Team project").await;
    let members = [
        (&editor, "editor"),
        (&viewer, "viewer"),
        (&bystander, "viewer"),
    ];
    for (user, role) in members {
        add_member(&app, &owner, &project, user, role).await;
    }
    Team {
        app,
        owner,
        editor,
        viewer,
        bystander,
        newcomer,
        project,
    }
}

const LABELS: [&str; 8] = [
    "GET project",
    "PUT project",
    "PATCH project",
    "GET members",
    "POST member (newcomer)",
    "PATCH member (bystander)",
    "DELETE member (bystander)",
    "DELETE project",
];

impl Team {
    /// Every endpoint of project `project`, in an order that can run to its end: reads,
    /// changes, member management, and the delete last.
    fn endpoints(&self, project: &str) -> [Endpoint; 8] {
        let path = format!("/projects/{project}");
        let bystander = format!("{path}{}", member(&self.bystander));
        let newcomer = json!({"user_id": self.newcomer.id()});
        [
            ("GET", path.clone(), None),
            ("PUT", path.clone(), Some(json!({"name": "Renamed"}))),
            ("PATCH", path.clone(), Some(json!({"description": "x"}))),
            ("GET", format!("{path}/members"), None),
            ("POST", format!("{path}/members"), Some(newcomer)),
            ("PATCH", bystander.clone(), Some(json!({"role": "editor"}))),
            ("DELETE", bystander, None),
            ("DELETE", path, None),
        ]
    }

    /// Runs every endpoint in order as `token` and checks each status; an error answer must be
    /// the envelope of its status. Returns the bodies.
    async fn expect(&self, token: Option<&str>, statuses: [u16; 8]) -> Vec<Value> {
        let (mut seen, mut bodies) = (Vec::new(), Vec::new());
        for endpoint in self.endpoints(&self.project) {
            let (status, text) = send(&self.app, token, &endpoint).await;
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if status >= 400 {
                assert_eq!(body["statusCode"], status, "{endpoint:?}: {text}");
            }
            seen.push(status);
            bodies.push(body);
        }
        let answered: Vec<_> = LABELS.iter().zip(seen).collect();
        let wanted: Vec<_> = LABELS.iter().zip(statuses).collect();
        assert_eq!(answered, wanted, "bodies: {bodies:?}");
        bodies
    }

    /// `method /projects/{project}{rest}` as `user`.
    async fn at(&self, user: &TestUser, method: &str, rest: &str, body: Value) -> (u16, Value) {
        let path = format!("/projects/{}{rest}", self.project);
        self.app.by(user).send(method, &path, body).await
    }

    /// `POST /projects/{project}/members` with `body`, as the owner.
    async fn add(&self, body: &Value) -> (u16, Value) {
        self.at(&self.owner, "POST", "/members", body.clone()).await
    }

    /// `PATCH /projects/{project}/members/{target}` to `role`, as `caller`.
    async fn set_role(&self, caller: &TestUser, target: &TestUser, role: &str) -> (u16, Value) {
        let role = json!({"role": role});
        self.at(caller, "PATCH", &member(target), role).await
    }

    /// `DELETE /projects/{project}/members/{target}` as `caller`.
    async fn remove(&self, caller: &TestUser, target: &TestUser) -> (u16, Value) {
        let path = member(target);
        self.at(caller, "DELETE", &path, Value::Null).await
    }

    /// The members as the owner sees them, sorted.
    async fn members(&self) -> Vec<(String, String)> {
        members(&self.app, &self.owner, &self.project).await
    }

    /// The four members the team starts with.
    fn initial_members(&self) -> Vec<(String, String)> {
        roles(&[
            (&self.owner, "owner"),
            (&self.editor, "editor"),
            (&self.viewer, "viewer"),
            (&self.bystander, "viewer"),
        ])
    }

    /// Nothing a refused request tried happened: the owner still sees the project as it was,
    /// with the same members.
    async fn assert_unchanged(&self) {
        let (status, body) = self.at(&self.owner, "GET", "", Value::Null).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["name"], "Team project");
        assert_eq!(body["description"], Value::Null);
        assert_eq!(self.members().await, self.initial_members());
    }
}

async fn owner_reads_changes_and_deletes_a_project_and_manages_its_members(database: TestDatabase) {
    let team = team(&database).await;
    let statuses = [200, 200, 200, 200, 201, 200, 204, 204];
    let bodies = team.expect(team.owner.token(), statuses).await;
    assert_eq!(bodies[0]["role"], "owner");
    assert_eq!(bodies[2]["name"], "Renamed");
    assert_eq!(bodies[2]["description"], "x");
    assert_eq!(bodies[4]["user"]["id"], json!(team.newcomer.id()));
    assert_eq!(bodies[5]["role"], "editor");
    let after = team.at(&team.owner, "GET", "", Value::Null).await;
    assert_eq!(after, (404, not_found("Project")));
}

async fn editor_changes_a_project_but_cannot_delete_it_or_manage_members(database: TestDatabase) {
    let team = team(&database).await;
    let statuses = [200, 200, 200, 200, 403, 403, 403, 403];
    let bodies = team.expect(team.editor.token(), statuses).await;
    assert_eq!(bodies[0]["role"], "editor");
    assert_eq!(bodies[2]["name"], "Renamed");
    for refused in &bodies[4..] {
        assert_eq!(refused, &forbidden());
    }
    assert_eq!(team.members().await, team.initial_members());
    let after = team.at(&team.owner, "GET", "", Value::Null).await;
    assert_eq!(after.0, 200, "not deleted");
}

async fn viewer_reads_a_project_and_its_members_but_cannot_change_anything(database: TestDatabase) {
    let team = team(&database).await;
    let statuses = [200, 403, 403, 200, 403, 403, 403, 403];
    let bodies = team.expect(team.viewer.token(), statuses).await;
    assert_eq!(bodies[0]["role"], "viewer");
    assert_eq!(bodies[3]["data"].as_array().map(Vec::len), Some(4));
    assert_eq!(bodies[2], forbidden());
    team.assert_unchanged().await;
}

async fn admin_who_is_not_a_member_has_owner_rights_on_every_project_endpoint(
    database: TestDatabase,
) {
    let team = team(&database).await;
    let admin = team.app.user(UserRole::Admin).await;
    let statuses = [200, 200, 200, 200, 201, 200, 204, 204];
    let bodies = team.expect(admin.token(), statuses).await;
    assert_eq!(bodies[0]["role"], Value::Null);
    assert_eq!(bodies[2]["role"], Value::Null);
    assert_eq!(bodies[4]["user"]["id"], json!(team.newcomer.id()));
    assert_eq!(bodies[5]["role"], "editor");
}

async fn non_member_gets_404_from_every_project_endpoint_and_changes_nothing(
    database: TestDatabase,
) {
    let team = team(&database).await;
    let outsider = team.app.user(UserRole::User).await;
    for body in team.expect(outsider.token(), [404; 8]).await {
        assert_eq!(body, not_found("Project"));
    }
    team.assert_unchanged().await;
}

async fn anonymous_caller_gets_401_from_every_project_endpoint(database: TestDatabase) {
    let team = team(&database).await;
    let mut endpoints = team.endpoints(&team.project).to_vec();
    endpoints.push(("GET", "/projects".to_owned(), None));
    endpoints.push(("POST", "/projects".to_owned(), Some(json!({"name": "x"}))));
    for (method, path, body) in endpoints {
        let mut request = team.app.request(method, &path, None);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await;
        let response = response.unwrap_or_else(|error| panic!("{method} {path}: {error}"));
        let challenge = &response.headers()["www-authenticate"];
        assert_eq!(challenge, "Bearer", "{method} {path}");
        let (status, body) = json_of(response).await;
        assert_eq!(status, 401, "{method} {path}: {body}");
        assert_eq!(body["error"], "Unauthorized", "{method} {path}");
        assert_eq!(body["statusCode"], 401, "{method} {path}");
    }
    team.assert_unchanged().await;
}

/// The project endpoints look the caller up in the same query as the project: a member whose
/// account is deactivated or deleted is refused as signed out, not told about the project.
async fn a_deactivated_or_deleted_members_token_gets_401_from_every_project_endpoint(
    database: TestDatabase,
) {
    let team = team(&database).await;
    let list = || {
        team.app
            .by(&team.editor)
            .send("GET", "/projects", Value::Null)
    };
    assert_eq!(listed(&team.app, &team.editor, "/projects").await.len(), 1);
    team.app.set_account(&team.editor, Some(false)).await;
    for body in team.expect(team.editor.token(), [401; 8]).await {
        assert_eq!(body["message"], "Unauthorized");
    }
    let (status, body) = list().await;
    assert_eq!((status, &body["message"]), (401, &json!("Unauthorized")));
    team.assert_unchanged().await;
    team.app.set_account(&team.editor, None).await;
    for body in team.expect(team.editor.token(), [401; 8]).await {
        assert_eq!(body["message"], "Unauthorized");
    }
    let (status, body) = list().await;
    assert_eq!((status, &body["message"]), (401, &json!("Unauthorized")));
}

/// An empty page is where the list query cannot tell an active caller from a signed-out one; it
/// still answers 200 for an active member of nothing.
async fn an_active_user_in_no_project_gets_an_empty_first_page(database: TestDatabase) {
    let team = team(&database).await;
    let (status, body) = team
        .app
        .by(&team.newcomer)
        .send("GET", "/projects", Value::Null)
        .await;
    let meta = json!({"limit": 20, "next_cursor": null});
    assert_eq!((status, body), (200, json!({"data": [], "meta": meta})));
}

async fn hidden_project_answers_with_the_same_status_and_body_as_a_missing_one(
    database: TestDatabase,
) {
    let team = team(&database).await;
    let token = team.app.user(UserRole::User).await.token;
    let missing = Uuid::new_v4().to_string();
    let hidden = team.endpoints(&team.project);
    let absent = team.endpoints(&missing);
    for (label, (hidden, absent)) in LABELS.iter().zip(hidden.iter().zip(&absent)) {
        let for_hidden = send(&team.app, Some(&token), hidden).await;
        let for_missing = send(&team.app, Some(&token), absent).await;
        assert_eq!(for_hidden.0, 404, "{label}: {}", for_hidden.1);
        assert_eq!(for_hidden, for_missing, "{label}");
    }
}

async fn creating_a_project_answers_201_and_makes_the_caller_its_owner_member(
    database: TestDatabase,
) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let body = json!({"name": "Support bot", "description": "Answers tickets"});
    let (status, body) = app.by(&user).send("POST", "/projects", body).await;
    assert_eq!(status, 201, "{body}");
    let expected = "created_at description id name owner_id role updated_at";
    assert_eq!(fields_of(&body), expected, "{body}");
    assert_eq!(body["name"], "Support bot");
    assert_eq!(body["description"], "Answers tickets");
    assert_eq!(body["owner_id"], json!(user.id()));
    assert_eq!(body["role"], "owner");
    let created_at = body["created_at"].as_str().unwrap_or("");
    let format = chrono::DateTime::parse_from_rfc3339(created_at).is_ok() && created_at.len() == 24;
    assert!(format && created_at.ends_with('Z'), "{created_at}");
    assert_eq!(body["updated_at"], body["created_at"]);
    let owner = members(&app, &user, &id_of(&body)).await;
    assert_eq!(owner, roles(&[(&user, "owner")]));
}

async fn project_creation_leaves_no_project_when_the_owner_membership_cannot_be_inserted(
    database: TestDatabase,
) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let trigger = "CREATE TRIGGER fail_member BEFORE INSERT ON project_members";
    let statements = if database.backend() == DbBackend::Postgres {
        vec![
            "CREATE FUNCTION fail_member() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected'; END $$"
                .to_owned(),
            format!("{trigger} FOR EACH ROW EXECUTE FUNCTION fail_member()"),
        ]
    } else {
        vec![format!(
            "{trigger} BEGIN SELECT RAISE(ABORT, 'injected'); END"
        )]
    };
    for statement in statements {
        database.execute(&statement).await;
    }
    let body = Some(json!({"name": "Doomed"}));
    let (status, text) = send(&app, user.token(), &("POST", "/projects".into(), body)).await;
    assert_eq!(status, 500, "{text}");
    assert!(!text.contains("injected"), "{text}");
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let internal = error_body(500, json!("Internal server error"));
    assert_eq!(body, internal);
    assert_eq!(database.count("SELECT COUNT(*) FROM projects").await, 0);
}

async fn project_list_shows_only_the_callers_projects_with_his_role(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let me = app.user(UserRole::User).await;
    let other = app.user(UserRole::User).await;
    let mine = create_project(&app, &me, "Mine").await;
    let edited = create_project(&app, &other, "Edited").await;
    add_member(&app, &other, &edited, &me, "editor").await;
    create_project(&app, &other, "Not mine").await;
    let viewed = create_project(&app, &other, "Viewed").await;
    add_member(&app, &other, &viewed, &me, "viewer").await;
    let expected = [
        (viewed, json!("viewer")),
        (edited, json!("editor")),
        (mine, json!("owner")),
    ];
    assert_eq!(listed(&app, &me, "/projects").await, expected);
}

async fn admin_lists_every_project_with_all_true_and_role_null_where_not_a_member(
    database: TestDatabase,
) {
    let app = TestApp::spawn(&database, &[]).await;
    let admin = app.user(UserRole::Admin).await;
    let user = app.user(UserRole::User).await;
    let first = create_project(&app, &user, "First").await;
    let own = create_project(&app, &admin, "Admin's").await;
    let last = create_project(&app, &user, "Last").await;
    let every = [
        (last, Value::Null),
        (own.clone(), json!("owner")),
        (first, Value::Null),
    ];
    assert_eq!(listed(&app, &admin, "/projects?all=true").await, every);
    let without_all = listed(&app, &admin, "/projects").await;
    assert_eq!(without_all, [(own, json!("owner"))]);
}

async fn non_admin_asking_for_all_projects_gets_403(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    create_project(&app, &user, "Mine").await;
    let answer = app
        .by(&user)
        .send("GET", "/projects?all=true", Value::Null)
        .await;
    assert_eq!(answer, (403, forbidden()));
}

async fn owner_adds_members_by_user_id_and_by_differently_cased_email_as_viewers_by_default(
    database: TestDatabase,
) {
    let team = team(&database).await;
    let by_id = &team.newcomer;
    let by_email = team.app.user(UserRole::User).await;
    let (status, body) = team.add(&json!({"user_id": by_id.id()})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["user"]["id"], json!(by_id.id()));
    assert_eq!(body["role"], "viewer");
    let shouted = format!("  {}  ", by_email.email.to_uppercase());
    let (status, body) = team.add(&json!({"email": shouted})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["user"]["id"], json!(by_email.id()));
    assert_eq!(body["user"]["email"], by_email.email);
    assert_eq!(body["role"], "viewer");
    let mut expected = team.initial_members();
    expected.extend(roles(&[(by_id, "viewer"), (&by_email, "viewer")]));
    expected.sort();
    assert_eq!(team.members().await, expected);
}

async fn adding_a_member_twice_answers_409(database: TestDatabase) {
    let team = team(&database).await;
    let editor = &team.editor;
    let shouted = editor.email.to_uppercase();
    for again in [
        json!({"user_id": editor.id()}),
        json!({"email": shouted, "role": "owner"}),
        json!({"user_id": team.owner.id()}),
    ] {
        let message = "user is already a member of this project";
        assert_eq!(team.add(&again).await, (409, conflict(message)), "{again}");
    }
    team.assert_unchanged().await;
}

async fn adding_an_unknown_user_answers_404_user_not_found(database: TestDatabase) {
    let team = team(&database).await;
    let by_id = json!({"user_id": Uuid::new_v4()});
    let by_email = json!({"email": "nobody@example.com"});
    for unknown in [by_id, by_email] {
        let answer = team.add(&unknown).await;
        assert_eq!(answer, (404, not_found("User")), "{unknown}");
    }
    team.assert_unchanged().await;
}

async fn adding_a_member_with_an_unknown_role_answers_400(database: TestDatabase) {
    let team = team(&database).await;
    let body = json!({"user_id": team.newcomer.id(), "role": "superuser"});
    let message = "role must be one of the following values: owner, editor, viewer";
    assert_eq!(team.add(&body).await, (400, invalid(message)));
    team.assert_unchanged().await;
}

async fn adding_a_member_needs_exactly_one_of_user_id_and_email(database: TestDatabase) {
    let team = team(&database).await;
    let newcomer = &team.newcomer;
    let both = json!({"user_id": newcomer.id(), "email": newcomer.email});
    let message = "user_id or email must be given, not both";
    for wrong in [both, json!({}), json!({"role": "editor"})] {
        assert_eq!(team.add(&wrong).await, (400, invalid(message)), "{wrong}");
    }
    team.assert_unchanged().await;
}

async fn owner_changes_a_members_role_and_gets_the_member_representation(database: TestDatabase) {
    let team = team(&database).await;
    let newcomer = &team.newcomer;
    let (_, added) = team.add(&json!({"user_id": newcomer.id()})).await;
    let (status, body) = team.set_role(&team.owner, newcomer, "editor").await;
    assert_eq!(status, 200, "{body}");
    let user = json!({
        "id": newcomer.id(),
        "name": newcomer.model.name,
        "email": newcomer.email,
        "avatar_url": null,
    });
    let expected = json!({"user": user, "role": "editor", "created_at": added["created_at"]});
    assert_eq!(body, expected);
    let mut expected = team.initial_members();
    expected.extend(roles(&[(newcomer, "editor")]));
    expected.sort();
    assert_eq!(team.members().await, expected);
}

async fn viewer_leaves_a_project_by_deleting_his_own_membership(database: TestDatabase) {
    let team = team(&database).await;
    let viewer = &team.viewer;
    assert_eq!(team.remove(viewer, viewer).await, (204, Value::Null));
    let after = team.at(viewer, "GET", "", Value::Null).await;
    assert_eq!(after, (404, not_found("Project")));
    let expected = roles(&[
        (&team.owner, "owner"),
        (&team.editor, "editor"),
        (&team.bystander, "viewer"),
    ]);
    assert_eq!(team.members().await, expected);
}

async fn the_only_owner_cannot_demote_himself_or_be_removed(database: TestDatabase) {
    let team = team(&database).await;
    let admin = team.app.user(UserRole::Admin).await;
    let (owner, last) = (&team.owner, (409, conflict(LAST_OWNER)));
    for caller in [owner, &admin] {
        for role in ["editor", "viewer"] {
            let answer = team.set_role(caller, owner, role).await;
            assert_eq!(answer, last, "demoted to {role}");
        }
        assert_eq!(team.remove(caller, owner).await, last, "removed");
    }
    team.assert_unchanged().await;
}

async fn with_two_owners_one_can_demote_the_other(database: TestDatabase) {
    let team = team(&database).await;
    let (first, second) = (&team.owner, &team.editor);
    let (status, body) = team.set_role(first, second, "owner").await;
    assert_eq!((status, &body["role"]), (200, &json!("owner")), "{body}");
    let (status, body) = team.set_role(second, first, "viewer").await;
    assert_eq!((status, &body["role"]), (200, &json!("viewer")), "{body}");
    let answer = team.set_role(second, second, "viewer").await;
    assert_eq!(answer, (409, conflict(LAST_OWNER)), "the last owner");
    let members = team.members().await;
    let owners: Vec<_> = members.into_iter().filter(|(_, r)| r == "owner").collect();
    assert_eq!(owners, roles(&[(second, "owner")]));
}

/// Two owners demote each other at the same moment, round after round. Each demotion is
/// refused either by the last-owner rule (409) or, when the other one committed before it was
/// authorised, because its caller is no longer an owner (403); never both succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_owners_demoting_each_other_at_once_always_leave_an_owner() {
    let database = test_support::postgres_or_skip!();
    let team = team(&database).await;
    let (first, second, project) = (&team.owner, &team.editor, &team.project);
    let ours = format!("project_id = '{project}'");
    let pair = format!("user_id IN ('{}', '{}')", first.id(), second.id());
    let restore = format!("UPDATE project_members SET role = 'owner' WHERE {ours} AND {pair}");
    let owners = format!("SELECT COUNT(*) FROM project_members WHERE {ours} AND role = 'owner'");
    for round in 0..10 {
        database.execute(&restore).await;
        assert_eq!(database.count(&owners).await, 2);
        let (one, other) = tokio::join!(
            team.set_role(first, second, "viewer"),
            team.set_role(second, first, "viewer"),
        );
        let mut statuses = [one.0, other.0];
        statuses.sort();
        let refused = matches!(statuses, [200, 403 | 409]);
        assert!(refused, "round {round}: {one:?} {other:?}");
        assert_eq!(database.count(&owners).await, 1, "round {round}");
    }
}

async fn deleted_project_answers_404_everywhere_and_leaves_every_list_but_stays_in_the_table(
    database: TestDatabase,
) {
    let app = TestApp::spawn(&database, &[]).await;
    let owner = app.user(UserRole::User).await;
    let admin = app.user(UserRole::Admin).await;
    let kept = create_project(&app, &owner, "Kept").await;
    let project = create_project(&app, &owner, "Deleted").await;
    let body = json!({"project_id": project, "title": "Before the delete"});
    let (status, created) = app.by(&owner).send("POST", "/conversations", body).await;
    assert_eq!(status, 201, "{created}");
    let path = format!("/projects/{project}");
    let deleted = app.by(&owner).send("DELETE", &path, Value::Null).await;
    assert_eq!(deleted, (204, Value::Null));
    let gone = [
        ("GET", path.clone(), None),
        ("GET", format!("{path}/members"), None),
        ("PATCH", path.clone(), Some(json!({"name": "Back"}))),
        ("DELETE", path.clone(), None),
        ("GET", format!("/conversations?project_id={project}"), None),
    ];
    for (method, path, body) in gone {
        let answer = app
            .by(&owner)
            .send(method, &path, body.unwrap_or_default())
            .await;
        assert_eq!(answer, (404, not_found("Project")), "{method} {path}");
    }
    let path = format!("/conversations/{}", id_of(&created));
    let answer = app.by(&owner).send("GET", &path, Value::Null).await;
    assert_eq!(answer, (404, not_found("Conversation")));
    let listed_by_owner = listed(&app, &owner, "/projects").await;
    assert_eq!(listed_by_owner, [(kept.clone(), json!("owner"))]);
    let listed_by_admin = listed(&app, &admin, "/projects?all=true").await;
    assert_eq!(listed_by_admin, [(kept, Value::Null)]);

    let id = Uuid::parse_str(&project).unwrap_or_else(|error| panic!("{project}: {error}"));
    let row = project::Entity::find_by_id(id).one(&app.db).await;
    let row = row.unwrap_or_else(|error| panic!("select project: {error}"));
    let row = row.unwrap_or_else(|| panic!("the deleted project's row is gone"));
    assert!(row.is_deleted);
    assert_eq!(row.name, "Deleted");
}

async fn keyset_walk_sees_each_project_once_newest_first_while_projects_are_created(
    database: TestDatabase,
) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let mut before = Vec::new();
    for index in 0..20 {
        before.push(create_project(&app, &user, &format!("Project {index}")).await);
    }
    before.reverse();
    let (mut seen, mut cursor) = (Vec::new(), String::new());
    for page in 0.. {
        assert!(page < 10, "the walk does not end");
        let path = match page {
            0 => "/projects?limit=6".to_owned(),
            _ => format!("/projects?limit=6&cursor={cursor}"),
        };
        let (status, body) = app.by(&user).send("GET", &path, Value::Null).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["meta"]["limit"], 6);
        let rows = body["data"].as_array().cloned().unwrap_or_default();
        assert!(rows.len() <= 6, "{body}");
        seen.extend(rows.iter().map(id_of));
        create_project(&app, &user, &format!("Created after page {page}")).await;
        match body["meta"]["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, before, "each project once, newest first");
}

async fn project_without_a_name_answers_400_name_should_not_be_empty(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let nameless = [json!({}), json!({"name": ""}), json!({"description": "x"})];
    for body in nameless {
        let answer = app.by(&user).send("POST", "/projects", body.clone()).await;
        assert_eq!(answer, (400, invalid("name should not be empty")), "{body}");
    }
    assert_eq!(database.count("SELECT COUNT(*) FROM projects").await, 0);
}

async fn project_name_longer_than_255_characters_answers_400(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let too_long = json!({"name": "n".repeat(256)});
    let message = "name must be shorter than or equal to 255 characters";
    let answer = app
        .by(&user)
        .send("POST", "/projects", too_long.clone())
        .await;
    assert_eq!(answer, (400, invalid(message)));
    let longest = create_project(&app, &user, &"n".repeat(255)).await;
    let path = format!("/projects/{longest}");
    let answer = app.by(&user).send("PATCH", &path, too_long).await;
    assert_eq!(answer, (400, invalid(message)), "PATCH too");
    assert_eq!(database.count("SELECT COUNT(*) FROM projects").await, 1);
}

async fn patching_description_to_null_clears_it(database: TestDatabase) {
    let app = TestApp::spawn(&database, &[]).await;
    let user = app.user(UserRole::User).await;
    let body = json!({"name": "Described", "description": "To be cleared"});
    let path = format!("/projects/{}", create_project_with(&app, &user, body).await);
    let rename = json!({"name": "Renamed"});
    let (status, body) = app.by(&user).send("PATCH", &path, rename).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["description"], "To be cleared", "absent leaves it");
    let clear = json!({"description": null});
    let (status, body) = app.by(&user).send("PATCH", &path, clear).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "Renamed");
    assert_eq!(body["description"], Value::Null);
    let (_, body) = app.by(&user).send("GET", &path, Value::Null).await;
    assert_eq!(body["description"], Value::Null);
}
