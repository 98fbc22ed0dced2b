//! The ceiling for `POST /auth/login`: how many argon2id verifications per second this machine
//! does with the service's parameters (`HashCost::Owasp`) on `threads` threads at once, the
//! bound the service puts on them (`PASSWORD_HASH_CONCURRENCY`, by default the number of cores).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use shared::password::{self, HashCost, Scratch};

pub fn run(threads: usize, seconds: u64) -> Result<(), String> {
    let phc = password::hash("Test@123", HashCost::Owasp).map_err(|error| error.to_string())?;
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                // As the service's hashing threads do: one argon2 memory per thread, reused.
                let mut scratch = Scratch::default();
                while !stop.load(Ordering::Relaxed) {
                    if password::verify_with("Test@123", &phc, &mut scratch) {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_secs(seconds));
        stop.store(true, Ordering::Relaxed);
    });
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "argon2_verifications_per_s {:.2}",
        done.load(Ordering::Relaxed) as f64 / elapsed
    );
    Ok(())
}
