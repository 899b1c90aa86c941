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

/// The merchant's Basic credentials: `KLARNA_USER`/`KLARNA_PASS` (the names
/// of the Captures capability), else the SDK's `KLARNA_USERNAME`/
/// `KLARNA_PASSWORD`. The error names the variables, never a value.
pub fn basic_credentials_from_env() -> Result<Credentials, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (var("KLARNA_USER"), var("KLARNA_PASS")) {
        (Some(user), Some(pass)) => return Ok(Credentials::basic(user, pass)),
        (Some(_), None) | (None, Some(_)) => {
            return Err("set both KLARNA_USER and KLARNA_PASS, or neither".to_owned())
        }
        (None, None) => {}
    }
    match (var("KLARNA_USERNAME"), var("KLARNA_PASSWORD")) {
        (Some(user), Some(pass)) => Ok(Credentials::basic(user, pass)),
        _ => Err(
            "no Klarna credentials: set KLARNA_USER and KLARNA_PASS (or KLARNA_USERNAME and \
             KLARNA_PASSWORD), or run with --sandbox"
                .to_owned(),
        ),
    }
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
