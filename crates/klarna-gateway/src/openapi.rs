//! The REST adapter's own OpenAPI 3.0.3 document, built from the same
//! operation table as its routes, so that clients in other languages can be
//! generated against the gateway.
//!
//! The table carries each tool's arguments and result as JSON Schema
//! 2020-12 with `$defs`; OpenAPI 3.0 speaks an older dialect, so the
//! schemas are translated on the way (see [`convert`]):
//!
//! - `#/$defs/X` becomes `#/components/schemas/X`;
//! - `anyOf: [S, {"type": "null"}]` becomes S with `nullable: true` (a
//!   reference S as `allOf: [S]`, the 3.0 way to qualify a reference);
//! - `examples`, which the table uses for the known values of an open enum
//!   in a result, becomes one `example` and a sentence of the description;
//! - a `$ref` with a description beside it becomes `allOf: [ref]`, since
//!   3.0 ignores whatever stands beside a `$ref`.
//!
//! Component names are the models' own. The tools of one API share them;
//! the table writes a type the API's requests and results both use twice,
//! its enums closed in arguments and open in results, and the result's form
//! wins: it admits every value the typed model admits, which is what the
//! adapter accepts too. Two APIs that define one name differently
//! (`Address`) get it prefixed with their name (`PaymentApiAddress`); so
//! does a shared name whose definition refers to such a name.
//!
//! The document is deterministic: the same tools give the same bytes, with
//! or without serde_json's `preserve_order` (every object is written with
//! its keys sorted).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use crate::table::{Body, Kind, Location, Tool};

/// The component that describes every error answer.
pub const ERROR_SCHEMA: &str = "GatewayError";

/// The request and response header of an idempotency key.
const IDEMPOTENCY_HEADER: &str = "Klarna-Idempotency-Key";

/// The gateway's own error statuses, each with its component response.
/// 413 and 415 concern a request body and are listed only where there is
/// one.
const GATEWAY_ERRORS: &[(u16, &str, &str)] = &[
    (
        400,
        "BadRequest",
        "The request does not fit the operation: `INVALID_ARGUMENTS` for a path, \
         query or header parameter or a body that does not fit the typed model, \
         `BAD_REQUEST` for a body that is not JSON, a missing or unexpected body, \
         or an unknown query parameter; `error_messages` names the field (an unknown \
         body field with the nearest known name); `IDEMPOTENCY_KEY_REQUIRED` when an \
         operation that moves money or creates something has no \
         `Klarna-Idempotency-Key`. Nothing \
         was sent to Klarna. Klarna's own 400 comes back with Klarna's body, \
         without `may_have_reached_klarna`.",
    ),
    (
        401,
        "Unauthorized",
        "`UNAUTHORIZED`: the gateway requires a bearer token and the request has \
         none, or the wrong one.",
    ),
    (
        403,
        "Forbidden",
        "`FORBIDDEN_HOST` or `FORBIDDEN_ORIGIN`: the `Host` header or a browser's \
         `Origin` names no host this gateway serves (against DNS rebinding); \
         `LIMIT_EXCEEDED`: the amount is above the gateway's `--max-amount`. \
         Klarna's own 403 (an over-capture, say) comes back with Klarna's body, \
         without `may_have_reached_klarna`.",
    ),
    (
        404,
        "NotFound",
        "`NOT_FOUND`: no route of the gateway matches the path. Klarna's own 404 \
         (an unknown order, say) comes back with Klarna's body, without \
         `may_have_reached_klarna`.",
    ),
    (
        405,
        "MethodNotAllowed",
        "`METHOD_NOT_ALLOWED`: the route exists, without this method.",
    ),
    (
        408,
        "RequestTimeout",
        "`REQUEST_TIMEOUT`: the request (its head or its body) did not arrive in time.",
    ),
    (
        409,
        "Conflict",
        "`IDEMPOTENCY_KEY_REUSED`: the key was first used with other arguments \
         (`differences` names them); a key means one request. `IN_PROGRESS`: the \
         first request with this key has not ended yet; repeat it later with the \
         same key and arguments for its answer. Nothing was sent. Klarna's own 409 \
         comes back with Klarna's body.",
    ),
    (
        413,
        "PayloadTooLarge",
        "`PAYLOAD_TOO_LARGE`: the request body exceeds the gateway's limit.",
    ),
    (
        415,
        "UnsupportedMediaType",
        "`UNSUPPORTED_MEDIA_TYPE`: the request body is not `application/json`.",
    ),
    (
        502,
        "BadGateway",
        "Klarna could not be reached, did not answer, or answered with a body the \
         gateway could not decode. `kind` tells which, and `may_have_reached_klarna` \
         whether Klarna may have acted: repeat such a request only with the same \
         `Klarna-Idempotency-Key` (returned in `idempotency_key`).",
    ),
    (
        504,
        "GatewayTimeout",
        "The call to Klarna, retries included, did not finish within the gateway's \
         overall timeout. Klarna may have acted: repeat only with the same \
         `Klarna-Idempotency-Key`.",
    ),
];

/// The OpenAPI 3.0.3 document of the REST adapter for these tools, with
/// `server_url` (the gateway's origin, `http://127.0.0.1:8080`) as its one
/// server when given.
pub fn document(tools: &[&Tool], server_url: Option<&str>) -> Value {
    let parsed: Vec<Parsed> = tools.iter().map(|tool| Parsed::of(tool)).collect();
    let names = Names::collect(&parsed);

    let mut schemas = Map::new();
    for ((api, name), definition) in &names.definitions {
        let renamed = names.of(api, name);
        schemas.insert(
            renamed,
            convert(definition, &|target| names.of(api, target)),
        );
    }
    schemas.insert(ERROR_SCHEMA.to_owned(), error_schema());

    let repeated = repeated_operations(tools);
    let mut paths = Map::new();
    for parsed in &parsed {
        let tool = parsed.tool;
        let operation = operation(parsed, &names, repeated.contains(tool.operation));
        let item = paths
            .entry(tool.route)
            .or_insert_with(|| Value::Object(Map::new()));
        item[tool.method.to_ascii_lowercase()] = operation;
    }

    let mut tags = Vec::new();
    for tool in tools {
        if !tags.contains(&tool.tag) {
            tags.push(tool.tag);
        }
    }

    let mut document = json!({
        "openapi": "3.0.3",
        "info": {
            "title": env!("CARGO_PKG_NAME"),
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The REST adapter of klarna-gateway: each route forwards to Klarna \
                through the SDK's generated client (retries, idempotency keys, the typed \
                models). A route is `/v1` followed by Klarna's own path. Klarna's answers \
                come back with Klarna's status, body and documented headers; `Location` \
                points at the gateway's own route.",
        },
        "tags": tags.iter().map(|tag| json!({ "name": tag })).collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": error_responses(),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The gateway's own token (not a Klarna credential). \
                        Required when the gateway listens on an address other than \
                        loopback; on loopback without a configured token, none is needed.",
                },
            },
        },
        // `{}` first: the token is optional on a loopback gateway.
        "security": [{}, { "bearer": [] }],
    });
    if let Some(url) = server_url {
        document["servers"] = json!([{ "url": url }]);
    }
    sorted(document)
}

/// A tool with its schemas parsed.
struct Parsed<'t> {
    tool: &'t Tool,
    input: Value,
    output: Value,
}

impl<'t> Parsed<'t> {
    fn of(tool: &'t Tool) -> Self {
        // The table is generated, and tests/openapi.rs parses every schema
        // of it: a failure here is a bug of the generator, not input.
        let parse = |schema: &crate::table::Schema, which: &str| -> Value {
            schema
                .assemble()
                .unwrap_or_else(|e| panic!("the {which} schema of `{}`: {e}", tool.name))
        };
        Parsed {
            tool,
            input: parse(&tool.input_schema, "input"),
            output: parse(&tool.output_schema, "output"),
        }
    }

    /// A property of the arguments (`order_id`, `body`).
    fn argument(&self, name: &str) -> Option<&Value> {
        self.input.get("properties")?.get(name)
    }

    /// A property of the result (`body`, `headers`).
    fn result(&self, name: &str) -> Option<&Value> {
        self.output.get("properties")?.get(name)
    }
}

/// The definitions of the document and their component names.
struct Names {
    /// Each API's definitions, the result's form where there are two.
    definitions: BTreeMap<(String, String), Value>,
    /// The names defined differently by two APIs.
    prefixed: BTreeSet<String>,
}

impl Names {
    fn collect(parsed: &[Parsed]) -> Self {
        let mut definitions = BTreeMap::new();
        // Results first: their form wins over the arguments'.
        for (of, schema) in parsed
            .iter()
            .map(|p| (p.tool, &p.output))
            .chain(parsed.iter().map(|p| (p.tool, &p.input)))
        {
            if let Some(Value::Object(defs)) = schema.get("$defs") {
                for (name, definition) in defs {
                    definitions
                        .entry((of.api.to_owned(), name.clone()))
                        .or_insert_with(|| definition.clone());
                }
            }
        }

        // A name is shared as long as every API that defines it defines it
        // the same, and refers only to names that are shared too.
        let mut by_name: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
        for ((_, name), definition) in &definitions {
            by_name.entry(name).or_default().push(definition);
        }
        let mut prefixed: BTreeSet<String> = by_name
            .iter()
            .filter(|(_, defs)| defs.windows(2).any(|w| w[0] != w[1]))
            .map(|(name, _)| (*name).to_owned())
            .collect();
        loop {
            let more: Vec<String> = by_name
                .iter()
                .filter(|(name, defs)| {
                    defs.len() > 1
                        && !prefixed.contains(**name)
                        && defs
                            .iter()
                            .any(|d| references(d).iter().any(|r| prefixed.contains(r)))
                })
                .map(|(name, _)| (*name).to_owned())
                .collect();
            if more.is_empty() {
                break;
            }
            prefixed.extend(more);
        }
        Names {
            definitions,
            prefixed,
        }
    }

    /// The component name of `name` as `api` defines it.
    fn of(&self, api: &str, name: &str) -> String {
        if self.prefixed.contains(name) {
            format!("{}{name}", pascal(api))
        } else {
            name.to_owned()
        }
    }
}

/// The names a schema refers to in `$defs`.
fn references(schema: &Value) -> Vec<String> {
    let mut found = Vec::new();
    crate::table::references(schema, &mut found);
    found
}

/// `payment_api` as `PaymentApi`.
fn pascal(snake: &str) -> String {
    snake
        .split(['_', '-'])
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// The client methods that more than one tool of the document has.
fn repeated_operations<'t>(tools: &[&'t Tool]) -> BTreeSet<&'t str> {
    let mut seen = BTreeSet::new();
    let mut repeated = BTreeSet::new();
    for tool in tools {
        if !seen.insert(tool.operation) {
            repeated.insert(tool.operation);
        }
    }
    repeated
}

fn operation(parsed: &Parsed, names: &Names, repeated: bool) -> Value {
    let tool = parsed.tool;
    let refs = |target: &str| names.of(tool.api, target);

    let mut parameters = Vec::new();
    for param in tool.params {
        let mut schema = parsed
            .argument(param.argument)
            .map_or_else(|| json!({}), |s| convert(s, &refs));
        let (place, name, argument_place) = match param.location {
            Location::Path => ("path", param.rest_name, "path parameter"),
            Location::Query => ("query", param.wire_name, "query parameter"),
            Location::Header => ("header", param.wire_name, "header"),
        };
        // The table's descriptions end by naming the parameter for a tool
        // caller (`(the `order_id` path parameter)`); here the name is the
        // parameter's own, and the wire name may not be it (`order-id`).
        let description = take_description(&mut schema)
            .and_then(|d| d.as_str().map(str::to_owned))
            .map(|d| {
                let named = format!("the `{}` {argument_place}", param.wire_name);
                match d.strip_suffix(&format!(" ({named})")) {
                    Some(text) => text.to_owned(),
                    None if d == format!("The `{}` {argument_place}.", param.wire_name) => {
                        String::new()
                    }
                    None => d,
                }
            })
            .filter(|d| !d.is_empty());
        let mut parameter = json!({ "name": name, "in": place, "required": param.required });
        if let Some(description) = description {
            parameter["description"] = json!(description);
        }
        // The adapter reads a list or an object in a URL or header as JSON
        // text, which 3.0 says with `content`; a scalar is plain text.
        if param.kind == Kind::Json {
            parameter["content"] = json!({ "application/json": { "schema": schema } });
        } else {
            parameter["schema"] = schema;
        }
        parameters.push(parameter);
    }
    if tool.key_required() {
        parameters.push(json!({
            "name": IDEMPOTENCY_HEADER,
            "in": "header",
            "required": true,
            "description": "Required (unless the gateway runs with `--allow-keyless`): one \
                new UUID per intended action, sent again on every retry of that action. \
                The gateway and Klarna act once per key; the same key with other \
                arguments is refused with 409 `IDEMPOTENCY_KEY_REUSED`.",
            "schema": { "type": "string", "minLength": 1 },
        }));
    } else if tool.idempotency_key {
        parameters.push(json!({
            "name": IDEMPOTENCY_HEADER,
            "in": "header",
            "required": false,
            "description": "The key of an earlier attempt, to repeat it without Klarna acting \
                twice. Without one the gateway makes a new key and returns it in the \
                response's `Klarna-Idempotency-Key` header.",
            "schema": { "type": "string", "minLength": 1 },
        }));
    }

    let mut responses = Map::new();
    responses.insert(tool.status.to_string(), success(parsed, &refs));
    for (status, name, _) in GATEWAY_ERRORS {
        if tool.body == Body::None && matches!(status, 413 | 415) {
            continue;
        }
        responses.insert(
            status.to_string(),
            json!({ "$ref": format!("#/components/responses/{name}") }),
        );
    }
    responses.insert(
        "default".to_owned(),
        json!({ "$ref": "#/components/responses/KlarnaError" }),
    );

    let operation_id = if repeated {
        format!("{}_{}", tool.api, tool.operation)
    } else {
        tool.operation.to_owned()
    };
    let mut operation = json!({
        "operationId": operation_id,
        "tags": [tool.tag],
        "summary": tool.title,
        "description": tool.description,
        "parameters": parameters,
        "responses": responses,
    });
    if tool.description.is_empty() {
        if let Some(object) = operation.as_object_mut() {
            object.remove("description");
        }
    }
    if tool.body != Body::None {
        let mut schema = parsed
            .argument("body")
            .map_or_else(|| json!({}), |s| convert(s, &refs));
        let description = take_description(&mut schema);
        let mut body = json!({
            "required": tool.body == Body::Required,
            "content": { "application/json": { "schema": unwrap_reference(schema) } },
        });
        if let Some(description) = description {
            body["description"] = description;
        }
        operation["requestBody"] = body;
    }
    operation
}

/// The success response: the status the spec documents, the body of the
/// tool's result, and its headers by wire name.
fn success(parsed: &Parsed, refs: &dyn Fn(&str) -> String) -> Value {
    let tool = parsed.tool;
    let body = parsed.result("body").cloned().unwrap_or_else(|| json!({}));
    let empty = body.get("type") == Some(&json!("null"));
    let mut body = convert(&body, refs);
    let description = take_description(&mut body)
        .and_then(|d| d.as_str().map(str::to_owned))
        .unwrap_or_else(|| "Success.".to_owned());
    let mut response = json!({ "description": description });
    if !empty {
        response["content"] = json!({ "application/json": { "schema": unwrap_reference(body) } });
    }

    let documented = parsed
        .result("headers")
        .and_then(|h| h.get("properties"))
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut headers = Map::new();
    for header in tool.response_headers {
        let mut schema = documented
            .get(header.field)
            .map_or_else(|| json!({ "type": "string" }), |s| convert(s, refs));
        let mut description = take_description(&mut schema)
            .and_then(|d| d.as_str().map(str::to_owned))
            .unwrap_or_default();
        if header.wire_name.eq_ignore_ascii_case("location") {
            description = join(
                &description,
                "The gateway rewrites it to its own route (`/v1` and Klarna's path).",
            );
        }
        let mut entry = json!({ "required": header.required, "schema": schema });
        if !description.is_empty() {
            entry["description"] = json!(description);
        }
        headers.insert(header.wire_name.to_owned(), entry);
    }
    if tool.idempotency_key {
        headers.insert(
            IDEMPOTENCY_HEADER.to_owned(),
            json!({
                "required": true,
                "description": "The idempotency key the request was sent to Klarna with, \
                    the caller's or the one the gateway made: send it again to repeat the \
                    request safely.",
                "schema": { "type": "string" },
            }),
        );
    }
    if !headers.is_empty() {
        response["headers"] = Value::Object(headers);
    }
    response
}

/// The shared error responses: the gateway's own statuses, and Klarna's
/// documented errors passed through (`default`).
fn error_responses() -> Value {
    let schema = json!({ "$ref": format!("#/components/schemas/{ERROR_SCHEMA}") });
    let mut responses = Map::new();
    for (_, name, description) in GATEWAY_ERRORS {
        responses.insert(
            (*name).to_owned(),
            json!({
                "description": description,
                "content": { "application/json": { "schema": schema } },
            }),
        );
    }
    responses.insert(
        "KlarnaError".to_owned(),
        json!({
            "description": "An error status Klarna documents for the operation (403 for an \
                over-capture, say), passed through with Klarna's status and body, or one \
                of the gateway's own errors above.",
            "content": { "application/json": { "schema": schema } },
        }),
    );
    Value::Object(responses)
}

/// Klarna's error shape, and what the gateway adds to its own errors.
fn error_schema() -> Value {
    json!({
        "type": "object",
        "description": "An error. Klarna's errors pass through as Klarna sent them \
            (`error_code`, `error_messages`, `correlation_id`); the gateway's own errors \
            have the same fields and always `may_have_reached_klarna` besides, which \
            tells them apart.",
        "properties": {
            "error_code": {
                "type": "string",
                "description": "Klarna's error code, or the gateway's own in capitals \
                    (`INVALID_ARGUMENTS`, `NOT_SENT`, `NO_RESPONSE`, `TIMEOUT`, \
                    `UNDECODABLE_RESPONSE`...).",
            },
            "error_messages": {
                "type": "array",
                "items": { "type": "string" },
                "description": "What went wrong, for people.",
            },
            "correlation_id": {
                "type": "string",
                "nullable": true,
                "description": "Klarna's id of the request, for Klarna's support; null when \
                    Klarna did not answer.",
            },
            "may_have_reached_klarna": {
                "type": "boolean",
                "description": "Whether Klarna may have acted on the request: repeat it \
                    only with the same `Klarna-Idempotency-Key`. Present on the gateway's \
                    own errors only.",
            },
            "outcome": {
                "type": "string",
                "description": "How to read the error: `refused` (Klarna answered with an \
                    error; nothing happened), `unknown` (it may have happened: repeat with \
                    the same key and arguments), `not_sent` (nothing reached Klarna). \
                    Present on the gateway's own errors only.",
                "example": "not_sent",
            },
            "differences": {
                "type": "array",
                "items": { "type": "string" },
                "description": "With `IDEMPOTENCY_KEY_REUSED`: the arguments that differ \
                    from the key's first request (`body.captured_amount`).",
            },
            "kind": {
                "type": "string",
                "description": "How the call to Klarna failed: `api`, `unexpected_status`, \
                    `decode`, `incomplete_response`, `timeout`, `no_response` or \
                    `not_sent`. Others may appear.",
                "example": "not_sent",
            },
            "status": {
                "type": "integer",
                "nullable": true,
                "description": "The status Klarna answered with, when it answered.",
            },
            "idempotency_key": {
                "type": "string",
                "description": "The idempotency key the request was sent with.",
            },
            "body": {
                "description": "Klarna's error body, when it was JSON.",
            },
        },
        "required": ["error_code", "error_messages"],
    })
}

/// Removes a schema's description, to place it where 3.0 reads it (a
/// parameter, a request body, a response); a lone `allOf: [ref]` left
/// behind is the reference again.
fn take_description(schema: &mut Value) -> Option<Value> {
    let description = schema.as_object_mut()?.remove("description");
    *schema = unwrap_reference(std::mem::take(schema));
    description
}

/// `allOf: [ref]` with nothing beside it is just the reference.
fn unwrap_reference(schema: Value) -> Value {
    match schema {
        Value::Object(mut object) if object.len() == 1 => match object.remove("allOf") {
            Some(Value::Array(mut members))
                if members.len() == 1 && members[0].get("$ref").is_some() =>
            {
                members.remove(0)
            }
            Some(all_of) => {
                object.insert("allOf".into(), all_of);
                Value::Object(object)
            }
            None => Value::Object(object),
        },
        other => other,
    }
}

fn join(text: &str, sentence: &str) -> String {
    if text.is_empty() {
        sentence.to_owned()
    } else {
        format!("{text} {sentence}")
    }
}

/// Keywords JSON Schema 2020-12 and OpenAPI 3.0 share, copied as they are.
pub const SHARED_KEYWORDS: &[&str] = &[
    "title",
    "description",
    "format",
    "enum",
    "required",
    "default",
    "example",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "readOnly",
    "writeOnly",
    "deprecated",
];

/// Keywords [`convert`] translates; any other is dropped.
pub const KNOWN_KEYWORDS: &[&str] = &[
    "$ref",
    "$defs",
    "type",
    "properties",
    "items",
    "additionalProperties",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "examples",
    "const",
    "exclusiveMinimum",
    "exclusiveMaximum",
];

/// Translates a JSON Schema 2020-12 schema of the table into an OpenAPI
/// 3.0 schema; `refs` gives the component name of a `$defs` name.
pub fn convert(schema: &Value, refs: &dyn Fn(&str) -> String) -> Value {
    let object = match schema {
        Value::Object(object) => object,
        // Boolean schemas: `true` admits anything, `false` nothing.
        Value::Bool(true) => return json!({}),
        Value::Bool(false) => return json!({ "not": {} }),
        _ => return json!({}),
    };
    let mut out = Map::new();
    let mut nullable = false;

    // `type`: a name, or a list that may include "null".
    match object.get("type") {
        Some(Value::String(ty)) if ty == "null" => {
            nullable = true;
            out.insert("enum".into(), json!([null]));
        }
        Some(Value::String(ty)) => {
            out.insert("type".into(), json!(ty));
        }
        Some(Value::Array(types)) => {
            let mut named: Vec<&Value> = types.iter().filter(|t| *t != "null").collect();
            nullable = named.len() < types.len();
            match named.len() {
                0 => {
                    out.insert("enum".into(), json!([null]));
                }
                1 => {
                    out.insert("type".into(), named.remove(0).clone());
                }
                _ => {
                    let each: Vec<Value> = named.iter().map(|t| json!({ "type": t })).collect();
                    out.insert("anyOf".into(), Value::Array(each));
                }
            }
        }
        _ => {}
    }

    // `anyOf`/`oneOf` with a `{"type": "null"}` member: the rest, nullable.
    for keyword in ["anyOf", "oneOf"] {
        let Some(Value::Array(members)) = object.get(keyword) else {
            continue;
        };
        let is_null = |m: &&Value| {
            m.get("type") == Some(&json!("null")) && m.as_object().is_some_and(|o| o.len() <= 2)
        };
        let rest: Vec<&Value> = members.iter().filter(|m| !is_null(m)).collect();
        if rest.len() < members.len() {
            nullable = true;
        }
        match rest.as_slice() {
            [] => {
                out.insert("enum".into(), json!([null]));
            }
            [single] => {
                let converted = convert(single, refs);
                if converted.get("$ref").is_some() {
                    out.insert("allOf".into(), json!([converted]));
                } else if let Value::Object(inner) = converted {
                    for (key, value) in inner {
                        out.entry(key).or_insert(value);
                    }
                }
            }
            rest => {
                let converted = rest.iter().map(|m| convert(m, refs)).collect();
                out.insert(keyword.into(), Value::Array(converted));
            }
        }
    }

    for (key, value) in object {
        match key.as_str() {
            "$ref" => {
                if let Some(target) = value.as_str() {
                    let target = match target.strip_prefix("#/$defs/") {
                        Some(name) => format!("#/components/schemas/{}", refs(name)),
                        None => target.to_owned(),
                    };
                    out.insert("$ref".into(), json!(target));
                }
            }
            "properties" => {
                if let Value::Object(properties) = value {
                    let converted = properties
                        .iter()
                        .map(|(name, s)| (name.clone(), convert(s, refs)))
                        .collect();
                    out.insert(key.clone(), Value::Object(converted));
                }
            }
            "items" | "not" => {
                out.insert(key.clone(), convert(value, refs));
            }
            "additionalProperties" => {
                let converted = match value {
                    Value::Bool(allowed) => json!(allowed),
                    other => convert(other, refs),
                };
                out.insert(key.clone(), converted);
            }
            "allOf" => {
                if let Value::Array(members) = value {
                    let converted = members.iter().map(|m| convert(m, refs)).collect();
                    out.insert(key.clone(), Value::Array(converted));
                }
            }
            "const" => {
                out.insert("enum".into(), json!([value]));
            }
            "exclusiveMinimum" | "exclusiveMaximum" if value.is_number() => {
                let bound = if key == "exclusiveMinimum" {
                    "minimum"
                } else {
                    "maximum"
                };
                out.insert(bound.into(), value.clone());
                out.insert(key.clone(), json!(true));
            }
            key if SHARED_KEYWORDS.contains(&key) => {
                out.entry(key).or_insert_with(|| value.clone());
            }
            _ => {}
        }
    }
    // The description of the schema itself, over one merged from a member.
    if let Some(description) = object.get("description") {
        out.insert("description".into(), description.clone());
    }

    // `examples`: the known values of an open enum; 3.0 has one `example`.
    if let Some(Value::Array(examples)) = object.get("examples") {
        if let Some(first) = examples.first() {
            out.entry("example").or_insert_with(|| first.clone());
            let listed: Vec<String> = examples.iter().map(|e| format!("`{}`", text(e))).collect();
            let sentence = format!("Known values: {}; others may appear.", listed.join(", "));
            let description = out
                .get("description")
                .and_then(Value::as_str)
                .map_or_else(|| sentence.clone(), |d| join(d, &sentence));
            out.insert("description".into(), json!(description));
        }
    }

    if nullable {
        out.insert("nullable".into(), json!(true));
    }
    // 3.0 ignores everything beside a `$ref`: qualify it through `allOf`.
    if out.len() > 1 {
        if let Some(reference) = out.remove("$ref") {
            let mut all_of = match out.remove("allOf") {
                Some(Value::Array(members)) => members,
                _ => Vec::new(),
            };
            all_of.insert(0, json!({ "$ref": reference }));
            out.insert("allOf".into(), Value::Array(all_of));
        }
    }
    Value::Object(out)
}

/// A value as a description quotes it: strings without their quotes.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The value with every object's keys in sorted order, whatever order the
/// map keeps them in.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(object) => {
            let ordered: BTreeMap<String, Value> =
                object.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(ordered.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// The route of the journal's lookup (`GET`), served when the journal is on.
pub const CALLS_ROUTE: &str = "/v1/calls/{idempotency-key}";

/// Adds what the journal brings to a [`document`] of `tools`: the
/// 503 answer of every operation that is not read-only, and the lookup
/// route, `GET /v1/calls/{idempotency-key}`, with its `RecordedCall`
/// schema.
pub fn add_journal(document: &mut Value, tools: &[&Tool]) {
    let error_content = json!({ "application/json": { "schema": { "$ref": format!("#/components/schemas/{ERROR_SCHEMA}") } } });
    for tool in tools.iter().filter(|t| !t.read_only) {
        let responses =
            &mut document["paths"][tool.route][tool.method.to_ascii_lowercase()]["responses"];
        if !responses.is_object() {
            continue;
        }
        responses["503"] = json!({
            "description": "`JOURNAL_UNAVAILABLE`: the gateway could not record the call; \
                `may_have_reached_klarna` says whether it was sent.",
            "content": error_content.clone(),
        });
    }
    let error = |name: &str| json!({ "$ref": format!("#/components/responses/{name}") });
    let operation = json!({
        "operationId": "getRecordedCall",
        "tags": ["Calls"],
        "summary": "The recorded outcome of a money call",
        "description": "What the gateway's journal recorded for the call sent with this \
            `Klarna-Idempotency-Key`: its state, Klarna's status, the ids it returned and \
            its correlation id. Sends nothing to Klarna: for a caller that lost its answer. \
            A call whose state is `in_flight` or `unknown` may have reached Klarna; repeat \
            it only with the same key.",
        "parameters": [{
            "name": "idempotency-key",
            "in": "path",
            "required": true,
            "description": "The key the call was sent with.",
            "schema": { "type": "string" },
        }],
        "responses": {
            "200": {
                "description": "The call as recorded.",
                "content": { "application/json": { "schema": {
                    "$ref": "#/components/schemas/RecordedCall"
                } } },
            },
            "401": error("Unauthorized"),
            "403": error("Forbidden"),
            "404": error("NotFound"),
            "503": {
                "description": "`JOURNAL_UNAVAILABLE`: the journal could not be read.",
                "content": { "application/json": { "schema": {
                    "$ref": format!("#/components/schemas/{ERROR_SCHEMA}")
                } } },
            },
        },
    });
    document["paths"][CALLS_ROUTE] = json!({ "get": operation });
    let text = |description: &str| json!({ "type": "string", "description": description });
    let nullable = |kind: &str, description: &str| json!({ "type": kind, "nullable": true, "description": description });
    document["components"]["schemas"]["RecordedCall"] = json!({
        "type": "object",
        "required": ["idempotency_key", "operation", "state", "started_at_ms", "attempts",
            "caller", "arguments", "ids"],
        "properties": {
            "idempotency_key": text("The key the call was sent with."),
            "operation": text("The tool (`klarna-capture-order`)."),
            "state": {
                "type": "string",
                "enum": ["in_flight", "done", "refused", "unknown", "not_sent"],
                "description": "`done`: Klarna acted; `refused`: Klarna answered that it \
                    would not; `unknown`: sent, no answer; `not_sent`: never sent; \
                    `in_flight`: being sent, or cut off by a crash.",
            },
            "started_at_ms": { "type": "integer", "description": "When it was recorded, in ms since the Unix epoch." },
            "finished_at_ms": nullable("integer", "When its last attempt ended."),
            "attempts": { "type": "integer", "description": "How many times it was sent." },
            "caller": text("Who called: `loopback`, `stdio`, `bearer:` and a digest of the \
                static token, or an OAuth caller: `oauth:sub:<subject>`, \
                `oauth:client:<client id>`, or `oauth:token:` and a digest of the token."),
            "fingerprint": text("The arguments as canonical JSON (object keys sorted, the key left out): a repeat with other arguments is refused."),
            "arguments": { "type": "object", "description": "The arguments, secrets redacted." },
            "status": nullable("integer", "Klarna's status, when it answered."),
            "ids": {
                "type": "object",
                "additionalProperties": { "type": "string" },
                "description": "The documented headers of the answer (`Capture-Id`, `Refund-Id`, `Location`).",
            },
            "correlation_id": nullable("string", "Klarna's correlation id."),
            "body": { "nullable": true, "description": "The answer's body." },
        },
    });
    if let Some(tags) = document["tags"].as_array_mut() {
        tags.push(json!({ "name": "Calls" }));
    }
}
