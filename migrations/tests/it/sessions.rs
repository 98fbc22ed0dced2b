//! The fifth migration (M2): sessions, identities, optional emails with a rule that keeps every
//! user reachable, and a `down` that refuses, naming them, rows the old shape cannot hold.

use migration::{Command, SIGN_IN_RULE};
use sea_orm::DbBackend;
use test_support::catalog;
use test_support::{TestDatabase, on_both_backends};

on_both_backends!(
    users_stored_before_it_keep_their_email_and_are_not_verified,
    a_user_needs_an_email_a_phone_or_an_oauth_provider,
    down_refuses_naming_users_without_an_email_and_changes_nothing,
    down_then_up_round_trips_with_users_who_all_have_an_email,
);

/// An `INSERT INTO users` of `columns` and `values` (SQL text).
fn insert_user(database: &TestDatabase, columns: &str, values: &str) -> String {
    insert_user_with_id(database, uuid::Uuid::now_v7(), columns, values)
}

/// The same with the id `id` (a UUID column on PostgreSQL, a 16-byte blob on SQLite, as the
/// entities store it).
fn insert_user_with_id(
    database: &TestDatabase,
    id: uuid::Uuid,
    columns: &str,
    values: &str,
) -> String {
    let id = match database.backend() {
        DbBackend::Postgres => format!("'{id}'"),
        _ => format!("X'{}'", id.simple()),
    };
    format!("INSERT INTO users (id, name, {columns}) VALUES ({id}, 'n', {values})")
}

async fn users_stored_before_it_keep_their_email_and_are_not_verified(database: TestDatabase) {
    migration::run(&database.db, &database.config, Command::Up(Some(4)))
        .await
        .unwrap_or_else(|error| panic!("up 4: {error}"));
    database
        .execute(&insert_user(&database, "email", "'jane@example.com'"))
        .await;
    let database = database.migrate().await;
    let kept = "SELECT COUNT(*) FROM users WHERE email = 'jane@example.com' \
                AND email_verified_at IS NULL AND phone_verified_at IS NULL \
                AND CAST(auth_provider AS TEXT) = 'email'";
    assert_eq!(database.count(kept).await, 1);
}

async fn a_user_needs_an_email_a_phone_or_an_oauth_provider(database: TestDatabase) {
    let database = database.migrate().await;
    let nothing = insert_user(&database, "auth_provider", "'email'");
    let error = database
        .try_execute(&nothing)
        .await
        .expect_err("a user with no email, phone or provider must be refused");
    assert!(error.to_string().contains(SIGN_IN_RULE), "{error}");
    for (columns, values) in [
        ("phone, auth_provider", "'+84901234567', 'phone'"),
        ("auth_provider", "'tiktok'"),
        ("email", "'only@example.com'"),
    ] {
        database
            .execute(&insert_user(&database, columns, values))
            .await;
    }
    assert_eq!(database.count("SELECT COUNT(*) FROM users").await, 3);
}

async fn down_refuses_naming_users_without_an_email_and_changes_nothing(database: TestDatabase) {
    let database = database.migrate().await;
    let id = uuid::Uuid::now_v7();
    database
        .execute(&insert_user_with_id(
            &database,
            id,
            "phone, auth_provider",
            "'+84901234567', 'phone'",
        ))
        .await;
    let row = id.to_string();
    revert_the_migrations_after_it(&database).await;
    let before = catalog::read(&database.db).await;

    let error = migration::run(&database.db, &database.config, Command::Down(Some(1)))
        .await
        .expect_err("down must refuse a user the old schema cannot hold");
    let message = error.to_string();
    assert!(message.contains("cannot revert"), "{message}");
    assert!(message.contains(&row), "names the row {row}: {message}");
    assert_eq!(catalog::read(&database.db).await, before, "nothing changed");
    let states = migration::status(&database.db)
        .await
        .unwrap_or_else(|error| panic!("status: {error}"));
    let applied: Vec<&str> = states
        .iter()
        .filter(|state| state.applied)
        .map(|state| state.name.as_str())
        .collect();
    assert_eq!(applied.last(), Some(&MIGRATION), "still applied");
}

/// This migration's name.
const MIGRATION: &str = "m20261205_000005_sessions_and_identities";

/// Reverts the migrations newer than this one, so that `Down(1)` reverts this one.
async fn revert_the_migrations_after_it(database: &TestDatabase) {
    loop {
        let states = migration::status(&database.db)
            .await
            .unwrap_or_else(|error| panic!("status: {error}"));
        let newest = states.iter().rev().find(|state| state.applied);
        match newest {
            Some(state) if state.name != MIGRATION => {
                migration::run(&database.db, &database.config, Command::Down(Some(1)))
                    .await
                    .unwrap_or_else(|error| panic!("down {}: {error}", state.name));
            }
            _ => return,
        }
    }
}

async fn down_then_up_round_trips_with_users_who_all_have_an_email(database: TestDatabase) {
    let database = database.migrate().await;
    database
        .execute(&insert_user(&database, "email", "'jane@example.com'"))
        .await;
    let migrated = catalog::read(&database.db).await;
    revert_the_migrations_after_it(&database).await;
    migration::run(&database.db, &database.config, Command::Down(Some(1)))
        .await
        .unwrap_or_else(|error| panic!("down 1: {error}"));
    let error = database
        .try_execute(&insert_user(&database, "phone", "'+84901234567'"))
        .await
        .expect_err("after down, email is required again");
    assert!(!error.to_string().is_empty());
    migration::run(&database.db, &database.config, Command::Up(None))
        .await
        .unwrap_or_else(|error| panic!("up: {error}"));
    assert_eq!(catalog::read(&database.db).await, migrated);
    assert_eq!(
        database
            .count("SELECT COUNT(*) FROM users WHERE email = 'jane@example.com'")
            .await,
        1
    );
}
