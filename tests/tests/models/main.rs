//! The generated models: decoding properties, Klarna's examples and the
//! seed pages' payloads, the compact struct decoding. One test binary,
//! modules per subject.

mod decode_props;
mod payment_api_examples;
mod seed_examples;
mod struct_decoding;
mod typed_ids;
