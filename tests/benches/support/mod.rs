//! The order the benches decode, encode and serve: built from the schema in
//! `specs/ordermanagement.yaml`, so that every property the spec documents
//! is filled, today and after the spec grows.

use klarna_models::ordermanagement::MerchantOrderDto;
use serde_json::{Map, Value};

/// Every other array gets this many items: enough to exercise the element
/// loop, few enough that `order_lines` stays what the size is about.
const NESTED_ITEMS: usize = 2;

/// A `MerchantOrderDto` as JSON with every property filled and `lines`
/// order lines. Panics unless the generated type decodes it and encodes it
/// back to the same JSON, which proves it knows every field.
pub fn order(lines: usize) -> Value {
    let spec = xtask::workspace_root().join("specs/ordermanagement.yaml");
    let tree = xtask::load::read_tree(&spec).unwrap_or_else(|e| panic!("{e}"));
    let filler = Filler { tree: &tree, lines };
    let order = filler.fill(
        &json_ref("#/components/schemas/MerchantOrderDto"),
        "MerchantOrderDto",
        0,
        0,
    );
    let typed: MerchantOrderDto = serde_json::from_value(order.clone()).expect("decodes");
    assert_eq!(
        serde_json::to_value(&typed).expect("encodes"),
        order,
        "the generated type drops or changes something"
    );
    order
}

fn json_ref(pointer: &str) -> Value {
    serde_json::json!({ "$ref": pointer })
}

struct Filler<'a> {
    tree: &'a Value,
    lines: usize,
}

impl Filler<'_> {
    /// `name` is the property (or schema) the value is for: it picks the
    /// array length and keeps strings apart; `depth` counts arrays, so that
    /// only the order's own lines are many; `item` is the position in the
    /// nearest array, so that its items differ as real order lines do.
    fn fill(&self, schema: &Value, name: &str, depth: usize, item: usize) -> Value {
        if let Some(pointer) = schema.get("$ref").and_then(Value::as_str) {
            let target = self
                .tree
                .pointer(pointer.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("{pointer} points nowhere"));
            return self.fill(target, name, depth, item);
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            return values[item % values.len()].clone();
        }
        let example = schema.get("example");
        match schema.get("type").and_then(Value::as_str) {
            Some("object") | None if schema.get("properties").is_some() => {
                let properties = schema["properties"].as_object().expect("properties map");
                let object: Map<String, Value> = properties
                    .iter()
                    .map(|(key, property)| (key.clone(), self.fill(property, key, depth, item)))
                    .collect();
                Value::Object(object)
            }
            Some("array") => {
                let count = if depth == 0 && name == "order_lines" {
                    self.lines
                } else {
                    NESTED_ITEMS
                };
                (0..count)
                    .map(|i| self.fill(&schema["items"], name, depth + 1, i))
                    .collect()
            }
            Some("string") => match (example, schema.get("format").and_then(Value::as_str)) {
                (_, Some("date-time")) => Value::from("2015-11-29T10:25:40Z"),
                (_, Some("date")) => Value::from("2015-11-29"),
                (_, Some("uri")) => Value::from(format!("https://example.com/{name}/{item}")),
                (Some(Value::String(example)), _) => Value::from(format!("{example} {item}")),
                _ => Value::from(format!("{name} {item}")),
            },
            Some("integer") => {
                let base = example.and_then(Value::as_i64).unwrap_or(1250);
                Value::from(base + i64::try_from(item).expect("small index"))
            }
            Some("boolean") => Value::Bool(item.is_multiple_of(2)),
            other => panic!("`{name}`: no filler for type {other:?} in {schema}"),
        }
    }
}
