//! One order through a Klarna Payments merchant's whole integration, on this
//! machine, through the generated clients: a checkout session, the buyer's
//! approval, the order; two partial captures and a refund through Order
//! Management; then the day's close, the payout read page by page through
//! Settlements, and every transaction reconciled against the captures and
//! the refund to the minor unit.
//!
//! ```sh
//! cargo run -p klarna-sandbox --example checkout-to-payout
//! ```

use std::collections::BTreeMap;
use std::error::Error;

use klarna_ordermanagement::models::{CaptureObject, RefundObject};
use klarna_ordermanagement::{Captures, OrderId, Refunds};
use klarna_payments::models::{CreateOrderRequest, OrderLine, SessionCreate};
use klarna_payments::{Authorizations, IdempotencyKey, Sessions};
use klarna_sandbox::{Sandbox, FEE_BASIS_POINTS};
use klarna_settlements::models::TransactionType;
use klarna_settlements::{Payouts, Transactions};

/// Minor units as `123.45 EUR`.
fn money(amount: i64, currency: &str) -> String {
    let sign = if amount < 0 { "-" } else { "" };
    format!(
        "{sign}{}.{:02} {currency}",
        amount.abs() / 100,
        amount.abs() % 100
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let sandbox = Sandbox::start()?;
    // Any Basic credentials do for the sandbox; against Klarna, the
    // merchant's API username and password.
    let credentials = || klarna_payments::Credentials::basic("merchant", "password");
    let payments = klarna_payments::Client::from_config(klarna_payments::Config::with_base_url(
        sandbox.base_url(),
        credentials(),
    ))?;
    let orders = klarna_ordermanagement::Client::from_config(
        klarna_ordermanagement::Config::with_base_url(sandbox.base_url(), credentials()),
    )?;
    let settlements = klarna_settlements::Client::from_config(
        klarna_settlements::Config::with_base_url(sandbox.base_url(), credentials()),
    )?;

    // 1. Checkout: a session for the cart, the buyer's approval, the order.
    let cart = vec![
        OrderLine {
            reference: Some("A12345".into()),
            ..OrderLine::new("T-shirt", 1, 3_000, 3_000)
        },
        OrderLine {
            reference: Some("A98765".into()),
            ..OrderLine::new("Jeans", 1, 7_000, 7_000)
        },
        OrderLine {
            reference: Some("B24680".into()),
            ..OrderLine::new("Sneakers", 1, 10_000, 10_000)
        },
    ];
    let session = payments
        .create_credit_session(&SessionCreate::new(20_000, cart.clone(), "DE", "EUR"))
        .await?;
    println!(
        "session {} offers {} payment method categories",
        session.session_id,
        session
            .payment_method_categories
            .as_ref()
            .map_or(0, Vec::len)
    );
    // In a browser the Klarna widget hands this token to the shop.
    let token = sandbox
        .approve_session(&session.session_id)
        .ok_or("the sandbox refused to approve the session")?;
    let placed = payments
        .create_order(&token, &CreateOrderRequest::new(20_000, cart, "DE", "EUR"))
        .idempotency_key(IdempotencyKey::from(format!(
            "checkout-{}",
            session.session_id
        )))
        .await?;
    let order_id = OrderId::new(&placed.order_id);
    println!("order {order_id} placed for {}", money(20_000, "EUR"));

    // 2. Two parcels, then the jeans come back.
    let mut captured = BTreeMap::new();
    for (parcel, amount) in [(1, 13_000), (2, 7_000)] {
        let capture = orders
            .capture_order(&order_id, &CaptureObject::new(amount))
            .idempotency_key(IdempotencyKey::from(format!("{order_id}-parcel-{parcel}")))
            .await?;
        println!("capture {} of {}", capture.capture_id, money(amount, "EUR"));
        captured.insert(capture.capture_id.as_str().to_owned(), amount);
    }
    let refund = orders
        .refund_order(&order_id, &RefundObject::new(7_000))
        .idempotency_key(IdempotencyKey::from(format!("{order_id}-return-1")))
        .await?;
    println!("refund {} of {}", refund.refund_id, money(7_000, "EUR"));
    let refunded = BTreeMap::from([(refund.refund_id.as_str().to_owned(), 7_000)]);

    // 3. The day closes; the payout is read page by page.
    let references = sandbox.close_settlement_day();
    let reference = references.first().ok_or("nothing was paid out")?;
    let payout = settlements.get_payout(reference).await?;
    let currency = payout.currency_code.as_str();
    let mut items = settlements
        .list_transactions()
        .payment_reference(reference.as_str())
        .size(2)
        .into_items();
    let mut transactions = Vec::new();
    while let Some(transaction) = items.next().await {
        transactions.push(transaction?);
    }
    println!(
        "payout {reference}: {} transactions in {} pages of at most 2",
        transactions.len(),
        items.pages_fetched()
    );

    // 4. Reconcile every transaction against the captures and the refund.
    let (mut sales, mut returns, mut fees) = (0, 0, 0);
    for t in &transactions {
        assert_eq!(
            t.order_id,
            order_id.as_str(),
            "a transaction of another order"
        );
        let capture = t.capture_id.as_deref().filter(|id| !id.is_empty());
        let kind = match (&t.r#type, capture, t.refund_id.as_deref()) {
            (TransactionType::Sale, Some(id), _) => {
                assert_eq!(captured.get(id), Some(&t.amount), "sale {id}");
                sales += t.amount;
                "sale"
            }
            (TransactionType::Fee, Some(id), _) => {
                let expected = captured[id] * FEE_BASIS_POINTS / 10_000;
                assert_eq!(t.amount, expected, "fee on {id}");
                fees += t.amount;
                "fee"
            }
            (TransactionType::Return, None, Some(id)) => {
                assert_eq!(refunded.get(id), Some(&t.amount), "return {id}");
                returns += t.amount;
                "return"
            }
            other => return Err(format!("a transaction that matches nothing: {other:?}").into()),
        };
        println!(
            "  {kind:<6} {:>12}  capture {:<36}  refund {}",
            money(t.amount, currency),
            capture.unwrap_or("-"),
            t.refund_id.as_deref().unwrap_or("-")
        );
    }
    let totals = &payout.totals;
    assert_eq!(sales, captured.values().sum::<i64>());
    assert_eq!(returns, refunded.values().sum::<i64>());
    assert_eq!(
        (totals.sale_amount, totals.return_amount, totals.fee_amount),
        (sales, returns, fees)
    );
    assert_eq!(totals.settlement_amount, sales - returns - fees);
    println!(
        "reconciled: sales {} - returns {} - fees {} = paid out {}",
        money(sales, currency),
        money(returns, currency),
        money(fees, currency),
        money(totals.settlement_amount, currency)
    );
    Ok(())
}
