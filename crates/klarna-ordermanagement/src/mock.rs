//! A scripted transport under the real client, for tests without sockets
//! (feature `test-util`): `klarna_runtime::mock`, re-exported.
//!
//! Only the socket is replaced: request building, idempotency keys,
//! retries, the retry budget, decoding, typed headers and error
//! classification run as in production. Waits pass on the mock's own clock,
//! so retries take no real time. See [`klarna_runtime::mock`] for the
//! details.
//!
//! A shipper's test: the capture timed out after it was sent, the client's
//! retry with the same key succeeds, and exactly two requests with one key
//! went out.
//!
//! ```
//! use klarna_ordermanagement::mock::{Mock, Outcome};
//! use klarna_ordermanagement::models::CaptureObject;
//! use klarna_ordermanagement::{operations, Captures, Client, OrderId};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let mock = Mock::new();
//! mock.on(&operations::CAPTURE_ORDER)
//!     .respond(Outcome::timed_out())
//!     .respond(Outcome::status(201).header("Capture-Id", "c-1").header("Location", "/c-1"));
//! let client = Client::from_runtime(mock.client()).unwrap();
//! let done = client
//!     .capture_order(&OrderId::new("o-1"), &CaptureObject::new(6000))
//!     .await
//!     .unwrap();
//! assert_eq!(done.capture_id.as_str(), "c-1");
//! let sent = mock.requests();
//! assert_eq!(sent.len(), 2);
//! assert_eq!(sent[0].idempotency_key(), sent[1].idempotency_key());
//! assert_eq!(sent[0].idempotency_key(), done.idempotency_key().map(|k| k.as_str()));
//! # }
//! ```

pub use klarna_runtime::mock::*;
