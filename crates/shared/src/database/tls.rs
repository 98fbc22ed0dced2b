//! TLS to PostgreSQL: the mode and root certificate chosen by a URL or by `DATABASE_SSLMODE`
//! and `DATABASE_SSLROOTCERT`, checked when read, and named again when a handshake fails.

use std::path::Path;

use sea_orm::sqlx::postgres::{PgConnectOptions, PgSslMode};

use super::config::{Postgres, in_query};
use super::vars;
use crate::env::{ConfigError, Env};

/// How a failed TLS handshake reads: sqlx's own TLS error (`sqlx::Error::Tls`: no TLS on the
/// server, an unreadable certificate) and rustls's certificate and handshake errors, which sqlx
/// passes on as I/O errors. (Only text survives every path: the migration lock, for one, keeps
/// the message alone.)
const TLS_FAILURES: [&str; 6] = [
    "error occurred while attempting to establish a TLS connection",
    "invalid peer certificate",
    "received fatal alert",
    "peer is incompatible",
    "peer misbehaved",
    "peer sent no certificates",
];

/// The TLS part of [`DatabaseConfig::explain_error`](super::DatabaseConfig::explain_error):
/// `message`, followed, when it reads as a failed TLS handshake, by the settings that chose TLS.
pub(super) fn explain_failure(postgres: &Postgres, message: String) -> String {
    if TLS_FAILURES.iter().any(|failure| message.contains(failure)) {
        format!(
            "{message}; TLS settings: {}, {}",
            postgres.ssl_mode_from, postgres.root_cert_from
        )
    } else {
        message
    }
}

/// The TLS settings of a URL's query (`sslmode`, `sslrootcert` and their other spellings), and
/// how to name them. A URL without a mode means `prefer` and one without a root certificate
/// none of our own, whatever `PGSSLMODE` and `PGSSLROOTCERT` say.
pub(super) fn from_url_query(
    query: &[(String, String)],
    mut options: PgConnectOptions,
) -> Postgres {
    let ssl_mode_from = if in_query(query, &["sslmode", "ssl-mode"]).is_some() {
        format!(
            "sslmode={} in {}",
            ssl_mode_name(options.get_ssl_mode()),
            vars::DATABASE_URL
        )
    } else {
        options = options.ssl_mode(PgSslMode::Prefer);
        format!("{} unset (prefer)", vars::DATABASE_SSLMODE)
    };
    let root_cert_from = match in_query(query, &["sslrootcert", "ssl-root-cert", "ssl-ca"]) {
        Some(path) => format!("sslrootcert={path} in {}", vars::DATABASE_URL),
        None => {
            options = without_root_cert(options);
            format!("{} unset", vars::DATABASE_SSLROOTCERT)
        }
    };
    Postgres {
        options,
        ssl_mode_from,
        root_cert_from,
    }
}

/// `DATABASE_SSLMODE` and `DATABASE_SSLROOTCERT`, on top of what the URL or the parts chose.
/// The mode comes first: whether a root certificate may be given depends on it.
pub(super) fn apply_env(env: &impl Env, postgres: Postgres) -> Result<Postgres, ConfigError> {
    let postgres = apply_ssl_mode(env, postgres)?;
    apply_root_cert(env, postgres)
}

/// `DATABASE_SSLMODE`, when set, replaces the mode and becomes its name in TLS failures.
fn apply_ssl_mode(env: &impl Env, mut postgres: Postgres) -> Result<Postgres, ConfigError> {
    if let Some(raw) = env.get(vars::DATABASE_SSLMODE)? {
        let mode = parse_ssl_mode(&raw).ok_or_else(|| {
            ConfigError::new(
                vars::DATABASE_SSLMODE,
                format!("expected disable, prefer, require, verify-ca or verify-full, got {raw:?}"),
            )
        })?;
        postgres.options = postgres.options.ssl_mode(mode);
        postgres.ssl_mode_from = format!("{}={}", vars::DATABASE_SSLMODE, ssl_mode_name(mode));
    }
    Ok(postgres)
}

/// `DATABASE_SSLROOTCERT`, when set: refused under a mode that checks no certificate (it would
/// silently do nothing), and checked to hold a certificate before it is used.
fn apply_root_cert(env: &impl Env, mut postgres: Postgres) -> Result<Postgres, ConfigError> {
    if let Some(path) = env.get(vars::DATABASE_SSLROOTCERT)? {
        let mode = postgres.options.get_ssl_mode();
        if !matches!(mode, PgSslMode::VerifyCa | PgSslMode::VerifyFull) {
            return Err(ConfigError::new(
                vars::DATABASE_SSLROOTCERT,
                format!(
                    "is only used with {}=verify-ca or verify-full, and the mode is {}, which \
                     checks no certificate",
                    vars::DATABASE_SSLMODE,
                    ssl_mode_name(mode)
                ),
            ));
        }
        check_root_cert(Path::new(&path))?;
        postgres.options = postgres.options.ssl_root_cert(&path);
        postgres.root_cert_from = format!("{}={path}", vars::DATABASE_SSLROOTCERT);
    }
    Ok(postgres)
}

/// The file must hold a PEM certificate now, not at the first connection.
fn check_root_cert(path: &Path) -> Result<(), ConfigError> {
    let contents = std::fs::read(path).map_err(|error| {
        ConfigError::new(
            vars::DATABASE_SSLROOTCERT,
            format!("cannot read {} ({error})", path.display()),
        )
    })?;
    if !contents
        .windows(b"-----BEGIN CERTIFICATE-----".len())
        .any(|window| window == b"-----BEGIN CERTIFICATE-----")
    {
        return Err(ConfigError::new(
            vars::DATABASE_SSLROOTCERT,
            format!(
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// No root certificate of our own, whatever `PGSSLROOTCERT` says: an empty list adds nothing to
/// the trusted roots (sqlx has no way to unset the option once it has read the variable).
pub(super) fn without_root_cert(options: PgConnectOptions) -> PgConnectOptions {
    options.ssl_root_cert_from_pem(Vec::new())
}

/// The five modes this configuration offers (sqlx's `allow` is left out: it is `disable`).
fn parse_ssl_mode(raw: &str) -> Option<PgSslMode> {
    match raw.trim() {
        "disable" => Some(PgSslMode::Disable),
        "prefer" => Some(PgSslMode::Prefer),
        "require" => Some(PgSslMode::Require),
        "verify-ca" => Some(PgSslMode::VerifyCa),
        "verify-full" => Some(PgSslMode::VerifyFull),
        _ => None,
    }
}

/// The name of `mode` as `sslmode=` spells it, for descriptions and messages.
pub(super) fn ssl_mode_name(mode: PgSslMode) -> &'static str {
    match mode {
        PgSslMode::Disable => "disable",
        PgSslMode::Allow => "allow",
        PgSslMode::Prefer => "prefer",
        PgSslMode::Require => "require",
        PgSslMode::VerifyCa => "verify-ca",
        PgSslMode::VerifyFull => "verify-full",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::database::DatabaseConfig;

    #[test]
    fn sslmode_applies_to_the_parts_and_on_top_of_a_url() {
        let env = HashMap::from([("DATABASE_HOST", "db"), ("DATABASE_SSLMODE", "require")]);
        let config = DatabaseConfig::from_env(&env).unwrap();
        assert_eq!(
            config.describe(),
            "PostgreSQL postgres@db:5432/chatai_platform (sslmode=require)"
        );

        let env = HashMap::from([
            ("DATABASE_URL", "postgres://app@pg/app?sslmode=verify-full"),
            ("DATABASE_SSLMODE", "disable"),
        ]);
        let config = DatabaseConfig::from_env(&env).unwrap();
        assert_eq!(
            config.describe(),
            "PostgreSQL app@pg:5432/app (sslmode=disable)"
        );
    }

    #[test]
    fn a_url_sslmode_holds_while_database_sslmode_is_unset() {
        let env = HashMap::from([("DATABASE_URL", "postgres://app@pg/app?sslmode=require")]);
        let config = DatabaseConfig::from_env(&env).unwrap();
        assert_eq!(
            config.describe(),
            "PostgreSQL app@pg:5432/app (sslmode=require)"
        );
    }

    #[test]
    fn a_bad_sslmode_names_the_variable() {
        for value in ["bogus", "allow", "REQUIRE!"] {
            let env = HashMap::from([("DATABASE_HOST", "db"), ("DATABASE_SSLMODE", value)]);
            let error = DatabaseConfig::from_env(&env).unwrap_err();
            assert_eq!(error.variable, "DATABASE_SSLMODE", "{value}");
            assert!(
                error.problem.contains("verify-full"),
                "{value}: {}",
                error.problem
            );
        }
    }

    #[test]
    fn a_root_cert_that_cannot_be_used_names_the_variable() {
        let dir = std::env::temp_dir().join(format!("chatai-rootcert-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let not_pem = dir.join("not-a-cert.txt");
        std::fs::write(&not_pem, "hello").unwrap();
        let missing = dir.join("missing.pem");
        for (path, problem) in [
            (missing.display().to_string(), "cannot read"),
            (not_pem.display().to_string(), "holds no PEM certificate"),
        ] {
            let env = HashMap::from([
                ("DATABASE_HOST", "db"),
                ("DATABASE_SSLMODE", "verify-full"),
                ("DATABASE_SSLROOTCERT", path.as_str()),
            ]);
            let error = DatabaseConfig::from_env(&env).unwrap_err();
            assert_eq!(error.variable, "DATABASE_SSLROOTCERT");
            assert!(error.problem.contains(problem), "{error}");
            assert!(error.problem.contains(&path), "{error}");
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_root_cert_without_a_verifying_mode_names_the_variable() {
        for mode in [None, Some("disable"), Some("prefer"), Some("require")] {
            let mut env = HashMap::from([
                ("DATABASE_HOST", "db"),
                ("DATABASE_SSLROOTCERT", "/etc/ssl/certs/ca-certificates.crt"),
            ]);
            if let Some(mode) = mode {
                env.insert("DATABASE_SSLMODE", mode);
            }
            let error = DatabaseConfig::from_env(&env).unwrap_err();
            assert_eq!(error.variable, "DATABASE_SSLROOTCERT", "{mode:?}");
            assert!(
                error.problem.contains("verify-ca or verify-full"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_tls_failure_is_explained_with_the_variables_that_chose_tls() {
        // As sqlx reports a server without TLS, and a certificate rustls refused.
        let no_tls = sea_orm::sqlx::Error::Tls("server does not support TLS".into());
        let tls_failure = sea_orm::sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "invalid peer certificate: UnknownIssuer",
        ));
        let env = HashMap::from([("DATABASE_HOST", "db"), ("DATABASE_SSLMODE", "require")]);
        let config = DatabaseConfig::from_env(&env).unwrap();
        assert_eq!(
            config.explain_error(&no_tls),
            "error occurred while attempting to establish a TLS connection: server does not \
             support TLS; TLS settings: DATABASE_SSLMODE=require, DATABASE_SSLROOTCERT unset"
        );
        assert_eq!(
            config.explain_error(&tls_failure),
            "error communicating with database: invalid peer certificate: UnknownIssuer; TLS \
             settings: DATABASE_SSLMODE=require, DATABASE_SSLROOTCERT unset"
        );
        let config =
            DatabaseConfig::from_url("postgres://pg/db?sslmode=verify-ca&sslrootcert=/ca.pem")
                .unwrap();
        assert!(config.explain_error(&tls_failure).ends_with(
            "TLS settings: sslmode=verify-ca in DATABASE_URL, sslrootcert=/ca.pem in DATABASE_URL"
        ));
        let refused = sea_orm::sqlx::Error::Protocol("connection refused".into());
        assert_eq!(config.explain_error(&refused), refused.to_string());
    }
}
