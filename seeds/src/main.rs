//! `cargo run --bin seed`: loads the seed files into the database the migration CLI and the
//! service use. Exit 2 on bad configuration, 1 on any other failure.

use std::process::ExitCode;

use seeds::{DevelopmentPasswords, Outcome, Record, SeedError};
use shared::env::{AppEnv, ProcessEnv};
use shared::process::{self, Failure};
use shared::{DatabaseConfig, connect};

fn main() -> ExitCode {
    process::run(
        "seed",
        None,
        || {
            let config = DatabaseConfig::from_env(&ProcessEnv)?;
            let passwords = DevelopmentPasswords::for_deployment(&ProcessEnv, config.backend())?;
            Ok((AppEnv::from_env(&ProcessEnv)?, config, passwords))
        },
        |(app_env, config, passwords)| async move {
            println!(
                "Seeding {} (APP_ENV={})",
                config.describe(),
                app_env.as_str()
            );
            let records = match connect(&config).await {
                Ok(db) => {
                    let records = seeds::run(&db, passwords, &ProcessEnv).await;
                    db.close().await.ok();
                    records
                }
                Err(error) => Err(SeedError::Database(error)),
            };
            match records {
                Ok(records) => {
                    report(&records, passwords);
                    Ok(())
                }
                Err(error @ SeedError::DevelopmentPasswordsRefused { .. }) => {
                    Err(Failure::configuration(error.to_string()))
                }
                Err(error) => Err(Failure::new(config.explain_error(&error))),
            }
        },
    )
}

fn report(records: &[Record], passwords: DevelopmentPasswords) {
    let mut table = "";
    for record in records {
        if record.table != table {
            table = record.table;
            println!("\n{table}:");
        }
        match record.outcome {
            Outcome::Created => println!("  created         {}", record.key),
            Outcome::AlreadyExists => println!("  already exists  {}", record.key),
        }
    }
    println!("\nSummary:");
    for table in ["users", "agents"] {
        let of_table = records.iter().filter(|record| record.table == table);
        let created = of_table
            .clone()
            .filter(|record| record.outcome == Outcome::Created)
            .count();
        let existing = of_table.count() - created;
        println!("  {table}: {created} created, {existing} already existed");
    }
    if passwords == DevelopmentPasswords::Allowed {
        let credentials: Vec<_> = records
            .iter()
            .filter(|record| record.outcome == Outcome::Created)
            .filter_map(|record| Some((&record.key, record.development_password.as_ref()?)))
            .collect();
        if !credentials.is_empty() {
            println!("\nDevelopment credentials (never use these outside development):");
            for (email, password) in credentials {
                println!("  {email} / {password}");
            }
        }
    }
}
