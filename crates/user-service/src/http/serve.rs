//! Accepting connections and serving HTTP/1.1 on them, with the bounds a hostile client needs:
//! the time a connection may take to send a request's headers (slow-header clients, and idle
//! keep-alive connections, are closed after it), and how many connections are open at once (never
//! more than the process can hold file descriptors for, so `accept` never starts failing for
//! everyone). A client past the bound waits in the kernel's backlog until a place frees.
//!
//! axum's own `serve` has neither bound: it sets no header timeout and accepts until the process
//! runs out of descriptors.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::{Service, ServiceExt};

/// The bounds of [`serve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a connection may take to send a request's headers, and may sit idle between
    /// requests.
    pub header_read_timeout: Duration,
    /// How many connections may be open at once.
    pub max_connections: usize,
}

/// Serves `service` on every connection `listener` accepts until `shutdown` completes; then
/// stops accepting and waits for the open connections to finish (idle ones close at once). Each
/// request carries its connection's peer address (`ConnectInfo<SocketAddr>`).
pub async fn serve<S>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let graceful = GracefulShutdown::new();
    let places = Arc::new(Semaphore::new(limits.max_connections));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A place first: past the bound, new clients wait in the backlog, not in our memory.
        let place = tokio::select! {
            place = places.clone().acquire_owned() => match place {
                Ok(place) => place,
                Err(_) => break,
            },
            () = shutdown.as_mut() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            () = shutdown.as_mut() => break,
        };
        let service = service.clone();
        let per_request = hyper::service::service_fn(move |request: Request<Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            service.clone().oneshot(request)
        });
        let connection =
            graceful.watch(builder.serve_connection(TokioIo::new(stream), per_request));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                // A client that was too slow, or went away: its business, not the log's.
                tracing::debug!(%peer, timeout = error.is_timeout(), %error, "connection ended");
            }
            drop(place);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// A failed `accept`: the client gave up (try the next one at once), or the process is short of
/// something (log it, and give it a second, as axum does).
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accept failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// File descriptors the process keeps for other things than client connections: the database
/// pool, Redis, the listener, logs, the argon2 threads' nothing, and a margin.
pub const RESERVED_DESCRIPTORS: usize = 256;

/// How many connections the process can hold: its open-file limit (raised to the hard limit
/// first, where it may be) less what it needs besides; at most `wanted`.
pub fn connection_bound(wanted: usize, pool_size: u32) -> usize {
    let descriptors = raise_open_file_limit();
    let reserved = RESERVED_DESCRIPTORS + pool_size as usize;
    match descriptors {
        Some(limit) => wanted.min(limit.saturating_sub(reserved)).max(1),
        None => wanted,
    }
}

/// Raises the soft open-file limit to the hard one (the default soft limit, 1024, is far below
/// what a server needs) and answers the limit now in force.
#[cfg(unix)]
fn raise_open_file_limit() -> Option<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    usize::try_from(limit.rlim_cur).ok()
}

#[cfg(not(unix))]
fn raise_open_file_limit() -> Option<usize> {
    None
}
