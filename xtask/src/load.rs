//! Stage 1: read a file and turn it into an `openapiv3::OpenAPI`.
//!
//! The document goes through a plain JSON tree first: YAML and JSON both end
//! up there, the few lenient fix-ups the real documents need are applied to
//! it, and deserialising from it lets `serde_path_to_error` report a JSON
//! pointer instead of a serde message with no place.

use std::path::Path;

use openapiv3::OpenAPI;
use serde_json::{Map, Value};

use crate::error::{Error, Pointer, Result};

/// A parsed document and the file it came from.
pub struct Document {
    pub path: std::path::PathBuf,
    pub api: OpenAPI,
}

pub fn load(path: &Path) -> Result<Document> {
    from_tree(path, read_tree(path)?)
}

/// A YAML or JSON file as a JSON tree, before any OpenAPI check.
pub fn read_tree(path: &Path) -> Result<Value> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::in_file(path, format!("cannot read: {e}")))?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let (line, column) = line_and_column(&bytes[..e.valid_up_to()]);
        Error::at(
            path,
            format!("line {line}, column {column}"),
            "not valid UTF-8",
        )
    })?;
    parse_tree(path, text)
}

/// A document already parsed into a JSON tree; `path` is the file errors
/// name.
pub fn from_tree(path: &Path, mut tree: Value) -> Result<Document> {
    if check_version(path, &tree)? == Version::V3_1 {
        crate::normalise::normalise_3_1(path, &mut tree)?;
    }
    check_parameter_styles(path, &tree)?;
    default_header_schemas(&mut tree);
    let api = serde_path_to_error::deserialize(&tree).map_err(|e| {
        let pointer = pointer_of(e.path());
        Error::at(path, pointer.as_str(), e.inner().to_string())
    })?;
    Ok(Document {
        path: path.to_path_buf(),
        api,
    })
}

fn parse_tree(path: &Path, text: &str) -> Result<Value> {
    let is_json =
        path.extension().is_some_and(|ext| ext == "json") || text.trim_start().starts_with('{');
    if is_json {
        return serde_json::from_str(text).map_err(|e| {
            Error::at(
                path,
                format!("line {}, column {}", e.line(), e.column()),
                e.to_string(),
            )
        });
    }
    check_printable(path, text)?;
    let mut yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|e| {
        let location = match e.location() {
            Some(l) => format!("line {}, column {}", l.line(), l.column()),
            None => "#".to_owned(),
        };
        Error::at(path, location, e.to_string())
    })?;
    yaml.apply_merge()
        .map_err(|e| Error::at(path, "#", format!("YAML merge key: {e}")))?;
    yaml_to_json(path, &Pointer::root(), yaml)
}

/// YAML forbids most control characters anywhere in a document; the YAML
/// parser rejects them with a byte offset only, so find the first here to
/// name its line and column.
fn check_printable(path: &Path, text: &str) -> Result<()> {
    let printable = |c: char| {
        matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}')
            || matches!(c, '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
    };
    match text.char_indices().find(|&(_, c)| !printable(c)) {
        None => Ok(()),
        Some((offset, c)) => {
            let (line, column) = line_and_column(&text.as_bytes()[..offset]);
            Err(Error::at(
                path,
                format!("line {line}, column {column}"),
                format!(
                    "control character U+{:04X} is not allowed in YAML",
                    u32::from(c)
                ),
            ))
        }
    }
}

/// YAML allows keys and values JSON has no room for; OpenAPI documents use
/// unquoted status codes (`200:`) as keys, so scalar keys become strings.
fn yaml_to_json(path: &Path, at: &Pointer, yaml: serde_yaml_ng::Value) -> Result<Value> {
    use serde_yaml_ng::Value as Y;
    Ok(match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or_else(|| {
                        Error::at(path, at.as_str(), format!("number {n} has no JSON form"))
                    })?
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| yaml_to_json(path, &at.join(i), item))
                .collect::<Result<_>>()?,
        ),
        Y::Mapping(mapping) => {
            let mut object = Map::new();
            for (key, value) in mapping {
                let key = match key {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => {
                        return Err(Error::at(
                            path,
                            at.as_str(),
                            format!("mapping key {other:?} is not a string"),
                        ))
                    }
                };
                let value = yaml_to_json(path, &at.join(&key), value)?;
                object.insert(key, value);
            }
            Value::Object(object)
        }
        Y::Tagged(tagged) => yaml_to_json(path, at, tagged.value)?,
    })
}

/// The OpenAPI versions read: 3.1 documents are normalised to 3.0 first.
#[derive(PartialEq, Eq)]
enum Version {
    V3_0,
    V3_1,
}

fn check_version(path: &Path, tree: &Value) -> Result<Version> {
    let Some(root) = tree.as_object() else {
        return Err(Error::at(path, "#", "the document is not a mapping"));
    };
    match root.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.0") => Ok(Version::V3_0),
        Some(v) if v.starts_with("3.1") => Ok(Version::V3_1),
        Some(v) => Err(Error::at(
            path,
            "#/openapi",
            format!("OpenAPI {v} is not supported; only 3.0.x and 3.1.x are"),
        )),
        None if root.contains_key("swagger") => Err(Error::at(
            path,
            "#/swagger",
            "Swagger 2.0 is not supported; convert the document to OpenAPI 3.0",
        )),
        None => Err(Error::at(
            path,
            "#/openapi",
            "missing the `openapi` version field",
        )),
    }
}

/// A parameter's `style` must be one its place (`in`) has. The parser
/// would refuse it too, but its error points only at `#/paths`: the
/// parameter is an internally tagged enum, where serde loses the path.
fn check_parameter_styles(path: &Path, tree: &Value) -> Result<()> {
    let check = |parameter: &Value, at: Pointer| -> Result<()> {
        let (Some(place), Some(style)) = (
            parameter.get("in").and_then(Value::as_str),
            parameter.get("style").and_then(Value::as_str),
        ) else {
            return Ok(());
        };
        let styles: &[&str] = match place {
            "path" => &["simple", "label", "matrix"],
            "query" => &["form", "spaceDelimited", "pipeDelimited", "deepObject"],
            "header" => &["simple"],
            "cookie" => &["form"],
            _ => return Ok(()),
        };
        if styles.contains(&style) {
            Ok(())
        } else {
            Err(Error::at(
                path,
                at.join("style").as_str(),
                format!(
                    "style `{style}` is not one of a {place} parameter's ({})",
                    styles.join(", ")
                ),
            ))
        }
    };
    let list = |parameters: Option<&Value>, at: Pointer| -> Result<()> {
        if let Some(Value::Array(parameters)) = parameters {
            for (i, parameter) in parameters.iter().enumerate() {
                check(parameter, at.join(i))?;
            }
        }
        Ok(())
    };
    if let Some(Value::Object(items)) = tree.get("paths") {
        for (route, item) in items {
            let item_at = Pointer::root().join("paths").join(route);
            list(item.get("parameters"), item_at.join("parameters"))?;
            if let Value::Object(operations) = item {
                for (method, operation) in operations {
                    let at = item_at.join(method).join("parameters");
                    list(operation.get("parameters"), at)?;
                }
            }
        }
    }
    if let Some(Value::Object(parameters)) = tree.pointer("/components/parameters") {
        for (name, parameter) in parameters {
            check(
                parameter,
                Pointer::root()
                    .join("components")
                    .join("parameters")
                    .join(name),
            )?;
        }
    }
    Ok(())
}

/// A header that declares neither `schema` nor `content` is a plain string on
/// the wire; give it that schema instead of rejecting the document.
fn default_header_schemas(tree: &mut Value) {
    fn fix_headers(headers: Option<&mut Value>) {
        let Some(Value::Object(headers)) = headers else {
            return;
        };
        for header in headers.values_mut() {
            if let Value::Object(header) = header {
                if !header.contains_key("$ref")
                    && !header.contains_key("schema")
                    && !header.contains_key("content")
                {
                    header.insert("schema".to_owned(), serde_json::json!({ "type": "string" }));
                }
            }
        }
    }
    fn fix_responses(responses: Option<&mut Value>) {
        let Some(Value::Object(responses)) = responses else {
            return;
        };
        for response in responses.values_mut() {
            fix_headers(response.get_mut("headers"));
        }
    }
    if let Some(components) = tree.get_mut("components") {
        fix_headers(components.get_mut("headers"));
        fix_responses(components.get_mut("responses"));
    }
    if let Some(Value::Object(paths)) = tree.get_mut("paths") {
        for item in paths.values_mut() {
            if let Value::Object(item) = item {
                for operation in item.values_mut() {
                    fix_responses(operation.get_mut("responses"));
                }
            }
        }
    }
}

fn pointer_of(path: &serde_path_to_error::Path) -> Pointer {
    use serde_path_to_error::Segment;
    path.iter()
        .fold(Pointer::root(), |pointer, segment| match segment {
            Segment::Seq { index } => pointer.join(index),
            Segment::Map { key } => pointer.join(key),
            Segment::Enum { .. } | Segment::Unknown => pointer,
        })
}

fn line_and_column(prefix: &[u8]) -> (usize, usize) {
    let line = prefix.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = prefix.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, column)
}
