//! [`RetryPolicy`] and the retry loop shared by both clients.
//!
//! Own ~100 lines rather than `backon`: the loop needs the attempt count and total wait in
//! the final error, a separate budget for malformed bodies and `Retry-After` overriding the
//! computed delay; that is as much code around `backon` as without it.

use crate::error::LlmError;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// When and how often to retry a failed call.
///
/// Retried: HTTP 429 (waiting at least `Retry-After` when given), 5xx (not 501/505),
/// Anthropic 529 `overloaded_error`, connection refused/reset, timeouts, and malformed 2xx
/// bodies up to `malformed_retries` times. Never retried: 400/401/403/404 and other 4xx.
///
/// Delay before retry *n* (n = 1 after the first failure) is
/// `min(max_delay, initial_delay * multiplier^(n-1))`, with "equal jitter" (a uniform
/// factor in `[0.5, 1.0)`) when `jitter` is on, so that many workers hitting the same rate
/// limit do not retry in lockstep yet never retry instantly. A `Retry-After` hint replaces
/// the computed delay (it may exceed `max_delay`: the server knows best).
/// The loop gives up when `max_attempts` calls were made, or when the next sleep would push
/// the total sleeping time past `max_total_wait` (a `Retry-After: 3600` thus fails at once,
/// and the caller can read the hint from [`LlmError::retry_after`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Total calls including the first; 1 disables retries. 0 is treated as 1.
    pub max_attempts: u32,
    /// Delay before the first retry.
    pub initial_delay: Duration,
    /// Growth factor per retry.
    pub multiplier: f64,
    /// Cap on one computed delay (not on `Retry-After`).
    pub max_delay: Duration,
    /// Cap on the sum of all sleeps of one call.
    pub max_total_wait: Duration,
    /// Randomise delays (see above).
    pub jitter: bool,
    /// How many times a malformed 2xx body is retried. Default 1: a truncated body is
    /// usually a dropped connection or a proxy hiccup, worth one more try; a body that is
    /// malformed twice is a server that speaks another dialect, and retrying again would
    /// only spend (billed) calls.
    pub malformed_retries: u32,
}

impl Default for RetryPolicy {
    /// 5 attempts, 1 s doubling up to 30 s, at most 2 minutes of sleeping, jitter on, one
    /// retry for malformed bodies.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_delay: Duration::from_secs(1),
            multiplier: 2.0,
            max_delay: Duration::from_secs(30),
            max_total_wait: Duration::from_secs(120),
            jitter: true,
            malformed_retries: 1,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            malformed_retries: 0,
            ..Self::default()
        }
    }

    /// The computed (pre-`Retry-After`) delay before retry number `retry` (1-based).
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(63) as i32;
        let factor = if self.multiplier.is_finite() && self.multiplier >= 1.0 {
            self.multiplier.powi(exp)
        } else {
            1.0
        };
        let raw = self.initial_delay.as_secs_f64() * factor;
        let capped = raw.min(self.max_delay.as_secs_f64());
        let secs = if self.jitter {
            capped * (0.5 + 0.5 * unit_random())
        } else {
            capped
        };
        if secs.is_finite() && secs >= 0.0 {
            Duration::from_secs_f64(secs)
        } else {
            self.max_delay
        }
    }

    /// Runs `attempt` until it succeeds, fails with a non-retryable error, or the policy
    /// gives up; then returns the success, the non-retryable error as is, or
    /// [`LlmError::RetriesExhausted`] wrapping the last retryable error when more than one
    /// attempt was made.
    pub(crate) async fn run<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<T, LlmError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, LlmError>>,
    {
        let max_attempts = self.max_attempts.max(1);
        let mut attempts = 0u32;
        let mut waited = Duration::ZERO;
        let mut malformed_seen = 0u32;
        loop {
            attempts += 1;
            let err = match attempt(attempts).await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if let LlmError::Malformed { .. } = err {
                malformed_seen += 1;
                if malformed_seen > self.malformed_retries {
                    return Err(if self.malformed_retries == 0 {
                        err
                    } else {
                        exhausted(attempts, waited, err)
                    });
                }
            } else if !err.is_retryable() {
                return Err(err);
            }
            if attempts >= max_attempts {
                return Err(exhausted(attempts, waited, err));
            }
            let delay = err.retry_after().unwrap_or_else(|| self.backoff(attempts));
            if waited.saturating_add(delay) > self.max_total_wait {
                return Err(exhausted(attempts, waited, err));
            }
            tracing::warn!(
                target: "apprentice_llm",
                call = what,
                attempt = attempts,
                delay_ms = delay.as_millis() as u64,
                error = %err,
                "model call failed, retrying"
            );
            tokio::time::sleep(delay).await;
            waited += delay;
        }
    }
}

/// Wraps the last error with the attempt count, unless there was only one attempt (then
/// the wrapper would add nothing, and callers without retries get the plain error).
fn exhausted(attempts: u32, waited: Duration, last: LlmError) -> LlmError {
    if attempts <= 1 {
        return last;
    }
    LlmError::RetriesExhausted {
        attempts,
        waited,
        last: Box::new(last),
    }
}

/// A uniform number in `[0, 1)`: splitmix64 over the clock and a counter. Jitter needs no
/// cryptographic quality, and this saves a `rand` dependency.
fn unit_random() -> f64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut z = nanos.wrapping_add(
        COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            initial_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
            max_total_wait: Duration::from_secs(1),
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn backoff_grows_caps_and_jitters_within_bounds() {
        let p = RetryPolicy {
            jitter: false,
            ..RetryPolicy::default()
        };
        assert_eq!(p.backoff(1), Duration::from_secs(1));
        assert_eq!(p.backoff(2), Duration::from_secs(2));
        assert_eq!(p.backoff(3), Duration::from_secs(4));
        assert_eq!(p.backoff(10), Duration::from_secs(30));
        assert_eq!(p.backoff(u32::MAX), Duration::from_secs(30));
        let j = RetryPolicy::default();
        for n in 1..8 {
            let d = j.backoff(n);
            let full = p.backoff(n);
            assert!(d >= full / 2 && d <= full, "{d:?} vs {full:?}");
        }
    }

    #[tokio::test]
    async fn stops_at_max_attempts_with_count() {
        let calls = Cell::new(0);
        let r: Result<(), _> = fast()
            .run("t", |_| {
                calls.set(calls.get() + 1);
                async {
                    Err(LlmError::Server {
                        status: 500,
                        message: "boom".into(),
                    })
                }
            })
            .await;
        let e = r.expect_err("must fail");
        assert_eq!(calls.get(), 4);
        assert_eq!(e.attempts(), 4);
        assert!(matches!(e.root(), LlmError::Server { status: 500, .. }));
    }

    #[tokio::test]
    async fn non_retryable_is_returned_as_is() {
        let calls = Cell::new(0);
        let r: Result<(), _> = fast()
            .run("t", |_| {
                calls.set(calls.get() + 1);
                async {
                    Err(LlmError::Auth {
                        status: 401,
                        message: "no".into(),
                    })
                }
            })
            .await;
        assert_eq!(calls.get(), 1);
        assert!(matches!(r, Err(LlmError::Auth { .. })));
    }

    #[tokio::test]
    async fn malformed_is_retried_once() {
        let calls = Cell::new(0);
        let r: Result<(), _> = fast()
            .run("t", |_| {
                calls.set(calls.get() + 1);
                async {
                    Err(LlmError::Malformed {
                        message: "eof".into(),
                        snippet: "{".into(),
                    })
                }
            })
            .await;
        assert_eq!(calls.get(), 2);
        let e = r.expect_err("must fail");
        assert_eq!(e.attempts(), 2);
        assert!(matches!(e.root(), LlmError::Malformed { .. }));

        let calls = Cell::new(0);
        let r: Result<(), _> = RetryPolicy {
            malformed_retries: 0,
            ..fast()
        }
        .run("t", |_| {
            calls.set(calls.get() + 1);
            async {
                Err(LlmError::Malformed {
                    message: "eof".into(),
                    snippet: "{".into(),
                })
            }
        })
        .await;
        assert_eq!(calls.get(), 1);
        assert!(matches!(r, Err(LlmError::Malformed { .. })));
    }

    #[tokio::test]
    async fn retry_after_beyond_total_wait_gives_up_at_once() {
        let calls = Cell::new(0);
        let r: Result<(), _> = fast()
            .run("t", |_| {
                calls.set(calls.get() + 1);
                async {
                    Err(LlmError::RateLimited {
                        status: 429,
                        retry_after: Some(Duration::from_secs(3600)),
                        message: "later".into(),
                    })
                }
            })
            .await;
        assert_eq!(calls.get(), 1);
        let e = r.expect_err("must fail");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3600)));
        assert!(e.is_infrastructure());
    }

    #[tokio::test]
    async fn succeeds_after_transient_failures() {
        let r = fast()
            .run("t", |n| async move {
                if n < 3 {
                    Err(LlmError::Unreachable {
                        message: "refused".into(),
                    })
                } else {
                    Ok(n)
                }
            })
            .await;
        assert_eq!(r.ok(), Some(3));
    }
}
