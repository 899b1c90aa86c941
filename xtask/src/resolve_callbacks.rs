//! Stage 2f: set apart the operations whose path is a callback name.
//!
//! Some documents describe what the API calls on the caller's side, not
//! what the caller calls: Klarna's merchant-URL documents have one "path"
//! each, `/merchant_urls.validation`, which names the `validation` property
//! of the document's own `merchant_urls` model, the URL the merchant gives
//! and Klarna POSTs to. Such an operation is not a route of the API's host,
//! so it must not become a client method; it becomes a handler the caller
//! implements (`emit_callbacks`).
//!
//! The rule, general and checked against the document itself: a path of
//! one segment that is a dotted property path (`object.property`, each
//! part a snake-case identifier) whose last part is a property of some
//! component schema. A route such as `/openapi.json` is left alone: no
//! model has a property `json`.

use std::path::Path;

use openapiv3::{OpenAPI, ReferenceOr};

use crate::error::{Error, Pointer, Result};
use crate::model::{Callback, CallbackDeadline, Operation};

/// Whether `path` names a URL property of the document's models.
pub fn is_callback_name(api: &OpenAPI, path: &str) -> bool {
    let Some(name) = path.strip_prefix('/') else {
        return false;
    };
    let parts: Vec<&str> = name.split('.').collect();
    let identifier = |part: &&str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    if parts.len() < 2 || !parts.iter().all(identifier) {
        return false;
    }
    let property = parts[parts.len() - 1];
    let Some(components) = &api.components else {
        return false;
    };
    components.schemas.values().any(|schema| match schema {
        ReferenceOr::Item(schema) => match &schema.schema_kind {
            openapiv3::SchemaKind::Type(openapiv3::Type::Object(object)) => {
                object.properties.contains_key(property)
            }
            _ => false,
        },
        ReferenceOr::Reference { .. } => false,
    })
}

/// The extension that gives a callback's deadline:
/// `{seconds: 3, seconds_when_required: 10, required_by: options.flag}`.
const DEADLINE_EXTENSION: &str = "x-klarna-callback-deadline";

/// Splits `operations` into the client's operations and the callbacks.
pub fn split(
    file: &Path,
    api: &OpenAPI,
    operations: Vec<Operation>,
) -> Result<(Vec<Operation>, Vec<Callback>)> {
    // The operation's path holds the servers' base path; the document's does not.
    let base = crate::resolve_operations::base_path(api);
    let mut client = Vec::new();
    let mut callbacks = Vec::new();
    for operation in operations {
        let path = operation
            .path_template
            .strip_prefix(base.as_str())
            .unwrap_or(&operation.path_template)
            .to_owned();
        if !is_callback_name(api, &path) {
            client.push(operation);
            continue;
        }
        let property = path.trim_start_matches('/').to_owned();
        let name = property.rsplit('.').next().unwrap_or(&property).to_owned();
        let deadline = deadline(file, api, &path, &operation.method)?;
        callbacks.push(Callback {
            operation,
            property,
            name,
            deadline,
        });
    }
    Ok((client, callbacks))
}

fn deadline(
    file: &Path,
    api: &OpenAPI,
    path: &str,
    method: &str,
) -> Result<Option<CallbackDeadline>> {
    let at = Pointer::root()
        .join("paths")
        .join(path)
        .join(method.to_ascii_lowercase())
        .join(DEADLINE_EXTENSION);
    let Some(ReferenceOr::Item(item)) = api.paths.paths.get(path) else {
        return Ok(None);
    };
    let Some((_, operation)) = item.iter().find(|(m, _)| m.eq_ignore_ascii_case(method)) else {
        return Ok(None);
    };
    let Some(value) = operation.extensions.get(DEADLINE_EXTENSION) else {
        return Ok(None);
    };
    let refuse = || {
        Error::at(
            file,
            at.as_str(),
            "takes {seconds: N, seconds_when_required: N, required_by: dotted.name}",
        )
    };
    let object = value.as_object().ok_or_else(refuse)?;
    if object
        .keys()
        .any(|k| !["seconds", "seconds_when_required", "required_by"].contains(&k.as_str()))
    {
        return Err(refuse());
    }
    let seconds = object
        .get("seconds")
        .and_then(|v| v.as_u64())
        .ok_or_else(refuse)?;
    let seconds_when_required = match object.get("seconds_when_required") {
        Some(v) => Some(v.as_u64().ok_or_else(refuse)?),
        None => None,
    };
    let required_by = match object.get("required_by") {
        Some(v) => Some(v.as_str().ok_or_else(refuse)?.to_owned()),
        None => None,
    };
    if seconds_when_required.is_some() != required_by.is_some() {
        return Err(refuse());
    }
    Ok(Some(CallbackDeadline {
        seconds,
        seconds_when_required,
        required_by,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(properties: &str) -> OpenAPI {
        let text = format!(
            r#"{{"openapi":"3.0.3","info":{{"title":"t","version":"1"}},"paths":{{}},
            "components":{{"schemas":{{"Urls":{{"type":"object","properties":{properties}}}}}}}}}"#
        );
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn a_dotted_name_of_a_model_property_is_a_callback() {
        let api = document(r#"{"validation":{"type":"string"}}"#);
        assert!(is_callback_name(&api, "/merchant_urls.validation"));
        // Routes, and dotted names no model holds, are not.
        assert!(!is_callback_name(&api, "/merchant_urls/validation"));
        assert!(!is_callback_name(&api, "/openapi.json"));
        assert!(!is_callback_name(&api, "/validation"));
        assert!(!is_callback_name(&api, "/Merchant_urls.validation"));
        assert!(!is_callback_name(&api, "/orders/{id}.validation"));
    }
}
