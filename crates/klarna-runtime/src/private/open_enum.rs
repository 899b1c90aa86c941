//! Deserialisation of the generated string enums.
//!
//! Every generated enum keeps values it does not know in an `Unknown(String)`
//! variant, so a value Klarna adds tomorrow never breaks decoding today. The
//! enums implement `From<&str>`; this visitor lets them borrow the string
//! from the input when it can, instead of allocating for every known value.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserializer, Error, Visitor};

/// Deserialises a JSON string into an open enum.
pub fn deserialize_str<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: for<'a> From<&'a str>,
{
    struct OpenEnum<T>(PhantomData<T>);

    impl<T: for<'a> From<&'a str>> Visitor<'_> for OpenEnum<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }

        fn visit_str<E: Error>(self, value: &str) -> Result<T, E> {
            Ok(T::from(value))
        }
    }

    deserializer.deserialize_str(OpenEnum(PhantomData))
}
