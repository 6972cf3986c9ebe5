//! Test harness: a real DynamoDB-compatible server (dynalite, on a loopback port, one per test
//! process), tables created from `template.yaml`, and a local server that speaks Plivo's
//! Message API and records what was sent.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use otp_devtools::dynalite::Dynalite;
use otp_devtools::dynamodb_proxy::{Behaviour, DynamoDbProxy};
use otp_devtools::request_counter::RequestCounter;
use otp_shared::clock::Clock;
use otp_shared::config::{CallbackConfig, FromEnv, OtpConfig, PlivoConfig, TokenConfig};
use otp_shared::domain::{
    Caller, ClientIp, CodeLength, Messages, OtpCode, PhoneNumber, VerificationId,
};
use otp_shared::error::OtpError;
use otp_shared::metrics::Metrics;
use otp_shared::service::{Callbacks, SendOtp, Subject, VerifyOtp};
use otp_shared::sms::{PlivoSmsSender, RetryPolicy};
use otp_shared::store::DynamoDbStore;
use otp_shared::token::TokenIssuer;
use serde_json::Value;
use wiremock::matchers::{basic_auth, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const SECRET: &str = "test-secret-0123456789abcdef-0123456789";
pub const PLIVO_AUTH_ID: &str = "MATESTAUTHID00000000";
pub const PLIVO_AUTH_TOKEN: &str = "plivo-test-token-not-a-real-one";
pub const SENDER: &str = "+14155550100";
pub const START: u64 = 1_800_000_000;
/// A caller without a known IP: per-IP limits do not apply.
pub const ANYONE: otp_shared::domain::Caller = otp_shared::domain::Caller { ip: None };

pub fn phone(s: &str) -> PhoneNumber {
    PhoneNumber::parse(s).unwrap()
}

pub fn code(s: &str) -> OtpCode {
    OtpCode::parse(s, CodeLength::default()).unwrap()
}

/// A caller as API Gateway reports it, from `ip`.
pub fn from(ip: &str) -> Caller {
    Caller {
        ip: Some(ClientIp::parse(ip).unwrap()),
    }
}

/// Distinct valid US numbers in the 415-555 range: +1415555NNNN.
pub fn us(n: u32) -> PhoneNumber {
    phone(&format!("+1415555{:04}", 1000 + n))
}

/// A `send-otp` instance as the function builds it.
pub type Sender = SendOtp<DynamoDbStore, PlivoSmsSender>;
/// A `verify-otp` instance as the function builds it.
pub type Verifier = VerifyOtp<DynamoDbStore>;

/// A guess as a caller makes it: the code as text, from [`ANYONE`] (most tests do not care who).
pub trait Guess {
    fn guess(
        &self,
        number: &PhoneNumber,
        code: &str,
    ) -> impl std::future::Future<Output = Result<(), OtpError>> + Send;
}

impl Guess for Verifier {
    async fn guess(&self, number: &PhoneNumber, otp: &str) -> Result<(), OtpError> {
        self.verify(number, &code(otp), &ANYONE).await
    }
}

/// A guess that names its verification, from [`ANYONE`].
pub async fn guess_id(verifier: &Verifier, id: &VerificationId, otp: &str) -> Result<(), OtpError> {
    let subject = Subject::Verification {
        id: id.clone(),
        phone: None,
    };
    verifier
        .verify_by(&subject, &code(otp), &ANYONE)
        .await
        .map(drop)
}

/// What the HTTP layer answers `err` with: the status and the body.
pub fn answer(err: &OtpError) -> (u16, String) {
    let response = otp_shared::http::error_response(err);
    (response.status().as_u16(), body_text(&response))
}

/// The status, body and `Retry-After` a caller would see for a verify outcome.
pub fn seen(result: &Result<(), OtpError>) -> (u16, String, Option<String>) {
    let Err(e) = result else {
        return (200, String::new(), None);
    };
    let response = otp_shared::http::error_response(e);
    let retry_after = response.headers().get("retry-after");
    let retry_after = retry_after.map(|v| v.to_str().unwrap().to_owned());
    (
        response.status().as_u16(),
        body_text(&response),
        retry_after,
    )
}

/// Asserts that `result` is a 429 whose `Retry-After` is `retry_after` seconds.
pub fn assert_rate_limited<T: std::fmt::Debug>(result: Result<T, OtpError>, retry_after: u64) {
    match result {
        Err(OtpError::RateLimited { retry_after: r, .. }) => assert_eq!(r, retry_after),
        other => panic!("expected rate limiting, got {other:?}"),
    }
}

/// A response's body as text.
pub fn body_text(response: &lambda_http::Response<lambda_http::Body>) -> String {
    String::from_utf8(response.body().to_vec()).unwrap()
}

/// The text of the sample event `events/<name>`.
pub fn event_text(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("events").join(name))
        .unwrap_or_else(|e| panic!("events/{name}: {e}"))
}

/// The sample event `events/<name>`, as the handlers receive it.
pub fn event(name: &str) -> lambda_http::Request {
    lambda_http::request::from_str(&event_text(name))
        .unwrap_or_else(|e| panic!("events/{name}: {e}"))
}

/// The sample event `name` (a plain-text body) with `body` as its JSON body.
pub fn event_with_body(name: &str, body: serde_json::Value) -> lambda_http::Request {
    let mut ev: serde_json::Value = serde_json::from_str(&event_text(name)).unwrap();
    ev["body"] = body.to_string().into();
    lambda_http::request::from_str(&ev.to_string()).unwrap()
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn new(start: u64) -> Self {
        Self(AtomicU64::new(start))
    }

    pub fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

pub fn repo_root() -> PathBuf {
    otp_devtools::repo_root()
}

/// dynalite for this test binary, started on first use and stopped when the binary exits.
fn dynalite() -> &'static Dynalite {
    static SERVER: OnceLock<Dynalite> = OnceLock::new();
    SERVER.get_or_init(|| Dynalite::start(0, None).expect("start dynalite"))
}

/// A client for `endpoint` with the service's own timeouts.
pub fn dynamodb_client_for(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let config = otp_devtools::dynalite::local_client(endpoint)
        .config()
        .to_builder()
        .timeout_config(otp_shared::store::dynamodb_timeouts())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// A new client, as a new Lambda execution environment would have.
pub fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    dynamodb_client_for(&dynalite().endpoint())
}

/// The `AWS::DynamoDB::Table` resource of `template.yaml`.
pub fn template_table() -> serde_norway::Value {
    otp_devtools::table::template_table().unwrap()
}

/// Creates a table with a unique name from `template.yaml`'s definition.
pub async fn create_table(client: &aws_sdk_dynamodb::Client) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "otp-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    otp_devtools::table::create_table(client, &name)
        .await
        .expect("create table");
    name
}

/// Plivo's answer to an accepted message.
pub fn queued() -> ResponseTemplate {
    ResponseTemplate::new(202).set_body_json(serde_json::json!({
        "api_id": "db342550-7c87-11e9-86c7-0242ac110002",
        "message": "message(s) queued",
        "message_uuid": ["db3ce55a-7c87-11e9-86c7-0242ac110002"],
    }))
}

/// Plivo's answer to a refused message: `status` and its error body.
pub fn plivo_error(status: u16, error: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(serde_json::json!({
        "api_id": "3a4ef2c2-7c88-11e9-86c7-0242ac110002",
        "error": error,
    }))
}

/// A local server speaking Plivo's Message API.
pub struct Plivo {
    pub server: MockServer,
}

pub fn message_path() -> String {
    format!("/v1/Account/{PLIVO_AUTH_ID}/Message/")
}

pub fn call_path() -> String {
    format!("/v1/Account/{PLIVO_AUTH_ID}/Call/")
}

impl Plivo {
    /// Accepts every correctly authenticated message with 202, and every call with 201, as
    /// Plivo does.
    pub async fn accepting() -> Self {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(message_path()))
            .and(basic_auth(PLIVO_AUTH_ID, PLIVO_AUTH_TOKEN))
            .and(header("content-type", "application/json"))
            .respond_with(queued())
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(call_path()))
            .and(basic_auth(PLIVO_AUTH_ID, PLIVO_AUTH_TOKEN))
            .and(header("content-type", "application/json"))
            .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({
                "api_id": "97ceeb52-58b6-11e1-86da-77300b68f8bb",
                "message": "call fired",
                "request_uuid": "75cfbf5c-0d42-11e1-8a1a-1231380bc196",
            })))
            .mount(&server)
            .await;
        Self { server }
    }

    /// The JSON bodies of every call request received, oldest first.
    pub async fn calls(&self) -> Vec<serde_json::Value> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == call_path())
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }

    /// Answers every message with `status` and Plivo's error body.
    pub async fn failing(status: u16) -> Self {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(message_path()))
            .respond_with(plivo_error(status, "simulated failure"))
            .mount(&server)
            .await;
        Self { server }
    }

    /// Accepts the first message only; the test mounts what answers the later ones (a
    /// lower-priority mock).
    pub async fn accepting_once() -> Self {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(queued())
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        Self { server }
    }

    /// Accepts the first message, and answers every later one with a 500 after `delay`.
    pub async fn accepting_once_then_failing(delay: std::time::Duration) -> Self {
        let plivo = Self::accepting_once().await;
        Mock::given(method("POST"))
            .and(path(message_path()))
            .respond_with(plivo_error(500, "simulated failure").set_delay(delay))
            .with_priority(2)
            .mount(&plivo.server)
            .await;
        plivo
    }

    pub fn config(&self) -> PlivoConfig {
        plivo_config(&self.server.uri())
    }

    /// [`config`](Self::config), with the voice settings (and any other) from `settings`.
    pub fn config_with(&self, settings: impl Fn(&str) -> Option<String>) -> PlivoConfig {
        plivo_config_with(&self.server.uri(), settings)
    }

    /// The JSON bodies of every message request received, oldest first.
    pub async fn sent(&self) -> Vec<serde_json::Value> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == message_path())
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }

    /// The code in the newest SMS.
    pub async fn last_code(&self) -> String {
        let sent = self.sent().await;
        let text = sent.last().expect("an sms was sent")["text"]
            .as_str()
            .unwrap()
            .to_owned();
        code_in(&text)
    }
}

/// A six-digit code that differs from `right`.
pub fn wrong(right: &str) -> String {
    let n: u32 = right.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

/// The first run of six or more digits in an SMS text.
pub fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() >= 6)
        .unwrap_or_else(|| panic!("no code in {text:?}"))
        .to_owned()
}

pub fn plivo_config(api_url: &str) -> PlivoConfig {
    plivo_config_with(api_url, |_| None)
}

/// [`plivo_config`], reading any other setting from `settings`.
pub fn plivo_config_with(api_url: &str, settings: impl Fn(&str) -> Option<String>) -> PlivoConfig {
    PlivoConfig::from_lookup(|k| match k {
        "PLIVO_AUTH_ID" => Some(PLIVO_AUTH_ID.to_owned()),
        "PLIVO_AUTH_TOKEN" => Some(PLIVO_AUTH_TOKEN.to_owned()),
        "PLIVO_SENDER_ID" => Some(SENDER.to_owned()),
        "PLIVO_API_URL" => Some(api_url.to_owned()),
        _ => settings(k),
    })
    .unwrap()
}

/// Three quick attempts of at most 300 ms each within `total_budget`.
pub fn short_attempts(total_budget: std::time::Duration) -> RetryPolicy {
    RetryPolicy {
        total_budget,
        attempt_timeout: std::time::Duration::from_millis(300),
        ..quick_retry()
    }
}

/// Retries kept short so failure tests stay quick; same logic as production.
pub fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        total_budget: std::time::Duration::from_secs(4),
        attempt_timeout: std::time::Duration::from_secs(2),
        base_backoff: std::time::Duration::from_millis(20),
    }
}

pub fn otp_config(table: &str, overrides: &[(&str, &str)]) -> OtpConfig {
    let table = table.to_owned();
    let overrides: Vec<(String, String)> = overrides
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // The deployed defaults, but for the allow-list, which has none: every region here.
    let defaults = [("OTP_ALLOWED_COUNTRIES", "*")];
    OtpConfig::from_lookup(move |k| match k {
        "OTP_TABLE_NAME" => Some(table.clone()),
        "OTP_SECRET" => Some(SECRET.to_owned()),
        _ => overrides
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
            .or_else(|| {
                defaults
                    .iter()
                    .find(|(name, _)| *name == k)
                    .map(|(_, v)| v.to_string())
            }),
    })
    .unwrap()
}

/// Set to `returns-old-item` to run the tests against dynalite behind a proxy that answers a
/// failed condition with the old item, as DynamoDB does (dynalite never does). `make test`
/// runs the store and flow tests both ways.
pub const DYNAMODB_MODE: &str = "OTP_TEST_DYNAMODB";

/// Whether this run has DynamoDB return the old item on a failed condition.
pub fn returns_old_item() -> bool {
    std::env::var(DYNAMODB_MODE).is_ok_and(|m| m == "returns-old-item")
}

/// One deployment under test: a fresh table, a Plivo stand-in, a clock the test moves, and a
/// way to start as many function instances (each with its own clients) as it likes.
pub struct Stack {
    pub table: String,
    pub plivo: Plivo,
    pub clock: Arc<ManualClock>,
    /// DynamoDB requests sent by the instances this stack made.
    pub requests: RequestCounter,
    overrides: Vec<(String, String)>,
    /// Where the instances reach DynamoDB: dynalite, or a proxy in front of it (kept running
    /// while the stack lives).
    endpoint: String,
    _proxy: Option<DynamoDbProxy>,
}

impl Stack {
    /// A stack whose functions run with `settings` (`NAME=value` pairs, separated by
    /// whitespace, as in an env file) on top of the deployed defaults.
    pub async fn new(settings: &str) -> Self {
        Self::with_plivo(Plivo::accepting().await, settings).await
    }

    pub async fn with_plivo(plivo: Plivo, settings: &str) -> Self {
        Self::with_dynamodb(plivo, settings, Behaviour::default()).await
    }

    /// A stack whose instances reach dynalite through a proxy behaving as `behaviour` says
    /// (and returning old items when this run asks for it).
    pub async fn with_dynamodb(plivo: Plivo, settings: &str, mut behaviour: Behaviour) -> Self {
        let table = create_table(&dynamodb_client()).await;
        behaviour.return_old_item |= returns_old_item();
        let proxied = behaviour.return_old_item
            || behaviour.max_writes_per_key_per_second.is_some()
            || behaviour.throttle_keys_starting_with.is_some()
            || behaviour.delay_first_answer_to.is_some()
            || behaviour.fail_updates_with.is_some();
        let proxy = if proxied {
            Some(
                DynamoDbProxy::start_with(&dynalite().endpoint(), behaviour)
                    .await
                    .expect("start the dynamodb proxy"),
            )
        } else {
            None
        };
        Self {
            table,
            plivo,
            clock: Arc::new(ManualClock::new(START)),
            requests: RequestCounter::default(),
            overrides: settings
                .split_whitespace()
                .map(|pair| pair.split_once('=').expect("NAME=value"))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            endpoint: proxy
                .as_ref()
                .map_or_else(|| dynalite().endpoint(), |p| p.endpoint()),
            _proxy: proxy,
        }
    }

    /// A DynamoDB client as a new function instance gets it, uncounted, but with seconds
    /// more patience than the service's own timeouts: on a busy machine dynalite can take
    /// longer than an attempt's 1.5 s, and the SDK's retry of a write that was applied would
    /// count it twice. The tests of what the service does are not tests of its speed
    /// (`an_unreachable_dynamodb_gives_503_quickly_and_sends_nothing` keeps the real ones).
    pub fn instance_client(&self) -> aws_sdk_dynamodb::Client {
        self.client_with_timeouts(
            std::time::Duration::from_secs(15),
            std::time::Duration::from_secs(60),
        )
    }

    pub fn config(&self) -> OtpConfig {
        let pairs: Vec<(&str, &str)> = self
            .overrides
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        otp_config(&self.table, &pairs)
    }

    /// This stack's own settings, as a function's environment lookup.
    pub fn lookup(&self) -> impl Fn(&str) -> Option<String> + use<> {
        let overrides = self.overrides.clone();
        move |k| {
            overrides
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.clone())
        }
    }

    /// A new `send-otp` instance.
    pub fn sender(&self) -> Sender {
        self.sender_with(self.requests.attach(&self.instance_client()), quick_retry())
    }

    /// A new `send-otp` instance on `dynamodb`, retrying SMS as `retry` says.
    pub fn sender_with(&self, dynamodb: aws_sdk_dynamodb::Client, retry: RetryPolicy) -> Sender {
        let plivo = self.plivo.config_with(self.lookup());
        let sms = PlivoSmsSender::new(&plivo, retry).unwrap();
        let messages = Messages::from_lookup(self.lookup()).unwrap();
        SendOtp::new(self.config(), self.store(dynamodb), sms, self.clock.clone())
            .with_messages(messages)
            .with_voice(plivo.voice())
    }

    /// A new `plivo-callback` instance (the stack's settings must name
    /// `OTP_PUBLIC_BASE_URL`), checking signatures with the test Plivo token.
    pub fn callbacks(&self) -> Callbacks<DynamoDbStore> {
        self.callbacks_signed_with(PLIVO_AUTH_TOKEN)
    }

    /// A new `plivo-callback` instance checking signatures with `token`, with this stack's
    /// settings (and no `OTP_SECRET`: the deployment that records receipts never has it).
    pub fn callbacks_signed_with(&self, token: &str) -> Callbacks<DynamoDbStore> {
        self.callback_instance(token, None)
    }

    /// A new instance of the function that answers calls: the callback binary with
    /// `OTP_SECRET`, as the template's PlivoAnswerFunction runs it.
    pub fn answerer(&self) -> Callbacks<DynamoDbStore> {
        self.answerer_signed_with(PLIVO_AUTH_TOKEN)
    }

    /// [`answerer`](Self::answerer), checking signatures with `token`.
    pub fn answerer_signed_with(&self, token: &str) -> Callbacks<DynamoDbStore> {
        self.callback_instance(token, Some(SECRET))
    }

    fn callback_instance(&self, token: &str, secret: Option<&str>) -> Callbacks<DynamoDbStore> {
        let settings = self.lookup();
        let table = self.table.clone();
        let callback = CallbackConfig::from_lookup(|k| match k {
            "PLIVO_AUTH_TOKEN" => Some(token.to_owned()),
            "OTP_TABLE_NAME" => Some(table.clone()),
            "OTP_SECRET" => secret.map(str::to_owned),
            _ => settings(k),
        })
        .unwrap();
        let store = self.store(self.requests.attach(&self.instance_client()));
        Callbacks::new(callback, store, self.clock.clone())
    }

    /// A new `verify-otp` instance.
    pub fn verifier(&self) -> Verifier {
        self.verifier_with(self.requests.attach(&self.instance_client()))
    }

    /// A new `verify-otp` instance on `dynamodb`, issuing tokens when the settings name a
    /// signing key (on the system clock, so that token libraries check them as they would).
    pub fn verifier_with(&self, dynamodb: aws_sdk_dynamodb::Client) -> Verifier {
        let verifier = VerifyOtp::new(self.config(), self.store(dynamodb), self.clock.clone());
        let clock = Arc::new(otp_shared::clock::SystemClock);
        let tokens = self
            .token_config()
            .map(|c| TokenIssuer::new(c, clock).unwrap());
        verifier.with_tokens(tokens)
    }

    /// The token settings among this stack's settings.
    pub fn token_config(&self) -> Option<TokenConfig> {
        let lookup = |k: &str| {
            let found = self.overrides.iter().find(|(name, _)| name == k);
            found.map(|(_, v)| v.clone())
        };
        Option::<TokenConfig>::from_lookup(lookup).unwrap()
    }

    /// The store as a function builds it, on `dynamodb`.
    pub fn store(&self, dynamodb: aws_sdk_dynamodb::Client) -> DynamoDbStore {
        let config = self.config();
        DynamoDbStore::new(dynamodb, &config.table_name, config.limits)
    }

    /// A client with minutes, not seconds, of patience: for bursts of a hundred requests at
    /// once against one dynalite process on a busy machine, where the property under test is
    /// what the requests do, not how fast they are answered.
    fn patient_client(&self) -> aws_sdk_dynamodb::Client {
        self.requests.attach(&self.client_with_timeouts(
            std::time::Duration::from_secs(60),
            std::time::Duration::from_secs(120),
        ))
    }

    /// A client whose attempts time out after `attempt`, with `operation` for all of an
    /// operation's attempts and the SDK's retries between them.
    pub fn client_with_timeouts(
        &self,
        attempt: std::time::Duration,
        operation: std::time::Duration,
    ) -> aws_sdk_dynamodb::Client {
        // Connecting gets the attempt's patience too: a burst of hundreds of requests from
        // dozens of instances can keep the local proxy's accept queue longer than the
        // service's own 1 s on this 2-core machine.
        let timeouts = aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
            .connect_timeout(attempt)
            .operation_attempt_timeout(attempt)
            .operation_timeout(operation)
            .build();
        let config = dynamodb_client_for(&self.endpoint)
            .config()
            .to_builder()
            .timeout_config(timeouts)
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    /// A `send-otp` instance for bursts (see [`Stack::patient_client`]).
    pub fn patient_sender(&self) -> Sender {
        let retry = RetryPolicy {
            total_budget: std::time::Duration::from_secs(60),
            attempt_timeout: std::time::Duration::from_secs(30),
            ..quick_retry()
        };
        self.sender_with(self.patient_client(), retry)
    }

    /// A `verify-otp` instance for bursts (see [`Stack::patient_client`]).
    pub fn patient_verifier(&self) -> Verifier {
        self.verifier_with(self.patient_client())
    }

    /// Runs the sends in `jobs` at once, each from its own instance; returns how many
    /// succeeded, and checks that every other one was rate limited.
    pub async fn concurrent_sends(&self, jobs: Vec<(PhoneNumber, Caller)>) -> usize {
        let mut tasks = Vec::new();
        for (phone, caller) in jobs {
            let sender = self.sender();
            tasks.push(tokio::spawn(
                async move { sender.send(&phone, &caller).await },
            ));
        }
        let mut ok = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => ok += 1,
                Err(OtpError::RateLimited { .. }) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        ok
    }

    /// Sends a code to `number` from a new instance, and returns it as the SMS carried it.
    pub async fn send(&self, number: &PhoneNumber, caller: &Caller) -> String {
        self.send_for_id(number, caller).await.0
    }

    /// Sends a code to `number` from a new instance: the code as the SMS carried it, and the
    /// verification's id.
    pub async fn send_for_id(
        &self,
        number: &PhoneNumber,
        caller: &Caller,
    ) -> (String, VerificationId) {
        let sent = self.sender().send(number, caller).await.unwrap();
        (self.plivo.last_code().await, sent.verification_id)
    }

    /// Verifies `code` for `number` with a new instance.
    pub async fn verify(
        &self,
        number: &PhoneNumber,
        code: &str,
        caller: &Caller,
    ) -> Result<(), OtpError> {
        self.verifier()
            .verify(number, &self::code(code), caller)
            .await
    }

    /// Asserts how many DynamoDB requests the instances sent since the last reset.
    pub fn assert_requests(&self, expected: usize) {
        let by_operation = self.requests.by_operation();
        assert_eq!(self.requests.total(), expected, "{by_operation:?}");
    }

    /// The per-number items (not the counters), as DynamoDB holds them.
    pub async fn phone_items(
        &self,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        self.items()
            .await
            .into_iter()
            .filter(|i| i["pk"].as_s().is_ok_and(|pk| !pk.contains('#')))
            .collect()
    }

    /// Every item in the table, as DynamoDB holds it.
    pub async fn items(
        &self,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        dynamodb_client()
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .items
            .unwrap_or_default()
    }
}

/// How a test callback is signed.
pub enum Signing<'a> {
    None,
    V3 {
        token: &'a str,
        nonce: &'a str,
    },
    V2 {
        token: &'a str,
        nonce: &'a str,
    },
    /// A V3 signature computed over another URL than the one posted to.
    V3Over {
        url: &'a str,
    },
    /// Both signatures, as Plivo may send them.
    Both {
        v3_nonce: &'a str,
        v2_nonce: &'a str,
    },
}

/// A POST of `form` to `url` (a public URL given to Plivo) as API Gateway hands it to the
/// function: on its own host, which
/// is not the public one Plivo signed.
pub fn callback(url: &str, form: &[(&str, &str)], signing: Signing<'_>) -> lambda_http::Request {
    let path_and_query = &url[url.find("://").map_or(0, |i| i + 3)..];
    let path_and_query = &path_and_query[path_and_query.find('/').unwrap_or(0)..];
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let owned: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut headers = serde_json::json!({
        "content-type": "application/x-www-form-urlencoded",
        "host": "abcdef1234.execute-api.us-east-1.amazonaws.com",
        "user-agent": "PlivoHTTP",
    });
    match signing {
        Signing::None => {}
        Signing::V3 { token, nonce } => {
            headers["x-plivo-signature-v3"] =
                otp_shared::sms::signature::sign_v3(token, "POST", url, &owned, nonce).into();
            headers["x-plivo-signature-v3-nonce"] = nonce.into();
        }
        Signing::V2 { token, nonce } => {
            headers["x-plivo-signature-v2"] =
                otp_shared::sms::signature::sign_v2(token, url, nonce).into();
            headers["x-plivo-signature-v2-nonce"] = nonce.into();
        }
        Signing::Both { v3_nonce, v2_nonce } => {
            headers["x-plivo-signature-v3"] = otp_shared::sms::signature::sign_v3(
                PLIVO_AUTH_TOKEN,
                "POST",
                url,
                &owned,
                v3_nonce,
            )
            .into();
            headers["x-plivo-signature-v3-nonce"] = v3_nonce.into();
            headers["x-plivo-signature-v2"] =
                otp_shared::sms::signature::sign_v2(PLIVO_AUTH_TOKEN, url, v2_nonce).into();
            headers["x-plivo-signature-v2-nonce"] = v2_nonce.into();
        }
        Signing::V3Over { url } => {
            headers["x-plivo-signature-v3"] =
                otp_shared::sms::signature::sign_v3(PLIVO_AUTH_TOKEN, "POST", url, &owned, "n1")
                    .into();
            headers["x-plivo-signature-v3-nonce"] = "n1".into();
        }
    }
    let event = serde_json::json!({
        "version": "2.0",
        "routeKey": "POST /plivo/callback/status",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "192.0.2.50", "userAgent": "PlivoHTTP"},
            "requestId": "cb", "routeKey": "POST /plivo/callback/status",
            "stage": "$default", "time": "27/Nov/2026:19:03:58 +0000", "timeEpoch": 1795633438390u64
        },
        "body": body,
        "isBase64Encoded": false,
    });
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

/// The namespace of the test instances' metrics.
pub const NAMESPACE: &str = "OtpLambda/test";

/// The records written through a [`Metrics`], as JSON.
#[derive(Clone, Default)]
pub struct Records(Arc<Mutex<Vec<String>>>);

impl Records {
    pub fn metrics(&self) -> Metrics {
        let lines = self.0.clone();
        Metrics::to_writer(NAMESPACE, Some("WARN"), move |line| {
            lines
                .lock()
                .unwrap()
                .push(String::from_utf8(line.to_vec()).unwrap());
        })
    }

    /// Every record so far, each checked to be valid EMF.
    pub fn all(&self) -> Vec<Value> {
        let lines = self.0.lock().unwrap();
        lines
            .iter()
            .map(|line| {
                assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
                let record: Value = serde_json::from_str(line).unwrap();
                assert_valid_emf(&record);
                record
            })
            .collect()
    }

    pub fn last(&self) -> Value {
        self.all().pop().expect("a record")
    }
}

const UNITS: &[&str] = &["Count", "Milliseconds"];

/// The EMF specification's rules: a root `_aws` with a millisecond `Timestamp` and
/// `CloudWatchMetrics` directives, each with a namespace, dimension sets whose every name is
/// a string member of the root, and metric definitions whose every name is a number member.
pub fn assert_valid_emf(record: &Value) {
    let aws = &record["_aws"];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let timestamp = aws["Timestamp"].as_u64().expect("Timestamp in ms");
    assert!(now.abs_diff(timestamp) < 60_000, "{record}");
    let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
    assert!(!directives.is_empty());
    for directive in directives {
        assert_eq!(directive["Namespace"], NAMESPACE);
        let sets = directive["Dimensions"].as_array().unwrap();
        assert!(!sets.is_empty());
        for set in sets {
            let names = set.as_array().unwrap();
            assert!(!names.is_empty() && names.len() <= 30);
            for name in names {
                let value = &record[name.as_str().unwrap()];
                let value = value.as_str().unwrap_or_else(|| panic!("{name}: {record}"));
                assert!(!value.is_empty() && value.len() <= 1024);
            }
        }
        let metrics = directive["Metrics"].as_array().unwrap();
        assert!(!metrics.is_empty() && metrics.len() <= 100);
        for metric in metrics {
            let name = metric["Name"].as_str().unwrap();
            assert!(
                UNITS.contains(&metric["Unit"].as_str().unwrap()),
                "{metric}"
            );
            assert!(record[name].is_number(), "{name}: {record}");
        }
    }
}

/// Collects log output in memory.
#[derive(Clone, Default)]
pub struct LogBuffer(pub Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl LogBuffer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Logs at INFO and above into this buffer, on this thread (where a current-thread test
    /// runs every task), until the guard drops; other tests' logs do not mix in.
    pub fn capture(&self) -> tracing::subscriber::DefaultGuard {
        // A process-wide subscriber that is interested in every callsite but enables none:
        // without it, a callsite first reached on a thread with no subscriber can keep a
        // cached "never" while another test registers its own, and that test's lines go
        // missing.
        static UNDECIDED: OnceLock<()> = OnceLock::new();
        UNDECIDED.get_or_init(|| {
            tracing::subscriber::set_global_default(Undecided).expect("no global subscriber yet");
        });
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(self.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    /// The first line that says `words`.
    pub fn line(&self, words: &str) -> Option<String> {
        self.text()
            .lines()
            .find(|line| line.contains(words))
            .map(str::to_owned)
    }
}

/// Asks every callsite to check the current subscriber each time, and records nothing.
struct Undecided;

impl tracing::Subscriber for Undecided {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        false
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
