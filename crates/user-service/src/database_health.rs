//! What the service knows about its database, kept apart from HTTP so it can be tested and
//! reused: a bounded round trip ([`ping`]), readiness checks that share round trips
//! ([`DatabaseProbe`]), and the last known state that `/health` reports without ever waiting on
//! the database.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement};
use tokio::sync::{mpsc, oneshot};

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
    #[error("service is stopping")]
    Stopped,
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

/// What a readiness check learns: the `result` column, or why there is none. Shared by every
/// check that waited on the same round trip.
pub type CheckOutcome = Result<i32, Arc<PingError>>;

/// Readiness checks (`/health/db`), answered with real round trips that concurrent checks
/// share.
///
/// A check never reuses an earlier answer: it waits for the next round trip that *starts*
/// after it arrived. Every check already waiting when a round trip starts gets its outcome, so
/// a fleet of load balancers probing at once costs the database one `SELECT 1`, not one per
/// probe, and cannot take the pool away from real traffic. A lone check costs one round trip,
/// as before.
///
/// This matters more than it looks: sqlx returns each pooled connection with a second round
/// trip (a `Sync` it waits on in a spawned task), so every uncoalesced check was two round
/// trips and a task (docs/BENCHMARKS.md).
#[derive(Clone)]
pub struct DatabaseProbe {
    checks: mpsc::Sender<oneshot::Sender<CheckOutcome>>,
    timeout: Duration,
    round_trips: Arc<AtomicU64>,
}

/// At most this many checks share one round trip; more wait for the next one.
const MAX_CHECKS_PER_ROUND_TRIP: usize = 1024;

impl DatabaseProbe {
    /// The outcome of a round trip that starts after this call, within the timeout.
    pub async fn check(&self) -> CheckOutcome {
        let (answer, outcome) = oneshot::channel();
        let wait = async {
            let stopped = || Arc::new(PingError::Stopped);
            self.checks.send(answer).await.map_err(|_| stopped())?;
            outcome.await.map_err(|_| stopped())?
        };
        tokio::time::timeout(self.timeout, wait)
            .await
            .unwrap_or_else(|_| Err(Arc::new(PingError::Timeout(self.timeout))))
    }

    /// How many round trips the probe has made so far, periodic ones included.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }
}

/// Starts the task that owns the database round trips: one every `interval` when nobody asks
/// (so `/health` knows the last state), and one for each batch of waiting checks. Each is
/// bounded by `timeout`, and each outcome is recorded in `health`. Stops when the handle is
/// aborted.
pub fn spawn_probe(
    db: DatabaseConnection,
    health: Arc<DatabaseHealth>,
    interval: Duration,
    timeout: Duration,
) -> (DatabaseProbe, tokio::task::JoinHandle<()>) {
    let (checks, mut waiting) = mpsc::channel(MAX_CHECKS_PER_ROUND_TRIP);
    let round_trips = Arc::new(AtomicU64::new(0));
    let counter = round_trips.clone();
    let task = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut answers: Vec<oneshot::Sender<CheckOutcome>> = Vec::new();
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                received = waiting.recv_many(&mut answers, MAX_CHECKS_PER_ROUND_TRIP) => {
                    if received == 0 {
                        return; // every `DatabaseProbe` is gone
                    }
                }
            }
            // Checks that queued while the ticker fired share this round trip too.
            while answers.len() < MAX_CHECKS_PER_ROUND_TRIP
                && let Ok(answer) = waiting.try_recv()
            {
                answers.push(answer);
            }
            // Everything in `answers` arrived before this round trip starts.
            let outcome = ping(&db, timeout).await;
            counter.fetch_add(1, Ordering::Relaxed);
            if let Err(error) = &outcome {
                // The cause goes to the log; checks get the short generic text.
                if answers.is_empty() {
                    tracing::debug!(error = %error_chain(error), "database probe failed");
                } else {
                    tracing::warn!(error = %error_chain(error), checks = answers.len(), "/health/db failed");
                }
            }
            health.record(&outcome);
            let outcome = outcome.map_err(Arc::new);
            for answer in answers.drain(..) {
                // A check that gave up (its own timeout) has dropped its receiver.
                let _ = answer.send(outcome.clone());
            }
            ticker.reset();
        }
    });
    let probe = DatabaseProbe {
        checks,
        timeout,
        round_trips,
    };
    (probe, task)
}
