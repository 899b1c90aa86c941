use std::fmt;

/// The value of a `Klarna-Idempotency-Key` header.
///
/// Klarna treats repeated requests with the same key as one: retrying a
/// capture or refund with the key of the first attempt can never capture or
/// refund twice. When a caller passes no key to an operation that takes one,
/// the client makes a random (UUID v4) key and returns it with the result
/// and with the error, so a later retry can reuse it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// A new random key (UUID version 4, as Klarna recommends).
    pub fn new_v4() -> Self {
        IdempotencyKey(uuid::Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for IdempotencyKey {
    fn from(key: String) -> Self {
        IdempotencyKey(key)
    }
}

impl From<&str> for IdempotencyKey {
    fn from(key: &str) -> Self {
        IdempotencyKey(key.to_owned())
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
