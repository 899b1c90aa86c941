//! Part of stage 2b: how a parameter goes on the wire, by its `style` and
//! `explode`, and which combinations of style, place and value shape the
//! generator can send exactly as the OpenAPI style table says.
//!
//! The table (OpenAPI 3.0.4 / 3.1.1, "Style Values" and "Style Examples")
//! defines `simple`, `label` and `matrix` in the path, `form`,
//! `spaceDelimited`, `pipeDelimited` and `deepObject` in the query and
//! `simple` in headers, for primitives, arrays of primitives and objects of
//! primitives. Anything else is refused here, with the parameter's place in
//! the document, rather than sent in some form the server may misread.

use openapiv3::{HeaderStyle, Parameter, PathStyle, QueryStyle};

use crate::model::{ParamLocation, ParamStyle, TypeKind, TypeRef};
use crate::resolve_types::TypeResolver;

/// What a parameter's value is, as far as its serialisation cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Primitive,
    /// An array of primitives.
    List,
    /// An object (a struct or a map) whose values are primitives.
    Object,
}

/// The style and `explode` a parameter declares, with the specification's
/// defaults: `form` in the query, `simple` in the path and headers;
/// `explode` true for `form` only.
pub fn declared(parameter: &Parameter) -> (ParamStyle, bool) {
    let (style, explode) = match parameter {
        Parameter::Path {
            style,
            parameter_data,
        } => (
            match style {
                PathStyle::Simple => ParamStyle::Simple,
                PathStyle::Label => ParamStyle::Label,
                PathStyle::Matrix => ParamStyle::Matrix,
            },
            parameter_data.explode,
        ),
        Parameter::Query {
            style,
            parameter_data,
            ..
        } => (
            match style {
                QueryStyle::Form => ParamStyle::Form,
                QueryStyle::SpaceDelimited => ParamStyle::SpaceDelimited,
                QueryStyle::PipeDelimited => ParamStyle::PipeDelimited,
                QueryStyle::DeepObject => ParamStyle::DeepObject,
            },
            parameter_data.explode,
        ),
        Parameter::Header {
            style: HeaderStyle::Simple,
            parameter_data,
        } => (ParamStyle::Simple, parameter_data.explode),
        Parameter::Cookie { parameter_data, .. } => (ParamStyle::Form, parameter_data.explode),
    };
    (style, explode.unwrap_or(style == ParamStyle::Form))
}

/// The shape of a parameter's type, or why it cannot be a parameter.
pub fn shape(types: &TypeResolver<'_>, ty: &TypeRef) -> Result<Shape, String> {
    let primitive = |ty: &TypeRef| match types.unalias(ty) {
        TypeRef::String
        | TypeRef::Bool
        | TypeRef::I32
        | TypeRef::I64
        | TypeRef::F32
        | TypeRef::F64 => true,
        TypeRef::Named(id) => matches!(
            types.kind(*id),
            Some(TypeKind::StringEnum(_) | TypeKind::IntegerEnum(_))
        ),
        _ => false,
    };
    let unsupported = "only strings, numbers, booleans and enums of them, arrays of those and \
                       objects whose properties are those are supported as parameters";
    if primitive(ty) {
        return Ok(Shape::Primitive);
    }
    match types.unalias(ty) {
        TypeRef::Vec(item) if primitive(item) => Ok(Shape::List),
        TypeRef::Map(value) if primitive(value) => Ok(Shape::Object),
        TypeRef::Named(id) => match types.kind(*id) {
            Some(TypeKind::Struct(object))
                if object.additional.is_none()
                    && object.fields.iter().all(|field| primitive(&field.ty)) =>
            {
                Ok(Shape::Object)
            }
            _ => Err(unsupported.to_owned()),
        },
        _ => Err(unsupported.to_owned()),
    }
}

/// Refuses what the style table does not define (or what only makes sense
/// elsewhere): the message names the combination.
pub fn check(
    location: ParamLocation,
    style: ParamStyle,
    explode: bool,
    shape: Shape,
) -> Result<(), String> {
    use ParamLocation::{Cookie, Header, Path, Query};
    use ParamStyle::*;
    let defined = match (location, style) {
        (Path, Simple | Label | Matrix) | (Header, Simple) | (Query, Form) => true,
        // The table shows these for arrays and objects, not exploded.
        (Query, SpaceDelimited | PipeDelimited) => shape != Shape::Primitive && !explode,
        // Objects only. The table's row says `explode: true`, but `false` is
        // the default for every style but `form` and documents rarely say
        // it: both are sent the one way the table defines.
        (Query, DeepObject) => shape == Shape::Object,
        // `form` as the table writes it for a cookie: `id=5`, and a list or
        // an object comma-separated (`id=3,4,5`). Exploded, a list would be
        // `id=3&id=4`, which is no cookie syntax.
        (Cookie, Form) => shape == Shape::Primitive || !explode,
        _ => false,
    };
    if defined {
        Ok(())
    } else {
        let shape = match shape {
            Shape::Primitive => "a primitive",
            Shape::List => "an array",
            Shape::Object => "an object",
        };
        Err(format!(
            "style `{}` with explode: {explode} is not defined for {shape} in the {}; \
             the OpenAPI style table has no form for it",
            style.name(),
            match location {
                Path => "path",
                Query => "query",
                Header => "header",
                Cookie => "cookie",
            }
        ))
    }
}
