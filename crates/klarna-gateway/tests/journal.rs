//! The journal of money calls: its memory of keys, its retention and
//! size, its refusal of a file it cannot own, and the REST adapter on top
//! of it (the recorded answer without a call upstream, the 409s, the
//! lookup route). Files live in the system's temporary directory; every
//! wait is bounded.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use klarna_gateway::http::HttpOptions;
use klarna_gateway::journal::{
    self, Admission, CallRecord, FinalOutcome, Journal, JournalError, JournalOptions, Outcome,
    State,
};
use klarna_gateway::ledger::redact;
use klarna_gateway::rest::{self, RestGateway};
use klarna_gateway::{Policy, Surface};
use klarna_sandbox::{NewOrder, Sandbox};
use serde_json::{json, Value};

mod common;

use common::{refuses_to_start, sandbox_saw, TempFile, STEP};

fn record(key: &str, amount: i64) -> CallRecord {
    let arguments = json!({ "order_id": "o-1", "body": { "captured_amount": amount } });
    CallRecord {
        operation: "klarna-capture-order".into(),
        idempotency_key: key.into(),
        fingerprint: journal::fingerprint(&arguments),
        arguments: redact(&arguments, &[]),
        caller: "loopback".into(),
    }
}

fn done(capture_id: &str) -> FinalOutcome {
    FinalOutcome {
        status: Some(201),
        outcome: Outcome::Done,
        ids: [("Capture-Id".to_owned(), capture_id.to_owned())].into(),
        correlation_id: Some("corr-1".into()),
        body: None,
    }
}

fn outcome(outcome: Outcome) -> FinalOutcome {
    FinalOutcome {
        status: None,
        outcome,
        ids: Default::default(),
        correlation_id: None,
        body: None,
    }
}

fn ticket(admission: Admission) -> journal::Ticket {
    match admission {
        Admission::Proceed(ticket) => ticket,
        other => panic!("expected to proceed, got {other:?}"),
    }
}

/// A caller that goes away while its admission is being written (a
/// dropped request) sent nothing: the call ends as not sent instead of
/// staying in flight, so the same key goes again at once. Both when it
/// goes before the journal answers and when the answer is already waiting
/// for it.
#[tokio::test]
async fn an_admission_nobody_waits_for_ends_as_not_sent() {
    let file = TempFile::new("abandoned");
    let journal = Journal::open(&file.0, JournalOptions::default()).unwrap();
    for (key, answered_first) in [("k-gone", false), ("k-answered", true)] {
        // Polled once: the job reaches the writer, which cannot have
        // written and synced the row yet.
        let mut admit = Box::pin(journal.admit(record(key, 100)));
        let first = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(std::future::Future::poll(admit.as_mut(), cx).is_pending())
        })
        .await;
        assert!(
            first,
            "{key}: the admission was still waiting for its answer"
        );
        if answered_first {
            // The writer takes jobs in order: once this lookup is answered,
            // the admission's answer is in its channel, not yet taken.
            let entry = journal.lookup(key).await.unwrap().expect("admitted");
            assert_eq!(entry.state, State::InFlight);
        }
        drop(admit);
        let mut state = None;
        for _ in 0..100 {
            state = journal.lookup(key).await.unwrap().map(|e| e.state);
            if state == Some(State::NotSent) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(state, Some(State::NotSent), "{key}");
        assert!(matches!(
            journal.admit(record(key, 100)).await.unwrap(),
            Admission::Proceed(_)
        ));
    }
}

/// The same key: the final outcome again for the same arguments, 409s for
/// other arguments or while in flight; unknown and not-sent calls go
/// again with their key, and a key whose every attempt went unsent is free
/// for other arguments.
#[tokio::test]
async fn the_memory_of_keys() {
    let file = TempFile::new("memory");
    let journal = Journal::open(&file.0, JournalOptions::default()).unwrap();

    let first = ticket(journal.admit(record("k1", 100)).await.unwrap());
    assert_eq!(
        journal.admit(record("k1", 100)).await.unwrap(),
        Admission::InProgress
    );
    assert!(matches!(
        journal.admit(record("k1", 999)).await.unwrap(),
        Admission::Reused { first_arguments } if first_arguments["body"]["captured_amount"] == 100
    ));
    journal.finish(first, done("cap-1")).await.unwrap();
    assert_eq!(
        journal.admit(record("k1", 100)).await.unwrap(),
        Admission::Replay(done("cap-1"))
    );

    // Unknown: sent again with its key; a not-sent retry after it stays
    // unknown (the first attempt may have reached Klarna).
    let t = ticket(journal.admit(record("k2", 100)).await.unwrap());
    journal.finish(t, outcome(Outcome::Unknown)).await.unwrap();
    let t = ticket(journal.admit(record("k2", 100)).await.unwrap());
    journal.finish(t, outcome(Outcome::NotSent)).await.unwrap();
    let entry = journal.lookup("k2").await.unwrap().unwrap();
    assert_eq!((entry.state, entry.attempts), (State::Unknown, 2));
    assert!(matches!(
        journal.admit(record("k2", 5)).await.unwrap(),
        Admission::Reused { .. }
    ));

    // Never sent: the key is free for corrected arguments.
    let t = ticket(journal.admit(record("k3", 100)).await.unwrap());
    journal.finish(t, outcome(Outcome::NotSent)).await.unwrap();
    let t = ticket(journal.admit(record("k3", 200)).await.unwrap());
    journal.finish(t, done("cap-3")).await.unwrap();
    let entry = journal.lookup("k3").await.unwrap().unwrap();
    assert_eq!(entry.arguments["body"]["captured_amount"], 200);
    assert_eq!(entry.ids["Capture-Id"], "cap-3");

    // Pending: the unknown one only (k1 and k3 are done).
    let pending = journal.pending().await.unwrap();
    let keys: Vec<_> = pending.iter().map(|e| e.idempotency_key.as_str()).collect();
    assert_eq!(keys, ["k2"]);
    journal.close().await;

    // Reopened (a new process, as after a crash): the records are there,
    // and a call left in flight is no longer "in progress": it goes again.
    let journal = Journal::open(&file.0, JournalOptions::default()).unwrap();
    let t = ticket(journal.admit(record("k4", 100)).await.unwrap());
    let _ = t;
    drop(journal);
    let journal = Journal::open(&file.0, JournalOptions::default()).unwrap();
    assert_eq!(journal.pending_at_open(), 2);
    assert!(matches!(
        journal.admit(record("k4", 100)).await.unwrap(),
        Admission::Proceed(_)
    ));
    assert_eq!(
        journal.admit(record("k1", 100)).await.unwrap(),
        Admission::Replay(done("cap-1"))
    );
    journal.close().await;
}

/// The journal keeps what the call path gives it (secrets redacted by the
/// spec's rule), and a key means one request: the same arguments to another
/// operation under the same key are refused.
#[tokio::test]
async fn secrets_are_not_kept_and_a_key_binds_its_operation() {
    let file = TempFile::new("operation");
    let journal = Journal::open(&file.0, JournalOptions::default()).unwrap();
    let arguments = json!({ "body": { "signing_key": "s3cr3t", "amount": 1 } });
    let mut first = record("k", 1);
    first.arguments = redact(&arguments, &["signing_key"]);
    let ticket = ticket(journal.admit(first).await.unwrap());
    journal.finish(ticket, done("cap-1")).await.unwrap();
    let entry = journal.lookup("k").await.unwrap().unwrap();
    assert_eq!(entry.arguments["body"]["signing_key"], journal::REDACTED);
    assert!(!entry.arguments.to_string().contains("s3cr3t"));
    let mut other_operation = record("k", 1);
    other_operation.operation = "klarna-refund-order".into();
    other_operation.arguments = entry.arguments.clone();
    assert!(matches!(
        journal.admit(other_operation).await.unwrap(),
        Admission::Reused { .. }
    ));
    journal.close().await;
}

/// Sustained load on a simulated clock: 100 calls a simulated second with
/// a 100 s retention. Final records past the retention are deleted and
/// their pages reused, so the file stops growing once the retention is
/// full; pending ones are kept. The sizes are printed (run with
/// `--nocapture` to see them).
#[tokio::test]
async fn the_file_stays_bounded_under_sustained_load() {
    let file = TempFile::new("bounded");
    let now = Arc::new(AtomicI64::new(1_000_000));
    let clock = now.clone();
    let options = JournalOptions {
        retention: Duration::from_secs(100),
        clock: Arc::new(move || clock.load(Ordering::SeqCst)),
    };
    let journal = Journal::open(&file.0, options).unwrap();
    let mut sizes = Vec::new();
    let mut key = 0;
    for second in 1..=600 {
        now.fetch_add(1000, Ordering::SeqCst);
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..100 {
            key += 1;
            let journal = journal.clone();
            let key = format!("key-{key}");
            calls.spawn(async move {
                let t = ticket(journal.admit(record(&key, 100)).await.unwrap());
                journal
                    .finish(t, done(&format!("cap-{key}")))
                    .await
                    .unwrap();
            });
        }
        while calls.join_next().await.is_some() {}
        if second % 100 == 0 {
            let stats = journal.stats().await.unwrap();
            let on_disk = std::fs::metadata(&file.0).unwrap().len();
            println!(
                "after {second} s: {} records, file {} KiB ({} KiB free pages), on disk {} KiB",
                stats.records,
                stats.file_bytes / 1024,
                stats.free_bytes / 1024,
                on_disk / 1024
            );
            sizes.push((stats.records, stats.file_bytes));
        }
    }
    // One pending call, older than the retention, is kept.
    let t = ticket(journal.admit(record("pending", 1)).await.unwrap());
    journal.finish(t, outcome(Outcome::Unknown)).await.unwrap();
    now.fetch_add(200_000, Ordering::SeqCst);
    journal.prune().await.unwrap();
    let stats = journal.stats().await.unwrap();
    assert_eq!((stats.records, stats.pending), (1, 1));

    // At most the retention's worth of records (plus one prune interval).
    for (records, _) in &sizes[1..] {
        assert!(*records <= 100 * 111, "{sizes:?}");
    }
    // From the first full retention on, the file grows no more than a few
    // pages of slack.
    let plateau = sizes[1].1;
    for (_, bytes) in &sizes[2..] {
        assert!(*bytes <= plateau + plateau / 4, "{sizes:?}");
    }
    journal.close().await;
}

/// A file that is not a journal, or is damaged, or is held by another
/// process: refused with the file's name, and left byte for byte as it was.
#[tokio::test]
async fn a_file_it_cannot_own_is_refused_and_left_alone() {
    let file = TempFile::new("garbage");
    let garbage = b"these are somebody's notes, not a journal\n".repeat(200);
    std::fs::write(&file.0, &garbage).unwrap();
    let error = Journal::open(&file.0, JournalOptions::default()).unwrap_err();
    assert!(matches!(error, JournalError::Unusable { .. }), "{error}");
    assert!(error.to_string().contains(&file.0.display().to_string()));
    assert_eq!(std::fs::read(&file.0).unwrap(), garbage);

    // A journal whose pages were overwritten in the middle.
    let damaged = TempFile::new("damaged");
    {
        let journal = Journal::open(&damaged.0, JournalOptions::default()).unwrap();
        for i in 0..2000 {
            let t = ticket(journal.admit(record(&format!("k{i}"), 1)).await.unwrap());
            journal.finish(t, done("c")).await.unwrap();
        }
        journal.close().await;
    }
    let mut bytes = std::fs::read(&damaged.0).unwrap();
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 8192] {
        *b = 0xA5;
    }
    std::fs::write(&damaged.0, &bytes).unwrap();
    let error = Journal::open(&damaged.0, JournalOptions::default()).unwrap_err();
    assert!(matches!(error, JournalError::Unusable { .. }), "{error}");
    assert!(error.to_string().contains("damaged"), "{error}");
    assert_eq!(std::fs::read(&damaged.0).unwrap(), bytes);

    // Held: a second owner is refused while the first has it open.
    let held = TempFile::new("held");
    let first = Journal::open(&held.0, JournalOptions::default()).unwrap();
    let error = Journal::open(&held.0, JournalOptions::default()).unwrap_err();
    assert!(matches!(error, JournalError::Locked { .. }), "{error}");
    assert!(error.to_string().contains(&held.0.display().to_string()));
    first.close().await;
    Journal::open(&held.0, JournalOptions::default()).unwrap();
}

/// The binary refuses to start on a file it cannot own, naming it, and on
/// one another gateway holds.
#[tokio::test]
async fn the_binary_refuses_a_corrupt_or_held_journal() {
    let file = TempFile::new("binary-garbage");
    std::fs::write(&file.0, b"not sqlite at all").unwrap();
    let path = file.0.to_str().unwrap();
    refuses_to_start(
        &[
            "rest",
            "--rest",
            "127.0.0.1:0",
            "--sandbox",
            "--journal",
            path,
        ],
        path,
    )
    .await;
    assert_eq!(std::fs::read(&file.0).unwrap(), b"not sqlite at all");

    let held = TempFile::new("binary-held");
    let sandbox = Sandbox::start().unwrap();
    let path = held.0.to_str().unwrap();
    let mut first = common::spawn_gateway(&[
        "--rest",
        "127.0.0.1:0",
        "--upstream",
        sandbox.base_url(),
        "--journal",
        path,
    ])
    .await;
    assert!(
        first.stderr.iter().any(|l| l.contains("0 calls pending")),
        "{:?}",
        first.stderr
    );
    refuses_to_start(
        &[
            "rest",
            "--rest",
            "127.0.0.1:0",
            "--sandbox",
            "--journal",
            path,
        ],
        "is locked by another process",
    )
    .await;
    common::send_signal(&first.child, "TERM");
    let status = tokio::time::timeout(STEP, first.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}

struct JournaledRest {
    sandbox: Sandbox,
    order: String,
    addr: std::net::SocketAddr,
    http: reqwest::Client,
    journal: Journal,
    _file: TempFile,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl JournaledRest {
    async fn start() -> JournaledRest {
        let file = TempFile::new("rest");
        let sandbox = Sandbox::start().unwrap();
        let order = sandbox.add_order(NewOrder::guide_cart());
        let journal = Journal::open(&file.0, JournalOptions::default()).unwrap();
        let upstream = common::upstream_at(sandbox.base_url(), STEP);
        // Keyless calls allowed: a test below sends one.
        let policy = Policy {
            allow_keyless: true,
            ..Policy::default()
        };
        let gateway =
            RestGateway::with_policy(upstream, Surface::default().tools().unwrap(), policy)
                .with_journal(journal.clone(), "loopback");
        let options = HttpOptions::new("127.0.0.1:0".parse().unwrap(), None);
        let (addr, stop) = common::serve_on_loopback(rest::rest_router(gateway, &options)).await;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(STEP)
            .build()
            .unwrap();
        JournaledRest {
            sandbox,
            order: order.to_string(),
            addr,
            http,
            journal,
            _file: file,
            _stop: stop,
        }
    }

    fn capture(&self, key: &str, amount: i64) -> reqwest::RequestBuilder {
        self.http
            .post(format!(
                "http://{}/v1/ordermanagement/v1/orders/{}/captures",
                self.addr, self.order
            ))
            .header("Content-Type", "application/json")
            .header("Klarna-Idempotency-Key", key)
            .body(json!({ "captured_amount": amount }).to_string())
    }

    fn captures_sent(&self) -> usize {
        self.sandbox
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/captures"))
            .count()
    }
}

/// Through the REST adapter: a call repeated with its key after a final
/// outcome is answered from the journal, and no request reaches the
/// upstream; other arguments get 409, so does a call still in flight; the
/// lookup route gives the record; a refusal is replayed as Klarna gave it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_answers_repeats_from_the_journal() {
    let gateway = JournaledRest::start().await;

    let first = gateway.capture("rest-k1", 3000).send().await.unwrap();
    assert_eq!(first.status(), 201);
    let capture_id = first.headers()["capture-id"].to_str().unwrap().to_owned();
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(gateway.captures_sent(), 1);

    let again = gateway.capture("rest-k1", 3000).send().await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["capture-id"], capture_id.as_str());
    assert_eq!(again.headers()["location"], location.as_str());
    assert_eq!(again.headers()["klarna-idempotency-key"], "rest-k1");
    assert_eq!(
        gateway.captures_sent(),
        1,
        "no request reached the upstream"
    );

    let other = gateway.capture("rest-k1", 5000).send().await.unwrap();
    assert_eq!(other.status(), 409);
    let body: Value = other.json().await.unwrap();
    assert_eq!(body["error_code"], "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(body["may_have_reached_klarna"], false);
    assert_eq!(gateway.captures_sent(), 1);

    // The lookup route: the record, without sending anything.
    let lookup: Value = gateway
        .http
        .get(format!("http://{}/v1/calls/rest-k1", gateway.addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(lookup["state"], "done");
    assert_eq!(lookup["status"], 201);
    assert_eq!(lookup["ids"]["Capture-Id"], capture_id.as_str());
    assert_eq!(lookup["arguments"]["body"]["captured_amount"], 3000);
    let unknown = gateway
        .http
        .get(format!("http://{}/v1/calls/never-sent", gateway.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    // The served document has the route.
    let document: Value = gateway
        .http
        .get(format!("http://{}/v1/openapi.json", gateway.addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(document["paths"]["/v1/calls/{idempotency-key}"]["get"].is_object());
    let capture = &document["paths"]["/v1/ordermanagement/v1/orders/{order-id}/captures"];
    assert!(capture["post"]["responses"]["409"].is_object());
    assert!(capture["post"]["responses"]["503"].is_object());
    assert!(capture["get"]["responses"]["503"].is_null(), "read-only");
    // Still an OpenAPI 3.0 document.
    serde_json::from_value::<openapiv3::OpenAPI>(document).expect("parses as OpenAPI 3.0");

    // A refusal (more than is left to capture) is final: replayed as
    // Klarna gave it, not sent again.
    let refused = gateway.capture("rest-k2", 1_000_000).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    let refused_body = refused.text().await.unwrap();
    assert_eq!(gateway.captures_sent(), 2);
    let replayed = gateway.capture("rest-k2", 1_000_000).send().await.unwrap();
    assert_eq!(replayed.status(), 403);
    assert_eq!(replayed.text().await.unwrap(), refused_body);
    assert_eq!(gateway.captures_sent(), 2);

    // In flight: the second call with the key gets 409 at once.
    gateway.sandbox.delay_responses(Duration::from_millis(1500));
    let slow = tokio::spawn(gateway.capture("rest-k3", 1000).send());
    sandbox_saw(&gateway.sandbox, "/captures", 3).await;
    let during = gateway.capture("rest-k3", 1000).send().await.unwrap();
    assert_eq!(during.status(), 409);
    let body: Value = during.json().await.unwrap();
    assert_eq!(body["error_code"], "IN_PROGRESS");
    assert_eq!(slow.await.unwrap().unwrap().status(), 201);
    assert_eq!(gateway.captures_sent(), 3);
    let entry = gateway.journal.lookup("rest-k3").await.unwrap().unwrap();
    assert_eq!(entry.state, State::Done);
}

/// A capture sent without a key is given one, recorded under it, and the
/// key comes back to the caller, who can look the call up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_without_a_key_is_recorded_under_the_key_it_was_given() {
    let gateway = JournaledRest::start().await;
    let answer = gateway
        .http
        .post(format!(
            "http://{}/v1/ordermanagement/v1/orders/{}/captures",
            gateway.addr, gateway.order
        ))
        .header("Content-Type", "application/json")
        .body(r#"{"captured_amount": 100}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
    let key = answer.headers()["klarna-idempotency-key"]
        .to_str()
        .unwrap()
        .to_owned();
    let sent = gateway.sandbox.requests();
    assert_eq!(
        sent.last().unwrap().idempotency_key.as_deref(),
        Some(key.as_str())
    );
    let entry = gateway.journal.lookup(&key).await.unwrap().unwrap();
    assert_eq!(entry.state, State::Done);
    assert_eq!(
        entry.ids["Capture-Id"],
        answer.headers()["capture-id"].to_str().unwrap()
    );
}

/// The MCP adapter goes through the same journal: the same call again is
/// answered from it, other arguments get the 409's error code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_answers_repeats_from_the_journal() {
    let file = TempFile::new("mcp");
    let sandbox = Sandbox::start().unwrap();
    let order = sandbox.add_order(NewOrder::guide_cart());
    let journal = Journal::open(&file.0, JournalOptions::default()).unwrap();
    let upstream = common::upstream_at(sandbox.base_url(), STEP);
    let mcp = klarna_gateway::McpGateway::with_policy(
        upstream,
        Surface::default().tools().unwrap(),
        Policy::unattended(),
    )
    .unwrap()
    .with_journal(journal.clone(), "stdio");
    let arguments = |amount: i64| {
        json!({
            "order_id": order,
            "idempotency_key": "mcp-k1",
            "body": { "captured_amount": amount },
        })
        .as_object()
        .cloned()
    };
    let first = mcp.call("klarna-capture-order", arguments(2500)).await;
    assert_eq!(first.is_error, Some(false), "{first:?}");
    let first = first.structured_content.unwrap();
    let again = mcp.call("klarna-capture-order", arguments(2500)).await;
    let mut again = again.structured_content.unwrap();
    assert_eq!(again["replayed"], true, "{again}");
    again.as_object_mut().unwrap().remove("replayed");
    assert_eq!(again, first);
    let captures = sandbox
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(captures, 1, "the repeat did not reach the upstream");
    let other = mcp.call("klarna-capture-order", arguments(100)).await;
    assert_eq!(other.is_error, Some(true));
    assert_eq!(
        other.structured_content.unwrap()["error_code"],
        "IDEMPOTENCY_KEY_REUSED"
    );
    let entry = journal.lookup("mcp-k1").await.unwrap().unwrap();
    assert_eq!((entry.state, entry.caller.as_str()), (State::Done, "stdio"));
    journal.close().await;
}

/// A caller that goes away while its capture is at Klarna does not cut the
/// capture off: it runs in a task of its own, and its outcome is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_goes_away_leaves_a_finished_record() {
    let file = TempFile::new("gone");
    let sandbox = Sandbox::start().unwrap();
    let order = sandbox.add_order(NewOrder::guide_cart());
    let journal = Journal::open(&file.0, JournalOptions::default()).unwrap();
    let upstream = common::upstream_at(sandbox.base_url(), STEP);
    let path = std::sync::Arc::new(
        klarna_gateway::CallPath::new(
            upstream,
            Surface::default().tools().unwrap(),
            Policy::unattended(),
        )
        .remembering(Arc::new(journal.clone()), "loopback"),
    );
    sandbox.delay_responses(Duration::from_millis(500));
    let arguments = json!({
        "order_id": order,
        "idempotency_key": "gone-1",
        "body": { "captured_amount": 1000 },
    })
    .as_object()
    .cloned()
    .unwrap();
    let caller = {
        let path = path.clone();
        tokio::spawn(async move {
            path.call(
                klarna_gateway::call::Adapter::Rest,
                "klarna-capture-order",
                arguments,
                None,
            )
            .await
        })
    };
    sandbox_saw(&sandbox, "/captures", 1).await;
    // The caller goes away, as a dropped connection drops its handler.
    caller.abort();
    let entry = tokio::time::timeout(STEP, async {
        loop {
            let entry = journal.lookup("gone-1").await.unwrap().unwrap();
            if entry.state != State::InFlight {
                return entry;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the capture finishes and is recorded in time");
    assert_eq!(entry.state, State::Done);
    assert!(entry.ids.contains_key("Capture-Id"), "{entry:?}");
    assert_eq!(sandbox.order(&order).unwrap().captured_amount, Some(1000));
    journal.close().await;
}

/// The lookup route says how a call ended without handing its secret out
/// again: the signing key REST returned once is `[redacted]` in the record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_of_a_call_keeps_its_secret_to_itself() {
    let file = TempFile::new("secret");
    let sandbox = Sandbox::start().unwrap();
    let journal = Journal::open(&file.0, JournalOptions::default()).unwrap();
    let upstream = klarna_gateway::upstream::upstream_with_timeout(
        &klarna_gateway::upstream::Target::Url(sandbox.base_url().to_owned()),
        klarna_runtime::Credentials::basic("merchant", common::PASSWORD),
        Some(klarna_runtime::Credentials::api_key("api-key", "partner")),
        STEP,
    )
    .unwrap();
    let gateway =
        RestGateway::with_policy(upstream, Surface::All.tools().unwrap(), Policy::default())
            .with_journal(journal.clone(), "loopback");
    let options = HttpOptions::new("127.0.0.1:0".parse().unwrap(), None);
    let (addr, _stop) = common::serve_on_loopback(rest::rest_router(gateway, &options)).await;
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(STEP)
        .build()
        .unwrap();

    let created = http
        .post(format!("http://{addr}/v1/v1/notification/signing-keys"))
        .header("Klarna-Idempotency-Key", "signing-1")
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let secret = created["signing_key"]
        .as_str()
        .expect("the secret, once")
        .to_owned();

    let record = http
        .get(format!("http://{addr}/v1/calls/signing-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(record.status(), 200);
    let text = record.text().await.unwrap();
    assert!(!text.contains(&secret), "{text}");
    let record: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(record["state"], "done");
    assert_eq!(record["body"]["signing_key"], "[redacted]");
    assert_eq!(record["body"]["signing_key_id"], created["signing_key_id"]);
    journal.close().await;
}
