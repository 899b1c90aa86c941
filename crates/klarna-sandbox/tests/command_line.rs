//! The `klarna-sandbox` binary as a CI job runs it: spawned with flags,
//! waited on through its `Ready` or JSON line, then called over HTTP.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{get, order_path, Reply, AUTH};

const BINARY: &str = env!("CARGO_BIN_EXE_klarna-sandbox");

/// A running binary; killed if the test ends early.
struct Running {
    child: Child,
    /// The `Ready` line, or the JSON line with `--print-json`.
    ready_line: String,
    /// Kept open: a closed pipe would make the sandbox's next write fail.
    _stdout: BufReader<ChildStdout>,
}

impl Running {
    /// Starts the binary with `--until-stdin-closes` (so it also ends if
    /// this test process dies) and reads its output up to the line that
    /// says it is ready.
    fn start(args: &[&str]) -> Running {
        Running::start_with_env(args, &[])
    }

    /// [`Running::start`] with these environment variables besides.
    fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Running {
        let mut child = Command::new(BINARY)
            .args(args)
            .envs(env.iter().copied())
            .arg("--until-stdin-closes")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut ready_line = String::new();
        for _ in 0..20 {
            ready_line.clear();
            stdout.read_line(&mut ready_line).unwrap();
            if ready_line.starts_with('{')
                || ready_line.starts_with("Ready ")
                || ready_line.is_empty()
            {
                break;
            }
        }
        Running {
            child,
            ready_line,
            _stdout: stdout,
        }
    }

    /// Closes standard input and waits (bounded) for the exit.
    fn stop(mut self) -> ExitStatus {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the sandbox did not stop when its standard input closed");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn exchange(url: &str, request: &str) -> Reply {
    let addr = url.trim_start_matches("http://");
    let mut connection = support::Connection::open_addr(addr);
    connection.writer.write_all(request.as_bytes()).unwrap();
    connection.read().expect("an answer")
}

fn cart_file() -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("klarna-sandbox-cart-{}.json", std::process::id()));
    let cart = serde_json::json!({
        "purchase_currency": "SEK",
        "order_id": "cart-order-1",
        "order_lines": [{
            "type": "physical", "reference": "L1", "name": "Lamp",
            "quantity": 2, "unit_price": 2500, "total_amount": 5000
        }]
    });
    std::fs::write(&path, cart.to_string()).unwrap();
    path
}

#[test]
fn print_json_gives_the_url_and_the_seeded_ids_on_one_line() {
    let cart = cart_file();
    let running = Running::start(&[
        "--print-json",
        "--seed-order",
        cart.to_str().unwrap(),
        "--seed-order",
        "guides",
        "--faults",
        "fail=1",
    ]);
    let line: Value = serde_json::from_str(&running.ready_line).unwrap();
    assert_eq!(line["ready"], true);
    let url = line["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let ids: Vec<&str> = line["order_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], "cart-order-1");

    // --faults fail=1: the first request is refused, the next served.
    let request = get(&order_path(ids[0]));
    assert_eq!(exchange(&url, &request).status, 503);
    let order = exchange(&url, &request).json();
    assert_eq!(order["order_amount"], 5000);
    assert_eq!(order["purchase_currency"], "SEK");
    let guides = exchange(&url, &get(&order_path(ids[1]))).json();
    assert_eq!(guides["order_amount"], 20000);
    assert_eq!(exchange(&url, &get("/health")).status, 200);

    assert!(running.stop().success());
    let _ = std::fs::remove_file(cart);
}

#[test]
fn every_flag_can_come_from_its_variable() {
    let cart = cart_file();
    let running = Running::start_with_env(
        &[],
        &[
            ("KLARNA_SANDBOX_PRINT_JSON", "true"),
            ("KLARNA_SANDBOX_BIND", "127.0.0.1"),
            (
                "KLARNA_SANDBOX_SEED_ORDERS",
                &format!("{},guides", cart.to_str().unwrap()),
            ),
            ("KLARNA_SANDBOX_FAULTS", "fail=1"),
            ("KLARNA_SANDBOX_MAX_CONNECTIONS", "8"),
            ("KLARNA_SANDBOX_SHUTDOWN_GRACE", "2"),
        ],
    );
    let line: Value = serde_json::from_str(&running.ready_line).unwrap();
    let url = line["url"].as_str().unwrap().to_owned();
    assert_eq!(line["order_ids"].as_array().unwrap().len(), 2);
    assert_eq!(line["order_ids"][0], "cart-order-1");
    let request = get(&order_path("cart-order-1"));
    assert_eq!(exchange(&url, &request).status, 503);
    assert_eq!(exchange(&url, &request).status, 200);
    assert!(running.stop().success());
    let _ = std::fs::remove_file(cart);

    // A bad value from a variable is named like one from a flag.
    for (var, value, needle) in [
        (
            "KLARNA_SANDBOX_PORT",
            "lots",
            "invalid value 'lots' for '--port <PORT>'",
        ),
        ("KLARNA_SANDBOX_FAULTS", "boom=1", "unknown setting boom"),
        (
            "KLARNA_SANDBOX_PRINT_JSON",
            "maybe",
            "invalid value 'maybe' for '--print-json'",
        ),
    ] {
        let bad = Command::new(BINARY).env(var, value).output().unwrap();
        assert_eq!(bad.status.code(), Some(2), "{var}");
        let stderr = String::from_utf8(bad.stderr).unwrap();
        assert!(stderr.contains(needle), "{var}: {stderr}");
    }
    let version = Command::new(BINARY).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8(version.stdout).unwrap().trim(),
        format!("klarna-sandbox {}", env!("CARGO_PKG_VERSION"))
    );
    let help = Command::new(BINARY).arg("--help").output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("[env: KLARNA_SANDBOX_PORT="), "{help}");
}

#[test]
fn text_output_ends_with_a_ready_line() {
    let running = Running::start(&["--bind", "127.0.0.1", "--seed-order", "none"]);
    let url = running
        .ready_line
        .trim_end()
        .strip_prefix("Ready ")
        .expect("a Ready line")
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let anonymous = format!("GET {} HTTP/1.1\r\n\r\n", order_path("nothing"));
    assert_eq!(exchange(&url, &anonymous).status, 401);
    let request = format!("GET {} HTTP/1.1\r\n{AUTH}\r\n", order_path("nothing"));
    assert_eq!(exchange(&url, &request).status, 404);
    assert!(running.stop().success());
}

#[test]
fn ready_is_the_last_line_and_help_and_bad_flags_exit_cleanly() {
    let output = Command::new(BINARY)
        .args(["--seed-order", "guides", "--until-stdin-closes"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let last = stdout.lines().last().unwrap();
    assert!(last.starts_with("Ready http://127.0.0.1:"), "{stdout}");
    assert!(stdout.contains("seeded order"), "{stdout}");

    let help = Command::new(BINARY).arg("--help").output().unwrap();
    assert!(help.status.success());
    let help = String::from_utf8(help.stdout).unwrap();
    for flag in [
        "--bind",
        "--port",
        "--seed-order",
        "--faults",
        "--print-json",
        "--help",
    ] {
        assert!(help.contains(flag), "{flag} in --help");
    }

    let bad = Command::new(BINARY).arg("--port=lots").output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8(bad.stderr).unwrap();
    assert!(
        stderr.contains("invalid value 'lots' for '--port <PORT>': lots is not a number"),
        "{stderr}"
    );

    let missing = Command::new(BINARY)
        .args(["--seed-order", "/nonexistent/cart.json"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8(missing.stderr)
        .unwrap()
        .contains("cannot read cart file"));
}

/// Sends `signal` (`TERM`, `INT`) to the process, with the system's `kill`.
fn signal(child: &Child, signal: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// What Docker, Kubernetes and systemd do to stop a service: SIGTERM. A
/// capture held back by the delay knob when it comes is still answered
/// 201, the sandbox accepts nothing new meanwhile, and it exits 0.
#[test]
fn sigterm_answers_the_capture_in_flight_and_exits_zero() {
    let mut running = Running::start(&["--print-json", "--faults", "delay-ms=1500"]);
    let line: Value = serde_json::from_str(&running.ready_line).unwrap();
    let url = line["url"].as_str().unwrap().to_owned();
    let order = line["order_ids"][0].as_str().unwrap().to_owned();
    let addr = url.trim_start_matches("http://").to_owned();

    let mut connection = support::Connection::open_addr(&addr);
    connection.send(
        support::post(
            &format!("{}/captures", order_path(&order)),
            "Klarna-Idempotency-Key: sigterm-capture-1\r\n",
            r#"{"captured_amount": 3000}"#,
        )
        .as_bytes(),
    );
    // Long enough for the request to be read, well within the delay.
    std::thread::sleep(Duration::from_millis(500));
    signal(&running.child, "TERM");

    let reply = connection.read().expect("the capture's answer");
    assert_eq!(reply.status, 201);
    assert!(reply.header("capture-id").is_some());
    assert_eq!(reply.header("connection"), Some("close"));

    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = running.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the sandbox did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    // Nothing listens any more.
    assert!(std::net::TcpStream::connect(&addr).is_err());
}
