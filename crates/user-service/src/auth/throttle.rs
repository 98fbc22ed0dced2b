//! Attempt budgets shared by replicas: the login throttle (failed logins per email, phone and
//! client address), the registration throttle (registrations per client address) and the phone
//! code throttle (codes per number and per client address).
//!
//! A budget allows `limit` *counted* attempts within its sliding window. An attempt first takes a
//! *pending* place in every budget it draws on, atomically with the check, and settles it when
//! its outcome is known: counted (a failed password check, a registration) or not (a login that
//! succeeded). A budget full of counted attempts refuses (429, `Retry-After` until the oldest
//! leaves the window); a budget full only because of pending attempts makes the newcomer wait
//! for them to settle. So twenty concurrent wrong logins get exactly the budget of password
//! checks, and twenty concurrent right ones all succeed: only failures count.
//!
//! With `REDIS_URL` the windows live in Redis (two sorted sets per budget, counted and pending,
//! each step one Lua script: one round trip, Redis's clock), shared by every replica. Without
//! it, or while Redis is unreachable, they live in the process; the switch is logged once each
//! way, and a background check brings Redis back. A pending place a crashed replica never
//! settled is forgotten after [`PENDING_LIFETIME`].

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};

/// How long a pending place holds without being settled: longer than any request may take.
pub const PENDING_LIFETIME: Duration = Duration::from_secs(60);

/// How long an attempt waits for pending attempts to settle before it is refused.
const SETTLE_WAIT: Duration = Duration::from_secs(10);

/// How often a waiting attempt looks again.
const SETTLE_POLL: Duration = Duration::from_millis(20);

/// One budget an attempt draws on: its key, and how many counted attempts it allows within
/// what window.
#[derive(Debug, Clone)]
pub struct Budget {
    pub key: String,
    pub limit: u32,
    pub window: Duration,
}

/// The answer to an attempt.
#[derive(Debug)]
pub enum Verdict {
    /// Go on; settle the reservation when the outcome is known.
    Allowed(Reservation),
    /// Answer 429 with this `Retry-After`.
    Blocked { retry_after_secs: u64 },
}

/// One attempt's pending place in each budget.
#[derive(Debug)]
struct Attempt {
    keys: Vec<String>,
    /// Each budget's limit and window, in the order of `keys`.
    limits: Vec<(u32, Duration)>,
    member: String,
    in_redis: bool,
}

/// A pending place in each budget, held for one attempt until it is settled. One that is
/// dropped unsettled (the client went away and its request was dropped) is given back, not
/// counted: a stuck pending place would make every later attempt on its budgets wait.
#[derive(Debug)]
pub struct Reservation {
    attempt: Option<Attempt>,
    windows: Arc<Windows>,
}

impl Reservation {
    /// Ends the reservation: `counted` keeps the attempt in its budgets for their windows.
    /// Answers how long until every budget has room again (zero when they have).
    pub async fn settle(mut self, counted: bool) -> Duration {
        match self.attempt.take() {
            Some(attempt) => self.windows.settle(&attempt, counted).await,
            None => Duration::ZERO,
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let Some(attempt) = self.attempt.take() else {
            return;
        };
        if !attempt.in_redis {
            self.windows.local().settle(&attempt, false);
            return;
        }
        // Without a runtime to reach Redis with, the place expires after PENDING_LIFETIME.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let windows = self.windows.clone();
            runtime.spawn(async move { windows.settle(&attempt, false).await });
        }
    }
}

/// What one reservation step found.
enum Step {
    Reserved,
    /// A budget is full of counted attempts: free again in this long.
    Full(Duration),
    /// A budget is full only with pending attempts.
    Busy,
}

/// KEYS: for each budget its counted set then its pending set. ARGV: pending lifetime ms,
/// member, then each budget's limit and window ms. Answers 0 (reserved), -1 (busy) or the
/// milliseconds until the fullest budget frees a place.
const RESERVE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local pending_life = tonumber(ARGV[1])
local wait = 0
local busy = false
for i = 1, #KEYS / 2 do
  local counted, pending = KEYS[2 * i - 1], KEYS[2 * i]
  local limit, window = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', counted, '-inf', now - window)
  redis.call('ZREMRANGEBYSCORE', pending, '-inf', now - pending_life)
  local used = redis.call('ZCARD', counted)
  if used >= limit then
    local oldest = redis.call('ZRANGE', counted, 0, 0, 'WITHSCORES')
    local free_in = tonumber(oldest[2]) + window - now
    if free_in > wait then wait = free_in end
  elseif used + redis.call('ZCARD', pending) >= limit then
    busy = true
  end
end
if wait > 0 then return wait end
if busy then return -1 end
for i = 1, #KEYS / 2 do
  redis.call('ZADD', KEYS[2 * i], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[2 * i], pending_life)
end
return 0
";

/// KEYS as for [`RESERVE`]. ARGV: member, `1` to count the attempt, then each budget's limit
/// and window ms. Answers the milliseconds until every budget has a free place (0: now).
const SETTLE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
for i = 1, #KEYS / 2 do
  local counted = KEYS[2 * i - 1]
  local limit, window = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
  redis.call('ZREM', KEYS[2 * i], ARGV[1])
  if ARGV[2] == '1' then
    redis.call('ZADD', counted, now, ARGV[1])
    redis.call('PEXPIRE', counted, window)
  end
  if redis.call('ZCARD', counted) >= limit then
    local oldest = redis.call('ZRANGE', counted, -limit, -limit, 'WITHSCORES')
    local free_in = tonumber(oldest[2]) + window - now
    if free_in > wait then wait = free_in end
  end
end
return wait
";

/// The throttle's budgets, cheap to clone.
#[derive(Clone)]
pub struct Throttle(Arc<Windows>);

/// Where the budgets are counted: Redis while it answers, else the process.
struct Windows {
    prefix: String,
    redis: Option<RedisWindows>,
    local: Mutex<LocalWindows>,
    /// Attempts waiting to try a budget, by its key: tokio's mutex serves them in order.
    lines: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for Windows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Windows")
            .field("prefix", &self.prefix)
            .finish()
    }
}

struct RedisWindows {
    connection: ConnectionManager,
    reserve: Script,
    settle: Script,
    up: AtomicBool,
}

impl Throttle {
    /// The throttle, with Redis when `redis_url` is given. Never waits for Redis: a server that
    /// is down at start is reported as disconnected and used once it answers.
    pub fn new(redis_url: Option<&str>, prefix: String) -> Result<Self, redis::RedisError> {
        Windows::new(redis_url, prefix).map(|windows| Self(Arc::new(windows)))
    }

    /// `Some(true/false)`: Redis is configured and (not) answering; `None`: not configured.
    pub fn redis_connected(&self) -> Option<bool> {
        self.0.redis_connected()
    }

    /// A pending place in every one of `budgets` (keys under the service's prefix); waits while
    /// pending attempts alone fill a budget.
    pub async fn reserve(&self, budgets: &[Budget]) -> Verdict {
        self.0.reserve(budgets).await
    }

    /// Pings Redis (when configured) and updates its state; the health probe calls it.
    pub async fn check_redis(&self) {
        self.0.check_redis().await;
    }
}

/// A connection to Redis that never waits for it: connected on first use, each step bounded
/// (500 ms to connect or answer, one retry), so a Redis that is down costs a request little.
pub fn redis_connection(url: &str) -> Result<ConnectionManager, redis::RedisError> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_millis(500)))
        .set_response_timeout(Some(Duration::from_millis(500)))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(200));
    Client::open(url)?.get_connection_manager_lazy(config)
}

impl Windows {
    /// The throttle, with Redis when `redis_url` is given. Never waits for Redis: a server that
    /// is down at start is reported as disconnected and used once it answers.
    fn new(redis_url: Option<&str>, prefix: String) -> Result<Self, redis::RedisError> {
        let redis = match redis_url {
            None => None,
            Some(url) => {
                let connection = redis_connection(url)?;
                Some(RedisWindows {
                    connection,
                    reserve: Script::new(RESERVE),
                    settle: Script::new(SETTLE),
                    up: AtomicBool::new(true),
                })
            }
        };
        Ok(Self {
            prefix,
            redis,
            local: Mutex::new(LocalWindows::default()),
            lines: Mutex::new(HashMap::new()),
        })
    }

    /// The waiting line of `key` in this process (created on demand, forgotten when unused).
    fn line(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut lines = self
            .lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if lines.len() >= 1024 {
            lines.retain(|_, line| line.strong_count() > 0);
        }
        if let Some(line) = lines.get(key).and_then(Weak::upgrade) {
            return line;
        }
        let line = Arc::new(tokio::sync::Mutex::new(()));
        lines.insert(key.to_owned(), Arc::downgrade(&line));
        line
    }

    fn redis_connected(&self) -> Option<bool> {
        self.redis
            .as_ref()
            .map(|redis| redis.up.load(Ordering::Relaxed))
    }

    async fn reserve(self: &Arc<Self>, budgets: &[Budget]) -> Verdict {
        // One attempt at a time tries each first budget (an email, an address) in this process,
        // first come first served: a newcomer queues behind the attempts already waiting instead
        // of taking the place that just freed from under them.
        let line = self.line(budgets.first().map_or("", |budget| budget.key.as_str()));
        let _turn = line.lock().await;
        let attempt = Attempt {
            keys: budgets
                .iter()
                .map(|budget| format!("{}{}", self.prefix, budget.key))
                .collect(),
            limits: budgets
                .iter()
                .map(|budget| (budget.limit, budget.window))
                .collect(),
            // Unique across replicas (a process id is not: every container's first one is 1).
            member: uuid::Uuid::new_v4().simple().to_string(),
            in_redis: false,
        };
        let give_up = Instant::now() + SETTLE_WAIT;
        loop {
            let (step, in_redis) = self.step(&attempt).await;
            match step {
                Step::Reserved => {
                    return Verdict::Allowed(Reservation {
                        attempt: Some(Attempt {
                            in_redis,
                            ..attempt
                        }),
                        windows: self.clone(),
                    });
                }
                Step::Full(wait) => {
                    return Verdict::Blocked {
                        retry_after_secs: seconds(wait),
                    };
                }
                Step::Busy if Instant::now() >= give_up => {
                    return Verdict::Blocked {
                        retry_after_secs: 1,
                    };
                }
                Step::Busy => tokio::time::sleep(SETTLE_POLL).await,
            }
        }
    }

    /// One try at reserving, in Redis while it answers, else in the process.
    async fn step(&self, attempt: &Attempt) -> (Step, bool) {
        if let Some(redis) = self.redis_if_up() {
            let mut invocation = redis.reserve.prepare_invoke();
            for key in &attempt.keys {
                invocation.key(key).key(format!("{key}:pending"));
            }
            invocation
                .arg(PENDING_LIFETIME.as_millis() as u64)
                .arg(&attempt.member);
            for (limit, window) in &attempt.limits {
                invocation.arg(*limit).arg(window.as_millis() as u64);
            }
            let mut connection = redis.connection.clone();
            match invocation.invoke_async::<i64>(&mut connection).await {
                Ok(0) => return (Step::Reserved, true),
                Ok(-1) => return (Step::Busy, true),
                Ok(wait_ms) => return (Step::Full(Duration::from_millis(wait_ms as u64)), true),
                Err(error) => self.redis_failed(redis, &error),
            }
        }
        let step = self.local().reserve(attempt);
        (step, false)
    }

    /// Settles `attempt` where it was reserved; answers how long until every budget has room.
    async fn settle(&self, attempt: &Attempt, counted: bool) -> Duration {
        if !attempt.in_redis {
            return self.local().settle(attempt, counted);
        }
        let Some(redis) = &self.redis else {
            return Duration::ZERO;
        };
        let mut invocation = redis.settle.prepare_invoke();
        for key in &attempt.keys {
            invocation.key(key).key(format!("{key}:pending"));
        }
        invocation
            .arg(&attempt.member)
            .arg(if counted { "1" } else { "0" });
        for (limit, window) in &attempt.limits {
            invocation.arg(*limit).arg(window.as_millis() as u64);
        }
        let mut connection = redis.connection.clone();
        match invocation.invoke_async::<i64>(&mut connection).await {
            Ok(wait_ms) => Duration::from_millis(wait_ms.max(0) as u64),
            Err(error) => {
                self.redis_failed(redis, &error);
                Duration::ZERO
            }
        }
    }

    fn redis_if_up(&self) -> Option<&RedisWindows> {
        self.redis
            .as_ref()
            .filter(|redis| redis.up.load(Ordering::Relaxed))
    }

    fn local(&self) -> std::sync::MutexGuard<'_, LocalWindows> {
        self.local
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn redis_failed(&self, redis: &RedisWindows, error: &redis::RedisError) {
        if redis.up.swap(false, Ordering::Relaxed) {
            tracing::warn!(%error, "Redis is unreachable: the throttles count in this process until it answers again");
        }
    }

    async fn check_redis(&self) {
        let Some(redis) = &self.redis else { return };
        let mut connection = redis.connection.clone();
        let pong: Result<String, _> = redis::cmd("PING").query_async(&mut connection).await;
        match pong {
            Ok(_) => {
                if !redis.up.swap(true, Ordering::Relaxed) {
                    tracing::info!("Redis answers again: the throttles use it");
                }
            }
            Err(error) => self.redis_failed(redis, &error),
        }
    }
}

/// Whole seconds for `Retry-After`, never 0.
fn seconds(wait: Duration) -> u64 {
    (wait.as_millis().div_ceil(1000) as u64).max(1)
}

/// One budget's attempts in the process: counted ones in the window, and pending ones.
#[derive(Default)]
struct LocalWindow {
    window: Duration,
    counted: VecDeque<(Instant, String)>,
    pending: Vec<(Instant, String)>,
}

/// The in-process windows, by key.
#[derive(Default)]
struct LocalWindows {
    windows: HashMap<String, LocalWindow>,
    reservations: u64,
}

impl LocalWindows {
    fn reserve(&mut self, attempt: &Attempt) -> Step {
        let now = Instant::now();
        self.reservations += 1;
        if self.reservations.is_multiple_of(1024) {
            // Forget keys whose window has emptied, so a flood of new emails cannot grow the map.
            self.windows.retain(|_, entry| {
                !entry.pending.is_empty()
                    || entry
                        .counted
                        .back()
                        .is_some_and(|(at, _)| now.duration_since(*at) < entry.window)
            });
        }
        let mut wait = Duration::ZERO;
        let mut busy = false;
        for (key, &(limit, window)) in attempt.keys.iter().zip(&attempt.limits) {
            let entry = self.windows.entry(key.clone()).or_default();
            entry.window = window;
            while entry
                .counted
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) >= window)
            {
                entry.counted.pop_front();
            }
            entry
                .pending
                .retain(|(at, _)| now.duration_since(*at) < PENDING_LIFETIME);
            let limit = limit as usize;
            if entry.counted.len() >= limit {
                if let Some((oldest, _)) = entry.counted.front() {
                    wait = wait.max(window.saturating_sub(now.duration_since(*oldest)));
                }
            } else if entry.counted.len() + entry.pending.len() >= limit {
                busy = true;
            }
        }
        if wait > Duration::ZERO {
            return Step::Full(wait);
        }
        if busy {
            return Step::Busy;
        }
        for key in &attempt.keys {
            let entry = self.windows.entry(key.clone()).or_default();
            entry.pending.push((now, attempt.member.clone()));
        }
        Step::Reserved
    }

    fn settle(&mut self, attempt: &Attempt, counted: bool) -> Duration {
        let now = Instant::now();
        let mut wait = Duration::ZERO;
        for (key, &(limit, window)) in attempt.keys.iter().zip(&attempt.limits) {
            if let Some(entry) = self.windows.get_mut(key) {
                entry.pending.retain(|(_, id)| *id != attempt.member);
                if counted {
                    entry.counted.push_back((now, attempt.member.clone()));
                }
                let used = entry.counted.len();
                // The place that frees first once the budget is full: the `limit`-th newest.
                let limit = limit as usize;
                if used >= limit
                    && let Some((at, _)) = entry.counted.get(used - limit)
                {
                    wait = wait.max(window.saturating_sub(now.duration_since(*at)));
                }
            }
        }
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reservation(member: &str) -> Attempt {
        let window = Duration::from_secs(60);
        Attempt {
            keys: vec!["e".to_owned(), "a".to_owned()],
            limits: vec![(2, window), (100, window)],
            member: member.to_owned(),
            in_redis: false,
        }
    }

    #[test]
    fn pending_attempts_make_a_newcomer_wait_and_only_counted_ones_refuse() {
        let mut local = LocalWindows::default();
        let (first, second) = (reservation("1"), reservation("2"));
        assert!(matches!(local.reserve(&first), Step::Reserved));
        assert!(matches!(local.reserve(&second), Step::Reserved));
        assert!(matches!(local.reserve(&reservation("3")), Step::Busy));
        local.settle(&first, false);
        assert!(matches!(local.reserve(&reservation("4")), Step::Reserved));
        local.settle(&second, true);
        local.settle(&reservation("4"), true);
        match local.reserve(&reservation("5")) {
            Step::Full(wait) => assert!(wait > Duration::from_secs(59), "{wait:?}"),
            _ => panic!("two counted attempts fill a budget of two"),
        }
    }

    #[tokio::test]
    async fn a_reservation_dropped_unsettled_gives_its_place_back() {
        let throttle = Throttle::new(None, "test:".to_owned()).unwrap();
        let budgets = [Budget {
            key: "login:email:a@example.com".to_owned(),
            limit: 1,
            window: Duration::from_secs(60),
        }];
        let Verdict::Allowed(first) = throttle.reserve(&budgets).await else {
            panic!("an empty budget has room");
        };
        // The request holding it went away (its future was dropped) before settling.
        drop(first);
        let started = Instant::now();
        let Verdict::Allowed(second) = throttle.reserve(&budgets).await else {
            panic!("the place was given back");
        };
        assert!(
            started.elapsed() < SETTLE_POLL,
            "no wait for a pending place"
        );
        second.settle(true).await;
        assert!(matches!(
            throttle.reserve(&budgets).await,
            Verdict::Blocked { .. }
        ));
    }
}
