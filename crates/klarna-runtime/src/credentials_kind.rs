//! Which kind of credentials an API takes: its own module, because both the
//! credentials and the configuration errors (which name the kind an API
//! expected) speak of it, and neither should have to import the other.

/// The two kinds of [`Credentials`](crate::Credentials); each API takes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialsKind {
    /// HTTP Basic: the regional APIs (Order Management, Payments v1).
    Basic,
    /// An API key and a partner account: the global Payment API.
    ApiKey,
    /// One secret per security scheme of an API that is not Klarna's
    /// ([`SchemeCredentials`](crate::SchemeCredentials)); each call sends
    /// what its operation asks for.
    Schemes,
}
