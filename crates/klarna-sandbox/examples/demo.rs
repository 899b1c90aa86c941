//! The life of one order, through the generated client: two partial
//! captures, shipping details, a refund that lands on the capture that
//! shipped the returned item, a refused over-capture, and an order amount
//! update, as Klarna's partial capture, refund allocation and order update
//! guides describe them. Against the sandbox, it then walks a payment of the
//! global Payment API: payment request, the buyer's approval, confirmation,
//! two partial captures, a refund, and a void of the rest.
//!
//! ```sh
//! cargo run -q -p klarna-sandbox --example demo
//! ```
//!
//! runs it against a local sandbox. Against Klarna's playground instead, with
//! the API credentials in `KLARNA_USERNAME` and `KLARNA_PASSWORD` and an order
//! you authorized there for the demo cart (T-shirt 30.00 `A12345`, jeans
//! 70.00 `A98765`, sneakers 100.00 `B24680`, cap 50.00 `C13579`; 250.00 in
//! all):
//!
//! ```sh
//! cargo run -q -p klarna-sandbox --example demo -- --playground ORDER_ID [--region eu|na|oc]
//! ```

use std::error::Error;
use std::time::Duration;

use klarna_ordermanagement::models::{
    CaptureObject, MerchantOrderDto, OrderLine, RefundObject, ShippingInfo,
    ShippingInfoShippingMethod, UpdateAuthorization, UpdateShippingInfo,
};
use klarna_ordermanagement::{
    CaptureOrderError, Captures, Client, Config, Credentials, Environment, IdempotencyKey, OrderId,
    Orders, Refunds, Region,
};
use klarna_payments::payment_api::models::{
    CaptureRequest, LineItem, PaymentConfirmation, PaymentRequestData, RefundRequest,
};
use klarna_payments::payment_api::{
    self, AccountId, CapturePaymentTransactionError, PaymentRequestId, PaymentRequests,
    PaymentTransactionId, PaymentTransactions,
};
use klarna_sandbox::{physical_line, NewOrder, Sandbox};

const USAGE: &str = "usage: demo [--playground ORDER_ID [--region eu|na|oc]]";

fn t_shirt() -> OrderLine {
    physical_line("A12345", "T-shirt", 3000)
}
fn jeans() -> OrderLine {
    physical_line("A98765", "Jeans", 7000)
}
fn sneakers() -> OrderLine {
    physical_line("B24680", "Sneakers", 10000)
}
fn cap() -> OrderLine {
    physical_line("C13579", "Cap", 5000)
}

fn capture_of(description: &str, lines: Vec<OrderLine>) -> CaptureObject {
    let amount = lines.iter().map(|l| l.total_amount).sum();
    CaptureObject {
        description: Some(description.to_owned()),
        order_lines: Some(lines),
        ..CaptureObject::new(amount)
    }
}

/// `123.45 EUR`: amounts are minor units, and the demo's currencies have two
/// decimals.
fn money(amount: Option<i64>, currency: &str) -> String {
    let amount = amount.unwrap_or(0);
    let sign = if amount < 0 { "-" } else { "" };
    let abs = amount.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", abs / 100, abs % 100)
}

fn status(order: &MerchantOrderDto) -> &str {
    order.status.as_ref().map_or("?", |s| s.as_str())
}

/// Where the demo runs: a sandbox it seeds itself, or a playground order.
struct Target {
    client: Client,
    order_id: OrderId,
    /// Kept alive for the demo's length; dropping it stops the server.
    sandbox: Option<Sandbox>,
}

fn target(args: &[String]) -> Result<Target, Box<dyn Error>> {
    match args {
        [] => {
            let sandbox = Sandbox::start()?;
            let order_id = OrderId::new(sandbox.add_order(NewOrder::with_lines(
                "EUR",
                vec![t_shirt(), jeans(), sneakers(), cap()],
            )));
            println!("Sandbox at {}\n", sandbox.base_url());
            let config = Config::with_base_url(
                sandbox.base_url(),
                Credentials::basic("demo", "demo-password"),
            )
            .timeout(Duration::from_secs(5));
            Ok(Target {
                client: Client::from_config(config)?,
                order_id,
                sandbox: Some(sandbox),
            })
        }
        [flag, order_id, rest @ ..] if flag == "--playground" => {
            let region = match rest {
                [] => Region::Europe,
                [flag, region] if flag == "--region" => match region.as_str() {
                    "eu" => Region::Europe,
                    "na" => Region::NorthAmerica,
                    "oc" => Region::Oceania,
                    _ => return Err(USAGE.into()),
                },
                _ => return Err(USAGE.into()),
            };
            let config =
                Config::from_env(region, Environment::Playground)?.timeout(Duration::from_secs(20));
            println!("Klarna playground at {}\n", config.base_url());
            Ok(Target {
                client: Client::from_config(config)?,
                order_id: OrderId::new(order_id),
                sandbox: None,
            })
        }
        _ => Err(USAGE.into()),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("demo: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: &[String]) -> Result<(), Box<dyn Error>> {
    let Target {
        client,
        order_id,
        sandbox,
    } = target(args)?;
    let id = &order_id;
    // One key per step and order: a step sent twice (a retry after a
    // timeout, say) captures or refunds once.
    let key = |step: &str| IdempotencyKey::from(format!("demo-{id}-{step}"));

    let order = client.get_order(id).await?;
    let currency = order.purchase_currency.clone().unwrap_or_default();
    let cur = currency.as_str();
    println!(
        "1. Order {id}: {}, {} authorized for {} lines",
        status(&order),
        money(order.order_amount, cur),
        order.order_lines.as_ref().map_or(0, Vec::len)
    );
    if order.order_amount != Some(25_000) || order.captured_amount.unwrap_or(0) != 0 {
        return Err(
            "the demo needs a fresh order of 250.00 for its cart (see the example's docs)".into(),
        );
    }

    let shipment_a = capture_of("Capture A: T-shirt and jeans", vec![t_shirt(), jeans()]);
    let a = client
        .capture_order(id, &shipment_a)
        .idempotency_key(key("capture-a"))
        .await?;
    let capture_a = a.capture_id.clone();
    let order = client.get_order(id).await?;
    println!(
        "2. Capture A {capture_a}: {} for the T-shirt and jeans -> {}, {} left to capture",
        money(Some(shipment_a.captured_amount), cur),
        status(&order),
        money(order.remaining_authorized_amount, cur)
    );
    let again = client
        .capture_order(id, &shipment_a)
        .idempotency_key(key("capture-a"))
        .await?;
    let captures = client.get_captures(id).await?;
    println!(
        "   Sent again with the same idempotency key: capture {}, still {} capture(s)",
        again.capture_id,
        captures.len()
    );

    let shipment_b = capture_of("Capture B: sneakers", vec![sneakers()]);
    let b = client
        .capture_order(id, &shipment_b)
        .idempotency_key(key("capture-b"))
        .await?;
    let capture_b = b.capture_id.clone();
    let order = client.get_order(id).await?;
    println!(
        "3. Capture B {capture_b}: {} for the sneakers -> {}, {} left to capture",
        money(Some(shipment_b.captured_amount), cur),
        status(&order),
        money(order.remaining_authorized_amount, cur)
    );

    for (capture_id, tracking) in [
        (&capture_a, "63456415674545679874"),
        (&capture_b, "63456415674545679875"),
    ] {
        let shipment = UpdateShippingInfo::new(vec![ShippingInfo {
            shipping_company: Some("DHL US".to_owned()),
            shipping_method: Some(ShippingInfoShippingMethod::Home),
            tracking_number: Some(tracking.to_owned()),
            ..ShippingInfo::default()
        }]);
        client
            .append_shipping_info(id, capture_id, &shipment)
            .idempotency_key(key(&format!("ship-{capture_id}")))
            .await?;
    }
    let shipped = client.get_capture(id, &capture_b).await?;
    let info = shipped.shipping_info.as_deref().unwrap_or_default();
    println!(
        "4. Shipping info added; capture B travels with {} (tracking {})",
        info.first()
            .and_then(|i| i.shipping_company.as_deref())
            .unwrap_or("?"),
        info.first()
            .and_then(|i| i.tracking_number.as_deref())
            .unwrap_or("?")
    );

    let refund = RefundObject {
        description: Some("Returning the sneakers".to_owned()),
        order_lines: Some(vec![sneakers()]),
        ..RefundObject::new(10_000)
    };
    let refunded = client
        .refund_order(id, &refund)
        .idempotency_key(key("refund-sneakers"))
        .await?;
    let order = client.get_order(id).await?;
    println!(
        "5. Refund {}: {} for the returned sneakers; refunded per capture:",
        refunded.refund_id,
        money(Some(refund.refunded_amount), cur)
    );
    for capture in order.captures.as_deref().unwrap_or_default() {
        let name = if capture.capture_id.as_deref() == Some(capture_a.as_str()) {
            "A"
        } else {
            "B"
        };
        println!(
            "   capture {name}: {} of {}",
            money(capture.refunded_amount, cur),
            money(capture.captured_amount, cur)
        );
    }

    let too_much = CaptureObject {
        description: Some("The cap, at the wrong price".to_owned()),
        ..CaptureObject::new(6_000)
    };
    match client
        .capture_order(id, &too_much)
        .idempotency_key(key("over-capture"))
        .await
    {
        Ok(created) => println!("6. Over-capture was accepted?! {created:?}"),
        Err(error) => {
            println!(
                "6. Capturing {} with {} left is refused:",
                money(Some(6_000), cur),
                money(order.remaining_authorized_amount, cur)
            );
            println!("   {error}");
            if let Some(CaptureOrderError::Forbidden(body)) = error.api_body() {
                println!(
                    "   body: error_code {}, correlation_id {}, error_messages {:?}",
                    body.error_code.as_deref().unwrap_or("-"),
                    body.correlation_id.as_deref().unwrap_or("-"),
                    body.error_messages.as_deref().unwrap_or_default()
                );
            }
        }
    }

    let without_cap = UpdateAuthorization {
        description: Some("The customer no longer wants the cap".to_owned()),
        order_lines: Some(vec![t_shirt(), jeans(), sneakers()]),
        ..UpdateAuthorization::new(20_000)
    };
    client
        .update_authorization(id, &without_cap)
        .idempotency_key(key("drop-cap"))
        .await?;
    let order = client.get_order(id).await?;
    println!(
        "7. Order amount updated to {} without the cap -> {}, {} lines, {} left to capture",
        money(order.order_amount, cur),
        status(&order),
        order.order_lines.as_ref().map_or(0, Vec::len),
        money(order.remaining_authorized_amount, cur)
    );
    let with_cap = UpdateAuthorization {
        description: Some("The customer wants the cap after all".to_owned()),
        order_lines: Some(vec![t_shirt(), jeans(), sneakers(), cap()]),
        ..UpdateAuthorization::new(25_000)
    };
    match client
        .update_authorization(id, &with_cap)
        .idempotency_key(key("re-add-cap"))
        .await
    {
        Ok(_) => println!("   Raising it again was accepted"),
        Err(error) => {
            println!("   Raising it again is refused, the order is fully captured:\n   {error}")
        }
    }
    // The buyer's approval in Klarna's purchase flow only exists in the
    // sandbox, so the Payment API part runs there alone.
    if let Some(sandbox) = &sandbox {
        payment(sandbox).await?;
    }
    Ok(())
}

fn item(name: &str, amount: i64) -> LineItem {
    LineItem {
        unit_price: Some(amount),
        ..LineItem::new(name, 1, amount)
    }
}

fn capture_items(items: Vec<LineItem>) -> CaptureRequest {
    let amount = items.iter().map(|i| i.total_amount).sum();
    CaptureRequest {
        line_items: Some(items),
        ..CaptureRequest::new(amount)
    }
}

/// One payment of the global Payment API, from request to void.
async fn payment(sandbox: &Sandbox) -> Result<(), Box<dyn Error>> {
    let account = AccountId::new("krn:partner:account:demo");
    let client = payment_api::Client::from_config(
        payment_api::Config::with_base_url(
            sandbox.base_url(),
            payment_api::Credentials::api_key("demo-api-key", account.as_str()),
        )
        .timeout(Duration::from_secs(5)),
    )?;
    let cur = "EUR";
    let purchase = PaymentRequestData {
        line_items: Some(vec![
            item("Tee", 3_000),
            item("Hoodie", 5_000),
            item("Skateboard", 7_000),
        ]),
        merchant_reference: Some("demo-order-2".to_owned()),
        ..PaymentRequestData::new(cur, 15_000)
    };
    let request = client.create_payment_request(&purchase).await?;
    let request_id = PaymentRequestId::new(&request.payment_request_id);
    println!(
        "\nPayment API\n8. Payment request {request_id}: {} for {}",
        request.state.as_str(),
        money(Some(purchase.payment_amount), cur)
    );

    let token = sandbox
        .authorize_payment_request(&request_id)
        .ok_or("the sandbox refused to play the buyer")?;
    let pending = client.read_payment_request(&request_id).await?;
    println!(
        "9. The buyer approves -> {}, confirmation token {token}",
        pending.state.as_str()
    );
    let confirmation = PaymentConfirmation {
        payment_transaction_reference: Some("demo-tx-2".to_owned()),
        ..PaymentConfirmation::new(cur, purchase.payment_amount)
    };
    let confirmed = client
        .confirm_payment_request(&token, &confirmation)
        .await?;
    let transaction_id = confirmed
        .state_context
        .as_ref()
        .and_then(|c| c.payment_transaction_id.clone())
        .map(PaymentTransactionId::new)
        .ok_or("the confirmation names no transaction")?;
    println!(
        "10. Confirmed -> {}, transaction {transaction_id}",
        confirmed.state.as_str()
    );

    let tx = &transaction_id;
    for (step, items) in [
        ("11", vec![item("Tee", 3_000)]),
        ("12", vec![item("Hoodie", 5_000)]),
    ] {
        let body = capture_items(items);
        let capture = client
            .capture_payment_transaction(&account, tx, &body)
            .await?;
        let transaction = client.read_payment_transaction(&account, tx).await?;
        println!(
            "{step}. Capture {}: {} -> {}, {} left",
            capture.payment_capture_id,
            money(Some(capture.capture_amount), cur),
            transaction.state.as_str(),
            money(transaction.remaining_authorization_amount, cur)
        );
    }

    let refund = RefundRequest {
        refund_reference: Some("returned-tee".to_owned()),
        line_items: Some(vec![item("Tee", 3_000)]),
        ..RefundRequest::new(3_000)
    };
    let refunded = client
        .refund_payment_transaction(&account, tx, &refund)
        .await?;
    println!(
        "13. Refund {}: {} for the returned tee",
        refunded.payment_refund_id,
        money(Some(refunded.refund_amount), cur)
    );

    let voided = client.void_payment_transaction(&account, tx).await?;
    println!(
        "14. Void: the skateboard will not ship -> {} ({}), {} left",
        voided.state.as_str(),
        voided.state_reason.as_ref().map_or("-", |r| r.as_str()),
        money(voided.remaining_authorization_amount, cur)
    );
    match client
        .capture_payment_transaction(
            &account,
            tx,
            &capture_items(vec![item("Skateboard", 7_000)]),
        )
        .await
    {
        Ok(capture) => println!("   Capturing after the void was accepted?! {capture:?}"),
        Err(error) => {
            let code = match error.api_body() {
                Some(CapturePaymentTransactionError::Forbidden(body)) => body.error_code.clone(),
                _ => None,
            };
            println!(
                "   Capturing after the void is refused ({}):\n   {error}",
                code.as_deref().unwrap_or("-")
            );
        }
    }
    Ok(())
}
