//! Why a configuration was refused. Its own module, so that `config` and
//! `credentials` (which both report these) need not import each other; it
//! knows nothing of them but the kind of credentials an API takes.

use std::fmt;

use crate::credentials_kind::CredentialsKind;

/// A setting the client cannot work with. No variant holds or prints a
/// secret: a base URL is kept with any userinfo removed.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// Names the variable.
    MissingEnvironmentVariable(String),
    /// Not an `https://` (or loopback `http://`) URL with a host. Holds the
    /// URL with any `user:password@` part removed.
    InvalidBaseUrl(String),
    /// The base URL carries a `user:password@` part. Credentials belong in
    /// [`Credentials`](crate::Credentials), never in a URL that ends up in
    /// logs. Holds the URL with that part removed.
    CredentialsInBaseUrl(String),
    /// `http://` to a host that is not loopback (`127.0.0.0/8`, `::1`,
    /// `localhost`): the credentials would travel in plain text.
    InsecureBaseUrl(String),
    /// The credentials cannot be sent as a header (control characters).
    InvalidCredentials,
    /// reqwest could not build its client (TLS setup).
    HttpClient(String),
    /// No rustls crypto provider is installed, and this crate was built
    /// without one (neither its `aws-lc-rs` nor its `ring` feature): install
    /// one before building a client.
    NoCryptoProvider,
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
                    "base URL `{url}` must start with https:// and name a host (http:// only for a loopback server)"
                )
            }
            ConfigError::CredentialsInBaseUrl(url) => {
                write!(
                    f,
                    "base URL `{url}` carries a user name or password; pass them as Credentials instead"
                )
            }
            ConfigError::InsecureBaseUrl(url) => {
                write!(
                    f,
                    "base URL `{url}` uses http:// for a host that is not loopback; use https:// so the credentials are encrypted"
                )
            }
            ConfigError::InvalidCredentials => {
                f.write_str("credentials contain characters a header cannot carry")
            }
            ConfigError::HttpClient(message) => {
                write!(f, "cannot build the HTTP client: {message}")
            }
            ConfigError::NoCryptoProvider => f.write_str(
                "no TLS crypto provider: enable the `aws-lc-rs` (default) or `ring` feature, \
                 or install a rustls CryptoProvider before building a client",
            ),
            ConfigError::UnknownSetting {
                setting,
                value,
                expected,
            } => write!(f, "unknown {setting} `{value}`: expected {expected}"),
            ConfigError::WrongCredentials { api, expected } => {
                let what = match expected {
                    CredentialsKind::Basic => "Basic credentials (Credentials::basic)",
                    CredentialsKind::ApiKey => "API-key credentials (Credentials::api_key)",
                    CredentialsKind::Schemes => {
                        "credentials per security scheme (SchemeCredentials)"
                    }
                };
                write!(f, "the {api} API takes {what}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}
