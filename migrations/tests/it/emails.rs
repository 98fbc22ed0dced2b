//! The second migration: emails are stored normalised, so a differently-cased duplicate is
//! impossible whoever writes the row; it is reversible like the first.

use migration::{Command, EMAIL_NORMALISED};
use sea_orm::DbBackend;
use test_support::catalog;
use test_support::{TestDatabase, on_both_backends};

on_both_backends!(
    a_differently_cased_duplicate_email_is_refused_by_the_database,
    a_denormalised_email_is_refused_on_insert_and_on_update,
    emails_stored_before_the_migration_are_normalised_by_it,
    unicode_domains_stored_before_the_idna_migration_take_their_punycode_form,
    the_idna_migration_refuses_one_address_in_two_spellings_and_changes_nothing,
    the_email_rule_is_in_the_catalog_after_up_and_gone_after_down,
);

fn insert_user(database: &TestDatabase, email: &str) -> String {
    match database.backend() {
        DbBackend::Postgres => {
            format!("INSERT INTO users (name, email) VALUES ('n', '{email}')")
        }
        _ => format!("INSERT INTO users (id, name, email) VALUES (randomblob(16), 'n', '{email}')"),
    }
}

async fn a_differently_cased_duplicate_email_is_refused_by_the_database(database: TestDatabase) {
    let database = database.migrate().await;
    database
        .execute(&insert_user(&database, "jane@example.com"))
        .await;
    let error = database
        .try_execute(&insert_user(&database, "Jane@Example.com"))
        .await
        .expect_err("a differently-cased duplicate must be refused");
    assert!(error.to_string().contains(EMAIL_NORMALISED), "{error}");
    assert_eq!(database.count("SELECT COUNT(*) FROM users").await, 1);
}

async fn a_denormalised_email_is_refused_on_insert_and_on_update(database: TestDatabase) {
    let database = database.migrate().await;
    for email in ["Upper@example.com", " padded@example.com"] {
        let error = database
            .try_execute(&insert_user(&database, email))
            .await
            .expect_err("a denormalised email must be refused");
        assert!(
            error.to_string().contains(EMAIL_NORMALISED),
            "{email}: {error}"
        );
    }
    database
        .execute(&insert_user(&database, "lower@example.com"))
        .await;
    let error = database
        .try_execute("UPDATE users SET email = 'LOWER@example.com'")
        .await
        .expect_err("an update to a denormalised email must be refused");
    assert!(error.to_string().contains(EMAIL_NORMALISED), "{error}");
}

async fn emails_stored_before_the_migration_are_normalised_by_it(database: TestDatabase) {
    migration::run(&database.db, &database.config, Command::Up(Some(1)))
        .await
        .unwrap_or_else(|error| panic!("up 1: {error}"));
    database
        .execute(&insert_user(&database, " Mixed@Case.COM "))
        .await;
    let database = database.migrate().await;
    assert_eq!(
        database
            .count("SELECT COUNT(*) FROM users WHERE email = 'mixed@case.com'")
            .await,
        1
    );
}

async fn unicode_domains_stored_before_the_idna_migration_take_their_punycode_form(
    database: TestDatabase,
) {
    migration::run(&database.db, &database.config, Command::Up(Some(3)))
        .await
        .unwrap_or_else(|error| panic!("up 3: {error}"));
    database
        .execute(&insert_user(&database, "jane@bücher.example"))
        .await;
    let database = database.migrate().await;
    let stored = "SELECT COUNT(*) FROM users WHERE email = 'jane@xn--bcher-kva.example'";
    assert_eq!(database.count(stored).await, 1);
}

async fn the_idna_migration_refuses_one_address_in_two_spellings_and_changes_nothing(
    database: TestDatabase,
) {
    migration::run(&database.db, &database.config, Command::Up(Some(3)))
        .await
        .unwrap_or_else(|error| panic!("up 3: {error}"));
    for email in ["jane@bücher.example", "jane@xn--bcher-kva.example"] {
        database.execute(&insert_user(&database, email)).await;
    }
    let error = migration::run(&database.db, &database.config, Command::Up(None))
        .await
        .expect_err("two spellings of one address must stop the migration");
    assert!(
        error.to_string().contains("one address in two spellings"),
        "{error}"
    );
    let unicode = "SELECT COUNT(*) FROM users WHERE email = 'jane@bücher.example'";
    assert_eq!(
        database.count(unicode).await,
        1,
        "the row is left as it was"
    );
}

/// The rule's catalog objects: the CHECK constraint on PostgreSQL, the two triggers on SQLite.
async fn email_rule_objects(database: &TestDatabase) -> Vec<String> {
    catalog::read(&database.db)
        .await
        .objects
        .into_iter()
        .filter(|object| object.contains("email_normalised"))
        .collect()
}

async fn the_email_rule_is_in_the_catalog_after_up_and_gone_after_down(database: TestDatabase) {
    let database = database.migrate().await;
    let expected: Vec<String> = match database.backend() {
        DbBackend::Postgres => vec![format!("constraint:{EMAIL_NORMALISED} users")],
        _ => vec![
            "trigger:TRG_users_email_normalised_insert".to_owned(),
            "trigger:TRG_users_email_normalised_update".to_owned(),
        ],
    };
    assert_eq!(email_rule_objects(&database).await, expected);

    // Revert the later migrations: the rule goes, mixed case is accepted again.
    migration::run(&database.db, &database.config, Command::Down(Some(5)))
        .await
        .unwrap_or_else(|error| panic!("down 5: {error}"));
    assert!(email_rule_objects(&database).await.is_empty());
    database
        .execute(&insert_user(&database, "Mixed@example.com"))
        .await;

    // And back up: the stored row is normalised and the rule returns.
    let database = database.migrate().await;
    assert_eq!(email_rule_objects(&database).await, expected);
    assert_eq!(
        database
            .count("SELECT COUNT(*) FROM users WHERE email = 'mixed@example.com'")
            .await,
        1
    );
}
