//! The public API outline of generated source: each public item with its
//! signature and nothing else (no docs, no bodies, no private items).
//!
//! Not a pipeline stage: the snapshot tests pin the outline of each spec's
//! output, so that a pull request that changes a spec shows the API change
//! in a few lines, while the committed files show the code change.

use syn::{Attribute, Fields, ImplItem, Item, TraitItem, Visibility};

/// The outline of one generated file, formatted by prettyplease.
pub fn outline(source: &str) -> Result<String, syn::Error> {
    let mut file = syn::parse_file(source)?;
    file.attrs.clear();
    file.items = std::mem::take(&mut file.items)
        .into_iter()
        .filter_map(outline_item)
        .collect();
    Ok(prettyplease::unparse(&file))
}

fn is_pub(vis: &Visibility) -> bool {
    matches!(vis, Visibility::Public(_))
}

/// Keeps the attributes that are part of the API: derives and
/// `non_exhaustive`.
fn api_attrs(attrs: &mut Vec<Attribute>) {
    attrs.retain(|a| a.path().is_ident("derive") || a.path().is_ident("non_exhaustive"));
}

fn outline_item(item: Item) -> Option<Item> {
    match item {
        Item::Struct(mut s) if is_pub(&s.vis) => {
            api_attrs(&mut s.attrs);
            if let Fields::Named(fields) = &mut s.fields {
                fields.named = std::mem::take(&mut fields.named)
                    .into_iter()
                    .filter(|f| is_pub(&f.vis))
                    .map(|mut f| {
                        f.attrs.clear();
                        f
                    })
                    .collect();
            }
            Some(Item::Struct(s))
        }
        Item::Enum(mut e) if is_pub(&e.vis) => {
            api_attrs(&mut e.attrs);
            for variant in &mut e.variants {
                variant.attrs.clear();
                for field in variant.fields.iter_mut() {
                    field.attrs.clear();
                }
            }
            Some(Item::Enum(e))
        }
        Item::Type(mut t) if is_pub(&t.vis) => {
            t.attrs.clear();
            Some(Item::Type(t))
        }
        Item::Const(mut c) if is_pub(&c.vis) => {
            c.attrs.clear();
            Some(Item::Const(c))
        }
        Item::Use(mut u) if is_pub(&u.vis) => {
            u.attrs.clear();
            Some(Item::Use(u))
        }
        Item::Mod(mut m) if is_pub(&m.vis) => {
            m.attrs.retain(|a| a.path().is_ident("cfg"));
            if let Some((_, items)) = &mut m.content {
                *items = std::mem::take(items)
                    .into_iter()
                    .filter_map(outline_item)
                    .collect();
            }
            Some(Item::Mod(m))
        }
        Item::Trait(mut t) if is_pub(&t.vis) => {
            t.attrs.clear();
            for item in &mut t.items {
                if let TraitItem::Fn(f) = item {
                    f.attrs.clear();
                    f.default = None;
                }
            }
            Some(Item::Trait(t))
        }
        Item::Impl(mut i) => {
            i.attrs.clear();
            let inherent = i.trait_.is_none();
            i.items.retain_mut(|item| match item {
                // An inherent impl shows its public functions, a trait
                // impl only its associated types (the trait says the rest).
                ImplItem::Fn(f) if inherent && is_pub(&f.vis) => {
                    f.attrs.clear();
                    f.block = syn::parse_quote!({});
                    true
                }
                ImplItem::Type(t) if !inherent => {
                    t.attrs.clear();
                    true
                }
                _ => false,
            });
            (!inherent || !i.items.is_empty()).then_some(Item::Impl(i))
        }
        _ => None,
    }
}
