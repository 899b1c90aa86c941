//! Stage 3b: the tokens of a client: one trait per group of operations,
//! their implementation for `klarna_runtime::Client`, and the response and
//! error types of each operation.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use crate::docs;
use crate::emit_models::{field_ident, type_ident, type_tokens};
use crate::model::{
    Api, Doc, Operation, Outcome, Param, ParamLocation, PathPart, ResponseBody, Status, TypeKind,
    TypeRef,
};
use crate::names::Scope;

/// Where the client finds its models.
pub enum ModelsPath {
    /// A module of another crate (`klarna_models::ordermanagement`),
    /// re-exported as `models`.
    Crate(TokenStream),
    /// A `models` module of the same crate, declared here.
    ChildModule,
}

/// Names of the types an operation gets; settled once for the whole API so
/// that none collides with another or with what the module imports.
struct OperationTypes {
    /// The trait the operation's method is in.
    trait_name: String,
    /// `None`: the success value is a model type, `()` or bytes.
    response: Option<String>,
    /// `None`: no documented error status.
    error: Option<String>,
    /// For several success statuses with headers: a struct per status.
    per_status: Vec<Option<String>>,
}

pub fn emit(api: &Api, models: &ModelsPath) -> TokenStream {
    let mut scope = Scope::default();
    for reserved in [
        "Call",
        "Client",
        "Config",
        "ConfigError",
        "Credentials",
        "Environment",
        "Error",
        "ErrorKind",
        "Future",
        "IdempotencyKey",
        "Region",
        "Response",
        "RetryPolicy",
    ] {
        scope.claim(reserved);
    }
    let mut groups: Vec<(String, Vec<&Operation>)> = Vec::new();
    for operation in &api.operations {
        match groups.iter_mut().find(|(g, _)| *g == operation.group) {
            Some((_, ops)) => ops.push(operation),
            None => groups.push((operation.group.clone(), vec![operation])),
        }
    }
    let groups_in_order: Vec<String> = groups.iter().map(|(group, _)| group.clone()).collect();
    let groups: Vec<(String, Vec<&Operation>)> = groups
        .into_iter()
        .map(|(group, ops)| (scope.claim(&group), ops))
        .collect();
    let trait_of = |op: &Operation| {
        let index = groups_in_order
            .iter()
            .position(|g| *g == op.group)
            .expect("every group is listed");
        groups[index].0.clone()
    };
    let types: Vec<OperationTypes> = api
        .operations
        .iter()
        .map(|op| operation_types(op, trait_of(op), &mut scope))
        .collect();
    let type_of = |op: &Operation| {
        &types[api
            .operations
            .iter()
            .position(|o| std::ptr::eq(o, op))
            .expect("listed")]
    };

    let models_decl = match models {
        ModelsPath::Crate(path) => quote! { pub use #path as models; },
        ModelsPath::ChildModule => quote! { #[rustfmt::skip] pub mod models; },
    };
    let traits = groups.iter().map(|(group, ops)| {
        let trait_ident = type_ident(group);
        let doc = format!(" {group} operations. Implemented by [`Client`]; implement it yourself to fake Klarna in tests.");
        let signatures = ops.iter().map(|op| {
            let signature = signature(api, op, type_of(op));
            let doc = operation_doc(op);
            quote! { #doc #signature + Send; }
        });
        let impls = ops.iter().map(|op| {
            let signature = async_signature(api, op, type_of(op));
            let body = call_body(api, op, type_of(op));
            quote! { #signature { #body } }
        });
        quote! {
            #[doc = #doc]
            pub trait #trait_ident {
                #(#signatures)*
            }

            impl #trait_ident for Client {
                #(#impls)*
            }
        }
    });
    let operation_types = api
        .operations
        .iter()
        .map(|op| emit_operation_types(api, op, type_of(op)));
    let uses_encode = api
        .operations
        .iter()
        .any(|op| op.path.iter().any(|p| matches!(p, PathPart::Param(_))));
    let encode = uses_encode.then(|| quote! { encode_path, });
    let op_traits: Vec<(&Operation, &str)> = api
        .operations
        .iter()
        .map(|op| (op, type_of(op).trait_name.as_str()))
        .collect();
    let operations = operations_module(&op_traits);
    quote! {
        use std::future::Future;

        use klarna_runtime::call::{#encode Call};
        pub use klarna_runtime::{Client, Config, ConfigError, Credentials, Environment, Error, ErrorKind, IdempotencyKey, Region, Response, RetryPolicy};

        #models_decl

        #operations
        #(#traits)*
        #(#operation_types)*
    }
}

/// `CAPTURE_ORDER`: the operation's constant in the `operations` module.
fn operation_constant(op: &Operation) -> proc_macro2::Ident {
    let name = op.name.trim_start_matches("r#").to_ascii_uppercase();
    proc_macro2::Ident::new(&name, proc_macro2::Span::call_site())
}

/// The `operations` module: what the client, and its users, know about each
/// operation.
fn operations_module(op_traits: &[(&Operation, &str)]) -> TokenStream {
    let constants = op_traits.iter().map(|(op, trait_name)| {
        let constant = operation_constant(op);
        let name = op.name.trim_start_matches("r#");
        let method = proc_macro2::Ident::new(&op.method, proc_macro2::Span::call_site());
        let path = &op.path_template;
        let (read_only, idempotent) = (op.read_only, op.idempotent);
        let doc = format!(
            " `{} {}`: [`{trait_name}::{}`](super::{trait_name}::{}).",
            op.method, op.path_template, op.name, op.name
        );
        quote! {
            #[doc = #doc]
            pub const #constant: Operation = Operation {
                name: #name,
                method: Method::#method,
                path: #path,
                read_only: #read_only,
                idempotent: #idempotent,
            };
        }
    });
    quote! {
        /// Each operation's method, path, and whether it is safe to repeat:
        /// the client retries reads, idempotent operations and calls that
        /// carry an idempotency key.
        pub mod operations {
            use klarna_runtime::call::Method;
            pub use klarna_runtime::Operation;

            #(#constants)*
        }
    }
}

fn operation_types(op: &Operation, trait_name: String, scope: &mut Scope) -> OperationTypes {
    let needs_response_type = match op.successes.as_slice() {
        [single] => !single.headers.is_empty(),
        [] => false,
        _ => true,
    };
    let response = needs_response_type.then(|| scope.claim(&format!("{}Response", op.type_name)));
    let per_status = if op.successes.len() > 1 {
        op.successes
            .iter()
            .map(|o| {
                (!o.headers.is_empty())
                    .then(|| scope.claim(&format!("{}{}", op.type_name, o.variant)))
            })
            .collect()
    } else {
        Vec::new()
    };
    let error = (!op.errors.is_empty()).then(|| scope.claim(&format!("{}Error", op.type_name)));
    OperationTypes {
        trait_name,
        response,
        error,
        per_status,
    }
}

fn models_prefix() -> TokenStream {
    quote! { models:: }
}

/// What a value of `ty` is, once aliases are seen through.
fn unalias<'a>(api: &'a Api, ty: &'a TypeRef) -> &'a TypeRef {
    let mut ty = ty;
    for _ in 0..32 {
        match ty {
            TypeRef::Named(id) => match &api.types[*id].kind {
                TypeKind::Alias(target) => ty = target,
                _ => break,
            },
            _ => break,
        }
    }
    ty
}

fn body_type(api: &Api, body: Option<&ResponseBody>) -> TokenStream {
    match body {
        Some(ResponseBody::Json(ty)) => type_tokens(api, ty, &models_prefix()),
        Some(ResponseBody::Bytes) => quote! { Vec<u8> },
        None => quote! { () },
    }
}

fn success_type(api: &Api, op: &Operation, types: &OperationTypes) -> TokenStream {
    match (&types.response, op.successes.as_slice()) {
        (Some(name), _) => {
            let ident = type_ident(name);
            quote! { #ident }
        }
        (None, [single]) => body_type(api, single.body.as_ref()),
        (None, _) => quote! { () },
    }
}

fn error_type(types: &OperationTypes) -> TokenStream {
    match &types.error {
        Some(name) => {
            let ident = type_ident(name);
            quote! { #ident }
        }
        None => quote! { std::convert::Infallible },
    }
}

/// The Rust type of an argument for a parameter.
fn argument_type(api: &Api, param: &Param) -> TokenStream {
    let inner = match unalias(api, &param.ty) {
        TypeRef::String => quote! { &str },
        TypeRef::Vec(item) => {
            let item = type_tokens(api, item, &models_prefix());
            quote! { &[#item] }
        }
        ty @ TypeRef::Named(_) => {
            let ty = type_tokens(api, ty, &models_prefix());
            quote! { &#ty }
        }
        ty => type_tokens(api, ty, &models_prefix()),
    };
    if param.required {
        inner
    } else {
        quote! { Option<#inner> }
    }
}

fn body_argument_type(api: &Api, ty: &TypeRef) -> TokenStream {
    match ty {
        TypeRef::String => quote! { &str },
        TypeRef::Vec(item) => {
            let item = type_tokens(api, item, &models_prefix());
            quote! { &[#item] }
        }
        ty => {
            let ty = type_tokens(api, ty, &models_prefix());
            quote! { &#ty }
        }
    }
}

fn arguments(api: &Api, op: &Operation) -> Vec<TokenStream> {
    let mut args = Vec::new();
    let ordered = op
        .params
        .iter()
        .filter(|p| p.required)
        .chain(op.params.iter().filter(|p| !p.required));
    let mut optional_started = false;
    for param in ordered {
        if !param.required && !optional_started {
            optional_started = true;
            if let Some(body) = op.body.as_ref().filter(|b| b.required) {
                let ty = body_argument_type(api, &body.ty);
                args.push(quote! { body: #ty });
            }
        }
        let name = field_ident(&param.name);
        let ty = argument_type(api, param);
        args.push(quote! { #name: #ty });
    }
    if let Some(body) = &op.body {
        let ty = body_argument_type(api, &body.ty);
        if !body.required {
            args.push(quote! { body: Option<#ty> });
        } else if !optional_started {
            args.push(quote! { body: #ty });
        }
    }
    if op.idempotency_key {
        args.push(quote! { idempotency_key: Option<IdempotencyKey> });
    }
    args
}

fn too_many_arguments(op: &Operation) -> Option<TokenStream> {
    let count =
        op.params.len() + usize::from(op.body.is_some()) + usize::from(op.idempotency_key) + 1;
    (count > 7).then(|| quote! { #[allow(clippy::too_many_arguments)] })
}

fn signature(api: &Api, op: &Operation, types: &OperationTypes) -> TokenStream {
    let name = field_ident(&op.name);
    let args = arguments(api, op);
    let ok = success_type(api, op, types);
    let err = error_type(types);
    let allow = too_many_arguments(op);
    quote! { #allow fn #name(&self, #(#args),*) -> impl Future<Output = Result<Response<#ok>, Error<#err>>> }
}

fn async_signature(api: &Api, op: &Operation, types: &OperationTypes) -> TokenStream {
    let name = field_ident(&op.name);
    let args = arguments(api, op);
    let ok = success_type(api, op, types);
    let err = error_type(types);
    let allow = too_many_arguments(op);
    quote! { #allow async fn #name(&self, #(#args),*) -> Result<Response<#ok>, Error<#err>> }
}

fn operation_doc(op: &Operation) -> TokenStream {
    let mut text = String::new();
    if let Some(summary) = &op.summary {
        text.push_str(summary.trim());
        text.push_str("\n\n");
    }
    if let Some(description) = op
        .description
        .as_ref()
        .filter(|d| Some(d.trim()) != op.summary.as_deref().map(str::trim))
    {
        text.push_str(description.trim());
        text.push_str("\n\n");
    }
    let documented: Vec<&Param> = op.params.iter().filter(|p| p.doc.text.is_some()).collect();
    if !documented.is_empty() {
        for param in documented {
            let about = param
                .doc
                .text
                .as_deref()
                .unwrap_or_default()
                .replace('\n', " ");
            text.push_str(&format!("- `{}`: {}\n", param.name, about.trim()));
        }
        text.push('\n');
    }
    if op.idempotency_key {
        text.push_str(
            "Pass the idempotency key of an earlier attempt to retry it safely; with `None` the client makes a \
             new key and returns it with the result and with the error.\n\n",
        );
    }
    text.push_str(&format!("`{} {}`", op.method, op.path_template));
    docs::outer(&Doc {
        text: Some(text),
        ..Doc::default()
    })
}

/// How to turn a parameter value into text for the wire.
fn to_text(api: &Api, ty: &TypeRef, value: TokenStream) -> TokenStream {
    match unalias(api, ty) {
        TypeRef::String => value,
        TypeRef::Named(id) => match &api.types[*id].kind {
            TypeKind::StringEnum(_) => quote! { #value.as_str() },
            _ => quote! { &#value.as_i64().to_string() },
        },
        _ => quote! { &#value.to_string() },
    }
}

fn call_body(api: &Api, op: &Operation, types: &OperationTypes) -> TokenStream {
    let constant = operation_constant(op);
    let mut format_string = String::new();
    let mut format_args = Vec::new();
    for part in &op.path {
        match part {
            PathPart::Literal(text) => {
                format_string.push_str(&text.replace('{', "{{").replace('}', "}}"))
            }
            PathPart::Param(i) => {
                let param = &op.params[*i];
                let text = to_text(api, &param.ty, {
                    let n = field_ident(&param.name);
                    quote! { #n }
                });
                format_string.push_str("{}");
                format_args.push(quote! { encode_path(#text) });
            }
        }
    }
    let path = if format_args.is_empty() {
        quote! { #format_string }
    } else {
        quote! { &format!(#format_string, #(#format_args),*) }
    };
    let setters = op
        .params
        .iter()
        .filter(|p| p.location != ParamLocation::Path)
        .map(|param| {
            let name = field_ident(&param.name);
            let wire = &param.wire_name;
            let set = |value: TokenStream| match (param.location, unalias(api, &param.ty)) {
                (ParamLocation::Query, TypeRef::Vec(item)) => {
                    let text = to_text(api, item, quote! { item });
                    quote! { for item in #value { call.query(#wire, #text); } }
                }
                (ParamLocation::Query, _) => {
                    let text = to_text(api, &param.ty, value);
                    quote! { call.query(#wire, #text); }
                }
                _ => {
                    let text = to_text(api, &param.ty, value);
                    quote! { call.header(#wire, #text); }
                }
            };
            if param.required {
                set(quote! { #name })
            } else {
                let inner = set(quote! { value });
                quote! { if let Some(value) = #name { #inner } }
            }
        });
    let body = op.body.as_ref().map(|body| {
        if body.required {
            quote! { call.json(body); }
        } else {
            quote! { if let Some(body) = body { call.json(body); } }
        }
    });
    let idempotency = op
        .idempotency_key
        .then(|| quote! { call.idempotency_key(idempotency_key); });
    let accepts_json = op
        .successes
        .iter()
        .any(|o| matches!(o.body, Some(ResponseBody::Json(_))));
    let accept = accepts_json.then(|| quote! { call.accept("application/json"); });
    let arms = response_arms(op, types);
    let configured = op.params.iter().any(|p| p.location != ParamLocation::Path)
        || op.body.is_some()
        || op.idempotency_key
        || accepts_json;
    let mutable = configured.then(|| quote! { mut });
    quote! {
        let #mutable call = Call::new(self, &operations::#constant, #path);
        #(#setters)*
        #body
        #idempotency
        #accept
        let response = call.send().await?;
        match response.status() {
            #(#arms)*
        }
    }
}

fn status_pattern(status: Status) -> TokenStream {
    match status {
        Status::Code(code) => {
            let code = Literal::u16_unsuffixed(code);
            quote! { #code }
        }
        Status::Range(digit) => {
            let low = Literal::u16_unsuffixed(digit * 100);
            let high = Literal::u16_unsuffixed(digit * 100 + 99);
            quote! { #low..=#high }
        }
        Status::Default => quote! { _ },
    }
}

fn response_arms(op: &Operation, types: &OperationTypes) -> Vec<TokenStream> {
    let mut outcomes: Vec<(&Outcome, bool)> = op
        .successes
        .iter()
        .map(|o| (o, true))
        .chain(op.errors.iter().map(|o| (o, false)))
        .collect();
    // Exact codes before ranges before `default`.
    outcomes.sort_by_key(|(o, _)| match o.status {
        Status::Code(_) => 0,
        Status::Range(_) => 1,
        Status::Default => 2,
    });
    let mut arms: Vec<TokenStream> = outcomes
        .iter()
        .map(|(outcome, success)| {
            let pattern = status_pattern(outcome.status);
            let result = if *success {
                success_arm(op, types, outcome)
            } else {
                error_arm(types, outcome)
            };
            quote! { #pattern => #result, }
        })
        .collect();
    if !outcomes.iter().any(|(o, _)| o.status == Status::Default) {
        arms.push(quote! { _ => Err(response.unexpected_status()), });
    }
    arms
}

fn success_arm(op: &Operation, types: &OperationTypes, outcome: &Outcome) -> TokenStream {
    let multi = op.successes.len() > 1;
    let index = op
        .successes
        .iter()
        .position(|o| std::ptr::eq(o, outcome))
        .expect("a success");
    let headers_type = if multi {
        types.per_status[index].as_ref()
    } else {
        types.response.as_ref()
    };
    if !multi && outcome.headers.is_empty() {
        return match outcome.body {
            Some(ResponseBody::Json(_)) => quote! { response.json() },
            Some(ResponseBody::Bytes) => quote! { response.bytes() },
            None => quote! { response.value(()) },
        };
    }
    let mut statements = Vec::new();
    for header in &outcome.headers {
        let field = field_ident(&header.field);
        let wire = &header.wire_name;
        statements.push(if header.required {
            quote! { let #field = response.required_header(#wire)?; }
        } else {
            quote! { let #field = response.header(#wire)?; }
        });
    }
    match outcome.body {
        Some(ResponseBody::Json(_)) => statements.push(quote! { let body = response.decode()?; }),
        Some(ResponseBody::Bytes) => {
            statements.push(quote! { let body = response.body().to_vec(); })
        }
        None => {}
    }
    let value = match headers_type {
        Some(name) => {
            let ident = type_ident(name);
            let fields = outcome.headers.iter().map(|h| field_ident(&h.field));
            let body_field = outcome.body.as_ref().map(|_| quote! { body, });
            Some(quote! { #ident { #(#fields,)* #body_field } })
        }
        None if outcome.body.is_some() => Some(quote! { body }),
        None => None,
    };
    let value = if multi {
        let response_type = type_ident(
            types
                .response
                .as_ref()
                .expect("several successes have a response enum"),
        );
        let variant = type_ident(&outcome.variant);
        match value {
            Some(value) => quote! { #response_type::#variant(#value) },
            None => quote! { #response_type::#variant },
        }
    } else {
        value.unwrap_or_else(|| quote! { () })
    };
    quote! { { #(#statements)* response.value(#value) } }
}

fn error_arm(types: &OperationTypes, outcome: &Outcome) -> TokenStream {
    let error = type_ident(
        types
            .error
            .as_ref()
            .expect("an error outcome means an error type"),
    );
    let variant = type_ident(&outcome.variant);
    match outcome.body {
        Some(ResponseBody::Json(_)) => quote! { Err(response.api_error(#error::#variant)) },
        _ => quote! { Err(response.api_error_without_body(#error::#variant)) },
    }
}

fn emit_operation_types(api: &Api, op: &Operation, types: &OperationTypes) -> TokenStream {
    let method_doc = format!("[`{}::{}`]", types.trait_name, op.name);
    let mut items = Vec::new();
    let headers_struct = |name: &str, outcome: &Outcome| {
        let ident = type_ident(name);
        let doc = format!(
            " What a {} response of {method_doc} carries.",
            status_text(outcome.status)
        );
        let fields = outcome.headers.iter().map(|h| {
            let field = field_ident(&h.field);
            let ty = if h.required {
                quote! { String }
            } else {
                quote! { Option<String> }
            };
            let mut header_doc = docs::outer(&h.doc);
            if h.doc.text.is_none() {
                let text = format!(" The `{}` header.", h.wire_name);
                header_doc = quote! { #[doc = #text] };
            }
            quote! { #header_doc pub #field: #ty, }
        });
        let body = outcome.body.as_ref().map(|b| {
            let ty = body_type(api, Some(b));
            quote! { /// The response body.
            pub body: #ty, }
        });
        quote! {
            #[doc = #doc]
            #[derive(Clone, Debug, PartialEq)]
            pub struct #ident {
                #(#fields)*
                #body
            }
        }
    };
    if op.successes.len() > 1 {
        let name = types
            .response
            .as_ref()
            .expect("several successes have a response enum");
        let ident = type_ident(name);
        let doc = format!(" The success responses of {method_doc}.");
        let variants = op
            .successes
            .iter()
            .zip(&types.per_status)
            .map(|(outcome, per_status)| {
                let variant = type_ident(&outcome.variant);
                let text = format!(
                    " {}: {}",
                    status_text(outcome.status),
                    outcome.description.trim().replace('\n', " ")
                );
                let payload = match per_status {
                    Some(name) => {
                        let ty = type_ident(name);
                        Some(quote! { (#ty) })
                    }
                    None if outcome.body.is_some() => {
                        let ty = body_type(api, outcome.body.as_ref());
                        Some(quote! { (#ty) })
                    }
                    None => None,
                };
                let text = docs::outer(&Doc {
                    text: Some(text),
                    ..Doc::default()
                });
                quote! { #text #variant #payload, }
            });
        items.push(quote! {
            #[doc = #doc]
            #[derive(Clone, Debug, PartialEq)]
            #[non_exhaustive]
            pub enum #ident { #(#variants)* }
        });
        for (outcome, per_status) in op.successes.iter().zip(&types.per_status) {
            if let Some(name) = per_status {
                items.push(headers_struct(name, outcome));
            }
        }
    } else if let (Some(name), [single]) = (&types.response, op.successes.as_slice()) {
        items.push(headers_struct(name, single));
    }
    if let Some(name) = &types.error {
        let ident = type_ident(name);
        let doc =
            format!(" The documented error responses of {method_doc}, with their decoded bodies.");
        let variants = op.errors.iter().map(|outcome| {
            let variant = type_ident(&outcome.variant);
            let text = format!(
                " {}: {}",
                status_text(outcome.status),
                outcome.description.trim().replace('\n', " ")
            );
            let text = docs::outer(&Doc {
                text: Some(text),
                ..Doc::default()
            });
            let payload = match &outcome.body {
                Some(ResponseBody::Json(ty)) => {
                    let ty = type_tokens(api, ty, &models_prefix());
                    Some(quote! { (#ty) })
                }
                _ => None,
            };
            quote! { #text #variant #payload, }
        });
        items.push(quote! {
            #[doc = #doc]
            #[derive(Clone, Debug, PartialEq)]
            #[non_exhaustive]
            pub enum #ident { #(#variants)* }
        });
    }
    quote! { #(#items)* }
}

fn status_text(status: Status) -> String {
    match status {
        Status::Code(code) => code.to_string(),
        Status::Range(digit) => format!("{digit}XX"),
        Status::Default => "default".to_owned(),
    }
}
