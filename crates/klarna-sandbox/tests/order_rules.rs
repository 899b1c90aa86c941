//! Each rule of the sandbox, through the generated Order Management client:
//! what a merchant's code would see from Klarna.

use klarna_ordermanagement::models::{
    Address, CaptureObject, ExtendDueDateRequest, MerchantOrderDto, MerchantOrderDtoStatus,
    OrderLine, RefundObject, ShippingInfo, UpdateAuthorization, UpdateConsumer,
    UpdateMerchantReferences, UpdateShippingInfo,
};
use klarna_ordermanagement::{
    AppendShippingInfoError, CancelOrderError, CaptureId, CaptureOrderError, Captures, Client,
    Config, Credentials, ExtendAuthorizationTimeError, ExtendDueDateError, GetCaptureError,
    GetOrderError, GetRefundError, IdempotencyKey, OrderId, Orders, RefundId, RefundOrderError,
    Refunds, ReleaseRemainingAuthorizationError, TriggerSendOutError, UpdateAuthorizationError,
    UpdateConsumerDetailsError, UpdateMerchantReferencesError,
};
use klarna_sandbox::{physical_line, Allocation, NewOrder, Sandbox};

fn client(sandbox: &Sandbox) -> Client {
    Client::from_config(Config::with_base_url(
        sandbox.base_url(),
        Credentials::basic("K123456_test", "secret"),
    ))
    .unwrap()
}

fn t_shirt() -> OrderLine {
    physical_line("A12345", "T-shirt", 3000)
}
fn jeans() -> OrderLine {
    physical_line("A98765", "Jeans", 7000)
}
fn sneakers() -> OrderLine {
    physical_line("B24680", "Sneakers", 10000)
}

fn capture_of(lines: Vec<OrderLine>) -> CaptureObject {
    CaptureObject {
        captured_amount: lines.iter().map(|l| l.total_amount).sum(),
        order_lines: Some(lines),
        ..CaptureObject::new(0)
    }
}

fn capture_amount(amount: i64) -> CaptureObject {
    CaptureObject::new(amount)
}

fn refund_of(amount: i64, lines: Option<Vec<OrderLine>>) -> RefundObject {
    RefundObject {
        order_lines: lines,
        ..RefundObject::new(amount)
    }
}

/// Seed 003's order: T-shirt and jeans (shipped as capture A), sneakers
/// (capture B); 200.00 EUR.
fn seed_order(sandbox: &Sandbox) -> OrderId {
    OrderId::new(sandbox.add_order(NewOrder::with_lines(
        "EUR",
        vec![t_shirt(), jeans(), sneakers()],
    )))
}

async fn capture(client: &Client, order_id: &OrderId, body: &CaptureObject) -> CaptureId {
    client
        .capture_order(order_id, body)
        .await
        .unwrap()
        .capture_id
        .clone()
}

async fn order(client: &Client, order_id: &OrderId) -> MerchantOrderDto {
    client.get_order(order_id).await.unwrap().into_inner()
}

async fn refunded_on(client: &Client, order_id: &OrderId, capture_id: &CaptureId) -> Option<i64> {
    client
        .get_capture(order_id, capture_id)
        .await
        .unwrap()
        .refunded_amount
}

// ---------------------------------------------------------------------------
// Orders as seeded, and unknown ones
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_seeded_order_reads_back_authorized_with_its_lines() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.add_order(
        NewOrder::with_lines("SEK", vec![t_shirt(), jeans()])
            .order_id("order/1 ä")
            .merchant_reference1("10001"),
    );
    assert_eq!(id, "order/1 ä");
    let order = order(&client(&sandbox), &OrderId::new(&id)).await;
    assert_eq!(order.order_id.as_deref(), Some("order/1 ä"));
    assert_eq!(order.status, Some(MerchantOrderDtoStatus::Authorized));
    assert_eq!(order.order_amount, Some(10_000));
    assert_eq!(order.original_order_amount, Some(10_000));
    assert_eq!(order.captured_amount, Some(0));
    assert_eq!(order.refunded_amount, Some(0));
    assert_eq!(order.remaining_authorized_amount, Some(10_000));
    assert_eq!(order.purchase_currency.as_deref(), Some("SEK"));
    assert_eq!(order.order_lines, Some(vec![t_shirt(), jeans()]));
    assert_eq!(order.merchant_reference1.as_deref(), Some("10001"));
    assert_eq!(order.captures, Some(vec![]));
    assert_eq!(order.refunds, Some(vec![]));
    assert_eq!(Some(order), sandbox.order(&id));
}

#[tokio::test]
async fn an_unknown_order_is_no_such_order_everywhere() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let error = client
        .get_order(&OrderId::new("missing"))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(404));
    assert_eq!(error.error_code(), Some("NO_SUCH_ORDER"));
    assert!(matches!(error.api_body(), Some(GetOrderError::NotFound(_))));

    let error = client
        .capture_order(&OrderId::new("missing"), &capture_amount(100))
        .await
        .unwrap_err();
    match error.api_body() {
        Some(CaptureOrderError::NotFound(body)) => {
            assert_eq!(body.error_code.as_deref(), Some("NO_SUCH_ORDER"));
            assert!(body
                .correlation_id
                .as_deref()
                .is_some_and(|c| c.len() == 36));
            assert!(!body
                .error_messages
                .as_deref()
                .unwrap_or_default()
                .is_empty());
        }
        other => panic!("{other:?}"),
    }
    let error = client
        .refund_order(&OrderId::new("missing"), &refund_of(100, None))
        .await
        .unwrap_err();
    assert!(matches!(
        error.api_body(),
        Some(RefundOrderError::NotFound(_))
    ));
    let error = client
        .get_captures(&OrderId::new("missing"))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(404));
}

// ---------------------------------------------------------------------------
// Captures
// ---------------------------------------------------------------------------

#[tokio::test]
async fn captures_move_the_order_from_authorized_to_captured() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = seed_order(&sandbox);

    let created = client
        .capture_order(&id, &capture_of(vec![t_shirt(), jeans()]))
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let capture_a = created.capture_id.clone();
    assert_eq!(
        created.location,
        format!(
            "{}/ordermanagement/v1/orders/{id}/captures/{capture_a}",
            sandbox.base_url()
        )
    );
    let order_now = order(&client, &id).await;
    assert_eq!(order_now.status, Some(MerchantOrderDtoStatus::PartCaptured));
    assert_eq!(order_now.captured_amount, Some(10_000));
    assert_eq!(order_now.remaining_authorized_amount, Some(10_000));

    let capture_b = capture(&client, &id, &capture_of(vec![sneakers()])).await;
    let order_now = order(&client, &id).await;
    assert_eq!(order_now.status, Some(MerchantOrderDtoStatus::Captured));
    assert_eq!(order_now.captured_amount, Some(20_000));
    assert_eq!(order_now.remaining_authorized_amount, Some(0));

    let listed = client.get_captures(&id).await.unwrap();
    let ids: Vec<_> = listed
        .iter()
        .map(|c| CaptureId::new(c.capture_id.clone().unwrap()))
        .collect();
    assert_eq!(ids, [capture_a.clone(), capture_b]);
    let a = client.get_capture(&id, &capture_a).await.unwrap();
    assert_eq!(a.captured_amount, Some(10_000));
    assert_eq!(a.order_lines, Some(vec![t_shirt(), jeans()]));
    assert_eq!(a.refunded_amount, Some(0));
    assert_eq!(order_now.captures.as_deref(), Some(listed.as_slice()));
}

#[tokio::test]
async fn capturing_more_than_remains_is_capture_not_allowed_and_changes_nothing() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = seed_order(&sandbox);
    capture(&client, &id, &capture_amount(15_000)).await;
    let before = sandbox.order(&id);

    let error = client
        .capture_order(&id, &capture_amount(5_001))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(403));
    match error.api_body() {
        Some(CaptureOrderError::Forbidden(body)) => {
            assert_eq!(body.error_code.as_deref(), Some("CAPTURE_NOT_ALLOWED"));
            assert!(body.correlation_id.is_some());
            assert!(body.error_messages.as_ref().is_some_and(|m| m.len() == 1));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sandbox.order(&id), before);

    // Exactly what remains is fine.
    capture(&client, &id, &capture_amount(5_000)).await;
    assert_eq!(
        sandbox.order(&id).unwrap().status,
        Some(MerchantOrderDtoStatus::Captured)
    );
}

#[tokio::test]
async fn an_unknown_capture_is_not_found() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = seed_order(&sandbox);
    let error = client
        .get_capture(&id, &CaptureId::new("nope"))
        .await
        .unwrap_err();
    assert_eq!(error.error_code(), Some("NO_SUCH_CAPTURE"));
    assert!(matches!(
        error.api_body(),
        Some(GetCaptureError::NotFound(_))
    ));
    let error = client
        .trigger_send_out(&id, &CaptureId::new("nope"))
        .await
        .unwrap_err();
    assert!(matches!(
        error.api_body(),
        Some(TriggerSendOutError::NotFound(_))
    ));
    let error = client
        .extend_due_date(&id, &CaptureId::new("nope"), &ExtendDueDateRequest::new(14))
        .await
        .unwrap_err();
    assert!(matches!(
        error.api_body(),
        Some(ExtendDueDateError::NotFound(_))
    ));
    let error = client
        .get_options_for_extend_due_date(&id, &CaptureId::new("nope"))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(404));
    let error = client
        .append_shipping_info(&id, &CaptureId::new("nope"), &shipment("1"))
        .await
        .unwrap_err();
    assert!(matches!(
        error.api_body(),
        Some(AppendShippingInfoError::NotFound(_))
    ));
}

// ---------------------------------------------------------------------------
// Idempotency
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_repeated_idempotency_key_returns_the_first_result_and_creates_nothing() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = seed_order(&sandbox);
    let key = IdempotencyKey::from("shipment-1");

    let first = client
        .capture_order(&id, &capture_amount(3_000))
        .idempotency_key(key.clone())
        .await
        .unwrap();
    // Only the key decides: a different body with the same key is the same
    // request.
    let second = client
        .capture_order(&id, &capture_amount(9_000))
        .idempotency_key(key.clone())
        .await
        .unwrap();
    assert_eq!(second.status(), 201);
    assert_eq!(second.capture_id, first.capture_id);
    assert_eq!(second.location, first.location);
    let order_now = order(&client, &id).await;
    assert_eq!(order_now.captures.unwrap().len(), 1);
    assert_eq!(order_now.captured_amount, Some(3_000));

    // A new key is a new capture.
    let third = client
        .capture_order(&id, &capture_amount(3_000))
        .idempotency_key(IdempotencyKey::from("shipment-2"))
        .await
        .unwrap();
    assert_ne!(third.capture_id, first.capture_id);
    assert_eq!(order(&client, &id).await.captured_amount, Some(6_000));

    // Refunds too.
    let refund_key = IdempotencyKey::from("return-1");
    let r1 = client
        .refund_order(&id, &refund_of(1_000, None))
        .idempotency_key(refund_key.clone())
        .await
        .unwrap();
    let r2 = client
        .refund_order(&id, &refund_of(1_000, None))
        .idempotency_key(refund_key)
        .await
        .unwrap();
    assert_eq!(r1.refund_id, r2.refund_id);
    assert_eq!(order(&client, &id).await.refunded_amount, Some(1_000));

    // A refusal is the first result too: raising the amount does not make a
    // replayed over-capture succeed.
    let refused_key = IdempotencyKey::from("too-much");
    let error = client
        .capture_order(&id, &capture_amount(50_000))
        .idempotency_key(refused_key.clone())
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(403));
    let update = UpdateAuthorization::new(60_000);
    client.update_authorization(&id, &update).await.unwrap();
    let again = client
        .capture_order(&id, &capture_amount(50_000))
        .idempotency_key(refused_key)
        .await
        .unwrap_err();
    assert_eq!(again.error_code(), Some("CAPTURE_NOT_ALLOWED"));
    assert_eq!(order(&client, &id).await.captured_amount, Some(6_000));
}

// ---------------------------------------------------------------------------
// Refunds and their allocation (seed 003)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn refunding_the_sneakers_lands_on_capture_b() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = seed_order(&sandbox);
    let a = capture(&client, &id, &capture_of(vec![t_shirt(), jeans()])).await;
    let b = capture(&client, &id, &capture_of(vec![sneakers()])).await;

    let created = client
        .refund_order(&id, &refund_of(10_000, Some(vec![sneakers()])))
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let refund_id = created.refund_id.clone();
    assert_eq!(
        created.location,
        format!(
            "{}/ordermanagement/v1/orders/{id}/refunds/{refund_id}",
            sandbox.base_url()
        )
    );
    assert_eq!(refunded_on(&client, &id, &b).await, Some(10_000));
    assert_eq!(refunded_on(&client, &id, &a).await, Some(0));
    assert_eq!(
        sandbox.refund_allocation(&id, &refund_id),
        Some(Allocation::Capture(b.to_string().into()))
    );

    let refund = client.get_refund(&id, &refund_id).await.unwrap();
    assert_eq!(refund.refunded_amount, Some(10_000));
    assert_eq!(refund.order_lines, Some(vec![sneakers()]));
    let order_now = order(&client, &id).await;
    assert_eq!(order_now.refunded_amount, Some(10_000));
    assert_eq!(order_now.refunds, Some(vec![refund.into_inner()]));

    let error = client
        .get_refund(&id, &RefundId::new("nope"))
        .await
        .unwrap_err();
    assert!(matches!(
        error.api_body(),
        Some(GetRefundError::NotFound(_))
    ));
}

#[tokio::test]
async fn refunds_are_limited_to_the_captured_amount() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = seed_order(&sandbox);
    let error = client
        .refund_order(&id, &refund_of(1, None))
        .await
        .unwrap_err();
    match error.api_body() {
        Some(RefundOrderError::Forbidden(body)) => {
            assert_eq!(body.error_code.as_deref(), Some("REFUND_NOT_ALLOWED"));
        }
        other => panic!("{other:?}"),
    }
    capture(&client, &id, &capture_amount(5_000)).await;
    client
        .refund_order(&id, &refund_of(3_000, None))
        .await
        .unwrap();
    let error = client
        .refund_order(&id, &refund_of(2_001, None))
        .await
        .unwrap_err();
    assert_eq!(error.error_code(), Some("REFUND_NOT_ALLOWED"));
    client
        .refund_order(&id, &refund_of(2_000, None))
        .await
        .unwrap();
    assert_eq!(order(&client, &id).await.refunded_amount, Some(5_000));
}

/// Captures A and B of seed 003 on a fresh order: (sandbox, client, order,
/// capture A, capture B).
async fn two_captures() -> (Sandbox, Client, OrderId, CaptureId, CaptureId) {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = seed_order(&sandbox);
    let a = capture(&client, &id, &capture_of(vec![t_shirt(), jeans()])).await;
    let b = capture(&client, &id, &capture_of(vec![sneakers()])).await;
    (sandbox, client, id, a, b)
}

async fn refund_allocation(
    sandbox: &Sandbox,
    client: &Client,
    id: &OrderId,
    refund: &RefundObject,
) -> Allocation {
    let created = client.refund_order(id, refund).await.unwrap();
    sandbox.refund_allocation(id, &created.refund_id).unwrap()
}

#[tokio::test]
async fn a_refund_whose_lines_do_not_add_up_is_accepted_but_unallocated() {
    let (sandbox, client, id, a, b) = two_captures().await;
    let mut cheap = sneakers();
    cheap.total_amount = 9_000;
    let allocation = refund_allocation(
        &sandbox,
        &client,
        &id,
        &refund_of(10_000, Some(vec![cheap])),
    )
    .await;
    assert_eq!(allocation, Allocation::Unallocated);
    assert_eq!(refunded_on(&client, &id, &a).await, Some(0));
    assert_eq!(refunded_on(&client, &id, &b).await, Some(0));
    assert_eq!(order(&client, &id).await.refunded_amount, Some(10_000));
}

#[tokio::test]
async fn a_refund_without_lines_or_across_captures_is_unallocated() {
    let (sandbox, client, id, ..) = two_captures().await;
    assert_eq!(
        refund_allocation(&sandbox, &client, &id, &refund_of(3_000, None)).await,
        Allocation::Unallocated
    );

    let (sandbox, client, id, ..) = two_captures().await;
    let across = refund_of(13_000, Some(vec![t_shirt(), sneakers()]));
    assert_eq!(
        refund_allocation(&sandbox, &client, &id, &across).await,
        Allocation::Unallocated
    );

    let (sandbox, client, id, ..) = two_captures().await;
    let unknown = refund_of(3_000, Some(vec![physical_line("Z00000", "Hat", 3_000)]));
    assert_eq!(
        refund_allocation(&sandbox, &client, &id, &unknown).await,
        Allocation::Unallocated
    );
}

#[tokio::test]
async fn a_refund_larger_than_its_capture_is_unallocated() {
    let (sandbox, client, id, a, _) = two_captures().await;
    // The T-shirt line of capture A, but more than capture A's 100.00.
    let mut t_shirts = t_shirt();
    t_shirts.quantity = 4;
    t_shirts.total_amount = 12_000;
    let allocation = refund_allocation(
        &sandbox,
        &client,
        &id,
        &refund_of(12_000, Some(vec![t_shirts])),
    )
    .await;
    assert_eq!(allocation, Allocation::Unallocated);
    assert_eq!(refunded_on(&client, &id, &a).await, Some(0));
}

#[tokio::test]
async fn after_a_failed_allocation_no_refund_is_allocated() {
    let (sandbox, client, id, a, b) = two_captures().await;
    assert_eq!(
        refund_allocation(&sandbox, &client, &id, &refund_of(1_000, None)).await,
        Allocation::Unallocated
    );
    let matching = refund_of(10_000, Some(vec![sneakers()]));
    assert_eq!(
        refund_allocation(&sandbox, &client, &id, &matching).await,
        Allocation::Unallocated
    );
    assert_eq!(refunded_on(&client, &id, &a).await, Some(0));
    assert_eq!(refunded_on(&client, &id, &b).await, Some(0));
}

#[tokio::test]
async fn allocations_add_up_on_one_capture() {
    let (sandbox, client, id, a, b) = two_captures().await;
    for item in [t_shirt(), jeans()] {
        let allocation = refund_allocation(
            &sandbox,
            &client,
            &id,
            &refund_of(item.total_amount, Some(vec![item])),
        )
        .await;
        assert_eq!(allocation, Allocation::Capture(a.to_string().into()));
    }
    assert_eq!(refunded_on(&client, &id, &a).await, Some(10_000));
    assert_eq!(refunded_on(&client, &id, &b).await, Some(0));
}

// ---------------------------------------------------------------------------
// Update authorization (seed 004)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn updating_the_amount_replaces_amount_and_lines() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = seed_order(&sandbox);
    capture(&client, &id, &capture_of(vec![t_shirt()])).await;

    let update = UpdateAuthorization {
        description: Some("No sneakers after all".into()),
        order_lines: Some(vec![t_shirt(), jeans(), physical_line("C1", "Belt", 3_000)]),
        ..UpdateAuthorization::new(13_000)
    };
    let response = client.update_authorization(&id, &update).await.unwrap();
    assert_eq!(response.status(), 204);
    let order_now = order(&client, &id).await;
    assert_eq!(order_now.order_amount, Some(13_000));
    assert_eq!(order_now.original_order_amount, Some(20_000));
    assert_eq!(order_now.order_lines, update.order_lines);
    assert_eq!(order_now.remaining_authorized_amount, Some(10_000));
    assert_eq!(order_now.status, Some(MerchantOrderDtoStatus::PartCaptured));

    // No lines means none.
    let update = UpdateAuthorization::new(12_000);
    client.update_authorization(&id, &update).await.unwrap();
    let order_now = order(&client, &id).await;
    assert_eq!(order_now.order_lines, Some(vec![]));
    assert_eq!(order_now.order_amount, Some(12_000));

    // Down to exactly what is captured: the order is then fully captured.
    let update = UpdateAuthorization {
        order_lines: Some(vec![t_shirt()]),
        ..UpdateAuthorization::new(3_000)
    };
    client.update_authorization(&id, &update).await.unwrap();
    assert_eq!(
        order(&client, &id).await.status,
        Some(MerchantOrderDtoStatus::Captured)
    );
}

async fn refused_update(client: &Client, id: &OrderId, amount: i64) -> String {
    let update = UpdateAuthorization::new(amount);
    let error = client.update_authorization(id, &update).await.unwrap_err();
    assert_eq!(error.status(), Some(403));
    let Some(UpdateAuthorizationError::Forbidden(body)) = error.api_body() else {
        panic!("{error:?}");
    };
    assert!(body.correlation_id.is_some());
    body.error_code.clone().unwrap()
}

#[tokio::test]
async fn updating_the_amount_is_refused_by_the_rules_of_seed_004() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);

    let id = seed_order(&sandbox);
    assert_eq!(refused_update(&client, &id, -1).await, "NOT_ALLOWED");
    capture(&client, &id, &capture_amount(5_000)).await;
    refused_update(&client, &id, 4_999).await;
    let unchanged = sandbox.order(&id).unwrap();
    assert_eq!(unchanged.order_amount, Some(20_000));
    assert_eq!(unchanged.order_lines.map(|l| l.len()), Some(3));

    let fully = seed_order(&sandbox);
    capture(&client, &fully, &capture_amount(20_000)).await;
    refused_update(&client, &fully, 30_000).await;

    let cancelled = seed_order(&sandbox);
    client.cancel_order(&cancelled).await.unwrap();
    refused_update(&client, &cancelled, 10_000).await;

    let expired = seed_order(&sandbox);
    assert!(sandbox.expire_order(&expired));
    assert_eq!(
        order(&client, &expired).await.status,
        Some(MerchantOrderDtoStatus::Expired)
    );
    refused_update(&client, &expired, 10_000).await;
    assert_eq!(sandbox.order(&expired).unwrap().order_amount, Some(20_000));
}

// ---------------------------------------------------------------------------
// Cancel, release, extend
// ---------------------------------------------------------------------------

#[tokio::test]
async fn cancel_only_with_nothing_captured() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = seed_order(&sandbox);
    assert_eq!(client.cancel_order(&id).await.unwrap().status(), 204);
    let order_now = order(&client, &id).await;
    assert_eq!(order_now.status, Some(MerchantOrderDtoStatus::Cancelled));
    assert_eq!(order_now.remaining_authorized_amount, Some(0));
    let error = client
        .capture_order(&id, &capture_amount(1))
        .await
        .unwrap_err();
    assert_eq!(error.error_code(), Some("CAPTURE_NOT_ALLOWED"));
    let error = client.cancel_order(&id).await.unwrap_err();
    assert!(matches!(
        error.api_body(),
        Some(CancelOrderError::Forbidden(_))
    ));

    let captured = seed_order(&sandbox);
    capture(&client, &captured, &capture_amount(1_000)).await;
    let error = client.cancel_order(&captured).await.unwrap_err();
    match error.api_body() {
        Some(CancelOrderError::Forbidden(body)) => {
            assert_eq!(body.error_code.as_deref(), Some("CANCEL_NOT_ALLOWED"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        order(&client, &captured).await.status,
        Some(MerchantOrderDtoStatus::PartCaptured)
    );
}

#[tokio::test]
async fn releasing_the_rest_ends_capturing() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = seed_order(&sandbox);
    let error = client
        .release_remaining_authorization(&id)
        .await
        .unwrap_err();
    assert!(matches!(
        error.api_body(),
        Some(ReleaseRemainingAuthorizationError::Forbidden(_))
    ));
    capture(&client, &id, &capture_amount(5_000)).await;
    let released = client.release_remaining_authorization(&id).await.unwrap();
    assert_eq!(released.status(), 204);
    let order_now = order(&client, &id).await;
    assert_eq!(order_now.status, Some(MerchantOrderDtoStatus::Captured));
    assert_eq!(order_now.remaining_authorized_amount, Some(0));
    assert_eq!(order_now.order_amount, Some(20_000));
    let error = client
        .capture_order(&id, &capture_amount(1))
        .await
        .unwrap_err();
    assert_eq!(error.error_code(), Some("CAPTURE_NOT_ALLOWED"));
}

#[tokio::test]
async fn extending_the_authorization_moves_expires_at() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = seed_order(&sandbox);
    let before = order(&client, &id).await.expires_at.unwrap();
    assert_eq!(
        client
            .extend_authorization_time(&id)
            .await
            .unwrap()
            .status(),
        204
    );
    let after = order(&client, &id).await.expires_at.unwrap();
    // RFC 3339 UTC timestamps of the same shape order as text.
    assert_eq!(before.len(), after.len());
    assert!(after > before, "{before} -> {after}");

    sandbox.expire_order(&id);
    let error = client.extend_authorization_time(&id).await.unwrap_err();
    assert!(matches!(
        error.api_body(),
        Some(ExtendAuthorizationTimeError::Forbidden(_))
    ));

    let captured = seed_order(&sandbox);
    capture(&client, &captured, &capture_amount(20_000)).await;
    let error = client
        .extend_authorization_time(&captured)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(403));
}

// ---------------------------------------------------------------------------
// Shipping, send-out, due dates
// ---------------------------------------------------------------------------

fn shipment(tracking: &str) -> UpdateShippingInfo {
    UpdateShippingInfo {
        shipping_info: vec![ShippingInfo {
            shipping_company: Some("DHL US".into()),
            tracking_number: Some(tracking.into()),
            ..ShippingInfo::default()
        }],
    }
}

#[tokio::test]
async fn shipping_info_is_appended_to_the_order_and_to_captures() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = seed_order(&sandbox);
    let a = capture(&client, &id, &capture_of(vec![t_shirt(), jeans()])).await;

    for tracking in ["1", "2"] {
        let response = client
            .append_order_shipping_info(&id, &shipment(tracking))
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    }
    let tracking: Vec<_> = order(&client, &id)
        .await
        .shipping_info
        .unwrap()
        .into_iter()
        .map(|s| s.tracking_number.unwrap())
        .collect();
    assert_eq!(tracking, ["1", "2"]);

    client
        .append_shipping_info(&id, &a, &shipment("A-1"))
        .await
        .unwrap();
    let info = client
        .get_capture(&id, &a)
        .await
        .unwrap()
        .into_inner()
        .shipping_info;
    assert_eq!(info, Some(shipment("A-1").shipping_info));

    let error = client
        .append_order_shipping_info(&OrderId::new("missing"), &shipment("x"))
        .await
        .unwrap_err();
    assert_eq!(error.error_code(), Some("NO_SUCH_ORDER"));
}

#[tokio::test]
async fn send_out_and_due_date_extension() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = seed_order(&sandbox);
    let a = capture(&client, &id, &capture_of(vec![t_shirt(), jeans()])).await;

    assert_eq!(sandbox.send_out_count(&id, &a), Some(0));
    let sent = client.trigger_send_out(&id, &a).await.unwrap();
    assert_eq!(sent.status(), 204);
    assert_eq!(sandbox.send_out_count(&id, &a), Some(1));

    let options = client
        .get_options_for_extend_due_date(&id, &a)
        .await
        .unwrap();
    assert_eq!(options.currency.as_deref(), Some("EUR"));
    let days: Vec<i32> = options
        .options
        .clone()
        .unwrap()
        .iter()
        .map(|o| o.number_of_days.unwrap())
        .collect();
    assert!(days.contains(&14), "{days:?}");
    assert!(options
        .options
        .as_ref()
        .unwrap()
        .iter()
        .all(|o| o.amount.is_some()));

    let extended = client
        .extend_due_date(&id, &a, &ExtendDueDateRequest::new(14))
        .await
        .unwrap();
    assert_eq!(extended.status(), 204);
    assert_eq!(sandbox.due_date_extension_days(&id, &a), Some(14));

    let error = client
        .extend_due_date(&id, &a, &ExtendDueDateRequest::new(13))
        .await
        .unwrap_err();
    assert!(matches!(
        error.api_body(),
        Some(ExtendDueDateError::Forbidden(_))
    ));

    let everything = refund_of(10_000, Some(vec![t_shirt(), jeans()]));
    client.refund_order(&id, &everything).await.unwrap();
    let error = client
        .extend_due_date(&id, &a, &ExtendDueDateRequest::new(7))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(403), "a fully refunded capture");
    assert_eq!(sandbox.due_date_extension_days(&id, &a), Some(14));
}

// ---------------------------------------------------------------------------
// References, customer details, acknowledge
// ---------------------------------------------------------------------------

#[tokio::test]
async fn merchant_references_overwrite_only_what_is_sent() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = sandbox.add_order(
        NewOrder::new(1_000, "EUR")
            .merchant_reference1("10001")
            .merchant_reference2("501"),
    );
    let id = OrderId::new(id);
    let update = UpdateMerchantReferences {
        merchant_reference1: None,
        merchant_reference2: Some("ERP-77".into()),
    };
    let response = client
        .update_merchant_references(&id, &update)
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let order_now = order(&client, &id).await;
    assert_eq!(order_now.merchant_reference1.as_deref(), Some("10001"));
    assert_eq!(order_now.merchant_reference2.as_deref(), Some("ERP-77"));

    client.cancel_order(&id).await.unwrap();
    let error = client
        .update_merchant_references(&id, &update)
        .await
        .unwrap_err();
    assert!(matches!(
        error.api_body(),
        Some(UpdateMerchantReferencesError::Forbidden(_))
    ));
}

#[tokio::test]
async fn customer_details_replace_the_shipping_address() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let billing = Address {
        given_name: Some("Klara".into()),
        city: Some("Knoxville".into()),
        ..Address::default()
    };
    let id = OrderId::new(sandbox.add_order(NewOrder::new(1_000, "USD").address(billing.clone())));
    let moved = Address {
        given_name: Some("Klara".into()),
        city: Some("Nashville".into()),
        ..Address::default()
    };
    let update = UpdateConsumer {
        shipping_address: Some(moved.clone()),
    };
    let response = client.update_consumer_details(&id, &update).await.unwrap();
    assert_eq!(response.status(), 204);
    let order_now = order(&client, &id).await;
    assert_eq!(order_now.shipping_address, Some(moved));
    assert_eq!(order_now.billing_address, Some(billing));

    sandbox.close_order(&id);
    let error = client
        .update_consumer_details(&id, &update)
        .await
        .unwrap_err();
    assert!(matches!(
        error.api_body(),
        Some(UpdateConsumerDetailsError::Forbidden(_))
    ));
}

#[tokio::test]
async fn acknowledge_marks_the_order() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = seed_order(&sandbox);
    assert_eq!(sandbox.is_acknowledged(&id), Some(false));
    let response = client.acknowledge_order(&id).await.unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(sandbox.is_acknowledged(&id), Some(true));
    let error = client
        .acknowledge_order(&OrderId::new("missing"))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(404));
}
