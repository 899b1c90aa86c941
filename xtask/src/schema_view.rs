//! One flat view of a schema, whichever of `openapiv3`'s shapes it arrived
//! in. `openapiv3` sorts a schema into `Type`, `OneOf`, `AllOf`, ... or, for
//! any mix of keywords, `Any`; the resolver would otherwise repeat each rule
//! for every shape.

use indexmap::IndexMap;
use openapiv3::{
    AdditionalProperties, ReferenceOr, Schema, SchemaData, SchemaKind, Type,
    VariantOrUnknownOrEmpty,
};
use serde_json::Value;

/// A schema or a reference to one, borrowed from either of the two
/// containers `openapiv3` uses.
#[derive(Clone, Copy)]
pub enum SchemaRef<'a> {
    Ref(&'a str),
    Inline(&'a Schema),
}

impl<'a> From<&'a ReferenceOr<Schema>> for SchemaRef<'a> {
    fn from(r: &'a ReferenceOr<Schema>) -> Self {
        match r {
            ReferenceOr::Reference { reference } => SchemaRef::Ref(reference),
            ReferenceOr::Item(schema) => SchemaRef::Inline(schema),
        }
    }
}

impl<'a> From<&'a ReferenceOr<Box<Schema>>> for SchemaRef<'a> {
    fn from(r: &'a ReferenceOr<Box<Schema>>) -> Self {
        match r {
            ReferenceOr::Reference { reference } => SchemaRef::Ref(reference),
            ReferenceOr::Item(schema) => SchemaRef::Inline(schema),
        }
    }
}

pub type Properties = IndexMap<String, ReferenceOr<Box<Schema>>>;

pub struct View<'a> {
    pub data: &'a SchemaData,
    pub typ: Option<&'a str>,
    pub format: Option<String>,
    pub properties: Option<&'a Properties>,
    pub required: &'a [String],
    pub additional: Option<&'a AdditionalProperties>,
    pub items: Option<SchemaRef<'a>>,
    /// `enum` values; `null` entries included.
    pub enumeration: Vec<Value>,
    pub one_of: &'a [ReferenceOr<Schema>],
    pub any_of: &'a [ReferenceOr<Schema>],
    pub all_of: &'a [ReferenceOr<Schema>],
    pub has_not: bool,
}

fn format_name<T: serde::Serialize>(format: &VariantOrUnknownOrEmpty<T>) -> Option<String> {
    match format {
        VariantOrUnknownOrEmpty::Item(item) => serde_json::to_value(item)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned)),
        VariantOrUnknownOrEmpty::Unknown(s) => Some(s.clone()),
        VariantOrUnknownOrEmpty::Empty => None,
    }
}

fn values<T: Into<Value> + Clone>(values: &[Option<T>]) -> Vec<Value> {
    values
        .iter()
        .map(|v| v.clone().map_or(Value::Null, Into::into))
        .collect()
}

impl<'a> View<'a> {
    /// A view with no keywords but the data every schema has.
    fn bare(data: &'a SchemaData) -> Self {
        View {
            data,
            typ: None,
            format: None,
            properties: None,
            required: &[],
            additional: None,
            items: None,
            enumeration: Vec::new(),
            one_of: &[],
            any_of: &[],
            all_of: &[],
            has_not: false,
        }
    }

    /// The object keywords of a view alone, without its `allOf`.
    pub fn of_parts(view: &View<'a>) -> Self {
        View {
            typ: view.typ,
            properties: view.properties,
            required: view.required,
            additional: view.additional,
            ..View::bare(view.data)
        }
    }

    pub fn of(schema: &'a Schema) -> Self {
        let mut view = View::bare(&schema.schema_data);
        match &schema.schema_kind {
            SchemaKind::Type(Type::String(t)) => {
                view.typ = Some("string");
                view.format = format_name(&t.format);
                view.enumeration = values(&t.enumeration);
            }
            SchemaKind::Type(Type::Number(t)) => {
                view.typ = Some("number");
                view.format = format_name(&t.format);
                view.enumeration = t
                    .enumeration
                    .iter()
                    .map(|v| {
                        v.and_then(serde_json::Number::from_f64)
                            .map_or(Value::Null, Value::Number)
                    })
                    .collect();
            }
            SchemaKind::Type(Type::Integer(t)) => {
                view.typ = Some("integer");
                view.format = format_name(&t.format);
                view.enumeration = values(&t.enumeration);
            }
            SchemaKind::Type(Type::Boolean(t)) => {
                view.typ = Some("boolean");
                view.enumeration = values(&t.enumeration);
            }
            SchemaKind::Type(Type::Object(t)) => {
                view.typ = Some("object");
                view.properties = Some(&t.properties).filter(|p| !p.is_empty());
                view.required = &t.required;
                view.additional = t.additional_properties.as_ref();
            }
            SchemaKind::Type(Type::Array(t)) => {
                view.typ = Some("array");
                view.items = t.items.as_ref().map(SchemaRef::from);
            }
            SchemaKind::OneOf { one_of } => view.one_of = one_of,
            SchemaKind::AnyOf { any_of } => view.any_of = any_of,
            SchemaKind::AllOf { all_of } => view.all_of = all_of,
            SchemaKind::Not { .. } => view.has_not = true,
            SchemaKind::Any(any) => {
                view.typ = any.typ.as_deref();
                view.format = any.format.clone();
                view.properties = Some(&any.properties).filter(|p| !p.is_empty());
                view.required = &any.required;
                view.additional = any.additional_properties.as_ref();
                view.items = any.items.as_ref().map(SchemaRef::from);
                view.enumeration = any.enumeration.clone();
                view.one_of = &any.one_of;
                view.any_of = &any.any_of;
                view.all_of = &any.all_of;
                view.has_not = any.not.is_some();
            }
        }
        view
    }

    /// The `enum` values other than `null`; `enum: [null]` alone is no enum.
    pub fn enum_values(&self) -> impl Iterator<Item = &Value> {
        self.enumeration.iter().filter(|v| !v.is_null())
    }

    pub fn is_nullable(&self) -> bool {
        self.data.nullable || self.enumeration.iter().any(Value::is_null)
    }
}
