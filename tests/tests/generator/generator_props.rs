//! The generator never panics, whatever the document: our specs and fixture
//! documents, mutated at random (a node dropped or retyped, a `$ref` left
//! dangling or pointed back at its own schema, keys and names made odd),
//! either generate or give an error that points into the document.
//!
//! Bounded: a fixed number of cases per run, no files written on failure;
//! a failing case prints the mutations and the whole mutated document.

use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::OnceLock;

use klarna_tests::json_pointers::{pointers, split};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Map, Value};
use xtask::config::APIS;
use xtask::{generate_value, workspace_root};

const FIXTURES: &[&str] = &[
    "tests/fixtures/quirks.yaml",
    "tests/fixtures/composition.yaml",
    "tests/fixtures/containers.yaml",
    "tests/fixtures/recursive.yaml",
    "tests/fixtures/collisions.yaml",
];

/// Names that have tripped generators: empty, digits first, non-ASCII,
/// keywords, std and catch-all names, pointer and template syntax.
const ODD_NAMES: &[&str] = &[
    "",
    " ",
    "_",
    "__",
    "-",
    "0",
    "9lives",
    "1_000",
    "ü",
    "日本語",
    "🦀",
    "type",
    "self",
    "Self",
    "super",
    "crate",
    "r#type",
    "fn",
    "async",
    "Unknown",
    "Other",
    "String",
    "Option",
    "Result",
    "Box",
    "models",
    "Client",
    "Error",
    "body",
    "call",
    "value",
    "a/b",
    "~",
    "~1",
    "{id}",
    "%20",
    "a b",
    "CamelCase",
    "snake_case",
    "SCREAMING",
    "x-idempotent",
];

const ODD_REFS: &[&str] = &[
    "#/components/schemas/Missing",
    "#/components/schemas/",
    "#/components/schemas",
    "#/components/parameters/Missing",
    "#/components/responses/Missing",
    "#/paths/~1orders",
    "#",
    "",
    "other.yaml#/components/schemas/Order",
    "https://example.invalid/schema.json",
    "#/components/schemas/%zz",
    "#/components/schemas/a~1b",
];

fn seeds() -> &'static [(String, Value)] {
    static SEEDS: OnceLock<Vec<(String, Value)>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        APIS.iter()
            .map(|api| api.spec)
            .chain(FIXTURES.iter().copied())
            .map(|relative| {
                let tree = xtask::load::read_tree(&workspace_root().join(relative))
                    .unwrap_or_else(|e| panic!("seed {relative}: {e}"));
                (relative.to_owned(), tree)
            })
            .collect()
    })
}

#[derive(Clone, Debug)]
enum Mutation {
    Drop(Index),
    Retype(Index, Value),
    Dangle(Index, &'static str),
    /// Points a node at a component schema of the document: a cycle when
    /// the node is inside that schema.
    RefBack(Index, Index),
    RenameKey(Index, Index, &'static str),
    OddString(Index, &'static str),
    /// Adds a schema that refers to itself, one of `CYCLES`.
    AddCycle(Index),
}

/// Self-referring schemas: some can never be a Rust type (an alias of
/// itself), the others need a `Box` or a container to break the cycle.
fn cycles() -> Vec<(&'static str, Value)> {
    let r = |name: &str| json!({ "$ref": format!("#/components/schemas/{name}") });
    vec![
        ("CycleA", r("CycleB")),
        ("CycleB", r("CycleA")),
        ("SelfAll", json!({ "allOf": [r("SelfAll")] })),
        (
            "SelfAllTwo",
            json!({ "allOf": [r("SelfAllTwo"), { "type": "object" }] }),
        ),
        (
            "SelfOne",
            json!({ "oneOf": [r("SelfOne"), { "type": "string" }] }),
        ),
        (
            "SelfItems",
            json!({ "type": "array", "items": r("SelfItems") }),
        ),
        (
            "SelfMap",
            json!({ "type": "object", "additionalProperties": r("SelfMap") }),
        ),
        (
            "SelfField",
            json!({ "type": "object", "required": ["me"], "properties": { "me": r("SelfField") } }),
        ),
        (
            "SelfNullable",
            json!({ "type": "object", "properties": { "me": { "allOf": [r("SelfNullable")], "nullable": true } } }),
        ),
    ]
}

fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        Just(json!(1.5)),
        Just(json!(u64::MAX)),
        prop::sample::select(ODD_NAMES).prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
        Just(json!([null, 1, "x"])),
        Just(json!({ "type": "object" })),
        Just(json!({ "type": "array" })),
        Just(json!({ "type": "strin" })),
        Just(json!({ "enum": [] })),
        Just(json!({ "enum": [null] })),
        Just(json!({ "enum": [1, "a", true] })),
        Just(json!({ "oneOf": [] })),
        Just(json!({ "allOf": [{}] })),
        Just(json!({ "additionalProperties": false })),
        Just(json!({ "nullable": true })),
        Just(json!({ "discriminator": { "propertyName": "kind" }, "oneOf": [{}] })),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::Drop),
        (any::<Index>(), odd_value()).prop_map(|(i, v)| Mutation::Retype(i, v)),
        (any::<Index>(), prop::sample::select(ODD_REFS)).prop_map(|(i, r)| Mutation::Dangle(i, r)),
        (any::<Index>(), any::<Index>()).prop_map(|(i, t)| Mutation::RefBack(i, t)),
        (
            any::<Index>(),
            any::<Index>(),
            prop::sample::select(ODD_NAMES)
        )
            .prop_map(|(i, k, n)| Mutation::RenameKey(i, k, n)),
        (any::<Index>(), prop::sample::select(ODD_NAMES))
            .prop_map(|(i, n)| Mutation::OddString(i, n)),
        any::<Index>().prop_map(Mutation::AddCycle),
    ]
}

/// `None` when there is nothing to pick (no object left in the document).
fn pick<'a>(nodes: &'a [String], index: &Index) -> Option<&'a str> {
    (!nodes.is_empty()).then(|| nodes[index.index(nodes.len())].as_str())
}

fn apply(doc: &mut Value, mutation: &Mutation) {
    let nodes = pointers(doc);
    // `$ref`s and renamed keys belong where objects are (schemas, operations).
    let objects: Vec<String> = nodes
        .iter()
        .filter(|p| doc.pointer(p).is_some_and(Value::is_object))
        .cloned()
        .collect();
    match mutation {
        Mutation::Drop(i) => {
            if let Some((parent, key)) = pick(&nodes, i).and_then(split) {
                match doc.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        map.shift_remove(&key);
                    }
                    Some(Value::Array(items)) => {
                        if let Ok(i) = key.parse::<usize>() {
                            items.remove(i);
                        }
                    }
                    _ => {}
                }
            }
        }
        Mutation::Retype(i, value) => {
            if let Some(node) = pick(&nodes, i).and_then(|p| doc.pointer_mut(p)) {
                *node = value.clone();
            }
        }
        Mutation::Dangle(i, reference) => {
            if let Some(node) = pick(&objects, i).and_then(|p| doc.pointer_mut(p)) {
                *node = json!({ "$ref": reference });
            }
        }
        Mutation::RefBack(i, target) => {
            let names: Vec<String> = doc
                .pointer("/components/schemas")
                .and_then(Value::as_object)
                .map(|schemas| schemas.keys().cloned().collect())
                .unwrap_or_default();
            if names.is_empty() {
                return;
            }
            let name = &names[target.index(names.len())];
            let reference = format!(
                "#/components/schemas/{}",
                name.replace('~', "~0").replace('/', "~1")
            );
            if let Some(node) = pick(&objects, i).and_then(|p| doc.pointer_mut(p)) {
                *node = json!({ "$ref": reference });
            }
        }
        Mutation::RenameKey(i, k, name) => {
            if let Some(Value::Object(map)) = pick(&objects, i).and_then(|p| doc.pointer_mut(p)) {
                if map.is_empty() {
                    return;
                }
                let old = map.keys().nth(k.index(map.len())).cloned();
                if let Some(old) = old {
                    let value = map.shift_remove(&old).unwrap_or(Value::Null);
                    map.insert((*name).to_owned(), value);
                }
            }
        }
        Mutation::OddString(i, name) => {
            if let Some(node @ Value::String(_)) = pick(&nodes, i).and_then(|p| doc.pointer_mut(p))
            {
                *node = Value::from(*name);
            }
        }
        Mutation::AddCycle(which) => {
            let Some(root) = doc.as_object_mut() else {
                return;
            };
            let components = root
                .entry("components")
                .or_insert_with(|| Value::Object(Map::new()));
            let Some(components) = components.as_object_mut() else {
                return;
            };
            let schemas = components
                .entry("schemas")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(schemas) = schemas.as_object_mut() {
                let cycles = cycles();
                let (name, schema) = &cycles[which.index(cycles.len())];
                schemas.insert((*name).to_owned(), schema.clone());
                // A pair is a cycle only with both halves.
                if *name == "CycleA" {
                    schemas.insert("CycleB".to_owned(), cycles[1].1.clone());
                }
            }
        }
    }
}

/// Generates `doc`; a panic, or an error with no place in the document
/// (such as generated code that does not parse), fails the case.
fn check(seed: &str, mutations: &[Mutation], doc: Value) -> Result<(), TestCaseError> {
    let printed = serde_json::to_string(&doc).unwrap_or_default();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        generate_value(Path::new("mutated.json"), doc)
    }));
    match outcome {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if e.location.is_some() => Ok(()),
        Ok(Err(e)) => Err(TestCaseError::fail(format!(
            "error without a place: {e}\nseed {seed}, mutations {mutations:?}\n{printed}"
        ))),
        Err(panic) => Err(TestCaseError::fail(format!(
            "panic: {}\nseed {seed}, mutations {mutations:?}\n{printed}",
            xtask::sweep::panic_message(panic.as_ref())
        ))),
    }
}

#[test]
fn mutated_documents_generate_or_fail_with_a_pointer() {
    let config = Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    };
    let strategy = (any::<Index>(), prop::collection::vec(mutation(), 1..=4));
    TestRunner::new(config)
        .run(&strategy, |(seed, mutations)| {
            let (name, tree) = &seeds()[seed.index(seeds().len())];
            let mut doc = tree.clone();
            for mutation in &mutations {
                apply(&mut doc, mutation);
            }
            check(name, &mutations, doc)
        })
        .unwrap();
}

#[test]
fn every_seed_generates_unmutated() {
    for (name, tree) in seeds() {
        check(name, &[], tree.clone()).unwrap();
    }
}
