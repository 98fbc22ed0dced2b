//! A TCP proxy between the service and PostgreSQL that counts round trips: each time the server
//! answers after the client has sent something counts one, however many protocol messages
//! either side packed into its turn. `GET /` on the stats port answers `<round trips>
//! <connections>`, so `run.sh` can difference two readings around a series of sequential
//! requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
struct Counters {
    round_trips: AtomicU64,
    connections: AtomicU64,
}

pub async fn run(listen: u16, upstream: String, stats: u16) -> Result<(), String> {
    let counters = Arc::new(Counters::default());
    let listener = TcpListener::bind(("127.0.0.1", listen))
        .await
        .map_err(|error| format!("bind 127.0.0.1:{listen}: {error}"))?;
    let stats_listener = TcpListener::bind(("127.0.0.1", stats))
        .await
        .map_err(|error| format!("bind 127.0.0.1:{stats}: {error}"))?;
    let reader = counters.clone();
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || async move {
            format!(
                "{} {}\n",
                reader.round_trips.load(Ordering::SeqCst),
                reader.connections.load(Ordering::SeqCst)
            )
        }),
    );
    tokio::spawn(async move {
        if let Err(error) = axum::serve(stats_listener, app).await {
            eprintln!("bench proxy: stats: {error}");
        }
    });
    loop {
        let (client, _) = listener
            .accept()
            .await
            .map_err(|error| format!("accept: {error}"))?;
        let upstream = upstream.clone();
        let counters = counters.clone();
        tokio::spawn(async move {
            match TcpStream::connect(&upstream).await {
                Ok(server) => {
                    counters.connections.fetch_add(1, Ordering::SeqCst);
                    relay(client, server, counters).await;
                }
                Err(error) => eprintln!("bench proxy: connect {upstream}: {error}"),
            }
        });
    }
}

async fn relay(client: TcpStream, server: TcpStream, counters: Arc<Counters>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    // Set before the bytes go upstream, so an answer cannot arrive before its question is noted.
    let client_spoke = Arc::new(AtomicBool::new(false));
    let spoke = client_spoke.clone();
    let upstream = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        while let Ok(read) = client_read.read(&mut buffer).await {
            if read == 0 {
                break;
            }
            spoke.store(true, Ordering::SeqCst);
            if server_write.write_all(&buffer[..read]).await.is_err() {
                break;
            }
        }
        let _ = server_write.shutdown().await;
    };
    let downstream = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        while let Ok(read) = server_read.read(&mut buffer).await {
            if read == 0 {
                break;
            }
            if client_spoke.swap(false, Ordering::SeqCst) {
                counters.round_trips.fetch_add(1, Ordering::SeqCst);
            }
            if client_write.write_all(&buffer[..read]).await.is_err() {
                break;
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}
