use std::process::ExitCode;

use shared::env::ProcessEnv;
use shared::process::{self, Failure};
use user_service::{Application, Settings, telemetry};

fn main() -> ExitCode {
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
