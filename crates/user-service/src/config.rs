//! The service's one typed configuration, read once at start from the environment (with `.env`
//! files filling in what the environment does not set) and validated before anything binds.

use std::net::IpAddr;
use std::time::Duration;

use axum::http::HeaderValue;
use ipnet::IpNet;
use migration::LockSettings;
use secrecy::SecretString;
use seeds::DevelopmentPasswords;
use shared::env::{AppEnv, ConfigError, Env, parse_bool, parse_number, parse_or};
use shared::password::HashCost;
use shared::{Backend, DatabaseConfig};

/// Every variable the service reads besides the database ones (`shared::database::vars`).
pub mod vars {
    shared::variables!(
        USER_SERVICE_HOST,
        USER_SERVICE_PORT,
        CORS_ORIGIN,
        APP_ENV,
        RUST_LOG,
        LOG_FORMAT,
        MIGRATE_ON_START,
        HEALTH_DB_TIMEOUT_MS,
        HEALTH_PROBE_INTERVAL_MS,
        REQUEST_TIMEOUT_MS,
        REQUEST_BODY_LIMIT_BYTES,
        HTTP_HEADER_READ_TIMEOUT_MS,
        HTTP_MAX_CONNECTIONS,
        SHUTDOWN_TIMEOUT_MS,
        JWT_SECRET,
        JWT_EXPIRES_IN_SECONDS,
        REFRESH_TOKEN_TTL_SECONDS,
        REFRESH_REUSE_GRACE_SECONDS,
        AUTH_REGISTRATION,
        PASSWORD_HASH_CONCURRENCY,
        LOGIN_MAX_FAILURES,
        LOGIN_MAX_FAILURES_PER_ADDRESS,
        LOGIN_WINDOW_SECONDS,
        REGISTRATION_MAX_PER_ADDRESS,
        REGISTRATION_WINDOW_SECONDS,
        TRUSTED_PROXIES,
        OTP_TTL_SECONDS,
        OTP_MAX_ATTEMPTS,
        OTP_RESEND_SECONDS,
        OTP_MAX_PER_PHONE,
        OTP_MAX_PER_ADDRESS,
        SMS_PROVIDER,
        SMS_WEBHOOK_URL,
        SMS_WEBHOOK_TOKEN,
        SMS_TIMEOUT_MS,
        GOOGLE_CLIENT_ID,
        GOOGLE_CLIENT_SECRET,
        GOOGLE_AUTH_URL,
        GOOGLE_TOKEN_URL,
        GOOGLE_JWKS_URL,
        FACEBOOK_APP_ID,
        FACEBOOK_APP_SECRET,
        FACEBOOK_DIALOG_URL,
        FACEBOOK_GRAPH_URL,
        TIKTOK_CLIENT_KEY,
        TIKTOK_CLIENT_SECRET,
        TIKTOK_AUTH_URL,
        TIKTOK_API_URL,
        OAUTH_REDIRECT_URIS,
        OAUTH_TIMEOUT_MS,
        PUBLIC_BASE_URL,
        REDIS_URL,
        REDIS_KEY_PREFIX,
        SEED_ON_START,
    );
}

/// Every variable the service reads: its own, the database's and the migration lock's.
pub fn all_variables() -> impl Iterator<Item = &'static str> {
    shared::database::vars::ALL
        .iter()
        .chain(migration::vars::ALL)
        .chain(vars::ALL)
        .copied()
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub app_env: AppEnv,
    pub http: HttpSettings,
    pub database: DatabaseConfig,
    /// Apply pending migrations before serving. Defaults to on for the embedded SQLite database
    /// and off for PostgreSQL, where migrations are a deployment step.
    pub migrate_on_start: bool,
    /// How long migrating at start waits for the migration lock (`MIGRATION_LOCK_TIMEOUT_MS`)
    /// before the service gives up and exits, naming who holds it.
    pub migration_lock: LockSettings,
    pub health: HealthSettings,
    pub log: LogSettings,
    pub auth: AuthSettings,
    pub throttle: ThrottleSettings,
    pub phone: PhoneSettings,
    pub oauth: OAuthSettings,
    pub redis: RedisSettings,
    /// Load the seed data at start (idempotent). Defaults to on for the embedded SQLite database
    /// outside production, so the first run has accounts to log in with.
    pub seed_on_start: bool,
    /// Whether the seed may store its published development passwords here.
    pub seed_passwords: DevelopmentPasswords,
}

/// Where state shared by replicas lives. `Debug` never shows the URL (it may hold a password).
#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub url: Option<SecretString>,
    pub key_prefix: String,
}

/// Tokens, registration and password hashing. `Debug` never shows the secret.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// The HS256 key. `None` outside production when `JWT_SECRET` is unset: the service then
    /// makes a random one per process (tokens do not survive a restart) and warns.
    pub jwt_secret: Option<SecretString>,
    /// How long an access token lives (`JWT_EXPIRES_IN_SECONDS`).
    pub token_lifetime: Duration,
    pub sessions: SessionSettings,
    pub registration: Registration,
    /// How many argon2 computations may run at once (each takes 19 MiB and a core).
    pub hash_concurrency: usize,
    /// The cost of new password hashes. Always [`HashCost::Owasp`] from the environment; tests
    /// lower it in code.
    pub hash_cost: HashCost,
}

/// Refresh tokens: how long each lives from its issue, and how long after a rotation the token
/// it replaced may still be presented without ending the session (two tabs refreshing at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSettings {
    pub refresh_lifetime: Duration,
    pub reuse_grace: Duration,
}

/// The longest `*_SECONDS` setting: any positive value a `u32` holds (over a century).
const MAX_SECONDS: u64 = u32::MAX as u64;

/// The throttles' limits: failed logins per email and per address within `window`, and
/// registrations per address within `registration_window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleSettings {
    pub max_per_email: u32,
    pub max_per_address: u32,
    pub window: Duration,
    pub registrations_per_address: u32,
    pub registration_window: Duration,
}

/// Sign-in by phone: the one-time codes, their limits and how they are sent.
#[derive(Debug, Clone)]
pub struct PhoneSettings {
    /// How long a code lives (`OTP_TTL_SECONDS`).
    pub code_lifetime: Duration,
    /// Wrong tries that burn a code (`OTP_MAX_ATTEMPTS`).
    pub max_attempts: u32,
    /// The shortest time between two codes for one number (`OTP_RESEND_SECONDS`).
    pub resend_interval: Duration,
    /// Codes per number per hour (`OTP_MAX_PER_PHONE`).
    pub max_per_phone: u32,
    /// Codes per client address per hour (`OTP_MAX_PER_ADDRESS`).
    pub max_per_address: u32,
    pub sms: SmsProvider,
    /// How long sending a code may take (`SMS_TIMEOUT_MS`).
    pub send_timeout: Duration,
}

/// How codes reach the phone (`SMS_PROVIDER`).
#[derive(Clone)]
pub enum SmsProvider {
    /// Codes are off: code requests answer 503 (production without `SMS_PROVIDER`).
    Off,
    /// Codes are written to the service log (development only).
    Log,
    /// Codes are POSTed to a gateway's webhook with a bearer token.
    Webhook { url: url::Url, token: SecretString },
}

impl std::fmt::Debug for SmsProvider {
    /// Names the gateway's host only: its URL and token may carry credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Off => f.write_str("Off"),
            Self::Log => f.write_str("Log"),
            Self::Webhook { url, .. } => f
                .debug_struct("Webhook")
                .field("host", &url.host_str())
                .finish_non_exhaustive(),
        }
    }
}

/// Sign-in with Google, Facebook and TikTok (AUTH.md, "Google, Facebook, TikTok"). A provider
/// is on when both its credentials are set. `Debug` never shows a client secret.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// The app pages a web sign-in may return to (`OAUTH_REDIRECT_URIS`), matched exactly.
    pub redirect_uris: Vec<String>,
    /// Where providers send the user back (`PUBLIC_BASE_URL`); `None`: this service's own
    /// listening address (outside production only).
    pub public_base_url: Option<url::Url>,
    /// How long one call to a provider may take (`OAUTH_TIMEOUT_MS`).
    pub timeout: Duration,
    pub google: Option<Google>,
    pub facebook: Option<Facebook>,
    pub tiktok: Option<TikTok>,
}

impl OAuthSettings {
    pub fn any_provider(&self) -> bool {
        self.google.is_some() || self.facebook.is_some() || self.tiktok.is_some()
    }
}

/// A provider's client credentials. `Debug` shows the id, never the secret.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub id: String,
    pub secret: SecretString,
}

#[derive(Debug, Clone)]
pub struct Google {
    pub credentials: Credentials,
    pub auth_url: url::Url,
    pub token_url: url::Url,
    pub jwks_url: url::Url,
}

#[derive(Debug, Clone)]
pub struct Facebook {
    pub credentials: Credentials,
    pub dialog_url: url::Url,
    /// The Graph API's versioned root (`.../v19.0`).
    pub graph_url: url::Url,
}

#[derive(Debug, Clone)]
pub struct TikTok {
    pub credentials: Credentials,
    pub auth_url: url::Url,
    /// Login Kit v2's root (`.../v2`).
    pub api_url: url::Url,
}

/// Whether `POST /auth/register` is open to anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    Open,
    Closed,
}

/// The shortest `JWT_SECRET` accepted: 256 bits, the size of an HS256 key.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub host: IpAddr,
    /// 0 picks a free port (tests).
    pub port: u16,
    pub cors_origins: Vec<HeaderValue>,
    pub request_timeout: Duration,
    pub body_limit_bytes: usize,
    /// How long a client may take to send a request's headers (and may keep an idle
    /// connection open).
    pub header_read_timeout: Duration,
    /// The most connections open at once (further bounded by the open-file limit).
    pub max_connections: usize,
    pub shutdown_timeout: Duration,
    /// Peers whose `X-Forwarded-For` is believed (load balancers). Empty: none.
    pub trusted_proxies: Vec<IpNet>,
}

#[derive(Debug, Clone, Copy)]
pub struct HealthSettings {
    /// Bound on the `/health/db` round trip.
    pub db_timeout: Duration,
    /// How often the background probe refreshes the state `/health` reports.
    pub probe_interval: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    pub filter: String,
    pub format: LogFormat,
}

impl Settings {
    /// Reads and checks every variable, in the order below; the first bad one is the error,
    /// naming it.
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let app_env = AppEnv::from_env(env)?;
        let database = DatabaseConfig::from_env(env)?;
        let sqlite = database.backend() == Backend::Sqlite;
        Ok(Self {
            app_env,
            migrate_on_start: parse_bool(env, vars::MIGRATE_ON_START, sqlite)?,
            migration_lock: LockSettings::from_env(env)?,
            http: http_settings(env)?,
            health: HealthSettings {
                db_timeout: millis(env, vars::HEALTH_DB_TIMEOUT_MS, 2_000)?,
                probe_interval: millis(env, vars::HEALTH_PROBE_INTERVAL_MS, 2_000)?,
            },
            log: log_settings(env)?,
            auth: auth_settings(env, app_env)?,
            throttle: throttle_settings(env)?,
            phone: phone_settings(env, app_env)?,
            oauth: oauth_settings(env, app_env)?,
            redis: redis_settings(env)?,
            seed_on_start: parse_bool(
                env,
                vars::SEED_ON_START,
                sqlite && app_env != AppEnv::Production,
            )?,
            seed_passwords: DevelopmentPasswords::for_deployment(env, database.backend())?,
            database,
        })
    }
}

fn http_settings(env: &impl Env) -> Result<HttpSettings, ConfigError> {
    Ok(HttpSettings {
        host: parse_or(
            env,
            vars::USER_SERVICE_HOST,
            IpAddr::from([0, 0, 0, 0]),
            "an IP address such as 0.0.0.0 or 127.0.0.1",
        )?,
        port: parse_number(env, vars::USER_SERVICE_PORT, 4001, 0, 65535)?,
        cors_origins: cors_origins(env)?,
        request_timeout: millis(env, vars::REQUEST_TIMEOUT_MS, 15_000)?,
        body_limit_bytes: parse_number(
            env,
            vars::REQUEST_BODY_LIMIT_BYTES,
            1024 * 1024,
            1,
            1024 * 1024 * 1024,
        )?,
        header_read_timeout: millis(env, vars::HTTP_HEADER_READ_TIMEOUT_MS, 10_000)?,
        max_connections: parse_number(env, vars::HTTP_MAX_CONNECTIONS, 10_000, 1, 1_000_000)?,
        shutdown_timeout: millis(env, vars::SHUTDOWN_TIMEOUT_MS, 10_000)?,
        trusted_proxies: trusted_proxies(env)?,
    })
}

fn log_settings(env: &impl Env) -> Result<LogSettings, ConfigError> {
    let format = match env.get(vars::LOG_FORMAT)?.as_deref().map(str::trim) {
        None => LogFormat::Human,
        Some(raw) if raw.eq_ignore_ascii_case("human") => LogFormat::Human,
        Some(raw) if raw.eq_ignore_ascii_case("json") => LogFormat::Json,
        Some(raw) => {
            return Err(ConfigError::new(
                vars::LOG_FORMAT,
                format!("expected human or json, got {raw:?}"),
            ));
        }
    };
    Ok(LogSettings {
        filter: log_filter(env)?,
        format,
    })
}

fn throttle_settings(env: &impl Env) -> Result<ThrottleSettings, ConfigError> {
    Ok(ThrottleSettings {
        max_per_email: parse_number(env, vars::LOGIN_MAX_FAILURES, 5, 1, 1_000_000)?,
        max_per_address: parse_number(
            env,
            vars::LOGIN_MAX_FAILURES_PER_ADDRESS,
            100,
            1,
            1_000_000,
        )?,
        window: seconds(env, vars::LOGIN_WINDOW_SECONDS, 900)?,
        registrations_per_address: parse_number(
            env,
            vars::REGISTRATION_MAX_PER_ADDRESS,
            20,
            1,
            1_000_000,
        )?,
        registration_window: seconds(env, vars::REGISTRATION_WINDOW_SECONDS, 3600)?,
    })
}

fn phone_settings(env: &impl Env, app_env: AppEnv) -> Result<PhoneSettings, ConfigError> {
    let production = app_env == AppEnv::Production;
    let sms = match env.get(vars::SMS_PROVIDER)?.as_deref().map(str::trim) {
        None if production => SmsProvider::Off,
        None => SmsProvider::Log,
        Some(raw) if raw.eq_ignore_ascii_case("log") && production => {
            return Err(ConfigError::new(
                vars::SMS_PROVIDER,
                "log writes codes to the service log and is refused with APP_ENV=production; use webhook",
            ));
        }
        Some(raw) if raw.eq_ignore_ascii_case("log") => SmsProvider::Log,
        Some(raw) if raw.eq_ignore_ascii_case("webhook") => sms_webhook(env, production)?,
        Some(raw) => {
            return Err(ConfigError::new(
                vars::SMS_PROVIDER,
                format!("expected log or webhook, got {raw:?}"),
            ));
        }
    };
    Ok(PhoneSettings {
        code_lifetime: seconds(env, vars::OTP_TTL_SECONDS, 300)?,
        max_attempts: parse_number(env, vars::OTP_MAX_ATTEMPTS, 5, 1, 1000)?,
        resend_interval: seconds(env, vars::OTP_RESEND_SECONDS, 60)?,
        max_per_phone: parse_number(env, vars::OTP_MAX_PER_PHONE, 5, 1, 1_000_000)?,
        max_per_address: parse_number(env, vars::OTP_MAX_PER_ADDRESS, 20, 1, 1_000_000)?,
        sms,
        send_timeout: millis(env, vars::SMS_TIMEOUT_MS, 5_000)?,
    })
}

/// `SMS_PROVIDER=webhook`: its URL (`https`, or `http` outside production) and bearer token.
fn sms_webhook(env: &impl Env, production: bool) -> Result<SmsProvider, ConfigError> {
    let raw = env.get(vars::SMS_WEBHOOK_URL)?.ok_or_else(|| {
        ConfigError::new(
            vars::SMS_WEBHOOK_URL,
            "is required with SMS_PROVIDER=webhook",
        )
    })?;
    let url = outbound_url(vars::SMS_WEBHOOK_URL, &raw, production)?;
    let token = env
        .get(vars::SMS_WEBHOOK_TOKEN)?
        .filter(|token| !token.trim().is_empty())
        .ok_or_else(|| {
            ConfigError::new(
                vars::SMS_WEBHOOK_TOKEN,
                "is required with SMS_PROVIDER=webhook",
            )
        })?;
    Ok(SmsProvider::Webhook {
        url,
        token: SecretString::from(token),
    })
}

/// An address this service calls: `https`, or plain `http` outside production.
fn outbound_url(var: &'static str, raw: &str, production: bool) -> Result<url::Url, ConfigError> {
    match url::Url::parse(raw.trim()).ok().filter(url::Url::has_host) {
        Some(url) if url.scheme() == "https" => Ok(url),
        Some(url) if url.scheme() == "http" && !production => Ok(url),
        Some(url) if url.scheme() == "http" => Err(ConfigError::new(
            var,
            "must be an https:// URL with APP_ENV=production",
        )),
        _ => Err(ConfigError::new(
            var,
            "expected an https:// URL (the value is not shown: it may hold a credential)",
        )),
    }
}

fn oauth_settings(env: &impl Env, app_env: AppEnv) -> Result<OAuthSettings, ConfigError> {
    let production = app_env == AppEnv::Production;
    let endpoint = |var: &'static str, default: &str| -> Result<url::Url, ConfigError> {
        let raw = env.get(var)?.unwrap_or_else(|| default.to_owned());
        outbound_url(var, &raw, production)
    };
    let google = match credentials(env, vars::GOOGLE_CLIENT_ID, vars::GOOGLE_CLIENT_SECRET)? {
        None => None,
        Some(credentials) => Some(Google {
            credentials,
            auth_url: endpoint(
                vars::GOOGLE_AUTH_URL,
                "https://accounts.google.com/o/oauth2/v2/auth",
            )?,
            token_url: endpoint(
                vars::GOOGLE_TOKEN_URL,
                "https://oauth2.googleapis.com/token",
            )?,
            jwks_url: endpoint(
                vars::GOOGLE_JWKS_URL,
                "https://www.googleapis.com/oauth2/v3/certs",
            )?,
        }),
    };
    let facebook = match credentials(env, vars::FACEBOOK_APP_ID, vars::FACEBOOK_APP_SECRET)? {
        None => None,
        Some(credentials) => Some(Facebook {
            credentials,
            dialog_url: endpoint(
                vars::FACEBOOK_DIALOG_URL,
                "https://www.facebook.com/v19.0/dialog/oauth",
            )?,
            graph_url: endpoint(vars::FACEBOOK_GRAPH_URL, "https://graph.facebook.com/v19.0")?,
        }),
    };
    let tiktok = match credentials(env, vars::TIKTOK_CLIENT_KEY, vars::TIKTOK_CLIENT_SECRET)? {
        None => None,
        Some(credentials) => Some(TikTok {
            credentials,
            auth_url: endpoint(
                vars::TIKTOK_AUTH_URL,
                "https://www.tiktok.com/v2/auth/authorize/",
            )?,
            api_url: endpoint(vars::TIKTOK_API_URL, "https://open.tiktokapis.com/v2")?,
        }),
    };
    let public_base_url = match env.get(vars::PUBLIC_BASE_URL)? {
        Some(raw) => Some(outbound_url(vars::PUBLIC_BASE_URL, &raw, production)?),
        None if production && (google.is_some() || facebook.is_some() || tiktok.is_some()) => {
            return Err(ConfigError::new(
                vars::PUBLIC_BASE_URL,
                "is required with APP_ENV=production when an OAuth provider is configured (the https:// address providers send users back to)",
            ));
        }
        None => None,
    };
    Ok(OAuthSettings {
        redirect_uris: redirect_uris(env)?,
        public_base_url,
        timeout: millis(env, vars::OAUTH_TIMEOUT_MS, 5_000)?,
        google,
        facebook,
        tiktok,
    })
}

/// A provider's id and secret: both or neither.
fn credentials(
    env: &impl Env,
    id_var: &'static str,
    secret_var: &'static str,
) -> Result<Option<Credentials>, ConfigError> {
    let present = |var| -> Result<Option<String>, ConfigError> {
        Ok(env.get(var)?.filter(|value| !value.trim().is_empty()))
    };
    match (present(id_var)?, present(secret_var)?) {
        (None, None) => Ok(None),
        (Some(id), Some(secret)) => Ok(Some(Credentials {
            id: id.trim().to_owned(),
            secret: SecretString::from(secret),
        })),
        (Some(_), None) => Err(ConfigError::new(
            secret_var,
            format!("is required with {id_var}"),
        )),
        (None, Some(_)) => Err(ConfigError::new(
            id_var,
            format!("is required with {secret_var}"),
        )),
    }
}

/// `OAUTH_REDIRECT_URIS`: absolute URLs, comma-separated, without a fragment.
fn redirect_uris(env: &impl Env) -> Result<Vec<String>, ConfigError> {
    let Some(raw) = env.get(vars::OAUTH_REDIRECT_URIS)? else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|uri| !uri.is_empty())
        .map(|uri| match url::Url::parse(uri) {
            Ok(url)
                if url.fragment().is_none()
                    && !matches!(url.scheme(), "javascript" | "data" | "file") =>
            {
                Ok(uri.to_owned())
            }
            _ => Err(ConfigError::new(
                vars::OAUTH_REDIRECT_URIS,
                format!("{uri:?} is not an absolute URL without a fragment"),
            )),
        })
        .collect()
}

fn redis_settings(env: &impl Env) -> Result<RedisSettings, ConfigError> {
    let url = match env.get(vars::REDIS_URL)? {
        None => None,
        Some(url) => {
            redis::Client::open(url.as_str()).map_err(|_| {
                ConfigError::new(
                    vars::REDIS_URL,
                    "expected redis://[user:password@]host[:port][/db] (the value is not shown: it may hold a password)",
                )
            })?;
            Some(SecretString::from(url))
        }
    };
    Ok(RedisSettings {
        url,
        key_prefix: env
            .get(vars::REDIS_KEY_PREFIX)?
            .unwrap_or_else(|| "user-service:".to_owned()),
    })
}

fn auth_settings(env: &impl Env, app_env: AppEnv) -> Result<AuthSettings, ConfigError> {
    let jwt_secret = match env.get(vars::JWT_SECRET)? {
        Some(secret) if secret.len() < MIN_JWT_SECRET_BYTES => {
            return Err(ConfigError::new(
                vars::JWT_SECRET,
                format!(
                    "is {} bytes long; it must be at least {MIN_JWT_SECRET_BYTES} (e.g. openssl rand -base64 48)",
                    secret.len()
                ),
            ));
        }
        Some(secret) => Some(SecretString::from(secret)),
        None if app_env == AppEnv::Production => {
            return Err(ConfigError::new(
                vars::JWT_SECRET,
                format!(
                    "is required with APP_ENV=production (at least {MIN_JWT_SECRET_BYTES} bytes, e.g. openssl rand -base64 48)"
                ),
            ));
        }
        None => None,
    };
    let registration = match env.get(vars::AUTH_REGISTRATION)?.as_deref().map(str::trim) {
        None => Registration::Open,
        Some(raw) if raw.eq_ignore_ascii_case("open") => Registration::Open,
        Some(raw) if raw.eq_ignore_ascii_case("closed") => Registration::Closed,
        Some(raw) => {
            return Err(ConfigError::new(
                vars::AUTH_REGISTRATION,
                format!("expected open or closed, got {raw:?}"),
            ));
        }
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    Ok(AuthSettings {
        jwt_secret,
        token_lifetime: seconds(env, vars::JWT_EXPIRES_IN_SECONDS, 900)?,
        sessions: SessionSettings {
            refresh_lifetime: seconds(env, vars::REFRESH_TOKEN_TTL_SECONDS, 30 * 86_400)?,
            reuse_grace: Duration::from_secs(parse_number(
                env,
                vars::REFRESH_REUSE_GRACE_SECONDS,
                10,
                0,
                MAX_SECONDS,
            )?),
        },
        registration,
        hash_concurrency: parse_number(env, vars::PASSWORD_HASH_CONCURRENCY, cores, 1, 1024)?,
        hash_cost: HashCost::Owasp,
    })
}

fn trusted_proxies(env: &impl Env) -> Result<Vec<IpNet>, ConfigError> {
    let Some(raw) = env.get(vars::TRUSTED_PROXIES)? else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    ConfigError::new(
                        vars::TRUSTED_PROXIES,
                        format!("{item:?} is not an IP address or CIDR range (e.g. 10.0.0.0/8)"),
                    )
                })
        })
        .collect()
}

/// A `*_SECONDS` setting: any positive number of seconds.
fn seconds(env: &impl Env, name: &str, default: u64) -> Result<Duration, ConfigError> {
    parse_number(env, name, default, 1, MAX_SECONDS).map(Duration::from_secs)
}

fn millis(env: &impl Env, name: &str, default: u64) -> Result<Duration, ConfigError> {
    parse_number(env, name, default, 1, 3_600_000).map(Duration::from_millis)
}

fn cors_origins(env: &impl Env) -> Result<Vec<HeaderValue>, ConfigError> {
    let raw = env
        .get(vars::CORS_ORIGIN)?
        .unwrap_or_else(|| "http://localhost:3000".to_owned());
    let mut origins = Vec::new();
    for origin in raw
        .split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
    {
        let problem = |why: &str| {
            ConfigError::new(
                vars::CORS_ORIGIN,
                format!(
                    "{origin:?} is not an origin ({why}); expected e.g. https://app.example.com"
                ),
            )
        };
        if origin == "*" {
            return Err(problem("a wildcard cannot be combined with credentials"));
        }
        let url = url::Url::parse(origin).map_err(|error| problem(&error.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(problem("it needs http:// or https:// and a host"));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(problem("an origin has no path, query or fragment"));
        }
        // Browsers send the serialised origin (lower-case host, no default port): compare that.
        let value = HeaderValue::from_str(&url.origin().ascii_serialization())
            .map_err(|_| problem("it is not a valid header value"))?;
        origins.push(value);
    }
    if origins.is_empty() {
        return Err(ConfigError::new(vars::CORS_ORIGIN, "lists no origin"));
    }
    Ok(origins)
}

fn log_filter(env: &impl Env) -> Result<String, ConfigError> {
    let filter = env
        .get(vars::RUST_LOG)?
        .unwrap_or_else(|| "info,sqlx=warn".to_owned());
    tracing_subscriber::EnvFilter::try_new(&filter)
        .map_err(|error| ConfigError::new(vars::RUST_LOG, format!("{error} in {filter:?}")))?;
    Ok(filter)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn defaults_match_the_original() {
        let settings = Settings::from_env(&HashMap::new()).unwrap();
        assert_eq!(settings.http.port, 4001);
        assert_eq!(settings.http.host.to_string(), "0.0.0.0");
        assert_eq!(settings.http.cors_origins, ["http://localhost:3000"]);
        assert_eq!(settings.database.backend(), Backend::Sqlite);
        assert!(
            settings.migrate_on_start,
            "the embedded default migrates itself"
        );
    }

    #[test]
    fn postgres_does_not_migrate_unless_asked() {
        let env = HashMap::from([("DATABASE_HOST", "localhost")]);
        assert!(!Settings::from_env(&env).unwrap().migrate_on_start);
        let env = HashMap::from([("DATABASE_HOST", "localhost"), ("MIGRATE_ON_START", "true")]);
        assert!(Settings::from_env(&env).unwrap().migrate_on_start);
    }

    #[test]
    fn the_migration_lock_wait_is_read_from_its_variable() {
        let settings = Settings::from_env(&HashMap::new()).unwrap();
        assert_eq!(settings.migration_lock.timeout, Duration::from_secs(60));
        let env = HashMap::from([("MIGRATION_LOCK_TIMEOUT_MS", "250")]);
        let settings = Settings::from_env(&env).unwrap();
        assert_eq!(settings.migration_lock.timeout, Duration::from_millis(250));
        let env = HashMap::from([("MIGRATION_LOCK_TIMEOUT_MS", "0")]);
        let error = Settings::from_env(&env).unwrap_err();
        assert_eq!(error.variable, "MIGRATION_LOCK_TIMEOUT_MS");
    }

    #[test]
    fn production_requires_a_jwt_secret_and_never_echoes_it() {
        let env = HashMap::from([("APP_ENV", "production")]);
        let error = Settings::from_env(&env).unwrap_err();
        assert_eq!(error.variable, "JWT_SECRET");

        let secret = "0123456789abcdef0123456789abcdef-long-enough";
        let env = HashMap::from([("APP_ENV", "production"), ("JWT_SECRET", secret)]);
        let settings = Settings::from_env(&env).unwrap();
        assert!(!format!("{settings:?}").contains(secret));

        let env = HashMap::from([("JWT_SECRET", "short-secret-value")]);
        let error = Settings::from_env(&env).unwrap_err();
        assert!(!error.to_string().contains("short-secret-value"));
    }

    #[test]
    fn phone_code_defaults_are_auth_md_s() {
        let phone = Settings::from_env(&HashMap::new()).unwrap().phone;
        assert_eq!(phone.code_lifetime, Duration::from_secs(300));
        assert_eq!(phone.max_attempts, 5);
        assert_eq!(phone.resend_interval, Duration::from_secs(60));
        assert_eq!((phone.max_per_phone, phone.max_per_address), (5, 20));
        assert_eq!(phone.send_timeout, Duration::from_millis(5000));
    }

    #[test]
    fn sms_codes_in_the_log_are_refused_in_production_and_off_when_unset() {
        let secret = ("JWT_SECRET", "0123456789abcdef0123456789abcdef-long-enough");
        let production = ("APP_ENV", "production");
        let error = Settings::from_env(&HashMap::from([
            secret,
            production,
            ("SMS_PROVIDER", "log"),
        ]))
        .unwrap_err();
        assert_eq!(error.variable, "SMS_PROVIDER");
        let settings = Settings::from_env(&HashMap::from([secret, production])).unwrap();
        assert!(matches!(settings.phone.sms, SmsProvider::Off));
        let settings = Settings::from_env(&HashMap::new()).unwrap();
        assert!(
            matches!(settings.phone.sms, SmsProvider::Log),
            "the development default"
        );
    }

    #[test]
    fn the_sms_webhook_needs_its_url_and_token_and_never_shows_them() {
        let webhook = ("SMS_PROVIDER", "webhook");
        let url = ("SMS_WEBHOOK_URL", "http://user:pw@127.0.0.1:9/sms?key=k3y");
        let token = ("SMS_WEBHOOK_TOKEN", "t0ken-value");
        let error = Settings::from_env(&HashMap::from([webhook, url])).unwrap_err();
        assert_eq!(error.variable, "SMS_WEBHOOK_TOKEN");
        let error = Settings::from_env(&HashMap::from([
            webhook,
            ("SMS_WEBHOOK_URL", "not a url"),
            token,
        ]))
        .unwrap_err();
        assert_eq!(error.variable, "SMS_WEBHOOK_URL");
        assert!(!error.to_string().contains("not a url"));
        let settings = Settings::from_env(&HashMap::from([webhook, url, token])).unwrap();
        let shown = format!("{settings:?}");
        for secret in ["t0ken-value", "pw@", "k3y"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        let production = [
            webhook,
            url,
            token,
            ("APP_ENV", "production"),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef-long-enough"),
        ];
        let error = Settings::from_env(&HashMap::from(production)).unwrap_err();
        assert_eq!(
            error.variable, "SMS_WEBHOOK_URL",
            "plain http in production"
        );
    }

    #[test]
    fn oauth_providers_need_both_credentials_and_https_in_production() {
        let secret = ("JWT_SECRET", "0123456789abcdef0123456789abcdef-long-enough");
        let google = [
            ("GOOGLE_CLIENT_ID", "client.apps.googleusercontent.com"),
            ("GOOGLE_CLIENT_SECRET", "g00gle-secret"),
        ];
        let settings = Settings::from_env(&HashMap::new()).unwrap();
        assert!(!settings.oauth.any_provider(), "off unless configured");
        let error = Settings::from_env(&HashMap::from([google[0]])).unwrap_err();
        assert_eq!(error.variable, "GOOGLE_CLIENT_SECRET");
        let error =
            Settings::from_env(&HashMap::from([("TIKTOK_CLIENT_SECRET", "s")])).unwrap_err();
        assert_eq!(error.variable, "TIKTOK_CLIENT_KEY");

        let settings = Settings::from_env(&HashMap::from(google)).unwrap();
        let google_settings = settings.oauth.google.as_ref().unwrap();
        assert_eq!(
            google_settings.jwks_url.as_str(),
            "https://www.googleapis.com/oauth2/v3/certs"
        );
        assert_eq!(settings.oauth.timeout, Duration::from_millis(5000));
        assert!(!format!("{settings:?}").contains("g00gle-secret"));

        let production = ("APP_ENV", "production");
        let base = ("PUBLIC_BASE_URL", "https://api.example.com");
        let error = Settings::from_env(&HashMap::from([secret, production, google[0], google[1]]))
            .unwrap_err();
        assert_eq!(error.variable, "PUBLIC_BASE_URL");
        let plain = ("GOOGLE_TOKEN_URL", "http://127.0.0.1:9/token");
        let error = Settings::from_env(&HashMap::from([
            secret, production, base, google[0], google[1], plain,
        ]))
        .unwrap_err();
        assert_eq!(
            error.variable, "GOOGLE_TOKEN_URL",
            "plain http in production"
        );
        let plain = [
            ("FACEBOOK_APP_ID", "1"),
            ("FACEBOOK_APP_SECRET", "s"),
            ("FACEBOOK_GRAPH_URL", "http://127.0.0.1:9/v19.0"),
        ];
        let error = Settings::from_env(&HashMap::from([
            secret, production, base, plain[0], plain[1], plain[2],
        ]))
        .unwrap_err();
        assert_eq!(error.variable, "FACEBOOK_GRAPH_URL");
        let settings = Settings::from_env(&HashMap::from([(
            "OAUTH_REDIRECT_URIS",
            "https://app.example.com/done, com.example.app:/oauth",
        )]))
        .unwrap();
        assert_eq!(
            settings.oauth.redirect_uris,
            ["https://app.example.com/done", "com.example.app:/oauth"]
        );
        let error = Settings::from_env(&HashMap::from([(
            "OAUTH_REDIRECT_URIS",
            "https://app.example.com/#x",
        )]))
        .unwrap_err();
        assert_eq!(error.variable, "OAUTH_REDIRECT_URIS");
    }

    #[test]
    fn cors_origin_takes_a_comma_separated_list() {
        let env = HashMap::from([(
            "CORS_ORIGIN",
            "http://a.test, https://B.test:8443, http://c.test:80",
        )]);
        let settings = Settings::from_env(&env).unwrap();
        assert_eq!(
            settings.http.cors_origins,
            ["http://a.test", "https://b.test:8443", "http://c.test"],
            "stored as browsers send them"
        );
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        for (name, value) in [
            ("USER_SERVICE_PORT", "abc"),
            ("USER_SERVICE_PORT", "70000"),
            ("USER_SERVICE_HOST", "not-an-ip"),
            ("APP_ENV", "staging"),
            ("CORS_ORIGIN", "*"),
            ("CORS_ORIGIN", "localhost:3000/path"),
            ("LOG_FORMAT", "xml"),
            ("RUST_LOG", "info,[[["),
            ("MIGRATE_ON_START", "maybe"),
            ("HEALTH_DB_TIMEOUT_MS", "0"),
            ("DATABASE_URL", "mysql://x"),
            ("JWT_SECRET", "too-short"),
            ("JWT_EXPIRES_IN_SECONDS", "0"),
            ("REFRESH_TOKEN_TTL_SECONDS", "-1"),
            ("REFRESH_REUSE_GRACE_SECONDS", "x"),
            ("AUTH_REGISTRATION", "sometimes"),
            ("PASSWORD_HASH_CONCURRENCY", "0"),
            ("LOGIN_MAX_FAILURES", "0"),
            ("LOGIN_WINDOW_SECONDS", "x"),
            ("TRUSTED_PROXIES", "10.0.0.0/33"),
            ("REDIS_URL", "http://cache:6379"),
            ("SEED_ON_START", "sometimes"),
            ("OTP_TTL_SECONDS", "0"),
            ("OTP_MAX_ATTEMPTS", "0"),
            ("OTP_RESEND_SECONDS", "x"),
            ("OTP_MAX_PER_PHONE", "0"),
            ("OTP_MAX_PER_ADDRESS", "-3"),
            ("SMS_PROVIDER", "carrier-pigeon"),
            ("SMS_TIMEOUT_MS", "0"),
        ] {
            let env = HashMap::from([(name, value)]);
            let error = Settings::from_env(&env).unwrap_err();
            assert_eq!(error.variable, name, "{name}={value} gave {error}");
        }
    }
}
