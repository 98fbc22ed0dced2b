//! What every handler can reach. Cloned for every request, so it is one `Arc`: one reference
//! count to touch instead of one per field (contended atomics are not free under load).

use std::ops::Deref;
use std::sync::Arc;

use sea_orm::DatabaseConnection;
use shared::Backend;

use ipnet::IpNet;

use crate::auth::Auth;
use crate::database_health::{DatabaseHealth, DatabaseProbe};
use crate::domain::users::AvatarPolicy;

#[derive(Clone)]
pub struct AppState(Arc<AppContext>);

pub struct AppContext {
    pub db: DatabaseConnection,
    pub backend: Backend,
    pub database_health: Arc<DatabaseHealth>,
    pub database_probe: DatabaseProbe,
    pub auth: Auth,
    pub avatars: AvatarPolicy,
    pub trusted_proxies: Vec<IpNet>,
}

impl AppState {
    pub fn new(context: AppContext) -> Self {
        Self(Arc::new(context))
    }
}

impl Deref for AppState {
    type Target = AppContext;

    fn deref(&self) -> &AppContext {
        &self.0
    }
}
