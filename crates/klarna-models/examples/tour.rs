//! A short tour of the generated types: build the partial capture of
//! Klarna's guide, read an order whose status this SDK does not know yet,
//! and decode Klarna's error body.
//!
//! Run with `cargo run -p klarna-models --example tour`.

use klarna_models::ordermanagement::{
    CaptureObject, MerchantOrderDto, MerchantOrderDtoStatus, NoSuchOrderErrorMessage, OrderLine,
    OrderLineType,
};

fn main() -> Result<(), serde_json::Error> {
    // Ten boxes of tomatoes shipped: capture their amount, in minor units.
    // A model's `new` takes its required fields; struct update syntax sets
    // the optional ones, and keeps compiling when Klarna adds another.
    let tomatoes = OrderLine {
        r#type: Some(OrderLineType::Physical),
        reference: Some("123050".to_owned()),
        tax_rate: Some(2500),
        total_discount_amount: Some(0),
        total_tax_amount: Some(1200),
        ..OrderLine::new("Tomatoes", 10, 6000, 600)
    };
    let capture = CaptureObject {
        reference: Some("2027d87e-c394-4b22-9cfd-f51f79482793".to_owned()),
        description: Some("Shipped the tomatoes".to_owned()),
        order_lines: Some(vec![tomatoes]),
        ..CaptureObject::new(6000)
    };
    println!(
        "1. Partial capture request body:\n{}\n",
        serde_json::to_string_pretty(&capture)?
    );

    // Klarna adds a status next year; this SDK keeps it instead of failing.
    let order: MerchantOrderDto = serde_json::from_str(
        r#"{"order_id":"f3392f8b","status":"PART_REFUNDED","order_amount":20000,
            "captured_amount":6000,"added_later":{"x":1}}"#,
    )?;
    match &order.status {
        Some(MerchantOrderDtoStatus::PartCaptured) => println!("2. Order is part captured"),
        Some(MerchantOrderDtoStatus::Unknown(status)) => {
            println!(
                "2. Order {} has a status this SDK does not know yet: {status}",
                order.order_id.as_deref().unwrap_or("?")
            )
        }
        Some(other) => println!("2. Order status: {}", other.as_str()),
        None => println!("2. Order has no status"),
    }
    println!(
        "   captured {} of {} (minor units); the unknown field was ignored\n",
        order.captured_amount.unwrap_or(0),
        order.order_amount.unwrap_or(0)
    );

    // Klarna's error body for an order id it does not know.
    let error: NoSuchOrderErrorMessage = serde_json::from_str(
        r#"{"correlation_id":"66782175-ae05-44fc-9eb3-eeceadbad271","error_code":"NO_SUCH_ORDER",
            "error_messages":["Order not found"]}"#,
    )?;
    println!(
        "3. Klarna said {} (correlation id {})",
        error.error_code.as_deref().unwrap_or("?"),
        error.correlation_id.as_deref().unwrap_or("?")
    );
    Ok(())
}
