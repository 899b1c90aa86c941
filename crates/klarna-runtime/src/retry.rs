//! When a call is tried again, and how long the client waits in between.
//!
//! Klarna treats a repeated request carrying the same
//! `Klarna-Idempotency-Key` as the same request, so a retry after a network
//! error or a timeout cannot capture or refund twice. The client therefore
//! retries only requests that are safe to repeat: reads, operations the spec
//! marks idempotent, and requests that carry an idempotency key (the same key
//! on every attempt). A request that never left the machine (the connection
//! could not be made) is retried whatever the operation.
//!
//! Every client also has a [`RetryBudget`], shared by its clones, so that an
//! outage does not multiply the load on Klarna by the number of attempts.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often, and how patiently, a call is retried.
///
/// The wait before retry `n` (1-based) is a random duration between zero and
/// `min(max_backoff, initial_backoff × 2ⁿ⁻¹)` ("full jitter", so clients
/// that failed together do not retry together). A `Retry-After` header
/// replaces that wait; one longer than `max_backoff` ends the call instead
/// (the error's [`retry_after`](crate::Error::retry_after) says when Klarna
/// wants to hear from it again).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// Three attempts, backing off from 200 ms up to at most 5 s.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// One attempt: nothing is retried.
    pub fn never() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The number of attempts in all, first one included; at least 1.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The cap of the first wait; later caps double.
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// No wait is longer than this; a `Retry-After` asking for longer is
    /// not waited for: the call ends with that attempt's result.
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The wait before the attempt after `attempt` (1-based), given the
    /// failed attempt's `Retry-After` value if it had one; `None` when the
    /// server asked for a longer wait than this policy ever makes.
    pub(crate) fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if let Some(wait) = retry_after {
            return (wait <= self.max_backoff).then_some(wait);
        }
        let doublings = attempt.saturating_sub(1).min(31);
        let ceiling = self
            .initial_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff);
        // Float-to-integer `as` saturates, so even an absurd cap cannot panic.
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Some(Duration::from_nanos(
            (nanos as f64 * random_fraction()) as u64,
        ))
    }
}

/// How many retries a client may make while calls keep failing: a token
/// bucket, as in the AWS SDKs' "standard" retry mode.
///
/// The bucket starts full. A retry takes [`retry_cost`](Self::retry_cost)
/// tokens (5 by default), a retry after a timeout
/// [`timeout_retry_cost`](Self::timeout_retry_cost) (10). A call that gets
/// an answer gives back what its last retry took, or, if it needed no
/// retry, adds one token (never beyond the capacity). When a retry finds too
/// few tokens, the call ends with that attempt's result and the error says
/// so ([`Error::retry_budget_spent`](crate::Error::retry_budget_spent)).
///
/// With the defaults (500 tokens), a full outage costs Klarna at most 100
/// retries per client before every call makes one attempt only, until
/// answers come back. The budget belongs to a [`Client`](crate::Client) and
/// its clones (including [`with_retry`](crate::Client::with_retry) copies);
/// [`RetryPolicy::never`] makes no retries and spends nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryBudget {
    capacity: u32,
    retry_cost: u32,
    timeout_retry_cost: u32,
}

impl Default for RetryBudget {
    /// 500 tokens, 5 per retry, 10 per retry after a timeout: the numbers
    /// of aws-smithy-runtime's standard retry mode.
    fn default() -> Self {
        RetryBudget {
            capacity: 500,
            retry_cost: 5,
            timeout_retry_cost: 10,
        }
    }
}

impl RetryBudget {
    /// The tokens the bucket starts with and holds at most.
    pub fn capacity(mut self, tokens: u32) -> Self {
        self.capacity = tokens;
        self
    }

    /// The tokens a retry takes.
    pub fn retry_cost(mut self, tokens: u32) -> Self {
        self.retry_cost = tokens;
        self
    }

    /// The tokens a retry after a timed-out attempt takes: a timeout ties up
    /// the server longer than a refusal.
    pub fn timeout_retry_cost(mut self, tokens: u32) -> Self {
        self.timeout_retry_cost = tokens;
        self
    }
}

/// A client's bucket of retry tokens, shared by its clones.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    tokens: AtomicU32,
    budget: RetryBudget,
}

impl TokenBucket {
    pub(crate) fn new(budget: RetryBudget) -> Self {
        TokenBucket {
            tokens: AtomicU32::new(budget.capacity),
            budget,
        }
    }

    /// Takes the tokens for one retry, and says how many (to give back on
    /// success); `None` when the bucket holds too few.
    pub(crate) fn take(&self, after_timeout: bool) -> Option<u32> {
        let cost = if after_timeout {
            self.budget.timeout_retry_cost
        } else {
            self.budget.retry_cost
        };
        self.tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |tokens| {
                tokens.checked_sub(cost)
            })
            .ok()
            .map(|_| cost)
    }

    /// A call got an answer: back go the tokens its last retry took, or one
    /// token when it took none.
    pub(crate) fn answered(&self, last_retry_cost: Option<u32>) {
        let refill = last_retry_cost.unwrap_or(1);
        let capacity = self.budget.capacity;
        let _ = self
            .tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |tokens| {
                (tokens < capacity).then(|| tokens.saturating_add(refill).min(capacity))
            });
    }

    pub(crate) fn tokens(&self) -> u32 {
        self.tokens.load(Ordering::Acquire)
    }
}

/// Statuses that say "try again later" rather than "this request is wrong".
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// A uniformly distributed value in `[0, 1)`. Jitter needs no cryptographic
/// quality: the standard library's randomly keyed hasher is enough and
/// spares a dependency.
fn random_fraction() -> f64 {
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    // The top 53 bits fill an f64 mantissa exactly.
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// `Retry-After` as a wait from `now`: delay-seconds, or an HTTP date
/// (`Sun, 06 Nov 1994 08:49:37 GMT`); a date in the past means no wait.
/// Anything else is ignored, as if the header were absent.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = parse_http_date(value)?;
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now)))
}

/// Seconds since the Unix epoch of an IMF-fixdate, the only date format
/// HTTP senders may generate (RFC 9110, section 5.6.7).
fn parse_http_date(value: &str) -> Option<u64> {
    let mut parts = value.split_ascii_whitespace();
    let _weekday = parts.next()?.strip_suffix(',')?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: u64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':');
    let mut unit = |max: u64| clock.next()?.parse::<u64>().ok().filter(|v| *v <= max);
    let (hour, minute, second) = (unit(23)?, unit(59)?, unit(60)?);
    if parts.next()? != "GMT" || parts.next().is_some() || !(1..=31).contains(&day) || year < 1970 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar
/// (Howard Hinnant's `days_from_civil`, for years from 1970 on).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_but_stay_under_their_cap() {
        let policy = RetryPolicy::default()
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_millis(350));
        for _ in 0..200 {
            assert!(policy.backoff(1, None).unwrap() < Duration::from_millis(100));
            assert!(policy.backoff(2, None).unwrap() < Duration::from_millis(200));
            assert!(policy.backoff(3, None).unwrap() < Duration::from_millis(350));
            assert!(policy.backoff(40, None).unwrap() < Duration::from_millis(350));
        }
    }

    #[test]
    fn jitter_spreads_the_waits() {
        let policy = RetryPolicy::default().initial_backoff(Duration::from_secs(1));
        let waits: std::collections::HashSet<Duration> =
            (0..50).map(|_| policy.backoff(1, None).unwrap()).collect();
        assert!(waits.len() > 40, "{waits:?}");
    }

    #[test]
    fn retry_after_replaces_the_backoff_up_to_the_cap_only() {
        let policy = RetryPolicy::default().max_backoff(Duration::from_secs(5));
        assert_eq!(
            policy.backoff(1, Some(Duration::from_secs(1))),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            policy.backoff(1, Some(Duration::from_secs(5))),
            Some(Duration::from_secs(5))
        );
        assert_eq!(policy.backoff(1, Some(Duration::from_secs(3600))), None);
    }

    #[test]
    fn the_budget_runs_dry_and_answers_refill_it() {
        let bucket = TokenBucket::new(RetryBudget::default().capacity(20));
        assert_eq!(bucket.take(true), Some(10));
        assert_eq!(bucket.take(false), Some(5));
        assert_eq!(bucket.take(false), Some(5));
        assert_eq!(bucket.take(false), None, "empty");
        bucket.answered(Some(5));
        assert_eq!(bucket.tokens(), 5, "the last retry's tokens come back");
        bucket.answered(None);
        assert_eq!(bucket.tokens(), 6, "an answer at first try adds one");
        for _ in 0..100 {
            bucket.answered(Some(10));
        }
        assert_eq!(bucket.tokens(), 20, "never beyond the capacity");
    }

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_770); // Sun, 06 Nov 1994 08:49:30 GMT
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_http_date("Thu, 29 Feb 2024 23:59:59 GMT"),
            Some(1_709_251_199)
        );
        for bad in [
            "",
            "-1",
            "soon",
            "Sun, 06 Nov 1994 08:49:37 CET",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun 06 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
    }

    #[test]
    fn only_transient_statuses_are_retryable() {
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(status));
        }
        for status in [200, 201, 204, 400, 401, 403, 404, 409, 422, 501] {
            assert!(!is_retryable_status(status));
        }
    }

    #[test]
    fn at_least_one_attempt() {
        assert_eq!(RetryPolicy::default().max_attempts(0).attempts(), 1);
        assert_eq!(RetryPolicy::never().attempts(), 1);
    }
}
