//! The OpenAPI 3.1 document's frame: title, version, the bearer scheme and the tags. The paths
//! and schemas come from the handlers themselves (`http::api`); [`finish`] settles what the
//! generator leaves undone.

use axum::http::StatusCode;
use utoipa::openapi::content::Content;
use utoipa::openapi::header::Header;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};

use super::request_trace::REQUEST_ID;
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ChatAI user-service",
        description = "Login, users, projects with members and roles, conversations with messages, agents. Errors use the envelope {message, error, statusCode}; lists are keyset pages {data, meta}.",
    ),
    modifiers(&BearerToken),
    tags(
        (name = "health", description = "Liveness and readiness probes"),
        (name = "auth", description = "Register, log in, who am I; sessions and phone codes"),
        (name = "oauth", description = "Sign in with Google, Facebook and TikTok; the identities linked to an account"),
        (name = "users", description = "Accounts: admins manage all, users themselves"),
        (name = "projects", description = "Projects and their members, with roles"),
        (name = "conversations", description = "Chat threads and their messages"),
        (name = "agents", description = "The AI agents a message can address"),
    )
)]
pub struct ApiDoc;

/// The name of the security scheme handlers list in `security(...)`.
pub const BEARER: &str = "bearer";

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        api.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                BEARER,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .description(Some("The access_token from POST /auth/login"))
                        .build(),
                ),
            );
    }
}

/// The finished document. The generator leaves a few things to say once for every operation:
/// - an operation served for both `PUT` and `PATCH` by one handler gets an id per method
///   (`put_user`, `patch_user`), as operation ids must be unique;
/// - every response has a description (its reason phrase when the handler gave none);
/// - what any operation may answer besides its own statuses: 503 (the database is unavailable,
///   or the request ran past `REQUEST_TIMEOUT_MS`; `/health` alone never waits on anything),
///   and, for those with a body, 413 (over `REQUEST_BODY_LIMIT_BYTES`) and 415 (not JSON);
/// - the headers every answer carries (`x-request-id`), and those of 401 and 429.
pub fn finish(mut document: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    for (path, item) in document.paths.paths.iter_mut() {
        for (method, operation) in [("put", &mut item.put), ("patch", &mut item.patch)] {
            if let Some(operation) = operation
                && let Some(id) = &operation.operation_id
                && let Some(resource) = id.strip_prefix("update_")
            {
                operation.operation_id = Some(format!("{method}_{resource}"));
            }
        }
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            let waits = path != "/health";
            finish_responses(operation, waits);
        }
    }
    link_new_projects_to_their_conversations(&mut document);
    document
}

/// A project just created is where conversations start: the link says so to clients (and to
/// stateful contract tests, which otherwise never find a project to start a conversation in).
fn link_new_projects_to_their_conversations(document: &mut utoipa::openapi::OpenApi) {
    let created = document
        .paths
        .paths
        .get_mut("/projects")
        .and_then(|item| item.post.as_mut())
        .and_then(|operation| operation.responses.responses.get_mut("201"));
    if let Some(RefOr::T(response)) = created {
        let link = LinkBuilder::new()
            .operation_id("create_conversation")
            .request_body(Some(serde_json::json!({
                "project_id": "$response.body#/id",
                "title": "A conversation in the new project",
            })))
            .description("Start a conversation in the project just created.")
            .build();
        response
            .links
            .insert("StartConversation".to_owned(), RefOr::T(link));
    }
}

fn finish_responses(operation: &mut Operation, waits: bool) {
    let has_body = operation.request_body.is_some();
    let responses = &mut operation.responses.responses;
    let mut extra = Vec::new();
    if waits {
        extra.push(StatusCode::SERVICE_UNAVAILABLE);
    }
    if has_body {
        extra.extend([
            StatusCode::PAYLOAD_TOO_LARGE,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ]);
    }
    for status in extra {
        responses
            .entry(status.as_str().to_owned())
            .or_insert_with(|| error_response(status).into());
    }
    for (status, response) in responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let code = status
            .parse::<u16>()
            .ok()
            .and_then(|code| StatusCode::from_u16(code).ok());
        if response.description.is_empty() {
            response.description = code
                .and_then(|code| code.canonical_reason())
                .unwrap_or("Response")
                .to_owned();
        }
        response.headers.insert(
            REQUEST_ID.as_str().to_owned(),
            header(
                "The request's id: the client's when it is at most 128 characters of A-Z a-z 0-9 . _ : -, else a new one.",
            ),
        );
        match code {
            Some(StatusCode::UNAUTHORIZED) => {
                response
                    .headers
                    .insert("www-authenticate".to_owned(), header("`Bearer`"));
            }
            Some(StatusCode::TOO_MANY_REQUESTS) => {
                let seconds = ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1));
                let mut retry_after = Header::new(seconds);
                retry_after.description =
                    Some("Seconds until another attempt may succeed.".to_owned());
                response
                    .headers
                    .insert("retry-after".to_owned(), RefOr::T(retry_after));
            }
            _ => {}
        }
    }
}

/// An error answer in the envelope, with its reason phrase as description.
fn error_response(status: StatusCode) -> Response {
    ResponseBuilder::new()
        .description(status.canonical_reason().unwrap_or("Error"))
        .content(
            "application/json",
            Content::new(Some(RefOr::Ref(Ref::from_schema_name("ErrorBody")))),
        )
        .build()
}

fn header(description: &str) -> RefOr<Header> {
    let mut header = Header::new(ObjectBuilder::new().schema_type(Type::String));
    header.description = Some(description.to_owned());
    RefOr::T(header)
}
