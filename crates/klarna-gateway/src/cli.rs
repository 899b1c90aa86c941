//! The command line of `klarna-gateway`, on clap's derive API. Every flag
//! can also come from an environment variable, named in `--help` (a flag
//! given on the command line wins over its variable), so that a container
//! is configured by its environment alone. Credentials come from the
//! environment only, never a flag: a command line is visible to every user
//! of the machine (`ps`). [`Cli::settings`] checks what clap cannot (flags
//! that only make sense together) and gives the [`Settings`] the binary
//! runs with.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use klarna_runtime::{Environment, Region};
use serde_json::{json, Value};

use crate::http::DEFAULT_MCP_ADDR;
use crate::oauth::{self, OAuthSettings};
pub use crate::observe::LogFormat;
use crate::rest::DEFAULT_REST_ADDR;
use crate::{upstream, Confirm, Policy, Surface};

const ABOUT: &str = "Serves Klarna's Order Management Captures operations as MCP tools and as \
REST resources, through the Klarna Rust SDK's generated clients.";

const LONG_ABOUT: &str = "Serves Klarna's Order Management Captures operations as MCP tools and \
as REST resources, through the Klarna Rust SDK's generated clients. Without `mcp` or `rest` (or \
their address flags) both adapters run.

Every flag can also be set by the environment variable shown beside it; a flag on the command \
line wins. A switch's variable takes true/false, yes/no, on/off or 1/0.";

/// After the flags in `--help`: the variables that are not flags.
const AFTER_HELP: &str = "\
Credentials (from the environment only: a command line is visible to every user of the machine):
  KLARNA_USER, KLARNA_PASS           Basic credentials (the Captures capability's names); when
                                     neither is set, KLARNA_USERNAME and KLARNA_PASSWORD (the
                                     SDK's names). A pair is taken whole: one of a pair alone is
                                     an error, and the two pairs are never mixed.
  KLARNA_API_KEY, KLARNA_PARTNER_ACCOUNT
                                     the global Payment API's key (its tools answer 401 without)
  KLARNA_GATEWAY_TOKEN               bearer token; required to bind a non-loopback address

Operations: GET /healthz, /readyz and /metrics (Prometheus) on the REST and the MCP port.

On SIGTERM or Ctrl-C the gateway stops accepting (/readyz answers 503), lets the calls in flight
finish (10 s at most), closes the journal and exits 0.";

/// `klarna-gateway`'s command line.
#[derive(Debug, Parser)]
#[command(
    name = "klarna-gateway",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    max_term_width = 100
)]
pub struct Cli {
    /// Run only these adapters: `mcp`, `rest` or both (default: both, or
    /// those whose address flag is given)
    #[arg(value_enum, value_name = "ADAPTER")]
    pub adapters: Vec<AdapterName>,
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub flags: Flags,
}

/// The words that name an adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AdapterName {
    Mcp,
    Rest,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// The journal of money calls
    #[command(subcommand)]
    Journal(JournalCommand),
    /// Print the settings the flags and the environment give, as JSON, and
    /// exit (credentials show only where they come from, never a value)
    Config,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Subcommand)]
pub enum JournalCommand {
    /// List the calls without a final outcome (sent and never answered, or
    /// cut off by a crash), one JSON line each
    Pending,
    /// Send each of them again with its own key, so that Klarna acts once,
    /// and record the outcome
    Resolve,
}

/// Every flag. `global`, so that they follow a subcommand too
/// (`journal pending --journal PATH`).
#[derive(Clone, Debug, Args)]
pub struct Flags {
    /// MCP over streamable HTTP at http://ADDR/mcp [default: 127.0.0.1:9090]
    #[arg(
        long,
        value_name = "ADDR",
        env = "KLARNA_GATEWAY_MCP",
        global = true,
        help_heading = "Adapters",
        value_parser = address("--mcp", "127.0.0.1:9090")
    )]
    pub mcp: Option<SocketAddr>,
    /// MCP on standard input and output instead
    #[arg(
        long,
        env = "KLARNA_GATEWAY_STDIO",
        global = true,
        help_heading = "Adapters",
        value_parser = BoolishValueParser::new()
    )]
    pub stdio: bool,
    /// REST at http://ADDR/v1/..., its OpenAPI document at /v1/openapi.json
    /// [default: 127.0.0.1:8080]
    #[arg(
        long,
        value_name = "ADDR",
        env = "KLARNA_GATEWAY_REST",
        global = true,
        help_heading = "Adapters",
        value_parser = address("--rest", "127.0.0.1:8080")
    )]
    pub rest: Option<SocketAddr>,
    /// Also accept this Host header (repeatable; the variable takes a
    /// comma-separated list)
    #[arg(
        long = "allowed-host",
        value_name = "HOST",
        env = "KLARNA_GATEWAY_ALLOWED_HOSTS",
        value_delimiter = ',',
        global = true,
        help_heading = "Adapters"
    )]
    pub allowed_hosts: Vec<String>,
    /// The longest one call to Klarna may take, retries included; then REST
    /// answers 504
    #[arg(
        long,
        value_name = "SECONDS",
        env = "KLARNA_GATEWAY_TIMEOUT",
        default_value = "60",
        global = true,
        help_heading = "Adapters",
        value_parser = timeout_seconds,
        allow_negative_numbers = true
    )]
    pub timeout: Duration,

    /// An in-process klarna-sandbox with a seeded order (prints its id);
    /// needs the default cargo feature `sandbox`
    #[arg(
        long,
        env = "KLARNA_GATEWAY_SANDBOX",
        global = true,
        help_heading = "Upstream",
        value_parser = BoolishValueParser::new(),
        conflicts_with = "upstream"
    )]
    pub sandbox: bool,
    /// Any base URL (a proxy, a sandbox), with the credentials from the
    /// environment
    #[arg(
        long,
        value_name = "URL",
        env = "KLARNA_GATEWAY_UPSTREAM",
        global = true,
        help_heading = "Upstream"
    )]
    pub upstream: Option<String>,
    /// Klarna's region, when neither --sandbox nor --upstream is given
    #[arg(
        long,
        value_enum,
        env = "KLARNA_GATEWAY_REGION",
        default_value = "eu",
        global = true,
        help_heading = "Upstream"
    )]
    pub region: RegionName,
    /// Klarna's environment, when neither --sandbox nor --upstream is given
    #[arg(
        long,
        value_enum,
        env = "KLARNA_GATEWAY_ENVIRONMENT",
        default_value = "playground",
        global = true,
        help_heading = "Upstream"
    )]
    pub environment: EnvironmentName,

    /// The SQLite file of money calls (every call that is not read-only is
    /// recorded before it is sent) [default:
    /// $XDG_STATE_HOME/klarna-gateway/journal.sqlite, else
    /// ~/.local/state/klarna-gateway/journal.sqlite; none with --sandbox]
    #[arg(
        long,
        value_name = "PATH",
        env = "KLARNA_GATEWAY_JOURNAL",
        global = true,
        help_heading = "Journal",
        conflicts_with = "no_journal"
    )]
    pub journal: Option<PathBuf>,
    /// Record nothing (keys are then remembered by Klarna alone)
    #[arg(
        long,
        env = "KLARNA_GATEWAY_NO_JOURNAL",
        global = true,
        help_heading = "Journal",
        value_parser = BoolishValueParser::new()
    )]
    pub no_journal: bool,
    /// How long final records are kept (Klarna keeps idempotency keys 24 h)
    #[arg(
        long,
        value_name = "HOURS",
        env = "KLARNA_GATEWAY_JOURNAL_RETENTION",
        default_value = "48",
        global = true,
        help_heading = "Journal",
        value_parser = retention_hours,
        allow_negative_numbers = true
    )]
    pub journal_retention: Duration,

    /// Expose the operations of this client trait (repeatable; the variable
    /// takes a comma-separated list): Orders, Captures, Refunds, Sessions,
    /// ... [default: Captures]
    #[arg(
        long = "tag",
        value_name = "TAG",
        env = "KLARNA_GATEWAY_TAGS",
        value_delimiter = ',',
        global = true,
        help_heading = "Surface"
    )]
    pub tags: Vec<String>,
    /// Expose every operation of the three APIs
    #[arg(
        long,
        env = "KLARNA_GATEWAY_ALL",
        global = true,
        help_heading = "Surface",
        value_parser = BoolishValueParser::new()
    )]
    pub all: bool,
    /// List and serve only read-only tools and routes
    #[arg(
        long,
        env = "KLARNA_GATEWAY_READ_ONLY",
        global = true,
        help_heading = "Surface",
        value_parser = BoolishValueParser::new()
    )]
    pub read_only: bool,

    /// Let calls that move money or create something come without an
    /// idempotency key (the old risk: a re-issued call after a lost answer
    /// acts twice)
    #[arg(
        long,
        env = "KLARNA_GATEWAY_ALLOW_KEYLESS",
        global = true,
        help_heading = "Safety",
        value_parser = BoolishValueParser::new()
    )]
    pub allow_keyless: bool,
    /// Refuse a money call above AMOUNT minor units (LIMIT_EXCEEDED)
    #[arg(
        long,
        value_name = "AMOUNT",
        env = "KLARNA_GATEWAY_MAX_AMOUNT",
        global = true,
        help_heading = "Safety",
        value_parser = minor_units,
        allow_negative_numbers = true
    )]
    pub max_amount: Option<i64>,
    /// Ask the MCP user to confirm only money calls above AMOUNT minor
    /// units [default: every money call]
    #[arg(
        long,
        value_name = "AMOUNT",
        env = "KLARNA_GATEWAY_CONFIRM_ABOVE",
        global = true,
        help_heading = "Safety",
        value_parser = minor_units,
        conflicts_with = "no_confirm",
        allow_negative_numbers = true
    )]
    pub confirm_above: Option<i64>,
    /// Never ask the MCP user: for unattended agents only
    #[arg(
        long,
        env = "KLARNA_GATEWAY_NO_CONFIRM",
        global = true,
        help_heading = "Safety",
        value_parser = BoolishValueParser::new()
    )]
    pub no_confirm: bool,

    /// The log lines' format on standard error: one line per call, and the
    /// SDK's retries
    #[arg(
        long,
        value_enum,
        env = "KLARNA_GATEWAY_LOG_FORMAT",
        default_value = "text",
        global = true,
        help_heading = "Operations"
    )]
    pub log_format: LogFormat,
    /// Which log lines: a level (error, warn, info, debug, trace, off), or
    /// target=level pairs, comma-separated (`info,klarna_runtime=debug`
    /// adds each attempt)
    #[arg(
        long,
        value_name = "FILTER",
        env = "KLARNA_GATEWAY_LOG",
        default_value = "info",
        global = true,
        help_heading = "Operations",
        value_parser = log_filter
    )]
    pub log: tracing_subscriber::filter::Targets,

    /// OAuth 2.1: accept JWT access tokens of this issuer (its `iss`);
    /// unset, OAuth is off (README: OAuth 2.1 for remote callers)
    #[arg(long, value_name = "URL", env = oauth::ISSUER_VAR, global = true, help_heading = "OAuth")]
    pub oauth_issuer: Option<String>,
    /// The issuer's JWKS URL (default: from its metadata)
    #[arg(long, value_name = "URL", env = oauth::JWKS_URI_VAR, global = true, help_heading = "OAuth")]
    pub oauth_jwks_uri: Option<String>,
    /// The MCP adapter's URL as clients reach it: the tokens' `aud`
    /// (default http://ADDR/mcp on a loopback address)
    #[arg(long, value_name = "URL", env = oauth::MCP_RESOURCE_VAR, global = true, help_heading = "OAuth")]
    pub oauth_mcp_resource: Option<String>,
    /// The REST adapter's URL as clients reach it: the tokens' `aud`
    /// (default http://ADDR/v1 on a loopback address)
    #[arg(long, value_name = "URL", env = oauth::REST_RESOURCE_VAR, global = true, help_heading = "OAuth")]
    pub oauth_rest_resource: Option<String>,
    /// The scope names' first part: PREFIX:API:read and PREFIX:API:write
    #[arg(
        long,
        value_name = "PREFIX",
        env = oauth::SCOPE_PREFIX_VAR,
        default_value = oauth::DEFAULT_SCOPE_PREFIX,
        global = true,
        help_heading = "OAuth"
    )]
    pub oauth_scope_prefix: String,
    /// A file of revoked OAuth access, one entry a line (sub:SUBJECT,
    /// client:CLIENT-ID, jti:TOKEN-ID, token:DIGEST or session:MCP-SESSION-ID),
    /// read again at most once a second
    #[arg(long, value_name = "FILE", env = crate::revoke::REVOKED_VAR, global = true, help_heading = "OAuth")]
    pub oauth_revoked: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RegionName {
    Eu,
    Na,
    Oc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EnvironmentName {
    Playground,
    Production,
}

/// Which journal, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JournalChoice {
    /// The default location (none with `--sandbox`).
    Default,
    Path(PathBuf),
    Off,
}

/// What the binary does, as the command line and the environment say,
/// once the flags are checked against each other.
#[derive(Clone, Debug)]
pub struct Settings {
    pub command: Option<Command>,
    pub journal: JournalChoice,
    pub retention: Duration,
    pub stdio: bool,
    /// Where each adapter listens; `None` when it does not run.
    pub mcp: Option<SocketAddr>,
    pub rest: Option<SocketAddr>,
    pub timeout: Duration,
    pub allowed_hosts: Vec<String>,
    pub sandbox: bool,
    pub upstream: Option<String>,
    pub region: Region,
    pub environment: Environment,
    pub surface: Surface,
    pub policy: Policy,
    pub log_format: LogFormat,
    pub log: tracing_subscriber::filter::Targets,
    /// `None`: OAuth is off.
    pub oauth: Option<OAuthSettings>,
}

impl Cli {
    /// The settings, or why the flags do not go together.
    pub fn settings(self) -> Result<Settings, String> {
        let Cli {
            adapters,
            command,
            flags,
        } = self;
        let default_mcp: SocketAddr = DEFAULT_MCP_ADDR.parse().expect("the default parses");
        let default_rest: SocketAddr = DEFAULT_REST_ADDR.parse().expect("the default parses");
        let journal = match (flags.no_journal, flags.journal) {
            (true, _) => JournalChoice::Off,
            (false, Some(path)) => JournalChoice::Path(path),
            (false, None) => JournalChoice::Default,
        };
        let serving = !matches!(command, Some(Command::Journal(_)));
        if !serving && journal == JournalChoice::Off {
            return Err("--no-journal: the journal commands need a journal".to_owned());
        }
        if command == Some(Command::Journal(JournalCommand::Resolve)) && flags.sandbox {
            return Err(
                "journal resolve: --sandbox would resend to a new, empty sandbox".to_owned(),
            );
        }
        let has_issuer = flags
            .oauth_issuer
            .as_deref()
            .is_some_and(|issuer| !issuer.trim().is_empty());
        if flags.oauth_revoked.is_some() && !has_issuer {
            return Err(format!(
                "--oauth-revoked ({}) revokes OAuth tokens: it needs --oauth-issuer ({})",
                crate::revoke::REVOKED_VAR,
                oauth::ISSUER_VAR
            ));
        }
        let mut mcp = flags
            .mcp
            .or(adapters.contains(&AdapterName::Mcp).then_some(default_mcp));
        let mut rest = flags.rest.or(adapters
            .contains(&AdapterName::Rest)
            .then_some(default_rest));
        if mcp.is_none() && rest.is_none() {
            // `--stdio` alone is MCP alone; nothing at all is both adapters.
            if !flags.stdio {
                mcp = Some(default_mcp);
            }
            rest = (!flags.stdio).then_some(default_rest);
        }
        let confirm = match (flags.no_confirm, flags.confirm_above) {
            // clap refuses both together; kept total for the type's sake.
            (true, _) => Confirm::Never,
            (false, Some(above)) => Confirm::Above(above),
            (false, None) => Confirm::Always,
        };
        let policy = Policy {
            allow_keyless: flags.allow_keyless,
            read_only: flags.read_only,
            max_amount: flags.max_amount,
            confirm,
        };
        let surface = match (flags.all, flags.tags.is_empty()) {
            (true, _) => Surface::All,
            (false, false) => Surface::Tags(flags.tags),
            (false, true) => Surface::default(),
        };
        Ok(Settings {
            command,
            journal,
            retention: flags.journal_retention,
            stdio: flags.stdio,
            mcp,
            rest,
            timeout: flags.timeout,
            allowed_hosts: flags.allowed_hosts,
            sandbox: flags.sandbox,
            upstream: flags.upstream,
            region: match flags.region {
                RegionName::Eu => Region::Europe,
                RegionName::Na => Region::NorthAmerica,
                RegionName::Oc => Region::Oceania,
            },
            environment: match flags.environment {
                EnvironmentName::Playground => Environment::Playground,
                EnvironmentName::Production => Environment::Production,
            },
            surface,
            policy,
            log_format: flags.log_format,
            log: flags.log,
            oauth: flags
                .oauth_issuer
                .filter(|issuer| !issuer.trim().is_empty())
                .map(|issuer| OAuthSettings {
                    issuer,
                    jwks_uri: flags.oauth_jwks_uri,
                    mcp_resource: flags.oauth_mcp_resource,
                    rest_resource: flags.oauth_rest_resource,
                    scope_prefix: flags.oauth_scope_prefix,
                    revoked: flags.oauth_revoked,
                }),
        })
    }
}

impl Settings {
    /// What `klarna-gateway config` prints: every setting, and where the
    /// credentials come from (`env` looks a variable up), never a value.
    pub fn to_json(&self, env: impl Fn(&str) -> Option<String>) -> Value {
        let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
        let basic = match upstream::basic_credentials_from(&env) {
            Ok((_, source)) => json!(source),
            Err(_) => Value::Null,
        };
        let confirm = match self.policy.confirm {
            Confirm::Always => json!("always"),
            Confirm::Above(above) => json!({ "above": above }),
            Confirm::Never => json!("never"),
        };
        json!({
            "command": match self.command {
                None => "serve",
                Some(Command::Config) => "config",
                Some(Command::Journal(JournalCommand::Pending)) => "journal pending",
                Some(Command::Journal(JournalCommand::Resolve)) => "journal resolve",
            },
            "mcp": self.mcp.filter(|_| !self.stdio).map(|a| a.to_string()),
            "stdio": self.stdio,
            "rest": self.rest.map(|a| a.to_string()),
            "allowed_hosts": self.allowed_hosts,
            "timeout_seconds": self.timeout.as_secs_f64(),
            "sandbox": self.sandbox,
            "upstream": self.upstream,
            "region": format!("{:?}", self.region),
            "environment": format!("{:?}", self.environment),
            "journal": match &self.journal {
                JournalChoice::Default => json!("default"),
                JournalChoice::Path(path) => json!(path.display().to_string()),
                JournalChoice::Off => json!("off"),
            },
            "journal_retention_hours": self.retention.as_secs_f64() / 3600.0,
            "surface": match &self.surface {
                Surface::All => json!("all"),
                Surface::Tags(tags) => json!(tags),
            },
            "read_only": self.policy.read_only,
            "allow_keyless": self.policy.allow_keyless,
            "max_amount": self.policy.max_amount,
            "confirm": confirm,
            "log_format": match self.log_format {
                LogFormat::Text => "text",
                LogFormat::Json => "json",
            },
            "log": self.log.to_string(),
            "oauth": self.oauth.as_ref().map(|o| json!({
                "issuer": o.issuer,
                "jwks_uri": o.jwks_uri,
                "mcp_resource": o.mcp_resource,
                "rest_resource": o.rest_resource,
                "scope_prefix": o.scope_prefix,
                "revoked": o.revoked.as_ref().map(|p| p.display().to_string()),
            })),
            "credentials": {
                "basic": basic,
                "api_key": set("KLARNA_API_KEY") && set("KLARNA_PARTNER_ACCOUNT"),
                "token": set(crate::http::TOKEN_VAR),
            },
        })
    }
}

/// A socket address, with an example in the error.
fn address(
    flag: &'static str,
    example: &'static str,
) -> impl Fn(&str) -> Result<SocketAddr, String> + Clone + Send + Sync + 'static {
    move |text| {
        text.parse()
            .map_err(|_| format!("{flag}: `{text}` is not an address such as {example}"))
    }
}

/// Seconds, more than 0 and at most an hour.
fn timeout_seconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 3600.0)
        .map(Duration::from_secs_f64)
        .ok_or(format!(
            "`{text}` is not a number of seconds between 0 and 3600"
        ))
}

/// Hours, more than 0 and at most a year.
fn retention_hours(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|h| h.is_finite() && *h > 0.0 && *h <= 24.0 * 366.0)
        .map(|h| Duration::from_secs_f64(h * 3600.0))
        .ok_or(format!("`{text}` is not a number of hours up to a year"))
}

/// An amount in minor units: a whole number, not negative.
fn minor_units(text: &str) -> Result<i64, String> {
    text.parse::<i64>().ok().filter(|a| *a >= 0).ok_or(format!(
        "`{text}` is not an amount in minor units (6000 is 60.00)"
    ))
}

/// A log filter: `info`, or `info,klarna_runtime=debug`.
fn log_filter(text: &str) -> Result<tracing_subscriber::filter::Targets, String> {
    // `Targets` reads a bare word as a target at every level; a bare word
    // here must be a level, so that a typo (`inf`) is an error, not silence.
    let bare_words_are_levels = text
        .split(',')
        .filter(|directive| !directive.contains('='))
        .all(|level| {
            level
                .parse::<tracing_subscriber::filter::LevelFilter>()
                .is_ok()
        });
    let parsed = text.parse().ok().filter(|_| bare_words_are_levels);
    parsed.ok_or_else(|| {
        format!(
            "`{text}` is not a level (error, warn, info, debug, trace, off) or target=level list"
        )
    })
}

// The defaults in `default_value` are text; `defaults_match_the_libraries`
// keeps them the libraries' numbers.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Settings, String> {
        let cli =
            Cli::try_parse_from(std::iter::once("klarna-gateway").chain(args.iter().copied()))
                .map_err(|e| e.to_string())?;
        cli.settings()
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_match_the_libraries() {
        let settings = parse(&[]).unwrap();
        assert_eq!(settings.retention, journal::DEFAULT_RETENTION);
        assert_eq!(settings.timeout, upstream::DEFAULT_OVERALL_TIMEOUT);
        assert_eq!(settings.mcp, Some(DEFAULT_MCP_ADDR.parse().unwrap()));
        assert_eq!(settings.rest, Some(DEFAULT_REST_ADDR.parse().unwrap()));
        assert_eq!(settings.policy.confirm, Confirm::Always);
        assert_eq!(settings.journal, JournalChoice::Default);
    }

    #[test]
    fn the_words_and_flags_choose_adapters() {
        let rest = parse(&["rest"]).unwrap();
        assert_eq!((rest.mcp, rest.rest.is_some()), (None, true));
        let stdio = parse(&["--stdio"]).unwrap();
        assert!(stdio.stdio && stdio.rest.is_none());
        let both = parse(&["mcp", "rest", "--rest", "127.0.0.1:0"]).unwrap();
        assert_eq!(both.rest, Some("127.0.0.1:0".parse().unwrap()));
        assert!(both.mcp.is_some());
        let journal = parse(&["journal", "pending", "--journal", "/tmp/j.sqlite"]).unwrap();
        assert_eq!(
            journal.command,
            Some(Command::Journal(JournalCommand::Pending))
        );
        assert_eq!(journal.journal, JournalChoice::Path("/tmp/j.sqlite".into()));
    }

    #[test]
    fn bad_values_are_clear_errors() {
        for (args, needle) in [
            (
                &["--mcp", "localhost"][..],
                "--mcp: `localhost` is not an address",
            ),
            (&["--timeout", "0"], "`0` is not a number of seconds"),
            (&["--timeout", "nan"], "`nan` is not a number of seconds"),
            (&["--journal-retention", "-1"], "is not a number of hours"),
            (
                &["--max-amount", "-5"],
                "`-5` is not an amount in minor units",
            ),
            (
                &["--max-amount", "1.5"],
                "`1.5` is not an amount in minor units",
            ),
            (
                &["--region", "us"],
                "invalid value 'us' for '--region <REGION>'",
            ),
            (
                &["--environment", "prod"],
                "possible values: playground, production",
            ),
            (&["--log-format", "xml"], "possible values: text, json"),
            (
                &["--no-confirm", "--confirm-above", "5"],
                "cannot be used with",
            ),
            (
                &["--sandbox", "--upstream", "http://x"],
                "cannot be used with",
            ),
            (&["--journal", "j", "--no-journal"], "cannot be used with"),
            (&["--verbose"], "unexpected argument '--verbose'"),
            (
                &["journal", "pending", "--no-journal"],
                "the journal commands need a journal",
            ),
            (
                &["journal", "resolve", "--sandbox"],
                "would resend to a new, empty sandbox",
            ),
            (&["journal", "list"], "unrecognized subcommand 'list'"),
        ] {
            let error = parse(args)
                .err()
                .unwrap_or_else(|| panic!("{args:?} parsed"));
            assert!(error.contains(needle), "{args:?}: {error}");
        }
    }

    #[test]
    fn safety_flags_set_the_policy() {
        let settings = parse(&[
            "--read-only",
            "--allow-keyless",
            "--max-amount",
            "6000",
            "--confirm-above",
            "100",
            "--tag",
            "Refunds",
            "--tag",
            "Orders",
        ])
        .unwrap();
        assert!(settings.policy.read_only && settings.policy.allow_keyless);
        assert_eq!(settings.policy.max_amount, Some(6000));
        assert_eq!(settings.policy.confirm, Confirm::Above(100));
        assert!(matches!(settings.surface, Surface::Tags(tags) if tags == ["Refunds", "Orders"]));
        assert!(matches!(parse(&["--all"]).unwrap().surface, Surface::All));
        assert_eq!(
            parse(&["--no-confirm"]).unwrap().policy.confirm,
            Confirm::Never
        );
    }
}
