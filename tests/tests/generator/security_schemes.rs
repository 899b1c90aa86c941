//! Security from a document's `securitySchemes`, as the client generated
//! from `tests/fixtures/security.yaml` sends it to a loopback server: HTTP
//! Basic and Bearer, API keys in a header, the query and a cookie, an OAuth 2
//! access token, per operation as its `security` (or the document's) says.

use std::future::Future;
use std::time::Duration;

use klarna_runtime::{
    Config, Credentials, Error, ErrorKind, Response, RetryPolicy, SchemeCredentials,
};
use klarna_tests::fixtures::security::{Client, Operations};
use klarna_tests::server::{CannedResponse, RecordedRequest, TestServer};

/// One call with `credentials` to a fresh loopback server: what it read
/// (`None`: nothing arrived) and the call's result.
async fn sent<F>(
    credentials: impl Into<Credentials>,
    call: impl FnOnce(Client) -> F,
) -> (
    Option<RecordedRequest>,
    Result<Response<()>, Error<std::convert::Infallible>>,
)
where
    F: Future<Output = Result<Response<()>, Error<std::convert::Infallible>>>,
{
    let server = TestServer::start();
    server.respond(CannedResponse::new(204));
    let config = Config::with_base_url(server.url(), credentials.into())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .retry(RetryPolicy::never());
    let client = Client::from_config(config).unwrap();
    let result = call(client).await;
    (server.requests().into_iter().next(), result)
}

fn all() -> SchemeCredentials {
    SchemeCredentials::new()
        .token("bearerAuth", "b-token")
        .basic("basicAuth", "user", "pass")
        .token("headerKey", "h-key")
        .token("queryKey", "q key")
        .token("cookieKey", "c-key")
        .token("oauth", "o-token")
}

#[tokio::test]
async fn the_documents_default_security_applies_where_an_operation_has_none() {
    let (request, _) = sent(all(), |c| async move { c.get_default().await }).await;
    assert_eq!(
        request.unwrap().header("authorization"),
        Some("Bearer b-token")
    );
}

#[tokio::test]
async fn http_basic_sends_the_username_and_password() {
    let (request, _) = sent(all(), |c| async move { c.get_basic().await }).await;
    // RFC 7617: base64 of `user:pass`.
    assert_eq!(
        request.unwrap().header("authorization"),
        Some("Basic dXNlcjpwYXNz")
    );
}

#[tokio::test]
async fn api_keys_go_in_the_header_query_or_cookie_the_scheme_names() {
    let (request, _) = sent(all(), |c| async move { c.get_header_key().await }).await;
    let request = request.unwrap();
    assert_eq!(request.header("x-api-key"), Some("h-key"));
    assert_eq!(request.header("authorization"), None);

    let (request, _) = sent(all(), |c| async move { c.get_query_key().page(2).await }).await;
    let request = request.unwrap();
    assert_eq!(request.target, "/query-key?page=2&api_key=q%20key");
    assert_eq!(request.header("authorization"), None);

    let (request, _) = sent(all(), |c| async move { c.get_cookie_key().await }).await;
    assert_eq!(request.unwrap().header("cookie"), Some("session=c-key"));
}

#[tokio::test]
async fn an_oauth2_scheme_sends_the_access_token_as_bearer() {
    let (request, _) = sent(all(), |c| async move { c.get_oauth().await }).await;
    assert_eq!(
        request.unwrap().header("authorization"),
        Some("Bearer o-token")
    );
}

#[tokio::test]
async fn of_alternatives_the_first_the_credentials_satisfy_is_sent() {
    let (request, _) = sent(all(), |c| async move { c.get_either().await }).await;
    let request = request.unwrap();
    assert_eq!(request.header("x-api-key"), Some("h-key"));
    assert_eq!(request.header("authorization"), None);

    let bearer_only = SchemeCredentials::new().token("bearerAuth", "b-token");
    let (request, _) = sent(bearer_only, |c| async move { c.get_either().await }).await;
    let request = request.unwrap();
    assert_eq!(request.header("authorization"), Some("Bearer b-token"));
    assert_eq!(request.header("x-api-key"), None);
}

#[tokio::test]
async fn a_requirement_of_two_schemes_sends_both_or_nothing() {
    let (request, _) = sent(all(), |c| async move { c.get_both().await }).await;
    let request = request.unwrap();
    assert_eq!(request.header("x-api-key"), Some("h-key"));
    assert_eq!(request.target, "/both?api_key=q%20key");

    let header_only = SchemeCredentials::new().token("headerKey", "h-key");
    let (request, result) = sent(header_only, |c| async move { c.get_both().await }).await;
    assert!(request.is_none(), "nothing may be sent: {request:?}");
    let error = result.unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::NotSent(_)), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("`headerKey` (a token) and `queryKey` (a token)"),
        "{message}"
    );
    assert!(!message.contains("h-key"), "no secret in errors: {message}");
}

#[tokio::test]
async fn an_operation_without_security_sends_no_credentials() {
    let (request, _) = sent(all(), |c| async move { c.get_public().await }).await;
    let request = request.unwrap();
    for header in ["authorization", "x-api-key", "cookie"] {
        assert_eq!(request.header(header), None, "{header}");
    }
    assert_eq!(request.target, "/public");
}

#[tokio::test]
async fn optional_security_sends_credentials_when_there_are_some() {
    let (request, _) = sent(all(), |c| async move { c.get_optional().await }).await;
    assert_eq!(
        request.unwrap().header("authorization"),
        Some("Bearer b-token")
    );
    let (request, result) = sent(SchemeCredentials::new(), |c| async move {
        c.get_optional().await
    })
    .await;
    assert!(result.is_ok());
    assert_eq!(request.unwrap().header("authorization"), None);
}

#[tokio::test]
async fn basic_credentials_of_the_klarna_kind_are_sent_on_every_call_as_before() {
    let (request, _) = sent(Credentials::basic("user", "pass"), |c| async move {
        c.get_public().await
    })
    .await;
    assert_eq!(
        request.unwrap().header("authorization"),
        Some("Basic dXNlcjpwYXNz")
    );
}

#[test]
fn an_http_scheme_other_than_basic_or_bearer_is_refused_with_its_place() {
    let document = serde_json::json!({
        "openapi": "3.0.3",
        "info": { "title": "Digest", "version": "1" },
        "security": [{ "digestAuth": [] }],
        "paths": { "/x": { "get": { "responses": { "204": { "description": "Done." } } } } },
        "components": { "securitySchemes": { "digestAuth": { "type": "http", "scheme": "digest" } } }
    });
    let error = xtask::generate_value(std::path::Path::new("digest.json"), document)
        .err()
        .expect("refused");
    assert_eq!(
        error.to_string(),
        "digest.json: #/components/securitySchemes/digestAuth/scheme: HTTP authentication scheme `digest` is not supported (only basic and bearer)"
    );
    // A requirement naming a scheme the document never declares is passed
    // over, not refused: published documents do it (Klarna's Order
    // Management document requires `basicAuth` and declares another name).
    let document = serde_json::json!({
        "openapi": "3.0.3",
        "info": { "title": "Missing", "version": "1" },
        "paths": { "/x": { "get": {
            "security": [{ "nowhere": [] }],
            "responses": { "204": { "description": "Done." } }
        } } }
    });
    let generated = xtask::generate_value(std::path::Path::new("missing.json"), document);
    assert!(
        generated.is_ok(),
        "{:?}",
        generated.err().map(|e| e.to_string())
    );
}
