//! Reads one order from Klarna's European playground:
//! `KLARNA_USERNAME=... KLARNA_PASSWORD=... hello-klarna ORDER_ID`.

use klarna_ordermanagement::{Client, Credentials, Environment, OrderId, Orders, Region};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let order_id = OrderId::new(
        std::env::args()
            .nth(1)
            .ok_or("usage: hello-klarna ORDER_ID")?,
    );
    let client = Client::new(
        Region::Europe,
        Environment::Playground,
        Credentials::from_env()?,
    )?;
    let order = client.get_order(&order_id).await?;
    println!(
        "{order_id}: {:?}, {:?} left to capture",
        order.status, order.remaining_authorized_amount
    );
    Ok(())
}
