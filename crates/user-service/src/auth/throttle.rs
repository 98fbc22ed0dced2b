//! The login throttle: after `LOGIN_MAX_FAILURES` failed logins for one email within
//! `LOGIN_WINDOW_SECONDS`, further logins for that email answer 429 until the oldest failure
//! leaves the window (even with the right password); every client address has its own budget
//! (`LOGIN_MAX_FAILURES_PER_ADDRESS`).
//!
//! Each attempt *reserves* a failure before the password is checked, atomically with the budget
//! check, and a successful login takes its reservation back. So concurrent wrong logins can never
//! get more verifications than the budget, and only failures stay counted.
//!
//! With `REDIS_URL` the windows live in Redis (one sorted set per email and per address, updated
//! by one Lua script: one round trip per attempt, Redis's clock), shared by every replica.
//! Without it, or while Redis is unreachable, they live in the process; the switch is logged once
//! each way, and a background check brings Redis back.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};

use crate::config::ThrottleSettings;

/// The answer to a login attempt.
#[derive(Debug)]
pub enum Verdict {
    /// Go on and check the password; give the reservation back if it matches.
    Allowed(Reservation),
    /// Answer 429 with this `Retry-After`.
    Blocked { retry_after_secs: u64 },
}

/// A failure counted in advance for one attempt.
#[derive(Debug)]
pub struct Reservation {
    keys: [String; 2],
    member: String,
    in_redis: bool,
}

/// Reserves a failure in both windows if both have room; otherwise answers how many
/// milliseconds until the fuller one frees a place. Runs on Redis's clock.
const RESERVE: &str = r"
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local window = tonumber(ARGV[1])
local limits = { tonumber(ARGV[2]), tonumber(ARGV[3]) }
local wait = 0
for i = 1, 2 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  if redis.call('ZCARD', KEYS[i]) >= limits[i] then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    local free_in = tonumber(oldest[2]) + window - now
    if free_in > wait then wait = free_in end
  end
end
if wait > 0 then return wait end
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[i], window)
end
return 0
";

pub struct LoginThrottle {
    settings: ThrottleSettings,
    prefix: String,
    redis: Option<RedisWindows>,
    local: Mutex<LocalWindows>,
}

struct RedisWindows {
    connection: ConnectionManager,
    reserve: Script,
    up: AtomicBool,
}

impl LoginThrottle {
    /// The throttle, with Redis when `redis_url` is given. Never waits for Redis: a server that
    /// is down at start is reported as disconnected and used once it answers.
    pub fn new(
        settings: ThrottleSettings,
        redis_url: Option<&str>,
        prefix: String,
    ) -> Result<Self, redis::RedisError> {
        let redis = match redis_url {
            None => None,
            Some(url) => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_millis(500)))
                    .set_response_timeout(Some(Duration::from_millis(500)))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(200));
                let connection = Client::open(url)?.get_connection_manager_lazy(config)?;
                Some(RedisWindows {
                    connection,
                    reserve: Script::new(RESERVE),
                    up: AtomicBool::new(true),
                })
            }
        };
        Ok(Self {
            settings,
            prefix,
            redis,
            local: Mutex::new(LocalWindows::default()),
        })
    }

    /// `Some(true/false)`: Redis is configured and (not) answering; `None`: not configured.
    pub fn redis_connected(&self) -> Option<bool> {
        self.redis
            .as_ref()
            .map(|redis| redis.up.load(Ordering::Relaxed))
    }

    pub async fn reserve(&self, email: &str, address: IpAddr) -> Verdict {
        let keys = [
            format!("{}login:email:{email}", self.prefix),
            format!("{}login:address:{address}", self.prefix),
        ];
        // Unique across replicas (a process id is not: every container's first one is 1).
        let member = uuid::Uuid::new_v4().simple().to_string();
        if let Some(redis) = self
            .redis
            .as_ref()
            .filter(|redis| redis.up.load(Ordering::Relaxed))
        {
            let mut connection = redis.connection.clone();
            let result: Result<u64, _> = redis
                .reserve
                .key(&keys[0])
                .key(&keys[1])
                .arg(self.settings.window.as_millis() as u64)
                .arg(self.settings.max_per_email)
                .arg(self.settings.max_per_address)
                .arg(&member)
                .invoke_async(&mut connection)
                .await;
            match result {
                Ok(0) => {
                    return Verdict::Allowed(Reservation {
                        keys,
                        member,
                        in_redis: true,
                    });
                }
                Ok(wait_ms) => {
                    return Verdict::Blocked {
                        retry_after_secs: wait_ms.div_ceil(1000).max(1),
                    };
                }
                Err(error) => self.redis_failed(redis, &error),
            }
        }
        let mut local = self
            .local
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match local.reserve(&keys, &member, self.settings) {
            None => Verdict::Allowed(Reservation {
                keys,
                member,
                in_redis: false,
            }),
            Some(wait) => Verdict::Blocked {
                retry_after_secs: wait.as_millis().div_ceil(1000).max(1) as u64,
            },
        }
    }

    /// Takes back the failure reserved for an attempt that succeeded.
    pub async fn refund(&self, reservation: Reservation) {
        if reservation.in_redis {
            if let Some(redis) = &self.redis {
                let mut connection = redis.connection.clone();
                let result: Result<(), _> = redis::pipe()
                    .zrem(&reservation.keys[0], &reservation.member)
                    .ignore()
                    .zrem(&reservation.keys[1], &reservation.member)
                    .ignore()
                    .query_async(&mut connection)
                    .await;
                if let Err(error) = result {
                    self.redis_failed(redis, &error);
                }
            }
            return;
        }
        let mut local = self
            .local
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        local.refund(&reservation.keys, &reservation.member);
    }

    fn redis_failed(&self, redis: &RedisWindows, error: &redis::RedisError) {
        if redis.up.swap(false, Ordering::Relaxed) {
            tracing::warn!(%error, "Redis is unreachable: the login throttle counts in this process until it answers again");
        }
    }

    /// Pings Redis (when configured) and updates its state; the health probe calls it.
    pub async fn check_redis(&self) {
        let Some(redis) = &self.redis else { return };
        let mut connection = redis.connection.clone();
        let pong: Result<String, _> = redis::cmd("PING").query_async(&mut connection).await;
        match pong {
            Ok(_) => {
                if !redis.up.swap(true, Ordering::Relaxed) {
                    tracing::info!("Redis answers again: the login throttle uses it");
                }
            }
            Err(error) => self.redis_failed(redis, &error),
        }
    }
}

/// The in-process windows: for each key, the reservation times (and ids) still in the window.
#[derive(Default)]
struct LocalWindows {
    windows: HashMap<String, VecDeque<(Instant, String)>>,
    reservations: u64,
}

impl LocalWindows {
    fn reserve(
        &mut self,
        keys: &[String; 2],
        member: &str,
        settings: ThrottleSettings,
    ) -> Option<Duration> {
        let now = Instant::now();
        self.reservations += 1;
        if self.reservations.is_multiple_of(1024) {
            // Forget keys whose window has emptied, so a flood of new emails cannot grow the map.
            self.windows.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|(at, _)| now.duration_since(*at) < settings.window)
            });
        }
        let limits = [settings.max_per_email, settings.max_per_address];
        let mut wait = Duration::ZERO;
        for (key, limit) in keys.iter().zip(limits) {
            let times = self.windows.entry(key.clone()).or_default();
            while times
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) >= settings.window)
            {
                times.pop_front();
            }
            if times.len() >= limit as usize
                && let Some((oldest, _)) = times.front()
            {
                wait = wait.max(settings.window.saturating_sub(now.duration_since(*oldest)));
            }
        }
        if wait > Duration::ZERO {
            return Some(wait);
        }
        for key in keys {
            self.windows
                .entry(key.clone())
                .or_default()
                .push_back((now, member.to_owned()));
        }
        None
    }

    fn refund(&mut self, keys: &[String; 2], member: &str) {
        for key in keys {
            if let Some(times) = self.windows.get_mut(key) {
                times.retain(|(_, id)| id != member);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max_per_email: u32, window_ms: u64) -> ThrottleSettings {
        ThrottleSettings {
            max_per_email,
            max_per_address: 100,
            window: Duration::from_millis(window_ms),
        }
    }

    #[test]
    fn the_local_window_blocks_after_the_budget_and_a_refund_frees_a_place() {
        let mut local = LocalWindows::default();
        let keys = ["e".to_owned(), "a".to_owned()];
        let settings = settings(2, 60_000);
        assert_eq!(local.reserve(&keys, "1", settings), None);
        assert_eq!(local.reserve(&keys, "2", settings), None);
        let wait = local.reserve(&keys, "3", settings);
        assert!(
            wait.is_some_and(|wait| wait > Duration::from_secs(59)),
            "{wait:?}"
        );
        local.refund(&keys, "2");
        assert_eq!(local.reserve(&keys, "4", settings), None);
    }
}
