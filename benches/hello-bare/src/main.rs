//! Reads one order from Klarna's European playground with reqwest alone:
//! `KLARNA_USERNAME=... KLARNA_PASSWORD=... hello-bare ORDER_ID`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    #[cfg(feature = "aws-lc-rs")]
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let _ = provider.install_default();

    let order_id = std::env::args()
        .nth(1)
        .ok_or("usage: hello-bare ORDER_ID")?;
    let body = reqwest::Client::new()
        .get(format!(
            "https://api.playground.klarna.com/ordermanagement/v1/orders/{order_id}"
        ))
        .basic_auth(
            std::env::var("KLARNA_USERNAME")?,
            Some(std::env::var("KLARNA_PASSWORD")?),
        )
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let order: serde_json::Value = serde_json::from_slice(&body)?;
    println!("{order_id}: {}", order["status"]);
    Ok(())
}
