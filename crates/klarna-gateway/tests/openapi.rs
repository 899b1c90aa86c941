//! The REST adapter's OpenAPI document: what it holds for the default
//! surface and for every tool, that it is OpenAPI 3.0 through and through
//! (no JSON Schema 2020-12 left, every reference resolving), and that it
//! matches the table it is built from. Whether our generator turns it into
//! a crate that compiles is `tests/tests/generator/gateway_openapi.rs` of
//! klarna-tests.

use std::collections::BTreeSet;

use klarna_gateway::openapi::{self, KNOWN_KEYWORDS, SHARED_KEYWORDS};
use klarna_gateway::table::{Body, Failure, Location, UpstreamError};
use klarna_gateway::{Surface, Tool, TOOLS};
use serde_json::{json, Value};

/// Seed 001's seven routes of the Captures capability.
const SEED_ROUTES: [(&str, &str); 7] = [
    ("/v1/ordermanagement/v1/orders/{order-id}/captures", "post"),
    ("/v1/ordermanagement/v1/orders/{order-id}/captures", "get"),
    (
        "/v1/ordermanagement/v1/orders/{order-id}/captures/{capture-id}",
        "get",
    ),
    (
        "/v1/ordermanagement/v1/orders/{order-id}/captures/{capture-id}/extend-due-date",
        "patch",
    ),
    (
        "/v1/ordermanagement/v1/orders/{order-id}/captures/{capture-id}/extend-due-date-options",
        "get",
    ),
    (
        "/v1/ordermanagement/v1/orders/{order-id}/captures/{capture-id}/shipping-info",
        "post",
    ),
    (
        "/v1/ordermanagement/v1/orders/{order-id}/captures/{capture-id}/trigger-send-out",
        "post",
    ),
];

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn tools(surface: &Surface) -> Vec<&'static Tool> {
    surface.tools().expect("the surface names known tags")
}

fn document(surface: &Surface) -> Value {
    openapi::document(&tools(surface), Some("http://127.0.0.1:8080"))
}

/// Both surfaces, named for assertion messages.
fn documents() -> [(&'static str, Value); 2] {
    [
        ("default", document(&Surface::default())),
        ("all", document(&Surface::All)),
    ]
}

/// `(route, method, operation)` of every operation.
fn operations(document: &Value) -> Vec<(String, String, &Value)> {
    let mut found = Vec::new();
    for (route, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            assert!(METHODS.contains(&method.as_str()), "{route}: `{method}`");
            found.push((route.clone(), method.clone(), operation));
        }
    }
    found
}

fn operation<'d>(document: &'d Value, tool: &Tool) -> &'d Value {
    let operation = &document["paths"][tool.route][tool.method.to_ascii_lowercase()];
    assert!(operation.is_object(), "{}: no operation", tool.name);
    operation
}

/// Every value in the tree with the path that leads to it.
fn walk<'v>(value: &'v Value, at: String, visit: &mut dyn FnMut(&str, &'v Value)) {
    visit(&at, value);
    match value {
        Value::Object(object) => {
            for (key, child) in object {
                walk(child, format!("{at}/{key}"), visit);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk(child, format!("{at}/{i}"), visit);
            }
        }
        _ => {}
    }
}

/// The schemas of the document, each with its place: components and
/// everything under them, where schema keywords are keys.
fn schema_objects(document: &Value) -> Vec<(String, &Value)> {
    let mut found = Vec::new();
    fn of<'v>(schema: &'v Value, at: String, found: &mut Vec<(String, &'v Value)>) {
        let Some(object) = schema.as_object() else {
            return;
        };
        found.push((at.clone(), schema));
        for (key, value) in object {
            match key.as_str() {
                "properties" => {
                    for (name, property) in value.as_object().expect("properties") {
                        of(property, format!("{at}/properties/{name}"), found);
                    }
                }
                "items" | "not" | "additionalProperties" => of(value, format!("{at}/{key}"), found),
                "allOf" | "anyOf" | "oneOf" => {
                    for (i, member) in value.as_array().expect("a list").iter().enumerate() {
                        of(member, format!("{at}/{key}/{i}"), found);
                    }
                }
                _ => {}
            }
        }
    }
    walk(document, String::new(), &mut |at, value| {
        // A schema's root sits under `schema` (parameters, media types,
        // headers) or under `components/schemas/NAME`.
        if at.ends_with("/schema")
            || at.rsplit_once('/').map(|(p, _)| p) == Some("/components/schemas")
        {
            of(value, at.to_owned(), &mut found);
        }
    });
    found
}

#[test]
fn the_default_surface_has_the_seven_seed_routes_and_nothing_else() {
    let document = document(&Surface::default());
    let mut expected: Vec<(String, String)> = SEED_ROUTES
        .iter()
        .map(|(route, method)| ((*route).to_owned(), (*method).to_owned()))
        .collect();
    let mut found: Vec<(String, String)> = operations(&document)
        .into_iter()
        .map(|(route, method, _)| (route, method))
        .collect();
    expected.sort();
    found.sort();
    assert_eq!(found, expected);
    assert_eq!(document["openapi"], "3.0.3");
    assert_eq!(document["info"]["title"], "klarna-gateway");
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        document["servers"],
        json!([{ "url": "http://127.0.0.1:8080" }])
    );
    assert_eq!(document["tags"], json!([{ "name": "Captures" }]));

    let capture = &document["paths"][SEED_ROUTES[0].0]["post"];
    assert_eq!(capture["operationId"], "capture_order");
    assert_eq!(
        capture["requestBody"]["content"]["application/json"]["schema"],
        json!({ "$ref": "#/components/schemas/CaptureObject" })
    );
    assert_eq!(capture["requestBody"]["required"], true);
    let created = &capture["responses"]["201"];
    assert!(
        created.get("content").is_none(),
        "a capture answers 201 without a body: {created}"
    );
    let headers: BTreeSet<&str> = created["headers"]
        .as_object()
        .expect("headers")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        headers,
        BTreeSet::from(["Capture-Id", "Klarna-Idempotency-Key", "Location"])
    );
    let location = created["headers"]["Location"]["description"]
        .as_str()
        .unwrap();
    assert!(location.contains("its own route"), "{location}");
    let key = capture["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Klarna-Idempotency-Key")
        .expect("the idempotency key header");
    assert_eq!(key["in"], "header");
    // A capture moves money: its key is required.
    assert_eq!(key["required"], true);

    let list = &document["paths"][SEED_ROUTES[1].0]["get"];
    assert!(list.get("requestBody").is_none());
    let listed = &list["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(listed["type"], "array", "{listed}");
}

#[test]
fn every_reference_resolves_inside_the_document() {
    for (surface, document) in documents() {
        let mut references = 0;
        walk(&document, String::new(), &mut |at, value| {
            if let Some(target) = value.get("$ref") {
                let target = target.as_str().expect("a reference is text");
                let pointer = target
                    .strip_prefix('#')
                    .unwrap_or_else(|| panic!("{surface}{at}: `{target}` leaves the document"));
                assert!(
                    document.pointer(pointer).is_some_and(Value::is_object),
                    "{surface}{at}: `{target}` does not resolve"
                );
                assert_eq!(
                    value.as_object().unwrap().len(),
                    1,
                    "{surface}{at}: beside a $ref"
                );
                references += 1;
            }
        });
        assert!(references > 20, "{surface}: {references} references");
    }
}

#[test]
fn no_json_schema_2020_12_is_left() {
    for (surface, document) in documents() {
        walk(&document, String::new(), &mut |at, value| {
            assert!(!at.contains("$defs"), "{surface}{at}");
            assert!(!at.ends_with("/examples"), "{surface}{at}");
            // What `{"type": "null"}` would have become, had it been left.
            assert_ne!(value, &json!({ "type": "null" }), "{surface}{at}");
            assert_ne!(value.get("enum"), Some(&json!([null])), "{surface}{at}");
            if let Some(Value::String(target)) = value.get("$ref") {
                assert!(!target.contains("$defs"), "{surface}{at}: {target}");
            }
        });
        let schemas = schema_objects(&document);
        assert!(schemas.len() > 50, "{surface}: {} schemas", schemas.len());
        for (at, schema) in schemas {
            match schema.get("type") {
                None => {}
                Some(Value::String(ty)) => assert!(
                    ["string", "integer", "number", "boolean", "array", "object"]
                        .contains(&ty.as_str()),
                    "{surface}{at}: type `{ty}`"
                ),
                Some(other) => panic!("{surface}{at}: type {other}"),
            }
            for keyword in ["const", "$schema", "$id", "prefixItems", "examples"] {
                assert!(schema.get(keyword).is_none(), "{surface}{at}: `{keyword}`");
            }
            if let Some(bound) = schema.get("exclusiveMinimum") {
                assert!(bound.is_boolean(), "{surface}{at}");
            }
        }
    }
}

#[test]
fn the_documents_parse_as_openapi_3_0() {
    for (surface, document) in documents() {
        let parsed: openapiv3::OpenAPI =
            serde_json::from_value(document.clone()).unwrap_or_else(|e| panic!("{surface}: {e}"));
        assert_eq!(parsed.openapi, "3.0.3");
        let tools = if surface == "all" {
            tools(&Surface::All)
        } else {
            tools(&Surface::default())
        };
        assert_eq!(parsed.operations().count(), tools.len(), "{surface}");
        let components = parsed.components.expect("components");
        assert!(components.schemas.contains_key(openapi::ERROR_SCHEMA));
        assert!(components.security_schemes.contains_key("bearer"));
    }
}

#[test]
fn the_document_for_every_tool_has_one_operation_each_with_unique_ids() {
    let tools = tools(&Surface::All);
    assert_eq!(tools.len(), TOOLS.len());
    let document = document(&Surface::All);
    let operations = operations(&document);
    assert_eq!(operations.len(), tools.len());
    let ids: BTreeSet<&str> = operations
        .iter()
        .map(|(_, _, o)| o["operationId"].as_str().expect("an operationId"))
        .collect();
    assert_eq!(ids.len(), operations.len(), "operationIds repeat");
    for tool in &tools {
        let id = operation(&document, tool)["operationId"].as_str().unwrap();
        let repeated = tools
            .iter()
            .filter(|t| t.operation == tool.operation)
            .count()
            > 1;
        if repeated {
            assert_eq!(id, format!("{}_{}", tool.api, tool.operation));
        } else {
            assert_eq!(id, tool.operation);
        }
        assert_eq!(operation(&document, tool)["tags"], json!([tool.tag]));
    }
}

#[test]
fn parameters_bodies_and_headers_follow_the_table() {
    let tools = tools(&Surface::All);
    let document = document(&Surface::All);
    for tool in tools {
        let operation = operation(&document, tool);
        let parameters = operation["parameters"].as_array().expect("parameters");
        for param in tool.params {
            let (place, name) = match param.location {
                Location::Path => ("path", param.rest_name),
                Location::Query => ("query", param.wire_name),
                Location::Header => ("header", param.wire_name),
            };
            let found = parameters
                .iter()
                .find(|p| p["name"] == name && p["in"] == place)
                .unwrap_or_else(|| panic!("{}: no {place} parameter `{name}`", tool.name));
            assert_eq!(found["required"], param.required, "{}: {name}", tool.name);
            if param.location == Location::Path {
                assert!(
                    tool.route.contains(&format!("{{{name}}}")),
                    "{}: {name}",
                    tool.name
                );
            }
        }
        let placeholders = tool.route.matches('{').count();
        let in_path = parameters.iter().filter(|p| p["in"] == "path").count();
        assert_eq!(placeholders, in_path, "{}", tool.name);
        let has_key = parameters
            .iter()
            .any(|p| p["name"] == "Klarna-Idempotency-Key");
        assert_eq!(has_key, tool.idempotency_key, "{}", tool.name);
        assert_eq!(
            parameters.len(),
            tool.params.len() + usize::from(tool.idempotency_key)
        );

        match tool.body {
            Body::None => assert!(operation.get("requestBody").is_none(), "{}", tool.name),
            body => {
                let request = &operation["requestBody"];
                assert_eq!(request["required"], body == Body::Required, "{}", tool.name);
                assert!(request["content"]["application/json"]["schema"].is_object());
            }
        }

        let responses = operation["responses"].as_object().unwrap();
        let success = &responses[&tool.status.to_string()];
        let output: Value = tool.output_schema.assemble().unwrap();
        let empty = output["properties"]["body"]["type"] == "null";
        assert_eq!(success.get("content").is_none(), empty, "{}", tool.name);
        let headers = success.get("headers").and_then(Value::as_object);
        let mut expected: BTreeSet<&str> =
            tool.response_headers.iter().map(|h| h.wire_name).collect();
        if tool.idempotency_key {
            expected.insert("Klarna-Idempotency-Key");
        }
        let found: BTreeSet<&str> = headers
            .map(|h| h.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(found, expected, "{}", tool.name);

        let errors: BTreeSet<&str> = responses
            .keys()
            .map(String::as_str)
            .filter(|s| *s != tool.status.to_string())
            .collect();
        let mut gateway = BTreeSet::from([
            "400", "401", "403", "404", "405", "408", "409", "502", "504", "default",
        ]);
        if tool.body != Body::None {
            gateway.extend(["413", "415"]);
        }
        assert_eq!(errors, gateway, "{}", tool.name);
    }
}

#[test]
fn component_names_are_plain_unless_two_apis_define_them_differently() {
    let default = document(&Surface::default());
    let names: Vec<&String> = default["components"]["schemas"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert!(names.iter().any(|n| *n == "CaptureObject"), "{names:?}");
    assert!(
        !names.iter().any(|n| n.starts_with("Ordermanagement")),
        "one API: no prefixes: {names:?}"
    );

    let all = document(&Surface::All);
    let schemas = all["components"]["schemas"].as_object().unwrap();
    // Three APIs define `Address`, each its own way.
    assert!(!schemas.contains_key("Address"));
    for name in [
        "OrdermanagementAddress",
        "PaymentsAddress",
        "PaymentApiAddress",
    ] {
        assert!(schemas.contains_key(name), "{name}");
    }
    assert_ne!(schemas["PaymentsAddress"], schemas["PaymentApiAddress"]);
    // One API's own type keeps its name.
    assert!(schemas.contains_key("CaptureObject"));
    // The result's form of an open enum: Klarna adds values.
    let kind = &schemas["OrdermanagementOrderLineType"];
    assert_eq!(kind["type"], "string");
    assert!(kind.get("enum").is_none(), "{kind}");
    assert_eq!(kind["example"], "physical");
    assert!(
        kind["description"]
            .as_str()
            .unwrap()
            .contains("`return_fee`"),
        "{kind}"
    );
}

#[test]
fn the_same_tools_give_the_same_bytes() {
    for surface in [Surface::default(), Surface::All] {
        let first = serde_json::to_string(&document(&surface)).unwrap();
        let second = serde_json::to_string(&document(&surface)).unwrap();
        assert_eq!(first, second);
    }
    // Keys are written sorted, whatever order serde_json's map keeps.
    walk(&document(&Surface::All), String::new(), &mut |at, value| {
        if let Some(object) = value.as_object() {
            let keys: Vec<&String> = object.keys().collect();
            assert!(keys.windows(2).all(|w| w[0] < w[1]), "{at}: {keys:?}");
        }
    });
}

#[test]
fn every_keyword_of_the_table_is_one_the_translation_knows() {
    fn check(schema: &Value, at: &str) {
        let Some(object) = schema.as_object() else {
            return;
        };
        for (key, value) in object {
            assert!(
                SHARED_KEYWORDS.contains(&key.as_str()) || KNOWN_KEYWORDS.contains(&key.as_str()),
                "{at}: `{key}` would be dropped"
            );
            match key.as_str() {
                "properties" | "$defs" => {
                    for (name, child) in value.as_object().unwrap() {
                        check(child, &format!("{at}/{key}/{name}"));
                    }
                }
                "items" | "not" | "additionalProperties" => check(value, &format!("{at}/{key}")),
                "allOf" | "anyOf" | "oneOf" => {
                    for (i, member) in value.as_array().unwrap().iter().enumerate() {
                        check(member, &format!("{at}/{key}/{i}"));
                    }
                }
                _ => {}
            }
        }
    }
    for tool in TOOLS {
        for (which, schema) in [
            ("input", &tool.input_schema),
            ("output", &tool.output_schema),
        ] {
            let schema: Value = schema
                .assemble()
                .unwrap_or_else(|e| panic!("{} {which}: {e}", tool.name));
            check(&schema, &format!("{} {which}", tool.name));
        }
    }
}

/// `#/$defs/X` as the component `X`.
fn plain(name: &str) -> String {
    name.to_owned()
}

#[test]
fn nullable_schemas_become_3_0_nullable() {
    let converted = openapi::convert(
        &json!({ "anyOf": [{ "$ref": "#/$defs/Address" }, { "type": "null" }], "description": "Where." }),
        &plain,
    );
    assert_eq!(
        converted,
        json!({
            "allOf": [{ "$ref": "#/components/schemas/Address" }],
            "nullable": true,
            "description": "Where.",
        })
    );
    let converted = openapi::convert(
        &json!({ "anyOf": [{ "type": "string", "format": "date" }, { "type": "null" }] }),
        &plain,
    );
    assert_eq!(
        converted,
        json!({ "type": "string", "format": "date", "nullable": true })
    );
    let converted = openapi::convert(&json!({ "type": ["integer", "null"] }), &plain);
    assert_eq!(converted, json!({ "type": "integer", "nullable": true }));
    let converted = openapi::convert(
        &json!({ "anyOf": [{ "type": "string" }, { "type": "integer" }, { "type": "null" }] }),
        &plain,
    );
    assert_eq!(
        converted,
        json!({ "anyOf": [{ "type": "string" }, { "type": "integer" }], "nullable": true })
    );
}

#[test]
fn references_examples_and_bounds_are_translated() {
    let prefixed = |name: &str| format!("Payments{name}");
    let converted = openapi::convert(
        &json!({
            "type": "object",
            "properties": {
                "address": { "$ref": "#/$defs/Address", "description": "Billing." },
                "lines": { "type": "array", "items": { "$ref": "#/$defs/Address" } },
                "kind": { "type": "string", "examples": ["a", "b"], "description": "Kind." },
                "fixed": { "const": "x" },
                "count": { "type": "integer", "exclusiveMinimum": 0 },
                "extra": { "$comment": "dropped" },
            },
            "additionalProperties": false,
        }),
        &prefixed,
    );
    assert_eq!(
        converted,
        json!({
            "type": "object",
            "properties": {
                "address": {
                    "allOf": [{ "$ref": "#/components/schemas/PaymentsAddress" }],
                    "description": "Billing.",
                },
                "lines": { "type": "array", "items": { "$ref": "#/components/schemas/PaymentsAddress" } },
                "kind": {
                    "type": "string",
                    "example": "a",
                    "description": "Kind. Known values: `a`, `b`; others may appear.",
                },
                "fixed": { "enum": ["x"] },
                "count": { "type": "integer", "minimum": 0, "exclusiveMinimum": true },
                "extra": {},
            },
            "additionalProperties": false,
        })
    );
    assert_eq!(openapi::convert(&json!(true), &plain), json!({}));
}

/// Every field of the gateway's own errors, as `table.rs` writes them, is
/// a property of the documented error, and the required ones are there.
#[test]
fn the_gateway_errors_fit_the_documented_error_schema() {
    let document = document(&Surface::default());
    let schema = &document["components"]["schemas"][openapi::ERROR_SCHEMA];
    let properties = schema["properties"].as_object().unwrap();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    let upstream = Failure::Upstream(Box::new(UpstreamError {
        kind: "no_response",
        status: None,
        error_code: None,
        error_messages: Vec::new(),
        correlation_id: None,
        body: Some(r#"{"error_code":"X"}"#.to_owned()),
        timed_out: false,
        retry_after: None,
        may_have_reached_klarna: true,
        idempotency_key: Some("key-1".to_owned()),
        message: "the connection closed".to_owned(),
    }));
    for failure in [
        Failure::invalid("argument `body.captured_amount`: invalid type"),
        Failure::unknown_tool("nope"),
        Failure::internal("bug"),
        Failure::refused_with(
            409,
            "IDEMPOTENCY_KEY_REUSED",
            "reused",
            serde_json::Map::from_iter([
                ("differences".to_owned(), json!(["body.captured_amount"])),
                ("idempotency_key".to_owned(), json!("key-1")),
            ]),
        ),
        upstream,
    ] {
        let error = failure.to_json();
        let object = error.as_object().unwrap();
        for key in object.keys() {
            assert!(
                properties.contains_key(key),
                "`{key}` is not documented: {error}"
            );
        }
        for key in &required {
            assert!(object.contains_key(*key), "`{key}` missing: {error}");
        }
        assert!(object["may_have_reached_klarna"].is_boolean(), "{error}");
        for (key, value) in object {
            if value.is_null() {
                assert_eq!(properties[key]["nullable"], true, "`{key}` may be null");
            }
        }
    }
}
