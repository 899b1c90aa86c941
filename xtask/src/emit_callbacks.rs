//! Stage 3c: the callbacks module, from the operations `resolve_callbacks`
//! set apart. Not client methods: for each callback a typed answer enum, one
//! method of a handler trait the caller implements, and a `dispatch` that
//! decodes a request, calls the handler and gives the HTTP reply. A serving
//! layer written by hand (`klarna_checkout::serve`) mounts `dispatch`.
//!
//! The answer enum, by a rule that holds for any callback document:
//! - `Accept(T)` or `Accept`: the first 2xx, with its JSON body or none;
//! - `Redirect(Redirect)`: when any 3xx is documented (the `Location` goes
//!   with it, as HTTP needs);
//! - `Refuse(T)` or `Refuse`: the first 4xx, with its JSON body or none;
//! - `NotServed`: a 404, what a server answers for a callback it does not
//!   serve (every handler method answers that unless implemented).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::docs;
use crate::emit_models::{field_ident, type_ident, type_tokens};
use crate::model::{Api, BodyKind, Callback, Doc, Outcome, ResponseBody, Status, TypeRef};
use crate::names;

/// The callbacks module's tokens; `Err` names a callback the rule cannot
/// serve (a body that is not JSON, a parameter that is not a string).
pub fn emit(api: &Api) -> Result<TokenStream, String> {
    let runtime: syn::Path =
        syn::parse_str(api.settings.runtime).map_err(|e| format!("runtime path: {e}"))?;
    let api_name = &api.client.api_name;
    let mut answers = Vec::new();
    let mut methods = Vec::new();
    let mut arms = Vec::new();
    let mut table = Vec::new();
    for callback in &api.callbacks {
        let op = &callback.operation;
        let answer = format_ident!("{}Answer", op.type_name);
        answers.push(answer_enum(api, callback, &answer)?);
        let method = field_ident(&op.name);
        // The handler's arguments: parameters (query or path) by name, then the body.
        let mut args = Vec::new();
        let mut decode = Vec::new();
        let mut names_passed = Vec::new();
        for param in &op.params {
            if !matches!(api.unalias(&param.ty), TypeRef::String) {
                return Err(format!(
                    "callback `{}`: parameter `{}` is not a string",
                    callback.property, param.wire_name
                ));
            }
            let ident = field_ident(&param.name);
            let wire = &param.wire_name;
            let ty = match param.id_type {
                Some(id) => {
                    let id = type_ident(&api.ids[id].name);
                    quote! { models::#id }
                }
                None => quote! { String },
            };
            args.push(quote! { #ident: #ty });
            decode.push(quote! {
                let #ident: #ty = match query_param(query, #wire) {
                    Ok(value) => value.into(),
                    Err(e) => return Some(e.reply()),
                };
            });
            names_passed.push(ident);
        }
        if let Some(body) = &op.body {
            if body.kind != BodyKind::Json {
                return Err(format!(
                    "callback `{}`: the body is not JSON",
                    callback.property
                ));
            }
            let ty = type_tokens(api, &body.ty, &quote! { models:: });
            let ident = match &body.ty {
                TypeRef::Named(id) => field_ident(&names::snake(&api.types[*id].name)),
                _ => format_ident!("body"),
            };
            args.push(quote! { #ident: #ty });
            decode.push(quote! {
                let #ident: #ty = match decode_json(body) {
                    Ok(value) => value,
                    Err(e) => return Some(e.reply()),
                };
            });
            names_passed.push(ident);
        }
        let doc = method_doc(callback);
        methods.push(quote! {
            #doc
            fn #method(&self, #(#args),*) -> impl Future<Output = #answer> + Send {
                #(let _ = #names_passed;)*
                async { #answer::NotServed }
            }
        });
        let name = &callback.name;
        arms.push(quote! {
            #name => {
                #(#decode)*
                Some(handler.#method(#(#names_passed),*).await.into_reply())
            }
        });
        let property = &callback.property;
        let deadline = match &callback.deadline {
            None => quote! { None },
            Some(d) => {
                let seconds = d.seconds;
                let longer = match d.seconds_when_required {
                    Some(s) => quote! { Some(#s) },
                    None => quote! { None },
                };
                let by = match &d.required_by {
                    Some(dotted) => {
                        let pointer = format!("/{}", dotted.replace('.', "/"));
                        quote! { Some(#pointer) }
                    }
                    None => quote! { None },
                };
                quote! { Some(Deadline { seconds: #seconds, seconds_when_required: #longer, required_by: #by }) }
            }
        };
        table.push(quote! {
            Callback { name: #name, property: #property, deadline: #deadline }
        });
    }
    let module_doc = docs::inner(&format!(
        "The callbacks the {api_name} API makes to your server, as typed handlers: \
         implement the `Callbacks` trait for the ones you serve, and call `dispatch` \
         from your server's route for them. A request that does not \
         decode is answered 400, naming the field."
    ));
    let trait_doc = format!(
        " The handlers of the {api_name} API's callbacks. Each method you do not \
         implement answers 404 (`NotServed`): give the API only the URLs you serve."
    );
    let uses_query = api.callbacks.iter().any(|c| !c.operation.params.is_empty());
    let query_import = uses_query.then(|| quote! { query_param, });
    let uses_deadline = api.callbacks.iter().any(|c| c.deadline.is_some());
    let deadline_import = uses_deadline.then(|| quote! { Deadline, });
    Ok(quote! {
        #module_doc

        use std::future::Future;

        use #runtime::callback::{decode_json, #query_import Callback, #deadline_import Reply};
        pub use #runtime::callback::{DecodeError, Redirect, RedirectStatus};

        use super::models;

        /// Every callback of the API: its name (the route a serving layer
        /// mounts), its dotted name in the documents, and the deadline the
        /// API documents for the answer.
        pub const CALLBACKS: &[Callback] = &[#(#table),*];

        #(#answers)*

        #[doc = #trait_doc]
        pub trait Callbacks: Send + Sync {
            #(#methods)*
        }

        /// Decodes the request of the callback `name` (its query and JSON
        /// body), calls its handler and gives the reply: a 400 naming the
        /// field when the request does not decode. `None`: the API has no
        /// callback of that name.
        pub async fn dispatch<H: Callbacks + ?Sized>(handler: &H, name: &str, query: &str, body: &[u8]) -> Option<#runtime::callback::Reply> {
            let _ = (query, body);
            match name {
                #(#arms)*
                _ => None,
            }
        }
    })
}

fn method_doc(callback: &Callback) -> TokenStream {
    let op = &callback.operation;
    let mut text = format!("`{}`", callback.property);
    if let Some(summary) = &op.summary {
        text = format!("{text}: {summary}.");
    }
    if let Some(description) = &op.description {
        text = format!("{text}\n\n{description}");
    }
    if let Some(d) = &callback.deadline {
        text = format!(
            "{text}\n\nThe API waits {} s for the answer{}.",
            d.seconds,
            match (&d.seconds_when_required, &d.required_by) {
                (Some(longer), Some(by)) => format!(" ({longer} s when `{by}` is set)"),
                _ => String::new(),
            }
        );
    }
    docs::outer(&Doc {
        text: Some(text),
        ..Doc::default()
    })
}

fn first<'a>(outcomes: impl Iterator<Item = &'a Outcome>, hundreds: u16) -> Option<&'a Outcome> {
    outcomes.into_iter().find(|o| match o.status {
        Status::Code(code) => code / 100 == hundreds,
        Status::Range(digit) => digit == hundreds,
        Status::Default => false,
    })
}

fn answer_enum(
    api: &Api,
    callback: &Callback,
    answer: &proc_macro2::Ident,
) -> Result<TokenStream, String> {
    let op = &callback.operation;
    let all = || op.successes.iter().chain(&op.errors);
    let body_of = |outcome: &Outcome| match &outcome.body {
        None => Ok(None),
        Some(ResponseBody::Json(ty)) => Ok(Some(type_tokens(api, ty, &quote! { models:: }))),
        Some(_) => Err(format!(
            "callback `{}`: the answer {} is not JSON",
            callback.property, outcome.variant
        )),
    };
    let status_of = |outcome: &Outcome| match outcome.status {
        Status::Code(code) => code,
        Status::Range(digit) => digit * 100,
        Status::Default => 500,
    };
    let mut variants = Vec::new();
    let mut replies = Vec::new();
    for (hundreds, name) in [(2, "Accept"), (4, "Refuse")] {
        let Some(outcome) = first(all(), hundreds) else {
            continue;
        };
        let ident = format_ident!("{name}");
        let status = status_of(outcome);
        let doc = format!(" {status}: {}", outcome.description.trim());
        match body_of(outcome)? {
            Some(ty) => {
                variants.push(quote! { #[doc = #doc] #ident(#ty), });
                replies.push(quote! { #answer::#ident(body) => Reply::json(#status, &body), });
            }
            None => {
                variants.push(quote! { #[doc = #doc] #ident, });
                replies.push(quote! { #answer::#ident => Reply::empty(#status), });
            }
        }
        if hundreds == 2 && first(all(), 3).is_some() {
            let codes: Vec<String> = all()
                .filter(|o| first(std::iter::once(*o), 3).is_some())
                .map(|o| status_of(o).to_string())
                .collect();
            let doc = format!(
                " {}: the API sends the buyer to the redirect's `Location`.",
                codes.join(", ")
            );
            variants.push(quote! { #[doc = #doc] Redirect(Redirect), });
            replies.push(quote! { #answer::Redirect(redirect) => Reply::redirect(redirect), });
        }
    }
    let doc = format!(" The answer to `{}`.", callback.property);
    Ok(quote! {
        #[doc = #doc]
        #[derive(Clone, Debug)]
        pub enum #answer {
            #(#variants)*
            /// 404: this server does not serve the callback.
            NotServed,
        }

        impl #answer {
            /// The answer as HTTP: status, `Location`, JSON body.
            pub fn into_reply(self) -> Reply {
                match self {
                    #(#replies)*
                    #answer::NotServed => Reply::not_served(),
                }
            }
        }
    })
}
