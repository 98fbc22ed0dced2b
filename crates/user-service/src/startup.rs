//! Building and running the application: connect (lazily), migrate when asked, bind, serve,
//! and stop gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use std::convert::Infallible;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::serve::IncomingStream;
use sea_orm::{DatabaseConnection, DbErr};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower::{Service, ServiceBuilder};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::auth::{Passwords, Tokens};
use crate::config::{HttpSettings, Settings};
use crate::cors::CorsForOriginsLayer;
use crate::database_health::{DatabaseHealth, spawn_probe};
use crate::domain::users::{self, Email};
use crate::http;
use crate::request_trace::{REQUEST_ID, RequestTraceLayer};
use crate::state::{AppContext, AppState};
use crate::throttle::LoginThrottle;
use secrecy::ExposeSecret;
use shared::env::AppEnv;

/// Why the service could not start. Each message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database ({database}): {source}")]
    Database { database: String, source: DbErr },
    #[error("cannot apply migrations to {database}: {source}")]
    Migration { database: String, source: DbErr },
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot load the seed data: {0}")]
    Seed(#[from] seeds::SeedError),
    #[error(
        "APP_ENV=production: the seeded account {account} still accepts its published development password; change it (PATCH /users/:id or SEED_* and a fresh seed) before starting in production"
    )]
    PublishedPassword { account: String },
    #[error("REDIS_URL cannot be used: {0}")]
    Redis(String),
    #[error("cannot prepare password hashing: {0}")]
    Passwords(#[from] shared::password::HashError),
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
}

impl StartupError {
    /// A refusal that only a configuration change can fix (exit code 2, like a bad variable).
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            Self::PublishedPassword { .. }
                | Self::Redis(_)
                | Self::Seed(seeds::SeedError::DevelopmentPasswordsRefused { .. })
        )
    }
}

/// A built application: bound to its port, not yet serving.
pub struct Application {
    listener: TcpListener,
    port: u16,
    router: Router,
    http: HttpSettings,
    db: DatabaseConnection,
    /// The database probe and the Redis check, stopped at shutdown.
    background: Vec<JoinHandle<()>>,
}

impl Application {
    /// Connects to the database (PostgreSQL lazily: a database that is down does not stop the
    /// service from starting), applies migrations when configured to, and binds the port.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let database = settings.database.describe();
        tracing::info!(%database, env = settings.app_env.as_str(), "starting user-service");
        let db = shared::connect(&settings.database)
            .await
            .map_err(|source| StartupError::Database {
                database: database.clone(),
                source,
            })?;
        if settings.migrate_on_start {
            migration::up(&db, &settings.database)
                .await
                .map_err(|source| StartupError::Migration {
                    database: database.clone(),
                    source,
                })?;
            tracing::info!("migrations are up to date");
        }

        if settings.seed_on_start {
            seed(&db, &settings).await?;
        }
        let passwords = Passwords::new(&settings.auth)?;
        let published = if settings.app_env == AppEnv::Production {
            seeds::development_credentials()?
        } else {
            Vec::new()
        };
        refuse_published_passwords(&db, &passwords, &published).await?;

        let throttle = LoginThrottle::new(
            settings.throttle,
            settings.redis.url.as_ref().map(|url| url.expose_secret()),
            settings.redis.key_prefix.clone(),
        )
        .map_err(|error| StartupError::Redis(error.to_string()))?;

        let database_health = Arc::new(DatabaseHealth::default());
        let (database_probe, probe) = spawn_probe(
            db.clone(),
            database_health.clone(),
            settings.health.probe_interval,
            settings.health.db_timeout,
        );
        let state = AppState::new(AppContext {
            db: db.clone(),
            backend: settings.database.backend(),
            database_health,
            database_probe,
            tokens: Tokens::new(&settings.auth),
            passwords,
            published,
            registration: settings.auth.registration,
            throttle,
            trusted_proxies: settings.http.trusted_proxies.clone(),
        });
        let redis_check = spawn_redis_check(state.clone(), settings.health.probe_interval);
        let router = http::router(state.clone());

        let address = SocketAddr::new(settings.http.host, settings.http.port);
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| StartupError::Bind { address, source })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { address, source })?
            .port();
        Ok(Self {
            listener,
            port,
            router,
            http: settings.http,
            db,
            background: vec![probe, redis_check],
        })
    }

    /// The service's pool (tests and future background jobs share it).
    pub fn database(&self) -> DatabaseConnection {
        self.db.clone()
    }

    /// The bound port (the real one when the configuration asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight requests finish
    /// (for at most the shutdown timeout) and closes the pool.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        tracing::info!("User Service running on http://localhost:{}", self.port);
        let (stopping_tx, mut stopping_rx) = tokio::sync::watch::channel(false);
        let service = with_middleware(self.router, &self.http);
        // Each connection's service knows its peer address (`ConnectInfo`), for the login
        // throttle's per-address budget.
        let make_service = tower::service_fn(move |stream: IncomingStream<'_, TcpListener>| {
            let peer = ConnectInfo(*stream.remote_addr());
            let service = ServiceBuilder::new()
                .map_request(move |mut request: Request| {
                    request.extensions_mut().insert(peer);
                    request
                })
                .service(service.clone());
            std::future::ready(Ok::<_, Infallible>(service))
        });
        let server = axum::serve(self.listener, make_service).with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections, finishing in-flight requests");
            let _ = stopping_tx.send(true);
        });
        let mut server = tokio::spawn(async move { server.await });
        let grace = self.http.shutdown_timeout;
        let result = tokio::select! {
            joined = &mut server => match joined {
                Ok(served) => served.map_err(StartupError::Serve),
                Err(error) => Err(StartupError::Serve(std::io::Error::other(error))),
            },
            () = async move {
                let _ = stopping_rx.wait_for(|stopping| *stopping).await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(?grace, "in-flight requests did not finish in time; closing them");
                server.abort();
                Ok(())
            }
        };
        for task in &self.background {
            task.abort();
        }
        // Closing waits for checked-out connections; never longer than the grace period.
        match tokio::time::timeout(grace, self.db.close()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "closing the database pool failed"),
            Err(_) => tracing::warn!(?grace, "the database pool did not close in time"),
        }
        tracing::info!("stopped");
        result
    }
}

/// Loads the seed data (idempotent) and says so: on the embedded default this gives the first
/// run accounts to log in with.
async fn seed(db: &DatabaseConnection, settings: &Settings) -> Result<(), StartupError> {
    let records = seeds::run(db, settings.seed_passwords, &shared::env::ProcessEnv).await?;
    let created: Vec<&str> = records
        .iter()
        .filter(|record| record.outcome == seeds::Outcome::Created)
        .map(|record| record.key.as_str())
        .collect();
    if created.is_empty() {
        tracing::info!("seed data already present");
        return Ok(());
    }
    tracing::info!(created = ?created, "seeded the database (SEED_ON_START)");
    for record in &records {
        if let (seeds::Outcome::Created, Some(password)) =
            (record.outcome, &record.development_password)
        {
            tracing::info!(
                "development credentials (never use these outside development): {} / {password}",
                record.key
            );
        }
    }
    Ok(())
}

/// With `APP_ENV=production`, no seeded account may still accept its published password: the
/// service refuses to start (exit 2) naming the account. If the database cannot be reached now,
/// the check is skipped with a warning; logins with a published password are refused anyway.
async fn refuse_published_passwords(
    db: &DatabaseConnection,
    passwords: &Passwords,
    published: &[(String, String)],
) -> Result<(), StartupError> {
    for (email, password) in published {
        let Some(email) = Email::parse(email) else {
            continue;
        };
        let user = match users::find_by_email(db, &email).await {
            Ok(user) => user,
            Err(error) => {
                tracing::warn!(%error, "cannot check the seeded accounts for published passwords now");
                return Ok(());
            }
        };
        let Some(stored) = user.and_then(|user| user.password) else {
            continue;
        };
        if passwords
            .verify(password.clone(), Some(stored))
            .await
            .unwrap_or(false)
        {
            return Err(StartupError::PublishedPassword {
                account: email.as_str().to_owned(),
            });
        }
    }
    Ok(())
}

/// Keeps the Redis state of the login throttle (and of `/health`) current.
fn spawn_redis_check(state: AppState, interval: std::time::Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        if state.throttle.redis_connected().is_none() {
            return;
        }
        let mut ticks = tokio::time::interval(interval);
        loop {
            ticks.tick().await;
            state.throttle.check_redis().await;
        }
    })
}

/// The router inside every layer, outermost first: body limit, request id and tracing, CORS,
/// timeout. The layers wrap the router as a whole, not each route (`Router::layer`), so a
/// request goes through one boxed service instead of two.
fn with_middleware(
    router: Router,
    http: &HttpSettings,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ 'static {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(http.cors_origins.clone()))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::PATCH,
            Method::POST,
            Method::DELETE,
        ])
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([REQUEST_ID])
        // Answers depend on the Origin header only (preflights are never cached by proxies).
        .vary([axum::http::header::ORIGIN]);
    // The body limit goes outermost: its response body is not `Default`, which CORS and the
    // timeout need of the body they wrap, and there it costs no extra boxing of each response.
    ServiceBuilder::new()
        .map_response(http::envelope_bare_errors)
        .layer(RequestBodyLimitLayer::new(http.body_limit_bytes))
        .layer(RequestTraceLayer)
        .layer(CorsForOriginsLayer::new(cors))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            http.request_timeout,
        ))
        .service(router)
}
