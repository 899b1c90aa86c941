//! Every Klarna Payments v1 and Customer Token v1 operation through a real
//! socket: the request it sends (method, percent-encoded target,
//! credentials, headers, idempotency key, JSON body), the success it
//! decodes, and every error status the spec documents, plus undocumented
//! statuses, malformed bodies and a server that is not there.

use klarna_payments::models::{
    Address, AuthorizedPaymentMethodType, CreateOrderRequest,
    CustomerTokenAuthorizedPaymentMethodType, CustomerTokenCreationRequest,
    CustomerTokenCreationRequestIntendedUse, CustomerTokenOrder, CustomerTokenOrderLine,
    CustomerTokenOrderLineType, CustomerTokenOrderResponseFraudStatus, CustomerTokenStatus,
    CustomerTokenStatusUpdateRequest, CustomerTokenStatusUpdateRequestStatus,
    CustomerTokenSubscription, CustomerTokenSubscriptionInterval, MerchantUrls, OrderFraudStatus,
    OrderLine, OrderLineType, PaymentMethodCategoryIdentifier, Session, SessionCreate,
    SessionCreateAcquiringChannel, SessionCreateIntent, SessionReadAcquiringChannel,
    SessionReadIntent, SessionReadStatus,
};
use klarna_payments::{
    Authorizations, CancelAuthorizationError, Client, CreateCreditSessionError,
    CreateCustomerTokenError, CreateCustomerTokenOrderError, CreateOrderError, Credentials,
    CustomerTokens, ErrorKind, IdempotencyKey, ReadCreditSessionError, ReadCustomerTokenError,
    SessionId, Sessions, UpdateCreditSessionError, UpdateCustomerTokenStatusError,
};
use klarna_tests::client_support::{
    assert_accepts_json, assert_json_body, assert_no_body, assert_no_key, assert_uuid_v4,
    closed_port_url, error_body, error_message, Loopback, CORRELATION_ID, KEY_HEADER,
};
use klarna_tests::server::CannedResponse;
use serde_json::{json, Value};

const USERNAME: &str = "PN_merchant_1";
const PASSWORD: &str = "t0ps3cret!";

/// Ids that need percent-encoding, and their encoded paths.
const SESSION_ID: &str = "session/1 ä";
const SESSION: &str = "/payments/v1/sessions/session%2F1%20%C3%A4";
const AUTHORIZATION_TOKEN: &str = "auth token/ü+1";
const AUTHORIZATION_PATH: &str = "/payments/v1/authorizations/auth%20token%2F%C3%BC%2B1";
const CUSTOMER_TOKEN: &str = "token?id=1#ä";
const TOKEN: &str = "/customer-token/v1/tokens/token%3Fid%3D1%23%C3%A4";

fn session_id() -> SessionId {
    SessionId::new(SESSION_ID)
}

const LOOPBACK: Loopback<Client> = Loopback {
    client: Client::from_config,
    credentials: || Credentials::basic(USERNAME, PASSWORD),
    // `Basic base64("PN_merchant_1:t0ps3cret!")`, computed outside the SDK.
    authorization: "Basic UE5fbWVyY2hhbnRfMTp0MHBzM2NyZXQh",
    truncated_success: r#"{"session_id": "068df369", "client_token": "#,
};

// ---------------------------------------------------------------------------
// Realistic values, from Klarna's Payments and Customer Token guides
// ---------------------------------------------------------------------------

fn power_pack() -> OrderLine {
    OrderLine {
        image_url: Some("https://www.exampleobjects.com/logo.png".into()),
        product_url: Some("https://www.estore.com/products/f2a8d7e34".into()),
        quantity_unit: Some("pcs".into()),
        reference: Some("19-402".into()),
        tax_rate: Some(2500),
        total_discount_amount: Some(500),
        total_tax_amount: Some(1900),
        r#type: Some(OrderLineType::Physical),
        ..OrderLine::new("Battery Power Pack", 1, 9500, 10000)
    }
}

fn power_pack_json() -> Value {
    json!({
        "type": "physical",
        "reference": "19-402",
        "name": "Battery Power Pack",
        "quantity": 1,
        "quantity_unit": "pcs",
        "unit_price": 10000,
        "tax_rate": 2500,
        "total_amount": 9500,
        "total_discount_amount": 500,
        "total_tax_amount": 1900,
        "image_url": "https://www.exampleobjects.com/logo.png",
        "product_url": "https://www.estore.com/products/f2a8d7e34"
    })
}

fn adam() -> Address {
    Address {
        title: Some("Mr.".into()),
        given_name: Some("Adam".into()),
        family_name: Some("Andersson".into()),
        email: Some("test.sam@test.com".into()),
        phone: Some("+44795465131".into()),
        street_address: Some("33 Cavendish Square".into()),
        street_address2: Some("Floor 22 / Flat 2".into()),
        postal_code: Some("W1G 0PW".into()),
        city: Some("London".into()),
        country: Some("GB".into()),
        ..Address::default()
    }
}

fn adam_json() -> Value {
    json!({
        "title": "Mr.",
        "given_name": "Adam",
        "family_name": "Andersson",
        "email": "test.sam@test.com",
        "phone": "+44795465131",
        "street_address": "33 Cavendish Square",
        "street_address2": "Floor 22 / Flat 2",
        "postal_code": "W1G 0PW",
        "city": "London",
        "country": "GB"
    })
}

fn session_create() -> SessionCreate {
    SessionCreate {
        acquiring_channel: Some(SessionCreateAcquiringChannel::Ecommerce),
        billing_address: Some(adam()),
        intent: Some(SessionCreateIntent::Buy),
        locale: Some("en-GB".into()),
        merchant_reference1: Some("ON4711".into()),
        merchant_urls: Some(MerchantUrls {
            authorization: Some("https://www.example-url.com/authorization".into()),
            ..MerchantUrls::default()
        }),
        order_tax_amount: Some(1900),
        ..SessionCreate::new(9500, vec![power_pack()], "GB", "GBP")
    }
}

fn session_read_json() -> Value {
    json!({
        "acquiring_channel": "ECOMMERCE",
        "intent": "buy",
        "status": "incomplete",
        "client_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.ewogICJzZXNzaW9uX2lkIiA6ICIw",
        "expires_at": "2038-01-19T03:14:07.000Z",
        "locale": "en-GB",
        "purchase_country": "GB",
        "purchase_currency": "GBP",
        "order_amount": 9500,
        "order_tax_amount": 1900,
        "order_lines": [power_pack_json()],
        "merchant_reference1": "ON4711",
        "merchant_urls": { "authorization": "https://www.example-url.com/authorization" },
        "billing_address": adam_json(),
        "customer": { "date_of_birth": "1978-12-31", "gender": "male", "type": "person" },
        "payment_method_categories": [{
            "identifier": "klarna",
            "name": "Pay with Klarna",
            "asset_urls": {
                "descriptive": "https://x.klarnacdn.net/payment-method/assets/badges/generic/klarna.svg",
                "standard": "https://x.klarnacdn.net/payment-method/assets/badges/generic/klarna.svg"
            }
        }]
    })
}

fn create_order_request() -> CreateOrderRequest {
    CreateOrderRequest {
        auto_capture: Some(false),
        billing_address: Some(adam()),
        locale: Some("en-GB".into()),
        merchant_reference1: Some("ON4711".into()),
        merchant_reference2: Some("hdt53h-zdgg6-hdaff2".into()),
        merchant_urls: Some(MerchantUrls {
            confirmation: Some("https://www.example-url.com/confirmation".into()),
            notification: Some("https://www.example-url.com/notification".into()),
            push: Some("https://www.example-url.com/push".into()),
            ..MerchantUrls::default()
        }),
        order_tax_amount: Some(1900),
        shipping_address: Some(adam()),
        ..CreateOrderRequest::new(9500, vec![power_pack()], "GB", "GBP")
    }
}

fn token_request() -> CustomerTokenCreationRequest {
    CustomerTokenCreationRequest {
        billing_address: Some(adam()),
        ..CustomerTokenCreationRequest::new(
            "Monthly subscription to the Running Club magazine",
            CustomerTokenCreationRequestIntendedUse::Subscription,
            "en-GB",
            "GB",
            "GBP",
        )
    }
}

/// A monthly subscription order on a customer token: 12.00 with 20% VAT.
fn token_order() -> CustomerTokenOrder {
    let magazine = CustomerTokenOrderLine {
        reference: Some("RC-MONTHLY".into()),
        subscription: Some(CustomerTokenSubscription::new(
            CustomerTokenSubscriptionInterval::Month,
            1,
            "Running Club magazine",
        )),
        tax_rate: Some(2000),
        total_tax_amount: Some(200),
        r#type: Some(CustomerTokenOrderLineType::Digital),
        ..CustomerTokenOrderLine::new("Running Club magazine", 1, 1200, 1200)
    };
    CustomerTokenOrder {
        auto_capture: Some(true),
        merchant_reference1: Some("ON4711".into()),
        ..CustomerTokenOrder::new(1200, vec![magazine], 200, "GBP")
    }
}

fn token_order_json() -> Value {
    json!({
        "auto_capture": true,
        "merchant_reference1": "ON4711",
        "order_amount": 1200,
        "order_tax_amount": 200,
        "purchase_currency": "GBP",
        "order_lines": [{
            "type": "digital",
            "reference": "RC-MONTHLY",
            "name": "Running Club magazine",
            "quantity": 1,
            "unit_price": 1200,
            "tax_rate": 2000,
            "total_amount": 1200,
            "total_tax_amount": 200,
            "subscription": { "name": "Running Club magazine", "interval": "MONTH", "interval_count": 1 }
        }]
    })
}

fn cancel_token() -> CustomerTokenStatusUpdateRequest {
    CustomerTokenStatusUpdateRequest::new(CustomerTokenStatusUpdateRequestStatus::Cancelled)
}

// ---------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------

#[tokio::test]
async fn create_credit_session() {
    let created = json!({
        "session_id": "068df369-13a7-4d47-a564-62f8408bb760",
        "client_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.ewogICJzZXNzaW9uX2lkIiA6ICIw",
        "payment_method_categories": [{
            "identifier": "klarna",
            "name": "Pay with Klarna",
            "asset_urls": {
                "descriptive": "https://x.klarnacdn.net/payment-method/assets/badges/generic/klarna.svg",
                "standard": "https://x.klarnacdn.net/payment-method/assets/badges/generic/klarna.svg"
            }
        }]
    });
    let call = |c: Client| async move { c.create_credit_session(&session_create()).await };
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &created), call)
        .await;
    let session = result.unwrap();
    LOOPBACK.assert_request(&request, "POST", "/payments/v1/sessions");
    assert_accepts_json(&request);
    assert_no_key(&session, &request);
    assert_json_body(
        &request,
        json!({
            "acquiring_channel": "ECOMMERCE",
            "intent": "buy",
            "purchase_country": "GB",
            "purchase_currency": "GBP",
            "locale": "en-GB",
            "order_amount": 9500,
            "order_tax_amount": 1900,
            "order_lines": [power_pack_json()],
            "merchant_reference1": "ON4711",
            "merchant_urls": { "authorization": "https://www.example-url.com/authorization" },
            "billing_address": adam_json()
        }),
    );
    assert_eq!(session.status(), 200);
    assert_eq!(session.session_id, "068df369-13a7-4d47-a564-62f8408bb760");
    assert!(session.client_token.starts_with("eyJhbGciOiJIUzI1NiIs"));
    let categories = session.payment_method_categories.as_ref().unwrap();
    assert_eq!(
        categories[0].identifier,
        Some(PaymentMethodCategoryIdentifier::Klarna)
    );
    assert_eq!(categories[0].name.as_deref(), Some("Pay with Klarna"));

    let error = LOOPBACK.api_error(400, "BAD_VALUE", call).await;
    assert_eq!(
        error.api_body(),
        Some(&CreateCreditSessionError::BadRequest)
    );
    let error = LOOPBACK.api_error(403, "FORBIDDEN", call).await;
    assert_eq!(error.api_body(), Some(&CreateCreditSessionError::Forbidden));
}

#[tokio::test]
async fn read_credit_session() {
    let call = |c: Client| async move { c.read_credit_session(&session_id()).await };
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &session_read_json()), call)
        .await;
    let session = result.unwrap();
    LOOPBACK.assert_request(&request, "GET", SESSION);
    assert_accepts_json(&request);
    assert_no_body(&request);
    assert_no_key(&session, &request);
    assert_eq!(session.status(), 200);
    assert_eq!(session.status, Some(SessionReadStatus::Incomplete));
    assert_eq!(session.intent, Some(SessionReadIntent::Buy));
    assert_eq!(
        session.acquiring_channel,
        Some(SessionReadAcquiringChannel::Ecommerce)
    );
    assert_eq!(session.order_amount, Some(9500));
    assert_eq!(session.order_lines.as_deref(), Some(&[power_pack()][..]));
    assert_eq!(session.billing_address, Some(adam()));
    assert_eq!(
        session.customer.as_ref().unwrap().date_of_birth.as_deref(),
        Some("1978-12-31")
    );
    assert_eq!(
        session.expires_at.as_deref(),
        Some("2038-01-19T03:14:07.000Z")
    );

    let error = LOOPBACK.api_error(403, "FORBIDDEN", call).await;
    assert_eq!(error.api_body(), Some(&ReadCreditSessionError::Forbidden));
    let error = LOOPBACK.api_error(404, "NOT_FOUND", call).await;
    assert_eq!(error.api_body(), Some(&ReadCreditSessionError::NotFound));
}

#[tokio::test]
async fn read_credit_session_keeps_unknown_enum_values_and_ignores_unknown_fields() {
    let mut session = session_read_json();
    session["status"] = json!("expired");
    session["intent"] = json!("buy_and_default_tokenize");
    session["acquiring_channel"] = json!("KIOSK");
    session["order_lines"][0]["type"] = json!("bundle");
    session["payment_method_categories"][0]["identifier"] = json!("pay_in_4");
    session["brand_new_field"] = json!({ "added": "next year" });
    session["order_lines"][0]["brand_new_line_field"] = json!(true);

    let (result, _) = LOOPBACK
        .exchange(CannedResponse::json(200, &session), |c| async move {
            c.read_credit_session(&session_id()).await
        })
        .await;
    let session = result.unwrap();
    assert_eq!(
        session.status,
        Some(SessionReadStatus::Unknown("expired".into()))
    );
    assert_eq!(
        session.intent,
        Some(SessionReadIntent::Unknown(
            "buy_and_default_tokenize".into()
        ))
    );
    assert_eq!(
        session.acquiring_channel,
        Some(SessionReadAcquiringChannel::Unknown("KIOSK".into()))
    );
    assert_eq!(
        session.order_lines.as_ref().unwrap()[0].r#type,
        Some(OrderLineType::Unknown("bundle".into()))
    );
    assert_eq!(
        session.payment_method_categories.as_ref().unwrap()[0].identifier,
        Some(PaymentMethodCategoryIdentifier::Unknown("pay_in_4".into()))
    );
    assert_eq!(session.order_amount, Some(9500));
}

#[tokio::test]
async fn update_credit_session() {
    let call = |c: Client| async move {
        let changes = Session {
            order_amount: Some(9500),
            order_tax_amount: Some(1900),
            order_lines: Some(vec![power_pack()]),
            shipping_address: Some(adam()),
            ..Session::default()
        };
        c.update_credit_session(&session_id(), &changes).await
    };
    let (result, request) = LOOPBACK.exchange(CannedResponse::new(204), call).await;
    let done = result.unwrap();
    assert_eq!(done.status(), 204);
    LOOPBACK.assert_request(&request, "POST", SESSION);
    assert_no_key(&done, &request);
    assert_json_body(
        &request,
        json!({
            "order_amount": 9500,
            "order_tax_amount": 1900,
            "order_lines": [power_pack_json()],
            "shipping_address": adam_json()
        }),
    );

    let error = LOOPBACK.api_error(400, "BAD_VALUE", call).await;
    assert_eq!(
        error.api_body(),
        Some(&UpdateCreditSessionError::BadRequest)
    );
    let error = LOOPBACK.api_error(403, "FORBIDDEN", call).await;
    assert_eq!(error.api_body(), Some(&UpdateCreditSessionError::Forbidden));
    let error = LOOPBACK.api_error(404, "NOT_FOUND", call).await;
    assert_eq!(error.api_body(), Some(&UpdateCreditSessionError::NotFound));
}

// ---------------------------------------------------------------------------
// Authorizations
// ---------------------------------------------------------------------------

#[tokio::test]
async fn cancel_authorization() {
    let call = |c: Client| async move { c.cancel_authorization(AUTHORIZATION_TOKEN).await };
    let (result, request) = LOOPBACK.exchange(CannedResponse::new(204), call).await;
    let done = result.unwrap();
    assert_eq!(done.status(), 204);
    LOOPBACK.assert_request(&request, "DELETE", AUTHORIZATION_PATH);
    assert_no_body(&request);
    assert_no_key(&done, &request);

    let error = LOOPBACK.api_error(403, "FORBIDDEN", call).await;
    assert_eq!(error.api_body(), Some(&CancelAuthorizationError::Forbidden));
    let error = LOOPBACK.api_error(404, "NOT_FOUND", call).await;
    assert_eq!(error.api_body(), Some(&CancelAuthorizationError::NotFound));
}

#[tokio::test]
async fn create_order() {
    let placed = json!({
        "order_id": "3eaeb557-5e30-47f8-b840-b8d987f5945d",
        "redirect_url": "https://credit.klarna.com/v1/sessions/0b1d9815-165e-42e2-8867-35bc03789e00/redirect",
        "fraud_status": "ACCEPTED",
        "authorized_payment_method": { "type": "invoice", "number_of_days": 30 }
    });
    let call = |c: Client| async move {
        c.create_order(AUTHORIZATION_TOKEN, &create_order_request())
            .await
    };
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &placed), call)
        .await;
    let order = result.unwrap();
    LOOPBACK.assert_request(&request, "POST", &format!("{AUTHORIZATION_PATH}/order"));
    assert_accepts_json(&request);
    // Placing the order takes an idempotency key (specs/CHANGES.md): the
    // client makes one and returns it.
    let generated = request.header(KEY_HEADER).expect("a generated key is sent");
    assert_uuid_v4(generated);
    assert_eq!(order.idempotency_key().map(|k| k.as_str()), Some(generated));
    assert_json_body(
        &request,
        json!({
            "auto_capture": false,
            "purchase_country": "GB",
            "purchase_currency": "GBP",
            "locale": "en-GB",
            "order_amount": 9500,
            "order_tax_amount": 1900,
            "order_lines": [power_pack_json()],
            "merchant_reference1": "ON4711",
            "merchant_reference2": "hdt53h-zdgg6-hdaff2",
            "merchant_urls": {
                "confirmation": "https://www.example-url.com/confirmation",
                "notification": "https://www.example-url.com/notification",
                "push": "https://www.example-url.com/push"
            },
            "billing_address": adam_json(),
            "shipping_address": adam_json()
        }),
    );
    assert_eq!(order.status(), 200);
    assert_eq!(order.order_id, "3eaeb557-5e30-47f8-b840-b8d987f5945d");
    assert_eq!(order.fraud_status, Some(OrderFraudStatus::Accepted));
    let method = order.authorized_payment_method.as_ref().unwrap();
    assert_eq!(method.r#type, AuthorizedPaymentMethodType::Invoice);
    assert_eq!(method.number_of_days, Some(30));
    assert!(order
        .redirect_url
        .as_deref()
        .unwrap()
        .ends_with("/redirect"));

    let error = LOOPBACK.api_error(400, "BAD_VALUE", call).await;
    assert_eq!(error.api_body(), Some(&CreateOrderError::BadRequest));
    let error = LOOPBACK.api_error(403, "FORBIDDEN", call).await;
    assert_eq!(error.api_body(), Some(&CreateOrderError::Forbidden));
    let error = LOOPBACK.api_error(404, "NOT_FOUND", call).await;
    assert_eq!(error.api_body(), Some(&CreateOrderError::NotFound));
    let error = LOOPBACK.api_error(409, "CONFLICT", call).await;
    assert_eq!(error.api_body(), Some(&CreateOrderError::Conflict));
}

// ---------------------------------------------------------------------------
// Customer tokens
// ---------------------------------------------------------------------------

#[tokio::test]
async fn create_customer_token() {
    let created = json!({
        "token_id": "0b1d9815-165e-42e2-8867-35bc03789e00",
        "payment_method_reference": "0b1d9815-165e-42e2-8867-35bc03789e00",
        "redirect_url": "https://credit.klarna.com/v1/sessions/0b1d9815-165e-42e2-8867-35bc03789e00/redirect",
        "billing_address": adam_json(),
        "customer": { "date_of_birth": "1978-12-31", "gender": "male" }
    });
    let call = |c: Client| async move {
        c.create_customer_token(AUTHORIZATION_TOKEN, &token_request())
            .await
    };
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &created), call)
        .await;
    let token = result.unwrap();
    LOOPBACK.assert_request(
        &request,
        "POST",
        &format!("{AUTHORIZATION_PATH}/customer-token"),
    );
    assert_accepts_json(&request);
    assert_no_key(&token, &request);
    assert_json_body(
        &request,
        json!({
            "purchase_country": "GB",
            "purchase_currency": "GBP",
            "locale": "en-GB",
            "description": "Monthly subscription to the Running Club magazine",
            "intended_use": "SUBSCRIPTION",
            "billing_address": adam_json()
        }),
    );
    assert_eq!(token.status(), 200);
    assert_eq!(token.token_id, "0b1d9815-165e-42e2-8867-35bc03789e00");
    assert_eq!(
        token.payment_method_reference.as_deref(),
        Some("0b1d9815-165e-42e2-8867-35bc03789e00")
    );
    assert_eq!(token.billing_address, Some(adam()));
    assert_eq!(
        token.customer.as_ref().unwrap().date_of_birth.as_deref(),
        Some("1978-12-31")
    );

    let error = LOOPBACK.api_error(400, "BAD_VALUE", call).await;
    assert_eq!(
        error.api_body(),
        Some(&CreateCustomerTokenError::BadRequest(
            serde_json::from_value(error_body("BAD_VALUE")).unwrap()
        ))
    );
    let Some(CreateCustomerTokenError::BadRequest(body)) = error.api_body() else {
        unreachable!()
    };
    assert_eq!(body.error_code.as_deref(), Some("BAD_VALUE"));
    assert_eq!(body.correlation_id.as_deref(), Some(CORRELATION_ID));
    let error = LOOPBACK.api_error(403, "FORBIDDEN", call).await;
    assert_eq!(error.api_body(), Some(&CreateCustomerTokenError::Forbidden));
    let error = LOOPBACK.api_error(404, "NOT_FOUND", call).await;
    assert_eq!(error.api_body(), Some(&CreateCustomerTokenError::NotFound));
    let error = LOOPBACK.api_error(409, "CONFLICT", call).await;
    assert_eq!(error.api_body(), Some(&CreateCustomerTokenError::Conflict));
}

#[tokio::test]
async fn read_customer_token() {
    let stored = json!({
        "status": "ACTIVE",
        "payment_method_type": "CARD",
        "card": { "brand": "VISA", "expiry_date": "12/2030", "masked_number": "************1234" }
    });
    let call = |c: Client| async move { c.read_customer_token(CUSTOMER_TOKEN).await };
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &stored), call)
        .await;
    let token = result.unwrap();
    LOOPBACK.assert_request(&request, "GET", TOKEN);
    assert_accepts_json(&request);
    assert_no_body(&request);
    assert_no_key(&token, &request);
    assert_eq!(token.status(), 200);
    assert_eq!(token.status, CustomerTokenStatus::Active);
    assert_eq!(token.payment_method_type, "CARD");
    let card = token.card.as_ref().unwrap();
    assert_eq!(card.brand, "VISA");
    assert_eq!(card.expiry_date, "12/2030");
    assert_eq!(card.masked_number, "************1234");
    assert_eq!(token.direct_debit, None);

    // A status Klarna adds later is kept, not an error.
    let paused = json!({ "status": "PAUSED", "payment_method_type": "INVOICE", "paused_until": "2030-01-01" });
    let (result, _) = LOOPBACK
        .exchange(CannedResponse::json(200, &paused), call)
        .await;
    assert_eq!(
        result.unwrap().status,
        CustomerTokenStatus::Unknown("PAUSED".into())
    );

    let error = LOOPBACK.api_error(403, "FORBIDDEN", call).await;
    assert_eq!(error.api_body(), Some(&ReadCustomerTokenError::Forbidden));
    let error = LOOPBACK.api_error(404, "NOT_FOUND", call).await;
    assert_eq!(error.api_body(), Some(&ReadCustomerTokenError::NotFound));
}

#[tokio::test]
async fn create_customer_token_order() {
    let placed = json!({
        "order_id": "8c1f2d3e-4b5a-4c6d-9e8f-7a6b5c4d3e2f",
        "fraud_status": "ACCEPTED",
        "redirect_url": "https://credit.klarna.com/v1/sessions/0b1d9815-165e-42e2-8867-35bc03789e00/redirect",
        "authorized_payment_method": { "type": "card" }
    });
    let call = |c: Client, key| async move {
        c.create_customer_token_order(CUSTOMER_TOKEN, &token_order())
            .idempotency_key(key)
            .await
    };

    // With the caller's key.
    let given = IdempotencyKey::from("subscription-ON4711-2024-06");
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &placed), |c| {
            call(c, Some(given.clone()))
        })
        .await;
    let order = result.unwrap();
    LOOPBACK.assert_request(&request, "POST", &format!("{TOKEN}/order"));
    assert_accepts_json(&request);
    assert_json_body(&request, token_order_json());
    assert_eq!(
        request.header(KEY_HEADER),
        Some("subscription-ON4711-2024-06")
    );
    assert_eq!(order.idempotency_key(), Some(&given));
    assert_eq!(order.status(), 200);
    assert_eq!(order.order_id, "8c1f2d3e-4b5a-4c6d-9e8f-7a6b5c4d3e2f");
    assert_eq!(
        order.fraud_status,
        CustomerTokenOrderResponseFraudStatus::Accepted
    );
    assert_eq!(
        order.authorized_payment_method.as_ref().unwrap().r#type,
        CustomerTokenAuthorizedPaymentMethodType::Card
    );

    // Without: the client makes a UUID, sends it and hands it back.
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &placed), |c| call(c, None))
        .await;
    let order = result.unwrap();
    LOOPBACK.assert_request(&request, "POST", &format!("{TOKEN}/order"));
    assert_json_body(&request, token_order_json());
    let generated = request.header(KEY_HEADER).expect("a generated key is sent");
    assert_uuid_v4(generated);
    assert_eq!(
        order.idempotency_key().map(IdempotencyKey::as_str),
        Some(generated)
    );

    // The 400 body of the Customer Token API carries the order's details.
    let mut refused = error_body("PAYMENT_METHOD_FAILED");
    refused["fraud_status"] = json!("REJECTED");
    refused["reason"] = json!("The card was declined");
    refused["authorized_payment_method"] = json!({ "type": "card" });
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(400, &refused), |c| call(c, None))
        .await;
    let error = result.unwrap_err();
    assert_eq!(error.status(), Some(400));
    assert_eq!(error.correlation_id(), Some(CORRELATION_ID));
    assert_eq!(error.error_code(), Some("PAYMENT_METHOD_FAILED"));
    assert_eq!(
        error.idempotency_key().map(IdempotencyKey::as_str),
        request.header(KEY_HEADER)
    );
    let Some(CreateCustomerTokenOrderError::BadRequest(body)) = error.api_body() else {
        panic!("expected BadRequest, got {error:?}")
    };
    assert_eq!(body.error_code.as_deref(), Some("PAYMENT_METHOD_FAILED"));
    assert_eq!(body.fraud_status.as_deref(), Some("REJECTED"));
    assert_eq!(body.reason.as_deref(), Some("The card was declined"));
    assert_eq!(
        body.authorized_payment_method.as_ref().unwrap().r#type,
        CustomerTokenAuthorizedPaymentMethodType::Card
    );
    assert_eq!(
        body.error_messages.as_deref(),
        Some(&[error_message("PAYMENT_METHOD_FAILED")][..])
    );

    let error = LOOPBACK
        .api_error(403, "FORBIDDEN", |c| call(c, None))
        .await;
    assert_eq!(
        error.api_body(),
        Some(&CreateCustomerTokenOrderError::Forbidden)
    );
    let error = LOOPBACK
        .api_error(404, "NOT_FOUND", |c| call(c, None))
        .await;
    assert_eq!(
        error.api_body(),
        Some(&CreateCustomerTokenOrderError::NotFound)
    );
    let error = LOOPBACK.api_error(409, "CONFLICT", |c| call(c, None)).await;
    assert_eq!(
        error.api_body(),
        Some(&CreateCustomerTokenOrderError::Conflict)
    );
}

#[tokio::test]
async fn update_customer_token_status() {
    let call = |c: Client| async move {
        c.update_customer_token_status(CUSTOMER_TOKEN, &cancel_token())
            .await
    };
    let (result, request) = LOOPBACK.exchange(CannedResponse::new(202), call).await;
    let done = result.unwrap();
    assert_eq!(done.status(), 202);
    LOOPBACK.assert_request(&request, "PATCH", &format!("{TOKEN}/status"));
    assert_no_key(&done, &request);
    assert_json_body(&request, json!({ "status": "CANCELLED" }));

    let error = LOOPBACK.api_error(400, "BAD_VALUE", call).await;
    assert_eq!(
        error.api_body(),
        Some(&UpdateCustomerTokenStatusError::BadRequest)
    );
    let error = LOOPBACK.api_error(403, "FORBIDDEN", call).await;
    assert_eq!(
        error.api_body(),
        Some(&UpdateCustomerTokenStatusError::Forbidden)
    );
    let error = LOOPBACK.api_error(404, "NOT_FOUND", call).await;
    assert_eq!(
        error.api_body(),
        Some(&UpdateCustomerTokenStatusError::NotFound)
    );
}

// ---------------------------------------------------------------------------
// What is not documented, not decodable, or not there
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_documented_error_without_a_body_takes_the_correlation_id_from_the_header() {
    // The spec documents no body for this status: an empty one is fine.
    let empty = CannedResponse::new(404).header("Klarna-Correlation-Id", CORRELATION_ID);
    let (result, _) = LOOPBACK
        .exchange(empty, |c| async move {
            c.read_credit_session(&session_id()).await
        })
        .await;
    let error = result.unwrap_err();
    assert_eq!(error.api_body(), Some(&ReadCreditSessionError::NotFound));
    assert_eq!(error.status(), Some(404));
    assert_eq!(error.correlation_id(), Some(CORRELATION_ID));
    assert_eq!(error.error_code(), None);
    assert!(error.error_messages().is_empty());
}

#[tokio::test]
async fn an_undocumented_status_is_unexpected_for_every_operation() {
    LOOPBACK
        .assert_unexpected_status(
            |c| async move { c.create_credit_session(&session_create()).await },
        )
        .await;
    LOOPBACK
        .assert_unexpected_status(|c| async move { c.read_credit_session(&session_id()).await })
        .await;
    LOOPBACK
        .assert_unexpected_status(|c| async move {
            c.update_credit_session(&session_id(), &Session::default())
                .await
        })
        .await;
    LOOPBACK
        .assert_unexpected_status(
            |c| async move { c.cancel_authorization(AUTHORIZATION_TOKEN).await },
        )
        .await;
    LOOPBACK
        .assert_unexpected_status(|c| async move {
            c.create_order(AUTHORIZATION_TOKEN, &create_order_request())
                .await
        })
        .await;
    LOOPBACK
        .assert_unexpected_status(|c| async move {
            c.create_customer_token(AUTHORIZATION_TOKEN, &token_request())
                .await
        })
        .await;
    LOOPBACK
        .assert_unexpected_status(|c| async move { c.read_customer_token(CUSTOMER_TOKEN).await })
        .await;
    LOOPBACK
        .assert_unexpected_status(|c| async move {
            c.create_customer_token_order(CUSTOMER_TOKEN, &token_order())
                .await
        })
        .await;
    LOOPBACK
        .assert_unexpected_status(|c| async move {
            c.update_customer_token_status(CUSTOMER_TOKEN, &cancel_token())
                .await
        })
        .await;
}

#[tokio::test]
async fn a_malformed_success_body_is_a_decode_error() {
    LOOPBACK
        .assert_decode_error(|c| async move { c.create_credit_session(&session_create()).await })
        .await;
    LOOPBACK
        .assert_decode_error(|c| async move { c.read_credit_session(&session_id()).await })
        .await;
    LOOPBACK
        .assert_decode_error(|c| async move {
            c.create_order(AUTHORIZATION_TOKEN, &create_order_request())
                .await
        })
        .await;
    LOOPBACK
        .assert_decode_error(|c| async move {
            c.create_customer_token(AUTHORIZATION_TOKEN, &token_request())
                .await
        })
        .await;
    LOOPBACK
        .assert_decode_error(|c| async move { c.read_customer_token(CUSTOMER_TOKEN).await })
        .await;
    LOOPBACK
        .assert_decode_error(|c| async move {
            c.create_customer_token_order(CUSTOMER_TOKEN, &token_order())
                .await
        })
        .await;
}

#[tokio::test]
async fn a_success_body_without_a_required_field_is_a_decode_error() {
    // `session_id` is required in MerchantSession.
    let incomplete = json!({ "client_token": "eyJhbGciOiJIUzI1NiIs" });
    let (result, _) = LOOPBACK
        .exchange(CannedResponse::json(200, &incomplete), |c| async move {
            c.create_credit_session(&session_create()).await
        })
        .await;
    let error = result.unwrap_err();
    match error.kind() {
        ErrorKind::Decode { details, message } => {
            assert_eq!(details.status, 200);
            assert!(message.contains("session_id"), "{message}");
        }
        _ => panic!("expected Decode, got {error:?}"),
    }
}

#[tokio::test]
async fn no_server_is_not_sent_and_keeps_the_key_for_a_retry() {
    let client = LOOPBACK.client_for(closed_port_url());
    let error = client
        .create_customer_token_order(CUSTOMER_TOKEN, &token_order())
        .await
        .unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::NotSent(e) if e.is_connect()),
        "{error:?}"
    );
    assert_eq!(error.status(), None);
    assert!(error.details().is_none());
    // A refused connection sent nothing (before: `NoResponse`, "may have
    // reached Klarna").
    assert!(!error.may_have_reached_klarna());
    assert!(
        error.to_string().contains("nothing reached Klarna"),
        "{error}"
    );
    // The client made a key; it is the one to retry with.
    let key = error.idempotency_key().expect("the generated key").as_str();
    assert_uuid_v4(key);

    let error = client
        .create_credit_session(&session_create())
        .await
        .unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::NotSent(e) if e.is_connect()),
        "{error:?}"
    );
    assert_eq!(error.idempotency_key(), None);
}
