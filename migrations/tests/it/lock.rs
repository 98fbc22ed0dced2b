//! Waiting for the migration lock is bounded: with the lock held elsewhere, `up` (the library
//! call the service makes, and the CLI) gives up after `MIGRATION_LOCK_TIMEOUT_MS`, says who
//! holds the lock, and migrates normally once it is released.

use std::fs::File;
use std::process::Output;
use std::time::{Duration, Instant};

use migration::{LockSettings, MIGRATION_LOCK_KEY};
use test_support::lock::LockHolder;
use test_support::{ScratchDir, TestDatabase, postgres_or_skip};

/// The wait every test here configures.
const TIMEOUT: Duration = Duration::from_millis(300);
const TIMEOUT_MS: &str = "300";

/// Giving up within this (far above the 300 ms wait, process start and connecting included) is
/// the feature under test: before it, a waiter waited forever.
const GIVES_UP_WITHIN: Duration = Duration::from_secs(5);

/// `up` with the 300 ms wait, failing the test (instead of hanging it) if it is still waiting
/// after [`GIVES_UP_WITHIN`]. Returns its error and how long it took.
async fn up_expecting_to_give_up(database: &TestDatabase) -> (String, Duration) {
    let started = Instant::now();
    let up = migration::up_with(&database.db, &database.config, settings());
    match tokio::time::timeout(GIVES_UP_WITHIN, up).await {
        Err(_) => panic!("up was still waiting for the lock after {GIVES_UP_WITHIN:?}"),
        Ok(Ok(())) => panic!("up succeeded while the migration lock was held elsewhere"),
        Ok(Err(error)) => (error.to_string(), started.elapsed()),
    }
}

fn settings() -> LockSettings {
    LockSettings { timeout: TIMEOUT }
}

/// The exclusive lock on the file beside the SQLite database, taken as another process would.
fn hold_file_lock(database: &TestDatabase) -> File {
    let path = migration::lock_file_path(&database.config);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|error| panic!("open {}: {error}", path.display()));
    file.lock()
        .unwrap_or_else(|error| panic!("lock {}: {error}", path.display()));
    file
}

/// `migration up` with a clean environment: only `env` and the database of `database` are set.
/// With `within`, fails the test (and kills the CLI) if it is still running after that long.
async fn migration_up(
    database: &TestDatabase,
    env: &[(&str, &str)],
    within: Option<Duration>,
) -> Output {
    let scratch = ScratchDir::new();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_migration"));
    command.arg("up").current_dir(&scratch.0).kill_on_drop(true);
    for name in shared::database::vars::ALL
        .iter()
        .chain(migration::vars::ALL.iter())
    {
        command.env_remove(name);
    }
    command.envs(database.env_vars());
    command.envs(env.iter().copied());
    let output = match within {
        None => command.output().await,
        Some(within) => tokio::time::timeout(within, command.output())
            .await
            .unwrap_or_else(|_| panic!("migration up was still running after {within:?}")),
    };
    output.unwrap_or_else(|error| panic!("run migration up: {error}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn nothing_applied(database: &TestDatabase) {
    let states = migration::status(&database.db)
        .await
        .unwrap_or_else(|error| panic!("status: {error}"));
    assert!(
        states.iter().all(|state| !state.applied),
        "nothing may be applied without the lock: {states:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_up_gives_up_naming_the_holders_pid_and_application_name_then_succeeds_once_released()
 {
    let database = postgres_or_skip!();
    let holder = LockHolder::take(&database, "lock-test-holder").await;
    let pid = holder.pid;

    let (error, elapsed) = up_expecting_to_give_up(&database).await;
    assert!(
        error.contains(&format!(
            "the migration lock is held by pid {pid} (application_name \"lock-test-holder\""
        )),
        "{error}"
    );
    assert!(
        error.ends_with("; gave up after 300ms (MIGRATION_LOCK_TIMEOUT_MS)"),
        "{error}"
    );
    assert!(
        elapsed >= TIMEOUT,
        "gave up before the timeout: {elapsed:?}"
    );
    nothing_applied(&database).await;

    holder.release().await;
    migration::up_with(&database.db, &database.config, settings())
        .await
        .unwrap_or_else(|error| panic!("up after the lock was released: {error}"));
    assert!(
        migration::is_up_to_date(&database.db)
            .await
            .unwrap_or(false)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_waiting_up_takes_the_lock_once_it_is_released() {
    let database = postgres_or_skip!();
    let holder = LockHolder::take(&database, "lock-test-holder").await;
    let waiter = {
        let config = database.config.clone();
        tokio::spawn(async move {
            let db = shared::connect(&config).await?;
            let long_wait = LockSettings {
                timeout: Duration::from_secs(600),
            };
            migration::up_with(&db, &config, long_wait).await
        })
    };
    // Wait until the waiter is queued on the lock (a session whose lock is not granted).
    loop {
        let waiting = database
            .count(&format!(
                "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
                 AND classid::bigint = {} AND objid::bigint = {}",
                MIGRATION_LOCK_KEY >> 32,
                MIGRATION_LOCK_KEY & 0xFFFF_FFFF
            ))
            .await;
        if waiting == 1 {
            break;
        }
        assert!(!waiter.is_finished(), "the waiter stopped waiting");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    holder.release().await;
    waiter
        .await
        .unwrap_or_else(|error| panic!("waiter task: {error}"))
        .unwrap_or_else(|error| panic!("the waiting up failed: {error}"));
    assert!(
        migration::is_up_to_date(&database.db)
            .await
            .unwrap_or(false)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cli_exits_1_naming_the_holders_pid_and_application_name() {
    let database = postgres_or_skip!();
    let holder = LockHolder::take(&database, "lock-test-cli-holder").await;
    let pid = holder.pid;

    let output = migration_up(
        &database,
        &[("MIGRATION_LOCK_TIMEOUT_MS", TIMEOUT_MS)],
        Some(GIVES_UP_WITHIN),
    )
    .await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("migration: up failed ("), "{stderr}");
    assert!(
        last.contains(&format!(
            "the migration lock is held by pid {pid} (application_name \"lock-test-cli-holder\""
        )),
        "{stderr}"
    );
    assert!(
        last.ends_with("; gave up after 300ms (MIGRATION_LOCK_TIMEOUT_MS)"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    holder.release().await;
    let output = migration_up(
        &database,
        &[("MIGRATION_LOCK_TIMEOUT_MS", TIMEOUT_MS)],
        None,
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("applied  m20261124_000001_initial_schema"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_up_gives_up_naming_the_lock_file_then_succeeds_once_released() {
    let database = TestDatabase::sqlite().await;
    let path = migration::lock_file_path(&database.config);
    let held = hold_file_lock(&database);

    let (error, elapsed) = up_expecting_to_give_up(&database).await;
    assert!(
        error.ends_with(&format!(
            "the migration lock file {} is held by another process; gave up after 300ms (MIGRATION_LOCK_TIMEOUT_MS)",
            path.display()
        )),
        "{error}"
    );
    assert!(
        elapsed >= TIMEOUT,
        "gave up before the timeout: {elapsed:?}"
    );
    nothing_applied(&database).await;

    held.unlock()
        .unwrap_or_else(|error| panic!("unlock {}: {error}", path.display()));
    migration::up_with(&database.db, &database.config, settings())
        .await
        .unwrap_or_else(|error| panic!("up after the lock was released: {error}"));
    assert!(
        migration::is_up_to_date(&database.db)
            .await
            .unwrap_or(false)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_cli_exits_1_naming_the_lock_file() {
    let database = TestDatabase::sqlite().await;
    let path = migration::lock_file_path(&database.config);
    let held = hold_file_lock(&database);

    let output = migration_up(
        &database,
        &[("MIGRATION_LOCK_TIMEOUT_MS", TIMEOUT_MS)],
        Some(GIVES_UP_WITHIN),
    )
    .await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.lines().last().unwrap_or_default().ends_with(&format!(
            "the migration lock file {} is held by another process; gave up after 300ms (MIGRATION_LOCK_TIMEOUT_MS)",
            path.display()
        )),
        "{stderr}"
    );

    drop(held);
    let output = migration_up(&database, &[], None).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
}

#[tokio::test]
async fn cli_names_a_bad_lock_timeout_and_exits_2() {
    let database = TestDatabase::sqlite().await;
    for bad in ["0", "3600001", "1m"] {
        let output = migration_up(&database, &[("MIGRATION_LOCK_TIMEOUT_MS", bad)], None).await;
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{bad}: {stderr}");
        assert_eq!(
            stderr.trim_end(),
            format!(
                "migration: invalid configuration: MIGRATION_LOCK_TIMEOUT_MS: expected a whole number from 1 to 3600000, got \"{bad}\""
            )
        );
    }
}
