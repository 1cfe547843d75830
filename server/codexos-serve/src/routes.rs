//! The one route table: each route's method, path, the least role that may call it and its
//! handler. The router is built from it, the guard enforces its roles on every request (and
//! writes the audit line), and a test holds `openapi.json` to it.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post, put};
use futures_util::FutureExt;

use crate::AppState;
use crate::audit::{Entry, now_ms};
use crate::auth::{Role, TokenInfo};
use crate::error::ApiError;
use crate::handlers;

pub(crate) struct Route {
    pub method: Method,
    pub path: &'static str,
    pub role: Role,
    handler: MethodRouter<AppState>,
}

fn route(method: Method, path: &'static str, role: Role, handler: MethodRouter<AppState>) -> Route {
    Route {
        method,
        path,
        role,
        handler,
    }
}

#[rustfmt::skip]
pub(crate) fn table() -> Vec<Route> {
    use Role::*;
    vec![
        route(Method::GET, "/v1/openapi.json", Viewer, get(handlers::openapi)),
        route(Method::GET, "/v1/runs", Viewer, get(handlers::runs::list)),
        route(Method::POST, "/v1/runs", Executor, post(handlers::runs::start)),
        route(Method::GET, "/v1/runs/{id}", Viewer, get(handlers::runs::show)),
        route(Method::GET, "/v1/runs/{id}/events", Viewer, get(handlers::runs::events)),
        route(Method::GET, "/v1/runs/{id}/ws", Viewer, get(handlers::runs::websocket)),
        route(Method::POST, "/v1/runs/{id}/cancel", Executor, post(handlers::runs::cancel)),
        route(Method::POST, "/v1/runs/{id}/retry", Executor, post(handlers::runs::retry)),
        route(Method::POST, "/v1/rag/query", Viewer, post(handlers::rag_query)),
        route(Method::POST, "/v1/flows/check", Creator, post(handlers::check_flow)),
        route(Method::PUT, "/v1/flows", Creator, put(handlers::authoring::put_flow)),
        route(Method::PUT, "/v1/tools", Creator, put(handlers::authoring::put_tool)),
        route(Method::POST, "/v1/vault/put", Admin, post(handlers::vault_put)),
        route(Method::GET, "/v1/tokens", Admin, get(handlers::list_tokens)),
        route(Method::POST, "/v1/tokens", Admin, post(handlers::create_token)),
        route(Method::DELETE, "/v1/tokens/{name}", Admin, delete(handlers::revoke_token)),
        route(Method::GET, "/v1/trust", Admin, get(handlers::trust::show)),
        route(Method::POST, "/v1/trust", Admin, post(handlers::trust::change)),
    ]
}

/// The least role for `method` on the matched `path`.
fn required(method: &Method, path: &str) -> Option<Role> {
    table()
        .into_iter()
        .find(|route| route.method == method && route.path == path)
        .map(|route| route.role)
}

pub(crate) fn router(state: AppState) -> Router {
    let mut paths: BTreeMap<&'static str, MethodRouter<AppState>> = BTreeMap::new();
    for route in table() {
        let merged = match paths.remove(route.path) {
            Some(earlier) => earlier.merge(route.handler),
            None => route.handler,
        };
        paths.insert(route.path, merged);
    }
    let mut router = Router::new();
    for (path, handler) in paths {
        router = router.route(path, handler);
    }
    router
        .fallback(|| async { ApiError::not_found("no such route: see GET /v1/openapi.json") })
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// The run a request named or started, for the audit log.
#[derive(Clone)]
pub(crate) struct RunId(pub String);

/// Authenticates the bearer token, enforces the route's role, and audits the request whatever
/// the outcome.
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let matched = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let route = matched
        .clone()
        .unwrap_or_else(|| request.uri().path().to_owned());
    let named_run = matched
        .as_deref()
        .filter(|path| path.starts_with("/v1/runs/{id}"))
        .and_then(|_| request.uri().path().split('/').nth(3).map(str::to_owned));
    let token = authenticate(&state, &request);
    let response = match (&token, matched.as_deref()) {
        (Err(refusal), _) => refusal.clone().into_response(),
        (Ok(token), Some(path)) => match required(&method, path) {
            Some(role) if token.role < role => ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "the token `{}` is a {}; {method} {path} needs {role} or above",
                    token.name, token.role
                ),
            )
            .into_response(),
            _ => {
                // The handlers that record who did something read the token's name.
                let mut request = request;
                request.extensions_mut().insert(token.clone());
                run(next, request).await
            }
        },
        (Ok(_), None) => run(next, request).await,
    };
    let mut response = response;
    if response.status() == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    let run_id = response
        .extensions()
        .get::<RunId>()
        .map(|run| run.0.clone())
        .or(named_run);
    let token = token.ok();
    state.audit.record(&Entry {
        at_ms: now_ms(),
        who: token.as_ref().map(|token| token.name.as_str()),
        role: token.as_ref().map(|token| token.role),
        method: method.as_str(),
        route: &route,
        run_id: run_id.as_deref(),
        status: response.status().as_u16(),
        ms: started.elapsed().as_millis() as u64,
    });
    response
}

/// The handler's answer; a panic in it is a 500 (and an audit line) instead of a dropped
/// connection.
async fn run(next: Next, request: Request) -> Response {
    AssertUnwindSafe(next.run(request))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            tracing::error!("a request handler panicked");
            ApiError::internal("the server failed on this request (a bug: see its log)")
                .into_response()
        })
}

/// The WebSocket subprotocol a browser offers (with [`BEARER_PROTOCOL`]) and the server picks:
/// browsers cannot set `Authorization` on a WebSocket.
pub(crate) const WS_PROTOCOL: &str = "codexos.v1";
/// `codexos.bearer.<token>` among a WebSocket's offered subprotocols stands for the header.
const BEARER_PROTOCOL: &str = "codexos.bearer.";

fn authenticate(state: &AppState, request: &Request) -> Result<TokenInfo, ApiError> {
    let unauthorized = |message: &str| ApiError::new(StatusCode::UNAUTHORIZED, message);
    let secret = match request.headers().get(header::AUTHORIZATION) {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| unauthorized("the Authorization header is not `Bearer <token>`"))?,
        None => offered_bearer(request).ok_or_else(|| {
            unauthorized(
                "no token: send `Authorization: Bearer <token>` (create one with `codexos serve token create`)",
            )
        })?,
    };
    match state.tokens.verify(secret) {
        Ok(Some(token)) => Ok(token),
        Ok(None) => Err(unauthorized("unknown or revoked token")),
        Err(error) => {
            tracing::error!("tokens: {error}");
            Err(ApiError::internal("the server cannot read its tokens"))
        }
    }
}

/// The token a WebSocket upgrade offers as a subprotocol.
fn offered_bearer(request: &Request) -> Option<&str> {
    if !request.headers().contains_key(header::UPGRADE) {
        return None;
    }
    request
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|protocol| protocol.trim().strip_prefix(BEARER_PROTOCOL))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;
    use std::time::Duration;

    use axum::body::Body;
    use tower::ServiceExt;

    use super::*;
    use crate::handlers::OPENAPI;
    use crate::{Shared, TokenFile, audit, runs};

    /// (method, path, role) of every operation the OpenAPI document describes.
    fn documented() -> BTreeSet<(String, String, String)> {
        let document: serde_json::Value =
            serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
        assert_eq!(document["openapi"], "3.0.3");
        let mut operations = BTreeSet::new();
        for (path, item) in document["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("a path item") {
                let role = operation["x-codexos-role"].as_str().unwrap_or("(none)");
                operations.insert((method.to_uppercase(), path.clone(), role.to_owned()));
            }
        }
        operations
    }

    /// (method, path, role) of every route of the table.
    fn routed() -> BTreeSet<(String, String, String)> {
        table()
            .into_iter()
            .map(|route| {
                let role = route.role.to_string();
                (route.method.to_string(), route.path.to_owned(), role)
            })
            .collect()
    }

    #[test]
    fn the_openapi_document_describes_every_route_with_its_role_and_nothing_else() {
        assert_eq!(documented(), routed());
    }

    #[test]
    fn docs_serve_md_lists_every_route_with_its_role() {
        const SERVE_MD: &str = include_str!("../../../docs/serve.md");
        let listed: BTreeSet<(String, String, String)> = SERVE_MD
            .lines()
            .filter(|line| line.starts_with("| `") && line.contains(" /v1/"))
            .filter_map(|line| {
                let mut cells = line.split('|').map(str::trim).skip(1);
                let (method, path) = cells.next()?.trim_matches('`').split_once(' ')?;
                Some((method.to_owned(), path.to_owned(), cells.next()?.to_owned()))
            })
            .collect();
        assert_eq!(listed, routed());
    }

    #[tokio::test]
    async fn the_router_answers_every_documented_operation_and_nothing_else() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("codexos.toml"), "").expect("codexos.toml");
        let workspace = Arc::new(codexos_service::Workspace::load(dir.path()).expect("workspace"));
        let tokens = TokenFile::at(dir.path().join("tokens.json"));
        let (admin, _) = tokens.create(Role::Admin, None).expect("a token");
        let index = Arc::new(runs::IndexCell::new(workspace.clone()));
        let state = AppState(Arc::new(Shared {
            runs: runs::Runs::new(
                workspace.clone(),
                index.clone(),
                Duration::from_secs(5),
                None,
            ),
            workspace,
            tokens,
            audit: audit::AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit"),
            index,
        }));
        let router = router(state);
        let call = |method: &str, path: &str| {
            let request = axum::http::Request::builder()
                .method(method)
                .uri(
                    path.replace("{id}", "nosuchrun")
                        .replace("{name}", "nobody"),
                )
                .header(header::AUTHORIZATION, format!("Bearer {admin}"))
                .body(Body::from("{}"))
                .expect("a request");
            let router = router.clone();
            async move {
                let response = router.oneshot(request).await.expect("an answer");
                let status = response.status();
                let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                    .await
                    .expect("a body");
                (status, String::from_utf8_lossy(&body).into_owned())
            }
        };
        for (method, path, _) in documented() {
            let (status, body) = call(&method, &path).await;
            assert!(
                !body.contains("no such route") && status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: {status} {body}"
            );
        }
        for (method, path) in [
            ("GET", "/v1/vault/put"),
            ("DELETE", "/v1/runs"),
            ("PATCH", "/v1/trust"),
        ] {
            let (status, _) = call(method, path).await;
            assert!(
                [StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&status),
                "{method} {path}: {status}"
            );
        }
    }
}
