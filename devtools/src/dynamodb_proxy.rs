//! A counting proxy in front of a DynamoDB-compatible server: it forwards every request and
//! records, per operation, how many requests passed and how long the server took, so a
//! benchmark can count the requests a function binary makes.
//!
//! It can also make dynalite behave more like DynamoDB where the service depends on it
//! ([`Behaviour`]): return the old item with a failed condition (dynalite never does), and
//! throttle a hot key.

use std::collections::{BTreeMap, HashMap};
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

/// How the proxy departs from forwarding requests unchanged.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Answer a failed condition of an `UpdateItem` that asks for it
    /// (`ReturnValuesOnConditionCheckFailure: ALL_OLD`) with the item as it was, when it
    /// exists, as DynamoDB does. Writes to one key are serialised so the item returned is the
    /// one the condition saw.
    pub return_old_item: bool,
    /// Throttle `UpdateItem`s to one key above this many in a second, as DynamoDB throttles a
    /// hot partition key (about 1,000 writes a second).
    pub max_writes_per_key_per_second: Option<u32>,
    /// Throttle every `UpdateItem` to keys that start with this.
    pub throttle_keys_starting_with: Option<String>,
    /// Apply the first `UpdateItem` whose update expression contains this text, then hold
    /// its answer back this long: a lost answer, which the client's timeout and retry turn
    /// into a second attempt of a write that was applied.
    pub delay_first_answer_to: Option<(String, std::time::Duration)>,
    /// Answer every `UpdateItem` with this HTTP status and DynamoDB error type (e.g. 500,
    /// `InternalServerError`), as DynamoDB does when it fails.
    pub fail_updates_with: Option<(u16, String)>,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    client: reqwest::Client,
    tally: Arc<Mutex<Tally>>,
    behaviour: Arc<Behaviour>,
    /// One lock per item key, for `return_old_item`.
    key_locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    /// Writes per key in the current second: (second, count).
    key_rates: Arc<Mutex<HashMap<String, (u64, u32)>>>,
    /// Whether the answer of `delay_first_answer_to` was held back already.
    delayed: Arc<std::sync::atomic::AtomicBool>,
}

const JSON_1_0: &str = "application/x-amz-json-1.0";

impl Proxy {
    fn lock_for(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.key_locks
            .lock()
            .expect("not poisoned")
            .entry(key.to_owned())
            .or_default()
            .clone()
    }

    /// Whether a write to `pk` is over the throttling limits.
    fn throttled(&self, pk: &str) -> bool {
        if let Some(prefix) = &self.behaviour.throttle_keys_starting_with
            && pk.starts_with(prefix.as_str())
        {
            return true;
        }
        let Some(max) = self.behaviour.max_writes_per_key_per_second else {
            return false;
        };
        let second = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut rates = self.key_rates.lock().expect("not poisoned");
        let entry = rates.entry(pk.to_owned()).or_insert((second, 0));
        if entry.0 != second {
            *entry = (second, 0);
        }
        entry.1 += 1;
        entry.1 > max
    }

    async fn send(&self, headers: &HeaderMap, target: Option<&str>, body: Bytes) -> Answer {
        let mut request = self.client.post(&self.upstream).body(body);
        for (name, value) in headers {
            let replaced = target.is_some() && name == "x-amz-target";
            if name != "host" && name != "content-length" && !replaced {
                request = request.header(name, value);
            }
        }
        if let Some(target) = target {
            request = request.header("x-amz-target", target);
        }
        match request.send().await {
            Ok(r) => Answer {
                status: r.status(),
                headers: r.headers().clone(),
                body: r.bytes().await.unwrap_or_default(),
            },
            Err(_) => Answer {
                status: StatusCode::BAD_GATEWAY,
                headers: HeaderMap::new(),
                body: Bytes::new(),
            },
        }
    }

    /// Forwards an `UpdateItem`, adding the old item to a failed condition's answer.
    async fn update_returning_old_item(
        &self,
        headers: &HeaderMap,
        request: &serde_json::Value,
        body: Bytes,
    ) -> Answer {
        let key = format!("{}/{}", request["TableName"], request["Key"]);
        let lock = self.lock_for(&key);
        let _serialised = lock.lock().await;
        let mut answer = self.send(headers, None, body).await;
        let failed = answer.status == StatusCode::BAD_REQUEST
            && String::from_utf8_lossy(&answer.body).contains("ConditionalCheckFailedException");
        if !failed {
            return answer;
        }
        let get = serde_json::json!({
            "TableName": request["TableName"],
            "Key": request["Key"],
            "ConsistentRead": true,
        });
        let read = self
            .send(
                headers,
                Some("DynamoDB_20120810.GetItem"),
                Bytes::from(get.to_string()),
            )
            .await;
        let item = serde_json::from_slice::<serde_json::Value>(&read.body)
            .ok()
            .and_then(|v| v.get("Item").cloned());
        if let (Some(item), Ok(mut error)) = (
            item,
            serde_json::from_slice::<serde_json::Value>(&answer.body),
        ) {
            error["Item"] = item;
            answer.body = Bytes::from(error.to_string());
        }
        answer
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

fn error_answer(status: u16, error_type: &str) -> Answer {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", JSON_1_0.parse().expect("valid header"));
    let body = serde_json::json!({
        "__type": format!("com.amazonaws.dynamodb.v20120810#{error_type}"),
        "message": "simulated failure",
    });
    Answer {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        headers,
        body: Bytes::from(body.to_string()),
    }
}

fn throttled_answer() -> Answer {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", JSON_1_0.parse().expect("valid header"));
    let body = serde_json::json!({
        "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "message": "The level of configured provisioned throughput for the table was exceeded.",
    });
    Answer {
        status: StatusCode::BAD_REQUEST,
        headers,
        body: Bytes::from(body.to_string()),
    }
}

async fn forward(State(proxy): State<Proxy>, headers: HeaderMap, body: Bytes) -> Response {
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or("unknown")
        .to_owned();
    let started = Instant::now();
    let update = (operation == "UpdateItem")
        .then(|| serde_json::from_slice::<serde_json::Value>(&body).ok())
        .flatten();
    let answer = match &update {
        Some(request) => {
            let pk = request["Key"]["pk"]["S"].as_str().unwrap_or_default();
            if let Some((status, error_type)) = &proxy.behaviour.fail_updates_with {
                error_answer(*status, error_type)
            } else if proxy.throttled(pk) {
                throttled_answer()
            } else if proxy.behaviour.return_old_item
                && request["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"
            {
                proxy
                    .update_returning_old_item(&headers, request, body)
                    .await
            } else {
                proxy.send(&headers, None, body).await
            }
        }
        None => proxy.send(&headers, None, body).await,
    };
    if let (Some(request), Some((text, delay))) = (&update, &proxy.behaviour.delay_first_answer_to)
        && request["UpdateExpression"]
            .as_str()
            .is_some_and(|u| u.contains(text.as_str()))
        && !proxy
            .delayed
            .swap(true, std::sync::atomic::Ordering::SeqCst)
    {
        tokio::time::sleep(*delay).await;
    }
    let mut response = (answer.status, answer.body).into_response();
    for (name, value) in &answer.headers {
        if name != "content-length" && name != "transfer-encoding" {
            response.headers_mut().insert(name, value.clone());
        }
    }
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
        Self::start_with(upstream, Behaviour::default()).await
    }

    /// The same, behaving as `behaviour` says.
    pub async fn start_with(upstream: &str, behaviour: Behaviour) -> anyhow::Result<Self> {
        let tally = Arc::new(Mutex::new(Tally::default()));
        let proxy = Proxy {
            upstream: format!("{}/", upstream.trim_end_matches('/')),
            client: reqwest::Client::new(),
            tally: tally.clone(),
            behaviour: Arc::new(behaviour),
            key_locks: Arc::default(),
            key_rates: Arc::default(),
            delayed: Arc::default(),
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
