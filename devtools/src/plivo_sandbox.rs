//! A local server that speaks Plivo's Message API: it checks Basic auth and the JSON fields as
//! Plivo does, answers 202 with a message UUID, prints each SMS and keeps the latest ones
//! readable at `GET /messages`. Nothing leaves the machine.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::random_hex;

/// How many messages `GET /messages` keeps.
const KEEP: usize = 100;
/// The sandbox's credentials: they open nothing but a sandbox.
const AUTH_ID: &str = "MALOCALSANDBOX000000";
const AUTH_TOKEN: &str = "local-sandbox-token";
const SENDER_ID: &str = "+14155550100";

#[derive(Clone)]
struct Sandbox {
    auth_id: String,
    auth_token: String,
    messages: Arc<Mutex<Vec<Value>>>,
    print: bool,
}

/// A running sandbox.
pub struct PlivoSandbox {
    pub addr: SocketAddr,
    messages: Arc<Mutex<Vec<Value>>>,
}

fn uuid() -> String {
    let h = random_hex(16);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn plivo_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({"api_id": uuid(), "error": error}))).into_response()
}

fn authorised(headers: &HeaderMap, sandbox: &Sandbox) -> bool {
    let expected = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", sandbox.auth_id, sandbox.auth_token));
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .is_some_and(|v| v == expected)
}

async fn send_message(
    State(sandbox): State<Sandbox>,
    Path(auth_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if auth_id != sandbox.auth_id || !authorised(&headers, &sandbox) {
        return plivo_error(StatusCode::UNAUTHORIZED, "authentication failed");
    }
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return plivo_error(StatusCode::BAD_REQUEST, "invalid json data");
    };
    for field in ["src", "dst", "text"] {
        if message[field].as_str().is_none_or(str::is_empty) {
            return plivo_error(
                StatusCode::BAD_REQUEST,
                &format!("{field} parameter is required"),
            );
        }
    }
    let dst = message["dst"].as_str().unwrap_or_default();
    if !dst
        .trim_start_matches('+')
        .bytes()
        .all(|b| b.is_ascii_digit())
    {
        return plivo_error(StatusCode::BAD_REQUEST, "invalid dst parameter");
    }
    let message_uuid = uuid();
    let record = json!({
        "message_uuid": message_uuid,
        "src": message["src"],
        "dst": message["dst"],
        "text": message["text"],
        "log": message.get("log").cloned().unwrap_or(Value::Bool(true)),
    });
    if sandbox.print {
        println!(
            "[plivo sandbox] SMS to {}: {}",
            message["dst"].as_str().unwrap_or_default(),
            message["text"].as_str().unwrap_or_default()
        );
    }
    {
        let mut messages = sandbox.messages.lock().expect("not poisoned");
        messages.push(record);
        let excess = messages.len().saturating_sub(KEEP);
        messages.drain(..excess);
    }
    (
        StatusCode::ACCEPTED,
        Json(json!({
            "api_id": uuid(),
            "message": "message(s) queued",
            "message_uuid": [message_uuid],
        })),
    )
        .into_response()
}

async fn list_messages(State(sandbox): State<Sandbox>) -> Json<Value> {
    Json(Value::Array(
        sandbox.messages.lock().expect("not poisoned").clone(),
    ))
}

impl PlivoSandbox {
    /// Serves on `addr` (port 0: any free port) until the process ends; with `print`, shows
    /// each SMS on standard output.
    pub async fn start(addr: SocketAddr, print: bool) -> anyhow::Result<Self> {
        let messages = Arc::new(Mutex::new(Vec::new()));
        let state = Sandbox {
            auth_id: AUTH_ID.to_owned(),
            auth_token: AUTH_TOKEN.to_owned(),
            messages: messages.clone(),
            print,
        };
        let app = Router::new()
            .route("/v1/Account/{auth_id}/Message/", post(send_message))
            .route("/messages", get(list_messages))
            .with_state(state);
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { addr, messages })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The settings that point a function at this sandbox.
    pub fn function_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PLIVO_API_URL", self.url()),
            ("PLIVO_AUTH_ID", AUTH_ID.to_owned()),
            ("PLIVO_AUTH_TOKEN", AUTH_TOKEN.to_owned()),
            ("PLIVO_SENDER_ID", SENDER_ID.to_owned()),
        ]
    }

    /// Messages received so far, oldest first.
    pub fn messages(&self) -> Vec<Value> {
        self.messages.lock().expect("not poisoned").clone()
    }
}
