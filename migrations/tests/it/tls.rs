//! TLS to PostgreSQL, against this machine's server (Debian's cluster runs with `ssl = on` and
//! its own self-signed "snakeoil" certificate): what each `DATABASE_SSLMODE` gives, how a failed
//! verification reads, and that the driver's `PG*` variables change nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use shared::DatabaseConfig;
use test_support::{ScratchDir, TestDatabase};

use crate::cli::{migration, text};

/// The test database reached through its `DATABASE_URL`, with `extra` variables on top, as the
/// service, the CLI and the seed would read them.
fn config_with(database: &TestDatabase, extra: &[(&str, &str)]) -> DatabaseConfig {
    let url = database_url(database);
    let mut env: HashMap<&str, &str> = extra.iter().copied().collect();
    env.insert("DATABASE_URL", &url);
    DatabaseConfig::from_env(&env).unwrap_or_else(|error| panic!("{error}"))
}

fn database_url(database: &TestDatabase) -> String {
    database
        .env_vars()
        .into_iter()
        .find(|(name, _)| name == "DATABASE_URL")
        .map(|(_, url)| url)
        .unwrap_or_else(|| panic!("a PostgreSQL test database has a DATABASE_URL"))
}

async fn scalar_text(database: &TestDatabase, sql: &str) -> String {
    database
        .db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .unwrap_or_else(|| panic!("{sql}: no row"))
        .try_get_by_index::<String>(0)
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
}

/// Whether the session `shared::connect` opens with `config` is encrypted, from the server's
/// side (`pg_stat_ssl`), or the error of opening it.
async fn session_is_encrypted(config: &DatabaseConfig) -> Result<bool, DbErr> {
    let db = shared::connect(config).await?;
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()".to_owned(),
        ))
        .await;
    db.close().await.ok();
    let row = row?.unwrap_or_else(|| panic!("pg_stat_ssl has no row for this session"));
    Ok(row
        .try_get_by_index::<bool>(0)
        .unwrap_or_else(|error| panic!("pg_stat_ssl.ssl: {error}")))
}

/// A test that cannot run here says so loudly and passes, except under `CI=true`, where a
/// missing precondition is a failure (CI's PostgreSQL is Debian's, with `ssl = on`).
fn skip(reason: &str) {
    let message = format!("{reason}: this TLS test was SKIPPED");
    if std::env::var("CI").is_ok_and(|value| value == "true") {
        panic!("{message}; under CI=true that is a failure");
    }
    eprintln!("\n!!!!! {message} !!!!!\n");
}

/// Whether the server has TLS on (`SHOW ssl`); skips (loudly) when it has not.
async fn server_has_ssl(database: &TestDatabase) -> bool {
    if scalar_text(database, "SHOW ssl").await == "on" {
        return true;
    }
    skip("the PostgreSQL server runs with ssl = off");
    false
}

/// The server's own certificate file (`SHOW ssl_cert_file`), when this process can read it and
/// it is self-signed (so it can serve as its own root); else skips, loudly.
async fn server_certificate(database: &TestDatabase) -> Option<PathBuf> {
    let file = scalar_text(database, "SHOW ssl_cert_file").await;
    let path = if Path::new(&file).is_absolute() {
        PathBuf::from(&file)
    } else {
        Path::new(&scalar_text(database, "SHOW data_directory").await).join(&file)
    };
    if let Err(error) = std::fs::read(&path) {
        skip(&format!(
            "the server's certificate {} cannot be read ({error})",
            path.display()
        ));
        return None;
    }
    let names = openssl(&[
        "x509", "-noout", "-subject", "-issuer", "-nameopt", "compat",
    ])
    .arg("-in")
    .arg(&path)
    .output()
    .unwrap_or_else(|error| panic!("run openssl: {error}"));
    let names = String::from_utf8_lossy(&names.stdout).into_owned();
    let subject = names.lines().find_map(|line| line.strip_prefix("subject="));
    let issuer = names.lines().find_map(|line| line.strip_prefix("issuer="));
    if subject.is_none() || subject != issuer {
        skip(&format!(
            "the server's certificate {} is not self-signed ({names})",
            path.display()
        ));
        return None;
    }
    Some(path)
}

fn openssl(args: &[&str]) -> Command {
    let mut command = Command::new("openssl");
    command.args(args);
    command
}

/// A throwaway CA certificate that signed nothing, in `dir`.
fn unrelated_ca(dir: &Path) -> PathBuf {
    let ca = dir.join("unrelated-ca.pem");
    let output = openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=chatai test CA that signed nothing",
    ])
    .arg("-keyout")
    .arg(dir.join("unrelated-ca.key"))
    .arg("-out")
    .arg(&ca)
    .output()
    .unwrap_or_else(|error| panic!("run openssl (is it installed?): {error}"));
    assert!(
        output.status.success(),
        "openssl req: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    ca
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_gives_an_encrypted_session() {
    let database = test_support::postgres_or_skip!();
    if !server_has_ssl(&database).await {
        return;
    }
    let config = config_with(&database, &[("DATABASE_SSLMODE", "require")]);
    assert!(config.describe().ends_with("(sslmode=require)"));
    let encrypted = session_is_encrypted(&config)
        .await
        .unwrap_or_else(|error| panic!("{}", config.explain_error(&error)));
    assert!(encrypted, "sslmode=require gave an unencrypted session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_gives_an_unencrypted_session() {
    let database = test_support::postgres_or_skip!();
    if !server_has_ssl(&database).await {
        return;
    }
    let config = config_with(&database, &[("DATABASE_SSLMODE", "disable")]);
    let encrypted = session_is_encrypted(&config)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(!encrypted, "sslmode=disable gave an encrypted session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_with_a_ca_that_did_not_sign_the_server_certificate_fails_naming_the_variables()
{
    let database = test_support::postgres_or_skip!();
    if !server_has_ssl(&database).await {
        return;
    }
    let scratch = ScratchDir::new();
    let ca = unrelated_ca(&scratch.0);
    let ca = ca.display().to_string();
    let config = config_with(
        &database,
        &[
            ("DATABASE_SSLMODE", "verify-full"),
            ("DATABASE_SSLROOTCERT", &ca),
        ],
    );
    let error = session_is_encrypted(&config)
        .await
        .expect_err("verify-full accepted a certificate its root did not sign");
    let message = config.explain_error(&error);
    assert!(message.contains("UnknownIssuer"), "{message}");
    assert!(
        message.ends_with(&format!(
            "; TLS settings: DATABASE_SSLMODE=verify-full, DATABASE_SSLROOTCERT={ca}"
        )),
        "{message}"
    );

    // The same failure as an operator sees it from the CLI.
    let output = migration(
        &scratch,
        &["up"],
        &[
            ("DATABASE_URL", &database_url(&database)),
            ("DATABASE_SSLMODE", "verify-full"),
            ("DATABASE_SSLROOTCERT", &ca),
        ],
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("invalid peer certificate: UnknownIssuer"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "TLS settings: DATABASE_SSLMODE=verify-full, DATABASE_SSLROOTCERT={ca}"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_ca_with_the_server_certificate_as_root_gives_an_encrypted_session() {
    let database = test_support::postgres_or_skip!();
    if !server_has_ssl(&database).await {
        return;
    }
    let Some(certificate) = server_certificate(&database).await else {
        return;
    };
    let certificate = certificate.display().to_string();
    let config = config_with(
        &database,
        &[
            ("DATABASE_SSLMODE", "verify-ca"),
            ("DATABASE_SSLROOTCERT", &certificate),
        ],
    );
    let encrypted = session_is_encrypted(&config)
        .await
        .unwrap_or_else(|error| panic!("{}", config.explain_error(&error)));
    assert!(encrypted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_by_ip_address_fails_for_the_name_the_server_certificate_is_issued_for() {
    let database = test_support::postgres_or_skip!();
    if !server_has_ssl(&database).await {
        return;
    }
    let Some(certificate) = server_certificate(&database).await else {
        return;
    };
    let certificate = certificate.display().to_string();
    let config = config_with(
        &database,
        &[
            ("DATABASE_SSLMODE", "verify-full"),
            ("DATABASE_SSLROOTCERT", &certificate),
        ],
    );
    let host = config
        .postgres_options()
        .map(|options| options.get_host().to_owned())
        .unwrap_or_default();
    if host.parse::<std::net::IpAddr>().is_err() {
        skip(&format!(
            "the test server is reached by the name {host:?}, not by an IP address"
        ));
        return;
    }
    let error = session_is_encrypted(&config)
        .await
        .expect_err("verify-full accepted a certificate issued for another name");
    let message = config.explain_error(&error);
    assert!(
        message.contains(&format!("certificate not valid for name \"{host}\"")),
        "{message}"
    );
    assert!(
        message.contains("TLS settings: DATABASE_SSLMODE=verify-full"),
        "{message}"
    );
}

/// The driver's variables, each set to something that would break the connection (or, for
/// `PGSSLMODE`, demand a verification this server's certificate cannot pass).
const HOSTILE_PG_VARIABLES: [(&str, &str); 10] = [
    ("PGHOST", "bogus.invalid"),
    ("PGHOSTADDR", "192.0.2.1"),
    ("PGPORT", "1"),
    ("PGUSER", "nobody"),
    ("PGPASSWORD", "wrong"),
    ("PGDATABASE", "nowhere"),
    ("PGSSLMODE", "verify-full"),
    ("PGSSLROOTCERT", "/nonexistent/root.crt"),
    ("PGAPPNAME", "intruder"),
    ("PGPASSFILE", "/nonexistent/pgpass"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_variables_of_the_driver_do_not_change_the_connection() {
    let database = test_support::postgres_or_skip!();
    let url = database_url(&database);
    let options = database
        .config
        .postgres_options()
        .unwrap_or_else(|| panic!("a PostgreSQL test database"))
        .clone();
    let port = options.get_port().to_string();
    // The password is not readable back from the options: take it from the URL's user info.
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(user_info, _)| user_info.split_once(':'))
        .map(|(_, password)| password.to_owned())
        .unwrap_or_default();
    let by_parts = [
        ("DATABASE_HOST", options.get_host()),
        ("DATABASE_PORT", port.as_str()),
        ("DATABASE_USER", options.get_username()),
        ("DATABASE_PASSWORD", password.as_str()),
        ("DATABASE_NAME", options.get_database().unwrap_or_default()),
    ];
    let mut settings: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("DATABASE_URL", vec![("DATABASE_URL", url.as_str())]),
        ("DATABASE_HOST/PORT/USER/PASSWORD/NAME", by_parts.to_vec()),
    ];
    // A URL that leaves the port out must mean 5432, not PGPORT.
    let without_port = url.replace(":5432/", "/");
    if without_port != url {
        settings.push((
            "DATABASE_URL without a port",
            vec![("DATABASE_URL", without_port.as_str())],
        ));
    }
    let scratch = ScratchDir::new();
    for (label, database_settings) in settings {
        let mut env = database_settings;
        env.extend(HOSTILE_PG_VARIABLES);
        let output = migration(&scratch, &["status"], &env);
        let stderr = text(&output.stderr);
        assert!(output.status.success(), "{label}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "database: PostgreSQL {}@{}:{}/{} (sslmode=prefer)",
                options.get_username(),
                options.get_host(),
                options.get_port(),
                options.get_database().unwrap_or_default()
            )),
            "{label}: {stderr}"
        );
    }
}

#[test]
fn driver_variables_no_option_can_undo_and_bad_tls_values_exit_2_naming_the_variable() {
    let scratch = ScratchDir::new();
    let url = ("DATABASE_URL", "postgres://app:s3cret-pw@127.0.0.1:1/app");
    for (name, value) in [
        ("PGOPTIONS", "-c search_path=elsewhere"),
        ("PGSSLCERT", "/home/me/.postgresql/postgresql.crt"),
        ("PGSSLKEY", "/home/me/.postgresql/postgresql.key"),
        ("DATABASE_SSLMODE", "bogus"),
        ("DATABASE_SSLROOTCERT", "/nonexistent/root.crt"),
    ] {
        let output = migration(
            &scratch,
            &["up"],
            &[url, ("DATABASE_SSLMODE", "verify-full"), (name, value)],
        );
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}={value}: {stderr}");
        assert!(
            stderr.contains(&format!("{name}: ")),
            "{name} not named in: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!stderr.contains("s3cret-pw"), "{stderr}");
    }
}
