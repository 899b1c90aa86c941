//! The intermediate model between an OpenAPI document and Rust tokens.
//!
//! Everything here is already decided: names are final Rust names (types,
//! fields, methods, traits and every other item the client module holds), every
//! `$ref` is an index into `Api::types`, recursion is broken by `boxed`
//! fields. The emit stages only translate it into tokens.

use crate::config::Settings;

/// One API: one document, one module of the models crate.
pub struct Api {
    pub title: String,
    pub description: Option<String>,
    pub settings: Settings,
    pub types: Vec<TypeDef>,
    /// Every type once, in the order the module lists them.
    pub order: Vec<TypeId>,
    pub operations: Vec<Operation>,
    /// The operations whose path names a URL the API calls on the caller's
    /// side (`resolve_callbacks`): handlers, not client methods.
    pub callbacks: Vec<Callback>,
    /// The id types, in the models module: one per kind of id the paths
    /// take (`resolve_ids`), used by path parameters, response headers and
    /// model fields of that name alike.
    pub ids: Vec<IdType>,
    /// The names of the client's own items.
    pub client: ClientItems,
}

impl Api {
    /// What a type is, once aliases (and chains of them) are seen through.
    pub fn unalias<'a>(&'a self, ty: &'a TypeRef) -> &'a TypeRef {
        unalias(ty, |id| Some(&self.types[id].kind))
    }
}

/// What `ty` stands for once aliases are followed; `kind` looks a type up
/// (`None` while it is still being resolved). Bounded, in case they loop.
pub fn unalias<'a>(ty: &'a TypeRef, kind: impl Fn(TypeId) -> Option<&'a TypeKind>) -> &'a TypeRef {
    let mut ty = ty;
    for _ in 0..32 {
        match ty {
            TypeRef::Named(id) => match kind(*id) {
                Some(TypeKind::Alias(target)) => ty = target,
                _ => break,
            },
            _ => break,
        }
    }
    ty
}

/// The names of a client's items besides the operations' methods, chosen
/// once for the whole module so that none collides with another or with
/// what the module imports.
#[derive(Default)]
pub struct ClientItems {
    /// The client type (`Client`).
    pub name: String,
    /// What the documentation calls the API.
    pub api_name: String,
    /// One trait per group of operations, in document order.
    pub traits: Vec<Trait>,
    /// The names the id types have in the client module, which re-exports
    /// them from the models (index as `Api::ids`).
    pub ids: Vec<IdType>,
    /// Per operation, in the order of `Api::operations`.
    pub operations: Vec<OperationItems>,
}

pub struct Trait {
    pub name: String,
    /// Indices into `Api::operations`.
    pub operations: Vec<usize>,
}

/// A string newtype for the ids of one kind of thing (`OrderId`).
pub struct IdType {
    pub name: String,
    /// The snake-case parameter name it is made for (`order_id`).
    pub param: String,
}

/// The items one operation gets in the client module.
pub struct OperationItems {
    /// Index into `ClientItems::traits`.
    pub trait_index: usize,
    /// Its constant in the `operations` module (`CAPTURE_ORDER`).
    pub constant: String,
    /// The trait method that sends a complete request (`send_capture_order`).
    pub send_method: String,
    /// The request value the builder method returns (`CaptureOrder`).
    pub builder: String,
    /// The arguments as a fake receives them (`CaptureOrderRequest`).
    pub request: String,
    /// `None`: the success value is a model type, `()` or bytes.
    pub response: Option<String>,
    /// For several success statuses, a struct per status that has headers.
    pub per_status: Vec<Option<String>>,
    /// `None`: no documented error status.
    pub error: Option<String>,
}

/// Index into `Api::types`.
pub type TypeId = usize;

pub struct TypeDef {
    pub name: String,
    /// Where the type is defined, for errors about it.
    pub pointer: String,
    pub doc: Doc,
    pub kind: TypeKind,
}

pub enum TypeKind {
    Struct(Struct),
    /// A string enum that keeps values it does not know.
    StringEnum(Vec<Variant<String>>),
    /// An integer enum that keeps values it does not know.
    IntegerEnum(Vec<Variant<i64>>),
    Union(Union),
    /// A named schema that is just another type (`pub type Currency = String`).
    Alias(TypeRef),
}

pub struct Struct {
    pub fields: Vec<Field>,
    /// `additionalProperties` next to declared properties: the rest of the
    /// object, kept in a map.
    pub additional: Option<TypeRef>,
    /// Derived traits that are valid for this struct; settled by `derives`.
    pub derives: Derives,
    /// The discriminator property and value this struct always carries as
    /// a member of tagged unions, written by its `Serialize` rather than
    /// held in a field (settled by `tags`).
    pub tag: Option<Tag>,
}

pub struct Tag {
    pub property: String,
    pub value: String,
}

#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Derives {
    pub eq: bool,
    pub default: bool,
}

pub struct Field {
    pub name: String,
    pub json_name: String,
    pub doc: Doc,
    pub ty: TypeRef,
    pub required: bool,
    pub nullable: bool,
    /// Behind a `Box` because the field leads back to its own struct.
    pub boxed: bool,
    /// The spec marks its value secret (`x-secret: true`): the gateway
    /// never puts it in a tool result.
    pub secret: bool,
    /// Index into `Api::ids`: a string field of an id's name
    /// (`capture_id`) holds that id type.
    pub id_type: Option<usize>,
}

pub struct Variant<V> {
    pub name: String,
    pub value: V,
}

pub struct Union {
    /// The property whose value names the variant, when the spec gives one.
    pub tag: Option<String>,
    pub variants: Vec<UnionVariant>,
    pub derives: Derives,
}

pub struct UnionVariant {
    pub name: String,
    pub ty: TypeRef,
    /// Tag values that select this variant (with a discriminator only).
    pub tag_values: Vec<String>,
    pub boxed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeRef {
    String,
    Bool,
    I32,
    I64,
    F32,
    F64,
    /// Anything: a schema with no type, or a free-form object.
    Json,
    Named(TypeId),
    Vec(Box<TypeRef>),
    Map(Box<TypeRef>),
    /// `null` is a valid value (`nullable: true` below field level).
    Nullable(Box<TypeRef>),
}

/// Documentation for an item: the spec's description, plus facts that help a
/// reader (format, example).
#[derive(Default)]
pub struct Doc {
    pub text: Option<String>,
    pub format: Option<String>,
    pub example: Option<String>,
}

/// One HTTP operation, ready to become a trait method and its impl.
pub struct Operation {
    /// The method name (`capture_order`).
    pub name: String,
    /// The prefix of the types generated for it (`CaptureOrder`).
    pub type_name: String,
    pub summary: Option<String>,
    pub description: Option<String>,
    /// The trait it belongs to (its first tag).
    pub group: String,
    /// Upper case, as HTTP writes it.
    pub method: String,
    /// The path as the spec writes it, for docs.
    pub path_template: String,
    pub path: Vec<PathPart>,
    pub params: Vec<Param>,
    pub body: Option<RequestBody>,
    /// Takes the configured idempotency-key header.
    pub idempotency_key: bool,
    /// A read: `GET`, `HEAD` or `OPTIONS`.
    pub read_only: bool,
    /// Safe to repeat without a key: reads, `PUT` and `DELETE`, or what the
    /// spec says with `x-idempotent`.
    pub idempotent: bool,
    pub successes: Vec<Outcome>,
    pub errors: Vec<Outcome>,
    /// What the spec's `x-klarna-gateway` says about the operation as a
    /// gateway tool; `None` when it says nothing.
    pub gateway: Option<GatewayHints>,
    /// What the spec's `x-paging` says: the operation lists items a page at
    /// a time (`resolve_paging.rs`).
    pub paging: Option<Paging>,
    /// For documents of others: the alternatives of the operation's
    /// `security`, each the schemes sent together. `None`: the document
    /// declares none, or the API's credentials are set in `config.rs`.
    pub security: Option<Vec<Vec<SecurityUse>>>,
}

/// An operation whose path names a URL property of the models
/// (`/merchant_urls.validation`): the API calls it on the caller's side.
pub struct Callback {
    pub operation: Operation,
    /// The dotted name (`merchant_urls.validation`).
    pub property: String,
    /// Its last part (`validation`), the route a serving layer mounts.
    pub name: String,
    /// What `x-klarna-callback-deadline` says: how long the API waits.
    pub deadline: Option<CallbackDeadline>,
}

/// A callback's documented wait for the answer.
pub struct CallbackDeadline {
    pub seconds: u64,
    pub seconds_when_required: Option<u64>,
    /// The request's boolean that asks for the longer wait, as a dotted
    /// path (`options.require_validate_callback_success`).
    pub required_by: Option<String>,
}

/// A list operation's pages, as `x-paging` names them: JSON names of the
/// answer's properties and wire names of query parameters.
pub struct Paging {
    /// Where `x-paging` is, for errors.
    pub pointer: String,
    /// The property that holds a page's items.
    pub items: String,
    /// The properties that lead to the next page's link; `None`: another
    /// page follows while pages come back full.
    pub next: Option<Vec<String>>,
    /// The query parameter that takes the offset.
    pub offset: String,
    /// The query parameter that takes the page size.
    pub size: Option<String>,
}

/// One security scheme an operation sends.
pub struct SecurityUse {
    /// Its name in `securitySchemes`, which the caller's credentials use.
    pub scheme: String,
    pub kind: SchemeKind,
}

/// How a security scheme sends its secret.
pub enum SchemeKind {
    Basic,
    /// `http` `bearer`, and the access token of OAuth 2 and OpenID Connect.
    Bearer,
    /// `apiKey` in the header, query parameter or cookie of this name.
    HeaderKey(String),
    QueryKey(String),
    CookieKey(String),
}

/// The facts about a gateway tool that HTTP and the rest of the spec cannot
/// give: its published name and whether it destroys anything.
pub struct GatewayHints {
    /// The tool name; `None` lets the gateway generator derive one.
    pub tool: Option<String>,
    pub destructive: bool,
}

pub enum PathPart {
    Literal(String),
    /// Index into `Operation::params`.
    Param(usize),
}

pub struct Param {
    pub name: String,
    /// Index into `Api::ids`: the parameter takes that id type.
    pub id_type: Option<usize>,
    pub wire_name: String,
    pub location: ParamLocation,
    pub required: bool,
    pub ty: TypeRef,
    pub doc: Doc,
    /// How the value is written (`style`), with its `explode`; checked
    /// against the style table in `param_style`.
    pub style: ParamStyle,
    pub explode: bool,
}

/// A parameter's OpenAPI `style`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamStyle {
    Simple,
    Label,
    Matrix,
    Form,
    SpaceDelimited,
    PipeDelimited,
    DeepObject,
}

impl ParamStyle {
    /// As the document spells it.
    pub fn name(self) -> &'static str {
        match self {
            ParamStyle::Simple => "simple",
            ParamStyle::Label => "label",
            ParamStyle::Matrix => "matrix",
            ParamStyle::Form => "form",
            ParamStyle::SpaceDelimited => "spaceDelimited",
            ParamStyle::PipeDelimited => "pipeDelimited",
            ParamStyle::DeepObject => "deepObject",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ParamLocation {
    Path,
    Query,
    Header,
    /// Sent in the request's one `Cookie` header, as `name=value`.
    Cookie,
}

pub struct RequestBody {
    /// The body's model type (JSON and form bodies); `Json` otherwise.
    pub ty: TypeRef,
    pub required: bool,
    pub kind: BodyKind,
}

/// How a request body is written.
#[derive(Clone, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    /// `application/x-www-form-urlencoded`, from the model type.
    Form,
    /// `multipart/form-data`: the caller's `klarna_runtime::Multipart`.
    Multipart,
    /// Raw bytes of this media type (`application/octet-stream`, `image/png`).
    Bytes(String),
}

/// One documented response.
pub struct Outcome {
    pub status: Status,
    /// Its name among the operation's responses (`Created`, `NotFound`).
    pub variant: String,
    pub description: String,
    pub body: Option<ResponseBody>,
    pub headers: Vec<ResponseHeader>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Code(u16),
    /// `4XX`: the first digit.
    Range(u16),
    Default,
}

pub enum ResponseBody {
    Json(TypeRef),
    /// A media type other than JSON: the raw bytes.
    Bytes,
    /// The only success of its operation, with a media type other than
    /// JSON or none declared (`streamed_success` in `resolve_operations`):
    /// a stream of chunks, read by the caller.
    Stream,
}

pub struct ResponseHeader {
    pub field: String,
    /// Index into `Api::ids`: the header carries that kind of id.
    pub id_type: Option<usize>,
    pub wire_name: String,
    pub required: bool,
    pub doc: Doc,
}
