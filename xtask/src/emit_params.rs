//! Part of stage 3b: the code that writes a parameter by its style.
//!
//! A primitive in its place's default style (`simple` in the path and
//! headers, `form` in the query) and an array in the query's default
//! (`form`, exploded: `color=blue&color=black`) are written inline by
//! `emit_client`, as they always were. Everything else becomes a
//! `klarna_runtime::private::style::Value` (the text of the primitive, of
//! each item, or of each property in document order) that the runtime lays
//! out as the style table says.

use proc_macro2::TokenStream;
use quote::quote;

use crate::emit_models::field_ident;
use crate::model::{Api, Param, ParamLocation, ParamStyle, TypeKind, TypeRef};

/// Whether `emit_client` writes the parameter inline (see the module docs).
pub fn is_plain(api: &Api, param: &Param) -> bool {
    match api.unalias(&param.ty) {
        TypeRef::Vec(_) => {
            param.location == ParamLocation::Query
                && param.style == ParamStyle::Form
                && param.explode
        }
        TypeRef::Map(_) => false,
        TypeRef::Named(id) if matches!(api.types[*id].kind, TypeKind::Struct(_)) => false,
        // A cookie joins the one `Cookie` header: the runtime does that.
        _ if param.location == ParamLocation::Cookie => false,
        _ => matches!(param.style, ParamStyle::Simple | ParamStyle::Form),
    }
}

/// Whether any parameter of the API needs the runtime's `style` module.
pub fn uses_styles(api: &Api) -> bool {
    api.operations
        .iter()
        .flat_map(|op| &op.params)
        .any(|param| !is_plain(api, param))
}

fn style_tokens(style: ParamStyle) -> TokenStream {
    let variant = match style {
        ParamStyle::Simple => quote! { Simple },
        ParamStyle::Label => quote! { Label },
        ParamStyle::Matrix => quote! { Matrix },
        ParamStyle::Form => quote! { Form },
        ParamStyle::SpaceDelimited => quote! { SpaceDelimited },
        ParamStyle::PipeDelimited => quote! { PipeDelimited },
        ParamStyle::DeepObject => quote! { DeepObject },
    };
    quote! { style::Style::#variant }
}

/// `value` (of type `ty`, or a reference to one) as an owned `String`.
fn owned_text(api: &Api, param: Option<&Param>, ty: &TypeRef, value: TokenStream) -> TokenStream {
    if param.is_some_and(|p| p.id_type.is_some()) {
        return quote! { #value.as_str().to_owned() };
    }
    match api.unalias(ty) {
        TypeRef::String => quote! { #value.to_owned() },
        TypeRef::Named(id) => match &api.types[*id].kind {
            TypeKind::StringEnum(_) => quote! { #value.as_str().to_owned() },
            _ => quote! { #value.as_i64().to_string() },
        },
        _ => quote! { #value.to_string() },
    }
}

/// A `style::Value` of `value` (the parameter's field, or what an optional
/// one holds).
fn value_of(api: &Api, param: &Param, value: TokenStream) -> TokenStream {
    match api.unalias(&param.ty) {
        TypeRef::Vec(item) => {
            let text = owned_text(api, None, item, quote! { item });
            quote! { style::Value::List(#value.iter().map(|item| #text).collect()) }
        }
        TypeRef::Map(item) => {
            let text = owned_text(api, None, item, quote! { item });
            quote! {
                style::Value::Object(#value.iter().map(|(key, item)| (key.as_str(), #text)).collect())
            }
        }
        TypeRef::Named(id) if matches!(api.types[*id].kind, TypeKind::Struct(_)) => {
            let TypeKind::Struct(object) = &api.types[*id].kind else {
                unreachable!("matched above")
            };
            let always = |field: &crate::model::Field| field.required && !field.nullable;
            let properties = object.fields.iter().map(|field| {
                let name = field_ident(&field.name);
                let json = &field.json_name;
                if always(field) {
                    let text = owned_text(api, None, &field.ty, quote! { #value.#name });
                    quote! { (#json, #text) }
                } else {
                    let text = owned_text(api, None, &field.ty, quote! { item });
                    // Absent and `null` alike are left out of a parameter.
                    let get = if crate::emit_models::is_three_state(field) {
                        quote! { as_option }
                    } else {
                        quote! { as_ref }
                    };
                    quote! { #value.#name.#get().map(|item| (#json, #text)) }
                }
            });
            if object.fields.iter().all(always) {
                quote! { style::Value::Object(vec![#(#properties),*]) }
            } else {
                // Unset optional properties are left out.
                let properties = properties.zip(&object.fields).map(|(tokens, field)| {
                    if always(field) {
                        quote! { Some(#tokens) }
                    } else {
                        tokens
                    }
                });
                quote! {
                    style::Value::Object([#(#properties),*].into_iter().flatten().collect())
                }
            }
        }
        _ => {
            let text = owned_text(api, Some(param), &param.ty, value);
            quote! { style::Value::Primitive(#text) }
        }
    }
}

/// `let NAME = TEXT;`: the text that replaces `{name}` in the path, encoded
/// by the runtime, bound before the path is put together.
pub fn path_binding(api: &Api, param: &Param) -> TokenStream {
    let name = field_ident(&param.name);
    let wire = &param.wire_name;
    let style = style_tokens(param.style);
    let explode = param.explode;
    let value = value_of(api, param, quote! { #name });
    quote! { let #name = style::path(#wire, #style, #explode, &#value); }
}

/// The statement that adds a query or header parameter to `call`.
pub fn set(api: &Api, param: &Param, value: TokenStream) -> TokenStream {
    let wire = &param.wire_name;
    let explode = param.explode;
    let value = value_of(api, param, value);
    match param.location {
        ParamLocation::Query => {
            let style = style_tokens(param.style);
            quote! { call.query_styled(#wire, #style, #explode, &#value); }
        }
        ParamLocation::Cookie => quote! { call.cookie(#wire, #explode, &#value); },
        _ => quote! { call.header(#wire, &style::header(#explode, &#value)); },
    }
}
