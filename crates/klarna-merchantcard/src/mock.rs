//! A scripted transport under the real client, for tests without sockets
//! (feature `test-util`): `klarna_runtime::mock`, re-exported. Outcomes are
//! scripted per operation with this crate's `operations::*` constants; see
//! [`klarna_runtime::mock`] for what runs for real and how time passes.

pub use klarna_runtime::mock::*;
