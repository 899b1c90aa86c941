//! Identifiers, timestamps, percent-encoding, path segments and the
//! idempotency key memory, without dependencies.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

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

/// Idempotency keys remembered; the oldest is forgotten first.
const MAX_IDEMPOTENCY_KEYS: usize = 10_000;

/// The first answer to each idempotency key (with whatever else the key is
/// scoped by), for replaying to a repeated request.
pub(crate) struct Replays<K, V> {
    answers: HashMap<K, V>,
    order: VecDeque<K>,
}

impl<K, V> Default for Replays<K, V> {
    fn default() -> Self {
        Replays {
            answers: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<K: Clone + Eq + Hash, V> Replays<K, V> {
    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.answers.get(key)
    }

    /// Remembers the first answer to `key`, forgetting the oldest key when
    /// [`MAX_IDEMPOTENCY_KEYS`] are remembered.
    pub(crate) fn remember(&mut self, key: K, answer: V) {
        if self.order.len() == MAX_IDEMPOTENCY_KEYS {
            if let Some(oldest) = self.order.pop_front() {
                self.answers.remove(&oldest);
            }
        }
        self.order.push_back(key.clone());
        self.answers.insert(key, answer);
    }
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
    fn segments_round_trip() {
        let id = "order/1 ä%";
        assert_eq!(encode_segment(id), "order%2F1%20%C3%A4%25");
        assert_eq!(decode_segment(&encode_segment(id)).as_deref(), Some(id));
        assert_eq!(decode_segment("%zz"), None);
        assert_eq!(decode_segment("%4"), None);
        assert_eq!(decode_segment("%FF"), None);
    }
}
