//! The arithmetic Klarna checks on every order line, and a builder that does
//! it for you.
//!
//! # The rules
//!
//! Prices on Klarna order lines are gross: `unit_price`, `total_amount` and
//! `total_discount_amount` all include tax, and `total_tax_amount` is the
//! tax contained in `total_amount`. A line is consistent when:
//!
//! - `quantity`, `tax_rate` and `total_discount_amount` are not negative;
//! - `total_amount` = `quantity` × `unit_price` − `total_discount_amount`.
//!   Klarna tolerates a difference of up to `quantity` minor units (room for
//!   a unit price that was rounded to the minor unit), and so does
//!   [`validate_line`];
//! - `total_tax_amount` is within 1 minor unit of the exact tax contained in
//!   `total_amount` at `tax_rate`, where `tax_rate` is in basis points
//!   (2500 is 25 %):
//!
//!   ```text
//!   tax = total_amount × tax_rate / (10000 + tax_rate)
//!       = total_amount − total_amount × 10000 / (10000 + tax_rate)
//!   ```
//!
//!   [`tax_included`] rounds this to the nearest minor unit, halves away from
//!   zero; [`validate_line`] accepts any amount at most 1 away from the
//!   unrounded value. That is never looser than Klarna's own check, whichever
//!   way Klarna rounds the division, and the rounded value always passes.
//!   A missing `tax_rate` or `total_tax_amount` counts as 0;
//! - a `discount` line takes money off: its `unit_price` and `total_amount`
//!   are negative, and so its tax is too.
//!
//! [`validate_order_lines`] adds the order-level rule: the lines'
//! `total_amount`s add up to exactly the order amount.
//!
//! ```
//! use klarna_ordermanagement::guides::order_lines::{validate_order_lines, OrderLineBuilder};
//! use klarna_ordermanagement::models::OrderLineType;
//!
//! // Two mugs at 12.50 with 2.00 off, 25 % VAT included.
//! let mugs = OrderLineBuilder::new("Mug", 2, 1250)
//!     .reference("MUG-1")
//!     .kind(OrderLineType::Physical)
//!     .discount(200)
//!     .tax_rate(2500)
//!     .build()?;
//! assert_eq!(mugs.total_amount, 2300);
//! assert_eq!(mugs.total_tax_amount, Some(460));
//!
//! let coupon = OrderLineBuilder::new("Welcome coupon", 1, -300)
//!     .reference("COUPON")
//!     .kind(OrderLineType::Discount)
//!     .tax_rate(2500)
//!     .build()?;
//! assert_eq!(coupon.total_tax_amount, Some(-60));
//!
//! validate_order_lines(&[mugs, coupon], 2000)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use crate::models::{OrderLine, OrderLineType};

/// Basis points in 100 %: `tax_rate` 2500 is 25 %.
const FULL_RATE: i128 = 10_000;

/// Why an order line breaks one of Klarna's rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineError {
    /// `quantity` is negative.
    NegativeQuantity {
        /// The line's quantity.
        quantity: i64,
    },
    /// `tax_rate` is negative.
    NegativeTaxRate {
        /// The line's tax rate, in basis points.
        tax_rate: i32,
    },
    /// `total_discount_amount` is negative; a discount is given as a positive
    /// amount that is subtracted.
    NegativeDiscountAmount {
        /// The line's discount.
        total_discount_amount: i64,
    },
    /// A `discount` line whose unit price or total is not negative: it would
    /// add to the order instead of taking off.
    DiscountLineNotNegative {
        /// The line's unit price.
        unit_price: i64,
        /// The line's total.
        total_amount: i64,
    },
    /// `total_amount` is further than `quantity` minor units from
    /// `quantity × unit_price − total_discount_amount`.
    TotalAmountMismatch {
        /// The line's total.
        total_amount: i64,
        /// `quantity × unit_price − total_discount_amount`.
        expected: i128,
    },
    /// `total_tax_amount` is more than 1 minor unit away from the tax that
    /// `total_amount` contains at `tax_rate`.
    TaxAmountMismatch {
        /// The line's tax amount (0 when missing).
        total_tax_amount: i64,
        /// The tax contained in `total_amount`, rounded as [`tax_included`]
        /// does.
        expected: i64,
    },
    /// A computed amount does not fit in an `i64`.
    Overflow,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::NegativeQuantity { quantity } => {
                write!(f, "quantity {quantity} is negative")
            }
            LineError::NegativeTaxRate { tax_rate } => write!(
                f,
                "tax_rate {tax_rate} is negative (basis points: 2500 means 25 %)"
            ),
            LineError::NegativeDiscountAmount {
                total_discount_amount,
            } => write!(
                f,
                "total_discount_amount {total_discount_amount} is negative; \
                 give the discount as a positive amount, it is subtracted from the total"
            ),
            LineError::DiscountLineNotNegative {
                unit_price,
                total_amount,
            } => write!(
                f,
                "a discount line must have a negative unit_price and total_amount, \
                 not {unit_price} and {total_amount}"
            ),
            LineError::TotalAmountMismatch {
                total_amount,
                expected,
            } => write!(
                f,
                "total_amount {total_amount} does not match quantity × unit_price − \
                 total_discount_amount = {expected}"
            ),
            LineError::TaxAmountMismatch {
                total_tax_amount,
                expected,
            } => write!(
                f,
                "total_tax_amount {total_tax_amount} is not the tax contained in \
                 total_amount at tax_rate ({expected}, give or take 1)"
            ),
            LineError::Overflow => super::AmountOverflow.fmt(f),
        }
    }
}

impl std::error::Error for LineError {}

/// The tax contained in a gross `total_amount` at `tax_rate` basis points:
/// `total_amount × tax_rate / (10000 + tax_rate)`, rounded to the nearest
/// minor unit, halves away from zero.
///
/// A negative total (a discount line) gives a negative tax.
///
/// ```
/// use klarna_ordermanagement::guides::order_lines::tax_included;
///
/// assert_eq!(tax_included(6000, 2500)?, 1200); // 25 % of the net 4800
/// assert_eq!(tax_included(999, 2500)?, 200); // 199.8 rounds up
/// assert_eq!(tax_included(9, 2000)?, 2); // 1.5 rounds away from zero
/// assert_eq!(tax_included(-9, 2000)?, -2);
/// # Ok::<(), klarna_ordermanagement::guides::order_lines::LineError>(())
/// ```
pub fn tax_included(total_amount: i64, tax_rate: i32) -> Result<i64, LineError> {
    if tax_rate < 0 {
        return Err(LineError::NegativeTaxRate { tax_rate });
    }
    let numerator = i128::from(total_amount) * i128::from(tax_rate);
    let denominator = FULL_RATE + i128::from(tax_rate);
    let mut tax = numerator / denominator;
    let remainder = numerator % denominator;
    if 2 * remainder.abs() >= denominator {
        tax += numerator.signum();
    }
    // |tax| <= |total_amount| because tax_rate / (10000 + tax_rate) < 1.
    super::to_i64(tax).map_err(|_| LineError::Overflow)
}

/// Checks one line against Klarna's rules (see the [module docs](self)).
pub fn validate_line(line: &OrderLine) -> Result<(), LineError> {
    if line.quantity < 0 {
        return Err(LineError::NegativeQuantity {
            quantity: line.quantity,
        });
    }
    let tax_rate = line.tax_rate.unwrap_or(0);
    if tax_rate < 0 {
        return Err(LineError::NegativeTaxRate { tax_rate });
    }
    let discount = line.total_discount_amount.unwrap_or(0);
    if discount < 0 {
        return Err(LineError::NegativeDiscountAmount {
            total_discount_amount: discount,
        });
    }
    if line.r#type == Some(OrderLineType::Discount)
        && (line.unit_price >= 0 || line.total_amount >= 0)
    {
        return Err(LineError::DiscountLineNotNegative {
            unit_price: line.unit_price,
            total_amount: line.total_amount,
        });
    }
    // i128: the product of two i64 and one more i64 term cannot overflow it.
    let expected = i128::from(line.quantity) * i128::from(line.unit_price) - i128::from(discount);
    if (i128::from(line.total_amount) - expected).abs() > i128::from(line.quantity) {
        return Err(LineError::TotalAmountMismatch {
            total_amount: line.total_amount,
            expected,
        });
    }
    let tax = line.total_tax_amount.unwrap_or(0);
    // |tax − total × rate / (10000 + rate)| ≤ 1, multiplied out so that no
    // rounding is involved.
    let denominator = FULL_RATE + i128::from(tax_rate);
    let off_by =
        i128::from(tax) * denominator - i128::from(line.total_amount) * i128::from(tax_rate);
    if off_by.abs() > denominator {
        return Err(LineError::TaxAmountMismatch {
            total_tax_amount: tax,
            expected: tax_included(line.total_amount, tax_rate)?,
        });
    }
    Ok(())
}

/// Why a set of order lines does not describe an order amount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderLinesError {
    /// One line breaks a rule.
    Line {
        /// Position of the line in the list, from 0.
        index: usize,
        /// The line's reference, if it has one.
        reference: Option<String>,
        /// The rule it breaks.
        error: LineError,
    },
    /// The lines' totals do not add up to the order amount.
    SumMismatch {
        /// Sum of the lines' `total_amount`s.
        lines_total: i128,
        /// The order amount they should add up to.
        order_amount: i64,
    },
}

impl fmt::Display for OrderLinesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderLinesError::Line {
                index,
                reference,
                error,
            } => {
                write!(f, "order line {index}")?;
                if let Some(reference) = reference {
                    write!(f, " (`{reference}`)")?;
                }
                write!(f, ": {error}")
            }
            OrderLinesError::SumMismatch {
                lines_total,
                order_amount,
            } => write!(
                f,
                "the order lines add up to {lines_total}, not to the order amount {order_amount}"
            ),
        }
    }
}

impl std::error::Error for OrderLinesError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OrderLinesError::Line { error, .. } => Some(error),
            OrderLinesError::SumMismatch { .. } => None,
        }
    }
}

/// Checks every line with [`validate_line`], then that their `total_amount`s
/// add up to exactly `order_amount`.
pub fn validate_order_lines(lines: &[OrderLine], order_amount: i64) -> Result<(), OrderLinesError> {
    for (index, line) in lines.iter().enumerate() {
        validate_line(line).map_err(|error| OrderLinesError::Line {
            index,
            reference: line.reference.clone(),
            error,
        })?;
    }
    // No slice is long enough to overflow an i128 with i64 terms.
    let lines_total: i128 = lines.iter().map(|line| i128::from(line.total_amount)).sum();
    if lines_total != i128::from(order_amount) {
        return Err(OrderLinesError::SumMismatch {
            lines_total,
            order_amount,
        });
    }
    Ok(())
}

/// Builds an [`OrderLine`] whose `total_amount` and `total_tax_amount` are
/// computed from the unit price, quantity, discount and tax rate, so they
/// always pass [`validate_line`].
///
/// `total_amount` is exactly `quantity × unit_price − discount`, and
/// `total_tax_amount` is [`tax_included`] in it. Fields the builder does not
/// set (`image_url`, `product_url`, ...) can be set on the built line.
#[derive(Clone, Debug)]
pub struct OrderLineBuilder {
    name: String,
    quantity: i64,
    unit_price: i64,
    reference: Option<String>,
    kind: Option<OrderLineType>,
    discount: i64,
    tax_rate: i32,
}

impl OrderLineBuilder {
    /// `quantity` units of `name` at `unit_price` (minor units, tax
    /// included, before discount), with no discount and no tax.
    pub fn new(name: impl Into<String>, quantity: i64, unit_price: i64) -> Self {
        OrderLineBuilder {
            name: name.into(),
            quantity,
            unit_price,
            reference: None,
            kind: None,
            discount: 0,
            tax_rate: 0,
        }
    }

    /// The SKU or article number; captures and refunds find the line by it.
    pub fn reference(mut self, reference: impl Into<String>) -> Self {
        self.reference = Some(reference.into());
        self
    }

    /// The kind of line (Klarna assumes `physical` when it is missing).
    pub fn kind(mut self, kind: OrderLineType) -> Self {
        self.kind = Some(kind);
        self
    }

    /// The discount on the whole line, tax included, as a positive amount.
    pub fn discount(mut self, total_discount_amount: i64) -> Self {
        self.discount = total_discount_amount;
        self
    }

    /// The tax rate in basis points (2500 is 25 %).
    pub fn tax_rate(mut self, tax_rate: i32) -> Self {
        self.tax_rate = tax_rate;
        self
    }

    /// The line, or the rule its inputs break.
    pub fn build(self) -> Result<OrderLine, LineError> {
        let total =
            i128::from(self.quantity) * i128::from(self.unit_price) - i128::from(self.discount);
        let total_amount = super::to_i64(total).map_err(|_| LineError::Overflow)?;
        let line = OrderLine {
            name: self.name,
            quantity: self.quantity,
            unit_price: self.unit_price,
            reference: self.reference,
            r#type: self.kind,
            tax_rate: Some(self.tax_rate),
            total_amount,
            total_discount_amount: Some(self.discount),
            total_tax_amount: Some(tax_included(total_amount, self.tax_rate)?),
            image_url: None,
            merchant_data: None,
            product_identifiers: None,
            product_url: None,
            quantity_unit: None,
            subscription: None,
        };
        validate_line(&line)?;
        Ok(line)
    }
}

/// Units `before .. before + take` of `line` as a line of their own, for a
/// capture or refund of part of it.
///
/// Unit price, tax rate, reference and the other descriptive fields are
/// kept. The discount is spread over the units so that the parts of a line
/// add up to the whole: units `0 .. n` carry `ceil(discount × n / quantity)`
/// of it, and a part carries the difference. Rounding up means a part never
/// costs more than its share, and the part that ends at the last unit
/// carries whatever cent is left. The tax is recomputed with
/// [`tax_included`].
///
/// Callers check `0 <= before`, `1 <= take` and
/// `before + take <= line.quantity`. The whole line comes back unchanged.
pub(crate) fn portion(line: &OrderLine, before: i64, take: i64) -> Result<OrderLine, LineError> {
    if before == 0 && take == line.quantity {
        return Ok(line.clone());
    }
    let quantity = i128::from(line.quantity);
    let discount = i128::from(line.total_discount_amount.unwrap_or(0));
    let end = i128::from(before) + i128::from(take);
    let discount_up_to = |units: i128| -> Result<i128, LineError> {
        // Unreachable error: callers guarantee quantity >= before + take >= 1.
        let floor = (discount * units)
            .checked_div_euclid(quantity)
            .ok_or(LineError::Overflow)?;
        let exact = (discount * units).rem_euclid(quantity) == 0;
        Ok(if exact { floor } else { floor + 1 })
    };
    let part_discount = discount_up_to(end)? - discount_up_to(i128::from(before))?;
    let total = i128::from(take) * i128::from(line.unit_price) - part_discount;

    let to_i64 = |value: i128| super::to_i64(value).map_err(|_| LineError::Overflow);
    let total_amount = to_i64(total)?;
    let tax_rate = line.tax_rate.unwrap_or(0);
    let tax = tax_included(total_amount, tax_rate)?;
    Ok(OrderLine {
        quantity: take,
        total_amount,
        total_discount_amount: match line.total_discount_amount {
            None if part_discount == 0 => None,
            _ => Some(to_i64(part_discount)?),
        },
        total_tax_amount: match (line.tax_rate, line.total_tax_amount) {
            (None, None) => None,
            _ => Some(tax),
        },
        ..line.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(quantity: i64, unit_price: i64, discount: i64, tax_rate: i32) -> OrderLine {
        OrderLineBuilder::new("Item", quantity, unit_price)
            .reference("REF")
            .discount(discount)
            .tax_rate(tax_rate)
            .build()
            .unwrap()
    }

    #[test]
    fn tax_is_contained_in_the_gross_total() {
        assert_eq!(tax_included(6000, 2500), Ok(1200));
        assert_eq!(tax_included(10_000, 2500), Ok(2000));
        assert_eq!(tax_included(1070, 700), Ok(70));
        assert_eq!(tax_included(5000, 0), Ok(0));
        assert_eq!(tax_included(0, 2500), Ok(0));
    }

    #[test]
    fn tax_rounds_to_the_nearest_minor_unit() {
        // 999 × 2500 / 12500 = 199.8
        assert_eq!(tax_included(999, 2500), Ok(200));
        // 1001 × 2500 / 12500 = 200.2
        assert_eq!(tax_included(1001, 2500), Ok(200));
        // 100 × 1200 / 11200 = 10.714...
        assert_eq!(tax_included(100, 1200), Ok(11));
        // 100 × 600 / 10600 = 5.66...
        assert_eq!(tax_included(100, 600), Ok(6));
        // 1 × 2500 / 12500 = 0.2
        assert_eq!(tax_included(1, 2500), Ok(0));
    }

    #[test]
    fn tax_halves_round_away_from_zero() {
        // 9 × 2000 / 12000 = 1.5 and 15 × 2000 / 12000 = 2.5
        assert_eq!(tax_included(9, 2000), Ok(2));
        assert_eq!(tax_included(15, 2000), Ok(3));
        assert_eq!(tax_included(-9, 2000), Ok(-2));
        assert_eq!(tax_included(-15, 2000), Ok(-3));
        // 100 % tax: half of the gross total.
        assert_eq!(tax_included(7, 10_000), Ok(4));
    }

    #[test]
    fn tax_of_a_negative_total_is_negative() {
        assert_eq!(tax_included(-3000, 2500), Ok(-600));
        assert_eq!(tax_included(-999, 2500), Ok(-200));
    }

    #[test]
    fn tax_at_extreme_amounts_does_not_overflow() {
        assert_eq!(tax_included(i64::MAX, 0), Ok(0));
        let max_tax = tax_included(i64::MAX, i32::MAX).unwrap();
        assert!(max_tax > 0 && max_tax < i64::MAX);
        let min_tax = tax_included(i64::MIN, i32::MAX).unwrap();
        assert!(min_tax < 0 && min_tax > i64::MIN);
    }

    #[test]
    fn a_negative_tax_rate_is_refused() {
        assert_eq!(
            tax_included(100, -1),
            Err(LineError::NegativeTaxRate { tax_rate: -1 })
        );
        // -10000 would make the divisor zero.
        assert_eq!(
            tax_included(100, -10_000),
            Err(LineError::NegativeTaxRate { tax_rate: -10_000 })
        );
    }

    #[test]
    fn builder_computes_totals() {
        let built = OrderLineBuilder::new("Mug", 3, 1250)
            .reference("MUG")
            .kind(OrderLineType::Physical)
            .discount(350)
            .tax_rate(2500)
            .build()
            .unwrap();
        assert_eq!(built.total_amount, 3400);
        assert_eq!(built.total_discount_amount, Some(350));
        assert_eq!(built.total_tax_amount, Some(680));
        assert_eq!(built.tax_rate, Some(2500));
        assert_eq!(built.reference.as_deref(), Some("MUG"));
        assert_eq!(built.r#type, Some(OrderLineType::Physical));
        assert_eq!(validate_line(&built), Ok(()));
    }

    #[test]
    fn builder_rounds_tax() {
        let built = line(1, 999, 0, 2500);
        assert_eq!(built.total_tax_amount, Some(200));
    }

    #[test]
    fn builder_refuses_what_validation_refuses() {
        assert_eq!(
            OrderLineBuilder::new("X", -1, 100).build(),
            Err(LineError::NegativeQuantity { quantity: -1 })
        );
        assert_eq!(
            OrderLineBuilder::new("X", 1, 100).discount(-5).build(),
            Err(LineError::NegativeDiscountAmount {
                total_discount_amount: -5
            })
        );
        assert_eq!(
            OrderLineBuilder::new("X", 1, 100).tax_rate(-2500).build(),
            Err(LineError::NegativeTaxRate { tax_rate: -2500 })
        );
        assert_eq!(
            OrderLineBuilder::new("Coupon", 1, 500)
                .kind(OrderLineType::Discount)
                .build(),
            Err(LineError::DiscountLineNotNegative {
                unit_price: 500,
                total_amount: 500
            })
        );
    }

    #[test]
    fn builder_reports_overflow() {
        assert_eq!(
            OrderLineBuilder::new("X", 2, i64::MAX).build(),
            Err(LineError::Overflow)
        );
        assert_eq!(
            OrderLineBuilder::new("X", 1, i64::MIN).discount(1).build(),
            Err(LineError::Overflow)
        );
    }

    #[test]
    fn total_amount_must_match_within_quantity() {
        let mut checked = line(2, 1000, 0, 0);
        checked.total_amount = 2002;
        assert_eq!(validate_line(&checked), Ok(()));
        checked.total_amount = 1998;
        assert_eq!(validate_line(&checked), Ok(()));
        checked.total_amount = 2003;
        assert_eq!(
            validate_line(&checked),
            Err(LineError::TotalAmountMismatch {
                total_amount: 2003,
                expected: 2000
            })
        );
    }

    #[test]
    fn total_amount_subtracts_the_discount() {
        let mut checked = line(1, 1000, 200, 0);
        assert_eq!(checked.total_amount, 800);
        checked.total_amount = 1000;
        assert_eq!(
            validate_line(&checked),
            Err(LineError::TotalAmountMismatch {
                total_amount: 1000,
                expected: 800
            })
        );
    }

    #[test]
    fn tax_amount_may_be_off_by_one() {
        let mut checked = line(1, 999, 0, 2500); // exact tax 199.8
        for accepted in [199, 200] {
            checked.total_tax_amount = Some(accepted);
            assert_eq!(validate_line(&checked), Ok(()), "tax {accepted}");
        }
        for refused in [198, 201] {
            checked.total_tax_amount = Some(refused);
            assert_eq!(
                validate_line(&checked),
                Err(LineError::TaxAmountMismatch {
                    total_tax_amount: refused,
                    expected: 200
                }),
                "tax {refused}"
            );
        }
    }

    #[test]
    fn a_taxed_line_without_tax_amount_is_inconsistent() {
        let mut checked = line(1, 10_000, 0, 2500);
        checked.total_tax_amount = None;
        assert_eq!(
            validate_line(&checked),
            Err(LineError::TaxAmountMismatch {
                total_tax_amount: 0,
                expected: 2000
            })
        );
        checked.tax_rate = None;
        assert_eq!(validate_line(&checked), Ok(()));
    }

    #[test]
    fn quantity_must_not_be_negative() {
        let mut checked = line(1, 100, 0, 0);
        checked.quantity = -1;
        checked.total_amount = -100;
        assert_eq!(
            validate_line(&checked),
            Err(LineError::NegativeQuantity { quantity: -1 })
        );
    }

    #[test]
    fn a_zero_quantity_line_is_allowed() {
        assert_eq!(validate_line(&line(0, 100, 0, 2500)), Ok(()));
    }

    #[test]
    fn discount_lines_must_be_negative() {
        let coupon = OrderLineBuilder::new("Coupon", 1, -500)
            .kind(OrderLineType::Discount)
            .tax_rate(2500)
            .build()
            .unwrap();
        assert_eq!(coupon.total_amount, -500);
        assert_eq!(coupon.total_tax_amount, Some(-100));
        assert_eq!(validate_line(&coupon), Ok(()));

        let mut positive = coupon.clone();
        positive.unit_price = 500;
        positive.total_amount = 500;
        positive.total_tax_amount = Some(100);
        assert_eq!(
            validate_line(&positive),
            Err(LineError::DiscountLineNotNegative {
                unit_price: 500,
                total_amount: 500
            })
        );
        let mut zero = coupon;
        zero.unit_price = 0;
        zero.total_amount = 0;
        zero.total_tax_amount = Some(0);
        assert!(matches!(
            validate_line(&zero),
            Err(LineError::DiscountLineNotNegative { .. })
        ));
    }

    #[test]
    fn lines_must_add_up_to_the_order_amount() {
        let lines = [line(2, 1500, 0, 2500), line(1, 4000, 500, 2500)];
        assert_eq!(validate_order_lines(&lines, 6500), Ok(()));
        assert_eq!(
            validate_order_lines(&lines, 6600),
            Err(OrderLinesError::SumMismatch {
                lines_total: 6500,
                order_amount: 6600
            })
        );
        assert_eq!(validate_order_lines(&[], 0), Ok(()));
    }

    #[test]
    fn order_lines_name_the_broken_line() {
        let mut broken = line(1, 100, 0, 0);
        broken.reference = Some("B".into());
        broken.total_amount = 150;
        let error = validate_order_lines(&[line(1, 100, 0, 0), broken], 250).unwrap_err();
        assert_eq!(
            error,
            OrderLinesError::Line {
                index: 1,
                reference: Some("B".into()),
                error: LineError::TotalAmountMismatch {
                    total_amount: 150,
                    expected: 100
                }
            }
        );
        assert_eq!(
            error.to_string(),
            "order line 1 (`B`): total_amount 150 does not match quantity × unit_price − \
             total_discount_amount = 100"
        );
    }

    #[test]
    fn order_line_sums_do_not_overflow() {
        let mut big = line(1, 0, 0, 0);
        big.unit_price = i64::MAX;
        big.total_amount = i64::MAX;
        let lines = [big.clone(), big];
        let error = validate_order_lines(&lines, i64::MAX).unwrap_err();
        assert_eq!(
            error,
            OrderLinesError::SumMismatch {
                lines_total: 2 * i128::from(i64::MAX),
                order_amount: i64::MAX
            }
        );
    }

    #[test]
    fn validation_of_extreme_lines_does_not_panic() {
        let extreme = OrderLine {
            quantity: i64::MAX,
            unit_price: i64::MIN,
            total_amount: i64::MIN,
            total_discount_amount: Some(i64::MAX),
            tax_rate: Some(i32::MAX),
            total_tax_amount: Some(i64::MIN),
            ..line(1, 1, 0, 0)
        };
        assert!(validate_line(&extreme).is_err());
    }

    #[test]
    fn portions_of_a_line_add_up_to_the_line() {
        // 3 units at 1000 with 100 off: the discount splits 34 + 33 + 33.
        let whole = line(3, 1000, 100, 2500);
        let first = portion(&whole, 0, 1).unwrap();
        let second = portion(&whole, 1, 1).unwrap();
        let third = portion(&whole, 2, 1).unwrap();
        assert_eq!(first.total_discount_amount, Some(34));
        assert_eq!(second.total_discount_amount, Some(33));
        assert_eq!(third.total_discount_amount, Some(33));
        let parts = [first, second, third];
        assert_eq!(
            parts.iter().map(|p| p.total_amount).sum::<i64>(),
            whole.total_amount
        );
        for part in &parts {
            assert_eq!(part.quantity, 1);
            assert_eq!(part.unit_price, 1000);
            assert_eq!(part.reference.as_deref(), Some("REF"));
            assert_eq!(validate_line(part), Ok(()));
        }
        assert_eq!(parts[0].total_tax_amount, Some(193)); // 966 × 0.2
    }

    #[test]
    fn the_whole_line_is_returned_unchanged() {
        let mut whole = line(2, 1000, 0, 2500);
        // Klarna accepted a tax amount 1 off; a full portion keeps it.
        whole.total_tax_amount = Some(401);
        assert_eq!(portion(&whole, 0, 2), Ok(whole));
    }

    #[test]
    fn a_portion_without_discount_or_tax_leaves_them_out() {
        let mut whole = line(4, 250, 0, 0);
        whole.total_discount_amount = None;
        whole.tax_rate = None;
        whole.total_tax_amount = None;
        let part = portion(&whole, 1, 2).unwrap();
        assert_eq!(part.total_amount, 500);
        assert_eq!(part.total_discount_amount, None);
        assert_eq!(part.total_tax_amount, None);
    }
}
