//! A thin stand-in for an API Gateway HTTP API: it turns each HTTP request on a known route
//! into the payload 2.0 proxy event API Gateway would send, invokes the function through its
//! Runtime API, and turns the function's answer back into an HTTP response.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderName, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::random_hex;
use crate::runtime_api::{Outcome, RuntimeApi};

/// Largest request body API Gateway accepts (10 MB).
const MAX_BODY: usize = 10 * 1024 * 1024;

/// `(method, path)` routes and the function behind each.
pub type Routes = Vec<(String, String, RuntimeApi)>;

/// Builds the payload 2.0 event for one request.
pub fn http_api_event(
    method: &str,
    path: &str,
    query: &str,
    headers: &BTreeMap<String, String>,
    body: &[u8],
    source_ip: &str,
) -> Value {
    let route_key = format!("{method} {path}");
    let (body, encoded) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (base64::engine::general_purpose::STANDARD.encode(body), true),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let user_agent = headers.get("user-agent").cloned().unwrap_or_default();
    json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": user_agent,
            },
            "requestId": random_hex(8),
            "routeKey": route_key,
            "stage": "$default",
            "time": "",
            "timeEpoch": now.as_millis() as u64,
        },
        "body": body,
        "isBase64Encoded": encoded,
    })
}

fn gateway_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "message": message }))).into_response()
}

/// Turns a function's payload 2.0 response into HTTP.
pub fn http_response(payload: &[u8]) -> Response {
    let Ok(value) = serde_json::from_slice::<Value>(payload) else {
        return gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    let status = value["statusCode"]
        .as_u64()
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
        .unwrap_or(StatusCode::OK);
    let body = value["body"].as_str().unwrap_or_default();
    let body = if value["isBase64Encoded"].as_bool() == Some(true) {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap_or_default()
    } else {
        body.as_bytes().to_vec()
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    if let Some(headers) = value["headers"].as_object() {
        for (name, v) in headers {
            if let (Ok(name), Some(Ok(v))) = (
                HeaderName::try_from(name.as_str()),
                v.as_str().map(HeaderValue::from_str),
            ) {
                response.headers_mut().insert(name, v);
            }
        }
    }
    response
}

async fn route(
    State(routes): State<Arc<Routes>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let Some((_, _, function)) = routes.iter().find(|(m, p, _)| *m == method && *p == path) else {
        return gateway_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let mut headers = BTreeMap::new();
    for (name, value) in request.headers() {
        let value = value.to_str().unwrap_or_default().to_owned();
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v: &mut String| {
                v.push(',');
                v.push_str(&value)
            })
            .or_insert(value);
    }
    let body: Bytes = match axum::body::to_bytes(request.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"),
    };
    let event = http_api_event(
        &method,
        &path,
        &query,
        &headers,
        &body,
        &peer.ip().to_string(),
    );
    match function.invoke(event).await {
        Ok(Outcome::Response(payload)) => http_response(&payload),
        Ok(Outcome::Error(_)) | Err(_) => {
            gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}

/// Serves `routes` on `addr` until the process ends; returns the bound address.
pub async fn serve(addr: SocketAddr, routes: Routes) -> anyhow::Result<SocketAddr> {
    let app = Router::new().fallback(route).with_state(Arc::new(routes));
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    Ok(addr)
}
