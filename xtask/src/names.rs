//! Rust names for things named in a document.
//!
//! Casing: names are split into words at separators, at lower-to-upper case
//! changes and at the end of an acronym (`HTTPServer` is `HTTP` `Server`),
//! then joined as `PascalCase` or `snake_case`. Characters outside ASCII
//! letters and digits only separate words.
//!
//! Collisions: two names in one scope (types of an API, fields of a struct,
//! variants of an enum) that map to the same Rust name are never merged. The
//! first to claim a name keeps it and each later one gets the lowest free
//! numeric suffix (`Address`, `Address2`). Callers claim in a fixed order
//! (document order, with names that are already idiomatic first), so the
//! result is deterministic.

use std::collections::HashSet;

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "gen", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// Keywords that cannot be raw identifiers.
const NOT_RAW: &[&str] = &["crate", "self", "Self", "super", "_"];

fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut words = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        let starts_word = c.is_ascii_uppercase()
            && match prev {
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(|n| n.is_ascii_lowercase()),
                _ => false,
            };
        if starts_word && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// `PascalCase`, for types and enum variants.
pub fn pascal(name: &str) -> String {
    let mut out = String::new();
    for word in words(name) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars.map(|c| c.to_ascii_lowercase()));
        }
    }
    if out.is_empty() {
        out.push_str("Value");
    } else if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    if out == "Self" {
        out.push_str("Value");
    }
    out
}

/// `snake_case`, for fields, functions and modules.
pub fn snake(name: &str) -> String {
    let mut out = words(name)
        .iter()
        .map(|w| w.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join("_");
    if out.is_empty() {
        out.push_str("value");
    } else if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "v_");
    }
    out
}

/// The identifier to write for a snake_case name: keywords become raw
/// identifiers (`r#type`), or get a trailing underscore where Rust has no raw
/// form for them (`self_`).
pub fn ident_text(name: &str) -> String {
    if NOT_RAW.contains(&name) {
        format!("{name}_")
    } else if KEYWORDS.contains(&name) {
        format!("r#{name}")
    } else {
        name.to_owned()
    }
}

/// The names generated code binds itself, in one table: resolve reserves
/// them so that no name from a document takes one, and emit binds them from
/// here, so the two cannot drift apart.
pub mod reserved {
    /// The local struct each generated `Deserialize` implementation fills.
    pub const PARTIAL: &str = "Partial";
    /// The type parameters of the generated `Deserialize` implementations
    /// (the deserializer, and the error of `finish`).
    pub const DESERIALIZER: &str = "D";
    pub const DECODE_ERROR: &str = "E";

    /// Types that generated models name unqualified: std's prelude and the
    /// serde items the models module imports.
    pub const MODEL_TYPES: &[&str] = &[
        "BTreeMap",
        "Box",
        "Clone",
        "Copy",
        "Debug",
        "Default",
        "Deserialize",
        "Deserializer",
        "Drop",
        "Eq",
        "Err",
        "Fn",
        "From",
        "Hash",
        "Iterator",
        "None",
        "Ok",
        "Option",
        "PartialEq",
        "Result",
        "Send",
        "Serialize",
        "Serializer",
        "Sized",
        "Some",
        "String",
        "Sync",
        "ToOwned",
        "ToString",
        "Vec",
    ];

    /// What a client module re-exports from the runtime.
    pub const RUNTIME_REEXPORTS: &[&str] = &[
        "Config",
        "ConfigError",
        "Credentials",
        "Environment",
        "Error",
        "ErrorKind",
        "IdempotencyKey",
        "Region",
        "Response",
        "RetryPolicy",
    ];

    /// What a client module imports for its own code.
    pub const CLIENT_IMPORTS: &[&str] = &["Call", "Future", "IntoFuture", "Pin"];

    /// The locals and methods a generated client method or request value
    /// binds besides the parameters: a parameter of the same name takes a
    /// suffix (`body2`) instead of clashing.
    pub const METHOD_BINDINGS: &[&str] = &[
        "body",
        "call",
        "encode_path",
        "idempotency_key",
        "into_future",
        "request",
        "response",
    ];
}

/// Hands out unique names within one scope.
#[derive(Default)]
pub struct Scope {
    taken: HashSet<String>,
}

impl Scope {
    pub fn claim(&mut self, wanted: &str) -> String {
        let mut name = wanted.to_owned();
        let mut n = 2;
        while !self.taken.insert(name.clone()) {
            name = format!(
                "{wanted}{}{n}",
                if wanted.ends_with(|c: char| c.is_ascii_digit()) {
                    "_"
                } else {
                    ""
                }
            );
            n += 1;
        }
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casing() {
        assert_eq!(
            pascal("No such order error message"),
            "NoSuchOrderErrorMessage"
        );
        assert_eq!(pascal("order_line"), "OrderLine");
        assert_eq!(pascal("MerchantOrderDto"), "MerchantOrderDto");
        assert_eq!(pascal("HTTPServer"), "HttpServer");
        assert_eq!(pascal("PART_CAPTURED"), "PartCaptured");
        assert_eq!(pascal("3ds"), "V3ds");
        assert_eq!(pascal("---"), "Value");
        assert_eq!(snake("street_address__2"), "street_address_2");
        assert_eq!(snake("Klarna-Idempotency-Key"), "klarna_idempotency_key");
        assert_eq!(snake("orderId"), "order_id");
        assert_eq!(snake("2fa"), "v_2fa");
        assert_eq!(ident_text("type"), "r#type");
        assert_eq!(ident_text("self"), "self_");
    }

    #[test]
    fn collisions_get_suffixes_in_claim_order() {
        let mut scope = Scope::default();
        assert_eq!(scope.claim("Address"), "Address");
        assert_eq!(scope.claim("Address"), "Address2");
        assert_eq!(scope.claim("Address2"), "Address2_2");
        assert_eq!(scope.claim("Address"), "Address3");
    }
}
