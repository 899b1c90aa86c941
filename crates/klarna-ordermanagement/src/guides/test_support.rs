//! Orders, captures and a recording fake of the generated traits, shared by
//! the guides' unit tests.

use std::sync::Mutex;

use super::order_lines::OrderLineBuilder;
use crate::models::{
    self, Capture, CaptureObject, MerchantOrderDto, MerchantOrderDtoStatus, OrderLine,
    OrderLineType, Refund, RefundObject, UpdateAuthorization,
};
use crate::*;

/// `quantity` units of `reference` at `unit_price`, 25 % tax included.
pub fn line(reference: &str, quantity: i64, unit_price: i64) -> OrderLine {
    OrderLineBuilder::new(reference, quantity, unit_price)
        .reference(reference)
        .tax_rate(2500)
        .build()
        .unwrap()
}

/// 3 lamps at 10.00 with 1.00 off the line (29.00), 25 % tax included.
pub fn discounted_lamps() -> OrderLine {
    OrderLineBuilder::new("Lamp", 3, 1000)
        .reference("lamp")
        .discount(100)
        .tax_rate(2500)
        .build()
        .unwrap()
}

/// A discount line of -5.00: nothing to capture or refund on its own.
pub fn coupon() -> OrderLine {
    OrderLineBuilder::new("Coupon", 1, -500)
        .reference("coupon")
        .kind(OrderLineType::Discount)
        .build()
        .unwrap()
}

/// The lines' total, saturating: overflow tests use enormous lines.
fn total(lines: &[OrderLine]) -> i64 {
    lines
        .iter()
        .fold(0, |sum, line| sum.saturating_add(line.total_amount))
}

/// An authorized, uncaptured order with `lines`.
pub fn order(lines: Vec<OrderLine>) -> MerchantOrderDto {
    let amount = total(&lines);
    MerchantOrderDto {
        order_id: Some("order-1".into()),
        status: Some(MerchantOrderDtoStatus::Authorized),
        order_amount: Some(amount),
        captured_amount: Some(0),
        remaining_authorized_amount: Some(amount),
        order_lines: Some(lines),
        ..Default::default()
    }
}

/// A capture with `lines`, capturing their sum.
pub fn capture(id: &str, lines: Vec<OrderLine>) -> Capture {
    Capture {
        capture_id: Some(id.into()),
        captured_amount: Some(total(&lines)),
        refunded_amount: Some(0),
        order_lines: Some(lines),
        ..Default::default()
    }
}

/// A refund with `lines`, refunding their sum.
pub fn refund(id: &str, lines: Vec<OrderLine>) -> Refund {
    Refund {
        refund_id: Some(id.into()),
        refunded_amount: Some(total(&lines)),
        order_lines: Some(lines),
        ..Default::default()
    }
}

/// Records what it was asked to send, and answers like Klarna would.
#[derive(Default)]
pub struct Recorder {
    pub sent: Mutex<Vec<Sent>>,
}

#[derive(Debug, PartialEq)]
pub enum Sent {
    Capture(String, CaptureObject),
    Refund(String, RefundObject),
    UpdateAuthorization(String, UpdateAuthorization),
}

impl Recorder {
    pub fn sent(&self) -> Vec<Sent> {
        std::mem::take(&mut *self.sent.lock().unwrap())
    }
}

const UNUSED: &str = "not used by the guides";

impl Captures for Recorder {
    async fn capture_order(
        &self,
        order_id: &str,
        body: &CaptureObject,
        _: Option<IdempotencyKey>,
    ) -> Result<Response<CaptureOrderResponse>, Error<CaptureOrderError>> {
        self.sent
            .lock()
            .unwrap()
            .push(Sent::Capture(order_id.into(), body.clone()));
        Ok(Response::new(
            201,
            CaptureOrderResponse {
                capture_id: "capture-new".into(),
                location: "/ordermanagement/v1/orders/o/captures/capture-new".into(),
            },
        ))
    }
    async fn get_captures(
        &self,
        _: &str,
    ) -> Result<Response<Vec<Capture>>, Error<GetCapturesError>> {
        unreachable!("{UNUSED}")
    }
    async fn get_capture(
        &self,
        _: &str,
        _: &str,
    ) -> Result<Response<Capture>, Error<GetCaptureError>> {
        unreachable!("{UNUSED}")
    }
    async fn extend_due_date(
        &self,
        _: &str,
        _: &str,
        _: &models::ExtendDueDateRequest,
        _: Option<IdempotencyKey>,
    ) -> Result<Response<()>, Error<ExtendDueDateError>> {
        unreachable!("{UNUSED}")
    }
    async fn get_options_for_extend_due_date(
        &self,
        _: &str,
        _: &str,
    ) -> Result<Response<models::ExtendDueDateOptions>, Error<GetOptionsForExtendDueDateError>>
    {
        unreachable!("{UNUSED}")
    }
    async fn append_shipping_info(
        &self,
        _: &str,
        _: &str,
        _: &models::UpdateShippingInfo,
        _: Option<IdempotencyKey>,
    ) -> Result<Response<()>, Error<AppendShippingInfoError>> {
        unreachable!("{UNUSED}")
    }
    async fn trigger_send_out(
        &self,
        _: &str,
        _: &str,
        _: Option<IdempotencyKey>,
    ) -> Result<Response<()>, Error<TriggerSendOutError>> {
        unreachable!("{UNUSED}")
    }
}

impl Refunds for Recorder {
    async fn refund_order(
        &self,
        order_id: &str,
        body: &RefundObject,
        _: Option<IdempotencyKey>,
    ) -> Result<Response<RefundOrderResponse>, Error<RefundOrderError>> {
        self.sent
            .lock()
            .unwrap()
            .push(Sent::Refund(order_id.into(), body.clone()));
        Ok(Response::new(
            201,
            RefundOrderResponse {
                refund_id: "refund-new".into(),
                location: "/ordermanagement/v1/orders/o/refunds/refund-new".into(),
            },
        ))
    }
    async fn get_refund(
        &self,
        _: &str,
        _: &str,
    ) -> Result<Response<Refund>, Error<GetRefundError>> {
        unreachable!("{UNUSED}")
    }
}

impl Orders for Recorder {
    async fn update_authorization(
        &self,
        order_id: &str,
        body: &UpdateAuthorization,
        _: Option<IdempotencyKey>,
    ) -> Result<Response<()>, Error<UpdateAuthorizationError>> {
        if body.order_amount > 1_000_000 {
            // Klarna's risk check declines large increases.
            return Err(Error::api(
                "update_authorization",
                403,
                UpdateAuthorizationError::Forbidden(models::NotAllowedErrorMessage {
                    error_code: Some("NOT_ALLOWED".into()),
                    ..Default::default()
                }),
            ));
        }
        self.sent
            .lock()
            .unwrap()
            .push(Sent::UpdateAuthorization(order_id.into(), body.clone()));
        Ok(Response::new(204, ()))
    }
    async fn get_order(
        &self,
        _: &str,
        _: Option<&str>,
    ) -> Result<Response<MerchantOrderDto>, Error<GetOrderError>> {
        unreachable!("{UNUSED}")
    }
    async fn acknowledge_order(
        &self,
        _: &str,
        _: Option<IdempotencyKey>,
    ) -> Result<Response<()>, Error<AcknowledgeOrderError>> {
        unreachable!("{UNUSED}")
    }
    async fn update_consumer_details(
        &self,
        _: &str,
        _: &models::UpdateConsumer,
        _: Option<IdempotencyKey>,
    ) -> Result<Response<()>, Error<UpdateConsumerDetailsError>> {
        unreachable!("{UNUSED}")
    }
    async fn extend_authorization_time(
        &self,
        _: &str,
        _: Option<IdempotencyKey>,
    ) -> Result<Response<()>, Error<ExtendAuthorizationTimeError>> {
        unreachable!("{UNUSED}")
    }
    async fn update_merchant_references(
        &self,
        _: &str,
        _: &models::UpdateMerchantReferences,
        _: Option<IdempotencyKey>,
    ) -> Result<Response<()>, Error<UpdateMerchantReferencesError>> {
        unreachable!("{UNUSED}")
    }
    async fn release_remaining_authorization(
        &self,
        _: &str,
        _: Option<IdempotencyKey>,
    ) -> Result<Response<()>, Error<ReleaseRemainingAuthorizationError>> {
        unreachable!("{UNUSED}")
    }
    async fn append_order_shipping_info(
        &self,
        _: &str,
        _: &models::UpdateShippingInfo,
        _: Option<IdempotencyKey>,
    ) -> Result<Response<()>, Error<AppendOrderShippingInfoError>> {
        unreachable!("{UNUSED}")
    }
    async fn cancel_order(
        &self,
        _: &str,
        _: Option<IdempotencyKey>,
    ) -> Result<Response<()>, Error<CancelOrderError>> {
        unreachable!("{UNUSED}")
    }
}
