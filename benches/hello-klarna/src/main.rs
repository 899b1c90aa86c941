//! Reads one order from Klarna's European playground:
//! `KLARNA_USERNAME=... KLARNA_PASSWORD=... hello-klarna ORDER_ID`.

use klarna_ordermanagement::Orders;
use klarna_runtime::{Client, Config, Environment, Region};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let order_id = std::env::args()
        .nth(1)
        .ok_or("usage: hello-klarna ORDER_ID")?;
    let client = Client::new(Config::from_env(Region::Europe, Environment::Playground)?)?;
    let order = client.get_order(&order_id, None).await?;
    println!(
        "{order_id}: {:?}, {:?} left to capture",
        order.status, order.remaining_authorized_amount
    );
    Ok(())
}
