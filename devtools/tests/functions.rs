//! The real `send-otp` and `verify-otp` binaries, run as Lambda runs them (through the Runtime
//! API, configured only by environment variables) and fed the events API Gateway sends, against
//! dynalite and the Plivo sandbox: what a user of the local stack, or of a deployment, sees.
//! `scripts/check-template.sh` runs them again on the artifacts `sam build` produced.

use std::net::SocketAddr;
use std::time::Duration;

use otp_devtools::apigw::{HttpResponse, call, http_api_event};
use otp_devtools::dynalite::{Dynalite, local_client};
use otp_devtools::lambda::{Binaries, LocalFunction, Output, command, functions_under_test};
use otp_devtools::moto::Moto;
use otp_devtools::plivo_sandbox::PlivoSandbox;
use otp_devtools::runtime_api::Outcome;
use otp_devtools::{repo_root, table};
use serde_json::{Value, json};

const SECRET: &str = "e2e-secret-e2e-secret-e2e-secret-e2e";

struct Deployment {
    send: LocalFunction,
    verify: LocalFunction,
    plivo: PlivoSandbox,
    /// The functions' settings and binaries, to start another.
    env: Vec<(&'static str, String)>,
    bin: Binaries,
    _dynalite: Dynalite,
}

impl Deployment {
    async fn send(&self, body: &str) -> HttpResponse {
        let event = http_api_event("POST", "/auth/send-otp", body, "198.51.100.7");
        call(&self.send.runtime, event).await.unwrap()
    }

    async fn verify(&self, body: &str) -> HttpResponse {
        let event = http_api_event("POST", "/auth/verify-otp", body, "198.51.100.7");
        call(&self.verify.runtime, event).await.unwrap()
    }
}

async fn deploy() -> Deployment {
    deploy_with(&[], Output::Inherit).await
}

/// The functions with `settings` on top of the test deployment's, their output to `output`.
async fn deploy_with(settings: &[(&'static str, &str)], output: Output) -> Deployment {
    let root = repo_root();
    let bin = functions_under_test(&root).await.unwrap();
    let dynalite = Dynalite::start(0, None).unwrap();
    table::create_table(&local_client(&dynalite.endpoint()), "otp-e2e")
        .await
        .unwrap();
    let plivo = PlivoSandbox::start(SocketAddr::from(([127, 0, 0, 1], 0)), false)
        .await
        .unwrap();
    let mut env = vec![
        ("OTP_TABLE_NAME", "otp-e2e".to_owned()),
        ("OTP_SECRET", SECRET.to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB", dynalite.endpoint()),
        ("OTP_ALLOWED_COUNTRIES", "US,CA,GB".to_owned()),
    ];
    env.extend(plivo.function_env());
    // A setting replaces the deployment's; an empty one removes it.
    for &(name, value) in settings {
        env.retain(|(k, _)| *k != name);
        if !value.is_empty() {
            env.push((name, value.to_owned()));
        }
    }
    let timeout = Duration::from_secs(15);
    let start =
        |binary, name| LocalFunction::start_with_output(binary, name, &env, timeout, output);
    Deployment {
        send: start(&bin.send_otp, "send-otp").await.unwrap(),
        verify: start(&bin.verify_otp, "verify-otp").await.unwrap(),
        plivo,
        env,
        bin,
        _dynalite: dynalite,
    }
}

fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 6)
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_verify_through_the_binaries() {
    let d = deploy().await;

    let sent = d.send(r#"{"phoneNumber":"+1 (415) 555-2671"}"#).await;
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    assert_eq!(sent.body["success"], true);
    assert_eq!(sent.body["expiresIn"], 300);
    assert_eq!(sent.header("cache-control"), Some("no-store"));

    let messages = d.plivo.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["dst"], "+14155552671");
    assert_eq!(messages[0]["log"], false);
    let code = code_in(messages[0]["text"].as_str().unwrap());
    let wrong = if code == "000000" { "000001" } else { "000000" };

    let guess = |otp: &str| json!({"phoneNumber": "+14155552671", "otp": otp}).to_string();
    let refused = d.verify(&guess(wrong)).await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (401, Some("invalid_otp"))
    );
    let verified = d.verify(&guess(&code)).await;
    assert_eq!(verified.status, 200, "{:?}", verified.body);
    assert_eq!(d.verify(&guess(&code)).await.status, 401);

    let again = d.send(r#"{"phoneNumber":"+14155552671"}"#).await;
    assert_eq!(
        (again.status, again.body["code"].as_str()),
        (429, Some("rate_limited"))
    );
    let retry_after: u64 = again.header("retry-after").unwrap().parse().unwrap();
    assert!(retry_after <= 30);

    let malformed = d.send(r#"{"phoneNumber": "+1415555"#).await;
    assert_eq!(
        (malformed.status, malformed.body["code"].as_str()),
        (400, Some("invalid_request"))
    );
    assert_eq!(d.plivo.messages().len(), 1);
}

/// Delivery reports through the binaries: a send with a public URL gives Plivo a status URL;
/// plivo-callback records a report signed as Plivo signs it (by the sandbox's own V3
/// implementation, apart from the service's), refuses its replay and an unsigned one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_reports_reach_the_callback_binary() {
    let base = "https://otp.example.com";
    let d = deploy_with(&[("OTP_PUBLIC_BASE_URL", base)], Output::Inherit).await;
    assert_eq!(
        d.send(r#"{"phoneNumber":"+14155552671"}"#).await.status,
        200
    );
    let url = d.plivo.messages()[0]["url"].as_str().unwrap().to_owned();
    let (route, query) = url.split_once('?').unwrap();
    assert_eq!(route, format!("{base}/plivo/callback/status"));
    // As deployed: the callback function never holds the hashing secret.
    let env: Vec<(&str, String)> = d
        .env
        .iter()
        .filter(|(k, _)| *k != "OTP_SECRET")
        .cloned()
        .collect();
    let callback = LocalFunction::start_with_output(
        &d.bin.plivo_callback,
        "plivo-callback",
        &env,
        Duration::from_secs(15),
        Output::Inherit,
    )
    .await
    .unwrap();
    let token = d
        .env
        .iter()
        .find(|(k, _)| *k == "PLIVO_AUTH_TOKEN")
        .unwrap();
    let form: Vec<(String, String)> = [
        ("MessageUUID", "db3ce55a-7c87-11e9-86c7-0242ac110002"),
        ("To", "14155552671"),
        ("Status", "delivered"),
        ("Sequence", "3"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let report = |signed: bool| {
        let mut event = http_api_event("POST", "/plivo/callback/status", &body, "18.215.142.48");
        event["rawQueryString"] = query.into();
        event["headers"]["content-type"] = "application/x-www-form-urlencoded".into();
        if signed {
            let signature = otp_devtools::plivo_sandbox::sign_v3(&token.1, &url, &form, "n1");
            event["headers"]["x-plivo-signature-v3"] = signature.into();
            event["headers"]["x-plivo-signature-v3-nonce"] = "n1".into();
        }
        event
    };
    let unsigned = call(&callback.runtime, report(false)).await.unwrap();
    assert_eq!(unsigned.status, 403, "{:?}", unsigned.body);
    let recorded = call(&callback.runtime, report(true)).await.unwrap();
    assert_eq!(recorded.status, 200, "{:?}", recorded.body);
    assert_eq!(recorded.body["message"], "Report recorded");
    let replayed = call(&callback.runtime, report(true)).await.unwrap();
    assert_eq!(
        (replayed.status, replayed.body["code"].as_str()),
        (403, Some("forbidden"))
    );
}

/// A voice call through the binaries: send-otp places it; the callback binary deployed with
/// `OTP_SECRET` (as the template's PlivoAnswerFunction) answers Plivo's signed fetch of the
/// answer URL with XML that speaks the code; the code verifies; the URL speaks only once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voice_call_through_the_binaries() {
    let base = "https://otp.example.com";
    let settings = [("OTP_PUBLIC_BASE_URL", base), ("OTP_VOICE_ENABLED", "true")];
    let d = deploy_with(&settings, Output::Inherit).await;
    let sent = d
        .send(r#"{"phoneNumber":"+14155552671","channel":"voice"}"#)
        .await;
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    // The sandbox cannot reach the example URL; it records the call and its answer URL.
    let placed = loop {
        if let Some(placed) = d.plivo.calls().pop() {
            break placed;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(placed.to, "14155552671");
    let answerer = LocalFunction::start_with_output(
        &d.bin.plivo_callback,
        "plivo-answer",
        &d.env,
        Duration::from_secs(15),
        Output::Inherit,
    )
    .await
    .unwrap();
    let token = &d
        .env
        .iter()
        .find(|(k, _)| *k == "PLIVO_AUTH_TOKEN")
        .unwrap()
        .1;
    let (path, query) = placed.answer_url[base.len()..].split_once('?').unwrap();
    // The caller pressed 1 at the prompt.
    let form: Vec<(String, String)> = [("CallUUID", "x"), ("To", "14155552671"), ("Digits", "1")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let fetch = || {
        let body = "CallUUID=x&To=14155552671&Digits=1";
        let mut event = http_api_event("POST", path, body, "18.215.142.48");
        event["rawQueryString"] = query.into();
        event["headers"]["content-type"] = "application/x-www-form-urlencoded".into();
        let signature =
            otp_devtools::plivo_sandbox::sign_v3(token, &placed.answer_url, &form, "n1");
        event["headers"]["x-plivo-signature-v3"] = signature.into();
        event["headers"]["x-plivo-signature-v3-nonce"] = "n1".into();
        event
    };
    let Outcome::Response(payload) = answerer.runtime.invoke(fetch()).await.unwrap() else {
        panic!("the function reported an error");
    };
    let response: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(response["statusCode"], 200, "{response}");
    let xml = response["body"].as_str().unwrap();
    let digits: String = xml
        .split("<Speak")
        .nth(2)
        .and_then(|speak| speak.split_once('>'))
        .and_then(|(_, rest)| rest.split_once("</Speak>"))
        .unwrap()
        .0
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    assert_eq!(digits.len(), 6, "{xml}");
    let guess = json!({"phoneNumber": "+14155552671", "otp": digits}).to_string();
    assert_eq!(d.verify(&guess).await.status, 200);
    let again = call(&answerer.runtime, fetch()).await.unwrap();
    assert_eq!(again.status, 403, "{:?}", again.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sample_event_invokes_the_binary_directly() {
    let d = deploy().await;
    let text = std::fs::read_to_string(repo_root().join("events/send-otp-rest.json")).unwrap();
    let event: Value = serde_json::from_str(&text).unwrap();
    let Outcome::Response(payload) = d.send.runtime.invoke(event).await.unwrap() else {
        panic!("the function reported an error");
    };
    let response: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(response["statusCode"], 200, "{response}");
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["success"], true);
    assert_eq!(d.plivo.messages().len(), 1);
}

/// With JSON logs and an application log level above INFO (`ApplicationLogLevel: ERROR`),
/// Lambda drops every line below that level: the metric record still goes out, at the
/// configured level, and the INFO logs do not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_survive_the_strictest_log_level() {
    use tokio::io::AsyncBufReadExt;
    let settings = [
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_LAMBDA_LOG_LEVEL", "ERROR"),
        ("OTP_METRICS_NAMESPACE", "OtpLambda/e2e"),
    ];
    let mut d = deploy_with(&settings, Output::Capture).await;
    assert_eq!(
        d.send(r#"{"phoneNumber":"+14155552671"}"#).await.status,
        200
    );
    let stdout = d.send.child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    let record = loop {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("no metric record in {seen:?}"))
            .unwrap()
            .expect("output");
        let value: Value = serde_json::from_str(&line).unwrap_or_default();
        if value.get("_aws").is_some() {
            break value;
        }
        seen.push(line);
    };
    assert_eq!(record["level"], "ERROR", "{record}");
    // Lambda reads the level only of a line with an RFC 3339 timestamp.
    let timestamp = record["timestamp"].as_str().unwrap_or_default();
    assert!(
        timestamp.len() == 24 && timestamp.ends_with('Z') && timestamp.as_bytes()[10] == b'T',
        "{record}"
    );
    assert_eq!(record["Outcome"], "Sent", "{record}");
    assert_eq!(record["ColdStart"], 1, "{record}");
    assert_eq!(
        record["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "OtpLambda/e2e"
    );
    assert!(
        seen.iter().all(|l| !l.contains("\"INFO\"")),
        "INFO lines at level ERROR: {seen:?}"
    );
}

/// The secrets in Secrets Manager and SSM Parameter Store (moto's server standing in for
/// both), the functions' configuration holding only their ARNs: the functions read them at
/// init, and a code sent is a code verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_read_from_secrets_manager_and_ssm_at_init() {
    let moto = Moto::start().await.unwrap();
    let plivo_env = PlivoSandbox::start(SocketAddr::from(([127, 0, 0, 1], 0)), false)
        .await
        .unwrap()
        .function_env();
    let plain = |name: &str| {
        plivo_env
            .iter()
            .find(|(k, _)| *k == name)
            .unwrap()
            .1
            .clone()
    };
    let secret_arn = moto.create_secret("otp/secret", SECRET).await.unwrap();
    let id_arn = moto
        .put_parameter("/otp/plivo-auth-id", &plain("PLIVO_AUTH_ID"))
        .await
        .unwrap();
    let token_arn = moto
        .create_secret("otp/plivo-auth-token", &plain("PLIVO_AUTH_TOKEN"))
        .await
        .unwrap();
    let endpoints = moto.function_env();
    let mut settings: Vec<(&'static str, &str)> = vec![
        ("OTP_SECRET", ""),
        ("PLIVO_AUTH_ID", ""),
        ("PLIVO_AUTH_TOKEN", ""),
        ("OTP_SECRET_ARN", &secret_arn),
        ("PLIVO_AUTH_ID_ARN", &id_arn),
        ("PLIVO_AUTH_TOKEN_ARN", &token_arn),
    ];
    settings.extend(endpoints.iter().map(|(k, v)| (*k, v.as_str())));
    let d = deploy_with(&settings, Output::Inherit).await;

    let sent = d.send(r#"{"phoneNumber":"+14155552671"}"#).await;
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    let code = code_in(d.plivo.messages()[0]["text"].as_str().unwrap());
    let guess = json!({"phoneNumber": "+14155552671", "otp": code}).to_string();
    let verified = d.verify(&guess).await;
    assert_eq!(verified.status, 200, "{:?}", verified.body);
}

/// A secret that is not there, or that the function may not read, stops its init with a
/// log line naming the variable; nothing else starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_unreadable_secret_fails_init_and_names_the_variable() {
    let moto = Moto::start().await.unwrap();
    let endpoints = moto.function_env();
    let endpoint = |k: &str| endpoints.iter().find(|(n, _)| *n == k).unwrap().1.clone();
    let secrets_manager = endpoint("AWS_ENDPOINT_URL_SECRETS_MANAGER");
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:otp/none-AbCdEf";
    let log = assert_init_fails(
        &[
            ("OTP_SECRET_ARN", missing),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", &secrets_manager),
        ],
        "OTP_SECRET_ARN",
        SECRET,
    )
    .await;
    assert!(log.contains("ResourceNotFoundException"), "{log}");
    // A parameter whose value the function must not repeat, behind an endpoint that refuses
    // every request (moto enforcing IAM, which knows no such credentials).
    let key_arn = moto
        .put_parameter("/otp/key", "the-secret-key-value")
        .await
        .unwrap();
    let strict = Moto::start_enforcing_iam().await.unwrap();
    let log = assert_init_fails(
        &[
            ("OTP_SECRET", SECRET),
            ("OTP_TOKEN_SIGNING_KEY_ARN", &key_arn),
            ("AWS_ENDPOINT_URL_SSM", &strict.endpoint()),
        ],
        "OTP_TOKEN_SIGNING_KEY_ARN",
        "the-secret-key-value",
    )
    .await;
    assert!(log.contains("could not be read"), "{log}");
}

/// Runs the verify binary's init with `env` (and a Runtime API nobody serves): it must fail,
/// naming `variable` and never repeating `secret`. Its output.
async fn assert_init_fails(env: &[(&str, &str)], variable: &str, secret: &str) -> String {
    let bin = functions_under_test(&repo_root()).await.unwrap();
    let mut command = command(&bin.verify_otp);
    command
        .env_remove("OTP_TABLE_NAME")
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env("AWS_LAMBDA_FUNCTION_NAME", "verify-otp")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local");
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().await.unwrap();
    assert!(!output.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(all.contains(variable), "{all}");
    assert!(!all.contains(secret), "{all}");
    all
}

#[tokio::test]
async fn a_function_with_missing_settings_fails_its_init_and_names_the_variable() {
    assert_init_fails(&[("OTP_SECRET", SECRET)], "OTP_TABLE_NAME", SECRET).await;
}

#[tokio::test]
async fn a_bad_token_signing_key_fails_init_and_names_the_variable() {
    let key = "bm90LWFuLXJzYS1rZXktbm90LWFuLXJzYS1rZXk=";
    let env = [
        ("OTP_TABLE_NAME", "otp-e2e"),
        ("OTP_SECRET", SECRET),
        ("OTP_ALLOWED_COUNTRIES", "US"),
        ("OTP_TOKEN_SIGNING_KEY", key),
        ("OTP_TOKEN_ISSUER", "https://otp.example.com"),
        ("OTP_TOKEN_AUDIENCE", "my-app"),
    ];
    assert_init_fails(&env, "OTP_TOKEN_SIGNING_KEY", key).await;
}
