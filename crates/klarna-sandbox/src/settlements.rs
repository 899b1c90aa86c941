//! Settlements v1: the payouts of what the Order Management part captured
//! and refunded. Nothing is paid out until the test closes the day
//! (`Sandbox::close_settlement_day`): then every capture and refund not yet
//! settled becomes a transaction, with a fee transaction per capture, and
//! each currency gets one payout. The API then serves them: payouts,
//! transactions (paged), summaries, and CSV and PDF reports.

use std::collections::{BTreeMap, HashSet};

use klarna_models::ordermanagement::MerchantOrderDto;
use klarna_models::settlements::{
    Pagination, Payout, PayoutCollection, PayoutMerchantSettlementType, PayoutSummary, Totals,
    Transaction, TransactionCollection, TransactionDetailedType, TransactionType,
};
use serde::Serialize;

use crate::http::{Request, Response};
use crate::orders::{error, State};
use crate::util::{decode_segment, encode_segment, now, path_segments, rfc3339, uuid_v4, BadPath};

pub(crate) const PREFIX: &str = "/settlements/v1/";
/// The sandbox-only route of the clock knob, for tests outside Rust.
pub(crate) const CLOSE_DAY_PATH: &str = "/sandbox/settlements/v1/close-day";

/// The sandbox's fee per capture, in hundredths of a percent of the
/// captured amount, rounded down: 1.5 %.
pub const FEE_BASIS_POINTS: i64 = 150;
/// The merchant id every payout names.
pub const MERCHANT_ID: &str = "SANDBOX";
/// Klarna's page size when none is asked for, and the largest it allows.
const DEFAULT_PAGE_SIZE: i64 = 20;
const MAX_PAGE_SIZE: i64 = 500;
/// Bounds, so that a runaway test cannot grow the stand-in without limit.
const MAX_PAYOUTS: usize = 100_000;
const MAX_TRANSACTIONS: usize = 100_000;

/// The columns of the CSV reports, one row per transaction, in this order.
pub const CSV_COLUMNS: [&str; 14] = [
    "payment_reference",
    "payout_date",
    "type",
    "detailed_type",
    "amount",
    "currency_code",
    "order_id",
    "short_order_id",
    "capture_id",
    "refund_id",
    "merchant_reference1",
    "merchant_reference2",
    "capture_date",
    "sale_date",
];

struct PayoutRecord {
    payout: Payout,
    /// Indices into `Settlements::transactions`.
    transactions: Vec<usize>,
}

/// Everything the Settlements part remembers.
pub(crate) struct Settlements {
    /// Captures and refunds already paid out, by their ids.
    settled: HashSet<String>,
    /// Oldest first.
    payouts: Vec<PayoutRecord>,
    transactions: Vec<Transaction>,
    /// What the merchant owes Klarna, per currency, after the last payout.
    debt: BTreeMap<String, i64>,
}

impl Settlements {
    pub(crate) fn new() -> Self {
        Settlements {
            settled: HashSet::new(),
            payouts: Vec::new(),
            transactions: Vec::new(),
            debt: BTreeMap::new(),
        }
    }

    /// Closes the day: pays out every capture and refund not yet settled,
    /// one payout per currency, and returns their payment references
    /// (currencies in alphabetical order).
    pub(crate) fn close_day(&mut self, orders: &State, base_url: &str) -> Vec<String> {
        let closed_at = rfc3339(now());
        // Per currency: the day's transactions.
        let mut days: BTreeMap<String, Vec<Transaction>> = BTreeMap::new();
        for order in orders.all_orders() {
            let currency = order.purchase_currency.clone().unwrap_or_default();
            for transaction in self.unsettled(&order) {
                days.entry(currency.clone()).or_default().push(transaction);
            }
        }
        let mut references = Vec::new();
        for (currency, mut transactions) in days {
            if self.payouts.len() >= MAX_PAYOUTS
                || self.transactions.len() + transactions.len() > MAX_TRANSACTIONS
            {
                // Past the bounds the day's bookings stay unsettled: nothing
                // is lost, and nothing is paid out either.
                for t in &transactions {
                    let id = match (&t.refund_id, &t.capture_id) {
                        (Some(refund), _) => format!("refund:{}:{refund}", t.order_id),
                        (None, Some(capture)) => format!("capture:{}:{capture}", t.order_id),
                        (None, None) => continue,
                    };
                    self.settled.remove(&id);
                }
                continue;
            }
            let reference = format!(
                "SBX{}",
                uuid_v4()
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .take(9)
                    .collect::<String>()
                    .to_ascii_uppercase()
            );
            let sum = |kind: TransactionType| {
                transactions
                    .iter()
                    .filter(|t| t.r#type == kind)
                    .map(|t| t.amount)
                    .sum::<i64>()
            };
            let (sales, returns, fees) = (
                sum(TransactionType::Sale),
                sum(TransactionType::Return),
                sum(TransactionType::Fee),
            );
            let opening_debt = self.debt.get(&currency).copied().unwrap_or(0);
            let available = sales - returns - fees;
            // What is left after the day's returns and fees first repays
            // the debt; a day that ends below zero adds to it.
            let (repay, deposit) = if available >= 0 {
                (available.min(opening_debt), 0)
            } else {
                (0, -available)
            };
            let settlement = available - repay + deposit;
            let closing_debt = opening_debt - repay + deposit;
            self.debt.insert(currency.clone(), closing_debt);
            let totals = Totals {
                commission_amount: 0,
                repay_amount: repay,
                sale_amount: sales,
                holdback_amount: 0,
                tax_amount: Some(0),
                settlement_amount: settlement,
                fee_correction_amount: Some(0),
                reversal_amount: 0,
                release_amount: 0,
                return_amount: returns,
                fee_amount: fees,
                charge_amount: 0,
                credit_amount: 0,
                fee_refund_amount: 0,
                tax_refund_amount: 0,
                deposit_amount: deposit,
                opening_debt_balance_amount: opening_debt,
                closing_debt_balance_amount: closing_debt,
            };
            let payout_link = format!("{base_url}{PREFIX}payouts/{reference}");
            let first = self.transactions.len();
            for transaction in &mut transactions {
                transaction.payment_reference = Some(reference.clone());
                transaction.payout = Some(payout_link.clone());
            }
            self.transactions.extend(transactions);
            let payout = Payout {
                currency_code_of_registration_country: Some("EUR".to_owned()),
                transactions: Some(format!(
                    "{base_url}{PREFIX}transactions?payment_reference={reference}"
                )),
                ..Payout::new(
                    totals,
                    reference.clone(),
                    closed_at.clone(),
                    currency,
                    PayoutMerchantSettlementType::Net,
                    MERCHANT_ID,
                )
            };
            self.payouts.push(PayoutRecord {
                payout,
                transactions: (first..self.transactions.len()).collect(),
            });
            references.push(reference);
        }
        references
    }

    /// `POST /sandbox/settlements/v1/close-day`: [`Settlements::close_day`]
    /// over HTTP, answered `200 {"payment_references": [..]}`.
    pub(crate) fn close_day_route(
        &mut self,
        request: &Request,
        orders: &State,
        base_url: &str,
    ) -> Response {
        if request.header("authorization").is_none() {
            return error(
                401,
                "UNAUTHORIZED",
                "Send HTTP Basic credentials; the sandbox accepts any.",
            );
        }
        if request.method != "POST" {
            return error(405, "NOT_ALLOWED", "Close the day with POST.");
        }
        let references = self.close_day(orders, base_url);
        json(
            200,
            &serde_json::json!({ "payment_references": references }),
        )
        .unwrap_or_else(|response| response)
    }

    /// The transactions of an order's captures and refunds not yet paid
    /// out, marking them paid: per capture a sale and its fee, per refund a
    /// return.
    fn unsettled(&mut self, order: &MerchantOrderDto) -> Vec<Transaction> {
        let order_id = order.order_id.as_deref().unwrap_or_default().to_owned();
        let currency = order.purchase_currency.clone().unwrap_or_default();
        let country = order
            .purchase_country
            .clone()
            .or_else(|| {
                order
                    .billing_address
                    .as_ref()
                    .and_then(|a| a.country.clone())
            })
            .unwrap_or_else(|| "DE".to_owned());
        let sale_date = order.created_at.clone().unwrap_or_default();
        let base = |kind: TransactionType, amount: i64, capture_date: &str| Transaction {
            merchant_reference1: order.merchant_reference1.clone(),
            merchant_reference2: order.merchant_reference2.clone(),
            short_order_id: order.klarna_reference.clone(),
            ..Transaction::new(
                amount,
                sale_date.clone(),
                kind,
                capture_date,
                order_id.clone(),
                currency.clone(),
                country.clone(),
            )
        };
        let mut out = Vec::new();
        for capture in order.captures.iter().flatten() {
            let Some(capture_id) = &capture.capture_id else {
                continue;
            };
            if !self
                .settled
                .insert(format!("capture:{order_id}:{capture_id}"))
            {
                continue;
            }
            let amount = capture.captured_amount.unwrap_or(0);
            let captured_at = capture.captured_at.clone().unwrap_or_default();
            out.push(Transaction {
                capture_id: Some(capture_id.to_string()),
                detailed_type: Some(TransactionDetailedType::Purchase),
                merchant_capture_reference: capture.reference.clone(),
                ..base(TransactionType::Sale, amount, &captured_at)
            });
            out.push(Transaction {
                capture_id: Some(capture_id.to_string()),
                detailed_type: Some(TransactionDetailedType::PurchaseFeePercentage),
                ..base(TransactionType::Fee, fee(amount), &captured_at)
            });
        }
        for refund in order.refunds.iter().flatten() {
            let Some(refund_id) = &refund.refund_id else {
                continue;
            };
            if !self
                .settled
                .insert(format!("refund:{order_id}:{refund_id}"))
            {
                continue;
            }
            let refunded_at = refund.refunded_at.clone().unwrap_or_default();
            out.push(Transaction {
                refund_id: Some(refund_id.to_string()),
                // Returns have no capture: Klarna sends an empty string.
                capture_id: Some(String::new()),
                detailed_type: Some(TransactionDetailedType::PurchaseReturn),
                merchant_refund_reference: refund.reference.clone(),
                ..base(
                    TransactionType::Return,
                    refund.refunded_amount.unwrap_or(0),
                    &refunded_at,
                )
            });
        }
        out
    }

    /// Answers one well-formed request under [`PREFIX`].
    pub(crate) fn handle(&self, request: &Request, base_url: &str) -> Response {
        if request.header("authorization").is_none() {
            return error(
                401,
                "UNAUTHORIZED",
                "Send HTTP Basic credentials; the sandbox accepts any.",
            );
        }
        if request.method != "GET" {
            return error(405, "NOT_ALLOWED", "The Settlements API only reads.");
        }
        let rest = request.path.strip_prefix(PREFIX).unwrap_or_default();
        let segments = match path_segments(rest, 2) {
            Ok(segments) => segments,
            Err(BadPath::Encoding) => {
                return error(400, "BAD_VALUE", "The path is not validly percent-encoded.")
            }
            Err(BadPath::NoRoute) => return error(404, "NOT_FOUND", "No such operation."),
        };
        let query = match Query::parse(&request.query) {
            Ok(query) => query,
            Err(response) => return response,
        };
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let answer = match segments.as_slice() {
            ["payouts", "summary"] => self.summary(&query),
            ["payouts"] => self.list_payouts(&query, base_url),
            ["payouts", reference] => match self.payout(reference) {
                Some(record) => json(200, &record.payout),
                None => Err(no_payout()),
            },
            ["transactions"] => self.list_transactions(&query, base_url),
            ["reports", "payout-with-transactions"] => self
                .report_payout(&query)
                .map(|record| csv(self.csv(std::slice::from_ref(&record)))),
            ["reports", "payout"] => self
                .report_payout(&query)
                .map(|record| pdf(&self.pdf_lines(std::slice::from_ref(&record)))),
            ["reports", "payouts-summary-with-transactions"] => self
                .in_range(&query, true)
                .map(|records| csv(self.csv(&records))),
            ["reports", "payouts-summary"] => self
                .in_range(&query, true)
                .map(|records| pdf(&self.pdf_lines(&records))),
            _ => Err(error(404, "NOT_FOUND", "No such operation.")),
        };
        answer.unwrap_or_else(|response| response)
    }

    fn payout(&self, reference: &str) -> Option<&PayoutRecord> {
        self.payouts
            .iter()
            .find(|record| record.payout.payment_reference == reference)
    }

    fn report_payout(&self, query: &Query) -> Result<&PayoutRecord, Response> {
        let reference = query.required("payment_reference")?;
        self.payout(reference).ok_or_else(no_payout)
    }

    /// The payouts in the query's date range and currency, newest first.
    fn in_range(
        &self,
        query: &Query,
        dates_required: bool,
    ) -> Result<Vec<&PayoutRecord>, Response> {
        let (start, end) = if dates_required {
            (
                Some(date(query.required("start_date")?)?),
                Some(date(query.required("end_date")?)?),
            )
        } else {
            (
                query.get("start_date").map(date).transpose()?,
                query.get("end_date").map(date).transpose()?,
            )
        };
        let currency = query.get("currency_code");
        Ok(self
            .payouts
            .iter()
            .rev()
            .filter(|r| {
                start
                    .as_deref()
                    .is_none_or(|s| r.payout.payout_date.as_str() >= s)
            })
            .filter(|r| {
                end.as_deref()
                    .is_none_or(|e| r.payout.payout_date.as_str() <= e)
            })
            .filter(|r| currency.is_none_or(|c| r.payout.currency_code == c))
            .collect())
    }

    fn summary(&self, query: &Query) -> Result<Response, Response> {
        let start = date(query.required("start_date")?)?;
        let end = date(query.required("end_date")?)?;
        let records = self.in_range(query, true)?;
        let mut per_currency: BTreeMap<&str, Vec<&Totals>> = BTreeMap::new();
        for record in &records {
            per_currency
                .entry(&record.payout.currency_code)
                .or_default()
                .push(&record.payout.totals);
        }
        let summaries: Vec<PayoutSummary> = per_currency
            .into_iter()
            .map(|(currency, totals)| {
                let sum = |f: fn(&Totals) -> i64| totals.iter().map(|t| f(t)).sum::<i64>();
                PayoutSummary {
                    summary_total_fee_correction_amount: sum(|t| {
                        t.fee_correction_amount.unwrap_or(0)
                    }),
                    summary_payout_date_start: start.clone(),
                    summary_total_release_amount: sum(|t| t.release_amount),
                    summary_settlement_currency: currency.to_owned(),
                    summary_payout_date_end: end.clone(),
                    summary_total_tax_amount: sum(|t| t.tax_amount.unwrap_or(0)),
                    summary_total_settlement_amount: sum(|t| t.settlement_amount),
                    summary_total_holdback_amount: sum(|t| t.holdback_amount),
                    summary_total_reversal_amount: sum(|t| t.reversal_amount),
                    summary_total_return_amount: sum(|t| t.return_amount),
                    summary_total_fee_amount: sum(|t| t.fee_amount),
                    summary_total_commission_amount: sum(|t| t.commission_amount),
                    summary_total_sale_amount: sum(|t| t.sale_amount),
                    summary_total_repay_amount: sum(|t| t.repay_amount),
                }
            })
            .collect();
        json(200, &summaries)
    }

    fn list_payouts(&self, query: &Query, base_url: &str) -> Result<Response, Response> {
        let records = self.in_range(query, false)?;
        let (offset, size) = query.page()?;
        let payouts: Vec<Payout> = records
            .iter()
            .skip(to_usize(offset))
            .take(to_usize(size))
            .map(|r| r.payout.clone())
            .collect();
        let pagination = pagination(
            query,
            base_url,
            "payouts",
            offset,
            size,
            payouts.len(),
            records.len(),
        );
        json(200, &PayoutCollection::new(payouts, pagination))
    }

    fn list_transactions(&self, query: &Query, base_url: &str) -> Result<Response, Response> {
        let reference = query.get("payment_reference");
        let order_id = query.get("order_id");
        let (offset, size) = query.page()?;
        let matching: Vec<&Transaction> = self
            .transactions
            .iter()
            .filter(|t| reference.is_none_or(|r| t.payment_reference.as_deref() == Some(r)))
            .filter(|t| order_id.is_none_or(|o| t.order_id == o))
            .collect();
        let page: Vec<Transaction> = matching
            .iter()
            .skip(to_usize(offset))
            .take(to_usize(size))
            .map(|t| (*t).clone())
            .collect();
        let pagination = pagination(
            query,
            base_url,
            "transactions",
            offset,
            size,
            page.len(),
            matching.len(),
        );
        json(200, &TransactionCollection::new(page, pagination))
    }

    /// The CSV report of these payouts: a header of [`CSV_COLUMNS`], then a
    /// row per transaction.
    fn csv(&self, records: &[&PayoutRecord]) -> Vec<u8> {
        let mut out = CSV_COLUMNS.join(",");
        out.push_str("\r\n");
        for record in records {
            for &index in &record.transactions {
                let t = &self.transactions[index];
                let text = |value: &Option<String>| value.clone().unwrap_or_default();
                let row = [
                    record.payout.payment_reference.clone(),
                    record.payout.payout_date.clone(),
                    t.r#type.as_str().to_owned(),
                    t.detailed_type
                        .as_ref()
                        .map(|d| d.as_str().to_owned())
                        .unwrap_or_default(),
                    t.amount.to_string(),
                    t.currency_code.clone(),
                    t.order_id.clone(),
                    text(&t.short_order_id),
                    text(&t.capture_id),
                    text(&t.refund_id),
                    text(&t.merchant_reference1),
                    text(&t.merchant_reference2),
                    t.capture_date.clone(),
                    t.sale_date.clone(),
                ];
                let row: Vec<String> = row.iter().map(|field| csv_field(field)).collect();
                out.push_str(&row.join(","));
                out.push_str("\r\n");
            }
        }
        out.into_bytes()
    }

    /// The PDF report's lines: per payout its reference, date and totals.
    fn pdf_lines(&self, records: &[&PayoutRecord]) -> Vec<String> {
        let mut lines = vec!["Klarna sandbox settlement report".to_owned()];
        for record in records {
            let p = &record.payout;
            let t = &p.totals;
            lines.push(format!(
                "Payout {} on {} ({})",
                p.payment_reference, p.payout_date, p.currency_code
            ));
            lines.push(format!(
                "sales {} - returns {} - fees {} - repaid {} + deposit {} = paid out {}",
                t.sale_amount,
                t.return_amount,
                t.fee_amount,
                t.repay_amount,
                t.deposit_amount,
                t.settlement_amount
            ));
            lines.push(format!("{} transactions", record.transactions.len()));
        }
        lines
    }
}

/// The sandbox's fee on a capture of `amount` minor units.
pub(crate) fn fee(amount: i64) -> i64 {
    amount.saturating_mul(FEE_BASIS_POINTS) / 10_000
}

fn no_payout() -> Response {
    error(404, "NOT_FOUND", "No payout has this payment reference.")
}

fn to_usize(value: i64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// The pagination of a page of `count` items out of `total`, with links
/// that repeat the query's filters.
fn pagination(
    query: &Query,
    base_url: &str,
    collection: &str,
    offset: i64,
    size: i64,
    count: usize,
    total: usize,
) -> Pagination {
    let link = |offset: i64| {
        let mut pairs: Vec<String> = query
            .pairs
            .iter()
            .filter(|(k, _)| k != "offset" && k != "size")
            .map(|(k, v)| format!("{}={}", encode_segment(k), encode_segment(v)))
            .collect();
        pairs.push(format!("offset={offset}"));
        pairs.push(format!("size={size}"));
        format!("{base_url}{PREFIX}{collection}?{}", pairs.join("&"))
    };
    let after = offset.saturating_add(count as i64);
    Pagination {
        total: Some(total as i64),
        offset: Some(offset),
        next: (after < total as i64).then(|| link(after)),
        prev: (offset > 0).then(|| link((offset - size).max(0))),
        ..Pagination::new(count as i64)
    }
}

/// A date-time filter, a bare date meaning its midnight UTC, as RFC 3339
/// text that compares with the payouts' dates.
fn date(value: &str) -> Result<String, Response> {
    let bytes = value.as_bytes();
    let is_date = bytes.len() >= 10
        && bytes[..10].iter().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !is_date {
        return Err(error(
            400,
            "BAD_VALUE",
            format!("`{value}` is not an ISO 8601 date or date-time."),
        ));
    }
    Ok(if value.len() == 10 {
        format!("{value}T00:00:00Z")
    } else {
        value.to_owned()
    })
}

/// The decoded query parameters.
struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    fn parse(query: &str) -> Result<Query, Response> {
        let mut pairs = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |text: &str| decode_segment(&text.replace('+', " "));
            match (decode(key), decode(value)) {
                (Some(key), Some(value)) => pairs.push((key, value)),
                _ => {
                    return Err(error(
                        400,
                        "BAD_VALUE",
                        "The query is not validly percent-encoded.",
                    ))
                }
            }
        }
        Ok(Query { pairs })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &str) -> Result<&str, Response> {
        self.get(name).ok_or_else(|| {
            error(
                400,
                "BAD_VALUE",
                format!("The query parameter `{name}` is required."),
            )
        })
    }

    /// `offset` (default 0) and `size` (default 20, 1 to 500).
    fn page(&self) -> Result<(i64, i64), Response> {
        let number = |name: &str, default: i64| match self.get(name) {
            None => Ok(default),
            Some(text) => text
                .parse::<i64>()
                .map_err(|_| error(400, "BAD_VALUE", format!("`{name}` must be an integer."))),
        };
        let offset = number("offset", 0)?;
        let size = number("size", DEFAULT_PAGE_SIZE)?;
        if offset < 0 || !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(error(
                400,
                "BAD_VALUE",
                "offset must be at least 0 and size between 1 and 500.",
            ));
        }
        Ok((offset, size))
    }
}

fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Result<Response, Response> {
    serde_json::to_vec(value)
        .map(|body| Response::json(status, body))
        .map_err(|e| error(500, "INTERNAL_ERROR", e.to_string()))
}

fn csv(body: Vec<u8>) -> Response {
    Response {
        status: 200,
        headers: vec![("Content-Type", "text/csv; charset=utf-8".to_owned())],
        body,
    }
}

/// A field quoted when it holds a comma, quote or line break (RFC 4180).
fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

fn pdf(lines: &[String]) -> Response {
    Response {
        status: 200,
        headers: vec![("Content-Type", "application/pdf".to_owned())],
        body: pdf_document(lines),
    }
}

/// A one-page PDF 1.4 document showing `lines` in Helvetica: the smallest
/// file readers accept, with a correct cross-reference table.
pub(crate) fn pdf_document(lines: &[String]) -> Vec<u8> {
    let escape = |text: &str| {
        text.chars()
            .filter(|c| c.is_ascii() && !c.is_ascii_control())
            .map(|c| match c {
                '(' | ')' | '\\' => format!("\\{c}"),
                c => c.to_string(),
            })
            .collect::<String>()
    };
    let mut content = String::from("BT /F1 11 Tf 50 790 Td 14 TL\n");
    for line in lines.iter().take(50) {
        content.push_str(&format!("({}) Tj T*\n", escape(line)));
    }
    content.push_str("ET\n");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{content}endstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pdf_has_a_correct_cross_reference_table() {
        let pdf = pdf_document(&["Payout (SBX1)".to_owned()]);
        let text = String::from_utf8(pdf.clone()).unwrap();
        assert!(text.starts_with("%PDF-1.4\n"));
        assert!(text.ends_with("%%EOF\n"));
        let startxref: usize = text
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(text[startxref..].starts_with("xref\n0 6\n"));
        // Each entry points at its object.
        for (n, line) in text[startxref..].lines().skip(3).take(5).enumerate() {
            let offset: usize = line[..10].parse().unwrap();
            assert!(
                text[offset..].starts_with(&format!("{} 0 obj", n + 1)),
                "{line}"
            );
        }
        assert!(text.contains("(Payout \\(SBX1\\)) Tj"));
    }

    #[test]
    fn fees_round_down() {
        assert_eq!(fee(10_000), 150);
        assert_eq!(fee(9_999), 149);
        assert_eq!(fee(0), 0);
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
