//! Seed data: TOML files under `seeds/` (one per table), loaded by one generic loader.
//!
//! Idempotent and safe under concurrency: each row is an `INSERT … ON CONFLICT (natural key) DO
//! NOTHING`, so the database's unique constraints decide, never a check-then-insert.

use std::str::FromStr;

use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ColumnType, DatabaseConnection, DbErr, EntityTrait,
    IdenStatic, IntoActiveModel, Iterable, PrimaryKeyToColumn, TryInsertResult, TryIntoModel,
};
use serde_json::{Map, Value};
use shared::Backend;
use shared::entities::{agent, new_id, user};
use shared::env::{AppEnv, Env};
use shared::password::{self, HashCost};

/// The seed files, in the order they are loaded. Editing one and re-running `cargo run --bin
/// seed` picks the change up (the files are compiled in, so the binary runs from anywhere).
pub const FILES: [(&str, &str); 2] = [
    ("users.toml", include_str!("../users.toml")),
    ("agents.toml", include_str!("../agents.toml")),
];

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(
        "the schema is missing or out of date: run the migrations first: cargo run -p migration -- up"
    )]
    SchemaMissing,
    #[error("{file}: {problem}")]
    Data { file: String, problem: String },
    #[error(
        "refusing to store the published development passwords outside development: set {} (or APP_ENV=development for a development database)",
        variables.join(", ")
    )]
    DevelopmentPasswordsRefused { variables: Vec<String> },
    #[error("{0}")]
    Config(#[from] shared::ConfigError),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

/// What happened to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    AlreadyExists,
}

#[derive(Debug, Clone)]
pub struct Record {
    pub table: &'static str,
    /// The natural key's value (`admin@chatai.com`, `GPT-4`).
    pub key: String,
    pub outcome: Outcome,
    /// The development password it was created with, when it came from the data file (so it
    /// may be shown outside production); `None` for passwords from the environment.
    pub development_password: Option<String>,
}

/// Whether the published development passwords of the seed files may be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevelopmentPasswords {
    Allowed,
    /// Every password must come from its `SEED_*` variable.
    Refused,
}

impl DevelopmentPasswords {
    /// Allowed only when `APP_ENV` is explicitly `development` or `test`, or on the embedded
    /// SQLite default outside production: an unset `APP_ENV` on PostgreSQL may be a deployment.
    pub fn for_deployment(env: &impl Env, backend: Backend) -> Result<Self, shared::ConfigError> {
        let explicit = env.get(AppEnv::VARIABLE)?.is_some();
        Ok(match AppEnv::from_env(env)? {
            AppEnv::Production => Self::Refused,
            _ if explicit || backend == Backend::Sqlite => Self::Allowed,
            _ => Self::Refused,
        })
    }
}

/// Each seeded account's email and published development password: the service refuses to run
/// in production while one of them still logs in.
pub fn development_credentials() -> Result<Vec<(String, String)>, SeedError> {
    let (file, source) = FILES[0];
    let data = SeedFile::parse(file, source)?;
    Ok(data
        .rows
        .iter()
        .filter_map(|row| {
            let email = row.get("email")?.as_str()?;
            let password = row.get("password")?.get("development")?.as_str()?;
            Some((email.to_owned(), password.to_owned()))
        })
        .collect())
}

/// Loads every seed file into the database.
pub async fn run(
    db: &DatabaseConnection,
    passwords: DevelopmentPasswords,
    env: &impl Env,
) -> Result<Vec<Record>, SeedError> {
    if !migration::is_up_to_date(db).await? {
        return Err(SeedError::SchemaMissing);
    }
    let mut records = Vec::new();
    for (file, source) in FILES {
        let data = SeedFile::parse(file, source)?;
        let rows = resolve_passwords(file, &data.secret_columns, data.rows, passwords, env).await?;
        let loaded = match file {
            "users.toml" => load::<user::Entity>(db, "users", &data.key, rows).await?,
            "agents.toml" => load::<agent::Entity>(db, "agents", &data.key, rows).await?,
            other => {
                return Err(SeedError::Data {
                    file: other.to_owned(),
                    problem: "no entity is registered for this file".to_owned(),
                });
            }
        };
        records.extend(loaded);
    }
    Ok(records)
}

struct SeedFile {
    key: String,
    /// The columns whose values are secrets (`secret_columns = [...]`): each is written as
    /// `{ development = "…", env = "VARIABLE" }` and stored as an argon2id hash.
    secret_columns: Vec<String>,
    rows: Vec<Map<String, Value>>,
}

impl SeedFile {
    fn parse(file: &str, source: &str) -> Result<Self, SeedError> {
        let problem = |problem: String| SeedError::Data {
            file: file.to_owned(),
            problem,
        };
        let value: Value = toml::from_str(source).map_err(|error| problem(error.to_string()))?;
        let key = value
            .get("key")
            .and_then(Value::as_str)
            .ok_or_else(|| problem("needs `key = \"<natural key column>\"`".to_owned()))?
            .to_owned();
        let rows = value
            .get("rows")
            .and_then(Value::as_array)
            .ok_or_else(|| problem("needs [[rows]] tables".to_owned()))?
            .iter()
            .enumerate()
            .map(|(index, row)| {
                row.as_object()
                    .cloned()
                    .ok_or_else(|| problem(format!("row {} is not a table", index + 1)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let secret_columns = match value.get("secret_columns") {
            None => Vec::new(),
            Some(list) => list
                .as_array()
                .and_then(|list| {
                    list.iter()
                        .map(|name| name.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| {
                    problem("secret_columns must be a list of column names".to_owned())
                })?,
        };
        Ok(Self {
            key,
            secret_columns,
            rows,
        })
    }
}

/// A row with its secrets resolved: each `{ development, env }` field becomes an argon2id hash.
struct ResolvedRow {
    values: Map<String, Value>,
    development_password: Option<String>,
}

/// Resolves the secret columns of every row, then hashes them. Every row is resolved (and the
/// guard applied) before any is hashed or written, so a refusal stores nothing.
async fn resolve_passwords(
    file: &str,
    secret_columns: &[String],
    rows: Vec<Map<String, Value>>,
    passwords: DevelopmentPasswords,
    env: &impl Env,
) -> Result<Vec<ResolvedRow>, SeedError> {
    let plans = plan_secrets(file, secret_columns, rows, passwords, env)?;
    let mut resolved = Vec::new();
    for plan in plans {
        resolved.push(hash_secrets(plan).await?);
    }
    Ok(resolved)
}

/// A row whose secrets are resolved to passwords but not hashed yet.
struct PlannedRow {
    row: Map<String, Value>,
    secrets: Vec<PlannedSecret>,
}

/// One secret column of a row and the password it stores.
struct PlannedSecret {
    field: String,
    password: String,
    /// Whether the password is the published development one (and so may be shown).
    is_development: bool,
}

/// What one secret field resolves to.
enum Resolution {
    Password {
        password: String,
        is_development: bool,
    },
    /// A development password the guard refused, named by its variable (else by its row).
    Refused(String),
}

/// The passwords of every row's secret columns. A refused development password does not stop
/// the walk: the error lists every variable to set, not only the first.
fn plan_secrets(
    file: &str,
    secret_columns: &[String],
    rows: Vec<Map<String, Value>>,
    passwords: DevelopmentPasswords,
    env: &impl Env,
) -> Result<Vec<PlannedRow>, SeedError> {
    let mut plans = Vec::new();
    let mut refused = Vec::new();
    for (index, row) in rows.into_iter().enumerate() {
        let mut secrets = Vec::new();
        // Only the declared secret columns are secrets; any other value (an agent's `config`
        // table, say) is data and stored as written.
        for field in secret_columns {
            let Some(value) = row.get(field) else {
                continue;
            };
            let record = format!("{file} row {}", index + 1);
            match resolve_secret(file, &record, field, value, passwords, env)? {
                Resolution::Password {
                    password,
                    is_development,
                } => secrets.push(PlannedSecret {
                    field: field.clone(),
                    password,
                    is_development,
                }),
                Resolution::Refused(name) => refused.push(name),
            }
        }
        plans.push(PlannedRow { row, secrets });
    }
    if !refused.is_empty() {
        return Err(SeedError::DevelopmentPasswordsRefused { variables: refused });
    }
    Ok(plans)
}

/// One secret field: the value of its variable when set, else its development password when
/// the guard allows it; with neither there is nothing to store.
fn resolve_secret(
    file: &str,
    record: &str,
    field: &str,
    value: &Value,
    passwords: DevelopmentPasswords,
    env: &impl Env,
) -> Result<Resolution, SeedError> {
    let secret = secret_table(file, record, field, value)?;
    let development = secret.get("development").and_then(Value::as_str);
    let variable = secret.get("env").and_then(Value::as_str);
    let from_env = match variable {
        Some(variable) => env.get(variable)?,
        None => None,
    };
    Ok(match (from_env, development) {
        (Some(password), _) => Resolution::Password {
            password,
            is_development: false,
        },
        (None, Some(_)) if passwords == DevelopmentPasswords::Refused => {
            Resolution::Refused(variable.unwrap_or(record).to_owned())
        }
        (None, Some(development)) => Resolution::Password {
            password: development.to_owned(),
            is_development: true,
        },
        (None, None) => {
            return Err(SeedError::Data {
                file: file.to_owned(),
                problem: format!(
                    "{record}: {field} needs {} to be set",
                    variable.unwrap_or("a value")
                ),
            });
        }
    })
}

/// A secret column must be a `{ development = "…", env = "VARIABLE" }` table (one key or both,
/// nothing else): a plain value would put the secret itself in the data file.
fn secret_table<'a>(
    file: &str,
    record: &str,
    field: &str,
    value: &'a Value,
) -> Result<&'a Map<String, Value>, SeedError> {
    value
        .as_object()
        .filter(|secret| {
            !secret.is_empty()
                && secret.iter().all(|(key, value)| {
                    matches!(key.as_str(), "development" | "env") && value.is_string()
                })
        })
        .ok_or_else(|| SeedError::Data {
            file: file.to_owned(),
            problem: format!(
                "{record}: {field} is a secret column: write it as {{ development = \"…\", env = \"VARIABLE\" }}"
            ),
        })
}

/// Replaces each secret of the row with its argon2id hash (on the blocking pool: hashing is
/// slow on purpose), keeping the development password so it may be shown.
async fn hash_secrets(plan: PlannedRow) -> Result<ResolvedRow, SeedError> {
    let PlannedRow { mut row, secrets } = plan;
    let mut development_password = None;
    for PlannedSecret {
        field,
        password,
        is_development,
    } in secrets
    {
        let plain = password.clone();
        let phc = tokio::task::spawn_blocking(move || password::hash(&plain, HashCost::Owasp))
            .await
            .map_err(|error| SeedError::Hash(error.to_string()))?
            .map_err(|error| SeedError::Hash(error.to_string()))?;
        row.insert(field, Value::String(phc));
        if is_development {
            development_password = Some(password);
        }
    }
    Ok(ResolvedRow {
        values: row,
        development_password,
    })
}

/// Builds an insertable model from one row: the primary key gets a fresh UUIDv7 and any
/// required (NOT NULL) timestamp column left out gets the current time; every other column comes
/// from the row.
fn active_model<E>(mut values: Map<String, Value>) -> Result<E::ActiveModel, serde_json::Error>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E>,
    E::Model: IntoActiveModel<E::ActiveModel> + for<'de> serde::Deserialize<'de>,
{
    for primary_key in E::PrimaryKey::iter() {
        let name = primary_key.into_column().as_str();
        values
            .entry(name)
            .or_insert_with(|| Value::String(new_id().to_string()));
    }
    let now = Value::String(chrono::Utc::now().to_rfc3339());
    for column in E::Column::iter() {
        let definition = column.def();
        if !definition.is_null()
            && matches!(
                definition.get_column_type(),
                ColumnType::TimestampWithTimeZone
            )
        {
            values.entry(column.as_str()).or_insert_with(|| now.clone());
        }
    }
    let model: E::Model = serde_json::from_value(Value::Object(values))?;
    let mut active = model.into_active_model();
    // A model converts to `Unchanged` values; an insert wants them `Set`.
    for column in E::Column::iter() {
        if let ActiveValue::Unchanged(value) = active.get(column) {
            active.set(column, value);
        }
    }
    Ok(active)
}

/// Inserts each row unless a row with the same natural key exists.
async fn load<E>(
    db: &DatabaseConnection,
    table: &'static str,
    key: &str,
    rows: Vec<ResolvedRow>,
) -> Result<Vec<Record>, SeedError>
where
    E: EntityTrait,
    E::Column: FromStr,
    E::ActiveModel: ActiveModelTrait<Entity = E> + TryIntoModel<E::Model> + Send,
    E::Model: IntoActiveModel<E::ActiveModel> + serde::Serialize + for<'de> serde::Deserialize<'de>,
{
    let file = format!("{table}.toml");
    let data_error = |problem: String| SeedError::Data {
        file: file.clone(),
        problem,
    };
    let key_column = E::Column::from_str(key)
        .map_err(|_| data_error(format!("key {key:?} is not a column of {table}")))?;
    let columns: Vec<&str> = E::Column::iter().map(|column| column.as_str()).collect();
    let mut records = Vec::new();
    for (index, row) in rows.into_iter().enumerate() {
        if let Some(unknown) = row
            .values
            .keys()
            .find(|name| !columns.contains(&name.as_str()))
        {
            return Err(data_error(format!(
                "row {}: {unknown:?} is not a column of {table}",
                index + 1
            )));
        }
        let key_value = row
            .values
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| data_error(format!("row {}: needs {key}", index + 1)))?
            .to_owned();
        let model = active_model::<E>(row.values)
            .map_err(|error| data_error(format!("row {}: {error}", index + 1)))?;
        let inserted = E::insert(model)
            .on_conflict_do_nothing_on([key_column])
            .exec_without_returning(db)
            .await?;
        let outcome = match inserted {
            TryInsertResult::Inserted(count) if count > 0 => Outcome::Created,
            _ => Outcome::AlreadyExists,
        };
        records.push(Record {
            table,
            key: key_value,
            outcome,
            development_password: row.development_password,
        });
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[tokio::test]
    async fn only_declared_secret_columns_are_hashed_and_other_tables_stay_json() {
        let source = r#"
            key = "name"
            secret_columns = ["password"]
            [[rows]]
            name = "a"
            password = { development = "Dev-pass-1", env = "SEED_A_PASSWORD" }
            config = { env = "prod" }
        "#;
        let data = SeedFile::parse("test.toml", source).unwrap_or_else(|error| panic!("{error}"));
        let resolved = resolve_passwords(
            "test.toml",
            &data.secret_columns,
            data.rows,
            DevelopmentPasswords::Allowed,
            &HashMap::<&str, &str>::new(),
        )
        .await
        .unwrap_or_else(|error| panic!("{error}"));
        let row = &resolved[0].values;
        assert_eq!(row["config"], serde_json::json!({"env": "prod"}));
        let hash = row["password"].as_str().unwrap_or_default();
        assert!(shared::password::verify("Dev-pass-1", hash), "{hash}");
    }

    #[tokio::test]
    async fn a_secret_column_written_as_plain_text_is_refused() {
        let source = r#"
            key = "name"
            secret_columns = ["password"]
            [[rows]]
            name = "a"
            password = "plain"
        "#;
        let data = SeedFile::parse("test.toml", source).unwrap_or_else(|error| panic!("{error}"));
        let error = resolve_passwords(
            "test.toml",
            &data.secret_columns,
            data.rows,
            DevelopmentPasswords::Allowed,
            &HashMap::<&str, &str>::new(),
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("a plain secret must be refused"));
        assert!(
            error.to_string().contains("password is a secret column"),
            "{error}"
        );
    }
}
