//! Following `$ref`s into a document's `components`: the one place that
//! reads a reference, for schemas, parameters, bodies, responses and headers.

use std::path::Path;

use indexmap::IndexMap;
use openapiv3::ReferenceOr;

use crate::error::{Error, Pointer, Result};

/// The key a reference names in one section of `components`
/// (`#/components/schemas/Foo~1Bar` names `Foo/Bar` in `schemas`), or an
/// error when it points elsewhere.
pub fn key(file: &Path, reference: &str, section: &str, at: &Pointer) -> Result<String> {
    let prefix = format!("#/components/{section}/");
    reference
        .strip_prefix(&prefix)
        .map(unescape_pointer_segment)
        .ok_or_else(|| {
            Error::at(
                file,
                at.as_str(),
                format!("unsupported $ref `{reference}`: expected `{prefix}...`"),
            )
        })
}

/// The item `item` is, following `A: {$ref: B}` chains through `section`
/// (bounded, in case they loop), with the pointer of the component it was
/// found in (`None`: `item` itself).
pub fn follow<'a, T>(
    file: &Path,
    item: &'a ReferenceOr<T>,
    section: &str,
    components: Option<&'a IndexMap<String, ReferenceOr<T>>>,
    at: &Pointer,
) -> Result<(&'a T, Option<Pointer>)> {
    let mut item = item;
    let mut found_at = None;
    for _ in 0..32 {
        let reference = match item {
            ReferenceOr::Item(value) => return Ok((value, found_at)),
            ReferenceOr::Reference { reference } => reference,
        };
        let key = key(file, reference, section, at)?;
        let (key, next) = components
            .and_then(|c| c.get_key_value(key.as_str()))
            .ok_or_else(|| {
                Error::at(
                    file,
                    at.as_str(),
                    format!("$ref `{reference}` points to no {}", singular(section)),
                )
            })?;
        found_at = Some(Pointer::root().join("components").join(section).join(key));
        item = next;
    }
    Err(Error::at(
        file,
        at.as_str(),
        "$ref is part of a reference cycle",
    ))
}

/// `schemas` → `schema`, for messages.
fn singular(section: &str) -> &str {
    match section {
        "schemas" => "schema",
        "parameters" => "parameter",
        "requestBodies" => "request body",
        "responses" => "response",
        "headers" => "header",
        other => other,
    }
}

/// `#/components/schemas/Foo~1Bar` names `Foo/Bar`; documents in the wild
/// also percent-encode spaces.
pub fn unescape_pointer_segment(segment: &str) -> String {
    let decoded = if segment.contains('%') {
        percent_decode(segment)
    } else {
        segment.to_owned()
    };
    decoded.replace("~1", "/").replace("~0", "~")
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
