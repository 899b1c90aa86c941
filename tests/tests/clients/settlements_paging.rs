//! Paging (`x-paging`) and streamed reports through the generated
//! Settlements client on the mock transport: the items across pages, the
//! offsets asked for, retries per page, an error that ends the items, and a
//! report larger than the buffered limit read as a stream.

use klarna_settlements::mock::{Mock, Outcome};
use klarna_settlements::models::{Pagination, Transaction, TransactionCollection, TransactionType};
use klarna_settlements::{operations, Client, ErrorKind, Transactions};

fn transaction(amount: i64) -> Transaction {
    Transaction::new(
        amount,
        "2026-12-07T10:00:00Z",
        TransactionType::Sale,
        "2026-12-07T10:00:00Z",
        "ce17b4cb-147f-48b7-b8e6-dde2fa397f04",
        "EUR",
        "DE",
    )
}

/// A page of `amounts`, linking to `next` when given.
fn page(amounts: &[i64], offset: i64, next: Option<i64>) -> TransactionCollection {
    TransactionCollection::new(
        amounts.iter().copied().map(transaction).collect(),
        Pagination {
            offset: Some(offset),
            total: Some(5),
            next: next.map(|n| {
                format!("https://api.klarna.com/settlements/v1/transactions?payment_reference=P1&offset={n}&size=2")
            }),
            ..Pagination::new(amounts.len() as i64)
        },
    )
}

fn queries(mock: &Mock) -> Vec<String> {
    mock.requests_for(&operations::LIST_TRANSACTIONS)
        .into_iter()
        .map(|r| r.query.unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn the_items_of_three_pages_follow_the_next_links() {
    let mock = Mock::new();
    let client = Client::from_runtime(mock.client()).unwrap();
    mock.on(&operations::LIST_TRANSACTIONS)
        .respond(Outcome::json(200, &page(&[100, 200], 0, Some(2))))
        // A lost answer: page two is asked for again, with the same offset.
        .respond(Outcome::timed_out())
        .respond(Outcome::json(200, &page(&[300, 400], 2, Some(4))))
        .respond(Outcome::json(200, &page(&[500], 4, None)));

    let mut items = client
        .list_transactions()
        .payment_reference("P1")
        .size(2)
        .into_items();
    let mut amounts = Vec::new();
    for _ in 0..10 {
        match items.next().await {
            Some(item) => amounts.push(item.unwrap().amount),
            None => break,
        }
    }
    assert_eq!(amounts, vec![100, 200, 300, 400, 500]);
    assert_eq!(items.pages_fetched(), 3);
    let asked = queries(&mock);
    assert_eq!(asked.len(), 4, "{asked:?}");
    for (query, offset) in asked.iter().zip(["0", "2", "2", "4"]) {
        assert!(query.contains("payment_reference=P1"), "{query}");
        assert!(query.contains("size=2"), "{query}");
        assert!(query.contains(&format!("offset={offset}")), "{query}");
    }
}

#[tokio::test]
async fn an_error_ends_the_items_after_those_already_read() {
    let mock = Mock::new();
    let client = Client::from_runtime(mock.client()).unwrap();
    let refusal = serde_json::json!({
        "error_code": "BAD_VALUE",
        "error_messages": ["offset too large"],
        "correlation_id": "c-1"
    });
    mock.on(&operations::LIST_TRANSACTIONS)
        .respond(Outcome::json(200, &page(&[100, 200], 0, Some(2))))
        .respond(Outcome::json(400, &refusal));

    let mut items = client.list_transactions().size(2).into_items();
    assert_eq!(items.next().await.unwrap().unwrap().amount, 100);
    assert_eq!(items.next().await.unwrap().unwrap().amount, 200);
    let error = items.next().await.unwrap().unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::Api(_)), "{error}");
    assert_eq!(error.error_code(), Some("BAD_VALUE"));
    assert_eq!(items.offset(), 2);
    assert!(items.next().await.is_none());
    assert_eq!(queries(&mock).len(), 2, "a 400 is not retried");
}

#[tokio::test]
async fn a_page_larger_than_its_size_is_refused() {
    let mock = Mock::new();
    let client = Client::from_runtime(mock.client()).unwrap();
    mock.on(&operations::LIST_TRANSACTIONS)
        .respond(Outcome::json(200, &page(&[1, 2, 3], 0, Some(3))));
    let mut items = client.list_transactions().size(2).into_items();
    let error = items.next().await.unwrap().unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::Decode { .. }), "{error}");
    assert!(items.next().await.is_none());
}

/// The reports stream: a body larger than the 16 MiB buffered limit is read
/// whole, chunk by chunk, and an error answer of a streamed operation is
/// decoded as usual.
#[tokio::test]
async fn a_report_streams_past_the_buffered_limit_and_its_errors_decode() {
    use klarna_runtime::DEFAULT_MAX_RESPONSE_BYTES;
    use klarna_settlements::{GetPayoutReportPdfError, Reports};
    let mock = Mock::new();
    let client = Client::from_runtime(mock.client()).unwrap();
    let size = DEFAULT_MAX_RESPONSE_BYTES + 1024 * 1024;
    let refusal = serde_json::json!({
        "error_code": "NOT_FOUND",
        "error_messages": ["No payout has this payment reference."],
        "correlation_id": "c-2"
    });
    mock.on(&operations::GET_PAYOUT_REPORT_PDF)
        .respond(
            Outcome::status(200)
                .header("Content-Type", "application/pdf")
                .body(vec![b'x'; size]),
        )
        .respond(Outcome::json(404, &refusal));

    let mut report = client
        .get_payout_report_pdf("P1")
        .await
        .unwrap()
        .into_inner();
    assert_eq!(report.content_type(), Some("application/pdf"));
    let mut read = 0;
    while let Some(chunk) = report.chunk().await.unwrap() {
        read += chunk.len();
    }
    assert_eq!(read, size);
    assert!(report.chunk().await.unwrap().is_none());

    let error = client.get_payout_report_pdf("NOPE").await.unwrap_err();
    let Some(GetPayoutReportPdfError::NotFound(body)) = error.api_body() else {
        panic!("{error}")
    };
    assert_eq!(body.error_code, "NOT_FOUND");
    let sent = mock.requests_for(&operations::GET_PAYOUT_REPORT_PDF);
    assert_eq!(sent[0].query.as_deref(), Some("payment_reference=P1"));
}
