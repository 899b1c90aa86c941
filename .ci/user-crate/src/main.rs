//! A user's first program: one call per client; with the models alone, a
//! value of each API module enabled, and a webhook verified.

#[cfg(feature = "clients")]
async fn clients() -> Result<(), Box<dyn std::error::Error>> {
    use klarna_ordermanagement::{Client, Credentials, Environment, OrderId, Orders, Region};
    use klarna_settlements::Payouts;
    use klarna_payments::payment_api::{self, PaymentRequests};

    let om = Client::new(
        Region::Europe,
        Environment::Playground,
        Credentials::basic("PK0001_user", "secret"),
    )?;
    let order = om.get_order(&OrderId::new("order-1")).await?;
    println!("{:?}", order.status);
    let payments = payment_api::Client::new(Credentials::api_key("key", "partner"))?;
    let request = payments
        .read_payment_request(&payment_api::PaymentRequestId::new("pr-1"))
        .await?;
    println!("{:?}", request.state);
    let settlements = klarna_settlements::Client::new(
        Region::Europe,
        Environment::Playground,
        Credentials::basic("PK0001_user", "secret"),
    )?;
    let mut payouts = settlements.list_payouts().into_items();
    if let Some(payout) = payouts.next().await {
        println!("{:?}", payout?.payment_reference);
    }
    Ok(())
}

fn models() {
    #[cfg(feature = "ordermanagement")]
    println!("{:?}", klarna_models::ordermanagement::CaptureObject::new(600));
    #[cfg(feature = "payments")]
    println!("{:?}", klarna_models::payments::Address::default());
    #[cfg(feature = "notifications")]
    println!("{:?}", klarna_models::notifications::ErrorResponse::default());
    #[cfg(feature = "settlements")]
    println!("{:?}", klarna_models::settlements::Pagination::new(10));
    #[cfg(feature = "payment_api")]
    {
        use klarna_models::payment_api::webhooks::{SigningKeys, WebhookEvent};
        let keys = SigningKeys::new().with("key-1", "secret");
        println!("{}", WebhookEvent::verify(b"{}", None, None, &keys).is_err());
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    models();
    #[cfg(feature = "clients")]
    if std::env::args().nth(1).as_deref() == Some("--call") {
        if let Err(e) = clients().await {
            eprintln!("{e}");
        }
    }
}
