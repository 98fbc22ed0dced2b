//! Reading configuration from the environment: one error type that names the variable, `.env`
//! loading, and small parsers that never echo a secret.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// Declares the environment variables a component reads: one `pub const` per variable, holding
/// its own name, and `ALL`, built from the same list, so a variable cannot be added without
/// being listed (the tests that check `.env.example` and clear the environment read `ALL`).
#[macro_export]
macro_rules! variables {
    ($($name:ident),+ $(,)?) => {
        $(pub const $name: &str = stringify!($name);)+
        /// Every variable declared in this module.
        pub const ALL: &[&str] = &[$($name),+];
    };
}

/// A configuration value that cannot be used. Its message names the variable and what is wrong
/// with it, and never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable (or `.env` file) at fault.
    pub variable: String,
    /// What is wrong with it, in words a person can act on.
    pub problem: String,
}

impl ConfigError {
    pub fn new(variable: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            variable: variable.into(),
            problem: problem.into(),
        }
    }
}

/// Where configuration values come from: the process environment in production, a map in tests.
pub trait Env {
    /// The value of `name`, or `None` when it is unset or empty.
    fn get(&self, name: &str) -> Result<Option<String>, ConfigError>;
}

/// The process environment (after `.env` files have been merged into it).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Result<Option<String>, ConfigError> {
        match std::env::var_os(name) {
            None => Ok(None),
            Some(value) => match value.into_string() {
                Ok(value) if value.trim().is_empty() => Ok(None),
                Ok(value) => Ok(Some(value)),
                Err(_) => Err(ConfigError::new(name, "is not valid UTF-8")),
            },
        }
    }
}

impl<S: std::hash::BuildHasher> Env for HashMap<&str, &str, S> {
    fn get(&self, name: &str) -> Result<Option<String>, ConfigError> {
        Ok(HashMap::get(self, name)
            .filter(|value| !value.trim().is_empty())
            .map(|value| (*value).to_owned()))
    }
}

/// Parses `name` with `FromStr`, or returns `default` when it is unset. The message for a bad
/// value quotes it, so use this only for variables that hold no secret.
pub fn parse_or<T>(env: &impl Env, name: &str, default: T, expected: &str) -> Result<T, ConfigError>
where
    T: FromStr,
{
    match env.get(name)? {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|_| ConfigError::new(name, format!("expected {expected}, got {raw:?}"))),
    }
}

/// A whole number in `min..=max`, or `default` when unset.
pub fn parse_number<T>(
    env: &impl Env,
    name: &str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + fmt::Display + Copy,
{
    let expected = format!("a whole number from {min} to {max}");
    let value = parse_or(env, name, default, &expected)?;
    if value < min || value > max {
        return Err(ConfigError::new(
            name,
            format!("expected {expected}, got \"{value}\""),
        ));
    }
    Ok(value)
}

/// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`), or `default` when unset.
pub fn parse_bool(env: &impl Env, name: &str, default: bool) -> Result<bool, ConfigError> {
    match env.get(name)? {
        None => Ok(default),
        Some(raw) => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(ConfigError::new(
                name,
                format!("expected true or false, got {raw:?}"),
            )),
        },
    }
}

/// Merges `.env` files into the process environment: first the one in the current directory,
/// then `fallback_dir/.env`. A variable already set, by the environment or by an earlier file,
/// is never overwritten.
///
/// Call it before any thread starts (it writes the process environment).
pub fn load_dotenv(fallback_dir: Option<&Path>) -> Result<(), ConfigError> {
    let mut files = vec![Path::new(".env").to_path_buf()];
    if let Some(dir) = fallback_dir {
        let candidate = dir.join(".env");
        let same = match (candidate.canonicalize(), files[0].canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if !same {
            files.push(candidate);
        }
    }
    for file in files {
        if !file.is_file() {
            continue;
        }
        if let Err(error) = dotenvy::from_path(&file) {
            let problem = match error {
                // The line itself may hold a password: say where it is, not what it says.
                dotenvy::Error::LineParse(_, index) => {
                    format!("cannot be parsed near character {index}")
                }
                dotenvy::Error::Io(io) => format!("cannot be read ({})", io.kind()),
                _ => "cannot be read".to_owned(),
            };
            return Err(ConfigError::new(file.display().to_string(), problem));
        }
    }
    Ok(())
}

/// The environment name, `APP_ENV`: it switches defaults and guards, never behaviour silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Test,
    Production,
}

impl AppEnv {
    pub const VARIABLE: &'static str = "APP_ENV";

    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        match env.get(Self::VARIABLE)? {
            None => Ok(Self::Development),
            Some(raw) => match raw.trim().to_ascii_lowercase().as_str() {
                "development" | "dev" => Ok(Self::Development),
                "test" => Ok(Self::Test),
                "production" | "prod" => Ok(Self::Production),
                _ => Err(ConfigError::new(
                    Self::VARIABLE,
                    format!("expected development, test or production, got {raw:?}"),
                )),
            },
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Test => "test",
            Self::Production => "production",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_out_of_range_name_the_variable_and_the_range() {
        let env = HashMap::from([("PORT", "70000")]);
        let error = parse_number::<u32>(&env, "PORT", 1, 1, 65535).unwrap_err();
        assert_eq!(
            error.to_string(),
            "PORT: expected a whole number from 1 to 65535, got \"70000\""
        );
    }

    #[test]
    fn empty_values_count_as_unset() {
        let env = HashMap::from([("FLAG", "  ")]);
        assert!(parse_bool(&env, "FLAG", true).unwrap());
    }

    #[test]
    fn app_env_rejects_unknown_names() {
        let env = HashMap::from([("APP_ENV", "staging")]);
        let error = AppEnv::from_env(&env).unwrap_err();
        assert_eq!(error.variable, "APP_ENV");
    }
}
