//! Change an order's amount, choosing explicitly what happens to its lines.
//!
//! # The rules
//!
//! [`Orders::update_authorization`] replaces the order amount *and* the
//! order lines: the lines sent become the order's lines, and when none are
//! sent Klarna deletes the ones it had. Forgetting the lines therefore
//! silently empties the order the customer sees. [`NewOrderLines`] makes
//! that a visible choice: [`NewOrderLines::Replace`] or
//! [`NewOrderLines::DeleteAll`].
//!
//! [`plan_amount_update`] refuses, before anything is sent:
//!
//! - a negative new amount;
//! - a new amount below what has already been captured;
//! - an order that is fully captured (status `CAPTURED`, or a captured
//!   amount that has reached the order amount), `CANCELLED` or `EXPIRED`,
//!   and also `CLOSED`, which has no authorization left to change;
//! - replacement lines that break a line rule or do not add up to the new
//!   amount (see [`order_lines`](super::order_lines)), and an empty
//!   replacement, which would delete the lines without saying so.
//!
//! Klarna may still decline an increase after a new risk check; that comes
//! back as the call's error.
//!
//! # Two ways to use it
//!
//! ```
//! use klarna_ordermanagement::guides::amount_update::{plan_amount_update, AmountUpdate, NewOrderLines};
//! use klarna_ordermanagement::guides::order_lines::OrderLineBuilder;
//! use klarna_ordermanagement::models::{MerchantOrderDto, MerchantOrderDtoStatus};
//!
//! let order = MerchantOrderDto {
//!     order_id: Some("order-1".into()),
//!     status: Some(MerchantOrderDtoStatus::Authorized),
//!     order_amount: Some(10000),
//!     captured_amount: Some(0),
//!     ..Default::default()
//! };
//!
//! // The customer dropped the charger; only the phone case remains.
//! let case = OrderLineBuilder::new("Phone case", 1, 6000).reference("CASE-1").tax_rate(2500).build()?;
//! let update = AmountUpdate::new(6000, NewOrderLines::Replace(vec![case])).description("Removed charger");
//! let request = plan_amount_update(&order, &update)?;
//! assert_eq!(request.order_amount, 6000);
//! assert_eq!(request.order_lines.as_ref().map(Vec::len), Some(1));
//! // client.update_authorization(&order_id, &request).idempotency_key(key).await?
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ```no_run
//! use klarna_ordermanagement::guides::amount_update::{update_order_amount, AmountUpdate, NewOrderLines};
//! use klarna_ordermanagement::{Client, Config, Environment, OrderId, Orders, Region};
//!
//! # async fn shrink() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::from_config(Config::from_env(Region::Europe, Environment::Playground)?)?;
//! let order = client.get_order(&OrderId::new("order-1")).await?.into_inner();
//! // No lines to show any more: say so.
//! let update = AmountUpdate::new(4000, NewOrderLines::DeleteAll);
//! update_order_amount(&client, &order, &update, None).await?;
//! # Ok(())
//! # }
//! ```
//!
//! [`Orders::update_authorization`]: crate::Orders::update_authorization

use std::fmt;

use super::order_lines::{validate_order_lines, OrderLinesError};
use super::CallError;
use crate::models::{MerchantOrderDto, MerchantOrderDtoStatus, OrderLine, UpdateAuthorization};
use crate::{IdempotencyKey, OrderId, Orders, Response, UpdateAuthorizationError};

/// What the order's lines become after the update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NewOrderLines {
    /// These lines replace the order's lines; they must add up to the new
    /// amount.
    Replace(Vec<OrderLine>),
    /// The order keeps no lines (Klarna deletes the lines of an update that
    /// sends none).
    DeleteAll,
}

/// A new order amount and what happens to the order's lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AmountUpdate {
    /// The new order amount, in minor units.
    pub order_amount: i64,
    /// The order's lines after the update.
    pub lines: NewOrderLines,
    /// Why the order changed.
    pub description: Option<String>,
}

impl AmountUpdate {
    /// A new `order_amount` with `lines`, without description.
    pub fn new(order_amount: i64, lines: NewOrderLines) -> Self {
        AmountUpdate {
            order_amount,
            lines,
            description: None,
        }
    }

    /// Why the order changed.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

/// Why an order amount update would be refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AmountUpdateError {
    /// The new amount is negative.
    NegativeAmount {
        /// The new amount.
        order_amount: i64,
    },
    /// The new amount is below what has already been captured.
    BelowCaptured {
        /// The new amount.
        order_amount: i64,
        /// What the order has captured.
        captured_amount: i64,
    },
    /// The whole order amount has been captured.
    FullyCaptured,
    /// The order is cancelled, expired or closed.
    NotUpdatable {
        /// The order's status.
        status: MerchantOrderDtoStatus,
    },
    /// [`NewOrderLines::Replace`] with no lines; use
    /// [`NewOrderLines::DeleteAll`] to delete the lines.
    EmptyReplacement,
    /// The replacement lines break a rule or do not add up to the new
    /// amount.
    Lines(OrderLinesError),
}

impl fmt::Display for AmountUpdateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AmountUpdateError::NegativeAmount { order_amount } => {
                write!(f, "the new order amount {order_amount} is negative")
            }
            AmountUpdateError::BelowCaptured {
                order_amount,
                captured_amount,
            } => write!(
                f,
                "the new order amount {order_amount} is below the {captured_amount} already \
                 captured"
            ),
            AmountUpdateError::FullyCaptured => f.write_str(
                "the order is fully captured; its amount can no longer change \
                 (refund instead, or take a new order for new items)",
            ),
            AmountUpdateError::NotUpdatable { status } => write!(
                f,
                "the order is {}; its amount can no longer change",
                status.as_str()
            ),
            AmountUpdateError::EmptyReplacement => f.write_str(
                "replacing the order lines with no lines would delete them; \
                 say NewOrderLines::DeleteAll if that is meant",
            ),
            AmountUpdateError::Lines(error) => write!(f, "replacement lines: {error}"),
        }
    }
}

impl std::error::Error for AmountUpdateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AmountUpdateError::Lines(error) => Some(error),
            _ => None,
        }
    }
}

/// The request that changes `order`'s amount as `update` says, or the rule
/// it would break (see the [module docs](self)).
pub fn plan_amount_update(
    order: &MerchantOrderDto,
    update: &AmountUpdate,
) -> Result<UpdateAuthorization, AmountUpdateError> {
    match &order.status {
        Some(MerchantOrderDtoStatus::Captured) => return Err(AmountUpdateError::FullyCaptured),
        Some(
            status @ (MerchantOrderDtoStatus::Cancelled
            | MerchantOrderDtoStatus::Expired
            | MerchantOrderDtoStatus::Closed),
        ) => {
            return Err(AmountUpdateError::NotUpdatable {
                status: status.clone(),
            })
        }
        _ => {}
    }
    let captured_amount = order.captured_amount.unwrap_or(0);
    // The status can lag behind, or be one this SDK does not know: the
    // amounts tell too.
    if captured_amount > 0
        && order
            .order_amount
            .is_some_and(|amount| captured_amount >= amount)
    {
        return Err(AmountUpdateError::FullyCaptured);
    }
    let order_amount = update.order_amount;
    if order_amount < 0 {
        return Err(AmountUpdateError::NegativeAmount { order_amount });
    }
    if order_amount < captured_amount {
        return Err(AmountUpdateError::BelowCaptured {
            order_amount,
            captured_amount,
        });
    }
    let order_lines = match &update.lines {
        NewOrderLines::DeleteAll => None,
        NewOrderLines::Replace(lines) if lines.is_empty() => {
            return Err(AmountUpdateError::EmptyReplacement)
        }
        NewOrderLines::Replace(lines) => {
            validate_order_lines(lines, order_amount).map_err(AmountUpdateError::Lines)?;
            Some(lines.clone())
        }
    };
    Ok(UpdateAuthorization {
        order_amount,
        order_lines,
        description: update.description.clone(),
    })
}

/// Checks the update with [`plan_amount_update`] and, if it passes, sends it
/// with [`Orders::update_authorization`] for the order's `order_id`.
pub async fn update_order_amount<O: Orders + Sync>(
    client: &O,
    order: &MerchantOrderDto,
    update: &AmountUpdate,
    idempotency_key: Option<IdempotencyKey>,
) -> Result<Response<()>, CallError<AmountUpdateError, UpdateAuthorizationError>> {
    let request = plan_amount_update(order, update).map_err(CallError::Refused)?;
    let order_id = order.order_id.as_deref().ok_or(CallError::MissingOrderId)?;
    client
        .update_authorization(&OrderId::new(order_id), &request)
        .idempotency_key(idempotency_key)
        .await
        .map_err(CallError::Klarna)
}

#[cfg(test)]
mod tests {
    use super::super::order_lines::LineError;
    use super::super::test_support::{line, order, Recorder, Sent};
    use super::*;

    /// A 100.00 order: a phone case (60.00) and a charger (40.00).
    fn phone_order() -> MerchantOrderDto {
        order(vec![line("case", 1, 6000), line("charger", 1, 4000)])
    }

    fn replace(lines: Vec<OrderLine>, amount: i64) -> AmountUpdate {
        AmountUpdate::new(amount, NewOrderLines::Replace(lines))
    }

    #[test]
    fn replacing_the_lines_sends_them() {
        let update = replace(vec![line("case", 1, 6000)], 6000).description("Removed charger");
        let request = plan_amount_update(&phone_order(), &update).unwrap();
        assert_eq!(
            request,
            UpdateAuthorization {
                order_amount: 6000,
                order_lines: Some(vec![line("case", 1, 6000)]),
                description: Some("Removed charger".into()),
            }
        );
    }

    #[test]
    fn deleting_the_lines_sends_none() {
        let update = AmountUpdate::new(6000, NewOrderLines::DeleteAll);
        let request = plan_amount_update(&phone_order(), &update).unwrap();
        assert_eq!(request.order_amount, 6000);
        assert_eq!(request.order_lines, None);
        assert_eq!(request.description, None);
    }

    #[test]
    fn an_empty_replacement_is_not_a_silent_deletion() {
        let error = plan_amount_update(&phone_order(), &replace(vec![], 0)).unwrap_err();
        assert_eq!(error, AmountUpdateError::EmptyReplacement);
        assert!(error.to_string().contains("NewOrderLines::DeleteAll"));
    }

    #[test]
    fn an_increase_is_planned_too() {
        let lines = vec![line("case", 1, 6000), line("charger", 2, 4000)];
        let request = plan_amount_update(&phone_order(), &replace(lines, 14000)).unwrap();
        assert_eq!(request.order_amount, 14000);
    }

    #[test]
    fn the_new_amount_must_not_be_negative() {
        let update = AmountUpdate::new(-1, NewOrderLines::DeleteAll);
        assert_eq!(
            plan_amount_update(&phone_order(), &update),
            Err(AmountUpdateError::NegativeAmount { order_amount: -1 })
        );
    }

    #[test]
    fn the_new_amount_must_not_be_below_the_captured_amount() {
        let mut order = phone_order();
        order.status = Some(MerchantOrderDtoStatus::PartCaptured);
        order.captured_amount = Some(6000);
        let error = plan_amount_update(&order, &AmountUpdate::new(5999, NewOrderLines::DeleteAll))
            .unwrap_err();
        assert_eq!(
            error,
            AmountUpdateError::BelowCaptured {
                order_amount: 5999,
                captured_amount: 6000
            }
        );
        assert_eq!(
            error.to_string(),
            "the new order amount 5999 is below the 6000 already captured"
        );
        assert!(plan_amount_update(&order, &replace(vec![line("case", 1, 6000)], 6000)).is_ok());
        // Zero is a valid amount for an order with nothing captured.
        let update = AmountUpdate::new(0, NewOrderLines::DeleteAll);
        assert!(plan_amount_update(&phone_order(), &update).is_ok());
    }

    #[test]
    fn a_fully_captured_order_cannot_change() {
        let update = AmountUpdate::new(12000, NewOrderLines::DeleteAll);
        let mut by_status = phone_order();
        by_status.status = Some(MerchantOrderDtoStatus::Captured);
        assert_eq!(
            plan_amount_update(&by_status, &update),
            Err(AmountUpdateError::FullyCaptured)
        );
        // The amounts say so even when the status does not.
        let mut by_amounts = phone_order();
        by_amounts.status = Some(MerchantOrderDtoStatus::Unknown("SHIPPED".into()));
        by_amounts.captured_amount = Some(10000);
        assert_eq!(
            plan_amount_update(&by_amounts, &update),
            Err(AmountUpdateError::FullyCaptured)
        );
    }

    #[test]
    fn cancelled_expired_and_closed_orders_cannot_change() {
        for status in [
            MerchantOrderDtoStatus::Cancelled,
            MerchantOrderDtoStatus::Expired,
            MerchantOrderDtoStatus::Closed,
        ] {
            let mut order = phone_order();
            order.status = Some(status.clone());
            let error =
                plan_amount_update(&order, &AmountUpdate::new(6000, NewOrderLines::DeleteAll))
                    .unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "the order is {}; its amount can no longer change",
                    status.as_str()
                )
            );
            assert_eq!(error, AmountUpdateError::NotUpdatable { status });
        }
    }

    #[test]
    fn replacement_lines_must_add_up_and_be_consistent() {
        let error = plan_amount_update(&phone_order(), &replace(vec![line("case", 1, 6000)], 7000))
            .unwrap_err();
        assert_eq!(
            error,
            AmountUpdateError::Lines(OrderLinesError::SumMismatch {
                lines_total: 6000,
                order_amount: 7000
            })
        );
        assert_eq!(
            error.to_string(),
            "replacement lines: the order lines add up to 6000, not to the order amount 7000"
        );

        let mut wrong_tax = line("case", 1, 6000);
        wrong_tax.total_tax_amount = Some(0);
        assert_eq!(
            plan_amount_update(&phone_order(), &replace(vec![wrong_tax], 6000)),
            Err(AmountUpdateError::Lines(OrderLinesError::Line {
                index: 0,
                reference: Some("case".into()),
                error: LineError::TaxAmountMismatch {
                    total_tax_amount: 0,
                    expected: 1200
                }
            }))
        );
    }

    #[tokio::test]
    async fn update_order_amount_sends_the_planned_update() {
        let klarna = Recorder::default();
        let order = phone_order();
        let update = AmountUpdate::new(6000, NewOrderLines::DeleteAll);
        let response = update_order_amount(&klarna, &order, &update, None)
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
        assert_eq!(
            klarna.sent(),
            [Sent::UpdateAuthorization(
                "order-1".into(),
                plan_amount_update(&order, &update).unwrap()
            )]
        );
    }

    #[tokio::test]
    async fn update_order_amount_refuses_before_sending_and_passes_klarnas_refusal_on() {
        let klarna = Recorder::default();
        let mut cancelled = phone_order();
        cancelled.status = Some(MerchantOrderDtoStatus::Cancelled);
        let update = AmountUpdate::new(6000, NewOrderLines::DeleteAll);
        let error = update_order_amount(&klarna, &cancelled, &update, None)
            .await
            .unwrap_err();
        assert!(matches!(
            error.refused(),
            Some(AmountUpdateError::NotUpdatable { .. })
        ));
        let mut anonymous = phone_order();
        anonymous.order_id = None;
        let error = update_order_amount(&klarna, &anonymous, &update, None)
            .await
            .unwrap_err();
        assert!(matches!(error, CallError::MissingOrderId));
        assert_eq!(klarna.sent(), []);

        // The rules pass, Klarna's risk check declines the increase.
        let increase = AmountUpdate::new(2_000_000, NewOrderLines::DeleteAll);
        let error = update_order_amount(&klarna, &phone_order(), &increase, None)
            .await
            .unwrap_err();
        let declined = error.klarna().expect("sent to Klarna");
        assert_eq!(declined.status(), Some(403));
        match declined.api_body() {
            Some(UpdateAuthorizationError::Forbidden(body)) => {
                assert_eq!(body.error_code.as_deref(), Some("NOT_ALLOWED"))
            }
            other => panic!("expected a 403 body, got {other:?}"),
        }
    }
}
