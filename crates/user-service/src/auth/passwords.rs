//! Password hashing off the async runtime: argon2 on threads of its own.

use std::time::Duration;

use shared::entities::Sensitive;
use shared::password::{self, HashCost, Scratch};
use tracing::Span;

use crate::config::AuthSettings;
use crate::domain::users::PasswordHashing;
use crate::domain::values::{GivenPassword, Password};
use crate::domain::{Error, Result};

/// argon2 off the async runtime, on `hash_concurrency` threads of its own, so a login flood
/// queues for them instead of taking every worker thread; a queued job whose request gave up is
/// skipped. Each thread verifies in argon2 memory (19 MiB) it keeps while it has work and gives
/// back after [`IDLE_RELEASE`] without any; a new hash (registration, password change) allocates
/// its own for its duration. Memory is bounded by the thread count during a flood and returns to
/// idle after it.
pub struct Passwords {
    jobs: crossbeam_channel::Sender<Job>,
    cost: HashCost,
    /// Verified against when there is no hash to verify (unknown email, account without a
    /// password), so every failed login costs the same.
    dummy: Sensitive,
}

type Job = Box<dyn FnOnce(&mut Scratch) + Send>;

/// How long a hashing thread keeps its argon2 memory without work.
pub const IDLE_RELEASE: Duration = Duration::from_secs(1);

impl Passwords {
    pub fn new(settings: &AuthSettings) -> Result<Self, String> {
        let dummy = settings
            .hash_cost
            .unmatched_hash()
            .map_err(|error| error.to_string())?;
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        for index in 0..settings.hash_concurrency {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("password-{index}"))
                .spawn(move || hash_worker(&queue))
                .map_err(|error| format!("cannot start a hashing thread: {error}"))?;
        }
        Ok(Self {
            jobs,
            cost: settings.hash_cost,
            dummy: Sensitive::new(dummy),
        })
    }

    /// The stored form of `plain`.
    pub async fn hash(&self, plain: String) -> Result<Sensitive> {
        let cost = self.cost;
        let hashed = self
            .run(move |_| password::hash(&plain, cost))
            .await?
            .map_err(|error| Error::Internal(error.to_string()))?;
        Ok(Sensitive::new(hashed))
    }

    /// Whether `plain` matches `stored`. Without a stored hash it still pays one verification
    /// and answers false.
    pub async fn verify(&self, plain: String, stored: Option<Sensitive>) -> Result<bool> {
        let matches_stored = stored.is_some();
        let phc = stored.unwrap_or_else(|| self.dummy.clone());
        let matched = self
            .run(move |scratch| password::verify_with(&plain, phc.expose(), scratch))
            .await?;
        Ok(matched && matches_stored)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Scratch) -> T + Send + 'static,
    ) -> Result<T> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let span = Span::current();
        let job: Job = Box::new(move |scratch| {
            // A request that gave up (timed out, client gone) while queued costs nothing more.
            if !reply.is_closed() {
                let _ = reply.send(span.in_scope(|| work(scratch)));
            }
        });
        self.jobs
            .send(job)
            .map_err(|_| Error::Internal("the hashing threads are gone".to_owned()))?;
        answer
            .await
            .map_err(|_| Error::Internal("a hashing thread failed".to_owned()))
    }
}

/// One hashing thread: runs jobs in its own argon2 memory, gives the memory back when idle, and
/// ends when the [`Passwords`] it serves is dropped.
fn hash_worker(queue: &crossbeam_channel::Receiver<Job>) {
    let mut scratch = Scratch::default();
    loop {
        match queue.recv_timeout(IDLE_RELEASE) {
            Ok(job) => job(&mut scratch),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => scratch.release(),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
        }
    }
}

impl PasswordHashing for Passwords {
    async fn hash(&self, plain: Password) -> Result<Sensitive> {
        Passwords::hash(self, plain.into_string()).await
    }

    async fn verify(&self, plain: GivenPassword, stored: Option<Sensitive>) -> Result<bool> {
        Passwords::verify(self, plain.into_string(), stored).await
    }
}
