//! Turning what is wrong with a request into NestJS/class-validator messages: one string per
//! problem, field first (`"email must be an email"`), unknown fields as
//! `"property foo should not exist"`.
//!
//! Request types derive `validator::Validate` for their constraints; the messages come from the
//! constraint's code and parameters here, in one place, so request types carry no message text.
//! A custom check's error carries the rest of its sentence as its message
//! (`"must be a JSON object"`), and the field name is put in front of it.

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde_json::Value;
use validator::{Validate, ValidationError, ValidationErrors, ValidationErrorsKind};

use crate::error::ApiError;

/// Deserialises `value` into `T`, refusing unknown fields (every one is reported) and running
/// `T`'s validation. All the problems found come back together.
pub fn from_value<T>(value: Value) -> Result<T, ApiError>
where
    T: DeserializeOwned + Validate,
{
    let mut problems = Vec::new();
    check_values(&value, "", &mut problems);
    let mut unknown = Vec::new();
    let parsed: Result<T, _> = serde_path_to_error::deserialize(serde_ignored::Deserializer::new(
        value,
        &mut |path: serde_ignored::Path<'_>| unknown.push(ignored_path(&path)),
    ));
    problems.extend(
        unknown
            .iter()
            .map(|path| format!("property {path} should not exist")),
    );
    match parsed {
        Ok(parsed) => {
            if let Err(errors) = parsed.validate() {
                problems.extend(messages(&errors));
            }
            if problems.is_empty() {
                Ok(parsed)
            } else {
                Err(ApiError::Validation(problems))
            }
        }
        Err(error) => {
            problems.push(type_message(
                &error.path().to_string(),
                &error.inner().to_string(),
            ));
            Err(ApiError::Validation(problems))
        }
    }
}

/// `a.b.0` for a field serde_ignored skipped (its own `Display` adds `?` for every `Option`).
pub fn ignored_path(path: &serde_ignored::Path<'_>) -> String {
    fn walk(path: &serde_ignored::Path<'_>, out: &mut Vec<String>) {
        use serde_ignored::Path;
        match path {
            Path::Root => {}
            Path::Seq { parent, index } => {
                walk(parent, out);
                out.push(index.to_string());
            }
            Path::Map { parent, key } => {
                walk(parent, out);
                out.push(key.clone());
            }
            Path::Some { parent }
            | Path::NewtypeStruct { parent }
            | Path::NewtypeVariant { parent } => walk(parent, out),
        }
    }
    let mut parts = Vec::new();
    walk(path, &mut parts);
    parts.join(".")
}

/// Values PostgreSQL cannot store, refused at the boundary instead of failing in the database: a
/// NUL character in text or jsonb (no client means one), and numbers beyond jsonb's range.
fn check_values(value: &Value, path: &str, problems: &mut Vec<String>) {
    let at = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(text) if text.contains('\0') => {
            problems.push(format!("{} must not contain NUL characters", display(path)));
        }
        Value::Number(number) if !storable(&number.to_string()) => {
            problems.push(format!(
                "{} must be a number of at most 1000 digits with an exponent within ±1000",
                display(path)
            ));
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                check_values(item, &at(&index.to_string()), problems);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                if key.contains('\0') {
                    problems.push(format!(
                        "{} must not contain NUL characters in its keys",
                        display(path)
                    ));
                }
                check_values(item, &at(key), problems);
            }
        }
        _ => {}
    }
}

/// Whether PostgreSQL's jsonb can store a number written as `text` (kept exactly, see
/// serde_json's `arbitrary_precision`): numeric refuses exponents beyond about ±1000, and no
/// client needs more digits than that.
fn storable(text: &str) -> bool {
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().ok()),
        None => (text, Some(0)),
    };
    let digits = mantissa.bytes().filter(u8::is_ascii_digit).count();
    exponent.is_some_and(|exponent| exponent.abs() <= 1000) && digits <= 1000
}

fn display(path: &str) -> &str {
    if path.is_empty() { "body" } else { path }
}

/// A serde error at `path` (`name`, `metadata.a`), as a sentence about that field.
pub fn type_message(path: &str, error: &str) -> String {
    let field = if path.is_empty() || path == "." {
        "body"
    } else {
        path
    };
    if let Some(rest) = error.strip_prefix("invalid type: ")
        && let Some((_, expected)) = rest.rsplit_once(", expected ")
    {
        return format!("{field} must be {expected}");
    }
    if let Some(rest) = error.strip_prefix("unknown variant ")
        && let Some((_, expected)) = rest.split_once(", expected ")
    {
        let values = expected
            .trim_start_matches("one of ")
            .replace(['`'], "")
            .replace(" or ", ", ");
        return format!("{field} must be one of the following values: {values}");
    }
    if error.starts_with("UUID parsing failed") || error.contains("invalid character") {
        return format!("{field} must be a UUID");
    }
    if let Some(rest) = error.strip_prefix("missing field ") {
        return format!("{} should not be empty", rest.trim_matches('`'));
    }
    format!("{field} is invalid ({error})")
}

/// Every message of `errors`, fields in name order, nested fields as `parent.child`.
pub fn messages(errors: &ValidationErrors) -> Vec<String> {
    let mut out = Vec::new();
    collect(errors, "", &mut out);
    out
}

fn collect(errors: &ValidationErrors, prefix: &str, out: &mut Vec<String>) {
    let mut fields: Vec<_> = errors.errors().iter().collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    for (field, kind) in fields {
        let name = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                out.extend(list.iter().map(|error| message(&name, error)));
            }
            ValidationErrorsKind::Struct(inner) => collect(inner, &name, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    collect(inner, &format!("{name}.{index}"), out);
                }
            }
        }
    }
}

fn param<'a>(error: &'a ValidationError, name: &'static str) -> Option<&'a Value> {
    error.params.get(&Cow::Borrowed(name))
}

/// One message for one failed constraint on `field`, in class-validator's words.
fn message(field: &str, error: &ValidationError) -> String {
    if let Some(text) = &error.message {
        return format!("{field} {text}");
    }
    match error.code.as_ref() {
        "length" => {
            let length = param(error, "value")
                .and_then(Value::as_str)
                .map(|value| value.chars().count() as u64);
            let min = param(error, "min").and_then(Value::as_u64);
            let max = param(error, "max").and_then(Value::as_u64);
            match (length, min, max) {
                (Some(0), Some(1), _) => format!("{field} should not be empty"),
                (Some(length), Some(min), _) if length < min => {
                    format!("{field} must be longer than or equal to {min} characters")
                }
                (_, _, Some(max)) => {
                    format!("{field} must be shorter than or equal to {max} characters")
                }
                _ => format!("{field} has an invalid length"),
            }
        }
        "email" => format!("{field} must be an email"),
        "url" => format!("{field} must be a URL address"),
        "required" => format!("{field} should not be empty"),
        "range" => match (param(error, "min"), param(error, "max")) {
            (Some(min), _) if param(error, "value").and_then(Value::as_f64) < min.as_f64() => {
                format!("{field} must not be less than {min}")
            }
            (_, Some(max)) => format!("{field} must not be greater than {max}"),
            _ => format!("{field} is out of range"),
        },
        other => format!("{field} is invalid ({other})"),
    }
}

/// A custom check's failure; `sentence` is what follows the field name.
pub fn fail(sentence: &'static str) -> ValidationError {
    ValidationError::new("custom").with_message(Cow::Borrowed(sentence))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_postgresql_cannot_store_are_refused_with_their_path() {
        assert!(storable("12345678901234567890123"));
        assert!(storable("0.1000000000000000055511151231257827"));
        assert!(storable("1e1000"));
        assert!(!storable("1e1001"));
        assert!(!storable("1E-5000"));
        let mut problems = Vec::new();
        let value: Value = serde_json::from_str(r#"{"metadata":{"a":[1e1001]}}"#).unwrap();
        check_values(&value, "", &mut problems);
        assert_eq!(
            problems,
            ["metadata.a.0 must be a number of at most 1000 digits with an exponent within ±1000"]
        );
    }

    #[test]
    fn serde_type_errors_read_as_class_validator_messages() {
        assert_eq!(
            type_message("name", "invalid type: integer `5`, expected a string"),
            "name must be a string"
        );
        assert_eq!(
            type_message("role", "unknown variant `root`, expected `admin` or `user`"),
            "role must be one of the following values: admin, user"
        );
    }
}
