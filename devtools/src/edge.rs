//! What stands in front of the functions locally, as API Gateway and a static host do when
//! deployed: the API's routes and CORS rules as `template.yaml` writes them (`RouteKey`s,
//! `CorsConfiguration`), in front of `cargo lambda watch`, and a host for the demo page in
//! `examples/web`. A request no route names gets API Gateway's own answer,
//! `404 {"message":"Not Found"}`, and never reaches watch (whose `/lambda-url/...` paths
//! would reach a function past the routes).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Largest request body API Gateway accepts (10 MB).
const MAX_BODY: usize = 10 * 1024 * 1024;

struct Upstream {
    target: SocketAddr,
    client: reqwest::Client,
    routes: Vec<Route>,
}

/// A route of the HTTP API: a method and a path whose `{name}` segments match any segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    method: Method,
    path: String,
}

impl Route {
    /// A route from its `RouteKey`, e.g. `GET /auth/verifications/{id}`.
    pub fn parse(key: &str) -> anyhow::Result<Self> {
        let (method, path) = key
            .split_once(' ')
            .with_context(|| format!("route key {key:?} is not METHOD /path"))?;
        Ok(Self {
            method: Method::from_bytes(method.as_bytes())?,
            path: path.to_owned(),
        })
    }

    fn matches(&self, method: &Method, path: &str) -> bool {
        let ours = self.path.split('/');
        let theirs = path.split('/');
        *method == self.method
            && ours.clone().count() == theirs.clone().count()
            && ours
                .zip(theirs)
                .all(|(a, b)| a == b || (a.starts_with('{') && a.ends_with('}') && !b.is_empty()))
    }
}

/// The HTTP API's routes, as `template.yaml` declares them.
pub fn template_routes() -> anyhow::Result<Vec<Route>> {
    let path = crate::repo_root().join("template.yaml");
    let text = std::fs::read_to_string(&path).context("read template.yaml")?;
    let doc: serde_norway::Value = serde_norway::from_str(&text).context("parse template.yaml")?;
    let resources = doc["Resources"].as_mapping().context("no Resources")?;
    resources
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::ApiGatewayV2::Route"))
        .map(|r| {
            let key = r["Properties"]["RouteKey"]
                .as_str()
                .context("a route without RouteKey")?;
            Route::parse(key)
        })
        .collect()
}

/// API Gateway's answer to a request no route names.
fn not_found() -> Response {
    let body = r#"{"message":"Not Found"}"#;
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// Passes a request a route names on to the functions' router, and its answer back.
async fn pass(State(upstream): State<Arc<Upstream>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let routed = upstream
        .routes
        .iter()
        .any(|r| r.matches(&parts.method, parts.uri.path()));
    if !routed {
        return not_found();
    }
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut outgoing = upstream
        .client
        .request(parts.method, format!("http://{}{path}", upstream.target))
        .body(body);
    for (name, value) in &parts.headers {
        if name != header::HOST {
            outgoing = outgoing.header(name, value);
        }
    }
    let Ok(answer) = outgoing.send().await else {
        return (StatusCode::BAD_GATEWAY, "the functions did not answer").into_response();
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != header::TRANSFER_ENCODING && name != header::CONNECTION {
            response = response.header(name, value);
        }
    }
    let body = answer.bytes().await.unwrap_or_default();
    response
        .body(Body::from(body))
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}

/// Serves `addr` in front of `target`: `routes` only, with the template's CORS rules for
/// `origins`: GET and POST, the `content-type` header, `Retry-After` readable by scripts,
/// preflights cached ten minutes. Returns the bound address.
pub async fn serve_api(
    addr: SocketAddr,
    target: SocketAddr,
    routes: Vec<Route>,
    origins: Vec<HeaderValue>,
) -> anyhow::Result<SocketAddr> {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE])
        .expose_headers([header::RETRY_AFTER])
        .max_age(Duration::from_secs(600));
    let upstream = Arc::new(Upstream {
        target,
        routes,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?,
    });
    let app = Router::new()
        .fallback(pass)
        .with_state(upstream)
        .layer(cors);
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

/// Serves the demo page from `dir` on `addr`, with a `config.js` that points it at `api`.
pub async fn serve_page(addr: SocketAddr, dir: PathBuf, api: String) -> anyhow::Result<SocketAddr> {
    let file = |name: &'static str, kind: &'static str| {
        let path = dir.join(name);
        get(move || async move {
            match tokio::fs::read(&path).await {
                Ok(bytes) => ([(header::CONTENT_TYPE, kind)], Bytes::from(bytes)).into_response(),
                Err(_) => StatusCode::NOT_FOUND.into_response(),
            }
        })
    };
    let config = format!("window.OTP_API = {};\n", serde_json::to_string(&api)?);
    let app = Router::new()
        .route("/", file("index.html", "text/html; charset=utf-8"))
        .route("/app.js", file("app.js", "text/javascript"))
        .route("/style.css", file("style.css", "text/css"))
        .route(
            "/config.js",
            get(move || async move { ([(header::CONTENT_TYPE, "text/javascript")], config) }),
        );
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_matches_its_method_and_path_with_any_segment_for_a_parameter() {
        let status = Route::parse("GET /auth/verifications/{id}").unwrap();
        assert!(status.matches(&Method::GET, "/auth/verifications/abc"));
        assert!(!status.matches(&Method::POST, "/auth/verifications/abc"));
        assert!(!status.matches(&Method::GET, "/auth/verifications/"));
        assert!(!status.matches(&Method::GET, "/auth/verifications/abc/cancel"));
        let send = Route::parse("POST /auth/send-otp").unwrap();
        assert!(send.matches(&Method::POST, "/auth/send-otp"));
        assert!(!send.matches(&Method::POST, "/lambda-url/send-otp"));
        assert!(Route::parse("nonsense").is_err());
    }

    #[test]
    fn the_template_declares_the_routes_the_local_edge_serves() {
        let routes = template_routes().unwrap();
        assert!(routes.contains(&Route::parse("POST /auth/verify-otp").unwrap()));
        assert!(routes.len() >= 8, "{routes:?}");
    }
}
