use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue};

use crate::config::{CallPolicy, Config};
use crate::config_error::ConfigError;
use crate::credentials_kind::CredentialsKind;
use crate::idempotency::IdempotencyKey;
use crate::retry::{RetryPolicy, TokenBucket};
use crate::transport::Transport;

/// The HTTP client every generated operation trait is implemented for.
///
/// Cheap to clone: clones share one connection pool and one
/// [`RetryBudget`](crate::retry::RetryBudget).
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
    pub(crate) policy: CallPolicy,
    /// Who the calls made through this client talk to.
    pub(crate) identity: Identity,
}

/// How a client names the API it talks to: in error messages ("Klarna
/// answered 422") and in the `User-Agent` it sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) server: &'static str,
    pub(crate) user_agent: &'static str,
}

pub(crate) struct Inner {
    pub(crate) transport: Transport,
    /// The retry budget of this client and its clones.
    pub(crate) budget: TokenBucket,
    pub(crate) base_url: String,
    /// Marked sensitive, so reqwest never prints it. `None` with
    /// [`SchemeCredentials`](crate::SchemeCredentials): each call picks
    /// from `schemes`.
    pub(crate) authorization: Option<HeaderValue>,
    pub(crate) schemes: Option<crate::credentials::SchemeCredentials>,
    /// `Klarna-Partner-Account`, sent with API-key credentials; sensitive too.
    pub(crate) partner_account: Option<HeaderValue>,
    /// The username or partner account, for `Debug`; the secret is only in
    /// the sensitive header values.
    pub(crate) account: String,
    pub(crate) credentials_kind: CredentialsKind,
}

/// Installs the rustls crypto provider this crate was built with as the
/// process's default, unless one is installed already (by the application,
/// or an earlier call), which then stays: aws-lc-rs (feature `aws-lc-rs`,
/// the client crates' default, with post-quantum key exchange preferred) or
/// ring (feature `ring`). Built with neither, it installs nothing.
/// [`Client::new`] calls it; call it yourself before building a
/// `reqwest::Client` for [`Client::with_http_client`].
pub fn install_crypto_provider() {
    // An error only means a provider is installed already, which is as good.
    #[cfg(feature = "aws-lc-rs")]
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    // rustls 0.23.48 deprecates ring's provider for its lack of post-quantum
    // key exchange; `ring` is the documented opt-in for builds without a C
    // compiler, chosen knowing that, so the notice is not passed on.
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// `klarna-rust-sdk/<version>`, so Klarna can tell SDK traffic apart.
pub const USER_AGENT: &str = concat!("klarna-rust-sdk/", env!("CARGO_PKG_VERSION"));

impl Client {
    /// A client with its own connection pool, using the configured timeouts.
    ///
    /// It follows no redirect: a 3xx answer is an
    /// [`ErrorKind::UnexpectedStatus`](crate::ErrorKind::UnexpectedStatus)
    /// error whose [`location`](crate::ResponseDetails::location) names the
    /// target, and nothing is sent there.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        config.validate()?;
        install_crypto_provider();
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            return Err(ConfigError::NoCryptoProvider);
        }
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConfigError::HttpClient(e.to_string()))?;
        Client::with_transport(Transport::Http(http), config)
    }

    /// A client on a `reqwest::Client` of your own (shared pool, proxy,
    /// custom TLS): the one place this crate's API names a reqwest type, an
    /// escape hatch that ties you to the reqwest version this crate uses.
    ///
    /// Its connect timeout applies instead of the configured one; the
    /// attempt and overall timeouts are the configured ones. Build it with
    /// `redirect(reqwest::redirect::Policy::none())`: reqwest follows
    /// redirects by default, and a redirected capture can turn into a `GET`
    /// or take its idempotency key to another host.
    ///
    /// This crate builds reqwest without a TLS crypto provider of its own:
    /// call [`install_crypto_provider`] before building that client (or
    /// install a rustls provider yourself), or reqwest's builder panics.
    pub fn with_http_client(http: reqwest::Client, config: Config) -> Result<Self, ConfigError> {
        Client::with_transport(Transport::Http(http), config)
    }

    pub(crate) fn with_transport(
        transport: Transport,
        config: Config,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let (authorization, partner_account) = config.credentials.header_values()?;
        Ok(Client {
            inner: Arc::new(Inner {
                transport,
                budget: TokenBucket::new(config.retry_budget),
                base_url: config.base_url,
                authorization,
                schemes: config.credentials.schemes().cloned(),
                partner_account,
                account: config.credentials.account().to_owned(),
                credentials_kind: config.credentials.kind(),
            }),
            policy: config.policy,
            identity: Identity {
                server: "Klarna",
                user_agent: USER_AGENT,
            },
        })
    }

    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// Refuses a client whose credentials are not the kind `api` takes: a
    /// generated API client calls it when it is built.
    pub fn expect_credentials(
        &self,
        expected: CredentialsKind,
        api: &'static str,
    ) -> Result<(), ConfigError> {
        if self.inner.credentials_kind == expected {
            Ok(())
        } else {
            Err(ConfigError::WrongCredentials { api, expected })
        }
    }

    /// The same client (sharing its connections) for an API that is not
    /// Klarna's: error messages name `server` where they would say "Klarna"
    /// ("Petstore answered 422"), and requests carry `user_agent` instead of
    /// this SDK's `User-Agent`. Clients generated from documents of others
    /// (`cargo xtask generate`) call it with the document's title and their
    /// crate's name and version. A `user_agent` that cannot be a header
    /// value (control characters) leaves this SDK's.
    pub fn for_api(&self, server: &'static str, user_agent: &'static str) -> Client {
        let mut client = self.clone();
        client.identity = Identity { server, user_agent };
        client
    }

    /// The same client (sharing its connections) with another retry policy,
    /// for the calls made through it:
    /// `client.with_retry(RetryPolicy::never()).capture_order(..)`.
    pub fn with_retry(&self, policy: RetryPolicy) -> Client {
        let mut client = self.clone();
        client.policy.retry = policy;
        client
    }

    /// The same client with another timeout per attempt.
    pub fn with_timeout(&self, timeout: Duration) -> Client {
        let mut client = self.clone();
        client.policy.attempt_timeout = timeout;
        client
    }

    /// The same client with another limit on the whole call, retries
    /// included; `None` for no limit beyond the attempts' own.
    pub fn with_overall_timeout(&self, timeout: Option<Duration>) -> Client {
        let mut client = self.clone();
        client.policy.overall_timeout = timeout;
        client
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.policy.retry
    }

    /// How long one attempt may take.
    pub fn attempt_timeout(&self) -> Duration {
        self.policy.attempt_timeout
    }

    /// How long a whole call may take, retries included; `None`: no limit
    /// beyond the attempts' own.
    pub fn overall_timeout(&self) -> Option<Duration> {
        self.policy.overall_timeout
    }

    /// The tokens left in this client's retry budget (shared with its
    /// clones), out of [`RetryBudget::capacity`](crate::RetryBudget::capacity):
    /// for a gauge of how close retries are to being cut off.
    pub fn retry_budget_left(&self) -> u32 {
        self.inner.budget.tokens()
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("account", &self.inner.account)
            .finish()
    }
}

/// A successful result, with what the caller may need beside the value:
/// the status, the response's headers, the idempotency key sent, and the
/// body as Klarna sent it.
///
/// The raw body is the buffer the value was decoded from, kept rather
/// than dropped: holding it costs no copy and no allocation (a
/// reference-counted [`Bytes`](bytes::Bytes), which a clone shares), only
/// the memory of the body for as long as the response lives. A caller
/// that passes Klarna's answer on (a gateway, a proxy, an audit log)
/// takes it from [`raw_body`](Self::raw_body) and so keeps every field,
/// also one Klarna added after this SDK's models were generated.
#[derive(Clone, PartialEq)]
pub struct Response<T> {
    value: T,
    status: u16,
    headers: HeaderMap,
    idempotency_key: Option<IdempotencyKey>,
    raw_body: Bytes,
}

// By hand, so the raw body shows as its length: it may hold what the typed
// value's own `Debug` leaves out.
impl<T: fmt::Debug> fmt::Debug for Response<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("value", &self.value)
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("idempotency_key", &self.idempotency_key)
            .field("raw_body", &format_args!("{} bytes", self.raw_body.len()))
            .finish()
    }
}

impl<T> Response<T> {
    /// A response with no headers and no key, for fakes of the generated
    /// traits; add those with [`with_headers`](Self::with_headers) and
    /// [`with_idempotency_key`](Self::with_idempotency_key).
    pub fn new(status: u16, value: T) -> Self {
        Response {
            value,
            status,
            headers: HeaderMap::new(),
            idempotency_key: None,
            raw_body: Bytes::new(),
        }
    }

    /// The same response with `body` as the body it was decoded from (for
    /// fakes of the generated traits; the client sets it itself).
    pub fn with_raw_body(mut self, body: impl Into<Bytes>) -> Self {
        self.raw_body = body.into();
        self
    }

    /// The body exactly as it was received: every byte, fields the typed
    /// value does not know included. Empty when the operation has no body,
    /// and for an operation whose value is the body itself (a PDF report:
    /// the value has it). Cloning it shares the buffer.
    pub fn raw_body(&self) -> &Bytes {
        &self.raw_body
    }

    /// The same response, carrying `key` as the key of its request.
    pub fn with_idempotency_key(self, key: impl Into<IdempotencyKey>) -> Self {
        self.with_key(Some(key.into()))
    }

    /// The same response with these headers.
    pub fn with_headers(mut self, headers: HeaderMap) -> Self {
        self.headers = headers;
        self
    }

    pub(crate) fn with_key(mut self, key: Option<IdempotencyKey>) -> Self {
        self.idempotency_key = key;
        self
    }

    /// The response's headers (`Klarna-Correlation-Id`, say).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
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
        let encoded = Credentials::basic("PK0001", PASSWORD)
            .authorization()
            .unwrap();
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
    fn api_keys_never_appear_in_debug_output() {
        const KEY: &str = "klarna_live_api_Zm9vYmFyS2V5";
        const ACCOUNT: &str = "krn:partner:account:206bbb83-9b6e-46fa-940d-337153c04a58";
        let config =
            Config::with_base_url("http://127.0.0.1:9", Credentials::api_key(KEY, ACCOUNT));
        let client = Client::new(config.clone()).unwrap();
        let partner_account = client.inner.partner_account.as_ref().unwrap();
        assert!(client.inner.authorization.as_ref().unwrap().is_sensitive());
        assert!(partner_account.is_sensitive());
        for debug in [
            format!("{config:?}"),
            format!("{client:?}"),
            format!("{:?}", client.inner.authorization),
            format!("{partner_account:?}"),
        ] {
            assert!(!debug.contains(KEY), "{debug}");
        }
        assert!(format!("{client:?}").contains(ACCOUNT));
    }

    #[test]
    fn regions_and_environments_parse_from_configuration() {
        use crate::config::{Environment, Region};
        assert_eq!("EU".parse::<Region>(), Ok(Region::Europe));
        assert_eq!("north-america".parse::<Region>(), Ok(Region::NorthAmerica));
        assert_eq!(" oc ".parse::<Region>(), Ok(Region::Oceania));
        assert_eq!("live".parse::<Environment>(), Ok(Environment::Production));
        assert_eq!(
            "Playground".parse::<Environment>(),
            Ok(Environment::Playground)
        );
        let error = "mars".parse::<Region>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown region `mars`: expected eu, na or oc"
        );
    }

    #[test]
    fn prefixed_environment_variables_are_named_in_errors() {
        // A prefix no test sets: reading only, so no race with other tests.
        assert_eq!(
            Credentials::from_env_prefixed("KLARNA_TEST_UNSET_EU").unwrap_err(),
            ConfigError::MissingEnvironmentVariable("KLARNA_TEST_UNSET_EU_USERNAME".into())
        );
        assert_eq!(
            Credentials::api_key_from_env_prefixed("KLARNA_TEST_UNSET_NA").unwrap_err(),
            ConfigError::MissingEnvironmentVariable("KLARNA_TEST_UNSET_NA_API_KEY".into())
        );
    }

    #[test]
    fn config_debug_names_settings_not_internal_types() {
        let config =
            Config::with_base_url("http://127.0.0.1:9", Credentials::basic("PK1", PASSWORD))
                .timeout(Duration::from_secs(7));
        let debug = format!("{config:?}");
        assert!(!debug.contains("CallPolicy"), "{debug}");
        assert!(debug.contains("attempt_timeout: 7s"), "{debug}");
        assert!(!debug.contains(PASSWORD), "{debug}");
        let client = Client::new(config).unwrap();
        assert_eq!(client.attempt_timeout(), Duration::from_secs(7));
        assert_eq!(client.overall_timeout(), None);
    }

    #[test]
    fn missing_credentials_in_the_environment_are_named() {
        // Reading, never setting: the test must not race with others.
        if std::env::var_os("KLARNA_USERNAME").is_none() {
            assert_eq!(
                Credentials::from_env().unwrap_err(),
                ConfigError::MissingEnvironmentVariable("KLARNA_USERNAME".into())
            );
        }
    }
}
