//! The trouble a real endpoint gives, on demand: latency, 500s, throttling and answers lost after
//! the write was done. One seeded generator decides, so a run with `--fault-seed N` can be replayed.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Debug, Clone, Default)]
pub struct FaultSettings {
    pub latency: Duration,
    pub fail_rate: f64,
    pub rate_limit: Option<f64>,
    pub drop_after_commit_rate: f64,
    pub seed: Option<u64>,
}

pub struct Faults {
    settings: FaultSettings,
    rng: Mutex<StdRng>,
    bucket: Option<Mutex<TokenBucket>>,
}

impl Faults {
    pub fn new(settings: FaultSettings) -> Faults {
        let rng = match settings.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        let bucket = settings
            .rate_limit
            .map(|rate| Mutex::new(TokenBucket::new(rate, Instant::now())));
        Faults {
            settings,
            rng: Mutex::new(rng),
            bucket,
        }
    }

    pub fn latency(&self) -> Duration {
        self.settings.latency
    }

    /// `None` when the request may go on, else how long the client should wait.
    pub fn throttle(&self) -> Option<Duration> {
        let bucket = self.bucket.as_ref()?;
        let mut bucket = bucket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        bucket.take(Instant::now())
    }

    pub fn should_fail(&self) -> bool {
        self.roll(self.settings.fail_rate)
    }

    pub fn should_drop_answer(&self) -> bool {
        self.roll(self.settings.drop_after_commit_rate)
    }

    fn roll(&self, probability: f64) -> bool {
        if probability <= 0.0 {
            return false;
        }
        let mut rng = self
            .rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        rng.random_bool(probability.min(1.0))
    }
}

/// Allows `rate` requests a second on average, and a burst of up to `rate` (at least one).
#[derive(Debug)]
struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(rate: f64, now: Instant) -> TokenBucket {
        let capacity = rate.max(1.0);
        TokenBucket {
            rate,
            capacity,
            tokens: capacity,
            last: now,
        }
    }

    fn take(&mut self, now: Instant) -> Option<Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            None
        } else if self.rate > 0.0 {
            Some(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        } else {
            Some(Duration::from_secs(60))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_a_burst_then_refills() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(2.0, start);
        assert!(bucket.take(start).is_none());
        assert!(bucket.take(start).is_none());
        let wait = bucket.take(start).unwrap();
        assert!(wait <= Duration::from_millis(500));
        assert!(bucket.take(start + Duration::from_millis(600)).is_none());
    }

    #[test]
    fn a_seed_replays_the_same_faults() {
        let settings = FaultSettings {
            fail_rate: 0.5,
            seed: Some(7),
            ..FaultSettings::default()
        };
        let a = Faults::new(settings.clone());
        let b = Faults::new(settings);
        let rolls_a: Vec<bool> = (0..64).map(|_| a.should_fail()).collect();
        let rolls_b: Vec<bool> = (0..64).map(|_| b.should_fail()).collect();
        assert_eq!(rolls_a, rolls_b);
        assert!(rolls_a.contains(&true) && rolls_a.contains(&false));
    }
}
