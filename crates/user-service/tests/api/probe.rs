//! Readiness checks share round trips: a burst of checks costs the database one `SELECT 1`,
//! and each check still gets a real answer.

use std::sync::Arc;
use std::time::Duration;

use test_support::{TestDatabase, postgres_or_skip};
use user_service::database_health::{DatabaseHealth, spawn_probe};

// Single-threaded on purpose: all 64 checks are queued before the probe task runs again, so
// the outcome does not depend on thread timing.
#[tokio::test(flavor = "current_thread")]
async fn postgres_a_burst_of_checks_shares_one_round_trip() {
    a_burst_of_checks_shares_one_round_trip(postgres_or_skip!()).await;
}

#[tokio::test(flavor = "current_thread")]
async fn sqlite_a_burst_of_checks_shares_one_round_trip() {
    a_burst_of_checks_shares_one_round_trip(TestDatabase::sqlite().await).await;
}

async fn a_burst_of_checks_shares_one_round_trip(database: TestDatabase) {
    let health = Arc::new(DatabaseHealth::default());
    let (probe, task) = spawn_probe(
        database.db.clone(),
        health.clone(),
        Duration::from_secs(600),
        Duration::from_secs(5),
    );
    assert_eq!(probe.check().await.ok(), Some(1));
    assert!(health.is_connected());
    let before = probe.round_trips();

    let checks: Vec<_> = (0..64)
        .map(|_| {
            let probe = probe.clone();
            tokio::spawn(async move { probe.check().await.ok() })
        })
        .collect();
    for check in checks {
        assert_eq!(check.await.ok().flatten(), Some(1));
    }
    let round_trips = probe.round_trips() - before;
    assert!(
        (1..=2).contains(&round_trips),
        "64 checks took {round_trips} round trips"
    );
    task.abort();
}
