//! Refund returned items against the capture that shipped them.
//!
//! # The rules
//!
//! An order captured in parts (one capture per shipment) gives the customer
//! one invoice per capture. When some goods come back, the customer expects
//! the refund on the invoice of the shipment they came in. Klarna works out
//! that invoice from the refund's order lines: it allocates a refund to a
//! capture only when
//!
//! - the refund's order lines carry exactly the `reference`s of that
//!   capture's order lines;
//! - the refund's lines add up to exactly its `refunded_amount`;
//! - `refunded_amount` is not above the capture's `captured_amount` (this
//!   module is stricter: not above what is left of it after the refunds
//!   already made against it, the capture's `refunded_amount`);
//! - no earlier refund on the order failed to be allocated.
//!
//! A refund that breaks one of these is still accepted, but lands on the
//! order as a whole, and the customer cannot tell which invoice it reduced.
//! The helpers here build refunds that keep the rules and explain in the
//! error why one could not.
//!
//! The API does not say whether an earlier refund was allocated, so
//! [`allocate_refunds`] judges the order's earlier refunds by the same
//! rules: one without order lines, whose lines do not add up to its amount,
//! or whose references no single capture carries, counts as not allocated.
//!
//! # Seed 003: T-shirt, jeans and sneakers
//!
//! Capture A shipped a T-shirt (`A12345`) and jeans (`A98765`), capture B the
//! sneakers (`B24680`). The sneakers come back:
//!
//! ```
//! use klarna_ordermanagement::guides::order_lines::OrderLineBuilder;
//! use klarna_ordermanagement::guides::refund_allocation::allocate_refund;
//! use klarna_ordermanagement::guides::LineQuantity;
//! use klarna_ordermanagement::models::{Capture, MerchantOrderDto};
//!
//! let shipped = |reference: &str, name: &str, price: i64| {
//!     OrderLineBuilder::new(name, 1, price).reference(reference).build()
//! };
//! let capture_a = Capture {
//!     capture_id: Some("A".into()),
//!     captured_amount: Some(10000),
//!     order_lines: Some(vec![shipped("A12345", "T-shirt", 3000)?, shipped("A98765", "Jeans", 7000)?]),
//!     ..Default::default()
//! };
//! let capture_b = Capture {
//!     capture_id: Some("B".into()),
//!     captured_amount: Some(10000),
//!     order_lines: Some(vec![shipped("B24680", "Sneakers", 10000)?]),
//!     ..Default::default()
//! };
//! // The order as `get_order` returns it, reduced to what matters here.
//! let order = MerchantOrderDto {
//!     order_id: Some("order-1".into()),
//!     captures: Some(vec![capture_a, capture_b]),
//!     ..Default::default()
//! };
//!
//! let mut allocated = allocate_refund(&order, &[LineQuantity::new("B24680", 1)])?;
//! assert_eq!(allocated.capture_id.as_deref(), Some("B"));
//! assert_eq!(allocated.refund.refunded_amount, 10000);
//! allocated.refund.description = Some("Returning the sneakers".into());
//! // client.refund_order("order-1", &allocated.refund, Some(key)).await?
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Had the T-shirt come back with the sneakers, [`allocate_refund`] would
//! refuse with [`RefundAllocationError::SpansCaptures`], which holds one
//! refund for capture A and one for B; [`allocate_refunds`] returns those
//! directly. [`refund_returned_items`] checks and sends through anything
//! that implements [`Refunds`]:
//!
//! ```no_run
//! use klarna_ordermanagement::guides::refund_allocation::refund_returned_items;
//! use klarna_ordermanagement::guides::LineQuantity;
//! use klarna_ordermanagement::{Client, Config, Environment, IdempotencyKey, OrderId, Orders, Region};
//!
//! # async fn sneakers_returned() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::from_config(Config::from_env(Region::Europe, Environment::Playground)?)?;
//! let order = client.get_order(&OrderId::new("order-1")).await?.into_inner();
//! let key = IdempotencyKey::from("order-1-return-1");
//! let returned = [LineQuantity::new("B24680", 1)];
//! let created = refund_returned_items(&client, &order, &returned, Some(key)).await?;
//! println!("refund {:?}", created.refund_id);
//! # Ok(())
//! # }
//! ```

use std::fmt;

use super::order_lines::{portion, LineError};
use super::{check_items, CallError, ItemsError, LineQuantity};
use crate::models::{Capture, MerchantOrderDto, OrderLine, Refund, RefundObject};
use crate::{
    CaptureId, IdempotencyKey, OrderId, RefundId, RefundOrderError, RefundOrderResponse, Refunds,
    Response,
};

/// A refund whose order lines all come from one capture, so Klarna can
/// allocate it to that capture's invoice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllocatedRefund {
    /// The capture the refund belongs to.
    pub capture_id: Option<CaptureId>,
    /// The request for [`Refunds::refund_order`]; `description` and
    /// `reference` are left for the caller.
    pub refund: RefundObject,
}

/// Why a refund could not be allocated to a capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundAllocationError {
    /// The list of returned items is empty, repeats a reference or has a
    /// quantity below 1.
    Items(ItemsError),
    /// No capture of the order has a line with this reference: it has not
    /// shipped, or it was captured without order lines.
    NotCaptured {
        /// The returned item's reference.
        reference: String,
    },
    /// The named capture has no line with this reference.
    NotInCapture {
        /// The returned item's reference.
        reference: String,
        /// The capture that was named.
        capture_id: CaptureId,
    },
    /// The order has no capture with this id.
    NoSuchCapture {
        /// The capture that was named.
        capture_id: CaptureId,
    },
    /// Several capture lines carry this reference (the item shipped in more
    /// than one shipment), so which one the returned units came from is
    /// the merchant's knowledge; name the capture with
    /// [`allocate_refund_to_capture`].
    AmbiguousReference {
        /// The returned item's reference.
        reference: String,
        /// The captures with a line of that reference, once per line.
        capture_ids: Vec<Option<CaptureId>>,
    },
    /// More units came back than the capture shipped.
    QuantityExceedsCaptured {
        /// The returned item's reference.
        reference: String,
        /// The capture that shipped it.
        capture_id: Option<CaptureId>,
        /// Units returned.
        returned: i64,
        /// Units on the capture's line.
        captured: i64,
    },
    /// The returned items came from more than one capture, and a refund is
    /// allocated to one capture only. Send these refunds instead, one per
    /// capture.
    SpansCaptures {
        /// One refund per capture, in the order's capture order.
        refunds: Vec<AllocatedRefund>,
    },
    /// The refund is for more than the capture has left to refund.
    ExceedsCapturedAmount {
        /// The capture.
        capture_id: Option<CaptureId>,
        /// What the refund would give back.
        refunded_amount: i64,
        /// The capture's `captured_amount`.
        captured_amount: i64,
        /// What was already refunded against the capture.
        already_refunded: i64,
    },
    /// The capture does not say how much it captured, so the refund cannot
    /// be checked against it.
    CapturedAmountUnknown {
        /// The capture.
        capture_id: Option<CaptureId>,
    },
    /// The refunded lines add up to zero or less (only free items or
    /// discounts came back).
    NonPositiveAmount {
        /// The capture.
        capture_id: Option<CaptureId>,
        /// Sum of the refunded lines.
        refunded_amount: i64,
    },
    /// The capture's line itself breaks a rule, so its part cannot be
    /// computed.
    InvalidCaptureLine {
        /// The line's reference.
        reference: String,
        /// The rule it breaks.
        error: LineError,
    },
    /// An earlier refund on the order could not have been allocated, and
    /// Klarna then allocates no later refund either.
    EarlierRefundNotAllocated {
        /// The earlier refund.
        refund_id: Option<RefundId>,
        /// Which rule it broke.
        reason: UnallocatedReason,
    },
    /// An amount does not fit in an `i64`.
    Overflow,
}

/// Why an earlier refund counts as not allocated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnallocatedReason {
    /// It has no order lines.
    NoOrderLines,
    /// Its lines do not add up to its `refunded_amount`.
    LinesDoNotAddUp {
        /// Sum of its lines.
        lines_total: i128,
        /// Its `refunded_amount` (0 when missing).
        refunded_amount: i64,
    },
    /// No single capture carries all of its references.
    NoCaptureHasItsLines,
}

impl fmt::Display for UnallocatedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnallocatedReason::NoOrderLines => f.write_str("it has no order lines"),
            UnallocatedReason::LinesDoNotAddUp {
                lines_total,
                refunded_amount,
            } => write!(
                f,
                "its lines add up to {lines_total}, not to its refunded amount {refunded_amount}"
            ),
            UnallocatedReason::NoCaptureHasItsLines => {
                f.write_str("no single capture carries all of its line references")
            }
        }
    }
}

struct CaptureName<'a>(&'a Option<CaptureId>);

impl fmt::Display for CaptureName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, "capture `{id}`"),
            None => f.write_str("a capture without id"),
        }
    }
}

impl fmt::Display for RefundAllocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RefundAllocationError as E;
        match self {
            E::Items(error) => error.fmt(f),
            E::NotCaptured { reference } => write!(
                f,
                "no capture has a line with reference `{reference}`: it has not shipped, or was \
                 captured without order lines, so there is no invoice to refund it on"
            ),
            E::NotInCapture {
                reference,
                capture_id,
            } => write!(
                f,
                "capture `{capture_id}` has no line with reference `{reference}`"
            ),
            E::NoSuchCapture { capture_id } => {
                write!(f, "the order has no capture `{capture_id}`")
            }
            E::AmbiguousReference {
                reference,
                capture_ids,
            } => {
                write!(
                    f,
                    "`{reference}` shipped on {} capture lines (",
                    capture_ids.len()
                )?;
                for (index, id) in capture_ids.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    CaptureName(id).fmt(f)?;
                }
                f.write_str("); say which shipment the units came back from by naming its capture")
            }
            E::QuantityExceedsCaptured {
                reference,
                capture_id,
                returned,
                captured,
            } => write!(
                f,
                "{returned} of `{reference}` came back but {} shipped {captured}",
                CaptureName(capture_id)
            ),
            E::SpansCaptures { refunds } => {
                write!(
                    f,
                    "the returned items shipped in {} captures and a refund is allocated to one \
                     capture only; send one refund per capture: ",
                    refunds.len()
                )?;
                for (index, allocated) in refunds.iter().enumerate() {
                    if index > 0 {
                        f.write_str("; ")?;
                    }
                    write!(
                        f,
                        "{} for {}",
                        allocated.refund.refunded_amount,
                        CaptureName(&allocated.capture_id)
                    )?;
                }
                Ok(())
            }
            E::ExceedsCapturedAmount {
                capture_id,
                refunded_amount,
                captured_amount,
                already_refunded,
            } => write!(
                f,
                "refunding {refunded_amount} is more than {} has left ({captured_amount} \
                 captured, {already_refunded} already refunded); Klarna would not allocate it \
                 to that invoice",
                CaptureName(capture_id)
            ),
            E::CapturedAmountUnknown { capture_id } => write!(
                f,
                "{} has no captured_amount to check the refund against",
                CaptureName(capture_id)
            ),
            E::NonPositiveAmount {
                capture_id,
                refunded_amount,
            } => write!(
                f,
                "the returned items of {} add up to {refunded_amount}; a refund must give back \
                 a positive amount",
                CaptureName(capture_id)
            ),
            E::InvalidCaptureLine { reference, error } => {
                write!(f, "capture line `{reference}` is inconsistent: {error}")
            }
            E::EarlierRefundNotAllocated { refund_id, reason } => {
                f.write_str("an earlier refund")?;
                if let Some(id) = refund_id {
                    write!(f, " (`{id}`)")?;
                }
                write!(
                    f,
                    " could not be allocated to a capture ({reason}); after that Klarna \
                     allocates no refund on this order"
                )
            }
            E::Overflow => super::AmountOverflow.fmt(f),
        }
    }
}

impl std::error::Error for RefundAllocationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RefundAllocationError::Items(error) => Some(error),
            RefundAllocationError::InvalidCaptureLine { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// The refund of `returned` items, allocated to the one capture that
/// shipped them all.
///
/// Items from more than one capture give
/// [`RefundAllocationError::SpansCaptures`] with one refund per capture;
/// see the [module docs](self) for the other rules.
pub fn allocate_refund(
    order: &MerchantOrderDto,
    returned: &[LineQuantity],
) -> Result<AllocatedRefund, RefundAllocationError> {
    let mut refunds = allocate_refunds(order, returned)?;
    if refunds.len() == 1 {
        if let Some(only) = refunds.pop() {
            return Ok(only);
        }
    }
    Err(RefundAllocationError::SpansCaptures { refunds })
}

/// The refunds of `returned` items, one per capture that shipped some of
/// them, in the order's capture order. Each is allocated to its capture.
///
/// A reference shipped in more than one capture is refused as
/// [`RefundAllocationError::AmbiguousReference`]; name the capture with
/// [`allocate_refund_to_capture`] instead.
pub fn allocate_refunds(
    order: &MerchantOrderDto,
    returned: &[LineQuantity],
) -> Result<Vec<AllocatedRefund>, RefundAllocationError> {
    check_items(returned).map_err(RefundAllocationError::Items)?;
    let captures = order.captures.as_deref().unwrap_or_default();
    check_earlier_refunds(order.refunds.as_deref().unwrap_or_default(), captures)?;

    // Per capture (by index), its returned lines in the order they came.
    let mut per_capture: Vec<Vec<(&OrderLine, i64)>> = vec![Vec::new(); captures.len()];
    for item in returned {
        let mut found = captures.iter().enumerate().flat_map(|(index, capture)| {
            lines_with(capture, &item.reference).map(move |line| (index, line))
        });
        let (index, line) = match (found.next(), found.next()) {
            (None, _) => {
                return Err(RefundAllocationError::NotCaptured {
                    reference: item.reference.clone(),
                })
            }
            (Some(only), None) => only,
            (Some(_), Some(_)) => {
                return Err(RefundAllocationError::AmbiguousReference {
                    reference: item.reference.clone(),
                    capture_ids: captures
                        .iter()
                        .flat_map(|capture| {
                            lines_with(capture, &item.reference).map(|_| capture.capture_id.clone())
                        })
                        .collect(),
                })
            }
        };
        per_capture[index].push((line, item.quantity));
    }
    captures
        .iter()
        .zip(per_capture)
        .filter(|(_, lines)| !lines.is_empty())
        .map(|(capture, lines)| refund_of(capture, &lines))
        .collect()
}

/// The refund of `returned` items against the capture `capture_id`, for
/// when the merchant knows which shipment they came back from (for example
/// an item that shipped in two captures).
///
/// Every returned reference must be on that capture; the other rules of the
/// [module docs](self) apply.
pub fn allocate_refund_to_capture(
    order: &MerchantOrderDto,
    capture_id: &CaptureId,
    returned: &[LineQuantity],
) -> Result<AllocatedRefund, RefundAllocationError> {
    check_items(returned).map_err(RefundAllocationError::Items)?;
    let captures = order.captures.as_deref().unwrap_or_default();
    check_earlier_refunds(order.refunds.as_deref().unwrap_or_default(), captures)?;
    let capture = captures
        .iter()
        .find(|capture| capture.capture_id.as_ref() == Some(capture_id))
        .ok_or_else(|| RefundAllocationError::NoSuchCapture {
            capture_id: capture_id.clone(),
        })?;
    let mut lines = Vec::with_capacity(returned.len());
    for item in returned {
        let mut found = lines_with(capture, &item.reference);
        let line = match (found.next(), found.next()) {
            (Some(only), None) => only,
            (None, _) => {
                return Err(RefundAllocationError::NotInCapture {
                    reference: item.reference.clone(),
                    capture_id: capture_id.clone(),
                })
            }
            (Some(_), Some(_)) => {
                return Err(RefundAllocationError::AmbiguousReference {
                    reference: item.reference.clone(),
                    capture_ids: lines_with(capture, &item.reference)
                        .map(|_| capture.capture_id.clone())
                        .collect(),
                })
            }
        };
        lines.push((line, item.quantity));
    }
    refund_of(capture, &lines)
}

/// Allocates the refund of `returned` items with [`allocate_refund`] and,
/// if that succeeds, sends it with [`Refunds::refund_order`] for the order's
/// `order_id`.
///
/// Items from several captures are refused with
/// [`RefundAllocationError::SpansCaptures`], nothing sent: send each of its
/// refunds, each with its own idempotency key.
pub async fn refund_returned_items<R: Refunds + Sync>(
    client: &R,
    order: &MerchantOrderDto,
    returned: &[LineQuantity],
    idempotency_key: Option<IdempotencyKey>,
) -> Result<Response<RefundOrderResponse>, CallError<RefundAllocationError, RefundOrderError>> {
    let allocated = allocate_refund(order, returned).map_err(CallError::Refused)?;
    let order_id = order.order_id.as_deref().ok_or(CallError::MissingOrderId)?;
    client
        .refund_order(&OrderId::new(order_id), &allocated.refund)
        .idempotency_key(idempotency_key)
        .await
        .map_err(CallError::Klarna)
}

fn lines_with<'a>(capture: &'a Capture, reference: &'a str) -> impl Iterator<Item = &'a OrderLine> {
    capture
        .order_lines
        .iter()
        .flatten()
        .filter(move |line| line.reference.as_deref() == Some(reference))
}

/// The refund of `lines` (a capture line and how many of its units came
/// back) against `capture`.
///
/// Each refunded line is the capture line's first units (see `portion` in
/// [`order_lines`](super::order_lines)): its discount share rounds up, so
/// several partial refunds of one line never give back more than the line
/// cost.
fn refund_of(
    capture: &Capture,
    lines: &[(&OrderLine, i64)],
) -> Result<AllocatedRefund, RefundAllocationError> {
    let mut refund_lines = Vec::with_capacity(lines.len());
    let mut refunded_amount: i128 = 0;
    for &(line, quantity) in lines {
        let reference = line.reference.clone().unwrap_or_default();
        if quantity > line.quantity {
            return Err(RefundAllocationError::QuantityExceedsCaptured {
                reference,
                capture_id: capture.capture_id.clone(),
                returned: quantity,
                captured: line.quantity,
            });
        }
        let part = portion(line, 0, quantity)
            .map_err(|error| RefundAllocationError::InvalidCaptureLine { reference, error })?;
        refunded_amount += i128::from(part.total_amount);
        refund_lines.push(part);
    }
    let refunded_amount =
        super::to_i64(refunded_amount).map_err(|_| RefundAllocationError::Overflow)?;
    if refunded_amount <= 0 {
        return Err(RefundAllocationError::NonPositiveAmount {
            capture_id: capture.capture_id.clone(),
            refunded_amount,
        });
    }
    let captured_amount =
        capture
            .captured_amount
            .ok_or_else(|| RefundAllocationError::CapturedAmountUnknown {
                capture_id: capture.capture_id.clone(),
            })?;
    let already_refunded = capture.refunded_amount.unwrap_or(0);
    if i128::from(refunded_amount) > i128::from(captured_amount) - i128::from(already_refunded) {
        return Err(RefundAllocationError::ExceedsCapturedAmount {
            capture_id: capture.capture_id.clone(),
            refunded_amount,
            captured_amount,
            already_refunded,
        });
    }
    Ok(AllocatedRefund {
        capture_id: capture.capture_id.clone(),
        refund: RefundObject {
            refunded_amount,
            order_lines: Some(refund_lines),
            description: None,
            reference: None,
        },
    })
}

/// Refuses when an earlier refund breaks the allocation rules (see the
/// [module docs](self)).
fn check_earlier_refunds(
    refunds: &[Refund],
    captures: &[Capture],
) -> Result<(), RefundAllocationError> {
    for refund in refunds {
        if let Some(reason) = unallocated_reason(refund, captures) {
            return Err(RefundAllocationError::EarlierRefundNotAllocated {
                refund_id: refund.refund_id.clone(),
                reason,
            });
        }
    }
    Ok(())
}

fn unallocated_reason(refund: &Refund, captures: &[Capture]) -> Option<UnallocatedReason> {
    let lines = refund.order_lines.as_deref().unwrap_or_default();
    if lines.is_empty() {
        return Some(UnallocatedReason::NoOrderLines);
    }
    let lines_total: i128 = lines.iter().map(|line| i128::from(line.total_amount)).sum();
    let refunded_amount = refund.refunded_amount.unwrap_or(0);
    if lines_total != i128::from(refunded_amount) {
        return Some(UnallocatedReason::LinesDoNotAddUp {
            lines_total,
            refunded_amount,
        });
    }
    let one_capture_has_all = captures.iter().any(|capture| {
        lines.iter().all(|line| match &line.reference {
            Some(reference) => lines_with(capture, reference).next().is_some(),
            None => false,
        })
    });
    if !one_capture_has_all {
        return Some(UnallocatedReason::NoCaptureHasItsLines);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::order_lines::validate_line;
    use super::super::test_support::{
        capture, coupon, discounted_lamps, line, order, refund, Recorder, Sent,
    };
    use super::*;
    use crate::models::MerchantOrderDtoStatus;

    /// Seed 003: capture A shipped the T-shirt and the jeans, capture B the
    /// sneakers.
    fn seed_order() -> MerchantOrderDto {
        let mut order = order(vec![
            line("A12345", 1, 3000),
            line("A98765", 1, 7000),
            line("B24680", 1, 10000),
        ]);
        order.status = Some(MerchantOrderDtoStatus::Captured);
        order.captured_amount = Some(20000);
        order.remaining_authorized_amount = Some(0);
        order.captures = Some(vec![
            capture("A", vec![line("A12345", 1, 3000), line("A98765", 1, 7000)]),
            capture("B", vec![line("B24680", 1, 10000)]),
        ]);
        order
    }

    fn references(refund: &RefundObject) -> Vec<&str> {
        refund
            .order_lines
            .iter()
            .flatten()
            .filter_map(|line| line.reference.as_deref())
            .collect()
    }

    #[test]
    fn returned_sneakers_are_refunded_on_capture_b() {
        let allocated = allocate_refund(&seed_order(), &[LineQuantity::new("B24680", 1)]).unwrap();
        assert_eq!(allocated.capture_id.as_deref(), Some("B"));
        assert_eq!(allocated.refund.refunded_amount, 10000);
        assert_eq!(references(&allocated.refund), ["B24680"]);
        // The refund line is the capture line, reference and all.
        assert_eq!(
            allocated.refund.order_lines,
            Some(vec![line("B24680", 1, 10000)])
        );
    }

    #[test]
    fn a_returned_t_shirt_is_refunded_on_capture_a_without_the_jeans() {
        let allocated = allocate_refund(&seed_order(), &[LineQuantity::new("A12345", 1)]).unwrap();
        assert_eq!(allocated.capture_id.as_deref(), Some("A"));
        assert_eq!(allocated.refund.refunded_amount, 3000);
        assert_eq!(references(&allocated.refund), ["A12345"]);
    }

    #[test]
    fn everything_from_capture_a_is_one_refund() {
        let allocated = allocate_refund(
            &seed_order(),
            &[
                LineQuantity::new("A98765", 1),
                LineQuantity::new("A12345", 1),
            ],
        )
        .unwrap();
        assert_eq!(allocated.capture_id.as_deref(), Some("A"));
        assert_eq!(allocated.refund.refunded_amount, 10000);
        assert_eq!(references(&allocated.refund), ["A98765", "A12345"]);
    }

    #[test]
    fn items_from_two_captures_give_one_refund_per_capture() {
        let returned = [
            LineQuantity::new("B24680", 1),
            LineQuantity::new("A12345", 1),
        ];
        let split = allocate_refunds(&seed_order(), &returned).unwrap();
        let summary: Vec<_> = split
            .iter()
            .map(|a| {
                (
                    a.capture_id.as_deref().unwrap(),
                    a.refund.refunded_amount,
                    references(&a.refund),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [("A", 3000, vec!["A12345"]), ("B", 10000, vec!["B24680"])]
        );

        let error = allocate_refund(&seed_order(), &returned).unwrap_err();
        assert_eq!(
            error,
            RefundAllocationError::SpansCaptures {
                refunds: split.clone()
            }
        );
        assert_eq!(
            error.to_string(),
            "the returned items shipped in 2 captures and a refund is allocated to one capture \
             only; send one refund per capture: 3000 for capture `A`; 10000 for capture `B`"
        );
    }

    #[test]
    fn every_refund_line_sum_equals_its_amount() {
        let split = allocate_refunds(
            &seed_order(),
            &[
                LineQuantity::new("A12345", 1),
                LineQuantity::new("A98765", 1),
                LineQuantity::new("B24680", 1),
            ],
        )
        .unwrap();
        assert_eq!(split.len(), 2);
        for allocated in &split {
            let lines = allocated.refund.order_lines.as_deref().unwrap();
            let sum: i64 = lines.iter().map(|l| l.total_amount).sum();
            assert_eq!(sum, allocated.refund.refunded_amount);
            for line in lines {
                assert_eq!(validate_line(line), Ok(()));
            }
        }
    }

    #[test]
    fn an_item_no_capture_shipped_cannot_be_allocated() {
        let error = allocate_refund(&seed_order(), &[LineQuantity::new("C13579", 1)]).unwrap_err();
        assert_eq!(
            error,
            RefundAllocationError::NotCaptured {
                reference: "C13579".into()
            }
        );
        assert!(error.to_string().contains("has not shipped"));

        let mut lineless = seed_order();
        lineless.captures = Some(vec![Capture {
            capture_id: Some("A".into()),
            captured_amount: Some(20000),
            ..Default::default()
        }]);
        assert!(matches!(
            allocate_refund(&lineless, &[LineQuantity::new("B24680", 1)]),
            Err(RefundAllocationError::NotCaptured { .. })
        ));
    }

    #[test]
    fn more_units_than_shipped_are_refused() {
        assert_eq!(
            allocate_refund(&seed_order(), &[LineQuantity::new("B24680", 2)]),
            Err(RefundAllocationError::QuantityExceedsCaptured {
                reference: "B24680".into(),
                capture_id: Some("B".into()),
                returned: 2,
                captured: 1
            })
        );
    }

    #[test]
    fn a_refund_may_not_exceed_what_is_left_on_the_capture() {
        // The sneakers were refunded once already.
        let mut order = seed_order();
        order.captures.as_mut().unwrap()[1].refunded_amount = Some(10000);
        order.refunds = Some(vec![refund("r1", vec![line("B24680", 1, 10000)])]);
        let error = allocate_refund(&order, &[LineQuantity::new("B24680", 1)]).unwrap_err();
        assert_eq!(
            error,
            RefundAllocationError::ExceedsCapturedAmount {
                capture_id: Some("B".into()),
                refunded_amount: 10000,
                captured_amount: 10000,
                already_refunded: 10000
            }
        );
        assert_eq!(
            error.to_string(),
            "refunding 10000 is more than capture `B` has left (10000 captured, 10000 already \
             refunded); Klarna would not allocate it to that invoice"
        );
        // The T-shirt on capture A is unaffected, and the earlier refund
        // was allocated, so it does not block.
        assert!(allocate_refund(&order, &[LineQuantity::new("A12345", 1)]).is_ok());

        // A capture that took less than its lines say.
        let mut short = seed_order();
        short.captures.as_mut().unwrap()[1].captured_amount = Some(9000);
        assert!(matches!(
            allocate_refund(&short, &[LineQuantity::new("B24680", 1)]),
            Err(RefundAllocationError::ExceedsCapturedAmount {
                captured_amount: 9000,
                already_refunded: 0,
                ..
            })
        ));
    }

    #[test]
    fn a_capture_without_amount_cannot_be_checked() {
        let mut order = seed_order();
        order.captures.as_mut().unwrap()[1].captured_amount = None;
        assert_eq!(
            allocate_refund(&order, &[LineQuantity::new("B24680", 1)]),
            Err(RefundAllocationError::CapturedAmountUnknown {
                capture_id: Some("B".into())
            })
        );
    }

    #[test]
    fn an_item_shipped_in_two_captures_needs_the_capture_named() {
        let mut order = order(vec![line("tomatoes", 10, 600)]);
        order.captures = Some(vec![
            capture("first", vec![line("tomatoes", 4, 600)]),
            capture("second", vec![line("tomatoes", 6, 600)]),
        ]);
        let returned = [LineQuantity::new("tomatoes", 5)];
        let error = allocate_refund(&order, &returned).unwrap_err();
        assert_eq!(
            error,
            RefundAllocationError::AmbiguousReference {
                reference: "tomatoes".into(),
                capture_ids: vec![Some("first".into()), Some("second".into())]
            }
        );
        assert_eq!(
            error.to_string(),
            "`tomatoes` shipped on 2 capture lines (capture `first`, capture `second`); say which \
             shipment the units came back from by naming its capture"
        );

        let named =
            allocate_refund_to_capture(&order, &CaptureId::new("second"), &returned).unwrap();
        assert_eq!(named.capture_id.as_deref(), Some("second"));
        assert_eq!(named.refund.refunded_amount, 3000);
        assert_eq!(references(&named.refund), ["tomatoes"]);
        assert!(matches!(
            allocate_refund_to_capture(&order, &CaptureId::new("first"), &returned),
            Err(RefundAllocationError::QuantityExceedsCaptured { captured: 4, .. })
        ));
    }

    #[test]
    fn a_named_capture_must_exist_and_carry_the_items() {
        assert_eq!(
            allocate_refund_to_capture(
                &seed_order(),
                &CaptureId::new("Z"),
                &[LineQuantity::new("B24680", 1)]
            ),
            Err(RefundAllocationError::NoSuchCapture {
                capture_id: "Z".into()
            })
        );
        assert_eq!(
            allocate_refund_to_capture(
                &seed_order(),
                &CaptureId::new("A"),
                &[LineQuantity::new("B24680", 1)]
            ),
            Err(RefundAllocationError::NotInCapture {
                reference: "B24680".into(),
                capture_id: "A".into()
            })
        );
        let mut doubled = seed_order();
        doubled.captures.as_mut().unwrap()[1]
            .order_lines
            .as_mut()
            .unwrap()
            .push(line("B24680", 1, 0));
        assert!(matches!(
            allocate_refund_to_capture(
                &doubled,
                &CaptureId::new("B"),
                &[LineQuantity::new("B24680", 1)]
            ),
            Err(RefundAllocationError::AmbiguousReference { .. })
        ));
    }

    #[test]
    fn earlier_unallocated_refunds_block_allocation() {
        let returned = [LineQuantity::new("B24680", 1)];
        let cases = [
            (
                Refund {
                    refund_id: Some("goodwill".into()),
                    refunded_amount: Some(500),
                    ..Default::default()
                },
                UnallocatedReason::NoOrderLines,
            ),
            (
                Refund {
                    refunded_amount: Some(2000),
                    ..refund("short", vec![line("A12345", 1, 3000)])
                },
                UnallocatedReason::LinesDoNotAddUp {
                    lines_total: 3000,
                    refunded_amount: 2000,
                },
            ),
            (
                refund(
                    "mixed",
                    vec![line("A12345", 1, 3000), line("B24680", 1, 10000)],
                ),
                UnallocatedReason::NoCaptureHasItsLines,
            ),
        ];
        for (earlier, reason) in cases {
            let mut order = seed_order();
            let refund_id = earlier.refund_id.clone();
            order.refunds = Some(vec![earlier]);
            let expected = RefundAllocationError::EarlierRefundNotAllocated { refund_id, reason };
            assert_eq!(allocate_refund(&order, &returned), Err(expected.clone()));
            assert_eq!(
                allocate_refund_to_capture(&order, &CaptureId::new("B"), &returned),
                Err(expected)
            );
        }
        let mut order = seed_order();
        order.refunds = Some(vec![Refund {
            refund_id: Some("goodwill".into()),
            refunded_amount: Some(500),
            ..Default::default()
        }]);
        assert_eq!(
            allocate_refund(&order, &returned).unwrap_err().to_string(),
            "an earlier refund (`goodwill`) could not be allocated to a capture (it has no order \
             lines); after that Klarna allocates no refund on this order"
        );
    }

    #[test]
    fn part_of_a_discounted_line_never_refunds_more_than_it_cost() {
        // 3 lamps at 10.00 with 1.00 off, all in one capture (29.00).
        let lamps = discounted_lamps();
        let mut order = order(vec![lamps.clone()]);
        order.captures = Some(vec![capture("c", vec![lamps])]);

        let one = allocate_refund(&order, &[LineQuantity::new("lamp", 1)]).unwrap();
        let part = &one.refund.order_lines.as_ref().unwrap()[0];
        assert_eq!(part.quantity, 1);
        assert_eq!(part.total_discount_amount, Some(34));
        assert_eq!(one.refund.refunded_amount, 966);
        assert_eq!(validate_line(part), Ok(()));
        // Three such refunds give back 28.98 of the 29.00, never more.
        assert!(3 * one.refund.refunded_amount <= 2900);

        let all = allocate_refund(&order, &[LineQuantity::new("lamp", 3)]).unwrap();
        assert_eq!(all.refund.refunded_amount, 2900);
    }

    #[test]
    fn returning_only_a_discount_is_refused() {
        let coupon = coupon();
        let mut order = order(vec![line("lamp", 1, 2000), coupon.clone()]);
        order.captures = Some(vec![capture("c", vec![line("lamp", 1, 2000), coupon])]);
        assert_eq!(
            allocate_refund(&order, &[LineQuantity::new("coupon", 1)]),
            Err(RefundAllocationError::NonPositiveAmount {
                capture_id: Some("c".into()),
                refunded_amount: -500
            })
        );
        let both = allocate_refund(
            &order,
            &[LineQuantity::new("lamp", 1), LineQuantity::new("coupon", 1)],
        )
        .unwrap();
        assert_eq!(both.refund.refunded_amount, 1500);
    }

    #[test]
    fn bad_item_lists_and_lines_are_refused() {
        assert_eq!(
            allocate_refund(&seed_order(), &[]),
            Err(RefundAllocationError::Items(ItemsError::Empty))
        );
        assert!(matches!(
            allocate_refunds(&seed_order(), &[LineQuantity::new("B24680", -1)]),
            Err(RefundAllocationError::Items(
                ItemsError::NonPositiveQuantity { .. }
            ))
        ));
        let mut broken = seed_order();
        broken.captures.as_mut().unwrap()[1]
            .order_lines
            .as_mut()
            .unwrap()[0] = OrderLine {
            quantity: 2,
            tax_rate: Some(-1),
            ..line("B24680", 2, 5000)
        };
        assert_eq!(
            allocate_refund(&broken, &[LineQuantity::new("B24680", 1)]),
            Err(RefundAllocationError::InvalidCaptureLine {
                reference: "B24680".into(),
                error: LineError::NegativeTaxRate { tax_rate: -1 }
            })
        );
    }

    #[test]
    fn huge_refunds_are_an_error_not_a_panic() {
        let mut huge = line("a", 1, 0);
        huge.unit_price = i64::MAX;
        huge.total_amount = i64::MAX;
        huge.tax_rate = None;
        huge.total_tax_amount = None;
        let mut other = huge.clone();
        other.reference = Some("b".into());
        let mut order = order(vec![]);
        order.captures = Some(vec![Capture {
            captured_amount: Some(i64::MAX),
            refunded_amount: Some(i64::MIN),
            ..capture("c", vec![huge, other])
        }]);
        assert_eq!(
            allocate_refund(
                &order,
                &[LineQuantity::new("a", 1), LineQuantity::new("b", 1)]
            ),
            Err(RefundAllocationError::Overflow)
        );
        // captured − already refunded exceeds i64 and must not wrap.
        assert!(allocate_refund(&order, &[LineQuantity::new("a", 1)]).is_ok());
    }

    #[tokio::test]
    async fn refund_returned_items_sends_the_allocated_refund() {
        let klarna = Recorder::default();
        let order = seed_order();
        let returned = [LineQuantity::new("B24680", 1)];
        let created = refund_returned_items(&klarna, &order, &returned, None)
            .await
            .unwrap();
        assert_eq!(created.refund_id, crate::RefundId::new("refund-new"));
        let expected = allocate_refund(&order, &returned).unwrap().refund;
        assert_eq!(klarna.sent(), [Sent::Refund("order-1".into(), expected)]);
    }

    #[tokio::test]
    async fn refund_returned_items_sends_nothing_for_items_of_two_captures() {
        let klarna = Recorder::default();
        let returned = [
            LineQuantity::new("A12345", 1),
            LineQuantity::new("B24680", 1),
        ];
        let error = refund_returned_items(&klarna, &seed_order(), &returned, None)
            .await
            .unwrap_err();
        match error.refused() {
            Some(RefundAllocationError::SpansCaptures { refunds }) => assert_eq!(refunds.len(), 2),
            other => panic!("expected SpansCaptures, got {other:?}"),
        }
        let mut anonymous = seed_order();
        anonymous.order_id = None;
        let error = refund_returned_items(&klarna, &anonymous, &returned[..1], None)
            .await
            .unwrap_err();
        assert!(matches!(error, CallError::MissingOrderId));
        assert_eq!(klarna.sent(), []);
    }
}
