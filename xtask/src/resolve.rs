//! Stage 2: a loaded document to the intermediate model.

use crate::error::Result;
use crate::load::Document;
use crate::model::Api;
use crate::resolve_operations::OperationResolver;
use crate::resolve_types::TypeResolver;
use crate::settle::settle;

/// `idempotency_header` names the header parameter that carries an
/// idempotency key; operations that declare it get a key argument that the
/// client fills in when the caller does not.
pub fn resolve(doc: &Document, idempotency_header: Option<&str>) -> Result<Api> {
    let empty = Default::default();
    let schemas = doc.api.components.as_ref().map_or(&empty, |c| &c.schemas);
    let mut types = TypeResolver::new(&doc.path, schemas);
    types.resolve_components()?;
    let operations = OperationResolver::new(&doc.path, &doc.api, &mut types, idempotency_header)
        .resolve_all(&doc.api)?;
    let (mut types, order) = types.finish();
    settle(&doc.path, &mut types)?;
    Ok(Api {
        title: doc.api.info.title.clone(),
        description: doc.api.info.description.clone(),
        types,
        order,
        operations,
    })
}
