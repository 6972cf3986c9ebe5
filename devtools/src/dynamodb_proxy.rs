//! A counting proxy in front of a DynamoDB-compatible server: it forwards every request
//! unchanged and records, per operation, how many requests passed and how long the server
//! took, so a benchmark can count the requests a function binary makes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;

#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Requests per operation (`UpdateItem`, `GetItem`, ...).
    pub requests: BTreeMap<String, usize>,
    /// Time spent waiting for the server, all requests together.
    pub server_time: Duration,
}

impl Tally {
    pub fn total(&self) -> usize {
        self.requests.values().sum()
    }
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    client: reqwest::Client,
    tally: Arc<Mutex<Tally>>,
}

async fn forward(State(proxy): State<Proxy>, headers: HeaderMap, body: Bytes) -> Response {
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or("unknown")
        .to_owned();
    let mut request = proxy.client.post(&proxy.upstream).body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let started = Instant::now();
    let result = request.send().await;
    let response = match result {
        Ok(r) => {
            let status = r.status();
            let headers = r.headers().clone();
            let body = r.bytes().await.unwrap_or_default();
            let mut response = (status, body).into_response();
            for (name, value) in &headers {
                if name != "content-length" && name != "transfer-encoding" {
                    response.headers_mut().insert(name, value.clone());
                }
            }
            response
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    };
    let mut tally = proxy.tally.lock().expect("not poisoned");
    tally.server_time += started.elapsed();
    *tally.requests.entry(operation).or_default() += 1;
    response
}

/// A running proxy.
pub struct DynamoDbProxy {
    pub addr: SocketAddr,
    tally: Arc<Mutex<Tally>>,
}

impl DynamoDbProxy {
    /// Forwards to `upstream` (e.g. `http://127.0.0.1:8000`) from a free loopback port.
    pub async fn start(upstream: &str) -> anyhow::Result<Self> {
        let tally = Arc::new(Mutex::new(Tally::default()));
        let proxy = Proxy {
            upstream: format!("{}/", upstream.trim_end_matches('/')),
            client: reqwest::Client::new(),
            tally: tally.clone(),
        };
        let app = Router::new().fallback(forward).with_state(proxy);
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { addr, tally })
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The counts so far, and a fresh start.
    pub fn take(&self) -> Tally {
        std::mem::take(&mut *self.tally.lock().expect("not poisoned"))
    }
}
