//! The generator: its output pinned by snapshots, broken and mutated
//! documents, name collisions, the fixtures' types, spec evolution, the
//! gateway's own OpenAPI document. One test binary (modules per subject),
//! so the workspace links a few binaries instead of one per file.

mod broken_specs;
mod discriminator_props;
mod fixture_types;
mod gateway_openapi;
mod generated_output;
mod generator_props;
mod name_collisions;
mod openapi31;
mod request_bodies;
mod security_schemes;
mod spec_evolution;
mod wire_conformance;
