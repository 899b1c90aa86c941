//! Stage 3c: the operation table of `klarna-gateway`, from the models of
//! every API at once.
//!
//! One entry per operation: the tool name, title and description, the
//! input and output JSON Schemas, the hints an MCP client shows, the REST
//! route, and a function that calls the generated client. The gateway's
//! hand-written code serves the table; nothing in it knows an operation.
//!
//! What comes from where, by one rule for every operation:
//! - the name, by one rule ([`tool_name`]): `klarna-` and what the tool
//!   does, verb first, in lowercase words joined by `-`, without the API's
//!   name: the name the capability defining the tool gives it
//!   (`x-klarna-gateway.tool`: seed 001's seven Captures tools), else the
//!   operation's (`refund_order` is `klarna-refund-order`);
//! - `destructive` when the method is `DELETE` or the operation's name
//!   says it cancels, voids or releases ([`DESTRUCTIVE_WORDS`]), or when
//!   `x-klarna-gateway.destructive` says so;
//! - read-only and idempotent as the client decides them (the method and
//!   `x-idempotent`);
//! - the idempotency key is a required argument where the operation takes
//!   one and is not idempotent: a repeat without it would act twice;
//! - the amount an operation moves: the required integer `*amount` field
//!   of the body of such an operation ([`money_field`]);
//! - secrets: the fields of the success body the spec marks `x-secret`,
//!   and whether the operation exists to show one (it is not read-only);
//! - title and description from `summary` and `description`;
//! - schemas from the resolved types, so they describe exactly what the
//!   typed models accept and return.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::{json, Map, Value};

use crate::config::ApiConfig;
use crate::emit_client;
use crate::emit_models::{field_ident, type_ident, type_tokens};
use crate::model::{
    Api, Doc, Operation, Outcome, Param, ParamLocation, ResponseBody, TypeId, TypeKind, TypeRef,
};

/// MCP clients refuse longer tool names.
const MAX_TOOL_NAME: usize = 64;

/// Words of an operation's name that make it destructive: what it cancels,
/// voids or releases cannot be taken back.
const DESTRUCTIVE_WORDS: &[&str] = &["cancel", "void", "release", "delete"];

/// Why the table leaves an operation out, for the generated file's docs.
struct Skipped {
    api: &'static str,
    operation: String,
    reason: &'static str,
}

/// The tokens of `crates/klarna-gateway/src/tools.rs`. `Err` names an
/// operation whose derived tool name is too long or taken twice: give it a
/// name with `x-klarna-gateway.tool`.
pub fn emit(apis: &[(&ApiConfig, &Api)]) -> Result<TokenStream, String> {
    let mut entries = Vec::new();
    let mut functions = Vec::new();
    let mut arms = Vec::new();
    let mut skipped = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut def_tables = Vec::new();
    for (config, api) in apis {
        // Each API's named types are schemas once, per side, in a table of
        // their own; a tool's schemas refer to them, and the gateway puts
        // together each tool's `$defs` when it starts.
        let mut inputs = Schemas::new(api, Direction::Input);
        let mut outputs = Schemas::new(api, Direction::Output);
        let tables = DefTables::of(config);
        for op in &api.operations {
            if let Some(reason) = unsupported(op) {
                skipped.push(Skipped {
                    api: config.module,
                    operation: op.name.clone(),
                    reason,
                });
                continue;
            }
            let name = tool_name(config, op)?;
            if names.contains(&name) {
                return Err(format!(
                    "two operations would be the gateway tool `{name}`; name one with `x-klarna-gateway: {{tool: ...}}`"
                ));
            }
            names.push(name.clone());
            let function = format_ident!("{}_{}", config.module, bare(&op.name));
            entries.push(entry(
                config,
                api,
                op,
                &name,
                (&mut inputs, &mut outputs),
                &tables,
            ));
            functions.push(dispatch_function(config, api, op, &function));
            arms.push(quote! { #name => #function(upstream, arguments).await, });
        }
        def_tables.push(tables.emit(api, Direction::Input, inputs));
        def_tables.push(tables.emit(api, Direction::Output, outputs));
    }
    let upstream_fields = apis.iter().map(|(config, api)| {
        let field = field_ident(config.module);
        let doc = format!(" The client for the {}.", api.title);
        let client = client_path(config);
        let name = type_ident(&api.client.name);
        quote! { #[doc = #doc] pub #field: #client::#name, }
    });
    let base_url_arms = apis.iter().map(|(config, _)| {
        let module = config.module;
        let field = field_ident(config.module);
        quote! { #module => Some(self.#field.runtime().base_url()), }
    });
    let skipped_doc = skipped_doc(&skipped);
    Ok(quote! {
        //! The gateway's operation table: one tool per operation of the SDK's
        //! APIs, with its schemas, hints and REST route, and the call of the
        //! generated client that serves it.
        #skipped_doc

        use crate::table::{
            Arguments, Body, Def, Failure, Kind, Location, Output, Param, ResponseHeader, Schema,
            Tool,
        };

        /// A client per API, each configured for its own base URL and
        /// credentials.
        #[derive(Clone, Debug)]
        pub struct Upstream { #(#upstream_fields)* }

        impl Upstream {
            /// The base URL the client of `api` (a tool's `api`) calls.
            pub fn base_url(&self, api: &str) -> Option<&str> {
                match api {
                    #(#base_url_arms)*
                    _ => None,
                }
            }
        }

        /// Every operation the gateway can expose, in spec order.
        pub const TOOLS: &[Tool] = &[#(#entries),*];

        #(#def_tables)*

        /// Calls the operation behind `tool` with `arguments`.
        pub(crate) async fn call(upstream: &Upstream, tool: &str, arguments: Arguments) -> Result<Output, Failure> {
            match tool {
                #(#arms)*
                _ => Err(Failure::unknown_tool(tool)),
            }
        }

        #(#functions)*
    })
}

/// The name without a raw-identifier prefix (`r#type` is `type`).
fn bare(name: &str) -> &str {
    name.trim_start_matches("r#")
}

/// Operations the table cannot serve yet: the result would need a shape
/// that no operation of our specs has today.
fn unsupported(op: &Operation) -> Option<&'static str> {
    match op.successes.as_slice() {
        [single]
            if matches!(
                single.body,
                Some(ResponseBody::Bytes | ResponseBody::Stream)
            ) =>
        {
            Some("its success body is not JSON")
        }
        [_] => None,
        [] => Some("it documents no success response"),
        _ => Some("it documents several success responses"),
    }
}

/// The tool's name: `klarna-` and what it does, in lowercase words joined
/// by `-` (`klarna-refund-order`). The API is not part of it: seed 001's
/// names (`klarna-capture-order`) have none, and every tool of `--all`
/// follows the same shape; the title, description and tag say which API a
/// tool belongs to. A declared name (`x-klarna-gateway.tool`) must have
/// that shape too; two operations of any APIs with one name are an error
/// (see [`emit`]).
fn tool_name(config: &ApiConfig, op: &Operation) -> Result<String, String> {
    let declared = op.gateway.as_ref().and_then(|g| g.tool.clone());
    let name = declared.unwrap_or_else(|| format!("klarna-{}", bare(&op.name)).replace('_', "-"));
    let words_ok = name.strip_prefix("klarna-").is_some_and(|rest| {
        rest.split('-').all(|word| {
            !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
    });
    if !words_ok {
        return Err(format!(
            "{}: the gateway tool name `{name}` of `{}` is not `klarna-` and lowercase words              joined by `-`",
            config.spec, op.name
        ));
    }
    if name.len() > MAX_TOOL_NAME {
        return Err(format!(
            "{}: the gateway tool name `{name}` of `{}` is longer than {MAX_TOOL_NAME} characters; \
             give it a shorter one with `x-klarna-gateway: {{tool: ...}}`",
            config.spec, op.name
        ));
    }
    Ok(name)
}

/// A path parameter's name in a REST route: its argument with `-` for
/// `_` (`order-id`), seed 001's style.
fn placeholder(param: &Param) -> String {
    argument(param).replace('_', "-")
}

/// The argument name of a parameter in the tool's input.
fn argument(param: &Param) -> &str {
    bare(&param.name)
}

fn entry(
    config: &ApiConfig,
    api: &Api,
    op: &Operation,
    name: &str,
    (inputs, outputs): (&mut Schemas, &mut Schemas),
    tables: &DefTables,
) -> TokenStream {
    let summary = op.summary.as_deref().map(str::trim).unwrap_or_default();
    let title = if summary.is_empty() {
        bare(&op.name).replace('_', " ")
    } else {
        summary.to_owned()
    };
    let description = op
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .unwrap_or(&title)
        .to_owned();
    let module = config.module;
    let tag = &op.group;
    let operation = bare(&op.name);
    let method = &op.method;
    let upstream_path = &op.path_template;
    let route = format!("/v1{}", route_path(op));
    let params = op.params.iter().map(|p| {
        let argument = argument(p);
        let wire_name = &p.wire_name;
        let location = match p.location {
            ParamLocation::Path => quote! { Location::Path },
            ParamLocation::Query => quote! { Location::Query },
            ParamLocation::Header => quote! { Location::Header },
            // Klarna's documents have none; should one come, a REST caller
            // gives it in the query, and the client sends it as a cookie.
            ParamLocation::Cookie => quote! { Location::Query },
        };
        // The REST adapter's name: the route's placeholder, or the query
        // parameter or header itself.
        let rest_name = match p.location {
            ParamLocation::Path => placeholder(p),
            ParamLocation::Query | ParamLocation::Header | ParamLocation::Cookie => {
                p.wire_name.clone()
            }
        };
        let kind = match api.unalias(&p.ty) {
            TypeRef::Bool => quote! { Kind::Boolean },
            TypeRef::I32 | TypeRef::I64 => quote! { Kind::Integer },
            TypeRef::F32 | TypeRef::F64 => quote! { Kind::Number },
            TypeRef::String => quote! { Kind::String },
            TypeRef::Named(id) if matches!(api.types[*id].kind, TypeKind::StringEnum(_)) => {
                quote! { Kind::String }
            }
            _ => quote! { Kind::Json },
        };
        let required = p.required;
        quote! {
            Param {
                argument: #argument,
                wire_name: #wire_name,
                rest_name: #rest_name,
                location: #location,
                kind: #kind,
                required: #required,
            }
        }
    });
    let body = match &op.body {
        None => quote! { Body::None },
        Some(b) if b.required => quote! { Body::Required },
        Some(_) => quote! { Body::Optional },
    };
    let success = &op.successes[0];
    let status = match success.status {
        crate::model::Status::Code(code) => code,
        // `2XX`: the table's operations document one status; a range
        // stands for its first code.
        crate::model::Status::Range(digit) => digit * 100,
        crate::model::Status::Default => 200,
    };
    let status = proc_macro2::Literal::u16_unsuffixed(status);
    let response_headers = success.headers.iter().map(|h| {
        let field = bare(&h.field);
        let wire_name = &h.wire_name;
        let required = h.required;
        quote! { ResponseHeader { field: #field, wire_name: #wire_name, required: #required } }
    });
    let idempotency_key = op.idempotency_key;
    let read_only = op.read_only;
    let idempotent = op.idempotent;
    let destructive = destructive(op);
    let amount = match money_field(api, op) {
        Some(field) => quote! { Some(#field) },
        None => quote! { None },
    };
    let secrets = secret_fields(api, op);
    let shows_secret = !secrets.is_empty() && !op.read_only;
    let input_root = raw_string(&pretty(&input_schema(inputs, op)));
    let output_root = raw_string(&pretty(&output_schema(outputs, op)));
    let (input_defs, output_defs) = (&tables.input, &tables.output);
    let input_schema = quote! { Schema { root: #input_root, defs: #input_defs } };
    let output_schema = quote! { Schema { root: #output_root, defs: #output_defs } };
    quote! {
        Tool {
            name: #name,
            title: #title,
            description: #description,
            api: #module,
            tag: #tag,
            operation: #operation,
            method: #method,
            upstream_path: #upstream_path,
            route: #route,
            params: &[#(#params),*],
            body: #body,
            status: #status,
            response_headers: &[#(#response_headers),*],
            idempotency_key: #idempotency_key,
            read_only: #read_only,
            destructive: #destructive,
            idempotent: #idempotent,
            amount: #amount,
            secrets: &[#(#secrets),*],
            shows_secret: #shows_secret,
            input_schema: #input_schema,
            output_schema: #output_schema,
        }
    }
}

/// The general rule for `destructive`: a `DELETE`, or a name with one of
/// [`DESTRUCTIVE_WORDS`] (`cancel_order`, `void_payment_transaction`,
/// `release_remaining_authorization`); the spec may add more with
/// `x-klarna-gateway.destructive`, never take one away.
fn destructive(op: &Operation) -> bool {
    let declared = op.gateway.as_ref().is_some_and(|g| g.destructive);
    let named = bare(&op.name)
        .split('_')
        .any(|word| DESTRUCTIVE_WORDS.contains(&word));
    declared || op.method == "DELETE" || named
}

/// Whether the operation needs an idempotency key from its caller: it
/// takes one and is not idempotent, so a repeat without the same key
/// would act twice.
fn key_required(op: &Operation) -> bool {
    op.idempotency_key && !op.idempotent
}

/// The body field that holds the amount an operation moves
/// (`captured_amount`, `refunded_amount`, `capture_amount`): a required
/// integer field named `amount` or `*_amount` of the body of an operation
/// that needs a key. Such calls are the ones a human confirms and
/// `--max-amount` bounds.
fn money_field(api: &Api, op: &Operation) -> Option<String> {
    if !key_required(op) {
        return None;
    }
    let body = op.body.as_ref()?;
    let TypeRef::Named(id) = api.unalias(&body.ty) else {
        return None;
    };
    let TypeKind::Struct(s) = &api.types[*id].kind else {
        return None;
    };
    s.fields
        .iter()
        .find(|f| {
            f.required
                && matches!(api.unalias(&f.ty), TypeRef::I32 | TypeRef::I64)
                && (f.json_name == "amount" || f.json_name.ends_with("_amount"))
        })
        .map(|f| f.json_name.clone())
}

/// The JSON names of the fields the spec marks `x-secret` anywhere in the
/// operation's success body.
fn secret_fields(api: &Api, op: &Operation) -> Vec<String> {
    let mut found = Vec::new();
    let mut seen = Vec::new();
    if let Some(ResponseBody::Json(ty)) = &op.successes[0].body {
        collect_secrets(api, ty, &mut seen, &mut found);
    }
    found
}

fn collect_secrets(api: &Api, ty: &TypeRef, seen: &mut Vec<TypeId>, found: &mut Vec<String>) {
    match api.unalias(ty) {
        TypeRef::Named(id) => {
            if seen.contains(id) {
                return;
            }
            seen.push(*id);
            match &api.types[*id].kind {
                TypeKind::Struct(s) => {
                    for field in &s.fields {
                        if field.secret && !found.contains(&field.json_name) {
                            found.push(field.json_name.clone());
                        }
                        collect_secrets(api, &field.ty, seen, found);
                    }
                    if let Some(additional) = &s.additional {
                        collect_secrets(api, additional, seen, found);
                    }
                }
                TypeKind::Union(union) => {
                    for variant in &union.variants {
                        collect_secrets(api, &variant.ty, seen, found);
                    }
                }
                _ => {}
            }
        }
        TypeRef::Vec(inner) | TypeRef::Map(inner) | TypeRef::Nullable(inner) => {
            collect_secrets(api, inner, seen, found)
        }
        _ => {}
    }
}

/// The upstream path with each parameter in the `{order-id}` style of
/// REST routes.
fn route_path(op: &Operation) -> String {
    op.path
        .iter()
        .map(|part| match part {
            crate::model::PathPart::Literal(text) => text.clone(),
            crate::model::PathPart::Param(i) => format!("{{{}}}", placeholder(&op.params[*i])),
        })
        .collect()
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("a JSON value always serialises")
}

/// A raw string literal, with enough `#`s that the text cannot end it.
fn raw_string(text: &str) -> TokenStream {
    let mut hashes = String::from("#");
    while text.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    format!("r{hashes}\"{text}\"{hashes}")
        .parse()
        .expect("a raw string literal is a token")
}

fn skipped_doc(skipped: &[Skipped]) -> TokenStream {
    if skipped.is_empty() {
        return TokenStream::new();
    }
    let mut lines = vec![String::new(), " Operations not in the table:".to_owned()];
    for s in skipped {
        lines.push(format!(" - `{}::{}`: {}.", s.api, s.operation, s.reason));
    }
    quote! { #(#![doc = #lines])* }
}

/// Whether a schema is for arguments (what we send: enums list their
/// values) or for results (what Klarna sends: values we do not know yet
/// must still validate, as the typed models keep them).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Input,
    Output,
}

/// JSON Schemas (2020-12) of resolved types; named types go into `$defs`
/// once, so recursive types are references, not infinite trees.
struct Schemas<'a> {
    api: &'a Api,
    direction: Direction,
    defs: BTreeMap<String, Value>,
}

impl<'a> Schemas<'a> {
    fn new(api: &'a Api, direction: Direction) -> Self {
        Schemas {
            api,
            direction,
            defs: BTreeMap::new(),
        }
    }

    fn of(&mut self, ty: &TypeRef) -> Value {
        match ty {
            TypeRef::String => json!({ "type": "string" }),
            TypeRef::Bool => json!({ "type": "boolean" }),
            TypeRef::I32 | TypeRef::I64 => json!({ "type": "integer" }),
            TypeRef::F32 | TypeRef::F64 => json!({ "type": "number" }),
            TypeRef::Json => json!({}),
            TypeRef::Named(id) => {
                let name = self.define(*id);
                json!({ "$ref": format!("#/$defs/{name}") })
            }
            TypeRef::Vec(item) => json!({ "type": "array", "items": self.of(item) }),
            TypeRef::Map(value) => {
                json!({ "type": "object", "additionalProperties": self.of(value) })
            }
            TypeRef::Nullable(inner) => nullable(self.of(inner)),
        }
    }

    fn define(&mut self, id: TypeId) -> String {
        let def = &self.api.types[id];
        if self.defs.contains_key(&def.name) {
            return def.name.clone();
        }
        // A placeholder first: a type that contains itself finds its name.
        self.defs.insert(def.name.clone(), Value::Null);
        let mut schema = match &def.kind {
            TypeKind::Struct(s) => {
                let mut properties = Map::new();
                let mut required = Vec::new();
                for field in &s.fields {
                    let mut property = self.of(&field.ty);
                    if field.nullable {
                        property = nullable(property);
                    }
                    describe(&mut property, &field.doc);
                    properties.insert(field.json_name.clone(), property);
                    if field.required {
                        required.push(Value::String(field.json_name.clone()));
                    }
                }
                let mut object = Map::new();
                object.insert("type".into(), json!("object"));
                object.insert("properties".into(), Value::Object(properties));
                if !required.is_empty() {
                    object.insert("required".into(), Value::Array(required));
                }
                match &s.additional {
                    Some(additional) => {
                        object.insert("additionalProperties".into(), self.of(additional));
                    }
                    // What we send is strict: a field the model does not
                    // have would be dropped silently, so it is refused. What
                    // Klarna sends stays open to fields it adds.
                    None if self.direction == Direction::Input => {
                        object.insert("additionalProperties".into(), json!(false));
                    }
                    None => {}
                }
                Value::Object(object)
            }
            TypeKind::StringEnum(variants) => {
                let values: Vec<Value> = variants.iter().map(|v| json!(v.value)).collect();
                self.enumeration("string", values)
            }
            TypeKind::IntegerEnum(variants) => {
                let values: Vec<Value> = variants.iter().map(|v| json!(v.value)).collect();
                self.enumeration("integer", values)
            }
            TypeKind::Union(union) => {
                let mut variants: Vec<Value> =
                    union.variants.iter().map(|v| self.of(&v.ty)).collect();
                // The typed union keeps shapes it does not know (`Other`).
                if self.direction == Direction::Output {
                    variants.push(json!({}));
                }
                json!({ "anyOf": variants })
            }
            TypeKind::Alias(target) => self.of(target),
        };
        describe(&mut schema, &def.doc);
        self.defs.insert(def.name.clone(), schema);
        def.name.clone()
    }

    fn enumeration(&self, ty: &str, values: Vec<Value>) -> Value {
        match self.direction {
            Direction::Input => json!({ "type": ty, "enum": values }),
            // Klarna adds values; the typed enums keep them as `Unknown`.
            Direction::Output => json!({ "type": ty, "examples": values }),
        }
    }
}

/// The names of an API's two tables of named schemas
/// (`ORDERMANAGEMENT_INPUT_DEFS`, `ORDERMANAGEMENT_OUTPUT_DEFS`).
struct DefTables {
    input: proc_macro2::Ident,
    output: proc_macro2::Ident,
}

impl DefTables {
    fn of(config: &ApiConfig) -> Self {
        let module = config.module.to_uppercase();
        DefTables {
            input: format_ident!("{module}_INPUT_DEFS"),
            output: format_ident!("{module}_OUTPUT_DEFS"),
        }
    }

    /// The table of one side: each named type's schema once, by name (the
    /// gateway looks them up by binary search, so the order is the
    /// names').
    fn emit(&self, api: &Api, direction: Direction, schemas: Schemas) -> TokenStream {
        let (ident, side) = match direction {
            Direction::Input => (&self.input, "arguments"),
            Direction::Output => (&self.output, "results"),
        };
        let doc = format!(
            " The named schemas of the {}'s {side}, each once: what `#/$defs/<name>` of \
             its tools' schemas refers to.",
            api.title
        );
        let defs = schemas.defs.iter().map(|(name, schema)| {
            let schema = raw_string(&pretty(schema));
            quote! { Def { name: #name, schema: #schema } }
        });
        quote! {
            #[doc = #doc]
            const #ident: &[Def] = &[#(#defs),*];
        }
    }
}

fn nullable(schema: Value) -> Value {
    json!({ "anyOf": [schema, { "type": "null" }] })
}

/// The spec's description and format of an item, as annotations.
fn describe(schema: &mut Value, doc: &Doc) {
    let Value::Object(object) = schema else {
        return;
    };
    if let Some(text) = doc.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        object.insert("description".into(), json!(text));
    }
    if let Some(format) = &doc.format {
        object.entry("format").or_insert_with(|| json!(format));
    }
}

/// A tool's arguments schema, its named types left in `schemas`.
fn input_schema(schemas: &mut Schemas, op: &Operation) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for param in &op.params {
        let mut schema = schemas.of(&param.ty);
        let place = match param.location {
            ParamLocation::Path => "path parameter",
            ParamLocation::Query => "query parameter",
            ParamLocation::Header => "header",
            ParamLocation::Cookie => "cookie",
        };
        let text = match param.doc.text.as_deref().map(str::trim) {
            Some(text) if !text.is_empty() => format!("{text} (the `{}` {place})", param.wire_name),
            _ => format!("The `{}` {place}.", param.wire_name),
        };
        describe(
            &mut schema,
            &Doc {
                text: Some(text),
                ..Doc::default()
            },
        );
        properties.insert(argument(param).to_owned(), schema);
        if param.required {
            required.push(json!(argument(param)));
        }
    }
    if let Some(body) = &op.body {
        let mut schema = schemas.of(&body.ty);
        describe(
            &mut schema,
            &Doc {
                text: Some("The JSON request body.".to_owned()),
                ..Doc::default()
            },
        );
        properties.insert("body".to_owned(), schema);
        if body.required {
            required.push(json!("body"));
        }
    }
    if key_required(op) {
        properties.insert(
            "idempotency_key".to_owned(),
            json!({
                "type": "string",
                "minLength": 1,
                "description": "Make one new UUID for each action you intend (this capture, this \
                    refund) and send the same key on every retry of that action, also after a \
                    timeout or a lost answer: the gateway and Klarna then act once. A new key is \
                    a new action; a key reused with other arguments is refused."
            }),
        );
        required.push(json!("idempotency_key"));
    } else if op.idempotency_key {
        properties.insert(
            "idempotency_key".to_owned(),
            json!({
                "type": "string",
                "minLength": 1,
                "description": "The key of an earlier attempt, to repeat it without acting twice; \
                    without one the gateway makes a new key and returns it with the result."
            }),
        );
    }
    let mut root = Map::new();
    root.insert("type".into(), json!("object"));
    root.insert("properties".into(), Value::Object(properties));
    root.insert("required".into(), Value::Array(required));
    root.insert("additionalProperties".into(), json!(false));
    Value::Object(root)
}

/// A tool's result schema, its named types left in `schemas`.
fn output_schema(schemas: &mut Schemas, op: &Operation) -> Value {
    let success = &op.successes[0];
    let body = match &success.body {
        Some(ResponseBody::Json(ty)) => schemas.of(ty),
        _ => json!({ "type": "null" }),
    };
    let mut properties = Map::new();
    properties.insert(
        "status".into(),
        json!({ "type": "integer", "description": "The HTTP status Klarna answered with." }),
    );
    let mut body = body;
    describe(
        &mut body,
        &Doc {
            text: Some(success.description.clone()),
            ..Doc::default()
        },
    );
    properties.insert("body".into(), body);
    properties.insert("headers".into(), headers_schema(success));
    if op.idempotency_key {
        properties.insert(
            "idempotency_key".into(),
            json!({
                "type": "string",
                "description": "The idempotency key the call was sent with: pass it again to repeat the call safely."
            }),
        );
    }
    properties.insert(
        "correlation_id".into(),
        json!({
            "type": "string",
            "description": "Klarna's `Klarna-Correlation-Id` for this answer: quote it to Klarna's support."
        }),
    );
    let mut root = Map::new();
    root.insert("type".into(), json!("object"));
    root.insert("properties".into(), Value::Object(properties));
    root.insert("required".into(), json!(["status", "body", "headers"]));
    Value::Object(root)
}

fn headers_schema(success: &Outcome) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for header in &success.headers {
        let mut schema = json!({ "type": "string" });
        describe(&mut schema, &header.doc);
        properties.insert(bare(&header.field).to_owned(), schema);
        if header.required {
            required.push(json!(bare(&header.field)));
        }
    }
    let mut object = Map::new();
    object.insert("type".into(), json!("object"));
    object.insert(
        "description".into(),
        json!("The response headers the spec documents."),
    );
    object.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        object.insert("required".into(), Value::Array(required));
    }
    Value::Object(object)
}

/// How a parameter's owned value, read from the arguments, is handed to
/// the client method, whose argument types `emit_client` decides.
fn passed(api: &Api, ty: &TypeRef, required: bool, value: TokenStream) -> TokenStream {
    let borrowed = matches!(
        api.unalias(ty),
        TypeRef::String | TypeRef::Vec(_) | TypeRef::Named(_)
    );
    match (required, api.unalias(ty)) {
        (true, _) if borrowed => quote! { &#value },
        (true, _) => value,
        (false, TypeRef::String | TypeRef::Vec(_)) => quote! { #value.as_deref() },
        (false, TypeRef::Named(_)) => quote! { #value.as_ref() },
        (false, _) => value,
    }
}

/// The owned Rust type a parameter is read into.
fn owned_type(api: &Api, ty: &TypeRef, models: &TokenStream) -> TokenStream {
    type_tokens(api, api.unalias(ty), models)
}

/// The call of the generated client method, the one place that knows its
/// surface: the builder method takes the path parameters (as their id
/// types), the required query and header parameters and a required body;
/// the optional parts and the idempotency key are set by name on the
/// request, which is then awaited.
fn client_call(config: &ApiConfig, api: &Api, index: usize) -> TokenStream {
    let op = &api.operations[index];
    let items = &api.client.operations[index];
    let client_path = client_path(config);
    let trait_ident = type_ident(&api.client.traits[items.trait_index].name);
    let method = field_ident(&op.name);
    let client = field_ident(config.module);
    let value = |p: &Param| {
        let ident = field_ident(&p.name);
        match p.id_type {
            Some(id) if p.required => {
                let id = type_ident(&api.client.ids[id].name);
                quote! { &#client_path::#id::new(#ident) }
            }
            Some(id) => {
                let id = type_ident(&api.client.ids[id].name);
                quote! { #ident.map(#client_path::#id::new).as_ref() }
            }
            None => passed(api, &p.ty, p.required, quote! { #ident }),
        }
    };
    let mut args: Vec<TokenStream> = emit_client::required_params(op).map(value).collect();
    if op.body.as_ref().is_some_and(|b| b.required) {
        args.push(quote! { &body });
    }
    let mut setters: Vec<TokenStream> = op
        .params
        .iter()
        .filter(|p| !p.required)
        .map(|p| {
            let setter = field_ident(&p.name);
            let value = value(p);
            quote! { .#setter(#value) }
        })
        .collect();
    if let Some(b) = op.body.as_ref().filter(|b| !b.required) {
        setters.push(match &b.ty {
            TypeRef::String | TypeRef::Vec(_) => quote! { .body(body.as_deref()) },
            _ => quote! { .body(body.as_ref()) },
        });
    }
    if op.idempotency_key {
        setters.push(quote! { .idempotency_key(idempotency_key) });
    }
    quote! {
        {
            use #client_path::#trait_ident as _;
            upstream.#client.#method(#(#args),*) #(#setters)* .await
        }
    }
}

/// `klarna_ordermanagement`, `klarna_payments::payment_api`.
fn client_path(config: &ApiConfig) -> TokenStream {
    let krate = config
        .client_crate
        .rsplit('/')
        .next()
        .unwrap_or(config.client_crate)
        .replace('-', "_");
    let krate = format_ident!("{krate}");
    match config.client_module {
        Some(module) => {
            let module = field_ident(module);
            quote! { #krate::#module }
        }
        None => quote! { #krate },
    }
}

/// The function that serves one tool: read the arguments into the typed
/// values (refusing what does not fit before anything is sent), call the
/// client, and turn its response into the tool's output.
fn dispatch_function(
    config: &ApiConfig,
    api: &Api,
    op: &Operation,
    function: &proc_macro2::Ident,
) -> TokenStream {
    let client_path = client_path(config);
    let models = quote! { #client_path::models:: };
    let mut reads = Vec::new();
    for param in &op.params {
        let ident = field_ident(&param.name);
        let name = argument(param);
        let ty = owned_type(api, &param.ty, &models);
        reads.push(if param.required {
            quote! { let #ident: #ty = arguments.required(#name)?; }
        } else {
            quote! { let #ident: Option<#ty> = arguments.optional(#name)?; }
        });
    }
    if let Some(body) = &op.body {
        let ty = type_tokens(api, &body.ty, &models);
        reads.push(if body.required {
            quote! { let body: #ty = arguments.required("body")?; }
        } else {
            quote! { let body: Option<#ty> = arguments.optional("body")?; }
        });
    }
    if op.idempotency_key {
        reads.push(quote! { let idempotency_key = arguments.idempotency_key()?; });
    }
    let index = api
        .operations
        .iter()
        .position(|o| std::ptr::eq(o, op))
        .expect("the operation is the API's");
    let call = client_call(config, api, index);
    let success = &op.successes[0];
    let result = if success.headers.is_empty() {
        match success.body {
            Some(ResponseBody::Json(_)) => quote! { output.body(&response.into_inner())?; },
            _ => TokenStream::new(),
        }
    } else {
        let headers = success.headers.iter().map(|h| {
            let field = field_ident(&h.field);
            let name = bare(&h.field);
            let text = match (h.id_type.is_some(), h.required) {
                (true, true) => quote! { Some(value.#field.into_string()) },
                (true, false) => quote! { value.#field.map(|id| id.into_string()) },
                (false, true) => quote! { Some(value.#field) },
                (false, false) => quote! { value.#field },
            };
            quote! { output.header(#name, #text); }
        });
        let body = success
            .body
            .as_ref()
            .map(|_| quote! { output.body(&value.body)?; });
        quote! {
            let value = response.into_inner();
            #(#headers)*
            #body
        }
    };
    let doc = format!(
        " `{} {}`, through the generated client.",
        op.method, op.path_template
    );
    let output = if result.is_empty() {
        quote! { Ok(Output::of(&response)) }
    } else {
        quote! {
            let mut output = Output::of(&response);
            #result
            Ok(output)
        }
    };
    quote! {
        #[doc = #doc]
        async fn #function(upstream: &Upstream, mut arguments: Arguments) -> Result<Output, Failure> {
            #(#reads)*
            arguments.finish()?;
            let response = #call.map_err(Failure::upstream)?;
            #output
        }
    }
}
