//! HTTP routes. Each module exposes `router()`; [`router`] merges them and adds the NestJS-style
//! 404 and 405 answers the original's clients already parse.

mod errors;
mod health;

use axum::Router;

use crate::state::AppState;

pub use errors::ErrorBody;

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .fallback(errors::not_found)
        .method_not_allowed_fallback(errors::method_not_allowed)
        .with_state(state)
}
