//! Settlements v1 in the sandbox, through the generated
//! `klarna_settlements` client: a checkout's captures and refund become a
//! payout once the day is closed, read page by page and reconciled to the
//! minor unit, with the reports and the API's refusals.

use klarna_ordermanagement::models::{CaptureObject, RefundObject};
use klarna_ordermanagement::{Captures, OrderId, Refunds};
use klarna_payments::models::{CreateOrderRequest, OrderLine, SessionCreate};
use klarna_payments::{Authorizations, Sessions};
use klarna_sandbox::{Sandbox, CSV_COLUMNS, FEE_BASIS_POINTS};
use klarna_settlements::models::{PayoutMerchantSettlementType, TransactionType};
use klarna_settlements::{GetPayoutError, Payouts, Reports, Transactions};

fn credentials() -> klarna_settlements::Credentials {
    klarna_settlements::Credentials::basic("test-user", "test-password")
}

fn settlements(sandbox: &Sandbox) -> klarna_settlements::Client {
    klarna_settlements::Client::from_config(klarna_settlements::Config::with_base_url(
        sandbox.base_url(),
        credentials(),
    ))
    .unwrap()
}

/// A checkout of 200.00 EUR through Klarna Payments; the order's id.
async fn checkout(sandbox: &Sandbox) -> OrderId {
    let payments = klarna_payments::Client::from_config(klarna_payments::Config::with_base_url(
        sandbox.base_url(),
        credentials(),
    ))
    .unwrap();
    let lines = vec![
        OrderLine::new("T-shirt", 1, 3_000, 3_000),
        OrderLine::new("Jeans", 1, 7_000, 7_000),
        OrderLine::new("Sneakers", 1, 10_000, 10_000),
    ];
    let session = payments
        .create_credit_session(&SessionCreate::new(20_000, lines.clone(), "DE", "EUR"))
        .await
        .unwrap();
    let token = sandbox.approve_session(&session.session_id).unwrap();
    let order = payments
        .create_order(&token, &CreateOrderRequest::new(20_000, lines, "DE", "EUR"))
        .await
        .unwrap();
    OrderId::new(order.order_id.clone())
}

fn order_management(sandbox: &Sandbox) -> klarna_ordermanagement::Client {
    klarna_ordermanagement::Client::from_config(klarna_ordermanagement::Config::with_base_url(
        sandbox.base_url(),
        credentials(),
    ))
    .unwrap()
}

fn fee(amount: i64) -> i64 {
    amount * FEE_BASIS_POINTS / 10_000
}

#[tokio::test]
async fn captures_and_a_refund_become_a_payout_read_in_pages_of_two() {
    let sandbox = Sandbox::start().unwrap();
    let order_id = checkout(&sandbox).await;
    let om = order_management(&sandbox);
    let first = om
        .capture_order(&order_id, &CaptureObject::new(12_345))
        .await
        .unwrap();
    let second = om
        .capture_order(&order_id, &CaptureObject::new(7_655))
        .await
        .unwrap();
    let refund = om
        .refund_order(&order_id, &RefundObject::new(3_000))
        .await
        .unwrap();

    let client = settlements(&sandbox);
    // Nothing is paid out before the day closes.
    let none = client
        .list_transactions()
        .order_id(order_id.as_str())
        .await
        .unwrap();
    assert!(none.transactions.is_empty());

    let references = sandbox.close_settlement_day();
    assert_eq!(references.len(), 1);
    let reference = references[0].as_str();
    assert!(
        sandbox.close_settlement_day().is_empty(),
        "nothing is paid twice"
    );

    // 2 sales, 2 fees and a return: three pages of two.
    let mut items = client
        .list_transactions()
        .payment_reference(reference)
        .size(2)
        .into_items();
    let mut transactions = Vec::new();
    for _ in 0..10 {
        match items.next().await {
            Some(item) => transactions.push(item.unwrap()),
            None => break,
        }
    }
    assert_eq!(items.pages_fetched(), 3);
    assert_eq!(transactions.len(), 5);
    let paged: Vec<_> = sandbox
        .requests()
        .into_iter()
        .filter(|r| r.path == "/settlements/v1/transactions")
        .collect();
    assert_eq!(
        paged.len(),
        4,
        "one request before the close, three pages after"
    );

    // Each transaction names the order and its capture or refund.
    let capture_ids = [first.capture_id.as_str(), second.capture_id.as_str()];
    let mut sales = 0;
    let mut fees = 0;
    let mut returns = 0;
    for t in &transactions {
        assert_eq!(t.order_id, order_id.as_str());
        assert_eq!(t.currency_code, "EUR");
        assert_eq!(t.purchase_country, "DE");
        assert_eq!(t.payment_reference.as_deref(), Some(reference));
        match t.r#type {
            TransactionType::Sale => {
                assert!(capture_ids.contains(&t.capture_id.as_deref().unwrap()));
                sales += t.amount;
            }
            TransactionType::Fee => {
                assert!(capture_ids.contains(&t.capture_id.as_deref().unwrap()));
                fees += t.amount;
            }
            TransactionType::Return => {
                assert_eq!(t.refund_id.as_deref(), Some(refund.refund_id.as_str()));
                returns += t.amount;
            }
            ref other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(sales, 20_000);
    assert_eq!(returns, 3_000);
    assert_eq!(fees, fee(12_345) + fee(7_655));

    let payout = client.get_payout(reference).await.unwrap();
    assert_eq!(payout.currency_code, "EUR");
    assert_eq!(
        payout.merchant_settlement_type,
        PayoutMerchantSettlementType::Net
    );
    assert_eq!(payout.totals.sale_amount, sales);
    assert_eq!(payout.totals.return_amount, returns);
    assert_eq!(payout.totals.fee_amount, fees);
    assert_eq!(payout.totals.settlement_amount, sales - returns - fees);

    // The payout listed, and summed up for the day.
    let listed = client.list_payouts().currency_code("EUR").await.unwrap();
    assert_eq!(listed.payouts.len(), 1);
    assert_eq!(listed.pagination.total, Some(1));
    assert_eq!(listed.pagination.next, None);
    let day = &payout.payout_date[..10];
    let summary = client
        .get_payout_summary(&format!("{day}T00:00:00Z"), &format!("{day}T23:59:59Z"))
        .await
        .unwrap();
    assert_eq!(summary.len(), 1);
    assert_eq!(
        summary[0].summary_total_settlement_amount,
        sales - returns - fees
    );
}

#[tokio::test]
async fn reports_and_refusals() {
    let sandbox = Sandbox::start().unwrap();
    let order_id = checkout(&sandbox).await;
    let om = order_management(&sandbox);
    om.capture_order(&order_id, &CaptureObject::new(20_000))
        .await
        .unwrap();
    let reference = sandbox.close_settlement_day().remove(0);
    let client = settlements(&sandbox);

    let csv = read_all(client.get_payout_report_with_transactions(&reference)).await;
    let csv = String::from_utf8(csv).unwrap();
    let mut rows = csv.lines();
    assert_eq!(rows.next().unwrap(), CSV_COLUMNS.join(","));
    let rows: Vec<&str> = rows.collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(rows[0].contains(",SALE,PURCHASE,20000,EUR,"), "{}", rows[0]);
    assert!(
        rows[1].contains(",FEE,PURCHASE_FEE_PERCENTAGE,300,EUR,"),
        "{}",
        rows[1]
    );

    let pdf = read_all(client.get_payout_report_pdf(&reference)).await;
    assert!(pdf.starts_with(b"%PDF-1.4\n"));
    assert!(pdf.ends_with(b"%%EOF\n"));

    let error = client.get_payout("NO-SUCH-PAYOUT").await.unwrap_err();
    assert!(
        matches!(error.api_body(), Some(GetPayoutError::NotFound(_))),
        "{error}"
    );
    let error = client
        .get_payout_report_pdf("NO-SUCH-PAYOUT")
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(error.status(), Some(404));
    assert_eq!(error.error_code(), Some("NOT_FOUND"));
    let error = client.list_transactions().size(501).await.unwrap_err();
    assert_eq!(error.status(), Some(400));
    let error = client
        .get_payout_summary("yesterday", "today")
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400));
}

/// A report's bytes, read from its stream.
async fn read_all<E: std::fmt::Debug>(
    call: impl std::future::IntoFuture<
        Output = Result<
            klarna_settlements::Response<klarna_settlements::ByteStream>,
            klarna_settlements::Error<E>,
        >,
    >,
) -> Vec<u8> {
    let mut stream = call.await.unwrap().into_inner();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.chunk().await.unwrap() {
        bytes.extend_from_slice(&chunk);
    }
    bytes
}

#[tokio::test]
async fn the_day_closes_over_http_too() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sandbox = Sandbox::start().unwrap();
    let order_id = checkout(&sandbox).await;
    order_management(&sandbox)
        .capture_order(&order_id, &CaptureObject::new(5_000))
        .await
        .unwrap();
    let address = sandbox.base_url().trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let request = format!(
        "POST /sandbox/settlements/v1/close-day HTTP/1.1\r\nHost: {address}\r\nAuthorization: Basic dTpw\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_string(&mut answer),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let body: serde_json::Value =
        serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let reference = body["payment_references"][0].as_str().unwrap();
    let payout = settlements(&sandbox).get_payout(reference).await.unwrap();
    assert_eq!(payout.totals.sale_amount, 5_000);
}

#[tokio::test]
async fn a_day_of_refunds_becomes_a_debt_that_the_next_payout_repays() {
    use klarna_sandbox::NewOrder;
    let sandbox = Sandbox::start().unwrap();
    let om = order_management(&sandbox);
    let client = settlements(&sandbox);
    let first = OrderId::new(sandbox.add_order(NewOrder::new(10_000, "EUR")));
    om.capture_order(&first, &CaptureObject::new(10_000))
        .await
        .unwrap();
    let day_one = sandbox.close_settlement_day().remove(0);
    let paid = client
        .get_payout(&day_one)
        .await
        .unwrap()
        .totals
        .settlement_amount;
    assert_eq!(paid, 10_000 - fee(10_000));

    // Day two: only a refund. Nothing is paid out; the merchant owes it.
    om.refund_order(&first, &RefundObject::new(4_000))
        .await
        .unwrap();
    let day_two = sandbox.close_settlement_day().remove(0);
    let totals = client
        .get_payout(&day_two)
        .await
        .unwrap()
        .into_inner()
        .totals;
    assert_eq!(
        (
            totals.return_amount,
            totals.settlement_amount,
            totals.deposit_amount
        ),
        (4_000, 0, 4_000)
    );
    assert_eq!(totals.closing_debt_balance_amount, 4_000);

    // Day three: a sale repays the debt first.
    let second = OrderId::new(sandbox.add_order(NewOrder::new(20_000, "EUR")));
    om.capture_order(&second, &CaptureObject::new(20_000))
        .await
        .unwrap();
    let day_three = sandbox.close_settlement_day().remove(0);
    let totals = client
        .get_payout(&day_three)
        .await
        .unwrap()
        .into_inner()
        .totals;
    assert_eq!(totals.opening_debt_balance_amount, 4_000);
    assert_eq!(totals.repay_amount, 4_000);
    assert_eq!(totals.closing_debt_balance_amount, 0);
    assert_eq!(totals.settlement_amount, 20_000 - fee(20_000) - 4_000);
    // Newest first, three payouts in EUR.
    let listed = client.list_payouts().await.unwrap();
    let references: Vec<&str> = listed
        .payouts
        .iter()
        .map(|p| p.payment_reference.as_str())
        .collect();
    assert_eq!(
        references,
        vec![day_three.as_str(), day_two.as_str(), day_one.as_str()]
    );
}
