use std::fmt;

use http::header::HeaderValue;

use crate::config_error::ConfigError;
use crate::credentials_kind::CredentialsKind;

/// The header the global Payment API takes the partner account in.
pub(crate) const PARTNER_ACCOUNT_HEADER: &str = "Klarna-Partner-Account";

/// How the client proves who it is to Klarna: HTTP Basic for the regional
/// APIs (Order Management, Payments v1), an API key and a partner account
/// for the global Payment API.
///
/// The secret never appears in `Debug` output, in errors or in logs: only
/// the username or the partner account does, so a log line still says which
/// account was used.
#[derive(Clone)]
pub struct Credentials {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Basic {
        username: String,
        password: String,
    },
    ApiKey {
        key: String,
        partner_account: String,
    },
    Schemes(SchemeCredentials),
}

/// The secrets of an API that is not Klarna's, one per security scheme of
/// its OpenAPI document, by the scheme's name there (`bearerAuth`,
/// `api_key`). A client generated from that document (`cargo xtask
/// generate`) sends, per call, the schemes its operation's `security`
/// lists: the first alternative whose secrets are all here. A call whose
/// every alternative lacks a secret is not sent.
///
/// ```
/// use klarna_runtime::{Config, SchemeCredentials};
///
/// let credentials = SchemeCredentials::new()
///     .token("bearerAuth", "eyJhbGciOi...")
///     .token("api_key", "k-123")
///     .basic("basicAuth", "user", "password");
/// let config = Config::with_base_url("https://api.example.com", credentials.into());
/// ```
///
/// Secrets never appear in `Debug` output: only the scheme names do.
#[derive(Clone, Default)]
pub struct SchemeCredentials {
    pub(crate) secrets: Vec<(String, SchemeSecret)>,
}

#[derive(Clone)]
pub(crate) enum SchemeSecret {
    /// A bearer token, an API key, or an OAuth 2 / OpenID Connect access
    /// token: sent as the scheme says.
    Token(String),
    Basic {
        username: String,
        password: String,
    },
}

impl SchemeCredentials {
    pub fn new() -> Self {
        SchemeCredentials::default()
    }

    /// The secret of an `apiKey` scheme (sent in the header, query
    /// parameter or cookie the scheme names), of an `http` `bearer` scheme,
    /// or the access token of an `oauth2` or `openIdConnect` scheme (sent
    /// as a bearer token). A second secret for the same scheme replaces
    /// the first.
    pub fn token(mut self, scheme: impl Into<String>, token: impl Into<String>) -> Self {
        self.set(scheme.into(), SchemeSecret::Token(token.into()));
        self
    }

    /// The username and password of an `http` `basic` scheme.
    pub fn basic(
        mut self,
        scheme: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        let secret = SchemeSecret::Basic {
            username: username.into(),
            password: password.into(),
        };
        self.set(scheme.into(), secret);
        self
    }

    fn set(&mut self, scheme: String, secret: SchemeSecret) {
        self.secrets.retain(|(name, _)| *name != scheme);
        self.secrets.push((scheme, secret));
    }

    pub(crate) fn get(&self, scheme: &str) -> Option<&SchemeSecret> {
        self.secrets
            .iter()
            .find(|(name, _)| name == scheme)
            .map(|(_, secret)| secret)
    }
}

impl fmt::Debug for SchemeCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.secrets.iter().map(|(name, _)| (name, "<redacted>")))
            .finish()
    }
}

impl From<SchemeCredentials> for Credentials {
    fn from(schemes: SchemeCredentials) -> Self {
        Credentials {
            kind: Kind::Schemes(schemes),
        }
    }
}

/// `Basic base64(username:password)`.
pub(crate) fn basic_authorization(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64(format!("{username}:{password}").as_bytes())
    )
}

impl Credentials {
    /// HTTP Basic credentials: the API username and password of a merchant
    /// account (Klarna's merchant portal issues them).
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            kind: Kind::Basic {
                username: username.into(),
                password: password.into(),
            },
        }
    }

    /// API-key credentials of the global Payment API: the key goes into the
    /// `Authorization` header exactly as given (Klarna's examples send it
    /// with no scheme word in front), the partner account into
    /// `Klarna-Partner-Account`.
    pub fn api_key(key: impl Into<String>, partner_account: impl Into<String>) -> Self {
        Credentials {
            kind: Kind::ApiKey {
                key: key.into(),
                partner_account: partner_account.into(),
            },
        }
    }

    /// Basic credentials from `KLARNA_USERNAME` and `KLARNA_PASSWORD`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Credentials::from_env_prefixed("KLARNA")
    }

    /// Basic credentials from `{PREFIX}_USERNAME` and `{PREFIX}_PASSWORD`:
    /// a shop with an EU and a North American account keeps both, as
    /// `KLARNA_EU_...` and `KLARNA_NA_...`.
    pub fn from_env_prefixed(prefix: &str) -> Result<Self, ConfigError> {
        Ok(Credentials::basic(
            env_var(&format!("{prefix}_USERNAME"))?,
            env_var(&format!("{prefix}_PASSWORD"))?,
        ))
    }

    /// API-key credentials from `KLARNA_API_KEY` and
    /// `KLARNA_PARTNER_ACCOUNT`; the error names the first one missing.
    pub fn api_key_from_env() -> Result<Self, ConfigError> {
        Credentials::api_key_from_env_prefixed("KLARNA")
    }

    /// API-key credentials from `{PREFIX}_API_KEY` and
    /// `{PREFIX}_PARTNER_ACCOUNT`.
    pub fn api_key_from_env_prefixed(prefix: &str) -> Result<Self, ConfigError> {
        Ok(Credentials::api_key(
            env_var(&format!("{prefix}_API_KEY"))?,
            env_var(&format!("{prefix}_PARTNER_ACCOUNT"))?,
        ))
    }

    /// Which kind of credentials these are.
    pub fn kind(&self) -> CredentialsKind {
        match &self.kind {
            Kind::Basic { .. } => CredentialsKind::Basic,
            Kind::ApiKey { .. } => CredentialsKind::ApiKey,
            Kind::Schemes(_) => CredentialsKind::Schemes,
        }
    }

    /// The part that names the account and may be logged: the username of
    /// Basic credentials, the partner account of API-key ones; empty for
    /// [`SchemeCredentials`].
    pub fn account(&self) -> &str {
        match &self.kind {
            Kind::Basic { username, .. } => username,
            Kind::ApiKey {
                partner_account, ..
            } => partner_account,
            Kind::Schemes(_) => "",
        }
    }

    /// The per-scheme secrets, for [`SchemeCredentials`].
    pub(crate) fn schemes(&self) -> Option<&SchemeCredentials> {
        match &self.kind {
            Kind::Schemes(schemes) => Some(schemes),
            _ => None,
        }
    }

    /// The username of Basic credentials; `None` for others.
    pub fn username(&self) -> Option<&str> {
        match &self.kind {
            Kind::Basic { username, .. } => Some(username),
            _ => None,
        }
    }

    /// The partner account of API-key credentials; `None` for others.
    pub fn partner_account(&self) -> Option<&str> {
        match &self.kind {
            Kind::ApiKey {
                partner_account, ..
            } => Some(partner_account),
            _ => None,
        }
    }

    /// The `Authorization` header value every call carries; `None` for
    /// [`SchemeCredentials`], which each call chooses from.
    pub(crate) fn authorization(&self) -> Option<String> {
        match &self.kind {
            Kind::Basic { username, password } => Some(basic_authorization(username, password)),
            Kind::ApiKey { key, .. } => Some(key.clone()),
            Kind::Schemes(_) => None,
        }
    }

    /// The `Authorization` header and, for API-key credentials, the
    /// `Klarna-Partner-Account` header, both marked sensitive so that
    /// reqwest never prints them.
    pub(crate) fn header_values(
        &self,
    ) -> Result<(Option<HeaderValue>, Option<HeaderValue>), ConfigError> {
        let sensitive = |value: &str| {
            let mut value =
                HeaderValue::from_str(value).map_err(|_| ConfigError::InvalidCredentials)?;
            value.set_sensitive(true);
            Ok(value)
        };
        if let Some(schemes) = self.schemes() {
            // Checked here, once, so that no call fails on a secret that
            // no header can carry.
            for (_, secret) in &schemes.secrets {
                match secret {
                    SchemeSecret::Token(token) => sensitive(&format!("Bearer {token}"))?,
                    SchemeSecret::Basic { username, password } => {
                        sensitive(&basic_authorization(username, password))?
                    }
                };
            }
        }
        let partner_account = self.partner_account().map(sensitive).transpose()?;
        let authorization = self.authorization().as_deref().map(sensitive).transpose()?;
        Ok((authorization, partner_account))
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Basic { username, .. } => f
                .debug_struct("Credentials")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Kind::ApiKey {
                partner_account, ..
            } => f
                .debug_struct("Credentials")
                .field("partner_account", partner_account)
                .field("api_key", &"<redacted>")
                .finish(),
            Kind::Schemes(schemes) => f
                .debug_struct("Credentials")
                .field("schemes", schemes)
                .finish(),
        }
    }
}

fn env_var(name: &str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Ok(value),
        _ => Err(ConfigError::MissingEnvironmentVariable(name.to_owned())),
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
            Some("Basic dXNlcm5hbWU6cGFzc3dvcmQ=".to_owned())
        );
    }

    #[test]
    fn debug_never_shows_the_password() {
        let debug = format!("{:?}", Credentials::basic("PK0001_merchant", "s3cr3t-p4ss"));
        assert!(debug.contains("PK0001_merchant"));
        assert!(!debug.contains("s3cr3t-p4ss"), "{debug}");
    }

    const API_KEY: &str = "klarna_test_api_S3cr3tK3y";
    const PARTNER_ACCOUNT: &str = "krn:partner:account:206bbb83-9b6e-46fa-940d-337153c04a58";

    #[test]
    fn api_key_is_sent_as_given_with_the_partner_account() {
        let credentials = Credentials::api_key(API_KEY, PARTNER_ACCOUNT);
        assert_eq!(credentials.authorization().as_deref(), Some(API_KEY));
        let (authorization, partner_account) = credentials.header_values().unwrap();
        let authorization = authorization.unwrap();
        assert_eq!(authorization, API_KEY);
        assert!(authorization.is_sensitive());
        let partner_account = partner_account.expect("API-key credentials name the account");
        assert_eq!(partner_account, PARTNER_ACCOUNT);
        assert!(partner_account.is_sensitive());
        assert_eq!(credentials.account(), PARTNER_ACCOUNT);
        assert_eq!(credentials.partner_account(), Some(PARTNER_ACCOUNT));
        assert_eq!(credentials.username(), None);
    }

    #[test]
    fn basic_credentials_send_no_partner_account() {
        let credentials = Credentials::basic("username", "password");
        let (authorization, partner_account) = credentials.header_values().unwrap();
        assert!(authorization.unwrap().is_sensitive());
        assert_eq!(partner_account, None);
        assert_eq!(credentials.account(), "username");
        assert_eq!(credentials.username(), Some("username"));
        assert_eq!(credentials.partner_account(), None);
    }

    #[test]
    fn debug_never_shows_the_api_key() {
        let credentials = Credentials::api_key(API_KEY, PARTNER_ACCOUNT);
        let (authorization, partner_account) = credentials.header_values().unwrap();
        for debug in [
            format!("{credentials:?}"),
            format!("{authorization:?}"),
            format!("{partner_account:?}"),
        ] {
            assert!(!debug.contains(API_KEY), "{debug}");
            assert!(!debug.contains("S3cr3t"), "{debug}");
        }
        assert!(
            format!("{credentials:?}").contains(PARTNER_ACCOUNT),
            "the partner account helps find the account"
        );
    }

    #[test]
    fn credentials_a_header_cannot_carry_are_refused_without_echoing_them() {
        for credentials in [
            Credentials::api_key("key\nInjected: 1", PARTNER_ACCOUNT),
            Credentials::api_key(API_KEY, "account\r\n"),
        ] {
            let error = credentials.header_values().unwrap_err();
            assert_eq!(error, ConfigError::InvalidCredentials);
            assert!(!error.to_string().contains("Injected"), "{error}");
        }
    }

    #[test]
    fn scheme_credentials_show_their_names_and_never_their_secrets() {
        let credentials: Credentials = SchemeCredentials::new()
            .token("bearerAuth", "t0k3n-S3cr3t")
            .basic("basicAuth", "user", "p4ss-S3cr3t")
            .token("bearerAuth", "r3placed-S3cr3t")
            .into();
        let debug = format!("{credentials:?}");
        assert!(!debug.contains("S3cr3t"), "{debug}");
        assert!(
            debug.contains("bearerAuth") && debug.contains("basicAuth"),
            "{debug}"
        );
        assert_eq!(credentials.kind(), CredentialsKind::Schemes);
        assert_eq!(credentials.header_values().unwrap(), (None, None));
        let schemes = credentials.schemes().unwrap();
        assert_eq!(
            schemes.secrets.len(),
            2,
            "a second secret replaces the first"
        );
        assert!(
            matches!(schemes.get("bearerAuth"), Some(SchemeSecret::Token(t)) if t == "r3placed-S3cr3t")
        );
    }

    #[test]
    fn missing_api_key_variables_are_named() {
        // Reading, never setting: the test must not race with others.
        if std::env::var_os("KLARNA_API_KEY").is_none() {
            assert_eq!(
                Credentials::api_key_from_env().unwrap_err(),
                ConfigError::MissingEnvironmentVariable("KLARNA_API_KEY".into())
            );
        } else if std::env::var_os("KLARNA_PARTNER_ACCOUNT").is_none() {
            assert_eq!(
                Credentials::api_key_from_env().unwrap_err(),
                ConfigError::MissingEnvironmentVariable("KLARNA_PARTNER_ACCOUNT".into())
            );
        }
    }
}
