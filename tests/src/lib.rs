//! Test support for the workspace: the fixture documents' generated models,
//! compiled here so that tests can use them (see `build.rs`), a loopback
//! HTTP server that records requests and plays canned responses, what the
//! client tests that use it share, and JSON pointers for the property tests.

pub mod client_support;
pub mod json_pointers;
pub mod server;

/// Types generated from the documents in `tests/fixtures/`.
pub mod fixtures {
    /// From `fixtures/quirks.yaml`.
    pub mod quirks {
        include!(concat!(env!("OUT_DIR"), "/quirks.rs"));
    }
    /// From `fixtures/composition.yaml`.
    pub mod composition {
        include!(concat!(env!("OUT_DIR"), "/composition.rs"));
    }
    /// From `fixtures/containers.yaml`.
    pub mod containers {
        include!(concat!(env!("OUT_DIR"), "/containers.rs"));
    }
    /// From `fixtures/recursive.yaml`.
    pub mod recursive {
        include!(concat!(env!("OUT_DIR"), "/recursive.rs"));
    }
    /// From `fixtures/collisions.yaml`: its client, with the models in
    /// `collisions::models`.
    pub mod collisions {
        include!(concat!(env!("OUT_DIR"), "/collisions_client.rs"));
        pub mod models {
            include!(concat!(env!("OUT_DIR"), "/collisions.rs"));
        }
    }
    /// From `fixtures/mixed_responses.yaml`: its client, with the models in
    /// `mixed_responses::models`.
    pub mod mixed_responses {
        include!(concat!(env!("OUT_DIR"), "/mixed_responses_client.rs"));
        pub mod models {
            include!(concat!(env!("OUT_DIR"), "/mixed_responses.rs"));
        }
    }
}
