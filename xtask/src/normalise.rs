//! Part of stage 1: an OpenAPI 3.1 document rewritten, on its JSON tree,
//! into the OpenAPI 3.0 form the parser and the later stages read, so that
//! the pipeline has one input language.
//!
//! 3.1 schemas are JSON Schema 2020-12. What has a 3.0 form is rewritten:
//!
//! - `type: [T, "null"]` becomes `type: T` with `nullable: true`, and an
//!   `anyOf`/`oneOf` member `{type: "null"}` makes the union nullable;
//! - `const: V` becomes `enum: [V]`;
//! - `examples: [..]` becomes `example` (its first);
//! - a `$ref` with sibling keywords becomes `allOf: [{$ref}, {siblings}]`,
//!   or stays a `$ref` when the siblings only annotate it;
//! - numeric `exclusiveMinimum`/`exclusiveMaximum` become `minimum` and
//!   `exclusiveMinimum: true` (and the same for maximum);
//! - `$defs` become component schemas, and the `$ref`s to them follow;
//! - a document without `paths` (webhooks only) gets an empty one: its
//!   component schemas still become models;
//! - `jsonSchemaDialect` may only name the dialect OpenAPI 3.1 defines (or
//!   plain JSON Schema 2020-12);
//! - keywords that only validate (`contentEncoding`, `propertyNames`,
//!   `unevaluatedProperties`, ...) are dropped: they do not change a type.
//!
//! What the model cannot express (`prefixItems`, `if`/`then`/`else`,
//! `patternProperties`, `dependentSchemas`, `$dynamicRef`, a `type` of two
//! kinds besides null, the `false` schema) is refused with its JSON pointer.

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, Pointer, Result};

/// The dialects a 3.1 document may declare: OpenAPI's own, and the JSON
/// Schema 2020-12 it extends.
const DIALECTS: &[&str] = &[
    "https://spec.openapis.org/oas/3.1/dialect/base",
    "https://json-schema.org/draft/2020-12/schema",
];

/// Annotations that may sit beside a `$ref` without changing its type.
const ANNOTATIONS: &[&str] = &[
    "description",
    "title",
    "summary",
    "default",
    "example",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "$comment",
];

/// Keywords that only constrain values of a type the model already has.
const VALIDATION_ONLY: &[&str] = &[
    "$schema",
    "$id",
    "$anchor",
    "$dynamicAnchor",
    "$vocabulary",
    "$comment",
    "contentEncoding",
    "contentMediaType",
    "contentSchema",
    "unevaluatedProperties",
    "unevaluatedItems",
    "dependentRequired",
    "contains",
    "minContains",
    "maxContains",
    "propertyNames",
];

/// Keywords that change a type in ways the model cannot express.
const UNSUPPORTED: &[&str] = &[
    "prefixItems",
    "if",
    "then",
    "else",
    "patternProperties",
    "dependentSchemas",
    "$dynamicRef",
];

/// Rewrites a 3.1 document in place; see the module docs.
pub fn normalise_3_1(path: &Path, tree: &mut Value) -> Result<()> {
    let Some(root) = tree.as_object_mut() else {
        return Ok(());
    };
    if let Some(dialect) = root.remove("jsonSchemaDialect") {
        if !dialect.as_str().is_some_and(|d| DIALECTS.contains(&d)) {
            return Err(Error::at(
                path,
                "#/jsonSchemaDialect",
                format!(
                    "schema dialect {dialect} is not supported (only {})",
                    DIALECTS.join(" and ")
                ),
            ));
        }
    }
    // Webhooks are requests the API makes, not operations of its client;
    // the schemas they use are components and become models.
    root.remove("webhooks");
    root.entry("paths")
        .or_insert_with(|| Value::Object(Map::new()));
    default_responses(tree);
    hoist_defs(path, tree)?;
    walk(path, tree, &Pointer::root())
}

/// 3.1 lets an operation leave out `responses`; 3.0 requires them. Such an
/// operation documents no answer, so any 2xx is its success, with no body
/// read, and every other status an undocumented one.
fn default_responses(tree: &mut Value) {
    let Some(Value::Object(paths)) = tree.get_mut("paths") else {
        return;
    };
    const METHODS: &[&str] = &[
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    for item in paths.values_mut() {
        let Value::Object(item) = item else { continue };
        for (method, operation) in item.iter_mut() {
            if let (true, Value::Object(operation)) =
                (METHODS.contains(&method.as_str()), operation)
            {
                operation.entry("responses").or_insert_with(
                    || serde_json::json!({ "2XX": { "description": "Not documented." } }),
                );
            }
        }
    }
}

/// Finds the schemas in the document (outside examples and extensions)
/// and normalises each.
fn walk(path: &Path, value: &mut Value, at: &Pointer) -> Result<()> {
    match value {
        Value::Object(object) => {
            let is_components = at.as_str() == "#/components";
            for (key, child) in object.iter_mut() {
                let child_at = at.join(key);
                if key.starts_with("x-") || matches!(key.as_str(), "example" | "examples") {
                    continue;
                }
                if key == "schema" {
                    schema(path, child, &child_at)?;
                } else if is_components && key == "schemas" {
                    if let Value::Object(schemas) = child {
                        for (name, each) in schemas.iter_mut() {
                            schema(path, each, &child_at.join(name))?;
                        }
                    }
                } else {
                    walk(path, child, &child_at)?;
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(path, item, &at.join(i))?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn is_null_schema(value: &Value) -> bool {
    value.get("type").and_then(Value::as_str) == Some("null")
        && value.as_object().is_some_and(|o| o.len() == 1)
}

/// One schema (and those inside it), rewritten in place.
fn schema(path: &Path, value: &mut Value, at: &Pointer) -> Result<()> {
    let object = match value {
        Value::Bool(true) => {
            *value = Value::Object(Map::new());
            return Ok(());
        }
        Value::Bool(false) => {
            return Err(Error::at(
                path,
                at.as_str(),
                "the `false` schema (no value is valid) is not supported",
            ))
        }
        Value::Object(object) => object,
        _ => return Ok(()),
    };
    for keyword in UNSUPPORTED {
        if object.contains_key(*keyword) {
            return Err(Error::at(
                path,
                at.join(keyword).as_str(),
                format!("`{keyword}` is not supported"),
            ));
        }
    }
    for keyword in VALIDATION_ONLY {
        object.remove(*keyword);
    }
    if object.contains_key("$ref") {
        // 3.1 reads a `$ref`'s siblings; 3.0 parsers drop them. Annotations
        // alone change nothing; anything else is the referenced type and
        // more, which `allOf` says in 3.0.
        let typed = object.keys().any(|k| {
            k != "$ref" && k != "type" && k != "nullable" && !ANNOTATIONS.contains(&k.as_str())
        });
        let nullable = object.get("nullable") == Some(&Value::Bool(true))
            || match object.get("type") {
                Some(Value::Array(types)) => types.iter().any(|t| t == "null"),
                Some(t) => t == "null",
                None => false,
            };
        let mut rest = std::mem::take(object);
        let reference = rest.remove("$ref").unwrap_or(Value::Null);
        if !typed && nullable {
            // `{$ref: X, type: [.., "null"]}`: X or null. The type beside
            // the reference repeats X's; `allOf` of one carries `nullable`.
            let mut reference_only = Map::new();
            reference_only.insert("$ref".to_owned(), reference);
            object.insert(
                "allOf".to_owned(),
                Value::Array(vec![Value::Object(reference_only)]),
            );
            object.insert("nullable".to_owned(), Value::Bool(true));
        } else if typed {
            let mut siblings = Value::Object(rest);
            schema(path, &mut siblings, &at.join("allOf").join(1))?;
            let mut reference_only = Map::new();
            reference_only.insert("$ref".to_owned(), reference);
            object.insert(
                "allOf".to_owned(),
                Value::Array(vec![Value::Object(reference_only), siblings]),
            );
        } else {
            object.insert("$ref".to_owned(), reference);
        }
        return Ok(());
    }
    if let Some(types) = object.get("type").and_then(Value::as_array).cloned() {
        let mut kinds: Vec<&Value> = types
            .iter()
            .filter(|t| t.as_str() != Some("null"))
            .collect();
        if kinds.len() < types.len() {
            object.insert("nullable".to_owned(), Value::Bool(true));
        }
        match kinds.len() {
            0 => {
                object.remove("type");
            }
            1 => {
                let kind = kinds.remove(0).clone();
                object.insert("type".to_owned(), kind);
            }
            _ => {
                return Err(Error::at(
                    path,
                    at.join("type").as_str(),
                    "a `type` of several kinds (besides \"null\") is not supported; \
                     describe the kinds as `oneOf` members",
                ))
            }
        }
    } else if object.get("type").and_then(Value::as_str) == Some("null") {
        object.remove("type");
        object.insert("nullable".to_owned(), Value::Bool(true));
    }
    if let Some(constant) = object.remove("const") {
        object
            .entry("enum")
            .or_insert_with(|| Value::Array(vec![constant]));
    }
    if let Some(Value::Array(mut examples)) = object.remove("examples") {
        if !object.contains_key("example") && !examples.is_empty() {
            object.insert("example".to_owned(), examples.swap_remove(0));
        }
    }
    for (exclusive, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if let Some(limit) = object.get(exclusive).filter(|v| v.is_number()).cloned() {
            object.insert(bound.to_owned(), limit);
            object.insert(exclusive.to_owned(), Value::Bool(true));
        }
    }
    // Inner schemas.
    for keyword in ["properties"] {
        if let Some(Value::Object(properties)) = object.get_mut(keyword) {
            for (name, property) in properties.iter_mut() {
                schema(path, property, &at.join(keyword).join(name))?;
            }
        }
    }
    for keyword in ["items", "not"] {
        if let Some(inner) = object.get_mut(keyword) {
            schema(path, inner, &at.join(keyword))?;
        }
    }
    if let Some(inner @ Value::Object(_)) = object.get_mut("additionalProperties") {
        schema(path, inner, &at.join("additionalProperties"))?;
    }
    if let Some(Value::Object(defs)) = object.get("$defs") {
        let first = defs.keys().next().cloned().unwrap_or_default();
        return Err(Error::at(
            path,
            at.join("$defs").join(first).as_str(),
            "`$defs` are supported in component schemas only",
        ));
    }
    for keyword in ["allOf", "anyOf", "oneOf"] {
        let Some(Value::Array(members)) = object.get_mut(keyword) else {
            continue;
        };
        for (i, member) in members.iter_mut().enumerate() {
            schema(path, member, &at.join(keyword).join(i))?;
        }
        if keyword == "allOf" {
            continue;
        }
        // `anyOf: [X, {type: "null"}]`: X or null. Normalised members say
        // `nullable: true` with no other keyword.
        let before = members.len();
        members.retain(|member| {
            !(is_null_schema(member)
                || member
                    .as_object()
                    .is_some_and(|o| o.len() == 1 && o.get("nullable") == Some(&Value::Bool(true))))
        });
        if members.len() < before {
            object.insert("nullable".to_owned(), Value::Bool(true));
            if let Some(Value::Array(members)) = object.get(keyword) {
                if members.len() == 1 {
                    let single = members.clone();
                    object.remove(keyword);
                    object.insert("allOf".to_owned(), Value::Array(single));
                }
            }
        }
    }
    Ok(())
}

/// Moves every `$defs` entry of the component schemas (at any depth, and
/// those inside them) into `components/schemas`, and points the `$ref`s
/// that named it there.
fn hoist_defs(path: &Path, tree: &mut Value) -> Result<()> {
    let Some(Value::Object(schemas)) = tree.pointer_mut("/components/schemas") else {
        return Ok(());
    };
    let mut moved: Vec<(String, String)> = Vec::new();
    // Each round takes the `$defs` of the schemas present; hoisted ones may
    // hold more, found in the next round. Bounded, like every loop here.
    for _ in 0..16 {
        let mut found: Vec<(String, String, Value)> = Vec::new();
        let names: Vec<String> = schemas.keys().cloned().collect();
        for name in &names {
            let old = format!("#/components/schemas/{}", escape(name));
            if let Some(schema) = schemas.get_mut(name) {
                take_defs(schema, &old, name, &mut found);
            }
        }
        if found.is_empty() {
            break;
        }
        for (old, wanted, schema) in found {
            let mut name = wanted.clone();
            let mut n = 2;
            while schemas.contains_key(&name) {
                name = format!("{wanted}{n}");
                n += 1;
            }
            moved.push((old, format!("#/components/schemas/{}", escape(&name))));
            schemas.insert(name, schema);
        }
    }
    if moved.is_empty() {
        return Ok(());
    }
    // A reference to a definition inside a definition was written against
    // its first place: follow the moves in order.
    rewrite_refs(tree, &moved);
    let _ = path;
    Ok(())
}

/// Takes the `$defs` out of `schema` (found at pointer `at`, named
/// `owner`) and out of the schemas inside it.
fn take_defs(schema: &mut Value, at: &str, owner: &str, found: &mut Vec<(String, String, Value)>) {
    let Value::Object(object) = schema else {
        return;
    };
    if let Some(Value::Object(defs)) = object.remove("$defs") {
        for (key, def) in defs {
            let wanted = if key.chars().next().is_some_and(char::is_uppercase) {
                key.clone()
            } else {
                format!("{owner}_{key}")
            };
            found.push((format!("{at}/$defs/{}", escape(&key)), wanted, def));
        }
    }
    for (key, child) in object.iter_mut() {
        let child_at = format!("{at}/{}", escape(key));
        match child {
            Value::Object(map) if key == "properties" => {
                for (name, property) in map.iter_mut() {
                    take_defs(
                        property,
                        &format!("{child_at}/{}", escape(name)),
                        owner,
                        found,
                    );
                }
            }
            Value::Array(members) if matches!(key.as_str(), "allOf" | "anyOf" | "oneOf") => {
                for (i, member) in members.iter_mut().enumerate() {
                    take_defs(member, &format!("{child_at}/{i}"), owner, found);
                }
            }
            Value::Object(_)
                if matches!(key.as_str(), "items" | "additionalProperties" | "not") =>
            {
                take_defs(child, &child_at, owner, found);
            }
            _ => {}
        }
    }
}

fn rewrite_refs(value: &mut Value, moved: &[(String, String)]) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get_mut("$ref") {
                for (old, new) in moved {
                    if reference == old {
                        *reference = new.clone();
                    }
                }
            }
            for child in object.values_mut() {
                rewrite_refs(child, moved);
            }
        }
        Value::Array(items) => {
            for item in items {
                rewrite_refs(item, moved);
            }
        }
        _ => {}
    }
}

/// A JSON pointer segment (RFC 6901).
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}
