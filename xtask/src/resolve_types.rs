//! Stage 2a: turn the schemas of a document into named Rust types.
//!
//! Component schemas keep their names (made idiomatic and unique, see
//! `names`); inline objects, enums and unions are named after where they
//! appear (`Order` + `status` gives `OrderStatus`, array items add `Item`).
//! Plain types (strings, numbers, arrays, maps) stay unnamed.

use std::collections::HashMap;
use std::path::Path;

use indexmap::IndexMap;
use openapiv3::{AdditionalProperties, ReferenceOr, Schema};
use serde_json::Value;

use crate::error::{Error, Pointer, Result};
use crate::model::{
    Derives, Doc, Field, Struct, TypeDef, TypeId, TypeKind, TypeRef, Union, UnionVariant, Variant,
};
use crate::names::reserved::{DECODE_ERROR, DESERIALIZER, MODEL_TYPES, PARTIAL};
use crate::names::{self, Scope};
use crate::refs;
use crate::schema_view::{SchemaRef, View};

const COMPONENT_PREFIX: &str = "#/components/schemas/";
/// Marks a property whose value is a secret (`x-secret: true`), such as a
/// signing key's secret: the gateway keeps it out of tool results.
const SECRET_EXTENSION: &str = "x-secret";

pub struct TypeResolver<'a> {
    file: &'a Path,
    components: &'a IndexMap<String, ReferenceOr<Schema>>,
    /// `None` while a type is being resolved, so that a reference to it from
    /// inside itself still gets its id.
    types: Vec<Option<TypeDef>>,
    names: Vec<String>,
    by_component: HashMap<&'a str, TypeId>,
    scope: Scope,
    /// Each component, followed by the inline types named after it.
    order: Vec<TypeId>,
}

impl<'a> TypeResolver<'a> {
    /// Names every component schema up front, so that inline types named
    /// later can never take a component's name.
    pub fn new(file: &'a Path, components: &'a IndexMap<String, ReferenceOr<Schema>>) -> Self {
        let mut resolver = TypeResolver {
            file,
            components,
            types: Vec::new(),
            names: Vec::new(),
            by_component: HashMap::new(),
            scope: Scope::default(),
            order: Vec::new(),
        };
        // Generated code names these unqualified; a type of the same name
        // would shadow them.
        let emitted = [PARTIAL, DESERIALIZER, DECODE_ERROR];
        for name in MODEL_TYPES.iter().chain(&emitted) {
            resolver.scope.claim(name);
        }
        // Names that are already idiomatic claim first: `Address` keeps its
        // name and `address` becomes `Address2`, whatever the order.
        let (idiomatic, others): (Vec<&String>, Vec<&String>) = components
            .keys()
            .partition(|key| names::pascal(key) == **key);
        for key in idiomatic.into_iter().chain(others) {
            let name = resolver.scope.claim(&names::pascal(key));
            let id = resolver.reserve(name);
            resolver.by_component.insert(key, id);
        }
        resolver
    }

    fn reserve(&mut self, name: String) -> TypeId {
        self.types.push(None);
        self.names.push(name);
        self.types.len() - 1
    }

    fn error(&self, at: &Pointer, message: impl Into<String>) -> Error {
        Error::at(self.file, at.as_str(), message)
    }

    /// Resolves every component schema, in document order.
    pub fn resolve_components(&mut self) -> Result<()> {
        let components = self.components;
        let root = Pointer::root().join("components").join("schemas");
        for (key, schema) in components {
            let id = self.by_component[key.as_str()];
            let first_inline = self.types.len();
            let at = root.join(key);
            let kind = match schema {
                ReferenceOr::Reference { reference } => {
                    TypeKind::Alias(self.reference(reference, &at)?)
                }
                ReferenceOr::Item(schema) => self.kind_of(schema, &at, &self.names[id].clone())?,
            };
            let doc = match schema {
                ReferenceOr::Item(schema) => doc_of(&View::of(schema)),
                ReferenceOr::Reference { .. } => Doc::default(),
            };
            self.types[id] = Some(TypeDef {
                name: self.names[id].clone(),
                pointer: at.to_string(),
                doc,
                kind,
            });
            self.order.push(id);
            self.order.extend(first_inline..self.types.len());
        }
        Ok(())
    }

    /// All types, once every reservation has been filled, and the order in
    /// which a reader should meet them.
    pub fn finish(mut self) -> (Vec<TypeDef>, Vec<TypeId>) {
        let listed = self.order.len();
        let unlisted = (0..self.types.len())
            .filter(|id| !self.order[..listed].contains(id))
            .collect::<Vec<_>>();
        self.order.extend(unlisted);
        let types = self
            .types
            .into_iter()
            .map(|t| t.expect("every reserved type is defined before finish"))
            .collect();
        (types, self.order)
    }

    /// The definition of a type, once resolved.
    pub fn kind(&self, id: TypeId) -> Option<&TypeKind> {
        self.types[id].as_ref().map(|def| &def.kind)
    }

    /// A variant name for a union member of a plain type: `String`,
    /// `VecI64`, `MapString`.
    fn type_words(&self, ty: &TypeRef) -> String {
        match ty {
            TypeRef::String => "String".to_owned(),
            TypeRef::Bool => "Bool".to_owned(),
            TypeRef::I32 => "I32".to_owned(),
            TypeRef::I64 => "I64".to_owned(),
            TypeRef::F32 => "F32".to_owned(),
            TypeRef::F64 => "F64".to_owned(),
            TypeRef::Json => "Json".to_owned(),
            TypeRef::Named(id) => self.names[*id].clone(),
            TypeRef::Vec(item) => format!("Vec{}", self.type_words(item)),
            TypeRef::Map(value) => format!("Map{}", self.type_words(value)),
            TypeRef::Nullable(inner) => format!("Nullable{}", self.type_words(inner)),
        }
    }

    /// What an alias (or a chain of them) stands for.
    pub fn unalias<'t>(&'t self, ty: &'t TypeRef) -> &'t TypeRef {
        crate::model::unalias(ty, |id| self.kind(id))
    }

    /// The type of a schema used somewhere other than as a component; `hint`
    /// names it if it needs a name of its own.
    pub fn resolve(&mut self, schema: SchemaRef<'_>, at: &Pointer, hint: &str) -> Result<TypeRef> {
        let schema = match schema {
            SchemaRef::Ref(reference) => return self.reference(reference, at),
            SchemaRef::Inline(schema) => schema,
        };
        let view = View::of(schema);
        let plain = self.plain_type(&view, at, hint)?;
        let ty = match plain {
            Some(ty) => ty,
            None => {
                let name = self.scope.claim(&names::pascal(hint));
                let id = self.reserve(name.clone());
                let kind = self.kind_of(schema, at, &name)?;
                self.types[id] = Some(TypeDef {
                    name,
                    pointer: at.to_string(),
                    doc: doc_of(&view),
                    kind,
                });
                TypeRef::Named(id)
            }
        };
        Ok(if view.is_nullable() {
            TypeRef::Nullable(Box::new(ty))
        } else {
            ty
        })
    }

    pub fn reference(&self, reference: &str, at: &Pointer) -> Result<TypeRef> {
        let key = refs::key(self.file, reference, "schemas", at)?;
        self.by_component
            .get(key.as_str())
            .map(|&id| TypeRef::Named(id))
            .ok_or_else(|| self.error(at, format!("$ref `{reference}` points to no schema")))
    }

    /// The type of a schema that needs no name of its own, or `None` when
    /// it is an object, enum or union that does.
    fn plain_type(&mut self, view: &View<'_>, at: &Pointer, hint: &str) -> Result<Option<TypeRef>> {
        if view.has_not {
            return Err(self.error(at, "`not` is not supported"));
        }
        if let [single] = view.all_of {
            if view.properties.is_none() {
                // `allOf: [$ref]` is how 3.0 documents attach a description
                // or `nullable` to a reference: it is that type.
                return self
                    .resolve(single.into(), &at.join("allOf").join(0), hint)
                    .map(Some);
            }
        }
        if !view.all_of.is_empty() || view.properties.is_some() {
            return Ok(None);
        }
        if !view.one_of.is_empty() || !view.any_of.is_empty() {
            return Ok(None);
        }
        if view.enum_values().next().is_some()
            && matches!(view.typ, None | Some("string" | "integer"))
        {
            return Ok(None);
        }
        let ty = match view.typ {
            Some("string") => TypeRef::String,
            Some("boolean") => TypeRef::Bool,
            Some("integer") => match view.format.as_deref() {
                Some("int32") => TypeRef::I32,
                _ => TypeRef::I64,
            },
            Some("number") => match view.format.as_deref() {
                Some("float") => TypeRef::F32,
                _ => TypeRef::F64,
            },
            Some("array") => match view.items {
                Some(items) => TypeRef::Vec(Box::new(self.resolve(
                    items,
                    &at.join("items"),
                    &format!("{hint}Item"),
                )?)),
                None => TypeRef::Vec(Box::new(TypeRef::Json)),
            },
            Some("object") | None if view.items.is_none() || view.typ == Some("object") => {
                match view.additional {
                    Some(AdditionalProperties::Schema(schema)) => {
                        TypeRef::Map(Box::new(self.resolve(
                            schema.as_ref().into(),
                            &at.join("additionalProperties"),
                            &format!("{hint}Value"),
                        )?))
                    }
                    Some(AdditionalProperties::Any(_)) => TypeRef::Map(Box::new(TypeRef::Json)),
                    None if view.typ == Some("object") => TypeRef::Map(Box::new(TypeRef::Json)),
                    None => TypeRef::Json,
                }
            }
            // Items but no type: an array in all but name.
            None => {
                let items = view.items.expect("guarded by the arm above");
                TypeRef::Vec(Box::new(self.resolve(
                    items,
                    &at.join("items"),
                    &format!("{hint}Item"),
                )?))
            }
            Some(other) => {
                return Err(self.error(&at.join("type"), format!("unknown type `{other}`")))
            }
        };
        Ok(Some(ty))
    }

    /// The definition of a named type.
    fn kind_of(&mut self, schema: &Schema, at: &Pointer, name: &str) -> Result<TypeKind> {
        let view = View::of(schema);
        if let Some(plain) = self.plain_type(&view, at, name)? {
            return Ok(TypeKind::Alias(plain));
        }
        if !view.all_of.is_empty() {
            if !view.one_of.is_empty() || !view.any_of.is_empty() {
                return Err(
                    self.error(at, "`allOf` together with `oneOf`/`anyOf` is not supported")
                );
            }
            return self.struct_of_all_of(&view, at, name);
        }
        if view.properties.is_some() {
            return self.struct_of(&[(view, at.clone())], name);
        }
        if !view.one_of.is_empty() || !view.any_of.is_empty() {
            return self.union_of(&view, at, name);
        }
        self.enum_of(&view, at)
    }

    fn enum_of(&self, view: &View<'_>, at: &Pointer) -> Result<TypeKind> {
        let mut scope = Scope::default();
        let mut seen = Vec::new();
        let values = view.enum_values().filter(|v| {
            let new = !seen.contains(v);
            seen.push(*v);
            new
        });
        // The catch-all variant is `Unknown`; a declared value that maps to
        // the same name yields to it.
        scope.claim("Unknown");
        let at = at.join("enum");
        if view.typ == Some("integer") {
            let variants = values
                .map(|v| {
                    let value = v.as_i64().ok_or_else(|| {
                        self.error(&at, format!("enum value {v} is not an integer"))
                    })?;
                    let wanted = if value < 0 {
                        format!("Minus{}", value.unsigned_abs())
                    } else {
                        format!("V{value}")
                    };
                    Ok(Variant {
                        name: scope.claim(&wanted),
                        value,
                    })
                })
                .collect::<Result<_>>()?;
            return Ok(TypeKind::IntegerEnum(variants));
        }
        let variants = values
            .map(|v| {
                let value = v
                    .as_str()
                    .ok_or_else(|| self.error(&at, format!("enum value {v} is not a string")))?;
                Ok(Variant {
                    name: scope.claim(&names::pascal(value)),
                    value: value.to_owned(),
                })
            })
            .collect::<Result<_>>()?;
        Ok(TypeKind::StringEnum(variants))
    }

    /// `allOf`: one struct with the properties of every member, in order.
    fn struct_of_all_of(&mut self, view: &View<'_>, at: &Pointer, name: &str) -> Result<TypeKind> {
        let mut parts = Vec::new();
        self.collect_all_of(view, at, &mut parts, 0)?;
        let own = View::of_parts(view);
        parts.push((own, at.clone()));
        self.struct_of(&parts, name)
    }

    fn collect_all_of<'s>(
        &self,
        view: &View<'s>,
        at: &Pointer,
        parts: &mut Vec<(View<'s>, Pointer)>,
        depth: usize,
    ) -> Result<()>
    where
        'a: 's,
    {
        if depth > 32 {
            return Err(self.error(at, "`allOf` nests too deeply (a cycle?)"));
        }
        for (i, member) in view.all_of.iter().enumerate() {
            let member_at = at.join("allOf").join(i);
            let (schema, found_at) = refs::follow(
                self.file,
                member,
                "schemas",
                Some(self.components),
                &member_at,
            )?;
            let schema_at = found_at.unwrap_or_else(|| member_at.clone());
            let member_view = View::of(schema);
            if member_view.typ.is_some_and(|t| t != "object")
                || !member_view.one_of.is_empty()
                || !member_view.any_of.is_empty()
            {
                return Err(self.error(&member_at, "`allOf` member is not an object schema"));
            }
            self.collect_all_of(&member_view, &schema_at, parts, depth + 1)?;
            parts.push((View::of_parts(&member_view), schema_at));
        }
        Ok(())
    }

    fn struct_of(&mut self, parts: &[(View<'_>, Pointer)], name: &str) -> Result<TypeKind> {
        let mut fields: Vec<Field> = Vec::new();
        let mut scope = Scope::default();
        if parts.iter().any(|(v, _)| {
            matches!(
                v.additional,
                Some(AdditionalProperties::Schema(_) | AdditionalProperties::Any(true))
            )
        }) {
            scope.claim("additional_properties");
        }
        // As for types: JSON names that are already idiomatic claim first.
        let json_names: Vec<&String> = parts
            .iter()
            .flat_map(|(v, _)| v.properties.into_iter().flatten().map(|(k, _)| k))
            .collect();
        let (idiomatic, others): (Vec<&String>, Vec<&String>) =
            json_names.into_iter().partition(|n| names::snake(n) == **n);
        let mut field_names: HashMap<&str, String> = HashMap::new();
        for json_name in idiomatic.into_iter().chain(others) {
            if !field_names.contains_key(json_name.as_str()) {
                field_names.insert(json_name, scope.claim(&names::snake(json_name)));
            }
        }
        let mut additional = None;
        let required: Vec<&str> = parts
            .iter()
            .flat_map(|(v, _)| v.required.iter().map(String::as_str))
            .collect();
        for (view, at) in parts {
            for (json_name, schema) in view.properties.into_iter().flatten() {
                let field_at = at.join("properties").join(json_name);
                let ty = self.resolve(schema.into(), &field_at, &format!("{name}_{json_name}"))?;
                let doc = match schema {
                    ReferenceOr::Item(schema) => doc_of(&View::of(schema)),
                    ReferenceOr::Reference { .. } => Doc::default(),
                };
                let secret = match schema {
                    ReferenceOr::Item(schema) => {
                        match schema.schema_data.extensions.get(SECRET_EXTENSION) {
                            None => false,
                            Some(Value::Bool(secret)) => *secret,
                            Some(_) => {
                                return Err(self.error(
                                    &field_at.join(SECRET_EXTENSION),
                                    "`x-secret` must be true or false",
                                ))
                            }
                        }
                    }
                    ReferenceOr::Reference { .. } => false,
                };
                let (ty, nullable) = match ty {
                    TypeRef::Nullable(inner) => (*inner, true),
                    ty => (ty, false),
                };
                let field = Field {
                    name: String::new(),
                    json_name: json_name.clone(),
                    doc,
                    ty,
                    required: required.contains(&json_name.as_str()),
                    nullable,
                    boxed: false,
                    secret,
                    // Decided once every id kind is known (`resolve_ids`).
                    id_type: None,
                };
                // A later `allOf` member redefines a property: it wins, in place.
                match fields.iter_mut().find(|f| f.json_name == *json_name) {
                    Some(existing) => {
                        *existing = Field {
                            name: std::mem::take(&mut existing.name),
                            ..field
                        }
                    }
                    None => fields.push(Field {
                        name: field_names[json_name.as_str()].clone(),
                        ..field
                    }),
                }
            }
            match view.additional {
                Some(AdditionalProperties::Schema(schema)) => {
                    additional = Some(self.resolve(
                        schema.as_ref().into(),
                        &at.join("additionalProperties"),
                        &format!("{name}Value"),
                    )?)
                }
                Some(AdditionalProperties::Any(true)) => additional = Some(TypeRef::Json),
                Some(AdditionalProperties::Any(false)) | None => {}
            }
        }
        Ok(TypeKind::Struct(Struct {
            fields,
            additional,
            derives: Derives::default(),
            tag: None,
        }))
    }

    fn union_of(&mut self, view: &View<'_>, at: &Pointer, name: &str) -> Result<TypeKind> {
        let (members, keyword) = if view.one_of.is_empty() {
            (view.any_of, "anyOf")
        } else {
            (view.one_of, "oneOf")
        };
        let discriminator = view.data.discriminator.as_ref();
        let mut scope = Scope::default();
        scope.claim("Other");
        let mut variants = Vec::new();
        for (i, member) in members.iter().enumerate() {
            let member_at = at.join(keyword).join(i);
            let ty = self.resolve(
                member.into(),
                &member_at,
                &format!("{name}Variant{}", i + 1),
            )?;
            let wanted = match &ty {
                // An inline member is named after the union; its variant
                // needs only the rest (`Variant2`).
                TypeRef::Named(id) if matches!(member, ReferenceOr::Item(_)) => {
                    let full = &self.names[*id];
                    full.strip_prefix(name)
                        .filter(|rest| !rest.is_empty())
                        .unwrap_or(full)
                        .to_owned()
                }
                TypeRef::Named(id) => self.names[*id].clone(),
                TypeRef::Nullable(_) => format!("Variant{}", i + 1),
                other => self.type_words(other),
            };
            let mut tag_values = Vec::new();
            if let Some(discriminator) = discriminator {
                let ReferenceOr::Reference { reference } = member else {
                    return Err(self.error(
                        &member_at,
                        "a member of a union with a discriminator must be a $ref",
                    ));
                };
                tag_values.extend(
                    discriminator
                        .mapping
                        .iter()
                        .filter(|(_, target)| {
                            *target == reference
                                || format!("{COMPONENT_PREFIX}{target}") == *reference
                        })
                        .map(|(value, _)| value.clone()),
                );
                if tag_values.is_empty() {
                    // Without a mapping the tag value is the schema's name.
                    let key = refs::key(self.file, reference, "schemas", &member_at)?;
                    tag_values.push(key);
                }
            }
            variants.push(UnionVariant {
                name: scope.claim(&wanted),
                ty,
                tag_values,
                boxed: false,
            });
        }
        Ok(TypeKind::Union(Union {
            tag: discriminator.map(|d| d.property_name.clone()),
            variants,
            derives: Derives::default(),
        }))
    }
}

pub fn doc_of(view: &View<'_>) -> Doc {
    Doc {
        text: view
            .data
            .description
            .clone()
            .or_else(|| view.data.title.clone()),
        // Formats the Rust type already says are noise in the docs.
        format: view
            .format
            .clone()
            .filter(|f| !matches!(f.as_str(), "int32" | "int64" | "float" | "double")),
        example: view.data.example.as_ref().map(|e| match e {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
    }
}
