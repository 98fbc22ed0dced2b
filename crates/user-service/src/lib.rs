//! The user-service: login, users, projects with members and roles, conversations with
//! messages, agents, and the `/health` and `/health/db` probes.

pub mod auth;
pub mod config;
mod cors;
pub mod database_health;
pub mod domain;
pub mod error;
mod extract;
pub mod http;
pub mod openapi;
pub mod pagination;
mod request_trace;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod throttle;
mod validation;

pub use config::Settings;
pub use startup::{Application, StartupError};
