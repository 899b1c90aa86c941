//! The Hosted Payment Page v1: sessions that host a Klarna Payments session
//! or a Checkout order already created here, their distribution by e-mail or
//! SMS (recorded, not sent), disabling, and a sandbox-only completion that
//! plays the buyer on the hosted page: for a Klarna Payments session it
//! approves the purchase and the HPP session carries the authorization
//! token; for a Checkout order it completes the order (with the merchant's
//! callbacks, `checkout.rs`) and the HPP session carries the order id, as
//! the HPP document says.

use std::collections::BTreeMap;

use klarna_models::hpp::{
    DistributionRequestV1, SessionCreationRequestV1, SessionCreationResponseV1, SessionId,
    SessionResponseV1, SessionResponseV1Status,
};
use serde::Serialize;

use crate::http::{Request, Response};
use crate::orders::error;
use crate::util::{now, path_segments, rfc3339, uuid_v4, DAY};

pub(crate) const PREFIX: &str = "/hpp/v1/sessions";
/// `POST /sandbox/hpp/v1/sessions/{session_id}/complete`.
pub(crate) const COMPLETION_PREFIX: &str = "/sandbox/hpp/v1/sessions/";
const MAX_SESSIONS: usize = 100_000;

/// What an HPP session hosts, from its `payment_session_url`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Hosted {
    PaymentsSession(String),
    CheckoutOrder(String),
}

struct Session {
    hosted: Hosted,
    status: SessionResponseV1Status,
    authorization_token: Option<String>,
    order_id: Option<String>,
    distributions: usize,
    expires_at: String,
    updated_at: String,
}

pub(crate) struct Hpp {
    sessions: BTreeMap<String, Session>,
}

/// What a request under the HPP prefixes asks the router to do.
pub(crate) enum Handled {
    Answer(Response),
    /// The sandbox-only completion of a session hosting this.
    Complete(String, Hosted),
}

impl Hpp {
    pub(crate) fn new() -> Self {
        Hpp {
            sessions: BTreeMap::new(),
        }
    }

    pub(crate) fn session(&self, session_id: &str) -> Option<SessionResponseV1> {
        let session = self.sessions.get(session_id)?;
        Some(SessionResponseV1 {
            session_id: Some(SessionId::new(session_id)),
            status: Some(session.status.clone()),
            authorization_token: session.authorization_token.clone(),
            order_id: session.order_id.clone(),
            expires_at: Some(session.expires_at.clone()),
            updated_at: Some(session.updated_at.clone()),
            ..SessionResponseV1::default()
        })
    }

    /// What a session still waiting for the buyer hosts.
    pub(crate) fn waiting(&self, session_id: &str) -> Option<Hosted> {
        self.sessions
            .get(session_id)
            .filter(|s| s.status == SessionResponseV1Status::Waiting)
            .map(|s| s.hosted.clone())
    }

    pub(crate) fn distributions(&self, session_id: &str) -> Option<usize> {
        self.sessions.get(session_id).map(|s| s.distributions)
    }

    /// `exists(hosted)` says whether the hosted session or order is known.
    pub(crate) fn handle(
        &mut self,
        request: &Request,
        base_url: &str,
        exists: impl Fn(&Hosted) -> bool,
    ) -> Handled {
        if request.header("authorization").is_none() {
            return Handled::Answer(error(401, "UNAUTHORIZED", "Send HTTP Basic credentials."));
        }
        if let Some(rest) = request.path.strip_prefix(COMPLETION_PREFIX) {
            return match path_segments(rest, 2).as_deref() {
                Ok([id, complete]) if complete == "complete" && request.method == "POST" => {
                    match self.sessions.get(id) {
                        Some(s) if s.status == SessionResponseV1Status::Waiting => {
                            Handled::Complete(id.clone(), s.hosted.clone())
                        }
                        Some(_) => Handled::Answer(error(
                            400,
                            "NOT_WAITING",
                            "The session was completed or disabled.",
                        )),
                        None => Handled::Answer(not_found()),
                    }
                }
                _ => Handled::Answer(error(404, "NOT_FOUND", "No such operation.")),
            };
        }
        let rest = request.path.strip_prefix(PREFIX).unwrap_or("x");
        if rest.is_empty() {
            return Handled::Answer(match request.method.as_str() {
                "POST" => self.create(request, base_url, exists),
                _ => error(404, "NOT_FOUND", "No such operation."),
            });
        }
        let segments = match rest.strip_prefix('/').map(|rest| path_segments(rest, 2)) {
            Some(Ok(segments)) => segments,
            _ => return Handled::Answer(error(404, "NOT_FOUND", "No such operation.")),
        };
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        Handled::Answer(match (request.method.as_str(), segments.as_slice()) {
            ("GET", [id]) => match self.session(id) {
                Some(session) => json(200, &session),
                None => not_found(),
            },
            ("DELETE", [id]) => self.disable(id),
            ("POST", [id, "distribution"]) => self.distribute(id, request),
            _ => error(404, "NOT_FOUND", "No such operation."),
        })
    }

    fn create(
        &mut self,
        request: &Request,
        base_url: &str,
        exists: impl Fn(&Hosted) -> bool,
    ) -> Response {
        let body: SessionCreationRequestV1 = match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(e) => {
                return error(
                    400,
                    "BAD_VALUE",
                    format!("The request does not decode: {e}"),
                )
            }
        };
        let Some(hosted) = hosted(&body.payment_session_url).filter(|h| exists(h)) else {
            return error(
                400,
                "BAD_VALUE",
                "payment_session_url names no Klarna Payments session or Checkout order of this sandbox.",
            );
        };
        if self.sessions.len() >= MAX_SESSIONS {
            return error(
                429,
                "TOO_MANY_REQUESTS",
                "The sandbox holds 100 000 HPP sessions.",
            );
        }
        let id = uuid_v4();
        let expires_at = rfc3339(now() + 2 * DAY);
        self.sessions.insert(
            id.clone(),
            Session {
                hosted,
                status: SessionResponseV1Status::Waiting,
                authorization_token: None,
                order_id: None,
                distributions: 0,
                expires_at: expires_at.clone(),
                updated_at: rfc3339(now()),
            },
        );
        let created = SessionCreationResponseV1 {
            session_id: Some(SessionId::new(id.clone())),
            session_url: Some(format!("{base_url}{PREFIX}/{id}")),
            redirect_url: Some(format!("{base_url}/sandbox/hpp/pay/{id}")),
            distribution_url: Some(format!("{base_url}{PREFIX}/{id}/distribution")),
            expires_at: Some(expires_at),
            ..SessionCreationResponseV1::default()
        };
        json(201, &created)
    }

    fn disable(&mut self, id: &str) -> Response {
        let Some(session) = self.sessions.get_mut(id) else {
            return not_found();
        };
        if session.status == SessionResponseV1Status::Completed {
            return error(
                400,
                "ALREADY_COMPLETED",
                "HPP session has already been completed.",
            );
        }
        session.status = SessionResponseV1Status::Disabled;
        session.updated_at = rfc3339(now());
        Response::empty(204)
    }

    fn distribute(&mut self, id: &str, request: &Request) -> Response {
        if let Err(e) = serde_json::from_slice::<DistributionRequestV1>(&request.body) {
            return error(
                400,
                "BAD_VALUE",
                format!("The request does not decode: {e}"),
            );
        }
        let Some(session) = self.sessions.get_mut(id) else {
            return not_found();
        };
        if session.status == SessionResponseV1Status::Disabled {
            return error(400, "DISABLED", "The session is disabled by the merchant.");
        }
        session.distributions += 1;
        Response::empty(204)
    }

    /// Records the outcome of the buyer's completion.
    pub(crate) fn completed(
        &mut self,
        id: &str,
        authorization_token: Option<String>,
        order_id: Option<String>,
    ) {
        if let Some(session) = self.sessions.get_mut(id) {
            session.status = if authorization_token.is_some() || order_id.is_some() {
                SessionResponseV1Status::Completed
            } else {
                SessionResponseV1Status::Failed
            };
            session.authorization_token = authorization_token;
            session.order_id = order_id;
            session.updated_at = rfc3339(now());
        }
    }
}

/// The session or order a `payment_session_url` names.
fn hosted(url: &str) -> Option<Hosted> {
    let path = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest.find('/').map_or("", |at| &rest[at..]));
    let id = |prefix: &str| {
        path.strip_prefix(prefix)
            .filter(|id| !id.is_empty() && !id.contains('/'))
            .map(str::to_owned)
    };
    id("/payments/v1/sessions/")
        .map(Hosted::PaymentsSession)
        .or_else(|| id("/checkout/v3/orders/").map(Hosted::CheckoutOrder))
}

fn json(status: u16, body: &impl Serialize) -> Response {
    Response::json(status, serde_json::to_vec(body).unwrap_or_default())
}

fn not_found() -> Response {
    error(
        404,
        "NOT_FOUND",
        "HPP session has expired or could not be found by provided id.",
    )
}
