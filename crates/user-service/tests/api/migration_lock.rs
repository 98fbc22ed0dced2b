//! A replica that migrates at start (`MIGRATE_ON_START=true`) while another process holds the
//! migration lock gives up after `MIGRATION_LOCK_TIMEOUT_MS` and exits 1 before it serves,
//! naming the holder, instead of waiting forever without answering its liveness probe.

use std::time::Duration;

use test_support::ScratchDir;
use test_support::lock::LockHolder;

/// Far above the 300 ms wait configured below (process start and connecting included), far
/// below forever: giving up within it is the feature.
const GIVES_UP_WITHIN: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_at_start_gives_up_on_a_held_lock_and_exits_1_naming_the_holder_before_serving() {
    let database = test_support::postgres_or_skip!();
    let holder = LockHolder::take(&database, "hung-migrator").await;
    let pid = holder.pid;

    let scratch = ScratchDir::new();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_user-service"));
    command.current_dir(&scratch.0);
    for name in user_service::config::all_variables() {
        command.env_remove(name);
    }
    command
        .envs(database.env_vars())
        .env("MIGRATE_ON_START", "true")
        .env("MIGRATION_LOCK_TIMEOUT_MS", "300")
        .env("SEED_ON_START", "false")
        .env("USER_SERVICE_HOST", "127.0.0.1")
        .env("USER_SERVICE_PORT", "0")
        .env("LOG_FORMAT", "human");
    command.kill_on_drop(true);
    let output = tokio::time::timeout(GIVES_UP_WITHIN, command.output())
        .await
        .unwrap_or_else(|_| {
            panic!("user-service was still waiting for the lock after {GIVES_UP_WITHIN:?}")
        })
        .unwrap_or_else(|error| panic!("run user-service: {error}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let log = String::from_utf8_lossy(&output.stdout);

    assert_eq!(output.status.code(), Some(1), "{stderr}\n{log}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with("user-service: cannot apply migrations to PostgreSQL "),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "the migration lock is held by pid {pid} (application_name \"hung-migrator\""
        )),
        "{stderr}"
    );
    assert!(
        stderr
            .trim_end()
            .ends_with("; gave up after 300ms (MIGRATION_LOCK_TIMEOUT_MS)"),
        "{stderr}"
    );
    assert!(
        !log.contains("User Service running"),
        "it served before migrating: {log}"
    );
}
