//! `cargo run --bin seed`: loads the seed files into the database the migration CLI and the
//! service use. Exit 2 on bad configuration, 1 on any other failure.

use std::process::ExitCode;

use seeds::{DevelopmentPasswords, Outcome, Record, SeedError};
use shared::env::{AppEnv, ProcessEnv, load_dotenv};
use shared::{DatabaseConfig, connect};

fn main() -> ExitCode {
    let settings = load_dotenv(None).and_then(|()| {
        let config = DatabaseConfig::from_env(&ProcessEnv)?;
        let passwords = DevelopmentPasswords::for_deployment(&ProcessEnv, config.backend())?;
        Ok((AppEnv::from_env(&ProcessEnv)?, config, passwords))
    });
    let (app_env, config, passwords) = match settings {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("seed: invalid configuration: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("seed: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "Seeding {} (APP_ENV={})",
        config.describe(),
        app_env.as_str()
    );
    let result = runtime.block_on(async {
        let db = connect(&config).await?;
        let records = seeds::run(&db, passwords, &ProcessEnv).await;
        db.close().await.ok();
        records
    });
    match result {
        Ok(records) => {
            report(&records, passwords);
            ExitCode::SUCCESS
        }
        Err(error @ SeedError::DevelopmentPasswordsRefused { .. }) => {
            eprintln!("seed: {error}");
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("seed failed: {error}");
            ExitCode::FAILURE
        }
    }
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
