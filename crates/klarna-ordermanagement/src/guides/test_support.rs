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

// Only what the guides send is faked: the generated traits answer "not
// faked" for every other operation.
impl Captures for Recorder {
    async fn send_capture_order(
        &self,
        request: CaptureOrderRequest<'_>,
    ) -> Result<Response<CaptureOrderResponse>, Error<CaptureOrderError>> {
        self.sent.lock().unwrap().push(Sent::Capture(
            request.order_id.to_string(),
            request.body.clone(),
        ));
        Ok(Response::new(
            201,
            CaptureOrderResponse {
                capture_id: CaptureId::new("capture-new"),
                location: "/ordermanagement/v1/orders/order-1/captures/capture-new".to_owned(),
            },
        ))
    }
}

impl Refunds for Recorder {
    async fn send_refund_order(
        &self,
        request: RefundOrderRequest<'_>,
    ) -> Result<Response<RefundOrderResponse>, Error<RefundOrderError>> {
        self.sent.lock().unwrap().push(Sent::Refund(
            request.order_id.to_string(),
            request.body.clone(),
        ));
        Ok(Response::new(
            201,
            RefundOrderResponse {
                refund_id: RefundId::new("refund-new"),
                location: "/ordermanagement/v1/orders/order-1/refunds/refund-new".to_owned(),
            },
        ))
    }
}

impl Orders for Recorder {
    async fn send_update_authorization(
        &self,
        request: UpdateAuthorizationRequest<'_>,
    ) -> Result<Response<()>, Error<UpdateAuthorizationError>> {
        let body = request.body;
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
        self.sent.lock().unwrap().push(Sent::UpdateAuthorization(
            request.order_id.to_string(),
            body.clone(),
        ));
        Ok(Response::new(204, ()))
    }
}
