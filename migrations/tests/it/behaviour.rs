//! What the schema does with real rows, written through the entities.

use chrono::Utc;
use sea_orm::{ActiveModelBehavior, ActiveModelTrait, EntityTrait, ModelTrait, Set};
use shared::entities::{
    AgentType, ProjectRole, agent, conversation, message, project, project_member, user,
};
use test_support::TestDatabase;

use test_support::on_both_backends;

on_both_backends!(
    deleting_a_project_removes_its_members_conversations_and_messages,
    deleting_an_agent_keeps_its_messages_with_no_agent,
    the_database_rejects_duplicates_and_unknown_enum_values,
    updated_at_moves_on_every_update_through_the_entities,
    ids_from_the_entities_are_time_ordered_uuid_v7,
);

struct World {
    user: user::Model,
    project: project::Model,
    conversation: conversation::Model,
    agent: agent::Model,
    message: message::Model,
}

async fn new_user(database: &TestDatabase, email: &str) -> user::Model {
    user::ActiveModel {
        name: Set("Someone".to_owned()),
        email: Set(Some(email.to_owned())),
        ..user::ActiveModel::new()
    }
    .insert(&database.db)
    .await
    .unwrap_or_else(|error| panic!("insert user: {error}"))
}

async fn world(database: &TestDatabase) -> World {
    let db = &database.db;
    let user = new_user(database, "owner@example.com").await;
    let project = project::ActiveModel {
        name: Set("Project".to_owned()),
        owner_id: Set(user.id),
        ..project::ActiveModel::new()
    }
    .insert(db)
    .await
    .unwrap_or_else(|error| panic!("insert project: {error}"));
    project_member::ActiveModel {
        project_id: Set(project.id),
        user_id: Set(user.id),
        role: Set(ProjectRole::Owner),
        ..project_member::ActiveModel::new()
    }
    .insert(db)
    .await
    .unwrap_or_else(|error| panic!("insert member: {error}"));
    let conversation = conversation::ActiveModel {
        project_id: Set(project.id),
        title: Set("Thread".to_owned()),
        thread_id: Set("thread-1".to_owned()),
        metadata: Set(Some(serde_json::json!({"topic": "test"}))),
        ..conversation::ActiveModel::new()
    }
    .insert(db)
    .await
    .unwrap_or_else(|error| panic!("insert conversation: {error}"));
    let agent = agent::ActiveModel {
        name: Set("Agent".to_owned()),
        r#type: Set(AgentType::SelfHosted),
        ..agent::ActiveModel::new()
    }
    .insert(db)
    .await
    .unwrap_or_else(|error| panic!("insert agent: {error}"));
    let message = message::ActiveModel {
        conversation_id: Set(conversation.id),
        user_id: Set(user.id),
        agent_id: Set(Some(agent.id)),
        user_message: Set("Hello".to_owned()),
        tokens_used: Set(Some(12)),
        ..message::ActiveModel::new()
    }
    .insert(db)
    .await
    .unwrap_or_else(|error| panic!("insert message: {error}"));
    World {
        user,
        project,
        conversation,
        agent,
        message,
    }
}

async fn deleting_a_project_removes_its_members_conversations_and_messages(database: TestDatabase) {
    let database = database.migrate().await;
    let world = world(&database).await;
    assert_eq!(
        database.count("SELECT COUNT(*) FROM project_members").await,
        1
    );
    world
        .project
        .delete(&database.db)
        .await
        .unwrap_or_else(|error| panic!("delete project: {error}"));
    for table in ["project_members", "conversations", "messages"] {
        assert_eq!(
            database
                .count(&format!("SELECT COUNT(*) FROM {table}"))
                .await,
            0,
            "{table} after deleting the project"
        );
    }
    assert_eq!(
        database.count("SELECT COUNT(*) FROM users").await,
        1,
        "the owner stays"
    );
    assert_eq!(
        database.count("SELECT COUNT(*) FROM agents").await,
        1,
        "the agent stays"
    );
}

async fn deleting_an_agent_keeps_its_messages_with_no_agent(database: TestDatabase) {
    let database = database.migrate().await;
    let world = world(&database).await;
    world
        .agent
        .delete(&database.db)
        .await
        .unwrap_or_else(|error| panic!("delete agent: {error}"));
    let message = message::Entity::find_by_id(world.message.id)
        .one(&database.db)
        .await
        .unwrap_or_else(|error| panic!("find message: {error}"))
        .unwrap_or_else(|| panic!("the message must survive its agent"));
    assert_eq!(message.agent_id, None);
    assert_eq!(message.conversation_id, world.conversation.id);
}

async fn the_database_rejects_duplicates_and_unknown_enum_values(database: TestDatabase) {
    let database = database.migrate().await;
    let world = world(&database).await;
    let db = &database.db;

    let duplicate_membership = project_member::ActiveModel {
        project_id: Set(world.project.id),
        user_id: Set(world.user.id),
        ..project_member::ActiveModel::new()
    }
    .insert(db)
    .await;
    assert_violates(
        &database,
        duplicate_membership.map(|_| ()),
        "UQ_project_members_project_user",
        "UNIQUE constraint failed: project_members.project_id, project_members.user_id",
    );

    let duplicate_email = user::ActiveModel {
        name: Set("Twin".to_owned()),
        email: Set(world.user.email.clone()),
        ..user::ActiveModel::new()
    }
    .insert(db)
    .await;
    assert_violates(
        &database,
        duplicate_email.map(|_| ()),
        "UQ_users_email",
        "UNIQUE constraint failed: users.email",
    );

    let duplicate_thread = conversation::ActiveModel {
        project_id: Set(world.project.id),
        title: Set("Again".to_owned()),
        thread_id: Set(world.conversation.thread_id.clone()),
        ..conversation::ActiveModel::new()
    }
    .insert(db)
    .await;
    assert_violates(
        &database,
        duplicate_thread.map(|_| ()),
        "UQ_conversations_thread_id",
        "UNIQUE constraint failed: conversations.thread_id",
    );

    let duplicate_agent = agent::ActiveModel {
        name: Set(world.agent.name.clone()),
        ..agent::ActiveModel::new()
    }
    .insert(db)
    .await;
    assert_violates(
        &database,
        duplicate_agent.map(|_| ()),
        "UQ_agents_name",
        "UNIQUE constraint failed: agents.name",
    );

    let id = shared::entities::new_id();
    for (enum_type, sql) in [
        (
            "users_role_enum",
            format!(
                "INSERT INTO users (id, name, email, role) VALUES ('{id}', 'x', 'x@example.com', 'root')"
            ),
        ),
        (
            "agents_type_enum",
            format!("INSERT INTO agents (id, name, type) VALUES ('{id}', 'x', 'internal')"),
        ),
        (
            "notifications_type_enum",
            format!(
                "INSERT INTO notifications (id, user_id, type, title, message) VALUES ('{id}', '{}', 'spam', 't', 'm')",
                world.user.id
            ),
        ),
    ] {
        // PostgreSQL names the enum type; SQLite names the CHECK constraint that stands for it.
        assert_violates(
            &database,
            database.try_execute(&sql).await,
            &format!("invalid input value for enum {enum_type}"),
            &format!("CHECK constraint failed: CHK_{enum_type}"),
        );
    }
}

/// `result` failed on exactly this constraint: `postgres` is a part of PostgreSQL's message (the
/// constraint or enum type), `sqlite` a part of SQLite's.
fn assert_violates(
    database: &TestDatabase,
    result: Result<(), sea_orm::DbErr>,
    postgres: &str,
    sqlite: &str,
) {
    let expected = match database.backend() {
        sea_orm::DbBackend::Postgres => postgres,
        _ => sqlite,
    };
    match result {
        Ok(()) => panic!("accepted; expected a violation of {expected}"),
        Err(error) => assert!(
            error.to_string().contains(expected),
            "expected a violation of {expected}, got: {error}"
        ),
    }
}

async fn updated_at_moves_on_every_update_through_the_entities(database: TestDatabase) {
    let database = database.migrate().await;
    let user = new_user(&database, "someone@example.com").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let mut changed: user::ActiveModel = user.clone().into();
    changed.name = Set("Renamed".to_owned());
    let changed = changed
        .update(&database.db)
        .await
        .unwrap_or_else(|error| panic!("update: {error}"));
    assert_eq!(changed.name, "Renamed");
    assert!(
        changed.updated_at > user.updated_at,
        "{} <= {}",
        changed.updated_at,
        user.updated_at
    );
    assert!(changed.updated_at <= Utc::now());
    assert_eq!(changed.created_at, user.created_at);
}

async fn ids_from_the_entities_are_time_ordered_uuid_v7(database: TestDatabase) {
    let database = database.migrate().await;
    let first = new_user(&database, "first@example.com").await;
    let second = new_user(&database, "second@example.com").await;
    assert_eq!(first.id.get_version_num(), 7);
    assert!(first.id < second.id);
}
