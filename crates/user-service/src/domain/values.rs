//! The values a request carries, each valid by construction: they check themselves when they
//! are deserialised (or parsed), so code past the boundary never sees an invalid one. A value
//! that fails says what is wrong in the words that follow the field's name in a class-validator
//! message (`"must be an email"`, `"should not be empty"`); the HTTP layer puts the field in
//! front. Each also describes itself to the OpenAPI document, so the document states exactly
//! the rule the code enforces.

use std::fmt;

use serde::de::{Deserialize, Deserializer, Error as _};
use serde_json::Value;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type,
};
use utoipa::{PartialSchema, ToSchema};

/// The longest email `users.email` holds.
pub const MAX_EMAIL_LENGTH: usize = 255;

/// An email address, trimmed and lower-cased: the only form stored or compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// `None` when `raw`, normalised (`shared::email`: trimmed, lower-cased, its domain in
    /// IDNA's ASCII form), is not an email address.
    pub fn parse(raw: &str) -> Option<Self> {
        let normalised = shared::email::normalise(raw)?;
        (normalised.chars().count() <= MAX_EMAIL_LENGTH
            && validator::ValidateEmail::validate_email(&normalised))
        .then_some(Self(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).ok_or_else(|| D::Error::custom("must be an email"))
    }
}

impl PartialSchema for Email {
    fn schema() -> RefOr<Schema> {
        string()
            .format(Some(SchemaFormat::Custom("email".to_owned())))
            .max_length(Some(MAX_EMAIL_LENGTH))
            .examples([serde_json::json!("jane@example.com")])
            .description(Some(
                "Trimmed and lower-cased before it is stored or compared.",
            ))
            .into()
    }
}

impl ToSchema for Email {}

/// A phone number in international form (`+` and the country code; spaces, `-`, `.` and
/// parentheses between the digits are allowed) that can exist, kept in E.164 form
/// (`shared::phone`): `+84 90 123 4567` is `+84901234567`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// What follows the field's name when a number is refused.
    pub const PROBLEM: &'static str =
        "must be a valid phone number in international form (+ and the country code)";

    pub fn parse(raw: &str) -> Option<Self> {
        shared::phone::normalise(raw).map(Self)
    }

    /// E.164.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl<'de> Deserialize<'de> for Phone {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).ok_or_else(|| D::Error::custom(Self::PROBLEM))
    }
}

impl PartialSchema for Phone {
    fn schema() -> RefOr<Schema> {
        string()
            .format(Some(SchemaFormat::Custom("phone".to_owned())))
            .pattern(Some(shared::phone::WRITTEN_PATTERN))
            .max_length(Some(shared::phone::MAX_WRITTEN_LENGTH))
            .examples([serde_json::json!("+84901234567")])
            .description(Some(
                "International form: + and the country code, then the number (spaces, -, . and parentheses allowed); it must be a number that can exist. Stored and answered in E.164 form (+84 90 123 4567 is +84901234567).",
            ))
            .into()
    }
}

impl ToSchema for Phone {}

/// A one-time code as a client sends it back: six digits.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeCode(String);

impl OneTimeCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeCode(<redacted>)")
    }
}

impl<'de> Deserialize<'de> for OneTimeCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        if raw.len() == 6 && raw.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(raw))
        } else {
            Err(D::Error::custom("must be 6 digits"))
        }
    }
}

impl PartialSchema for OneTimeCode {
    fn schema() -> RefOr<Schema> {
        string()
            .pattern(Some("^[0-9]{6}$"))
            .min_length(Some(6))
            .max_length(Some(6))
            .examples([serde_json::json!("123456")])
            .into()
    }
}

impl ToSchema for OneTimeCode {}

/// Defines a string newtype whose length, in characters, is within `min..=max`.
/// `redacted` ones never show their value in `Debug`.
macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, $min:literal ..= $max:literal, $example:literal) => {
        bounded_text!(@define $(#[$doc])* $name, $min..=$max, $example);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }
    };
    ($(#[$doc:meta])* redacted $name:ident, $min:literal ..= $max:literal, $example:literal) => {
        bounded_text!(@define $(#[$doc])* $name, $min..=$max, $example);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(<redacted>)", stringify!($name))
            }
        }
    };
    (@define $(#[$doc:meta])* $name:ident, $min:literal ..= $max:literal, $example:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub const MIN: usize = $min;
            pub const MAX: usize = $max;

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;

            /// The value, or what is wrong with it (the words after the field's name).
            fn try_from(value: String) -> Result<Self, String> {
                check_length(&value, $min, $max).map(|()| Self(value))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Self::try_from(String::deserialize(deserializer)?).map_err(D::Error::custom)
            }
        }

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                let schema = string()
                    .min_length(($min > 0).then_some($min))
                    .max_length(Some($max));
                if $example.is_empty() {
                    schema.into()
                } else {
                    schema.examples([serde_json::json!($example)]).into()
                }
            }
        }

        impl ToSchema for $name {}
    };
}

bounded_text!(
    /// A person's or a project's name: 1 to 255 characters.
    Name, 1..=255, "Jane Doe"
);

bounded_text!(
    /// A conversation's title: 1 to 255 characters.
    Title, 1..=255, "Refund questions"
);

bounded_text!(
    /// A project's description: at most 10,000 characters.
    Description, 0..=10000, ""
);

bounded_text!(
    /// What the user writes in a message: 1 to 100,000 characters.
    UserMessage, 1..=100000, "How do I get a refund?"
);

bounded_text!(
    /// A search term: at most 255 characters.
    SearchText, 0..=255, ""
);

bounded_text!(
    /// A new password: 8 to 128 characters, no composition rules (NIST SP 800-63B). Its `Debug`
    /// never shows it.
    redacted Password, 8..=128, "correct horse battery"
);

bounded_text!(
    /// A password given to be checked (login, the current password): 1 to 128 characters. Its
    /// `Debug` never shows it.
    redacted GivenPassword, 1..=128, "Admin@123"
);

bounded_text!(
    /// An app page a web sign-in returns to: it must also be one of `OAUTH_REDIRECT_URIS`,
    /// character for character.
    RedirectUri, 1..=2048, "https://app.example.com/auth/done"
);

/// A credential a client hands back as it was given (a refresh token): any text without NUL
/// characters, of any length; what it is worth is decided where it is looked up, so a malformed
/// one is refused like an unknown one. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Credential(String);

impl Credential {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential(<redacted>)")
    }
}

impl PartialSchema for Credential {
    fn schema() -> RefOr<Schema> {
        string().into()
    }
}

impl ToSchema for Credential {}

/// `Ok` when `value` has `min..=max` characters; else the words after the field's name.
fn check_length(value: &str, min: usize, max: usize) -> Result<(), String> {
    let length = value.chars().count();
    if length == 0 && min == 1 {
        Err("should not be empty".to_owned())
    } else if length < min {
        Err(format!("must be longer than or equal to {min} characters"))
    } else if length > max {
        Err(format!("must be shorter than or equal to {max} characters"))
    } else {
        Ok(())
    }
}

/// An avatar's address: an `http` or `https` URL of at most 500 characters (`javascript:`,
/// `data:` and every other scheme are refused; whether plain `http` is accepted is the
/// deployment's rule, `users::AvatarPolicy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvatarUrl {
    url: String,
    plain_http: bool,
}

impl AvatarUrl {
    pub const MAX: usize = 500;

    /// `http://`, not `https://`.
    pub fn is_plain_http(&self) -> bool {
        self.plain_http
    }

    pub fn into_string(self) -> String {
        self.url
    }
}

impl<'de> Deserialize<'de> for AvatarUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        // A URI is ASCII (RFC 3986): an internationalised address is sent in its encoded form.
        // `url` lower-cases the scheme: `HTTPS://` is stored as given but checked as `https`.
        let scheme = Some(&raw)
            .filter(|raw| raw.is_ascii())
            .and_then(|raw| url::Url::parse(raw).ok())
            .filter(url::Url::has_host)
            .map(|url| url.scheme().to_owned());
        let plain_http = match scheme.as_deref() {
            Some("https") => false,
            Some("http") => true,
            _ => return Err(D::Error::custom("must be a URL address")),
        };
        check_length(&raw, 0, Self::MAX).map_err(D::Error::custom)?;
        Ok(Self {
            url: raw,
            plain_http,
        })
    }
}

impl PartialSchema for AvatarUrl {
    fn schema() -> RefOr<Schema> {
        string()
            .format(Some(SchemaFormat::Custom("uri".to_owned())))
            .pattern(Some("^https?://"))
            .max_length(Some(Self::MAX))
            .examples([serde_json::json!("https://example.com/avatar.png")])
            .into()
    }
}

impl ToSchema for AvatarUrl {}

/// A conversation's thread id: 1 to 100 characters of `A-Z`, `a-z`, `0-9`, `_` and `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadId(String);

const THREAD_ID_PATTERN: &str = "^[A-Za-z0-9_-]{1,100}$";

impl ThreadId {
    /// A new random one: 32 hex digits.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl<'de> Deserialize<'de> for ThreadId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        let valid = (1..=100).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if valid {
            Ok(Self(raw))
        } else {
            Err(D::Error::custom(
                "must be 1 to 100 characters of A-Z, a-z, 0-9, _ and -",
            ))
        }
    }
}

impl PartialSchema for ThreadId {
    fn schema() -> RefOr<Schema> {
        string()
            .pattern(Some(THREAD_ID_PATTERN))
            .min_length(Some(1))
            .max_length(Some(100))
            .into()
    }
}

impl ToSchema for ThreadId {}

/// How deep `metadata` and `attachments` may nest.
pub const MAX_JSON_DEPTH: usize = 32;

fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// A conversation's `metadata`: a JSON object nested at most [`MAX_JSON_DEPTH`] levels.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata(Value);

impl Metadata {
    pub fn into_value(self) -> Value {
        self.0
    }
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        json_shaped(deserializer, Value::is_object, "must be a JSON object").map(Self)
    }
}

/// A JSON value of the shape `is_shaped` accepts (else `shape` is the sentence), nested at most
/// [`MAX_JSON_DEPTH`] levels.
fn json_shaped<'de, D: Deserializer<'de>>(
    deserializer: D,
    is_shaped: impl Fn(&Value) -> bool,
    shape: &'static str,
) -> Result<Value, D::Error> {
    let value = Value::deserialize(deserializer)?;
    if !is_shaped(&value) {
        return Err(D::Error::custom(shape));
    }
    if depth(&value) > MAX_JSON_DEPTH {
        return Err(D::Error::custom("must not nest deeper than 32 levels"));
    }
    Ok(value)
}

/// `$ref` to [`JsonValue`].
fn json_value() -> RefOr<Schema> {
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name("JsonValue"))
}

impl PartialSchema for Metadata {
    fn schema() -> RefOr<Schema> {
        json_object(json_value())
            .description(Some("Any JSON object, nested at most 32 levels."))
            .examples([serde_json::json!({"channel": "web"})])
            .into()
    }
}

impl ToSchema for Metadata {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        with_json_value(schemas);
    }
}

/// A message's `attachments`: a JSON array of objects nested at most [`MAX_JSON_DEPTH`] levels.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachments(Value);

impl Attachments {
    pub fn into_value(self) -> Value {
        self.0
    }
}

impl<'de> Deserialize<'de> for Attachments {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let objects = |value: &Value| {
            value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_object))
        };
        json_shaped(deserializer, objects, "must be an array of objects").map(Self)
    }
}

impl PartialSchema for Attachments {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(json_object(json_value()))
            .description(Some("JSON objects, nested at most 32 levels."))
            .into()
    }
}

impl ToSchema for Attachments {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        with_json_value(schemas);
    }
}

/// A page size: 1 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u64);

impl Limit {
    pub const MIN: u64 = 1;
    pub const MAX: u64 = 100;
    pub const DEFAULT: Self = Self(20);

    pub fn get(self) -> u64 {
        self.0
    }
}

impl Default for Limit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = u64::deserialize(deserializer)?;
        if value < Self::MIN {
            Err(D::Error::custom("must not be less than 1"))
        } else if value > Self::MAX {
            Err(D::Error::custom("must not be greater than 100"))
        } else {
            Ok(Self(value))
        }
    }
}

impl PartialSchema for Limit {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(Self::MIN))
            .maximum(Some(Self::MAX))
            .default(Some(serde_json::json!(Self::DEFAULT.0)))
            .into()
    }
}

impl ToSchema for Limit {}

/// Text without NUL characters, which no client means and PostgreSQL cannot store.
pub const NO_NUL: &str = "^[^\\u0000]*$";

/// A string schema; text without NUL characters unless a stricter pattern replaces it.
fn string() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(NO_NUL))
}

/// Any JSON value PostgreSQL's jsonb can store: no NUL character in a string or a key.
pub struct JsonValue;

impl PartialSchema for JsonValue {
    fn schema() -> RefOr<Schema> {
        let itself = json_value;
        AnyOfBuilder::new()
            .item(string())
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .item(ObjectBuilder::new().schema_type(Type::Boolean))
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .item(ArrayBuilder::new().items(itself()))
            .item(json_object(itself()))
            .description(Some(
                "Any JSON value without NUL characters in its strings and keys.",
            ))
            .into()
    }
}

impl ToSchema for JsonValue {}

/// A JSON object whose keys have no NUL character and whose values are `values`.
fn json_object(values: RefOr<Schema>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(string()))
        .additional_properties(Some(values))
}

/// Registers [`JsonValue`] for the schemas that refer to it.
fn with_json_value(schemas: &mut Vec<(String, RefOr<Schema>)>) {
    schemas.push(("JsonValue".to_owned(), JsonValue::schema()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_never_shows_itself_in_debug() {
        let credential: Credential = serde_json::from_value(serde_json::json!("s3cret-token"))
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(credential.as_str(), "s3cret-token");
        assert_eq!(format!("{credential:?}"), "Credential(<redacted>)");
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Admin@ChatAI.com ").map(Email::into_string),
            Some("admin@chatai.com".to_owned())
        );
        assert_eq!(Email::parse("not-an-email"), None);
    }

    #[test]
    fn lengths_are_counted_in_characters_with_class_validator_words() {
        assert_eq!(
            Name::try_from(String::new()),
            Err("should not be empty".to_owned())
        );
        assert!(Name::try_from("é".repeat(255)).is_ok());
        assert_eq!(
            Name::try_from("é".repeat(256)),
            Err("must be shorter than or equal to 255 characters".to_owned())
        );
        assert_eq!(
            Password::try_from("short".to_owned()),
            Err("must be longer than or equal to 8 characters".to_owned())
        );
    }

    #[test]
    fn avatar_urls_are_ascii_web_addresses() {
        let parse = |raw: &str| serde_json::from_value::<AvatarUrl>(serde_json::json!(raw));
        assert!(parse("https://example.com/a.png").is_ok_and(|url| !url.is_plain_http()));
        assert!(parse("HTTP://example.com/a.png").is_ok_and(|url| url.is_plain_http()));
        for refused in ["javascript:alert(1)", "https://Ï", "data:,x", "https://"] {
            assert!(parse(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn passwords_never_show_in_debug() {
        let password = Password::try_from("correct horse battery".to_owned());
        assert!(!format!("{password:?}").contains("horse"));
    }
}
