//! A TCP proxy in front of PostgreSQL that a test can cut, restore, or make hang.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward bytes both ways.
    Forward,
    /// Refuse: accept and close at once; open connections are cut.
    Down,
    /// Accept and never answer; open connections are cut.
    Hang,
    /// Accept and never answer; open connections stay open but pass nothing, until the next
    /// change of mode cuts them.
    Stall,
}

/// sqlx's check of a connection coming back to its pool: a lone `Sync` message. Anything else a
/// client sends is a query.
const LONE_SYNC: &[u8] = b"S\0\0\0\x04";

pub struct Proxy {
    pub port: u16,
    mode: watch::Sender<Mode>,
    silenced: Arc<watch::Sender<u64>>,
    _tasks: Arc<Mutex<JoinSet<()>>>,
    acceptor: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr, mode: Mode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|error| panic!("proxy bind: {error}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|error| panic!("proxy addr: {error}"))
            .port();
        let (mode_tx, mode_rx) = watch::channel(mode);
        let silenced = Arc::new(watch::Sender::new(0));
        let tasks = Arc::new(Mutex::new(JoinSet::new()));
        let acceptor_tasks = tasks.clone();
        let acceptor_silenced = silenced.clone();
        let acceptor = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mode_rx = mode_rx.clone();
                let mut tasks = acceptor_tasks
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner());
                tasks.spawn(handle(client, upstream, mode_rx, acceptor_silenced.clone()));
            }
        });
        Self {
            port,
            mode: mode_tx,
            silenced,
            _tasks: tasks,
            acceptor,
        }
    }

    pub fn set(&self, mode: Mode) {
        let _ = self.mode.send(mode);
    }

    /// Waits until at least `count` round trips are waiting on the silent database (`Hang` or
    /// `Stall`): a connection opened while it is silent, or a query sent on a connection it
    /// silenced. sqlx's lone `Sync` when a connection goes back to its pool does not count.
    pub async fn wait_for_silenced_round_trips(&self, count: u64, within: Duration) {
        let mut silenced = self.silenced.subscribe();
        let reached = tokio::time::timeout(within, silenced.wait_for(|seen| *seen >= count))
            .await
            .is_ok_and(|seen| seen.is_ok());
        assert!(
            reached,
            "{} round trip(s) reached the silent database within {within:?}, expected {count}",
            *silenced.borrow()
        );
    }

    /// A `postgres://` URL through this proxy to `database`.
    pub fn url(&self, database_url: &str) -> String {
        let mut url = url::Url::parse(database_url).unwrap_or_else(|error| panic!("{error}"));
        let _ = url.set_host(Some("127.0.0.1"));
        let _ = url.set_port(Some(self.port));
        url.to_string()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

async fn handle(
    mut client: TcpStream,
    upstream: SocketAddr,
    mut mode: watch::Receiver<Mode>,
    silenced: Arc<watch::Sender<u64>>,
) {
    let started_as = *mode.borrow_and_update();
    match started_as {
        Mode::Down => {}
        Mode::Hang | Mode::Stall => {
            // Hold the socket open, say nothing, until told otherwise.
            silenced.send_modify(|count| *count += 1);
            let _ = mode.wait_for(|now| *now != started_as).await;
        }
        Mode::Forward => {
            let Ok(mut server) = TcpStream::connect(upstream).await else {
                return;
            };
            let changed = tokio::select! {
                // The mode first: a test changes it before it sends the request whose bytes it
                // means to catch, and an unbiased select could forward them before it looked.
                biased;
                changed = mode.wait_for(|mode| *mode != Mode::Forward) => changed.map(|now| *now),
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
            };
            if matches!(changed, Ok(Mode::Stall)) {
                // Both sockets stay open and silent until the mode changes again.
                hold_silently(&mut client, &mut mode, &silenced).await;
            }
            drop((client, server));
        }
    }
}

/// Reads what the client sends and forwards none of it, until the mode leaves `Stall`; counts
/// the connection in `silenced` once the client has sent more than a lone `Sync`.
async fn hold_silently(
    client: &mut TcpStream,
    mode: &mut watch::Receiver<Mode>,
    silenced: &watch::Sender<u64>,
) {
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    let mut open = true;
    let mut counted = false;
    loop {
        tokio::select! {
            _ = mode.wait_for(|now| *now != Mode::Stall) => return,
            read = client.read(&mut buffer), if open => match read {
                Ok(0) | Err(_) => open = false,
                Ok(read) if !counted => {
                    received.extend_from_slice(&buffer[..read]);
                    if !LONE_SYNC.starts_with(&received) {
                        counted = true;
                        silenced.send_modify(|count| *count += 1);
                    }
                }
                Ok(_) => {}
            },
        }
    }
}

/// Where the test PostgreSQL server listens, from a `postgres://` URL.
pub fn upstream_of(database_url: &str) -> SocketAddr {
    let url = url::Url::parse(database_url).unwrap_or_else(|error| panic!("{error}"));
    let host = url.host_str().unwrap_or("127.0.0.1");
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{}", url.port().unwrap_or(5432))
        .parse()
        .unwrap_or_else(|error| panic!("upstream address: {error}"))
}
