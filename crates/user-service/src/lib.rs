//! The user-service: configuration, pool, and the `/health` and `/health/db` probes that later
//! milestones (auth, chat, billing) build on.

pub mod config;
mod cors;
pub mod database_health;
mod request_trace;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;

pub use config::Settings;
pub use startup::{Application, StartupError};
