//! Deleting a user must cost the same whatever else the tables hold: every cascade path is
//! indexed. Each size gets a fresh database with that many rows of other users' messages (plus
//! proportional projects, memberships and conversations) and `repetitions` target users who own
//! `own_rows` rows each; each target's delete is timed.

use std::time::Instant;

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use shared::{DatabaseConfig, connect};

async fn execute(db: &DatabaseConnection, sql: &str) -> Result<(), String> {
    db.execute_raw(Statement::from_string(
        db.get_database_backend(),
        sql.to_owned(),
    ))
    .await
    .map(|_| ())
    .map_err(|error| format!("{error}: {sql}"))
}

pub async fn run(
    server: &str,
    sizes: &[u64],
    own_rows: u64,
    repetitions: usize,
) -> Result<(), String> {
    let server = DatabaseConfig::from_url(server).map_err(|error| error.to_string())?;
    let admin_config = server
        .with_database_name("postgres")
        .ok_or("the cascade benchmark needs PostgreSQL")?;
    let admin = connect(&admin_config)
        .await
        .map_err(|error| error.to_string())?;
    for &size in sizes {
        let name = format!("bench_cascade_{size}");
        execute(
            &admin,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .await?;
        execute(&admin, &format!("CREATE DATABASE {name}")).await?;
        let config = server
            .with_database_name(&name)
            .ok_or("the cascade benchmark needs PostgreSQL")?;
        let db = connect(&config).await.map_err(|error| error.to_string())?;
        let result = measure(&db, &config, size, own_rows, repetitions).await;
        db.close().await.ok();
        execute(
            &admin,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .await?;
        result?;
    }
    Ok(())
}

async fn measure(
    db: &DatabaseConnection,
    config: &DatabaseConfig,
    size: u64,
    own_rows: u64,
    repetitions: usize,
) -> Result<(), String> {
    migration::up(db, config)
        .await
        .map_err(|error| error.to_string())?;
    let users = (size / 1000).max(1);
    let projects = (size / 100).max(1);
    let conversations = (size / 10).max(1);
    let started = Instant::now();
    for sql in [
        format!(
            "INSERT INTO users (id, name, email) SELECT md5('u' || i)::uuid, 'u' || i, 'u' || i || '@example.com' \
             FROM generate_series(1, {users}) i"
        ),
        format!(
            "INSERT INTO projects (id, name, owner_id) SELECT md5('p' || i)::uuid, 'p' || i, md5('u' || (i % {users} + 1))::uuid \
             FROM generate_series(1, {projects}) i"
        ),
        format!(
            "INSERT INTO project_members (id, project_id, user_id) SELECT gen_random_uuid(), md5('p' || i)::uuid, md5('u' || (i % {users} + 1))::uuid \
             FROM generate_series(1, {projects}) i"
        ),
        format!(
            "INSERT INTO conversations (id, project_id, title, thread_id) SELECT md5('c' || i)::uuid, md5('p' || (i % {projects} + 1))::uuid, 'c', 'c' || i \
             FROM generate_series(1, {conversations}) i"
        ),
        format!(
            "INSERT INTO messages (id, conversation_id, user_id, user_message) SELECT gen_random_uuid(), md5('c' || (i % {conversations} + 1))::uuid, md5('u' || (i % {users} + 1))::uuid, 'hello' \
             FROM generate_series(1, {size}) i"
        ),
    ] {
        execute(db, &sql).await?;
    }
    // Each target owns: itself, 10 projects, 10 memberships, 80 conversations, and messages
    // for the rest of `own_rows`.
    let own_messages = own_rows.saturating_sub(101);
    for target in 1..=repetitions {
        let user = format!("md5('t{target}')::uuid");
        for sql in [
            format!(
                "INSERT INTO users (id, name, email) VALUES ({user}, 't', 't{target}@example.com')"
            ),
            format!(
                "INSERT INTO projects (id, name, owner_id) SELECT md5('t{target}p' || i)::uuid, 'tp', {user} FROM generate_series(1, 10) i"
            ),
            format!(
                "INSERT INTO project_members (id, project_id, user_id) SELECT gen_random_uuid(), md5('t{target}p' || i)::uuid, {user} FROM generate_series(1, 10) i"
            ),
            format!(
                "INSERT INTO conversations (id, project_id, title, thread_id) SELECT md5('t{target}c' || i)::uuid, md5('t{target}p' || (i % 10 + 1))::uuid, 'tc', 't{target}c' || i FROM generate_series(1, 80) i"
            ),
            format!(
                "INSERT INTO messages (id, conversation_id, user_id, user_message) SELECT gen_random_uuid(), md5('t{target}c' || (i % 80 + 1))::uuid, {user}, 'hi' FROM generate_series(1, {own_messages}) i"
            ),
        ] {
            execute(db, &sql).await?;
        }
    }
    execute(db, "ANALYZE").await?;
    eprintln!(
        "cascade: {size} rows of other users loaded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for target in 1..=repetitions {
        let started = Instant::now();
        execute(
            db,
            &format!("DELETE FROM users WHERE id = md5('t{target}')::uuid"),
        )
        .await?;
        println!(
            "cascade_{size}_ms {:.2}",
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    Ok(())
}
