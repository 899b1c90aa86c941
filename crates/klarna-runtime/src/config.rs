use std::fmt;
use std::time::Duration;

use crate::credentials::{Credentials, CredentialsKind};
use crate::retry::RetryPolicy;

/// Where a merchant account lives. Klarna runs a separate API per region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Region {
    Europe,
    NorthAmerica,
    Oceania,
}

/// Test (playground) or live (production) API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Environment {
    Playground,
    Production,
}

impl std::str::FromStr for Region {
    type Err = ConfigError;

    /// `eu`, `na` or `oc` (also `europe`, `north-america`, `oceania`), in
    /// any case: what a deployment's configuration says.
    fn from_str(value: &str) -> Result<Self, ConfigError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "eu" | "europe" => Ok(Region::Europe),
            "na" | "north-america" | "northamerica" | "us" => Ok(Region::NorthAmerica),
            "oc" | "oceania" => Ok(Region::Oceania),
            _ => Err(ConfigError::UnknownSetting {
                setting: "region",
                value: value.to_owned(),
                expected: "eu, na or oc",
            }),
        }
    }
}

impl std::str::FromStr for Environment {
    type Err = ConfigError;

    /// `playground` (also `test`) or `production` (also `live`), in any case.
    fn from_str(value: &str) -> Result<Self, ConfigError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "playground" | "test" => Ok(Environment::Playground),
            "production" | "live" => Ok(Environment::Production),
            _ => Err(ConfigError::UnknownSetting {
                setting: "environment",
                value: value.to_owned(),
                expected: "playground or production",
            }),
        }
    }
}

impl Region {
    /// Klarna's base URL for this region and environment.
    pub fn base_url(self, environment: Environment) -> &'static str {
        use Environment::*;
        use Region::*;
        match (self, environment) {
            (Europe, Production) => "https://api.klarna.com",
            (NorthAmerica, Production) => "https://api-na.klarna.com",
            (Oceania, Production) => "https://api-oc.klarna.com",
            (Europe, Playground) => "https://api.playground.klarna.com",
            (NorthAmerica, Playground) => "https://api-na.playground.klarna.com",
            (Oceania, Playground) => "https://api-oc.playground.klarna.com",
        }
    }
}

/// A setting the client cannot work with.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// Names the variable.
    MissingEnvironmentVariable(String),
    InvalidBaseUrl(String),
    /// The credentials cannot be sent as a header (control characters).
    InvalidCredentials,
    /// reqwest could not build its client (TLS setup).
    HttpClient(String),
    /// A region or environment name that is not one (`Region::from_str`).
    UnknownSetting {
        setting: &'static str,
        value: String,
        expected: &'static str,
    },
    /// The credentials are not of the kind the API takes (API-key
    /// credentials for Order Management, say).
    WrongCredentials {
        api: &'static str,
        expected: CredentialsKind,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::MissingEnvironmentVariable(name) => {
                write!(
                    f,
                    "environment variable {name} is not set (it holds the Klarna API credentials)"
                )
            }
            ConfigError::InvalidBaseUrl(url) => {
                write!(
                    f,
                    "base URL `{url}` must start with https:// (or http:// for a local server)"
                )
            }
            ConfigError::InvalidCredentials => {
                f.write_str("credentials contain characters a header cannot carry")
            }
            ConfigError::HttpClient(message) => {
                write!(f, "cannot build the HTTP client: {message}")
            }
            ConfigError::UnknownSetting {
                setting,
                value,
                expected,
            } => write!(f, "unknown {setting} `{value}`: expected {expected}"),
            ConfigError::WrongCredentials { api, expected } => {
                let what = match expected {
                    CredentialsKind::Basic => "Basic credentials (Credentials::basic)",
                    CredentialsKind::ApiKey => "API-key credentials (Credentials::api_key)",
                };
                write!(f, "the {api} API takes {what}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl fmt::Debug for Config {
    /// Every setting by its own name; the credentials show only the account.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("base_url", &self.base_url)
            .field("credentials", &self.credentials)
            .field("connect_timeout", &self.connect_timeout)
            .field("attempt_timeout", &self.policy.attempt_timeout)
            .field("overall_timeout", &self.policy.overall_timeout)
            .field("retry", &self.policy.retry)
            .finish()
    }
}

/// The host of Klarna's global Payment API (payment requests and
/// transactions): the one production host Klarna's reference page shows.
pub const PAYMENT_API_BASE_URL: &str = "https://api-global.klarna.com";

/// Everything a [`Client`](crate::Client) needs to know.
#[derive(Clone)]
pub struct Config {
    pub(crate) base_url: String,
    pub(crate) credentials: Credentials,
    pub(crate) connect_timeout: Duration,
    pub(crate) policy: CallPolicy,
}

/// What every call of a client does about time and failure; a client's
/// copy can be changed per call (see [`Client::with_retry`](crate::Client::with_retry)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CallPolicy {
    pub(crate) retry: RetryPolicy,
    pub(crate) attempt_timeout: Duration,
    pub(crate) overall_timeout: Option<Duration>,
}

impl Config {
    /// Klarna's API for a region and environment.
    pub fn new(region: Region, environment: Environment, credentials: Credentials) -> Self {
        Config::with_base_url(region.base_url(environment), credentials)
    }

    /// Any base URL: a local stand-in in tests, or a proxy.
    pub fn with_base_url(base_url: impl Into<String>, credentials: Credentials) -> Self {
        Config {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            credentials,
            connect_timeout: Duration::from_secs(10),
            policy: CallPolicy {
                retry: RetryPolicy::default(),
                attempt_timeout: Duration::from_secs(60),
                overall_timeout: None,
            },
        }
    }

    /// Klarna's API for a region and environment, with the credentials in
    /// `KLARNA_USERNAME` and `KLARNA_PASSWORD`.
    pub fn from_env(region: Region, environment: Environment) -> Result<Self, ConfigError> {
        Ok(Config::new(region, environment, Credentials::from_env()?))
    }

    /// Klarna's global Payment API ([`PAYMENT_API_BASE_URL`]), which takes
    /// [`Credentials::api_key`]. Klarna's reference shows no separate test
    /// host for it; point [`Config::with_base_url`] at one to test.
    pub fn payment_api(credentials: Credentials) -> Self {
        Config::with_base_url(PAYMENT_API_BASE_URL, credentials)
    }

    /// Klarna's global Payment API, with the credentials in `KLARNA_API_KEY`
    /// and `KLARNA_PARTNER_ACCOUNT`.
    pub fn payment_api_from_env() -> Result<Self, ConfigError> {
        Ok(Config::payment_api(Credentials::api_key_from_env()?))
    }

    /// How long to wait for a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one attempt may take, from sending to the last byte of the
    /// response (default 60 s). A timed-out attempt is retried when the
    /// call is safe to repeat.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.policy.attempt_timeout = timeout;
        self
    }

    /// How long a call may take in all, retries and waits between them
    /// included (default: no limit beyond the attempts' own).
    pub fn overall_timeout(mut self, timeout: Duration) -> Self {
        self.policy.overall_timeout = Some(timeout);
        self
    }

    /// When calls are retried (default: [`RetryPolicy::default`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.policy.retry = policy;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let url = &self.base_url;
        let has_host = |rest: &str| !rest.is_empty() && !rest.starts_with('/');
        match url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
        {
            Some(rest) if has_host(rest) && !url.contains(char::is_whitespace) => Ok(()),
            _ => Err(ConfigError::InvalidBaseUrl(url.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn klarna_hosts_per_region_and_environment() {
        assert_eq!(
            Region::Europe.base_url(Environment::Production),
            "https://api.klarna.com"
        );
        assert_eq!(
            Region::NorthAmerica.base_url(Environment::Playground),
            "https://api-na.playground.klarna.com"
        );
        assert_eq!(
            Region::Oceania.base_url(Environment::Production),
            "https://api-oc.klarna.com"
        );
    }

    #[test]
    fn payment_api_is_on_the_global_host() {
        let config = Config::payment_api(Credentials::api_key("key", "account"));
        assert_eq!(config.base_url(), "https://api-global.klarna.com");
        assert!(config.validate().is_ok());
    }

    #[test]
    fn base_url_is_checked() {
        let credentials = Credentials::basic("u", "p");
        assert!(
            Config::with_base_url("http://127.0.0.1:8080/", credentials.clone())
                .validate()
                .is_ok()
        );
        assert_eq!(
            Config::with_base_url("http://127.0.0.1:8080/", credentials.clone()).base_url(),
            "http://127.0.0.1:8080"
        );
        assert!(Config::with_base_url("api.klarna.com", credentials.clone())
            .validate()
            .is_err());
        assert!(Config::with_base_url("https://", credentials)
            .validate()
            .is_err());
    }
}
