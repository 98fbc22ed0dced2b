//! What the service knows about its database, kept apart from HTTP so it can be tested and
//! reused: a bounded round trip ([`ping`]) and the last known state that `/health` reports
//! without ever waiting on the database.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement};

/// Why a ping failed. The `Display` text is short and generic: it is what clients see. The
/// underlying error goes to the log only.
#[derive(Debug, thiserror::Error)]
pub enum PingError {
    #[error("database did not answer within {0:?}")]
    Timeout(Duration),
    #[error("database unavailable")]
    Unavailable(#[source] DbErr),
    #[error("database returned an unexpected result")]
    UnexpectedResult,
}

/// `SELECT 1 as result`, bounded by `timeout`. Returns the `result` column.
pub async fn ping(db: &DatabaseConnection, timeout: Duration) -> Result<i32, PingError> {
    let statement = Statement::from_string(db.get_database_backend(), "SELECT 1 as result");
    let row = tokio::time::timeout(timeout, db.query_one_raw(statement))
        .await
        .map_err(|_| PingError::Timeout(timeout))?
        .map_err(PingError::Unavailable)?
        .ok_or(PingError::UnexpectedResult)?;
    row.try_get::<i32>("", "result")
        .map_err(|_| PingError::UnexpectedResult)
}

/// The last known state of the database, shared by the probe task and the handlers.
#[derive(Debug, Default)]
pub struct DatabaseHealth {
    connected: AtomicBool,
}

impl DatabaseHealth {
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Records the outcome of a ping, logging only when the state changes.
    pub fn record(&self, outcome: &Result<i32, PingError>) {
        let connected = outcome.is_ok();
        let was = self.connected.swap(connected, Ordering::Relaxed);
        match outcome {
            Ok(_) if !was => tracing::info!("database connected"),
            Err(error) if was => {
                tracing::warn!(error = %error_chain(error), "database disconnected")
            }
            _ => {}
        }
    }
}

/// The full cause of a ping failure, for the log.
pub fn error_chain(error: &PingError) -> String {
    match error {
        PingError::Unavailable(cause) => format!("{error}: {cause}"),
        other => other.to_string(),
    }
}

/// Pings the database every `interval` (each ping bounded by `timeout`) and records the
/// outcome, until the returned handle is aborted.
pub fn spawn_probe(
    db: DatabaseConnection,
    health: Arc<DatabaseHealth>,
    interval: Duration,
    timeout: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let outcome = ping(&db, timeout).await;
            if let Err(error) = &outcome {
                tracing::debug!(error = %error_chain(error), "database probe failed");
            }
            health.record(&outcome);
        }
    })
}
