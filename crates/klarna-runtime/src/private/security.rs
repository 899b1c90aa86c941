//! The security schemes of an OpenAPI document, as generated clients of
//! APIs that are not Klarna's send them: which of an operation's
//! alternatives the configured [`SchemeCredentials`] satisfy, and the
//! headers and query parameters that carry its secrets.

use http::header::HeaderValue;

use crate::credentials::{basic_authorization, SchemeCredentials, SchemeSecret};

/// How a scheme sends its secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `http` `basic`: `Authorization: Basic ...`.
    Basic,
    /// `http` `bearer`, and the access token of `oauth2` and
    /// `openIdConnect`: `Authorization: Bearer ...`.
    Bearer,
    /// `apiKey` in a header of this name.
    HeaderKey(&'static str),
    /// `apiKey` in a query parameter of this name.
    QueryKey(&'static str),
    /// `apiKey` in a cookie of this name.
    CookieKey(&'static str),
}

/// One piece of a chosen alternative.
pub(crate) enum Part {
    /// A header, its value marked sensitive.
    Header(&'static str, HeaderValue),
    /// `name=value`, encoded, for the query.
    Query(String),
}

/// The parts of the first alternative whose secrets `credentials` all
/// hold; an error naming what is missing when none is satisfied. No
/// alternatives at all means the operation needs none.
pub(crate) fn choose(
    credentials: &SchemeCredentials,
    alternatives: &[&[(&'static str, Scheme)]],
) -> Result<Vec<Part>, String> {
    if alternatives.is_empty() {
        return Ok(Vec::new());
    }
    // An empty alternative (`{}`) makes the security optional: it is taken
    // only when no other can be, so configured credentials are still sent.
    let (empty, others): (Vec<_>, Vec<_>) = alternatives.iter().partition(|a| a.is_empty());
    for alternative in others {
        if let Some(parts) = parts(credentials, alternative) {
            return Ok(parts);
        }
    }
    if !empty.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: Vec<String> = alternatives
        .iter()
        .map(|alternative| {
            alternative
                .iter()
                .map(|(name, scheme)| format!("`{name}` ({})", describe(*scheme)))
                .collect::<Vec<_>>()
                .join(" and ")
        })
        .collect();
    Err(format!(
        "no credentials for its security: it takes {} (SchemeCredentials)",
        wanted.join(", or ")
    ))
}

fn describe(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::Basic => "a username and password",
        Scheme::Bearer | Scheme::HeaderKey(_) | Scheme::QueryKey(_) | Scheme::CookieKey(_) => {
            "a token"
        }
    }
}

fn parts(
    credentials: &SchemeCredentials,
    alternative: &[(&'static str, Scheme)],
) -> Option<Vec<Part>> {
    let sensitive = |text: &str| {
        let mut value = HeaderValue::from_str(text).ok()?;
        value.set_sensitive(true);
        Some(value)
    };
    alternative
        .iter()
        .map(|(name, scheme)| {
            let secret = credentials.get(name)?;
            Some(match (scheme, secret) {
                (Scheme::Basic, SchemeSecret::Basic { username, password }) => Part::Header(
                    "authorization",
                    sensitive(&basic_authorization(username, password))?,
                ),
                (Scheme::Bearer, SchemeSecret::Token(token)) => {
                    Part::Header("authorization", sensitive(&format!("Bearer {token}"))?)
                }
                (Scheme::HeaderKey(header), SchemeSecret::Token(token)) => {
                    Part::Header(header, sensitive(token)?)
                }
                (Scheme::QueryKey(parameter), SchemeSecret::Token(token)) => {
                    let mut pair = crate::private::encode::encode_path(parameter);
                    pair.push('=');
                    pair.push_str(&crate::private::encode::encode_path(token));
                    Part::Query(pair)
                }
                (Scheme::CookieKey(cookie), SchemeSecret::Token(token)) => {
                    Part::Header("cookie", sensitive(&format!("{cookie}={token}"))?)
                }
                // A token for a Basic scheme, or the other way round.
                _ => return None,
            })
        })
        .collect()
}
