//! Stage 3a: the tokens of a models module.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use crate::docs;
use crate::model::{Api, Field, Struct, TypeDef, TypeKind, TypeRef, Union, Variant};
use crate::names;

pub fn emit(api: &Api) -> TokenStream {
    let title = match &api.description {
        Some(description) => format!("{}\n\n{}", api.title, description),
        None => api.title.clone(),
    };
    let module_doc = docs::inner(&title);
    let ids = api
        .ids
        .iter()
        .map(|id| id_type(&id.name, &id.param, &api.client.api_name));
    let items = api.order.iter().map(|&id| emit_type(api, &api.types[id]));
    let uses_map = api.types.iter().any(|def| mentions_map(&def.kind));
    let map_import = uses_map.then(|| quote! { use std::collections::BTreeMap; });
    let serde_import = serde_import(api);
    quote! {
        #module_doc
        #map_import
        #serde_import
        #(#ids)*
        #(#items)*
    }
}

/// Imports only what the module uses, so that no spec gives a warning.
fn serde_import(api: &Api) -> Option<TokenStream> {
    let kinds = || api.types.iter().map(|def| &def.kind);
    let is_enum = |k: &TypeKind| matches!(k, TypeKind::StringEnum(_) | TypeKind::IntegerEnum(_));
    let is_tagged = |k: &TypeKind| matches!(k, TypeKind::Union(u) if u.tag.is_some());
    let mut traits = Vec::new();
    if kinds().any(|k| !matches!(k, TypeKind::Alias(_))) {
        traits.extend([quote! { Deserialize }]);
    }
    let is_compact = |k: &TypeKind| matches!(k, TypeKind::Struct(s) if compact_deserialize(s));
    if kinds().any(|k| is_enum(k) || is_tagged(k) || is_compact(k)) {
        traits.push(quote! { Deserializer });
    }
    if kinds().any(|k| !matches!(k, TypeKind::Alias(_))) {
        traits.push(quote! { Serialize });
    }
    if kinds().any(is_enum) {
        traits.push(quote! { Serializer });
    }
    (!traits.is_empty()).then(|| quote! { use serde::{#(#traits),*}; })
}

pub fn type_ident(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

/// An identifier for a snake_case name, raw where it is a keyword.
pub fn field_ident(name: &str) -> Ident {
    let text = names::ident_text(name);
    match text.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(&text, Span::call_site()),
    }
}

/// The runtime's module of what only generated code calls, by the path the
/// API's settings give the runtime.
pub fn runtime_private(api: &Api) -> TokenStream {
    let runtime: syn::Path =
        syn::parse_str(api.settings.runtime).expect("config.rs names the runtime as a Rust path");
    quote! { #runtime::private }
}

/// The Rust type for a reference to a type, as seen from inside the models
/// module (`prefix` is empty) or from another crate (`prefix` is the path
/// of the models module).
pub fn type_tokens(api: &Api, ty: &TypeRef, prefix: &TokenStream) -> TokenStream {
    match ty {
        TypeRef::String => quote! { String },
        TypeRef::Bool => quote! { bool },
        TypeRef::I32 => quote! { i32 },
        TypeRef::I64 => quote! { i64 },
        TypeRef::F32 => quote! { f32 },
        TypeRef::F64 => quote! { f64 },
        TypeRef::Json => quote! { serde_json::Value },
        TypeRef::Named(id) => {
            let ident = type_ident(&api.types[*id].name);
            quote! { #prefix #ident }
        }
        TypeRef::Vec(inner) => {
            let inner = type_tokens(api, inner, prefix);
            quote! { Vec<#inner> }
        }
        TypeRef::Map(inner) => {
            let inner = type_tokens(api, inner, prefix);
            if prefix.is_empty() {
                quote! { BTreeMap<String, #inner> }
            } else {
                quote! { std::collections::BTreeMap<String, #inner> }
            }
        }
        TypeRef::Nullable(inner) => {
            let inner = type_tokens(api, inner, prefix);
            quote! { Option<#inner> }
        }
    }
}

/// A string newtype for one kind of id, so that an order id cannot be passed
/// where a capture id is expected. It is written and read as the plain
/// string, by two short impls rather than serde's derive.
fn id_type(name: &str, param: &str, api_name: &str) -> TokenStream {
    let ident = type_ident(name);
    let what = param.strip_suffix("_id").unwrap_or(param).replace('_', " ");
    let doc = format!(
        " The id of a {what}, as the {api_name} API gives it: a type of its own, so that it \
         cannot be passed where another kind of id is expected."
    );
    quote! {
        #[doc = #doc]
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct #ident(String);

        impl #ident {
            pub fn new(id: impl Into<String>) -> Self {
                #ident(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for #ident {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for #ident {
            fn from(id: String) -> Self {
                #ident(id)
            }
        }

        impl From<&str> for #ident {
            fn from(id: &str) -> Self {
                #ident(id.to_owned())
            }
        }

        /// Reads as the plain id (`id.len()`, `option.as_deref()`); it
        /// cannot be made from a `&str` by accident, only by `new` or `from`.
        impl std::ops::Deref for #ident {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for #ident {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for #ident {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for #ident {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<#ident> for str {
            fn eq(&self, other: &#ident) -> bool {
                self == other.0
            }
        }

        impl PartialEq<#ident> for &str {
            fn eq(&self, other: &#ident) -> bool {
                *self == other.0
            }
        }

        /// A copy, so that an id read from one answer can be given to a
        /// constructor that takes `impl Into<..>` without a `clone()`.
        impl From<&#ident> for #ident {
            fn from(id: &#ident) -> Self {
                id.clone()
            }
        }

        impl From<#ident> for String {
            fn from(id: #ident) -> Self {
                id.0
            }
        }

        impl From<&#ident> for String {
            fn from(id: &#ident) -> Self {
                id.0.clone()
            }
        }

        impl serde::Serialize for #ident {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for #ident {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                <String as serde::Deserialize>::deserialize(deserializer).map(#ident)
            }
        }
    }
}

fn mentions_map(kind: &TypeKind) -> bool {
    fn has_map(ty: &TypeRef) -> bool {
        match ty {
            TypeRef::Map(_) => true,
            TypeRef::Vec(inner) | TypeRef::Nullable(inner) => has_map(inner),
            _ => false,
        }
    }
    match kind {
        TypeKind::Struct(s) => s.additional.is_some() || s.fields.iter().any(|f| has_map(&f.ty)),
        TypeKind::Union(u) => u.variants.iter().any(|v| has_map(&v.ty)),
        TypeKind::Alias(ty) => has_map(ty),
        TypeKind::StringEnum(_) | TypeKind::IntegerEnum(_) => false,
    }
}

fn emit_type(api: &Api, def: &TypeDef) -> TokenStream {
    let doc = docs::outer(&def.doc);
    let name = type_ident(&def.name);
    let body = match &def.kind {
        TypeKind::Struct(s) => emit_struct(api, &name, s),
        TypeKind::StringEnum(variants) => emit_string_enum(api, &name, variants),
        TypeKind::IntegerEnum(variants) => emit_integer_enum(&name, variants),
        TypeKind::Union(u) => emit_union(api, &name, u),
        TypeKind::Alias(ty) => {
            let ty = type_tokens(api, ty, &TokenStream::new());
            quote! { pub type #name = #ty; }
        }
    };
    quote! { #doc #body }
}

fn derives(eq: bool, default: bool, deserialize: bool, debug: bool) -> TokenStream {
    let eq = eq.then(|| quote! { Eq, });
    let default = default.then(|| quote! { Default, });
    let deserialize = deserialize.then(|| quote! { Deserialize });
    let debug = debug.then(|| quote! { Debug, });
    quote! { #[derive(Clone, #debug #default PartialEq, #eq Serialize, #deserialize)] }
}

/// A field the spec marks `format: password`: a secret, which `Debug`
/// must not show.
fn is_secret(field: &Field) -> bool {
    field.doc.format.as_deref() == Some("password")
}

/// `Debug` for a struct with secret fields: the others as derived, each
/// secret as `<redacted>`, so that logging a response leaks nothing.
fn emit_redacted_debug(name: &Ident, s: &Struct) -> TokenStream {
    let fields = s.fields.iter().map(|f| {
        let ident = field_ident(&f.name);
        let label = ident.to_string();
        let label = label.trim_start_matches("r#");
        if is_secret(f) {
            quote! { .field(#label, &"<redacted>") }
        } else {
            quote! { .field(#label, &self.#ident) }
        }
    });
    let additional = s
        .additional
        .as_ref()
        .map(|_| quote! { .field("additional_properties", &self.additional_properties) });
    let name_str = name.to_string();
    quote! {
        impl std::fmt::Debug for #name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(#name_str) #(#fields)* #additional .finish()
            }
        }
    }
}

/// Structs get a small hand-shaped `Deserialize` (see
/// `klarna_runtime`'s hidden `private::object`) rather than serde's derive, which costs several
/// times as much to compile. Those with `flatten`ed extra properties, and
/// empty ones, keep the derive.
fn compact_deserialize(s: &Struct) -> bool {
    s.additional.is_none() && !s.fields.is_empty()
}

fn emit_struct(api: &Api, name: &Ident, s: &Struct) -> TokenStream {
    let compact = compact_deserialize(s);
    let redact = s.fields.iter().any(is_secret);
    let derive = derives(s.derives.eq, s.derives.default, !compact, !redact);
    let debug = redact.then(|| emit_redacted_debug(name, s));
    let fields = s.fields.iter().map(|f| emit_field(api, f));
    let additional = s.additional.as_ref().map(|ty| {
        let ty = type_tokens(api, ty, &TokenStream::new());
        quote! {
            /// Properties not declared above, as sent.
            #[serde(flatten)]
            pub additional_properties: BTreeMap<String, #ty>,
        }
    });
    let deserialize = compact.then(|| emit_deserialize(api, name, s));
    let constructor = (!s.derives.default).then(|| emit_constructor(api, name, s));
    // The variant's own discriminator value, written ahead of its fields.
    let tag = s.tag.as_ref().map(|tag| {
        let (property, value) = (&tag.property, &tag.value);
        quote! { #[serde(tag = #property, rename = #value)] }
    });
    quote! {
        #derive
        #tag
        pub struct #name {
            #(#fields)*
            #additional
        }

        #debug
        #constructor
        #deserialize
    }
}

/// `new` with the required fields, for structs that cannot be `Default`.
/// The optional ones are set with struct update syntax
/// (`CaptureObject { description: Some(..), ..CaptureObject::new(100) }`),
/// which keeps compiling when the spec adds an optional field. String
/// arguments take `impl Into<String>`; being generic, such a constructor
/// costs the models crate nothing to compile until it is called.
fn emit_constructor(api: &Api, name: &Ident, s: &Struct) -> TokenStream {
    let mut args = Vec::new();
    let inits = s.fields.iter().map(|f| {
        let ident = field_ident(&f.name);
        if is_three_state(f) {
            let runtime = runtime_path(api);
            return quote! { #ident: #runtime::Nullable::Absent, };
        }
        if !f.required {
            return quote! { #ident: None, };
        }
        if f.nullable {
            let ty = field_type(api, f);
            args.push(quote! { #ident: #ty });
            quote! { #ident, }
        } else if f.ty == TypeRef::String || f.id_type.is_some() {
            let ty = field_base_type(api, f);
            args.push(quote! { #ident: impl Into<#ty> });
            quote! { #ident: #ident.into(), }
        } else {
            let ty = type_tokens(api, &f.ty, &TokenStream::new());
            args.push(quote! { #ident: #ty });
            if f.boxed {
                quote! { #ident: Box::new(#ident), }
            } else {
                quote! { #ident, }
            }
        }
    });
    let inits: Vec<TokenStream> = inits.collect();
    let additional = s
        .additional
        .as_ref()
        .map(|_| quote! { additional_properties: Default::default(), });
    let allow = (args.len() > 7).then(|| quote! { #[allow(clippy::too_many_arguments)] });
    let doc = format!(
        " A `{name}` with its required fields; set optional ones with \
         `{name} {{ field: Some(..), ..{name}::new(..) }}`."
    );
    quote! {
        impl #name {
            #[doc = #doc]
            #allow
            pub fn new(#(#args),*) -> Self {
                #name {
                    #(#inits)*
                    #additional
                }
            }
        }
    }
}

fn emit_deserialize(api: &Api, name: &Ident, s: &Struct) -> TokenStream {
    let private = runtime_private(api);
    let idents: Vec<Ident> = s.fields.iter().map(|f| field_ident(&f.name)).collect();
    let optional: Vec<bool> = s.fields.iter().map(|f| !f.required || f.nullable).collect();
    let partial_types = s.fields.iter().zip(&optional).map(|(f, &optional)| {
        let ty = field_type(api, f);
        if optional {
            ty
        } else {
            quote! { Option<#ty> }
        }
    });
    // Per field: how a value is read into the partial struct, and how the
    // struct is finished from it (a missing required field is an error).
    let (reads, finishes): (Vec<TokenStream>, Vec<TokenStream>) = s
        .fields
        .iter()
        .zip(&idents)
        .zip(&optional)
        .map(|((f, ident), &optional)| {
            let key = &f.json_name;
            if optional {
                (
                    quote! { #key => self.#ident = map.next_value()?, },
                    quote! { #ident: self.#ident, },
                )
            } else {
                (
                    quote! { #key => self.#ident = Some(map.next_value()?), },
                    quote! { #ident: #private::object::required(self.#ident, #key)?, },
                )
            }
        })
        .unzip();
    // What each field holds before its key is read.
    let starts = s.fields.iter().map(|f| {
        if is_three_state(f) {
            let runtime = runtime_path(api);
            quote! { #runtime::Nullable::Absent }
        } else {
            quote! { None }
        }
    });
    // Bound by name from the one table that resolve reserves them in.
    let partial = type_ident(names::reserved::PARTIAL);
    let d = type_ident(names::reserved::DESERIALIZER);
    let e = type_ident(names::reserved::DECODE_ERROR);
    quote! {
        impl<'de> Deserialize<'de> for #name {
            fn deserialize<#d: Deserializer<'de>>(deserializer: #d) -> Result<Self, #d::Error> {
                struct #partial {
                    #(#idents: #partial_types,)*
                }

                impl<'de> #private::object::Fields<'de> for #partial {
                    type Value = #name;

                    fn field<M: serde::de::MapAccess<'de>>(&mut self, key: &str, map: &mut M) -> Result<bool, M::Error> {
                        match key {
                            #(#reads)*
                            _ => return Ok(false),
                        }
                        Ok(true)
                    }

                    fn finish<#e: serde::de::Error>(self) -> Result<#name, #e> {
                        Ok(#name {
                            #(#finishes)*
                        })
                    }
                }

                #private::object::object(deserializer, #partial {
                    #(#idents: #starts,)*
                })
            }
        }
    }
}

/// A field's type inside any `Option` or `Box`: its id type, if it has one.
fn field_base_type(api: &Api, field: &Field) -> TokenStream {
    match field.id_type {
        Some(id) => {
            let ident = type_ident(&api.ids[id].name);
            quote! { #ident }
        }
        None => type_tokens(api, &field.ty, &TokenStream::new()),
    }
}

/// A field's Rust type as its struct declares it.
fn field_type(api: &Api, field: &Field) -> TokenStream {
    let mut ty = field_base_type(api, field);
    if field.boxed {
        ty = quote! { Box<#ty> };
    }
    if is_three_state(field) {
        let runtime = runtime_path(api);
        ty = quote! { #runtime::Nullable<#ty> };
    } else if !field.required || field.nullable {
        ty = quote! { Option<#ty> };
    }
    ty
}

/// An optional field the document says is nullable: absent, `null` or a
/// value, a `klarna_runtime::Nullable`. (A required nullable field is an
/// `Option` written as `null`; an optional one that is not nullable, an
/// `Option` left out when `None`.)
pub fn is_three_state(field: &Field) -> bool {
    !field.required && field.nullable
}

fn runtime_path(api: &Api) -> syn::Path {
    syn::parse_str(api.settings.runtime).expect("config.rs names the runtime as a Rust path")
}

fn emit_field(api: &Api, field: &Field) -> TokenStream {
    let doc = docs::outer(&field.doc);
    let ident = field_ident(&field.name);
    let ty = field_type(api, field);
    let mut serde_args = Vec::new();
    let rust_name = names::ident_text(&field.name);
    if field.json_name != rust_name.trim_start_matches("r#") {
        let json_name = &field.json_name;
        serde_args.push(quote! { rename = #json_name });
    }
    if is_three_state(field) {
        let skip = format!("{}::Nullable::is_absent", api.settings.runtime);
        // `default`: a missing key is `Absent` where serde's derive reads
        // the struct (the generated `Deserialize` starts from it anyway).
        serde_args.push(quote! { default, skip_serializing_if = #skip });
    } else if !field.required {
        serde_args.push(quote! { skip_serializing_if = "Option::is_none" });
    }
    let serde_attr = (!serde_args.is_empty()).then(|| quote! { #[serde(#(#serde_args),*)] });
    quote! {
        #doc
        #serde_attr
        pub #ident: #ty,
    }
}

const UNKNOWN_DOC: &str =
    " A value this version of the SDK does not know, kept exactly as received.";

fn emit_string_enum(api: &Api, name: &Ident, variants: &[Variant<String>]) -> TokenStream {
    let private = runtime_private(api);
    let idents: Vec<Ident> = variants.iter().map(|v| type_ident(&v.name)).collect();
    let values: Vec<&str> = variants.iter().map(|v| v.value.as_str()).collect();
    let value_docs = values.iter().map(|v| format!(" {}", docs::code(v)));
    quote! {
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum #name {
            #(#[doc = #value_docs] #idents,)*
            #[doc = #UNKNOWN_DOC]
            Unknown(String),
        }

        impl #name {
            /// The value as it appears in JSON.
            pub fn as_str(&self) -> &str {
                match self {
                    #(Self::#idents => #values,)*
                    Self::Unknown(value) => value,
                }
            }
        }

        impl From<&str> for #name {
            fn from(value: &str) -> Self {
                match value {
                    #(#values => Self::#idents,)*
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl Serialize for #name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for #name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                #private::open_enum::deserialize_str(deserializer)
            }
        }
    }
}

fn emit_integer_enum(name: &Ident, variants: &[Variant<i64>]) -> TokenStream {
    let idents: Vec<Ident> = variants.iter().map(|v| type_ident(&v.name)).collect();
    let values: Vec<i64> = variants.iter().map(|v| v.value).collect();
    let value_docs = values.iter().map(|v| format!(" `{v}`"));
    quote! {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum #name {
            #(#[doc = #value_docs] #idents,)*
            #[doc = #UNKNOWN_DOC]
            Unknown(i64),
        }

        impl #name {
            /// The value as it appears in JSON.
            pub fn as_i64(self) -> i64 {
                match self {
                    #(Self::#idents => #values,)*
                    Self::Unknown(value) => value,
                }
            }
        }

        impl From<i64> for #name {
            fn from(value: i64) -> Self {
                match value {
                    #(#values => Self::#idents,)*
                    other => Self::Unknown(other),
                }
            }
        }

        impl Serialize for #name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_i64(self.as_i64())
            }
        }

        impl<'de> Deserialize<'de> for #name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                i64::deserialize(deserializer).map(Self::from)
            }
        }
    }
}

fn emit_union(api: &Api, name: &Ident, u: &Union) -> TokenStream {
    let derive_eq = u.derives.eq.then(|| quote! { Eq, });
    let idents: Vec<Ident> = u.variants.iter().map(|v| type_ident(&v.name)).collect();
    let types = u.variants.iter().map(|v| {
        let ty = type_tokens(api, &v.ty, &TokenStream::new());
        if v.boxed {
            quote! { Box<#ty> }
        } else {
            ty
        }
    });
    let needs_other = u.tag.is_some() || !u.variants.iter().any(|v| v.ty == TypeRef::Json);
    let other = needs_other.then(|| {
        quote! {
            /// A shape this version of the SDK does not know, kept as received.
            Other(serde_json::Value),
        }
    });
    let Some(tag) = &u.tag else {
        return quote! {
            #[derive(Clone, Debug, PartialEq, #derive_eq Serialize, Deserialize)]
            #[serde(untagged)]
            pub enum #name {
                #(#idents(#types),)*
                #other
            }
        };
    };
    // With a discriminator the tag picks the variant; the tag property stays
    // in the object, where the variant's own type expects it.
    let arms = u.variants.iter().zip(&idents).map(|(v, ident)| {
        let values = &v.tag_values;
        let wrap = if v.boxed {
            quote! { |v| Self::#ident(Box::new(v)) }
        } else {
            quote! { Self::#ident }
        };
        quote! { #(Some(#values))|* => serde_json::from_value(value).map(#wrap), }
    });
    quote! {
        #[derive(Clone, Debug, PartialEq, #derive_eq Serialize)]
        #[serde(untagged)]
        pub enum #name {
            #(#idents(#types),)*
            #other
        }

        impl<'de> Deserialize<'de> for #name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = serde_json::Value::deserialize(deserializer)?;
                let tag = value.get(#tag).and_then(serde_json::Value::as_str).map(str::to_owned);
                let variant = match tag.as_deref() {
                    #(#arms)*
                    _ => return Ok(Self::Other(value)),
                };
                variant.map_err(serde::de::Error::custom)
            }
        }
    }
}
