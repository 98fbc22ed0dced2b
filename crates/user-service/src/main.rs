use std::process::ExitCode;

use shared::env::ProcessEnv;
use shared::process::{self, Failure};
use user_service::{Application, Settings, telemetry};

fn main() -> ExitCode {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    return_large_blocks_to_the_system();
    let workspace_root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    process::run(
        "user-service",
        Some(workspace_root),
        || Settings::from_env(&ProcessEnv),
        |settings| async move {
            telemetry::init(&settings.log);
            // To name the TLS settings when TLS to PostgreSQL is what failed.
            let database = settings.database.clone();
            let served = match Application::build(settings).await {
                Ok(application) => application.run_until(shutdown_signal()).await,
                Err(error) => Err(error),
            };
            served.map_err(|error| {
                let message = database.explain_error(&error);
                tracing::error!("{message}");
                if error.is_configuration() {
                    Failure::configuration(message)
                } else {
                    Failure::new(message)
                }
            })
        },
    )
}

/// glibc's malloc raises its mmap threshold to the size of the largest block freed, so after
/// the first argon2 block (19 MiB) is freed every later one comes from the heap and stays there
/// when freed, so a login flood left hundreds of megabytes resident for good (figures in
/// docs/BENCHMARKS.md). Pinning the threshold keeps each
/// block of 4 MiB or more a mapping of its own, returned to the system when freed (the hashing
/// threads reuse theirs while they have work, see `auth::Passwords`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_blocks_to_the_system() {
    // SAFETY: mallopt only sets a malloc tuning parameter; it runs before any other thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
