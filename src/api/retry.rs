//! When a failed call is worth trying again, and how long to wait: exponential backoff with
//! jitter (backon), at least what the server asked for in `Retry-After`, within a number of
//! attempts and a total budget of waiting. Creates never come through here (see `client`).

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use backon::{ExponentialBuilder, Retryable};

use super::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included, not counting those refused with 429: throttling
    /// says "not now", not "failing", so only the time budget bounds it.
    pub max_attempts: usize,
    /// The first backoff; each next one doubles, plus jitter.
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// The most time spent waiting between attempts of one call; a `Retry-After` past it gives up.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            min_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            budget: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// One attempt only (no retry at all).
    pub fn never() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }
}

/// Whether trying the same idempotent call again may succeed: throttling, server errors, and
/// failures of the connection. Other 4xx answers will not change; a broken answer neither.
pub fn is_retryable(error: &ApiError) -> bool {
    match error {
        ApiError::Api { status, .. } => *status == 429 || *status >= 500,
        ApiError::Connect { .. } | ApiError::NoAnswer(_) => true,
        ApiError::UnknownHost { .. }
        | ApiError::Untrusted { .. }
        | ApiError::Decode(_)
        | ApiError::Protocol(_)
        | ApiError::Local(_) => false,
    }
}

/// Parses a `Retry-After` value: delay-seconds, or an HTTP date (a date already past is zero).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    // Not in RFC 9110, but some servers send fractions; taking them costs nothing.
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Runs `call` until it succeeds, fails with an error that is not worth retrying, or the policy
/// is spent. `on_retry` hears of each wait before it happens (for `--verbose`). The final error
/// says how many attempts were made when there was more than one.
pub async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    mut on_retry: impl FnMut(&ApiError, Duration, usize),
    call: F,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let backoff = ExponentialBuilder::default()
        .with_jitter()
        .with_min_delay(policy.min_delay)
        .with_max_delay(policy.max_delay)
        .with_max_times(usize::MAX);
    // Counters shared by the adjust and notify hooks (both FnMut borrowed by backon at once):
    // time waited, attempts made, attempts that failed other than by throttling.
    let state = Mutex::new((Duration::ZERO, 1usize, 0usize));
    let result = call
        .retry(backoff)
        .when(is_retryable)
        .adjust(|error, delay| {
            let delay = delay?;
            // A throttled call waits what the server asked, not a backoff grown by earlier
            // throttling: under a steady rate limit that would idle well below the allowed rate.
            let delay = match error {
                ApiError::Api {
                    status: 429,
                    retry_after: Some(asked),
                    ..
                } => *asked,
                ApiError::Api {
                    retry_after: Some(asked),
                    ..
                } => delay.max(*asked),
                _ => delay,
            };
            let Ok(mut guard) = state.lock() else {
                return None;
            };
            let throttled = error.status() == Some(429);
            let failures = guard.2 + usize::from(!throttled);
            if failures >= policy.max_attempts || guard.0 + delay > policy.budget {
                return None;
            }
            guard.0 += delay;
            guard.2 = failures;
            Some(delay)
        })
        .notify(|error, delay| {
            if let Ok(mut guard) = state.lock() {
                guard.1 += 1;
                on_retry(error, delay, guard.1);
            }
        })
        .await;
    let attempts = state.lock().map(|g| g.1).unwrap_or(1);
    result.map_err(|error| note_attempts(error, attempts))
}

fn note_attempts(error: ApiError, attempts: usize) -> ApiError {
    if attempts < 2 {
        return error;
    }
    let note = format!(" (gave up after {attempts} attempts)");
    match error {
        ApiError::Api {
            status,
            kind,
            message,
            code,
            retry_after,
        } => ApiError::Api {
            status,
            kind,
            message: message + &note,
            code,
            retry_after,
        },
        ApiError::Connect { endpoint, message } => ApiError::Connect {
            endpoint,
            message: message + &note,
        },
        ApiError::NoAnswer(message) => ApiError::NoAnswer(message + &note),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Instant, UNIX_EPOCH};

    use super::*;

    fn api(status: u16, retry_after: Option<Duration>) -> ApiError {
        ApiError::Api {
            status,
            kind: "server_error".into(),
            message: "boom".into(),
            code: None,
            retry_after,
        }
    }

    fn fast(max_attempts: usize) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
            budget: Duration::from_secs(5),
        }
    }

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::from_secs(0)));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn classification() {
        assert!(is_retryable(&api(429, None)));
        assert!(is_retryable(&api(500, None)));
        assert!(is_retryable(&api(503, None)));
        assert!(!is_retryable(&api(400, None)));
        assert!(!is_retryable(&api(403, None)));
        assert!(!is_retryable(&api(404, None)));
        assert!(is_retryable(&ApiError::NoAnswer("reset".into())));
        assert!(is_retryable(&ApiError::Connect {
            endpoint: "x".into(),
            message: "refused".into()
        }));
        assert!(!is_retryable(&ApiError::Decode("x".into())));
        assert!(!is_retryable(&ApiError::Protocol("x".into())));
    }

    #[tokio::test]
    async fn retries_until_success_and_stops_at_max_attempts() {
        let calls = AtomicUsize::new(0);
        let result = with_retries(
            &fast(5),
            |_, _, _| {},
            || async {
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                if n < 3 { Err(api(503, None)) } else { Ok(n) }
            },
        )
        .await;
        assert_eq!(result.unwrap(), 3);

        let calls = AtomicUsize::new(0);
        let result: Result<(), _> = with_retries(
            &fast(4),
            |_, _, _| {},
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(api(500, None))
            },
        )
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        let message = result.unwrap_err().to_string();
        assert!(message.contains("gave up after 4 attempts"), "{message}");
    }

    #[tokio::test]
    async fn errors_that_will_not_change_are_not_retried() {
        let calls = AtomicUsize::new(0);
        let result: Result<(), _> = with_retries(
            &fast(5),
            |_, _, _| {},
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(api(404, None))
            },
        )
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(result.unwrap_err().to_string(), "404 server_error: boom");
    }

    #[tokio::test]
    async fn retry_after_is_waited_at_least() {
        let calls = AtomicUsize::new(0);
        let mut waits = Vec::new();
        let started = Instant::now();
        let result = with_retries(
            &fast(3),
            |_, delay, _| waits.push(delay),
            || async {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                if n == 0 {
                    Err(api(429, Some(Duration::from_millis(300))))
                } else {
                    Ok(())
                }
            },
        )
        .await;
        assert!(result.is_ok());
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert_eq!(waits.len(), 1);
        assert!(waits[0] >= Duration::from_millis(300));
    }

    #[tokio::test]
    async fn a_retry_after_past_the_budget_gives_up_at_once() {
        let calls = AtomicUsize::new(0);
        let policy = RetryPolicy {
            budget: Duration::from_secs(1),
            ..fast(5)
        };
        let result: Result<(), _> = with_retries(
            &policy,
            |_, _, _| {},
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(api(429, Some(Duration::from_secs(3600))))
            },
        )
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(result.unwrap_err().status(), Some(429));
    }
}
