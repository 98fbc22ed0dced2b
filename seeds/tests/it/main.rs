//! The seed against real PostgreSQL and SQLite: exact rows, idempotence, concurrency, hashes,
//! the production guard and the missing-schema error.

use std::collections::HashMap;
use std::process::Command;

use sea_orm::{EntityTrait, QueryOrder};
use seeds::{DevelopmentPasswords, Outcome, SeedError};
use shared::entities::{AgentType, AuthProvider, Sensitive, UserRole, agent, user};
use shared::password;
use test_support::{TestDatabase, on_both_backends};

on_both_backends!(
    one_run_creates_exactly_the_original_rows,
    a_second_run_creates_and_changes_nothing,
    concurrent_runs_leave_exactly_three_users_and_four_agents,
    no_plain_password_is_stored_anywhere,
    production_refuses_development_passwords_then_accepts_passwords_from_the_environment,
    a_missing_schema_says_to_run_the_migrations_first,
);

const DEVELOPMENT_PASSWORDS: [(&str, &str); 3] = [
    ("admin@chatai.com", "Admin@123"),
    ("test@chatai.com", "Test@123"),
    ("demo@chatai.com", "Demo@123"),
];

async fn seed(database: &TestDatabase) -> Vec<seeds::Record> {
    seeds::run(&database.db, DevelopmentPasswords::Allowed, &HashMap::new())
        .await
        .unwrap_or_else(|error| panic!("seed: {error}"))
}

async fn users(database: &TestDatabase) -> Vec<user::Model> {
    user::Entity::find()
        .order_by_asc(user::Column::Email)
        .all(&database.db)
        .await
        .unwrap_or_else(|error| panic!("{error}"))
}

async fn agents(database: &TestDatabase) -> Vec<agent::Model> {
    agent::Entity::find()
        .order_by_asc(agent::Column::Name)
        .all(&database.db)
        .await
        .unwrap_or_else(|error| panic!("{error}"))
}

async fn one_run_creates_exactly_the_original_rows(database: TestDatabase) {
    let database = database.migrate().await;
    let records = seed(&database).await;
    assert_eq!(records.len(), 7);
    assert!(
        records
            .iter()
            .all(|record| record.outcome == Outcome::Created)
    );

    let users = users(&database).await;
    let found: Vec<_> = users
        .iter()
        .map(|user| {
            (
                user.name.as_str(),
                user.email.as_deref().unwrap_or_default(),
                user.phone.as_deref(),
                user.auth_provider,
                user.oauth_id.as_ref().map(Sensitive::expose),
                user.role,
                user.avatar_url.as_deref(),
                user.is_active,
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                "Admin User",
                "admin@chatai.com",
                None,
                AuthProvider::Email,
                None,
                UserRole::Admin,
                None,
                true
            ),
            (
                "Demo User",
                "demo@chatai.com",
                None,
                AuthProvider::Email,
                None,
                UserRole::User,
                None,
                true
            ),
            (
                "Test User",
                "test@chatai.com",
                None,
                AuthProvider::Email,
                None,
                UserRole::User,
                None,
                true
            ),
        ]
    );
    for user in &users {
        assert_eq!(user.id.get_version_num(), 7);
        assert_eq!(user.created_at, user.updated_at);
        let (_, plain) = DEVELOPMENT_PASSWORDS
            .iter()
            .find(|(email, _)| Some(*email) == user.email.as_deref())
            .unwrap_or_else(|| panic!("unexpected user {:?}", user.email));
        let hash = user.password.as_ref().map(Sensitive::expose).unwrap_or("");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            password::verify(plain, hash),
            "{:?}'s hash verifies",
            user.email
        );
    }

    let agents = agents(&database).await;
    let found: Vec<_> = agents
        .iter()
        .map(|agent| {
            (
                agent.name.as_str(),
                agent.description.as_deref(),
                agent.r#type,
                agent.api_endpoint.as_deref(),
                agent.api_key_encrypted.as_ref().map(Sensitive::expose),
                agent.config.clone(),
                agent.model_source.as_deref(),
                agent.training_config.clone(),
                agent.version.as_deref(),
                agent.active,
            )
        })
        .collect();
    use serde_json::json;
    assert_eq!(
        found,
        [
            (
                "Claude 3 Opus",
                Some("Anthropic Claude 3 Opus - Advanced reasoning and analysis"),
                AgentType::External,
                Some("https://api.anthropic.com/v1/messages"),
                None,
                Some(json!({"max_tokens": 4096, "temperature": 0.7})),
                Some("anthropic/claude-3-opus"),
                None,
                None,
                false,
            ),
            (
                "GPT-3.5 Turbo",
                Some("OpenAI GPT-3.5 Turbo - Fast and efficient for most tasks"),
                AgentType::External,
                Some("https://api.openai.com/v1/chat/completions"),
                None,
                Some(
                    json!({"temperature": 0.7, "max_tokens": 2048, "top_p": 1, "frequency_penalty": 0, "presence_penalty": 0})
                ),
                Some("openai/gpt-3.5-turbo"),
                None,
                None,
                true,
            ),
            (
                "GPT-4",
                Some("OpenAI GPT-4 - Most capable AI model for complex tasks"),
                AgentType::External,
                Some("https://api.openai.com/v1/chat/completions"),
                None,
                Some(
                    json!({"temperature": 0.7, "max_tokens": 4096, "top_p": 1, "frequency_penalty": 0, "presence_penalty": 0})
                ),
                Some("openai/gpt-4"),
                None,
                None,
                true,
            ),
            (
                "Gemini Pro",
                Some("Google Gemini Pro - Multimodal AI with strong reasoning"),
                AgentType::External,
                Some("https://generativelanguage.googleapis.com/v1/models"),
                None,
                Some(
                    json!({"temperature": 0.7, "maxOutputTokens": 2048, "topK": 40, "topP": 0.95})
                ),
                Some("google/gemini-pro"),
                None,
                None,
                true,
            ),
        ]
    );
}

async fn a_second_run_creates_and_changes_nothing(database: TestDatabase) {
    let database = database.migrate().await;
    seed(&database).await;
    let (users_before, agents_before) = (users(&database).await, agents(&database).await);
    let records = seed(&database).await;
    assert_eq!(records.len(), 7);
    assert!(
        records
            .iter()
            .all(|record| record.outcome == Outcome::AlreadyExists),
        "{records:?}"
    );
    assert_eq!(
        users(&database).await,
        users_before,
        "ids, hashes and updated_at unchanged"
    );
    assert_eq!(agents(&database).await, agents_before);
}

async fn concurrent_runs_leave_exactly_three_users_and_four_agents(database: TestDatabase) {
    let database = database.migrate().await;
    let mut runs = Vec::new();
    for _ in 0..4 {
        let config = database.config.clone();
        runs.push(tokio::spawn(async move {
            let db = shared::connect(&config).await?;
            seeds::run(&db, DevelopmentPasswords::Allowed, &HashMap::new()).await
        }));
    }
    let mut created = 0;
    for run in runs {
        let records = run
            .await
            .unwrap_or_else(|error| panic!("{error}"))
            .unwrap_or_else(|error| panic!("a concurrent seed failed: {error}"));
        created += records
            .iter()
            .filter(|record| record.outcome == Outcome::Created)
            .count();
    }
    assert_eq!(created, 7, "each record created by exactly one run");
    assert_eq!(database.count("SELECT COUNT(*) FROM users").await, 3);
    assert_eq!(database.count("SELECT COUNT(*) FROM agents").await, 4);
}

async fn no_plain_password_is_stored_anywhere(database: TestDatabase) {
    let database = database.migrate().await;
    seed(&database).await;
    for (_, plain) in DEVELOPMENT_PASSWORDS {
        for (table, columns) in [
            (
                "users",
                "name || email || coalesce(password, '') || coalesce(oauth_id, '')",
            ),
            (
                "agents",
                "name || coalesce(description, '') || coalesce(api_key_encrypted, '')",
            ),
        ] {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE {columns} LIKE '%{plain}%'");
            assert_eq!(database.count(&sql).await, 0, "{plain} found in {table}");
        }
    }
}

async fn production_refuses_development_passwords_then_accepts_passwords_from_the_environment(
    database: TestDatabase,
) {
    let database = database.migrate().await;
    let refused = seeds::run(&database.db, DevelopmentPasswords::Refused, &HashMap::new()).await;
    match refused {
        Err(SeedError::DevelopmentPasswordsRefused { variables }) => {
            assert_eq!(
                variables,
                [
                    "SEED_ADMIN_PASSWORD",
                    "SEED_TEST_PASSWORD",
                    "SEED_DEMO_PASSWORD"
                ]
            );
        }
        other => panic!("expected the production guard, got {other:?}"),
    }
    assert_eq!(
        database.count("SELECT COUNT(*) FROM users").await,
        0,
        "nothing written"
    );

    let env = HashMap::from([
        ("SEED_ADMIN_PASSWORD", "prod-admin-Xy9!"),
        ("SEED_TEST_PASSWORD", "prod-test-Xy9!"),
        ("SEED_DEMO_PASSWORD", "prod-demo-Xy9!"),
    ]);
    let records = seeds::run(&database.db, DevelopmentPasswords::Refused, &env)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(
        records
            .iter()
            .all(|record| record.development_password.is_none())
    );
    let admin = users(&database)
        .await
        .into_iter()
        .find(|user| user.email.as_deref() == Some("admin@chatai.com"))
        .unwrap_or_else(|| panic!("admin created"));
    let hash = admin
        .password
        .map(|hash| hash.expose().to_owned())
        .unwrap_or_default();
    assert!(password::verify("prod-admin-Xy9!", &hash));
    assert!(!password::verify("Admin@123", &hash));
}

async fn a_missing_schema_says_to_run_the_migrations_first(database: TestDatabase) {
    let error = seeds::run(&database.db, DevelopmentPasswords::Allowed, &HashMap::new())
        .await
        .err()
        .unwrap_or_else(|| panic!("seeding an empty database must fail"));
    assert!(matches!(error, SeedError::SchemaMissing));
    assert!(
        error
            .to_string()
            .contains("run the migrations first: cargo run -p migration -- up")
    );
}

#[test]
fn the_binary_reports_a_missing_schema_without_a_panic() {
    let dir = test_support::ScratchDir::new();
    let mut command = Command::new(env!("CARGO_BIN_EXE_seed"));
    command.current_dir(&dir.0);
    for name in shared::database::vars::ALL {
        command.env_remove(name);
    }
    let output = command.output().unwrap_or_else(|error| panic!("{error}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cargo run -p migration -- up"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn on_postgres_with_app_env_unset_the_seed_refuses_naming_the_seed_variables() {
    let database = test_support::postgres_or_skip!().migrate().await;
    let dir = test_support::ScratchDir::new();
    let mut command = Command::new(env!("CARGO_BIN_EXE_seed"));
    command.current_dir(&dir.0);
    for name in shared::database::vars::ALL.iter().chain(
        [
            "APP_ENV",
            "SEED_ADMIN_PASSWORD",
            "SEED_TEST_PASSWORD",
            "SEED_DEMO_PASSWORD",
        ]
        .iter(),
    ) {
        command.env_remove(name);
    }
    command.envs(database.env_vars());
    let output = command.output().unwrap_or_else(|error| panic!("{error}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    for variable in [
        "SEED_ADMIN_PASSWORD",
        "SEED_TEST_PASSWORD",
        "SEED_DEMO_PASSWORD",
    ] {
        assert!(stderr.contains(variable), "{variable} not named: {stderr}");
    }
    assert!(!stderr.contains("Admin@123"), "{stderr}");
    assert_eq!(
        database.count("SELECT COUNT(*) FROM users").await,
        0,
        "nothing written"
    );
}
