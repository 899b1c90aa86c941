//! A webhook receiver against the sandbox, end to end:
//!
//! 1. creates a signing key and a webhook with the generated Notification
//!    API client, keeping the key's secret for verification;
//! 2. drives a payment request from SUBMITTED through PENDING_CONFIRMATION
//!    to AUTHORIZED with the Payment API client;
//! 3. receives the three events on its own loopback listener, verifies each
//!    signature before reading the body, deduplicates by `event_id`, and
//!    acknowledges with 200.
//!
//! `cargo run -p klarna-sandbox --example webhook-receiver`

// The end-to-end tests use all of the receiver, this example only part.
#[allow(dead_code)]
mod receiver;

use std::error::Error;
use std::time::Duration;

use klarna_models::payment_api::webhooks::{
    SigningKeys, PAYMENT_REQUEST_AUTHORIZED, PAYMENT_REQUEST_PENDING_CONFIRMATION,
    PAYMENT_REQUEST_SUBMITTED,
};
use klarna_payments::notifications::models::{EventType, EventVersion, WebhookData};
use klarna_payments::notifications::{self, WebhookSigningKeys, Webhooks};
use klarna_payments::payment_api::models::{PaymentConfirmation, PaymentRequestData};
use klarna_payments::payment_api::{self, Config, Credentials, PaymentRequests};
use klarna_sandbox::Sandbox;
use receiver::Receiver;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let sandbox = Sandbox::start()?;
    // Both APIs live on the same host and take the same credentials; each
    // has a client of its own, here on one connection pool.
    let payments = payment_api::Client::from_config(Config::with_base_url(
        sandbox.base_url(),
        Credentials::api_key("demo-api-key", "krn:partner:account:demo"),
    ))?;
    let notifications = notifications::Client::from_runtime(payments.runtime().clone())?;

    // The secret is shown once: keep it where the receiver finds it.
    let key = notifications.create_signing_key().await?;
    let receiver = Receiver::start(SigningKeys::new().with(&key.signing_key_id, &key.signing_key))?;
    let event_types = [
        PAYMENT_REQUEST_SUBMITTED,
        PAYMENT_REQUEST_PENDING_CONFIRMATION,
        PAYMENT_REQUEST_AUTHORIZED,
    ]
    .map(EventType::from)
    .to_vec();
    let webhook = WebhookData::new(
        receiver.url(),
        event_types,
        EventVersion::V1,
        &key.signing_key_id,
    );
    let webhook = notifications.create_webhook(&webhook).await?;
    println!("webhook {} -> {}", webhook.webhook_id, webhook.url);

    let purchase = PaymentRequestData {
        merchant_reference: Some("webhook-demo-1".into()),
        ..PaymentRequestData::new("EUR", 2_500)
    };
    let request = payments.create_payment_request(&purchase).await?;
    let token = sandbox
        .authorize_payment_request(&request.payment_request_id)
        .ok_or("the sandbox refused to play the buyer")?;
    let confirmation = PaymentConfirmation::new("EUR", 2_500);
    payments
        .confirm_payment_request(&token, &confirmation)
        .await?;

    if !receiver.wait_until(Duration::from_secs(10), |r| r.events.len() >= 3) {
        return Err("fewer than three events arrived within 10 s".into());
    }
    receiver.received(|received| {
        for event in &received.events {
            let change = event.payload.payment_request_state_change();
            println!(
                "verified {} ({}): {} -> {}",
                event.metadata.event_type,
                event.metadata.event_id,
                change
                    .and_then(|c| c.previous_state.as_ref())
                    .map_or("-", |s| s.as_str()),
                change.map_or("?", |c| c.state.as_str()),
            );
        }
        println!(
            "{} duplicates, {} refused",
            received.duplicates.len(),
            received.refused.len()
        );
    });
    Ok(())
}
