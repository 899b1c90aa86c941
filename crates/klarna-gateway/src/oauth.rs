//! OAuth 2.1 for remote callers: each adapter as a resource server, as the
//! MCP authorization specification describes.
//!
//! - The adapter publishes its Protected Resource Metadata (RFC 9728) at
//!   `/.well-known/oauth-protected-resource` (and at that path followed by
//!   the resource's own path, `/mcp` or `/v1`, where RFC 9728 puts it):
//!   the resource URL, the issuer as its authorization server, the scopes
//!   of its tools.
//! - A request without a valid access token gets 401 with
//!   `WWW-Authenticate: Bearer resource_metadata="..."`, which is how an
//!   MCP client finds the issuer and starts the authorization flow.
//! - An access token is a JWT signed by the issuer with a key of its JWKS
//!   (fetched from the issuer's metadata or a configured URL, cached, and
//!   fetched again for a key id it does not know: key rotation, at most
//!   once per [`IssuerOptions::min_refresh`]). Its signature, `exp`,
//!   `nbf`, `iss` and `aud` are checked; `aud` must name this adapter's
//!   resource URL (RFC 8707), so a token issued for another service is
//!   refused here.
//! - Scopes decide which tools exist for a caller ([`ScopeMap`]): a tool
//!   the token's scopes do not cover is not in its `tools/list`, and a
//!   call of it gets 403 naming the scope it needs (`WWW-Authenticate:
//!   Bearer error="insufficient_scope", scope="..."`).
//! - An MCP session belongs to the subject whose token opened it: another
//!   subject's token cannot use it (404, as for an unknown session).
//!
//! Symmetric algorithms (`HS256`...) and `none` are never accepted: a key
//! published in a JWKS is public, and anyone could sign with it as an HMAC
//! secret.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use axum::http::header;
use axum::Router;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use reqwest::Url;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::call::Adapter;
use crate::revoke::Revocations;
use crate::table::Tool;

/// Turns OAuth on: the issuer's URL (its `iss`).
pub const ISSUER_VAR: &str = "KLARNA_GATEWAY_OAUTH_ISSUER";
/// The issuer's JWKS URL, when its metadata should not be read for it.
pub const JWKS_URI_VAR: &str = "KLARNA_GATEWAY_OAUTH_JWKS_URI";
/// The MCP adapter's resource URL as clients reach it (the tokens' `aud`).
pub const MCP_RESOURCE_VAR: &str = "KLARNA_GATEWAY_OAUTH_MCP_RESOURCE";
/// The REST adapter's resource URL as clients reach it (the tokens' `aud`).
pub const REST_RESOURCE_VAR: &str = "KLARNA_GATEWAY_OAUTH_REST_RESOURCE";
/// The first part of every scope name (`klarna` in `klarna:payments:read`).
pub const SCOPE_PREFIX_VAR: &str = "KLARNA_GATEWAY_OAUTH_SCOPE_PREFIX";

/// Where Protected Resource Metadata is served (RFC 9728).
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";
/// The default first part of scope names.
pub const DEFAULT_SCOPE_PREFIX: &str = "klarna";

/// The JSON-RPC error code of a tool call refused for a missing scope.
pub const INSUFFICIENT_SCOPE_CODE: i32 = -32003;

/// The largest metadata or JWKS document read from the issuer.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// MCP sessions whose owner is remembered; past it the oldest is
/// forgotten, and its client must start a new session.
const MAX_SESSIONS: usize = 10_000;

/// The OAuth settings as the command line and environment give them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthSettings {
    /// The issuer (`iss`) whose tokens are accepted.
    pub issuer: String,
    /// Its JWKS URL; `None`: read from its metadata (RFC 8414, then
    /// OpenID Connect discovery).
    pub jwks_uri: Option<String>,
    /// The MCP adapter's resource URL; `None`: `http://<bind>/mcp` for a
    /// loopback bind with a port (required otherwise).
    pub mcp_resource: Option<String>,
    /// The REST adapter's resource URL; `None`: `http://<bind>/v1`, as
    /// for MCP.
    pub rest_resource: Option<String>,
    /// The first part of the scope names ([`ScopeMap`]).
    pub scope_prefix: String,
    /// The revocation file ([`crate::revoke`]), if any.
    pub revoked: Option<std::path::PathBuf>,
}

impl OAuthSettings {
    /// The revocation file these settings name, read: `None` without one,
    /// an error naming the file and line when it cannot be read.
    pub fn revocations(&self) -> Result<Option<Arc<Revocations>>, String> {
        self.revoked
            .as_ref()
            .map(|path| Revocations::load(path).map(Arc::new))
            .transpose()
    }

    /// The issuer these settings name, its keys not fetched yet.
    pub fn issuer(&self) -> Result<Arc<Issuer>, String> {
        Issuer::new(
            &self.issuer,
            self.jwks_uri.as_deref(),
            IssuerOptions::default(),
        )
        .map(Arc::new)
    }

    /// The resource server of one adapter bound at `bind`, serving `tools`
    /// under `path` (`/mcp`, `/v1`).
    pub fn resource_server(
        &self,
        issuer: Arc<Issuer>,
        adapter: Adapter,
        bind: SocketAddr,
        path: &str,
        tools: &[&'static Tool],
    ) -> Result<OAuth, String> {
        let (configured, var) = match adapter {
            Adapter::Mcp => (&self.mcp_resource, MCP_RESOURCE_VAR),
            Adapter::Rest => (&self.rest_resource, REST_RESOURCE_VAR),
        };
        let resource = match configured {
            Some(url) => url.clone(),
            // On loopback the address is the URL (a port chosen by the
            // system is not known yet); elsewhere clients reach the
            // gateway by a name (through a proxy, say) only the operator
            // knows.
            None if bind.ip().is_loopback() && bind.port() != 0 => format!("http://{bind}{path}"),
            None => {
                return Err(format!(
                    "OAuth on {bind}: set {var} to the URL clients reach this adapter by \
                     (the tokens' audience)"
                ))
            }
        };
        OAuth::new(
            issuer,
            &resource,
            ScopeMap::with_prefix(&self.scope_prefix),
            tools,
        )
    }
}

/// The default scope of a tool: `<prefix>:<api>:read` for a read-only
/// operation of that API, `<prefix>:<api>:write` for every other one
/// (money moving, creating, changing). A `write` scope covers the `read`
/// scope of the same API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeMap {
    prefix: String,
}

impl Default for ScopeMap {
    fn default() -> Self {
        ScopeMap::with_prefix(DEFAULT_SCOPE_PREFIX)
    }
}

impl ScopeMap {
    /// Scopes named `<prefix>:<api>:read` and `<prefix>:<api>:write`.
    pub fn with_prefix(prefix: &str) -> Self {
        ScopeMap {
            prefix: prefix.to_owned(),
        }
    }

    /// The scope `tool` needs.
    pub fn required(&self, tool: &Tool) -> String {
        let level = if tool.read_only { "read" } else { "write" };
        format!("{}:{}:{level}", self.prefix, tool.api)
    }

    /// The scopes that let a caller use `tool`: the one it needs, and for
    /// a read-only tool, its API's `write` scope too.
    fn sufficient(&self, tool: &Tool) -> [String; 2] {
        [
            self.required(tool),
            format!("{}:{}:write", self.prefix, tool.api),
        ]
    }

    fn allows(&self, scopes: &BTreeSet<String>, tool: &Tool) -> bool {
        self.sufficient(tool).iter().any(|s| scopes.contains(s))
    }
}

/// How the gateway talks to the issuer.
#[derive(Clone, Debug)]
pub struct IssuerOptions {
    /// The shortest time between two fetches of the JWKS (for a key id
    /// not in the cache, or a cache past [`IssuerOptions::max_age`]): a
    /// flood of tokens with made-up key ids costs the issuer one request
    /// per interval, and an issuer that is down one failed request.
    pub min_refresh: Duration,
    /// How long a fetched JWKS is used before it is fetched again.
    pub max_age: Duration,
    /// How long one request to the issuer may take.
    pub timeout: Duration,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub leeway: u64,
}

impl Default for IssuerOptions {
    fn default() -> Self {
        IssuerOptions {
            min_refresh: Duration::from_secs(30),
            max_age: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
            leeway: 30,
        }
    }
}

/// An authorization server whose tokens are accepted, and its signing
/// keys, cached. Shared by both adapters.
pub struct Issuer {
    issuer: String,
    configured_jwks_uri: Option<String>,
    options: IssuerOptions,
    http: reqwest::Client,
    keys: RwLock<Arc<KeySet>>,
    /// Held while the JWKS is fetched, so that concurrent requests with an
    /// unknown key id wait for one fetch instead of each making one.
    refresh: tokio::sync::Mutex<Fetched>,
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("issuer", &self.issuer)
            .field("jwks_uri", &self.configured_jwks_uri)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Fetched {
    /// When the JWKS was last asked for, answered or not.
    attempted: Option<Instant>,
    /// The JWKS URL read from the issuer's metadata.
    discovered_jwks_uri: Option<String>,
}

/// The usable keys of one JWKS.
#[derive(Default)]
struct KeySet {
    keys: Vec<Key>,
    fetched: Option<Instant>,
}

struct Key {
    kid: Option<String>,
    /// The key's `alg`, when the JWKS names one: a token must use it.
    alg: Option<Algorithm>,
    key: DecodingKey,
}

impl KeySet {
    /// The key for a token with `kid` and `alg`: by key id, or, for a
    /// token without one, the only key of the algorithm's family.
    fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<&DecodingKey> {
        let fits = |k: &&Key| k.key.family() == alg.family() && k.alg.is_none_or(|a| a == alg);
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .filter(fits)
                .find(|k| k.kid.as_deref() == Some(kid)),
            None => {
                let mut candidates = self.keys.iter().filter(fits);
                let only = candidates.next();
                only.filter(|_| candidates.next().is_none())
            }
        }
        .map(|k| &k.key)
    }
}

/// Plain `http` only for loopback: keys fetched over a network without
/// TLS could be anyone's.
fn checked_url(text: &str, what: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("{what}: `{text}` is not a URL ({e})"))?;
    let loopback = url.host_str().is_some_and(|host| {
        host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    });
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(format!(
            "{what}: `{text}` must be an https URL (http only on loopback)"
        )),
    }
}

impl Issuer {
    /// The issuer at `issuer`, its keys at `jwks_uri` or where its
    /// metadata says. Nothing is fetched until a token needs a key (or
    /// [`Issuer::prefetch`]).
    pub fn new(
        issuer: &str,
        jwks_uri: Option<&str>,
        options: IssuerOptions,
    ) -> Result<Issuer, String> {
        checked_url(issuer, "the OAuth issuer")?;
        if let Some(uri) = jwks_uri {
            checked_url(uri, "the JWKS URL")?;
        }
        klarna_runtime::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("the HTTP client for the OAuth issuer: {e}"))?;
        Ok(Issuer {
            issuer: issuer.to_owned(),
            configured_jwks_uri: jwks_uri.map(str::to_owned),
            options,
            http,
            keys: RwLock::new(Arc::new(KeySet::default())),
            refresh: tokio::sync::Mutex::new(Fetched::default()),
        })
    }

    /// The issuer's URL, as tokens must name it in `iss`.
    pub fn url(&self) -> &str {
        &self.issuer
    }

    /// Fetches the keys now (at start, so that a wrong issuer shows at
    /// once): how many usable keys the JWKS has.
    pub async fn prefetch(&self) -> Result<usize, String> {
        let mut fetched = self.refresh.lock().await;
        self.fetch(&mut fetched).await?;
        Ok(self.snapshot().keys.len())
    }

    fn snapshot(&self) -> Arc<KeySet> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The key for a token's `kid` and `alg`: from the cache, or after one
    /// fetch of the JWKS when the cache does not have it (a rotated key)
    /// or is older than [`IssuerOptions::max_age`]. Fetches are at least
    /// [`IssuerOptions::min_refresh`] apart, whatever the reason, so an
    /// issuer that is down costs each request nothing but, once per
    /// interval, one request's wait; meanwhile the keys fetched before
    /// still count.
    async fn key(&self, kid: Option<&str>, alg: Algorithm) -> Result<DecodingKey, Rejection> {
        let fresh = |keys: &KeySet| {
            keys.fetched
                .is_some_and(|at| at.elapsed() < self.options.max_age)
        };
        let keys = self.snapshot();
        let cached = keys.find(kid, alg).cloned();
        if let Some(key) = cached.as_ref().filter(|_| fresh(&keys)) {
            return Ok(key.clone());
        }
        let mut fetched = match (self.refresh.try_lock(), cached) {
            (Ok(fetched), _) => fetched,
            // Stale, and being fetched by another request: it serves
            // until then.
            (Err(_), Some(stale)) => return Ok(stale),
            (Err(_), None) => self.refresh.lock().await,
        };
        // Another request may have fetched while this one waited.
        let keys = self.snapshot();
        let cached = keys.find(kid, alg).cloned();
        let may_fetch = fetched
            .attempted
            .is_none_or(|at| at.elapsed() >= self.options.min_refresh);
        if (cached.is_some() && fresh(&keys)) || !may_fetch {
            return cached.ok_or_else(unknown_key);
        }
        if let Err(message) = self.fetch(&mut fetched).await {
            eprintln!("klarna-gateway: OAuth: {message}");
        }
        drop(fetched);
        // After a fetch that worked, a key the issuer withdrew is refused.
        self.snapshot()
            .find(kid, alg)
            .cloned()
            .ok_or_else(unknown_key)
    }

    /// Fetches the JWKS (after the issuer's metadata, the first time, when
    /// no JWKS URL is configured) and replaces the cached keys.
    async fn fetch(&self, fetched: &mut Fetched) -> Result<(), String> {
        fetched.attempted = Some(Instant::now());
        let jwks_uri = match (&self.configured_jwks_uri, &fetched.discovered_jwks_uri) {
            (Some(uri), _) | (None, Some(uri)) => uri.clone(),
            (None, None) => {
                let uri = self.discover().await?;
                fetched.discovered_jwks_uri = Some(uri.clone());
                uri
            }
        };
        let document = self.get_json(&jwks_uri).await?;
        let keys = parse_jwks(&document)
            .ok_or_else(|| format!("{jwks_uri} is not a JWKS (no `keys` list)"))?;
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(KeySet {
            keys,
            fetched: Some(Instant::now()),
        });
        Ok(())
    }

    /// The JWKS URL from the issuer's metadata: RFC 8414's well-known
    /// location first, then OpenID Connect's. The metadata must name the
    /// same issuer (RFC 8414, section 3.3).
    async fn discover(&self) -> Result<String, String> {
        let mut tried = Vec::new();
        for url in metadata_urls(&self.issuer)? {
            match self.get_json(&url).await {
                Ok(metadata) => {
                    if metadata["issuer"].as_str() != Some(self.issuer.as_str()) {
                        return Err(format!(
                            "the metadata at {url} names another issuer ({})",
                            metadata["issuer"]
                        ));
                    }
                    let jwks_uri = metadata["jwks_uri"]
                        .as_str()
                        .ok_or_else(|| format!("the metadata at {url} has no `jwks_uri`"))?;
                    checked_url(jwks_uri, "the issuer's jwks_uri")?;
                    return Ok(jwks_uri.to_owned());
                }
                Err(message) => tried.push(message),
            }
        }
        Err(format!(
            "no metadata for the issuer {}: {}",
            self.issuer,
            tried.join("; ")
        ))
    }

    /// A JSON document from the issuer, within the size limit.
    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let mut response = self
            .http
            .get(url)
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url} answered {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("{url}: {e}"))? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("{url}: larger than {MAX_DOCUMENT_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| format!("{url} is not JSON: {e}"))
    }
}

fn unknown_key() -> Rejection {
    Rejection::invalid("the token's signing key is not among the issuer's keys")
}

/// Where an issuer's metadata may be: RFC 8414 puts the well-known part
/// between the host and the issuer's path, OpenID Connect after the path.
fn metadata_urls(issuer: &str) -> Result<Vec<String>, String> {
    let url = checked_url(issuer, "the OAuth issuer")?;
    let path = url.path().trim_end_matches('/');
    let origin = url.origin().ascii_serialization();
    Ok(vec![
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
        format!("{origin}{path}/.well-known/openid-configuration"),
    ])
}

/// The keys of a JWKS that can verify a token: signature keys of an
/// asymmetric algorithm. A key of another kind (encryption, a curve this
/// build does not know, an HMAC secret) is passed over, so one odd key
/// does not cost the others. `None` if the document has no `keys` list.
fn parse_jwks(document: &Value) -> Option<Vec<Key>> {
    let keys = document.get("keys")?.as_array()?;
    Some(
        keys.iter()
            .filter(|k| k.get("use").is_none_or(|u| u == "sig"))
            .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
            .filter_map(|jwk| {
                let key = DecodingKey::from_jwk(&jwk).ok()?;
                if key.family() == AlgorithmFamily::Hmac {
                    return None;
                }
                let alg = match &jwk.common.key_algorithm {
                    None => None,
                    // An `alg` that is no signature algorithm (`RSA-OAEP`)
                    // marks an encryption key.
                    Some(alg) => Some(Algorithm::try_from(*alg).ok()?),
                };
                Some(Key {
                    kid: jwk.common.key_id.clone(),
                    alg,
                    key,
                })
            })
            .collect(),
    )
}

/// One adapter as an OAuth resource server: its resource URL, its issuer,
/// how scopes map to its tools, and who owns each MCP session.
#[derive(Clone)]
pub struct OAuth {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: Arc<Issuer>,
    resource: String,
    /// Where this resource's metadata is published (RFC 9728, 3.1).
    metadata_url: String,
    /// The path of [`Inner::metadata_url`], besides [`METADATA_PATH`].
    metadata_path: String,
    scopes: ScopeMap,
    scopes_supported: Vec<String>,
    sessions: Mutex<Sessions>,
    /// The operator's revocation file, if any (set once, before serving).
    revoked: OnceLock<Arc<Revocations>>,
}

impl fmt::Debug for OAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth")
            .field("issuer", &self.inner.issuer.issuer)
            .field("resource", &self.inner.resource)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Sessions {
    owners: HashMap<String, String>,
    order: VecDeque<String>,
}

impl OAuth {
    /// The resource server for `resource` (the URL clients reach the
    /// adapter by, which tokens must name in `aud`), serving `tools`.
    pub fn new(
        issuer: Arc<Issuer>,
        resource: &str,
        scopes: ScopeMap,
        tools: &[&'static Tool],
    ) -> Result<OAuth, String> {
        let url = Url::parse(resource)
            .map_err(|e| format!("the resource URL `{resource}` is not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") || url.fragment().is_some() {
            return Err(format!(
                "the resource URL `{resource}` must be http(s) without a fragment (RFC 8707)"
            ));
        }
        let path = url.path().trim_end_matches('/');
        let metadata_path = format!("{METADATA_PATH}{path}");
        let metadata_url = format!("{}{metadata_path}", url.origin().ascii_serialization());
        let scopes_supported: BTreeSet<String> = tools.iter().map(|t| scopes.required(t)).collect();
        Ok(OAuth {
            inner: Arc::new(Inner {
                issuer,
                resource: resource.to_owned(),
                metadata_url,
                metadata_path,
                scopes,
                scopes_supported: scopes_supported.into_iter().collect(),
                sessions: Mutex::new(Sessions::default()),
                revoked: OnceLock::new(),
            }),
        })
    }

    /// The same resource server, refusing what `revocations` lists
    /// ([`crate::revoke`]). Both adapters share one file. A second call
    /// changes nothing.
    pub fn with_revocations(self, revocations: Arc<Revocations>) -> OAuth {
        let _ = self.inner.revoked.set(revocations);
        self
    }

    /// Whether the operator ended MCP session `session`.
    pub(crate) fn session_revoked(&self, session: &str) -> bool {
        self.inner
            .revoked
            .get()
            .is_some_and(|revoked| revoked.current().session(session))
    }

    /// The resource URL tokens must name in `aud`.
    pub fn resource(&self) -> &str {
        &self.inner.resource
    }

    /// Where the Protected Resource Metadata is published.
    pub fn metadata_url(&self) -> &str {
        &self.inner.metadata_url
    }

    /// The Protected Resource Metadata document (RFC 9728, section 2).
    pub fn metadata(&self) -> Value {
        json!({
            "resource": self.inner.resource,
            "authorization_servers": [self.inner.issuer.issuer],
            "scopes_supported": self.inner.scopes_supported,
            "bearer_methods_supported": ["header"],
            "resource_name": "Klarna gateway",
        })
    }

    /// `router` with the metadata routes added (outside any token check).
    pub(crate) fn add_metadata_routes(&self, mut router: Router) -> Router {
        let document = Arc::new(self.metadata());
        let mut paths = vec![METADATA_PATH.to_owned()];
        if self.inner.metadata_path != METADATA_PATH {
            paths.push(self.inner.metadata_path.clone());
        }
        for path in paths {
            let document = document.clone();
            router = router.route(
                &path,
                axum::routing::get(move || async move { axum::Json((*document).clone()) }),
            );
        }
        router
    }

    /// Checks a bearer token: the caller's grant, or why not.
    pub async fn verify(&self, token: &str) -> Result<Access, Rejection> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| Rejection::invalid("the token is not a JWT"))?;
        if header.alg.family() == AlgorithmFamily::Hmac {
            return Err(Rejection::invalid(
                "the token is signed with a shared secret; only the issuer's public keys are accepted",
            ));
        }
        let issuer = &self.inner.issuer;
        let key = issuer.key(header.kid.as_deref(), header.alg).await?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[issuer.issuer.as_str()]);
        validation.set_audience(&[self.inner.resource.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = issuer.options.leeway;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as E;
            Rejection::invalid(match e.kind() {
                E::ExpiredSignature => "the token has expired",
                E::ImmatureSignature => "the token is not valid yet (nbf)",
                E::InvalidAudience => "the token is not for this resource (aud)",
                E::InvalidIssuer => "the token is from another issuer (iss)",
                E::InvalidSignature => "the token's signature does not verify",
                E::MissingRequiredClaim(_) => "the token lacks exp, iss or aud",
                _ => "the token is not valid",
            })
        })?;
        let claims = data.claims;
        let mut scopes: BTreeSet<String> = claims
            .scope
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        match claims.scp {
            Some(ScopeClaim::One(text)) => {
                scopes.extend(text.split_whitespace().map(str::to_owned))
            }
            Some(ScopeClaim::Many(list)) => scopes.extend(list),
            None => {}
        }
        // Sessions belong to the subject, or to the client for a token that
        // names only its `client_id` (kept apart: a client id may equal
        // somebody's subject); a token that names neither owns its sessions
        // alone (a digest of the token, never the token), rather than
        // sharing them with every other such token.
        let owner = match (&claims.sub, &claims.client_id) {
            (Some(subject), _) => format!("sub:{subject}"),
            (None, Some(client)) => format!("client:{client}"),
            (None, None) => {
                use sha2::{Digest, Sha256};
                let digest = Sha256::digest(token.as_bytes());
                let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
                format!("token:{hex}")
            }
        };
        if let Some(revocations) = self.inner.revoked.get() {
            if revocations.current().token(&owner, claims.jti.as_deref()) {
                return Err(Rejection::invalid("the token has been revoked"));
            }
        }
        let subject = claims.sub.or(claims.client_id);
        Ok(Access {
            subject,
            owner,
            scopes: Arc::new(scopes),
            server: self.clone(),
        })
    }

    /// The `WWW-Authenticate` value of a 401: the metadata's URL for the
    /// client to start from, and why the token presented (if any) was
    /// refused.
    pub fn challenge(&self, rejection: Option<&Rejection>) -> String {
        let mut value = format!("Bearer resource_metadata=\"{}\"", self.inner.metadata_url);
        if let Some(rejection) = rejection {
            value.push_str(&format!(
                ", error=\"invalid_token\", error_description=\"{}\"",
                rejection.message
            ));
        }
        value
    }

    /// Notes that `owner` opened MCP session `session`.
    pub(crate) fn remember_session(&self, session: &str, owner: &str) {
        let mut sessions = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        while sessions.order.len() >= MAX_SESSIONS {
            if let Some(old) = sessions.order.pop_front() {
                sessions.owners.remove(&old);
            }
        }
        sessions.order.push_back(session.to_owned());
        sessions.owners.insert(session.to_owned(), owner.to_owned());
    }

    pub(crate) fn session_owner(&self, session: &str) -> Option<String> {
        let sessions = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        sessions.owners.get(session).cloned()
    }

    pub(crate) fn forget_session(&self, session: &str) {
        let mut sessions = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if sessions.owners.remove(session).is_some() {
            sessions.order.retain(|s| s != session);
        }
    }
}

/// The claims of an access token the gateway reads (the registered ones it
/// checks are read by `jsonwebtoken`). Other claims are ignored.
#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    /// The token's id (RFC 7519), which a revocation file may list.
    jti: Option<String>,
    client_id: Option<String>,
    /// RFC 8693 / RFC 9068: space-separated.
    scope: Option<String>,
    /// Some issuers (Microsoft Entra, Okta) write `scp`, a list or a string.
    scp: Option<ScopeClaim>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ScopeClaim {
    One(String),
    Many(Vec<String>),
}

/// Why a token was refused: said in the 401's `error_description`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub message: &'static str,
}

impl Rejection {
    fn invalid(message: &'static str) -> Self {
        Rejection { message }
    }
}

/// What a verified token lets its caller do. The adapters find it in the
/// request's extensions; without one (the static token, or no auth on
/// loopback) every tool of the surface is open.
#[derive(Clone)]
pub struct Access {
    subject: Option<String>,
    /// Whose MCP sessions these are (see [`Access::owner`]).
    owner: String,
    scopes: Arc<BTreeSet<String>>,
    server: OAuth,
}

impl fmt::Debug for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Access")
            .field("subject", &self.subject)
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl Access {
    /// The token's `sub` (or `client_id`).
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The scopes granted.
    pub fn scopes(&self) -> &BTreeSet<String> {
        &self.scopes
    }

    /// Whether the scopes cover `tool`.
    pub fn allows(&self, tool: &Tool) -> bool {
        self.server.inner.scopes.allows(&self.scopes, tool)
    }

    /// `None` if the scopes cover `tool`, else the scope it needs.
    pub fn missing_scope(&self, tool: &Tool) -> Option<String> {
        (!self.allows(tool)).then(|| self.server.inner.scopes.required(tool))
    }

    /// The scope reading the journal's record of a call of `operation`
    /// needs, unless the scopes cover it: the scope the call itself needs
    /// (a record holds the call's arguments and answer).
    pub fn missing_record_scope(&self, operation: &str) -> Option<String> {
        let map = &self.server.inner.scopes;
        match crate::TOOLS.iter().find(|t| t.name == operation) {
            Some(tool) => (!map.allows(&self.scopes, tool)).then(|| map.required(tool)),
            // A record of a tool this build lacks: only a write scope of
            // no API covers it, so nobody reads it through OAuth.
            None => Some(format!("{}:unknown:write", map.prefix)),
        }
    }

    /// The `WWW-Authenticate` value of a 403 for want of `scope`.
    pub fn insufficient_scope(&self, scope: &str) -> String {
        format!(
            "Bearer error=\"insufficient_scope\", scope=\"{scope}\", resource_metadata=\"{}\"",
            self.server.inner.metadata_url
        )
    }

    /// The resource server that granted this access.
    pub(crate) fn server(&self) -> &OAuth {
        &self.server
    }

    /// Who a journal record names as the caller: `oauth:sub:<subject>`,
    /// `oauth:client:<client id>` for a token that names only its client,
    /// or `oauth:token:<digest>` for a token that names neither.
    pub fn caller(&self) -> String {
        format!("oauth:{}", self.owner)
    }

    /// The session owner key: `sub:<subject>`, `client:<client id>` for a
    /// token that names only its client, or `token:<digest>` for one that
    /// names neither.
    pub(crate) fn owner(&self) -> &str {
        &self.owner
    }
}

/// The message of the MCP error for a tool `access` does not cover.
pub fn missing_scope_message(tool: &str, scope: &str) -> String {
    format!("the tool `{tool}` needs the OAuth scope `{scope}`, which this access token lacks")
}

/// For a JSON-RPC `tools/call` of a tool the scopes do not cover: the
/// scope it needs, and a JSON-RPC error naming it.
pub fn tool_call_refusal(access: &Access, body: &[u8]) -> Option<(String, Value)> {
    #[derive(Deserialize)]
    struct Call<'a> {
        #[serde(borrow)]
        method: Option<&'a str>,
        id: Option<Value>,
        params: Option<CallParams>,
    }
    #[derive(Deserialize)]
    struct CallParams {
        name: Option<String>,
    }
    let call: Call = serde_json::from_slice(body).ok()?;
    if call.method != Some("tools/call") {
        return None;
    }
    let name = call.params?.name?;
    let tool = crate::TOOLS.iter().find(|t| t.name == name)?;
    let scope = access.missing_scope(tool)?;
    let error = json!({
        "jsonrpc": "2.0",
        "id": call.id,
        "error": {
            "code": INSUFFICIENT_SCOPE_CODE,
            "message": missing_scope_message(&name, &scope),
            "data": { "required_scope": scope },
        },
    });
    Some((scope, error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_urls_follow_rfc_8414_then_openid_connect() {
        assert_eq!(
            metadata_urls("https://auth.example.com/tenant/").unwrap(),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant",
                "https://auth.example.com/tenant/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            metadata_urls("https://auth.example.com").unwrap()[0],
            "https://auth.example.com/.well-known/oauth-authorization-server"
        );
    }

    #[test]
    fn plain_http_is_for_loopback_only() {
        assert!(checked_url("http://127.0.0.1:1/", "x").is_ok());
        assert!(checked_url("http://localhost:1/", "x").is_ok());
        assert!(checked_url("https://auth.example.com/", "x").is_ok());
        let refused = checked_url("http://auth.example.com/", "the OAuth issuer").unwrap_err();
        assert!(refused.contains("https"), "{refused}");
    }

    #[test]
    fn default_scopes_are_per_api_read_and_write() {
        let map = ScopeMap::default();
        let capture = crate::TOOLS
            .iter()
            .find(|t| t.name == "klarna-capture-order")
            .unwrap();
        let list = crate::TOOLS
            .iter()
            .find(|t| t.name == "klarna-list-all-order-captures")
            .unwrap();
        assert_eq!(map.required(capture), "klarna:ordermanagement:write");
        assert_eq!(map.required(list), "klarna:ordermanagement:read");
        let granted = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        // `write` covers `read` of its API, not the other way round.
        assert!(map.allows(&granted(&["klarna:ordermanagement:write"]), list));
        assert!(!map.allows(&granted(&["klarna:ordermanagement:read"]), capture));
        assert!(!map.allows(&granted(&["klarna:payments:write"]), list));
        let prefixed = ScopeMap::with_prefix("api://gw");
        assert_eq!(prefixed.required(list), "api://gw:ordermanagement:read");
    }

    #[test]
    fn the_metadata_url_inserts_the_well_known_path_before_the_resource_path() {
        let issuer = Arc::new(
            Issuer::new("https://auth.example.com", None, IssuerOptions::default()).unwrap(),
        );
        let oauth = OAuth::new(
            issuer,
            "https://gw.example.com/mcp",
            ScopeMap::default(),
            &[],
        )
        .unwrap();
        assert_eq!(
            oauth.metadata_url(),
            "https://gw.example.com/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(oauth.metadata()["resource"], "https://gw.example.com/mcp");
        assert_eq!(
            oauth.metadata()["authorization_servers"],
            json!(["https://auth.example.com"])
        );
    }
}
