//! `klarna-sandbox`: a sandbox on its own, for CI jobs, curl, or another
//! language's client. `klarna-sandbox --help` lists the flags.
//!
//! The parser is written by hand: a dozen flags do not justify an argument
//! parsing crate in the build of every test that depends on the sandbox.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use klarna_models::ordermanagement::OrderLine;
use klarna_sandbox::{NewOrder, Sandbox};
use serde::Deserialize;

const HELP: &str = "\
klarna-sandbox: a local stand-in for Klarna's Order Management API v1,
Klarna Payments v1 (with a sandbox-only buyer approval route, POST
/sandbox/payments/v1/sessions/{session_id}/approve), Settlements v1 and the
global Payment API, for integration tests.

USAGE:
    klarna-sandbox [OPTIONS]

OPTIONS:
    --bind IP                    address to listen on [default: 127.0.0.1]
    --port PORT                  port to listen on [default: 0, any free port]
    --seed-order CART            seed an order: `guides` (the guides' cart: a
                                 T-shirt, jeans and sneakers, 200.00 EUR), `none`,
                                 or a JSON cart file (see below); repeatable
                                 [default: guides]
    --faults SETTINGS            fault knobs, comma-separated: fail=N (next N
                                 requests get 503), drop=N (next N take effect,
                                 then the connection closes unanswered),
                                 delay-ms=N (every answer waits N ms)
    --max-connections N          connections served at once [default: 512]
    --head-timeout SECS          time for a request head to arrive [default: 10]
    --body-timeout SECS          time for a body, plus 1 s per 64 KiB [default: 10]
    --idle-timeout SECS          idle keep-alive connections close after [default: 30]
    --idempotency-retention SECS how long keys are remembered [default: 86400]
    --print-json                 print one JSON line when ready:
                                 {\"ready\":true,\"url\":...,\"order_ids\":[...]}
    --until-stdin-closes         stop when standard input closes (for a parent
                                 process that may die without stopping it)
    --shutdown-grace SECS        on SIGTERM or Ctrl-C, how long requests under
                                 way may take to be answered [default: 10]
    -h, --help                   print this help

Without --print-json, the last line printed at start is `Ready <url>`.
The sandbox serves until SIGTERM or Ctrl-C (or, with --until-stdin-closes,
until standard input closes); it then stops accepting, answers the
requests under way within the grace, and exits 0.

A cart file is JSON: {\"purchase_currency\": \"EUR\", \"order_lines\": [...]}
with Order Management order lines; optional \"order_id\" and
\"order_amount\" (default: the sum of the lines' total_amount).
";

/// What the command line asks for.
#[derive(Debug)]
struct Options {
    bind: IpAddr,
    port: u16,
    /// `None` for the guides' cart.
    seeds: Vec<Option<String>>,
    fail: usize,
    drop: usize,
    delay: Duration,
    print_json: bool,
    until_stdin_closes: bool,
    shutdown_grace: Duration,
    builder: klarna_sandbox::Builder,
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
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("klarna-sandbox: {message}\nTry `klarna-sandbox --help`.");
            return ExitCode::from(2);
        }
    };
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
        .seeds
        .iter()
        .map(|seed| seed.as_deref().map_or_else(|| Ok(guides_cart()), read_cart))
        .collect::<Result<Vec<_>, _>>()?;
    let addr = SocketAddr::new(options.bind, options.port);
    let sandbox = options
        .builder
        .bind(addr)
        .start()
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    sandbox.fail_next_requests(options.fail);
    sandbox.drop_next_connections(options.drop);
    sandbox.delay_responses(options.delay);
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

/// The options, or `None` for `--help`.
fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut options = Options {
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port: 0,
        seeds: Vec::new(),
        fail: 0,
        drop: 0,
        delay: Duration::ZERO,
        print_json: false,
        until_stdin_closes: false,
        shutdown_grace: Duration::from_secs(10),
        builder: Sandbox::builder(),
    };
    let mut seeded = false;
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        // `--flag=value` and `--flag value` both work.
        let (flag, inline) = match flag.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (flag.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next().cloned())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "-h" | "--help" => return Ok(None),
            "--bind" => {
                let ip = value()?;
                options.bind = ip
                    .parse()
                    .map_err(|_| format!("--bind: {ip} is not an IP address"))?;
            }
            "--port" => options.port = number(flag, &value()?)?,
            "--seed-order" => {
                seeded = true;
                match value()?.as_str() {
                    "guides" => options.seeds.push(None),
                    "none" => {}
                    path => options.seeds.push(Some(path.to_owned())),
                }
            }
            "--faults" => {
                for setting in value()?.split(',').filter(|s| !s.is_empty()) {
                    let (name, n) = setting
                        .split_once('=')
                        .ok_or_else(|| format!("--faults: {setting} is not NAME=N"))?;
                    match name {
                        "fail" => options.fail = number(name, n)?,
                        "drop" => options.drop = number(name, n)?,
                        "delay-ms" => options.delay = Duration::from_millis(number(name, n)?),
                        _ => return Err(format!("--faults: unknown setting {name}")),
                    }
                }
            }
            "--max-connections" => {
                options.builder = options.builder.max_connections(number(flag, &value()?)?);
            }
            "--head-timeout" => {
                options.builder = options.builder.head_timeout(seconds(flag, &value()?)?);
            }
            "--body-timeout" => {
                options.builder = options.builder.body_timeout(seconds(flag, &value()?)?);
            }
            "--idle-timeout" => {
                options.builder = options.builder.idle_timeout(seconds(flag, &value()?)?);
            }
            "--idempotency-retention" => {
                options.builder = options
                    .builder
                    .idempotency_retention(seconds(flag, &value()?)?);
            }
            "--print-json" => options.print_json = true,
            "--until-stdin-closes" => options.until_stdin_closes = true,
            "--shutdown-grace" => options.shutdown_grace = seconds(flag, &value()?)?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if !seeded {
        options.seeds.push(None);
    }
    Ok(Some(options))
}

fn number<T: std::str::FromStr>(name: &str, text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{name}: {text} is not a number in range"))
}

fn seconds(name: &str, text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| format!("{name}: {text} is not a number of seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> Result<Option<Options>, String> {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
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
        .unwrap()
        .unwrap();
        assert_eq!(options.bind, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(options.port, 8080);
        assert_eq!((options.fail, options.drop), (2, 1));
        assert_eq!(options.delay, Duration::from_millis(5));
        assert!(options.seeds.is_empty());
        assert_eq!(parsed(&[]).unwrap().unwrap().seeds, [None]);
        assert!(parsed(&["--help"]).unwrap().is_none());
    }

    #[test]
    fn bad_flags_are_clear_errors() {
        for (args, message) in [
            (&["--port"][..], "--port needs a value"),
            (
                &["--port", "70000"],
                "--port: 70000 is not a number in range",
            ),
            (
                &["--bind", "localhost"],
                "--bind: localhost is not an IP address",
            ),
            (&["--faults", "fail"], "--faults: fail is not NAME=N"),
            (&["--faults", "boom=1"], "--faults: unknown setting boom"),
            (
                &["--idle-timeout", "-1"],
                "--idle-timeout: -1 is not a number of seconds",
            ),
            (&["--verbose"], "unknown argument --verbose"),
        ] {
            assert_eq!(parsed(args).unwrap_err(), message);
        }
    }
}
