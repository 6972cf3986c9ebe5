//! A Lambda Runtime API emulator: the HTTP interface a function's runtime polls for events
//! (`/2018-06-01/runtime/invocation/next`) and posts results to. It lets the release or debug
//! binaries run exactly as they do on Lambda, one invocation at a time.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use crate::random_hex;

/// What the function answered.
#[derive(Debug)]
pub enum Outcome {
    /// The handler's response payload.
    Response(Bytes),
    /// The runtime reported an error for this invocation.
    Error(Value),
}

struct Invocation {
    event: Value,
    reply: oneshot::Sender<Outcome>,
}

struct Shared {
    queue: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    function_name: String,
    function_arn: String,
    timeout: Duration,
    /// When the runtime first asked for an event: the end of its init.
    first_poll: OnceLock<Instant>,
}

/// One function's Runtime API endpoint.
#[derive(Clone)]
pub struct RuntimeApi {
    pub addr: SocketAddr,
    sender: mpsc::Sender<Invocation>,
    shared: Arc<Shared>,
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let _ = shared.first_poll.set(Instant::now());
    let invocation = {
        let mut queue = shared.queue.lock().await;
        match queue.recv().await {
            Some(i) => i,
            None => return StatusCode::GONE.into_response(),
        }
    };
    let request_id = format!(
        "{}-{}-{}-{}-{}",
        random_hex(4),
        random_hex(2),
        random_hex(2),
        random_hex(2),
        random_hex(6)
    );
    let deadline = SystemTime::now() + shared.timeout;
    let deadline_ms = deadline
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    shared
        .pending
        .lock()
        .expect("not poisoned")
        .insert(request_id.clone(), invocation.reply);
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set("lambda-runtime-aws-request-id", request_id);
    set("lambda-runtime-deadline-ms", deadline_ms.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        shared.function_arn.clone(),
    );
    set(
        "lambda-runtime-trace-id",
        format!(
            "Root=1-{}-{};Parent={};Sampled=0",
            random_hex(4),
            random_hex(12),
            random_hex(8)
        ),
    );
    set("content-type", "application/json".to_owned());
    (StatusCode::OK, headers, invocation.event.to_string()).into_response()
}

fn finish(shared: &Shared, id: &str, outcome: Outcome) -> StatusCode {
    match shared.pending.lock().expect("not poisoned").remove(id) {
        Some(reply) => {
            let _ = reply.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    finish(&shared, &id, Outcome::Response(body))
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    finish(&shared, &id, Outcome::Error(value))
}

/// A runtime reporting a failed init: acknowledged and shown, as Lambda logs it.
async fn init_error(body: Bytes) -> StatusCode {
    eprintln!("function init failed: {}", String::from_utf8_lossy(&body));
    StatusCode::ACCEPTED
}

impl RuntimeApi {
    /// Serves a Runtime API for `function_name` on a free loopback port.
    pub async fn start(function_name: &str, timeout: Duration) -> anyhow::Result<Self> {
        let (sender, receiver) = mpsc::channel(64);
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(receiver),
            pending: Mutex::new(HashMap::new()),
            function_name: function_name.to_owned(),
            function_arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{function_name}"),
            timeout,
            first_poll: OnceLock::new(),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self {
            addr,
            sender,
            shared,
        })
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    pub fn function_name(&self) -> &str {
        &self.shared.function_name
    }

    /// When the runtime first asked for an event, if it has.
    pub fn first_poll(&self) -> Option<Instant> {
        self.shared.first_poll.get().copied()
    }

    /// Hands `event` to the function and waits for its answer, up to the function timeout.
    pub async fn invoke(&self, event: Value) -> anyhow::Result<Outcome> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Invocation { event, reply })
            .await
            .context("runtime api closed")?;
        match tokio::time::timeout(self.shared.timeout, answer).await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(_)) => bail!("the invocation was dropped"),
            Err(_) => bail!(
                "the function did not answer within {:?}",
                self.shared.timeout
            ),
        }
    }
}
