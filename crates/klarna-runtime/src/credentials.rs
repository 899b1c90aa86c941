use std::fmt;

use crate::config::ConfigError;

/// How the client proves who it is to Klarna.
///
/// The secret never appears in `Debug` output, in errors or in logs: only
/// the username does, so a log line still says which merchant account was
/// used.
#[derive(Clone)]
pub struct Credentials {
    username: String,
    password: String,
}

impl Credentials {
    /// HTTP Basic credentials: the API username and password of a merchant
    /// account (Klarna's merchant portal issues them).
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    /// Basic credentials from `KLARNA_USERNAME` and `KLARNA_PASSWORD`.
    pub fn from_env() -> Result<Self, ConfigError> {
        let var = |name: &'static str| match std::env::var(name) {
            Ok(value) if !value.is_empty() => Ok(value),
            _ => Err(ConfigError::MissingEnvironmentVariable(name)),
        };
        Ok(Credentials::basic(
            var("KLARNA_USERNAME")?,
            var("KLARNA_PASSWORD")?,
        ))
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    /// The `Authorization` header value.
    pub(crate) fn authorization(&self) -> String {
        format!(
            "Basic {}",
            base64(format!("{}:{}", self.username, self.password).as_bytes())
        )
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Standard base64 with padding; a dependency for twenty lines is not worth
/// its compile time.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(bytes[0]) << 16) | (u32::from(bytes[1]) << 8) | u32::from(bytes[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> shift) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }

    #[test]
    fn authorization_is_basic_of_username_and_password() {
        // The example of Klarna's guide: username:password.
        assert_eq!(
            Credentials::basic("username", "password").authorization(),
            "Basic dXNlcm5hbWU6cGFzc3dvcmQ="
        );
    }

    #[test]
    fn debug_never_shows_the_password() {
        let debug = format!("{:?}", Credentials::basic("PK0001_merchant", "s3cr3t-p4ss"));
        assert!(debug.contains("PK0001_merchant"));
        assert!(!debug.contains("s3cr3t-p4ss"), "{debug}");
    }
}
