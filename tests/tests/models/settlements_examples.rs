//! Every example of Klarna's published Settlements document decodes into
//! the generated type of its schema and encodes back to equal JSON. The
//! document gives its examples per property; `tests/fixtures/settlements/`
//! holds one object per schema assembled from them (the only values not
//! from the document: `ErrorResponse.error_code`, `error_messages` and
//! `Payout.merchant_id`, required but without an example, are `ERROR_CODE`
//! and `["Array of error messages"]` (their descriptions) and `merchant-id`).
//! The typed checks make sure the values landed in typed fields.

use klarna_models::settlements::{
    ErrorResponse, Pagination, Payout, PayoutCollection, PayoutMerchantSettlementType,
    PayoutSummary, Totals, Transaction, TransactionCollection, TransactionDetailedType,
    TransactionType,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../fixtures/settlements/", $name, ".json")),
        )
    };
}

fn round_trip<T: Serialize + DeserializeOwned>((name, text): (&str, &str)) -> T {
    let example: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let decoded: T = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        serde_json::to_value(&decoded).unwrap(),
        example,
        "{name} does not encode back to the example"
    );
    decoded
}

#[test]
fn error_and_pagination() {
    let error: ErrorResponse = round_trip(fixture!("error_response"));
    assert_eq!(error.correlation_id, "2fe0311b-adc5-45e5-ac2b-963dac83c88b");
    assert_eq!(error.error_messages.len(), 1);
    let pagination: Pagination = round_trip(fixture!("pagination"));
    assert_eq!(
        (pagination.count, pagination.total, pagination.offset),
        (10, Some(42), Some(10))
    );
    assert_eq!(
        pagination.next.as_deref(),
        Some("http://example.com/collection?offset=21&size=10")
    );
}

#[test]
fn payouts_and_totals() {
    let totals: Totals = round_trip(fixture!("totals"));
    assert_eq!(totals.settlement_amount, 550);
    assert_eq!(totals.fee_amount, 500);
    assert_eq!(totals.closing_debt_balance_amount, 500);
    let payout: Payout = round_trip(fixture!("payout"));
    assert_eq!(payout.payment_reference, "XISA93DJ");
    assert_eq!(
        payout.merchant_settlement_type,
        PayoutMerchantSettlementType::Net
    );
    assert_eq!(payout.totals, totals);
    let page: PayoutCollection = round_trip(fixture!("payout_collection"));
    assert_eq!(page.payouts, vec![payout]);
    let summary: PayoutSummary = round_trip(fixture!("payout_summary"));
    assert_eq!(summary.summary_settlement_currency, "USD");
    assert_eq!(summary.summary_total_sale_amount, 500);
}

#[test]
fn transactions() {
    let transaction: Transaction = round_trip(fixture!("transaction"));
    assert_eq!(transaction.r#type, TransactionType::Sale);
    assert_eq!(
        transaction.detailed_type,
        Some(TransactionDetailedType::Purchase)
    );
    assert_eq!(transaction.amount, 2000);
    assert_eq!(transaction.order_id, "ce17b4cb-147f-48b7-b8e6-dde2fa397f04");
    assert_eq!(transaction.vat_rate, Some(2000));
    assert_eq!(
        transaction.reversal_reference.as_deref(),
        Some("krn:klarna:eu1:dispute:goods_not_received:263099944398666")
    );
    let page: TransactionCollection = round_trip(fixture!("transaction_collection"));
    assert_eq!(page.transactions, vec![transaction]);
}
