//! The sixth migration: the phone codes' table, and every stored number it can read brought to
//! E.164, the one form the service stores and compares.

use migration::Command;
use sea_orm::DbBackend;
use test_support::{TestDatabase, on_both_backends};

on_both_backends!(
    numbers_stored_before_the_migration_take_their_e164_form,
    national_and_impossible_numbers_are_left_as_they_were,
    the_migration_refuses_one_number_in_two_spellings_and_changes_nothing,
    down_drops_the_codes_and_keeps_the_e164_numbers,
);

/// Up to the migration before this one.
async fn before_it(database: &TestDatabase) {
    migration::run(&database.db, &database.config, Command::Up(Some(5)))
        .await
        .unwrap_or_else(|error| panic!("up 5: {error}"));
}

async fn insert_user(database: &TestDatabase, n: usize, phone: &str) {
    let email = format!("user{n}@example.com");
    let sql = match database.backend() {
        DbBackend::Postgres => {
            format!("INSERT INTO users (name, email, phone) VALUES ('n', '{email}', '{phone}')")
        }
        _ => format!(
            "INSERT INTO users (id, name, email, phone) VALUES (randomblob(16), 'n', '{email}', '{phone}')"
        ),
    };
    database.execute(&sql).await;
}

async fn with_phone(database: &TestDatabase, phone: &str) -> i64 {
    database
        .count(&format!(
            "SELECT COUNT(*) FROM users WHERE phone = '{phone}'"
        ))
        .await
}

async fn numbers_stored_before_the_migration_take_their_e164_form(database: TestDatabase) {
    before_it(&database).await;
    insert_user(&database, 1, "+84 90 123 4567").await;
    insert_user(&database, 2, "+1 (650) 253-0000").await;
    insert_user(&database, 3, "+442079460958").await;
    let database = database.migrate().await;
    for e164 in ["+84901234567", "+16502530000", "+442079460958"] {
        assert_eq!(with_phone(&database, e164).await, 1, "{e164}");
    }
}

async fn national_and_impossible_numbers_are_left_as_they_were(database: TestDatabase) {
    before_it(&database).await;
    for (n, stored) in ["0901234567", "+0000000"].into_iter().enumerate() {
        insert_user(&database, n, stored).await;
    }
    let database = database.migrate().await;
    for stored in ["0901234567", "+0000000"] {
        assert_eq!(with_phone(&database, stored).await, 1, "{stored}");
    }
}

async fn the_migration_refuses_one_number_in_two_spellings_and_changes_nothing(
    database: TestDatabase,
) {
    before_it(&database).await;
    insert_user(&database, 1, "+84 90 123 4567").await;
    insert_user(&database, 2, "+84901234567").await;
    let error = migration::run(&database.db, &database.config, Command::Up(None))
        .await
        .expect_err("two spellings of one number must stop the migration");
    let message = error.to_string();
    assert!(message.contains("one number in two spellings"), "{message}");
    assert!(message.contains("+84 90 123 4567"), "names it: {message}");
    assert_eq!(
        with_phone(&database, "+84 90 123 4567").await,
        1,
        "left as it was"
    );
    assert!(
        database
            .try_execute("SELECT COUNT(*) FROM phone_codes")
            .await
            .is_err(),
        "the table it made went with the rest"
    );
}

async fn down_drops_the_codes_and_keeps_the_e164_numbers(database: TestDatabase) {
    before_it(&database).await;
    insert_user(&database, 1, "+84 90 123 4567").await;
    let database = database.migrate().await;
    migration::run(&database.db, &database.config, Command::Down(Some(1)))
        .await
        .unwrap_or_else(|error| panic!("down 1: {error}"));
    assert!(
        database
            .try_execute("SELECT COUNT(*) FROM phone_codes")
            .await
            .is_err(),
        "phone_codes is gone"
    );
    assert_eq!(with_phone(&database, "+84901234567").await, 1);
}
