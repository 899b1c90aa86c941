//! The Hosted Payment Page and the Merchant Card Service through their
//! generated clients against the sandbox: every operation of each, and the
//! flows the documents describe (a hosted Klarna Payments session that the
//! buyer completes into an authorization; virtual cards promised, settled
//! and their order's cancellation asked for).

use klarna_hpp::models::{
    DistributionContactV1, DistributionRequestV1, DistributionRequestV1Method,
    SessionCreationRequestV1, SessionResponseV1Status,
};
use klarna_hpp::{Config, Credentials, Sessions};
use klarna_merchantcard::models::{CardSpecification, PromiseRequest, SettlementRequest};
use klarna_merchantcard::{Cards, RequestCancellationResponse};
use klarna_payments::models::{OrderLine, SessionCreate};
use klarna_payments::Sessions as _;
use klarna_sandbox::{physical_line, NewOrder, Sandbox};

fn credentials() -> Credentials {
    Credentials::basic("K123456_test", "secret")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hosted_payment_page_for_a_payments_session() {
    let sandbox = std::sync::Arc::new(Sandbox::start().unwrap());
    let config = || Config::with_base_url(sandbox.base_url(), credentials());
    let payments = klarna_payments::Client::from_config(config()).unwrap();
    let hpp = klarna_hpp::Client::from_config(config()).unwrap();

    let line = OrderLine::new("Tomatoes", 1, 600, 600);
    let session = payments
        .create_credit_session(&SessionCreate::new(600, vec![line], "SE", "SEK"))
        .await
        .unwrap()
        .into_inner();
    let session_url = format!(
        "{}/payments/v1/sessions/{}",
        sandbox.base_url(),
        session.session_id
    );
    let created = hpp
        .create_hpp_session(&SessionCreationRequestV1::new(session_url))
        .await
        .unwrap()
        .into_inner();
    let id = created.session_id.unwrap();
    assert!(created.redirect_url.is_some());

    let read = hpp.get_hpp_session(&id).await.unwrap();
    assert_eq!(read.status, Some(SessionResponseV1Status::Waiting));

    let by_mail = DistributionRequestV1::new(
        DistributionContactV1 {
            email: Some("buyer@example.com".into()),
            ..DistributionContactV1::default()
        },
        DistributionRequestV1Method::Email,
    );
    hpp.distribute_hpp_session(&id, &by_mail).await.unwrap();
    assert_eq!(sandbox.hpp_distributions(id.as_str()), Some(1));

    // The buyer pays on the hosted page: the session carries the authorization.
    let (sandbox2, id2) = (sandbox.clone(), id.as_str().to_owned());
    tokio::task::spawn_blocking(move || sandbox2.complete_hpp_session(&id2))
        .await
        .unwrap()
        .unwrap();
    let done = hpp.get_hpp_session(&id).await.unwrap().into_inner();
    assert_eq!(done.status, Some(SessionResponseV1Status::Completed));
    assert!(done.authorization_token.is_some());
    // A completed session cannot be disabled.
    let refused = hpp.disable_hpp_session(&id).await.unwrap_err();
    assert_eq!(refused.status(), Some(400));

    // A page that names nothing of this sandbox is refused.
    let nowhere = SessionCreationRequestV1::new("https://api.klarna.com/payments/v1/sessions/none");
    assert_eq!(
        hpp.create_hpp_session(&nowhere).await.unwrap_err().status(),
        Some(400)
    );

    // Another session for the same payment, disabled before the buyer comes.
    let again = payments
        .create_credit_session(&SessionCreate::new(
            600,
            vec![OrderLine::new("Tomatoes", 1, 600, 600)],
            "SE",
            "SEK",
        ))
        .await
        .unwrap()
        .into_inner();
    let url = format!(
        "{}/payments/v1/sessions/{}",
        sandbox.base_url(),
        again.session_id
    );
    let other = hpp
        .create_hpp_session(&SessionCreationRequestV1::new(url))
        .await
        .unwrap()
        .into_inner()
        .session_id
        .unwrap();
    hpp.disable_hpp_session(&other).await.unwrap();
    let disabled = hpp.get_hpp_session(&other).await.unwrap().into_inner();
    assert_eq!(disabled.status, Some(SessionResponseV1Status::Disabled));
    assert!(hpp.distribute_hpp_session(&other, &by_mail).await.is_err());
}

#[tokio::test]
async fn virtual_cards_promised_settled_and_cancelled() {
    let sandbox = Sandbox::start().unwrap();
    let order_id = sandbox.add_order(NewOrder::with_lines(
        "EUR",
        vec![physical_line("T1", "Ticket", 25000)],
    ));
    let cards = klarna_merchantcard::Client::from_config(Config::with_base_url(
        sandbox.base_url(),
        credentials(),
    ))
    .unwrap();
    let card_order = klarna_merchantcard::OrderId::new(order_id.as_str());

    let promise = cards
        .create_promise(&PromiseRequest::new(
            card_order.clone(),
            vec![CardSpecification::new(25000, "EUR", "flight-1")],
        ))
        .await
        .unwrap()
        .into_inner();
    let promise_id = promise.promise_id.unwrap();
    let read = cards.read_promise(&promise_id).await.unwrap().into_inner();
    assert_eq!(read.cards.unwrap()[0].amount, 25000);

    let settlement = cards
        .settle_promise(&SettlementRequest {
            promise_id: Some(promise_id.clone()),
            ..SettlementRequest::new(card_order.clone(), "key-1")
        })
        .await
        .unwrap()
        .into_inner();
    let settlement_id = settlement.settlement_id.clone().unwrap();
    let card = &settlement.cards.as_ref().unwrap()[0];
    assert_eq!(card.amount, Some(25000));
    assert!(card.pci_data.as_deref().unwrap().contains("key-1"));
    let by_id = cards
        .read_settlement(&settlement_id, "key-1")
        .await
        .unwrap();
    let by_order = cards
        .read_settlement_by_order_id(&card_order, "key-1")
        .await
        .unwrap();
    assert_eq!(*by_id, *by_order);

    // Cancellation: queued first, cancelled when asked again.
    let first = cards
        .request_cancellation(&card_order)
        .await
        .unwrap()
        .into_inner();
    assert!(
        matches!(first, RequestCancellationResponse::Accepted(_)),
        "{first:?}"
    );
    let status = cards.get_cancellation(&card_order).await.unwrap();
    assert!(format!("{status:?}").contains("Pending"), "{status:?}");
    let second = cards
        .request_cancellation(&card_order)
        .await
        .unwrap()
        .into_inner();
    assert!(
        matches!(second, RequestCancellationResponse::Ok(_)),
        "{second:?}"
    );

    // An order without a card settlement has nothing to cancel.
    let plain = sandbox.add_order(NewOrder::new(1000, "EUR"));
    let error = cards
        .request_cancellation(&klarna_merchantcard::OrderId::new(plain.as_str()))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(404));
}
