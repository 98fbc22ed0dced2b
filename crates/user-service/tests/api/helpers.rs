//! Spawning the real application in-process.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sea_orm::DatabaseConnection;
use test_support::TestDatabase;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use user_service::{Application, Settings, StartupError};

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: DatabaseConnection,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Result<(), StartupError>>>,
}

impl TestApp {
    /// Starts the app against `database`, with `overrides` on top of test defaults.
    pub async fn spawn(database: &TestDatabase, overrides: &[(&str, &str)]) -> Self {
        let mut env: Vec<(String, String)> = database.env_vars();
        env.extend(
            overrides
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Self::spawn_with_env(env).await
    }

    pub async fn spawn_with_env(env: Vec<(String, String)>) -> Self {
        let mut map: HashMap<&str, &str> = HashMap::from([
            ("USER_SERVICE_HOST", "127.0.0.1"),
            ("USER_SERVICE_PORT", "0"),
            ("MIGRATE_ON_START", "true"),
            ("HEALTH_PROBE_INTERVAL_MS", "200"),
            ("HEALTH_DB_TIMEOUT_MS", "1000"),
            ("DATABASE_CONNECT_TIMEOUT_MS", "1000"),
        ]);
        for (name, value) in &env {
            map.insert(name, value);
        }
        let settings = Settings::from_env(&map).unwrap_or_else(|error| panic!("settings: {error}"));
        let app = Application::build(settings)
            .await
            .unwrap_or_else(|error| panic!("build: {error}"));
        let address = format!("http://127.0.0.1:{}", app.port());
        let db = app.database();
        let (shutdown, stop) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async move {
            let _ = stop.await;
        }));
        Self {
            address,
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .unwrap_or_else(|error| panic!("client: {error}")),
            db,
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET {path}: {error}"))
    }

    /// Polls `GET /health` until the last known database state is `want`.
    pub async fn wait_for_database(&self, want: &str, within: Duration) {
        let start = Instant::now();
        loop {
            let body: serde_json::Value = self
                .get("/health")
                .await
                .json()
                .await
                .unwrap_or_else(|error| panic!("/health body: {error}"));
            if body["database"]["status"] == want {
                return;
            }
            assert!(
                start.elapsed() < within,
                "database never became {want}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Signals shutdown and waits for the server to stop.
    pub async fn stop(mut self) -> Result<(), StartupError> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.server.take() {
            Some(server) => server
                .await
                .unwrap_or_else(|error| panic!("server task: {error}")),
            None => Ok(()),
        }
    }

    pub fn trigger_shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
