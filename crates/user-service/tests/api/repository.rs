//! The files a newcomer copies and runs must agree with the code and with each other:
//! `.env.example` lists exactly the variables the code reads, and `docker-compose.yml` uses
//! `.env.example`'s values as its defaults, with every service healthchecked.

use std::collections::BTreeMap;

fn repository_file(path: &str) -> String {
    let full = format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// `NAME=value` and `# NAME=value` lines of `.env.example`.
fn env_example() -> BTreeMap<String, String> {
    let mut variables = BTreeMap::new();
    for line in repository_file(".env.example").lines() {
        let line = line.trim_start_matches('#').trim();
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            continue;
        }
        let previous = variables.insert(name.to_owned(), value.trim().to_owned());
        assert!(previous.is_none(), ".env.example lists {name} twice");
    }
    variables
}

/// Every variable the service, the migration CLI, the seed and the tests read.
fn variables_the_code_reads() -> Vec<String> {
    let mut names: Vec<String> = user_service::config::all_variables()
        .map(str::to_owned)
        .collect();
    for line in repository_file("seeds/users.toml").lines() {
        if let Some((_, rest)) = line.split_once("env = \"") {
            names.push(rest.split('"').next().unwrap_or_default().to_owned());
        }
    }
    names.push("TEST_DATABASE_URL".to_owned());
    names.push("TEST_LOG".to_owned());
    names.push("TEST_REDIS_URL".to_owned());
    names.sort();
    names.dedup();
    names
}

/// `${NAME:-default}` references in the compose file.
fn compose_defaults() -> Vec<(String, String)> {
    let compose = repository_file("docker-compose.yml");
    let mut found = Vec::new();
    let mut rest = compose.as_str();
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        if let Some((name, default)) = after[..end].split_once(":-") {
            found.push((name.to_owned(), default.to_owned()));
        }
        rest = &after[end..];
    }
    found
}

#[test]
fn env_example_lists_every_variable_the_code_reads_and_no_other_app_variable() {
    let listed = env_example();
    let read = variables_the_code_reads();
    let missing: Vec<_> = read
        .iter()
        .filter(|name| !listed.contains_key(*name))
        .collect();
    assert!(missing.is_empty(), ".env.example does not list {missing:?}");
    let compose_only: Vec<String> = compose_defaults()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let unknown: Vec<_> = listed
        .keys()
        .filter(|name| !read.contains(name) && !compose_only.contains(name))
        .collect();
    assert!(
        unknown.is_empty(),
        ".env.example lists variables nothing reads: {unknown:?}"
    );
}

#[test]
fn env_example_defaults_are_the_code_defaults() {
    let listed = env_example();
    let settings =
        user_service::Settings::from_env(&std::collections::HashMap::<&str, &str>::new())
            .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(listed["USER_SERVICE_PORT"], settings.http.port.to_string());
    assert_eq!(listed["USER_SERVICE_HOST"], settings.http.host.to_string());
    assert_eq!(listed["CORS_ORIGIN"], "http://localhost:3000");
    assert_eq!(listed["DATABASE_HOST"], "localhost");
    assert_eq!(listed["DATABASE_PORT"], "5432");
    assert_eq!(listed["DATABASE_NAME"], "chatai_platform");
    // Copying .env.example to .env must select the compose file's PostgreSQL.
    let map: std::collections::HashMap<&str, &str> = [
        "DATABASE_HOST",
        "DATABASE_PORT",
        "DATABASE_USER",
        "DATABASE_PASSWORD",
        "DATABASE_NAME",
    ]
    .iter()
    .map(|name| (*name, listed[*name].as_str()))
    .collect();
    let config = shared::DatabaseConfig::from_env(&map).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        config.describe(),
        "PostgreSQL postgres@localhost:5432/chatai_platform (sslmode=prefer)"
    );
}

#[test]
fn compose_defaults_match_env_example() {
    let listed = env_example();
    let defaults = compose_defaults();
    assert!(!defaults.is_empty());
    for (name, default) in defaults {
        let Some(value) = listed.get(&name) else {
            panic!("docker-compose.yml uses {name}, .env.example does not list it");
        };
        assert_eq!(
            value, &default,
            "{name}: compose default {default:?}, .env.example {value:?}"
        );
    }
}

#[test]
fn compose_has_the_original_stack_each_with_a_healthcheck() {
    let compose = repository_file("docker-compose.yml");
    let mut services: BTreeMap<String, String> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_services = false;
    for line in compose.lines() {
        if line.starts_with("services:") {
            in_services = true;
            continue;
        }
        if !line.starts_with(' ') && !line.trim().is_empty() && !line.starts_with('#') {
            in_services = false;
            current = None;
        }
        if !in_services {
            continue;
        }
        if let Some(name) = line
            .strip_prefix("  ")
            .filter(|rest| !rest.starts_with(' ') && rest.ends_with(':'))
        {
            current = Some(name.trim_end_matches(':').to_owned());
        } else if let Some(service) = &current {
            services
                .entry(service.clone())
                .or_default()
                .push_str(&format!("{line}\n"));
        }
    }
    for (service, container) in [
        ("postgres", "chatai-postgres"),
        ("redis", "chatai-redis"),
        ("minio", "chatai-minio"),
        ("rabbitmq", "chatai-rabbitmq"),
        ("pgadmin", "chatai-pgadmin"),
        ("user-service", "chatai-user-service"),
    ] {
        let block = services
            .get(service)
            .unwrap_or_else(|| panic!("docker-compose.yml has no {service} service"));
        assert!(
            block.contains(&format!("container_name: {container}")),
            "{service}: {block}"
        );
        assert!(
            block.contains("healthcheck:"),
            "{service} has no healthcheck"
        );
    }
    assert!(
        services["postgres"].contains("postgres:15"),
        "PostgreSQL 15"
    );
    assert!(services["postgres"].contains("${DATABASE_PORT:-5432}:5432"));
    assert!(services["pgadmin"].contains("5050"));
    assert!(services["pgadmin"].contains("profiles:"));
    assert!(services["user-service"].contains("profiles:"));
    assert!(services["user-service"].contains("MIGRATE_ON_START"));
}
