//! What `cargo xtask codegen` generates from which spec. Per-API choices live
//! here, not in the stages.

pub struct ApiConfig {
    /// The document, relative to the workspace root.
    pub spec: &'static str,
    /// What the document does not say about the API, for resolve and emit.
    pub settings: Settings,
    /// The module of `klarna-models`, and the cargo feature that enables it.
    pub module: &'static str,
    /// The crate the generated client goes into.
    pub client_crate: &'static str,
    /// `None`: the client is the crate's root (`src/lib.rs`). `Some(m)`: it
    /// is module `m` of a crate whose root is another API's client, so that
    /// one crate can serve two of Klarna's APIs side by side.
    pub client_module: Option<&'static str>,
    /// Whether `klarna-gateway` exposes the API's operations as tools (and
    /// so depends on its client crate).
    pub in_gateway: bool,
}

/// A hand-written module that a generated file declares, so that helpers
/// written by people sit in the same crate as the generated code they build
/// on, without anyone editing a generated file.
pub struct HandWrittenModule {
    /// The generated file that declares it, relative to the workspace root.
    pub declared_in: &'static str,
    pub module: &'static str,
    /// The crate feature that compiles it in, when it is optional.
    pub feature: Option<&'static str>,
}

/// Facts about one API that its document does not state, decided here and
/// passed down through resolve and emit, so that no stage holds a Klarna
/// special case of its own.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// What the documentation calls the API, without the word "API"
    /// ("Order Management", "Payment"); `None`: the document's title.
    pub api_name: Option<&'static str>,
    /// The header parameter that carries idempotency keys. Operations that
    /// declare it get an `idempotency_key` setter, the client fills one in
    /// when the caller sets none, and the `operations::*` constant names the
    /// header for the runtime. `None`: no header is treated that way.
    pub idempotency_header: Option<&'static str>,
    /// The runtime crate the generated code calls, as a Rust path.
    pub runtime: &'static str,
    /// The credentials the generated client's constructors take.
    pub auth: Auth,
    /// Where the API lives, for the generated client's constructors.
    pub hosts: Hosts,
    /// Path parameters whose snake-case name ends with this suffix get an id
    /// type of their own (`order_id` gives `OrderId`), so that two ids of
    /// different things cannot be swapped in a call. `None`: plain strings.
    pub id_suffix: Option<&'static str>,
    /// The client names its API after the document (`Client::for_api`):
    /// errors say "Petstore answered 422" and requests carry the generated
    /// crate's name and version as `User-Agent`. `false`: Klarna's wording
    /// and this SDK's `User-Agent`.
    pub names_itself: bool,
    /// The API is among those that moved from Klarna to Kustom for Checkout
    /// merchants (Checkout, Order Management, Settlements, HPP): its client
    /// also gets a `kustom(environment, credentials)` constructor for
    /// Kustom's hosts (`klarna_runtime::Kustom`).
    pub kustom: bool,
}

/// The credentials an API takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// Whatever the caller configures (documents we did not write).
    Any,
    /// HTTP Basic: a merchant account's API username and password.
    Basic,
    /// An API key and a partner account.
    ApiKey,
}

/// The hosts an API is served from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hosts {
    /// Only the caller knows: the client is built from a base URL.
    Any,
    /// One host per region and environment (`klarna_runtime::Region`).
    Regional,
    /// One global host, `klarna_runtime::PAYMENT_API_BASE_URL`.
    Global,
}

/// The header Klarna's APIs take idempotency keys in.
const KLARNA_IDEMPOTENCY_HEADER: &str = "Klarna-Idempotency-Key";

impl Settings {
    /// For a document given to `cargo xtask generate`: nothing is assumed
    /// beyond what the document says, except the general id rule.
    pub const FOREIGN: Settings = Settings {
        api_name: None,
        idempotency_header: None,
        runtime: "klarna_runtime",
        auth: Auth::Any,
        hosts: Hosts::Any,
        id_suffix: Some("_id"),
        names_itself: true,
        kustom: false,
    };

    /// One of Klarna's APIs, as our specs describe them.
    const fn klarna(api_name: &'static str, auth: Auth, hosts: Hosts) -> Settings {
        Settings {
            api_name: Some(api_name),
            idempotency_header: Some(KLARNA_IDEMPOTENCY_HEADER),
            runtime: "klarna_runtime",
            auth,
            hosts,
            id_suffix: Some("_id"),
            names_itself: false,
            kustom: false,
        }
    }

    /// Also served from Kustom's hosts.
    const fn on_kustom(self) -> Settings {
        Settings {
            kustom: true,
            ..self
        }
    }
}

pub const APIS: &[ApiConfig] = &[
    ApiConfig {
        spec: "specs/ordermanagement.yaml",
        settings: Settings::klarna("Order Management", Auth::Basic, Hosts::Regional).on_kustom(),
        module: "ordermanagement",
        client_crate: "crates/klarna-ordermanagement",
        client_module: None,
        in_gateway: true,
    },
    ApiConfig {
        spec: "specs/payments.yaml",
        settings: Settings::klarna("Klarna Payments", Auth::Basic, Hosts::Regional),
        module: "payments",
        client_crate: "crates/klarna-payments",
        client_module: None,
        in_gateway: true,
    },
    ApiConfig {
        spec: "specs/payment-api.yaml",
        settings: Settings::klarna("Payment", Auth::ApiKey, Hosts::Global),
        module: "payment_api",
        client_crate: "crates/klarna-payments",
        client_module: Some("payment_api"),
        in_gateway: true,
    },
    // The Notification API (webhooks and their signing keys) shares the
    // Payment API's host and credentials, so its client sits beside it.
    ApiConfig {
        spec: "specs/notifications.yaml",
        settings: Settings::klarna("Notification", Auth::ApiKey, Hosts::Global),
        module: "notifications",
        client_crate: "crates/klarna-payments",
        client_module: Some("notifications"),
        in_gateway: true,
    },
    // Settlements (payouts, their transactions, reports) has a crate of its
    // own: the finance team that reconciles payouts does not run the
    // checkout, so it depends on this client alone, without the Payments
    // and Payment API clients and their models.
    ApiConfig {
        spec: "specs/settlements.yaml",
        settings: Settings::klarna("Settlements", Auth::Basic, Hosts::Regional).on_kustom(),
        module: "settlements",
        client_crate: "crates/klarna-settlements",
        client_module: None,
        in_gateway: true,
    },
    // Checkout v3 and the handlers of its merchant callbacks: a crate of its
    // own, because a Checkout merchant (Klarna's or, since the move, Kustom's)
    // runs neither Klarna Payments nor the Payment API, and the callbacks'
    // serving layer (axum, behind a feature) is theirs alone. Not in the
    // gateway: the gateway serves order handling after the purchase, the
    // purchase itself runs on the merchant's own server.
    ApiConfig {
        spec: "specs/checkout.yaml",
        settings: Settings::klarna("Checkout", Auth::Basic, Hosts::Regional).on_kustom(),
        module: "checkout",
        client_crate: "crates/klarna-checkout",
        client_module: None,
        in_gateway: false,
    },
    // The Hosted Payment Page hosts a Klarna Payments session or a Checkout
    // order, so either kind of merchant adopts it: a small crate of its own
    // rather than a module of one of the two (which would make the other
    // kind compile the first's client and models).
    ApiConfig {
        spec: "specs/hpp.yaml",
        settings: Settings::klarna("Hosted Payment Page", Auth::Basic, Hosts::Regional).on_kustom(),
        module: "hpp",
        client_crate: "crates/klarna-hpp",
        client_module: None,
        in_gateway: false,
    },
    // Virtual cards (Merchant Card Service) serve merchants who settle
    // orders with cards they charge themselves (travel, marketplaces),
    // alongside either checkout: a crate of their own.
    ApiConfig {
        spec: "specs/merchantcard.yaml",
        settings: Settings::klarna("Merchant Card Service", Auth::Basic, Hosts::Regional),
        module: "merchantcard",
        client_crate: "crates/klarna-merchantcard",
        client_module: None,
        in_gateway: false,
    },
];

pub const HAND_WRITTEN_MODULES: &[HandWrittenModule] = &[
    HandWrittenModule {
        declared_in: "crates/klarna-ordermanagement/src/lib.rs",
        module: "guides",
        // On by default; off, the crate compiles in about half the time.
        feature: Some("guides"),
    },
    // `klarna_runtime::mock` under each client crate's `test-util` feature,
    // so a user's tests name `klarna_ordermanagement::mock::Mock`.
    HandWrittenModule {
        declared_in: "crates/klarna-ordermanagement/src/lib.rs",
        module: "mock",
        feature: Some("test-util"),
    },
    HandWrittenModule {
        declared_in: "crates/klarna-payments/src/lib.rs",
        module: "mock",
        feature: Some("test-util"),
    },
    HandWrittenModule {
        declared_in: "crates/klarna-settlements/src/lib.rs",
        module: "mock",
        feature: Some("test-util"),
    },
    // The callbacks' serving layer: an axum `Router` over the generated
    // `callbacks::dispatch`, for a merchant's server to mount.
    HandWrittenModule {
        declared_in: "crates/klarna-checkout/src/lib.rs",
        module: "serve",
        feature: Some("server"),
    },
    HandWrittenModule {
        declared_in: "crates/klarna-checkout/src/lib.rs",
        module: "mock",
        feature: Some("test-util"),
    },
    HandWrittenModule {
        declared_in: "crates/klarna-hpp/src/lib.rs",
        module: "mock",
        feature: Some("test-util"),
    },
    HandWrittenModule {
        declared_in: "crates/klarna-merchantcard/src/lib.rs",
        module: "mock",
        feature: Some("test-util"),
    },
    HandWrittenModule {
        declared_in: "crates/klarna-models/src/payment_api.rs",
        module: "webhooks",
        feature: None,
    },
];

/// Whether `klarna-runtime` of this generator's version is on crates.io.
/// While it is not, `cargo xtask generate` outside this checkout has no
/// runtime that builds by default: it asks for `--runtime` instead of
/// writing a dependency that cargo cannot find. Set it to `true` in the
/// release that publishes the runtime.
pub const RUNTIME_PUBLISHED: bool = false;

pub const MODELS_CRATE_DIR: &str = "crates/klarna-models";

/// The operation table of `klarna-gateway`, generated from every API above.
pub const GATEWAY_TOOLS_FILE: &str = "crates/klarna-gateway/src/tools.rs";
