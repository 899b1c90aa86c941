//! The guides' helpers against the local stand-in for Klarna
//! (`klarna-sandbox`), through the generated client: captures planned by
//! `partial_capture`, refunds built by `refund_allocation` landing on the
//! capture that shipped the goods, and amount updates by `amount_update`.

use klarna_ordermanagement::guides::amount_update::{
    update_order_amount, AmountUpdate, AmountUpdateError, NewOrderLines,
};
use klarna_ordermanagement::guides::order_lines::OrderLineBuilder;
use klarna_ordermanagement::guides::partial_capture::{capture_lines, PartialCaptureError};
use klarna_ordermanagement::guides::refund_allocation::{
    allocate_refund, allocate_refunds, refund_returned_items, RefundAllocationError,
    UnallocatedReason,
};
use klarna_ordermanagement::guides::LineQuantity;
use klarna_ordermanagement::models::{
    MerchantOrderDto, MerchantOrderDtoStatus, OrderLine, OrderLineType, RefundObject,
};
use klarna_ordermanagement::{
    CaptureId, Client, Config, Credentials, IdempotencyKey, OrderId, Orders, RefundId, Refunds,
};
use klarna_sandbox::{Allocation, NewOrder, Sandbox};

fn client(sandbox: &Sandbox) -> Client {
    Client::from_config(Config::with_base_url(
        sandbox.base_url(),
        Credentials::basic("K123456_test", "secret"),
    ))
    .unwrap()
}

fn item(reference: &str, name: &str, unit_price: i64) -> OrderLine {
    OrderLineBuilder::new(name, 1, unit_price)
        .reference(reference)
        .kind(OrderLineType::Physical)
        .tax_rate(2500)
        .build()
        .unwrap()
}

/// Seed 003's order: a T-shirt, jeans and sneakers.
fn seed_order(sandbox: &Sandbox) -> OrderId {
    sandbox.add_order(NewOrder::with_lines(
        "EUR",
        vec![
            item("A12345", "T-shirt", 3000),
            item("A98765", "Jeans", 7000),
            item("B24680", "Sneakers", 10000),
        ],
    ))
}

async fn fetch(client: &Client, order_id: &OrderId) -> MerchantOrderDto {
    client.get_order(order_id).await.unwrap().into_inner()
}

/// Ships the T-shirt and jeans (capture A), then the sneakers (capture B),
/// with the partial capture helper; returns the two capture ids.
async fn ship_in_two_parts(client: &Client, order_id: &OrderId) -> (CaptureId, CaptureId) {
    let order = fetch(client, order_id).await;
    let first = [
        LineQuantity::new("A12345", 1),
        LineQuantity::new("A98765", 1),
    ];
    let a = capture_lines(client, &order, &first, None).await.unwrap();

    let order = fetch(client, order_id).await;
    assert_eq!(order.status, Some(MerchantOrderDtoStatus::PartCaptured));
    assert_eq!(order.remaining_authorized_amount, Some(10000));
    // The T-shirt has shipped; asking for it again is refused before sending.
    let again = capture_lines(client, &order, &[LineQuantity::new("A12345", 1)], None)
        .await
        .unwrap_err();
    assert!(matches!(
        again.refused(),
        Some(PartialCaptureError::QuantityExceedsRemaining { .. })
    ));
    let b = capture_lines(client, &order, &[LineQuantity::new("B24680", 1)], None)
        .await
        .unwrap();

    (a.capture_id.clone(), b.capture_id.clone())
}

fn refunded_per_capture(order: &MerchantOrderDto) -> Vec<(CaptureId, Option<i64>)> {
    order
        .captures
        .iter()
        .flatten()
        .map(|c| (c.capture_id.clone().unwrap(), c.refunded_amount))
        .collect()
}

#[tokio::test]
async fn returned_sneakers_are_refunded_on_the_capture_that_shipped_them() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let order_id = seed_order(&sandbox);
    let (a, b) = ship_in_two_parts(&client, &order_id).await;

    let order = fetch(&client, &order_id).await;
    assert_eq!(order.status, Some(MerchantOrderDtoStatus::Captured));
    let sneakers = [LineQuantity::new("B24680", 1)];
    assert_eq!(
        allocate_refund(&order, &sneakers).unwrap().capture_id,
        Some(b.clone())
    );
    let key = IdempotencyKey::from(format!("{order_id}-return-1"));
    let created = refund_returned_items(&client, &order, &sneakers, Some(key))
        .await
        .unwrap();

    let refund_id: RefundId = created.refund_id.clone();
    assert_eq!(
        sandbox.refund_allocation(&order_id, &refund_id),
        Some(Allocation::Capture(b.clone()))
    );
    let order = fetch(&client, &order_id).await;
    assert_eq!(
        refunded_per_capture(&order),
        [(a, Some(0)), (b, Some(10000))]
    );
    let sent = client.get_refund(&order_id, &refund_id).await.unwrap();
    assert_eq!(sent.refunded_amount, Some(10000));
    let references: Vec<_> = sent
        .order_lines
        .iter()
        .flatten()
        .filter_map(|l| l.reference.as_deref())
        .collect();
    assert_eq!(references, ["B24680"]);

    // Returning the sneakers twice is refused before anything is sent.
    let twice = refund_returned_items(&client, &order, &sneakers, None)
        .await
        .unwrap_err();
    assert!(matches!(
        twice.refused(),
        Some(RefundAllocationError::ExceedsCapturedAmount { .. })
    ));
}

#[tokio::test]
async fn items_from_two_shipments_are_refunded_once_per_capture() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let order_id = seed_order(&sandbox);
    let (a, b) = ship_in_two_parts(&client, &order_id).await;

    let order = fetch(&client, &order_id).await;
    let returned = [
        LineQuantity::new("A12345", 1),
        LineQuantity::new("B24680", 1),
    ];
    let refused = refund_returned_items(&client, &order, &returned, None)
        .await
        .unwrap_err();
    let Some(RefundAllocationError::SpansCaptures { refunds }) = refused.refused() else {
        panic!("expected SpansCaptures, got {refused:?}");
    };
    assert_eq!(refunds, &allocate_refunds(&order, &returned).unwrap());

    for allocated in refunds {
        let created = client
            .refund_order(&order_id, &allocated.refund)
            .await
            .unwrap();
        let refund_id = created.refund_id.clone();
        assert_eq!(
            sandbox.refund_allocation(&order_id, &refund_id),
            Some(Allocation::Capture(allocated.capture_id.clone().unwrap()))
        );
    }
    let order = fetch(&client, &order_id).await;
    assert_eq!(
        refunded_per_capture(&order),
        [(a, Some(3000)), (b, Some(10000))]
    );
}

#[tokio::test]
async fn after_a_refund_without_lines_the_helper_and_the_stand_in_agree_nothing_allocates() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let order_id = seed_order(&sandbox);
    ship_in_two_parts(&client, &order_id).await;

    // A goodwill refund sent without order lines lands on the order.
    let goodwill = RefundObject {
        description: Some("Sorry for the delay".into()),
        ..RefundObject::new(500)
    };
    let created = client.refund_order(&order_id, &goodwill).await.unwrap();
    let goodwill_id = created.refund_id.clone();
    assert_eq!(
        sandbox.refund_allocation(&order_id, &goodwill_id),
        Some(Allocation::Unallocated)
    );

    let order = fetch(&client, &order_id).await;
    let sneakers = [LineQuantity::new("B24680", 1)];
    assert_eq!(
        allocate_refund(&order, &sneakers),
        Err(RefundAllocationError::EarlierRefundNotAllocated {
            refund_id: Some(goodwill_id.clone()),
            reason: UnallocatedReason::NoOrderLines,
        })
    );
    // Sent anyway, the refund that would otherwise allocate does not.
    let lines = item("B24680", "Sneakers", 10000);
    let anyway = RefundObject {
        order_lines: Some(vec![lines]),
        ..RefundObject::new(10000)
    };
    let created = client.refund_order(&order_id, &anyway).await.unwrap();
    let refund_id = created.refund_id.clone();
    assert_eq!(
        sandbox.refund_allocation(&order_id, &refund_id),
        Some(Allocation::Unallocated)
    );
}

#[tokio::test]
async fn amount_updates_choose_what_happens_to_the_lines() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let order_id = seed_order(&sandbox);

    // The customer drops the jeans before anything ships.
    let order = fetch(&client, &order_id).await;
    let kept = vec![
        item("A12345", "T-shirt", 3000),
        item("B24680", "Sneakers", 10000),
    ];
    let update =
        AmountUpdate::new(13000, NewOrderLines::Replace(kept.clone())).description("Jeans removed");
    update_order_amount(&client, &order, &update, None)
        .await
        .unwrap();
    let order = fetch(&client, &order_id).await;
    assert_eq!(order.order_amount, Some(13000));
    assert_eq!(order.order_lines, Some(kept));

    // Ship the sneakers; the order can no longer shrink below them.
    capture_lines(&client, &order, &[LineQuantity::new("B24680", 1)], None)
        .await
        .unwrap();
    let order = fetch(&client, &order_id).await;
    let below = AmountUpdate::new(9000, NewOrderLines::DeleteAll);
    let refused = update_order_amount(&client, &order, &below, None)
        .await
        .unwrap_err();
    assert_eq!(
        refused.refused(),
        Some(&AmountUpdateError::BelowCaptured {
            order_amount: 9000,
            captured_amount: 10000
        })
    );

    // Dropping the T-shirt too, with the lines deleted on purpose.
    let shrink = AmountUpdate::new(10000, NewOrderLines::DeleteAll);
    update_order_amount(&client, &order, &shrink, None)
        .await
        .unwrap();
    let order = fetch(&client, &order_id).await;
    assert_eq!(order.order_amount, Some(10000));
    assert_eq!(order.order_lines.as_deref().unwrap_or_default(), []);
    assert_eq!(order.status, Some(MerchantOrderDtoStatus::Captured));

    let fully_captured = update_order_amount(&client, &order, &shrink, None)
        .await
        .unwrap_err();
    assert_eq!(
        fully_captured.refused(),
        Some(&AmountUpdateError::FullyCaptured)
    );
}
