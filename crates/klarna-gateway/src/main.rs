//! `klarna-gateway`: the MCP adapter on `127.0.0.1:9090` (`/mcp`) and the
//! REST adapter on `127.0.0.1:8080` (`/v1/...`), or MCP on standard input
//! and output with `mcp --stdio`. Run with `--help`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use klarna_gateway::call::Adapter;
use klarna_gateway::http::{self, HttpOptions, Token, DEFAULT_MCP_ADDR, TOKEN_VAR};
use klarna_gateway::journal::{self, Journal, JournalOptions};
use klarna_gateway::oauth::{Issuer, OAuthSettings};
use klarna_gateway::rest::{self, RestGateway, DEFAULT_REST_ADDR};
use klarna_gateway::server;
use klarna_gateway::upstream::{self, Target};
use klarna_gateway::{CallPath, Confirm, McpGateway, Policy, Surface};
use klarna_runtime::{Credentials, Environment, Region};
use klarna_sandbox::{NewOrder, Sandbox};
use rmcp::ServiceExt;
use std::sync::Arc;

const USAGE: &str = "\
usage: klarna-gateway [mcp] [rest] [options]
       klarna-gateway journal pending [--journal PATH]
       klarna-gateway journal resolve [--journal PATH] [upstream]

Serves Klarna's Order Management Captures operations as MCP tools and as
REST resources, through the Klarna Rust SDK's generated clients. Without
`mcp` or `rest` (or their address flags) both adapters run.

adapters:
  mcp                   the MCP adapter
  rest                  the REST adapter
  --mcp ADDR            MCP over streamable HTTP at http://ADDR/mcp (default 127.0.0.1:9090)
  --stdio               MCP on standard input and output instead
  --rest ADDR           REST at http://ADDR/v1/... (default 127.0.0.1:8080);
                        its OpenAPI document at /v1/openapi.json
  --allowed-host HOST   also accept this Host header (repeatable)
  --timeout SECONDS     the longest one call to Klarna may take, retries
                        included (default 60); then REST answers 504
upstream (one of):
  --sandbox             an in-process klarna-sandbox with a seeded order (prints its id)
  --upstream URL        any base URL, with the credentials from the environment
  --region eu|na|oc --environment playground|production
                        Klarna itself (default: eu, playground)
journal (of money calls: every call that is not read-only is recorded
before it is sent and completed with its outcome):
  --journal PATH        the SQLite file (default $XDG_STATE_HOME/klarna-gateway/journal.sqlite,
                        else ~/.local/state/klarna-gateway/journal.sqlite; with --sandbox
                        there is none unless this flag is given)
  --no-journal          record nothing (keys are then remembered by Klarna alone)
  --journal-retention HOURS
                        how long final records are kept (default 48: Klarna keeps
                        idempotency keys 24 h)
  journal pending       list the calls without a final outcome (sent and never
                        answered, or cut off by a crash), one JSON line each
  journal resolve       send each of them again with its own key, so that Klarna
                        acts once, and record the outcome
surface:
  --tag TAG             expose the operations of this client trait (repeatable;
                        default Captures): Orders, Captures, Refunds, Sessions, ...
  --all                 expose every operation of the three APIs
  --read-only           list and serve only read-only tools and routes

safety (see the README: Agents):
  --allow-keyless       let calls that move money or create something come without an
                        idempotency key (the old risk: a re-issued call after a lost
                        answer acts twice)
  --max-amount AMOUNT   refuse a money call above AMOUNT minor units (LIMIT_EXCEEDED)
  --confirm-above AMOUNT
                        ask the MCP user to confirm only money calls above AMOUNT
                        minor units (default: every money call)
  --no-confirm          never ask the MCP user: for unattended agents only

On SIGTERM or Ctrl-C the gateway stops accepting, lets the calls in flight
finish (10 s at most), closes the journal and exits 0.

environment:
  KLARNA_USER, KLARNA_PASS          Basic credentials (or KLARNA_USERNAME, KLARNA_PASSWORD)
  KLARNA_API_KEY, KLARNA_PARTNER_ACCOUNT   the global Payment API's key
  KLARNA_GATEWAY_TOKEN              bearer token; it or OAuth is required to bind a non-loopback address
  KLARNA_GATEWAY_OAUTH_ISSUER       OAuth 2.1: accept JWT access tokens of this issuer (README: OAuth)
  KLARNA_GATEWAY_OAUTH_JWKS_URI     its JWKS URL (default: from its metadata)
  KLARNA_GATEWAY_OAUTH_MCP_RESOURCE, KLARNA_GATEWAY_OAUTH_REST_RESOURCE
                                    the adapters' URLs as clients reach them (the tokens' `aud`)
  KLARNA_GATEWAY_OAUTH_SCOPE_PREFIX scope names' first part (default klarna: klarna:<api>:read|write)
";

/// What the command line asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Command {
    Serve,
    /// `journal pending`
    Pending,
    /// `journal resolve`
    Resolve,
}

/// Which journal, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
enum JournalChoice {
    /// The default location (none with `--sandbox`).
    Default,
    Path(std::path::PathBuf),
    Off,
}

struct Options {
    command: Command,
    journal: JournalChoice,
    retention: Duration,
    stdio: bool,
    /// Where each adapter listens; `None` when it does not run.
    mcp: Option<SocketAddr>,
    rest: Option<SocketAddr>,
    timeout: Duration,
    allowed_hosts: Vec<String>,
    sandbox: bool,
    upstream: Option<String>,
    region: Region,
    environment: Environment,
    surface: Surface,
    policy: Policy,
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let default_mcp: SocketAddr = DEFAULT_MCP_ADDR
        .parse()
        .expect("the default address parses");
    let default_rest: SocketAddr = DEFAULT_REST_ADDR
        .parse()
        .expect("the default address parses");
    let mut options = Options {
        command: Command::Serve,
        journal: JournalChoice::Default,
        retention: journal::DEFAULT_RETENTION,
        stdio: false,
        mcp: None,
        rest: None,
        timeout: upstream::DEFAULT_OVERALL_TIMEOUT,
        allowed_hosts: Vec::new(),
        sandbox: false,
        upstream: None,
        region: Region::Europe,
        environment: Environment::Playground,
        surface: Surface::default(),
        policy: Policy::default(),
    };
    let mut confirm_above = None;
    let mut no_confirm = false;
    let mut tags = Vec::new();
    let mut all = false;
    let mut args = args.into_iter().peekable();
    if args.peek().map(String::as_str) == Some("journal") {
        args.next();
        options.command = match args.next().as_deref() {
            Some("pending") => Command::Pending,
            Some("resolve") => Command::Resolve,
            Some(other) => return Err(format!("journal: `{other}` is not pending or resolve")),
            None => return Err("journal needs pending or resolve".to_owned()),
        };
    }
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or(format!("{flag} needs a value"));
        match arg.as_str() {
            "mcp" => options.mcp = options.mcp.or(Some(default_mcp)),
            "rest" => options.rest = options.rest.or(Some(default_rest)),
            "--stdio" => options.stdio = true,
            "--mcp" => {
                let addr = value("--mcp")?;
                options.mcp = Some(addr.parse().map_err(|_| {
                    format!("--mcp: `{addr}` is not an address such as 127.0.0.1:9090")
                })?);
            }
            "--rest" => {
                let addr = value("--rest")?;
                options.rest = Some(addr.parse().map_err(|_| {
                    format!("--rest: `{addr}` is not an address such as 127.0.0.1:8080")
                })?);
            }
            "--timeout" => {
                let text = value("--timeout")?;
                options.timeout = text
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0 && *s <= 3600.0)
                    .map(Duration::from_secs_f64)
                    .ok_or(format!(
                        "--timeout: `{text}` is not a number of seconds between 0 and 3600"
                    ))?;
            }
            "--allowed-host" => options.allowed_hosts.push(value("--allowed-host")?),
            "--sandbox" => options.sandbox = true,
            "--upstream" => options.upstream = Some(value("--upstream")?),
            "--region" => {
                options.region = match value("--region")?.as_str() {
                    "eu" => Region::Europe,
                    "na" => Region::NorthAmerica,
                    "oc" => Region::Oceania,
                    other => return Err(format!("--region: `{other}` is not eu, na or oc")),
                }
            }
            "--environment" => {
                options.environment = match value("--environment")?.as_str() {
                    "playground" => Environment::Playground,
                    "production" => Environment::Production,
                    other => {
                        return Err(format!(
                            "--environment: `{other}` is not playground or production"
                        ))
                    }
                }
            }
            "--journal" => options.journal = JournalChoice::Path(value("--journal")?.into()),
            "--no-journal" => options.journal = JournalChoice::Off,
            "--journal-retention" => {
                let text = value("--journal-retention")?;
                options.retention = text
                    .parse::<f64>()
                    .ok()
                    .filter(|h| h.is_finite() && *h > 0.0 && *h <= 24.0 * 366.0)
                    .map(|h| Duration::from_secs_f64(h * 3600.0))
                    .ok_or(format!(
                        "--journal-retention: `{text}` is not a number of hours up to a year"
                    ))?;
            }
            "--tag" => tags.push(value("--tag")?),
            "--all" => all = true,
            "--read-only" => options.policy.read_only = true,
            "--allow-keyless" => options.policy.allow_keyless = true,
            "--max-amount" => {
                options.policy.max_amount = Some(amount(&value("--max-amount")?, "--max-amount")?)
            }
            "--confirm-above" => {
                confirm_above = Some(amount(&value("--confirm-above")?, "--confirm-above")?)
            }
            "--no-confirm" => no_confirm = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    options.policy.confirm = match (no_confirm, confirm_above) {
        (true, Some(_)) => {
            return Err("--no-confirm and --confirm-above exclude each other".to_owned())
        }
        (true, None) => Confirm::Never,
        (false, Some(above)) => Confirm::Above(above),
        (false, None) => Confirm::Always,
    };
    if options.command != Command::Serve && options.journal == JournalChoice::Off {
        return Err("--no-journal: the journal commands need a journal".to_owned());
    }
    if options.command == Command::Resolve && options.sandbox {
        return Err("journal resolve: --sandbox would resend to a new, empty sandbox".to_owned());
    }
    if options.sandbox && options.upstream.is_some() {
        return Err("--sandbox and --upstream exclude each other".to_owned());
    }
    if options.mcp.is_none() && options.rest.is_none() {
        // `--stdio` alone is MCP alone; nothing at all is both adapters.
        if !options.stdio {
            options.mcp = Some(default_mcp);
        }
        options.rest = (!options.stdio).then_some(default_rest);
    }
    options.surface = match (all, tags.is_empty()) {
        (true, _) => Surface::All,
        (false, false) => Surface::Tags(tags),
        (false, true) => Surface::default(),
    };
    Ok(options)
}

/// An amount in minor units: a whole number, not negative.
fn amount(text: &str, flag: &str) -> Result<i64, String> {
    text.parse::<i64>().ok().filter(|a| *a >= 0).ok_or(format!(
        "{flag}: `{text}` is not an amount in minor units (6000 is 60.00)"
    ))
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) if message.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let ran = match options.command {
        Command::Serve => run(options).await,
        Command::Pending => pending(options).await,
        Command::Resolve => resolve(options).await,
    };
    match ran {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: Options) -> Result<(), String> {
    // Listening for SIGTERM and Ctrl-C from the start: a signal that comes
    // while the sandbox starts or the ports are bound still stops the
    // gateway.
    let interrupted = tokio::spawn(stop_signal());
    // Messages go to standard error: standard output is the stdio transport.
    let (sandbox, note) = if options.sandbox {
        let (sandbox, note) = start_sandbox()?;
        (Some(sandbox), Some(note))
    } else {
        (None, None)
    };
    let upstream = upstream_of(&options, sandbox.as_ref())?;
    let tools = options.surface.tools()?;
    let token_text = std::env::var(TOKEN_VAR).ok();
    let token = token_text.as_deref().and_then(Token::new);
    // Before serving: a journal that cannot be used stops the gateway.
    let journal = open_journal(&options).await?;
    // The caller a record names: the token's identity (a digest, never the
    // token), or loopback.
    let caller = match (&token, &token_text) {
        (Some(_), Some(text)) => format!("bearer:{}", &token_digest(text)[..12]),
        _ => "loopback".to_owned(),
    };
    // One call path for both adapters: one memory of keys (the journal, or
    // in process without one), one set of rules.
    let path = CallPath::new(upstream, tools, options.policy.clone());
    let path = match &journal {
        Some(journal) => path.remembering(Arc::new(journal.clone()), caller),
        None => path.with_caller(caller),
    };
    let oauth = oauth_issuer().await?;
    let served = path.tools().to_vec();
    let http_options = |bind: SocketAddr, adapter: Adapter| -> Result<HttpOptions, String> {
        let mut http_options = HttpOptions::new(bind, token.clone());
        http_options.allowed_hosts = options.allowed_hosts.clone();
        if let Some((settings, issuer)) = &oauth {
            let path = match adapter {
                Adapter::Mcp => http::MCP_PATH,
                Adapter::Rest => rest::PREFIX,
            };
            let server = settings.resource_server(issuer.clone(), adapter, bind, path, &served)?;
            eprintln!(
                "klarna-gateway: OAuth for {} (metadata at {})",
                server.resource(),
                server.metadata_url()
            );
            http_options = http_options.with_oauth(server);
        }
        http_options.check()?;
        Ok(http_options)
    };
    let guarded = match (&token, &oauth) {
        (_, Some(_)) => ", OAuth access token required",
        (Some(_), None) => ", bearer token required",
        (None, None) => "",
    };
    // Every address is bound before anything is served, so a port in use
    // stops the gateway at once.
    let mut servers: Vec<(&str, tokio::net::TcpListener, Router)> = Vec::new();
    if let Some(bind) = options.rest {
        let http_options = http_options(bind, Adapter::Rest)?;
        let listener = listen(bind).await?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let mut gateway = RestGateway::from_path(Arc::new(path.clone()));
        if let Some(journal) = &journal {
            gateway = gateway.with_lookup(journal.clone());
        }
        eprintln!(
            "klarna-gateway: REST at http://{addr}{} ({} operations{guarded}; OpenAPI at http://{addr}{})",
            rest::PREFIX,
            gateway.tools().len(),
            rest::OPENAPI_PATH,
        );
        servers.push(("REST", listener, rest::rest_router(gateway, &http_options)));
    }
    let mcp_path = if options.stdio {
        path.with_caller("stdio")
    } else {
        path
    };
    let mut mcp = McpGateway::from_path(Arc::new(mcp_path))?;
    if let Some(note) = &note {
        mcp = mcp.with_note(note);
    }
    if let Some(bind) = options.mcp.filter(|_| !options.stdio) {
        let http_options = http_options(bind, Adapter::Mcp)?;
        let listener = listen(bind).await?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        eprintln!(
            "klarna-gateway: MCP at http://{addr}{} ({} tools{guarded})",
            http::MCP_PATH,
            mcp.listed().len(),
        );
        servers.push((
            "MCP",
            listener,
            http::mcp_router(mcp.clone(), &http_options),
        ));
    }
    let (stop, stopped) = tokio::sync::watch::channel(());
    let mut serving = tokio::task::JoinSet::new();
    for (name, listener, router) in servers {
        let mut stopped = stopped.clone();
        serving.spawn(async move {
            let shutdown = async move {
                let _ = stopped.changed().await;
            };
            server::serve(listener, router, shutdown)
                .await
                .map_err(|e| format!("serving {name}: {e}"))
        });
    }
    let ended = if options.stdio {
        eprintln!(
            "klarna-gateway: MCP on standard input and output, {} tools",
            mcp.listed().len()
        );
        tokio::select! {
            _ = interrupted => Ok(()),
            ended = stdio(mcp) => ended,
        }
    } else {
        tokio::select! {
            _ = interrupted => {
                eprintln!("klarna-gateway: stopping: no new connections; calls in flight may finish");
                Ok(())
            }
            Some(result) = serving.join_next() => result.map_err(|e| e.to_string())?,
        }
    };
    // Stop accepting and let in-flight requests finish (each server waits
    // at most its grace), then end with status 0.
    let _ = stop.send(());
    while let Some(result) = serving.join_next().await {
        result.map_err(|e| e.to_string())??;
    }
    // Every answer given is on disk already; this checkpoints the WAL into
    // the file and closes it. A call still running past the grace stays
    // in flight in the journal, and `journal pending` lists it.
    if let Some(journal) = journal {
        journal.close().await;
        eprintln!(
            "klarna-gateway: journal {} closed",
            journal.path().display()
        );
    }
    ended
}

/// OAuth from the `KLARNA_GATEWAY_OAUTH_*` variables (none unless the
/// issuer is set), its keys fetched once to show a wrong issuer at start;
/// an issuer that does not answer yet is retried when a token comes.
async fn oauth_issuer() -> Result<Option<(OAuthSettings, Arc<Issuer>)>, String> {
    let Some(settings) = OAuthSettings::from_env() else {
        return Ok(None);
    };
    let issuer = settings.issuer()?;
    match issuer.prefetch().await {
        Ok(keys) => eprintln!(
            "klarna-gateway: OAuth issuer {}: {keys} signing keys",
            issuer.url()
        ),
        Err(message) => eprintln!("klarna-gateway: OAuth issuer not reachable yet: {message}"),
    }
    Ok(Some((settings, issuer)))
}

/// The clients of the upstream the options name.
fn upstream_of(
    options: &Options,
    sandbox: Option<&Sandbox>,
) -> Result<klarna_gateway::Upstream, String> {
    let target = match (sandbox, &options.upstream) {
        (Some(sandbox), _) => Target::Url(sandbox.base_url().to_owned()),
        (None, Some(url)) => Target::Url(url.clone()),
        (None, None) => Target::Klarna {
            region: options.region,
            environment: options.environment,
        },
    };
    let basic = match (sandbox, upstream::basic_credentials_from_env()) {
        (_, Ok(credentials)) => credentials,
        // The sandbox accepts any credentials.
        (Some(_), Err(_)) => Credentials::basic("sandbox", "sandbox"),
        (None, Err(message)) => return Err(message),
    };
    upstream::upstream_with_timeout(
        &target,
        basic,
        upstream::api_key_credentials_from_env(),
        options.timeout,
    )
}

/// Opens the journal the options name, off the runtime's threads, and
/// says how many calls it holds without a final outcome.
async fn open_journal(options: &Options) -> Result<Option<Journal>, String> {
    let path = match &options.journal {
        JournalChoice::Off => return Ok(None),
        JournalChoice::Default if options.sandbox => return Ok(None),
        JournalChoice::Default => journal::default_path(),
        JournalChoice::Path(path) => path.clone(),
    };
    let journal_options = JournalOptions {
        retention: options.retention,
        ..JournalOptions::default()
    };
    let journal = tokio::task::spawn_blocking(move || Journal::open(path, journal_options))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let pending = journal.pending_at_open();
    let hint = if pending > 0 {
        " (`klarna-gateway journal pending` lists them, `journal resolve` completes them)"
    } else {
        ""
    };
    eprintln!(
        "klarna-gateway: journal at {}: {pending} calls pending{hint}",
        journal.path().display()
    );
    Ok(Some(journal))
}

/// `journal pending`: one JSON line per call without a final outcome on
/// standard output, the count on standard error.
async fn pending(options: Options) -> Result<(), String> {
    let journal = open_journal(&options).await?.ok_or("no journal")?;
    let pending = journal.pending().await.map_err(|e| e.to_string())?;
    for entry in &pending {
        let line = serde_json::json!({
            "idempotency_key": entry.idempotency_key,
            "operation": entry.operation,
            "state": entry.state,
            "attempts": entry.attempts,
            "started_at_ms": entry.started_at_ms,
            "caller": entry.caller,
            "arguments": entry.arguments,
        });
        println!("{line}");
    }
    journal.close().await;
    Ok(())
}

/// How many pending calls `journal resolve` sends at once.
const RESOLVE_AT_ONCE: usize = 8;

/// `journal resolve`: sends each pending call again with its own key (so
/// Klarna acts once) and records the outcome. Calls it must not resend
/// (no key, past Klarna's key window, secrets not kept) are left, named.
async fn resolve(options: Options) -> Result<(), String> {
    let journal = open_journal(&options).await?.ok_or("no journal")?;
    let upstream = upstream_of(&options, None)?;
    // Every operation, unattended: these calls were admitted by the rules
    // when they were first made; the journal's record is what is resent.
    let path = Arc::new(
        CallPath::new(
            upstream,
            klarna_gateway::TOOLS.iter().collect(),
            Policy::unattended(),
        )
        .remembering(Arc::new(journal.clone()), "resolve"),
    );
    let pending = journal.pending().await.map_err(|e| e.to_string())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(RESOLVE_AT_ONCE));
    let mut sending = tokio::task::JoinSet::new();
    let mut left = 0;
    for entry in pending {
        let tool = klarna_gateway::TOOLS
            .iter()
            .find(|t| t.name == entry.operation);
        if let Some(reason) = journal::unresendable(&entry, tool, now) {
            eprintln!(
                "klarna-gateway: left {} ({}): {reason}",
                entry.idempotency_key, entry.operation
            );
            left += 1;
            continue;
        }
        let Some(tool) = tool else { continue };
        let mut arguments = entry.arguments.as_object().cloned().unwrap_or_default();
        arguments.insert(
            "idempotency_key".into(),
            entry.idempotency_key.clone().into(),
        );
        let (journal, path, slots) = (journal.clone(), path.clone(), slots.clone());
        sending.spawn(async move {
            let _slot = slots.acquire_owned().await;
            // Through the one call path, with the call's own key: the
            // journal lets it proceed (it is pending), Klarna acts once.
            let _ = path.call(Adapter::Rest, tool.name, arguments, None).await;
            let recorded = journal.lookup(&entry.idempotency_key).await.ok().flatten();
            (entry, recorded)
        });
    }
    while let Some(done) = sending.join_next().await {
        let (entry, recorded) = done.map_err(|e| e.to_string())?;
        let line = match &recorded {
            Some(r) => serde_json::json!({
                "idempotency_key": r.idempotency_key,
                "operation": r.operation,
                "state": r.state,
                "status": r.status,
                "ids": r.ids,
                "correlation_id": r.correlation_id,
            }),
            None => serde_json::json!({ "idempotency_key": entry.idempotency_key, "state": null }),
        };
        println!("{line}");
        if recorded.is_none_or(|r| r.state.is_pending()) {
            left += 1;
        }
    }
    journal.close().await;
    if left > 0 {
        return Err(format!("{left} calls are still pending"));
    }
    eprintln!("klarna-gateway: every pending call has a final outcome");
    Ok(())
}

async fn listen(bind: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| format!("cannot listen on {bind}: {e}"))
}

/// Resolves on the first SIGTERM (what Docker, Kubernetes and systemd
/// send to stop a service) or Ctrl-C. The handlers are installed before
/// this returns, so a signal that comes while the gateway starts is not
/// missed; without them the gateway runs until killed.
fn stop_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let interrupt = signal(SignalKind::interrupt());
        async move {
            match (term, interrupt) {
                (Ok(mut term), Ok(mut interrupt)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = interrupt.recv() => {}
                    }
                }
                _ => std::future::pending::<()>().await,
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// MCP on standard input and output, until the client closes it.
async fn stdio(gateway: McpGateway) -> Result<(), String> {
    let service = gateway
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| format!("MCP over stdio: {e}"))?;
    service
        .waiting()
        .await
        .map_err(|e| format!("MCP over stdio: {e}"))?;
    Ok(())
}

/// A sandbox with the order of Klarna's refund allocation guide (a
/// T-shirt, jeans and sneakers: 200.00 EUR), its id printed for the user.
/// Also returns a note for the MCP server's instructions, so an agent
/// started by a desktop client (which shows no standard error) learns the
/// order id.
fn start_sandbox() -> Result<(Sandbox, String), String> {
    let sandbox = Sandbox::start().map_err(|e| format!("cannot start the sandbox: {e}"))?;
    let order_id = sandbox.add_order(NewOrder::guide_cart());
    eprintln!("klarna-gateway: sandbox at {}", sandbox.base_url());
    eprintln!("klarna-gateway: seeded order {order_id} (200.00 EUR authorized)");
    let note = format!(
        "This gateway talks to a local test sandbox, not Klarna. It holds one order, \
         `{order_id}`: 200.00 EUR authorized (a T-shirt, jeans and sneakers), nothing captured."
    );
    Ok((sandbox, note))
}

/// A token's identity in the journal: the start of its SHA-256, in hex;
/// the token itself is never written.
fn token_digest(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
