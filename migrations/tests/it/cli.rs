//! The migration CLI as a user runs it: real process, real exit codes, real output.

use std::process::{Command, Output};

use test_support::ScratchDir as Scratch;

/// The migration CLI with exactly `env` for its database settings: no `DATABASE_*` or `PG*`
/// variable of the caller's reaches it.
pub(crate) fn migration(scratch: &Scratch, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_migration"));
    command.args(args).current_dir(&scratch.0);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|name| name.starts_with("PG")) {
            command.env_remove(name);
        }
    }
    for name in shared::database::vars::ALL {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command
        .output()
        .unwrap_or_else(|error| panic!("run migration: {error}"))
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn up_status_down_work_on_the_embedded_default() {
    let scratch = Scratch::new();
    let up = migration(&scratch, &["up"], &[]);
    assert!(up.status.success(), "{}", text(&up.stderr));
    assert!(text(&up.stdout).contains("applied  m20261124_000001_initial_schema"));
    assert!(text(&up.stderr).contains("SQLite data/chatai.db"));
    assert!(scratch.0.join("data/chatai.db").is_file());

    let status = migration(&scratch, &["status"], &[]);
    assert!(status.status.success());
    assert!(text(&status.stdout).contains("applied"));

    let down = migration(&scratch, &["down"], &[]);
    assert!(down.status.success(), "{}", text(&down.stderr));
    // `down` reverts the newest migration only.
    assert!(text(&down.stdout).contains("pending  m20261206_000006_phone_codes"));
    assert!(text(&down.stdout).contains("applied  m20261205_000005_sessions_and_identities"));
}

#[test]
fn a_bad_variable_is_named_and_exits_2_without_a_panic_or_a_password() {
    let scratch = Scratch::new();
    for (name, value) in [
        ("DATABASE_PORT", "abc"),
        ("DATABASE_POOL_MAX", "0"),
        ("DATABASE_URL", "postgres://app:s3cret-pw@db:99999/app"),
        ("DATABASE_URL", "mysql://app:s3cret-pw@db/app"),
    ] {
        let output = migration(&scratch, &["up"], &[(name, value)]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}={value}: {stderr}");
        assert!(stderr.contains(name), "{name} not named in: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!stderr.contains("s3cret-pw") && !text(&output.stdout).contains("s3cret-pw"));
    }
}

#[test]
fn an_unreachable_database_fails_with_exit_1_and_no_password() {
    let scratch = Scratch::new();
    let output = migration(
        &scratch,
        &["up"],
        &[
            ("DATABASE_URL", "postgres://app:s3cret-pw@127.0.0.1:1/app"),
            ("DATABASE_CONNECT_TIMEOUT_MS", "1000"),
        ],
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("PostgreSQL app@127.0.0.1:1/app"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn destructive_commands_are_refused_in_production() {
    let scratch = Scratch::new();
    for command in ["fresh", "refresh", "reset"] {
        let output = migration(&scratch, &[command], &[("APP_ENV", "production")]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{command}: {stderr}");
        assert!(stderr.contains("APP_ENV=production"), "{stderr}");
    }
    assert!(!scratch.0.join("data").exists(), "nothing touched");
}
