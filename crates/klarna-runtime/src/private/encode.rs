//! Percent-encoding of one path segment: its own module, because both the
//! request builder (`call`) and the security schemes (`security`, an API key
//! in the query) encode, and neither should import the other.

use std::fmt::Write as _;

/// Percent-encodes one path segment: everything but RFC 3986's unreserved
/// characters, so an id with `/`, `?` or spaces stays one segment.
pub fn encode_path(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}
