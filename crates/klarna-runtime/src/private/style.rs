//! Parameter serialisation by OpenAPI `style` and `explode`, as the style
//! table of the OpenAPI specification gives it (3.0.4 and 3.1.1, the patch
//! releases that settled the table: a non-exploded `label` list is
//! comma-separated as RFC 6570 says, and the `|`, `[` and `]` that RFC 3986
//! forbids in a query are percent-encoded).
//!
//! The generated code turns a parameter's value into a [`Value`] (the text of
//! a primitive, of each item of an array, or of each property of an object,
//! in document order) and hands it here with the parameter's style. Values
//! are percent-encoded (everything but RFC 3986's unreserved characters), the
//! delimiters the style adds are not. The generator refuses the combinations
//! the table does not define, so none reaches this module; should one
//! anyway, it is written in the nearest defined form rather than dropped.

use std::fmt::Write as _;

/// A parameter's `style`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Path and header: `blue,black,brown`.
    Simple,
    /// Path: `.blue`.
    Label,
    /// Path: `;color=blue`.
    Matrix,
    /// Query: `color=blue`.
    Form,
    /// Query, arrays and objects: `color=blue%20black%20brown`.
    SpaceDelimited,
    /// Query, arrays and objects: `color=blue%7Cblack%7Cbrown`.
    PipeDelimited,
    /// Query, objects: `color%5BR%5D=100`.
    DeepObject,
}

/// A parameter's value as text, before any encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    Primitive(String),
    List(Vec<String>),
    /// Properties in document order; absent optional ones are left out.
    Object(Vec<(&'a str, String)>),
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(out: &mut String, text: &str) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

fn encoded(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    encode(&mut out, text);
    out
}

/// The items of a value joined by `separator`; an object's keys and values
/// alternate (`R,100,G,200`), or pair up with `=` when `pairs`.
fn joined(value: &Value<'_>, separator: &str, pairs: bool) -> String {
    let mut out = String::new();
    match value {
        Value::Primitive(text) => encode(&mut out, text),
        Value::List(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(separator);
                }
                encode(&mut out, item);
            }
        }
        Value::Object(properties) => {
            for (i, (key, value)) in properties.iter().enumerate() {
                if i > 0 {
                    out.push_str(separator);
                }
                encode(&mut out, key);
                out.push_str(if pairs { "=" } else { separator });
                encode(&mut out, value);
            }
        }
    }
    out
}

/// A path parameter's text, to replace `{name}` in the path template.
pub fn path(name: &str, style: Style, explode: bool, value: &Value<'_>) -> String {
    match style {
        Style::Label => {
            let separator = if explode { "." } else { "," };
            format!(".{}", joined(value, separator, explode))
        }
        Style::Matrix => {
            let name = encoded(name);
            match (value, explode) {
                (Value::List(items), true) => items
                    .iter()
                    .map(|item| format!(";{name}={}", encoded(item)))
                    .collect(),
                (Value::Object(_), true) => format!(";{}", joined(value, ";", true)),
                (value, _) => match joined(value, ",", false) {
                    // `;color` for an empty value, as the table says.
                    text if text.is_empty() => format!(";{name}"),
                    text => format!(";{name}={text}"),
                },
            }
        }
        _ => joined(value, ",", explode),
    }
}

/// A header parameter's value (`simple`).
pub fn header(explode: bool, value: &Value<'_>) -> String {
    // Header values are not URLs: only the text itself, unencoded.
    match value {
        Value::Primitive(text) => text.clone(),
        Value::List(items) => items.join(","),
        Value::Object(properties) => {
            let separator = if explode { "=" } else { "," };
            properties
                .iter()
                .map(|(key, value)| format!("{key}{separator}{value}"))
                .collect::<Vec<_>>()
                .join(",")
        }
    }
}

/// A query parameter as `name=value` pairs, encoded, to be joined by `&`.
/// An empty array or object is left out (RFC 6570: an empty list is
/// undefined).
pub fn query(name: &str, style: Style, explode: bool, value: &Value<'_>) -> Vec<String> {
    let name_text = encoded(name);
    let is_empty = match value {
        Value::Primitive(_) => false,
        Value::List(items) => items.is_empty(),
        Value::Object(properties) => properties.is_empty(),
    };
    if is_empty {
        return Vec::new();
    }
    match (style, value) {
        (Style::SpaceDelimited, _) => vec![format!("{name_text}={}", joined(value, "%20", false))],
        (Style::PipeDelimited, _) => vec![format!("{name_text}={}", joined(value, "%7C", false))],
        (Style::DeepObject, Value::Object(properties)) => properties
            .iter()
            .map(|(key, value)| format!("{name_text}%5B{}%5D={}", encoded(key), encoded(value)))
            .collect(),
        (_, Value::List(items)) if explode => items
            .iter()
            .map(|item| format!("{name_text}={}", encoded(item)))
            .collect(),
        (_, Value::Object(properties)) if explode => properties
            .iter()
            .map(|(key, value)| format!("{}={}", encoded(key), encoded(value)))
            .collect(),
        _ => vec![format!("{name_text}={}", joined(value, ",", false))],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_characters_in_values_are_encoded_and_delimiters_are_not() {
        let list = Value::List(vec!["a,b".into(), "c&d".into(), "e/f".into()]);
        assert_eq!(
            query("q", Style::Form, false, &list),
            ["q=a%2Cb,c%26d,e%2Ff"]
        );
        assert_eq!(path("p", Style::Simple, false, &list), "a%2Cb,c%26d,e%2Ff");
        assert_eq!(
            path("p", Style::Matrix, true, &list),
            ";p=a%2Cb;p=c%26d;p=e%2Ff"
        );
    }

    #[test]
    fn empty_lists_are_left_out_of_the_query() {
        assert!(query("q", Style::Form, true, &Value::List(Vec::new())).is_empty());
        assert_eq!(
            query("q", Style::Form, true, &Value::Primitive(String::new())),
            ["q="]
        );
    }
}
