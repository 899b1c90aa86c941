//! Stage 3c: `into_items()` on the request value of a paged operation
//! (`x-paging`, checked in `resolve_paging.rs`): the items across pages, as
//! a `Paginator` of the runtime that calls the operation once per page.

use proc_macro2::TokenStream;
use quote::quote;

use crate::emit_models::{field_ident, type_ident, type_tokens};
use crate::model::{unalias, Api, ParamLocation, TypeRef};
use crate::resolve_paging::{field, page_type};

/// `impl Builder { pub fn into_items(self) -> Paginator<..> }`, for a paged
/// operation; nothing for the others. The client module hands over the two
/// things it names itself: the operation's error type and the path of its
/// models (so that this stage needs nothing of `emit_client`).
pub fn into_items(
    api: &Api,
    index: usize,
    error: TokenStream,
    models: &TokenStream,
) -> Option<TokenStream> {
    let op = &api.operations[index];
    let items = &api.client.operations[index];
    let paging = op.paging.as_ref()?;
    let checked = "resolve_paging::check proved it";
    let types = &api.types[..];
    let page = page_type(op).expect(checked);
    let runtime: syn::Path = syn::parse_str(api.settings.runtime).expect(checked);
    let trait_name = &api.client.traits[items.trait_index].name;
    let trait_ident = type_ident(trait_name);
    let builder = type_ident(&items.builder);
    let send = field_ident(&items.send_method);
    let constant = proc_macro2::Ident::new(&items.constant, proc_macro2::Span::call_site());

    let items_field = field(types, page, &paging.items).expect(checked);
    let TypeRef::Vec(item) = unalias(&items_field.ty, |id| types.get(id).map(|t| &t.kind)) else {
        unreachable!("{checked}")
    };
    let item = type_tokens(api, item, models);
    let items_ident = field_ident(&items_field.name);
    let items_optional = !items_field.required || items_field.nullable;
    let take_items = if items_optional {
        quote! { page.#items_ident.unwrap_or_default() }
    } else {
        quote! { page.#items_ident }
    };

    // The next link: each property along the path may be optional.
    let next = match &paging.next {
        None => quote! { #runtime::private::paging::Next::Offsets },
        Some(path) => {
            let mut ty = page;
            let mut expr = quote! { page };
            let mut is_option = false;
            for name in path {
                let f = field(types, ty, name).expect(checked);
                let ident = field_ident(&f.name);
                let optional = !f.required || f.nullable;
                expr = match (is_option, optional) {
                    (false, _) => quote! { #expr.#ident },
                    (true, true) => quote! { #expr.and_then(|v| v.#ident) },
                    (true, false) => quote! { #expr.map(|v| v.#ident) },
                };
                is_option |= optional;
                ty = &f.ty;
            }
            let link = if is_option {
                expr
            } else {
                quote! { Some(#expr) }
            };
            quote! { #runtime::private::paging::Next::Link(#link) }
        }
    };

    let param = |wire: &str| {
        op.params
            .iter()
            .find(|p| p.location == ParamLocation::Query && p.wire_name == wire)
            .expect(checked)
    };
    let offset = param(&paging.offset);
    let offset_ident = field_ident(&offset.name);
    let offset_wire = &offset.wire_name;
    let (first, set_offset) = if offset.required {
        (
            quote! { request.#offset_ident },
            quote! { request.#offset_ident = offset; },
        )
    } else {
        (
            quote! { request.#offset_ident.unwrap_or(0) },
            quote! { request.#offset_ident = Some(offset); },
        )
    };
    let size = match paging.size.as_deref().map(param) {
        None => quote! { None },
        Some(size) if size.required => {
            let ident = field_ident(&size.name);
            quote! { Some(request.#ident) }
        }
        Some(size) => {
            let ident = field_ident(&size.name);
            quote! { request.#ident }
        }
    };
    let doc = format!(
        " Every item across the pages, one page fetched at a time from the \
         offset set here (or the first): `while let Some(item) = items.next().await`. \
         Each page is one [`{trait_name}::{}`] call with this request and its \
         offset, retried as any call; the next page's offset comes from the \
         answer, and an error ends the items (see [`Paginator`]).\n\n \
         [`Paginator`]: {}::Paginator",
        op.name, api.settings.runtime
    );
    Some(quote! {
        impl<'a, C: #trait_ident + Sync> #builder<'a, C> {
            #[doc = #doc]
            pub fn into_items(self) -> #runtime::Paginator<'a, #item, #error> {
                let #builder { client, request } = self;
                let first = #first;
                let size = #size;
                #runtime::Paginator::new(
                    operations::#constant.name,
                    #offset_wire,
                    first,
                    size,
                    move |offset| {
                        let mut request = request.clone();
                        #set_offset
                        Box::pin(async move {
                            let page = client.#send(request).await?.into_inner();
                            let next = #next;
                            Ok(#runtime::private::paging::Page { items: #take_items, next })
                        })
                    },
                )
            }
        }
    })
}
