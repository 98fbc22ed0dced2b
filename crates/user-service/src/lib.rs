//! The user-service: login, users, projects with members and roles, conversations with
//! messages, agents, and the `/health` and `/health/db` probes.
//!
//! Where things live (docs/ARCHITECTURE.md): `domain` holds the rules and knows no HTTP;
//! `auth` signs people in; `http` speaks HTTP (routes, extractors, errors, middleware, the
//! OpenAPI document) and calls the other two; `startup` wires them to a listener.

pub mod auth;
pub mod config;
pub mod database_health;
pub mod domain;
pub mod http;
pub mod startup;
pub mod state;
pub mod telemetry;

pub use config::Settings;
pub use startup::{Application, StartupError};
