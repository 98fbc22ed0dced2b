//! What every handler can reach: small, cheap to clone.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use shared::Backend;

use crate::database_health::DatabaseHealth;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub backend: Backend,
    pub database_health: Arc<DatabaseHealth>,
    pub health_db_timeout: Duration,
}
