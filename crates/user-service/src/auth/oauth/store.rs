//! One-use values with a lifetime: a web sign-in's `state` (10 min) and its `login_code`
//! (60 s). Keys are SHA-256 digests of the secrets, so what is stored never holds them; taking
//! a value deletes it in the same step (Redis `GETDEL`), so each is used once even when two
//! replicas race for it.
//!
//! With `REDIS_URL` they live in Redis, shared by every replica; without it, in this process
//! (one replica). Unlike the throttle, there is no fallback while Redis is unreachable: a value
//! one replica kept locally could not be taken on another, so the request answers 503 instead.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;

use crate::domain::{Error, Result};

/// How many local values may wait before expired ones are swept on the next `put`.
const LOCAL_SWEEP_AT: usize = 1024;

pub struct OneUse {
    prefix: String,
    backend: Backend,
}

enum Backend {
    Redis(ConnectionManager),
    Local(Mutex<HashMap<String, (Instant, String)>>),
}

impl OneUse {
    /// In Redis when `redis_url` is given (connected lazily), else in this process.
    pub fn new(redis_url: Option<&str>, prefix: String) -> Result<Self, redis::RedisError> {
        let backend = match redis_url {
            None => Backend::Local(Mutex::new(HashMap::new())),
            Some(url) => Backend::Redis(crate::auth::throttle::redis_connection(url)?),
        };
        Ok(Self { prefix, backend })
    }

    /// The stored key of `secret` in namespace `kind`.
    fn key(&self, kind: &str, secret: &str) -> String {
        let digest = crate::auth::token_digest(secret);
        format!("{}oauth:{kind}:{digest}", self.prefix)
    }

    /// Keeps `value` under `secret` for `lifetime`.
    pub async fn put(
        &self,
        kind: &str,
        secret: &str,
        value: &str,
        lifetime: Duration,
    ) -> Result<()> {
        let key = self.key(kind, secret);
        match &self.backend {
            Backend::Redis(connection) => {
                let millis = u64::try_from(lifetime.as_millis()).unwrap_or(u64::MAX);
                redis::cmd("SET")
                    .arg(&key)
                    .arg(value)
                    .arg("PX")
                    .arg(millis)
                    .query_async::<()>(&mut connection.clone())
                    .await
                    .map_err(unavailable)
            }
            Backend::Local(values) => {
                let mut values = lock(values);
                let now = Instant::now();
                if values.len() >= LOCAL_SWEEP_AT {
                    values.retain(|_, (expires, _)| *expires > now);
                }
                values.insert(key, (now + lifetime, value.to_owned()));
                Ok(())
            }
        }
    }

    /// Takes the value under `secret`: `None` when there is none, it expired, or it was taken.
    pub async fn take(&self, kind: &str, secret: &str) -> Result<Option<String>> {
        let key = self.key(kind, secret);
        match &self.backend {
            Backend::Redis(connection) => redis::cmd("GETDEL")
                .arg(&key)
                .query_async::<Option<String>>(&mut connection.clone())
                .await
                .map_err(unavailable),
            Backend::Local(values) => Ok(lock(values)
                .remove(&key)
                .filter(|(expires, _)| *expires > Instant::now())
                .map(|(_, value)| value)),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn unavailable(error: redis::RedisError) -> Error {
    Error::Unavailable(format!("Redis: {error}"))
}
