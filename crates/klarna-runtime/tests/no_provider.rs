//! Built with `client` alone (no `aws-lc-rs`, no `ring`): building a client
//! without a rustls provider installed is a clear configuration error, not
//! a panic inside reqwest. `.ci/run` runs it with `--features client`.
#![cfg(all(feature = "client", not(any(feature = "aws-lc-rs", feature = "ring"))))]

use klarna_runtime::{Client, Config, ConfigError, Credentials};

#[test]
fn a_client_without_a_crypto_provider_is_refused() {
    let config = Config::with_base_url(
        "https://klarna.invalid",
        Credentials::basic("PK0001", "secret"),
    );
    let error = Client::new(config).err().expect("no provider, no client");
    assert_eq!(error, ConfigError::NoCryptoProvider);
    assert!(error.to_string().contains("`aws-lc-rs`"), "{error}");
}
