//! The callbacks' serving layer (feature `server`): an axum [`Router`] built
//! from a [`Callbacks`] handler, for a merchant's server to mount or
//! `nest` where its `merchant_urls` point.
//!
//! Each callback is `POST /{name}` (`/validation`, `/address_update`,
//! `/shipping_option_update`, `/country_change`, `/push`, as in
//! [`CALLBACKS`]), so with the router nested at `/klarna` the merchant URLs
//! are `https://shop.example/klarna/validation` and so on; the push URL
//! carries the order id as `?order_id={checkout.order.id}`.
//!
//! Deadlines: Klarna waits a documented time for a callback's answer (3 s
//! for validation, 10 s when the order sets
//! `options.require_validate_callback_success`). A handler that has not
//! answered by [`Serve::margin`] before then is dropped, and the router
//! answers as Klarna would act on silence, but in time, so that the outcome
//! is the same one every time and the buyer is not kept waiting: for an
//! order that does not require a validation answer, Klarna goes ahead, so
//! the router accepts (200); for one that does, Klarna fails the purchase,
//! so the router refuses with `approval_failed`, which keeps the buyer in
//! the checkout with a message instead.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use klarna_runtime::callback::Reply;

use crate::callbacks::{dispatch, Callbacks, CALLBACKS};

/// The largest callback body read: a checkout order of 1000 lines is well
/// below it.
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// A [`Router`] serving `handler`'s callbacks, with the default margin.
pub fn router<H: Callbacks + 'static>(handler: H) -> Router {
    Serve::new(handler).router()
}

/// The serving layer's settings around one handler.
pub struct Serve<H> {
    handler: Arc<H>,
    margin: Duration,
}

/// The longest [`Serve::margin`]: half the shortest deadline (3 s).
pub const MAX_MARGIN: Duration = Duration::from_millis(1500);

impl<H: Callbacks + 'static> Serve<H> {
    pub fn new(handler: H) -> Self {
        Serve {
            handler: Arc::new(handler),
            margin: Duration::from_millis(500),
        }
    }

    /// How long before Klarna's deadline the router answers for a handler
    /// that is still busy (default 500 ms: the network's share). At most
    /// [`MAX_MARGIN`]: a margin as long as the deadline (3 s) would leave
    /// the handler no time at all and answer every validation for it.
    pub fn margin(mut self, margin: Duration) -> Self {
        self.margin = margin.min(MAX_MARGIN);
        self
    }

    pub fn router(self) -> Router {
        let state = Arc::new(self);
        Router::new()
            .route("/{callback}", post(serve::<H>))
            .with_state(state)
    }
}

async fn serve<H: Callbacks + 'static>(
    State(serve): State<Arc<Serve<H>>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let Some(callback) = CALLBACKS.iter().find(|c| c.name == name) else {
        return into_response(Reply::not_served());
    };
    if body.len() > MAX_BODY_BYTES {
        return into_response(Reply::empty(413));
    }
    let query = query.unwrap_or_default();
    let handler = serve.handler.as_ref();
    let answer = dispatch(handler, callback.name, &query, &body);
    let reply = match callback.deadline {
        None => answer.await,
        Some(deadline) => {
            let wait =
                Duration::from_secs(deadline.seconds_for(&body)).saturating_sub(serve.margin);
            match tokio::time::timeout(wait, answer).await {
                Ok(reply) => reply,
                Err(_) => Some(overrun(deadline.required(&body))),
            }
        }
    };
    into_response(reply.unwrap_or_else(Reply::not_served))
}

/// The answer for a handler past its deadline: what Klarna does on silence,
/// given in time (see the module's docs).
fn overrun(required: bool) -> Reply {
    if required {
        Reply::json(
            400,
            &crate::models::ShippingServiceErrorResponse::new(
                "approval_failed",
                "We could not confirm your order in time. Please try again.",
            ),
        )
    } else {
        Reply::empty(200)
    }
}

fn into_response(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match reply.body {
        Some(body) => {
            let mut response = Response::new(Body::from(body));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        None => Response::new(Body::empty()),
    };
    *response.status_mut() = status;
    if let Some(location) = reply.location {
        match HeaderValue::from_str(&location) {
            Ok(value) => {
                response.headers_mut().insert(header::LOCATION, value);
            }
            // A Location that cannot be a header value is the handler's
            // mistake: a 500 rather than a redirect to nowhere.
            Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }
    response
}
