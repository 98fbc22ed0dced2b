//! Turning what is wrong with a request into NestJS/class-validator messages: one string per
//! problem, each naming its field first (`"email must be an email"`), unknown fields as
//! `"property foo should not exist"`, every problem of the request at once: unknown fields
//! first, then the others in the order the request type declares its fields (the order the
//! document lists them in), as class-validator reports a DTO's.
//!
//! The request types are made of value types that check themselves when they deserialise
//! (`domain::values`): a value that fails says the rest of its sentence, and the field's name
//! is put in front of it here. serde stops at the first failure, so a failing field is taken out
//! and the rest deserialised again, until every field has had its say; which fields are required
//! comes from the type's OpenAPI schema, the same source as the document.

use serde::de::{self, DeserializeOwned, Visitor};
use serde_json::{Map, Value};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{PartialSchema, ToSchema};

use super::error::ApiError;

/// The problems found in one request, each with the rank of its field.
struct Problems {
    /// The request type's fields, in declaration order: the order of the messages.
    fields: &'static [&'static str],
    found: Vec<(usize, String)>,
}

impl Problems {
    fn new(fields: &'static [&'static str]) -> Self {
        Self {
            fields,
            found: Vec::new(),
        }
    }

    /// A problem of `path` (`email`, `metadata.a.0`): ranked by its top-level field.
    fn add(&mut self, path: &str, message: String) {
        let field = top_level(path);
        let rank = self
            .fields
            .iter()
            .position(|name| *name == field)
            .map_or(0, |index| index + 1);
        self.found.push((rank, message));
    }

    fn unknown(&mut self, name: &str) {
        self.found
            .push((0, format!("property {name} should not exist")));
    }

    fn names(&self, field: &str) -> bool {
        self.found
            .iter()
            .any(|(rank, _)| *rank > 0 && self.fields.get(rank - 1) == Some(&field))
    }

    fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    fn into_error(mut self) -> ApiError {
        self.found.sort_by_key(|(rank, _)| *rank);
        ApiError::Validation(self.found.into_iter().map(|(_, message)| message).collect())
    }
}

/// `email` of `email`, `metadata` of `metadata.a.0`.
fn top_level(path: &str) -> &str {
    path.split(['.', '[']).next().unwrap_or(path)
}

/// Deserialises the JSON object `map` into `T`, refusing unknown fields and reporting every
/// problem at once.
pub fn from_object<T>(map: Map<String, Value>) -> Result<T, ApiError>
where
    T: DeserializeOwned + ToSchema,
{
    let fields = fields_of::<T>();
    let mut problems = Problems::new(fields);
    let mut map = map;
    for (key, value) in &map {
        if key.contains('\0') {
            problems.add(
                "",
                "body must not contain NUL characters in its keys".to_owned(),
            );
        }
        check_values(value, key, &mut problems);
    }
    map.retain(|key, _| {
        let known = fields.contains(&key.as_str());
        if !known {
            problems.unknown(key);
        }
        known
    });
    let required = required_fields::<T>(&map, &mut problems);
    // A required field that is absent is tried as an empty string, so its value type says what
    // an empty one lacks (`"password must be longer than or equal to 8 characters"`).
    let mut absent: Vec<String> = Vec::new();
    for _ in 0..=2 * fields.len() {
        let error = match serde_path_to_error::deserialize::<_, T>(Value::Object(map.clone())) {
            Ok(parsed) if problems.is_empty() && absent.is_empty() => return Ok(parsed),
            Ok(_) => {
                // An empty string stood in for a missing field and was taken: it is still missing.
                for field in &absent {
                    if !problems.names(field) {
                        problems.add(field, format!("{field} should not be empty"));
                    }
                }
                break;
            }
            Err(error) => error,
        };
        let path = error.path().to_string();
        let inner = error.inner().to_string();
        if inner.starts_with("missing field ") {
            // serde checks the absent fields last: every present one has had its say.
            let missing = required
                .iter()
                .find(|field| !map.contains_key(*field) && !problems.names(field));
            let Some(field) = missing else { break };
            map.insert(field.clone(), Value::String(String::new()));
            absent.push(field.clone());
            continue;
        }
        let field = top_level(&path).to_owned();
        let message = if absent.contains(&field) && !is_value_sentence(&inner) {
            format!("{field} should not be empty")
        } else {
            type_message(&path, &inner)
        };
        problems.add(&path, message);
        if map.remove(&field).is_none() {
            break;
        }
    }
    Err(problems.into_error())
}

/// Deserialises a query string into `T`: every parameter must be a field of `T`, given once,
/// and every problem is reported at once.
pub fn from_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let fields = fields_of::<T>();
    let mut problems = Problems::new(fields);
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if value.contains('\0') {
            problems.add(&name, format!("{name} must not contain NUL characters"));
        }
        if !fields.contains(&name.as_ref()) {
            problems.unknown(&name);
        } else if pairs.iter().any(|(seen, _)| *seen == name) {
            problems.add(&name, format!("{name} must be given once"));
        } else {
            pairs.push((name.into_owned(), value.into_owned()));
        }
    }
    for _ in 0..=fields.len() {
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(encoded.as_bytes()));
        let error = match serde_path_to_error::deserialize::<_, T>(deserializer) {
            Ok(parsed) if problems.is_empty() => return Ok(parsed),
            Ok(_) => break,
            Err(error) => error,
        };
        let path = error.path().to_string();
        problems.add(&path, query_type_message(&path, &error.inner().to_string()));
        let before = pairs.len();
        pairs.retain(|(name, _)| name != top_level(&path));
        if pairs.len() == before {
            break;
        }
    }
    Err(problems.into_error())
}

/// Query values are all strings on the wire: say what the parameter should have been.
fn query_type_message(path: &str, error: &str) -> String {
    if error.contains("invalid digit") || error.contains("number too large") {
        return format!("{path} must be an integer number");
    }
    if error.contains("provided string was not `true` or `false`") {
        return format!("{path} must be a boolean value");
    }
    type_message(path, error)
}

/// The field names of struct `T`, in declaration order, as its derived `Deserialize` lists
/// them (the `fields` it passes to `deserialize_struct`).
pub fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldNames(&mut fields));
    fields
}

/// The fields `T`'s schema marks required: those without a default that are not optional.
/// A schema that is `oneOf` objects (a login by email or by phone, a member by id or by email)
/// requires what every alternative does, and the fields of the one alternative `map` chose;
/// choosing none or several is one problem (`"email or phone must be given, not both"`).
fn required_fields<T: ToSchema>(map: &Map<String, Value>, problems: &mut Problems) -> Vec<String> {
    let alternatives: Vec<Vec<String>> = match <T as PartialSchema>::schema() {
        RefOr::T(Schema::Object(object)) => return object.required,
        RefOr::T(Schema::OneOf(one_of)) => one_of
            .items
            .into_iter()
            .filter_map(|item| match item {
                RefOr::T(Schema::Object(object)) => Some(object.required),
                _ => None,
            })
            .collect(),
        _ => return Vec::new(),
    };
    let common = |field: &String| alternatives.iter().all(|other| other.contains(field));
    // Each alternative's own field: what tells it from the others.
    let own: Vec<&String> = alternatives
        .iter()
        .filter_map(|fields| fields.iter().find(|field| !common(field)))
        .collect();
    let chosen: Vec<&Vec<String>> = alternatives
        .iter()
        .filter(|fields| {
            fields
                .iter()
                .any(|field| !common(field) && map.contains_key(field))
        })
        .collect();
    if let [only] = chosen.as_slice() {
        return (*only).clone();
    }
    if let Some(first) = own.first() {
        let names: Vec<&str> = own.iter().map(|field| field.as_str()).collect();
        problems.add(
            first,
            format!("{} must be given, not both", names.join(" or ")),
        );
    }
    alternatives
        .first()
        .map(|fields| {
            fields
                .iter()
                .filter(|field| common(field))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// A deserializer that only records the field list a struct's `Deserialize` hands it.
struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> de::Deserializer<'de> for FieldNames<'_> {
    type Error = de::value::Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("field names recorded"))
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// Values PostgreSQL cannot store, refused at the boundary instead of failing in the database: a
/// NUL character in text or jsonb (no client means one), and numbers beyond jsonb's range.
fn check_values(value: &Value, path: &str, problems: &mut Problems) {
    match value {
        Value::String(text) if text.contains('\0') => {
            problems.add(path, format!("{path} must not contain NUL characters"));
        }
        Value::Number(number) if !storable(&number.to_string()) => {
            problems.add(
                path,
                format!(
                    "{path} must be a number of at most 1000 digits with an exponent within ±1000"
                ),
            );
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                check_values(item, &format!("{path}.{index}"), problems);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                if key.contains('\0') {
                    problems.add(
                        path,
                        format!("{path} must not contain NUL characters in its keys"),
                    );
                }
                check_values(item, &format!("{path}.{key}"), problems);
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

/// Whether a deserialisation error is a value type's own words (`domain::values`): the rest of
/// a sentence about the field.
fn is_value_sentence(error: &str) -> bool {
    ["must ", "should ", "is not "]
        .iter()
        .any(|start| error.starts_with(start))
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
    if is_value_sentence(error) {
        return format!("{field} {error}");
    }
    format!("{field} is invalid ({error})")
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[test]
    fn numbers_postgresql_cannot_store_are_refused_with_their_path() {
        assert!(storable("12345678901234567890123"));
        assert!(storable("0.1000000000000000055511151231257827"));
        assert!(storable("1e1000"));
        assert!(!storable("1e1001"));
        assert!(!storable("1E-5000"));
        let mut problems = Problems::new(&["metadata"]);
        let value: Value = serde_json::from_str(r#"{"a":[1e1001]}"#).unwrap();
        check_values(&value, "metadata", &mut problems);
        assert_eq!(
            problems.found,
            [(
                1,
                "metadata.a.0 must be a number of at most 1000 digits with an exponent within ±1000"
                    .to_owned()
            )]
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

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Sample {
        zeta: u8,
        alpha: bool,
    }

    #[test]
    fn a_structs_fields_come_in_declaration_order() {
        assert_eq!(fields_of::<Sample>(), ["zeta", "alpha"]);
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Paged {
        limit: Option<crate::domain::values::Limit>,
        all: Option<bool>,
        cursor: Option<crate::http::pagination::PageCursor>,
    }

    fn query_messages(query: &str) -> Vec<String> {
        match from_query::<Paged>(query) {
            Err(ApiError::Validation(messages)) => messages,
            other => panic!("{query}: {other:?}"),
        }
    }

    #[test]
    fn every_query_problem_is_reported_at_once_unknown_first_then_in_field_order() {
        assert_eq!(query_messages("limit=0"), ["limit must not be less than 1"]);
        assert_eq!(
            query_messages("cursor=abc"),
            ["cursor is not a cursor of this list (take next_cursor from the previous page)"]
        );
        assert_eq!(
            query_messages("all=maybe&limit=101&nope=1"),
            [
                "property nope should not exist",
                "limit must not be greater than 100",
                "all must be a boolean value",
            ]
        );
    }
}
