//! The `user-service` binary as an operator runs it: configuration errors and SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use test_support::ScratchDir as Scratch;

fn service(scratch: &Scratch, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_user-service"));
    command.current_dir(&scratch.0);
    for name in shared::database::vars::ALL
        .iter()
        .chain(user_service::config::vars::ALL.iter())
    {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command
}

#[test]
fn each_invalid_variable_stops_the_service_with_exit_2_and_one_line_naming_it() {
    let scratch = Scratch::new();
    for (name, value) in [
        ("USER_SERVICE_PORT", "abc"),
        ("USER_SERVICE_PORT", "70000"),
        ("APP_ENV", "staging"),
        ("CORS_ORIGIN", "not an origin"),
        ("LOG_FORMAT", "xml"),
        ("DATABASE_URL", "postgres://app:s3cret-pw@db:notaport/app"),
        ("DATABASE_URL", "ftp://app:s3cret-pw@db/app"),
        ("DATABASE_PORT", "99999"),
    ] {
        let output = service(&scratch, &[(name, value)])
            .output()
            .unwrap_or_else(|error| panic!("run: {error}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}={value}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(name), "{name} not named: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!stderr.contains("s3cret-pw"), "{stderr}");
        assert!(
            !scratch.0.join("data").exists(),
            "nothing created before validation"
        );
    }
}

#[test]
fn a_taken_port_is_reported_and_exits_non_zero() {
    let scratch = Scratch::new();
    let taken =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|error| panic!("{error}"));
    let port = taken
        .local_addr()
        .map(|a| a.port())
        .unwrap_or_default()
        .to_string();
    let output = service(
        &scratch,
        &[
            ("USER_SERVICE_HOST", "127.0.0.1"),
            ("USER_SERVICE_PORT", &port),
        ],
    )
    .output()
    .unwrap_or_else(|error| panic!("run: {error}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or_else(|error| panic!("{error}"))
}

/// Polls `GET /health/db` on `port` until it answers 200.
async fn wait_until_ready(port: u16) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    let started = Instant::now();
    loop {
        if let Ok(response) = client
            .get(format!("http://127.0.0.1:{port}/health/db"))
            .send()
            .await
            && response.status() == 200
        {
            return client;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never became ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_first_start_on_the_embedded_default_seeds_so_the_admin_can_log_in() {
    let scratch = Scratch::new();
    let port = free_port();
    let mut child = service(
        &scratch,
        &[
            ("USER_SERVICE_HOST", "127.0.0.1"),
            ("USER_SERVICE_PORT", &port.to_string()),
            ("RUST_LOG", "info"),
            ("DATABASE_URL", "sqlite:data/chatai.db"),
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap_or_else(|error| panic!("spawn: {error}"));
    let client = wait_until_ready(port).await;
    let response = client
        .post(format!("http://127.0.0.1:{port}/auth/login"))
        .json(&serde_json::json!({"email": "admin@chatai.com", "password": "Admin@123"}))
        .send()
        .await
        .unwrap_or_else(|error| panic!("login: {error}"));
    let status = response.status();
    let _ = child.kill();
    let output = child
        .wait_with_output()
        .unwrap_or_else(|error| panic!("{error}"));
    let log = String::from_utf8_lossy(&output.stdout);
    assert_eq!(status, 200, "{log}");
    assert!(log.contains("seeded the database (SEED_ON_START)"), "{log}");
    assert!(
        log.contains("development credentials (never use these outside development): admin@chatai.com / Admin@123"),
        "{log}"
    );
}

#[tokio::test]
async fn production_refuses_to_start_while_a_seeded_account_accepts_its_published_password() {
    let scratch = Scratch::new();
    let database = test_support::TestDatabase::sqlite().await.migrate().await;
    seeds::run(
        &database.db,
        seeds::DevelopmentPasswords::Allowed,
        &std::collections::HashMap::<&str, &str>::new(),
    )
    .await
    .unwrap_or_else(|error| panic!("seed: {error}"));
    let mut env: Vec<(String, String)> = database.env_vars();
    env.extend(
        [
            ("APP_ENV", "production"),
            ("JWT_SECRET", "a-production-secret-of-at-least-32-bytes"),
            ("USER_SERVICE_HOST", "127.0.0.1"),
            ("USER_SERVICE_PORT", "0"),
        ]
        .map(|(name, value)| (name.to_owned(), value.to_owned())),
    );
    let env: Vec<(&str, &str)> = env
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let output = service(&scratch, &env)
        .output()
        .unwrap_or_else(|error| panic!("run: {error}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("admin@chatai.com"),
        "names the account: {stderr}"
    );
    assert!(
        !stderr.contains("Admin@123"),
        "never the password: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn sigterm_stops_the_embedded_default_cleanly_with_exit_0() {
    let scratch = Scratch::new();
    let port = free_port();
    let child = service(
        &scratch,
        &[
            ("USER_SERVICE_HOST", "127.0.0.1"),
            ("USER_SERVICE_PORT", &port.to_string()),
            ("RUST_LOG", "info"),
            // Explicit, so a developer's .env at the workspace root cannot switch it.
            ("DATABASE_URL", "sqlite:data/chatai.db"),
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap_or_else(|error| panic!("spawn: {error}"));

    wait_until_ready(port).await;
    assert!(
        scratch.0.join("data/chatai.db").is_file(),
        "the embedded database was created"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap_or_else(|error| panic!("kill: {error}"));
    assert!(killed.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap_or_else(|error| panic!("{error}"))
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(output.status.code(), Some(0));
    let log = String::from_utf8_lossy(&output.stdout);
    assert!(
        log.contains("SQLite data/chatai.db"),
        "says which database: {log}"
    );
    assert!(
        log.contains(&format!("User Service running on http://localhost:{port}")),
        "{log}"
    );
    assert!(log.contains("stopped"), "{log}");
}
