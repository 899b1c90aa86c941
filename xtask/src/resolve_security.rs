//! Part of stage 2b: what an operation of a document of others sends to
//! prove who calls, from the document's `securitySchemes` and the
//! `security` of the operation (or, when it has none, of the document).
//!
//! Klarna's APIs do not go through here: their credentials are decided in
//! `config.rs` and sent on every call.

use std::path::Path;

use openapiv3::{APIKeyLocation, OpenAPI, SecurityScheme};

use crate::error::{Error, Pointer, Result};
use crate::model::{SchemeKind, SecurityUse};
use crate::refs;

/// The alternatives of `operation`'s security, each the schemes sent
/// together; `None` when the document declares no security for it.
pub fn security_of(
    file: &Path,
    api: &OpenAPI,
    operation: &openapiv3::Operation,
    at: &Pointer,
) -> Result<Option<Vec<Vec<SecurityUse>>>> {
    let (requirements, requirements_at) = match (&operation.security, &api.security) {
        (Some(own), _) => (own, at.join("security")),
        (None, Some(global)) => (global, Pointer::root().join("security")),
        (None, None) => return Ok(None),
    };
    let schemes = api.components.as_ref().map(|c| &c.security_schemes);
    let declared = |name: &str| schemes.is_some_and(|schemes| schemes.contains_key(name));
    let mut alternatives = Vec::new();
    for (i, requirement) in requirements.iter().enumerate() {
        // A requirement naming a scheme the document never declares cannot be
        // sent as written. Published documents do this (Klarna's Order
        // Management document requires `basicAuth` and declares only
        // `Basic-authorization`), so such a requirement is passed over rather
        // than refusing the whole document; with none left, the operation
        // sends the credentials the caller configured, as for a document
        // without `security`.
        if requirement.keys().any(|name| !declared(name)) {
            continue;
        }
        let mut uses = Vec::new();
        for name in requirement.keys() {
            let name_at = requirements_at.join(i).join(name);
            let reference = openapiv3::ReferenceOr::Reference {
                reference: format!(
                    "#/components/securitySchemes/{}",
                    name.replace('~', "~0").replace('/', "~1")
                ),
            };
            let (scheme, _) = refs::follow(file, &reference, "securitySchemes", schemes, &name_at)?;
            let scheme_at = Pointer::root()
                .join("components")
                .join("securitySchemes")
                .join(name);
            uses.push(SecurityUse {
                scheme: name.clone(),
                kind: kind_of(file, scheme, &scheme_at)?,
            });
        }
        alternatives.push(uses);
    }
    if alternatives.is_empty() && !requirements.is_empty() {
        return Ok(None);
    }
    Ok(Some(alternatives))
}

fn kind_of(file: &Path, scheme: &SecurityScheme, at: &Pointer) -> Result<SchemeKind> {
    Ok(match scheme {
        SecurityScheme::APIKey { location, name, .. } => match location {
            APIKeyLocation::Header => SchemeKind::HeaderKey(name.clone()),
            APIKeyLocation::Query => SchemeKind::QueryKey(name.clone()),
            APIKeyLocation::Cookie => SchemeKind::CookieKey(name.clone()),
        },
        SecurityScheme::HTTP { scheme, .. } => match scheme.to_ascii_lowercase().as_str() {
            "basic" => SchemeKind::Basic,
            "bearer" => SchemeKind::Bearer,
            other => {
                return Err(Error::at(
                    file,
                    at.join("scheme").as_str(),
                    format!(
                    "HTTP authentication scheme `{other}` is not supported (only basic and bearer)"
                ),
                ))
            }
        },
        // The client takes the access token; getting one is the caller's
        // business (the flows are the authorization server's, not this API's).
        SecurityScheme::OAuth2 { .. } | SecurityScheme::OpenIDConnect { .. } => SchemeKind::Bearer,
    })
}
