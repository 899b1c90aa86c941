//! Generated clients on the wire, against the OpenAPI specification's style
//! table: one test per row (a style and an `explode`), each sending the
//! parameter `color` as the table's string (`"blue"`), array
//! (`["blue","black","brown"]`) and object (`{"R":100,"G":200,"B":150}`)
//! through the client generated from `tests/fixtures/styles.yaml`, to a
//! loopback server that records the raw request.
//!
//! The expected forms are the cells of "Style Examples" in OpenAPI 3.0.4
//! and 3.1.1 (section 4.7.12.4 / 4.8.12.4), copied from the specification's
//! text, not from this generator's output. Those patch releases settled two
//! things 3.0.3 and 3.1.0 printed otherwise: a non-exploded `label` list is
//! comma-separated (`.blue,black,brown`, as RFC 6570's `{.list}` is), and
//! the `|`, `[` and `]` that RFC 3986 forbids in a query are
//! percent-encoded (`blue%7Cblack%7Cbrown`, `color%5BR%5D=100`, as their
//! Appendix E says). In the query, the table's cell is the query string
//! (`color=...`); in the path, it replaces `{color}`; in a header, it is the
//! header's value.

use std::future::Future;
use std::time::Duration;

use klarna_runtime::{Config, Credentials, Error, Response, RetryPolicy};
use klarna_tests::fixtures::styles::{models, Client, Operations};
use klarna_tests::server::{CannedResponse, RecordedRequest, TestServer};

/// Sends one call to a fresh loopback server and returns what it read.
async fn sent<E: std::fmt::Debug, F>(call: impl FnOnce(Client) -> F) -> RecordedRequest
where
    F: Future<Output = Result<Response<()>, Error<E>>>,
{
    let server = TestServer::start();
    server.respond(CannedResponse::new(204));
    let config = Config::with_base_url(server.url(), Credentials::basic("user", "secret"))
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .retry(RetryPolicy::never());
    let client = Client::from_config(config).unwrap();
    call(client).await.expect("the server answers 204");
    server.single_request()
}

fn array() -> Vec<String> {
    ["blue", "black", "brown"].map(String::from).to_vec()
}

fn object() -> models::Color {
    models::Color::new(100, 200, 150)
}

/// The request line as sent: method and target, the query included.
fn request_line(request: &RecordedRequest) -> String {
    format!("{} {}", request.method, request.target)
}

#[tokio::test]
async fn matrix_not_exploded() {
    let r = sent(|c| async move { c.path_matrix_false_string("blue").await }).await;
    assert_eq!(
        request_line(&r),
        "GET /path/matrix/false/string/;color=blue"
    );
    let r = sent(|c| async move { c.path_matrix_false_array(&array()).await }).await;
    assert_eq!(
        request_line(&r),
        "GET /path/matrix/false/array/;color=blue,black,brown"
    );
    let r = sent(|c| async move { c.path_matrix_false_object(&object()).await }).await;
    assert_eq!(
        request_line(&r),
        "GET /path/matrix/false/object/;color=R,100,G,200,B,150"
    );
}

#[tokio::test]
async fn matrix_exploded() {
    let r = sent(|c| async move { c.path_matrix_true_string("blue").await }).await;
    assert_eq!(request_line(&r), "GET /path/matrix/true/string/;color=blue");
    let r = sent(|c| async move { c.path_matrix_true_array(&array()).await }).await;
    assert_eq!(
        request_line(&r),
        "GET /path/matrix/true/array/;color=blue;color=black;color=brown"
    );
    let r = sent(|c| async move { c.path_matrix_true_object(&object()).await }).await;
    assert_eq!(
        request_line(&r),
        "GET /path/matrix/true/object/;R=100;G=200;B=150"
    );
}

#[tokio::test]
async fn label_not_exploded() {
    let r = sent(|c| async move { c.path_label_false_string("blue").await }).await;
    assert_eq!(request_line(&r), "GET /path/label/false/string/.blue");
    let r = sent(|c| async move { c.path_label_false_array(&array()).await }).await;
    assert_eq!(
        request_line(&r),
        "GET /path/label/false/array/.blue,black,brown"
    );
    let r = sent(|c| async move { c.path_label_false_object(&object()).await }).await;
    assert_eq!(
        request_line(&r),
        "GET /path/label/false/object/.R,100,G,200,B,150"
    );
}

#[tokio::test]
async fn label_exploded() {
    let r = sent(|c| async move { c.path_label_true_string("blue").await }).await;
    assert_eq!(request_line(&r), "GET /path/label/true/string/.blue");
    let r = sent(|c| async move { c.path_label_true_array(&array()).await }).await;
    assert_eq!(
        request_line(&r),
        "GET /path/label/true/array/.blue.black.brown"
    );
    let r = sent(|c| async move { c.path_label_true_object(&object()).await }).await;
    assert_eq!(
        request_line(&r),
        "GET /path/label/true/object/.R=100.G=200.B=150"
    );
}

#[tokio::test]
async fn simple_not_exploded_in_the_path() {
    let r = sent(|c| async move { c.path_simple_false_string("blue").await }).await;
    assert_eq!(request_line(&r), "GET /path/simple/false/string/blue");
    let r = sent(|c| async move { c.path_simple_false_array(&array()).await }).await;
    assert_eq!(
        request_line(&r),
        "GET /path/simple/false/array/blue,black,brown"
    );
    let r = sent(|c| async move { c.path_simple_false_object(&object()).await }).await;
    assert_eq!(
        request_line(&r),
        "GET /path/simple/false/object/R,100,G,200,B,150"
    );
}

#[tokio::test]
async fn simple_exploded_in_the_path() {
    let r = sent(|c| async move { c.path_simple_true_string("blue").await }).await;
    assert_eq!(request_line(&r), "GET /path/simple/true/string/blue");
    let r = sent(|c| async move { c.path_simple_true_array(&array()).await }).await;
    assert_eq!(
        request_line(&r),
        "GET /path/simple/true/array/blue,black,brown"
    );
    let r = sent(|c| async move { c.path_simple_true_object(&object()).await }).await;
    assert_eq!(
        request_line(&r),
        "GET /path/simple/true/object/R=100,G=200,B=150"
    );
}

#[tokio::test]
async fn form_not_exploded() {
    let r = sent(|c| async move { c.query_form_false_string("blue").await }).await;
    assert_eq!(request_line(&r), "GET /query/form/false/string?color=blue");
    let r = sent(|c| async move { c.query_form_false_array(&array()).await }).await;
    assert_eq!(
        request_line(&r),
        "GET /query/form/false/array?color=blue,black,brown"
    );
    let r = sent(|c| async move { c.query_form_false_object(&object()).await }).await;
    assert_eq!(
        request_line(&r),
        "GET /query/form/false/object?color=R,100,G,200,B,150"
    );
}

#[tokio::test]
async fn form_exploded() {
    let r = sent(|c| async move { c.query_form_true_string("blue").await }).await;
    assert_eq!(request_line(&r), "GET /query/form/true/string?color=blue");
    let r = sent(|c| async move { c.query_form_true_array(&array()).await }).await;
    assert_eq!(
        request_line(&r),
        "GET /query/form/true/array?color=blue&color=black&color=brown"
    );
    let r = sent(|c| async move { c.query_form_true_object(&object()).await }).await;
    assert_eq!(
        request_line(&r),
        "GET /query/form/true/object?R=100&G=200&B=150"
    );
}

#[tokio::test]
async fn form_with_an_empty_string() {
    // The table's `empty` column: `color=`.
    let r = sent(|c| async move { c.query_form_true_string("").await }).await;
    assert_eq!(request_line(&r), "GET /query/form/true/string?color=");
}

#[tokio::test]
async fn space_delimited() {
    let r = sent(|c| async move { c.query_space_delimited_false_array(&array()).await }).await;
    assert_eq!(
        request_line(&r),
        "GET /query/spaceDelimited/false/array?color=blue%20black%20brown"
    );
    let r = sent(|c| async move { c.query_space_delimited_false_object(&object()).await }).await;
    assert_eq!(
        request_line(&r),
        "GET /query/spaceDelimited/false/object?color=R%20100%20G%20200%20B%20150"
    );
}

#[tokio::test]
async fn pipe_delimited() {
    let r = sent(|c| async move { c.query_pipe_delimited_false_array(&array()).await }).await;
    assert_eq!(
        request_line(&r),
        "GET /query/pipeDelimited/false/array?color=blue%7Cblack%7Cbrown"
    );
    let r = sent(|c| async move { c.query_pipe_delimited_false_object(&object()).await }).await;
    assert_eq!(
        request_line(&r),
        "GET /query/pipeDelimited/false/object?color=R%7C100%7CG%7C200%7CB%7C150"
    );
}

#[tokio::test]
async fn deep_object() {
    let r = sent(|c| async move { c.query_deep_object_true_object(&object()).await }).await;
    assert_eq!(
        request_line(&r),
        "GET /query/deepObject/true/object?color%5BR%5D=100&color%5BG%5D=200&color%5BB%5D=150"
    );
}

#[tokio::test]
async fn simple_not_exploded_in_a_header() {
    let r = sent(|c| async move { c.header_simple_false_string("blue").await }).await;
    assert_eq!(r.header("color"), Some("blue"));
    let r = sent(|c| async move { c.header_simple_false_array(&array()).await }).await;
    assert_eq!(r.header("color"), Some("blue,black,brown"));
    let r = sent(|c| async move { c.header_simple_false_object(&object()).await }).await;
    assert_eq!(r.header("color"), Some("R,100,G,200,B,150"));
}

#[tokio::test]
async fn simple_exploded_in_a_header() {
    let r = sent(|c| async move { c.header_simple_true_string("blue").await }).await;
    assert_eq!(r.header("color"), Some("blue"));
    let r = sent(|c| async move { c.header_simple_true_array(&array()).await }).await;
    assert_eq!(r.header("color"), Some("blue,black,brown"));
    let r = sent(|c| async move { c.header_simple_true_object(&object()).await }).await;
    assert_eq!(r.header("color"), Some("R=100,G=200,B=150"));
}

#[tokio::test]
async fn form_not_exploded_in_a_cookie() {
    let r = sent(|c| async move { c.cookie_form_false_string("blue").await }).await;
    assert_eq!(r.header("cookie"), Some("color=blue"));
    let r = sent(|c| async move { c.cookie_form_false_array(&array()).await }).await;
    assert_eq!(r.header("cookie"), Some("color=blue,black,brown"));
    let r = sent(|c| async move { c.cookie_form_false_object(&object()).await }).await;
    assert_eq!(r.header("cookie"), Some("color=R,100,G,200,B,150"));
}

#[tokio::test]
async fn form_exploded_in_a_cookie() {
    // The table's exploded list and object (`color=blue&color=black`) are
    // query syntax, not a cookie's: the generator refuses them (below).
    let r = sent(|c| async move { c.cookie_form_true_string("blue").await }).await;
    assert_eq!(r.header("cookie"), Some("color=blue"));
}

#[tokio::test]
async fn cookies_share_one_header_and_their_values_are_encoded() {
    // RFC 6265 section 5.4: one `Cookie` header, pairs joined by `; `. A `;`
    // or a space inside a value would end it: percent-encoded, as the form
    // style encodes.
    let r = sent(|c| async move { c.cookie_two("a; b").theme("dark").await }).await;
    assert_eq!(r.headers("cookie"), ["session=a%3B%20b; theme=dark"]);
    let r = sent(|c| async move { c.cookie_two("s1").await }).await;
    assert_eq!(r.header("cookie"), Some("session=s1"));
}

#[tokio::test]
async fn reserved_characters_in_values_are_encoded_and_the_style_delimiters_are_not() {
    let tags = ["a,b", "c&d"].map(String::from);
    let filter = models::Filter {
        min_amount: None,
        ..models::Filter::new("x=1 y")
    };
    let r =
        sent(|c| async move { c.reserved("a/b?c").tags(&tags[..]).filter(&filter).await }).await;
    // RFC 3986: `/`, `?`, `,`, `&`, `=` and space inside a value are
    // percent-encoded; the comma between list items is the style's own. An
    // optional property that is not set is left out.
    assert_eq!(
        request_line(&r),
        "GET /reserved/a%2Fb%3Fc?tags=a%2Cb,c%26d&filter%5Bname%5D=x%3D1%20y"
    );
}

/// A document with one parameter, for the refusals below.
fn one_parameter(parameter: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "openapi": "3.0.3",
        "info": { "title": "One parameter", "version": "1" },
        "paths": { "/things/{id}": { "get": {
            "parameters": [
                { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } },
                parameter
            ],
            "responses": { "204": { "description": "Done." } }
        } } }
    })
}

#[test]
fn what_the_style_table_does_not_define_is_refused_with_its_place() {
    let strings = serde_json::json!({ "type": "array", "items": { "type": "string" } });
    let point =
        serde_json::json!({ "type": "object", "properties": { "x": { "type": "integer" } } });
    let nested = serde_json::json!({
        "type": "object",
        "properties": { "inner": { "type": "object", "properties": { "x": { "type": "string" } } } }
    });
    let cases = [
        (
            serde_json::json!({ "name": "q", "in": "query", "style": "pipeDelimited", "schema": { "type": "string" } }),
            "#/paths/~1things~1{id}/get/parameters/1: style `pipeDelimited` with explode: false is not defined for a primitive in the query",
        ),
        (
            serde_json::json!({ "name": "q", "in": "query", "style": "spaceDelimited", "explode": true, "schema": strings }),
            "#/paths/~1things~1{id}/get/parameters/1: style `spaceDelimited` with explode: true is not defined for an array in the query",
        ),
        (
            serde_json::json!({ "name": "q", "in": "query", "style": "deepObject", "schema": strings }),
            "#/paths/~1things~1{id}/get/parameters/1: style `deepObject` with explode: false is not defined for an array in the query",
        ),
        (
            serde_json::json!({ "name": "q", "in": "query", "style": "deepObject", "schema": nested }),
            "#/paths/~1things~1{id}/get/parameters/1/schema: only strings, numbers, booleans and enums of them, arrays of those and objects whose properties are those are supported as parameters",
        ),
        (
            serde_json::json!({ "name": "c", "in": "cookie", "explode": true, "schema": strings }),
            "#/paths/~1things~1{id}/get/parameters/1: style `form` with explode: true is not defined for an array in the cookie",
        ),
        (
            // A style of another place is not a style of this one.
            serde_json::json!({ "name": "q", "in": "header", "style": "form", "schema": point }),
            "#/paths/~1things~1{id}/get/parameters/1/style: style `form` is not one of a header parameter's (simple)",
        ),
    ];
    for (parameter, expected) in cases {
        let error = xtask::generate_value(
            std::path::Path::new("styles.json"),
            one_parameter(parameter),
        )
        .err()
        .expect("refused");
        let line = error.to_string();
        assert!(line.starts_with("styles.json: "), "{line}");
        assert!(line.contains(expected), "{line}\nexpected: {expected}");
    }
}

/// A client generated from a document of others names that API, not
/// Klarna: in its errors, and in the `User-Agent` it sends (the name and
/// version of the crate it is compiled into: here `klarna-tests`).
#[tokio::test]
async fn a_foreign_client_speaks_for_its_own_api() {
    let server = TestServer::start();
    server.respond(CannedResponse::new(422).body("{}"));
    let config = Config::with_base_url(server.url(), Credentials::basic("user", "secret"))
        .retry(RetryPolicy::never());
    let client = Client::from_config(config).unwrap();
    let error = client.path_simple_false_string("blue").await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "path_simple_false_string: Style table answered with undocumented status 422"
    );
    let request = server.single_request();
    assert_eq!(
        request.header("user-agent"),
        Some(concat!("klarna-tests/", env!("CARGO_PKG_VERSION")))
    );
    assert!(!error.to_string().contains("Klarna"));
}
