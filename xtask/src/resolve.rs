//! Stage 2: a loaded document to the intermediate model.

use crate::error::Result;
use crate::load::Document;
use crate::model::Api;
use crate::resolve_types::TypeResolver;
use crate::settle::settle;

pub fn resolve(doc: &Document) -> Result<Api> {
    let empty = Default::default();
    let schemas = doc.api.components.as_ref().map_or(&empty, |c| &c.schemas);
    let mut resolver = TypeResolver::new(&doc.path, schemas);
    resolver.resolve_components()?;
    let (mut types, order) = resolver.finish();
    settle(&doc.path, &mut types)?;
    Ok(Api {
        title: doc.api.info.title.clone(),
        description: doc.api.info.description.clone(),
        types,
        order,
    })
}
