//! What the services' HTTP answers look like, for assertions: the error envelope every error
//! uses, the id of a created resource, and the fields of a representation.

use serde_json::{Value, json};

/// The reason phrase the envelope's `error` carries for `status`.
pub fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        other => panic!("no reason phrase known for {other}"),
    }
}

/// The error envelope `{"message", "error", "statusCode"}` for `status` with `message` (a
/// string, or an array of strings for a validation failure).
pub fn error_body(status: u16, message: impl Into<Value>) -> Value {
    json!({"message": message.into(), "error": reason(status), "statusCode": status})
}

/// The whole answer, status and envelope, to compare with what a call returned.
pub fn error(status: u16, message: impl Into<Value>) -> (u16, Value) {
    (status, error_body(status, message))
}

/// The `id` of a resource in an answer (panics when there is none).
pub fn id_of(body: &Value) -> String {
    let id = body["id"].as_str();
    id.unwrap_or_else(|| panic!("no id: {body}")).to_owned()
}

/// The field names of a JSON object, sorted and joined by spaces (panics when it is not an
/// object): what a representation shows, in one comparable string.
pub fn fields_of(value: &Value) -> String {
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"));
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys.join(" ")
}
