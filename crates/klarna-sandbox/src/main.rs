//! `klarna-sandbox`: a sandbox on its own, for CI jobs, curl, or another
//! language's client. `klarna-sandbox --help` lists the flags, each also
//! settable by its environment variable.
//!
//! The command line is on clap, behind the default feature `cli` that this
//! binary requires: a test that depends on the sandbox as a library can
//! leave it out (`default-features = false`) and not build clap.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::Parser;
use klarna_models::ordermanagement::OrderLine;
use klarna_sandbox::{NewOrder, Sandbox};
use serde::Deserialize;

const ABOUT: &str = "A local stand-in for Klarna's Order Management API v1, Klarna Payments v1 \
(with a sandbox-only buyer approval route, POST \
/sandbox/payments/v1/sessions/{session_id}/approve), Settlements v1 and the global Payment API, \
for integration tests.

Every flag can also be set by the environment variable shown beside it; a flag on the command \
line wins. A switch's variable takes true/false, yes/no, on/off or 1/0.";

const AFTER_HELP: &str = "\
Without --print-json, the last line printed at start is `Ready <url>`. The sandbox serves until
SIGTERM or Ctrl-C (or, with --until-stdin-closes, until standard input closes); it then stops
accepting, answers the requests under way within the grace, and exits 0.

A cart file is JSON: {\"purchase_currency\": \"EUR\", \"order_lines\": [...]} with Order
Management order lines; optional \"order_id\" and \"order_amount\" (default: the sum of the
lines' total_amount).";

/// What the command line asks for.
#[derive(Debug, Parser)]
#[command(
    name = "klarna-sandbox",
    version,
    about = ABOUT,
    after_help = AFTER_HELP,
    max_term_width = 100
)]
struct Options {
    /// Address to listen on
    #[arg(
        long,
        value_name = "IP",
        env = "KLARNA_SANDBOX_BIND",
        default_value = "127.0.0.1",
        value_parser = ip_address
    )]
    bind: IpAddr,
    /// Port to listen on (0: any free port)
    #[arg(
        long,
        value_name = "PORT",
        env = "KLARNA_SANDBOX_PORT",
        default_value = "0",
        value_parser = number::<u16>,
        allow_negative_numbers = true
    )]
    port: u16,
    /// Seed an order: `guides` (the guides' cart: a T-shirt, jeans and
    /// sneakers, 200.00 EUR), `none`, or a JSON cart file (see below);
    /// repeatable (the variable takes a comma-separated list) [default: guides]
    #[arg(
        long = "seed-order",
        value_name = "CART",
        env = "KLARNA_SANDBOX_SEED_ORDERS",
        value_delimiter = ','
    )]
    seed_orders: Vec<String>,
    /// Fault knobs, comma-separated: fail=N (next N requests get 503),
    /// drop=N (next N take effect, then the connection closes unanswered),
    /// delay-ms=N (every answer waits N ms)
    #[arg(
        long,
        value_name = "SETTINGS",
        env = "KLARNA_SANDBOX_FAULTS",
        default_value = "",
        hide_default_value = true,
        value_parser = faults
    )]
    faults: Faults,
    /// Connections served at once
    #[arg(
        long,
        value_name = "N",
        env = "KLARNA_SANDBOX_MAX_CONNECTIONS",
        default_value = "512",
        value_parser = number::<usize>,
        allow_negative_numbers = true
    )]
    max_connections: usize,
    /// Time for a request head to arrive
    #[arg(
        long,
        value_name = "SECS",
        env = "KLARNA_SANDBOX_HEAD_TIMEOUT",
        default_value = "10",
        value_parser = seconds,
        allow_negative_numbers = true
    )]
    head_timeout: Duration,
    /// Time for a body, plus 1 s per 64 KiB
    #[arg(
        long,
        value_name = "SECS",
        env = "KLARNA_SANDBOX_BODY_TIMEOUT",
        default_value = "10",
        value_parser = seconds,
        allow_negative_numbers = true
    )]
    body_timeout: Duration,
    /// Idle keep-alive connections close after this
    #[arg(
        long,
        value_name = "SECS",
        env = "KLARNA_SANDBOX_IDLE_TIMEOUT",
        default_value = "30",
        value_parser = seconds,
        allow_negative_numbers = true
    )]
    idle_timeout: Duration,
    /// How long idempotency keys are remembered
    #[arg(
        long,
        value_name = "SECS",
        env = "KLARNA_SANDBOX_IDEMPOTENCY_RETENTION",
        default_value = "86400",
        value_parser = seconds,
        allow_negative_numbers = true
    )]
    idempotency_retention: Duration,
    /// Print one JSON line when ready: {"ready":true,"url":...,"order_ids":[...]}
    #[arg(long, env = "KLARNA_SANDBOX_PRINT_JSON", value_parser = BoolishValueParser::new())]
    print_json: bool,
    /// Stop when standard input closes (for a parent process that may die
    /// without stopping it)
    #[arg(
        long,
        env = "KLARNA_SANDBOX_UNTIL_STDIN_CLOSES",
        value_parser = BoolishValueParser::new()
    )]
    until_stdin_closes: bool,
    /// On SIGTERM or Ctrl-C, how long requests under way may take to be
    /// answered
    #[arg(
        long,
        value_name = "SECS",
        env = "KLARNA_SANDBOX_SHUTDOWN_GRACE",
        default_value = "10",
        value_parser = seconds,
        allow_negative_numbers = true
    )]
    shutdown_grace: Duration,
}

/// The fault knobs of `--faults`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Faults {
    fail: usize,
    drop: usize,
    delay: Duration,
}

impl Options {
    /// The seeded orders: `None` for the guides' cart, else a cart file.
    fn seeds(&self) -> Vec<Option<&str>> {
        if self.seed_orders.is_empty() {
            return vec![None];
        }
        self.seed_orders
            .iter()
            .filter(|seed| seed.as_str() != "none")
            .map(|seed| (seed != "guides").then_some(seed.as_str()))
            .collect()
    }

    fn builder(&self) -> klarna_sandbox::Builder {
        Sandbox::builder()
            .max_connections(self.max_connections)
            .head_timeout(self.head_timeout)
            .body_timeout(self.body_timeout)
            .idle_timeout(self.idle_timeout)
            .idempotency_retention(self.idempotency_retention)
    }
}

/// A seeded order as a cart file describes it.
#[derive(Deserialize)]
struct Cart {
    purchase_currency: String,
    order_lines: Vec<OrderLine>,
    #[serde(default)]
    order_id: Option<String>,
    #[serde(default)]
    order_amount: Option<i64>,
}

fn main() -> ExitCode {
    // clap prints `--help`, `--version` and usage errors (exit 0 and 2).
    let options = Options::parse();
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("klarna-sandbox: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: Options) -> Result<(), String> {
    let orders = options
        .seeds()
        .into_iter()
        .map(|seed| seed.map_or_else(|| Ok(guides_cart()), read_cart))
        .collect::<Result<Vec<_>, _>>()?;
    let addr = SocketAddr::new(options.bind, options.port);
    let sandbox = options
        .builder()
        .bind(addr)
        .start()
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    sandbox.fail_next_requests(options.faults.fail);
    sandbox.drop_next_connections(options.faults.drop);
    sandbox.delay_responses(options.faults.delay);
    let order_ids: Vec<_> = orders
        .into_iter()
        .map(|order| sandbox.add_order(order))
        .collect();

    let stop = Stop::listen(options.until_stdin_closes)?;
    let url = sandbox.base_url();
    let mut out = std::io::stdout().lock();
    let printed = if options.print_json {
        let order_ids: Vec<&str> = order_ids.iter().map(|id| id.as_str()).collect();
        let line = serde_json::json!({ "ready": true, "url": url, "order_ids": order_ids });
        writeln!(out, "{line}")
    } else {
        (|| {
            writeln!(
                out,
                "Klarna sandbox (Order Management v1 and the Payment API) at {url}"
            )?;
            for id in &order_ids {
                let amount = sandbox
                    .order(id)
                    .and_then(|order| order.order_amount)
                    .unwrap_or(0);
                writeln!(out, "seeded order {id} ({amount} minor units authorized)")?;
                writeln!(
                    out,
                    "try: curl -u user:pass {url}/ordermanagement/v1/orders/{id}"
                )?;
            }
            writeln!(out, "Ready {url}")
        })()
    };
    printed
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write to standard output: {e}"))?;
    drop(out);

    stop.wait();
    sandbox.shutdown(options.shutdown_grace);
    Ok(())
}

/// What stops the sandbox: SIGTERM (what Docker, Kubernetes and systemd
/// send), Ctrl-C, or, when asked, the end of standard input. The signals
/// are listened for from [`Stop::listen`] on, so one that comes right
/// after the `Ready` line is not missed.
struct Stop {
    runtime: tokio::runtime::Runtime,
    #[cfg(unix)]
    signals: [tokio::signal::unix::Signal; 2],
    until_stdin_closes: bool,
}

impl Stop {
    fn listen(until_stdin_closes: bool) -> Result<Stop, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(|e| format!("cannot wait for signals: {e}"))?;
        #[cfg(unix)]
        let signals = {
            use tokio::signal::unix::{signal, SignalKind};
            let _context = runtime.enter();
            let listen = |kind| signal(kind).map_err(|e| format!("cannot listen for signals: {e}"));
            [
                listen(SignalKind::terminate())?,
                listen(SignalKind::interrupt())?,
            ]
        };
        Ok(Stop {
            runtime,
            #[cfg(unix)]
            signals,
            until_stdin_closes,
        })
    }

    /// Waits for one of them.
    fn wait(self) {
        let Stop {
            runtime,
            #[cfg(unix)]
            mut signals,
            until_stdin_closes,
        } = self;
        runtime.block_on(async {
            let (closed, stdin_closed) = tokio::sync::oneshot::channel::<()>();
            if until_stdin_closes {
                // A thread, as reading standard input blocks; it reads and
                // throws away until end of file, a bounded buffer at a time.
                std::thread::spawn(move || {
                    let mut buf = [0u8; 1024];
                    let mut stdin = std::io::stdin().lock();
                    while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
                    let _ = closed.send(());
                });
            } else {
                // Kept, so that the receiver waits for ever.
                std::mem::forget(closed);
            }
            #[cfg(unix)]
            let signalled = async {
                let [term, interrupt] = &mut signals;
                tokio::select! {
                    _ = term.recv() => {}
                    _ = interrupt.recv() => {}
                }
            };
            #[cfg(not(unix))]
            let signalled = async {
                if tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                () = signalled => {}
                _ = stdin_closed => {}
            }
        });
    }
}

fn guides_cart() -> NewOrder {
    NewOrder::guide_cart()
}

fn read_cart(path: &str) -> Result<NewOrder, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read cart file {path}: {e}"))?;
    let cart: Cart = serde_json::from_slice(&text)
        .map_err(|e| format!("cart file {path} is not a cart: {e}"))?;
    let mut order = match cart.order_amount {
        Some(amount) => NewOrder::new(amount, cart.purchase_currency).order_lines(cart.order_lines),
        None => NewOrder::with_lines(cart.purchase_currency, cart.order_lines),
    };
    if let Some(id) = cart.order_id {
        order = order.order_id(id);
    }
    Ok(order)
}

fn ip_address(text: &str) -> Result<IpAddr, String> {
    text.parse()
        .map_err(|_| format!("{text} is not an IP address"))
}

/// `fail=N,drop=N,delay-ms=N`, any of them, in any order.
fn faults(text: &str) -> Result<Faults, String> {
    let mut faults = Faults::default();
    for setting in text.split(',').filter(|s| !s.is_empty()) {
        let (name, n) = setting
            .split_once('=')
            .ok_or_else(|| format!("{setting} is not NAME=N"))?;
        match name {
            "fail" => faults.fail = number(n)?,
            "drop" => faults.drop = number(n)?,
            "delay-ms" => faults.delay = Duration::from_millis(number(n)?),
            _ => return Err(format!("unknown setting {name} (fail, drop, delay-ms)")),
        }
    }
    Ok(faults)
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{text} is not a number in range"))
}

fn seconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| format!("{text} is not a number of seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use std::net::Ipv4Addr;

    fn parsed(args: &[&str]) -> Result<Options, String> {
        Options::try_parse_from(std::iter::once("klarna-sandbox").chain(args.iter().copied()))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_command_line_is_consistent() {
        Options::command().debug_assert();
    }

    #[test]
    fn flags_parse_in_both_spellings() {
        let options = parsed(&[
            "--bind=0.0.0.0",
            "--port",
            "8080",
            "--faults",
            "fail=2,drop=1,delay-ms=5",
            "--seed-order",
            "none",
        ])
        .unwrap();
        assert_eq!(options.bind, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(options.port, 8080);
        assert_eq!(
            options.faults,
            Faults {
                fail: 2,
                drop: 1,
                delay: Duration::from_millis(5)
            }
        );
        assert!(options.seeds().is_empty());
        let defaults = parsed(&[]).unwrap();
        assert_eq!(defaults.seeds(), [None]);
        assert_eq!(defaults.faults, Faults::default());
        assert_eq!(defaults.shutdown_grace, Duration::from_secs(10));
        let seeds = parsed(&["--seed-order", "guides", "--seed-order", "cart.json"]).unwrap();
        assert_eq!(seeds.seeds(), [None, Some("cart.json")]);
    }

    #[test]
    fn bad_flags_are_clear_errors() {
        for (args, message) in [
            (&["--port"][..], "a value is required for '--port <PORT>'"),
            (
                &["--port", "70000"],
                "invalid value '70000' for '--port <PORT>': 70000 is not a number in range",
            ),
            (
                &["--bind", "localhost"],
                "invalid value 'localhost' for '--bind <IP>': localhost is not an IP address",
            ),
            (&["--faults", "fail"], "fail is not NAME=N"),
            (&["--faults", "boom=1"], "unknown setting boom"),
            (
                &["--idle-timeout", "-1"],
                "invalid value '-1' for '--idle-timeout <SECS>': -1 is not a number of seconds",
            ),
            (&["--verbose"], "unexpected argument '--verbose'"),
        ] {
            let error = parsed(args).unwrap_err();
            assert!(error.contains(message), "{args:?}: {error}");
        }
    }
}
