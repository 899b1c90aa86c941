use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::config_error::ConfigError;
use crate::credentials::Credentials;
use crate::retry::{RetryBudget, RetryPolicy};

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

/// The host of Klarna's global Payment API (payment requests and
/// transactions): the one production host Klarna's reference page shows.
pub const PAYMENT_API_BASE_URL: &str = "https://api-global.klarna.com";

/// The test host of Klarna's global Payment API, beside
/// [`PAYMENT_API_BASE_URL`] (see `specs/CHANGES.md` for the source).
pub const PAYMENT_API_TEST_BASE_URL: &str = "https://api-global.test.klarna.com";

/// The Payment API's host for an environment: [`PAYMENT_API_BASE_URL`] or
/// [`PAYMENT_API_TEST_BASE_URL`].
pub fn payment_api_base_url(environment: Environment) -> &'static str {
    match environment {
        Environment::Production => PAYMENT_API_BASE_URL,
        Environment::Playground => PAYMENT_API_TEST_BASE_URL,
    }
}

/// Kustom's production host. Klarna Checkout now belongs to Kustom, and its
/// merchants call Checkout, Order Management, Settlements and the Hosted
/// Payment Page here, with the same paths and the same Basic credentials
/// scheme (see `specs/CHANGES.md` for the sources).
pub const KUSTOM_BASE_URL: &str = "https://api.kustom.co";

/// Kustom's playground (test) host.
pub const KUSTOM_PLAYGROUND_BASE_URL: &str = "https://api.playground.kustom.co";

/// Who serves the API a merchant calls: Klarna in one of its regions, or
/// Kustom, which runs Klarna Checkout (and, for its merchants, Order
/// Management, Settlements and the Hosted Payment Page) on hosts of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    Klarna(Region),
    Kustom,
}

impl Host {
    /// The base URL for this host and environment.
    pub fn base_url(self, environment: Environment) -> &'static str {
        match (self, environment) {
            (Host::Klarna(region), environment) => region.base_url(environment),
            (Host::Kustom, Environment::Production) => KUSTOM_BASE_URL,
            (Host::Kustom, Environment::Playground) => KUSTOM_PLAYGROUND_BASE_URL,
        }
    }
}

impl From<Region> for Host {
    fn from(region: Region) -> Host {
        Host::Klarna(region)
    }
}

/// The default of [`Config::max_response_bytes`]: 16 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Everything a [`Client`](crate::Client) needs to know.
#[derive(Clone)]
pub struct Config {
    pub(crate) base_url: String,
    pub(crate) credentials: Credentials,
    pub(crate) connect_timeout: Duration,
    pub(crate) policy: CallPolicy,
    pub(crate) retry_budget: RetryBudget,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The base URL is printed without userinfo, which `Client::new`
        // refuses anyway but a `Config` may still hold.
        f.debug_struct("Config")
            .field("base_url", &without_userinfo(&self.base_url))
            .field("credentials", &self.credentials)
            .field("connect_timeout", &self.connect_timeout)
            .field("attempt_timeout", &self.policy.attempt_timeout)
            .field("overall_timeout", &self.policy.overall_timeout)
            .field("retry", &self.policy.retry)
            .field("retry_budget", &self.retry_budget)
            .finish()
    }
}

/// What every call of a client does about time and failure; a client's
/// copy can be changed per call (see [`Client::with_retry`](crate::Client::with_retry)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CallPolicy {
    pub(crate) retry: RetryPolicy,
    pub(crate) attempt_timeout: Duration,
    pub(crate) overall_timeout: Option<Duration>,
    /// Responses declaring or reaching more bytes are refused.
    pub(crate) max_response_bytes: usize,
}

impl Config {
    /// Klarna's API for a region and environment.
    pub fn new(region: Region, environment: Environment, credentials: Credentials) -> Self {
        Config::with_base_url(region.base_url(environment), credentials)
    }

    /// The API on `host` (a Klarna region or Kustom), live or playground.
    pub fn on(host: impl Into<Host>, environment: Environment, credentials: Credentials) -> Self {
        Config::with_base_url(host.into().base_url(environment), credentials)
    }

    /// Kustom's host ([`KUSTOM_BASE_URL`] or [`KUSTOM_PLAYGROUND_BASE_URL`]),
    /// for the APIs that moved there with Klarna Checkout.
    pub fn kustom(environment: Environment, credentials: Credentials) -> Self {
        Config::on(Host::Kustom, environment, credentials)
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
                max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            },
            retry_budget: RetryBudget::default(),
        }
    }

    /// Klarna's API for a region and environment, with the credentials in
    /// `KLARNA_USERNAME` and `KLARNA_PASSWORD`.
    pub fn from_env(region: Region, environment: Environment) -> Result<Self, ConfigError> {
        Ok(Config::new(region, environment, Credentials::from_env()?))
    }

    /// Klarna's global Payment API ([`PAYMENT_API_BASE_URL`]), which takes
    /// [`Credentials::api_key`]; [`Config::payment_api_in`] for its test host.
    pub fn payment_api(credentials: Credentials) -> Self {
        Config::with_base_url(PAYMENT_API_BASE_URL, credentials)
    }

    /// Klarna's global Payment API in an environment: production
    /// ([`PAYMENT_API_BASE_URL`]) or test ([`PAYMENT_API_TEST_BASE_URL`]).
    pub fn payment_api_in(environment: Environment, credentials: Credentials) -> Self {
        Config::with_base_url(payment_api_base_url(environment), credentials)
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

    /// How many retries the client's calls may make in all while Klarna
    /// is failing (default: [`RetryBudget::default`]). One budget per
    /// client, shared by its clones.
    pub fn retry_budget(mut self, budget: RetryBudget) -> Self {
        self.retry_budget = budget;
        self
    }

    /// The largest response body the client reads (default 16 MiB,
    /// [`DEFAULT_MAX_RESPONSE_BYTES`]). A response whose `Content-Length`
    /// declares more is refused before its body is read; one without a
    /// length is cut off at the limit. Either is a
    /// [`Decode`](crate::ErrorKind::Decode) error.
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.policy.max_response_bytes = limit;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Refuses a base URL that is malformed, carries credentials, or would
    /// send them in plain text to another machine.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let url = &self.base_url;
        let (secure, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
            (Some(rest), _) => (true, rest),
            (None, Some(rest)) => (false, rest),
            (None, None) => return Err(ConfigError::InvalidBaseUrl(without_userinfo(url))),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if authority.contains('@') {
            return Err(ConfigError::CredentialsInBaseUrl(without_userinfo(url)));
        }
        if authority.is_empty() || url.contains(char::is_whitespace) {
            return Err(ConfigError::InvalidBaseUrl(url.clone()));
        }
        if !secure && !is_loopback(authority) {
            return Err(ConfigError::InsecureBaseUrl(url.clone()));
        }
        Ok(())
    }
}

/// The URL with any `user:password@` of its authority replaced by `***@`,
/// for messages and `Debug`.
fn without_userinfo(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    match url[after_scheme..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..after_scheme], &url[after_scheme + at..]),
        None => url.to_owned(),
    }
}

/// `localhost`, `127.0.0.0/8` or `[::1]`, with or without a port.
fn is_loopback(authority: &str) -> bool {
    let host = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((address, _)) => {
                return address.parse::<Ipv6Addr>().is_ok_and(|a| a.is_loopback())
            }
            None => return false,
        }
    } else {
        authority.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<Ipv4Addr>().is_ok_and(|a| a.is_loopback())
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

    /// Every host choice and the base URL it gives, in one table.
    #[test]
    fn each_host_choice_gives_its_base_url() {
        use Environment::*;
        let table: [(Host, Environment, &str); 8] = [
            (
                Host::Klarna(Region::Europe),
                Production,
                "https://api.klarna.com",
            ),
            (
                Host::Klarna(Region::Europe),
                Playground,
                "https://api.playground.klarna.com",
            ),
            (
                Host::Klarna(Region::NorthAmerica),
                Production,
                "https://api-na.klarna.com",
            ),
            (
                Host::Klarna(Region::NorthAmerica),
                Playground,
                "https://api-na.playground.klarna.com",
            ),
            (
                Host::Klarna(Region::Oceania),
                Production,
                "https://api-oc.klarna.com",
            ),
            (
                Host::Klarna(Region::Oceania),
                Playground,
                "https://api-oc.playground.klarna.com",
            ),
            (Host::Kustom, Production, "https://api.kustom.co"),
            (Host::Kustom, Playground, "https://api.playground.kustom.co"),
        ];
        for (host, environment, url) in table {
            assert_eq!(host.base_url(environment), url, "{host:?} {environment:?}");
            let config = Config::on(host, environment, Credentials::basic("u", "p"));
            assert_eq!(config.base_url(), url);
            assert!(config.validate().is_ok());
        }
        let kustom = Config::kustom(Playground, Credentials::basic("u", "p"));
        assert_eq!(kustom.base_url(), "https://api.playground.kustom.co");
        for (environment, url) in [
            (Production, "https://api-global.klarna.com"),
            (Playground, "https://api-global.test.klarna.com"),
        ] {
            let config = Config::payment_api_in(environment, Credentials::api_key("k", "a"));
            assert_eq!(config.base_url(), url);
            assert_eq!(payment_api_base_url(environment), url);
        }
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

    fn refusal(url: &str) -> ConfigError {
        Config::with_base_url(url, Credentials::basic("u", "p"))
            .validate()
            .unwrap_err()
    }

    #[test]
    fn userinfo_in_the_base_url_is_refused_and_never_printed() {
        for url in [
            "https://user:hunter2@api.klarna.com",
            "https://hunter2@api.klarna.com/x",
            "http://user:hunter2@127.0.0.1:8080",
            "htps://user:hunter2@api.klarna.com",
        ] {
            let error = refusal(url);
            let config = Config::with_base_url(url, Credentials::basic("u", "p"));
            for text in [
                error.to_string(),
                format!("{error:?}"),
                format!("{config:?}"),
            ] {
                assert!(!text.contains("hunter2"), "{text}");
            }
        }
        assert!(matches!(
            refusal("https://user:hunter2@api.klarna.com"),
            ConfigError::CredentialsInBaseUrl(url) if url == "https://***@api.klarna.com"
        ));
        assert!(matches!(
            refusal("htps://user:hunter2@api.klarna.com"),
            ConfigError::InvalidBaseUrl(_)
        ));
    }

    #[test]
    fn plain_http_is_for_loopback_hosts_only() {
        for url in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://localhost:3000/base",
            "http://[::1]:8080",
        ] {
            assert!(
                Config::with_base_url(url, Credentials::basic("u", "p"))
                    .validate()
                    .is_ok(),
                "{url}"
            );
        }
        for url in [
            "http://api.klarna.com",
            "http://10.0.0.1:8080",
            "http://localhost.example.com",
            "http://[::2]:80",
            "http://128.0.0.1",
        ] {
            assert!(
                matches!(refusal(url), ConfigError::InsecureBaseUrl(_)),
                "{url}"
            );
        }
    }
}
