//! What the APIs on Klarna's global host (the Payment API and the
//! Notification API) do before and after their routes, alike: the API key
//! and partner account are required, and the first answer to an
//! idempotency key is replayed, per partner account and resource.

use std::time::Instant;

use crate::http::{Request, Response};
use crate::util::Replays;

/// First answers to idempotency keys, per (partner account, resource), by
/// (method, path, key).
pub(crate) type KeyedReplays = Replays<(String, String), (String, String, String), Response>;

/// A request's idempotency key where it lives in [`KeyedReplays`].
pub(crate) type Slot = ((String, String), (String, String, String));

/// The answer of an API's own error shape for a status, code and message.
pub(crate) type ErrorFn = fn(u16, &str, String) -> Response;

/// Checks the credentials and looks the idempotency key up: `Err` is the
/// answer (401 without credentials, the replayed first answer, or 429 when
/// the resource holds as many keys as it may); `Ok` is the partner account
/// and the slot to [`keep`] the route's answer in. `resource` is the id
/// the path names (`""` for a collection).
pub(crate) fn admit(
    replays: &mut KeyedReplays,
    request: &Request,
    resource: &str,
    now: Instant,
    error: ErrorFn,
) -> Result<(String, Option<Slot>), Response> {
    let api_key = request.header("authorization").filter(|v| !v.is_empty());
    let account = request
        .header("klarna-partner-account")
        .filter(|v| !v.is_empty());
    let (Some(_), Some(account)) = (api_key, account) else {
        return Err(error(
            401,
            "UNAUTHORIZED",
            "Send an API key in Authorization and the partner account in \
             Klarna-Partner-Account; the sandbox accepts any non-empty values."
                .to_owned(),
        ));
    };
    let slot = request
        .header("klarna-idempotency-key")
        .filter(|_| request.method != "GET")
        .map(|key| {
            let scope = (account.to_owned(), resource.to_owned());
            let key = (request.method.clone(), request.path.clone(), key.to_owned());
            (scope, key)
        });
    if let Some((scope, key)) = &slot {
        if let Some(response) = replays.get(scope, key, now) {
            return Err(response.clone());
        }
        if replays.is_full(scope) {
            return Err(error(
                429,
                "TOO_MANY_REQUESTS",
                format!(
                    "This resource already has {} idempotency keys inside their retention; \
                     the sandbox takes no new one rather than forget one.",
                    replays.per_resource()
                ),
            ));
        }
    }
    Ok((account.to_owned(), slot))
}

/// Remembers the route's answer for its idempotency key. A 404 is not
/// remembered: nothing happened, and unknown ids must not fill the memory.
pub(crate) fn keep(
    replays: &mut KeyedReplays,
    slot: Option<Slot>,
    response: &Response,
    now: Instant,
) {
    if let Some((scope, key)) = slot {
        if response.status != 404 {
            replays.remember(scope, key, response.clone(), now);
        }
    }
}
