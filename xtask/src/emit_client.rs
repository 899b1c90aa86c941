//! Stage 3b: the tokens of a client module.
//!
//! It holds the API's client type, one trait per group of operations (each
//! operation a builder method that returns a request value, plus the `send_*`
//! method that request calls when awaited), the trait implementations for
//! the client, the models' id types re-exported, and each operation's
//! request, response and error types. Every name comes from the model (`resolve_client`).

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use crate::config::{Auth, Hosts};
use crate::docs;
use crate::emit_models::{field_ident, type_ident, type_tokens};
use crate::emit_params;
use crate::model::{
    Api, BodyKind, Doc, Operation, OperationItems, Outcome, Param, ParamLocation, PathPart,
    RequestBody, ResponseBody, ResponseHeader, SchemeKind, Status, TypeKind, TypeRef,
};
use crate::names::reserved::RUNTIME_REEXPORTS;

/// Where the client finds its models.
pub enum ModelsPath {
    /// A module of another crate (`klarna_models::ordermanagement`),
    /// re-exported as `models`.
    Crate(TokenStream),
    /// A `models` module of the same crate, declared here.
    ChildModule,
}

pub fn emit(api: &Api, models: &ModelsPath) -> TokenStream {
    let runtime = runtime_path(api);
    let models_decl = match models {
        ModelsPath::Crate(path) => quote! { pub use #path as models; },
        ModelsPath::ChildModule => quote! { #[rustfmt::skip] pub mod models; },
    };
    let reexports = RUNTIME_REEXPORTS.iter().map(|name| type_ident(name));
    let uses_encode = api.operations.iter().any(|op| {
        op.path.iter().any(|p| match p {
            PathPart::Param(i) => emit_params::is_plain(api, &op.params[*i]),
            PathPart::Literal(_) => false,
        })
    });
    let encode = uses_encode.then(|| quote! { encode_path, });
    let styles = emit_params::uses_styles(api).then(|| quote! { use #runtime::private::style; });
    let security = api
        .operations
        .iter()
        .any(|op| op.security.as_ref().is_some_and(|s| !s.is_empty()))
        .then(|| quote! { use #runtime::private::security; });
    // What the paged and streamed operations return, for callers to name.
    let streams = api.operations.iter().any(|op| {
        op.successes
            .iter()
            .any(|o| matches!(o.body, Some(ResponseBody::Stream)))
    });
    let pages = api.operations.iter().any(|op| op.paging.is_some());
    let byte_stream = streams.then(|| quote! { pub use #runtime::ByteStream; });
    let paginator = pages.then(|| quote! { pub use #runtime::Paginator; });
    let operations = operations_module(api);
    let client = client_type(api);
    // The id types live with the models (model fields hold them too).
    let ids = api.ids.iter().zip(&api.client.ids).map(|(model, client)| {
        let name = type_ident(&model.name);
        if model.name == client.name {
            quote! { pub use models::#name; }
        } else {
            let alias = type_ident(&client.name);
            quote! { pub use models::#name as #alias; }
        }
    });
    let traits = api.client.traits.iter().map(|t| {
        let trait_ident = type_ident(&t.name);
        let client_ident = type_ident(&api.client.name);
        let doc = format!(
            " {} operations of the {} API. [`{}`] implements them. A fake for tests \
             implements the `send_*` methods its test needs; the others answer that \
             they are not faked.",
            t.name, api.client.api_name, api.client.name
        );
        let methods = t.operations.iter().map(|&i| trait_methods(api, i));
        let impls = t.operations.iter().map(|&i| send_impl(api, i));
        quote! {
            #[doc = #doc]
            pub trait #trait_ident {
                #(#methods)*
            }

            impl #trait_ident for #client_ident {
                #(#impls)*
            }
        }
    });
    let per_operation = (0..api.operations.len()).map(|i| operation_types(api, i));
    quote! {
        use std::future::{Future, IntoFuture};
        use std::pin::Pin;

        use #runtime::private::call::{#encode Call};
        #styles
        #security
        pub use #runtime::{#(#reexports),*};
        #byte_stream
        #paginator

        #models_decl

        #operations
        #client
        #(#ids)*
        #(#traits)*
        #(#per_operation)*
    }
}

fn runtime_path(api: &Api) -> syn::Path {
    syn::parse_str(api.settings.runtime).expect("config.rs names the runtime as a Rust path")
}

fn items(api: &Api, index: usize) -> (&Operation, &OperationItems) {
    (&api.operations[index], &api.client.operations[index])
}

fn ident(name: &str) -> proc_macro2::Ident {
    proc_macro2::Ident::new(name, proc_macro2::Span::call_site())
}

/// The `operations` module: what the client, and its users, know about each
/// operation.
fn operations_module(api: &Api) -> TokenStream {
    let runtime = runtime_path(api);
    let constants = (0..api.operations.len()).map(|i| {
        let (op, items) = items(api, i);
        let trait_name = &api.client.traits[items.trait_index].name;
        let constant = ident(&items.constant);
        let name = op.name.trim_start_matches("r#");
        let method = ident(&op.method);
        let path = &op.path_template;
        let (read_only, idempotent) = (op.read_only, op.idempotent);
        let header = match (op.idempotency_key, api.settings.idempotency_header) {
            (true, Some(header)) => quote! { Some(#header) },
            _ => quote! { None },
        };
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
                idempotency_header: #header,
            };
        }
    });
    quote! {
        /// Each operation's method, path, and whether it is safe to repeat:
        /// the client retries reads, idempotent operations and calls that
        /// carry an idempotency key.
        pub mod operations {
            use #runtime::http::Method;
            pub use #runtime::Operation;

            #(#constants)*
        }
    }
}

/// The API's client: a runtime client, checked for the credentials the API
/// takes, that implements only this API's traits.
fn client_type(api: &Api) -> TokenStream {
    let runtime = runtime_path(api);
    let name = type_ident(&api.client.name);
    let api_name = &api.client.api_name;
    let doc = format!(
        " A client of the {api_name} API. Cheap to clone: clones share one connection pool."
    );
    let constructor = match api.settings.hosts {
        Hosts::Regional => {
            let doc = format!(" The {api_name} API of Klarna's `region`, live or playground.");
            let kustom = api.settings.kustom.then(|| {
                let doc = format!(
                    " The {api_name} API on Kustom's hosts, live or playground: where \
                     Klarna Checkout's merchants call it since Kustom took Checkout over."
                );
                quote! {
                    #[doc = #doc]
                    pub fn kustom(environment: Environment, credentials: Credentials) -> Result<Self, ConfigError> {
                        #name::from_config(Config::kustom(environment, credentials))
                    }
                }
            });
            Some(quote! {
                #[doc = #doc]
                pub fn new(region: Region, environment: Environment, credentials: Credentials) -> Result<Self, ConfigError> {
                    #name::from_config(Config::new(region, environment, credentials))
                }
                #kustom
            })
        }
        Hosts::Global => {
            let doc = format!(" The {api_name} API on Klarna's global host.");
            let test_doc = format!(
                " The {api_name} API on Klarna's global host for `environment`: \
                 production, or the test host for `Environment::Playground`."
            );
            Some(quote! {
                #[doc = #doc]
                pub fn new(credentials: Credentials) -> Result<Self, ConfigError> {
                    #name::from_config(Config::with_base_url(#runtime::PAYMENT_API_BASE_URL, credentials))
                }

                #[doc = #test_doc]
                pub fn in_environment(environment: Environment, credentials: Credentials) -> Result<Self, ConfigError> {
                    #name::from_config(Config::payment_api_in(environment, credentials))
                }
            })
        }
        Hosts::Any => None,
    };
    let check = match api.settings.auth {
        Auth::Any => quote! {},
        Auth::Basic => {
            quote! { runtime.expect_credentials(#runtime::CredentialsKind::Basic, #api_name)?; }
        }
        Auth::ApiKey => {
            quote! { runtime.expect_credentials(#runtime::CredentialsKind::ApiKey, #api_name)?; }
        }
    };
    let credentials_doc = match api.settings.auth {
        Auth::Any => "",
        Auth::Basic => " It takes Basic credentials ([`Credentials::basic`]); others are refused.",
        Auth::ApiKey => {
            " It takes API-key credentials ([`Credentials::api_key`]); others are refused."
        }
    };
    let identity = api.settings.names_itself.then(|| {
        quote! {
            let runtime = runtime.for_api(#api_name, concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION")));
        }
    });
    let from_runtime_doc = format!(
        " A client on a runtime client built elsewhere, sharing its connections: \
         build one `klarna_runtime::Client` (on an HTTP client of your own with \
         `klarna_runtime::Client::with_http_client`, say) and make the client of \
         each API from a clone of it.{credentials_doc}"
    );
    quote! {
        #[doc = #doc]
        #[derive(Clone, Debug)]
        pub struct #name {
            runtime: #runtime::Client,
        }

        impl #name {
            #constructor

            /// A client from a configuration of your own: another host (a
            /// local sandbox, a proxy), timeouts, retries.
            pub fn from_config(config: Config) -> Result<Self, ConfigError> {
                #name::from_runtime(#runtime::Client::new(config)?)
            }

            #[doc = #from_runtime_doc]
            pub fn from_runtime(runtime: #runtime::Client) -> Result<Self, ConfigError> {
                #check
                #identity
                Ok(#name { runtime })
            }

            /// The same client (sharing its connections) with another retry
            /// policy for the calls made through it.
            pub fn with_retry(&self, policy: RetryPolicy) -> Self {
                #name { runtime: self.runtime.with_retry(policy) }
            }

            /// The same client with another timeout per attempt.
            pub fn with_timeout(&self, timeout: std::time::Duration) -> Self {
                #name { runtime: self.runtime.with_timeout(timeout) }
            }

            /// The same client with another limit on a whole call, retries
            /// included; `None` for no limit beyond the attempts' own.
            pub fn with_overall_timeout(&self, timeout: Option<std::time::Duration>) -> Self {
                #name { runtime: self.runtime.with_overall_timeout(timeout) }
            }

            /// The runtime client underneath: its base URL, timeouts and
            /// retry policy.
            pub fn runtime(&self) -> &#runtime::Client {
                &self.runtime
            }
        }
    }
}

fn models_prefix() -> TokenStream {
    quote! { models:: }
}

fn body_type(api: &Api, body: Option<&ResponseBody>) -> TokenStream {
    match body {
        Some(ResponseBody::Json(ty)) => type_tokens(api, ty, &models_prefix()),
        Some(ResponseBody::Bytes) => quote! { Vec<u8> },
        Some(ResponseBody::Stream) => {
            let runtime = runtime_path(api);
            quote! { #runtime::ByteStream }
        }
        None => quote! { () },
    }
}

fn success_type(api: &Api, op: &Operation, items: &OperationItems) -> TokenStream {
    match (&items.response, op.successes.as_slice()) {
        (Some(name), _) => {
            let ident = type_ident(name);
            quote! { #ident }
        }
        (None, [single]) => body_type(api, single.body.as_ref()),
        (None, _) => quote! { () },
    }
}

fn error_type(items: &OperationItems) -> TokenStream {
    match &items.error {
        Some(name) => {
            let ident = type_ident(name);
            quote! { #ident }
        }
        None => quote! { std::convert::Infallible },
    }
}

/// `Result<Response<..>, Error<..>>` of an operation.
fn output_type(api: &Api, index: usize) -> TokenStream {
    let (op, items) = items(api, index);
    let ok = success_type(api, op, items);
    let err = error_type(items);
    quote! { Result<Response<#ok>, Error<#err>> }
}

/// A parameter's value as the request holds it: `None`-able when it is
/// optional.
fn param_type(api: &Api, param: &Param) -> TokenStream {
    let value = value_type(api, param);
    if param.required {
        value
    } else {
        quote! { Option<#value> }
    }
}

/// A parameter's value, borrowed for `'a` where it is not a small copyable
/// value.
fn value_type(api: &Api, param: &Param) -> TokenStream {
    match (param.id_type, api.unalias(&param.ty)) {
        (Some(id), _) => {
            let ident = type_ident(&api.client.ids[id].name);
            quote! { &'a #ident }
        }
        (None, TypeRef::String) => quote! { &'a str },
        (None, TypeRef::Vec(item)) => {
            let item = type_tokens(api, item, &models_prefix());
            quote! { &'a [#item] }
        }
        (None, ty @ (TypeRef::Named(_) | TypeRef::Map(_))) => {
            let ty = type_tokens(api, ty, &models_prefix());
            quote! { &'a #ty }
        }
        (None, ty) => type_tokens(api, ty, &models_prefix()),
    }
}

/// Whether a parameter's request field borrows (and so needs `'a`).
fn param_borrows(api: &Api, param: &Param) -> bool {
    param.id_type.is_some()
        || matches!(
            api.unalias(&param.ty),
            TypeRef::String | TypeRef::Vec(_) | TypeRef::Named(_) | TypeRef::Map(_)
        )
}

fn body_field_type(api: &Api, body: &RequestBody) -> TokenStream {
    let ty = match &body.kind {
        BodyKind::Json | BodyKind::Form => &body.ty,
        BodyKind::Bytes(_) => {
            let runtime = runtime_path(api);
            return quote! { #runtime::Upload<'a> };
        }
        BodyKind::Multipart => {
            let runtime = runtime_path(api);
            return quote! { &'a #runtime::Multipart };
        }
    };
    match ty {
        TypeRef::String => quote! { &'a str },
        TypeRef::Vec(item) => {
            let item = type_tokens(api, item, &models_prefix());
            quote! { &'a [#item] }
        }
        ty => {
            let ty = type_tokens(api, ty, &models_prefix());
            quote! { &'a #ty }
        }
    }
}

/// The parameters a caller must give, in argument order: path parameters,
/// then required query and header parameters. The required body follows.
pub fn required_params(op: &Operation) -> impl Iterator<Item = &Param> {
    op.params
        .iter()
        .filter(|p| p.location == ParamLocation::Path)
        .chain(
            op.params
                .iter()
                .filter(|p| p.location != ParamLocation::Path && p.required),
        )
}

fn optional_params(op: &Operation) -> impl Iterator<Item = &Param> {
    op.params.iter().filter(|p| !p.required)
}

fn required_body(op: &Operation) -> Option<&RequestBody> {
    op.body.as_ref().filter(|b| b.required)
}

fn optional_body(op: &Operation) -> Option<&RequestBody> {
    op.body.as_ref().filter(|b| !b.required)
}

/// The builder method (provided, returns the request value) and the send
/// method (what awaiting it calls; "not faked" unless implemented).
fn trait_methods(api: &Api, index: usize) -> TokenStream {
    let (op, items) = items(api, index);
    let method = field_ident(&op.name);
    let send = field_ident(&items.send_method);
    let builder = type_ident(&items.builder);
    let request = type_ident(&items.request);
    let constant = ident(&items.constant);
    let output = output_type(api, index);
    let mut args = Vec::new();
    let mut inits = Vec::new();
    for param in required_params(op) {
        let name = field_ident(&param.name);
        let ty = param_type(api, param);
        args.push(quote! { #name: #ty });
        inits.push(quote! { #name, });
    }
    if let Some(body) = required_body(op) {
        let ty = body_field_type(api, body);
        if matches!(body.kind, BodyKind::Bytes(_)) {
            // `&[u8]`, `Vec<u8>`, `Bytes` or a stream.
            args.push(quote! { body: impl Into<#ty> });
            inits.push(quote! { body: body.into(), });
        } else {
            args.push(quote! { body: #ty });
            inits.push(quote! { body, });
        }
    }
    for param in optional_params(op) {
        let name = field_ident(&param.name);
        inits.push(quote! { #name: None, });
    }
    if optional_body(op).is_some() {
        inits.push(quote! { body: None, });
    }
    if op.idempotency_key {
        inits.push(quote! { idempotency_key: None, });
    }
    if !request_borrows(api, op) {
        inits.push(quote! { lifetime: std::marker::PhantomData, });
    }
    let allow = (args.len() > 6).then(|| quote! { #[allow(clippy::too_many_arguments)] });
    let doc = operation_doc(op);
    let send_doc = format!(
        " Sends a [`{}`]: what awaiting [`{}`] does.",
        items.request, items.builder
    );
    quote! {
        #doc
        #allow
        fn #method<'a>(&'a self, #(#args),*) -> #builder<'a, Self>
        where
            Self: Sized,
        {
            #builder {
                client: self,
                request: #request { #(#inits)* },
            }
        }

        #[doc = #send_doc]
        fn #send(&self, request: #request<'_>) -> impl Future<Output = #output> + Send {
            let _ = request;
            async { Err(Error::not_faked(operations::#constant.name)) }
        }
    }
}

fn request_borrows(api: &Api, op: &Operation) -> bool {
    op.body.is_some() || op.params.iter().any(|p| param_borrows(api, p))
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
    let documented: Vec<&Param> = required_params(op)
        .filter(|p| p.doc.text.is_some())
        .collect();
    if !documented.is_empty() {
        for param in documented {
            text.push_str(&format!("- `{}`: {}\n", param.name, one_line(&param.doc)));
        }
        text.push('\n');
    }
    let setters: Vec<String> = optional_params(op)
        .map(|p| format!("`{}`", field_ident(&p.name)))
        .chain(optional_body(op).map(|_| "`body`".to_owned()))
        .chain(op.idempotency_key.then(|| "`idempotency_key`".to_owned()))
        .collect();
    if !setters.is_empty() {
        text.push_str(&format!(
            "Optional parts are set on the returned request: {}.\n\n",
            setters.join(", ")
        ));
    }
    text.push_str(&format!("`{} {}`", op.method, op.path_template));
    docs::outer(&Doc {
        text: Some(text),
        ..Doc::default()
    })
}

fn one_line(doc: &Doc) -> String {
    doc.text
        .as_deref()
        .unwrap_or_default()
        .replace('\n', " ")
        .trim()
        .to_owned()
}

/// How to turn a parameter value into text for the wire.
fn to_text(api: &Api, param: Option<&Param>, ty: &TypeRef, value: TokenStream) -> TokenStream {
    if param.is_some_and(|p| p.id_type.is_some()) {
        return quote! { #value.as_str() };
    }
    match api.unalias(ty) {
        TypeRef::String => value,
        TypeRef::Named(id) => match &api.types[*id].kind {
            TypeKind::StringEnum(_) => quote! { #value.as_str() },
            _ => quote! { &#value.as_i64().to_string() },
        },
        _ => quote! { &#value.to_string() },
    }
}

/// The client's implementation of one send method.
fn send_impl(api: &Api, index: usize) -> TokenStream {
    let (op, items) = items(api, index);
    let send = field_ident(&items.send_method);
    let request = type_ident(&items.request);
    let output = output_type(api, index);
    let constant = ident(&items.constant);
    let fields = op
        .params
        .iter()
        .map(|p| {
            let name = field_ident(&p.name);
            quote! { #name, }
        })
        .chain(op.body.as_ref().map(|_| quote! { body, }))
        .chain(op.idempotency_key.then(|| quote! { idempotency_key, }));
    let mut path_bindings = Vec::new();
    let mut format_string = String::new();
    let mut format_args = Vec::new();
    for part in &op.path {
        match part {
            PathPart::Literal(text) => {
                format_string.push_str(&text.replace('{', "{{").replace('}', "}}"))
            }
            PathPart::Param(i) => {
                let param = &op.params[*i];
                let name = field_ident(&param.name);
                format_string.push_str("{}");
                if emit_params::is_plain(api, param) {
                    let text = to_text(api, Some(param), &param.ty, quote! { #name });
                    format_args.push(quote! { encode_path(#text) });
                } else {
                    path_bindings.push(emit_params::path_binding(api, param));
                    format_args.push(quote! { #name });
                }
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
            let plain = emit_params::is_plain(api, param);
            let set = |value: TokenStream| match (param.location, api.unalias(&param.ty)) {
                _ if !plain => emit_params::set(api, param, value),
                (ParamLocation::Query, TypeRef::Vec(item)) => {
                    let text = to_text(api, None, item, quote! { item });
                    quote! { for item in #value { call.query(#wire, #text); } }
                }
                (ParamLocation::Query, _) => {
                    let text = to_text(api, Some(param), &param.ty, value);
                    quote! { call.query(#wire, #text); }
                }
                _ => {
                    let text = to_text(api, Some(param), &param.ty, value);
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
        let write = match &body.kind {
            BodyKind::Json => quote! { call.json(body); },
            BodyKind::Form => quote! { call.form(body); },
            BodyKind::Multipart => quote! { call.multipart(body); },
            BodyKind::Bytes(media_type) => quote! { call.upload(#media_type, &body); },
        };
        if body.required {
            write
        } else {
            quote! { if let Some(body) = body { #write } }
        }
    });
    let idempotency = op
        .idempotency_key
        .then(|| quote! { call.idempotency_key(idempotency_key); });
    let security = security_statement(op);
    let accepts_json = op
        .successes
        .iter()
        .any(|o| matches!(o.body, Some(ResponseBody::Json(_))));
    let accept = accepts_json.then(|| quote! { call.accept("application/json"); });
    let streams = op
        .successes
        .iter()
        .any(|o| matches!(o.body, Some(ResponseBody::Stream)));
    let stream = streams.then(|| quote! { call.stream_success(); });
    let arms = response_arms(api, op, items);
    let configured = op.params.iter().any(|p| p.location != ParamLocation::Path)
        || op.body.is_some()
        || op.idempotency_key
        || security.is_some()
        || accepts_json
        || streams;
    let mutable = configured.then(|| quote! { mut });
    quote! {
        async fn #send(&self, request: #request<'_>) -> #output {
            let #request { #(#fields)* .. } = request;
            #(#path_bindings)*
            let #mutable call = Call::new(&self.runtime, &operations::#constant, #path);
            #(#setters)*
            #body
            #idempotency
            #security
            #accept
            #stream
            let response = call.send().await?;
            match response.status() {
                #(#arms)*
            }
        }
    }
}

/// `call.security(..)`: the operation's alternatives from the document's
/// `security`, for the runtime to pick from the configured credentials.
fn security_statement(op: &Operation) -> Option<TokenStream> {
    let alternatives = op.security.as_ref().filter(|a| !a.is_empty())?;
    let alternatives = alternatives.iter().map(|uses| {
        let uses = uses.iter().map(|used| {
            let name = &used.scheme;
            let scheme = match &used.kind {
                SchemeKind::Basic => quote! { security::Scheme::Basic },
                SchemeKind::Bearer => quote! { security::Scheme::Bearer },
                SchemeKind::HeaderKey(key) => quote! { security::Scheme::HeaderKey(#key) },
                SchemeKind::QueryKey(key) => quote! { security::Scheme::QueryKey(#key) },
                SchemeKind::CookieKey(key) => quote! { security::Scheme::CookieKey(#key) },
            };
            quote! { (#name, #scheme) }
        });
        quote! { &[#(#uses),*] }
    });
    Some(quote! { call.security(&[#(#alternatives),*]); })
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

fn response_arms(api: &Api, op: &Operation, items: &OperationItems) -> Vec<TokenStream> {
    let mut outcomes: Vec<(usize, &Outcome, bool)> = op
        .successes
        .iter()
        .enumerate()
        .map(|(i, o)| (i, o, true))
        .chain(op.errors.iter().enumerate().map(|(i, o)| (i, o, false)))
        .collect();
    // Exact codes before ranges before `default`.
    outcomes.sort_by_key(|(_, o, _)| match o.status {
        Status::Code(_) => 0,
        Status::Range(_) => 1,
        Status::Default => 2,
    });
    let mut arms: Vec<TokenStream> = outcomes
        .iter()
        .map(|(index, outcome, success)| {
            let pattern = status_pattern(outcome.status);
            let result = if *success {
                success_arm(api, op, items, *index)
            } else {
                error_arm(items, outcome)
            };
            quote! { #pattern => #result, }
        })
        .collect();
    if !outcomes.iter().any(|(_, o, _)| o.status == Status::Default) {
        arms.push(quote! { _ => Err(response.unexpected_status()), });
    }
    arms
}

/// A header's value as the response type holds it.
fn header_value(api: &Api, header: &ResponseHeader) -> TokenStream {
    let field = field_ident(&header.field);
    let wire = &header.wire_name;
    let read = if header.required {
        quote! { response.required_header(#wire)? }
    } else {
        quote! { response.header(#wire)? }
    };
    let value = match (header.id_type, header.required) {
        (Some(id), true) => {
            let ident = type_ident(&api.client.ids[id].name);
            quote! { #ident::new(#read) }
        }
        (Some(id), false) => {
            let ident = type_ident(&api.client.ids[id].name);
            quote! { #read.map(#ident::new) }
        }
        (None, _) => read,
    };
    quote! { let #field = #value; }
}

fn success_arm(api: &Api, op: &Operation, items: &OperationItems, index: usize) -> TokenStream {
    let outcome = &op.successes[index];
    let multi = op.successes.len() > 1;
    let headers_type = if multi {
        items.per_status[index].as_ref()
    } else {
        items.response.as_ref()
    };
    if !multi && outcome.headers.is_empty() {
        return match outcome.body {
            Some(ResponseBody::Json(_)) => quote! { response.json() },
            Some(ResponseBody::Bytes) => quote! { response.bytes() },
            Some(ResponseBody::Stream) => quote! { response.byte_stream() },
            None => quote! { response.value(()) },
        };
    }
    let mut statements: Vec<TokenStream> = outcome
        .headers
        .iter()
        .map(|h| header_value(api, h))
        .collect();
    match outcome.body {
        Some(ResponseBody::Json(_)) => statements.push(quote! { let body = response.decode()?; }),
        Some(ResponseBody::Bytes) => {
            statements.push(quote! { let body = response.body().to_vec(); })
        }
        Some(ResponseBody::Stream) => {
            unreachable!("a streamed success is its operation's only one, without headers")
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
        let response_type = decided(&items.response, "several successes have a response enum");
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

/// A type name that resolve decides whenever emit asks for it.
fn decided(name: &Option<String>, why: &str) -> proc_macro2::Ident {
    type_ident(name.as_deref().expect(why))
}

fn error_arm(items: &OperationItems, outcome: &Outcome) -> TokenStream {
    let error = decided(&items.error, "an error outcome means an error type");
    let variant = type_ident(&outcome.variant);
    match outcome.body {
        Some(ResponseBody::Json(_)) => quote! { Err(response.api_error(#error::#variant)) },
        _ => quote! { Err(response.api_error_without_body(#error::#variant)) },
    }
}

/// The request value and its fields, and the response and error types, of
/// one operation.
fn operation_types(api: &Api, index: usize) -> TokenStream {
    let (op, items) = items(api, index);
    let trait_name = &api.client.traits[items.trait_index].name;
    let method_doc = format!("[`{trait_name}::{}`]", op.name);
    let mut out = vec![request_types(api, index)];
    let headers_struct = |name: &str, outcome: &Outcome| {
        let ident = type_ident(name);
        let doc = format!(
            " What a {} response of {method_doc} carries.",
            status_text(outcome.status)
        );
        let fields = outcome.headers.iter().map(|h| {
            let field = field_ident(&h.field);
            let inner = match h.id_type {
                Some(id) => {
                    let ident = type_ident(&api.client.ids[id].name);
                    quote! { #ident }
                }
                None => quote! { String },
            };
            let ty = if h.required {
                inner
            } else {
                quote! { Option<#inner> }
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
        let name = items
            .response
            .as_ref()
            .expect("several successes have a response enum");
        let ident = type_ident(name);
        let doc = format!(" The success responses of {method_doc}.");
        let variants = op
            .successes
            .iter()
            .zip(&items.per_status)
            .map(|(outcome, per_status)| {
                let variant = type_ident(&outcome.variant);
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
                let text = outcome_doc(outcome);
                quote! { #text #variant #payload, }
            });
        out.push(outcome_enum(&doc, &ident, variants));
        for (outcome, per_status) in op.successes.iter().zip(&items.per_status) {
            if let Some(name) = per_status {
                out.push(headers_struct(name, outcome));
            }
        }
    } else if let (Some(name), [single]) = (&items.response, op.successes.as_slice()) {
        out.push(headers_struct(name, single));
    }
    out.extend(crate::emit_paging::into_items(
        api,
        index,
        error_type(items),
        &models_prefix(),
    ));
    if let Some(name) = &items.error {
        let ident = type_ident(name);
        let doc =
            format!(" The documented error responses of {method_doc}, with their decoded bodies.");
        let variants = op.errors.iter().map(|outcome| {
            let variant = type_ident(&outcome.variant);
            let text = outcome_doc(outcome);
            let payload = match &outcome.body {
                Some(ResponseBody::Json(ty)) => {
                    let ty = type_tokens(api, ty, &models_prefix());
                    Some(quote! { (#ty) })
                }
                _ => None,
            };
            quote! { #text #variant #payload, }
        });
        out.push(outcome_enum(&doc, &ident, variants));
    }
    quote! { #(#out)* }
}

/// An open enum of an operation's outcomes (its successes, or its errors).
fn outcome_enum(
    doc: &str,
    ident: &proc_macro2::Ident,
    variants: impl Iterator<Item = TokenStream>,
) -> TokenStream {
    quote! {
        #[doc = #doc]
        #[derive(Clone, Debug, PartialEq)]
        #[non_exhaustive]
        pub enum #ident { #(#variants)* }
    }
}

fn outcome_doc(outcome: &Outcome) -> TokenStream {
    docs::outer(&Doc {
        text: Some(format!(
            " {}: {}",
            status_text(outcome.status),
            outcome.description.trim().replace('\n', " ")
        )),
        ..Doc::default()
    })
}

/// The request value a builder method returns, its setters and `.await`,
/// and the struct of its parts that a send method receives.
fn request_types(api: &Api, index: usize) -> TokenStream {
    let (op, items) = items(api, index);
    let trait_ident = type_ident(&api.client.traits[items.trait_index].name);
    let builder = type_ident(&items.builder);
    let request = type_ident(&items.request);
    let send = field_ident(&items.send_method);
    let output = output_type(api, index);
    let method_doc = format!(
        "[`{}::{}`]",
        api.client.traits[items.trait_index].name, op.name
    );
    let builder_doc = format!(" A {method_doc} request: set what is optional, then `.await` it.");
    let request_doc = format!(
        " The parts of a {method_doc} request, as [`{}::{}`] receives them.",
        api.client.traits[items.trait_index].name, items.send_method
    );
    let mut fields = Vec::new();
    let mut setters = Vec::new();
    for param in required_params(op) {
        let name = field_ident(&param.name);
        let ty = param_type(api, param);
        let doc = docs::outer(&param.doc);
        fields.push(quote! { #doc pub #name: #ty, });
    }
    if let Some(ty) = required_body(op) {
        let ty = body_field_type(api, ty);
        fields.push(quote! { pub body: #ty, });
    }
    for param in optional_params(op) {
        let name = field_ident(&param.name);
        let ty = param_type(api, param);
        let doc = docs::outer(&param.doc);
        fields.push(quote! { #doc pub #name: #ty, });
        let inner = value_type(api, param);
        let setter_doc = match &param.doc.text {
            Some(_) => docs::outer(&param.doc),
            None => {
                let text = format!(
                    " The `{}` {}.",
                    param.wire_name,
                    location_word(param.location)
                );
                quote! { #[doc = #text] }
            }
        };
        setters.push(quote! {
            #setter_doc
            pub fn #name(mut self, value: impl Into<Option<#inner>>) -> Self {
                self.request.#name = value.into();
                self
            }
        });
    }
    if let Some(body) = optional_body(op) {
        let ty = body_field_type(api, body);
        fields.push(quote! { pub body: Option<#ty>, });
        setters.push(if matches!(body.kind, BodyKind::Bytes(_)) {
            quote! {
                /// The request body: `&[u8]`, `Vec<u8>`, `Bytes` or a stream.
                pub fn body(mut self, body: impl Into<#ty>) -> Self {
                    self.request.body = Some(body.into());
                    self
                }
            }
        } else {
            quote! {
                /// The request body.
                pub fn body(mut self, body: impl Into<Option<#ty>>) -> Self {
                    self.request.body = body.into();
                    self
                }
            }
        });
    }
    if op.idempotency_key {
        fields.push(quote! {
            /// The key the request carries; with `None` the client makes a new one.
            pub idempotency_key: Option<IdempotencyKey>,
        });
        setters.push(quote! {
            /// The idempotency key of an earlier attempt, to repeat it
            /// safely (a key or an `Option` of one). Without one the client
            /// makes a new key and returns it with the result and with the
            /// error.
            pub fn idempotency_key(mut self, key: impl Into<Option<IdempotencyKey>>) -> Self {
                self.request.idempotency_key = key.into();
                self
            }
        });
    }
    if !request_borrows(api, op) {
        fields.push(quote! { lifetime: std::marker::PhantomData<&'a ()>, });
    }
    let setters_impl = (!setters.is_empty()).then(|| {
        quote! {
            impl<'a, C> #builder<'a, C> {
                #(#setters)*
            }
        }
    });
    quote! {
        #[doc = #builder_doc]
        #[must_use = "a request does nothing until it is awaited"]
        pub struct #builder<'a, C> {
            client: &'a C,
            request: #request<'a>,
        }

        #setters_impl

        impl<'a, C: #trait_ident> IntoFuture for #builder<'a, C> {
            type Output = #output;
            type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

            fn into_future(self) -> Self::IntoFuture {
                Box::pin(self.client.#send(self.request))
            }
        }

        #[doc = #request_doc]
        #[derive(Clone, Debug)]
        #[non_exhaustive]
        pub struct #request<'a> {
            #(#fields)*
        }
    }
}

fn location_word(location: ParamLocation) -> &'static str {
    match location {
        ParamLocation::Path => "path parameter",
        ParamLocation::Query => "query parameter",
        ParamLocation::Header => "header",
        ParamLocation::Cookie => "cookie",
    }
}

fn status_text(status: Status) -> String {
    match status {
        Status::Code(code) => code.to_string(),
        Status::Range(digit) => format!("{digit}XX"),
        Status::Default => "default".to_owned(),
    }
}
