//! Capture part of an order: the lines that shipped, by reference and
//! quantity.
//!
//! # The rules
//!
//! When only some of an order's goods ship, the merchant captures the amount
//! of what shipped, not the whole order, and sends the shipped items as the
//! capture's order lines. Those lines matter later: a refund finds the
//! capture (and so the invoice) it belongs to by their references (see
//! [`refund_allocation`](super::refund_allocation)).
//!
//! [`plan_capture`] builds that capture from the order as Klarna returns it
//! ([`Orders::get_order`](crate::Orders::get_order)) and refuses, before
//! anything is sent:
//!
//! - an order that can no longer be captured (`CAPTURED`, `CANCELLED`,
//!   `EXPIRED` or `CLOSED`);
//! - a reference that is not on the order, or is on more than one of its
//!   lines (which line shipped would be a guess);
//! - more units of a line than were ordered minus those already captured
//!   (counted from the order lines of the order's earlier captures);
//! - a capture that takes nothing (only free items or discounts);
//! - a `captured_amount` above the order's `remaining_authorized_amount`.
//!
//! The captured lines keep the order line's reference, name, unit price and
//! tax rate. When only some units of a line are captured, the line's
//! discount is spread over its units so that the captures of all of them
//! add up to the line's total (see `portion` in the source), and the tax is
//! recomputed with [`tax_included`](super::order_lines::tax_included).
//! `captured_amount` is the sum of the captured lines.
//!
//! # Two ways to use it
//!
//! Build the request, add what only the merchant knows, and send it with the
//! generated client:
//!
//! ```
//! use klarna_ordermanagement::guides::order_lines::OrderLineBuilder;
//! use klarna_ordermanagement::guides::partial_capture::plan_capture;
//! use klarna_ordermanagement::guides::LineQuantity;
//! use klarna_ordermanagement::models::{MerchantOrderDto, MerchantOrderDtoStatus, ShippingInfo};
//!
//! // An order for 10 tomatoes at 6.00, as `get_order` returns it.
//! let tomatoes = OrderLineBuilder::new("Tomatoes", 10, 600).reference("123050").tax_rate(2500).build()?;
//! let order = MerchantOrderDto {
//!     order_id: Some("order-1".into()),
//!     status: Some(MerchantOrderDtoStatus::Authorized),
//!     order_amount: Some(6000),
//!     captured_amount: Some(0),
//!     remaining_authorized_amount: Some(6000),
//!     order_lines: Some(vec![tomatoes]),
//!     ..Default::default()
//! };
//!
//! let mut capture = plan_capture(&order, &[LineQuantity::new("123050", 4)])?;
//! assert_eq!(capture.captured_amount, 2400);
//! capture.description = Some("First box of tomatoes".into());
//! capture.shipping_info = Some(vec![ShippingInfo {
//!     shipping_company: Some("DHL US".into()),
//!     tracking_number: Some("63456415674545679874".into()),
//!     ..Default::default()
//! }]);
//! // client.capture_order("order-1", &capture, Some(key)).await?
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Or let [`capture_lines`] check and send it through anything that
//! implements [`Captures`]:
//!
//! ```no_run
//! use klarna_ordermanagement::guides::partial_capture::capture_lines;
//! use klarna_ordermanagement::guides::LineQuantity;
//! use klarna_ordermanagement::{Client, Config, Environment, IdempotencyKey, OrderId, Orders, Region};
//!
//! # async fn ship() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::from_config(Config::from_env(Region::Europe, Environment::Playground)?)?;
//! let order = client.get_order(&OrderId::new("order-1")).await?.into_inner();
//! let key = IdempotencyKey::from("order-1-shipment-1");
//! let created = capture_lines(&client, &order, &[LineQuantity::new("123050", 4)], Some(key)).await?;
//! println!("capture {:?}", created.capture_id);
//! # Ok(())
//! # }
//! ```

use std::fmt;

use super::order_lines::{portion, LineError};
use super::{check_items, CallError, ItemsError, LineQuantity};
use crate::models::{CaptureObject, MerchantOrderDto, MerchantOrderDtoStatus};
use crate::{CaptureOrderError, CaptureOrderResponse, Captures, IdempotencyKey, OrderId, Response};

/// Why a partial capture would be refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartialCaptureError {
    /// The list of items is empty, repeats a reference or has a quantity
    /// below 1.
    Items(ItemsError),
    /// The order is in a state that allows no more captures.
    NotCapturable {
        /// The order's status.
        status: MerchantOrderDtoStatus,
    },
    /// No order line has this reference.
    UnknownReference {
        /// The reference asked for.
        reference: String,
    },
    /// Several order lines have this reference, so which one shipped is
    /// unclear.
    AmbiguousReference {
        /// The reference asked for.
        reference: String,
        /// How many order lines carry it.
        lines: usize,
    },
    /// More units than are left to capture on the line.
    QuantityExceedsRemaining {
        /// The line's reference.
        reference: String,
        /// Units asked for.
        requested: i64,
        /// Units on the order line.
        ordered: i64,
        /// Units of this reference in earlier captures.
        already_captured: i128,
    },
    /// The order line itself breaks a rule, so its part cannot be computed.
    InvalidOrderLine {
        /// The line's reference.
        reference: String,
        /// The rule it breaks.
        error: LineError,
    },
    /// The captured lines add up to zero or less.
    NonPositiveAmount {
        /// Sum of the captured lines.
        captured_amount: i64,
    },
    /// The order says neither how much is left to capture nor its amount.
    RemainingAmountUnknown,
    /// The capture is for more than the order has left authorized.
    ExceedsRemainingAuthorized {
        /// Sum of the captured lines.
        captured_amount: i64,
        /// What the order has left to capture.
        remaining_authorized_amount: i64,
    },
    /// An amount does not fit in an `i64`.
    Overflow,
}

impl fmt::Display for PartialCaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartialCaptureError::Items(error) => error.fmt(f),
            PartialCaptureError::NotCapturable { status } => write!(
                f,
                "the order is {}; only AUTHORIZED and PART_CAPTURED orders can be captured",
                status.as_str()
            ),
            PartialCaptureError::UnknownReference { reference } => {
                write!(f, "the order has no line with reference `{reference}`")
            }
            PartialCaptureError::AmbiguousReference { reference, lines } => write!(
                f,
                "{lines} order lines have reference `{reference}`, so which one shipped is \
                 unclear; give order lines distinct references"
            ),
            PartialCaptureError::QuantityExceedsRemaining {
                reference,
                requested,
                ordered,
                already_captured,
            } => write!(
                f,
                "cannot capture {requested} of `{reference}`: {ordered} ordered, \
                 {already_captured} already captured"
            ),
            PartialCaptureError::InvalidOrderLine { reference, error } => {
                write!(f, "order line `{reference}` is inconsistent: {error}")
            }
            PartialCaptureError::NonPositiveAmount { captured_amount } => write!(
                f,
                "the captured lines add up to {captured_amount}; a capture must take a \
                 positive amount"
            ),
            PartialCaptureError::RemainingAmountUnknown => f.write_str(
                "the order has neither remaining_authorized_amount nor order_amount, \
                 so the capture cannot be checked against it",
            ),
            PartialCaptureError::ExceedsRemainingAuthorized {
                captured_amount,
                remaining_authorized_amount,
            } => write!(
                f,
                "capturing {captured_amount} is more than the {remaining_authorized_amount} \
                 left authorized on the order"
            ),
            PartialCaptureError::Overflow => super::AmountOverflow.fmt(f),
        }
    }
}

impl std::error::Error for PartialCaptureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PartialCaptureError::Items(error) => Some(error),
            PartialCaptureError::InvalidOrderLine { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// The capture of `items` (order line references and how many units of
/// each) from `order`, or the rule it would break (see the
/// [module docs](self)).
///
/// `description`, `reference` and `shipping_info` are left empty for the
/// caller to fill in.
pub fn plan_capture(
    order: &MerchantOrderDto,
    items: &[LineQuantity],
) -> Result<CaptureObject, PartialCaptureError> {
    check_items(items).map_err(PartialCaptureError::Items)?;
    if let Some(
        status @ (MerchantOrderDtoStatus::Captured
        | MerchantOrderDtoStatus::Cancelled
        | MerchantOrderDtoStatus::Expired
        | MerchantOrderDtoStatus::Closed),
    ) = &order.status
    {
        return Err(PartialCaptureError::NotCapturable {
            status: status.clone(),
        });
    }

    let order_lines = order.order_lines.as_deref().unwrap_or_default();
    let mut lines = Vec::with_capacity(items.len());
    let mut captured_amount: i128 = 0;
    for item in items {
        let mut matching = order_lines
            .iter()
            .filter(|line| line.reference.as_deref() == Some(item.reference.as_str()));
        let line = match (matching.next(), matching.count()) {
            (None, _) => {
                return Err(PartialCaptureError::UnknownReference {
                    reference: item.reference.clone(),
                })
            }
            (Some(line), 0) => line,
            (Some(_), others) => {
                return Err(PartialCaptureError::AmbiguousReference {
                    reference: item.reference.clone(),
                    lines: others + 1,
                })
            }
        };
        let already_captured = units_captured(order, &item.reference);
        if i128::from(item.quantity) > i128::from(line.quantity) - already_captured {
            return Err(PartialCaptureError::QuantityExceedsRemaining {
                reference: item.reference.clone(),
                requested: item.quantity,
                ordered: line.quantity,
                already_captured,
            });
        }
        // Fits: 0 <= already_captured < line.quantity here.
        let before = i64::try_from(already_captured).map_err(|_| PartialCaptureError::Overflow)?;
        let part = portion(line, before, item.quantity).map_err(|error| {
            PartialCaptureError::InvalidOrderLine {
                reference: item.reference.clone(),
                error,
            }
        })?;
        captured_amount += i128::from(part.total_amount);
        lines.push(part);
    }
    let captured_amount =
        super::to_i64(captured_amount).map_err(|_| PartialCaptureError::Overflow)?;
    if captured_amount <= 0 {
        return Err(PartialCaptureError::NonPositiveAmount { captured_amount });
    }
    let remaining = remaining_authorized(order)?;
    if captured_amount > remaining {
        return Err(PartialCaptureError::ExceedsRemainingAuthorized {
            captured_amount,
            remaining_authorized_amount: remaining,
        });
    }
    Ok(CaptureObject {
        captured_amount,
        order_lines: Some(lines),
        description: None,
        reference: None,
        shipping_delay: None,
        shipping_info: None,
    })
}

/// Checks the capture with [`plan_capture`] and, if it passes, sends it with
/// [`Captures::capture_order`] for the order's `order_id`.
///
/// Pass the idempotency key of an earlier attempt to retry it safely (see
/// [`IdempotencyKey`]). To add a description or shipping details, use
/// [`plan_capture`] and send the request yourself.
pub async fn capture_lines<C: Captures>(
    client: &C,
    order: &MerchantOrderDto,
    items: &[LineQuantity],
    idempotency_key: Option<IdempotencyKey>,
) -> Result<Response<CaptureOrderResponse>, CallError<PartialCaptureError, CaptureOrderError>> {
    let capture = plan_capture(order, items).map_err(CallError::Refused)?;
    let order_id = order.order_id.as_deref().ok_or(CallError::MissingOrderId)?;
    client
        .capture_order(&OrderId::new(order_id), &capture)
        .idempotency_key(idempotency_key)
        .await
        .map_err(CallError::Klarna)
}

/// Units of `reference` in the order lines of the order's captures.
fn units_captured(order: &MerchantOrderDto, reference: &str) -> i128 {
    order
        .captures
        .iter()
        .flatten()
        .flat_map(|capture| capture.order_lines.iter().flatten())
        .filter(|line| line.reference.as_deref() == Some(reference))
        // A negative quantity is not a valid capture line; it gives nothing back.
        .map(|line| i128::from(line.quantity.max(0)))
        .sum()
}

/// What the order has left to capture: `remaining_authorized_amount`, or
/// `order_amount − captured_amount` when Klarna left it out.
fn remaining_authorized(order: &MerchantOrderDto) -> Result<i64, PartialCaptureError> {
    if let Some(remaining) = order.remaining_authorized_amount {
        return Ok(remaining);
    }
    let order_amount = order
        .order_amount
        .ok_or(PartialCaptureError::RemainingAmountUnknown)?;
    order_amount
        .checked_sub(order.captured_amount.unwrap_or(0))
        .ok_or(PartialCaptureError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::super::order_lines::validate_line;
    use super::super::test_support::{
        capture, coupon, discounted_lamps, line, order, Recorder, Sent,
    };
    use super::*;
    use crate::models::Capture;

    fn groceries() -> MerchantOrderDto {
        order(vec![line("tomatoes", 10, 600), line("bread", 2, 350)])
    }

    #[test]
    fn captures_the_chosen_units_of_the_chosen_lines() {
        let planned = plan_capture(
            &groceries(),
            &[
                LineQuantity::new("tomatoes", 4),
                LineQuantity::new("bread", 1),
            ],
        )
        .unwrap();
        assert_eq!(planned.captured_amount, 2400 + 350);
        let lines = planned.order_lines.unwrap();
        let summary: Vec<_> = lines
            .iter()
            .map(|l| (l.reference.as_deref().unwrap(), l.quantity, l.total_amount))
            .collect();
        assert_eq!(summary, [("tomatoes", 4, 2400), ("bread", 1, 350)]);
        assert_eq!(lines[0].total_tax_amount, Some(480));
        assert_eq!(lines[1].total_tax_amount, Some(70));
        for captured in &lines {
            assert_eq!(validate_line(captured), Ok(()));
        }
        assert_eq!(planned.description, None);
    }

    #[test]
    fn a_full_capture_sends_the_order_lines_unchanged() {
        let order = groceries();
        let planned = plan_capture(
            &order,
            &[
                LineQuantity::new("tomatoes", 10),
                LineQuantity::new("bread", 2),
            ],
        )
        .unwrap();
        assert_eq!(planned.captured_amount, 6700);
        assert_eq!(planned.order_lines, order.order_lines);
    }

    #[test]
    fn earlier_captures_use_up_units() {
        let mut order = groceries();
        order.captures = Some(vec![capture("first", vec![line("tomatoes", 4, 600)])]);
        order.status = Some(MerchantOrderDtoStatus::PartCaptured);
        order.captured_amount = Some(2400);
        order.remaining_authorized_amount = Some(4300);

        assert_eq!(
            plan_capture(&order, &[LineQuantity::new("tomatoes", 7)]),
            Err(PartialCaptureError::QuantityExceedsRemaining {
                reference: "tomatoes".into(),
                requested: 7,
                ordered: 10,
                already_captured: 4
            })
        );
        let rest = plan_capture(&order, &[LineQuantity::new("tomatoes", 6)]).unwrap();
        assert_eq!(rest.captured_amount, 3600);
    }

    #[test]
    fn captures_of_every_unit_add_up_to_the_discounted_line() {
        // 3 lamps at 10.00 with 1.00 off the line.
        let lamps = discounted_lamps();
        let mut order = order(vec![lamps.clone()]);
        let mut captured = Vec::new();
        for _ in 0..3 {
            let planned = plan_capture(&order, &[LineQuantity::new("lamp", 1)]).unwrap();
            let part = planned.order_lines.clone().unwrap().remove(0);
            assert_eq!(validate_line(&part), Ok(()));
            captured.push((part.total_discount_amount, planned.captured_amount));
            let done = capture("c", vec![part]);
            order.captures.get_or_insert_with(Vec::new).push(done);
            *order.remaining_authorized_amount.as_mut().unwrap() -= planned.captured_amount;
        }
        assert_eq!(
            captured,
            [(Some(34), 966), (Some(33), 967), (Some(33), 967)]
        );
        assert_eq!(
            captured.iter().map(|c| c.1).sum::<i64>(),
            lamps.total_amount
        );
        assert_eq!(order.remaining_authorized_amount, Some(0));
        assert!(matches!(
            plan_capture(&order, &[LineQuantity::new("lamp", 1)]),
            Err(PartialCaptureError::QuantityExceedsRemaining { .. })
        ));
    }

    #[test]
    fn lines_the_order_does_not_have_are_refused() {
        assert_eq!(
            plan_capture(&groceries(), &[LineQuantity::new("milk", 1)]),
            Err(PartialCaptureError::UnknownReference {
                reference: "milk".into()
            })
        );
        // A line without reference cannot be chosen either.
        let mut unnamed = line("x", 1, 100);
        unnamed.reference = None;
        assert!(matches!(
            plan_capture(&order(vec![unnamed]), &[LineQuantity::new("x", 1)]),
            Err(PartialCaptureError::UnknownReference { .. })
        ));
    }

    #[test]
    fn a_reference_on_two_lines_is_refused() {
        let twice = order(vec![line("sku", 1, 100), line("sku", 2, 100)]);
        assert_eq!(
            plan_capture(&twice, &[LineQuantity::new("sku", 1)]),
            Err(PartialCaptureError::AmbiguousReference {
                reference: "sku".into(),
                lines: 2
            })
        );
    }

    #[test]
    fn more_than_the_remaining_authorization_is_refused() {
        // An earlier capture without lines took 5000 of the 6700.
        let mut order = groceries();
        order.captures = Some(vec![Capture {
            captured_amount: Some(5000),
            ..Default::default()
        }]);
        order.captured_amount = Some(5000);
        order.remaining_authorized_amount = Some(1700);
        assert_eq!(
            plan_capture(&order, &[LineQuantity::new("tomatoes", 3)]),
            Err(PartialCaptureError::ExceedsRemainingAuthorized {
                captured_amount: 1800,
                remaining_authorized_amount: 1700
            })
        );
        assert!(plan_capture(&order, &[LineQuantity::new("tomatoes", 2)]).is_ok());
    }

    #[test]
    fn remaining_authorization_falls_back_to_the_amounts() {
        let mut order = groceries();
        order.remaining_authorized_amount = None;
        order.captured_amount = Some(6000);
        assert_eq!(
            plan_capture(&order, &[LineQuantity::new("tomatoes", 2)]),
            Err(PartialCaptureError::ExceedsRemainingAuthorized {
                captured_amount: 1200,
                remaining_authorized_amount: 700
            })
        );
        order.order_amount = None;
        assert_eq!(
            plan_capture(&order, &[LineQuantity::new("tomatoes", 1)]),
            Err(PartialCaptureError::RemainingAmountUnknown)
        );
    }

    #[test]
    fn finished_orders_are_refused() {
        for status in [
            MerchantOrderDtoStatus::Captured,
            MerchantOrderDtoStatus::Cancelled,
            MerchantOrderDtoStatus::Expired,
            MerchantOrderDtoStatus::Closed,
        ] {
            let mut order = groceries();
            order.status = Some(status.clone());
            assert_eq!(
                plan_capture(&order, &[LineQuantity::new("bread", 1)]),
                Err(PartialCaptureError::NotCapturable { status })
            );
        }
        for status in [
            None,
            Some(MerchantOrderDtoStatus::PartCaptured),
            Some(MerchantOrderDtoStatus::Unknown("NEW_STATE".into())),
        ] {
            let mut order = groceries();
            order.status = status;
            assert!(plan_capture(&order, &[LineQuantity::new("bread", 1)]).is_ok());
        }
    }

    #[test]
    fn bad_item_lists_are_refused() {
        assert_eq!(
            plan_capture(&groceries(), &[]),
            Err(PartialCaptureError::Items(ItemsError::Empty))
        );
        assert!(matches!(
            plan_capture(&groceries(), &[LineQuantity::new("bread", 0)]),
            Err(PartialCaptureError::Items(
                ItemsError::NonPositiveQuantity { .. }
            ))
        ));
        assert!(matches!(
            plan_capture(
                &groceries(),
                &[LineQuantity::new("bread", 1), LineQuantity::new("bread", 1)]
            ),
            Err(PartialCaptureError::Items(
                ItemsError::DuplicateReference { .. }
            ))
        ));
    }

    #[test]
    fn a_capture_of_nothing_is_refused() {
        let coupon = coupon();
        let order = order(vec![line("lamp", 1, 2000), coupon]);
        assert_eq!(
            plan_capture(&order, &[LineQuantity::new("coupon", 1)]),
            Err(PartialCaptureError::NonPositiveAmount {
                captured_amount: -500
            })
        );
        let both = plan_capture(
            &order,
            &[LineQuantity::new("lamp", 1), LineQuantity::new("coupon", 1)],
        )
        .unwrap();
        assert_eq!(both.captured_amount, 1500);
    }

    #[test]
    fn an_inconsistent_order_line_is_reported() {
        let mut broken = line("lamp", 2, 1000);
        broken.tax_rate = Some(-100);
        assert_eq!(
            plan_capture(&order(vec![broken]), &[LineQuantity::new("lamp", 1)]),
            Err(PartialCaptureError::InvalidOrderLine {
                reference: "lamp".into(),
                error: LineError::NegativeTaxRate { tax_rate: -100 }
            })
        );
    }

    #[test]
    fn huge_amounts_are_an_error_not_a_panic() {
        let mut huge = line("a", 1, 0);
        huge.unit_price = i64::MAX;
        huge.total_amount = i64::MAX;
        huge.total_tax_amount = None;
        huge.tax_rate = None;
        let mut other = huge.clone();
        other.reference = Some("b".into());
        let mut order = order(vec![huge, other]);
        order.remaining_authorized_amount = Some(i64::MAX);
        assert_eq!(
            plan_capture(
                &order,
                &[LineQuantity::new("a", 1), LineQuantity::new("b", 1)]
            ),
            Err(PartialCaptureError::Overflow)
        );
        order.remaining_authorized_amount = None;
        order.order_amount = Some(i64::MIN);
        order.captured_amount = Some(1);
        assert_eq!(
            plan_capture(&order, &[LineQuantity::new("a", 1)]),
            Err(PartialCaptureError::Overflow)
        );
    }

    #[test]
    fn errors_explain_themselves() {
        let error = PartialCaptureError::QuantityExceedsRemaining {
            reference: "tomatoes".into(),
            requested: 7,
            ordered: 10,
            already_captured: 4,
        };
        assert_eq!(
            error.to_string(),
            "cannot capture 7 of `tomatoes`: 10 ordered, 4 already captured"
        );
        let error = PartialCaptureError::NotCapturable {
            status: MerchantOrderDtoStatus::Cancelled,
        };
        assert_eq!(
            error.to_string(),
            "the order is CANCELLED; only AUTHORIZED and PART_CAPTURED orders can be captured"
        );
    }

    #[tokio::test]
    async fn capture_lines_sends_the_planned_capture() {
        let klarna = Recorder::default();
        let order = groceries();
        let items = [LineQuantity::new("tomatoes", 4)];
        let created = capture_lines(&klarna, &order, &items, None).await.unwrap();
        assert_eq!(created.capture_id, crate::CaptureId::new("capture-new"));
        assert_eq!(
            klarna.sent(),
            [Sent::Capture(
                "order-1".into(),
                plan_capture(&order, &items).unwrap()
            )]
        );
    }

    #[tokio::test]
    async fn capture_lines_sends_nothing_when_a_rule_is_broken() {
        let klarna = Recorder::default();
        let error = capture_lines(
            &klarna,
            &groceries(),
            &[LineQuantity::new("tomatoes", 11)],
            None,
        )
        .await
        .unwrap_err();
        assert!(matches!(
            error.refused(),
            Some(PartialCaptureError::QuantityExceedsRemaining { .. })
        ));
        let mut anonymous = groceries();
        anonymous.order_id = None;
        let error = capture_lines(&klarna, &anonymous, &[LineQuantity::new("bread", 1)], None)
            .await
            .unwrap_err();
        assert!(matches!(error, CallError::MissingOrderId));
        assert_eq!(klarna.sent(), []);
    }
}
