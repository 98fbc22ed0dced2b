//! Building and running the application: connect (lazily), migrate when asked, bind, serve,
//! and stop gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use std::convert::Infallible;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use sea_orm::{DatabaseConnection, DbErr};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tower::{Service, ServiceBuilder};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::auth::oauth::store::OneUse;
use crate::auth::{Auth, OAuth, Passwords, PhoneCodes, Sessions, Throttle, Tokens};
use crate::config::{HttpSettings, Settings, SmsProvider};
use crate::database_health::{DatabaseHealth, spawn_probe};
use crate::domain::Email;
use crate::domain::users::{self, AvatarPolicy};
use crate::http;
use crate::http::cors::CorsForOriginsLayer;
use crate::http::error::{Message, envelope};
use crate::http::request_trace::{REQUEST_ID, RequestTraceLayer};
use crate::http::serve;
use crate::state::{AppContext, AppState};
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
    Passwords(String),
    #[error("cannot prepare the SMS sender: {0}")]
    Sms(String),
    #[error("cannot prepare the OAuth client: {0}")]
    OAuth(String),
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

/// How long closing the pool may take once every request has its answer.
pub const POOL_CLOSE_BOUND: Duration = Duration::from_millis(500);

/// A built application: bound to its port, not yet serving.
pub struct Application {
    listener: TcpListener,
    port: u16,
    router: Router,
    http: HttpSettings,
    /// `HTTP_MAX_CONNECTIONS`, bounded by what the open-file limit allows.
    max_connections: usize,
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
            migration::up_with(&db, &settings.database, settings.migration_lock)
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
        let passwords = Passwords::new(&settings.auth).map_err(StartupError::Passwords)?;
        let published = if settings.app_env == AppEnv::Production {
            seeds::development_credentials()?
        } else {
            Vec::new()
        };
        refuse_published_passwords(&db, &passwords, &published).await?;

        let throttle = Throttle::new(
            settings.redis.url.as_ref().map(|url| url.expose_secret()),
            settings.redis.key_prefix.clone(),
        )
        .map_err(|error| StartupError::Redis(error.to_string()))?;

        let secret = Tokens::secret(&settings.auth);
        let phone = PhoneCodes::new(&settings.phone, &secret)
            .map_err(|error| StartupError::Sms(error.to_string()))?;
        match settings.phone.sms {
            SmsProvider::Off => tracing::warn!(
                "SMS_PROVIDER is not set: phone codes are off (POST /auth/phone/otp answers 503)"
            ),
            SmsProvider::Log => tracing::warn!(
                "SMS_PROVIDER=log: phone sign-in codes are written to this log, not sent (development only)"
            ),
            SmsProvider::Webhook { .. } => {}
        }

        // Bound before the state is built: the OAuth callback's default address needs the port.
        let address = SocketAddr::new(settings.http.host, settings.http.port);
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| StartupError::Bind { address, source })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { address, source })?
            .port();
        let oauth = oauth(&settings, &secret, port)?;

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
            auth: Auth {
                tokens: Tokens::new(&settings.auth, &secret),
                sessions: Sessions::new(settings.auth.sessions),
                passwords,
                throttle,
                limits: settings.throttle,
                phone,
                oauth,
                published,
                registration: settings.auth.registration,
            },
            avatars: AvatarPolicy {
                allow_http: settings.app_env != AppEnv::Production,
            },
            trusted_proxies: settings.http.trusted_proxies.clone(),
        });
        let redis_check = spawn_redis_check(state.clone(), settings.health.probe_interval);
        let session_sweep = spawn_session_sweep(db.clone());
        let router = http::router(state.clone());

        let max_connections = serve::connection_bound(
            settings.http.max_connections,
            settings.database.pool.max_connections,
        );
        Ok(Self {
            listener,
            port,
            router,
            max_connections,
            http: settings.http,
            db,
            background: vec![probe, redis_check, session_sweep],
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

    /// Serves until `shutdown` completes, then stops within the shutdown timeout, counted once
    /// from the signal: no new connections, in-flight requests finish (those still running at
    /// the deadline are answered 503), then the pool closes within [`POOL_CLOSE_BOUND`] (and
    /// the shutdown timeout).
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        tracing::info!("User Service running on http://localhost:{}", self.port);
        let grace = self.http.shutdown_timeout;
        // The deadline of the whole shutdown, set when the signal arrives.
        let (deadline_tx, mut deadline_rx) = watch::channel(None::<Instant>);
        // Raised at the deadline: every request still running is answered at once.
        let cut = Arc::new(watch::Sender::new(false));
        let cut_all = cut.clone();
        let service = with_middleware(self.router, &self.http);
        // At the deadline every request still running is answered 503 at once.
        let service = ServiceBuilder::new()
            .map_future(move |response| answered_by_the_deadline(response, cut.clone()))
            .service(service);
        let limits = serve::Limits {
            header_read_timeout: self.http.header_read_timeout,
            max_connections: self.max_connections,
        };
        let server = serve::serve(self.listener, service, limits, async move {
            shutdown.await;
            tracing::info!(
                ?grace,
                "shutting down: no new connections, finishing in-flight requests"
            );
            let _ = deadline_tx.send(Some(Instant::now() + grace));
        });
        // Spawned, so the deadline below can stop it. Each connection is a task of its own,
        // which outlives this one; the cut ends the requests they serve, and the process exits
        // when this function returns.
        let mut server = tokio::spawn(server);
        let result = tokio::select! {
            joined = &mut server => joined.map_err(|error| StartupError::Serve(std::io::Error::other(error))),
            () = async {
                match deadline_rx.wait_for(Option::is_some).await.map(|deadline| *deadline) {
                    Ok(Some(deadline)) => tokio::time::sleep_until(deadline).await,
                    // The server ended without a signal: its own outcome is the result.
                    _ => std::future::pending().await,
                }
            } => {
                tracing::warn!(
                    ?grace,
                    "in-flight requests did not finish in time; answering them 503"
                );
                cut_all.send_replace(true);
                server.abort();
                Ok(())
            }
        };
        for task in &self.background {
            task.abort();
        }
        // Every request has its answer now. Closing the pool waits for every checked-out
        // connection, and one stuck in a round trip with a hung database (the background probe's)
        // never comes back: the pool gets a short bound, within what is left of the shutdown
        // timeout, and the process exits when it passes.
        let deadline = deadline_rx
            .borrow()
            .unwrap_or_else(|| Instant::now() + grace)
            .min(Instant::now() + POOL_CLOSE_BOUND);
        match tokio::time::timeout_at(deadline, self.db.close()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "closing the database pool failed"),
            Err(_) => tracing::warn!(
                bound = ?POOL_CLOSE_BOUND,
                "the database pool did not close in time (a connection is stuck); leaving it"
            ),
        }
        tracing::info!("stopped");
        result
    }
}

/// The response of `request`, or, once `cut` is raised (the shutdown deadline), a 503 at once.
async fn answered_by_the_deadline<F>(
    request: F,
    cut: Arc<watch::Sender<bool>>,
) -> Result<Response, Infallible>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    let mut request = std::pin::pin!(request);
    // Most answers are ready at their first poll (`/health` always is): those never watch for
    // the cut. Watching takes a lock or two, several times what this first poll costs, so only
    // requests that wait on something pay for it.
    let first = std::future::poll_fn(|context| {
        Poll::Ready(match request.as_mut().poll(context) {
            Poll::Ready(response) => Some(response),
            Poll::Pending => None,
        })
    })
    .await;
    if let Some(response) = first {
        return response;
    }
    let mut cut = cut.subscribe();
    tokio::select! {
        // The cut first: right after it the background tasks stop, and a request waiting on
        // them would fail its own way; a client sees one answer at the deadline, whichever
        // task runs first.
        biased;
        _ = cut.wait_for(|cut| *cut) => Ok(envelope(
            StatusCode::SERVICE_UNAVAILABLE,
            Message::One("The service is shutting down".to_owned()),
        )),
        response = request => response,
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
    // Which accounts log in with a published development password; the passwords themselves
    // stay out of the log (they are in the README's "Seeded credentials").
    let development: Vec<&str> = records
        .iter()
        .filter(|record| record.outcome == seeds::Outcome::Created)
        .filter(|record| record.development_password.is_some())
        .map(|record| record.key.as_str())
        .collect();
    if !development.is_empty() {
        tracing::warn!(
            accounts = ?development,
            "these accounts have the published development passwords (README, \"Seeded credentials\"): development credentials, never use them outside development"
        );
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
/// The OAuth providers, with flows kept in Redis (or this process), calling back to
/// `PUBLIC_BASE_URL` or else this service's own address.
fn oauth(settings: &Settings, secret: &[u8], port: u16) -> Result<OAuth, StartupError> {
    let host = match settings.http.host {
        host if host.is_unspecified() => "localhost".to_owned(),
        std::net::IpAddr::V6(host) => format!("[{host}]"),
        host => host.to_string(),
    };
    let own = url::Url::parse(&format!("http://{host}:{port}"))
        .map_err(|error| StartupError::OAuth(error.to_string()))?;
    let store = OneUse::new(
        settings.redis.url.as_ref().map(|url| url.expose_secret()),
        settings.redis.key_prefix.clone(),
    )
    .map_err(|error| StartupError::Redis(error.to_string()))?;
    OAuth::new(&settings.oauth, own, secret, store)
        .map_err(|error| StartupError::OAuth(error.to_string()))
}

fn spawn_redis_check(state: AppState, interval: std::time::Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        if state.auth.throttle.redis_connected().is_none() {
            return;
        }
        let mut ticks = tokio::time::interval(interval);
        loop {
            ticks.tick().await;
            state.auth.throttle.check_redis().await;
        }
    })
}

/// How often expired sessions are swept away.
const SESSION_SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(600);

/// Removes expired sessions and phone codes every [`SESSION_SWEEP_INTERVAL`], in bounded batches (see
/// `auth::sessions::sweep`); a failed sweep is logged and tried again next time.
fn spawn_session_sweep(db: DatabaseConnection) -> JoinHandle<()> {
    tokio::spawn(async move {
        // The first sweep one interval after start: starting takes the database's attention.
        let mut ticks = tokio::time::interval_at(
            Instant::now() + SESSION_SWEEP_INTERVAL,
            SESSION_SWEEP_INTERVAL,
        );
        loop {
            ticks.tick().await;
            match crate::auth::sessions::sweep(&db).await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "expired sessions swept"),
                Err(error) => tracing::warn!(%error, "sweeping expired sessions failed"),
            }
            match crate::auth::phone::sweep(&db).await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "expired phone codes swept"),
                Err(error) => tracing::warn!(%error, "sweeping expired phone codes failed"),
            }
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
    // The body limit goes outermost: its response body is not `Default`, which CORS and the
    // timeout need of the body they wrap, and there it costs no extra boxing of each response.
    ServiceBuilder::new()
        .map_response(http::finish)
        .layer(RequestBodyLimitLayer::new(http.body_limit_bytes))
        .layer(RequestTraceLayer)
        .layer(CorsForOriginsLayer::new(&http.cors_origins, REQUEST_ID))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            http.request_timeout,
        ))
        .service(router)
}
