//! JSON pointers (RFC 6901, without the leading `#`) for the property tests
//! that edit JSON documents at random nodes (`tests/decode_props.rs`,
//! `tests/generator_props.rs`).

use serde_json::Value;

/// The pointer of every node in `value`, children before their parent and
/// the root (`""`) last.
pub fn pointers(value: &Value) -> Vec<String> {
    fn walk(value: &Value, at: String, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    let key = key.replace('~', "~0").replace('/', "~1");
                    walk(child, format!("{at}/{key}"), out);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(child, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
        out.push(at);
    }
    let mut out = Vec::new();
    walk(value, String::new(), &mut out);
    out
}

/// The node at `pointer`, and where it sits in its parent: the parent's
/// pointer and the node's key (or index), unescaped. `None` for the root.
pub fn split(pointer: &str) -> Option<(&str, String)> {
    let (parent, last) = pointer.rsplit_once('/')?;
    Some((parent, last.replace("~1", "/").replace("~0", "~")))
}
