//! Klarna's integration guides as code: helpers that check an order's lines,
//! plan partial captures, allocate refunds to the capture that shipped the
//! items, and update order amounts by the rules Klarna enforces.
//!
//! Hand-written, not generated: `cargo xtask codegen` declares this module
//! but never touches it.
