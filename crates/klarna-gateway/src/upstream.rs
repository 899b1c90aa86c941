//! Where the gateway sends calls, and with which credentials.

use std::time::Duration;

use klarna_runtime::{Client, Config, Credentials, Environment, Region};

use crate::tools::Upstream;

/// Klarna by region and environment, or any base URL (a sandbox, a proxy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Klarna {
        region: Region,
        environment: Environment,
    },
    Url(String),
}

/// The merchant's Basic credentials from the environment; see
/// [`basic_credentials_from`].
pub fn basic_credentials_from_env() -> Result<Credentials, String> {
    basic_credentials_from(|name| std::env::var(name).ok()).map(|(credentials, _)| credentials)
}

/// The merchant's Basic credentials, with the variable they came from,
/// looking variables up with `env`. The one precedence: `KLARNA_USER` and
/// `KLARNA_PASS` (the names of the Captures capability), else the SDK's
/// `KLARNA_USERNAME` and `KLARNA_PASSWORD` (`Credentials::from_env`). A
/// pair is taken whole: one of a pair alone is an error (a forgotten
/// variable, not a reason to fall back to other credentials), and the
/// pairs are never mixed. An empty value counts as unset. The error names
/// the variables, never a value.
pub fn basic_credentials_from(
    env: impl Fn(&str) -> Option<String>,
) -> Result<(Credentials, &'static str), String> {
    let var = |name: &str| env(name).filter(|v| !v.is_empty());
    for (user, pass) in [
        ("KLARNA_USER", "KLARNA_PASS"),
        ("KLARNA_USERNAME", "KLARNA_PASSWORD"),
    ] {
        match (var(user), var(pass)) {
            (Some(u), Some(p)) => return Ok((Credentials::basic(u, p), user)),
            (Some(_), None) | (None, Some(_)) => {
                return Err(format!("set both {user} and {pass}, or neither"))
            }
            (None, None) => {}
        }
    }
    Err(
        "no Klarna credentials: set KLARNA_USER and KLARNA_PASS (or KLARNA_USERNAME and \
         KLARNA_PASSWORD), or run with --sandbox"
            .to_owned(),
    )
}

/// The global Payment API's API key, from `KLARNA_API_KEY` and
/// `KLARNA_PARTNER_ACCOUNT`, when both are set.
pub fn api_key_credentials_from_env() -> Option<Credentials> {
    Credentials::api_key_from_env().ok()
}

/// A client per API. `basic` signs the Order Management, Payments and
/// Settlements calls; the Payment API takes `api_key`, or, when there is none, an empty
/// key that Klarna refuses (the Payment API tools then answer 401; the
/// default Captures surface never calls it).
pub fn upstream(
    target: &Target,
    basic: Credentials,
    api_key: Option<Credentials>,
) -> Result<Upstream, String> {
    upstream_with_timeout(target, basic, api_key, DEFAULT_OVERALL_TIMEOUT)
}

/// How long one call may take, its retries included, unless told
/// otherwise: past it the REST adapter answers 504 and a tool reports a
/// `timeout`.
pub const DEFAULT_OVERALL_TIMEOUT: Duration = Duration::from_secs(60);

/// [`upstream`] with another overall timeout per call.
pub fn upstream_with_timeout(
    target: &Target,
    basic: Credentials,
    api_key: Option<Credentials>,
    overall_timeout: Duration,
) -> Result<Upstream, String> {
    let api_key = api_key.unwrap_or_else(|| Credentials::api_key("", ""));
    let (regional, payment_api) = match target {
        Target::Klarna {
            region,
            environment,
        } => (
            Config::new(*region, *environment, basic),
            Config::payment_api(api_key),
        ),
        Target::Url(url) => (
            Config::with_base_url(url.clone(), basic),
            Config::with_base_url(url.clone(), api_key),
        ),
    };
    let (regional, payment_api) = (
        regional.overall_timeout(overall_timeout),
        payment_api.overall_timeout(overall_timeout),
    );
    let error = |e: klarna_runtime::ConfigError| e.to_string();
    // Order Management, Payments and Settlements share one connection pool.
    let regional = Client::new(regional).map_err(error)?;
    Ok(Upstream {
        ordermanagement: klarna_ordermanagement::Client::from_runtime(regional.clone())
            .map_err(error)?,
        payments: klarna_payments::Client::from_runtime(regional.clone()).map_err(error)?,
        settlements: klarna_settlements::Client::from_runtime(regional).map_err(error)?,
        notifications: klarna_payments::notifications::Client::from_config(payment_api.clone())
            .map_err(error)?,
        payment_api: klarna_payments::payment_api::Client::from_config(payment_api)
            .map_err(error)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_capability_names_come_first_and_pairs_are_never_mixed() {
        let both = lookup(&[
            ("KLARNA_USER", "seed-user"),
            ("KLARNA_PASS", "seed-pass"),
            ("KLARNA_USERNAME", "sdk-user"),
            ("KLARNA_PASSWORD", "sdk-pass"),
        ]);
        let (credentials, source) = basic_credentials_from(both).unwrap();
        assert_eq!(source, "KLARNA_USER");
        assert!(format!("{credentials:?}").contains("seed-user"));
        let sdk = lookup(&[
            ("KLARNA_USERNAME", "sdk-user"),
            ("KLARNA_PASSWORD", "sdk-pass"),
        ]);
        assert_eq!(basic_credentials_from(sdk).unwrap().1, "KLARNA_USERNAME");
        // Half of the first pair is an error, not a fall back to the second.
        let half = lookup(&[
            ("KLARNA_USER", "seed-user"),
            ("KLARNA_USERNAME", "sdk-user"),
            ("KLARNA_PASSWORD", "sdk-pass"),
        ]);
        assert_eq!(
            basic_credentials_from(half).unwrap_err(),
            "set both KLARNA_USER and KLARNA_PASS, or neither"
        );
        let mixed = lookup(&[("KLARNA_USER", "u"), ("KLARNA_PASSWORD", "secret-password")]);
        let error = basic_credentials_from(mixed).unwrap_err();
        assert!(!error.contains("secret-password"), "{error}");
        let empty = lookup(&[("KLARNA_USER", ""), ("KLARNA_PASS", "")]);
        assert!(basic_credentials_from(empty)
            .unwrap_err()
            .starts_with("no Klarna credentials"));
    }
}
