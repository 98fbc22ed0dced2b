//! A session that holds the migration lock the way a hung migrator would.

use sea_orm::sqlx::{self, Connection, PgConnection};

use crate::TestDatabase;

/// A PostgreSQL session of its own, recognisable in `pg_stat_activity` by its
/// `application_name`, holding the migration lock until [`LockHolder::release`] (or until it
/// is dropped, which ends the session).
pub struct LockHolder {
    connection: PgConnection,
    /// Its backend's process id, as the lock's waiters name it.
    pub pid: i32,
}

impl LockHolder {
    /// Connects to `database` as `application_name` and takes the migration lock.
    pub async fn take(database: &TestDatabase, application_name: &str) -> Self {
        let options = database
            .config
            .postgres_options()
            .unwrap_or_else(|| panic!("a PostgreSQL test database has connect options"))
            .clone()
            .application_name(application_name);
        let mut connection = PgConnection::connect_with(&options)
            .await
            .unwrap_or_else(|error| panic!("connect the lock holder: {error}"));
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(migration::MIGRATION_LOCK_KEY)
            .execute(&mut connection)
            .await
            .unwrap_or_else(|error| panic!("take the migration lock: {error}"));
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut connection)
            .await
            .unwrap_or_else(|error| panic!("pg_backend_pid: {error}"));
        Self { connection, pid }
    }

    /// Gives the lock back (it must still hold it) and ends the session.
    pub async fn release(mut self) {
        let released: bool = sqlx::query_scalar("SELECT pg_advisory_unlock($1)")
            .bind(migration::MIGRATION_LOCK_KEY)
            .fetch_one(&mut self.connection)
            .await
            .unwrap_or_else(|error| panic!("release the migration lock: {error}"));
        assert!(released, "the holder held the lock");
        self.connection
            .close()
            .await
            .unwrap_or_else(|error| panic!("close the holder: {error}"));
    }
}
