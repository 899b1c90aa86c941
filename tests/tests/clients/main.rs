//! The generated clients against loopback servers, the mock transport and
//! fakes: every operation, the edges (redirects, refusals, outages), retries,
//! and the guides end to end against the sandbox. One test binary, modules
//! per subject. (The tracing test stays a binary of its own: see its docs.)

mod capture_smoke;
mod checkout_sandbox;
mod edges;
mod fake_client;
mod guides_end_to_end;
mod hpp_cards_sandbox;
mod mock;
mod notifications_client;
mod ordermanagement_client;
mod payment_api_client;
mod payments_client;
mod retries;
mod settlements_paging;
