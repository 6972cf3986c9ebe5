//! What stands in front of the functions locally, as API Gateway and a static host do when
//! deployed: the API's CORS rules as `template.yaml` writes them (`CorsConfiguration`), in
//! front of `cargo lambda watch`, and a host for the demo page in `examples/web`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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
}

/// Passes a request on to the functions' router, and its answer back.
async fn pass(State(upstream): State<Arc<Upstream>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
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

/// Serves `addr` in front of `target` with the template's CORS rules for `origins`: GET and
/// POST, the `content-type` header, `Retry-After` readable by scripts, preflights cached ten
/// minutes. Returns the bound address.
pub async fn serve_api(
    addr: SocketAddr,
    target: SocketAddr,
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
