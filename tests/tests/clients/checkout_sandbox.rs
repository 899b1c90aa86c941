//! Klarna Checkout end to end through the generated client against the
//! sandbox, with a merchant's callback server on 127.0.0.1 built from the
//! typed handlers: an address update that changes shipping, validation
//! (accepted, refused, too late), the push retried until the order is
//! acknowledged through Order Management, and the capture after it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use klarna_checkout::callbacks::{
    dispatch, Callbacks, PushAnswer, UpdateAddressAnswer, ValidateAnswer,
};
use klarna_checkout::models::{
    Address, MerchantUrls, Options, Order, OrderId, OrderLine, ShippingOption,
    ShippingServiceErrorResponse, ShippingServiceRequest, ShippingServiceResponse,
};
use klarna_checkout::{Config, Credentials, Orders};
use klarna_ordermanagement::{Captures as _, Orders as _};
use klarna_sandbox::Sandbox;

/// The merchant: shipping is free in Sweden and 49.00 (9.80 tax) abroad;
/// validation refuses carts above `limit` after `delay`; the push reads the
/// order and acknowledges it, failing with 500 the first `failing_pushes`
/// times (its database is down, say).
struct Shop {
    om: klarna_ordermanagement::Client,
    limit: i64,
    delay: Duration,
    failing_pushes: usize,
    pushes: AtomicUsize,
    acknowledgements: AtomicUsize,
}

impl Callbacks for Shop {
    async fn update_address(&self, cart: ShippingServiceRequest) -> UpdateAddressAnswer {
        let abroad = cart
            .shipping_address
            .as_ref()
            .and_then(|a| a.country.as_deref())
            != Some("SE");
        let (price, tax) = if abroad { (4900, 980) } else { (0, 0) };
        let mut lines = cart.order_lines;
        lines.retain(|line| line.r#type.as_deref() != Some("shipping_fee"));
        if price > 0 {
            lines.push(OrderLine {
                r#type: Some("shipping_fee".into()),
                ..OrderLine::new("Shipping", 1, price, 2500, price, tax)
            });
        }
        let amount = lines.iter().map(|l| l.total_amount).sum();
        let tax_amount = lines.iter().map(|l| l.total_tax_amount).sum();
        UpdateAddressAnswer::Accept(ShippingServiceResponse {
            shipping_options: Some(vec![ShippingOption::new("post", "Post", price, tax, 2500)]),
            ..ShippingServiceResponse::new(amount, tax_amount, lines, cart.purchase_currency)
        })
    }

    async fn validate(&self, order: Order) -> ValidateAnswer {
        tokio::time::sleep(self.delay).await;
        if order.order_amount > self.limit {
            return ValidateAnswer::Refuse(ShippingServiceErrorResponse::new(
                "approval_failed",
                "Out of stock",
            ));
        }
        ValidateAnswer::Accept
    }

    async fn push(&self, order_id: OrderId) -> PushAnswer {
        let order_id = klarna_ordermanagement::OrderId::new(order_id.as_str());
        if self.om.get_order(&order_id).await.is_ok()
            && self.om.acknowledge_order(&order_id).await.is_ok()
        {
            self.acknowledgements.fetch_add(1, Ordering::SeqCst);
        }
        PushAnswer::Accept
    }
}

/// Serves `shop` at `http://127.0.0.1:PORT/klarna/{callback}`; the push
/// answers 500 without reaching the handler while `failing_pushes` lasts.
async fn serve(shop: Arc<Shop>) -> String {
    use axum::body::Bytes;
    use axum::extract::{Path, RawQuery, State};
    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    async fn route(
        State(shop): State<Arc<Shop>>,
        Path(name): Path<String>,
        RawQuery(query): RawQuery,
        body: Bytes,
    ) -> axum::response::Response {
        if name == "push" && shop.pushes.fetch_add(1, Ordering::SeqCst) < shop.failing_pushes {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        // `dispatch` is what the `serve` router calls; used directly here
        // so that the sandbox, not the router's deadline, meets a slow handler.
        match dispatch(shop.as_ref(), &name, &query.unwrap_or_default(), &body).await {
            Some(reply) => {
                let mut response = axum::response::Response::new(axum::body::Body::from(
                    reply.body.unwrap_or_default(),
                ));
                *response.status_mut() = StatusCode::from_u16(reply.status).unwrap();
                if let Some(location) = reply.location {
                    response
                        .headers_mut()
                        .insert("location", location.parse().unwrap());
                }
                response
            }
            None => StatusCode::NOT_FOUND.into_response(),
        }
    }

    let app = axum::Router::new()
        .route("/klarna/{name}", axum::routing::post(route))
        .with_state(shop);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/klarna", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn credentials() -> Credentials {
    Credentials::basic("K123456_test", "secret")
}

fn shop(sandbox: &Sandbox, limit: i64, delay: Duration, failing_pushes: usize) -> Arc<Shop> {
    let om = klarna_ordermanagement::Client::from_config(
        klarna_ordermanagement::Config::with_base_url(sandbox.base_url(), credentials()),
    )
    .unwrap();
    Arc::new(Shop {
        om,
        limit,
        delay,
        failing_pushes,
        pushes: AtomicUsize::new(0),
        acknowledgements: AtomicUsize::new(0),
    })
}

/// Two tomatoes, 12.00 with 2.40 tax, with every callback pointed at `base`.
fn cart(base: &str, required: bool) -> Order {
    let urls = MerchantUrls {
        address_update: Some(format!("{base}/address_update")),
        validation: Some(format!("{base}/validation")),
        ..MerchantUrls::new(
            "https://shop.example/terms",
            "https://shop.example/checkout",
            "https://shop.example/confirmation",
            format!("{base}/push?order_id={{checkout.order.id}}"),
        )
    };
    Order {
        merchant_urls: Some(urls),
        options: Some(Options {
            require_validate_callback_success: Some(required),
            ..Options::default()
        }),
        ..Order::new(
            "SE",
            "SEK",
            "sv-SE",
            1200,
            240,
            vec![OrderLine::new("Tomatoes", 2, 600, 2500, 1200, 240)],
        )
    }
}

fn abroad() -> Address {
    Address {
        given_name: Some("Ola".into()),
        country: Some("NO".into()),
        ..Address::default()
    }
}

async fn complete(
    sandbox: &Arc<Sandbox>,
    order_id: &str,
    address: Option<Address>,
) -> klarna_sandbox::CheckoutCompletion {
    let (sandbox, order_id) = (sandbox.clone(), order_id.to_owned());
    tokio::task::spawn_blocking(move || sandbox.complete_checkout(&order_id, address))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_with_an_address_update_validation_push_acknowledgement_and_capture() {
    let sandbox = Arc::new(Sandbox::start().unwrap());
    sandbox.set_checkout_push_delays(&[Duration::from_millis(20); 5]);
    let shop = shop(&sandbox, 100_000, Duration::ZERO, 1);
    let base = serve(shop.clone()).await;
    let client = klarna_checkout::Client::from_config(Config::with_base_url(
        sandbox.base_url(),
        credentials(),
    ))
    .unwrap();

    let created = client.create_order(&cart(&base, false)).await.unwrap();
    let order_id = created.order_id.clone().unwrap();
    assert_eq!(created.status.as_deref(), Some("checkout_incomplete"));
    let read = client.read_order(&order_id).await.unwrap();
    assert_eq!(read.order_amount, 1200);

    // The buyer ships to Norway: the merchant adds 49.00 of shipping.
    let completion = complete(&sandbox, order_id.as_str(), Some(abroad())).await;
    assert_eq!(completion.outcome, "completed", "{completion:?}");
    let order = client.read_order(&order_id).await.unwrap();
    assert_eq!(order.status.as_deref(), Some("checkout_complete"));
    assert_eq!(order.order_amount, 1200 + 4900);
    assert_eq!(order.selected_shipping_option.as_ref().unwrap().price, 4900);

    // The first push meets a 500; the next is acknowledged, and the pushes stop.
    let pushes = sandbox.wait_for_checkout_pushes(2, Duration::from_secs(10));
    assert_eq!(pushes[0].status, Some(500));
    assert_eq!(pushes[1].status, Some(200));
    let om_id = klarna_ordermanagement::OrderId::new(order_id.as_str());
    assert_eq!(sandbox.is_acknowledged(&om_id), Some(true));
    assert_eq!(shop.acknowledgements.load(Ordering::SeqCst), 1);
    // No third push: waiting for one runs out (bounded) with two.
    let later = sandbox.wait_for_checkout_pushes(3, Duration::from_millis(300));
    assert_eq!(later.len(), 2, "{later:?}");

    // Order Management serves the order: capture it in full.
    let capture = klarna_ordermanagement::models::CaptureObject::new(6100);
    shop.om.capture_order(&om_id, &capture).await.unwrap();
    let om_order = shop.om.get_order(&om_id).await.unwrap();
    assert_eq!(om_order.captured_amount, Some(6100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_validation_keeps_the_order_incomplete() {
    let sandbox = Arc::new(Sandbox::start().unwrap());
    let shop = shop(&sandbox, 1000, Duration::ZERO, 0);
    let base = serve(shop.clone()).await;
    let client = klarna_checkout::Client::from_config(Config::with_base_url(
        sandbox.base_url(),
        credentials(),
    ))
    .unwrap();
    let order_id = client
        .create_order(&cart(&base, false))
        .await
        .unwrap()
        .into_inner()
        .order_id
        .unwrap();

    let completion = complete(&sandbox, order_id.as_str(), None).await;
    assert_eq!(completion.outcome, "refused");
    assert_eq!(completion.error_type.as_deref(), Some("approval_failed"));
    assert_eq!(completion.error_text.as_deref(), Some("Out of stock"));
    let order = client.read_order(&order_id).await.unwrap();
    assert_eq!(order.status.as_deref(), Some("checkout_incomplete"));
    let om_id = klarna_ordermanagement::OrderId::new(order_id.as_str());
    assert!(sandbox.order(&om_id).is_none(), "no Order Management order");
    assert!(sandbox.checkout_pushes().is_empty());

    // Still incomplete, so the merchant may still change the cart, or abort.
    let smaller = Order {
        order_amount: 600,
        order_tax_amount: 120,
        order_lines: vec![OrderLine::new("Tomatoes", 1, 600, 2500, 600, 120)],
        ..cart(&base, false)
    };
    assert_eq!(
        client
            .update_order(&order_id, &smaller)
            .await
            .unwrap()
            .order_amount,
        600
    );
    client.abort_order(&order_id).await.unwrap();
    let after_abort = complete(&sandbox, order_id.as_str(), None).await;
    assert_eq!(after_abort.outcome, "aborted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validation_that_answers_too_late() {
    let sandbox = Arc::new(Sandbox::start().unwrap());
    // Deadlines shortened from 3 s and 10 s so the test does not wait them.
    sandbox
        .set_checkout_validation_deadlines(Duration::from_millis(200), Duration::from_millis(400));
    let shop = shop(&sandbox, 100_000, Duration::from_secs(2), 0);
    let base = serve(shop.clone()).await;
    let client = klarna_checkout::Client::from_config(Config::with_base_url(
        sandbox.base_url(),
        credentials(),
    ))
    .unwrap();

    // Not required: Klarna goes ahead without the answer.
    let relaxed = client
        .create_order(&cart(&base, false))
        .await
        .unwrap()
        .into_inner()
        .order_id
        .unwrap();
    let completion = complete(&sandbox, relaxed.as_str(), None).await;
    assert_eq!(completion.outcome, "completed");

    // Required: the purchase fails and the order stays incomplete.
    let strict = client
        .create_order(&cart(&base, true))
        .await
        .unwrap()
        .into_inner()
        .order_id
        .unwrap();
    let completion = complete(&sandbox, strict.as_str(), None).await;
    assert_eq!(completion.outcome, "validation_too_late");
    let order = client.read_order(&strict).await.unwrap();
    assert_eq!(order.status.as_deref(), Some("checkout_incomplete"));
}

#[tokio::test]
async fn the_sandbox_refuses_what_klarna_refuses() {
    let sandbox = Sandbox::start().unwrap();
    let client = klarna_checkout::Client::from_config(Config::with_base_url(
        sandbox.base_url(),
        credentials(),
    ))
    .unwrap();
    let wrong = Order {
        order_amount: 999,
        ..cart("http://127.0.0.1:9", false)
    };
    let error = client.create_order(&wrong).await.unwrap_err();
    assert_eq!(error.status(), Some(400), "{error}");
    let missing = klarna_checkout::models::OrderId::new("no-such-order");
    let error = client.read_order(&missing).await.unwrap_err();
    assert_eq!(error.status(), Some(404), "{error}");
}

/// Which base URL each host choice gives, through the generated clients.
#[test]
fn each_host_choice_gives_its_base_url() {
    use klarna_runtime::{Environment::*, Region::*};
    let basic = credentials;
    let table: Vec<(&str, String, &str)> = vec![
        (
            "checkout eu",
            klarna_checkout::Client::new(Europe, Production, basic())
                .unwrap()
                .runtime()
                .base_url()
                .to_owned(),
            "https://api.klarna.com",
        ),
        (
            "checkout kustom",
            klarna_checkout::Client::kustom(Production, basic())
                .unwrap()
                .runtime()
                .base_url()
                .to_owned(),
            "https://api.kustom.co",
        ),
        (
            "checkout kustom test",
            klarna_checkout::Client::kustom(Playground, basic())
                .unwrap()
                .runtime()
                .base_url()
                .to_owned(),
            "https://api.playground.kustom.co",
        ),
        (
            "om kustom",
            klarna_ordermanagement::Client::kustom(Production, basic())
                .unwrap()
                .runtime()
                .base_url()
                .to_owned(),
            "https://api.kustom.co",
        ),
        (
            "om na test",
            klarna_ordermanagement::Client::new(NorthAmerica, Playground, basic())
                .unwrap()
                .runtime()
                .base_url()
                .to_owned(),
            "https://api-na.playground.klarna.com",
        ),
        (
            "settlements kustom test",
            klarna_settlements::Client::kustom(Playground, basic())
                .unwrap()
                .runtime()
                .base_url()
                .to_owned(),
            "https://api.playground.kustom.co",
        ),
        (
            "hpp kustom",
            klarna_hpp::Client::kustom(Production, basic())
                .unwrap()
                .runtime()
                .base_url()
                .to_owned(),
            "https://api.kustom.co",
        ),
        (
            "hpp oc",
            klarna_hpp::Client::new(Oceania, Production, basic())
                .unwrap()
                .runtime()
                .base_url()
                .to_owned(),
            "https://api-oc.klarna.com",
        ),
        (
            "cards eu test",
            klarna_merchantcard::Client::new(Europe, Playground, basic())
                .unwrap()
                .runtime()
                .base_url()
                .to_owned(),
            "https://api.playground.klarna.com",
        ),
        (
            "payment api",
            klarna_payments::payment_api::Client::new(klarna_runtime::Credentials::api_key(
                "k", "a",
            ))
            .unwrap()
            .runtime()
            .base_url()
            .to_owned(),
            "https://api-global.klarna.com",
        ),
        (
            "payment api test",
            klarna_payments::payment_api::Client::in_environment(
                Playground,
                klarna_runtime::Credentials::api_key("k", "a"),
            )
            .unwrap()
            .runtime()
            .base_url()
            .to_owned(),
            "https://api-global.test.klarna.com",
        ),
        (
            "payment api live",
            klarna_payments::payment_api::Client::in_environment(
                Production,
                klarna_runtime::Credentials::api_key("k", "a"),
            )
            .unwrap()
            .runtime()
            .base_url()
            .to_owned(),
            "https://api-global.klarna.com",
        ),
    ];
    for (choice, got, want) in table {
        assert_eq!(got, want, "{choice}");
    }
}
