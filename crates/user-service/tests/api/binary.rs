//! The `user-service` binary as an operator runs it: configuration errors and SIGTERM.
//!
//! A service under test binds port 0 and the test reads the port from its log line, so no
//! test picks a free port and binds it later (another process could take it in between).

use std::io::BufRead;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use test_support::ScratchDir as Scratch;

use crate::faults::database_url;
use crate::proxy::{Mode, Proxy, upstream_of};

fn service(scratch: &Scratch, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_user-service"));
    command.current_dir(&scratch.0);
    for name in user_service::config::all_variables() {
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
fn production_refuses_codes_in_the_log_and_plain_http_webhooks_and_providers_before_opening_the_database()
 {
    let scratch = Scratch::new();
    let production = [
        ("APP_ENV", "production"),
        (
            "JWT_SECRET",
            "a-production-secret-of-enough-length-0123456789",
        ),
    ];
    for (extra, named) in [
        (vec![("SMS_PROVIDER", "log")], "SMS_PROVIDER"),
        (
            vec![
                ("SMS_PROVIDER", "webhook"),
                ("SMS_WEBHOOK_URL", "http://sms.internal/send"),
                ("SMS_WEBHOOK_TOKEN", "t0ken"),
            ],
            "SMS_WEBHOOK_URL",
        ),
        (
            vec![
                ("PUBLIC_BASE_URL", "https://api.example.com"),
                ("GOOGLE_CLIENT_ID", "client.apps.googleusercontent.com"),
                ("GOOGLE_CLIENT_SECRET", "t0ken"),
                ("GOOGLE_JWKS_URL", "http://127.0.0.1:9/jwks"),
            ],
            "GOOGLE_JWKS_URL",
        ),
    ] {
        let env: Vec<(&str, &str)> = production.iter().copied().chain(extra).collect();
        let output = service(&scratch, &env)
            .output()
            .unwrap_or_else(|error| panic!("run: {error}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(named), "{named} not named: {stderr}");
        assert!(
            !stderr.contains("t0ken") && !stderr.contains("panicked"),
            "{stderr}"
        );
        assert!(
            !scratch.0.join("data").exists(),
            "refused before the database was opened"
        );
    }
}

#[test]
fn a_taken_port_is_reported_and_exits_non_zero() {
    let scratch = Scratch::new();
    // Held until the service has tried the port and exited.
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
    drop(taken);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
}

/// The line the service logs once it listens, followed by the port.
const LISTENING: &str = "User Service running on http://localhost:";

/// A `user-service` process listening on `port`, its stdout read line by line as it comes.
struct Running {
    child: Child,
    port: u16,
    /// Every stdout line so far, as the reader thread sends them.
    lines: mpsc::Receiver<String>,
    log: String,
}

impl Running {
    /// Starts the service on 127.0.0.1, port 0, with `RUST_LOG=info` and `env` on top, and
    /// waits (at most 30 s) for the line that says which port it bound.
    fn start(scratch: &Scratch, env: &[(&str, &str)]) -> Self {
        let mut command = service(
            scratch,
            &[
                ("USER_SERVICE_HOST", "127.0.0.1"),
                ("USER_SERVICE_PORT", "0"),
                ("RUST_LOG", "info"),
            ],
        );
        command.envs(env.iter().copied());
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("spawn: {error}"));
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("stdout is piped"));
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut running = Self {
            child,
            port: 0,
            lines,
            log: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while running.port == 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match running.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some((_, port)) = line.split_once(LISTENING) {
                        let digits: String =
                            port.chars().take_while(char::is_ascii_digit).collect();
                        running.port = digits
                            .parse()
                            .unwrap_or_else(|error| panic!("port in {line:?}: {error}"));
                    }
                    running.log.push_str(&line);
                    running.log.push('\n');
                }
                Err(_) => {
                    let _ = running.child.kill();
                    let _ = running.child.wait();
                    let (log, stderr) = (running.rest_of_stdout(), running.stderr());
                    panic!("the service never said where it listens:\n{log}\n{stderr}");
                }
            }
        }
        running
    }

    /// Sends SIGTERM; answers the exit status, how long the process took to exit, and its
    /// whole stdout and stderr.
    fn terminate(mut self) -> (ExitStatus, Duration, String, String) {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap_or_else(|error| panic!("kill: {error}"));
        assert!(killed.success());
        let sent = Instant::now();
        let status = self
            .child
            .wait()
            .unwrap_or_else(|error| panic!("wait: {error}"));
        let took = sent.elapsed();
        (status, took, self.rest_of_stdout(), self.stderr())
    }

    /// Reads the log until a line holds `text` (at most 10 s); answers that line.
    fn line_with(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no line with {text:?} in:\n{}", self.log));
            self.log.push_str(&line);
            self.log.push('\n');
            if line.contains(text) {
                return line;
            }
        }
    }

    /// Kills the process (no shutdown); answers its whole stdout.
    fn kill(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.rest_of_stdout()
    }

    /// Everything the process wrote to stdout, once it has exited.
    fn rest_of_stdout(&mut self) -> String {
        let mut log = std::mem::take(&mut self.log);
        for line in self.lines.iter() {
            log.push_str(&line);
            log.push('\n');
        }
        log
    }

    fn stderr(&mut self) -> String {
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        stderr
    }
}

/// A test that fails half-way leaves no service running.
impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
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
    let service = Running::start(&scratch, &[("DATABASE_URL", "sqlite:data/chatai.db")]);
    let port = service.port;
    let client = wait_until_ready(port).await;
    let response = client
        .post(format!("http://127.0.0.1:{port}/auth/login"))
        .json(&serde_json::json!({"email": "admin@chatai.com", "password": "Admin@123"}))
        .send()
        .await
        .unwrap_or_else(|error| panic!("login: {error}"));
    let status = response.status();
    let log = service.kill();
    assert_eq!(status, 200, "{log}");
    assert!(log.contains("seeded the database (SEED_ON_START)"), "{log}");
    assert!(
        log.contains("these accounts have the published development passwords")
            && log.contains("admin@chatai.com")
            && !log.contains("Admin@123"),
        "{log}"
    );
}

#[tokio::test]
async fn the_embedded_default_signs_in_by_phone_with_the_code_its_log_shows_once() {
    let scratch = Scratch::new();
    let mut service = Running::start(&scratch, &[("DATABASE_URL", "sqlite:data/chatai.db")]);
    let port = service.port;
    let client = wait_until_ready(port).await;
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let phone = serde_json::json!({"phone": "+84 90 123 4567"});
    let sent = client
        .post(url("/auth/phone/otp"))
        .json(&phone)
        .send()
        .await;
    let sent = sent.unwrap_or_else(|error| panic!("otp: {error}"));
    assert_eq!(sent.status(), 202);
    let line = service.line_with("the sign-in code");
    let code: String = line
        .split_once("code=")
        .map(|(_, rest)| rest.trim_start_matches('"'))
        .unwrap_or_default()
        .chars()
        .take(6)
        .collect();
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "{line}"
    );
    let verify = serde_json::json!({"phone": "+84901234567", "code": code});
    let signed_in = client
        .post(url("/auth/phone/verify"))
        .json(&verify)
        .send()
        .await;
    let signed_in = signed_in.unwrap_or_else(|error| panic!("verify: {error}"));
    assert_eq!(signed_in.status(), 201);
    let log = service.kill();
    let holding: Vec<&str> = log
        .lines()
        .filter(|line| {
            line.split(|c: char| !c.is_ascii_alphanumeric())
                .any(|token| token == code)
        })
        .collect();
    assert_eq!(
        holding,
        [line.as_str()],
        "the code is in that one line only"
    );
    assert!(
        log.contains("SMS_PROVIDER=log: phone sign-in codes are written to this log"),
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
    // Explicit, so a developer's .env at the workspace root cannot switch it.
    let service = Running::start(&scratch, &[("DATABASE_URL", "sqlite:data/chatai.db")]);
    let port = service.port;

    wait_until_ready(port).await;
    assert!(
        scratch.0.join("data/chatai.db").is_file(),
        "the embedded database was created"
    );

    let (status, _, log, stderr) = tokio::task::spawn_blocking(move || service.terminate())
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(status.code(), Some(0), "{stderr}");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_within_the_shutdown_timeout_while_a_request_waits_on_a_hung_database() {
    let database = test_support::postgres_or_skip!();
    let scratch = Scratch::new();
    let url = database_url(&database);
    let proxy = Proxy::start(upstream_of(&url), Mode::Forward).await;
    let through_proxy = proxy.url(&url);
    // The request would wait 30 s (for a connection or for its answer); the whole shutdown may
    // take 2 s. Two pooled connections: if sqlx's check of the connection coming back from the
    // readiness round trip is caught by the stall, the request opens the second one.
    let service = Running::start(
        &scratch,
        &[
            ("DATABASE_URL", &through_proxy),
            ("MIGRATE_ON_START", "false"),
            ("SEED_ON_START", "false"),
            ("DATABASE_POOL_MAX", "2"),
            ("DATABASE_CONNECT_TIMEOUT_MS", "30000"),
            ("HEALTH_PROBE_INTERVAL_MS", "600000"),
            ("HEALTH_DB_TIMEOUT_MS", "30000"),
            ("REQUEST_TIMEOUT_MS", "30000"),
            ("SHUTDOWN_TIMEOUT_MS", "2000"),
        ],
    );
    let client = wait_until_ready(service.port).await;

    proxy.set(Mode::Stall);
    let url = format!("http://127.0.0.1:{}/health/db", service.port);
    let _in_flight = tokio::spawn(async move { client.get(url).send().await });
    proxy
        .wait_for_silenced_round_trips(1, Duration::from_secs(10))
        .await;

    let (status, took, log, stderr) = tokio::task::spawn_blocking(move || service.terminate())
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(status.code(), Some(0), "{stderr}\n{log}");
    assert!(
        took < Duration::from_secs(3),
        "exited {took:?} after SIGTERM; SHUTDOWN_TIMEOUT_MS is 2000\n{log}"
    );
    assert!(log.contains("stopped"), "{log}");
}

#[tokio::test]
async fn oauth_sign_ins_write_no_code_state_token_or_secret_to_the_log() {
    use crate::oauth::{browser, param, visit};
    use test_support::oauth::{FACEBOOK_APP_ID, FakeProvider, Flaw, Person};

    let scratch = Scratch::new();
    let fake = FakeProvider::start().await;
    let settings = fake.env();
    let mut env = test_support::borrowed(&settings);
    env.push(("DATABASE_URL", "sqlite:data/chatai.db"));
    let service = Running::start(&scratch, &env);
    let port = service.port;
    let client = wait_until_ready(port).await;
    let browser = browser();
    let mut secrets: Vec<String> = settings
        .iter()
        .filter(|(name, _)| name.ends_with("_SECRET"))
        .map(|(_, value)| value.clone())
        .collect();

    let redirect: String =
        url::form_urlencoded::byte_serialize(fake.app_url().as_bytes()).collect();
    let start = format!("http://127.0.0.1:{port}/auth/oauth/google/start?redirect_uri={redirect}");
    for flaw in [Flaw::None, Flaw::WrongNonce] {
        fake.set_flaw(flaw);
        let (_, authorization) = visit(&browser, &start).await;
        let (_, callback) = visit(&browser, &authorization.unwrap_or_default()).await;
        let callback = url::Url::parse(&callback.unwrap_or_default())
            .unwrap_or_else(|error| panic!("{error}"));
        secrets.extend(
            ["code", "state"]
                .iter()
                .filter_map(|key| param(&callback, key)),
        );
        let (_, back) = visit(&browser, callback.as_str()).await;
        let back =
            url::Url::parse(&back.unwrap_or_default()).unwrap_or_else(|error| panic!("{error}"));
        if let Some(login_code) = param(&back, "login_code") {
            let body = serde_json::json!({"login_code": login_code});
            let url = format!("http://127.0.0.1:{port}/auth/oauth/exchange");
            let session = client.post(url).json(&body).send().await;
            let session: serde_json::Value = session
                .unwrap_or_else(|error| panic!("exchange: {error}"))
                .json()
                .await
                .unwrap_or_default();
            secrets.push(login_code);
            for token in ["access_token", "refresh_token"] {
                secrets.extend(session[token].as_str().map(str::to_owned));
            }
        } else {
            assert_eq!(param(&back, "error").as_deref(), Some("provider_error"));
        }
    }
    fake.set_flaw(Flaw::None);
    // Someone else: the first person's email belongs to his Google account now.
    fake.sign_in_as(&Person::new());
    let facebook = fake.facebook_token_for(FACEBOOK_APP_ID);
    let url = format!("http://127.0.0.1:{port}/auth/oauth/facebook/token");
    let native = client
        .post(url)
        .json(&serde_json::json!({"access_token": facebook}))
        .send()
        .await
        .unwrap_or_else(|error| panic!("native: {error}"));
    assert_eq!(native.status(), 201);
    secrets.push(facebook);

    let log = service.kill();
    assert!(
        log.contains("/auth/oauth/google/callback"),
        "the requests were logged: {log}"
    );
    assert!(secrets.len() >= 10, "{secrets:?}");
    for secret in secrets.iter().filter(|secret| secret.len() >= 8) {
        assert!(
            !log.contains(secret.as_str()),
            "{secret} is in the log:\n{log}"
        );
    }
}
