//! Strict input: an argument or body field that a tool's input schema does
//! not have is refused before anything is sent, naming it and the nearest
//! name the schema knows.
//!
//! The typed models are lenient on purpose (a field Klarna adds to a
//! response must not break anyone), so decoding an argument into them
//! would drop a misspelled `descripton` silently. The generated input
//! schemas say `additionalProperties: false` on every object the caller
//! sends; this walks the arguments against them. Types and required fields
//! stay the typed decoding's job, which names those precisely.

use serde_json::{Map, Value};

/// A field the schema does not have.
#[derive(Debug, PartialEq, Eq)]
pub struct UnknownField {
    /// Where it is (`body.descripton`, `body.order_lines[0].nmae`).
    pub path: String,
    /// The known name nearest to it, when one is near enough to be the
    /// one meant.
    pub suggestion: Option<String>,
}

impl UnknownField {
    pub fn message(&self) -> String {
        match &self.suggestion {
            Some(near) => format!("unknown field `{}`; did you mean `{near}`?", self.path),
            None => format!("unknown field `{}`", self.path),
        }
    }
}

/// The first field of `value` that `schema` (a root with `$defs`) does not
/// allow, if any.
pub fn unknown_field(schema: &Value, value: &Value) -> Option<UnknownField> {
    Walk { root: schema }.check(schema, value, "", 0)
}

struct Walk<'a> {
    root: &'a Value,
}

/// Deeper than any schema of ours; guards against a `$ref` cycle with a
/// value built to follow it.
const MAX_DEPTH: usize = 64;

impl<'a> Walk<'a> {
    fn resolve(&self, schema: &'a Value) -> &'a Value {
        let mut schema = schema;
        for _ in 0..8 {
            match schema
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/$defs/"))
            {
                Some(name) => match self.root.get("$defs").and_then(|d| d.get(name)) {
                    Some(target) => schema = target,
                    None => return schema,
                },
                None => return schema,
            }
        }
        schema
    }

    fn check(
        &self,
        schema: &'a Value,
        value: &Value,
        at: &str,
        depth: usize,
    ) -> Option<UnknownField> {
        if depth > MAX_DEPTH {
            return None;
        }
        let schema = self.resolve(schema);
        if let Some(variants) = schema.get("anyOf").and_then(Value::as_array) {
            return self.check_any(variants, value, at, depth);
        }
        match value {
            Value::Object(object) => {
                let properties = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties");
                self.check_object(object, properties, additional, at, depth)
            }
            Value::Array(items) => {
                let item_schema = schema.get("items")?;
                items.iter().enumerate().find_map(|(i, item)| {
                    self.check(item_schema, item, &format!("{at}[{i}]"), depth + 1)
                })
            }
            _ => None,
        }
    }

    /// A value fits a union when it fits one variant; otherwise the finding
    /// of the variant closest to it (fewest unknown fields at its level).
    fn check_any(
        &self,
        variants: &'a [Value],
        value: &Value,
        at: &str,
        depth: usize,
    ) -> Option<UnknownField> {
        let mut findings = Vec::new();
        for variant in variants {
            let resolved = self.resolve(variant);
            let shape_fits = match (value, resolved.get("type").and_then(Value::as_str)) {
                (_, None) => true,
                (Value::Object(_), Some(t)) => t == "object",
                (Value::Array(_), Some(t)) => t == "array",
                _ => true,
            };
            if !shape_fits {
                continue;
            }
            match self.check(variant, value, at, depth + 1) {
                None => return None,
                Some(finding) => findings.push(finding),
            }
        }
        findings.into_iter().next()
    }

    fn check_object(
        &self,
        object: &Map<String, Value>,
        properties: Option<&'a Map<String, Value>>,
        additional: Option<&'a Value>,
        at: &str,
        depth: usize,
    ) -> Option<UnknownField> {
        for (name, member) in object {
            let path = if at.is_empty() {
                name.clone()
            } else {
                format!("{at}.{name}")
            };
            match (properties.and_then(|p| p.get(name)), additional) {
                (Some(property), _) => {
                    if let Some(found) = self.check(property, member, &path, depth + 1) {
                        return Some(found);
                    }
                }
                (None, Some(Value::Bool(false))) => {
                    let known = properties.into_iter().flat_map(|p| p.keys());
                    return Some(UnknownField {
                        suggestion: nearest(name, known),
                        path,
                    });
                }
                (None, Some(schema @ Value::Object(_))) => {
                    if let Some(found) = self.check(schema, member, &path, depth + 1) {
                        return Some(found);
                    }
                }
                (None, _) => {}
            }
        }
        None
    }
}

/// The known name nearest to `name` by edit distance, if it is near
/// enough to be a slip (a third of the name's length, at least 2) or
/// differs only in case or separators.
pub fn nearest<'k>(name: &str, known: impl IntoIterator<Item = &'k String>) -> Option<String> {
    let folded = fold(name);
    let limit = (name.chars().count() / 3).max(2);
    known
        .into_iter()
        .map(|k| {
            let distance = if fold(k) == folded {
                0
            } else {
                distance(name, k)
            };
            (distance, k)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.clone())
}

fn fold(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Levenshtein distance, with adjacent transpositions counting one.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Names are short; a name of a kilobyte is no slip of anything.
    if a.len() > 256 || b.len() > 256 {
        return usize::MAX;
    }
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "order_id": {"type": "string"},
                "body": {"$ref": "#/$defs/Capture"}
            },
            "additionalProperties": false,
            "$defs": {
                "Capture": {
                    "type": "object",
                    "properties": {
                        "captured_amount": {"type": "integer"},
                        "description": {"type": "string"},
                        "shipping_info": {"type": "array", "items": {"$ref": "#/$defs/Info"}}
                    },
                    "additionalProperties": false
                },
                "Info": {
                    "type": "object",
                    "properties": {"tracking_number": {"type": "string"}},
                    "additionalProperties": false
                }
            }
        })
    }

    #[test]
    fn a_misspelled_field_is_named_with_the_nearest_known_name() {
        let found = unknown_field(
            &schema(),
            &json!({"order_id": "o", "body": {"captured_amount": 1, "descripton": "x"}}),
        )
        .unwrap();
        assert_eq!(found.path, "body.descripton");
        assert_eq!(found.suggestion.as_deref(), Some("description"));
        assert_eq!(
            found.message(),
            "unknown field `body.descripton`; did you mean `description`?"
        );
    }

    #[test]
    fn fields_in_lists_and_at_the_top_are_checked() {
        let found = unknown_field(
            &schema(),
            &json!({"body": {"shipping_info": [{"tracking_numbr": "1"}]}}),
        )
        .unwrap();
        assert_eq!(found.path, "body.shipping_info[0].tracking_numbr");
        assert_eq!(found.suggestion.as_deref(), Some("tracking_number"));
        let found = unknown_field(&schema(), &json!({"orderId": "o"})).unwrap();
        assert_eq!(found.suggestion.as_deref(), Some("order_id"));
        let found = unknown_field(&schema(), &json!({"zzzzzzzz": 1})).unwrap();
        assert_eq!(found.suggestion, None);
    }

    #[test]
    fn known_fields_pass() {
        assert_eq!(
            unknown_field(
                &schema(),
                &json!({"order_id": "o", "body": {"captured_amount": 1, "shipping_info": []}})
            ),
            None
        );
    }
}
