//! Decoding never panics. Random bytes, and JSON near what Klarna sends
//! (an instance of each schema of our specs, the JSON examples under
//! `tests/fixtures/`), mutated and truncated, are decoded into every type of
//! `klarna-models` (the table `build.rs` writes, see `xtask::decoders`); a
//! value that decodes must also survive being written back. The same
//! inputs, as response bodies under every kind of status, go through a
//! generated client and the runtime's response and error decoding.
//!
//! Bounded: a fixed number of cases, no files written on failure. The fuzz
//! targets in `fuzz/` run the same table for as long as one lets them.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use klarna_runtime::{Config, Credentials};
use klarna_tests::fixtures::mixed_responses::{
    models, Client, DeleteThingError, GetThingError, GetThingResponse, ThingId, Things,
};
use klarna_tests::json_pointers::{pointers, split};
use klarna_tests::server::{CannedResponse, TestServer};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::{json, Value};
use xtask::config::APIS as SPECS;
use xtask::workspace_root;

include!(concat!(env!("OUT_DIR"), "/decoders.rs"));

fn json_files(dir: &Path, out: &mut Vec<Value>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read(&path).unwrap();
            out.push(serde_json::from_slice(&text).unwrap_or_else(|e| {
                panic!("{}: {e}", path.display());
            }));
        }
    }
}

/// Instances of every schema of our specs, the JSON examples under
/// `tests/fixtures/`, and a few values of every JSON kind.
fn corpus() -> &'static [Value] {
    static CORPUS: OnceLock<Vec<Value>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut corpus = vec![json!({}), json!([]), json!(null), json!(""), json!(0)];
        for spec in SPECS {
            let doc = xtask::load::read_tree(&workspace_root().join(spec.spec)).unwrap();
            corpus.extend(xtask::decoders::schema_instances(&doc));
        }
        json_files(&workspace_root().join("tests/fixtures"), &mut corpus);
        corpus
    })
}

fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter_map("JSON has no NaN or infinity", serde_json::Number::from_f64)
            .prop_map(Value::Number),
        Just(json!(-0.0)),
        Just(json!(i32::MAX as i64 + 1)),
        ".{0,12}".prop_map(Value::from),
        Just(json!("\u{0}\u{7f}\u{fffd}\u{1f980}")),
        Just(json!([])),
        Just(json!({})),
        Just(json!([null])),
        Just(json!({ "": null })),
    ]
}

#[derive(Clone, Debug)]
enum Edit {
    Drop(Index),
    Replace(Index, Value),
    Insert(Index, String, Value),
}

#[derive(Clone, Debug)]
enum Bytes {
    Whole,
    Truncate(Index),
    Flip(Index, u8),
    Splice(Index, Vec<u8>),
}

fn edit(value: &mut Value, edit: &Edit) {
    let nodes = pointers(value);
    let node = |i: &Index| nodes[i.index(nodes.len())].clone();
    match edit {
        Edit::Drop(i) => {
            let at = node(i);
            let Some((parent, last)) = split(&at) else {
                return;
            };
            match value.pointer_mut(parent) {
                Some(Value::Object(map)) => {
                    map.remove(&last);
                }
                Some(Value::Array(items)) => {
                    if let Ok(i) = last.parse::<usize>() {
                        items.remove(i);
                    }
                }
                _ => {}
            }
        }
        Edit::Replace(i, new) => {
            if let Some(target) = value.pointer_mut(&node(i)) {
                *target = new.clone();
            }
        }
        Edit::Insert(i, key, new) => {
            if let Some(Value::Object(map)) = value.pointer_mut(&node(i)) {
                map.insert(key.clone(), new.clone());
            }
        }
    }
}

fn bytes_of(value: &Value, op: &Bytes) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(value).unwrap();
    match op {
        Bytes::Whole => {}
        Bytes::Truncate(i) => bytes.truncate(i.index(bytes.len() + 1)),
        Bytes::Flip(i, mask) => {
            if !bytes.is_empty() {
                let at = i.index(bytes.len());
                bytes[at] ^= mask;
            }
        }
        Bytes::Splice(i, inserted) => {
            let at = i.index(bytes.len() + 1);
            bytes.splice(at..at, inserted.iter().copied());
        }
    }
    bytes
}

/// JSON near a real message, changed a little; or any bytes at all.
fn input() -> impl Strategy<Value = Vec<u8>> {
    let edits = prop::collection::vec(
        prop_oneof![
            any::<Index>().prop_map(Edit::Drop),
            (any::<Index>(), odd_value()).prop_map(|(i, v)| Edit::Replace(i, v)),
            (any::<Index>(), "[a-z_]{0,8}", odd_value())
                .prop_map(|(i, k, v)| Edit::Insert(i, k, v)),
        ],
        0..4,
    );
    let bytes = prop_oneof![
        2 => Just(Bytes::Whole),
        1 => any::<Index>().prop_map(Bytes::Truncate),
        1 => (any::<Index>(), 1..=255u8).prop_map(|(i, m)| Bytes::Flip(i, m)),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..4))
            .prop_map(|(i, b)| Bytes::Splice(i, b)),
    ];
    prop_oneof![
        6 => (any::<Index>(), edits, bytes).prop_map(|(seed, edits, op)| {
            let corpus = corpus();
            let mut value = corpus[seed.index(corpus.len())].clone();
            for e in &edits {
                edit(&mut value, e);
            }
            bytes_of(&value, &op)
        }),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        // Nesting deeper than the decoder's recursion limit.
        1 => (1..400usize).prop_map(|depth| {
            let mut text = "[".repeat(depth);
            text.push_str(&"]".repeat(depth));
            text.into_bytes()
        }),
    ]
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

#[test]
fn the_table_covers_every_api_module() {
    for spec in SPECS {
        let types = APIS
            .iter()
            .find(|(module, _)| *module == spec.module)
            .map(|(_, types)| types.len());
        assert!(
            types.is_some_and(|n| n > 0),
            "no decodable types found for {}",
            spec.module
        );
    }
}

#[test]
fn every_model_type_decodes_any_input_without_panicking() {
    TestRunner::new(config(256))
        .run(&input(), |bytes| {
            for (module, types) in APIS {
                for (name, check) in *types {
                    check(&bytes).map_err(|e| {
                        TestCaseError::fail(format!(
                            "{module}::{name}: {e}\ninput: {}",
                            String::from_utf8_lossy(&bytes)
                        ))
                    })?;
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn most_of_the_corpus_decodes_into_some_model_type() {
    // Mutations of seeds that decode reach past a decoder's first check;
    // seeds that decode into nothing would test little more than the parser.
    let decoded = corpus()
        .iter()
        .filter(|value| {
            let bytes = serde_json::to_vec(value).unwrap();
            APIS.iter()
                .flat_map(|(_, types)| types.iter())
                .any(|(_, check)| check(&bytes) == Ok(true))
        })
        .count();
    assert!(
        decoded * 4 > corpus().len() * 3,
        "only {decoded} of {} seeds decode",
        corpus().len()
    );
}

// ---------------------------------------------------------------------------
// Through a client: `tests/fixtures/mixed_responses.yaml`.
// ---------------------------------------------------------------------------

fn client(server: &TestServer) -> Client {
    let config = Config::with_base_url(server.url(), Credentials::basic("user", "secret"))
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10));
    Client::from_config(config).unwrap()
}

fn decodes<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> bool {
    serde_json::from_slice::<T>(bytes).is_ok()
}

/// Statuses of every kind the two operations meet; none that the client
/// retries, so each call reads exactly one canned response.
const STATUSES: &[u16] = &[200, 202, 204, 400, 404, 409, 410, 418, 422, 501];

#[test]
fn responses_and_errors_decode_through_the_client_without_panicking() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let strategy = (prop::sample::select(STATUSES), input());
    TestRunner::new(config(64))
        .run(&strategy, |(status, body)| {
            let server = TestServer::start();
            let client = client(&server);
            let canned = CannedResponse::new(status)
                .header("content-type", "application/json")
                .body(body.clone());
            server.respond(canned.clone());
            server.respond(canned);
            // A 204 has no body, whatever the server writes after it.
            let body: &[u8] = if status == 204 { &[] } else { &body };
            let thing = ThingId::new("t");
            let (get, delete) = runtime.block_on(async {
                (
                    client.get_thing(&thing).await,
                    client.delete_thing(&thing).await,
                )
            });
            // `getThing` documents every status (`default`).
            match (status, get) {
                (200, Ok(r)) => prop_assert!(matches!(*r, GetThingResponse::Ok(_))),
                (202, Ok(r)) => prop_assert!(matches!(*r, GetThingResponse::Accepted(_))),
                (200, Err(e)) => prop_assert!(!decodes::<models::Thing>(body), "{e:?}"),
                (202, Err(e)) => {
                    prop_assert!(!decodes::<models::GetThingAcceptedResponse>(body), "{e:?}")
                }
                (status, Ok(r)) => prop_assert!(false, "{status} gave {:?}", r.status()),
                (status, Err(e)) => {
                    prop_assert_eq!(e.status(), Some(status));
                    let documented = match status {
                        400 => decodes::<models::ValidationError>(body),
                        404 | 501 => decodes::<models::PlainError>(body),
                        409 | 410 => true,
                        _ => decodes::<models::GetThingDefaultError>(body),
                    };
                    prop_assert_eq!(e.api_body().is_some(), documented, "{:?}", e);
                    if let Some(body) = e.api_body() {
                        let expected = match status {
                            400 => matches!(body, GetThingError::BadRequest(_)),
                            404 => matches!(body, GetThingError::NotFound(_)),
                            409 => matches!(body, GetThingError::Conflict),
                            410 => matches!(body, GetThingError::Gone),
                            501 => matches!(body, GetThingError::ServerError(_)),
                            _ => matches!(body, GetThingError::Default(_)),
                        };
                        prop_assert!(expected, "{status}: {body:?}");
                    }
                }
            }
            // `deleteThing` documents 204 and 404 only.
            match (status, delete) {
                (204, Ok(_)) => {}
                (status, Ok(r)) => prop_assert!(false, "{status} gave {:?}", r.status()),
                (status, Err(e)) => {
                    prop_assert_eq!(e.status(), Some(status));
                    let documented = status == 404 && decodes::<models::PlainError>(body);
                    prop_assert_eq!(e.api_body().is_some(), documented, "{:?}", e);
                    if let Some(body) = e.api_body() {
                        prop_assert!(matches!(body, DeleteThingError::NotFound(_)));
                    }
                }
            }
            Ok(())
        })
        .unwrap();
}
