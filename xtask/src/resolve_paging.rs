//! Stage 2c: `x-paging`, our extension that marks a list operation whose
//! items the client can read across pages (`into_items()`).
//!
//! ```yaml
//! x-paging:
//!   items: payouts          # the answer's property that holds the page's items
//!   next: pagination.next   # optional: the dotted path to the next page's link
//!   offset: offset          # the query parameter that takes the offset
//!   size: size              # optional: the query parameter that takes the page size
//! ```
//!
//! [`read`] takes it from the operation while operations are resolved;
//! [`check`] then proves every name in it against the resolved types, so
//! that emitting cannot fail on it.

use crate::error::{Error, Pointer, Result};
use crate::model::{
    unalias, Field, Operation, Paging, ParamLocation, ResponseBody, TypeDef, TypeKind, TypeRef,
};
use std::path::Path;

pub const PAGING_EXTENSION: &str = "x-paging";

/// The extension's keys, refusing those it does not know so that a typo is
/// not silently a default.
pub fn read(
    file: &Path,
    value: Option<&serde_json::Value>,
    at: &Pointer,
) -> Result<Option<Paging>> {
    let Some(value) = value else {
        return Ok(None);
    };
    let at = at.join(PAGING_EXTENSION);
    let error = |at: &Pointer, message: &str| Error::at(file, at.as_str(), message);
    let serde_json::Value::Object(fields) = value else {
        return Err(error(&at, "`x-paging` must be an object"));
    };
    let text = |key: &str| -> Result<Option<String>> {
        match fields.get(key) {
            None => Ok(None),
            Some(serde_json::Value::String(name)) if !name.is_empty() => Ok(Some(name.clone())),
            Some(_) => Err(error(&at.join(key), "must be a non-empty string")),
        }
    };
    let paging = Paging {
        pointer: at.as_str().to_owned(),
        items: text("items")?.ok_or_else(|| error(&at, "`x-paging` needs `items`"))?,
        next: text("next")?.map(|path| path.split('.').map(str::to_owned).collect()),
        offset: text("offset")?.ok_or_else(|| error(&at, "`x-paging` needs `offset`"))?,
        size: text("size")?,
    };
    if let Some(key) = fields
        .keys()
        .find(|key| !["items", "next", "offset", "size"].contains(&key.as_str()))
    {
        return Err(error(
            &at.join(key),
            &format!("`x-paging` has no key `{key}` (only `items`, `next`, `offset` and `size`)"),
        ));
    }
    Ok(Some(paging))
}

/// The struct field `name` of `ty`, when `ty` is (an alias of) a struct.
pub fn field<'t>(types: &'t [TypeDef], ty: &'t TypeRef, name: &str) -> Option<&'t Field> {
    let TypeRef::Named(id) = unalias(ty, |id| types.get(id).map(|t| &t.kind)) else {
        return None;
    };
    let TypeKind::Struct(s) = &types[*id].kind else {
        return None;
    };
    s.fields.iter().find(|f| f.json_name == name)
}

/// The type of the success body a paged operation's pages come in.
pub fn page_type(op: &Operation) -> Option<&TypeRef> {
    match op.successes.as_slice() {
        [single] => match &single.body {
            Some(ResponseBody::Json(ty)) => Some(ty),
            _ => None,
        },
        _ => None,
    }
}

/// Proves an operation's `x-paging` against its resolved types and
/// parameters.
pub fn check(file: &Path, types: &[TypeDef], op: &Operation) -> Result<()> {
    let Some(paging) = &op.paging else {
        return Ok(());
    };
    let error =
        |key: &str, message: String| Error::at(file, format!("{}/{key}", paging.pointer), message);
    let Some(page) = page_type(op) else {
        return Err(Error::at(
            file,
            &paging.pointer,
            "a paged operation needs exactly one success response, with a JSON body",
        ));
    };
    let items = field(types, page, &paging.items).ok_or_else(|| {
        error(
            "items",
            format!("the answer has no property `{}`", paging.items),
        )
    })?;
    if !matches!(
        unalias(&items.ty, |id| types.get(id).map(|t| &t.kind)),
        TypeRef::Vec(_)
    ) || items.boxed
    {
        return Err(error(
            "items",
            format!("`{}` is not an array", paging.items),
        ));
    }
    if let Some(path) = &paging.next {
        let mut ty = page;
        for (i, name) in path.iter().enumerate() {
            let found = field(types, ty, name).filter(|f| !f.boxed).ok_or_else(|| {
                error(
                    "next",
                    format!("`{}` leads to no property `{name}`", path[..i].join(".")),
                )
            })?;
            ty = &found.ty;
        }
        if unalias(ty, |id| types.get(id).map(|t| &t.kind)) != &TypeRef::String {
            return Err(error(
                "next",
                format!("`{}` is not a string", path.join(".")),
            ));
        }
    }
    for (key, name) in [
        ("offset", Some(&paging.offset)),
        ("size", paging.size.as_ref()),
    ] {
        let Some(name) = name else { continue };
        let param = op
            .params
            .iter()
            .find(|p| p.location == ParamLocation::Query && &p.wire_name == name)
            .ok_or_else(|| {
                error(
                    key,
                    format!("the operation has no query parameter `{name}`"),
                )
            })?;
        if unalias(&param.ty, |id| types.get(id).map(|t| &t.kind)) != &TypeRef::I64 {
            return Err(error(key, format!("`{name}` is not an int64 integer")));
        }
    }
    Ok(())
}
