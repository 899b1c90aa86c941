//! What only generated code calls: struct and open-enum decoding, and the
//! request builder of each generated operation. Hidden from the docs and
//! not part of the API: it may change in any release, with the generator
//! that emits calls to it.

pub mod object;
pub mod open_enum;

#[cfg(feature = "client")]
pub mod call;
#[cfg(feature = "client")]
pub mod encode;
#[cfg(feature = "client")]
pub mod security;
#[cfg(feature = "client")]
pub mod style;

/// The pages a generated `into_items()` hands to [`crate::Paginator`].
#[cfg(feature = "client")]
pub mod paging {
    pub use crate::paging::{Next, Page};
}
