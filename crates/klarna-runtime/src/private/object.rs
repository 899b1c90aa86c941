//! Deserialisation of the generated structs.
//!
//! `#[derive(Deserialize)]` expands to about 280 lines per struct (a field
//! enum with its own visitor, a sequence form JSON never uses, duplicate
//! checks), and compiling that expansion is most of a models crate's build
//! time. A generated struct instead lists its fields in a small `Fields`
//! implementation, and the one visitor here walks the JSON object: keys are
//! matched as strings, unknown keys skipped, missing required fields
//! reported by name. A key that appears twice keeps its last value, as
//! `serde_json::Value` does.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeSeed, Deserializer, Error, IgnoredAny, MapAccess, Visitor};

/// The fields of one struct as they are being read: one `Option` per field.
pub trait Fields<'de> {
    type Value;

    /// Reads the value of `key` from `map` if the struct has that field;
    /// `false` leaves it unread, to be skipped.
    fn field<M: MapAccess<'de>>(&mut self, key: &str, map: &mut M) -> Result<bool, M::Error>;

    /// The struct, once every key has been read.
    fn finish<E: Error>(self) -> Result<Self::Value, E>;
}

/// Deserialises a JSON object into the struct that `fields` builds.
pub fn object<'de, D, F>(deserializer: D, fields: F) -> Result<F::Value, D::Error>
where
    D: Deserializer<'de>,
    F: Fields<'de>,
{
    struct Object<F>(F);

    impl<'de, F: Fields<'de>> Visitor<'de> for Object<F> {
        type Value = F::Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<M: MapAccess<'de>>(mut self, mut map: M) -> Result<F::Value, M::Error> {
            while let Some(key) = map.next_key_seed(Key)? {
                if !self.0.field(&key, &mut map)? {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            self.0.finish()
        }
    }

    deserializer.deserialize_map(Object(fields))
}

/// A required field's value, or the error that names it.
pub fn required<T, E: Error>(value: Option<T>, field: &'static str) -> Result<T, E> {
    value.ok_or_else(|| E::missing_field(field))
}

/// A key, borrowed from the input where it can be (no escapes in it).
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(KeyVisitor(PhantomData))
    }
}

struct KeyVisitor<'de>(PhantomData<&'de ()>);

impl<'de> Visitor<'de> for KeyVisitor<'de> {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_borrowed_str<E: Error>(self, key: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(key))
    }

    fn visit_str<E: Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(key.to_owned()))
    }

    fn visit_string<E: Error>(self, key: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(key))
    }
}
