//! Klarna's integration guides as code: helpers that check an order's lines,
//! plan partial captures, allocate refunds to the capture that shipped the
//! items, and update order amounts by the rules Klarna enforces.
//!
//! Hand-written, not generated: `cargo xtask codegen` declares this module
//! but never touches it.
//!
//! Each rule that Klarna would otherwise only teach with a rejected call (or,
//! for refund allocation, with a confused customer holding the wrong invoice)
//! is checked here first and reported as a typed error whose `Display` says
//! which rule failed and why.
//!
//! - [`order_lines`]: the arithmetic Klarna checks on every order line, and a
//!   builder that computes a line's totals.
//! - [`partial_capture`]: capture some of an order's lines by reference.
//! - [`refund_allocation`]: refund returned items against the capture that
//!   shipped them.
//! - [`amount_update`]: change the order amount, choosing explicitly what
//!   happens to the order lines.
//!
//! The capture, refund and update helpers each come in two shapes: a
//! `plan_*`/`allocate_*` function that returns the request body for the
//! generated client, and an `async` function that checks the rules and then
//! calls the generated trait ([`Captures`], [`Refunds`] or [`Orders`]), so a
//! test can pass a fake. Both take the order as
//! [`Orders::get_order`](crate::Orders::get_order) returned it: the checks
//! are only as current as that order, so fetch it right before acting.
//!
//! Amounts are `i64` minor units, as in the generated models. Sums and
//! products are computed without overflow: an amount that does not fit is an
//! error, never a panic or a wrapped value.
//!
//! [`Captures`]: crate::Captures
//! [`Refunds`]: crate::Refunds
//! [`Orders`]: crate::Orders

use std::fmt;

pub mod amount_update;
pub mod order_lines;
pub mod partial_capture;
pub mod refund_allocation;

#[cfg(test)]
mod test_support;

/// How many units of the order line with a given `reference` to capture or
/// refund.
///
/// The reference is the line's `reference` field (SKU or article number),
/// compared exactly: Klarna matches refunds to captures by this string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineQuantity {
    /// The `reference` of the order line.
    pub reference: String,
    /// Number of units, at least 1.
    pub quantity: i64,
}

impl LineQuantity {
    /// `quantity` units of the line with this `reference`.
    pub fn new(reference: impl Into<String>, quantity: i64) -> Self {
        LineQuantity {
            reference: reference.into(),
            quantity,
        }
    }
}

/// The error of a helper that checks Klarna's rules and then calls the
/// generated client.
///
/// `R` is the helper's rule error, `E` the operation's documented error type.
#[derive(Debug)]
pub enum CallError<R, E> {
    /// A rule was broken; nothing was sent to Klarna.
    Refused(R),
    /// The order has no `order_id`, so there is nowhere to send the request;
    /// nothing was sent.
    MissingOrderId,
    /// The request was sent (or tried) and failed; see [`crate::Error`].
    Klarna(crate::Error<E>),
}

impl<R, E> CallError<R, E> {
    /// The rule error, when the request was refused before it was sent.
    pub fn refused(&self) -> Option<&R> {
        match self {
            CallError::Refused(rule) => Some(rule),
            CallError::MissingOrderId | CallError::Klarna(_) => None,
        }
    }

    /// The client's error, when the request was sent or tried.
    pub fn klarna(&self) -> Option<&crate::Error<E>> {
        match self {
            CallError::Refused(_) | CallError::MissingOrderId => None,
            CallError::Klarna(error) => Some(error),
        }
    }
}

impl<R: fmt::Display, E> fmt::Display for CallError<R, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Refused(rule) => write!(f, "not sent to Klarna: {rule}"),
            CallError::MissingOrderId => {
                f.write_str("not sent to Klarna: the order has no order_id")
            }
            CallError::Klarna(error) => error.fmt(f),
        }
    }
}

impl<R, E> std::error::Error for CallError<R, E>
where
    R: std::error::Error + 'static,
    E: fmt::Debug + 'static,
{
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CallError::Refused(rule) => Some(rule),
            CallError::MissingOrderId => None,
            CallError::Klarna(error) => Some(error),
        }
    }
}

/// Why the list of items given to a helper is unusable, shared by partial
/// captures and refunds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemsError {
    /// No items were given.
    Empty,
    /// An item asks for zero or fewer units.
    NonPositiveQuantity {
        /// The item's reference.
        reference: String,
        /// The quantity asked for.
        quantity: i64,
    },
    /// The same reference is listed twice; give each reference once with the
    /// total quantity, so the request cannot be read two ways.
    DuplicateReference {
        /// The repeated reference.
        reference: String,
    },
}

impl fmt::Display for ItemsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemsError::Empty => f.write_str("no items given"),
            ItemsError::NonPositiveQuantity {
                reference,
                quantity,
            } => write!(
                f,
                "item `{reference}` has quantity {quantity}; quantities must be at least 1"
            ),
            ItemsError::DuplicateReference { reference } => write!(
                f,
                "item `{reference}` is listed more than once; list it once with the total quantity"
            ),
        }
    }
}

impl std::error::Error for ItemsError {}

/// Checks a list of items: not empty, quantities of at least 1, each
/// reference once.
fn check_items(items: &[LineQuantity]) -> Result<(), ItemsError> {
    if items.is_empty() {
        return Err(ItemsError::Empty);
    }
    for (index, item) in items.iter().enumerate() {
        if item.quantity < 1 {
            return Err(ItemsError::NonPositiveQuantity {
                reference: item.reference.clone(),
                quantity: item.quantity,
            });
        }
        if items[..index].iter().any(|x| x.reference == item.reference) {
            return Err(ItemsError::DuplicateReference {
                reference: item.reference.clone(),
            });
        }
    }
    Ok(())
}

/// An amount, or a sum or product of amounts, does not fit in an `i64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AmountOverflow;

impl fmt::Display for AmountOverflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an amount is too large to represent in 64-bit minor units")
    }
}

impl std::error::Error for AmountOverflow {}

/// Narrows an exact intermediate (amounts are multiplied and summed as
/// `i128`, where no realistic input can overflow) back to the API's `i64`.
fn to_i64(value: i128) -> Result<i64, AmountOverflow> {
    i64::try_from(value).map_err(|_| AmountOverflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_checked() {
        assert_eq!(check_items(&[]), Err(ItemsError::Empty));
        for quantity in [0, -3] {
            assert_eq!(
                check_items(&[LineQuantity::new("A", quantity)]),
                Err(ItemsError::NonPositiveQuantity {
                    reference: "A".into(),
                    quantity
                })
            );
        }
        assert_eq!(
            check_items(&[
                LineQuantity::new("A", 1),
                LineQuantity::new("B", 1),
                LineQuantity::new("A", 2)
            ]),
            Err(ItemsError::DuplicateReference {
                reference: "A".into()
            })
        );
        assert_eq!(
            check_items(&[LineQuantity::new("A", 1), LineQuantity::new("B", 5)]),
            Ok(())
        );
    }

    #[test]
    fn call_errors_say_whether_anything_was_sent() {
        let refused: CallError<ItemsError, ()> = CallError::Refused(ItemsError::Empty);
        assert_eq!(refused.to_string(), "not sent to Klarna: no items given");
        assert_eq!(refused.refused(), Some(&ItemsError::Empty));
        assert!(refused.klarna().is_none());

        let missing: CallError<ItemsError, ()> = CallError::MissingOrderId;
        assert_eq!(
            missing.to_string(),
            "not sent to Klarna: the order has no order_id"
        );

        let klarna: CallError<ItemsError, ()> =
            CallError::Klarna(crate::Error::api("refund_order", 403, ()));
        assert!(klarna.refused().is_none());
        assert_eq!(klarna.klarna().and_then(|error| error.status()), Some(403));
        assert!(klarna
            .to_string()
            .starts_with("refund_order: Klarna answered 403"));
    }

    #[test]
    fn narrowing_refuses_what_does_not_fit() {
        assert_eq!(to_i64(i128::from(i64::MAX)), Ok(i64::MAX));
        assert_eq!(to_i64(i128::from(i64::MAX) + 1), Err(AmountOverflow));
        assert_eq!(to_i64(i128::from(i64::MIN) - 1), Err(AmountOverflow));
    }
}
