//! `klarna-gateway`: the MCP adapter on `127.0.0.1:9090` (`/mcp`) and the
//! REST adapter on `127.0.0.1:8080` (`/v1/...`), or MCP on standard input
//! and output with `mcp --stdio`. Run with `--help`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use klarna_gateway::http::{self, HttpOptions, Token, DEFAULT_MCP_ADDR, TOKEN_VAR};
use klarna_gateway::rest::{self, RestGateway, DEFAULT_REST_ADDR};
use klarna_gateway::server;
use klarna_gateway::upstream::{self, Target};
use klarna_gateway::{McpGateway, Surface};
use klarna_runtime::{Credentials, Environment, Region};
use klarna_sandbox::{NewOrder, Sandbox};
use rmcp::ServiceExt;

const USAGE: &str = "\
usage: klarna-gateway [mcp] [rest] [options]

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
surface:
  --tag TAG             expose the operations of this client trait (repeatable;
                        default Captures): Orders, Captures, Refunds, Sessions, ...
  --all                 expose every operation of the three APIs

environment:
  KLARNA_USER, KLARNA_PASS          Basic credentials (or KLARNA_USERNAME, KLARNA_PASSWORD)
  KLARNA_API_KEY, KLARNA_PARTNER_ACCOUNT   the global Payment API's key
  KLARNA_GATEWAY_TOKEN              bearer token; required to bind a non-loopback address
";

struct Options {
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
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let default_mcp: SocketAddr = DEFAULT_MCP_ADDR
        .parse()
        .expect("the default address parses");
    let default_rest: SocketAddr = DEFAULT_REST_ADDR
        .parse()
        .expect("the default address parses");
    let mut options = Options {
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
    };
    let mut tags = Vec::new();
    let mut all = false;
    let mut args = args.into_iter();
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
            "--tag" => tags.push(value("--tag")?),
            "--all" => all = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
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
    match run(options).await {
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
    let sandbox = if options.sandbox {
        Some(start_sandbox()?)
    } else {
        None
    };
    let target = match (&sandbox, &options.upstream) {
        (Some(sandbox), _) => Target::Url(sandbox.base_url().to_owned()),
        (None, Some(url)) => Target::Url(url.clone()),
        (None, None) => Target::Klarna {
            region: options.region,
            environment: options.environment,
        },
    };
    let basic = match (&sandbox, upstream::basic_credentials_from_env()) {
        (_, Ok(credentials)) => credentials,
        // The sandbox accepts any credentials.
        (Some(_), Err(_)) => Credentials::basic("sandbox", "sandbox"),
        (None, Err(message)) => return Err(message),
    };
    let upstream = upstream::upstream_with_timeout(
        &target,
        basic,
        upstream::api_key_credentials_from_env(),
        options.timeout,
    )?;
    let tools = options.surface.tools()?;
    let token = std::env::var(TOKEN_VAR).ok().and_then(|t| Token::new(&t));
    let http_options = |bind: SocketAddr| -> Result<HttpOptions, String> {
        let mut http_options = HttpOptions::new(bind, token.clone());
        http_options.allowed_hosts = options.allowed_hosts.clone();
        http_options.check()?;
        Ok(http_options)
    };
    let guarded = if token.is_some() {
        ", bearer token required"
    } else {
        ""
    };
    // Every address is bound before anything is served, so a port in use
    // stops the gateway at once.
    let mut servers: Vec<(&str, tokio::net::TcpListener, Router)> = Vec::new();
    if let Some(bind) = options.rest {
        let http_options = http_options(bind)?;
        let listener = listen(bind).await?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let gateway = RestGateway::new(upstream.clone(), tools.clone());
        eprintln!(
            "klarna-gateway: REST at http://{addr}{} ({} operations{guarded}; OpenAPI at http://{addr}{})",
            rest::PREFIX,
            gateway.tools().len(),
            rest::OPENAPI_PATH,
        );
        servers.push(("REST", listener, rest::rest_router(gateway, &http_options)));
    }
    let mcp = McpGateway::new(upstream, tools)?;
    if let Some(bind) = options.mcp.filter(|_| !options.stdio) {
        let http_options = http_options(bind)?;
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
            _ = interrupted => Ok(()),
            Some(result) = serving.join_next() => result.map_err(|e| e.to_string())?,
        }
    };
    // Stop accepting and let in-flight requests finish (each server waits
    // at most its grace), then end with status 0.
    let _ = stop.send(());
    while let Some(result) = serving.join_next().await {
        result.map_err(|e| e.to_string())??;
    }
    ended
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
fn start_sandbox() -> Result<Sandbox, String> {
    let sandbox = Sandbox::start().map_err(|e| format!("cannot start the sandbox: {e}"))?;
    let order_id = sandbox.add_order(NewOrder::guide_cart());
    eprintln!("klarna-gateway: sandbox at {}", sandbox.base_url());
    eprintln!("klarna-gateway: seeded order {order_id} (200.00 EUR authorized)");
    Ok(sandbox)
}
