//! Stage 2c: decisions that need the whole set of types: which fields must
//! be boxed to break recursion, which derives are valid, and which type
//! aliases could never compile.

use std::path::Path;

use crate::error::{Error, Result};
use crate::model::{TypeDef, TypeId, TypeKind, TypeRef};

pub fn settle(file: &Path, types: &mut [TypeDef]) -> Result<()> {
    check_alias_cycles(file, types)?;
    box_recursive_fields(types);
    settle_derives(types);
    Ok(())
}

/// Named types a value of `ty` contains inline (not behind a `Vec` or map,
/// which allocate and so break recursion themselves).
fn inline_targets(ty: &TypeRef, out: &mut Vec<TypeId>) {
    match ty {
        TypeRef::Named(id) => out.push(*id),
        TypeRef::Nullable(inner) => inline_targets(inner, out),
        _ => {}
    }
}

fn all_targets(ty: &TypeRef, out: &mut Vec<TypeId>) {
    match ty {
        TypeRef::Named(id) => out.push(*id),
        TypeRef::Nullable(inner) | TypeRef::Vec(inner) | TypeRef::Map(inner) => {
            all_targets(inner, out)
        }
        _ => {}
    }
}

fn inline_edges(def: &TypeDef) -> Vec<TypeId> {
    let mut out = Vec::new();
    match &def.kind {
        TypeKind::Struct(s) => s
            .fields
            .iter()
            .for_each(|f| inline_targets(&f.ty, &mut out)),
        TypeKind::Union(u) => u
            .variants
            .iter()
            .for_each(|v| inline_targets(&v.ty, &mut out)),
        TypeKind::Alias(ty) => inline_targets(ty, &mut out),
        TypeKind::StringEnum(_) | TypeKind::IntegerEnum(_) => {}
    }
    out
}

fn reaches(types: &[TypeDef], from: TypeId, target: TypeId) -> bool {
    let mut seen = vec![false; types.len()];
    let mut stack = vec![from];
    while let Some(id) = stack.pop() {
        if id == target {
            return true;
        }
        if !std::mem::replace(&mut seen[id], true) {
            stack.extend(inline_edges(&types[id]));
        }
    }
    false
}

fn leads_back(types: &[TypeDef], ty: &TypeRef, container: TypeId) -> bool {
    let mut targets = Vec::new();
    inline_targets(ty, &mut targets);
    targets.into_iter().any(|t| reaches(types, t, container))
}

/// Every cycle of inline containment passes through a struct field or a
/// union variant (pure alias cycles are rejected first); boxing each such
/// edge on a cycle makes every type finite.
fn box_recursive_fields(types: &mut [TypeDef]) {
    for id in 0..types.len() {
        let boxed: Vec<bool> = match &types[id].kind {
            TypeKind::Struct(s) => s
                .fields
                .iter()
                .map(|f| leads_back(types, &f.ty, id))
                .collect(),
            TypeKind::Union(u) => u
                .variants
                .iter()
                .map(|v| leads_back(types, &v.ty, id))
                .collect(),
            _ => continue,
        };
        match &mut types[id].kind {
            TypeKind::Struct(s) => s
                .fields
                .iter_mut()
                .zip(boxed)
                .for_each(|(f, b)| f.boxed = b),
            TypeKind::Union(u) => u
                .variants
                .iter_mut()
                .zip(boxed)
                .for_each(|(v, b)| v.boxed = b),
            _ => {}
        }
    }
}

/// `type A = Vec<B>; type B = A;` can never compile: reject it with the
/// place to fix.
fn check_alias_cycles(file: &Path, types: &[TypeDef]) -> Result<()> {
    let alias_edges = |id: TypeId| -> Vec<TypeId> {
        let mut out = Vec::new();
        if let TypeKind::Alias(ty) = &types[id].kind {
            all_targets(ty, &mut out);
        }
        out.retain(|&t| matches!(types[t].kind, TypeKind::Alias(_)));
        out
    };
    for start in 0..types.len() {
        let mut seen = vec![false; types.len()];
        let mut stack = alias_edges(start);
        while let Some(id) = stack.pop() {
            if id == start {
                return Err(Error::at(
                    file,
                    types[start].pointer.as_str(),
                    "the schema is defined only in terms of itself (a reference cycle with no object in it)",
                ));
            }
            if !std::mem::replace(&mut seen[id], true) {
                stack.extend(alias_edges(id));
            }
        }
    }
    Ok(())
}

fn settle_derives(types: &mut [TypeDef]) {
    let mut eq = vec![true; types.len()];
    // Greatest fixpoint: a type is `Eq` unless something it holds is not.
    loop {
        let mut changed = false;
        for id in 0..types.len() {
            if eq[id] && !kind_is_eq(&types[id].kind, &eq) {
                eq[id] = false;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    for (def, eq) in types.iter_mut().zip(eq) {
        match &mut def.kind {
            TypeKind::Struct(s) => {
                s.derives.eq = eq;
                // A default value must be a valid instance: only when no
                // field is required (or `null` is allowed for it).
                s.derives.default = s.fields.iter().all(|f| !f.required || f.nullable);
            }
            TypeKind::Union(u) => u.derives.eq = eq,
            _ => {}
        }
    }
}

fn kind_is_eq(kind: &TypeKind, eq: &[bool]) -> bool {
    match kind {
        TypeKind::Struct(s) => {
            s.fields.iter().all(|f| ty_is_eq(&f.ty, eq))
                && s.additional.as_ref().is_none_or(|t| ty_is_eq(t, eq))
        }
        TypeKind::Union(u) => u.variants.iter().all(|v| ty_is_eq(&v.ty, eq)),
        TypeKind::Alias(ty) => ty_is_eq(ty, eq),
        TypeKind::StringEnum(_) | TypeKind::IntegerEnum(_) => true,
    }
}

fn ty_is_eq(ty: &TypeRef, eq: &[bool]) -> bool {
    match ty {
        TypeRef::F32 | TypeRef::F64 => false,
        TypeRef::Named(id) => eq[*id],
        TypeRef::Vec(inner) | TypeRef::Map(inner) | TypeRef::Nullable(inner) => ty_is_eq(inner, eq),
        TypeRef::String | TypeRef::Bool | TypeRef::I32 | TypeRef::I64 | TypeRef::Json => true,
    }
}
