//! `klarna-gateway`: the MCP adapter on `127.0.0.1:9090` (`/mcp`) and the
//! REST adapter on `127.0.0.1:8080` (`/v1/...`), or MCP on standard input
//! and output with `mcp --stdio`. Run with `--help`; the command line is
//! [`klarna_gateway::cli`].

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;
use clap::Parser;
use klarna_gateway::call::Adapter;
use klarna_gateway::cli::{Cli, Command, JournalChoice, JournalCommand, Settings};
use klarna_gateway::http::{self, HttpOptions, Token, TOKEN_VAR};
use klarna_gateway::journal::{self, Journal, JournalOptions};
use klarna_gateway::oauth::{Issuer, OAuthSettings};
use klarna_gateway::ops::{self, Readiness};
use klarna_gateway::rest::{self, RestGateway};
use klarna_gateway::revoke::Revocations;
use klarna_gateway::server;
use klarna_gateway::upstream::{self, Target};
use klarna_gateway::{observe, CallPath, McpGateway, Policy};
use klarna_runtime::Credentials;
use rmcp::ServiceExt;
use std::sync::Arc;

/// Without the `sandbox` feature there is no sandbox to start; this
/// stands in for its handle so that the rest reads the same.
#[cfg(not(feature = "sandbox"))]
enum Sandbox {}

#[cfg(not(feature = "sandbox"))]
impl Sandbox {
    fn base_url(&self) -> &str {
        match *self {}
    }
}

#[cfg(feature = "sandbox")]
use klarna_sandbox::Sandbox;

#[tokio::main]
async fn main() -> ExitCode {
    // clap prints `--help`, `--version` and usage errors itself (exit 0
    // and 2); what it cannot check is checked by `settings`.
    let settings = match Cli::parse().settings() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("error: {message}\n\nFor more information, try '--help'.");
            return ExitCode::from(2);
        }
    };
    if settings.command == Some(Command::Config) {
        let printed = settings.to_json(|name| std::env::var(name).ok());
        println!("{printed:#}");
        return ExitCode::SUCCESS;
    }
    let subscriber = observe::subscriber(settings.log_format, settings.log.clone());
    if let Err(e) = tracing::subscriber::set_global_default(subscriber) {
        eprintln!("error: cannot install the log subscriber: {e}");
        return ExitCode::FAILURE;
    }
    let ran = match settings.command {
        None | Some(Command::Config) => run(settings).await,
        Some(Command::Journal(JournalCommand::Pending)) => pending(settings).await,
        Some(Command::Journal(JournalCommand::Resolve)) => resolve(settings).await,
    };
    match ran {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: Settings) -> Result<(), String> {
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
    // `/readyz`: the Basic credentials were found (`upstream_of` stops the
    // gateway otherwise), and so was the Payment API's key if a served
    // tool needs it.
    let needs_api_key = tools
        .iter()
        .any(|t| matches!(t.api, "payment_api" | "notifications"));
    let readiness = Readiness::new(
        Some(upstream.clone()),
        target_name(&options, sandbox.as_ref()),
        true,
        sandbox.is_some() || !needs_api_key || upstream::api_key_credentials_from_env().is_some(),
    );
    let with_ops = |router: Router| ops::router(readiness.clone()).merge(router);
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
    let oauth = oauth_issuer(options.oauth.as_ref()).await?;
    let served = path.tools().to_vec();
    let http_options = |bind: SocketAddr, adapter: Adapter| -> Result<HttpOptions, String> {
        let mut http_options = HttpOptions::new(bind, token.clone());
        http_options.allowed_hosts = options.allowed_hosts.clone();
        if let Some((settings, issuer, revocations)) = &oauth {
            let path = match adapter {
                Adapter::Mcp => http::MCP_PATH,
                Adapter::Rest => rest::PREFIX,
            };
            let mut server =
                settings.resource_server(issuer.clone(), adapter, bind, path, &served)?;
            if let Some(revocations) = revocations {
                server = server.with_revocations(revocations.clone());
            }
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
        servers.push((
            "REST",
            listener,
            with_ops(rest::rest_router(gateway, &http_options)),
        ));
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
            with_ops(http::mcp_router(mcp.clone(), &http_options)),
        ));
    }
    readiness.listening();
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
                readiness.stopping();
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

/// Where calls go, for `/readyz`.
fn target_name(options: &Settings, sandbox: Option<&Sandbox>) -> String {
    match (sandbox, &options.upstream) {
        (Some(sandbox), _) => format!("sandbox {}", sandbox.base_url()),
        (None, Some(url)) => origin(url),
        (None, None) => format!("Klarna {:?} {:?}", options.region, options.environment),
    }
}

/// A URL's scheme, host and port alone: `/readyz` answers anyone, and an
/// upstream URL may carry a user, a password or a token in its query.
fn origin(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(url) => url.origin().ascii_serialization(),
        Err(_) => "the configured upstream".to_owned(),
    }
}

/// The clients of the upstream the options name.
fn upstream_of(
    options: &Settings,
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
async fn open_journal(options: &Settings) -> Result<Option<Journal>, String> {
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
async fn pending(options: Settings) -> Result<(), String> {
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
async fn resolve(options: Settings) -> Result<(), String> {
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
#[cfg(feature = "sandbox")]
fn start_sandbox() -> Result<(Sandbox, String), String> {
    let sandbox = Sandbox::start().map_err(|e| format!("cannot start the sandbox: {e}"))?;
    let order_id = sandbox.add_order(klarna_sandbox::NewOrder::guide_cart());
    eprintln!("klarna-gateway: sandbox at {}", sandbox.base_url());
    eprintln!("klarna-gateway: seeded order {order_id} (200.00 EUR authorized)");
    let note = format!(
        "This gateway talks to a local test sandbox, not Klarna. It holds one order, \
         `{order_id}`: 200.00 EUR authorized (a T-shirt, jeans and sneakers), nothing captured."
    );
    Ok((sandbox, note))
}

/// Built without the `sandbox` feature: `--sandbox` is refused, naming
/// the feature.
#[cfg(not(feature = "sandbox"))]
fn start_sandbox() -> Result<(Sandbox, String), String> {
    Err(
        "--sandbox: this klarna-gateway was built without its cargo feature `sandbox` \
         (`cargo install klarna-gateway` has it; `--no-default-features` leaves it out)"
            .to_owned(),
    )
}

/// OAuth as the settings give it (none unless an issuer is set), its keys
/// fetched once to show a wrong issuer at start; an issuer that does not
/// answer yet is retried when a token comes.
async fn oauth_issuer(
    settings: Option<&OAuthSettings>,
) -> Result<Option<(OAuthSettings, Arc<Issuer>, Option<Arc<Revocations>>)>, String> {
    let Some(settings) = settings else {
        return Ok(None);
    };
    // A revocation file that cannot be read stops the gateway: serving
    // without it would reopen what it closes.
    let revocations = settings.revocations()?;
    if let Some(revocations) = &revocations {
        eprintln!(
            "klarna-gateway: OAuth revocations from {}: {} entries",
            revocations.path().display(),
            revocations.current().len()
        );
    }
    let issuer = settings.issuer()?;
    match issuer.prefetch().await {
        Ok(keys) => eprintln!(
            "klarna-gateway: OAuth issuer {}: {keys} signing keys",
            issuer.url()
        ),
        Err(message) => eprintln!("klarna-gateway: OAuth issuer not reachable yet: {message}"),
    }
    Ok(Some((settings.clone(), issuer, revocations)))
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
