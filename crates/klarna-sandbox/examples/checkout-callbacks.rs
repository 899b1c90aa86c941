//! A Klarna Checkout purchase against the sandbox, with the merchant's
//! callback server mounted on the typed handlers (`klarna_checkout::serve`):
//! the buyer's address changes the shipping, the merchant validates, Klarna
//! pushes, the merchant reads and acknowledges the order through Order
//! Management, then captures it.
//!
//! `cargo run -p klarna-sandbox --example checkout-callbacks`

use std::sync::Arc;
use std::time::Duration;

use klarna_checkout::callbacks::{Callbacks, PushAnswer, UpdateAddressAnswer, ValidateAnswer};
use klarna_checkout::models::{
    Address, MerchantUrls, Order, OrderId, OrderLine, ShippingOption, ShippingServiceRequest,
    ShippingServiceResponse,
};
use klarna_checkout::Orders as _;
use klarna_ordermanagement::models::CaptureObject;
use klarna_ordermanagement::{Captures as _, Config, Credentials, Orders as _};
use klarna_sandbox::Sandbox;

/// The merchant's callbacks: shipping is 49.00 outside Sweden, every cart is
/// in stock, and a push is read and acknowledged.
struct Shop {
    orders: klarna_ordermanagement::Client,
}

impl Callbacks for Shop {
    async fn update_address(&self, cart: ShippingServiceRequest) -> UpdateAddressAnswer {
        let country = cart
            .shipping_address
            .as_ref()
            .and_then(|a| a.country.clone());
        let (price, tax) = if country.as_deref() == Some("SE") {
            (0, 0)
        } else {
            (4900, 980)
        };
        println!("  address update: shipping to {country:?} costs {price}");
        let mut lines = cart.order_lines;
        lines.push(OrderLine {
            r#type: Some("shipping_fee".into()),
            ..OrderLine::new("Shipping", 1, price, 2500, price, tax)
        });
        UpdateAddressAnswer::Accept(ShippingServiceResponse {
            shipping_options: Some(vec![ShippingOption::new("post", "Post", price, tax, 2500)]),
            ..ShippingServiceResponse::new(
                cart.order_amount + price,
                cart.order_tax_amount + tax,
                lines,
                cart.purchase_currency,
            )
        })
    }

    async fn validate(&self, order: Order) -> ValidateAnswer {
        println!("  validation: {} minor units, accepted", order.order_amount);
        ValidateAnswer::Accept
    }

    async fn push(&self, order_id: OrderId) -> PushAnswer {
        let order_id = klarna_ordermanagement::OrderId::new(order_id.as_str());
        match self.orders.get_order(&order_id).await {
            Ok(order) => {
                println!("  push: order {order_id} is {:?}", order.status);
                match self.orders.acknowledge_order(&order_id).await {
                    Ok(_) => println!("  push: acknowledged"),
                    Err(e) => println!("  push: not acknowledged yet ({e}); Klarna pushes again"),
                }
            }
            Err(e) => println!("  push: could not read the order ({e}); Klarna pushes again"),
        }
        PushAnswer::Accept
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = Arc::new(Sandbox::start()?);
    let credentials = || Credentials::basic("K123456_test", "secret");
    let config = || Config::with_base_url(sandbox.base_url(), credentials());
    let orders = klarna_ordermanagement::Client::from_config(config())?;
    let checkout = klarna_checkout::Client::from_config(config())?;

    // The merchant's server: its callbacks under /klarna.
    let app = axum::Router::new().nest(
        "/klarna",
        klarna_checkout::serve::router(Shop {
            orders: orders.clone(),
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}/klarna", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("[1/5] merchant callbacks at {base}");

    let urls = MerchantUrls {
        address_update: Some(format!("{base}/address_update")),
        validation: Some(format!("{base}/validation")),
        ..MerchantUrls::new(
            "https://shop.example/terms",
            "https://shop.example/checkout",
            "https://shop.example/confirmation?order_id={checkout.order.id}",
            format!("{base}/push?order_id={{checkout.order.id}}"),
        )
    };
    let cart = Order {
        merchant_urls: Some(urls),
        ..Order::new(
            "SE",
            "SEK",
            "sv-SE",
            6000,
            1200,
            vec![OrderLine::new("Tomatoes", 10, 600, 2500, 6000, 1200)],
        )
    };
    let created = checkout.create_order(&cart).await?.into_inner();
    let order_id = created.order_id.ok_or("the order has an id")?;
    println!(
        "[2/5] checkout order {order_id} created: {} minor units",
        created.order_amount
    );

    // The buyer ships to Norway and completes the purchase.
    println!("[3/5] the buyer completes the purchase");
    let norway = Address {
        country: Some("NO".into()),
        ..Address::default()
    };
    let completion = {
        let (sandbox, order_id) = (sandbox.clone(), order_id.as_str().to_owned());
        tokio::task::spawn_blocking(move || sandbox.complete_checkout(&order_id, Some(norway)))
            .await?
    };
    println!("  completion: {}", completion.outcome);
    let order = checkout.read_order(&order_id).await?;
    println!(
        "  now {:?}, {} minor units",
        order.status, order.order_amount
    );

    println!("[4/5] waiting for the push and its acknowledgement");
    let pushes = sandbox.wait_for_checkout_pushes(1, Duration::from_secs(5));
    println!("  {} push(es) sent", pushes.len());
    let om_id = klarna_ordermanagement::OrderId::new(order_id.as_str());
    for _ in 0..50 {
        if sandbox.is_acknowledged(&om_id) == Some(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("  acknowledged: {:?}", sandbox.is_acknowledged(&om_id));

    let capture = CaptureObject::new(order.order_amount);
    orders.capture_order(&om_id, &capture).await?;
    let captured = orders.get_order(&om_id).await?;
    println!(
        "[5/5] captured {:?} of {:?}",
        captured.captured_amount, captured.order_amount
    );
    Ok(())
}
