//! What an API Gateway HTTP API exchanges with a function: the payload 2.0 event it sends and
//! the response it reads back. The benchmark and the function binaries' end-to-end tests drive
//! the binaries through a [`RuntimeApi`] with these; the local stack leaves routing to
//! `cargo lambda watch`.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

use crate::random_hex;
use crate::runtime_api::{Outcome, RuntimeApi};

/// The payload 2.0 event for a request with a JSON `body` from `source_ip`.
pub fn http_api_event(method: &str, path: &str, body: &str, source_ip: &str) -> Value {
    let route_key = format!("{method} {path}");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": { "content-type": "application/json" },
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
                "userAgent": "",
            },
            "requestId": random_hex(8),
            "routeKey": route_key,
            "stage": "$default",
            "time": "",
            "timeEpoch": now.as_millis() as u64,
        },
        "body": body,
        "isBase64Encoded": false,
    })
}

/// A function's answer as the caller gets it.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Map<String, Value>,
    /// The body, parsed as JSON (`Null` when it is not JSON).
    pub body: Value,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(Value::as_str)
    }
}

/// Invokes the function behind `runtime` with `event` and reads its payload 2.0 response.
pub async fn call(runtime: &RuntimeApi, event: Value) -> anyhow::Result<HttpResponse> {
    let payload = match runtime.invoke(event).await? {
        Outcome::Response(payload) => payload,
        Outcome::Error(e) => bail!("the function failed: {e}"),
    };
    let response: Value = serde_json::from_slice(&payload).context("response is not JSON")?;
    let status = response["statusCode"].as_u64().context("no statusCode")?;
    let body = response["body"].as_str().unwrap_or_default();
    Ok(HttpResponse {
        status: u16::try_from(status)?,
        headers: response["headers"].as_object().cloned().unwrap_or_default(),
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    })
}
