//! Stage 2d: name the client module's own items.
//!
//! The client type, one trait per group of operations, the names it
//! re-exports the models' id types under, and for each operation its constant, its send method, its
//! request value and its response and error types. They share one scope
//! with what the module imports (`names::reserved`), so emit only
//! translates and nothing it writes can collide.

use crate::config::Settings;
use crate::model::{ClientItems, IdType, Operation, OperationItems, Trait};
use crate::names::reserved::{CLIENT_IMPORTS, MODEL_TYPES, RUNTIME_REEXPORTS};
use crate::names::Scope;

pub fn name_client(
    title: &str,
    settings: &Settings,
    ids: &[IdType],
    operations: &[Operation],
) -> ClientItems {
    let mut scope = Scope::default();
    for taken in MODEL_TYPES
        .iter()
        .chain(RUNTIME_REEXPORTS)
        .chain(CLIENT_IMPORTS)
    {
        scope.claim(taken);
    }
    let name = scope.claim("Client");

    // Traits first, in the order their groups first appear.
    let mut groups: Vec<&str> = Vec::new();
    let mut traits: Vec<Trait> = Vec::new();
    let mut trait_of = Vec::with_capacity(operations.len());
    for (index, op) in operations.iter().enumerate() {
        let position = match groups.iter().position(|g| *g == op.group) {
            Some(position) => position,
            None => {
                groups.push(&op.group);
                traits.push(Trait {
                    name: scope.claim(&op.group),
                    operations: Vec::new(),
                });
                traits.len() - 1
            }
        };
        traits[position].operations.push(index);
        trait_of.push(position);
    }

    // The models' id types, re-exported here: under their own names unless
    // a trait took the name first.
    let ids = ids
        .iter()
        .map(|id| IdType {
            name: scope.claim(&id.name),
            param: id.param.clone(),
        })
        .collect();

    // Send methods share the scope of the methods the operations already
    // claimed in resolve_operations (one scope for the whole client).
    let mut methods = Scope::default();
    for op in operations.iter() {
        methods.claim(&op.name);
    }
    let items = operations
        .iter()
        .zip(trait_of)
        .map(|(op, trait_index)| {
            let plural_successes = op.successes.len() > 1;
            let needs_response_type = match op.successes.as_slice() {
                [single] => !single.headers.is_empty(),
                [] => false,
                _ => true,
            };
            OperationItems {
                trait_index,
                constant: op.name.trim_start_matches("r#").to_ascii_uppercase(),
                send_method: methods.claim(&format!("send_{}", op.name.trim_start_matches("r#"))),
                builder: scope.claim(&op.type_name),
                request: scope.claim(&format!("{}Request", op.type_name)),
                response: needs_response_type
                    .then(|| scope.claim(&format!("{}Response", op.type_name))),
                per_status: if plural_successes {
                    op.successes
                        .iter()
                        .map(|o| {
                            (!o.headers.is_empty())
                                .then(|| scope.claim(&format!("{}{}", op.type_name, o.variant)))
                        })
                        .collect()
                } else {
                    Vec::new()
                },
                error: (!op.errors.is_empty())
                    .then(|| scope.claim(&format!("{}Error", op.type_name))),
            }
        })
        .collect();

    ClientItems {
        name,
        // Docs say "the {api_name} API": a title that ends in "API" would
        // say it twice.
        api_name: settings
            .api_name
            .unwrap_or(title)
            .trim()
            .trim_end_matches(" API")
            .to_owned(),
        traits,
        ids,
        operations: items,
    }
}
