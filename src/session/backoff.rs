//! Reconnect backoff: exponential from `initial` to `max`, full jitter (a uniformly random
//! delay between half the step and the step, so a fleet restarted together does not
//! reconnect in lockstep), reset after a connection stayed healthy for `healthy_after`.

use std::time::Duration;

/// Backoff settings.
#[derive(Debug, Clone, PartialEq)]
pub struct BackoffPolicy {
    /// First delay.
    pub initial: Duration,
    /// Largest delay.
    pub max: Duration,
    /// Growth per attempt.
    pub multiplier: f64,
    /// A connection that lived this long resets the backoff.
    pub healthy_after: Duration,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
            multiplier: 2.0,
            healthy_after: Duration::from_secs(60),
        }
    }
}

impl BackoffPolicy {
    /// Short delays for tests (20 ms … 500 ms).
    pub fn fast_for_tests() -> Self {
        Self {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(500),
            multiplier: 2.0,
            healthy_after: Duration::from_secs(5),
        }
    }
}

/// Backoff state for one reconnect loop.
#[derive(Debug)]
pub struct Backoff {
    policy: BackoffPolicy,
    step: Duration,
    rng: u64,
}

impl Backoff {
    /// A fresh backoff; `seed` feeds the jitter (use [`Backoff::new`] for a random one).
    pub fn with_seed(policy: BackoffPolicy, seed: u64) -> Self {
        Self {
            step: policy.initial,
            policy,
            rng: seed | 1,
        }
    }

    /// A fresh backoff with a random jitter seed.
    pub fn new(policy: BackoffPolicy) -> Self {
        let mut seed = [0u8; 8];
        let _ = getrandom::fill(&mut seed);
        Self::with_seed(policy, u64::from_le_bytes(seed))
    }

    /// xorshift64: plenty for jitter.
    fn next_random(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The next delay (in `[step/2, step]`), then grows the step.
    pub fn next_delay(&mut self) -> Duration {
        let step = self.step;
        let jittered = step.mul_f64(0.5 + 0.5 * self.next_random());
        self.step = step.mul_f64(self.policy.multiplier).min(self.policy.max);
        jittered
    }

    /// Records how long the last connection lived; a healthy one resets the backoff.
    pub fn connection_lasted(&mut self, lived: Duration) {
        if lived >= self.policy.healthy_after {
            self.reset();
        }
    }

    /// Back to the first step.
    pub fn reset(&mut self) {
        self.step = self.policy.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_capped_and_jittered() {
        let mut b = Backoff::with_seed(BackoffPolicy::default(), 42);
        let steps = [1, 2, 4, 8, 16, 30, 30, 30];
        for step in steps {
            let d = b.next_delay();
            let step = Duration::from_secs(step);
            assert!(
                d >= step / 2 && d <= step,
                "{d:?} not in [{:?}, {step:?}]",
                step / 2
            );
        }
    }

    #[test]
    fn jitter_differs_between_seeds() {
        let a: Vec<_> = {
            let mut b = Backoff::with_seed(BackoffPolicy::default(), 1);
            (0..5).map(|_| b.next_delay()).collect()
        };
        let c: Vec<_> = {
            let mut b = Backoff::with_seed(BackoffPolicy::default(), 2);
            (0..5).map(|_| b.next_delay()).collect()
        };
        assert_ne!(a, c);
    }

    #[test]
    fn resets_only_after_a_healthy_period() {
        let mut b = Backoff::with_seed(BackoffPolicy::default(), 7);
        for _ in 0..4 {
            b.next_delay();
        }
        b.connection_lasted(Duration::from_secs(5));
        assert!(b.next_delay() >= Duration::from_secs(8));
        b.connection_lasted(Duration::from_secs(61));
        assert!(b.next_delay() <= Duration::from_secs(1));
    }
}
