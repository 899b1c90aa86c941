//! What the generator knows about each operation, for the client's retry
//! decisions and for users who want to make their own.

use http::Method;

/// One operation of a spec. The generated crates have a constant of this
/// type per operation in their `operations` module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// The generated method's name (`capture_order`).
    pub name: &'static str,
    pub method: Method,
    /// The path template as the spec writes it
    /// (`/ordermanagement/v1/orders/{order_id}/captures`).
    pub path: &'static str,
    /// Changes nothing at Klarna: a read.
    pub read_only: bool,
    /// Sending it twice has the same effect as sending it once, without an
    /// idempotency key: reads, `PUT` and `DELETE` by HTTP's rules, and what
    /// the spec marks with `x-idempotent: true`.
    pub idempotent: bool,
    /// The header that carries the operation's idempotency key, when it
    /// takes one (`Klarna-Idempotency-Key`): the generator reads it from the
    /// API's settings, so the runtime holds no header name of its own.
    pub idempotency_header: Option<&'static str>,
}
