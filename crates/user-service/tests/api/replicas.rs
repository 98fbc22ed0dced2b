//! Several replicas at once: three `user-service` processes on one PostgreSQL database and one
//! Redis, all with `MIGRATE_ON_START=true`. They all become ready, the migrations run once, a
//! token issued by one is accepted by the others, the login throttle is shared, a phone code
//! asked for through one replica signs in through another (and its limits are shared), a Google
//! sign-in started on one finishes on another and is exchanged on the third, and a user deleted
//! through one is refused by the others at once.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde_json::json;
use test_support::oauth::FakeProvider;
use test_support::sms::FakeSms;
use test_support::{ScratchDir, TestDatabase, postgres_or_skip};

use crate::helpers::json_of;

/// The load balancer's address, which providers send browsers back to.
const BALANCER: &str = "http://balancer.invalid";

/// A `user-service` process of the test's own, on a port it picked itself (port 0), read from
/// its start-up line. Killed when dropped.
struct Replica {
    child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
    _dir: ScratchDir,
}

impl Replica {
    fn start(env: &[(String, String)]) -> Self {
        let dir = ScratchDir::new();
        let mut command = Command::new(env!("CARGO_BIN_EXE_user-service"));
        command.current_dir(&dir.0);
        for name in user_service::config::all_variables() {
            command.env_remove(name);
        }
        let mut child = command
            .envs(env.iter().map(|(name, value)| (name, value)))
            .env("USER_SERVICE_HOST", "127.0.0.1")
            .env("USER_SERVICE_PORT", "0")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| panic!("spawn user-service: {error}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let log = Arc::new(Mutex::new(String::new()));
        let (port_tx, port_rx) = mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            const READY: &str = "User Service running on http://localhost:";
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line
                    .split(READY)
                    .nth(1)
                    .and_then(|rest| rest.trim().parse::<u16>().ok())
                {
                    let _ = port_tx.send(port);
                }
                if let Ok(mut log) = lines.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        let port = port_rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!(
                    "the replica never said where it listens:\n{}",
                    log.lock().map(|log| log.clone()).unwrap_or_default()
                )
            });
        Self {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log(&self) -> String {
        self.log.lock().map(|log| log.clone()).unwrap_or_default()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut request = client.request(method, &url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|error| panic!("{url}: {error}"));
    json_of(response).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_one_database_one_redis_and_one_jwt_secret() {
    let database: TestDatabase = postgres_or_skip!();
    let Some(redis_url) = crate::throttle::redis_or_skip().await else {
        return;
    };
    let prefix = format!("replicas-{}:", uuid::Uuid::new_v4().simple());
    let sms = FakeSms::start().await;
    let provider = FakeProvider::start().await;
    let mut env = database.env_vars();
    env.extend(
        sms.env()
            .into_iter()
            .chain(provider.env())
            .map(|(name, value)| (name.to_owned(), value)),
    );
    env.extend(
        [
            ("APP_ENV", "test"),
            ("MIGRATE_ON_START", "true"),
            ("SEED_ON_START", "false"),
            (
                "JWT_SECRET",
                "one-secret-that-every-replica-shares-0123456789",
            ),
            ("REDIS_URL", redis_url.as_str()),
            ("REDIS_KEY_PREFIX", prefix.as_str()),
            // One load balancer in front: providers send browsers to its address.
            ("PUBLIC_BASE_URL", BALANCER),
        ]
        .map(|(name, value)| (name.to_owned(), value.to_owned())),
    );

    // Started together: each migrates under the migration lock before it binds.
    let starts: Vec<_> = (0..3)
        .map(|_| {
            let env = env.clone();
            std::thread::spawn(move || Replica::start(&env))
        })
        .collect();
    let replicas: Vec<Replica> = starts
        .into_iter()
        .map(|start| {
            start
                .join()
                .unwrap_or_else(|_| panic!("a replica failed to start"))
        })
        .collect();
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    for replica in &replicas {
        let (status, body) = call(
            &client,
            reqwest::Method::GET,
            replica.url("/health/db"),
            None,
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}\n{}", replica.log());
    }
    assert_eq!(
        database
            .count("SELECT COUNT(*) FROM seaql_migrations")
            .await,
        <migration::Migrator as migration::MigratorTrait>::migrations().len() as i64,
        "each migration recorded once"
    );
    let applied_by: Vec<String> = replicas
        .iter()
        .map(Replica::log)
        .filter(|log| log.contains("Applying migration"))
        .collect();
    assert!(
        applied_by.len() <= 1,
        "more than one replica applied migrations"
    );

    // A token issued by one replica is accepted by the others.
    let credentials = json!({"email": "replica@example.com", "password": "correct-horse-battery"});
    let (status, body) = call(
        &client,
        reqwest::Method::POST,
        replicas[0].url("/auth/register"),
        None,
        Some(json!({"name": "Replica", "email": "replica@example.com", "password": "correct-horse-battery"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = call(
        &client,
        reqwest::Method::POST,
        replicas[1].url("/auth/login"),
        None,
        Some(credentials.clone()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap_or_default().to_owned();
    for replica in &replicas {
        let (status, body) = call(
            &client,
            reqwest::Method::GET,
            replica.url("/auth/me"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["email"], "replica@example.com");
    }

    // The login throttle is shared: five failures spread over the replicas block the sixth.
    let wrong = json!({"email": "replica@example.com", "password": "wrong-password"});
    for attempt in 0..5 {
        let replica = &replicas[attempt % 3];
        let (status, body) = call(
            &client,
            reqwest::Method::POST,
            replica.url("/auth/login"),
            None,
            Some(wrong.clone()),
        )
        .await;
        assert_eq!(status, 401, "attempt {attempt}: {body}");
    }
    for replica in &replicas {
        let (status, _) = call(
            &client,
            reqwest::Method::POST,
            replica.url("/auth/login"),
            None,
            Some(credentials.clone()),
        )
        .await;
        assert_eq!(status, 429, "every replica sees the shared budget");
    }

    // A phone code asked for through one replica signs in through another; the number's limits
    // are shared, and the code is written in no replica's log.
    let phone = json!({"phone": "+84901234567"});
    let (status, body) = call(
        &client,
        reqwest::Method::POST,
        replicas[0].url("/auth/phone/otp"),
        None,
        Some(phone.clone()),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let (status, _) = call(
        &client,
        reqwest::Method::POST,
        replicas[1].url("/auth/phone/otp"),
        None,
        Some(phone),
    )
    .await;
    assert_eq!(
        status, 429,
        "one code per minute, whichever replica is asked"
    );
    let code = sms.last_code_to("+84901234567").unwrap_or_default();
    let (status, body) = call(
        &client,
        reqwest::Method::POST,
        replicas[2].url("/auth/phone/verify"),
        None,
        Some(json!({"phone": "+84901234567", "code": code})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    for replica in &replicas {
        let log = replica.log();
        let logged = log
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|token| token == code);
        assert!(!logged, "the code is in a replica's log:\n{log}");
    }

    // A Google sign-in started through one replica comes back through another (the balancer
    // may send it anywhere) and is exchanged through the third; its state works once.
    let browser = crate::oauth::browser();
    let redirect: String =
        url::form_urlencoded::byte_serialize(provider.app_url().as_bytes()).collect();
    let start = replicas[0].url(&format!("/auth/oauth/google/start?redirect_uri={redirect}"));
    let (status, authorization) = crate::oauth::visit(&browser, &start).await;
    assert_eq!(status, 302, "{}", replicas[0].log());
    let (_, callback) = crate::oauth::visit(&browser, &authorization.unwrap_or_default()).await;
    let callback = callback.unwrap_or_default();
    let path = callback
        .strip_prefix(BALANCER)
        .unwrap_or_else(|| panic!("the callback is the balancer's: {callback}"))
        .to_owned();
    let (status, back) = crate::oauth::visit(&browser, &replicas[1].url(&path)).await;
    assert_eq!(status, 302, "{}", replicas[1].log());
    let back = url::Url::parse(&back.unwrap_or_default()).unwrap_or_else(|error| panic!("{error}"));
    let login_code = crate::oauth::param(&back, "login_code").unwrap_or_else(|| panic!("{back}"));
    let (status, _) = crate::oauth::visit(&browser, &replicas[2].url(&path)).await;
    assert_eq!(
        status, 400,
        "a state works once, whichever replica sees it again"
    );
    let (status, body) = call(
        &client,
        reqwest::Method::POST,
        replicas[2].url("/auth/oauth/exchange"),
        None,
        Some(json!({"login_code": login_code})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["user"]["auth_provider"], "google");
    for replica in &replicas {
        assert!(
            !replica.log().contains(&login_code),
            "the login code is in a replica's log"
        );
    }

    // A user deleted through one replica is refused by the others at once.
    let user_id = body_id(&client, &replicas[0], &token).await;
    let (status, body) = call(
        &client,
        reqwest::Method::DELETE,
        replicas[2].url(&format!("/users/{user_id}")),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 204, "{body}");
    for replica in &replicas {
        let (status, _) = call(
            &client,
            reqwest::Method::GET,
            replica.url("/auth/me"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(status, 401, "a deleted user's token is refused everywhere");
    }
}

async fn body_id(client: &reqwest::Client, replica: &Replica, token: &str) -> String {
    let (status, body) = call(
        client,
        reqwest::Method::GET,
        replica.url("/auth/me"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["id"].as_str().unwrap_or_default().to_owned()
}
