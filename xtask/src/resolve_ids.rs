//! Stage 2c: the id types.
//!
//! One string newtype per kind of id the paths take: a string path
//! parameter whose snake-case name ends with the configured suffix
//! (`order_id` gives `OrderId`). The same rule then marks everything else
//! that carries such an id, so that an id a response hands over can be
//! passed to the next call as it is: success headers of that name
//! (`Capture-Id`) and string model fields of that name (`order_id`,
//! `capture_id`). A field or header whose name matches no path parameter
//! stays a string. Callback parameters are marked by the same rule. The types live in the models module; their names share
//! its scope, so they cannot collide with a schema's type.

use crate::config::Settings;
use crate::model::{
    unalias, Callback, IdType, Operation, ParamLocation, TypeDef, TypeKind, TypeRef,
};
use crate::names::reserved::MODEL_TYPES;
use crate::names::{self, Scope};

pub fn name_ids(
    settings: &Settings,
    types: &mut [TypeDef],
    operations: &mut [Operation],
    callbacks: &mut [Callback],
) -> Vec<IdType> {
    let Some(suffix) = settings.id_suffix else {
        return Vec::new();
    };
    let mut scope = Scope::default();
    for taken in MODEL_TYPES
        .iter()
        .copied()
        .chain(types.iter().map(|t| t.name.as_str()))
    {
        scope.claim(taken);
    }
    let is_string = |types: &[TypeDef], ty: &TypeRef| {
        matches!(unalias(ty, |id| Some(&types[id].kind)), TypeRef::String)
    };

    let mut ids: Vec<IdType> = Vec::new();
    for op in operations.iter_mut() {
        for param in &mut op.params {
            let snake = names::snake(&param.wire_name);
            if param.location != ParamLocation::Path
                || !is_string(types, &param.ty)
                || !snake.ends_with(suffix)
            {
                continue;
            }
            let index = match ids.iter().position(|id| id.param == snake) {
                Some(index) => index,
                None => {
                    ids.push(IdType {
                        name: scope.claim(&names::pascal(&snake)),
                        param: snake,
                    });
                    ids.len() - 1
                }
            };
            param.id_type = Some(index);
        }
    }
    let id_of = |wire_name: &str| {
        let snake = names::snake(wire_name);
        ids.iter().position(|id| id.param == snake)
    };

    // A callback's parameters (the push's `order_id` in its query) carry
    // the ids the client's paths take.
    for callback in callbacks.iter_mut() {
        for param in &mut callback.operation.params {
            if is_string(types, &param.ty) {
                param.id_type = id_of(&param.wire_name);
            }
        }
    }
    for op in operations.iter_mut() {
        for outcome in &mut op.successes {
            for header in &mut outcome.headers {
                header.id_type = id_of(&header.wire_name);
            }
        }
    }
    for index in 0..types.len() {
        let TypeKind::Struct(s) = &types[index].kind else {
            continue;
        };
        let marks: Vec<Option<usize>> = s
            .fields
            .iter()
            .map(|f| {
                // Boxed fields lead back to a struct, never to a string.
                (is_string(types, &f.ty) && !f.boxed)
                    .then(|| id_of(&f.json_name))
                    .flatten()
            })
            .collect();
        if let TypeKind::Struct(s) = &mut types[index].kind {
            for (field, mark) in s.fields.iter_mut().zip(marks) {
                field.id_type = mark;
            }
        }
    }
    ids
}
