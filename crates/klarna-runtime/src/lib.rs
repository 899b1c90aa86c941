//! Hand-written runtime support for the generated Klarna SDK crates.
//!
//! Nothing in this crate is generated. The generated crates call into it
//! for the few pieces of logic that would otherwise be repeated in every
//! generated type.

pub mod open_enum;
