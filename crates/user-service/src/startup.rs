//! Building and running the application: connect (lazily), migrate when asked, bind, serve,
//! and stop gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use std::convert::Infallible;

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use sea_orm::{DatabaseConnection, DbErr};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower::make::Shared;
use tower::{Service, ServiceBuilder};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::auth::{Passwords, Tokens};
use crate::config::{HttpSettings, Settings};
use crate::cors::CorsForOriginsLayer;
use crate::database_health::{DatabaseHealth, spawn_probe};
use crate::http;
use crate::request_trace::{REQUEST_ID, RequestTraceLayer};
use crate::state::{AppContext, AppState};

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
    #[error("cannot prepare password hashing: {0}")]
    Passwords(#[from] shared::password::HashError),
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
}

/// A built application: bound to its port, not yet serving.
pub struct Application {
    listener: TcpListener,
    port: u16,
    router: Router,
    http: HttpSettings,
    db: DatabaseConnection,
    probe: JoinHandle<()>,
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
            passwords: Passwords::new(&settings.auth)?,
            registration: settings.auth.registration,
        });
        let router = http::router(state);

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
            probe,
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
        let server =
            axum::serve(self.listener, Shared::new(service)).with_graceful_shutdown(async move {
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
        self.probe.abort();
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
