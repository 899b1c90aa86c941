//! The global Payment API: payment requests and their confirmation, the
//! payment transactions that confirming creates, and the captures, refunds,
//! voids and chargebacks of those transactions.
//!
//! Like the Order Management part, requests are decoded into, and answers
//! built from, the generated `klarna_models::payment_api` types. Every
//! resource belongs to the partner account whose `Klarna-Partner-Account`
//! header created its payment request, and is invisible (404) to others.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use klarna_models::payment_api::{
    AcquiringChannel, ApplicableRate, ApplicableRateUnit, CaptureRequest, ChargebackReason,
    ErrorResponse, ErrorType, EvaluationParameters, LineItem, MonetaryAmount, PaymentCapture,
    PaymentChargeback, PaymentConfirmation, PaymentPricing, PaymentRefund, PaymentRequest,
    PaymentRequestData, PaymentRequestState, PaymentRequestStateContext, PaymentTransaction,
    PaymentTransactionState, PaymentTransactionStateReason, PaymentTransactionUpdate, Rate,
    RefundRequest, Shipping, ValidationError, VariableFee,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api_key::{self, KeyedReplays};
use crate::http::{Request, Response};
use crate::notifications::StateChange;
use crate::util::{now, path_segments, rfc3339, uuid_v4, BadPath, Replays, DAY};

/// The region part of the identifiers handed out, as in the page's examples.
const REGION: &str = "eu1";
/// How long a payment request lives, and how long it stays in one state.
/// Neither is enforced: the sandbox only reports them.
const REQUEST_LIFETIME: i64 = DAY;
const STATE_LIFETIME: i64 = 3 * 60 * 60;
/// How long a transaction's authorization lasts (the page's examples show
/// 28 days between `created_at` and `expires_at`).
const AUTHORIZATION_PERIOD: i64 = 28 * DAY;
/// Bounds on what the stand-in accumulates, so a runaway test cannot grow
/// it without limit.
const MAX_PAYMENT_REQUESTS: usize = 100_000;
const MAX_CONFIRMATION_TOKENS: usize = 100_000;
const MAX_CAPTURES: usize = 1000;
const MAX_REFUNDS: usize = 1000;
const MAX_CHARGEBACKS: usize = 1000;
/// The pricing every transaction gets: the page's example rate (a fixed fee
/// of 100 minor units and a variable part of 1 200 000, whose unit the page
/// does not give). Klarna's real price depends on the merchant's plan.
const FIXED_FEE: i64 = 100;
const VARIABLE_FEE: i64 = 1_200_000;
const VARIABLE_FEE_PERCENTAGE: i64 = 120;

/// The resource a Payment API path names, as sent: the id after
/// `requests/`, `confirmation-tokens/`, `transactions/` or `captures/`, or
/// `""` for the creation of a payment request.
fn resource_of(path: &str) -> &str {
    let mut segments = path.split('/');
    while let Some(segment) = segments.next() {
        if matches!(
            segment,
            "requests"
                | "confirmation-tokens"
                | "transactions"
                | "captures"
                | "refunds"
                | "chargebacks"
        ) {
            return segments.next().unwrap_or_default();
        }
    }
    ""
}

/// Where the Payment API's paths begin.
pub(crate) const PREFIX: &str = "/v1/";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RequestState {
    Submitted,
    PendingConfirmation,
    Authorized,
}

struct RequestRecord {
    id: String,
    account: String,
    data: PaymentRequestData,
    state: RequestState,
    created_at: i64,
    updated_at: i64,
    state_since: i64,
    transaction_id: Option<String>,
}

impl RequestRecord {
    fn render(&self) -> PaymentRequest {
        let expires_at = self.created_at.saturating_add(REQUEST_LIFETIME);
        let state_context =
            self.transaction_id
                .as_ref()
                .map(|transaction_id| PaymentRequestStateContext {
                    payment_transaction_id: Some(transaction_id.clone().into()),
                    payment_pricing: Some(PaymentPricing {
                        rate: Some(rate()),
                        ..PaymentPricing::default()
                    }),
                });
        PaymentRequest {
            payment_request_id: self.id.clone().into(),
            state: match self.state {
                RequestState::Submitted => PaymentRequestState::Submitted,
                RequestState::PendingConfirmation => PaymentRequestState::PendingConfirmation,
                RequestState::Authorized => PaymentRequestState::Authorized,
            },
            state_context,
            state_expires_at: Some(rfc3339(
                self.state_since
                    .saturating_add(STATE_LIFETIME)
                    .min(expires_at),
            )),
            expires_at: Some(rfc3339(expires_at)),
            created_at: Some(rfc3339(self.created_at)),
            updated_at: Some(rfc3339(self.updated_at)),
            payment_request: Some(self.data.clone()),
        }
    }
}

/// What became of a payment confirmation token.
enum TokenState {
    /// The buyer approved; the merchant has not answered yet.
    Pending,
    /// Confirmed: the answer, which every later confirm gets again.
    Confirmed(Response),
    /// The merchant declined it; the payment request went back to SUBMITTED.
    Cancelled,
}

struct Token {
    request_id: String,
    state: TokenState,
}

struct Transaction {
    id: String,
    account: String,
    currency: String,
    authorized: i64,
    line_items: Option<Vec<LineItem>>,
    shipping: Option<Vec<Shipping>>,
    merchant_reference: Option<String>,
    reference: Option<String>,
    captures: Vec<PaymentCapture>,
    refunds: Vec<PaymentRefund>,
    chargebacks: Vec<PaymentChargeback>,
    voided: bool,
    created_at: i64,
    updated_at: Option<i64>,
}

impl Transaction {
    fn captured(&self) -> i64 {
        self.captures
            .iter()
            .fold(0, |sum, c| sum.saturating_add(c.capture_amount))
    }

    /// What can still be given back: captured, less what was refunded or
    /// taken back by a chargeback.
    fn refundable(&self) -> i64 {
        let refunded = self
            .refunds
            .iter()
            .fold(0i64, |sum, r| sum.saturating_add(r.refund_amount));
        let charged_back = self
            .chargebacks
            .iter()
            .fold(0i64, |sum, c| sum.saturating_add(c.chargeback_amount));
        self.captured()
            .saturating_sub(refunded)
            .saturating_sub(charged_back)
            .max(0)
    }

    fn remaining(&self) -> i64 {
        if self.voided {
            return 0;
        }
        self.authorized.saturating_sub(self.captured()).max(0)
    }

    fn state(&self) -> PaymentTransactionState {
        if self.remaining() > 0 {
            PaymentTransactionState::Authorized
        } else {
            PaymentTransactionState::Completed
        }
    }

    fn render(&self) -> PaymentTransaction {
        let state = self.state();
        let completed = state == PaymentTransactionState::Completed;
        PaymentTransaction {
            payment_transaction_id: self.id.clone().into(),
            currency: Some(self.currency.clone()),
            payment_amount: Some(self.authorized),
            acquiring_channel: Some(AcquiringChannel::Ecommerce),
            merchant_reference: self.merchant_reference.clone(),
            payment_transaction_reference: self.reference.clone(),
            line_items: self.line_items.clone(),
            shipping: self.shipping.clone(),
            captures: Some(self.captures.clone()),
            refunds: Some(self.refunds.clone()),
            chargebacks: Some(self.chargebacks.clone()),
            state_reason: if self.voided {
                Some(PaymentTransactionStateReason::Voided)
            } else if completed {
                // Fully captured: the page shows no reason for it.
                None
            } else {
                Some(PaymentTransactionStateReason::Authorized)
            },
            state,
            previous_state: completed.then_some(PaymentTransactionState::Authorized),
            created_at: Some(rfc3339(self.created_at)),
            updated_at: self.updated_at.map(rfc3339),
            expires_at: Some(rfc3339(
                self.created_at.saturating_add(AUTHORIZATION_PERIOD),
            )),
            original_authorization_amount: Some(self.authorized),
            remaining_authorization_amount: Some(self.remaining()),
            payment_pricing: Some(pricing(&self.currency, self.created_at)),
        }
    }

    fn capture(&self, capture_id: &str) -> Option<&PaymentCapture> {
        self.captures
            .iter()
            .find(|c| c.payment_capture_id == capture_id)
    }
}

fn rate() -> Rate {
    Rate {
        fixed: Some(FIXED_FEE),
        variable: Some(VARIABLE_FEE),
    }
}

fn pricing(currency: &str, at: i64) -> PaymentPricing {
    PaymentPricing {
        rate: Some(rate()),
        applicable_rate: Some(ApplicableRate {
            fixed: Some(MonetaryAmount {
                amount: Some(FIXED_FEE),
                currency: Some(currency.to_owned()),
            }),
            variable_fee: Some(VariableFee {
                percentage: Some(VARIABLE_FEE_PERCENTAGE),
            }),
            unit: Some(ApplicableRateUnit::Capture),
        }),
        evaluation_parameters: Some(EvaluationParameters {
            channel: Some(AcquiringChannel::Ecommerce),
            evaluated_at: Some(rfc3339(at)),
            ..EvaluationParameters::default()
        }),
        details: None,
    }
}

/// Everything the Payment API part remembers.
pub(crate) struct Payments {
    requests: BTreeMap<String, RequestRecord>,
    tokens: HashMap<String, Token>,
    transactions: BTreeMap<String, Transaction>,
    /// Which transaction each capture, refund and chargeback id belongs to.
    capture_owner: HashMap<String, String>,
    refund_owner: HashMap<String, String>,
    chargeback_owner: HashMap<String, String>,
    /// Kept per resource the path names (a payment request, confirmation
    /// token, transaction or capture), or none for a creation.
    idempotent: KeyedReplays,
    /// State changes not yet turned into webhook events.
    pub(crate) state_changes: Vec<StateChange>,
}

impl Payments {
    /// Nothing created yet; idempotency keys kept for `retention`, at most
    /// `keys_per_resource` per resource.
    pub(crate) fn new(retention: Duration, keys_per_resource: usize) -> Self {
        Payments {
            requests: BTreeMap::new(),
            tokens: HashMap::new(),
            transactions: BTreeMap::new(),
            capture_owner: HashMap::new(),
            refund_owner: HashMap::new(),
            chargeback_owner: HashMap::new(),
            idempotent: Replays::new(retention, keys_per_resource),
            state_changes: Vec::new(),
        }
    }

    /// The buyer's step: approves a SUBMITTED payment request in Klarna's
    /// purchase flow, which makes it PENDING_CONFIRMATION, and returns the
    /// payment confirmation token the flow hands to the merchant.
    pub(crate) fn authorize(&mut self, payment_request_id: &str) -> Option<String> {
        if self.tokens.len() >= MAX_CONFIRMATION_TOKENS {
            return None;
        }
        let record = self.requests.get_mut(payment_request_id)?;
        if record.state != RequestState::Submitted {
            return None;
        }
        let at = now();
        record.state = RequestState::PendingConfirmation;
        record.state_since = at;
        record.updated_at = at;
        let change = StateChange::new(
            &record.account,
            &record.render(),
            Some(PaymentRequestState::Submitted),
        );
        self.state_changes.push(change);
        let token = uuid_v4();
        self.tokens.insert(
            token.clone(),
            Token {
                request_id: payment_request_id.to_owned(),
                state: TokenState::Pending,
            },
        );
        Some(token)
    }

    pub(crate) fn payment_request(&self, payment_request_id: &str) -> Option<PaymentRequest> {
        self.requests
            .get(payment_request_id)
            .map(RequestRecord::render)
    }

    pub(crate) fn transaction(&self, payment_transaction_id: &str) -> Option<PaymentTransaction> {
        self.transactions
            .get(payment_transaction_id)
            .map(Transaction::render)
    }

    /// Books a chargeback after a dispute the merchant lost; `None` when
    /// there is no such transaction or the amount is not between 1 and what
    /// is captured and not yet given back.
    pub(crate) fn add_chargeback(
        &mut self,
        payment_transaction_id: &str,
        amount: i64,
        line_items: Vec<LineItem>,
    ) -> Option<String> {
        let transaction = self.transactions.get_mut(payment_transaction_id)?;
        if amount <= 0
            || amount > transaction.refundable()
            || transaction.chargebacks.len() >= MAX_CHARGEBACKS
        {
            return None;
        }
        let number = transaction.chargebacks.len() + 1;
        let chargeback_id = format!("{payment_transaction_id}:chargeback:{number}");
        transaction.chargebacks.push(PaymentChargeback {
            payment_chargeback_id: chargeback_id.clone().into(),
            payment_dispute_id: Some(format!("{payment_transaction_id}:dispute:{number}")),
            chargeback_amount: amount,
            chargeback_reason: Some(ChargebackReason::DisputeMerchantLoss),
            chargeback_at: Some(rfc3339(now())),
            line_items: (!line_items.is_empty()).then_some(line_items),
        });
        transaction.updated_at = Some(now());
        self.chargeback_owner
            .insert(chargeback_id.clone(), payment_transaction_id.to_owned());
        Some(chargeback_id)
    }

    /// Answers one well-formed Payment API request: checks the credentials,
    /// then replays the first answer to a repeated idempotency key.
    pub(crate) fn handle(&mut self, request: &Request) -> Response {
        let now = Instant::now();
        let resource = resource_of(&request.path);
        let (account, slot) =
            match api_key::admit(&mut self.idempotent, request, resource, now, |s, c, m| {
                error(s, c, m)
            }) {
                Ok(admitted) => admitted,
                Err(answer) => return answer,
            };
        let response = self.route(request, &account);
        api_key::keep(&mut self.idempotent, slot, &response, now);
        response
    }

    fn route(&mut self, request: &Request, account: &str) -> Response {
        let Some(rest) = request.path.strip_prefix(PREFIX) else {
            return no_route();
        };
        // No operation's path has more than seven segments after `/v1/`.
        let segments = match path_segments(rest, 7) {
            Ok(segments) => segments,
            Err(BadPath::NoRoute) => return no_route(),
            Err(BadPath::Encoding) => {
                return invalid("path", "The path is not valid percent-encoding.")
            }
        };
        let method = request.method.as_str();
        let body = &request.body;
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        // Resources below /v1/accounts/{account_id} are only found by the
        // account that owns them, named both in the path and the header.
        if let ["accounts", path_account, ..] = s.as_slice() {
            if *path_account != account {
                return error(
                    404,
                    "RESOURCE_NOT_FOUND",
                    format!(
                        "Account {path_account} is not the partner account of this call ({account})."
                    ),
                );
            }
        }
        let allowed: &str = match s.as_slice() {
            ["payment", "requests"] => match method {
                "POST" => return self.create_request(account, body),
                _ => "POST",
            },
            ["payment", "requests", id] => match method {
                "GET" => return self.read_request(account, id),
                "PATCH" => return self.update_request(account, id, body),
                _ => "GET, PATCH",
            },
            ["payment", "confirmation-tokens", token, "confirm"] => match method {
                "POST" => return self.confirm(account, token, body),
                _ => "POST",
            },
            ["payment", "confirmation-tokens", token] => match method {
                "DELETE" => return self.cancel_confirmation(account, token),
                _ => "DELETE",
            },
            ["accounts", _, "payment", "transactions", id] => match method {
                "GET" => return self.read_transaction(account, id),
                "PATCH" => return self.update_transaction(account, id, body),
                _ => "GET, PATCH",
            },
            ["accounts", _, "payment", "transactions", id, "captures"] => match method {
                "POST" => return self.capture(account, id, body),
                _ => "POST",
            },
            ["accounts", _, "payment", "transactions", id, "refunds"] => match method {
                "POST" => return self.refund_transaction(account, id, body),
                _ => "POST",
            },
            ["accounts", _, "payment", "transactions", id, "void"] => match method {
                "POST" => return self.void(account, id),
                _ => "POST",
            },
            ["accounts", _, "payment", "captures", id] => match method {
                "GET" => return self.read_capture(account, id),
                _ => "GET",
            },
            ["accounts", _, "payment", "captures", id, "refunds"] => match method {
                "POST" => return self.refund_capture(account, id, body),
                _ => "POST",
            },
            ["accounts", _, "payment", "refunds", id] => match method {
                "GET" => return self.read_refund(account, id),
                _ => "GET",
            },
            ["accounts", _, "payment", "chargebacks", id] => match method {
                "GET" => return self.read_chargeback(account, id),
                _ => "GET",
            },
            _ => return no_route(),
        };
        let mut response = error(
            405,
            "METHOD_NOT_ALLOWED",
            format!("{method} is not allowed here."),
        );
        response.headers.push(("Allow", allowed.to_owned()));
        response
    }

    fn request_mut(&mut self, account: &str, id: &str) -> Result<&mut RequestRecord, Response> {
        self.requests
            .get_mut(id)
            .filter(|record| record.account == account)
            .ok_or_else(|| not_found("request", id))
    }

    fn create_request(&mut self, account: &str, body: &[u8]) -> Response {
        let data: PaymentRequestData = match decode(body) {
            Ok(data) => data,
            Err(response) => return response,
        };
        if let Err(response) = check_purchase(&data) {
            return response;
        }
        if self.requests.len() >= MAX_PAYMENT_REQUESTS {
            return error(
                429,
                "RATE_LIMITED",
                "The sandbox keeps at most 100 000 payment requests.",
            );
        }
        let at = now();
        let id = format!("krn:payment:{REGION}:request:{}", uuid_v4());
        let record = RequestRecord {
            id: id.clone(),
            account: account.to_owned(),
            data,
            state: RequestState::Submitted,
            created_at: at,
            updated_at: at,
            state_since: at,
            transaction_id: None,
        };
        let response = json(201, &record.render());
        let change = StateChange::new(account, &record.render(), None);
        self.state_changes.push(change);
        self.requests.insert(id, record);
        response
    }

    fn read_request(&mut self, account: &str, id: &str) -> Response {
        match self.request_mut(account, id) {
            Ok(record) => json(200, &record.render()),
            Err(response) => response,
        }
    }

    /// The body replaces the purchase details; only while SUBMITTED, since
    /// after that the buyer has approved what the request says.
    fn update_request(&mut self, account: &str, id: &str, body: &[u8]) -> Response {
        let record = match self.request_mut(account, id) {
            Ok(record) => record,
            Err(response) => return response,
        };
        let data: PaymentRequestData = match decode(body) {
            Ok(data) => data,
            Err(response) => return response,
        };
        if let Err(response) = check_purchase(&data) {
            return response;
        }
        if record.state != RequestState::Submitted {
            return error(
                409,
                "CONFLICT",
                format!(
                    "The payment request is {}; only a SUBMITTED one can be updated.",
                    record.render().state.as_str()
                ),
            );
        }
        record.data = data;
        record.updated_at = now();
        json(200, &record.render())
    }

    fn token(&self, account: &str, token: &str) -> Result<&Token, Response> {
        self.tokens
            .get(token)
            .filter(|t| {
                self.requests
                    .get(&t.request_id)
                    .is_some_and(|r| r.account == account)
            })
            .ok_or_else(|| {
                error(
                    404,
                    "RESOURCE_NOT_FOUND",
                    "No payment confirmation token like this one.",
                )
            })
    }

    /// Authorizes the payment request behind a pending token and creates
    /// its transaction. A confirmed token gets its first answer again, as
    /// the page promises; a cancelled one is a conflict.
    fn confirm(&mut self, account: &str, token: &str, body: &[u8]) -> Response {
        let request_id = match self.token(account, token) {
            Ok(Token {
                state: TokenState::Confirmed(response),
                ..
            }) => return response.clone(),
            Ok(Token {
                state: TokenState::Cancelled,
                ..
            }) => {
                return error(
                    409,
                    "CONFLICT",
                    "This confirmation was cancelled and the payment request went back to \
                     SUBMITTED; the buyer has to approve it again.",
                )
            }
            Ok(Token {
                state: TokenState::Pending,
                request_id,
            }) => request_id.clone(),
            Err(response) => return response,
        };
        let confirmation: PaymentConfirmation = match decode(body) {
            Ok(confirmation) => confirmation,
            Err(response) => return response,
        };
        let Some(record) = self.requests.get_mut(&request_id) else {
            return error(
                404,
                "RESOURCE_NOT_FOUND",
                "The payment request of this token is gone.",
            );
        };
        if record.state != RequestState::PendingConfirmation {
            return error(
                409,
                "CONFLICT",
                "The payment request is not pending confirmation.",
            );
        }
        if confirmation.currency != record.data.currency {
            return invalid(
                "currency",
                format!(
                    "The payment request is in {}, not {}.",
                    record.data.currency, confirmation.currency
                ),
            );
        }
        if confirmation.payment_amount != record.data.payment_amount {
            return invalid(
                "payment_amount",
                format!(
                    "The buyer approved {}, not {}.",
                    record.data.payment_amount, confirmation.payment_amount
                ),
            );
        }
        let at = now();
        let transaction_id = format!("krn:payment:{REGION}:transaction:{}", uuid_v4());
        let mut transaction = Transaction {
            id: transaction_id.clone(),
            account: record.account.clone(),
            currency: record.data.currency.clone(),
            authorized: record.data.payment_amount,
            line_items: record.data.line_items.clone(),
            shipping: record.data.shipping.clone(),
            merchant_reference: record.data.merchant_reference.clone(),
            reference: confirmation.payment_transaction_reference,
            captures: Vec::new(),
            refunds: Vec::new(),
            chargebacks: Vec::new(),
            voided: false,
            created_at: at,
            updated_at: None,
        };
        if confirmation.config.and_then(|c| c.capture) == Some(true) {
            let capture_id = format!("{transaction_id}:capture:1");
            transaction.captures.push(PaymentCapture {
                payment_capture_id: capture_id.clone().into(),
                capture_amount: transaction.authorized,
                capture_reference: None,
                captured_at: Some(rfc3339(at)),
                line_items: transaction.line_items.clone(),
                shipments: None,
            });
            self.capture_owner
                .insert(capture_id, transaction_id.clone());
        }
        record.state = RequestState::Authorized;
        record.state_since = at;
        record.updated_at = at;
        record.transaction_id = Some(transaction_id.clone());
        let response = json(200, &record.render());
        let change = StateChange::new(
            account,
            &record.render(),
            Some(PaymentRequestState::PendingConfirmation),
        );
        self.state_changes.push(change);
        self.transactions.insert(transaction_id, transaction);
        if let Some(t) = self.tokens.get_mut(token) {
            t.state = TokenState::Confirmed(response.clone());
        }
        response
    }

    /// Declines a pending confirmation: the payment request goes back to
    /// SUBMITTED. Repeating it changes nothing and answers the same way; a
    /// confirmed token has no pending confirmation to cancel.
    fn cancel_confirmation(&mut self, account: &str, token: &str) -> Response {
        let (request_id, pending) = match self.token(account, token) {
            Ok(Token {
                state: TokenState::Confirmed(_),
                ..
            }) => {
                return error(
                    404,
                    "RESOURCE_NOT_FOUND",
                    "No confirmation is pending for this token: the payment request is \
                     already AUTHORIZED.",
                )
            }
            Ok(t) => (t.request_id.clone(), matches!(t.state, TokenState::Pending)),
            Err(response) => return response,
        };
        let Some(record) = self.requests.get_mut(&request_id) else {
            return error(
                404,
                "RESOURCE_NOT_FOUND",
                "The payment request of this token is gone.",
            );
        };
        if pending {
            let at = now();
            record.state = RequestState::Submitted;
            record.state_since = at;
            record.updated_at = at;
            let change = StateChange::new(
                account,
                &record.render(),
                Some(PaymentRequestState::PendingConfirmation),
            );
            self.state_changes.push(change);
            if let Some(t) = self.tokens.get_mut(token) {
                t.state = TokenState::Cancelled;
            }
        }
        json(200, &record.render())
    }

    fn transaction_mut(&mut self, account: &str, id: &str) -> Result<&mut Transaction, Response> {
        self.transactions
            .get_mut(id)
            .filter(|t| t.account == account)
            .ok_or_else(|| not_found("transaction", id))
    }

    fn read_transaction(&mut self, account: &str, id: &str) -> Response {
        match self.transaction_mut(account, id) {
            Ok(transaction) => json(200, &transaction.render()),
            Err(response) => response,
        }
    }

    /// Overwrites the references sent, in any state.
    fn update_transaction(&mut self, account: &str, id: &str, body: &[u8]) -> Response {
        let transaction = match self.transaction_mut(account, id) {
            Ok(transaction) => transaction,
            Err(response) => return response,
        };
        let update: PaymentTransactionUpdate = match decode(body) {
            Ok(update) => update,
            Err(response) => return response,
        };
        if update.merchant_reference.is_some() {
            transaction.merchant_reference = update.merchant_reference;
        }
        if update.payment_transaction_reference.is_some() {
            transaction.reference = update.payment_transaction_reference;
        }
        transaction.updated_at = Some(now());
        json(200, &transaction.render())
    }

    /// At most what is left of the authorization; none once the transaction
    /// is voided or fully captured.
    fn capture(&mut self, account: &str, id: &str, body: &[u8]) -> Response {
        let transaction = match self.transaction_mut(account, id) {
            Ok(transaction) => transaction,
            Err(response) => return response,
        };
        let request: CaptureRequest = match decode(body) {
            Ok(request) => request,
            Err(response) => return response,
        };
        if request.capture_amount <= 0 {
            return invalid("capture_amount", "must be greater than 0");
        }
        if let Err(response) = check_lines(request.line_items.as_deref()) {
            return response;
        }
        if transaction.voided {
            return error(
                403,
                "CAPTURE_NOT_ALLOWED",
                "The payment transaction is voided; nothing is left to capture.",
            );
        }
        let remaining = transaction.remaining();
        if request.capture_amount > remaining {
            return error(
                403,
                "CAPTURE_NOT_ALLOWED",
                format!(
                    "Capture amount {} is higher than the remaining authorization amount {remaining}.",
                    request.capture_amount
                ),
            );
        }
        if transaction.captures.len() >= MAX_CAPTURES {
            return error(
                403,
                "CAPTURE_NOT_ALLOWED",
                "The sandbox keeps at most 1000 captures per transaction.",
            );
        }
        let at = now();
        let capture = PaymentCapture {
            payment_capture_id: format!("{id}:capture:{}", transaction.captures.len() + 1).into(),
            capture_amount: request.capture_amount,
            capture_reference: request.capture_reference,
            captured_at: Some(rfc3339(at)),
            line_items: request.line_items,
            shipments: request.shipments,
        };
        transaction.captures.push(capture.clone());
        transaction.updated_at = Some(at);
        self.capture_owner
            .insert(capture.payment_capture_id.to_string(), id.to_owned());
        json(201, &capture)
    }

    fn refund_transaction(&mut self, account: &str, id: &str, body: &[u8]) -> Response {
        let transaction = match self.transaction_mut(account, id) {
            Ok(transaction) => transaction,
            Err(response) => return response,
        };
        let request: RefundRequest = match decode(body) {
            Ok(request) => request,
            Err(response) => return response,
        };
        if let Err(response) = check_refund(transaction, &request, None) {
            return response;
        }
        let refund = book_refund(transaction, request, None);
        self.refund_owner
            .insert(refund.payment_refund_id.to_string(), id.to_owned());
        json(201, &refund)
    }

    /// Releases what is left of the authorization; the captures stand.
    fn void(&mut self, account: &str, id: &str) -> Response {
        let transaction = match self.transaction_mut(account, id) {
            Ok(transaction) => transaction,
            Err(response) => return response,
        };
        if transaction.voided {
            return error(
                403,
                "VOID_NOT_ALLOWED",
                "The payment transaction is already voided.",
            );
        }
        if transaction.remaining() == 0 {
            return error(
                403,
                "VOID_NOT_ALLOWED",
                "The payment transaction is fully captured; nothing is left to void.",
            );
        }
        transaction.voided = true;
        transaction.updated_at = Some(now());
        json(200, &transaction.render())
    }

    /// The transaction a capture, refund or chargeback id belongs to, if the
    /// caller's account owns it.
    fn owner(&self, owners: &HashMap<String, String>, account: &str, id: &str) -> Option<String> {
        owners
            .get(id)
            .filter(|t| {
                self.transactions
                    .get(*t)
                    .is_some_and(|t| t.account == account)
            })
            .cloned()
    }

    fn read_capture(&mut self, account: &str, id: &str) -> Response {
        self.owner(&self.capture_owner, account, id)
            .and_then(|t| self.transactions.get(&t)?.capture(id))
            .map_or_else(|| not_found("capture", id), |capture| json(200, capture))
    }

    /// At most what is left of this capture after its own refunds, and of
    /// the transaction as a whole.
    fn refund_capture(&mut self, account: &str, id: &str, body: &[u8]) -> Response {
        let Some(transaction_id) = self.owner(&self.capture_owner, account, id) else {
            return not_found("capture", id);
        };
        let Some(transaction) = self.transactions.get_mut(&transaction_id) else {
            return not_found("capture", id);
        };
        let request: RefundRequest = match decode(body) {
            Ok(request) => request,
            Err(response) => return response,
        };
        if let Err(response) = check_refund(transaction, &request, Some(id)) {
            return response;
        }
        let refund = book_refund(transaction, request, Some(id.to_owned()));
        self.refund_owner
            .insert(refund.payment_refund_id.to_string(), transaction_id);
        json(201, &refund)
    }

    fn read_refund(&mut self, account: &str, id: &str) -> Response {
        self.owner(&self.refund_owner, account, id)
            .and_then(|t| {
                self.transactions
                    .get(&t)?
                    .refunds
                    .iter()
                    .find(|r| r.payment_refund_id == id)
            })
            .map_or_else(|| not_found("refund", id), |refund| json(200, refund))
    }

    fn read_chargeback(&mut self, account: &str, id: &str) -> Response {
        self.owner(&self.chargeback_owner, account, id)
            .and_then(|t| {
                self.transactions
                    .get(&t)?
                    .chargebacks
                    .iter()
                    .find(|c| c.payment_chargeback_id == id)
            })
            .map_or_else(
                || not_found("chargeback", id),
                |chargeback| json(200, chargeback),
            )
    }
}

/// Refuses a refund above what the transaction (and, for a refund against a
/// capture, that capture) has left to give back.
fn check_refund(
    transaction: &Transaction,
    request: &RefundRequest,
    capture_id: Option<&str>,
) -> Result<(), Response> {
    if request.refund_amount <= 0 {
        return Err(invalid("refund_amount", "must be greater than 0"));
    }
    check_lines(request.line_items.as_deref())?;
    let refundable = transaction.refundable();
    if request.refund_amount > refundable {
        return Err(error(
            403,
            "REFUND_NOT_ALLOWED",
            format!(
                "Refund amount {} is higher than what is captured and not yet given back ({refundable}).",
                request.refund_amount
            ),
        ));
    }
    if let Some(capture_id) = capture_id {
        let captured = transaction
            .capture(capture_id)
            .map_or(0, |c| c.capture_amount);
        let refunded = transaction
            .refunds
            .iter()
            .filter(|r| r.payment_capture_id.as_deref() == Some(capture_id))
            .fold(0i64, |sum, r| sum.saturating_add(r.refund_amount));
        let left = captured.saturating_sub(refunded).max(0);
        if request.refund_amount > left {
            return Err(error(
                403,
                "REFUND_NOT_ALLOWED",
                format!(
                    "Refund amount {} is higher than what is left of this capture ({left}).",
                    request.refund_amount
                ),
            ));
        }
    }
    if transaction.refunds.len() >= MAX_REFUNDS {
        return Err(error(
            403,
            "REFUND_NOT_ALLOWED",
            "The sandbox keeps at most 1000 refunds per transaction.",
        ));
    }
    Ok(())
}

fn book_refund(
    transaction: &mut Transaction,
    request: RefundRequest,
    capture_id: Option<String>,
) -> PaymentRefund {
    let at = now();
    let refund = PaymentRefund {
        payment_refund_id: format!(
            "{}:refund:{}",
            transaction.id,
            transaction.refunds.len() + 1
        )
        .into(),
        payment_capture_id: capture_id.map(Into::into),
        refund_amount: request.refund_amount,
        refund_reference: request.refund_reference,
        refunded_at: Some(rfc3339(at)),
        line_items: request.line_items,
    };
    transaction.refunds.push(refund.clone());
    transaction.updated_at = Some(at);
    refund
}

/// A currency of three capital letters, a positive amount, sound lines.
fn check_purchase(data: &PaymentRequestData) -> Result<(), Response> {
    if data.currency.len() != 3 || !data.currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(invalid(
            "currency",
            "must be a three-letter ISO 4217 code such as EUR",
        ));
    }
    if data.payment_amount <= 0 {
        return Err(invalid("payment_amount", "must be greater than 0"));
    }
    check_lines(data.line_items.as_deref())
}

fn check_lines(lines: Option<&[LineItem]>) -> Result<(), Response> {
    for (i, line) in lines.unwrap_or_default().iter().enumerate() {
        if line.quantity < 1 {
            return Err(invalid(
                &format!("line_items[{i}].quantity"),
                "must be greater than or equal to 1",
            ));
        }
        if line.total_amount < 0 {
            return Err(invalid(
                &format!("line_items[{i}].total_amount"),
                "must not be negative",
            ));
        }
    }
    Ok(())
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| {
        error(
            400,
            "VALIDATION_ERROR",
            format!("The request body does not match the schema: {e}."),
        )
    })
}

fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => Response::json(status, body),
        Err(e) => error(500, "INTERNAL_SERVER_ERROR", e.to_string()),
    }
}

fn no_route() -> Response {
    error(404, "NOT_FOUND", "No Payment API operation has this path.")
}

fn not_found(what: &str, id: &str) -> Response {
    error(
        404,
        "RESOURCE_NOT_FOUND",
        format!("No payment {what} with id {id}."),
    )
}

/// A 400 naming the parameter that failed.
fn invalid(parameter: &str, reason: impl Into<String>) -> Response {
    let reason = reason.into();
    error_body(
        400,
        ErrorResponse {
            error_code: Some("VALIDATION_ERROR".to_owned()),
            error_message: Some(format!("{parameter}: {reason}")),
            validation_errors: Some(vec![ValidationError {
                parameter: Some(parameter.to_owned()),
                reason: Some(reason),
                doc_url: None,
            }]),
            ..ErrorResponse::default()
        },
    )
}

/// The Payment API's error body: a fresh `error_id`, the type that goes
/// with the status, a code and a message.
pub(crate) fn error(status: u16, code: &str, message: impl Into<String>) -> Response {
    error_body(
        status,
        ErrorResponse {
            error_code: Some(code.to_owned()),
            error_message: Some(message.into()),
            ..ErrorResponse::default()
        },
    )
}

fn error_body(status: u16, mut body: ErrorResponse) -> Response {
    body.error_id = Some(uuid_v4());
    body.error_type = Some(match status {
        401 => ErrorType::AccessError,
        400 | 405 | 408 | 413 | 431 => ErrorType::InputError,
        500.. => ErrorType::TechnicalError,
        _ => ErrorType::ResourceError,
    });
    // Serialising strings cannot fail; an empty body would still be an
    // answer with the right status.
    Response::json(status, serde_json::to_vec(&body).unwrap_or_default())
}
