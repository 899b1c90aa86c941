//! Stage 2: a loaded document to the intermediate model.
//!
//! `resolve_types` names and resolves the component schemas, then
//! `resolve_operations` the paths (naming the inline schemas they hold),
//! `settle` decides what the types can derive and where recursion needs a
//! `Box`, `resolve_ids` the id types and what carries them, and
//! `resolve_client` names the client's own items; `resolve_callbacks` sets
//! apart the operations whose path names a callback, not a route. After this stage every
//! name is final.

use crate::config::{Auth, Settings};
use crate::error::Result;
use crate::load::Document;
use crate::model::Api;
use crate::resolve_callbacks;
use crate::resolve_client::name_client;
use crate::resolve_ids::name_ids;
use crate::resolve_operations::OperationResolver;
use crate::resolve_paging;
use crate::resolve_types::TypeResolver;
use crate::settle::settle;
use crate::tags::settle_tags;

pub fn resolve(doc: &Document, settings: &Settings) -> Result<Api> {
    let empty = Default::default();
    let schemas = doc.api.components.as_ref().map_or(&empty, |c| &c.schemas);
    let mut types = TypeResolver::new(&doc.path, schemas);
    types.resolve_components()?;
    let mut resolver =
        OperationResolver::new(&doc.path, &doc.api, &mut types, settings.idempotency_header);
    // Klarna's credentials are set in `config.rs`; others come from the
    // document's `securitySchemes`.
    if settings.auth == Auth::Any {
        resolver = resolver.with_document_security();
    }
    let operations = resolver.resolve_all(&doc.api)?;
    // Callbacks are resolved like operations (their bodies name the same
    // models), then kept apart: the caller serves them, it does not call them.
    let (mut operations, mut callbacks) =
        resolve_callbacks::split(&doc.path, &doc.api, operations)?;
    let (mut types, order) = types.finish();
    settle_tags(&mut types);
    settle(&doc.path, &mut types)?;
    for operation in &operations {
        resolve_paging::check(&doc.path, &types, operation)?;
    }
    let ids = name_ids(settings, &mut types, &mut operations, &mut callbacks);
    let client = name_client(&doc.api.info.title, settings, &ids, &operations);
    Ok(Api {
        title: doc.api.info.title.clone(),
        description: doc.api.info.description.clone(),
        settings: *settings,
        types,
        order,
        operations,
        callbacks,
        ids,
        client,
    })
}
