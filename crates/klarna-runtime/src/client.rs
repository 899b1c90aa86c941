use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use reqwest::header::HeaderValue;

use crate::config::{Config, ConfigError};
use crate::idempotency::IdempotencyKey;

/// The HTTP client every generated operation trait is implemented for.
///
/// Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) base_url: String,
    /// Marked sensitive, so reqwest never prints it.
    pub(crate) authorization: HeaderValue,
    pub(crate) username: String,
}

/// `klarna-rust-sdk/<version>`, so Klarna can tell SDK traffic apart.
pub const USER_AGENT: &str = concat!("klarna-rust-sdk/", env!("CARGO_PKG_VERSION"));

impl Client {
    /// A client with its own connection pool, using the configured timeouts.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .build()
            .map_err(|e| ConfigError::HttpClient(e.to_string()))?;
        Client::with_http_client(http, config)
    }

    /// A client on a `reqwest::Client` of your own (shared pool, proxy,
    /// custom TLS). Its timeouts apply; the configured ones do not.
    pub fn with_http_client(http: reqwest::Client, config: Config) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut authorization = HeaderValue::from_str(&config.credentials.authorization())
            .map_err(|_| ConfigError::InvalidCredentials)?;
        authorization.set_sensitive(true);
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base_url: config.base_url,
                authorization,
                username: config.credentials.username().to_owned(),
            }),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("username", &self.inner.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A successful result, with what the caller may need beside the value.
#[derive(Clone, Debug, PartialEq)]
pub struct Response<T> {
    value: T,
    status: u16,
    idempotency_key: Option<IdempotencyKey>,
}

impl<T> Response<T> {
    /// A response, for fakes of the generated traits.
    pub fn new(status: u16, value: T) -> Self {
        Response {
            value,
            status,
            idempotency_key: None,
        }
    }

    pub(crate) fn with_key(mut self, key: Option<IdempotencyKey>) -> Self {
        self.idempotency_key = key;
        self
    }

    pub fn into_inner(self) -> T {
        self.value
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    /// The key the request carried: the caller's, or the one the client made.
    pub fn idempotency_key(&self) -> Option<&IdempotencyKey> {
        self.idempotency_key.as_ref()
    }
}

impl<T> Deref for Response<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Credentials;

    const PASSWORD: &str = "s3cr3t-p4ssw0rd";

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let config =
            Config::with_base_url("http://127.0.0.1:9", Credentials::basic("PK0001", PASSWORD));
        let client = Client::new(config.clone()).unwrap();
        // Neither the password nor its Basic encoding may show.
        let encoded = Credentials::basic("PK0001", PASSWORD).authorization();
        for debug in [
            format!("{config:?}"),
            format!("{client:?}"),
            format!("{:?}", client.inner.authorization),
        ] {
            assert!(!debug.contains(PASSWORD), "{debug}");
            assert!(!debug.contains(&encoded["Basic ".len()..]), "{debug}");
        }
        assert!(
            format!("{client:?}").contains("PK0001"),
            "the username helps find the account"
        );
    }

    #[test]
    fn missing_credentials_in_the_environment_are_named() {
        // Reading, never setting: the test must not race with others.
        if std::env::var_os("KLARNA_USERNAME").is_none() {
            assert_eq!(
                Credentials::from_env().unwrap_err(),
                ConfigError::MissingEnvironmentVariable("KLARNA_USERNAME")
            );
        }
    }
}
