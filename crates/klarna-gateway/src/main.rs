//! `klarna-gateway`: the MCP adapter on `127.0.0.1:9090` (`/mcp`), or on
//! standard input and output with `mcp --stdio`. Run with `--help`.

use std::net::SocketAddr;
use std::process::ExitCode;

use klarna_gateway::http::{self, HttpOptions, Token, DEFAULT_MCP_ADDR, TOKEN_VAR};
use klarna_gateway::upstream::{self, Target};
use klarna_gateway::{McpGateway, Surface};
use klarna_runtime::{Credentials, Environment, Region};
use klarna_sandbox::{physical_line, NewOrder, Sandbox};
use rmcp::ServiceExt;

const USAGE: &str = "\
usage: klarna-gateway [mcp] [options]

Serves Klarna's Order Management Captures operations as MCP tools, through
the Klarna Rust SDK's generated clients.

transport:
  --mcp ADDR            streamable HTTP at http://ADDR/mcp (default 127.0.0.1:9090)
  --stdio               MCP on standard input and output instead
  --allowed-host HOST   also accept this Host header (repeatable)
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
    mcp: SocketAddr,
    allowed_hosts: Vec<String>,
    sandbox: bool,
    upstream: Option<String>,
    region: Region,
    environment: Environment,
    surface: Surface,
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        stdio: false,
        mcp: DEFAULT_MCP_ADDR
            .parse()
            .expect("the default address parses"),
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
            "mcp" => {}
            "--stdio" => options.stdio = true,
            "--mcp" => {
                let addr = value("--mcp")?;
                options.mcp = addr.parse().map_err(|_| {
                    format!("--mcp: `{addr}` is not an address such as 127.0.0.1:9090")
                })?;
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
    let upstream = upstream::upstream(&target, basic, upstream::api_key_credentials_from_env())?;
    let tools = options.surface.tools()?;
    let gateway = McpGateway::new(upstream, tools)?;
    if options.stdio {
        eprintln!(
            "klarna-gateway: MCP on standard input and output, {} tools",
            gateway.listed().len()
        );
        let service = gateway
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| format!("MCP over stdio: {e}"))?;
        service
            .waiting()
            .await
            .map_err(|e| format!("MCP over stdio: {e}"))?;
        return Ok(());
    }
    let token = std::env::var(TOKEN_VAR).ok().and_then(|t| Token::new(&t));
    let mut http_options = HttpOptions::new(options.mcp, token);
    http_options.allowed_hosts = options.allowed_hosts;
    http_options.check()?;
    let listener = tokio::net::TcpListener::bind(options.mcp)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.mcp))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!(
        "klarna-gateway: MCP at http://{addr}{} ({} tools{})",
        http::MCP_PATH,
        gateway.listed().len(),
        if http_options.token.is_some() {
            ", bearer token required"
        } else {
            ""
        }
    );
    let router = http::mcp_router(gateway, &http_options);
    let shutdown = async {
        // Without a signal handler the server runs until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    http::serve(listener, router, shutdown)
        .await
        .map_err(|e| format!("serving MCP: {e}"))
}

/// A sandbox with the order of Klarna's refund allocation guide (a
/// T-shirt, jeans and sneakers: 200.00 EUR), its id printed for the user.
fn start_sandbox() -> Result<Sandbox, String> {
    let sandbox = Sandbox::start().map_err(|e| format!("cannot start the sandbox: {e}"))?;
    let order_id = sandbox.add_order(NewOrder::with_lines(
        "EUR",
        vec![
            physical_line("A12345", "T-shirt", 3000),
            physical_line("A98765", "Jeans", 7000),
            physical_line("B24680", "Sneakers", 10000),
        ],
    ));
    eprintln!("klarna-gateway: sandbox at {}", sandbox.base_url());
    eprintln!("klarna-gateway: seeded order {order_id} (200.00 EUR authorized)");
    Ok(sandbox)
}
