//! The OpenAPI 3.1 document's frame: title, version, the bearer scheme and the tags. The paths
//! and schemas come from the handlers themselves (`http::api`); [`finish`] settles what the
//! generator leaves undone.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
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
        (name = "auth", description = "Register, log in, who am I"),
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

/// The finished document: an operation served for both `PUT` and `PATCH` by one handler gets
/// an id per method (`put_user`, `patch_user`), as operation ids must be unique.
pub fn finish(mut document: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    for item in document.paths.paths.values_mut() {
        for (method, operation) in [("put", &mut item.put), ("patch", &mut item.patch)] {
            if let Some(operation) = operation
                && let Some(id) = &operation.operation_id
                && let Some(resource) = id.strip_prefix("update_")
            {
                operation.operation_id = Some(format!("{method}_{resource}"));
            }
        }
    }
    document
}
