//! The typed callback handlers behind the serving layer, fed the requests
//! Klarna sends (fixtures shaped after the published examples), through
//! the axum router without a socket: each answer's HTTP form, a body that
//! does not decode, and a handler past its deadline. Tokio's paused clock
//! lets the deadlines pass without waiting.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use klarna_checkout::callbacks::{
    Callbacks, CountryChangeAnswer, PushAnswer, Redirect, UpdateAddressAnswer, ValidateAnswer,
};
use klarna_checkout::models::{
    Order, OrderId, ShippingOption, ShippingServiceErrorResponse, ShippingServiceRequest,
    ShippingServiceResponse,
};
use klarna_checkout::serve::{router, Serve};
use tower::ServiceExt;

const ADDRESS_UPDATE: &str = include_str!("fixtures/address_update.json");
const VALIDATION: &str = include_str!("fixtures/validation.json");

/// A shop: free shipping inside Sweden, 49.00 to anywhere else; it refuses
/// orders above 1000.00 and takes `delay` to validate.
#[derive(Default)]
struct Shop {
    delay: Duration,
    pushes: AtomicUsize,
}

impl Callbacks for Shop {
    async fn update_address(&self, request: ShippingServiceRequest) -> UpdateAddressAnswer {
        let country = request
            .shipping_address
            .as_ref()
            .and_then(|a| a.country.clone())
            .unwrap_or_default();
        if country == "XX" {
            return UpdateAddressAnswer::Redirect(Redirect::to("https://shop.example/no-shipping"));
        }
        let price = if country == "SE" { 0 } else { 4900 };
        let shipping = ShippingOption::new("standard", "Standard", price, price / 5, 2500);
        UpdateAddressAnswer::Accept(ShippingServiceResponse {
            shipping_options: Some(vec![shipping]),
            ..ShippingServiceResponse::new(
                request.order_amount + price,
                request.order_tax_amount + price / 5,
                request.order_lines,
                request.purchase_currency,
            )
        })
    }

    async fn validate(&self, order: Order) -> ValidateAnswer {
        tokio::time::sleep(self.delay).await;
        if order.order_amount > 100_000 {
            return ValidateAnswer::Refuse(ShippingServiceErrorResponse::new(
                "approval_failed",
                "Orders above 1000.00 need a phone call.",
            ));
        }
        ValidateAnswer::Accept
    }

    async fn push(&self, _order_id: OrderId) -> PushAnswer {
        self.pushes.fetch_add(1, Ordering::SeqCst);
        PushAnswer::Accept
    }
}

async fn post(app: axum::Router, uri: &str, body: &str) -> (StatusCode, Option<String>, String) {
    let request = Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, location, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn an_address_update_answers_the_cart_with_its_shipping() {
    let (status, _, body) = post(router(Shop::default()), "/address_update", ADDRESS_UPDATE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cart: ShippingServiceResponse = serde_json::from_str(&body).unwrap();
    // Shipping to the US costs 49.00, tax included.
    assert_eq!(cart.order_amount, 50000 + 4900);
    assert_eq!(cart.order_tax_amount, 4545 + 980);
    assert_eq!(cart.shipping_options.unwrap()[0].price, 4900);
}

#[tokio::test]
async fn a_redirect_answers_3xx_with_location() {
    let request = ADDRESS_UPDATE.replace(
        "\"country\": \"US\",\n    \"a_field",
        "\"country\": \"XX\",\n    \"a_field",
    );
    let (status, location, _) = post(router(Shop::default()), "/address_update", &request).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location.as_deref(),
        Some("https://shop.example/no-shipping")
    );
}

#[tokio::test]
async fn validation_accepts_and_refuses_with_klarnas_error_body() {
    let (status, _, body) = post(router(Shop::default()), "/validation", VALIDATION).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.is_empty());

    let large = VALIDATION.replace("\"order_amount\": 50000", "\"order_amount\": 150000");
    let (status, _, body) = post(router(Shop::default()), "/validation", &large).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let refusal: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(refusal["error_type"], "approval_failed");
    assert_eq!(
        refusal["error_text"],
        "Orders above 1000.00 need a phone call."
    );
}

#[tokio::test]
async fn a_body_that_does_not_decode_gets_400_naming_the_field() {
    let broken = VALIDATION.replace("\"quantity\": 5", "\"quantity\": \"five\"");
    let (status, _, body) = post(router(Shop::default()), "/validation", &broken).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["field"], "order_lines[0].quantity", "{body}");

    let missing = r#"{"order_amount": 1, "order_tax_amount": 0, "purchase_currency": "SEK"}"#;
    let (status, _, body) = post(router(Shop::default()), "/address_update", missing).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("order_lines"), "{body}");
}

#[tokio::test(start_paused = true)]
async fn a_validation_past_its_deadline_is_answered_as_klarna_reads_silence() {
    // Not required: Klarna goes ahead after 3 s, so the router accepts in time.
    let slow = Shop {
        delay: Duration::from_secs(5),
        ..Shop::default()
    };
    let (status, _, _) = post(router(slow), "/validation", VALIDATION).await;
    assert_eq!(status, StatusCode::OK);

    // Required: Klarna would fail the purchase at 10 s; the router refuses
    // with approval_failed instead, keeping the buyer in the checkout.
    let required = VALIDATION.replace(
        "\"require_validate_callback_success\": false",
        "\"require_validate_callback_success\": true",
    );
    let slower = Shop {
        delay: Duration::from_secs(11),
        ..Shop::default()
    };
    let (status, _, body) = post(router(slower), "/validation", &required).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("approval_failed"), "{body}");

    // Required, and 6 s is inside the 10 s: the handler's own answer counts.
    let in_time = Shop {
        delay: Duration::from_secs(6),
        ..Shop::default()
    };
    let large = required.replace("\"order_amount\": 50000", "\"order_amount\": 150000");
    let (status, _, body) = post(Serve::new(in_time).router(), "/validation", &large).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("phone call"), "{body}");
}

#[tokio::test]
async fn the_push_takes_the_order_id_from_the_query() {
    let shop = Arc::new(Shop::default());
    struct Shared(Arc<Shop>);
    impl Callbacks for Shared {
        fn push(&self, order_id: OrderId) -> impl std::future::Future<Output = PushAnswer> + Send {
            assert_eq!(order_id.as_str(), "8cf27b55-53e8-6aba-9fb4-7c692e56ddee");
            self.0.push(order_id)
        }
    }
    let app = router(Shared(shop.clone()));
    let (status, _, _) = post(
        app.clone(),
        "/push?order_id=8cf27b55-53e8-6aba-9fb4-7c692e56ddee",
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shop.pushes.load(Ordering::SeqCst), 1);
    let (status, _, body) = post(app, "/push", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("query order_id"), "{body}");
}

#[tokio::test]
async fn callbacks_not_implemented_or_unknown_answer_404() {
    let (status, _, _) = post(router(Shop::default()), "/country_change", ADDRESS_UPDATE).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = post(router(Shop::default()), "/no_such_callback", "{}").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The answer type exists for a merchant who serves it.
    let _ = CountryChangeAnswer::NotServed;
}
