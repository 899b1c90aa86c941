//! Identifiers, timestamps, percent-encoding, path segments, the
//! idempotency key memory and a poison-tolerant lock, without dependencies.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A random UUID v4 in its text form, like the ids Klarna hands out.
///
/// `RandomState` is seeded randomly per process, and the counter makes two
/// calls in the same nanosecond differ: enough for ids that only need to be
/// unique within a test run.
pub(crate) fn uuid_v4() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let state = RandomState::new();
    let word = |salt: u64| {
        let mut hasher = state.build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        hasher.write_u64(salt);
        hasher.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        hasher.finish()
    };
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&word(1).to_le_bytes());
    bytes[8..].copy_from_slice(&word(2).to_le_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

pub(crate) const DAY: i64 = 24 * 60 * 60;

/// `2015-11-19T01:51:17Z` for a Unix time, as Klarna writes its timestamps.
pub(crate) fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(DAY);
    let secs = unix.rem_euclid(DAY);
    // Howard Hinnant's days-to-civil conversion: closed form, no loop.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Percent-encodes a path segment: everything but RFC 3986 unreserved bytes.
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Decodes a percent-encoded path segment; `None` for a broken escape or
/// bytes that are not UTF-8.
pub(crate) fn decode_segment(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Why a path after an API's prefix names no operation.
pub(crate) enum BadPath {
    /// More than the segments any operation has, or an empty one.
    NoRoute,
    /// A segment that is not valid percent-encoding.
    Encoding,
}

/// The decoded segments of `rest`, a path after an API's prefix, when there
/// are at most `max` and none is empty.
pub(crate) fn path_segments(rest: &str, max: usize) -> Result<Vec<String>, BadPath> {
    let raw: Vec<&str> = rest.splitn(max + 1, '/').collect();
    if raw.len() > max || raw.iter().any(|segment| segment.is_empty()) {
        return Err(BadPath::NoRoute);
    }
    raw.iter()
        .map(|segment| decode_segment(segment))
        .collect::<Option<Vec<String>>>()
        .ok_or(BadPath::Encoding)
}

/// The first answers to idempotency keys, per resource, for replaying to a
/// repeated request.
///
/// Bounded in time (a key is forgotten `retention` after its first use)
/// and by a count per resource (`per_resource`), never by a global count:
/// traffic on other orders can never push a key out early. A resource
/// with `per_resource` keys inside the retention takes no new keyed
/// requests ([`Replays::is_full`]) rather than forget one: a replay inside
/// the retention must never act twice.
pub(crate) struct Replays<S, K, V> {
    retention: Duration,
    per_resource: usize,
    scopes: HashMap<S, HashMap<K, V>>,
    /// Every remembered key with when it was first used, oldest first, to
    /// forget it when its retention ends.
    expiry: VecDeque<(Instant, S, K)>,
}

impl<S: Clone + Eq + Hash, K: Clone + Eq + Hash, V> Replays<S, K, V> {
    pub(crate) fn new(retention: Duration, per_resource: usize) -> Self {
        Replays {
            retention,
            per_resource,
            scopes: HashMap::new(),
            expiry: VecDeque::new(),
        }
    }

    /// Forgets the keys whose retention ended by `now`.
    fn forget_expired(&mut self, now: Instant) {
        while let Some((at, _, _)) = self.expiry.front() {
            if now.saturating_duration_since(*at) < self.retention {
                return;
            }
            let Some((_, scope, key)) = self.expiry.pop_front() else {
                return;
            };
            if let Some(keys) = self.scopes.get_mut(&scope) {
                keys.remove(&key);
                if keys.is_empty() {
                    self.scopes.remove(&scope);
                }
            }
        }
    }

    /// The first answer to `key` on `scope`, if it is still remembered at
    /// `now`.
    pub(crate) fn get(&mut self, scope: &S, key: &K, now: Instant) -> Option<&V> {
        self.forget_expired(now);
        self.scopes.get(scope)?.get(key)
    }

    /// Whether `scope` holds as many keys as it may: a new key on it must
    /// be refused.
    pub(crate) fn is_full(&self, scope: &S) -> bool {
        self.scopes
            .get(scope)
            .is_some_and(|keys| keys.len() >= self.per_resource)
    }

    /// Remembers the first answer to `key` on `scope`, first used at `now`
    /// (the latest time given to [`Replays::get`]).
    pub(crate) fn remember(&mut self, scope: S, key: K, answer: V, now: Instant) {
        if self.is_full(&scope) {
            return;
        }
        self.expiry.push_back((now, scope.clone(), key.clone()));
        self.scopes.entry(scope).or_default().insert(key, answer);
    }

    /// The most keys one resource holds at once.
    pub(crate) fn per_resource(&self) -> usize {
        self.per_resource
    }
}

/// Locks a mutex even if a thread panicked while holding it: the state is
/// plain data and stays usable.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_have_the_v4_shape_and_differ() {
        let (a, b) = (uuid_v4(), uuid_v4());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!("89ab".contains(&a[19..20]));
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_447_897_877), "2015-11-19T01:51:17Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn keys_are_kept_per_resource_until_their_retention_ends() {
        let start = Instant::now();
        let mut replays = Replays::new(Duration::from_secs(60), 2);
        replays.remember("order-1".to_owned(), 0, 1, start);
        // Other orders' keys, however many, do not push it out.
        for n in 0..10_000 {
            replays.remember(format!("order-{}", n + 2), n, 0, start);
        }
        assert_eq!(replays.get(&"order-1".to_owned(), &0, start), Some(&1));
        let later = start + Duration::from_secs(59);
        assert_eq!(replays.get(&"order-1".to_owned(), &0, later), Some(&1));
        // A full resource takes no new key and forgets none.
        replays.remember("order-1".to_owned(), 1, 2, later);
        assert!(replays.is_full(&"order-1".to_owned()));
        replays.remember("order-1".to_owned(), 2, 3, later);
        assert_eq!(replays.get(&"order-1".to_owned(), &2, later), None);
        assert_eq!(replays.get(&"order-1".to_owned(), &0, later), Some(&1));
        // After the retention the key is gone, and so is the room it took.
        let expired = start + Duration::from_secs(60);
        assert_eq!(replays.get(&"order-1".to_owned(), &0, expired), None);
        assert!(!replays.is_full(&"order-1".to_owned()));
        assert!(replays.scopes.len() <= 1, "expired resources are dropped");
    }

    #[test]
    fn segments_round_trip() {
        let id = "order/1 ä%";
        assert_eq!(encode_segment(id), "order%2F1%20%C3%A4%25");
        assert_eq!(decode_segment(&encode_segment(id)).as_deref(), Some(id));
        assert_eq!(decode_segment("%zz"), None);
        assert_eq!(decode_segment("%4"), None);
        assert_eq!(decode_segment("%FF"), None);
    }
}
