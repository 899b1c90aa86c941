//! The journal across a crash and under load, against the binary: a
//! `kill -9` with 20 captures in flight loses none and does none twice
//! (`journal pending` lists them, `journal resolve` completes them), and
//! 32 callers stopped by SIGTERM leave a final record for every call they
//! were answered. The upstream is an in-process sandbox whose answers are
//! held back; every wait is bounded.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use klarna_gateway::journal::{Journal, JournalOptions, State};
use klarna_sandbox::{NewOrder, Sandbox};
use serde_json::Value;

mod common;

use common::{gateway_command, sandbox_saw, send_signal, spawn_gateway, TempFile, PASSWORD, STEP};

/// Runs `klarna-gateway journal ARGS...`: its exit status and the JSON
/// lines it printed.
async fn journal_command(args: &[&str]) -> (std::process::ExitStatus, Vec<Value>, String) {
    let mut command = gateway_command();
    command
        .arg("journal")
        .args(args)
        .env("KLARNA_USER", "merchant")
        .env("KLARNA_PASS", PASSWORD);
    let output = tokio::time::timeout(STEP * 3, command.output())
        .await
        .expect("the command ends in time")
        .unwrap();
    let lines = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (
        output.status,
        lines,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn http() -> reqwest::Client {
    klarna_runtime::install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(STEP)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_20_captures_in_flight_loses_none_and_does_none_twice() {
    let file = TempFile::new("crash");
    let path = &file.0;
    let journal_path = path.to_str().unwrap();
    let sandbox = Sandbox::start().unwrap();
    let order = sandbox.add_order(NewOrder::guide_cart());
    let mut gateway = spawn_gateway(&[
        "--rest",
        "127.0.0.1:0",
        "--upstream",
        sandbox.base_url(),
        "--journal",
        journal_path,
    ])
    .await;
    let rest = gateway.rest.unwrap();
    // Longer than the test waits: every capture is made at the sandbox,
    // and none is answered before the kill.
    sandbox.delay_responses(Duration::from_secs(30));
    let http = http();
    let keys: BTreeSet<String> = (0..20).map(|i| format!("crash-capture-{i:02}")).collect();
    let mut callers = tokio::task::JoinSet::new();
    for key in &keys {
        let request = http
            .post(format!(
                "http://{rest}/v1/ordermanagement/v1/orders/{order}/captures"
            ))
            .header("Content-Type", "application/json")
            .header("Klarna-Idempotency-Key", key)
            .body(r#"{"captured_amount": 100}"#);
        callers.spawn(request.send());
    }
    sandbox_saw(&sandbox, "/captures", 20).await;
    send_signal(&gateway.child, "KILL");
    let status = tokio::time::timeout(STEP, gateway.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), None, "killed by the signal");
    // No caller was answered.
    while let Some(answer) = callers.join_next().await {
        assert!(answer.unwrap().is_err());
    }
    let made = sandbox.order(&order).unwrap().captures.unwrap_or_default();
    assert_eq!(
        made.len(),
        20,
        "the sandbox made each capture before the kill"
    );

    // After the restart: exactly those 20 are pending, with their arguments.
    let (status, pending, stderr) = journal_command(&["pending", "--journal", journal_path]).await;
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("20 calls pending"), "{stderr}");
    let listed: BTreeSet<String> = pending
        .iter()
        .map(|p| p["idempotency_key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, keys);
    for p in &pending {
        assert_eq!(p["state"], "in_flight");
        assert_eq!(p["operation"], "klarna-capture-order");
        assert_eq!(p["arguments"]["order_id"], order.as_str());
        assert_eq!(p["arguments"]["body"]["captured_amount"], 100);
    }

    // Resolve sends each again with its own key: Klarna acts once.
    sandbox.delay_responses(Duration::ZERO);
    let (status, resolved, stderr) = journal_command(&[
        "resolve",
        "--journal",
        journal_path,
        "--upstream",
        sandbox.base_url(),
    ])
    .await;
    assert!(status.success(), "{stderr}");
    assert_eq!(resolved.len(), 20);
    for r in &resolved {
        assert_eq!(r["state"], "done", "{r}");
        assert_eq!(r["status"], 201);
    }
    let made = sandbox.order(&order).unwrap();
    let captures = made.captures.unwrap_or_default();
    assert_eq!(captures.len(), 20, "none twice, none lost");
    assert_eq!(made.captured_amount, Some(2000));
    let capture_ids: BTreeSet<String> = captures
        .iter()
        .map(|c| c.capture_id.clone().unwrap().to_string())
        .collect();

    // Every record is final, with the capture's id.
    let (_, pending, _) = journal_command(&["pending", "--journal", journal_path]).await;
    assert!(pending.is_empty(), "{pending:?}");
    let journal = Journal::open(path, JournalOptions::default()).unwrap();
    let stats = journal.stats().await.unwrap();
    assert_eq!((stats.records, stats.pending), (20, 0));
    let mut recorded_ids = BTreeSet::new();
    for key in &keys {
        let entry = journal.lookup(key).await.unwrap().unwrap();
        assert_eq!(entry.state, State::Done);
        assert_eq!(entry.attempts, 2);
        recorded_ids.insert(entry.ids["Capture-Id"].clone());
    }
    assert_eq!(recorded_ids, capture_ids);
    journal.close().await;
    println!(
        "crash: 20 captures in flight at kill -9; pending after restart: 20; \
         after resolve: {} captures at the sandbox, {} records final",
        captures.len(),
        stats.records
    );
}

/// 32 callers send captures as fast as they are answered, each with a new
/// key, for a bounded run; a SIGTERM comes in the middle. Every call a
/// caller was answered has a final record, and every 201 the capture id it
/// was answered with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_load_every_answered_call_has_a_final_record_after_sigterm() {
    const CALLERS: usize = 32;
    const MAX_CALLS_EACH: usize = 60;
    let file = TempFile::new("load");
    let path = &file.0;
    let sandbox = Sandbox::start().unwrap();
    let order = sandbox.add_order(NewOrder::guide_cart());
    let mut gateway = spawn_gateway(&[
        "--rest",
        "127.0.0.1:0",
        "--upstream",
        sandbox.base_url(),
        "--journal",
        path.to_str().unwrap(),
    ])
    .await;
    let rest = gateway.rest.unwrap();
    // Calls are in flight when the signal comes.
    sandbox.delay_responses(Duration::from_millis(20));
    let stop = Arc::new(AtomicBool::new(false));
    let mut callers = tokio::task::JoinSet::new();
    for caller in 0..CALLERS {
        let (http, order, stop) = (http(), order.clone(), stop.clone());
        callers.spawn(async move {
            let mut answered = Vec::new();
            for call in 0..MAX_CALLS_EACH {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let key = format!("load-{caller}-{call}");
                let sent = http
                    .post(format!(
                        "http://{rest}/v1/ordermanagement/v1/orders/{order}/captures"
                    ))
                    .header("Content-Type", "application/json")
                    .header("Klarna-Idempotency-Key", &key)
                    .body(r#"{"captured_amount": 1}"#)
                    .send()
                    .await;
                match sent {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let capture_id = response
                            .headers()
                            .get("capture-id")
                            .map(|v| v.to_str().unwrap().to_owned());
                        // Answered only once the whole answer arrived.
                        if response.bytes().await.is_ok() {
                            answered.push((key, status, capture_id));
                        }
                    }
                    // The gateway is stopping: no more calls from here.
                    Err(_) => break,
                }
            }
            answered
        });
    }
    sandbox_saw(&sandbox, "/captures", 300).await;
    send_signal(&gateway.child, "TERM");
    let status = tokio::time::timeout(STEP, gateway.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    stop.store(true, Ordering::SeqCst);
    let mut answered = Vec::new();
    while let Some(done) = callers.join_next().await {
        answered.extend(done.unwrap());
    }

    let journal = Journal::open(path, JournalOptions::default()).unwrap();
    let stats = journal.stats().await.unwrap();
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for (key, status, capture_id) in &answered {
        *by_status.entry(*status).or_default() += 1;
        let entry = journal
            .lookup(key)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no record of the answered call {key}"));
        assert!(!entry.state.is_pending(), "{key}: {:?}", entry.state);
        if *status == 201 {
            assert_eq!(entry.state, State::Done);
            assert_eq!(entry.ids.get("Capture-Id"), capture_id.as_ref());
        }
    }
    let captures = sandbox.order(&order).unwrap().captures.unwrap_or_default();
    println!(
        "load: {CALLERS} callers, {} calls answered {by_status:?}, {} records ({} pending), \
         {} captures at the sandbox",
        answered.len(),
        stats.records,
        stats.pending,
        captures.len()
    );
    assert!(answered.len() >= 300 - CALLERS);
    journal.close().await;
}
