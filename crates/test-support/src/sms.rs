//! A fake SMS gateway: a real HTTP server on 127.0.0.1 that takes the webhook the service calls
//! (`POST /sms` with a bearer token and `{"to", "code", "message"}`), records every request it
//! was sent, and answers as told: accept (204), fail with a status, or hang (never answer).

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The bearer token the service is configured with, and the fake expects.
pub const TOKEN: &str = "fake-sms-gateway-token";

/// How the gateway answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Accept,
    Fail(u16),
    Hang,
}

/// One request the gateway received.
#[derive(Debug, Clone)]
pub struct Received {
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Value,
}

impl Received {
    pub fn to(&self) -> &str {
        self.body["to"].as_str().unwrap_or_default()
    }

    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }
}

#[derive(Debug)]
struct Gateway {
    mode: Mode,
    received: Vec<Received>,
}

type Shared = Arc<Mutex<Gateway>>;

pub struct FakeSms {
    /// The webhook's URL.
    pub url: String,
    gateway: Shared,
    server: JoinHandle<()>,
}

impl FakeSms {
    /// A gateway that accepts, on a free port.
    pub async fn start() -> Self {
        let gateway: Shared = Arc::new(Mutex::new(Gateway {
            mode: Mode::Accept,
            received: Vec::new(),
        }));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|error| panic!("fake SMS gateway: {error}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|error| panic!("fake SMS gateway: {error}"))
            .port();
        let app = axum::Router::new()
            .route("/sms", post(receive))
            .with_state(gateway.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://127.0.0.1:{port}/sms"),
            gateway,
            server,
        }
    }

    /// The service's settings that send codes here.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SMS_PROVIDER", "webhook".to_owned()),
            ("SMS_WEBHOOK_URL", self.url.clone()),
            ("SMS_WEBHOOK_TOKEN", TOKEN.to_owned()),
        ]
    }

    pub fn set_mode(&self, mode: Mode) {
        lock(&self.gateway).mode = mode;
    }

    /// Every request received, oldest first.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.gateway).received.clone()
    }

    /// The code of the newest request to `phone`.
    pub fn last_code_to(&self, phone: &str) -> Option<String> {
        lock(&self.gateway)
            .received
            .iter()
            .rev()
            .find(|received| received.to() == phone)
            .map(|received| received.code().to_owned())
    }
}

impl Drop for FakeSms {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock(gateway: &Shared) -> MutexGuard<'_, Gateway> {
    gateway
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn receive(
    State(gateway): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let mode = {
        let mut gateway = lock(&gateway);
        gateway.received.push(Received {
            authorization: header("authorization"),
            content_type: header("content-type"),
            body,
        });
        gateway.mode
    };
    match mode {
        Mode::Accept => StatusCode::NO_CONTENT,
        Mode::Fail(status) => {
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        }
        Mode::Hang => std::future::pending().await,
    }
}
