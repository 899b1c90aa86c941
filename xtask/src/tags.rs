//! Part of stage 2c: the discriminator of a union decided by the variant.
//!
//! A struct that is a member of discriminated unions, always under the same
//! property and with a single tag value (`Dog` is `kind: dog` wherever it
//! appears), loses its tag field: its `Serialize` writes the value itself
//! (`#[serde(tag = "kind", rename = "dog")]`), so `Dog` can never be sent
//! as `kind: cat`, and decoding ignores the tag the union already read.
//! Where that cannot hold (a member with two tag values, one in unions
//! with different properties, one with extra properties kept in a
//! flattened map), the field stays, as the document writes it.

use std::collections::BTreeMap;

use crate::model::{Tag, TypeDef, TypeId, TypeKind, TypeRef};

pub fn settle_tags(types: &mut [TypeDef]) {
    // Per member struct: each (property, value) a union gives it.
    let mut wanted: BTreeMap<TypeId, Vec<(String, String)>> = BTreeMap::new();
    for def in types.iter() {
        let TypeKind::Union(union) = &def.kind else {
            continue;
        };
        let Some(property) = &union.tag else { continue };
        for variant in &union.variants {
            let TypeRef::Named(id) = variant.ty else {
                continue;
            };
            let entry = wanted.entry(id).or_default();
            for value in &variant.tag_values {
                entry.push((property.clone(), value.clone()));
            }
        }
    }
    for (id, mut tags) in wanted {
        tags.sort();
        tags.dedup();
        let [(property, value)] = tags.as_slice() else {
            continue;
        };
        let TypeKind::Struct(object) = &mut types[id].kind else {
            continue;
        };
        if object.additional.is_some() || object.tag.is_some() {
            continue;
        }
        // Only a field that holds text can be the tag's.
        let is_text = |field: &crate::model::Field| {
            matches!(field.ty, TypeRef::String | TypeRef::Named(_)) && !field.boxed
        };
        match object.fields.iter().position(|f| f.json_name == *property) {
            Some(index) if is_text(&object.fields[index]) => {
                object.fields.remove(index);
            }
            Some(_) => continue,
            None => {}
        }
        object.tag = Some(Tag {
            property: property.clone(),
            value: value.clone(),
        });
    }
}
