//! Stage 2b: turn the paths of a document into operations.
//!
//! Parameters, bodies and responses may be `$ref`s into `components`; they
//! are followed here. Inline schemas in them become named types of the
//! models module through the type resolver (`CaptureOrderRequest`, ...).

use std::path::Path;

use indexmap::IndexMap;
use openapiv3::{
    Components, MediaType, OpenAPI, Parameter, ParameterSchemaOrContent, ReferenceOr, Response,
    StatusCode,
};

use crate::error::{Error, Pointer, Result};
use crate::model::{
    BodyKind, Doc, GatewayHints, Operation, Outcome, Param, ParamLocation, PathPart, RequestBody,
    ResponseBody, ResponseHeader, Status, TypeKind, TypeRef,
};
use crate::names::reserved::METHOD_BINDINGS;
use crate::names::{self, Scope};
use crate::param_style;
use crate::refs;
use crate::resolve_paging;
use crate::resolve_security;
use crate::resolve_types::{doc_of, TypeResolver};
use crate::schema_view::{SchemaRef, View};

/// Says whether an operation is safe to repeat where its HTTP method does not
/// (a `PATCH` that sets a value, say). The client retries such operations
/// even without an idempotency key.
const IDEMPOTENT_EXTENSION: &str = "x-idempotent";

/// Our own facts about an operation as a tool of `klarna-gateway`
/// (`{tool: NAME, destructive: BOOL}`, both optional).
const GATEWAY_EXTENSION: &str = "x-klarna-gateway";

pub struct OperationResolver<'a, 'r> {
    file: &'a Path,
    api: &'a OpenAPI,
    /// Read `security` from the document (documents of others); Klarna's
    /// credentials are set in `config.rs` instead.
    document_security: bool,
    components: Option<&'a Components>,
    types: &'r mut TypeResolver<'a>,
    /// Header that carries an idempotency key, when the API has one.
    idempotency_header: Option<&'a str>,
    /// What every operation path is below ([`base_path`]).
    base_path: String,
}

impl<'a, 'r> OperationResolver<'a, 'r> {
    pub fn new(
        file: &'a Path,
        api: &'a OpenAPI,
        types: &'r mut TypeResolver<'a>,
        idempotency_header: Option<&'a str>,
    ) -> Self {
        OperationResolver {
            file,
            api,
            document_security: false,
            components: api.components.as_ref(),
            types,
            idempotency_header,
            base_path: base_path(api),
        }
    }

    /// Reads each operation's `security` from the document.
    pub fn with_document_security(mut self) -> Self {
        self.document_security = true;
        self
    }

    fn error(&self, at: &Pointer, message: impl Into<String>) -> Error {
        Error::at(self.file, at.as_str(), message)
    }

    /// Every operation of the document, in document order.
    pub fn resolve_all(&mut self, api: &'a OpenAPI) -> Result<Vec<Operation>> {
        let mut operations = Vec::new();
        let mut method_names = Scope::default();
        let paths_at = Pointer::root().join("paths");
        for (path, item) in api.paths.iter() {
            let item_at = paths_at.join(path);
            let ReferenceOr::Item(item) = item else {
                return Err(self.error(&item_at, "a $ref path item is not supported"));
            };
            for (method, operation) in item.iter() {
                let at = item_at.join(method);
                let wanted = match &operation.operation_id {
                    Some(id) => names::snake(id),
                    None => names::snake(&format!("{method} {path}")),
                };
                let name = method_names.claim(&wanted);
                let resolved =
                    self.operation(name, method, path, &item.parameters, operation, &at)?;
                operations.push(resolved);
            }
        }
        Ok(operations)
    }

    fn operation(
        &mut self,
        name: String,
        method: &str,
        path: &str,
        path_params: &'a [ReferenceOr<Parameter>],
        operation: &'a openapiv3::Operation,
        at: &Pointer,
    ) -> Result<Operation> {
        let type_name = names::pascal(&name);
        let item_at = Pointer::root().join("paths").join(path);
        let mut arguments = Scope::default();
        for taken in METHOD_BINDINGS {
            arguments.claim(taken);
        }
        let mut params = Vec::new();
        let mut idempotency_key = false;
        // Operation parameters override path-item ones of the same name and place.
        let declared = operation
            .parameters
            .iter()
            .enumerate()
            .map(|(i, p)| (p, at.join("parameters").join(i)))
            .chain(
                path_params
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (p, item_at.join("parameters").join(i))),
            );
        let mut seen = Vec::new();
        for (parameter, param_at) in declared {
            let parameter =
                self.component(parameter, "parameters", |c| &c.parameters, &param_at)?;
            let (data, location) = match parameter {
                Parameter::Path { parameter_data, .. } => (parameter_data, ParamLocation::Path),
                Parameter::Query { parameter_data, .. } => (parameter_data, ParamLocation::Query),
                Parameter::Header { parameter_data, .. } => (parameter_data, ParamLocation::Header),
                Parameter::Cookie { parameter_data, .. } => (parameter_data, ParamLocation::Cookie),
            };
            let key = (data.name.to_ascii_lowercase(), location);
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            if location == ParamLocation::Header
                && self
                    .idempotency_header
                    .is_some_and(|h| h.eq_ignore_ascii_case(&data.name))
            {
                idempotency_key = true;
                continue;
            }
            let ParameterSchemaOrContent::Schema(schema) = &data.format else {
                return Err(self.error(
                    &param_at,
                    "a parameter with `content` instead of `schema` is not supported",
                ));
            };
            let schema_at = param_at.join("schema");
            let ty = self.types.resolve(
                SchemaRef::from(schema),
                &schema_at,
                &format!("{type_name}_{}", data.name),
            )?;
            let ty = match ty {
                TypeRef::Nullable(inner) => *inner,
                ty => ty,
            };
            let (style, explode) = param_style::declared(parameter);
            let shape =
                param_style::shape(self.types, &ty).map_err(|m| self.error(&schema_at, m))?;
            param_style::check(location, style, explode, shape)
                .map_err(|m| self.error(&param_at, m))?;
            params.push(Param {
                name: arguments.claim(&names::snake(&data.name)),
                id_type: None,
                wire_name: data.name.clone(),
                location,
                required: data.required || location == ParamLocation::Path,
                ty,
                doc: Doc {
                    text: data.description.clone(),
                    ..Doc::default()
                },
                style,
                explode,
            });
        }
        let path = self.path_parts(&format!("{}{path}", self.base_path), &params, at)?;
        let body = match &operation.request_body {
            Some(body) => {
                let body_at = at.join("requestBody");
                let body =
                    self.component(body, "requestBodies", |c| &c.request_bodies, &body_at)?;
                self.request_body(
                    &body.content,
                    body.required,
                    &format!("{type_name}Request"),
                    &body_at,
                )?
            }
            None => None,
        };
        let (mut successes, errors) = self.outcomes(operation, &type_name, at)?;
        let method = method.to_ascii_uppercase();
        streamed_success(&method, &mut successes);
        let read_only = matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS");
        let idempotent = match operation.extensions.get(IDEMPOTENT_EXTENSION) {
            None => read_only || matches!(method.as_str(), "PUT" | "DELETE"),
            Some(serde_json::Value::Bool(idempotent)) => *idempotent,
            Some(_) => {
                return Err(self.error(
                    &at.join(IDEMPOTENT_EXTENSION),
                    "`x-idempotent` must be true or false",
                ))
            }
        };
        let gateway = self.gateway_hints(operation.extensions.get(GATEWAY_EXTENSION), at)?;
        let paging = resolve_paging::read(
            self.file,
            operation.extensions.get(resolve_paging::PAGING_EXTENSION),
            at,
        )?;
        let security = match self.document_security {
            true => resolve_security::security_of(self.file, self.api, operation, at)?,
            false => None,
        };
        Ok(Operation {
            name,
            type_name,
            summary: operation.summary.clone(),
            description: operation.description.clone(),
            group: operation
                .tags
                .first()
                .map_or_else(|| "Operations".to_owned(), |t| names::pascal(t)),
            method,
            path_template: path
                .iter()
                .map(|p| match p {
                    PathPart::Literal(text) => text.clone(),
                    PathPart::Param(i) => format!("{{{}}}", params[*i].wire_name),
                })
                .collect(),
            path,
            params,
            body,
            idempotency_key,
            read_only,
            idempotent,
            successes,
            errors,
            gateway,
            paging,
            security,
        })
    }

    /// Reads `x-klarna-gateway`, refusing keys and values it does not know so
    /// that a typo in the spec is not silently a default.
    fn gateway_hints(
        &self,
        value: Option<&serde_json::Value>,
        at: &Pointer,
    ) -> Result<Option<GatewayHints>> {
        let Some(value) = value else {
            return Ok(None);
        };
        let at = at.join(GATEWAY_EXTENSION);
        let serde_json::Value::Object(fields) = value else {
            return Err(self.error(&at, "`x-klarna-gateway` must be an object"));
        };
        let mut hints = GatewayHints {
            tool: None,
            destructive: false,
        };
        for (key, value) in fields {
            match (key.as_str(), value) {
                ("tool", serde_json::Value::String(tool)) => {
                    let valid = (1..=64).contains(&tool.len())
                        && tool
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                    if !valid {
                        return Err(self.error(
                            &at.join("tool"),
                            "a tool name is 1 to 64 ASCII letters, digits, `-` or `_`",
                        ));
                    }
                    hints.tool = Some(tool.clone());
                }
                ("destructive", serde_json::Value::Bool(destructive)) => {
                    hints.destructive = *destructive
                }
                ("tool" | "destructive", _) => {
                    return Err(self.error(
                        &at.join(key),
                        "`tool` must be a string and `destructive` true or false",
                    ))
                }
                _ => {
                    return Err(self.error(
                        &at.join(key),
                        format!(
                            "`x-klarna-gateway` has no key `{key}` (only `tool` and `destructive`)"
                        ),
                    ))
                }
            }
        }
        Ok(Some(hints))
    }

    /// Follows `$ref`s into one section of `components`.
    fn component<T>(
        &self,
        item: &'a ReferenceOr<T>,
        section: &str,
        get: impl Fn(&'a Components) -> &'a IndexMap<String, ReferenceOr<T>>,
        at: &Pointer,
    ) -> Result<&'a T> {
        let found = refs::follow(self.file, item, section, self.components.map(get), at)?;
        Ok(found.0)
    }

    /// A form body is an object whose properties are primitives or arrays
    /// of them, as the form style writes them.
    fn check_form_type(&self, ty: &TypeRef, at: &Pointer) -> Result<()> {
        let fits = |ty: &TypeRef| {
            matches!(
                param_style::shape(self.types, ty),
                Ok(param_style::Shape::Primitive | param_style::Shape::List)
            )
        };
        let ok = match self.types.unalias(ty) {
            TypeRef::Named(id) => match self.types.kind(*id) {
                Some(TypeKind::Struct(object)) => {
                    object.additional.is_none() && object.fields.iter().all(|f| fits(&f.ty))
                }
                _ => false,
            },
            TypeRef::Map(value) => fits(value),
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(self.error(
                at,
                "a form body must be an object of strings, numbers, booleans and arrays of them",
            ))
        }
    }

    fn path_parts(&self, path: &str, params: &[Param], at: &Pointer) -> Result<Vec<PathPart>> {
        let mut parts = Vec::new();
        let mut rest = path;
        while let Some(open) = rest.find('{') {
            let close = rest[open..]
                .find('}')
                .map(|c| open + c)
                .ok_or_else(|| self.error(at, format!("unclosed `{{` in path `{path}`")))?;
            if open > 0 {
                parts.push(PathPart::Literal(rest[..open].to_owned()));
            }
            let name = &rest[open + 1..close];
            let index = params
                .iter()
                .position(|p| p.location == ParamLocation::Path && p.wire_name == name)
                .ok_or_else(|| {
                    self.error(at, format!("path parameter `{name}` is not declared"))
                })?;
            parts.push(PathPart::Param(index));
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(PathPart::Literal(rest.to_owned()));
        }
        Ok(parts)
    }

    fn request_body(
        &mut self,
        content: &'a IndexMap<String, MediaType>,
        required: bool,
        hint: &str,
        at: &Pointer,
    ) -> Result<Option<RequestBody>> {
        if content.is_empty() {
            return Ok(None);
        }
        // JSON where the document offers it, then a form, then multipart,
        // then the first other media type as raw bytes.
        let essence = |m: &str| {
            m.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        };
        if let Some((media_type, media)) = content.iter().find(|(m, _)| is_json(m)) {
            let ty = self.media_type(media_type, media, hint, at)?;
            return Ok(Some(RequestBody {
                ty,
                required,
                kind: BodyKind::Json,
            }));
        }
        let form = content
            .iter()
            .find(|(m, _)| essence(m) == "application/x-www-form-urlencoded");
        if let Some((media_type, media)) = form {
            let ty = self.media_type(media_type, media, hint, at)?;
            let schema_at = at.join("content").join(media_type).join("schema");
            self.check_form_type(&ty, &schema_at)?;
            return Ok(Some(RequestBody {
                ty,
                required,
                kind: BodyKind::Form,
            }));
        }
        let kind = if content.keys().any(|m| essence(m) == "multipart/form-data") {
            BodyKind::Multipart
        } else {
            let first = content
                .keys()
                .next()
                .map(|m| essence(m))
                .unwrap_or_default();
            // A range (`image/*`) names no type to send: octet-stream does.
            let media_type = if first.contains('*') || first.is_empty() {
                "application/octet-stream".to_owned()
            } else {
                first
            };
            BodyKind::Bytes(media_type)
        };
        Ok(Some(RequestBody {
            ty: TypeRef::Json,
            required,
            kind,
        }))
    }

    fn outcomes(
        &mut self,
        operation: &'a openapiv3::Operation,
        type_name: &str,
        at: &Pointer,
    ) -> Result<(Vec<Outcome>, Vec<Outcome>)> {
        let responses_at = at.join("responses");
        let mut listed: Vec<(Status, &'a ReferenceOr<Response>, Pointer)> = operation
            .responses
            .responses
            .iter()
            .map(|(code, response)| {
                let status = match code {
                    StatusCode::Code(code) => Status::Code(*code),
                    StatusCode::Range(digit) => Status::Range(*digit),
                };
                (status, response, responses_at.join(code))
            })
            .collect();
        if let Some(default) = &operation.responses.default {
            listed.push((Status::Default, default, responses_at.join("default")));
        }
        let is_success = |status: &Status| match status {
            Status::Code(code) => (200..300).contains(code),
            Status::Range(digit) => *digit == 2,
            Status::Default => false,
        };
        let has_success = listed.iter().any(|(s, _, _)| is_success(s));
        let mut successes = Vec::new();
        let mut errors = Vec::new();
        let mut variants = Scope::default();
        for (status, response, response_at) in listed {
            let response = self.component(response, "responses", |c| &c.responses, &response_at)?;
            // With no 2xx documented, `default` is the success.
            let success = is_success(&status) || (!has_success && status == Status::Default);
            let variant = variants.claim(&status_name(status));
            let hint = if success {
                format!("{type_name}{variant}Response")
            } else {
                format!("{type_name}{variant}Error")
            };
            let body = self.response_body(&response.content, &hint, &response_at)?;
            let headers = if success {
                self.response_headers(&response.headers, &response_at)?
            } else {
                Vec::new()
            };
            let outcome = Outcome {
                status,
                variant,
                description: response.description.clone(),
                body,
                headers,
            };
            if success {
                successes.push(outcome)
            } else {
                errors.push(outcome)
            }
        }
        Ok((successes, errors))
    }

    fn response_body(
        &mut self,
        content: &'a IndexMap<String, MediaType>,
        hint: &str,
        at: &Pointer,
    ) -> Result<Option<ResponseBody>> {
        if content.is_empty() {
            return Ok(None);
        }
        match content.iter().find(|(m, _)| is_json(m)) {
            Some((media_type, media)) => Ok(Some(ResponseBody::Json(
                self.media_type(media_type, media, hint, at)?,
            ))),
            None => Ok(Some(ResponseBody::Bytes)),
        }
    }

    /// The type of a JSON body; a media type without a schema is any JSON.
    fn media_type(
        &mut self,
        media_type: &str,
        media: &'a MediaType,
        hint: &str,
        at: &Pointer,
    ) -> Result<TypeRef> {
        match &media.schema {
            Some(schema) => self.types.resolve(
                schema.into(),
                &at.join("content").join(media_type).join("schema"),
                hint,
            ),
            None => Ok(TypeRef::Json),
        }
    }

    fn response_headers(
        &self,
        headers: &'a IndexMap<String, ReferenceOr<openapiv3::Header>>,
        at: &Pointer,
    ) -> Result<Vec<ResponseHeader>> {
        let mut fields = Scope::default();
        let mut out = Vec::new();
        for (wire_name, header) in headers {
            let header_at = at.join("headers").join(wire_name);
            // `Content-Type` and friends are the transport's business.
            if wire_name.eq_ignore_ascii_case("content-type")
                || wire_name.eq_ignore_ascii_case("content-length")
            {
                continue;
            }
            let header = self.component(header, "headers", |c| &c.headers, &header_at)?;
            let schema_doc = match &header.format {
                ParameterSchemaOrContent::Schema(ReferenceOr::Item(schema)) => {
                    doc_of(&View::of(schema))
                }
                _ => Doc::default(),
            };
            out.push(ResponseHeader {
                field: fields.claim(&names::snake(wire_name)),
                id_type: None,
                wire_name: wire_name.clone(),
                required: header.required,
                doc: Doc {
                    text: header.description.clone().or(schema_doc.text),
                    ..schema_doc
                },
            });
        }
        Ok(out)
    }
}

/// The one rule for bodies that are not JSON: they are never decoded. The
/// success of an operation that has only one, without headers, is handed
/// over as a stream of chunks when the document gives it a media type other
/// than JSON (a CSV or PDF report), or, for a `GET`'s `200`, none at all (a
/// file whose type the document forgot, as Klarna's Settlements reports):
/// never held whole in memory, never bound by the buffered-answer limit.
/// Other non-JSON successes stay bytes; error bodies of any media type but
/// JSON are not decoded either (their status, Klarna's error fields when
/// the body has them, and an excerpt are in the error's details).
fn streamed_success(method: &str, successes: &mut [Outcome]) {
    let [only] = successes else {
        return;
    };
    if !only.headers.is_empty() {
        return;
    }
    let undeclared_file = method == "GET" && only.status == Status::Code(200);
    match only.body {
        Some(ResponseBody::Bytes) => only.body = Some(ResponseBody::Stream),
        None if undeclared_file => only.body = Some(ResponseBody::Stream),
        _ => {}
    }
}

/// The path the operations' paths are relative to: the path part of the
/// first server's URL (`https://api.klarna.com/settlements/v1` gives
/// `/settlements/v1`), with server variables at their defaults, and no
/// trailing slash; empty without servers. The generated clients are
/// configured with a host (scheme and authority) only, so this prefix
/// becomes part of every operation's path. The first server decides
/// because documents often list a local or test server with another path
/// after the real one. A path with a variable the server does not declare
/// (`/merchants/{merchantAccount}/sync`, with no default to put in) cannot
/// be known here: it is left to the base URL the caller configures, and
/// the operations' paths start at their own.
pub fn base_path(api: &OpenAPI) -> String {
    let Some(server) = api.servers.first() else {
        return String::new();
    };
    let mut url = server.url.clone();
    if let Some(variables) = &server.variables {
        for (name, variable) in variables {
            url = url.replace(&format!("{{{name}}}"), &variable.default);
        }
    }
    let after_scheme = match url.find("://") {
        Some(at) => Some(&url[at + 3..]),
        None if url.starts_with("//") => Some(&url[2..]),
        None => None,
    };
    let path = match after_scheme {
        None => clean_base_path(&url),
        Some(rest) => rest
            .find('/')
            .map_or_else(String::new, |at| clean_base_path(&rest[at..])),
    };
    if path.contains(['{', '}']) {
        return String::new();
    }
    path
}

/// A base path without query, fragment or trailing slashes, starting with
/// `/` unless empty.
fn clean_base_path(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let path = path.trim_end_matches('/');
    if path.is_empty() || path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    }
}

fn is_json(media_type: &str) -> bool {
    let essence = media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence == "*/*"
        || essence.ends_with("+json")
        || essence == "text/json"
}

/// `Created`, `NotFound`, `ClientError`: a name for a response.
fn status_name(status: Status) -> String {
    let reason = match status {
        Status::Default => return "Default".to_owned(),
        Status::Range(digit) => match digit {
            1 => "Informational",
            2 => "Success",
            3 => "Redirection",
            4 => "ClientError",
            _ => "ServerError",
        },
        Status::Code(code) => match code {
            200 => "Ok",
            201 => "Created",
            202 => "Accepted",
            203 => "NonAuthoritativeInformation",
            204 => "NoContent",
            206 => "PartialContent",
            301 => "MovedPermanently",
            302 => "Found",
            303 => "SeeOther",
            304 => "NotModified",
            307 => "TemporaryRedirect",
            308 => "PermanentRedirect",
            400 => "BadRequest",
            401 => "Unauthorized",
            402 => "PaymentRequired",
            403 => "Forbidden",
            404 => "NotFound",
            405 => "MethodNotAllowed",
            406 => "NotAcceptable",
            408 => "RequestTimeout",
            409 => "Conflict",
            410 => "Gone",
            412 => "PreconditionFailed",
            413 => "PayloadTooLarge",
            415 => "UnsupportedMediaType",
            422 => "UnprocessableEntity",
            423 => "Locked",
            428 => "PreconditionRequired",
            429 => "TooManyRequests",
            500 => "InternalServerError",
            501 => "NotImplemented",
            502 => "BadGateway",
            503 => "ServiceUnavailable",
            504 => "GatewayTimeout",
            code => return format!("Status{code}"),
        },
    };
    reason.to_owned()
}

#[cfg(test)]
mod tests {
    use super::base_path;

    fn with_servers(servers: &str) -> openapiv3::OpenAPI {
        let text = format!(
            r#"{{"openapi":"3.0.3","info":{{"title":"t","version":"1"}},"paths":{{}},"servers":{servers}}}"#
        );
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn the_first_servers_path_is_the_base_path() {
        let cases = [
            (r#"[]"#, ""),
            (r#"[{"url":"https://api.klarna.com"}]"#, ""),
            (r#"[{"url":"https://api.klarna.com/"}]"#, ""),
            (
                r#"[{"url":"https://api.klarna.com/settlements/v1"}]"#,
                "/settlements/v1",
            ),
            (
                r#"[{"url":"https://api.klarna.com/settlements/v1/?x=1"}]"#,
                "/settlements/v1",
            ),
            (r#"[{"url":"/v2"},{"url":"https://other/v3"}]"#, "/v2"),
            (
                r#"[{"url":"https://{host}/{base}","variables":{"host":{"default":"h"},"base":{"default":"api/v1"}}}]"#,
                "/api/v1",
            ),
            // Undeclared variables: the caller's base URL holds that path.
            (
                r#"[{"url":"https://device-api-test.adyen.com/v1/merchants/{merchantAccount}/devices/{deviceId}/sync"}]"#,
                "",
            ),
        ];
        for (servers, expected) in cases {
            assert_eq!(base_path(&with_servers(servers)), expected, "{servers}");
        }
    }
}
