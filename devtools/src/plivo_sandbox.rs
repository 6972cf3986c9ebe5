//! A local server that speaks Plivo's Message API: it checks Basic auth and the JSON fields as
//! Plivo does, answers 202 with a message UUID, prints each SMS and keeps the latest ones
//! readable at `GET /messages`. When a message names a status `url`, the sandbox reports the
//! message to it as Plivo would: `queued`, `sent`, then `delivered`, each a form POST signed
//! with `X-Plivo-Signature-V3` (listed with the answers at `GET /reports`; its own implementation of Plivo's scheme, apart from the
//! service's, so the two check each other). It takes calls too (the Call API): it places
//! none, but fetches the call's answer URL as Plivo does when a call is answered, signed the
//! same way, presses 1 at its prompt, prints what the call would say, and posts the hangup
//! (listed at `GET /calls`). Nothing leaves the
//! machine.

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
    /// The status callbacks posted, in order, with their answers.
    reports: Arc<Mutex<Vec<Report>>>,
    /// The calls fired, in order, with what their answer said.
    calls: Arc<Mutex<Vec<Call>>>,
    client: reqwest::Client,
    print: bool,
}

/// A running sandbox.
pub struct PlivoSandbox {
    pub addr: SocketAddr,
    messages: Arc<Mutex<Vec<Value>>>,
    reports: Arc<Mutex<Vec<Report>>>,
    calls: Arc<Mutex<Vec<Call>>>,
}

/// A call the sandbox was asked to place, and what its answer URL gave.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Call {
    pub to: String,
    pub request_uuid: String,
    pub answer_url: String,
    /// What the call said first (the prompt to press a key).
    pub prompt: String,
    /// The HTTP status of the fetch that speaks the code (0: no answer).
    pub answer: u16,
    /// The words of that answer's `<Speak>` elements, in order, joined by spaces.
    pub spoken: String,
    /// The HTTP status the hangup notice was answered with.
    pub hangup: u16,
}

/// The text of each `<Speak ...>...</Speak>` of Plivo XML, unescaped, joined by spaces.
fn spoken_text(xml: &str) -> String {
    let mut words = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<Speak") {
        let after = &rest[start..];
        let (Some(open_end), Some(close)) = (after.find('>'), after.find("</Speak>")) else {
            break;
        };
        let text = &after[open_end + 1..close];
        words.push(
            text.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        );
        rest = &after[close + "</Speak>".len()..];
    }
    words.join(" ")
}

/// An answer's text and the HTTP status it came with (0: no answer).
async fn fetched(sent: reqwest::Result<reqwest::Response>) -> (u16, String) {
    match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        }
        Err(_) => (0, String::new()),
    }
}

/// The `action` of a Plivo XML `<GetDigits>`, unescaped.
fn get_digits_action(xml: &str) -> Option<String> {
    let after = &xml[xml.find("<GetDigits")?..];
    let start = after.find("action=\"")? + "action=\"".len();
    let end = start + after[start..].find('"')?;
    Some(after[start..end].replace("&amp;", "&"))
}

/// Answers a call as Plivo does once someone picks up: fetches the answer URL (signed); at a
/// prompt for a key, presses 1 and posts it to the prompt's action (signed); then posts the
/// hangup to the hangup URL (signed), as Plivo does when the call ends.
async fn answer_call(sandbox: Sandbox, call: Value, request_uuid: String) {
    let field = |name: &str| call[name].as_str().unwrap_or_default().to_owned();
    let (answer_url, to, from) = (field("answer_url"), field("to"), field("from"));
    let hangup_url = call["hangup_url"]
        .as_str()
        .unwrap_or(&answer_url)
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let call_uuid = uuid();
    let form = |extra: &[(&'static str, &'static str)], status: &'static str| {
        let mut form = vec![
            ("CallUUID", call_uuid.clone()),
            ("RequestUUID", request_uuid.clone()),
            ("From", from.clone()),
            ("To", to.clone()),
            ("Direction", "outbound".to_owned()),
            ("CallStatus", status.to_owned()),
        ];
        form.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        form
    };
    let post = |url: String, form: Vec<(&'static str, String)>| {
        let sandbox = sandbox.clone();
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            fetched(post_signed(&sandbox, &url, &form).await).await
        }
    };
    let (mut answer, mut xml) = post(
        answer_url.clone(),
        form(&[("Event", "StartApp")], "in-progress"),
    )
    .await;
    let prompt = spoken_text(&xml);
    if answer == 200
        && let Some(action) = get_digits_action(&xml)
    {
        (answer, xml) = post(action, form(&[("Digits", "1")], "in-progress")).await;
    }
    let spoken = if answer == 200 {
        spoken_text(&xml)
    } else {
        String::new()
    };
    let (hangup, _) = post(hangup_url, form(&[("Event", "Hangup")], "completed")).await;
    if sandbox.print {
        println!(
            "[plivo sandbox] call to +{to} answered: \"{prompt}\"; pressed 1 (HTTP {answer}); it says: {spoken}; hung up (HTTP {hangup})"
        );
    }
    sandbox.calls.lock().expect("not poisoned").push(Call {
        to,
        request_uuid,
        answer_url,
        prompt,
        answer,
        spoken,
        hangup,
    });
}

/// A request to Plivo's API as Plivo checks it: the account's Basic auth, a JSON body, and
/// the `required` fields present; the body, or Plivo's error answer.
fn checked_request(
    sandbox: &Sandbox,
    auth_id: &str,
    headers: &HeaderMap,
    body: &[u8],
    required: &[&str],
) -> Result<Value, Box<Response>> {
    if auth_id != sandbox.auth_id || !authorised(headers, sandbox) {
        return Err(Box::new(plivo_error(
            StatusCode::UNAUTHORIZED,
            "authentication failed",
        )));
    }
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return Err(Box::new(plivo_error(
            StatusCode::BAD_REQUEST,
            "invalid json data",
        )));
    };
    for field in required {
        if request[field].as_str().is_none_or(str::is_empty) {
            return Err(Box::new(plivo_error(
                StatusCode::BAD_REQUEST,
                &format!("{field} parameter is required"),
            )));
        }
    }
    Ok(request)
}

/// Plivo's Call API: checks auth and the fields Plivo requires, answers 201 with a request
/// UUID, and answers the call (fetches its answer URL) a moment later.
async fn make_call(
    State(sandbox): State<Sandbox>,
    Path(auth_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let call = match checked_request(
        &sandbox,
        &auth_id,
        &headers,
        &body,
        &["from", "to", "answer_url"],
    ) {
        Ok(call) => call,
        Err(refused) => return *refused,
    };
    let to = call["to"].as_str().unwrap_or_default().to_owned();
    if to.starts_with('+') || !to.bytes().all(|b| b.is_ascii_digit()) {
        return plivo_error(StatusCode::BAD_REQUEST, "invalid to parameter");
    }
    let request_uuid = uuid();
    tokio::spawn(answer_call(sandbox.clone(), call, request_uuid.clone()));
    (
        StatusCode::CREATED,
        Json(json!({
            "api_id": uuid(),
            "message": "call fired",
            "request_uuid": request_uuid,
        })),
    )
        .into_response()
}

async fn list_calls(State(sandbox): State<Sandbox>) -> Json<Vec<Call>> {
    Json(sandbox.calls.lock().expect("not poisoned").clone())
}

/// A status callback the sandbox posted, and its answer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub status: String,
    /// The HTTP status it was answered with (0: no answer).
    pub answer: u16,
    /// The answer's `message`, when it had one.
    pub message: Option<String>,
}

/// Plivo's V3 signature of a form POST to `url`: HMAC-SHA256 with the auth token over the URL
/// (its query parameters sorted by name, then value, joined with `&`, after `?`), then `.`
/// when there is a query, then each form parameter as name and value, sorted, then `.` and
/// the nonce; base64.
pub fn sign_v3(token: &str, url: &str, form: &[(String, String)], nonce: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut query: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    query.sort();
    let mut text = format!("{base}?");
    if !query.is_empty() {
        let joined: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        text.push_str(&joined.join("&"));
        text.push('.');
    }
    let mut form = form.to_vec();
    form.sort();
    for (k, v) in &form {
        text.push_str(k);
        text.push_str(v);
    }
    text.push('.');
    text.push_str(nonce);
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, token.as_bytes());
    let tag = aws_lc_rs::hmac::sign(&key, text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
}

/// POSTs `form` to `url` as Plivo calls back: form-encoded, signed with V3 and a fresh nonce.
async fn post_signed(
    sandbox: &Sandbox,
    url: &str,
    form: &[(&str, &str)],
) -> reqwest::Result<reqwest::Response> {
    let form: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let nonce = random_hex(10);
    let signature = sign_v3(&sandbox.auth_token, url, &form, &nonce);
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&form)
        .finish();
    sandbox
        .client
        .post(url)
        .header("x-plivo-signature-v3", signature)
        .header("x-plivo-signature-v3-nonce", nonce)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
}

/// Reports a message's progress to its status URL as Plivo does, a moment apart.
async fn report_statuses(sandbox: Sandbox, url: String, message_uuid: String, message: Value) {
    let to = message["dst"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches('+');
    let from = message["src"].as_str().unwrap_or_default();
    for (sequence, status) in ["queued", "sent", "delivered"].iter().enumerate() {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let sequence = (sequence + 1).to_string();
        let form = [
            ("MessageUUID", message_uuid.as_str()),
            ("To", to),
            ("From", from),
            ("Type", "sms"),
            ("Status", status),
            ("Sequence", sequence.as_str()),
            ("Units", "1"),
        ];
        let sent = post_signed(&sandbox, &url, &form).await;
        let (answer, message) = match sent {
            Ok(response) => {
                let answer = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or_default();
                (answer, body["message"].as_str().map(str::to_owned))
            }
            Err(_) => (0, None),
        };
        if sandbox.print {
            println!(
                "[plivo sandbox] status {status} reported: HTTP {answer} {}",
                message.as_deref().unwrap_or_default()
            );
        }
        sandbox.reports.lock().expect("not poisoned").push(Report {
            status: status.to_string(),
            answer,
            message,
        });
    }
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
    let message =
        match checked_request(&sandbox, &auth_id, &headers, &body, &["src", "dst", "text"]) {
            Ok(message) => message,
            Err(refused) => return *refused,
        };
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
        "url": message.get("url").cloned().unwrap_or(Value::Null),
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
    if let Some(url) = message["url"].as_str().filter(|u| !u.is_empty()) {
        let reporter = report_statuses(
            sandbox.clone(),
            url.to_owned(),
            message_uuid.clone(),
            message.clone(),
        );
        tokio::spawn(reporter);
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

async fn list_reports(State(sandbox): State<Sandbox>) -> Json<Vec<Report>> {
    Json(sandbox.reports.lock().expect("not poisoned").clone())
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
        let reports = Arc::new(Mutex::new(Vec::new()));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let state = Sandbox {
            calls: calls.clone(),
            auth_id: AUTH_ID.to_owned(),
            auth_token: AUTH_TOKEN.to_owned(),
            messages: messages.clone(),
            reports: reports.clone(),
            // Plivo gives up on a callback URL that does not answer within seconds.
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()?,
            print,
        };
        let app = Router::new()
            .route("/v1/Account/{auth_id}/Message/", post(send_message))
            .route("/messages", get(list_messages))
            .route("/reports", get(list_reports))
            .route("/v1/Account/{auth_id}/Call/", post(make_call))
            .route("/calls", get(list_calls))
            .with_state(state);
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self {
            addr,
            messages,
            reports,
            calls,
        })
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

    /// The status callbacks posted so far, oldest first, with their answers.
    pub fn reports(&self) -> Vec<Report> {
        self.reports.lock().expect("not poisoned").clone()
    }

    /// The calls fired so far, oldest first, with what their answers said.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("not poisoned").clone()
    }

    /// Messages received so far, oldest first.
    pub fn messages(&self) -> Vec<Value> {
        self.messages.lock().expect("not poisoned").clone()
    }
}
