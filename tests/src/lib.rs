//! Test support for the workspace: the fixture documents' generated models,
//! compiled here so that tests can use them (see `build.rs`), a loopback
//! HTTP server that records requests and plays canned responses, what the
//! client tests that use it share, and JSON pointers for the property tests.

/// The workspace README's examples, compiled as doc tests.
#[doc = include_str!("../../README.md")]
pub mod readme {}

/// What the client surface refuses to compile, as doc tests: each mistake
/// (`compile_fail`) beside the call done right, which must compile, so that
/// a mistake fails to compile for the reason it shows and not another.
///
/// An operation of another API on the Order Management client does not
/// compile: `klarna_ordermanagement::Client` implements only the Order
/// Management traits, and the Payment API's operations live on
/// `klarna_payments::payment_api::Client`. (The client crates are
/// dev-dependencies here: plain code, not links.)
///
/// ```compile_fail,E0599
/// use klarna_payments::payment_api::{PaymentRequestId, PaymentRequests};
///
/// async fn mistake(client: &klarna_ordermanagement::Client) {
///     let id = PaymentRequestId::new("krn:payment:eu1:request:552603c0");
///     let _ = client.read_payment_request(&id).await;
/// }
/// ```
///
/// ```
/// use klarna_payments::payment_api::{PaymentRequestId, PaymentRequests};
///
/// async fn right(client: &klarna_payments::payment_api::Client) {
///     let id = PaymentRequestId::new("krn:payment:eu1:request:552603c0");
///     let _ = client.read_payment_request(&id).await;
/// }
/// ```
///
/// Two ids of different things cannot be swapped: the order id and the
/// capture id are types of their own.
///
/// ```compile_fail,E0308
/// use klarna_ordermanagement::{CaptureId, Captures, Client, OrderId};
///
/// async fn mistake(client: &Client, order_id: &OrderId, capture_id: &CaptureId) {
///     let _ = client.get_capture(capture_id, order_id).await;
/// }
/// ```
///
/// ```
/// use klarna_ordermanagement::{CaptureId, Captures, Client, OrderId};
///
/// async fn right(client: &Client, order_id: &OrderId, capture_id: &CaptureId) {
///     let _ = client.get_capture(order_id, capture_id).await;
/// }
/// ```
///
/// Nor can a plain string stand in for an id.
///
/// ```compile_fail,E0308
/// use klarna_ordermanagement::{Client, Orders};
///
/// async fn mistake(client: &Client) {
///     let _ = client.get_order("f3392f8b-6116-4073-ab96-e330819e2c07").await;
/// }
/// ```
///
/// ```
/// use klarna_ordermanagement::{Client, OrderId, Orders};
///
/// async fn right(client: &Client) {
///     let order_id = OrderId::new("f3392f8b-6116-4073-ab96-e330819e2c07");
///     let _ = client.get_order(&order_id).await;
/// }
/// ```
pub mod compile_fail {}

pub mod client_support;
pub mod json_pointers;
pub mod server;

/// What `cargo xtask generate` makes of each document in `tests/fixtures/`:
/// a models module, or for documents with operations a client module with
/// the models in its `models` (see `build.rs`).
pub mod fixtures {
    include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));
}
