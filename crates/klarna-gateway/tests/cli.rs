//! The command line as a deployment sets it: each flag from its
//! environment variable (read back through `klarna-gateway config`, which
//! prints the settings and exits), a flag winning over its variable, bad
//! values named in clear errors, the credentials' one precedence, and
//! `--version` and `--help`. Each run of the binary is bounded.

use std::process::Output;

use serde_json::{json, Value};

mod common;

use common::STEP;

/// Every variable the command line reads, removed before each run so that
/// the machine's environment cannot leak into a test.
const VARIABLES: &[&str] = &[
    "KLARNA_GATEWAY_MCP",
    "KLARNA_GATEWAY_STDIO",
    "KLARNA_GATEWAY_REST",
    "KLARNA_GATEWAY_ALLOWED_HOSTS",
    "KLARNA_GATEWAY_TIMEOUT",
    "KLARNA_GATEWAY_SANDBOX",
    "KLARNA_GATEWAY_UPSTREAM",
    "KLARNA_GATEWAY_REGION",
    "KLARNA_GATEWAY_ENVIRONMENT",
    "KLARNA_GATEWAY_JOURNAL",
    "KLARNA_GATEWAY_NO_JOURNAL",
    "KLARNA_GATEWAY_JOURNAL_RETENTION",
    "KLARNA_GATEWAY_TAGS",
    "KLARNA_GATEWAY_ALL",
    "KLARNA_GATEWAY_READ_ONLY",
    "KLARNA_GATEWAY_ALLOW_KEYLESS",
    "KLARNA_GATEWAY_MAX_AMOUNT",
    "KLARNA_GATEWAY_CONFIRM_ABOVE",
    "KLARNA_GATEWAY_NO_CONFIRM",
    "KLARNA_GATEWAY_LOG_FORMAT",
    "KLARNA_GATEWAY_LOG",
    "KLARNA_GATEWAY_OAUTH_ISSUER",
    "KLARNA_GATEWAY_OAUTH_JWKS_URI",
    "KLARNA_GATEWAY_OAUTH_MCP_RESOURCE",
    "KLARNA_GATEWAY_OAUTH_REST_RESOURCE",
    "KLARNA_GATEWAY_OAUTH_SCOPE_PREFIX",
    "KLARNA_API_KEY",
    "KLARNA_PARTNER_ACCOUNT",
];

/// Runs the binary with `args` and only the variables in `env` of ours.
async fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = common::gateway_command();
    for var in VARIABLES {
        command.env_remove(var);
    }
    command.args(args).envs(env.iter().copied());
    tokio::time::timeout(STEP, command.output())
        .await
        .expect("the binary exits in time")
        .unwrap()
}

/// The settings `config` prints with these variables.
async fn config(args: &[&str], env: &[(&str, &str)]) -> Value {
    let output = run(&[&["config"], args].concat(), env).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("config prints JSON")
}

#[tokio::test]
async fn each_flag_comes_from_its_variable() {
    let cases: &[(&str, &str, &str, Value)] = &[
        (
            "KLARNA_GATEWAY_MCP",
            "127.0.0.1:9999",
            "/mcp",
            json!("127.0.0.1:9999"),
        ),
        (
            "KLARNA_GATEWAY_REST",
            "127.0.0.1:8888",
            "/rest",
            json!("127.0.0.1:8888"),
        ),
        ("KLARNA_GATEWAY_STDIO", "true", "/stdio", json!(true)),
        (
            "KLARNA_GATEWAY_ALLOWED_HOSTS",
            "gateway.internal,10.0.0.7",
            "/allowed_hosts",
            json!(["gateway.internal", "10.0.0.7"]),
        ),
        (
            "KLARNA_GATEWAY_TIMEOUT",
            "5",
            "/timeout_seconds",
            json!(5.0),
        ),
        ("KLARNA_GATEWAY_SANDBOX", "1", "/sandbox", json!(true)),
        (
            "KLARNA_GATEWAY_UPSTREAM",
            "http://127.0.0.1:1",
            "/upstream",
            json!("http://127.0.0.1:1"),
        ),
        (
            "KLARNA_GATEWAY_REGION",
            "na",
            "/region",
            json!("NorthAmerica"),
        ),
        (
            "KLARNA_GATEWAY_ENVIRONMENT",
            "production",
            "/environment",
            json!("Production"),
        ),
        (
            "KLARNA_GATEWAY_JOURNAL",
            "/var/lib/gateway/journal.sqlite",
            "/journal",
            json!("/var/lib/gateway/journal.sqlite"),
        ),
        ("KLARNA_GATEWAY_NO_JOURNAL", "yes", "/journal", json!("off")),
        (
            "KLARNA_GATEWAY_JOURNAL_RETENTION",
            "24",
            "/journal_retention_hours",
            json!(24.0),
        ),
        (
            "KLARNA_GATEWAY_TAGS",
            "Refunds,Orders",
            "/surface",
            json!(["Refunds", "Orders"]),
        ),
        ("KLARNA_GATEWAY_ALL", "on", "/surface", json!("all")),
        (
            "KLARNA_GATEWAY_READ_ONLY",
            "true",
            "/read_only",
            json!(true),
        ),
        (
            "KLARNA_GATEWAY_ALLOW_KEYLESS",
            "true",
            "/allow_keyless",
            json!(true),
        ),
        (
            "KLARNA_GATEWAY_MAX_AMOUNT",
            "6000",
            "/max_amount",
            json!(6000),
        ),
        (
            "KLARNA_GATEWAY_CONFIRM_ABOVE",
            "100",
            "/confirm",
            json!({ "above": 100 }),
        ),
        (
            "KLARNA_GATEWAY_NO_CONFIRM",
            "true",
            "/confirm",
            json!("never"),
        ),
        (
            "KLARNA_GATEWAY_LOG_FORMAT",
            "json",
            "/log_format",
            json!("json"),
        ),
        ("KLARNA_GATEWAY_LOG", "warn", "/log", json!("warn")),
        (
            "KLARNA_GATEWAY_TOKEN",
            "t0ken",
            "/credentials/token",
            json!(true),
        ),
    ];
    let defaults = config(&[], &[]).await;
    for (var, value, pointer, expected) in cases {
        assert_ne!(
            defaults.pointer(pointer),
            Some(expected),
            "{var}: the default already reads {expected}"
        );
        let settings = config(&[], &[(*var, *value)]).await;
        assert_eq!(settings.pointer(pointer), Some(expected), "{var}={value}");
    }
    // OAuth: the issuer turns it on; the others refine it.
    let oauth = [
        (
            "KLARNA_GATEWAY_OAUTH_ISSUER",
            "https://auth.example",
            "/oauth/issuer",
        ),
        (
            "KLARNA_GATEWAY_OAUTH_JWKS_URI",
            "https://auth.example/keys",
            "/oauth/jwks_uri",
        ),
        (
            "KLARNA_GATEWAY_OAUTH_MCP_RESOURCE",
            "https://gw.example/mcp",
            "/oauth/mcp_resource",
        ),
        (
            "KLARNA_GATEWAY_OAUTH_REST_RESOURCE",
            "https://gw.example/v1",
            "/oauth/rest_resource",
        ),
        (
            "KLARNA_GATEWAY_OAUTH_SCOPE_PREFIX",
            "shop",
            "/oauth/scope_prefix",
        ),
        (
            "KLARNA_GATEWAY_OAUTH_REVOKED",
            "/etc/klarna-gateway/revoked",
            "/oauth/revoked",
        ),
    ];
    assert_eq!(defaults["oauth"], Value::Null);
    let settings = config(&[], &oauth.map(|(var, value, _)| (var, value))).await;
    for (var, value, pointer) in oauth {
        assert_eq!(settings.pointer(pointer), Some(&json!(value)), "{var}");
    }
    // Both halves of the Payment API's key.
    let settings = config(
        &[],
        &[("KLARNA_API_KEY", "k"), ("KLARNA_PARTNER_ACCOUNT", "p")],
    )
    .await;
    assert_eq!(settings["credentials"]["api_key"], json!(true));
}

#[tokio::test]
async fn a_flag_wins_over_its_variable() {
    let settings = config(
        &["--timeout", "7", "--tag", "Captures"],
        &[
            ("KLARNA_GATEWAY_TIMEOUT", "5"),
            ("KLARNA_GATEWAY_TAGS", "Refunds"),
        ],
    )
    .await;
    assert_eq!(settings["timeout_seconds"], json!(7.0));
    assert_eq!(settings["surface"], json!(["Captures"]));
}

#[tokio::test]
async fn the_capability_names_come_before_the_sdks_and_no_secret_is_printed() {
    let sdk = config(
        &[],
        &[
            ("KLARNA_USERNAME", "sdk-user"),
            ("KLARNA_PASSWORD", "sdk-secret"),
        ],
    )
    .await;
    assert_eq!(sdk["credentials"]["basic"], json!("KLARNA_USERNAME"));
    let output = run(
        &["config"],
        &[
            ("KLARNA_USER", "seed-user"),
            ("KLARNA_PASS", "seed-secret"),
            ("KLARNA_USERNAME", "sdk-user"),
            ("KLARNA_PASSWORD", "sdk-secret"),
            ("KLARNA_GATEWAY_TOKEN", "token-secret"),
        ],
    )
    .await;
    let printed = String::from_utf8(output.stdout).unwrap();
    let settings: Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(settings["credentials"]["basic"], json!("KLARNA_USER"));
    for secret in ["seed-secret", "sdk-secret", "token-secret"] {
        assert!(!printed.contains(secret), "{secret} printed: {printed}");
    }
    // Half a pair stops the gateway, naming the variables only.
    let half = run(
        &[
            "--upstream",
            "http://127.0.0.1:1",
            "rest",
            "--rest",
            "127.0.0.1:0",
        ],
        &[
            ("KLARNA_USER", "seed-user"),
            ("KLARNA_PASSWORD", "sdk-secret"),
        ],
    )
    .await;
    assert_eq!(half.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&half.stderr);
    assert!(
        stderr.contains("set both KLARNA_USER and KLARNA_PASS, or neither"),
        "{stderr}"
    );
    assert!(!stderr.contains("sdk-secret"), "{stderr}");
}

/// Arguments, variables, and what the error must say.
type BadCase<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[tokio::test]
async fn bad_values_from_flags_and_variables_are_clear_errors() {
    let cases: &[BadCase] = &[
        (
            &["--timeout", "soon"],
            &[],
            "invalid value 'soon' for '--timeout <SECONDS>': `soon` is not a number of seconds",
        ),
        (
            &[],
            &[("KLARNA_GATEWAY_TIMEOUT", "-3")],
            "invalid value '-3' for '--timeout <SECONDS>'",
        ),
        (
            &[],
            &[("KLARNA_GATEWAY_REGION", "us")],
            "invalid value 'us' for '--region <REGION>'",
        ),
        (
            &[],
            &[("KLARNA_GATEWAY_MCP", "localhost:9090")],
            "--mcp: `localhost:9090` is not an address such as 127.0.0.1:9090",
        ),
        (
            &[],
            &[("KLARNA_GATEWAY_NO_CONFIRM", "perhaps")],
            "invalid value 'perhaps' for '--no-confirm'",
        ),
        (
            &[],
            &[("KLARNA_GATEWAY_MAX_AMOUNT", "60.00")],
            "`60.00` is not an amount in minor units (6000 is 60.00)",
        ),
        (
            &["--confirm-above", "100"],
            &[("KLARNA_GATEWAY_NO_CONFIRM", "true")],
            "cannot be used with",
        ),
        (
            &["--oauth-revoked", "/etc/klarna-gateway/revoked"],
            &[],
            "--oauth-revoked (KLARNA_GATEWAY_OAUTH_REVOKED) revokes OAuth tokens: it needs \
             --oauth-issuer (KLARNA_GATEWAY_OAUTH_ISSUER)",
        ),
        (
            &[],
            &[("KLARNA_GATEWAY_LOG", "loud")],
            "invalid value 'loud' for '--log <FILTER>'",
        ),
        (&["--frobnicate"], &[], "unexpected argument '--frobnicate'"),
        (
            &["journal", "pending", "--no-journal"],
            &[],
            "the journal commands need a journal",
        ),
    ];
    for (args, env, needle) in cases {
        let output = run(args, env).await;
        assert_eq!(output.status.code(), Some(2), "{args:?} {env:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needle), "{args:?} {env:?}: {stderr}");
    }
}

#[tokio::test]
async fn version_and_help_name_every_variable() {
    let version = run(&["--version"], &[]).await;
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("klarna-gateway {}", env!("CARGO_PKG_VERSION"))
    );
    let help = run(&["--help"], &[]).await;
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    for var in VARIABLES.iter().chain(&[
        "KLARNA_USER",
        "KLARNA_PASS",
        "KLARNA_USERNAME",
        "KLARNA_GATEWAY_TOKEN",
    ]) {
        assert!(help.contains(var), "{var} not in --help:\n{help}");
    }
}
