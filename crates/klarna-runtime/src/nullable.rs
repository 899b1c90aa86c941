//! [`Nullable`]: an optional field that may also be `null`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An optional field whose schema says `nullable`: absent, `null`, or a
/// value. The three differ on the wire, most of all in a `PATCH`, where
/// absent leaves a value as it is and `null` clears it.
///
/// A generated struct skips an [`Absent`](Nullable::Absent) field when
/// written, and reads a missing key as `Absent` and `null` as
/// [`Null`](Nullable::Null). Fields that are not nullable stay `Option`s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Nullable<T> {
    /// Not sent; not received.
    #[default]
    Absent,
    /// Sent, or received, as `null`.
    Null,
    Value(T),
}

impl<T> Nullable<T> {
    /// Whether the field is left out: what generated structs skip.
    pub fn is_absent(&self) -> bool {
        matches!(self, Nullable::Absent)
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Nullable::Null)
    }

    /// The value, if there is one (absent and `null` alike give `None`).
    pub fn as_option(&self) -> Option<&T> {
        match self {
            Nullable::Value(value) => Some(value),
            _ => None,
        }
    }

    /// The value, if there is one (absent and `null` alike give `None`).
    pub fn into_option(self) -> Option<T> {
        match self {
            Nullable::Value(value) => Some(value),
            _ => None,
        }
    }
}

impl<T> From<T> for Nullable<T> {
    fn from(value: T) -> Self {
        Nullable::Value(value)
    }
}

impl<T: Serialize> Serialize for Nullable<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Nullable::Value(value) => value.serialize(serializer),
            // Absent fields are skipped by the struct; should one be written
            // anyway (inside a map, say), `null` is the nearest.
            Nullable::Absent | Nullable::Null => serializer.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Nullable<T> {
    /// A key that is there: `null` or a value. A missing key never gets
    /// here; the struct leaves the field `Absent`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(deserializer)? {
            Some(value) => Nullable::Value(value),
            None => Nullable::Null,
        })
    }
}
